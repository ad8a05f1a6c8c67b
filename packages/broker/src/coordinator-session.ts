/**
 * The broker's session with the coordinator cluster (Kafka's
 * BrokerLifecycleManager + metadata publisher, KIP-631): RegisterBroker with a
 * fresh incarnation id (the answer's broker epoch fences any older
 * incarnation), heartbeats at the interval the coordinator names (a
 * STALE_BROKER_EPOCH answer re-registers), WatchMetadata turned into full
 * metadata images for the replica manager, and the calls the data plane needs
 * from the coordinator: AlterPartition (the replica manager's isrChannel),
 * producer-id blocks, and topic admin forwarded as is. Controlled shutdown:
 * heartbeats with want_fence, so the controller moves leadership away first.
 */
import { randomUUID } from 'node:crypto';
import { credentials, type Client, type ClientDuplexStream, type ClientReadableStream } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { FjordError, errorFromFields, formatAddress, fromServiceError, grpcChannelOptions, isFjordError, loadFjordGrpc, wireToSafeInteger, type PeerAddress } from '@fjord/protocol';
import type { ControlPlane } from './broker-service.js';
import type { BrokerImage, MetadataImage, PartitionImage, TopicImage } from './metadata-image.js';
import type { IsrChannel } from './replica-manager.js';

type Unary = (req: unknown, options: { deadline: number }, cb: (err: Error | null, res?: unknown) => void) => void;
interface CoordinatorClient extends Client {
  registerBroker: Unary;
  brokerHeartbeat: Unary;
  alterPartition: Unary;
  allocateProducerIds: Unary;
  createTopics: Unary;
  deleteTopics: Unary;
  watchMetadata(req: unknown): ClientReadableStream<WireWatchEvent>;
  brokerSession(): ClientDuplexStream<unknown, unknown>;
}

interface WireBroker {
  brokerId: number;
  brokerEpoch: string;
  endpoints: { name: string; host: string; port: number }[];
  rack: string;
  fenced: boolean;
}
interface WirePartition {
  partition: number;
  replicas: number[];
  leader: number;
  leaderEpoch: number;
  isr: number[];
  partitionEpoch: number;
  topicId: string;
  topicName: string;
}
interface WireTopic {
  name: string;
  topicId: string;
  partitions: WirePartition[];
  configs: Record<string, string>;
}
interface WireWatchEvent {
  event?: 'image' | 'delta';
  image?: { metadataVersion: string; brokers: WireBroker[]; topics: WireTopic[] } | null;
  delta?: { metadataVersion: string; brokers: WireBroker[]; createdTopics: WireTopic[]; deletedTopics: { name: string; topicId: string }[]; partitions: WirePartition[] } | null;
}

/** Pause before reopening the BrokerSession stream: short when the answer named the leader, longer when no coordinator knows one. */
const SESSION_STREAM_RETRY_LEADER_MS = 50;
const SESSION_STREAM_RETRY_MS = 200;
/** How long a session stream we left may take to finish before we cut it. */
const SESSION_STREAM_LEAVE_GRACE_MS = 200;
/**
 * Heartbeats carry the leader's metadata version. When it has been ahead of
 * ours for this many heartbeat intervals (and at least WATCH_STALL_MIN_MS),
 * the watch is re-opened on the next coordinator: a stream can go silent
 * without ending (a frozen coordinator keeps its TCP connection open).
 */
const WATCH_STALL_HEARTBEATS = 4;
const WATCH_STALL_MIN_MS = 1_000;

/** How often controlled shutdown re-heartbeats and re-checks the metadata for leaderships left. */
const CONTROLLED_SHUTDOWN_POLL_MS = 100;

export interface CoordinatorSessionOptions {
  brokerId: number;
  clusterId: string;
  coordinators: readonly PeerAddress[];
  /** The address other brokers and clients reach this broker at. */
  advertised: { host: string; port: number };
  rack: string;
  heartbeatIntervalMs: number;
  requestTimeoutMs: number;
  maxMessageBytes: number;
  logger: Logger;
  onMetadata: (image: MetadataImage) => void;
}

function toBroker(b: WireBroker): BrokerImage {
  const ep = b.endpoints[0];
  return { brokerId: b.brokerId, host: ep?.host ?? '', port: ep?.port ?? 0, rack: b.rack, brokerEpoch: wireToSafeInteger(b.brokerEpoch, 'brokerEpoch'), fenced: b.fenced };
}

