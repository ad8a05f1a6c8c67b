/**
 * The producer's sender (Kafka's Sender): takes drained batches, encodes each
 * once (with its idempotent sequence), and sends one Produce per leader broker
 * per round carrying every partition that is ready. Each partition has at most
 * one request in flight, so retries (same bytes, same sequence) keep order and
 * the leader drops duplicates. A request carries at most
 * MAX_BATCHES_PER_PARTITION_REQUEST batches of a partition, and a retry
 * carries exactly the batches of the failed attempt: the leader remembers the
 * last 5 batches per producer (Kafka's max.in.flight for idempotence), so a
 * retried request must be wholly within them to be recognized as a
 * duplicate, and must not mix retried and new batches. Retriable errors
 * refresh metadata when the catalog says so and back off; others fail the batch.
 */
import { FjordError, Rng, assert, encodeRecordBatchSync, errorFromFields, wireToSafeInteger, type CompressionName } from '@fjord/protocol';
import type { ConnectionPool } from '../connection-pool.js';
import type { MetadataCache } from '../metadata-cache.js';
import { backoffMs, type RetryPolicy } from '../retry.js';
import type { ProducerBatch } from './accumulator.js';

/** The leader's idempotence window (producer-state.ts keeps 5 batches per producer). */
export const MAX_BATCHES_PER_PARTITION_REQUEST = 5;

export interface SentBatch {
  batch: ProducerBatch;
  /** Set once the batch is encoded (with its sequence). */
  encoded: Buffer | null;
  attempts: number;
  firstSentMs: number;
}

export interface SenderOptions {
  acks: 0 | 1 | -1;
  idempotent: boolean;
  requestTimeoutMs: number;
  retry: RetryPolicy;
  compression: CompressionName;
  /** Most bytes of batches sent for one partition in one request. */
  maxRequestPartitionBytes: number;
  /** Batches queued per partition waiting for their turn (beyond the one in flight). Bounded by the accumulator's memory too. */
  producerId: () => Promise<{ producerId: number; producerEpoch: number }>;
  onProducerFenced: () => void;
  onComplete: (batch: ProducerBatch, result: { baseOffset: number } | { error: FjordError }) => void;
  /** A partition's request was answered: the producer may drain the batch that filled meanwhile. */
  onPartitionReady?: () => void;
}

interface PartitionQueue {
  topic: string;
  partition: number;
  queue: SentBatch[];
  inFlight: boolean;
  retryAtMs: number;
  nextSequence: number;
  /** The producer id the sequences above belong to. */
  producerId: number;
}

export class Sender {
  private readonly partitions = new Map<string, PartitionQueue>();
  private readonly rng = new Rng(Date.now());
  private timer: NodeJS.Timeout | null = null;
  private readonly inflight = new Set<Promise<void>>();
  private closed = false;

  constructor(
    private readonly pool: ConnectionPool,
    private readonly metadata: MetadataCache,
    private readonly options: SenderOptions,
  ) {}

  get inflightRequests(): number {
    return this.inflight.size;
  }

  get idle(): boolean {
    for (const q of this.partitions.values()) if (q.inFlight || q.queue.length > 0) return false;
    return true;
  }

  /** Whether a new batch of the partition would be sent at once (nothing in flight or queued for it). */
  isReady(topic: string, partition: number): boolean {
    const q = this.partitions.get(`${topic}\u0000${partition}`);
    return q === undefined || (!q.inFlight && q.queue.length === 0);
  }

  enqueue(batches: readonly ProducerBatch[]): void {
    for (const batch of batches) {
      const key = `${batch.topic}\u0000${batch.partition}`;
      let q = this.partitions.get(key);
      if (q === undefined) {
        q = { topic: batch.topic, partition: batch.partition, queue: [], inFlight: false, retryAtMs: 0, nextSequence: 0, producerId: -1 };
        this.partitions.set(key, q);
      }
      q.queue.push({ batch, encoded: null, attempts: 0, firstSentMs: -1 });
    }
    this.pump();
  }

