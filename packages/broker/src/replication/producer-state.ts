/**
 * Idempotent-producer sequence checks on the partition leader (Kafka's
 * ProducerStateManager / ProducerAppendInfo). For each producer id the leader
 * keeps its epoch and its last five batches (as the client keeps at most five
 * in flight), so a retry of any of them is answered with its original offsets
 * instead of being written twice, and a gap is refused.
 */
import { FjordError } from '@fjord/protocol';

export const MAX_CACHED_BATCHES_PER_PRODUCER = 5;
const INT32_MAX = 0x7fff_ffff;

export interface BatchMetadata {
  firstSequence: number;
  lastSequence: number;
  firstOffset: number;
  lastOffset: number;
}

export interface ProducerEntry {
  producerId: number;
  producerEpoch: number;
  /** Oldest first; at most MAX_CACHED_BATCHES_PER_PRODUCER. */
  batches: readonly BatchMetadata[];
}

export type SequenceCheck =
  | { kind: 'append' }
  | { kind: 'duplicate'; firstOffset: number; lastOffset: number };

/** Sequence numbers wrap from Int32.MAX to 0 (Kafka's DefaultRecordBatch.incrementSequence). */
export function nextSequence(sequence: number, by = 1): number {
  const next = sequence + by;
  return next > INT32_MAX ? next - INT32_MAX - 1 : next;
}

export function lastSequenceOf(baseSequence: number, recordCount: number): number {
  return nextSequence(baseSequence, recordCount - 1);
}

/**
 * Decide what to do with a batch from (producerId, producerEpoch, baseSequence).
 * - a newer epoch must start at sequence 0;
 * - an older epoch is fenced (INVALID_PRODUCER_EPOCH);
 * - a batch equal to one of the cached five is a duplicate (return its offsets);
 * - otherwise the batch must continue right after the last one, or be refused
 *   with OUT_OF_ORDER_SEQUENCE_NUMBER (retriable by the client only after the gap fills).
 */
export function checkSequence(
  entry: ProducerEntry | undefined,
  batch: { producerId: number; producerEpoch: number; baseSequence: number; recordCount: number },
): SequenceCheck {
  const lastSequence = lastSequenceOf(batch.baseSequence, batch.recordCount);
  if (batch.baseSequence < 0 || batch.recordCount <= 0) {
    throw new FjordError('INVALID_RECORD', `idempotent batch needs a sequence >= 0, got ${batch.baseSequence}`);
  }
  if (entry === undefined || batch.producerEpoch > entry.producerEpoch) {
    if (batch.baseSequence !== 0 && entry !== undefined) {
      throw new FjordError('OUT_OF_ORDER_SEQUENCE_NUMBER', `a new producer epoch must start at sequence 0, got ${batch.baseSequence}`, {
        producerId: batch.producerId,
      });
    }
    // An unknown producer may start anywhere: its state may have been cleaned by retention (Kafka does the same).
    return { kind: 'append' };
  }
  if (batch.producerEpoch < entry.producerEpoch) {
    throw new FjordError('INVALID_PRODUCER_EPOCH', `producer ${batch.producerId} epoch ${batch.producerEpoch} < current ${entry.producerEpoch}`, {
      producerId: batch.producerId,
    });
  }
  for (const b of entry.batches) {
    if (b.firstSequence === batch.baseSequence && b.lastSequence === lastSequence) {
      return { kind: 'duplicate', firstOffset: b.firstOffset, lastOffset: b.lastOffset };
    }
  }
  const last = entry.batches[entry.batches.length - 1];
  if (last !== undefined && batch.baseSequence !== nextSequence(last.lastSequence)) {
    throw new FjordError(
      'OUT_OF_ORDER_SEQUENCE_NUMBER',
      `producer ${batch.producerId}: expected sequence ${nextSequence(last.lastSequence)}, got ${batch.baseSequence}`,
      { producerId: batch.producerId, expected: nextSequence(last.lastSequence), got: batch.baseSequence },
    );
  }
  return { kind: 'append' };
}

/** The entry after an appended batch (call only after checkSequence said "append"). */
export function recordAppend(
  entry: ProducerEntry | undefined,
  batch: { producerId: number; producerEpoch: number; baseSequence: number; recordCount: number; firstOffset: number; lastOffset: number },
): ProducerEntry {
  const meta: BatchMetadata = {
    firstSequence: batch.baseSequence,
    lastSequence: lastSequenceOf(batch.baseSequence, batch.recordCount),
    firstOffset: batch.firstOffset,
    lastOffset: batch.lastOffset,
  };
  const previous = entry === undefined || batch.producerEpoch > entry.producerEpoch ? [] : entry.batches;
  const batches = [...previous, meta].slice(-MAX_CACHED_BATCHES_PER_PRODUCER);
  return { producerId: batch.producerId, producerEpoch: batch.producerEpoch, batches };
}
