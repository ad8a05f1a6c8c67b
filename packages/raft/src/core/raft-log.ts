/**
 * The Raft log as the core sees it: durable entries (RaftLogReader) followed by
 * unstable ones, plus the commit and apply cursors (etcd log.go). Invariants,
 * asserted: applied <= committed <= lastIndex; committed never decreases.
 */
import { assert } from '@fjord/protocol';
import { entryBytes, type Entry, type RaftLogReader, type Snapshot } from '../types.js';
import { UnstableLog } from './unstable-log.js';

export type MaybeAppendResult =
  | { readonly kind: 'Mismatch' }
  | { readonly kind: 'ConflictBelowCommit'; readonly index: number }
  | { readonly kind: 'Appended'; readonly lastNewIndex: number; readonly appendedFrom: number };

export class RaftLog {
  readonly storage: RaftLogReader;
  readonly unstable: UnstableLog;
  committed: number;
  applied: number;

  constructor(storage: RaftLogReader) {
    this.storage = storage;
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    assert(first >= 1 && last >= first - 1, () => `storage range [${first}, ${last}] is invalid`);
    this.unstable = new UnstableLog(last + 1);
    this.committed = first - 1;
    this.applied = first - 1;
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  /** Term at index, or undefined when compacted away or beyond the last index. */
  term(index: number): number | undefined {
    if (index < this.firstIndex() - 1 || index > this.lastIndex()) return undefined;
    const t = this.unstable.maybeTerm(index);
    if (t !== undefined) return t;
    return this.storage.term(index);
  }

  lastTerm(): number {
    const t = this.term(this.lastIndex());
    assert(t !== undefined, 'raft-log: last term unknown');
    return t;
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** Thesis §3.6.1: is a log ending at (lastIndex, lastTerm) at least as up-to-date as ours? */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /** First entry whose term differs from ours (or that we don't have); 0 when all match. */
  findConflict(ents: readonly Entry[]): number {
    for (const e of ents) {
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * The largest index <= `index` whose term is <= `term` (etcd log.go
   * findConflictByTerm): everything after it surely conflicts, so one round trip
   * skips a whole term of divergent entries.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    let i = Math.min(index, this.lastIndex());
    for (; i > 0; i--) {
      const t = this.term(i);
      if (t === undefined) return { index: i, term: 0 };
      if (t <= term) return { index: i, term: t };
    }
    return { index: 0, term: 0 };
  }

  /** Follower side of AppendEntries (thesis figure 3.1, receiver rules 2-5). */
  maybeAppend(prevIndex: number, prevTerm: number, commit: number, ents: readonly Entry[], skipPrevTermCheck: boolean): MaybeAppendResult {
    const ok = skipPrevTermCheck ? prevIndex <= this.lastIndex() && this.term(prevIndex) !== undefined : this.matchTerm(prevIndex, prevTerm);
    if (!ok) return { kind: 'Mismatch' };
    const lastNewIndex = prevIndex + ents.length;
    const ci = this.findConflict(ents);
    let appendedFrom = 0;
    if (ci !== 0) {
      if (ci <= this.committed) return { kind: 'ConflictBelowCommit', index: ci };
      const from = ci - (prevIndex + 1);
      this.append(ents.slice(from));
      appendedFrom = ci;
    }
    this.commitTo(Math.min(commit, lastNewIndex));
    return { kind: 'Appended', lastNewIndex, appendedFrom };
  }

  append(ents: readonly Entry[]): number {
    if (ents.length === 0) return this.lastIndex();
    const after = (ents[0] as Entry).index - 1;
    assert(after >= this.committed, () => `raft-log: append after ${after} would overwrite committed ${this.committed}`);
    assert(after <= this.lastIndex(), () => `raft-log: append after ${after} leaves a gap past ${this.lastIndex()}`);
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  commitTo(commit: number): void {
    if (commit <= this.committed) return; // never decrease
    assert(commit <= this.lastIndex(), () => `raft-log: commit ${commit} beyond last index ${this.lastIndex()}`);
    this.committed = commit;
  }

  /** Leader: commit maxIndex when it holds an entry of `term` (thesis §3.6.2). */
  maybeCommit(maxIndex: number, term: number, anyTerm: boolean): boolean {
    if (maxIndex <= this.committed) return false;
    const t = this.term(maxIndex);
    if (t === term || (anyTerm && t !== undefined)) {
      this.commitTo(maxIndex);
      return true;
    }
    return false;
  }

  appliedTo(index: number): void {
    if (index <= this.applied) return;
    assert(index <= this.committed, () => `raft-log: applied ${index} beyond committed ${this.committed}`);
    this.applied = index;
  }

  stableTo(index: number, term: number): void {
    this.unstable.stableTo(index, term);
  }

  stableSnapTo(index: number): void {
    this.unstable.stableSnapTo(index);
  }

  /**
   * The last index the shell has made durable (and that still matches this
   * log): the leader counts itself toward the commit quorum only up to here
   * (thesis §10.2.1: it may send entries before they are durable on its own
   * disk, but must not count an entry it could still lose). 0 while a
   * snapshot is being installed.
   */
  durableLastIndex(): number {
    if (this.unstable.snapshot !== undefined) return 0;
    return this.unstable.entries.length > 0 ? this.unstable.offset - 1 : this.lastIndex();
  }

  unstableEntries(): Entry[] {
    return this.unstable.entries.length === 0 ? [] : this.unstable.entries.slice();
  }

  hasNextCommittedEnts(): boolean {
    return this.committed > Math.max(this.applied, this.firstIndex() - 1);
  }

  nextCommittedEnts(maxBytes: number): Entry[] {
    const lo = Math.max(this.applied + 1, this.firstIndex());
    if (this.committed < lo) return [];
    return this.slice(lo, this.committed + 1, maxBytes) ?? [];
  }

  /** Entries from `lo` to the end, capped by bytes; undefined when lo is compacted away. */
  entriesFrom(lo: number, maxBytes: number): Entry[] | undefined {
    const last = this.lastIndex();
    if (lo > last) return [];
    return this.slice(lo, last + 1, maxBytes);
  }

  /** Entries [lo, hi) capped by bytes (at least one); undefined when lo is compacted away. */
  slice(lo: number, hiExclusive: number, maxBytes: number): Entry[] | undefined {
    if (lo < this.firstIndex()) return undefined;
    assert(hiExclusive <= this.lastIndex() + 1 && lo <= hiExclusive, () => `raft-log: slice(${lo}, ${hiExclusive}) beyond last ${this.lastIndex()}`);
    if (lo === hiExclusive) return [];
    const off = this.unstable.offset;
    let out: Entry[];
    if (lo < off) {
      const stored = this.storage.entries(lo, Math.min(hiExclusive, off), maxBytes);
      if (stored.length < Math.min(hiExclusive, off) - lo || hiExclusive <= off) return stored;
      out = stored.concat(this.unstable.slice(off, hiExclusive));
    } else {
      out = this.unstable.slice(lo, hiExclusive);
    }
    return limitBytes(out, maxBytes);
  }

  restore(s: Snapshot): void {
    assert(s.meta.index > this.committed, 'raft-log: restore of a snapshot at or below commit');
    this.committed = s.meta.index;
    this.unstable.restore(s);
  }

  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  check(): void {
    assert(this.applied <= this.committed, () => `raft-log: applied ${this.applied} > committed ${this.committed}`);
    assert(this.committed <= this.lastIndex(), () => `raft-log: committed ${this.committed} > last ${this.lastIndex()}`);
  }
}

/** Keeps a prefix of at least one entry whose total size stays within maxBytes. */
export function limitBytes(ents: Entry[], maxBytes: number): Entry[] {
  if (ents.length <= 1) return ents;
  let size = entryBytes(ents[0] as Entry);
  for (let i = 1; i < ents.length; i++) {
    size += entryBytes(ents[i] as Entry);
    if (size > maxBytes) return ents.slice(0, i);
  }
  return ents;
}
