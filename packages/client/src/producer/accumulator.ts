/**
 * The producer's record accumulator (Kafka's RecordAccumulator): records are
 * grouped per partition into batches that close at `batchBytes` or after
 * `lingerMs`, within a bounded memory budget. Plain data and time as input;
 * the producer (the shell) owns the timer and the sending. Records are kept as
 * objects until a batch is drained, so encoding (and sequence numbering for
 * idempotence) happens once, at send time.
 */
import { FjordError, RECORD_BATCH_HEADER_BYTES, assert, type RecordInput } from '@fjord/protocol';

export interface AccumulatorOptions {
  /** A batch closes when adding a record would take it past this size. */
  batchBytes: number;
  /** How long a batch may wait for more records before it is sent. */
  lingerMs: number;
  /** Budget for all records queued or in flight; appends beyond it must wait. */
  bufferMemoryBytes: number;
  /** Largest single record accepted (MESSAGE_TOO_LARGE beyond). */
  maxRecordBytes: number;
}

/**
 * Consecutive records of one batch that came from one `send` call (its
 * `owner`), starting at `ownerIndex` in that call: the producer answers each
 * call from its runs, so a send of many records costs one promise, not one
 * per record.
 */
export interface RecordRun {
  owner: object;
  ownerIndex: number;
  /** Index of the run's first record in the batch. */
  batchIndex: number;
  count: number;
}

export interface ProducerBatch {
  topic: string;
  partition: number;
  records: RecordInput[];
  runs: RecordRun[];
  /** Upper-bound estimate of the encoded size, header included. */
  sizeBytes: number;
  createdMs: number;
}

/** Upper bound of a record's encoded size: fields plus worst-case varints (5 bytes each). */
export function estimateRecordBytes(record: RecordInput): number {
  let size = 1 + 10 + 5 + 5 + 5 + 5 + 5; // length, attributes, ts delta, offset delta, key/value lengths, header count
  size += record.key?.length ?? 0;
  size += record.value?.length ?? 0;
  for (const h of record.headers ?? []) size += 10 + Buffer.byteLength(h.key) + (h.value?.length ?? 0);
  return size;
}

export type AppendResult = { kind: 'appended'; batchFull: boolean } | { kind: 'no-memory'; neededBytes: number };

/** Whether a partition may take a batch now (false while it has a request in flight: its open batch keeps filling). */
export type PartitionReady = (topic: string, partition: number) => boolean;

export class RecordAccumulator {
  private readonly open = new Map<string, ProducerBatch>();
  private readonly closed: ProducerBatch[] = [];
  private used = 0;

  constructor(private readonly options: AccumulatorOptions) {
    assert(options.batchBytes > RECORD_BATCH_HEADER_BYTES, 'batchBytes must exceed the batch header');
    assert(options.bufferMemoryBytes >= options.batchBytes, 'bufferMemoryBytes must hold at least one batch');
    assert(options.lingerMs >= 0, 'lingerMs must be >= 0');
  }

  /** Bytes held by queued and in-flight batches. */
  get usedBytes(): number {
    return this.used;
  }

  get hasPending(): boolean {
    return this.open.size > 0 || this.closed.length > 0;
  }

  /**
   * Adds a record to its partition's open batch (closing it first if the record
   * does not fit). Returns no-memory, changing nothing, when the budget is spent:
   * the producer then waits for `release` and tries again (backpressure).
   */
  append(topic: string, partition: number, record: RecordInput, nowMs: number, owner: object | null = null, ownerIndex = 0): AppendResult {
    const recordBytes = estimateRecordBytes(record);
    if (recordBytes > this.options.maxRecordBytes) {
      throw new FjordError('MESSAGE_TOO_LARGE', `record of about ${recordBytes} bytes exceeds maxRecordBytes ${this.options.maxRecordBytes}`, {
        recordBytes,
      });
    }
    const key = `${topic}\u0000${partition}`;
    let batch = this.open.get(key);
    if (batch !== undefined && batch.sizeBytes + recordBytes > this.options.batchBytes) {
      this.closed.push(batch);
      this.open.delete(key);
      batch = undefined;
    }
    const needed = recordBytes + (batch === undefined ? RECORD_BATCH_HEADER_BYTES : 0);
    if (this.used + needed > this.options.bufferMemoryBytes) return { kind: 'no-memory', neededBytes: needed };
    if (batch === undefined) {
      batch = { topic, partition, records: [], runs: [], sizeBytes: RECORD_BATCH_HEADER_BYTES, createdMs: nowMs };
      this.open.set(key, batch);
    }
    if (owner !== null) {
      const last = batch.runs[batch.runs.length - 1];
      if (last !== undefined && last.owner === owner && last.ownerIndex + last.count === ownerIndex) last.count++;
      else batch.runs.push({ owner, ownerIndex, batchIndex: batch.records.length, count: 1 });
    }
    batch.records.push(record);
    batch.sizeBytes += recordBytes;
    this.used += needed;
    const batchFull = batch.sizeBytes >= this.options.batchBytes;
    if (batchFull) {
      this.closed.push(batch);
      this.open.delete(key);
    }
    return { kind: 'appended', batchFull };
  }

  /**
   * Removes and returns every batch ready to send: closed ones, and open ones
   * whose linger has expired (all of them when `flush` is set). An open batch
   * of a partition that is not `ready` (a request in flight) stays and keeps
   * filling, as Kafka's Sender mutes a partition: under load, records that
   * arrive during a round trip leave together in one batch instead of one
   * batch each. `nextReadyMs` is when the next open batch of a ready
   * partition may leave (Infinity if none); the producer drains again when a
   * partition becomes ready.
   */
  drain(nowMs: number, flush = false, ready: PartitionReady = () => true): { batches: ProducerBatch[]; nextReadyMs: number } {
    const batches = this.closed.splice(0, this.closed.length);
    let nextReadyMs = Infinity;
    for (const [key, batch] of this.open) {
      const readyAt = batch.createdMs + this.options.lingerMs;
      if (!flush && !ready(batch.topic, batch.partition)) continue;
      if (flush || readyAt <= nowMs) {
        batches.push(batch);
        this.open.delete(key);
      } else if (readyAt < nextReadyMs) {
        nextReadyMs = readyAt;
      }
    }
    return { batches, nextReadyMs };
  }

  /** A drained batch was answered (or failed for good): give its memory back. */
  release(batch: ProducerBatch): void {
    this.used -= batch.sizeBytes;
    assert(this.used >= 0, 'accumulator memory accounting went negative');
  }
}
