/**
 * The producer (DESIGN.md "Clients"): records go into the bounded
 * RecordAccumulator per partition, batches are drained on linger or when full
 * and sent by the Sender, one Produce per leader broker per round. Idempotent
 * by default: a producer id from the cluster and per-partition sequences, so
 * retries neither duplicate nor reorder. `send` resolves with each record's
 * partition and offset once its batch is acknowledged (acks=all by default).
 */
import { FjordError, assert, partitionForKey, wireToSafeInteger, errorFromFields, type CompressionName, type RecordHeader, type RecordInput } from '@fjord/protocol';
import type { ConnectionPool } from '../connection-pool.js';
import type { MetadataCache } from '../metadata-cache.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from '../retry.js';
import { RecordAccumulator, estimateRecordBytes, type PartitionReady, type ProducerBatch } from './accumulator.js';
import { Sender } from './sender.js';

export interface ProducerOptions {
  acks?: 0 | 1 | -1;
  idempotent?: boolean;
  lingerMs?: number;
  batchBytes?: number;
  bufferMemoryBytes?: number;
  maxRecordBytes?: number;
  requestTimeoutMs?: number;
  compression?: CompressionName;
  retry?: RetryPolicy;
  /** Most bytes of one partition's batches in one request. */
  maxRequestPartitionBytes?: number;
}

export interface ProducerMessage {
  key?: Uint8Array | null;
  value: Uint8Array | null;
  headers?: readonly RecordHeader[];
  partition?: number;
  timestamp?: number;
}

export interface RecordMetadata {
  topic: string;
  partition: number;
  offset: number;
}

/** One `send` call waiting for its records' acks (answered from the batches' runs). */
interface SendTracker {
  topic: string;
  results: RecordMetadata[];
  remaining: number;
  settled: boolean;
  resolve: (m: RecordMetadata[]) => void;
  reject: (e: FjordError) => void;
  done: Promise<void>;
}

export class Producer {
  private readonly accumulator: RecordAccumulator;
  private readonly sender: Sender;
  private readonly pending = new Set<SendTracker>();
  private readonly memoryWaiters: (() => void)[] = [];
  private producerIdPromise: Promise<{ producerId: number; producerEpoch: number }> | null = null;
  private lingerTimer: NodeJS.Timeout | null = null;
  private lingerDueMs = Infinity;
  private roundRobin = 0;
  private closed = false;
  private readonly opts: Required<Omit<ProducerOptions, 'retry'>> & { retry: RetryPolicy };

  constructor(
    private readonly pool: ConnectionPool,
    private readonly metadata: MetadataCache,
    options: ProducerOptions = {},
  ) {
    this.opts = {
      acks: options.acks ?? -1,
      idempotent: options.idempotent ?? true,
      lingerMs: options.lingerMs ?? 5,
      batchBytes: options.batchBytes ?? 256 * 1024,
      bufferMemoryBytes: options.bufferMemoryBytes ?? 32 * 1024 * 1024,
      maxRecordBytes: options.maxRecordBytes ?? 1024 * 1024,
      requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
      compression: options.compression ?? 'none',
      retry: options.retry ?? DEFAULT_RETRY_POLICY,
      maxRequestPartitionBytes: options.maxRequestPartitionBytes ?? 1024 * 1024,
    };
    if (this.opts.idempotent && this.opts.acks !== -1) {
      throw new FjordError('INVALID_CONFIG', 'an idempotent producer needs acks=all (-1)', { key: 'acks' });
    }
    this.accumulator = new RecordAccumulator({
      batchBytes: this.opts.batchBytes,
      lingerMs: this.opts.lingerMs,
      bufferMemoryBytes: this.opts.bufferMemoryBytes,
      maxRecordBytes: this.opts.maxRecordBytes,
    });
    this.sender = new Sender(pool, metadata, {
      acks: this.opts.acks,
      idempotent: this.opts.idempotent,
      requestTimeoutMs: this.opts.requestTimeoutMs,
      retry: this.opts.retry,
      compression: this.opts.compression,
      maxRequestPartitionBytes: this.opts.maxRequestPartitionBytes,
      producerId: () => this.producerId(),
      onProducerFenced: () => {
        this.producerIdPromise = null;
      },
      onComplete: (batch, result) => this.complete(batch, result),
      onPartitionReady: () => this.scheduleLinger(),
    });
  }

  private producerId(): Promise<{ producerId: number; producerEpoch: number }> {
    this.producerIdPromise ??= (async () => {
      const res = await this.pool.call<{ errorCode: string; errorMessage: string; producerId: string; producerEpoch: number }>(
        this.metadata.anyAddress(),
        'initProducerId',
        { transactionalId: '' },
        this.opts.requestTimeoutMs,
      );
      const err = errorFromFields(res);
      if (err !== null) throw err;
      return { producerId: wireToSafeInteger(res.producerId, 'producerId'), producerEpoch: res.producerEpoch };
    })().catch((e: unknown) => {
      this.producerIdPromise = null;
      throw e;
    });
    return this.producerIdPromise;
  }

