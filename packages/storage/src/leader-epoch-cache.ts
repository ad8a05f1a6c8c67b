/**
 * Leader epoch -> start offset (Kafka's LeaderEpochFileCache, KIP-101/279):
 * the first offset each leader epoch wrote. Followers ask the leader for the
 * end offset of their latest epoch (OffsetsForLeaderEpoch) and truncate any
 * divergent tail (DESIGN.md, "Brokers and replication"). Persisted beside the
 * log with an atomic checkpoint write on every change, truncated with the log.
 * Its size is bounded by the number of leader elections still in the log:
 * truncateFromStart trims it as retention advances the log start offset.
 */
import fs from 'node:fs';
import path from 'node:path';
import { assert, assertSafeInteger } from '@fjord/protocol';
import { readCheckpointFile, writeCheckpointFile } from './checkpoint-file.js';
import { LEADER_EPOCH_CHECKPOINT_FILE } from './file-names.js';

export const UNDEFINED_EPOCH = -1;
export const UNDEFINED_EPOCH_OFFSET = -1;

export interface EpochEntry {
  readonly epoch: number;
  readonly startOffset: number;
}

export class LeaderEpochCache {
  private entries: EpochEntry[];
  private readonly dir: string;
  private readonly durable: boolean;

  private constructor(dir: string, entries: EpochEntry[], durable: boolean) {
    this.dir = dir;
    this.durable = durable;
    this.entries = entries;
  }

  /** Loads the checkpoint; a missing one is empty. Returns null when the file is corrupt. */
  static load(dir: string, durable: boolean): LeaderEpochCache | null {
    const read = readCheckpointFile(path.join(dir, LEADER_EPOCH_CHECKPOINT_FILE));
    if (read.kind === 'missing') return new LeaderEpochCache(dir, [], durable);
    if (read.kind === 'corrupt') return null;
    const entries: EpochEntry[] = [];
    for (const line of read.entries) {
      const m = /^(\d+) (\d+)$/.exec(line);
      if (m === null) return null;
      const epoch = Number(m[1]);
      const startOffset = Number(m[2]);
      const prev = entries[entries.length - 1];
      if (!Number.isSafeInteger(epoch) || !Number.isSafeInteger(startOffset)) return null;
      if (prev !== undefined && (epoch <= prev.epoch || startOffset < prev.startOffset)) return null;
      entries.push({ epoch, startOffset });
    }
    return new LeaderEpochCache(dir, entries, durable);
  }

  /** A fresh, empty cache (its file is rewritten on the next change). */
  static empty(dir: string, durable: boolean): LeaderEpochCache {
    return new LeaderEpochCache(dir, [], durable);
  }

  all(): readonly EpochEntry[] {
    return this.entries;
  }

  get latestEpoch(): number {
    return this.entries.length === 0 ? UNDEFINED_EPOCH : (this.entries[this.entries.length - 1] as EpochEntry).epoch;
  }

  /**
   * Records that `epoch` starts at `startOffset`, if the epoch is newer than
   * the latest. Entries that the new one contradicts (a start offset at or past
   * `startOffset`) are dropped, as Kafka's assign does. Returns whether it changed.
   */
  assign(epoch: number, startOffset: number, persist = true): boolean {
    assertSafeInteger(epoch, 'epoch');
    assertSafeInteger(startOffset, 'startOffset');
    assert(epoch >= 0 && startOffset >= 0, 'epoch and start offset must be >= 0');
    if (epoch <= this.latestEpoch) return false;
    this.entries = this.entries.filter((e) => e.startOffset < startOffset);
    this.entries.push({ epoch, startOffset });
    if (persist) this.persist();
    return true;
  }

  /**
   * OffsetsForLeaderEpoch, with Kafka's exact semantics (LeaderEpochFileCache.endOffsetFor):
   * the latest epoch ends at the log end offset; an older epoch ends where the
   * next higher epoch starts, and the answer names the largest epoch <= requested;
   * an unknown (newer than latest, or UNDEFINED) epoch gives (-1, -1).
   */
  endOffsetFor(requestedEpoch: number, logEndOffset: number): { epoch: number; endOffset: number } {
    const latest = this.latestEpoch;
    if (requestedEpoch === UNDEFINED_EPOCH || latest === UNDEFINED_EPOCH) {
      return { epoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_EPOCH_OFFSET };
    }
    if (requestedEpoch === latest) return { epoch: latest, endOffset: logEndOffset };
    const higher = this.entries.findIndex((e) => e.epoch > requestedEpoch);
    if (higher < 0) return { epoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_EPOCH_OFFSET };
    const higherEntry = this.entries[higher] as EpochEntry;
    if (higher === 0) return { epoch: requestedEpoch, endOffset: higherEntry.startOffset };
    return { epoch: (this.entries[higher - 1] as EpochEntry).epoch, endOffset: higherEntry.startOffset };
  }

  /** Drops epochs that start at or after `endOffset` (the log was truncated to it). */
  truncateFromEnd(endOffset: number): void {
    const kept = this.entries.filter((e) => e.startOffset < endOffset);
    if (kept.length === this.entries.length) return;
    this.entries = kept;
    this.persist();
  }

  /**
   * The log now starts at `startOffset`: drop epochs that end before it and move
   * the start of the epoch that holds it up to it (Kafka's truncateFromStart).
   */
  truncateFromStart(startOffset: number): void {
    let lastBefore = -1;
    for (let i = 0; i < this.entries.length; i++) if ((this.entries[i] as EpochEntry).startOffset <= startOffset) lastBefore = i;
    if (lastBefore < 0) return;
    const e = this.entries[lastBefore] as EpochEntry;
    if (lastBefore === 0 && e.startOffset === startOffset) return;
    this.entries = [{ epoch: e.epoch, startOffset }, ...this.entries.slice(lastBefore + 1)];
    this.persist();
  }

  clear(): void {
    this.entries = [];
    this.persist();
  }

  persist(): void {
    writeCheckpointFile(this.dir, LEADER_EPOCH_CHECKPOINT_FILE, this.entries.map((e) => `${e.epoch} ${e.startOffset}`), this.durable);
  }

  /** Removes the checkpoint file (tests). */
  static deleteFile(dir: string): void {
    fs.rmSync(path.join(dir, LEADER_EPOCH_CHECKPOINT_FILE), { force: true });
  }
}
