/**
 * `fjord dev`: one coordinator and one broker in one process, data under
 * ./fjord-data (or --data-dir): the embedded default and the README's "run
 * it" command. Prints where it listens; stops on SIGINT/SIGTERM.
 */
import { join } from 'node:path';
import { loadBrokerConfig, startBrokerRuntime } from '@fjord/broker';
import { CoordinatorNode, loadConfig } from '@fjord/coordinator';
import { FjordError } from '@fjord/protocol';
import type { FjordCommand } from '../command.js';
import { createRootLogger } from '../logger.js';

/** How long the one-node coordinator may take to elect itself (an election timeout or two; generous for a loaded laptop). */
const LEADERSHIP_WAIT_MS = 30_000;

/**
 * The broker registers with the coordinator as it starts; before the single
 * coordinator node has elected itself that fails (RAFT_NOT_LEADER) and is
 * retried, logging a warning with a stack a new user would take for a fault.
 * Waiting for leadership first keeps the first screen clean.
 */
async function waitForLeadership(coordinator: CoordinatorNode, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!coordinator.raftNode.isLeader) {
    if (Date.now() >= deadline) throw new FjordError('COORDINATOR_NOT_AVAILABLE', `the coordinator elected no leader within ${timeoutMs} ms`);
    await new Promise<void>((resolve) => setTimeout(resolve, 20));
  }
}

export const devCommand: FjordCommand = {
  command: 'dev',
  describe: 'Run a one-node cluster (a coordinator and a broker in one process) for development',
  builder: (y) =>
    y
      .option('data-dir', { type: 'string', describe: 'Where the data lives', default: './fjord-data' })
      .option('host', { type: 'string', describe: 'Host to listen on', default: '127.0.0.1' })
      .option('port', { type: 'number', describe: 'Broker port (clients bootstrap here)', default: 9092 })
      .option('coordinator-port', { type: 'number', describe: 'Coordinator port', default: 9093 })
      .option('log-level', { type: 'string', choices: ['fatal', 'error', 'warn', 'info', 'debug', 'trace'], default: 'warn' }),
  run: async (args, io) => {
    const dataDir = String(args['data-dir']);
    const host = String(args['host']);
    const port = Number(args['port']);
    const coordinatorPort = Number(args['coordinator-port']);
    const level = String(args['log-level']) as 'info';
    const coordinatorConfig = loadConfig({
      env: process.env,
      flags: { id: 1, peers: `1=${host}:${coordinatorPort}`, dataDir: join(dataDir, 'coordinator'), logLevel: level },
    });
    const brokerConfig = loadBrokerConfig({
      env: process.env,
      flags: { id: 1, listen: `${host}:${port}`, dataDir: join(dataDir, 'broker'), coordinators: `1=${host}:${coordinatorPort}`, logLevel: level },
    });
    const logger = createRootLogger({ node: 'dev', level });
    let fatal = false;
    const coordinator = new CoordinatorNode({
      config: coordinatorConfig,
      logger: logger.child({ node: 'coordinator-1' }),
      onFatal: (err) => {
        if (fatal) return;
        fatal = true;
        logger.fatal({ err }, 'fatal error; exiting');
        process.exit(70);
      },
    });
    await coordinator.start();
    await waitForLeadership(coordinator, LEADERSHIP_WAIT_MS);
    const broker = await startBrokerRuntime({ config: brokerConfig, logger: logger.child({ node: 'broker-1' }) });
    io.out(`fjord dev: broker listening on ${host}:${port} (bootstrap address), coordinator on ${host}:${coordinatorPort}, data in ${dataDir}\n`);
    await new Promise<void>((resolve) => {
      const done = (): void => resolve();
      process.once('SIGINT', done);
      process.once('SIGTERM', done);
    });
    await broker.stop({ controlledShutdownMs: 1_000 });
    await coordinator.stop();
    return 0;
  },
};
