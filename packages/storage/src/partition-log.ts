/**
 * PartitionLog: one partition's append-only log over a directory of segments
 * (DESIGN.md "Storage"; Kafka's UnifiedLog + LocalLog).
 *
 * The API is synchronous on purpose: appends and reads hit the page cache and
 * take microseconds, less than a thread-pool hop would cost; only flush()
 * waits for the disk. Calls never interleave (Node runs them to completion),
 * so the log needs no locks.
 *
 * Every operation validates its input first and throws a typed FjordError
 * before touching anything, so bad input changes nothing (DESIGN.md "Errors and
 * bad input"). An I/O failure takes the log offline (KAFKA_STORAGE_ERROR from
 * then on), as Kafka marks a log dir offline; broken invariants are assertions.
 */
import path from 'node:path';
import fs from 'node:fs';
import type { Logger } from 'pino';
import {
  AssertionError,
  COMPRESSION_CODEC_MASK,
  FjordError,
  TIMESTAMP_TYPE_MASK,
  assert,
  checkBatch,
  isFjordError,
  readBatchHeader,
  readVarint,
  readVarlong,
  stampBaseOffset,
  stampPartitionLeaderEpoch,
  validateTopicName,
} from '@fjord/protocol';
import { fsyncDir } from './checkpoint-file.js';
import { maxOffsetIndexEntries, maxTimeIndexEntries, resolveLogConfig, type LogConfig } from './config.js';
import { CLEAN_SHUTDOWN_FILE, validatePartition } from './file-names.js';
import type { EpochEntry, LeaderEpochCache } from './leader-epoch-cache.js';
import { loadLog, writeLogOffsetsCheckpoint } from './log-loader.js';
import { segmentsToDelete, type RetentionReason } from './retention.js';
import { LogSegment, type BatchInfo, type SegmentContext } from './segment.js';
import type { SegmentSet } from './segment-set.js';

const INT32_MAX = 0x7fff_ffff;
/** Scratch size for header scans: two index intervals of small batches per read. */
const SCAN_CHUNK_BYTES = 8 * 1024;
/** ListOffsets sentinels (Kafka): earliest and latest offset. */
export const EARLIEST_TIMESTAMP = -2;
export const LATEST_TIMESTAMP = -1;

export interface PartitionLogOptions {
  dir: string;
  /** Overrides of the defaults in config.ts; validated and frozen on open. */
  config?: Partial<LogConfig>;
  /** Parent logger; the log logs through a child. Silent when absent. */
  logger?: Logger;
  topic?: string;
  partition?: number;
  /** Clock for segment.ms and flush.ms (tests inject one). */
  nowMs?: () => number;
  /**
   * Skip every fsync (etcd's --unsafe-no-fsync). Only for tests and benchmarks
   * that simulate process crashes (the page cache survives), never in a broker.
   */
  unsafeNoFsync?: boolean;
}

export interface AppendResult {
  baseOffset: number;
  lastOffset: number;
  logEndOffset: number;
  /** Largest batch maxTimestamp in the append. */
  maxTimestamp: number;
  sizeBytes: number;
}

export interface ReadOptions {
  fetchOffset: number;
  maxBytes: number;
  /** Exclusive bound: only batches that end below it are returned (e.g. the high watermark). Default: LEO. */
  maxOffset?: number;
}

export interface ReadResult {
  /** Whole batches, back to back. Empty when nothing is available. */
  records: Buffer;
  batchCount: number;
  /** Base offset of the first batch returned (may be below fetchOffset), or -1 when empty. */
  firstOffset: number;
  /** Where the next fetch should start: after the last batch returned, or fetchOffset when empty. */
  nextFetchOffset: number;
  logStartOffset: number;
  logEndOffset: number;
}

export interface RetentionResult {
  deletedSegments: number;
  deletedBytes: number;
  logStartOffset: number;
  reason: RetentionReason | null;
}

interface PlannedBatch {
  buf: Buffer;
  pos: number;
  info: BatchInfo;
  lastOffsetDelta: number;
}

