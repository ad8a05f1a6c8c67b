/**
 * The replica manager (the I/O shell around src/replication, after Kafka's
 * ReplicaManager and Partition): it owns one PartitionLog per hosted partition
 * replica, applies metadata images (acting only on newer leader epochs), runs
 * the leader's pure partition state, feeds the follower fetchers, and serves
 * the data plane's produce, fetch, list-offsets and offset-for-epoch paths.
 *
 * Every pure transition runs synchronously between awaits, so per-partition
 * state needs no locks (STYLE.md C). Operating errors are FjordErrors per
 * partition; broken invariants are assertion failures.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import {
  FjordError,
  NO_PRODUCER_ID,
  assert,
  checkBatch,
  isFjordError,
  readBatchHeader,
  batchSizeAt,
  validateTopicConfig,
  type BatchHeader,
  type TopicConfig,
} from '@fjord/protocol';
import { EARLIEST_TIMESTAMP, LATEST_TIMESTAMP, PartitionLog, partitionDirName, type LogConfig } from '@fjord/storage';
import { DelayedProduce } from './delayed-produce.js';
import { FetchWaiters } from './fetch-waiters.js';
import { FollowerFetcher, type FollowerFetcherOptions, type FollowerTarget } from './follower-fetcher.js';
import { partitionKey, type BrokerImage, type MetadataImage, type PartitionImage } from './metadata-image.js';
import {
  becomeLeader,
  hasEnoughInsync,
  onAlterIsrResult,
  onFollowerFetch,
  onIsrUpdate,
  onLocalAppend,
  onTick,
  type AlterIsrRequest,
  type Effects,
  type LeaderPartitionState,
  type Transition,
} from './replication/partition-state.js';
import { checkSequence, recordAppend, type ProducerEntry } from './replication/producer-state.js';

/** Where ISR changes go: the coordinator session's AlterPartition (or, in tests, the test's metadata image). */
export interface IsrChannel {
  alterPartition(request: { topic: string; topicId: string; partition: number } & AlterIsrRequest): Promise<
    { ok: true; isr: readonly number[]; partitionEpoch: number } | { ok: false; error: FjordError }
  >;
}

export interface ReplicaManagerOptions {
  brokerId: number;
  /** This broker's current incarnation epoch (sent on replica fetches); -1 without a coordinator. */
  brokerEpoch: () => number;
  dataDir: string;
  logger: Logger;
  isrChannel: IsrChannel;
  replicaLagTimeMaxMs: number;
  isrCheckIntervalMs: number;
  retentionCheckIntervalMs: number;
  maxWaitingProduces: number;
  maxWaitingFetches: number;
  produceTimeoutMaxMs: number;
  fetchMaxWaitMs: number;
  fetchMaxBytes: number;
  maxPartitions: number;
  unsafeNoFsync: boolean;
  fetcher: Omit<FollowerFetcherOptions, 'leaderId' | 'target' | 'logger' | 'brokerId' | 'brokerEpoch' | 'endpoint'>;
  /** Log config overrides applied under every topic's own settings (tests shrink segments). */
  logConfigOverrides?: Partial<LogConfig>;
  nowMs?: () => number;
}

interface Replica {
  readonly topic: string;
  readonly topicId: string;
  readonly partition: number;
  readonly key: string;
  readonly log: PartitionLog;
  topicConfig: TopicConfig;
  leaderId: number;
  leaderEpoch: number;
  partitionEpoch: number;
  replicas: readonly number[];
  isr: readonly number[];
  /** Leader state while this broker leads; null otherwise. */
  leader: LeaderPartitionState | null;
  /** The HW as a follower knows it (min of the leader's HW and our LEO); the leader's lives in `leader.hw`. */
  followerHw: number;
  producers: Map<number, ProducerEntry>;
  readonly logger: Logger;
}

export interface ProducePartitionInput {
  topic: string;
  partition: number;
  records: Buffer;
}

export interface ProducePartitionOutput {
  topic: string;
  partition: number;
  error: FjordError | null;
  baseOffset: number;
  logAppendTimeMs: number;
  logStartOffset: number;
}

export interface FetchPartitionInput {
  topic: string;
  partition: number;
  fetchOffset: number;
  partitionMaxBytes: number;
  currentLeaderEpoch: number;
}

export interface FetchPartitionOutput {
  topic: string;
  partition: number;
  error: FjordError | null;
  highWatermark: number;
  logStartOffset: number;
  records: Buffer;
}

export interface ListOffsetsOutput {
  topic: string;
  partition: number;
  error: FjordError | null;
  offset: number;
  timestamp: number;
  leaderEpoch: number;
}

export interface EpochEndOutput {
  topic: string;
  partition: number;
  error: FjordError | null;
  leaderEpoch: number;
  endOffset: number;
}

