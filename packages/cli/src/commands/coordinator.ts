/**
 * `fjord coordinator`: runs one coordinator node (issue 4) until SIGINT or
 * SIGTERM. Configuration: defaults < --config file < FJORD_COORDINATOR_* env
 * < flags (STYLE.md F), from the coordinator's config table. `--join` starts
 * a node that an existing cluster will add (AddLearner), instead of
 * bootstrapping a new cluster from --peers.
 * Logs are pino JSON with { node, component }; the line
 * `"msg":"coordinator listening"` says the gRPC port is open.
 */
import { CoordinatorNode, cliOptions, loadConfig } from '@fjord/coordinator';
import { readConfigFile } from '@fjord/protocol';
import type { FjordCommand } from '../command.js';
import { createRootLogger } from '../logger.js';

const OWN_FLAGS = new Set(['config', 'join', '_', '$0']);

export const coordinatorCommand: FjordCommand = {
  command: 'coordinator',
  describe: 'Run a coordinator node (Raft-replicated cluster metadata and the controller)',
  builder: (y) =>
    y
      .options(cliOptions())
      .option('config', { type: 'string', describe: 'JSON config file (keys as in the coordinator README)' })
      .option('join', { type: 'boolean', describe: 'Join an existing cluster (added with AddLearner) instead of bootstrapping one from --peers' }),
  run: async (args) => {
    const flags: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(args)) {
      // yargs adds camelCase aliases of dashed flags; keep the dashed names the table knows.
      if (OWN_FLAGS.has(key) || value === undefined || /[A-Z]/.test(key)) continue;
      flags[key] = value;
    }
    const file = typeof args['config'] === 'string' ? readConfigFile(args['config']) : undefined;
    const config = loadConfig({ file, env: process.env, flags });
    const logger = createRootLogger({ node: `coordinator-${config.id}`, level: config.logLevel });
    let fatal = false;
    const node = new CoordinatorNode({
      config,
      logger,
      join: args['join'] === true,
      onFatal: (err) => {
        if (fatal) return;
        fatal = true;
        logger.fatal({ err }, 'fatal error; exiting');
        process.exit(70);
      },
    });
    await node.start();
    await new Promise<void>((resolve) => {
      const done = (): void => resolve();
      process.once('SIGINT', done);
      process.once('SIGTERM', done);
    });
    logger.info('stopping');
    await node.stop();
    return 0;
  },
};
