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
import { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { FjordCommand } from '../command.js';
import { createRootLogger } from '../logger.js';

const OWN_FLAGS = new Set(['config', '_', '$0']);

/** How long the process may stay up after the broker stopped before it is made to exit. */
const EXIT_GRACE_MS = 2_000;

/**
 * The broker closed everything it owns, so the event loop should drain and the
 * process end by itself. If a handle leaked (a socket, a timer), the process
 * would stay up forever after SIGTERM: name what is still open and exit anyway.
 * The timer is unref'd, so it never keeps a clean process alive.
 */
function exitIfStillBusy(logger: Logger, graceMs: number, code: number): void {
  setTimeout(() => {
    logger.warn({ activeResources: process.getActiveResourcesInfo(), openSockets: openSockets(), graceMs }, 'process still busy after the broker stopped; exiting');
    process.exit(code);
  }, graceMs).unref();
}

export function flagsFrom(args: Readonly<Record<string, unknown>>, own: ReadonlySet<string>): Record<string, unknown> {
  const flags: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(args)) {
    // yargs adds camelCase aliases of dashed flags; keep the dashed names the table knows.
    if (own.has(key) || value === undefined || /[A-Z]/.test(key)) continue;
    flags[key] = value;
  }
  return flags;
}

/** local -> remote of each open TCP socket: names the peer a leaked connection goes to (process._getActiveHandles is Node's own, undocumented). */
function openSockets(): string[] {
  const handles = (process as unknown as { _getActiveHandles?: () => unknown[] })._getActiveHandles?.() ?? [];
  return handles.filter((h): h is Socket => h instanceof Socket && h.remotePort !== undefined).map((s) => `${s.localPort ?? '?'}->${s.remoteAddress ?? '?'}:${s.remotePort ?? '?'}`);
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
    const { clean } = await runtime.stop();
    exitIfStillBusy(logger, EXIT_GRACE_MS, clean ? 0 : 1);
    return clean ? 0 : 1;
  },
};