const EMPTY = Buffer.alloc(0);
const STORAGE_MAX_MESSAGE_BYTES = 268_435_456;
const STORAGE_MIN_SEGMENT_BYTES = 512;

function asFjordError(e: unknown): FjordError {
  if (isFjordError(e)) return e;
  throw e;
}

function logConfigFor(tc: TopicConfig, overrides: Partial<LogConfig>): Partial<LogConfig> {
  return {
    segmentBytes: Math.max(STORAGE_MIN_SEGMENT_BYTES, tc['segment.bytes']),
    segmentMs: tc['segment.ms'],
    retentionMs: tc['retention.ms'],
    retentionBytes: tc['retention.bytes'],
    maxMessageBytes: Math.min(STORAGE_MAX_MESSAGE_BYTES, tc['max.message.bytes']),
    indexIntervalBytes: tc['index.interval.bytes'],
    // flush.policy=durable: every append is fsynced before it returns, so a
    // leader's LEO (and a follower's next fetch offset) counts only synced bytes.
    ...(tc['flush.policy'] === 'durable' ? { flushIntervalMessages: 1 } : {}),
    ...overrides,
  };
}

/** The producer batches of one produce request, validated before anything is written. */
function splitBatches(records: Buffer, maxBatchBytes: number): BatchHeader[] {
  if (records.length === 0) throw new FjordError('INVALID_RECORD', 'a produce carries no record batch');
  const headers: BatchHeader[] = [];
  let pos = 0;
  while (pos < records.length) {
    const { header, sizeBytes } = checkBatch(records, pos, records.length, { maxBatchBytes, requireDenseOffsets: true });
    headers.push(header);
    pos += sizeBytes;
  }
  return headers;
}