/** fdatasync one file (or directory) through its own handle; a file deleted meanwhile needs no sync. */
async function syncFileAsync(file: string): Promise<void> {
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(file, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  try {
    await handle.datasync();
  } finally {
    await handle.close();
  }
}

function invalid(message: string, details: Record<string, unknown> = {}): FjordError {
  return new FjordError('INVALID_REQUEST', message, details);
}

function requireOffset(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw invalid(`${what} must be a safe integer, got ${String(value)}`, { [what]: value });
  return value;
}

export class PartitionLog {
  readonly dir: string;
  readonly config: LogConfig;
  private readonly logger: Logger | undefined;
  private readonly clock: () => number;
  private readonly ctx: SegmentContext;
  private readonly segments: SegmentSet;
  private readonly epochCache: LeaderEpochCache;
  private logStart: number;
  private logEnd: number;
  private recoveryPointValue: number;
  private unflushedRecords = 0;
  private lastFlushMs: number;
  private dirDirty = false;
  /** Bumped by every truncation, so an async flush that raced one does not advance the recovery point. */
  private truncations = 0;
  private closed = false;
  private failure: unknown = null;
  /** Whether the last open found a clean-shutdown marker and scanned nothing. */
  readonly openedCleanly: boolean;
  readonly recoveredTruncatedBytes: number;

  private constructor(options: PartitionLogOptions, config: LogConfig) {
    this.dir = options.dir;
    this.config = config;
    const bindings: Record<string, unknown> = { component: 'partition-log' };
    if (options.topic !== undefined) bindings.topic = options.topic;
    if (options.partition !== undefined) bindings.partition = options.partition;
    this.logger = options.logger?.child(bindings);
    this.clock = options.nowMs ?? Date.now;
    this.ctx = {
      dir: options.dir,
      indexIntervalBytes: config.indexIntervalBytes,
      maxOffsetIndexEntries: maxOffsetIndexEntries(config),
      maxTimeIndexEntries: maxTimeIndexEntries(config),
      scratch: Buffer.allocUnsafe(SCAN_CHUNK_BYTES),
      durable: options.unsafeNoFsync !== true,
      onIndexRebuild: (baseOffset, reason) => this.logger?.warn({ baseOffset, reason }, 'index rebuilt'),
    };
    const now = this.clock();
    const loaded = loadLog({ dir: options.dir, config, ctx: this.ctx, logger: this.logger, nowMs: now });
    this.segments = loaded.segments;
    this.epochCache = loaded.epochCache;
    this.logStart = loaded.logStartOffset;
    this.logEnd = loaded.logEndOffset;
    this.recoveryPointValue = loaded.recoveryPoint;
    this.openedCleanly = loaded.hadCleanShutdown;
    this.recoveredTruncatedBytes = loaded.truncatedBytes;
    this.lastFlushMs = now;
    this.logger?.info(
      { logStartOffset: this.logStart, logEndOffset: this.logEnd, segments: this.segments.count, clean: loaded.hadCleanShutdown },
      'log opened',
    );
  }

  /** Opens (creating if needed) the log in `options.dir`, recovering it if it was not closed cleanly. */
  static open(options: PartitionLogOptions): PartitionLog {
    const config = resolveLogConfig(options.config ?? {});
    // Names are checked before anything touches the disk.
    if (options.topic !== undefined) validateTopicName(options.topic);
    if (options.partition !== undefined) validatePartition(options.partition);
    if (typeof options.dir !== 'string' || options.dir.length === 0) throw invalid('dir must be a non-empty path');
    try {
      return new PartitionLog(options, config);
    } catch (e) {
      if (isFjordError(e) || e instanceof AssertionError) throw e;
      throw new FjordError('KAFKA_STORAGE_ERROR', `cannot open log in ${options.dir}: ${(e as Error).message}`, { dir: options.dir }, { cause: e });
    }
  }

  get logStartOffset(): number {
    return this.logStart;
  }

  get logEndOffset(): number {
    return this.logEnd;
  }

  /** Offsets below this are fsynced (the last flush). */
  get recoveryPoint(): number {
    return this.recoveryPointValue;
  }

  get latestEpoch(): number {
    return this.epochCache.latestEpoch;
  }

  get segmentCount(): number {
    return this.segments.count;
  }

  get sizeBytes(): number {
    return this.segments.totalBytes();
  }

  /** Base offsets of the segments, oldest first. */
  segmentBaseOffsets(): number[] {
    return this.segments.all().map((s) => s.baseOffset);
  }

  epochEntries(): readonly EpochEntry[] {
    return this.epochCache.all();
  }

  /** OffsetsForLeaderEpoch: the end offset of `epoch` here (Kafka's semantics; see leader-epoch-cache.ts). */
  endOffsetForEpoch(epoch: number): { epoch: number; endOffset: number } {
    this.checkUsable();
    requireOffset(epoch, 'epoch');
    return this.epochCache.endOffsetFor(epoch, this.logEnd);
  }

  /** Number of segments holding a file descriptor (bounded by maxOpenSegments). */
  openSegmentCount(): number {
    return this.segments.openCount();
  }

  private checkUsable(): void {
    if (this.closed) throw new FjordError('LOG_CLOSED', undefined, { dir: this.dir });
    if (this.failure !== null) throw new FjordError('KAFKA_STORAGE_ERROR', 'the log is offline after an I/O error', { dir: this.dir }, { cause: this.failure });
  }

  /** Runs an operation; an unexpected (I/O) error takes the log offline. */
  private guard<T>(op: string, fn: () => T): T {
    this.checkUsable();
    try {
      return fn();
    } catch (e) {
      if (isFjordError(e) || e instanceof AssertionError) throw e;
      this.failure = e;
      this.logger?.error({ err: e, op }, 'log offline after I/O error');
      throw new FjordError('KAFKA_STORAGE_ERROR', `${op} failed: ${(e as Error).message}`, { dir: this.dir, op }, { cause: e });
    }
  }

  /**
   * Validates every batch of every buffer (a buffer may hold several batches
   * back to back) before anything is modified: magic, length, CRC, counts,
   * max.message.bytes, and the per-append bounds.
   */
  private planBatches(batches: readonly Buffer[], requireDenseOffsets: boolean): { planned: PlannedBatch[]; totalBytes: number } {
    if (!Array.isArray(batches) || batches.length === 0) throw invalid('append needs at least one batch');
    if (batches.length > this.config.maxBatchesPerAppend) {
      throw new FjordError('RECORD_LIST_TOO_LARGE', `${batches.length} buffers exceed maxBatchesPerAppend ${this.config.maxBatchesPerAppend}`);
    }
    const planned: PlannedBatch[] = [];
    let totalBytes = 0;
    for (let i = 0; i < batches.length; i++) {
      const buf = batches[i];
      if (!Buffer.isBuffer(buf)) throw invalid(`batch ${i} is not a Buffer`);
      if (buf.length === 0) throw new FjordError('CORRUPT_MESSAGE', `batch ${i} is empty`);
      if (totalBytes + buf.length > this.config.maxAppendBytes) {
        throw new FjordError('RECORD_LIST_TOO_LARGE', `append exceeds maxAppendBytes ${this.config.maxAppendBytes}`);
      }
      let pos = 0;
      while (pos < buf.length) {
        const { header, sizeBytes } = checkBatch(buf, pos, buf.length, { maxBatchBytes: this.config.maxMessageBytes, requireDenseOffsets });
        if (planned.length === this.config.maxBatchesPerAppend) {
          throw new FjordError('RECORD_LIST_TOO_LARGE', `more than maxBatchesPerAppend ${this.config.maxBatchesPerAppend} batches`);
        }
        planned.push({
          buf,
          pos,
          lastOffsetDelta: header.lastOffsetDelta,
          info: {
            position: totalBytes + pos,
            baseOffset: header.baseOffset,
            lastOffset: header.baseOffset + header.lastOffsetDelta,
            sizeBytes,
            maxTimestamp: header.maxTimestamp,
            partitionLeaderEpoch: header.partitionLeaderEpoch,
          },
        });
        pos += sizeBytes;
      }
      totalBytes += buf.length;
    }
    return { planned, totalBytes };
  }

  /**
   * Leader append: assigns offsets from the log end offset, stamping each
   * batch's baseOffset and partitionLeaderEpoch in place (outside the CRC, so
   * no recompute), and writes all batches with one writev. The caller's buffers
   * are modified. Records the epoch's start offset when the epoch is new.
   */
  append(batches: readonly Buffer[], options: { leaderEpoch: number }): AppendResult {
    this.checkUsable();
    const leaderEpoch = options.leaderEpoch;
    if (typeof leaderEpoch !== 'number' || !Number.isSafeInteger(leaderEpoch) || leaderEpoch < 0 || leaderEpoch > INT32_MAX) {
      throw invalid(`leaderEpoch must be an int32 >= 0, got ${String(leaderEpoch)}`);
    }
    if (leaderEpoch < this.epochCache.latestEpoch) {
      throw new FjordError('FENCED_LEADER_EPOCH', `leader epoch ${leaderEpoch} is older than ${this.epochCache.latestEpoch}`);
    }
    const { planned, totalBytes } = this.planBatches(batches, true);
    let next = this.logEnd;
    for (const p of planned) {
      p.info.baseOffset = next;
      p.info.lastOffset = next + p.lastOffsetDelta;
      p.info.partitionLeaderEpoch = leaderEpoch;
      next = p.info.lastOffset + 1;
    }
    if (!Number.isSafeInteger(next)) throw invalid('offsets would leave the safe integer range');
    for (const p of planned) {
      stampBaseOffset(p.buf, p.pos, p.info.baseOffset);
      stampPartitionLeaderEpoch(p.buf, p.pos, leaderEpoch);
    }
    return this.guard('append', () => {
      const result = this.write(batches, planned, totalBytes);
      if (leaderEpoch > this.epochCache.latestEpoch) this.epochCache.assign(leaderEpoch, result.baseOffset);
      this.maybeFlush();
      return result;
    });
  }

  /**
   * Follower append: keeps the offsets and epochs the leader assigned. The
   * first batch must start exactly at the log end offset and each batch must
   * follow the previous one (a gap or overlap is INVALID_REQUEST); epochs must
   * not go backwards. New epochs are recorded in the epoch cache.
   */
  appendAsFollower(batches: readonly Buffer[]): AppendResult {
    this.checkUsable();
    const { planned, totalBytes } = this.planBatches(batches, false);
    let expected = this.logEnd;
    let epoch = this.epochCache.latestEpoch;
    for (const p of planned) {
      const b = p.info;
      if (b.baseOffset !== expected) {
        throw invalid(`follower batch at offset ${b.baseOffset} does not start at the log end ${expected}`, {
          kind: b.baseOffset > expected ? 'gap' : 'overlap',
          expectedOffset: expected,
          baseOffset: b.baseOffset,
        });
      }
      if (b.partitionLeaderEpoch < epoch) {
        throw invalid(`batch at ${b.baseOffset} has leader epoch ${b.partitionLeaderEpoch}, older than ${epoch}`, { baseOffset: b.baseOffset });
      }
      epoch = b.partitionLeaderEpoch;
      expected = b.lastOffset + 1;
    }
    return this.guard('appendAsFollower', () => {
      const result = this.write(batches, planned, totalBytes);
      for (const p of planned) {
        if (p.info.partitionLeaderEpoch >= 0 && p.info.partitionLeaderEpoch > this.epochCache.latestEpoch) {
          this.epochCache.assign(p.info.partitionLeaderEpoch, p.info.baseOffset);
        }
      }
      this.maybeFlush();
      return result;
    });
  }

  private write(buffers: readonly Buffer[], planned: readonly PlannedBatch[], totalBytes: number): AppendResult {
    const first = (planned[0] as PlannedBatch).info;
    const last = (planned[planned.length - 1] as PlannedBatch).info;
    let maxTimestamp = -1;
    let records = 0;
    for (const p of planned) {
      if (p.info.maxTimestamp > maxTimestamp) maxTimestamp = p.info.maxTimestamp;
      records += p.lastOffsetDelta + 1;
    }
    let seg = this.segments.active;
    const now = this.clock();
    if (
      seg.sizeBytes > 0 &&
      (seg.sizeBytes + totalBytes > this.config.segmentBytes || seg.timeToRoll(now, this.config.segmentMs, maxTimestamp) || seg.indexFullFor(last.lastOffset))
    ) {
      seg = this.rollSegment(first.baseOffset, now);
    }
    assert(first.baseOffset === this.logEnd, 'appends continue at the log end offset');
    this.segments.touch(seg);
    seg.append(buffers, totalBytes, planned.map((p) => p.info));
    this.logEnd = last.lastOffset + 1;
    this.unflushedRecords += records;
    return { baseOffset: first.baseOffset, lastOffset: last.lastOffset, logEndOffset: this.logEnd, maxTimestamp, sizeBytes: totalBytes };
  }

  private rollSegment(baseOffset: number, now: number): LogSegment {
    const old = this.segments.active;
    old.onBecomeInactive();
    const seg = LogSegment.create(this.ctx, baseOffset, now);
    this.segments.push(seg);
    this.dirDirty = true;
    this.logger?.debug({ baseOffset, previousSizeBytes: old.sizeBytes }, 'segment rolled');
    return seg;
  }

  /** Starts a new segment at the log end offset now (no-op if the active one is empty). */
  roll(): void {
    this.guard('roll', () => {
      if (this.segments.active.sizeBytes > 0) this.rollSegment(this.logEnd, this.clock());
    });
  }

  private maybeFlush(): void {
    if (this.unflushedRecords >= this.config.flushIntervalMessages || this.clock() - this.lastFlushMs >= this.config.flushIntervalMs) {
      this.flushNow();
    }
  }

  /**
   * Reads whole batches starting with the one that holds `fetchOffset`.
   * Returns at least one batch when any is available below maxOffset, even if
   * it is larger than maxBytes (so a consumer never stalls). Reads stay within
   * one segment; the next read continues at nextFetchOffset.
   */
  read(options: ReadOptions): ReadResult {
    this.checkUsable();
    const fetchOffset = requireOffset(options.fetchOffset, 'fetchOffset');
    const maxBytesRaw = options.maxBytes;
    if (typeof maxBytesRaw !== 'number' || !Number.isSafeInteger(maxBytesRaw) || maxBytesRaw < 1) {
      throw new FjordError('INVALID_FETCH_SIZE', `maxBytes must be a positive integer, got ${String(maxBytesRaw)}`);
    }
    const maxOffset = options.maxOffset === undefined ? this.logEnd : Math.min(requireOffset(options.maxOffset, 'maxOffset'), this.logEnd);
    if (fetchOffset < this.logStart || fetchOffset > this.logEnd) {
      throw new FjordError('OFFSET_OUT_OF_RANGE', `fetch offset ${fetchOffset} is outside [${this.logStart}, ${this.logEnd}]`, {
        fetchOffset,
        logStartOffset: this.logStart,
        logEndOffset: this.logEnd,
      });
    }
    const maxBytes = Math.min(maxBytesRaw, this.config.maxReadBytes);
    return this.guard('read', () => {
      const empty: ReadResult = {
        records: Buffer.alloc(0),
        batchCount: 0,
        firstOffset: -1,
        nextFetchOffset: fetchOffset,
        logStartOffset: this.logStart,
        logEndOffset: this.logEnd,
      };
      if (fetchOffset >= maxOffset) return empty;
      for (let i = Math.max(0, this.segments.floorIndex(fetchOffset)); i < this.segments.count; i++) {
        const seg = this.segments.at(i);
        this.segments.touch(seg);
        const batch = seg.translateOffset(fetchOffset);
        if (batch === null) continue;
        const r = seg.read(batch.position, maxBytes, maxOffset);
        if (r.batchCount === 0) return empty;
        return {
          records: r.records,
          batchCount: r.batchCount,
          firstOffset: batch.baseOffset,
          nextFetchOffset: r.lastOffset + 1,
          logStartOffset: this.logStart,
          logEndOffset: this.logEnd,
        };
      }
      return empty;
    });
  }

  /**
   * Where the batch holding `offset` starts (segment base offset and file
   * position): the offset-index lookup a fetch does. For benchmarks and tests.
   */
  lookupPosition(offset: number): { segmentBaseOffset: number; position: number } | null {
    this.checkUsable();
    const i = this.segments.floorIndex(offset);
    if (i < 0) return null;
    const seg = this.segments.at(i);
    this.segments.touch(seg);
    const b = seg.translateOffset(offset);
    return b === null ? null : { segmentBaseOffset: seg.baseOffset, position: b.position };
  }

  /**
   * ListOffsets by time: the first offset (>= logStartOffset) whose record
   * timestamp is >= `timestamp`, or null when every record is older.
   * EARLIEST_TIMESTAMP (-2) and LATEST_TIMESTAMP (-1) give the log start and end.
   * Exact per record for uncompressed batches; for a compressed batch, its
   * first offset (a safe lower bound, without decompressing).
   */
  offsetForTimestamp(timestamp: number): { offset: number; timestamp: number } | null {
    this.checkUsable();
    const ts = requireOffset(timestamp, 'timestamp');
    if (ts === EARLIEST_TIMESTAMP) return { offset: this.logStart, timestamp: -1 };
    if (ts === LATEST_TIMESTAMP) return { offset: this.logEnd, timestamp: -1 };
    if (ts < 0) throw new FjordError('INVALID_TIMESTAMP', `timestamp ${ts} is negative`);
    return this.guard('offsetForTimestamp', () => {
      for (let i = Math.max(0, this.segments.floorIndex(this.logStart)); i < this.segments.count; i++) {
        const seg = this.segments.at(i);
        this.segments.touch(seg);
        if (seg.sizeBytes === 0 || seg.largestTimestamp() < ts) continue;
        seg.ensureIndexes();
        const entry = seg.timeIndex.lookupBefore(ts);
        const from = Math.max(entry === null ? seg.baseOffset : entry.offset, this.logStart);
        const start = seg.offsetIndex.lookup(from).position;
        let found: { offset: number; timestamp: number } | null = null;
        seg.findBatch(start, (b) => {
          if (b.maxTimestamp < ts || b.lastOffset < this.logStart) return false;
          const bytes = seg.read(b.position, 1, Number.MAX_SAFE_INTEGER).records;
          const exact = this.exactOffsetInBatch(bytes, ts);
          // A compressed batch answers with its first offset (>= log start): a safe lower bound.
          if (exact === 'compressed') found = { offset: Math.max(b.baseOffset, this.logStart), timestamp: b.maxTimestamp };
          else found = exact;
          return found !== null;
        });
        if (found !== null) return found;
      }
      return null;
    });
  }

  /** First record >= ts (and >= logStartOffset) inside an uncompressed batch, null if none; 'compressed' otherwise. */
  private exactOffsetInBatch(batch: Buffer, ts: number): { offset: number; timestamp: number } | null | 'compressed' {
    const h = readBatchHeader(batch, 0);
    if ((h.attributes & COMPRESSION_CODEC_MASK) !== 0) return 'compressed';
    const logAppendTime = (h.attributes & TIMESTAMP_TYPE_MASK) !== 0;
    let pos = 61;
    for (let i = 0; i < h.recordCount; i++) {
      const len = readVarint(batch, pos, batch.length);
      const bodyStart = len.pos;
      const tsDelta = readVarlong(batch, bodyStart + 1, batch.length);
      const offDelta = readVarint(batch, tsDelta.pos, batch.length);
      const recordTs = logAppendTime ? h.maxTimestamp : h.baseTimestamp + tsDelta.value;
      const offset = h.baseOffset + offDelta.value;
      if (recordTs >= ts && offset >= this.logStart) return { offset, timestamp: recordTs };
      pos = bodyStart + len.value;
    }
    return null;
  }

  /**
   * Removes everything from `offset` on (a follower dropping a divergent tail).
   * A cut inside a batch removes that whole batch, so the log end offset
   * becomes that batch's base offset. Below the log start, it is
   * truncateFullyAndStartAt(offset), as in Kafka. The epoch cache is truncated too.
   */
  truncateTo(offset: number): void {
    this.checkUsable();
    const target = requireOffset(offset, 'offset');
    if (target < 0) throw new FjordError('OFFSET_OUT_OF_RANGE', `cannot truncate to negative offset ${target}`);
    if (target >= this.logEnd) return;
    if (target < this.logStart) {
      this.truncateFullyAndStartAt(target);
      return;
    }
    this.guard('truncateTo', () => {
      const i = Math.max(0, this.segments.floorIndex(target));
      for (const s of this.segments.removeFrom(i + 1)) s.deleteFiles();
      const seg = this.segments.active;
      this.segments.touch(seg);
      this.truncations++;
      const removed = seg.truncateToOffset(target);
      this.logEnd = seg.nextOffset;
      if (this.logStart > this.logEnd) this.logStart = this.logEnd;
      this.recoveryPointValue = Math.min(this.recoveryPointValue, this.logEnd);
      this.epochCache.truncateFromEnd(this.logEnd);
      this.writeOffsetsCheckpoint();
      this.logger?.info({ targetOffset: target, logEndOffset: this.logEnd, bytesRemoved: removed }, 'log truncated');
    });
  }

  /** Deletes every segment and restarts the log, empty, at `offset` (log start = end = offset). */
  truncateFullyAndStartAt(offset: number): void {
    this.checkUsable();
    const target = requireOffset(offset, 'offset');
    if (target < 0) throw new FjordError('OFFSET_OUT_OF_RANGE', `cannot start the log at negative offset ${target}`);
    this.guard('truncateFullyAndStartAt', () => {
      this.truncations++;
      for (const s of this.segments.removeFrom(0)) s.deleteFiles();
      this.segments.push(LogSegment.create(this.ctx, target, this.clock()));
      fsyncDir(this.dir, this.ctx.durable);
      this.logStart = target;
      this.logEnd = target;
      this.recoveryPointValue = target;
      this.epochCache.clear();
      this.writeOffsetsCheckpoint();
      this.logger?.info({ offset: target }, 'log truncated fully');
    });
  }

  /**
   * Advances the log start offset to `offset` (Kafka's DeleteRecords) and
   * deletes the segments that end at or before it. Reads below it then fail
   * with OFFSET_OUT_OF_RANGE. Returns the new log start offset.
   */
  deleteRecordsBefore(offset: number): number {
    this.checkUsable();
    const target = requireOffset(offset, 'offset');
    if (target < 0 || target > this.logEnd) {
      throw new FjordError('OFFSET_OUT_OF_RANGE', `cannot delete records before ${target}: the log ends at ${this.logEnd}`, {
        offset: target,
        logEndOffset: this.logEnd,
      });
    }
    return this.guard('deleteRecordsBefore', () => {
      if (target > this.logStart) {
        this.logStart = target;
        this.writeOffsetsCheckpoint();
        this.epochCache.truncateFromStart(target);
        this.applyRetentionNow(this.clock(), true);
      }
      return this.logStart;
    });
  }

  /** Deletes closed segments beyond retention.ms / retention.bytes / the log start offset. */
  applyRetention(nowMs: number): RetentionResult {
    this.checkUsable();
    requireOffset(nowMs, 'nowMs');
    return this.guard('applyRetention', () => this.applyRetentionNow(nowMs, false));
  }

  private applyRetentionNow(nowMs: number, startOffsetOnly: boolean): RetentionResult {
    const all = this.segments.all().map((s) => ({
      baseOffset: s.baseOffset,
      nextOffset: s.nextOffset,
      sizeBytes: s.sizeBytes,
      largestTimestamp: (): number => {
        this.segments.touch(s);
        return s.largestTimestamp();
      },
    }));
    const policy = startOffsetOnly ? { retentionMs: -1, retentionBytes: -1 } : this.config;
    const { count, reason } = segmentsToDelete({ segments: all, policy, nowMs, logStartOffset: this.logStart });
    if (count === 0) return { deletedSegments: 0, deletedBytes: 0, logStartOffset: this.logStart, reason: null };
    const removed = this.segments.removeFirst(count);
    const newStart = Math.max(this.logStart, this.segments.first.baseOffset);
    if (newStart !== this.logStart) {
      this.logStart = newStart;
      this.writeOffsetsCheckpoint();
      this.epochCache.truncateFromStart(newStart);
    }
    let deletedBytes = 0;
    for (const s of removed) {
      deletedBytes += s.sizeBytes;
      s.deleteFiles();
    }
    this.logger?.info({ deletedSegments: removed.length, deletedBytes, logStartOffset: this.logStart, reason }, 'retention deleted segments');
    return { deletedSegments: removed.length, deletedBytes, logStartOffset: this.logStart, reason };
  }

  /** fsyncs everything appended so far and advances the recovery point to the log end offset. */
  flush(): void {
    this.guard('flush', () => this.flushNow());
  }

  /**
   * flush() without blocking the event loop: the fdatasyncs run on the libuv
   * thread pool (through their own file handles, so the open-segment LRU may
   * close its descriptors meanwhile). Appends may continue during the flush;
   * the recovery point advances to the log end offset seen when it started,
   * unless the log was truncated, closed or went offline in the meantime.
   * Concurrent calls are allowed (each covers what was appended before it).
   * Resolves to the recovery point.
   */
  async flushAsync(): Promise<number> {
    this.checkUsable();
    const target = this.logEnd;
    const truncations = this.truncations;
    const files: string[] = [];
    const dirDirty = this.dirDirty;
    this.guard('flushAsync', () => {
      for (let i = Math.max(0, this.segments.floorIndex(this.recoveryPointValue)); i < this.segments.count; i++) {
        files.push(...this.segments.at(i).prepareAsyncFlush());
      }
    });
    this.dirDirty = false;
    if (this.ctx.durable) {
      try {
        await Promise.all(files.map((f) => syncFileAsync(f)));
        if (dirDirty) await syncFileAsync(this.dir);
      } catch (e) {
        if (!this.closed && this.failure === null) {
          this.failure = e;
          this.logger?.error({ err: e, op: 'flushAsync' }, 'log offline after I/O error');
        }
        throw new FjordError('KAFKA_STORAGE_ERROR', `flushAsync failed: ${(e as Error).message}`, { dir: this.dir }, { cause: e });
      }
    }
    if (this.closed || this.failure !== null || this.truncations !== truncations) return this.recoveryPointValue;
    if (target > this.recoveryPointValue) {
      this.recoveryPointValue = target;
      this.guard('flushAsync', () => this.writeOffsetsCheckpoint());
    }
    return this.recoveryPointValue;
  }

  private flushNow(): void {
    const start = Math.max(0, this.segments.floorIndex(this.recoveryPointValue));
    for (let i = start; i < this.segments.count; i++) {
      const seg = this.segments.at(i);
      this.segments.touch(seg);
      seg.flush();
    }
    if (this.dirDirty) {
      fsyncDir(this.dir, this.ctx.durable);
      this.dirDirty = false;
    }
    this.recoveryPointValue = this.logEnd;
    this.writeOffsetsCheckpoint();
    this.unflushedRecords = 0;
    this.lastFlushMs = this.clock();
  }

  private writeOffsetsCheckpoint(): void {
    writeLogOffsetsCheckpoint(this.dir, { logStartOffset: this.logStart, recoveryPoint: this.recoveryPointValue }, this.ctx.durable);
  }

  /**
   * Flushes, writes the clean-shutdown marker (the next open scans nothing) and
   * releases every file. An offline log (after an I/O error) only releases its
   * files: no marker, so the next open recovers it.
   */
  close(): void {
    if (this.closed) return;
    if (this.failure !== null) {
      this.closeUnclean();
      return;
    }
    try {
      this.guard('close', () => {
        this.segments.active.onBecomeInactive();
        this.flushNow();
        const marker = path.join(this.dir, CLEAN_SHUTDOWN_FILE);
        fs.writeFileSync(marker, '');
        fsyncDir(this.dir, this.ctx.durable);
        for (const s of this.segments.all()) s.releaseResources();
      });
    } finally {
      if (!this.closed) {
        for (const s of this.segments.all()) s.closeFile();
        this.closed = true;
      }
    }
  }

  /**
   * Simulates a crash for tests: closes file descriptors without flushing,
   * persisting indexes or writing the marker. Whatever was written stays in the
   * page cache, as after kill -9.
   */
  closeUnclean(): void {
    if (this.closed) return;
    for (const s of this.segments.all()) s.closeFile();
    this.closed = true;
  }
}
