/**
 * A broker node: the replica manager plus the gRPC data plane, with a
 * lifecycle (start, stop, close). Metadata arrives through `applyMetadata`
 * (from the coordinator session, or from a test or an embedding), ISR changes
 * leave through the `isrChannel`, topic admin and producer ids through the
 * `controlPlane`.
 */
import { Server, ServerCredentials } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { FjordError, formatAddress, grpcChannelOptions, loadFjordGrpc, parseAddress, tuneGrpcServerSockets } from '@fjord/protocol';
import type { LogConfig } from '@fjord/storage';
import { createBrokerService, type ControlPlane } from './broker-service.js';
import type { BrokerConfig } from './config.js';
import type { MetadataImage } from './metadata-image.js';
import { ReplicaManager, type IsrChannel } from './replica-manager.js';

export interface BrokerNodeOptions {
  config: BrokerConfig;
  /** Root logger of the process; the node logs through children ({ component }). */
  logger: Logger;
  isrChannel?: IsrChannel;
  controlPlane?: ControlPlane | null;
  /** This broker's incarnation epoch; -1 without a coordinator. */
  brokerEpoch?: () => number;
  logConfigOverrides?: Partial<LogConfig>;
}

const NO_COORDINATOR: IsrChannel = {
  alterPartition: () => Promise.resolve({ ok: false, error: new FjordError('COORDINATOR_NOT_AVAILABLE', 'this broker has no coordinator session') }),
};

/** How long close() lets answered calls flush before cutting the rest. */
const SHUTDOWN_DRAIN_MS = 1_000;

export class BrokerNode {
  readonly replicaManager: ReplicaManager;
  private readonly server: Server;
  private readonly logger: Logger;
  private boundPort = -1;
  private state: 'new' | 'running' | 'closed' = 'new';

  constructor(private readonly options: BrokerNodeOptions) {
    const c = options.config;
    this.logger = options.logger.child({ component: 'broker-node' });
    this.replicaManager = new ReplicaManager({
      brokerId: c.id,
      brokerEpoch: options.brokerEpoch ?? (() => -1),
      dataDir: c.dataDir,
      logger: options.logger,
      isrChannel: options.isrChannel ?? NO_COORDINATOR,
      replicaLagTimeMaxMs: c.replicaLagTimeMaxMs,
      isrCheckIntervalMs: c.isrCheckIntervalMs,
      retentionCheckIntervalMs: c.retentionCheckIntervalMs,
      maxWaitingProduces: c.maxWaitingProduces,
      maxWaitingFetches: c.maxWaitingFetches,
      produceTimeoutMaxMs: c.produceTimeoutMaxMs,
      fetchMaxWaitMs: c.fetchMaxWaitMs,
      fetchMaxBytes: c.fetchMaxBytes,
      maxPartitions: c.maxPartitions,
      unsafeNoFsync: c.unsafeNoFsync,
      fetcher: {
        maxWaitMs: c.replicaFetchWaitMaxMs,
        maxBytes: c.replicaFetchMaxBytes,
        partitionMaxBytes: c.replicaFetchPartitionMaxBytes,
        backoffMs: c.replicaFetchBackoffMs,
        maxMessageBytes: c.maxRequestBytes,
      },
      ...(options.logConfigOverrides !== undefined ? { logConfigOverrides: options.logConfigOverrides } : {}),
    });
    this.server = new Server(grpcChannelOptions(c.maxRequestBytes));
    this.server.addService(
      loadFjordGrpc().broker.service,
      createBrokerService({ replicaManager: this.replicaManager, controlPlane: options.controlPlane ?? null, logger: options.logger, maxReplicaFetchInflight: 4 }),
    );
  }

  get id(): number {
    return this.options.config.id;
  }

  get port(): number {
    return this.boundPort;
  }

  /** Binds the listener and starts the timers; resolves with the bound port. */
  async start(): Promise<number> {
    if (this.state !== 'new') throw new FjordError('INVALID_REQUEST', `broker ${this.id} was already started`);
    const address = parseAddress(this.options.config.listen);
    if (address === null) throw new FjordError('INVALID_CONFIG', `listen address ${this.options.config.listen} is not host:port`, { key: 'listen' });
    this.boundPort = await new Promise<number>((resolve, reject) => {
      this.server.bindAsync(formatAddress(address.host, address.port), ServerCredentials.createInsecure(), (err, port) => {
        if (err !== null) reject(new FjordError('BROKER_NOT_AVAILABLE', `cannot listen on ${this.options.config.listen}: ${err.message}`, { listen: this.options.config.listen }));
        else resolve(port);
      });
    });
    tuneGrpcServerSockets(this.server, { warn: (message) => this.logger.warn(message) });
    this.replicaManager.start();
    this.state = 'running';
    this.logger.info({ brokerId: this.id, listen: this.options.config.listen, port: this.boundPort }, 'broker listening');
    return this.boundPort;
  }

  applyMetadata(image: MetadataImage): void {
    this.replicaManager.applyMetadata(image);
  }

  /**
   * Stops serving and closes every log (clean shutdown). Bounded by
   * `timeoutMs`: past it the server is cut and close resolves false, logging
   * what it was still waiting for (logs left open are recovered at the next
   * start, as after a crash). Resolves true when everything closed in time.
   */
  async close(options: { timeoutMs?: number } = {}): Promise<boolean> {
    if (this.state === 'closed') return true;
    this.state = 'closed';
    const timeoutMs = options.timeoutMs ?? Number.POSITIVE_INFINITY;
    const startedMs = Date.now();
    // Stop accepting calls; closing the replica manager ends long polls and
    // fails waiting produces; then cut whatever is still open. Long-lived
    // streams (followers' ReplicaFetch, a consumer's long poll) keep
    // tryShutdown waiting, hence the drain bound and forceShutdown.
    const drained = new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
    const replicasClosed = await within(this.replicaManager.close().then(() => true), timeoutMs);
    if (!replicasClosed) this.logger.error({ brokerId: this.id, timeoutMs }, 'replica manager did not close in time; cutting the server (logs left open are recovered at the next start)');
    const drainMs = Math.max(0, Math.min(SHUTDOWN_DRAIN_MS, startedMs + timeoutMs - Date.now()));
    await within(drained.then(() => true), drainMs);
    this.server.forceShutdown();
    this.logger.info({ brokerId: this.id, clean: replicasClosed, closeMs: Date.now() - startedMs }, 'broker closed');
    return replicasClosed;
  }
}

/** Resolves with `p`'s value, or false when `timeoutMs` passes first (the timer never outlives the race). */
async function within(p: Promise<boolean>, timeoutMs: number): Promise<boolean> {
  if (!Number.isFinite(timeoutMs)) return p;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)))]);
  } finally {
    clearTimeout(timer);
  }
}