function toPartition(p: WirePartition): PartitionImage {
  return { partition: p.partition, replicas: [...p.replicas], leader: p.leader, leaderEpoch: p.leaderEpoch, isr: [...p.isr], partitionEpoch: p.partitionEpoch };
}

function toTopic(t: WireTopic): TopicImage {
  return { name: t.name, topicId: t.topicId, configs: { ...t.configs }, partitions: t.partitions.map(toPartition).sort((a, b) => a.partition - b.partition) };
}

/** Applies a watch delta to an image (pure). */
export function applyMetadataDelta(image: MetadataImage, delta: NonNullable<WireWatchEvent['delta']>): MetadataImage {
  const brokers = new Map(image.brokers.map((b) => [b.brokerId, b]));
  for (const b of delta.brokers) brokers.set(b.brokerId, toBroker(b));
  const topics = new Map(image.topics.map((t) => [t.name, t]));
  for (const d of delta.deletedTopics) {
    for (const [name, t] of topics) if (name === d.name || (d.topicId !== '' && t.topicId === d.topicId)) topics.delete(name);
  }
  for (const t of delta.createdTopics) topics.set(t.name, toTopic(t));
  for (const p of delta.partitions) {
    const t = topics.get(p.topicName) ?? [...topics.values()].find((x) => x.topicId === p.topicId);
    if (t === undefined) continue;
    const parts = t.partitions.filter((x) => x.partition !== p.partition);
    parts.push(toPartition(p));
    parts.sort((a, b) => a.partition - b.partition);
    topics.set(t.name, { ...t, partitions: parts });
  }
  return {
    clusterId: image.clusterId,
    version: wireToSafeInteger(delta.metadataVersion, 'metadataVersion'),
    brokers: [...brokers.values()].sort((a, b) => a.brokerId - b.brokerId),
    topics: [...topics.values()],
  };
}

export class CoordinatorSession implements IsrChannel, ControlPlane {
  private readonly logger: Logger;
  private readonly clients: CoordinatorClient[];
  private readonly incarnationId = randomUUID();
  private next = 0;
  private epoch = -1;
  private heartbeatIntervalMs: number;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private watch: ClientReadableStream<WireWatchEvent> | null = null;
  private watchRetry: NodeJS.Timeout | null = null;
  private image: MetadataImage;
  private producerIds: { next: number; end: number } = { next: 0, end: 0 };
  private producerIdBlock: Promise<void> | null = null;
  private wantFence = false;
  private sessionStream: ClientDuplexStream<unknown, unknown> | null = null;
  private sessionStreamRetry: NodeJS.Timeout | null = null;
  /** Index of the coordinator the BrokerSession stream goes to (the Raft leader, once one answer named it). */
  private sessionTarget = 0;
  private closed = false;
  private heartbeatInFlight = false;
  /** Since when the leader's metadata version (from heartbeats) has been ahead of ours; null when it is not. */
  private behindSinceMs: number | null = null;

  constructor(private readonly options: CoordinatorSessionOptions) {
    if (options.coordinators.length === 0) throw new FjordError('INVALID_CONFIG', 'no coordinators to talk to', { key: 'coordinators' });
    this.logger = options.logger.child({ component: 'coordinator-session' });
    const ctor = loadFjordGrpc().coordinator;
    this.clients = options.coordinators.map(
      (p) => new ctor(formatAddress(p.host, p.port), credentials.createInsecure(), grpcChannelOptions(options.maxMessageBytes)) as unknown as CoordinatorClient,
    );
    this.heartbeatIntervalMs = options.heartbeatIntervalMs;
    this.image = { clusterId: options.clusterId, version: -1, brokers: [], topics: [] };
  }

  get brokerEpoch(): number {
    return this.epoch;
  }

  get metadataVersion(): number {
    return this.image.version;
  }

