/**
 * The machinery shared by the offset index and the time index (Kafka's
 * AbstractIndex): a bounded, sorted array of fixed-size entries, kept in typed
 * arrays while the segment is open and persisted as a flat file of big-endian
 * entries. Lookups are binary searches in memory. Only entries not yet on disk
 * are written (append-only), so persisting is cheap; a truncation rewrites the
 * tail. Files are bounded by maxEntries (+1 for the final time-index entry
 * written when a segment becomes inactive, as Kafka's skipFullCheck).
 */
import fs from 'node:fs';
import { assert } from '@fjord/protocol';

export type IndexLoad = 'ok' | 'missing' | 'corrupt';

const INITIAL_CAPACITY = 64;

export abstract class SparseIndex {
  readonly path: string;
  readonly baseOffset: number;
  readonly maxEntries: number;
  abstract readonly entryBytes: number;
  protected keys: Float64Array = new Float64Array(0);
  protected values: Float64Array = new Float64Array(0);
  private countValue = 0;
  /** Entries [0, persisted) are on disk exactly as in memory. */
  private persisted = 0;
  /** The file length on disk may exceed `persisted` entries (after a truncation): fix it on persist. */
  private fileNeedsTrim = false;
  private loadedValue = false;
  /** Entries were written since the last fsync of the file. */
  private unsynced = false;

  private readonly durable: boolean;

  constructor(options: { path: string; baseOffset: number; maxEntries: number; durable: boolean }) {
    this.durable = options.durable;
    this.path = options.path;
    this.baseOffset = options.baseOffset;
    this.maxEntries = options.maxEntries;
  }

  protected abstract encode(buf: Buffer, pos: number, key: number, value: number): void;
  protected abstract decodeKey(buf: Buffer, pos: number): number;
  protected abstract decodeValue(buf: Buffer, pos: number): number;
  /** Extra per-entry checks on load (keys strictly increase is checked here). */
  protected abstract validEntry(key: number, value: number, prevValue: number | null, logSizeBytes: number): boolean;

  get count(): number {
    return this.countValue;
  }

  get loaded(): boolean {
    return this.loadedValue;
  }

  /** Entries the file may hold: maxEntries plus one slot for the closing entry. */
  get capacityLimit(): number {
    return this.maxEntries + 1;
  }

  isFull(): boolean {
    return this.countValue >= this.maxEntries;
  }

  keyAt(i: number): number {
    assert(i >= 0 && i < this.countValue, () => `index entry ${i} out of ${this.countValue}`);
    return this.keys[i] as number;
  }

  valueAt(i: number): number {
    assert(i >= 0 && i < this.countValue, () => `index entry ${i} out of ${this.countValue}`);
    return this.values[i] as number;
  }

  /** Starts empty and in memory (a new segment, or one being rebuilt); the file is rewritten on persist. */
  reset(): void {
    this.keys = new Float64Array(INITIAL_CAPACITY);
    this.values = new Float64Array(INITIAL_CAPACITY);
    this.countValue = 0;
    this.persisted = 0;
    this.fileNeedsTrim = true;
    this.loadedValue = true;
    this.unsynced = true;
  }

  /** Reads and validates the file. On 'missing' or 'corrupt' the index is left unloaded. */
  load(logSizeBytes: number): IndexLoad {
    let buf: Buffer;
    try {
      const size = fs.statSync(this.path).size;
      if (size % this.entryBytes !== 0 || size > this.capacityLimit * this.entryBytes) return 'corrupt';
      buf = fs.readFileSync(this.path);
      if (buf.length !== size) return 'corrupt';
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
      throw e;
    }
    const n = buf.length / this.entryBytes;
    const keys = new Float64Array(Math.max(INITIAL_CAPACITY, n));
    const values = new Float64Array(Math.max(INITIAL_CAPACITY, n));
    let prevKey = -Infinity;
    let prevValue: number | null = null;
    for (let i = 0; i < n; i++) {
      const pos = i * this.entryBytes;
      const key = this.decodeKey(buf, pos);
      const value = this.decodeValue(buf, pos);
      if (!(key > prevKey) || !this.validEntry(key, value, prevValue, logSizeBytes)) return 'corrupt';
      keys[i] = key;
      values[i] = value;
      prevKey = key;
      prevValue = value;
    }
    this.keys = keys;
    this.values = values;
    this.countValue = n;
    this.persisted = n;
    this.fileNeedsTrim = false;
    this.loadedValue = true;
    this.unsynced = false;
    return 'ok';
  }

