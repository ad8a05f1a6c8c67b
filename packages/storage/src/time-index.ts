/**
 * Sparse time index (Kafka's TimeIndex): entry = timestamp i64 BE + relative
 * offset u32 BE (12 bytes). An entry (T, o) says: T is the largest timestamp of
 * the segment up to the batch written when the entry was added, and o is the
 * base offset of the first batch that reached T. Timestamps strictly increase,
 * so a lookup for the first batch with timestamp >= t starts at the last entry
 * with T < t (every batch up to that entry is older than t).
 */
import { SparseIndex } from './sparse-index.js';

export const TIME_INDEX_ENTRY_BYTES = 12;

export class TimeIndex extends SparseIndex {
  readonly entryBytes = TIME_INDEX_ENTRY_BYTES;

  protected encode(buf: Buffer, pos: number, timestamp: number, offset: number): void {
    buf.writeBigInt64BE(BigInt(timestamp), pos);
    buf.writeUInt32BE(offset - this.baseOffset, pos + 8);
  }

  protected decodeKey(buf: Buffer, pos: number): number {
    const hi = buf.readInt32BE(pos);
    const lo = buf.readUInt32BE(pos + 4);
    const ts = hi * 0x1_0000_0000 + lo;
    return Number.isSafeInteger(ts) ? ts : Number.NaN;
  }

  protected decodeValue(buf: Buffer, pos: number): number {
    return this.baseOffset + buf.readUInt32BE(pos + 8);
  }

  protected validEntry(timestamp: number, offset: number, prevOffset: number | null): boolean {
    return timestamp >= 0 && (prevOffset === null || offset >= prevOffset);
  }

  /** Appends (timestamp, offset) if the timestamp is newer than the last entry's (Kafka's maybeAppend). */
  maybeAppend(timestamp: number, offset: number, allowLastSlot = false): void {
    if (timestamp < 0) return;
    if (this.count > 0 && timestamp <= this.keyAt(this.count - 1)) return;
    if (this.count >= (allowLastSlot ? this.capacityLimit : this.maxEntries)) return;
    this.appendEntry(timestamp, offset);
  }

  /** Last entry with timestamp < `timestamp`: the offset to start scanning from, or null. */
  lookupBefore(timestamp: number): { timestamp: number; offset: number } | null {
    const i = this.lowerIndex(timestamp);
    if (i < 0) return null;
    return { timestamp: this.keyAt(i), offset: this.valueAt(i) };
  }

  lastEntry(): { timestamp: number; offset: number } | null {
    if (this.count === 0) return null;
    return { timestamp: this.keyAt(this.count - 1), offset: this.valueAt(this.count - 1) };
  }

  /** Drops entries whose offset is at or past `offset`. */
  truncateToOffset(offset: number): void {
    let n = this.count;
    while (n > 0 && this.valueAt(n - 1) >= offset) n--;
    this.truncateToEntries(n);
  }
}