  /**
   * Calls the coordinators in turn (any of them forwards to the leader) until
   * one answers, every one failed twice, or `deadlineMs` (absolute) passes:
   * each attempt's gRPC deadline is capped by it, so a caller with a bound
   * (controlled shutdown) is never held past it by the retries.
   */
  private async call<T>(
    method: 'registerBroker' | 'brokerHeartbeat' | 'alterPartition' | 'allocateProducerIds' | 'createTopics' | 'deleteTopics',
    request: unknown,
    deadlineMs = Number.POSITIVE_INFINITY,
  ): Promise<T> {
    let last: FjordError | null = null;
    for (let attempt = 0; attempt < this.clients.length * 2; attempt++) {
      // A closed session's channels are shut down (grpc-js throws a plain Error on them).
      if (this.closed) throw new FjordError('BROKER_NOT_AVAILABLE', 'the coordinator session is closed (broker shutting down)');
      const nowMs = Date.now();
      if (nowMs >= deadlineMs) break;
      const index = (this.next + attempt) % this.clients.length;
      const client = this.clients[index] as CoordinatorClient;
      try {
        const res = await new Promise<T>((resolve, reject) => {
          client[method].call(client, request, { deadline: Math.min(nowMs + this.options.requestTimeoutMs, deadlineMs) }, (err, r) => {
            if (err !== null) reject(fromServiceError(err));
            else resolve(r as T);
          });
        });
        this.next = index;
        return res;
      } catch (e) {
        if (!isFjordError(e)) throw e;
        last = e;
        if (!e.retriable) throw e;
      }
    }
    throw last ?? new FjordError('COORDINATOR_NOT_AVAILABLE', 'no coordinator answered');
  }

  /** Registers (retrying until `deadlineMs`), starts heartbeats and the metadata watch. */
  async start(options: { deadlineMs: number }): Promise<void> {
    const deadline = Date.now() + options.deadlineMs;
    for (;;) {
      try {
        await this.register();
        break;
      } catch (e) {
        if (!isFjordError(e) || !e.retriable || Date.now() > deadline || this.closed) throw e;
        this.logger.warn({ err: e }, 'registration failed; retrying');
        await new Promise<void>((resolve) => setTimeout(resolve, 200));
      }
    }
    this.scheduleHeartbeat(0);
    this.openWatch();
  }

  private async register(): Promise<void> {
    const res = await this.call<{ brokerEpoch: string; heartbeatIntervalMs: number }>('registerBroker', {
      brokerId: this.options.brokerId,
      incarnationId: this.incarnationId,
      endpoints: [{ name: 'broker', host: this.options.advertised.host, port: this.options.advertised.port }],
      rack: this.options.rack,
      clusterId: this.options.clusterId,
    });
    this.epoch = wireToSafeInteger(res.brokerEpoch, 'brokerEpoch');
    if (res.heartbeatIntervalMs > 0) this.heartbeatIntervalMs = res.heartbeatIntervalMs;
    this.logger.info({ brokerEpoch: this.epoch, incarnationId: this.incarnationId, heartbeatIntervalMs: this.heartbeatIntervalMs }, 'registered');
    this.endSessionStream();
    this.openSessionStream();
  }

  /**
   * The BrokerSession stream to the coordinator leader: it carries nothing
   * after its first message, and exists so that when this process dies the
   * kernel resets its connection and the leader ends our session at once
   * (fencing us and moving our leaderships) instead of after the session
   * timeout. Reopened on the leader whenever it ends; heartbeats stay the
   * liveness rule.
   */
  private openSessionStream(): void {
    if (this.closed || this.epoch < 0 || this.sessionStream !== null) return;
    const client = this.clients[this.sessionTarget] as CoordinatorClient;
    const stream = client.brokerSession();
    this.sessionStream = stream;
    stream.write({ brokerId: this.options.brokerId, brokerEpoch: this.epoch });
    stream.on('data', () => this.logger.debug({ coordinator: this.options.coordinators[this.sessionTarget]?.id }, 'session stream bound on the coordinator leader'));
    const reopen = (e: unknown): void => {
      if (this.sessionStream !== stream) return;
      this.sessionStream = null;
      if (this.closed) return;
      const err = e instanceof FjordError ? e : fromServiceError(e);
      const leaderId = err.code === 'RAFT_NOT_LEADER' ? err.details['leaderId'] : undefined;
      const leaderIndex = this.options.coordinators.findIndex((p) => p.id === leaderId);
      if (leaderIndex >= 0) this.sessionTarget = leaderIndex;
      else this.sessionTarget = (this.sessionTarget + 1) % this.clients.length;
      if (err.code === 'STALE_BROKER_EPOCH') return; // the heartbeat re-registers, which reopens the stream
      this.logger.debug({ err: err.message, next: this.options.coordinators[this.sessionTarget]?.id }, 'session stream ended; reopening');
      this.sessionStreamRetry = setTimeout(() => {
        this.sessionStreamRetry = null;
        this.openSessionStream();
      }, leaderIndex >= 0 ? SESSION_STREAM_RETRY_LEADER_MS : SESSION_STREAM_RETRY_MS);
    };
    stream.on('error', reopen);
    stream.on('end', () => reopen(new FjordError('COORDINATOR_NOT_AVAILABLE', 'the broker session stream ended')));
  }

