/**
 * The durable Raft log of one coordinator node, in LevelDB (`level` 10,
 * classic-level), mirrored by the in-memory `MemoryLog` the core reads
 * (STYLE.md B: reads are synchronous, durable writes asynchronous).
 *
 * Keys (utf8) -> values (bytes, raft-codec.ts format):
 *   `h`          hard state (term, vote, commit)
 *   `s`          snapshot metadata (index, term, conf)
 *   `d`          snapshot data (the state machine's bytes)
 *   `r<16 hex>`  a run: the entries one Ready appended, as one entry block,
 *                keyed by its first index (hex keeps byte order = index order)
 *   `e<16 hex>`  one entry per index: the layout before runs, still loaded
 *
 * Each Ready is one `db.batch(ops, { sync })` (the group commit): snapshot,
 * entries, the truncated tail's deletions and the hard state land together or
 * not at all, fsynced when the Ready says `mustSync` (etcd's MustSync). Only
 * after that does the MemoryLog show them, and only then may messages leave.
 *
 * Why runs: every LevelDB op in a batch costs ~13 us of CPU in abstract-level
 * and the binding (measured), so one key per entry made the store the largest
 * single cost on a follower at 64 writes in flight. A run that a later Ready
 * overwrites from index k keeps its head: on load, a run truncates what was
 * loaded before it at its first index (a Ready's entries always replace the
 * tail from there), and runs that started after k are deleted with the write
 * that replaced them.
 */
import { Level } from 'level';
import { FjordError, assert } from '@fjord/protocol';
import { MemoryLog, type ConfState, type Entry, type HardState, type Ready, type Snapshot } from '@fjord/raft';
import { decodeEntry, decodeEntryBlock, encodeEntryBlock, encodeJsonValue, hardStateFromJson, parseFormatted, snapshotMetaFromJson, snapshotMetaToJson } from './raft-codec.js';

const HARD_KEY = 'h';
const SNAP_META_KEY = 's';
const SNAP_DATA_KEY = 'd';

function entryKey(index: number): string {
  return `e${index.toString(16).padStart(16, '0')}`;
}

function runKey(firstIndex: number): string {
  return `r${firstIndex.toString(16).padStart(16, '0')}`;
}

/**
 * How many of `runs[0..count)` start before `firstIndex` (they are sorted by
 * first index, so only the tail is walked). Runs never overlap: a run's
 * lastIndex is cut back when a later run starts inside it, so only the last
 * run kept can reach `firstIndex`.
 */
function runsBefore(runs: readonly Run[], count: number, firstIndex: number): number {
  let k = count;
  while (k > 0 && (runs[k - 1] as Run).firstIndex >= firstIndex) k--;
  return k;
}

/** A stored run's index range; `lastIndex` shrinks when a later Ready replaces its tail. */
interface Run {
  readonly firstIndex: number;
  lastIndex: number;
}

type BatchOp = { type: 'put'; key: string; value: Uint8Array } | { type: 'del'; key: string };

export interface LoadedRaftState {
  readonly log: MemoryLog;
  /** True when this call created a new log from the bootstrap configuration. */
  readonly bootstrapped: boolean;
}

export interface RaftStoreStats {
  batches: number;
  syncedBatches: number;
  ops: number;
}

export class LevelRaftStore {
  readonly stats: RaftStoreStats = { batches: 0, syncedBatches: 0, ops: 0 };
  private closed = false;
  /**
   * A hard state whose only change was the commit index, not yet written: it
   * rides with the next batch (or `close`). The commit index needs no
   * durability (after a crash Raft learns it again from the leader; etcd does
   * not fsync it either), and writing it alone would put a LevelDB write
   * between commit and apply on every write's critical path.
   */
  private pendingHard: HardState | null = null;
  /** The stored runs, by first index (ascending). */
  private runs: Run[] = [];
  /** The last index stored under a per-entry (`e`) key; 0 when none. */
  private legacyLastIndex = 0;

  private constructor(private readonly db: Level<string, Uint8Array>) {}

