/**
 * One segment: a .log file of back-to-back record batches plus its sparse
 * offset and time indexes (Kafka's LogSegment). Only the active (last) segment
 * is written. Batches are opaque bytes here: the partition log validated them
 * before they reached `append`; reads walk only the 61-byte headers.
 *
 * Resources (the log file descriptor and the in-memory index entries) are
 * opened lazily and released when the segment leaves the open-segment LRU
 * (segment-set.ts), which bounds file descriptors and memory per partition.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  BATCH_LENGTH_OFFSET,
  CURRENT_MAGIC,
  FjordError,
  LAST_OFFSET_DELTA_OFFSET,
  LOG_OVERHEAD,
  MAGIC_OFFSET,
  MAX_TIMESTAMP_OFFSET,
  PARTITION_LEADER_EPOCH_OFFSET,
  RECORD_BATCH_HEADER_BYTES,
  assert,
  checkBatch,
  isFjordError,
} from '@fjord/protocol';
import { indexFileName, logFileName, timeIndexFileName } from './file-names.js';
import { OffsetIndex } from './offset-index.js';
import { TimeIndex } from './time-index.js';

/** Relative offsets are u32 on disk; like Kafka we keep them within int32 and roll before. */
export const MAX_RELATIVE_OFFSET = 0x7fff_ffff;

export interface SegmentContext {
  readonly dir: string;
  readonly indexIntervalBytes: number;
  readonly maxOffsetIndexEntries: number;
  readonly maxTimeIndexEntries: number;
  /** Scratch buffer for header scans, shared by one log's segments (all calls are synchronous). */
  readonly scratch: Buffer;
  /** false only with PartitionLogOptions.unsafeNoFsync (tests of process crashes). */
  readonly durable: boolean;
  /** Told when a closed segment's index files were missing or corrupt and got rebuilt. */
  readonly onIndexRebuild?: (baseOffset: number, reason: string) => void;
}

/** What the log needs to know about a batch, read from its header. */
export interface BatchInfo {
  position: number;
  baseOffset: number;
  lastOffset: number;
  sizeBytes: number;
  maxTimestamp: number;
  partitionLeaderEpoch: number;
}

function readInt64(buf: Buffer, pos: number): number {
  return buf.readInt32BE(pos) * 0x1_0000_0000 + buf.readUInt32BE(pos + 4);
}

function storageError(message: string, details: Record<string, unknown>): FjordError {
  return new FjordError('KAFKA_STORAGE_ERROR', message, details);
}

/** Parses (and sanity-checks) the header at `p` of `buf`, which sits at `position` in the file. */
function headerAt(buf: Buffer, p: number, position: number, file: string): BatchInfo {
  const batchLength = buf.readInt32BE(p + BATCH_LENGTH_OFFSET);
  const magic = buf.readInt8(p + MAGIC_OFFSET);
  const baseOffset = readInt64(buf, p);
  const lastOffsetDelta = buf.readInt32BE(p + LAST_OFFSET_DELTA_OFFSET);
  if (batchLength < RECORD_BATCH_HEADER_BYTES - LOG_OVERHEAD || magic !== CURRENT_MAGIC || !Number.isSafeInteger(baseOffset) || baseOffset < 0 || lastOffsetDelta < 0) {
    throw storageError('malformed batch header on disk', { file, position, batchLength, magic });
  }
  return {
    position,
    baseOffset,
    lastOffset: baseOffset + lastOffsetDelta,
    sizeBytes: LOG_OVERHEAD + batchLength,
    maxTimestamp: readInt64(buf, p + MAX_TIMESTAMP_OFFSET),
    partitionLeaderEpoch: buf.readInt32BE(p + PARTITION_LEADER_EPOCH_OFFSET),
  };
}

