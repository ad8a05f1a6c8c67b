/**
 * Divergent-tail truncation by leader epoch (KIP-101, KIP-279), a port of the
 * behaviour of Kafka's AbstractFetcherThread.getOffsetTruncationState. Never by
 * HW alone: truncating to the HW can lose acknowledged records, and keeping a
 * tail past it can keep records the new leader never had.
 *
 * The follower asks the leader for the end offset of its own latest epoch
 * (OffsetForLeaderEpoch). The leader answers with the largest epoch it knows
 * that is <= the one asked, and where that epoch ends in its log.
 */
import { assert } from '@fjord/protocol';

export interface EpochEntry {
  epoch: number;
  startOffset: number;
}

/** The largest epoch <= `epoch` in `entries` (sorted by epoch) and where it ends (the next epoch's start, or `leo`). */
export function endOffsetForEpoch(entries: readonly EpochEntry[], leo: number, epoch: number): { epoch: number; endOffset: number } {
  let found = -1;
  for (let i = 0; i < entries.length; i++) {
    if ((entries[i] as EpochEntry).epoch <= epoch) found = i;
    else break;
  }
  if (found < 0) return { epoch: -1, endOffset: -1 };
  const entry = entries[found] as EpochEntry;
  const next = entries[found + 1];
  return { epoch: entry.epoch, endOffset: next === undefined ? leo : next.startOffset };
}

export interface TruncationDecision {
  /** Truncate the local log to this offset (it may equal the LEO: nothing to cut). */
  truncateTo: number;
  /** False when another OffsetForLeaderEpoch round is needed (the follower had an epoch the leader lacks). */
  done: boolean;
}

export function decideTruncation(input: {
  localEpochs: readonly EpochEntry[];
  localLeo: number;
  /** The leader's answer for our latest epoch. epoch -1 = the leader has no epoch that old. */
  leaderEpochEnd: { epoch: number; endOffset: number };
}): TruncationDecision {
  const { localEpochs, localLeo, leaderEpochEnd } = input;
  if (leaderEpochEnd.epoch < 0 || leaderEpochEnd.endOffset < 0) {
    // The leader has nothing at or below our epoch: everything we hold diverges.
    const first = localEpochs[0];
    return { truncateTo: Math.min(localLeo, leaderEpochEnd.endOffset < 0 ? (first?.startOffset ?? 0) : leaderEpochEnd.endOffset), done: true };
  }
  const local = endOffsetForEpoch(localEpochs, localLeo, leaderEpochEnd.epoch);
  if (local.epoch !== leaderEpochEnd.epoch) {
    // We never saw the leader's epoch: cut back to where our older epoch ends and ask again.
    const truncateTo = Math.min(local.endOffset < 0 ? 0 : local.endOffset, localLeo);
    return { truncateTo, done: false };
  }
  const truncateTo = Math.min(local.endOffset, leaderEpochEnd.endOffset, localLeo);
  assert(truncateTo >= 0, 'truncation offset must be non-negative');
  return { truncateTo, done: true };
}