  /** Sends whatever is ready: per leader broker, one request with every ready partition. */
  pump(): void {
    if (this.closed) return;
    const now = Date.now();
    const byLeader = new Map<string, { q: PartitionQueue; sent: SentBatch[]; epoch: number }[]>();
    let nextRetry = Infinity;
    for (const q of this.partitions.values()) {
      if (q.inFlight || q.queue.length === 0) continue;
      if (q.retryAtMs > now) {
        nextRetry = Math.min(nextRetry, q.retryAtMs);
        continue;
      }
      const info = this.metadata.topic(q.topic)?.partitions[q.partition];
      const address = info === undefined || info.leaderId < 0 ? undefined : this.metadata.brokerAddress(info.leaderId);
      if (info === undefined || address === undefined) {
        q.retryAtMs = now + backoffMs(0, this.options.retry, this.rng);
        nextRetry = Math.min(nextRetry, q.retryAtMs);
        void this.metadata.refresh().catch(() => undefined);
        continue;
      }
      const sent: SentBatch[] = [];
      let bytes = 0;
      // A retry resends exactly the batches of the attempt that failed (a prefix of the queue, all attempted).
      const retrying = (q.queue[0] as SentBatch).attempts > 0;
      for (const s of q.queue) {
        if (retrying ? s.attempts === 0 : sent.length > 0 && (bytes + s.batch.sizeBytes > this.options.maxRequestPartitionBytes || sent.length >= MAX_BATCHES_PER_PARTITION_REQUEST)) break;
        sent.push(s);
        bytes += s.batch.sizeBytes;
      }
      q.inFlight = true;
      const list = byLeader.get(address) ?? [];
      byLeader.set(address, list);
      list.push({ q, sent, epoch: info.leaderEpoch });
    }
    for (const [address, parts] of byLeader) {
      const p = this.sendTo(address, parts);
      this.inflight.add(p);
      void p.finally(() => this.inflight.delete(p));
    }
    if (nextRetry !== Infinity && this.timer === null) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.pump();
      }, Math.max(1, nextRetry - now));
    }
  }

  private async encode(q: PartitionQueue, s: SentBatch): Promise<Buffer> {
    if (s.encoded !== null) return s.encoded;
    let idem: { producerId: number; producerEpoch: number; baseSequence: number } | null = null;
    if (this.options.idempotent) {
      const id = await this.options.producerId();
      if (q.producerId !== id.producerId) {
        q.producerId = id.producerId;
        q.nextSequence = 0;
      }
      idem = { producerId: id.producerId, producerEpoch: id.producerEpoch, baseSequence: q.nextSequence };
      q.nextSequence = (q.nextSequence + s.batch.records.length) % 0x8000_0000;
    }
    s.encoded = encodeRecordBatchSync({
      records: s.batch.records,
      defaultTimestamp: Date.now(),
      compression: this.options.compression,
      ...(idem ?? {}),
    });
    return s.encoded;
  }

  private async sendTo(address: string, parts: { q: PartitionQueue; sent: SentBatch[]; epoch: number }[]): Promise<void> {
    const topics = new Map<string, { partition: number; records: Buffer }[]>();
    try {
      for (const { q, sent } of parts) {
        const buffers: Buffer[] = [];
        for (const s of sent) {
          buffers.push(await this.encode(q, s));
          if (s.firstSentMs < 0) s.firstSentMs = Date.now();
          s.attempts++;
        }
        const list = topics.get(q.topic) ?? [];
        topics.set(q.topic, list);
        list.push({ partition: q.partition, records: buffers.length === 1 ? (buffers[0] as Buffer) : Buffer.concat(buffers) });
      }
    } catch (e) {
      const err = e instanceof FjordError ? e : new FjordError('UNKNOWN_SERVER_ERROR', String(e));
      for (const part of parts) this.settle(part.q, part.sent, err);
      this.pump();
      return;
    }
    let results: Map<string, { error: FjordError | null; baseOffset: number }>;
    try {
      const res = await this.pool.call<{ topics: { name: string; partitions: { partition: number; errorCode: string; errorMessage: string; baseOffset: string }[] }[] }>(
        address,
        'produce',
        { acks: this.options.acks, timeoutMs: this.options.requestTimeoutMs, topics: [...topics].map(([name, partitions]) => ({ name, partitions })) },
        this.options.requestTimeoutMs + 5_000,
      );
      results = new Map();
      for (const t of res.topics) {
        for (const p of t.partitions) results.set(`${t.name}\u0000${p.partition}`, { error: errorFromFields(p), baseOffset: wireToSafeInteger(p.baseOffset, 'baseOffset') });
      }
    } catch (e) {
      const err = e instanceof FjordError ? e : new FjordError('UNKNOWN_SERVER_ERROR', String(e));
      if (err.code === 'NETWORK_EXCEPTION') this.pool.reset(address);
      for (const part of parts) this.settle(part.q, part.sent, err);
      this.options.onPartitionReady?.();
      this.pump();
      return;
    }
    for (const part of parts) {
      const r = results.get(`${part.q.topic}\u0000${part.q.partition}`);
      if (r === undefined) this.settle(part.q, part.sent, new FjordError('UNKNOWN_SERVER_ERROR', 'the broker did not answer for this partition'));
      else if (r.error !== null) this.settle(part.q, part.sent, r.error);
      else this.settleOk(part.q, part.sent, r.baseOffset);
    }
    this.options.onPartitionReady?.();
    this.pump();
  }

  private settleOk(q: PartitionQueue, sent: readonly SentBatch[], baseOffset: number): void {
    q.inFlight = false;
    q.queue.splice(0, sent.length);
    let offset = baseOffset;
    for (const s of sent) {
      this.options.onComplete(s.batch, { baseOffset: offset });
      offset += s.batch.records.length;
    }
  }

  private settle(q: PartitionQueue, sent: readonly SentBatch[], error: FjordError): void {
    q.inFlight = false;
    const first = sent[0];
    assert(first !== undefined, 'a request carries at least one batch');
    const elapsed = Date.now() - first.firstSentMs;
    const retriable = error.retriable && first.attempts <= this.options.retry.maxRetries && elapsed < this.options.retry.deadlineMs && !this.closed;
    if (retriable) {
      q.retryAtMs = Date.now() + backoffMs(first.attempts - 1, this.options.retry, this.rng);
      if (error.refreshMetadata || error.code === 'NETWORK_EXCEPTION') void this.metadata.refresh().catch(() => undefined);
      return;
    }
    // Fail this request's batches and, for an idempotent producer, everything
    // queued behind them: their sequences would leave a gap. The next batch
    // starts a new producer id (Kafka bumps the epoch instead).
    const failed = this.options.idempotent ? q.queue.splice(0, q.queue.length) : q.queue.splice(0, sent.length);
    if (this.options.idempotent) {
      q.producerId = -1;
      this.options.onProducerFenced();
    }
    for (const s of failed) this.options.onComplete(s.batch, { error });
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    await Promise.allSettled([...this.inflight]);
    for (const q of this.partitions.values()) {
      for (const s of q.queue.splice(0)) this.options.onComplete(s.batch, { error: new FjordError('NETWORK_EXCEPTION', 'the producer was closed') });
    }
  }
}
