/**
 * Majority arithmetic over one configuration (etcd quorum/majority.go). With
 * single-server membership changes there is only ever one configuration, so
 * one majority.
 */
import type { NodeId } from '../types.js';

export type VoteResult = 'Won' | 'Lost' | 'Pending';

/** Size of a majority of `n` voters. */
export function majority(n: number): number {
  return Math.floor(n / 2) + 1;
}

/**
 * The largest index that a majority of voters have matched. `matchOf` returns
 * each voter's match index. An empty voter set commits nothing.
 */
export function committedIndex(voters: readonly NodeId[], matchOf: (id: NodeId) => number): number {
  const n = voters.length;
  if (n === 0) return 0;
  if (n === 1) return matchOf(voters[0] as NodeId);
  const matches = new Array<number>(n);
  for (let i = 0; i < n; i++) matches[i] = matchOf(voters[i] as NodeId);
  matches.sort((a, b) => b - a);
  // Sorted descending: the majority(n)-th largest value is held by a majority.
  return matches[majority(n) - 1] as number;
}

/** Tallies votes of `voters`; votes from others are ignored. */
export function voteResult(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  let granted = 0;
  let rejected = 0;
  for (const id of voters) {
    const v = votes.get(id);
    if (v === true) granted++;
    else if (v === false) rejected++;
  }
  const need = majority(voters.length);
  if (granted >= need) return 'Won';
  if (voters.length - rejected < need) return 'Lost';
  return 'Pending';
}

/** True when the ids that satisfy `ok` form a majority of `voters`. */
export function hasQuorum(voters: readonly NodeId[], ok: (id: NodeId) => boolean): boolean {
  let n = 0;
  for (const id of voters) if (ok(id)) n++;
  return n >= majority(voters.length);
}
