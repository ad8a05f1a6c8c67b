/**
 * `fjord broker`: runs one broker node until SIGINT or SIGTERM (issue 5).
 * Configuration: defaults < --config file < FJORD_BROKER_* env < flags, from
 * the broker's config table. The broker registers with the coordinators
 * (--coordinators id=host:port,...), follows the metadata, and serves the data
 * plane on --listen. SIGINT/SIGTERM is a controlled shutdown (leadership moves
 * away first). The log line `"msg":"broker listening"` says the port is open.
 */
import { brokerCliOptions, loadBrokerConfig, startBrokerRuntime } from '@fjord/broker';
import { readConfigFile } from '@fjord/protocol';
import type { FjordCommand } from '../command.js';
import { createRootLogger } from '../logger.js';

const OWN_FLAGS = new Set(['config', '_', '$0']);

export function flagsFrom(args: Readonly<Record<string, unknown>>, own: ReadonlySet<string>): Record<string, unknown> {
  const flags: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(args)) {
    // yargs adds camelCase aliases of dashed flags; keep the dashed names the table knows.
    if (own.has(key) || value === undefined || /[A-Z]/.test(key)) continue;
    flags[key] = value;
  }
  return flags;
}

export const brokerCommand: FjordCommand = {
  command: 'broker',
  describe: 'Run a broker node (replicated partition logs and the produce/fetch data plane)',
  builder: (y) => y.options(brokerCliOptions()).option('config', { type: 'string', describe: 'JSON config file (keys as in the broker config table)' }),
  run: async (args) => {
    const file = typeof args['config'] === 'string' ? readConfigFile(args['config']) : undefined;
    const config = loadBrokerConfig({ file, env: process.env, flags: flagsFrom(args, OWN_FLAGS) });
    const logger = createRootLogger({ node: `broker-${config.id}`, level: config.logLevel });
    const runtime = await startBrokerRuntime({ config, logger });
    await new Promise<void>((resolve) => {
      const done = (): void => resolve();
      process.once('SIGINT', done);
      process.once('SIGTERM', done);
    });
    logger.info('stopping (controlled shutdown)');
    await runtime.stop();
    return 0;
  },
};