  /**
   * Leaves the session stream on purpose: a second message (the leader ends
   * nothing) and a half-close, then a cut after a grace period, so that a
   * leader that stopped answering cannot keep our socket (and process) up.
   */
  private endSessionStream(): void {
    if (this.sessionStreamRetry !== null) clearTimeout(this.sessionStreamRetry);
    this.sessionStreamRetry = null;
    const stream = this.sessionStream;
    this.sessionStream = null;
    if (stream === null) return;
    stream.write({ brokerId: this.options.brokerId, brokerEpoch: this.epoch });
    stream.end();
    setTimeout(() => stream.cancel(), SESSION_STREAM_LEAVE_GRACE_MS).unref();
  }

  private scheduleHeartbeat(delayMs: number): void {
    if (this.closed) return;
    this.heartbeatTimer = setTimeout(() => {
      this.heartbeatTimer = null;
      void this.heartbeat().finally(() => this.scheduleHeartbeat(this.heartbeatIntervalMs));
    }, delayMs);
  }

  private async heartbeat(deadlineMs = Number.POSITIVE_INFINITY): Promise<boolean> {
    if (this.heartbeatInFlight) return false;
    this.heartbeatInFlight = true;
    try {
      const res = await this.call<{ fenced: boolean; metadataVersion?: unknown }>(
        'brokerHeartbeat',
        { brokerId: this.options.brokerId, brokerEpoch: this.epoch, wantFence: this.wantFence, metadataVersion: Math.max(0, this.image.version) },
        deadlineMs,
      );
      this.checkWatchProgress(wireToSafeInteger(res.metadataVersion ?? 0, 'metadataVersion'), Date.now());
      return res.fenced;
    } catch (e) {
      if (!isFjordError(e)) throw e;
      if (e.code === 'STALE_BROKER_EPOCH' && !this.wantFence && !this.closed) {
        this.logger.warn({ err: e }, 'our broker epoch is stale; registering again');
        await this.register().catch((err: unknown) => {
          if (!isFjordError(err)) throw err;
          this.logger.warn({ err }, 're-registration failed');
        });
      } else {
        this.logger.warn({ err: e }, 'heartbeat failed');
      }
      return false;
    } finally {
      this.heartbeatInFlight = false;
    }
  }

  /** Re-opens a watch that stopped delivering while the leader's metadata moved on (see WATCH_STALL_HEARTBEATS). */
  private checkWatchProgress(leaderVersion: number, nowMs: number): void {
    if (leaderVersion <= this.image.version || this.watch === null) {
      this.behindSinceMs = null;
      return;
    }
    this.behindSinceMs ??= nowMs;
    if (nowMs - this.behindSinceMs < Math.max(WATCH_STALL_MIN_MS, WATCH_STALL_HEARTBEATS * this.heartbeatIntervalMs)) return;
    this.behindSinceMs = null;
    this.logger.warn({ version: this.image.version, leaderVersion, coordinator: this.options.coordinators[this.next]?.id }, 'metadata watch stalled behind the leader; re-watching elsewhere');
    this.watch.cancel(); // its 'error' (CANCELLED) moves to the next coordinator
  }

  private openWatch(): void {
    if (this.closed) return;
    const client = this.clients[this.next] as CoordinatorClient;
    const stream = client.watchMetadata({ fromVersion: Math.max(0, this.image.version), allowStale: false });
    this.watch = stream;
    stream.on('data', (event: WireWatchEvent) => {
      try {
        if (event.image !== undefined && event.image !== null && event.event !== 'delta') {
          this.image = {
            clusterId: this.options.clusterId,
            version: wireToSafeInteger(event.image.metadataVersion, 'metadataVersion'),
            brokers: event.image.brokers.map(toBroker),
            topics: event.image.topics.map(toTopic),
          };
        } else if (event.delta !== undefined && event.delta !== null) {
          const version = wireToSafeInteger(event.delta.metadataVersion, 'metadataVersion');
          if (version <= this.image.version) return;
          this.image = applyMetadataDelta(this.image, event.delta);
        } else {
          return;
        }
      } catch (e) {
        if (!isFjordError(e)) throw e;
        this.logger.error({ err: e }, 'bad metadata event; re-watching');
        stream.cancel();
        return;
      }
      this.options.onMetadata(this.image);
    });
    const retry = (e: unknown): void => {
      if (this.watch !== stream) return;
      this.watch = null;
      if (this.closed) return;
      this.logger.warn({ err: e instanceof Error ? e.message : String(e) }, 'metadata watch ended; re-watching');
      this.next = (this.next + 1) % this.clients.length;
      this.watchRetry = setTimeout(() => this.openWatch(), 200);
    };
    stream.on('error', retry);
    stream.on('end', () => retry('end'));
  }

