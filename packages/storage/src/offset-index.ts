/**
 * Sparse offset index (Kafka's OffsetIndex): entry = relative offset u32 BE +
 * file position u32 BE (8 bytes). An entry maps the base offset of a batch to
 * where that batch starts in the .log file; one entry per index.interval.bytes
 * of log. lookup(offset) returns the largest entry at or below `offset`, from
 * which a reader scans forward over batch headers.
 */
import { SparseIndex } from './sparse-index.js';

export const OFFSET_INDEX_ENTRY_BYTES = 8;

export class OffsetIndex extends SparseIndex {
  readonly entryBytes = OFFSET_INDEX_ENTRY_BYTES;

  protected encode(buf: Buffer, pos: number, offset: number, position: number): void {
    buf.writeUInt32BE(offset - this.baseOffset, pos);
    buf.writeUInt32BE(position, pos + 4);
  }

  protected decodeKey(buf: Buffer, pos: number): number {
    return this.baseOffset + buf.readUInt32BE(pos);
  }

  protected decodeValue(buf: Buffer, pos: number): number {
    return buf.readUInt32BE(pos + 4);
  }

  protected validEntry(_offset: number, position: number, prevPosition: number | null, logSizeBytes: number): boolean {
    return position < logSizeBytes && (prevPosition === null || position > prevPosition);
  }

  append(offset: number, position: number): void {
    this.appendEntry(offset, position);
  }

  /** The floor entry for `offset`: where to start scanning. Position 0 if no entry is at or below it. */
  lookup(offset: number): { offset: number; position: number } {
    const i = this.floorIndex(offset);
    if (i < 0) return { offset: this.baseOffset, position: 0 };
    return { offset: this.keyAt(i), position: this.valueAt(i) };
  }

  /** Drops entries for batches at or past `position` (the log is being cut there). */
  truncateToPosition(position: number): void {
    let n = this.count;
    while (n > 0 && this.valueAt(n - 1) >= position) n--;
    this.truncateToEntries(n);
  }
}
