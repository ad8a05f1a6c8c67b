/**
 * Entries and a snapshot that the core holds but the shell has not yet made
 * durable (etcd log_unstable.go). They leave through Ready.entries /
 * Ready.snapshot and become "stable" in advance(), once the shell has written
 * them to the RaftLogReader.
 */
import { assert } from '@fjord/protocol';
import type { Entry, Snapshot } from '../types.js';

export class UnstableLog {
  snapshot: Snapshot | undefined = undefined;
  entries: Entry[] = [];
  /** Index of entries[0]. */
  offset: number;

  constructor(offset: number) {
    this.offset = offset;
  }

  maybeFirstIndex(): number | undefined {
    return this.snapshot === undefined ? undefined : this.snapshot.meta.index + 1;
  }

  maybeLastIndex(): number | undefined {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    return this.snapshot === undefined ? undefined : this.snapshot.meta.index;
  }

  maybeTerm(index: number): number | undefined {
    if (index < this.offset) {
      if (this.snapshot !== undefined && this.snapshot.meta.index === index) return this.snapshot.meta.term;
      return undefined;
    }
    const i = index - this.offset;
    if (i >= this.entries.length) return undefined;
    return (this.entries[i] as Entry).term;
  }

  /** The shell made entries up to (index, term) durable. A term mismatch means they were overwritten since: keep them. */
  stableTo(index: number, term: number): void {
    const t = this.maybeTerm(index);
    if (t === undefined || t !== term || index < this.offset) return;
    this.entries = this.entries.slice(index + 1 - this.offset);
    this.offset = index + 1;
  }

  stableSnapTo(index: number): void {
    if (this.snapshot !== undefined && this.snapshot.meta.index === index) this.snapshot = undefined;
  }

  restore(s: Snapshot): void {
    this.offset = s.meta.index + 1;
    this.entries = [];
    this.snapshot = s;
  }

  truncateAndAppend(ents: readonly Entry[]): void {
    const after = (ents[0] as Entry).index;
    if (after === this.offset + this.entries.length) {
      for (const e of ents) this.entries.push(e);
    } else if (after <= this.offset) {
      // Replaces everything unstable (and possibly entries already stable: the shell overwrites them too).
      this.offset = after;
      this.entries = ents.slice();
    } else {
      this.entries = this.entries.slice(0, after - this.offset).concat(ents);
    }
  }

  slice(lo: number, hiExclusive: number): Entry[] {
    assert(lo >= this.offset && hiExclusive <= this.offset + this.entries.length && lo <= hiExclusive, () => `unstable.slice(${lo}, ${hiExclusive}) out of [${this.offset}, ${this.offset + this.entries.length})`);
    return this.entries.slice(lo - this.offset, hiExclusive - this.offset);
  }
}
