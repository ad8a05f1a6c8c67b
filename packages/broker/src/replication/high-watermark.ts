/**
 * The high watermark: the smallest LEO over the *maximal* ISR, i.e. the
 * committed ISR plus a replica being added or removed by a pending
 * AlterPartition (Kafka KIP-497/Partition.scala "maximalIsr"). Counting a
 * replica that is being removed keeps acks=all honest until the coordinator
 * commits the shrink; counting one being added is safe because it only joins
 * once it holds everything below the HW.
 */
import { assert } from '@fjord/protocol';
import type { ReplicaProgress } from './isr.js';

export function maximalIsr(isr: readonly number[], pending: readonly number[] | null): number[] {
  if (pending === null) return [...isr];
  const all = new Set<number>([...isr, ...pending]);
  return [...all].sort((a, b) => a - b);
}

/**
 * Candidate HW = min LEO over the maximal ISR (the leader's own LEO included).
 * A member that has not fetched yet (leo -1) holds the HW where it is. The
 * result never moves backwards: the caller keeps max(current, candidate).
 */
export function computeHighWatermark(input: {
  leaderId: number;
  leaderLeo: number;
  currentHw: number;
  maximalIsr: readonly number[];
  progress: ReadonlyMap<number, ReplicaProgress>;
}): number {
  let candidate = input.leaderLeo;
  for (const id of input.maximalIsr) {
    if (id === input.leaderId) continue;
    const p = input.progress.get(id);
    const leo = p === undefined || p.leo < 0 ? input.currentHw : p.leo;
    if (leo < candidate) candidate = leo;
  }
  const hw = Math.max(input.currentHw, candidate);
  assert(hw <= input.leaderLeo, () => `high watermark ${hw} above leader LEO ${input.leaderLeo}`);
  return hw;
}
