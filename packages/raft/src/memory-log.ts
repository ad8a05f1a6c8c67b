/**
 * An in-memory RaftLogReader plus the write side a shell needs (etcd
 * storage.go MemoryStorage). The coordinator keeps one loaded from LevelDB; the
 * simulator uses one per node as its "disk": what is in it survives a crash.
 *
 * Layout: ents[0] is a dummy entry at the compaction point (index, term), so
 * firstIndex = ents[0].index + 1 and term(firstIndex - 1) is always known.
 */
import { assert } from '@fjord/protocol';
import { EMPTY_CONF, normalize } from './core/conf-change.js';
import { limitBytes } from './core/raft-log.js';
import type { ConfState, Entry, HardState, RaftLogReader, Snapshot } from './types.js';

const EMPTY = new Uint8Array(0);

export class MemoryLog implements RaftLogReader {
  private hard: HardState = { term: 0, vote: 0, commit: 0 };
  private snap: Snapshot;
  private ents: Entry[];

  /** `conf` bootstraps a new cluster (the initial configuration, as a snapshot at index 0). A node joining later starts empty. */
  constructor(opts: { conf?: ConfState } = {}) {
    const conf = opts.conf === undefined ? EMPTY_CONF : normalize(opts.conf);
    this.snap = { meta: { index: 0, term: 0, conf }, data: EMPTY };
    this.ents = [dummy(0, 0)];
  }

  initialState(): { hardState: HardState } {
    return { hardState: this.hard };
  }

  hardState(): HardState {
    return this.hard;
  }

  firstIndex(): number {
    return (this.ents[0] as Entry).index + 1;
  }

  lastIndex(): number {
    return (this.ents[0] as Entry).index + this.ents.length - 1;
  }

  term(index: number): number | undefined {
    const off = (this.ents[0] as Entry).index;
    if (index < off || index > off + this.ents.length - 1) return undefined;
    return (this.ents[index - off] as Entry).term;
  }

  entries(lo: number, hiExclusive: number, maxBytes: number): Entry[] {
    const off = (this.ents[0] as Entry).index;
    assert(lo > off && hiExclusive <= this.lastIndex() + 1 && lo <= hiExclusive, () => `memory-log: entries(${lo}, ${hiExclusive}) outside (${off}, ${this.lastIndex() + 1}]`);
    return limitBytes(this.ents.slice(lo - off, hiExclusive - off), maxBytes);
  }

  /** Every entry held (tests and checkers). */
  allEntries(): Entry[] {
    return this.ents.slice(1);
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  setHardState(hs: HardState): void {
    this.hard = hs;
  }

  /** Appends entries, replacing any at or after entries[0].index (they were never committed). */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const off = (this.ents[0] as Entry).index;
    let ents = entries;
    // Entries already compacted away are committed and identical: skip them.
    if ((ents[0] as Entry).index <= off) {
      const skip = off + 1 - (ents[0] as Entry).index;
      if (skip >= ents.length) return;
      ents = ents.slice(skip);
    }
    const first = (ents[0] as Entry).index;
    assert(first <= this.lastIndex() + 1, () => `memory-log: append at ${first} leaves a gap after ${this.lastIndex()}`);
    if (first === this.lastIndex() + 1) {
      for (const e of ents) this.ents.push(e);
    } else {
      this.ents.length = first - off;
      for (const e of ents) this.ents.push(e);
    }
  }

  /** Replaces the whole log with a snapshot received from the leader. */
  applySnapshot(s: Snapshot): void {
    if (s.meta.index <= this.snap.meta.index) return;
    this.snap = s;
    this.ents = [dummy(s.meta.index, s.meta.term)];
  }

  /** Records a state-machine snapshot taken at `index` (<= applied) with the configuration as of `index`. */
  createSnapshot(index: number, conf: ConfState, data: Uint8Array): Snapshot {
    assert(index > this.snap.meta.index, () => `memory-log: snapshot ${index} not newer than ${this.snap.meta.index}`);
    assert(index <= this.hard.commit, () => `memory-log: snapshot ${index} beyond commit ${this.hard.commit}`);
    const term = this.term(index);
    assert(term !== undefined, () => `memory-log: snapshot index ${index} is compacted`);
    this.snap = { meta: { index, term, conf: normalize(conf) }, data };
    return this.snap;
  }

  /** Drops entries up to `index` (which must be covered by the snapshot). */
  compact(index: number): void {
    const off = (this.ents[0] as Entry).index;
    if (index <= off) return;
    assert(index <= this.snap.meta.index, () => `memory-log: compact ${index} beyond snapshot ${this.snap.meta.index}`);
    const term = this.term(index) as number;
    const rest = this.ents.slice(index - off + 1);
    this.ents = [dummy(index, term), ...rest];
  }
}

function dummy(index: number, term: number): Entry {
  return { type: 'Normal', index, term, data: EMPTY };
}