  /** Opens (creating) the store under `dir`. A directory locked by another process is INVALID_CONFIG. */
  static async open(options: { readonly dir: string }): Promise<LevelRaftStore> {
    const db = new Level<string, Uint8Array>(options.dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
    try {
      await db.open();
    } catch (e) {
      throw new FjordError('INVALID_CONFIG', `cannot open the Raft log in ${options.dir} (is another node using it?)`, { dir: options.dir }, { cause: e });
    }
    return new LevelRaftStore(db);
  }

  /**
   * Loads the durable state into a MemoryLog. An empty store with a
   * `bootstrapConf` starts a new cluster (the configuration as a snapshot at
   * index 0, written at once); without one the node joins an existing cluster
   * and waits for a leader to send it the log.
   */
  async load(options: { readonly bootstrapConf: ConfState | null }): Promise<LoadedRaftState> {
    const rawMeta = await this.db.get(SNAP_META_KEY);
    if (rawMeta === undefined) {
      const log = options.bootstrapConf === null ? new MemoryLog() : new MemoryLog({ conf: options.bootstrapConf });
      const snap = log.snapshot();
      await this.write([{ type: 'put', key: SNAP_META_KEY, value: encodeJsonValue(snapshotMetaToJson(snap.meta)) }], true);
      return { log, bootstrapped: options.bootstrapConf !== null };
    }
    const meta = snapshotMetaFromJson(parseFormatted(rawMeta));
    if (meta === null) throw new FjordError('KAFKA_STORAGE_ERROR', 'the stored snapshot metadata does not decode');
    const data = (await this.db.get(SNAP_DATA_KEY)) ?? new Uint8Array(0);
    let log: MemoryLog;
    if (meta.index === 0) {
      log = new MemoryLog({ conf: meta.conf });
    } else {
      log = new MemoryLog();
      log.applySnapshot({ meta, data });
    }
    const entries: Entry[] = [];
    // Entries from meta.index + 1 on; a later write replaces the tail from its first index.
    const place = (e: Entry, key: string): void => {
      if (e.index <= meta.index) return; // compacted but not yet deleted: covered by the snapshot
      const at = e.index - meta.index - 1;
      if (at > entries.length) throw new FjordError('KAFKA_STORAGE_ERROR', `stored log has a gap: expected entry ${meta.index + 1 + entries.length}, found ${e.index} (${key})`);
      entries.length = at;
      entries.push(e);
    };
    for await (const [key, value] of this.db.iterator({ gte: 'e', lt: 'f' })) {
      const e = decodeEntry(value);
      if (e === null) throw new FjordError('KAFKA_STORAGE_ERROR', `stored entry ${key} does not decode`);
      place(e, key);
      this.legacyLastIndex = Math.max(this.legacyLastIndex, e.index);
    }
    this.runs = [];
    for await (const [key, value] of this.db.iterator({ gte: 'r', lt: 's' })) {
      const block = decodeEntryBlock(value);
      const first = block?.[0];
      if (block === null || first === undefined || key !== runKey(first.index) || block.some((e, i) => e.index !== first.index + i)) {
        throw new FjordError('KAFKA_STORAGE_ERROR', `stored run ${key} does not decode`);
      }
      for (const e of block) place(e, key);
      this.truncateRuns(first.index);
      this.runs.push({ firstIndex: first.index, lastIndex: first.index + block.length - 1 });
    }
    log.append(entries);
    const rawHard = await this.db.get(HARD_KEY);
    if (rawHard !== undefined) {
      const hard = hardStateFromJson(parseFormatted(rawHard));
      if (hard === null) throw new FjordError('KAFKA_STORAGE_ERROR', 'the stored hard state does not decode');
      log.setHardState(hard);
    }
    return { log, bootstrapped: false };
  }

  /**
   * Makes one Ready durable (one batch) and then shows it in `log`. The
   * caller sends the Ready's messages only after this resolves.
   */
  async persistReady(rd: Ready, log: MemoryLog): Promise<void> {
    if (rd.snapshot === undefined && rd.entries.length === 0 && !rd.mustSync && rd.hardState !== undefined) {
      // Only the commit index moved (mustSync is false): defer its write.
      this.pendingHard = rd.hardState;
      log.setHardState(rd.hardState);
      return;
    }
    const ops: BatchOp[] = [];
    let prevLast = log.lastIndex();
    let legacyLastIndex = this.legacyLastIndex;
    if (rd.snapshot !== undefined) {
      ops.push({ type: 'put', key: SNAP_META_KEY, value: encodeJsonValue(snapshotMetaToJson(rd.snapshot.meta)) });
      ops.push({ type: 'put', key: SNAP_DATA_KEY, value: rd.snapshot.data });
      for (const run of this.runs) ops.push({ type: 'del', key: runKey(run.firstIndex) });
      for (let i = log.firstIndex(); i <= legacyLastIndex; i++) ops.push({ type: 'del', key: entryKey(i) });
      legacyLastIndex = 0;
      prevLast = rd.snapshot.meta.index;
    }
    // Runs kept: all (none after a snapshot) but those a conflicting tail replaces.
    let keptRuns = rd.snapshot !== undefined ? 0 : this.runs.length;
    if (rd.entries.length > 0) {
      const first = (rd.entries[0] as Entry).index;
      // A conflicting tail (never committed) is replaced: runs that started in it go
      // (the one at `first` itself is overwritten below), a run that started before
      // it keeps its head (load truncates it at `first`). Only the tail is looked at:
      // the usual append touches no run.
      keptRuns = runsBefore(this.runs, keptRuns, first);
      for (let k = keptRuns; k < this.runs.length && rd.snapshot === undefined; k++) {
        const start = (this.runs[k] as Run).firstIndex;
        if (start > first) ops.push({ type: 'del', key: runKey(start) });
      }
      for (let i = first; i <= Math.min(prevLast, legacyLastIndex); i++) ops.push({ type: 'del', key: entryKey(i) });
      if (legacyLastIndex >= first) legacyLastIndex = first - 1;
      ops.push({ type: 'put', key: runKey(first), value: encodeEntryBlock(rd.entries) });
    }
    const hard = rd.hardState ?? this.pendingHard;
    if (hard !== null) ops.push({ type: 'put', key: HARD_KEY, value: encodeJsonValue({ ...hard }) });
    this.pendingHard = null;
    if (ops.length > 0) await this.write(ops, rd.mustSync);
    this.runs.length = keptRuns;
    if (rd.entries.length > 0) {
      const first = (rd.entries[0] as Entry).index;
      const before = this.runs[this.runs.length - 1];
      if (before !== undefined) before.lastIndex = Math.min(before.lastIndex, first - 1);
      this.runs.push({ firstIndex: first, lastIndex: first + rd.entries.length - 1 });
    }
    this.legacyLastIndex = legacyLastIndex;
    if (rd.snapshot !== undefined) log.applySnapshot(rd.snapshot);
    if (rd.entries.length > 0) log.append(rd.entries);
    if (rd.hardState !== undefined) log.setHardState(rd.hardState);
  }

  /**
   * Records a state-machine snapshot taken at `index` (applied and committed)
   * and compacts the log up to `compactTo` (<= index; entries kept behind it
   * let slightly slow followers catch up without a snapshot).
   */
  async saveSnapshot(options: { readonly log: MemoryLog; readonly index: number; readonly conf: ConfState; readonly data: Uint8Array; readonly compactTo: number }): Promise<Snapshot> {
    const { log, index, compactTo } = options;
    assert(compactTo <= index, 'compaction beyond the snapshot');
    const term = log.term(index);
    assert(term !== undefined, () => `snapshot index ${index} is not in the log`);
    const ops: BatchOp[] = [
      { type: 'put', key: SNAP_META_KEY, value: encodeJsonValue(snapshotMetaToJson({ index, term, conf: options.conf })) },
      { type: 'put', key: SNAP_DATA_KEY, value: options.data },
    ];
    for (let i = log.firstIndex(); i <= Math.min(compactTo, this.legacyLastIndex); i++) ops.push({ type: 'del', key: entryKey(i) });
    const gone = this.runs.filter((run) => run.lastIndex <= compactTo);
    for (const run of gone) ops.push({ type: 'del', key: runKey(run.firstIndex) });
    await this.write(ops, true);
    this.runs = this.runs.filter((run) => run.lastIndex > compactTo);
    const snap = log.createSnapshot(index, options.conf, options.data);
    log.compact(compactTo);
    return snap;
  }

  /** Runs as loaded so far lose their tail from `firstIndex` (a later run replaced it). */
  private truncateRuns(firstIndex: number): void {
    this.runs.length = runsBefore(this.runs, this.runs.length, firstIndex);
    const before = this.runs[this.runs.length - 1];
    if (before !== undefined) before.lastIndex = Math.min(before.lastIndex, firstIndex - 1);
  }

  private async write(ops: BatchOp[], sync: boolean): Promise<void> {
    assert(!this.closed, 'raft store used after close');
    this.stats.batches++;
    if (sync) this.stats.syncedBatches++;
    this.stats.ops += ops.length;
    await this.db.batch(ops, { sync });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.pendingHard !== null) await this.write([{ type: 'put', key: HARD_KEY, value: encodeJsonValue({ ...this.pendingHard }) }], true);
    this.pendingHard = null;
    this.closed = true;
    await this.db.close();
  }

  /** Every stored hard state, for tests. */
  async storedHardState(): Promise<HardState | null> {
    const raw = await this.db.get(HARD_KEY);
    return raw === undefined ? null : hardStateFromJson(parseFormatted(raw));
  }
}