/** Reads up to `length` bytes at `position`; returns the count read (short only at end of file). */
export function readFully(fd: number, buf: Buffer, offset: number, length: number, position: number): number {
  let done = 0;
  while (done < length) {
    const n = fs.readSync(fd, buf, offset + done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

export class LogSegment {
  readonly baseOffset: number;
  readonly logPath: string;
  readonly offsetIndex: OffsetIndex;
  readonly timeIndex: TimeIndex;
  private readonly ctx: SegmentContext;
  private fd: number | null = null;
  /** Valid bytes in the .log file. */
  sizeBytes: number;
  /** Offset after the last batch; for a closed segment loaded cleanly, set by the loader from the next segment. */
  nextOffset: number;
  /** Bytes appended since the last fdatasync. */
  private dirty = false;
  private bytesSinceLastIndexEntry = 0;
  private maxTimestampSoFar = -1;
  private offsetOfMaxTimestampSoFar: number;
  /** Largest timestamp, known once indexes are loaded or read from the time index tail. */
  private largestTimestampKnown: boolean;
  /** maxTimestamp of the first batch (null if unknown or empty): segment.ms counts from it (Kafka). */
  private firstBatchTimestamp: number | null = null;
  /** Set when a rebuild found a corrupt batch in this (flushed) segment: it is not served. */
  private corruptBytesAt: number | null = null;
  /** Wall-clock creation (or load) time, used for segment.ms when batches carry no timestamps. */
  readonly createdMs: number;

  private constructor(ctx: SegmentContext, baseOffset: number, sizeBytes: number, createdMs: number) {
    this.ctx = ctx;
    this.baseOffset = baseOffset;
    this.logPath = path.join(ctx.dir, logFileName(baseOffset));
    this.offsetIndex = new OffsetIndex({ path: path.join(ctx.dir, indexFileName(baseOffset)), baseOffset, maxEntries: ctx.maxOffsetIndexEntries, durable: ctx.durable });
    this.timeIndex = new TimeIndex({ path: path.join(ctx.dir, timeIndexFileName(baseOffset)), baseOffset, maxEntries: ctx.maxTimeIndexEntries, durable: ctx.durable });
    this.sizeBytes = sizeBytes;
    this.nextOffset = baseOffset;
    this.offsetOfMaxTimestampSoFar = baseOffset;
    this.largestTimestampKnown = false;
    this.createdMs = createdMs;
  }

  /** Creates an empty segment (truncating any stale files with its name). */
  static create(ctx: SegmentContext, baseOffset: number, nowMs: number): LogSegment {
    const seg = new LogSegment(ctx, baseOffset, 0, nowMs);
    seg.fd = fs.openSync(seg.logPath, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_TRUNC, 0o644);
    seg.offsetIndex.reset();
    seg.timeIndex.reset();
    seg.largestTimestampKnown = true;
    seg.dirty = true;
    return seg;
  }

  /** A segment already on disk; nothing is opened or read until needed. */
  static openExisting(ctx: SegmentContext, baseOffset: number, sizeBytes: number, nowMs: number): LogSegment {
    return new LogSegment(ctx, baseOffset, sizeBytes, nowMs);
  }

  get isOpen(): boolean {
    return this.fd !== null;
  }

  private file(): number {
    if (this.fd === null) this.fd = fs.openSync(this.logPath, 'r+');
    return this.fd;
  }

  /** Whether an append of `batchCount` batches would overflow the indexes or relative offsets. */
  indexFullFor(lastOffset: number): boolean {
    return this.offsetIndex.isFull() || this.timeIndex.isFull() || lastOffset - this.baseOffset > MAX_RELATIVE_OFFSET;
  }

  /** Loads both indexes; rebuilds them from the log when missing or corrupt (Kafka's sanity check). */
  ensureIndexes(): void {
    if (this.corruptBytesAt !== null) {
      throw storageError('corrupt batch inside a flushed segment', { file: this.logPath, position: this.corruptBytesAt });
    }
    if (this.offsetIndex.loaded && this.timeIndex.loaded) return;
    const a = this.offsetIndex.loaded ? 'ok' : this.offsetIndex.load(this.sizeBytes);
    const b = this.timeIndex.loaded ? 'ok' : this.timeIndex.load(this.sizeBytes);
    const lastIndexed = this.offsetIndex.count > 0 ? this.offsetIndex.keyAt(this.offsetIndex.count - 1) : this.baseOffset;
    const lastTimed = this.timeIndex.lastEntry();
    const consistent = lastIndexed < this.nextOffset || this.nextOffset === this.baseOffset;
    if (a === 'ok' && b === 'ok' && (lastTimed === null || lastTimed.offset >= this.baseOffset) && consistent) {
      const last = this.timeIndex.lastEntry();
      if (last !== null) {
        this.maxTimestampSoFar = last.timestamp;
        this.offsetOfMaxTimestampSoFar = last.offset;
      }
      this.largestTimestampKnown = true;
      return;
    }
    this.ctx.onIndexRebuild?.(this.baseOffset, `offset index ${a}, time index ${b}`);
    const sizeBefore = this.sizeBytes;
    const result = this.recover({ maxBatchBytes: Number.MAX_SAFE_INTEGER, buffer: Buffer.allocUnsafe(1024 * 1024), truncate: false });
    if (result.truncatedBytes !== 0) {
      // Below the recovery point the bytes were fsynced: this is media corruption,
      // not a torn write. Refuse to serve the segment rather than cut acknowledged data.
      this.corruptBytesAt = this.sizeBytes;
      this.sizeBytes = sizeBefore;
      this.offsetIndex.discard();
      this.timeIndex.discard();
      this.ensureIndexes();
    }
    this.onBecomeInactive();
  }

  /**
   * Rebuilds this segment's indexes and size by checking every batch (length,
   * magic, CRC, monotonic offsets) from position 0, reading `buffer`-sized
   * chunks. With `truncate`, cuts the file at the first bad batch. Returns how
   * many bytes after the valid prefix were (or would be) dropped.
   */
  recover(options: {
    maxBatchBytes: number;
    buffer: Buffer;
    truncate: boolean;
    onBatch?: (batch: BatchInfo) => void;
  }): { truncatedBytes: number; reason: string | null } {
    const fd = this.file();
    const fileSize = fs.fstatSync(fd).size;
    this.offsetIndex.reset();
    this.timeIndex.reset();
    this.bytesSinceLastIndexEntry = 0;
    this.maxTimestampSoFar = -1;
    this.offsetOfMaxTimestampSoFar = this.baseOffset;
    this.firstBatchTimestamp = null;
    this.largestTimestampKnown = true;
    let buf = options.buffer;
    let chunkStart = 0;
    let chunkLen = 0;
    let position = 0;
    let nextExpected = this.baseOffset;
    let reason: string | null = null;
    const limit = Math.min(options.maxBatchBytes, 0x7fff_ffff);
    while (position < fileSize) {
      let p = position - chunkStart;
      const inChunk = chunkLen - p;
      const fileLeft = fileSize - position;
      // Refill when the length field or the whole batch is not in the chunk but more file follows.
      let needed = LOG_OVERHEAD;
      if (inChunk >= LOG_OVERHEAD) needed = LOG_OVERHEAD + Math.max(0, buf.readInt32BE(p + BATCH_LENGTH_OFFSET));
      if (needed > inChunk && inChunk < fileLeft) {
        if (needed > buf.length && needed <= limit && needed <= fileLeft) buf = Buffer.allocUnsafe(needed);
        chunkStart = position;
        chunkLen = readFully(fd, buf, 0, Math.min(buf.length, fileLeft), position);
        p = 0;
      }
      let info: BatchInfo;
      try {
        const { header, sizeBytes } = checkBatch(buf, p, chunkLen, { maxBatchBytes: limit, requireDenseOffsets: false });
        info = {
          position,
          baseOffset: header.baseOffset,
          lastOffset: header.baseOffset + header.lastOffsetDelta,
          sizeBytes,
          maxTimestamp: header.maxTimestamp,
          partitionLeaderEpoch: header.partitionLeaderEpoch,
        };
      } catch (e) {
        if (!isFjordError(e)) throw e;
        reason = e.message;
        break;
      }
      if (info.baseOffset < nextExpected || info.lastOffset - this.baseOffset > MAX_RELATIVE_OFFSET) {
        reason = `batch offsets ${info.baseOffset}..${info.lastOffset} do not follow ${nextExpected - 1}`;
        break;
      }
      this.indexBatch(info);
      options.onBatch?.(info);
      nextExpected = info.lastOffset + 1;
      position += info.sizeBytes;
    }
    const truncatedBytes = fileSize - position;
    if (truncatedBytes > 0 && options.truncate) {
      fs.ftruncateSync(fd, position);
      this.dirty = true;
    }
    this.sizeBytes = position;
    this.nextOffset = nextExpected;
    return { truncatedBytes, reason: truncatedBytes > 0 ? reason : null };
  }

  /** Index bookkeeping for one batch at `info.position` (Kafka's LogSegment.append rule, per batch). */
  private indexBatch(info: BatchInfo): void {
    if (this.firstBatchTimestamp === null) this.firstBatchTimestamp = info.maxTimestamp;
    if (info.maxTimestamp > this.maxTimestampSoFar) {
      this.maxTimestampSoFar = info.maxTimestamp;
      this.offsetOfMaxTimestampSoFar = info.baseOffset;
    }
    if (this.bytesSinceLastIndexEntry > this.ctx.indexIntervalBytes && !this.offsetIndex.isFull() && !this.timeIndex.isFull()) {
      this.offsetIndex.append(info.baseOffset, info.position);
      this.timeIndex.maybeAppend(this.maxTimestampSoFar, this.offsetOfMaxTimestampSoFar);
      this.bytesSinceLastIndexEntry = 0;
    }
    this.bytesSinceLastIndexEntry += info.sizeBytes;
  }

  /**
   * Appends validated, stamped batches with one writev. `batches` describe them
   * in order with positions relative to the start of this write. On a write
   * error the file is cut back to its old size, so a failed append leaves
   * nothing behind.
   */
  append(buffers: readonly Buffer[], totalBytes: number, batches: readonly BatchInfo[]): void {
    assert(this.offsetIndex.loaded && this.timeIndex.loaded, 'append to a segment without loaded indexes');
    const fd = this.file();
    const start = this.sizeBytes;
    try {
      let written = fs.writevSync(fd, buffers as Buffer[], start);
      while (written < totalBytes) {
        // Short write (rare for regular files): write the rest from the concatenated tail.
        const rest = Buffer.concat(buffers as Buffer[]).subarray(written);
        written += fs.writeSync(fd, rest, 0, rest.length, start + written);
      }
    } catch (e) {
      try {
        fs.ftruncateSync(fd, start);
      } catch {
        // The caller marks the log offline; the loader truncates the tail on next open.
      }
      throw e;
    }
    for (const b of batches) {
      b.position += start;
      this.indexBatch(b);
    }
    this.sizeBytes = start + totalBytes;
    this.nextOffset = (batches[batches.length - 1] as BatchInfo).lastOffset + 1;
    this.dirty = true;
  }

  /**
   * Walks batch headers from `position` until `stop` returns true (that batch is
   * returned) or the segment ends (null). Reads scratch-sized chunks, so a scan
   * over small batches costs one syscall per chunk.
   */
  findBatch(position: number, stop: (b: BatchInfo) => boolean, firstReadBytes = this.ctx.scratch.length): BatchInfo | null {
    const fd = this.file();
    const scratch = this.ctx.scratch;
    let chunkStart = 0;
    let chunkLen = 0;
    let readBytes = Math.max(RECORD_BATCH_HEADER_BYTES, Math.min(scratch.length, firstReadBytes));
    while (position < this.sizeBytes) {
      if (position < chunkStart || position + RECORD_BATCH_HEADER_BYTES > chunkStart + chunkLen) {
        chunkStart = position;
        chunkLen = readFully(fd, scratch, 0, Math.min(readBytes, this.sizeBytes - position), position);
        readBytes = scratch.length;
        if (chunkLen < RECORD_BATCH_HEADER_BYTES) throw storageError('torn batch header on disk', { file: this.logPath, position });
      }
      const b = headerAt(scratch, position - chunkStart, position, this.logPath);
      if (position + b.sizeBytes > this.sizeBytes) throw storageError('batch runs past the end of the segment', { file: this.logPath, position });
      if (stop(b)) return b;
      position += b.sizeBytes;
    }
    return null;
  }

  /** The batch holding `offset` or the first one after it, found via the offset index. */
  translateOffset(offset: number): BatchInfo | null {
    this.ensureIndexes();
    const start = this.offsetIndex.lookup(offset).position;
    // The target is normally within one index interval of its entry: read just that much first.
    return this.findBatch(start, (b) => b.lastOffset >= offset, this.ctx.indexIntervalBytes + RECORD_BATCH_HEADER_BYTES);
  }

  /**
   * Whole batches from `position`: as many as fit in `maxBytes` and end below
   * `maxOffset` (exclusive), but at least one (if it ends below maxOffset) even
   * when it is larger than maxBytes. One read for the data; headers are walked in memory.
   */
  read(position: number, maxBytes: number, maxOffset: number): { records: Buffer; lastOffset: number; batchCount: number } {
    const fd = this.file();
    const want = Math.min(maxBytes, this.sizeBytes - position);
    let buf = Buffer.allocUnsafe(Math.max(want, RECORD_BATCH_HEADER_BYTES));
    const got = readFully(fd, buf, 0, Math.min(buf.length, this.sizeBytes - position), position);
    let end = 0;
    let lastOffset = -1;
    let batchCount = 0;
    while (end + RECORD_BATCH_HEADER_BYTES <= got) {
      const b = headerAt(buf, end, position + end, this.logPath);
      if (b.lastOffset >= maxOffset) break;
      if (end + b.sizeBytes > want) {
        if (batchCount > 0) break;
        // The first batch is larger than maxBytes: return it whole so the consumer never stalls.
        if (position + b.sizeBytes > this.sizeBytes) throw storageError('batch runs past the end of the segment', { file: this.logPath, position });
        const whole = Buffer.allocUnsafe(b.sizeBytes);
        buf.copy(whole, 0, 0, got);
        if (readFully(fd, whole, got, b.sizeBytes - got, position + got) !== b.sizeBytes - got) {
          throw storageError('short read', { file: this.logPath, position });
        }
        buf = whole;
        end = b.sizeBytes;
        lastOffset = b.lastOffset;
        batchCount = 1;
        break;
      }
      end += b.sizeBytes;
      lastOffset = b.lastOffset;
      batchCount++;
    }
    return { records: buf.subarray(0, end), lastOffset, batchCount };
  }

  /**
   * After the indexes were loaded or truncated: walk the batches after the
   * last offset-index entry to recompute nextOffset and the indexing state, so
   * appends continue exactly as if the segment had never been closed.
   */
  restoreTailState(): void {
    assert(this.offsetIndex.loaded && this.timeIndex.loaded, 'indexes must be loaded');
    const n = this.offsetIndex.count;
    const lastEntryPosition = n > 0 ? this.offsetIndex.valueAt(n - 1) : 0;
    const lastTimed = this.timeIndex.lastEntry();
    this.maxTimestampSoFar = lastTimed === null ? -1 : lastTimed.timestamp;
    this.offsetOfMaxTimestampSoFar = lastTimed === null ? this.baseOffset : lastTimed.offset;
    let next = this.baseOffset;
    this.findBatch(lastEntryPosition, (b) => {
      if (b.maxTimestamp > this.maxTimestampSoFar) {
        this.maxTimestampSoFar = b.maxTimestamp;
        this.offsetOfMaxTimestampSoFar = b.baseOffset;
      }
      next = b.lastOffset + 1;
      return false;
    });
    this.nextOffset = next;
    this.bytesSinceLastIndexEntry = this.sizeBytes - lastEntryPosition;
    this.firstBatchTimestamp = this.sizeBytes === 0 ? null : (this.findBatch(0, () => true) as BatchInfo).maxTimestamp;
    this.largestTimestampKnown = true;
  }

  /**
   * Cuts the segment at the batch holding `offset` (that batch and all later
   * ones go). Returns the bytes removed.
   */
  truncateToOffset(offset: number): number {
    const cut = this.translateOffset(offset);
    if (cut === null) return 0;
    const removed = this.sizeBytes - cut.position;
    fs.ftruncateSync(this.file(), cut.position);
    this.sizeBytes = cut.position;
    this.offsetIndex.truncateToPosition(cut.position);
    this.timeIndex.truncateToOffset(cut.baseOffset);
    this.restoreTailState();
    if (this.sizeBytes === 0) this.nextOffset = this.baseOffset;
    this.dirty = true;
    return removed;
  }

  /** True when segment.ms says to roll: measured from the first batch's timestamp (Kafka), else creation time. */
  timeToRoll(nowMs: number, segmentMs: number, incomingMaxTimestamp: number): boolean {
    if (this.sizeBytes === 0) return false;
    if (this.firstBatchTimestamp !== null && this.firstBatchTimestamp >= 0) return incomingMaxTimestamp - this.firstBatchTimestamp > segmentMs;
    return nowMs - this.createdMs > segmentMs;
  }

  /** Largest batch timestamp in the segment; the file's mtime when no batch has one (Kafka). */
  largestTimestamp(): number {
    if (!this.largestTimestampKnown) {
      const last = this.timeIndex.readLastEntryFromFile();
      if (last === 'corrupt') {
        this.ensureIndexes();
      } else {
        this.maxTimestampSoFar = last === null ? -1 : last.key;
        this.largestTimestampKnown = true;
      }
    }
    if (this.maxTimestampSoFar >= 0) return this.maxTimestampSoFar;
    return Math.floor(fs.statSync(this.logPath).mtimeMs);
  }

  /** Called when the segment stops being the active one: the closing time-index entry, then persist. */
  onBecomeInactive(): void {
    if (!this.timeIndex.loaded) return;
    this.timeIndex.maybeAppend(this.maxTimestampSoFar, this.offsetOfMaxTimestampSoFar, true);
    this.offsetIndex.persist(false);
    this.timeIndex.persist(false);
  }

  /** fdatasync the log and fsync the indexes. */
  flush(): void {
    if (this.dirty) {
      if (this.ctx.durable) fs.fdatasyncSync(this.file());
      this.dirty = false;
    }
    this.offsetIndex.syncFile();
    this.timeIndex.syncFile();
  }

  /**
   * For an fsync off the event loop (PartitionLog.flushAsync): writes pending
   * index entries now (page cache) and returns the files to fdatasync. The log
   * stays marked dirty: a synchronous flush() racing this one must not skip its
   * own fdatasync on the strength of one that has not finished.
   */
  prepareAsyncFlush(): string[] {
    this.offsetIndex.persist(false);
    this.timeIndex.persist(false);
    const files = [this.offsetIndex.path, this.timeIndex.path];
    if (this.dirty) files.push(this.logPath);
    return files;
  }

  /** Persists index entries, drops them from memory and closes the file (LRU eviction). */
  releaseResources(): void {
    if (this.offsetIndex.loaded) {
      this.offsetIndex.persist(false);
      this.offsetIndex.unload();
    }
    if (this.timeIndex.loaded) {
      this.timeIndex.persist(false);
      this.timeIndex.unload();
    }
    this.closeFile();
  }

  closeFile(): void {
    if (this.fd !== null) {
      const fd = this.fd;
      this.fd = null;
      fs.closeSync(fd);
    }
  }

  /** Removes the segment's files. */
  deleteFiles(): void {
    this.closeFile();
    fs.rmSync(this.logPath, { force: true });
    this.offsetIndex.deleteFile();
    this.timeIndex.deleteFile();
  }
}