  /**
   * Queues the messages; resolves with their offsets once acknowledged. Waits
   * for memory when the buffer is full (backpressure). Every message is
   * checked (partition, size) before any is queued, so a bad one changes
   * nothing.
   */
  async send(input: { topic: string; messages: readonly ProducerMessage[] }): Promise<RecordMetadata[]> {
    if (this.closed) throw new FjordError('INVALID_REQUEST', 'the producer is closed');
    const info = await this.metadata.partitionsOf(input.topic);
    const count = info.partitions.length;
    assert(count > 0, 'a topic has partitions');
    const n = input.messages.length;
    if (n === 0) return [];
    const partitions = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const m = input.messages[i] as ProducerMessage;
      if (m.partition !== undefined) {
        if (!Number.isSafeInteger(m.partition) || m.partition < 0 || m.partition >= count) {
          throw new FjordError('UNKNOWN_TOPIC_OR_PARTITION', `${input.topic} has no partition ${m.partition}`, { topic: input.topic, partition: m.partition });
        }
        partitions[i] = m.partition;
      } else if (m.key !== undefined && m.key !== null) {
        partitions[i] = partitionForKey(m.key, count);
      } else {
        partitions[i] = this.roundRobin++ % count;
      }
      const bytes = estimateRecordBytes(m);
      if (bytes > this.opts.maxRecordBytes) {
        throw new FjordError('MESSAGE_TOO_LARGE', `record of about ${bytes} bytes exceeds maxRecordBytes ${this.opts.maxRecordBytes}`, { recordBytes: bytes });
      }
    }
    let resolve: (m: RecordMetadata[]) => void = () => undefined;
    let reject: (e: FjordError) => void = () => undefined;
    const promise = new Promise<RecordMetadata[]>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const tracker: SendTracker = {
      topic: input.topic,
      results: new Array<RecordMetadata>(n),
      remaining: n,
      settled: false,
      resolve,
      reject,
      done: promise.then(
        () => undefined,
        () => undefined,
      ),
    };
    this.pending.add(tracker);
    const ready = (topic: string, partition: number): boolean => this.sender.isReady(topic, partition);
    for (let i = 0; i < n; i++) {
      // A ProducerMessage is a RecordInput (plus partition, which the codec ignores): queued as is, no copy.
      const record: RecordInput = input.messages[i] as ProducerMessage;
      for (;;) {
        const r = this.accumulator.append(input.topic, partitions[i] as number, record, Date.now(), tracker, i);
        if (r.kind === 'appended') {
          if (r.batchFull) this.drain(false, ready);
          break;
        }
        this.drain(true);
        await new Promise<void>((res) => this.memoryWaiters.push(res));
      }
    }
    this.scheduleLinger();
    return promise;
  }

  /** Drains what is ready (linger expired, partition idle) and arms the timer for the next open batch. */
  private scheduleLinger(): void {
    const { nextReadyMs, batches } = this.accumulator.drain(Date.now(), false, (topic, partition) => this.sender.isReady(topic, partition));
    if (batches.length > 0) this.sender.enqueue(batches);
    if (nextReadyMs === Infinity || (this.lingerTimer !== null && this.lingerDueMs <= nextReadyMs)) return;
    if (this.lingerTimer !== null) clearTimeout(this.lingerTimer);
    this.lingerDueMs = nextReadyMs;
    this.lingerTimer = setTimeout(() => {
      this.lingerTimer = null;
      this.scheduleLinger();
    }, Math.max(0, nextReadyMs - Date.now()));
  }

  private drain(flush: boolean, ready?: PartitionReady): void {
    const { batches } = this.accumulator.drain(Date.now(), flush, ready);
    if (batches.length > 0) this.sender.enqueue(batches);
  }

  private complete(batch: ProducerBatch, result: { baseOffset: number } | { error: FjordError }): void {
    for (const run of batch.runs) {
      const t = run.owner as SendTracker;
      if (t.settled) continue;
      if ('error' in result) {
        t.settled = true;
        this.pending.delete(t);
        t.reject(result.error);
        continue;
      }
      for (let k = 0; k < run.count; k++) {
        t.results[run.ownerIndex + k] = { topic: batch.topic, partition: batch.partition, offset: result.baseOffset < 0 ? -1 : result.baseOffset + run.batchIndex + k };
      }
      t.remaining -= run.count;
      assert(t.remaining >= 0, 'a send was answered for more records than it had');
      if (t.remaining === 0) {
        t.settled = true;
        this.pending.delete(t);
        t.resolve(t.results);
      }
    }
    this.accumulator.release(batch);
    for (const w of this.memoryWaiters.splice(0)) w();
  }

  /** Sends everything queued now and waits until it is answered. */
  async flush(): Promise<void> {
    this.drain(true);
    await Promise.all([...this.pending].map((t) => t.done));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    if (this.lingerTimer !== null) clearTimeout(this.lingerTimer);
    await this.sender.close();
  }
}
