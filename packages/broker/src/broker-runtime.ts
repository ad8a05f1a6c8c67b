/**
 * A broker as a process runs it: the BrokerNode wired to a CoordinatorSession
 * (metadata in, ISR changes and producer ids out). Start binds the listener
 * first (the registration names the bound port), then registers. Stop is a
 * controlled shutdown: leadership moves away, then the node closes.
 */
import type { Logger } from 'pino';
import { FjordError, parseAddress } from '@fjord/protocol';
import { BrokerNode } from './broker-node.js';
import { coordinatorPeers, type BrokerConfig } from './config.js';
import { CoordinatorSession } from './coordinator-session.js';

export interface BrokerStopOptions {
  /** The whole stop's bound (controlled shutdown + close); default config.shutdownTimeoutMs. */
  timeoutMs?: number;
  /** A tighter bound on the controlled shutdown alone (waiting for leadership to move). */
  controlledShutdownMs?: number;
}

export interface BrokerStopResult {
  /** Every leadership moved away before the node closed. */
  leadershipMoved: boolean;
  /** Every log closed within the bound (false: cut at the deadline). */
  clean: boolean;
  stopMs: number;
}

export interface BrokerRuntime {
  node: BrokerNode;
  session: CoordinatorSession;
  /** Controlled shutdown then close, bounded by `timeoutMs` whatever the coordinators or peers do. */
  stop(options?: BrokerStopOptions): Promise<BrokerStopResult>;
}

/** Part of the stop's bound kept for closing the node (logs, server), so the controlled shutdown cannot eat it all. */
const CLOSE_RESERVE_MS = 5_000;

export async function startBrokerRuntime(options: { config: BrokerConfig; logger: Logger; registerDeadlineMs?: number }): Promise<BrokerRuntime> {
  const { config, logger } = options;
  const peers = coordinatorPeers(config);
  if (peers.length === 0) throw new FjordError('INVALID_CONFIG', 'a broker process needs --coordinators', { key: 'coordinators' });
  const advertised = parseAddress(config.advertised === '' ? config.listen : config.advertised);
  if (advertised === null) throw new FjordError('INVALID_CONFIG', 'advertised address is not host:port', { key: 'advertised' });
  let node: BrokerNode | null = null;
  const session = new CoordinatorSession({
    brokerId: config.id,
    clusterId: config.clusterId,
    coordinators: peers,
    advertised,
    rack: config.rack === 'none' ? '' : config.rack,
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    requestTimeoutMs: 5_000,
    maxMessageBytes: config.maxRequestBytes,
    logger,
    onMetadata: (image) => node?.applyMetadata(image),
  });
  node = new BrokerNode({ config, logger, isrChannel: session, controlPlane: session, brokerEpoch: () => session.brokerEpoch });
  await node.start();
  try {
    await session.start({ deadlineMs: options.registerDeadlineMs ?? 60_000 });
  } catch (e) {
    session.close();
    await node.close();
    throw e;
  }
  const started = node;
  const stopLogger = logger.child({ component: 'broker-runtime' });
  return {
    node: started,
    session,
    async stop(stopOptions = {}) {
      const startedMs = Date.now();
      const timeoutMs = stopOptions.timeoutMs ?? config.shutdownTimeoutMs;
      const closeReserveMs = Math.min(CLOSE_RESERVE_MS, Math.floor(timeoutMs / 3));
      const controlledMs = Math.min(stopOptions.controlledShutdownMs ?? Number.POSITIVE_INFINITY, timeoutMs - closeReserveMs);
      const leadershipMoved = await session.controlledShutdown(controlledMs);
      session.close();
      const clean = await started.close({ timeoutMs: Math.max(0, startedMs + timeoutMs - Date.now()) });
      const stopMs = Date.now() - startedMs;
      if (clean && leadershipMoved) stopLogger.info({ stopMs }, 'stopped');
      else stopLogger.warn({ stopMs, timeoutMs, leadershipMoved, clean }, 'stopped, not cleanly (see leadershipMoved, clean)');
      return { leadershipMoved, clean, stopMs };
    },
  };
}
