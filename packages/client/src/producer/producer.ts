/**
 * The producer (DESIGN.md "Clients"): records go into the bounded
 * RecordAccumulator per partition, batches are drained on linger or when full
 * and sent by the Sender, one Produce per leader broker per round. Idempotent
 * by default: a producer id from the cluster and per-partition sequences, so
 * retries neither duplicate nor reorder. `send` resolves with each record's
 * partition and offset once its batch is acknowledged (acks=all by default).
 */
import { FjordError, assert, partitionForKey, wireToSafeInteger, errorFromFields, type CompressionName, type RecordHeader } from '@fjord/protocol';
import type { ConnectionPool } from '../connection-pool.js';
import type { MetadataCache } from '../metadata-cache.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from '../retry.js';
import { RecordAccumulator, type ProducerBatch } from './accumulator.js';
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

interface Pending {
  resolve: (m: RecordMetadata) => void;
  reject: (e: FjordError) => void;
}

export class Producer {
  private readonly accumulator: RecordAccumulator;
  private readonly sender: Sender;
  private readonly pending = new Map<object, Pending>();
  private readonly memoryWaiters: (() => void)[] = [];
  private producerIdPromise: Promise<{ producerId: number; producerEpoch: number }> | null = null;
  private lingerTimer: NodeJS.Timeout | null = null;
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

  /** Queues the messages; resolves with their offsets once acknowledged. Waits for memory when the buffer is full (backpressure). */
  async send(input: { topic: string; messages: readonly ProducerMessage[] }): Promise<RecordMetadata[]> {
    if (this.closed) throw new FjordError('INVALID_REQUEST', 'the producer is closed');
    const info = await this.metadata.partitionsOf(input.topic);
    const count = info.partitions.length;
    assert(count > 0, 'a topic has partitions');
    const results: Promise<RecordMetadata>[] = [];
    for (const m of input.messages) {
      let partition: number;
      if (m.partition !== undefined) {
        if (!Number.isSafeInteger(m.partition) || m.partition < 0 || m.partition >= count) {
          throw new FjordError('UNKNOWN_TOPIC_OR_PARTITION', `${input.topic} has no partition ${m.partition}`, { topic: input.topic, partition: m.partition });
        }
        partition = m.partition;
      } else if (m.key !== undefined && m.key !== null) {
        partition = partitionForKey(m.key, count);
      } else {
        partition = this.roundRobin++ % count;
      }
      const record = { key: m.key ?? null, value: m.value, ...(m.headers !== undefined ? { headers: m.headers } : {}), ...(m.timestamp !== undefined ? { timestamp: m.timestamp } : {}) };
      for (;;) {
        const r = this.accumulator.append(input.topic, partition, record, Date.now());
        if (r.kind === 'appended') {
          results.push(
            new Promise<RecordMetadata>((resolve, reject) => {
              this.pending.set(record, { resolve, reject });
            }),
          );
          if (r.batchFull) this.drain(false);
          break;
        }
        this.drain(true);
        await new Promise<void>((resolve) => this.memoryWaiters.push(resolve));
      }
    }
    this.scheduleLinger();
    return Promise.all(results);
  }

  private scheduleLinger(): void {
    if (this.lingerTimer !== null) return;
    const { nextReadyMs, batches } = this.accumulator.drain(Date.now());
    if (batches.length > 0) this.sender.enqueue(batches);
    if (nextReadyMs === Infinity) return;
    this.lingerTimer = setTimeout(() => {
      this.lingerTimer = null;
      this.scheduleLinger();
    }, Math.max(0, nextReadyMs - Date.now()));
  }

  private drain(flush: boolean): void {
    const { batches } = this.accumulator.drain(Date.now(), flush);
    if (batches.length > 0) this.sender.enqueue(batches);
  }

  private complete(batch: ProducerBatch, result: { baseOffset: number } | { error: FjordError }): void {
    batch.records.forEach((record, i) => {
      const p = this.pending.get(record);
      if (p === undefined) return;
      this.pending.delete(record);
      if ('error' in result) p.reject(result.error);
      else p.resolve({ topic: batch.topic, partition: batch.partition, offset: result.baseOffset < 0 ? -1 : result.baseOffset + i });
    });
    this.accumulator.release(batch);
    for (const w of this.memoryWaiters.splice(0)) w();
  }

  /** Sends everything queued now and waits until it is answered. */
  async flush(): Promise<void> {
    this.drain(true);
    const waiting = [...this.pending.values()].map(
      (p) =>
        new Promise<void>((resolve) => {
          const { resolve: r0, reject: j0 } = p;
          p.resolve = (m) => {
            r0(m);
            resolve();
          };
          p.reject = (e) => {
            j0(e);
            resolve();
          };
        }),
    );
    await Promise.all(waiting);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    if (this.lingerTimer !== null) clearTimeout(this.lingerTimer);
    await this.sender.close();
  }
}
