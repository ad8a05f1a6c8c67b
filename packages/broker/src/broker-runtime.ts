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

export interface BrokerRuntime {
  node: BrokerNode;
  session: CoordinatorSession;
  stop(options?: { controlledShutdownMs?: number }): Promise<void>;
}

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
  return {
    node: started,
    session,
    async stop(stopOptions = {}) {
      await session.controlledShutdown(stopOptions.controlledShutdownMs ?? 5_000);
      session.close();
      await started.close();
    },
  };
}
