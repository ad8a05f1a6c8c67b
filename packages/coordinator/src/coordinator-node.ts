/**
 * One coordinator node: the resources and their lifecycle (STYLE.md H.6:
 * classes only for things with resources). `CoordinatorNode.start` opens the
 * LevelDB log, loads it into the Raft core's MemoryLog, rebuilds the metadata
 * machine (snapshot + replay of committed entries happens through the Ready
 * loop), binds one gRPC server for both the Raft transport and the
 * Coordinator service, and starts the timers. `stop` undoes it in reverse.
 */
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { FjordError, formatAddress, grpcChannelOptions, loadFjordGrpc, tuneGrpcServerSockets } from '@fjord/protocol';
import type { NodeId } from '@fjord/raft';
import type { Logger } from 'pino';
import type { CoordinatorConfig } from './config.js';
import { LevelRaftStore } from './level-raft-store.js';
import { MetadataMachine } from './metadata-machine.js';
import { RaftNode } from './raft-node.js';
import { CoordinatorService } from './coordinator-service.js';
import { snapshotDataProblem } from './snapshot-data.js';

export interface CoordinatorNodeOptions {
  readonly config: CoordinatorConfig;
  readonly logger: Logger;
  /**
   * true: this node joins an existing cluster (empty log; a leader adds it as
   * a learner and sends it a snapshot); peers are then only an address book.
   * false: the peers bootstrap a new cluster on first start.
   */
  readonly join?: boolean;
  /** A broken invariant: the process must go down (the CLI exits with 70). */
  readonly onFatal: (err: unknown) => void;
}

export class CoordinatorNode {
  private store: LevelRaftStore | null = null;
  private raft: RaftNode | null = null;
  private service: CoordinatorService | null = null;
  private server: Server | null = null;
  private boundPort = 0;

  constructor(private readonly options: CoordinatorNodeOptions) {}

  get port(): number {
    return this.boundPort;
  }

  get raftNode(): RaftNode {
    if (this.raft === null) throw new FjordError('COORDINATOR_NOT_AVAILABLE', 'node not started');
    return this.raft;
  }

  async start(): Promise<void> {
    const { config, logger } = this.options;
    const log = logger.child({ component: 'coordinator-node' });
    const store = await LevelRaftStore.open({ dir: config.dataDir });
    this.store = store;
    const bootstrapConf = this.options.join === true ? null : { voters: config.peers.map((p) => p.id), learners: [] };
    const loaded = await store.load({ bootstrapConf });
    if (loaded.bootstrapped) log.info({ voters: bootstrapConf?.voters }, 'bootstrapped a new cluster');
    const machine = new MetadataMachine({ historyCapacity: config.watchHistoryVersions });
    const peers = new Map<NodeId, string>(config.peers.map((p) => [p.id, formatAddress(p.host, p.port)]));
    const raft = new RaftNode({
      id: config.id,
      clusterId: config.clusterId,
      store,
      log: loaded.log,
      machine,
      peers,
      tickMs: config.tickMs,
      electionTicks: config.electionTicks,
      heartbeatTicks: config.heartbeatTicks,
      preVote: config.preVote,
      checkQuorum: config.checkQuorum,
      maxRaftMsgBytes: config.maxRaftMsgBytes,
      maxInflightMsgs: config.maxInflightMsgs,
      maxUncommittedBytes: config.maxUncommittedBytes,
      maxRequestBytes: config.maxRequestBytes,
      snapshotEveryEntries: config.snapshotEveryEntries,
      snapshotCatchUpEntries: config.snapshotCatchUpEntries,
      snapshotTransfer: { chunkBytes: config.snapshotChunkBytes, maxSnapshotBytes: config.maxSnapshotBytes, timeoutMs: config.snapshotTimeoutMs, dataProblem: snapshotDataProblem },
      requestTimeoutMs: config.requestTimeoutMs,
      logger,
      onFatal: this.options.onFatal,
    });
    this.raft = raft;
    const service = new CoordinatorService({ node: raft, config, logger, onFatal: this.options.onFatal });
    this.service = service;
    const grpc = loadFjordGrpc();
    const server = new Server(grpcChannelOptions(config.maxRequestBytes));
    server.addService(grpc.raftTransport.service, raft.transport.handlers());
    server.addService(grpc.coordinator.service, service.handlers());
    this.server = server;
    this.boundPort = await new Promise<number>((resolve, reject) => {
      server.bindAsync(config.listen, ServerCredentials.createInsecure(), (err, port) => {
        if (err !== null) reject(new FjordError('INVALID_CONFIG', `cannot listen on ${config.listen}: ${err.message}`, { listen: config.listen }, { cause: err }));
        else resolve(port);
      });
    });
    tuneGrpcServerSockets(server, { warn: (message) => log.warn(message) });
    raft.start();
    service.start();
    log.info({ listen: config.listen, port: this.boundPort, id: config.id, dataDir: config.dataDir }, 'coordinator listening');
  }

  async stop(): Promise<void> {
    this.service?.stop();
    if (this.server !== null) {
      const server = this.server;
      this.server = null;
      server.forceShutdown();
    }
    if (this.raft !== null) await this.raft.stop();
    if (this.store !== null) await this.store.close();
    this.store = null;
  }
}