  // ---- IsrChannel ----

  async alterPartition(request: Parameters<IsrChannel['alterPartition']>[0]): ReturnType<IsrChannel['alterPartition']> {
    try {
      const res = await this.call<{ items: { errorCode: string; errorMessage: string; state: WirePartition | null }[] }>('alterPartition', {
        brokerId: this.options.brokerId,
        brokerEpoch: this.epoch,
        items: [
          {
            topicId: request.topicId,
            partition: request.partition,
            leaderEpoch: request.leaderEpoch,
            partitionEpoch: request.partitionEpoch,
            newIsr: request.isr.map((id) => ({ brokerId: id, brokerEpoch: id === this.options.brokerId ? this.epoch : (request.brokerEpochs.get(id) ?? -1) })),
          },
        ],
      });
      const item = res.items[0];
      if (item === undefined) return { ok: false, error: new FjordError('UNKNOWN_SERVER_ERROR', 'empty AlterPartition answer') };
      const error = errorFromFields(item);
      if (error !== null || item.state === null) return { ok: false, error: error ?? new FjordError('UNKNOWN_SERVER_ERROR', 'no partition state') };
      return { ok: true, isr: [...item.state.isr], partitionEpoch: item.state.partitionEpoch };
    } catch (e) {
      if (!isFjordError(e)) throw e;
      return { ok: false, error: e };
    }
  }

  // ---- ControlPlane ----

  createTopics(request: unknown): Promise<unknown> {
    return this.call('createTopics', request);
  }

  deleteTopics(request: unknown): Promise<unknown> {
    return this.call('deleteTopics', request);
  }

  async allocateProducerId(): Promise<{ producerId: number; producerEpoch: number }> {
    while (this.producerIds.next >= this.producerIds.end) {
      this.producerIdBlock ??= this.call<{ firstProducerId: string; count: number }>('allocateProducerIds', { brokerId: this.options.brokerId, brokerEpoch: this.epoch })
        .then((res) => {
          const first = wireToSafeInteger(res.firstProducerId, 'firstProducerId');
          this.producerIds = { next: first, end: first + res.count };
        })
        .finally(() => {
          this.producerIdBlock = null;
        });
      await this.producerIdBlock;
    }
    return { producerId: this.producerIds.next++, producerEpoch: 0 };
  }

  /** Partitions the current metadata names this broker the leader of. */
  private leaderships(): number {
    let n = 0;
    for (const t of this.image.topics) for (const p of t.partitions) if (p.leader === this.options.brokerId) n++;
    return n;
  }

  /**
   * Controlled shutdown: ask to be fenced (the controller moves our
   * leaderships to other ISR members), wait until the metadata shows we lead
   * nothing or `timeoutMs` passes. Bounded: every heartbeat's deadline is the
   * shutdown's (a coordinator that does not answer cannot hold us past it).
   * Resolves true when no leadership is left.
   */
  async controlledShutdown(timeoutMs: number): Promise<boolean> {
    this.wantFence = true;
    const deadlineMs = Date.now() + timeoutMs;
    while (Date.now() < deadlineMs && !this.closed) {
      await this.heartbeat(deadlineMs);
      if (this.leaderships() === 0) return true;
      await new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, Math.min(CONTROLLED_SHUTDOWN_POLL_MS, deadlineMs - Date.now()))));
    }
    const left = this.leaderships();
    if (left > 0) this.logger.warn({ timeoutMs, leaderships: left, metadataVersion: this.image.version }, 'controlled shutdown timed out with leaderships left');
    return left === 0;
  }

  close(): void {
    this.closed = true;
    if (this.heartbeatTimer !== null) clearTimeout(this.heartbeatTimer);
    if (this.watchRetry !== null) clearTimeout(this.watchRetry);
    this.endSessionStream();
    const w = this.watch;
    this.watch = null;
    w?.cancel();
    for (const c of this.clients) c.close();
  }
}