export class ReplicaManager {
  private readonly replicas = new Map<string, Replica>();
  private readonly fetchers = new Map<number, FollowerFetcher>();
  private readonly delayed: DelayedProduce;
  private readonly waiters: FetchWaiters;
  private readonly tasks = new Set<Promise<void>>();
  private readonly logger: Logger;
  private readonly nowMs: () => number;
  private image: MetadataImage = { clusterId: '', version: -1, brokers: [], topics: [] };
  private brokersById = new Map<number, BrokerImage>();
  private isrTimer: NodeJS.Timeout | null = null;
  private retentionTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly options: ReplicaManagerOptions) {
    this.logger = options.logger.child({ component: 'replica-manager' });
    this.nowMs = options.nowMs ?? Date.now;
    this.delayed = new DelayedProduce({ maxWaiting: options.maxWaitingProduces });
    this.waiters = new FetchWaiters({ maxWaiting: options.maxWaitingFetches });
  }

  start(): void {
    this.isrTimer = setInterval(() => this.checkIsr(), this.options.isrCheckIntervalMs);
    this.retentionTimer = setInterval(() => this.runRetention(), this.options.retentionCheckIntervalMs);
  }

  get metadata(): MetadataImage {
    return this.image;
  }

  get waitingProduces(): number {
    return this.delayed.size;
  }

  get waitingFetches(): number {
    return this.waiters.size;
  }

  /** Introspection for tests and metrics: role, epochs, HW and LEO of a hosted replica. */
  partitionStatus(topic: string, partition: number): {
    role: 'leader' | 'follower' | 'none';
    leaderEpoch: number;
    partitionEpoch: number;
    isr: readonly number[];
    hw: number;
    leo: number;
    logStartOffset: number;
  } | null {
    const r = this.replicas.get(partitionKey(topic, partition));
    if (r === undefined) return null;
    const hw = r.leader !== null ? r.leader.hw : r.followerHw;
    const leo = r.log.logEndOffset;
    assert(hw <= leo, () => `hw ${hw} > leo ${leo} for ${topic}-${partition}`);
    return {
      role: r.leader !== null ? 'leader' : r.leaderId >= 0 ? 'follower' : 'none',
      leaderEpoch: r.leaderEpoch,
      partitionEpoch: r.leader?.partitionEpoch ?? r.partitionEpoch,
      isr: r.leader?.isr ?? r.isr,
      hw,
      leo,
      logStartOffset: r.log.logStartOffset,
    };
  }

  // ---- metadata ----

  /** Applies a full metadata image: open, lead, follow or drop replicas as it says (only newer leader epochs change roles). */
  applyMetadata(image: MetadataImage): void {
    if (this.closed) return;
    if (image.version < this.image.version) return;
    this.image = image;
    this.brokersById = new Map(image.brokers.map((b) => [b.brokerId, b]));
    const me = this.options.brokerId;
    const assigned = new Set<string>();
    for (const topic of image.topics) {
      for (const p of topic.partitions) {
        if (!p.replicas.includes(me)) continue;
        const key = partitionKey(topic.name, p.partition);
        assigned.add(key);
        let replica = this.replicas.get(key);
        if (replica === undefined) {
          if (this.replicas.size >= this.options.maxPartitions) {
            this.logger.error({ topic: topic.name, partition: p.partition, maxPartitions: this.options.maxPartitions }, 'too many partitions; replica not hosted');
            continue;
          }
          const opened = this.openReplica(topic.name, topic.topicId, p.partition, topic.configs);
          if (opened === null) continue;
          replica = opened;
          this.replicas.set(key, replica);
        }
        this.applyPartition(replica, p);
      }
    }
    for (const [key, replica] of [...this.replicas]) {
      if (assigned.has(key)) continue;
      this.dropReplica(replica, true);
    }
    // Fetchers whose leader's endpoint changed reconnect.
    for (const fetcher of this.fetchers.values()) {
      const b = this.brokersById.get(fetcher.leaderId);
      if (b !== undefined) fetcher.updateEndpoint({ host: b.host, port: b.port });
    }
  }

  private openReplica(topic: string, topicId: string, partition: number, configs: Readonly<Record<string, string>>): Replica | null {
    let topicConfig: TopicConfig;
    try {
      topicConfig = validateTopicConfig(configs);
    } catch (e) {
      this.logger.error({ topic, err: asFjordError(e) }, 'bad topic config in metadata; replica not hosted');
      return null;
    }
    const logger = this.logger.child({ topic, partition });
    try {
      const log = PartitionLog.open({
        dir: join(this.options.dataDir, partitionDirName(topic, partition)),
        config: logConfigFor(topicConfig, this.options.logConfigOverrides ?? {}),
        logger: this.options.logger,
        topic,
        partition,
        unsafeNoFsync: this.options.unsafeNoFsync,
      });
      return {
        topic,
        topicId,
        partition,
        key: partitionKey(topic, partition),
        log,
        topicConfig,
        leaderId: -1,
        leaderEpoch: -1,
        partitionEpoch: -1,
        replicas: [],
        isr: [],
        leader: null,
        followerHw: 0,
        producers: new Map(),
        logger,
      };
    } catch (e) {
      logger.error({ err: asFjordError(e) }, 'could not open the partition log');
      return null;
    }
  }

  private applyPartition(replica: Replica, p: PartitionImage): void {
    const me = this.options.brokerId;
    if (p.leaderEpoch < replica.leaderEpoch) return;
    if (p.leaderEpoch === replica.leaderEpoch) {
      // Same epoch: only ISR / partition epoch news (a committed AlterPartition).
      replica.replicas = p.replicas;
      if (p.partitionEpoch > replica.partitionEpoch) {
        replica.partitionEpoch = p.partitionEpoch;
        replica.isr = p.isr;
        if (replica.leader !== null) this.transition(replica, onIsrUpdate(replica.leader, { isr: p.isr, partitionEpoch: p.partitionEpoch }));
      }
      return;
    }
    const wasLeader = replica.leader !== null;
    const previousLeader = replica.leaderId;
    replica.leaderId = p.leader;
    replica.leaderEpoch = p.leaderEpoch;
    replica.partitionEpoch = p.partitionEpoch;
    replica.replicas = p.replicas;
    replica.isr = p.isr;
    if (p.leader === me) {
      this.removeFromFetcher(previousLeader, replica);
      const leo = replica.log.logEndOffset;
      const t = becomeLeader({
        leaderId: me,
        leaderEpoch: p.leaderEpoch,
        partitionEpoch: p.partitionEpoch,
        replicas: p.replicas,
        isr: p.isr.includes(me) ? p.isr : [...p.isr, me],
        leo,
        hw: Math.min(replica.followerHw, leo),
        minInsyncReplicas: replica.topicConfig['min.insync.replicas'],
        nowMs: this.nowMs(),
      });
      replica.leader = t.state;
      replica.logger.info({ leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch, isr: p.isr, leo, hw: t.state.hw }, 'became leader');
      this.handleEffects(replica, t.effects);
      return;
    }
    if (wasLeader) {
      const hw = (replica.leader as LeaderPartitionState).hw;
      replica.followerHw = hw;
      replica.leader = null;
      this.delayed.failPartition(replica.key, new FjordError('NOT_LEADER_OR_FOLLOWER', `leadership of ${replica.topic}-${replica.partition} moved to ${p.leader}`));
    }
    this.waiters.wake(replica.key);
    this.removeFromFetcher(previousLeader, replica);
    if (p.leader < 0) {
      replica.logger.info({ leaderEpoch: p.leaderEpoch }, 'partition offline');
      return;
    }
    replica.logger.info({ leaderEpoch: p.leaderEpoch, leader: p.leader, leo: replica.log.logEndOffset }, 'became follower');
    this.fetcherFor(p.leader)?.addPartition({ topic: replica.topic, partition: replica.partition, leaderEpoch: p.leaderEpoch });
  }

  private fetcherFor(leaderId: number): FollowerFetcher | null {
    let fetcher = this.fetchers.get(leaderId);
    if (fetcher !== undefined) return fetcher;
    const b = this.brokersById.get(leaderId);
    if (b === undefined) {
      this.logger.warn({ leaderId }, 'leader has no known endpoint; not fetching');
      return null;
    }
    fetcher = new FollowerFetcher({
      ...this.options.fetcher,
      brokerId: this.options.brokerId,
      brokerEpoch: this.options.brokerEpoch,
      leaderId,
      endpoint: { host: b.host, port: b.port },
      target: this.followerTarget,
      logger: this.options.logger,
    });
    this.fetchers.set(leaderId, fetcher);
    return fetcher;
  }

  private removeFromFetcher(leaderId: number, replica: Replica): void {
    const fetcher = this.fetchers.get(leaderId);
    if (fetcher === undefined) return;
    fetcher.removePartition(replica.topic, replica.partition);
    if (fetcher.partitionCount === 0) {
      this.fetchers.delete(leaderId);
      this.track(fetcher.close());
    }
  }

  private dropReplica(replica: Replica, deleteData: boolean): void {
    this.removeFromFetcher(replica.leaderId, replica);
    this.delayed.failPartition(replica.key, new FjordError('UNKNOWN_TOPIC_OR_PARTITION', `${replica.topic}-${replica.partition} is no longer hosted here`));
    this.waiters.wake(replica.key);
    this.replicas.delete(replica.key);
    try {
      replica.log.close();
    } catch (e) {
      replica.logger.warn({ err: asFjordError(e) }, 'closing a dropped log failed');
    }
    if (deleteData) rmSync(replica.log.dir, { recursive: true, force: true });
    replica.logger.info({ deleteData }, 'replica dropped');
  }

  // ---- the leader's pure state ----

  private transition(replica: Replica, t: Transition): void {
    replica.leader = t.state;
    this.handleEffects(replica, t.effects);
  }

  private handleEffects(replica: Replica, effects: Effects): void {
    if (effects.hwAdvancedTo !== undefined) {
      assert(effects.hwAdvancedTo <= replica.log.logEndOffset, 'hw advanced past the log end');
      this.delayed.onHighWatermark(replica.key, effects.hwAdvancedTo);
      this.waiters.wake(replica.key);
    }
    if (effects.alterIsrRequest !== undefined) this.sendAlterIsr(replica, effects.alterIsrRequest);
  }

  private sendAlterIsr(replica: Replica, request: AlterIsrRequest): void {
    const leaderEpoch = replica.leaderEpoch;
    replica.logger.info(
      { oldIsr: replica.leader?.isr, newIsr: request.isr, hw: replica.leader?.hw, leo: replica.log.logEndOffset, partitionEpoch: request.partitionEpoch },
      'asking to change the ISR',
    );
    this.track(
      this.options.isrChannel
        .alterPartition({ topic: replica.topic, topicId: replica.topicId, partition: replica.partition, ...request })
        .catch((e: unknown) => ({ ok: false as const, error: asFjordError(e) }))
        .then((result) => {
          const current = this.replicas.get(replica.key);
          if (current !== replica || replica.leader === null || replica.leaderEpoch !== leaderEpoch) return;
          if (!result.ok) replica.logger.warn({ err: result.error }, 'ISR change refused');
          else replica.logger.info({ isr: result.isr, partitionEpoch: result.partitionEpoch }, 'ISR changed');
          // A result already seen through metadata (partition epoch not newer) settles nothing more.
          if (result.ok && result.partitionEpoch <= replica.leader.partitionEpoch) {
            this.transition(replica, onAlterIsrResult(replica.leader, { ok: false }));
            return;
          }
          this.transition(replica, onAlterIsrResult(replica.leader, result.ok ? result : { ok: false }));
          if (result.ok) {
            replica.isr = result.isr;
            replica.partitionEpoch = result.partitionEpoch;
          }
        }),
    );
  }

  private checkIsr(): void {
    const nowMs = this.nowMs();
    for (const replica of this.replicas.values()) {
      if (replica.leader === null) continue;
      this.transition(replica, onTick(replica.leader, { nowMs, replicaLagTimeMaxMs: this.options.replicaLagTimeMaxMs }));
    }
  }

  /** Retention over every hosted replica (Kafka's log.retention.check.interval.ms task). */
  runRetention(): void {
    const nowMs = this.nowMs();
    for (const replica of this.replicas.values()) {
      try {
        const r = replica.log.applyRetention(nowMs);
        if (r.deletedSegments > 0 && replica.leader === null) replica.followerHw = Math.max(replica.followerHw, Math.min(r.logStartOffset, replica.log.logEndOffset));
      } catch (e) {
        replica.logger.error({ err: asFjordError(e) }, 'retention failed');
      }
    }
  }

  private track(p: Promise<void>): void {
    const tracked = p.catch((e: unknown) => {
      this.logger.error({ err: e }, 'background task failed');
      if (!isFjordError(e)) throw e;
    });
    this.tasks.add(tracked);
    void tracked.finally(() => this.tasks.delete(tracked));
  }

  // ---- lookups ----

  private hosted(topic: string, partition: number): Replica {
    const replica = this.replicas.get(partitionKey(topic, partition));
    if (replica === undefined) {
      throw new FjordError('UNKNOWN_TOPIC_OR_PARTITION', `${topic}-${partition} is not hosted on broker ${this.options.brokerId}`, { topic, partition });
    }
    return replica;
  }

  private leading(topic: string, partition: number, currentLeaderEpoch: number): Replica & { leader: LeaderPartitionState } {
    const replica = this.hosted(topic, partition);
    checkLeaderEpoch(replica, currentLeaderEpoch);
    if (replica.leader === null) {
      throw new FjordError('NOT_LEADER_OR_FOLLOWER', `broker ${this.options.brokerId} does not lead ${topic}-${partition} (leader ${replica.leaderId})`, {
        topic,
        partition,
        leaderId: replica.leaderId,
      });
    }
    return replica as Replica & { leader: LeaderPartitionState };
  }

  // ---- produce ----

  async produce(input: { acks: number; timeoutMs: number; partitions: readonly ProducePartitionInput[] }): Promise<ProducePartitionOutput[]> {
    assert(input.acks === 0 || input.acks === 1 || input.acks === -1, 'acks validated by the service');
    const timeoutMs = Math.max(1, Math.min(input.timeoutMs, this.options.produceTimeoutMaxMs));
    const waits: Promise<ProducePartitionOutput>[] = [];
    for (const p of input.partitions) {
      const out: ProducePartitionOutput = { topic: p.topic, partition: p.partition, error: null, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1 };
      let required = -1;
      let replica: Replica | null = null;
      try {
        replica = this.leading(p.topic, p.partition, -1);
        const appended = this.appendAsLeader(replica as Replica & { leader: LeaderPartitionState }, p.records, input.acks);
        out.baseOffset = appended.baseOffset;
        out.logStartOffset = replica.log.logStartOffset;
        required = appended.lastOffset + 1;
      } catch (e) {
        out.error = asFjordError(e);
        if (replica !== null) out.logStartOffset = replica.log.logStartOffset;
      }
      if (out.error !== null || input.acks !== -1 || replica === null || (replica.leader?.hw ?? -1) >= required) {
        waits.push(Promise.resolve(out));
        continue;
      }
      const waiting = replica;
      waits.push(
        this.delayed.wait(replica.key, required, timeoutMs).then(
          () => {
            // The HW may have passed the batch because the ISR shrank below
            // min.insync.replicas: then the write is not safe (Kafka's
            // checkEnoughReplicasReachOffset -> NOT_ENOUGH_REPLICAS_AFTER_APPEND).
            if (waiting.leader !== null && !hasEnoughInsync(waiting.leader)) {
              return {
                ...out,
                error: new FjordError('NOT_ENOUGH_REPLICAS_AFTER_APPEND', `ISR [${waiting.leader.isr.join(',')}] fell below min.insync.replicas ${waiting.leader.minInsyncReplicas}`),
              };
            }
            return out;
          },
          (e: unknown) => ({ ...out, error: asFjordError(e) }),
        ),
      );
    }
    return Promise.all(waits);
  }

  private appendAsLeader(replica: Replica & { leader: LeaderPartitionState }, records: Buffer, acks: number): { baseOffset: number; lastOffset: number } {
    const headers = splitBatches(records, replica.log.config.maxMessageBytes);
    if (acks === -1 && !hasEnoughInsync(replica.leader)) {
      throw new FjordError('NOT_ENOUGH_REPLICAS', `ISR [${replica.leader.isr.join(',')}] is smaller than min.insync.replicas ${replica.leader.minInsyncReplicas}`, {
        isr: [...replica.leader.isr],
        minInsyncReplicas: replica.leader.minInsyncReplicas,
      });
    }
    // Idempotence (Kafka's ProducerStateManager): check every batch before writing any.
    const pending = new Map<number, ProducerEntry | undefined>();
    let duplicates = 0;
    let duplicate: { firstOffset: number; lastOffset: number } | null = null;
    for (const h of headers) {
      if (h.producerId === NO_PRODUCER_ID) continue;
      const entry = pending.has(h.producerId) ? pending.get(h.producerId) : replica.producers.get(h.producerId);
      const check = checkSequence(entry, h);
      if (check.kind === 'duplicate') {
        duplicates++;
        duplicate ??= { firstOffset: check.firstOffset, lastOffset: check.lastOffset };
        continue;
      }
      pending.set(h.producerId, recordAppend(entry, { ...h, firstOffset: 0, lastOffset: h.lastOffsetDelta }));
    }
    if (duplicates > 0) {
      if (duplicates !== headers.length) throw new FjordError('INVALID_REQUEST', 'a produce mixes retried and new batches of an idempotent producer');
      replica.logger.debug({ firstOffset: duplicate?.firstOffset }, 'duplicate batch answered with its original offsets');
      const dup = duplicate as { firstOffset: number; lastOffset: number };
      return { baseOffset: dup.firstOffset, lastOffset: dup.lastOffset };
    }
    const result = replica.log.append([records], { leaderEpoch: replica.leaderEpoch });
    this.recordProducers(replica, records);
    this.transition(replica, onLocalAppend(replica.leader, result.logEndOffset));
    this.waiters.wake(replica.key);
    return { baseOffset: result.baseOffset, lastOffset: result.lastOffset };
  }

  /** Remembers the last batches of each idempotent producer from stamped (written) batches; leaders and followers alike. */
  private recordProducers(replica: Replica, records: Buffer): void {
    for (let pos = 0; pos < records.length; ) {
      const h = readBatchHeader(records, pos);
      if (h.producerId !== NO_PRODUCER_ID && h.baseSequence >= 0) {
        replica.producers.set(
          h.producerId,
          recordAppend(replica.producers.get(h.producerId), { ...h, firstOffset: h.baseOffset, lastOffset: h.baseOffset + h.lastOffsetDelta }),
        );
      }
      pos += batchSizeAt(records, pos);
    }
  }

  // ---- consumer fetch ----

  async fetch(input: {
    maxWaitMs: number;
    minBytes: number;
    maxBytes: number;
    partitions: readonly FetchPartitionInput[];
    signal?: AbortSignal;
  }): Promise<FetchPartitionOutput[]> {
    const maxWaitMs = Math.max(0, Math.min(input.maxWaitMs, this.options.fetchMaxWaitMs));
    const maxBytes = Math.max(1, Math.min(input.maxBytes <= 0 ? this.options.fetchMaxBytes : input.maxBytes, this.options.fetchMaxBytes));
    const deadline = this.nowMs() + maxWaitMs;
    for (;;) {
      const outputs = this.readForConsumers(input.partitions, maxBytes);
      const bytes = outputs.reduce((n, o) => n + o.records.length, 0);
      const errors = outputs.some((o) => o.error !== null);
      const remaining = deadline - this.nowMs();
      if (bytes >= Math.max(1, input.minBytes) || errors || remaining <= 0 || this.closed || input.signal?.aborted === true) return outputs;
      await this.waiters.wait(
        input.partitions.map((p) => partitionKey(p.topic, p.partition)),
        remaining,
        input.signal,
      );
    }
  }

  private readForConsumers(partitions: readonly FetchPartitionInput[], maxBytes: number): FetchPartitionOutput[] {
    let budget = maxBytes;
    return partitions.map((p) => {
      const out: FetchPartitionOutput = { topic: p.topic, partition: p.partition, error: null, highWatermark: -1, logStartOffset: -1, records: EMPTY };
      try {
        const replica = this.leading(p.topic, p.partition, p.currentLeaderEpoch);
        const hw = replica.leader.hw;
        const leo = replica.log.logEndOffset;
        assert(hw <= leo, () => `hw ${hw} > leo ${leo}`);
        out.highWatermark = hw;
        out.logStartOffset = replica.log.logStartOffset;
        if (p.fetchOffset > leo || p.fetchOffset < replica.log.logStartOffset) {
          throw new FjordError('OFFSET_OUT_OF_RANGE', `fetch offset ${p.fetchOffset} is outside [${replica.log.logStartOffset}, ${leo}]`, {
            fetchOffset: p.fetchOffset,
            logStartOffset: replica.log.logStartOffset,
            logEndOffset: leo,
          });
        }
        if (p.partitionMaxBytes <= 0) throw new FjordError('INVALID_FETCH_SIZE', `partition max bytes must be positive, got ${p.partitionMaxBytes}`);
        if (budget <= 0 || p.fetchOffset >= hw) return out;
        const r = replica.log.read({ fetchOffset: p.fetchOffset, maxBytes: Math.min(p.partitionMaxBytes, budget), maxOffset: hw });
        out.records = r.records;
        budget -= r.records.length;
      } catch (e) {
        out.error = asFjordError(e);
      }
      return out;
    });
  }

  // ---- replica fetch (leader side) ----

  async replicaFetch(input: {
    replicaId: number;
    brokerEpoch: number;
    maxWaitMs: number;
    minBytes: number;
    maxBytes: number;
    partitions: readonly FetchPartitionInput[];
    signal?: AbortSignal;
  }): Promise<FetchPartitionOutput[]> {
    const nowMs = this.nowMs();
    const progressErrors = new Map<string, FjordError>();
    // Progress first: the follower's fetch offset is its LEO report (it may advance the HW).
    for (const p of input.partitions) {
      try {
        const replica = this.leading(p.topic, p.partition, p.currentLeaderEpoch);
        this.transition(replica, onFollowerFetch(replica.leader, { replicaId: input.replicaId, brokerEpoch: input.brokerEpoch, fetchOffset: p.fetchOffset, nowMs }));
      } catch (e) {
        progressErrors.set(partitionKey(p.topic, p.partition), asFjordError(e));
      }
    }
    const maxWaitMs = Math.max(0, Math.min(input.maxWaitMs, this.options.fetchMaxWaitMs));
    const deadline = nowMs + maxWaitMs;
    for (;;) {
      const outputs = this.readForFollower(input.partitions, input.maxBytes, progressErrors);
      const bytes = outputs.reduce((n, o) => n + o.records.length, 0);
      const remaining = deadline - this.nowMs();
      if (bytes >= Math.max(1, input.minBytes) || progressErrors.size > 0 || remaining <= 0 || this.closed || input.signal?.aborted === true) return outputs;
      const hwBefore = outputs.map((o) => o.highWatermark);
      await this.waiters.wait(
        input.partitions.map((p) => partitionKey(p.topic, p.partition)),
        remaining,
        input.signal,
      );
      // An HW advance is news for the follower too (its HW, and acks on the next leader): answer it.
      const after = this.readForFollower(input.partitions, input.maxBytes, progressErrors);
      if (after.some((o, i) => o.highWatermark !== hwBefore[i] || o.records.length > 0 || o.error !== null)) return after;
    }
  }

  private readForFollower(partitions: readonly FetchPartitionInput[], maxBytes: number, errors: ReadonlyMap<string, FjordError>): FetchPartitionOutput[] {
    let budget = Math.max(1, maxBytes);
    return partitions.map((p) => {
      const out: FetchPartitionOutput = { topic: p.topic, partition: p.partition, error: null, highWatermark: -1, logStartOffset: -1, records: EMPTY };
      const error = errors.get(partitionKey(p.topic, p.partition));
      if (error !== undefined) {
        out.error = error;
        return out;
      }
      try {
        const replica = this.leading(p.topic, p.partition, p.currentLeaderEpoch);
        out.highWatermark = replica.leader.hw;
        out.logStartOffset = replica.log.logStartOffset;
        if (p.fetchOffset < replica.log.logStartOffset) {
          throw new FjordError('OFFSET_OUT_OF_RANGE', `fetch offset ${p.fetchOffset} is below the log start ${replica.log.logStartOffset}`, {
            fetchOffset: p.fetchOffset,
            logStartOffset: replica.log.logStartOffset,
          });
        }
        if (budget <= 0 || p.fetchOffset >= replica.log.logEndOffset) return out;
        const r = replica.log.read({ fetchOffset: p.fetchOffset, maxBytes: Math.max(1, Math.min(p.partitionMaxBytes, budget)) });
        out.records = r.records;
        budget -= r.records.length;
      } catch (e) {
        out.error = asFjordError(e);
      }
      return out;
    });
  }

  // ---- follower side (called by the fetchers) ----

  private readonly followerTarget: FollowerTarget = {
    followerState: (topic, partition, leaderEpoch) => {
      const r = this.replicas.get(partitionKey(topic, partition));
      if (r === undefined || r.leader !== null || r.leaderEpoch !== leaderEpoch) return null;
      return { leo: r.log.logEndOffset, logStartOffset: r.log.logStartOffset, latestEpoch: r.log.latestEpoch, epochEntries: r.log.epochEntries() };
    },
    truncate: (topic, partition, leaderEpoch, offset) => {
      const r = this.replicas.get(partitionKey(topic, partition));
      if (r === undefined || r.leader !== null || r.leaderEpoch !== leaderEpoch) return;
      if (offset >= r.log.logEndOffset) return;
      r.logger.info({ from: r.log.logEndOffset, to: offset, leaderEpoch }, 'truncating divergent tail');
      r.log.truncateTo(offset);
      r.followerHw = Math.min(r.followerHw, r.log.logEndOffset);
      // Producer state may name offsets that are gone; rebuild it from what stays (cheap: the cache is 5 batches per producer).
      for (const [pid, entry] of [...r.producers]) {
        const kept = entry.batches.filter((b) => b.lastOffset < r.log.logEndOffset);
        if (kept.length === 0) r.producers.delete(pid);
        else r.producers.set(pid, { ...entry, batches: kept });
      }
    },
    resetTo: (topic, partition, leaderEpoch, offset) => {
      const r = this.replicas.get(partitionKey(topic, partition));
      if (r === undefined || r.leader !== null || r.leaderEpoch !== leaderEpoch) return;
      r.logger.info({ offset }, 'follower below the leader\'s log start; starting over there');
      r.log.truncateFullyAndStartAt(offset);
      r.followerHw = offset;
      r.producers.clear();
    },
    append: (topic, partition, leaderEpoch, records, leaderHw) => {
      const r = this.replicas.get(partitionKey(topic, partition));
      if (r === undefined || r.leader !== null || r.leaderEpoch !== leaderEpoch) return;
      if (records.length > 0) {
        r.log.appendAsFollower([records]);
        this.recordProducers(r, records);
      }
      const hw = Math.min(leaderHw, r.log.logEndOffset);
      if (hw > r.followerHw) r.followerHw = hw;
      assert(r.followerHw <= r.log.logEndOffset, 'follower hw above its log end');
    },
  };

  // ---- list offsets, epochs ----

  listOffsets(partitions: readonly { topic: string; partition: number; timestamp: number; currentLeaderEpoch: number }[]): ListOffsetsOutput[] {
    return partitions.map((p) => {
      const out: ListOffsetsOutput = { topic: p.topic, partition: p.partition, error: null, offset: -1, timestamp: -1, leaderEpoch: -1 };
      try {
        const replica = this.leading(p.topic, p.partition, p.currentLeaderEpoch);
        out.leaderEpoch = replica.leaderEpoch;
        const hw = replica.leader.hw;
        if (p.timestamp === LATEST_TIMESTAMP) out.offset = hw;
        else if (p.timestamp === EARLIEST_TIMESTAMP) out.offset = replica.log.logStartOffset;
        else if (p.timestamp < 0) throw new FjordError('INVALID_REQUEST', `timestamp ${p.timestamp} is neither -1, -2 nor a time`);
        else {
          const found = replica.log.offsetForTimestamp(p.timestamp);
          if (found !== null && found.offset < hw) {
            out.offset = found.offset;
            out.timestamp = found.timestamp;
          }
        }
      } catch (e) {
        out.error = asFjordError(e);
      }
      return out;
    });
  }

  offsetForLeaderEpoch(partitions: readonly { topic: string; partition: number; currentLeaderEpoch: number; leaderEpoch: number }[]): EpochEndOutput[] {
    return partitions.map((p) => {
      const out: EpochEndOutput = { topic: p.topic, partition: p.partition, error: null, leaderEpoch: -1, endOffset: -1 };
      try {
        const replica = this.leading(p.topic, p.partition, p.currentLeaderEpoch);
        const end = replica.log.endOffsetForEpoch(p.leaderEpoch);
        out.leaderEpoch = end.epoch;
        out.endOffset = end.endOffset;
      } catch (e) {
        out.error = asFjordError(e);
      }
      return out;
    });
  }

  // ---- lifecycle ----

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.isrTimer !== null) clearInterval(this.isrTimer);
    if (this.retentionTimer !== null) clearInterval(this.retentionTimer);
    this.delayed.close();
    this.waiters.wakeAll();
    await Promise.all([...this.fetchers.values()].map((f) => f.close()));
    this.fetchers.clear();
    await Promise.allSettled([...this.tasks]);
    for (const replica of this.replicas.values()) {
      try {
        replica.log.close();
      } catch (e) {
        replica.logger.warn({ err: asFjordError(e) }, 'closing the log failed');
      }
    }
    this.replicas.clear();
  }
}

/** KIP-320: a request naming an older leader epoch is fenced; a newer one means our metadata lags. */
function checkLeaderEpoch(replica: Replica, currentLeaderEpoch: number): void {
  if (currentLeaderEpoch < 0) return;
  if (currentLeaderEpoch < replica.leaderEpoch) {
    throw new FjordError('FENCED_LEADER_EPOCH', `leader epoch ${currentLeaderEpoch} is older than ${replica.leaderEpoch}`, {
      currentLeaderEpoch,
      leaderEpoch: replica.leaderEpoch,
    });
  }
  if (currentLeaderEpoch > replica.leaderEpoch) {
    throw new FjordError('UNKNOWN_LEADER_EPOCH', `leader epoch ${currentLeaderEpoch} is newer than ${replica.leaderEpoch} known here`, {
      currentLeaderEpoch,
      leaderEpoch: replica.leaderEpoch,
    });
  }
}