  /** Drops the in-memory entries (the segment is being closed or evicted). Persist first. */
  unload(): void {
    assert(this.persisted === this.countValue && !this.fileNeedsTrim, 'unloading an index with unpersisted entries');
    this.keys = new Float64Array(0);
    this.values = new Float64Array(0);
    this.countValue = 0;
    this.persisted = 0;
    this.loadedValue = false;
  }

  protected appendEntry(key: number, value: number): void {
    assert(this.loadedValue, 'append to an unloaded index');
    assert(this.countValue < this.capacityLimit, () => `index ${this.path} is full (${this.countValue} entries)`);
    assert(this.countValue === 0 || key > (this.keys[this.countValue - 1] as number), () => `index keys must increase: ${key}`);
    if (this.countValue === this.keys.length) {
      const capacity = Math.min(this.capacityLimit, Math.max(INITIAL_CAPACITY, this.keys.length * 2));
      const keys = new Float64Array(capacity);
      const values = new Float64Array(capacity);
      keys.set(this.keys.subarray(0, this.countValue));
      values.set(this.values.subarray(0, this.countValue));
      this.keys = keys;
      this.values = values;
    }
    this.keys[this.countValue] = key;
    this.values[this.countValue] = value;
    this.countValue++;
  }

  /** Index of the largest entry with key <= `key`, or -1. */
  floorIndex(key: number): number {
    let lo = 0;
    let hi = this.countValue - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.keys[mid] as number) <= key) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  /** Index of the largest entry with key < `key`, or -1. */
  lowerIndex(key: number): number {
    let lo = 0;
    let hi = this.countValue - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.keys[mid] as number) < key) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  /** Keeps the first `n` entries. */
  truncateToEntries(n: number): void {
    assert(this.loadedValue && n >= 0 && n <= this.countValue, 'bad index truncation');
    if (n === this.countValue) return;
    this.countValue = n;
    if (this.persisted > n) this.persisted = n;
    this.fileNeedsTrim = true;
  }

  /** Forgets the entries and deletes the file (a rebuild found the log corrupt: nothing to persist). */
  discard(): void {
    this.keys = new Float64Array(0);
    this.values = new Float64Array(0);
    this.countValue = 0;
    this.persisted = 0;
    this.fileNeedsTrim = false;
    this.loadedValue = false;
    this.deleteFile();
  }

  /** Writes the entries not yet on disk (and trims the file); fsyncs when `sync`. */
  persist(sync: boolean): void {
    if (!this.loadedValue) return;
    const pending = this.countValue - this.persisted;
    if (pending === 0 && !this.fileNeedsTrim && !(sync && this.unsynced)) return;
    const fd = fs.openSync(this.path, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
    try {
      if (pending > 0) {
        const buf = Buffer.allocUnsafe(pending * this.entryBytes);
        for (let i = 0; i < pending; i++) {
          const k = this.persisted + i;
          this.encode(buf, i * this.entryBytes, this.keys[k] as number, this.values[k] as number);
        }
        let done = 0;
        while (done < buf.length) {
          done += fs.writeSync(fd, buf, done, buf.length - done, this.persisted * this.entryBytes + done);
        }
      }
      if (this.fileNeedsTrim || pending > 0) fs.ftruncateSync(fd, this.countValue * this.entryBytes);
      this.persisted = this.countValue;
      this.fileNeedsTrim = false;
      this.unsynced = true;
      if (sync) {
        if (this.durable) fs.fsyncSync(fd);
        this.unsynced = false;
      }
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Reads only the last entry of the file (for a closed segment's largest timestamp). */
  readLastEntryFromFile(): { key: number; value: number } | null | 'corrupt' {
    let fd: number;
    try {
      fd = fs.openSync(this.path, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'corrupt';
      throw e;
    }
    try {
      const size = fs.fstatSync(fd).size;
      if (size % this.entryBytes !== 0 || size > this.capacityLimit * this.entryBytes) return 'corrupt';
      if (size === 0) return null;
      const buf = Buffer.allocUnsafe(this.entryBytes);
      if (fs.readSync(fd, buf, 0, this.entryBytes, size - this.entryBytes) !== this.entryBytes) return 'corrupt';
      return { key: this.decodeKey(buf, 0), value: this.decodeValue(buf, 0) };
    } finally {
      fs.closeSync(fd);
    }
  }

  /** fsync the file when the entries are not in memory (persisted earlier without sync). */
  syncFile(): void {
    if (this.loadedValue) {
      this.persist(true);
      return;
    }
    if (!this.durable) return;
    let fd: number;
    try {
      fd = fs.openSync(this.path, 'r+');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }

  deleteFile(): void {
    fs.rmSync(this.path, { force: true });
  }
}
