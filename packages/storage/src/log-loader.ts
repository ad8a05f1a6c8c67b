/**
 * Opening a partition directory (Kafka's LogLoader).
 *
 * After a clean close (the marker file exists) nothing is scanned: segments are
 * listed and stat-ed, the active segment's indexes are loaded and only the
 * batches after its last index entry are walked to find the log end offset.
 *
 * After a crash, every segment from the one holding the recovery point (the
 * offset up to which everything was fsynced, from the checkpoint) is recovered:
 * each batch's length, magic, CRC and offsets are checked in large sequential
 * reads, the indexes are rebuilt, and the log is cut at the first torn or
 * corrupt batch (later segments are deleted). Batches' partitionLeaderEpoch
 * re-populate the leader epoch cache, as Kafka's LogSegment.recover does.
 * Segments below the recovery point keep their index files; an index that is
 * missing or fails its sanity check is rebuilt when first used (segment.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { MAX_BATCH_BYTES, assert } from '@fjord/protocol';
import { fsyncDir, readCheckpointFile, writeCheckpointFile } from './checkpoint-file.js';
import type { LogConfig } from './config.js';
import { CLEAN_SHUTDOWN_FILE, LOG_OFFSETS_CHECKPOINT_FILE, TMP_FILE_SUFFIX, parseSegmentFileName } from './file-names.js';
import { LeaderEpochCache } from './leader-epoch-cache.js';
import { LogSegment, type SegmentContext } from './segment.js';
import { SegmentSet } from './segment-set.js';

/** Sequential read size for recovery scans: large reads keep a 1 GiB scan near memory bandwidth. */
export const RECOVERY_READ_BYTES = 8 * 1024 * 1024;

export interface LoadedLog {
  segments: SegmentSet;
  logStartOffset: number;
  recoveryPoint: number;
  logEndOffset: number;
  epochCache: LeaderEpochCache;
  hadCleanShutdown: boolean;
  /** Bytes cut from the log by recovery (0 after a clean shutdown). */
  truncatedBytes: number;
}

export interface LogOffsetsCheckpoint {
  logStartOffset: number;
  recoveryPoint: number;
}

export function writeLogOffsetsCheckpoint(dir: string, offsets: LogOffsetsCheckpoint, durable: boolean): void {
  const entries = [`logStartOffset ${offsets.logStartOffset}`, `recoveryPoint ${offsets.recoveryPoint}`];
  writeCheckpointFile(dir, LOG_OFFSETS_CHECKPOINT_FILE, entries, durable);
}

function readLogOffsetsCheckpoint(dir: string): LogOffsetsCheckpoint | 'missing' | 'corrupt' {
  const read = readCheckpointFile(path.join(dir, LOG_OFFSETS_CHECKPOINT_FILE));
  if (read.kind !== 'ok') return read.kind;
  const values = new Map<string, number>();
  for (const line of read.entries) {
    const m = /^(logStartOffset|recoveryPoint) (\d+)$/.exec(line);
    if (m === null) return 'corrupt';
    const v = Number(m[2]);
    if (!Number.isSafeInteger(v)) return 'corrupt';
    values.set(m[1] as string, v);
  }
  const logStartOffset = values.get('logStartOffset');
  const recoveryPoint = values.get('recoveryPoint');
  if (logStartOffset === undefined || recoveryPoint === undefined) return 'corrupt';
  return { logStartOffset, recoveryPoint };
}

export function loadLog(options: {
  dir: string;
  config: LogConfig;
  ctx: SegmentContext;
  logger: Logger | undefined;
  nowMs: number;
}): LoadedLog {
  const { dir, config, ctx, logger, nowMs } = options;
  const durable = ctx.durable;
  fs.mkdirSync(dir, { recursive: true });
  const logSizes = new Map<number, number>();
  const indexFiles: { name: string; baseOffset: number }[] = [];
  for (const name of fs.readdirSync(dir)) {
    if (name.endsWith(TMP_FILE_SUFFIX)) {
      // An atomic write that never reached its rename: garbage by construction.
      fs.rmSync(path.join(dir, name), { force: true });
      continue;
    }
    const parsed = parseSegmentFileName(name);
    if (parsed === null) continue;
    if (parsed.kind === 'log') logSizes.set(parsed.baseOffset, fs.statSync(path.join(dir, name)).size);
    else indexFiles.push({ name, baseOffset: parsed.baseOffset });
  }
  for (const f of indexFiles) {
    if (!logSizes.has(f.baseOffset)) fs.rmSync(path.join(dir, f.name), { force: true });
  }

  const markerPath = path.join(dir, CLEAN_SHUTDOWN_FILE);
  let clean = fs.existsSync(markerPath);
  if (clean) {
    // Remove the marker before anything is written: a crash from now on must look unclean.
    fs.rmSync(markerPath);
    fsyncDir(dir, durable);
  }
  const checkpoint = readLogOffsetsCheckpoint(dir);
  let epochCache = LeaderEpochCache.load(dir, durable);
  let recoveryPoint = 0;
  let checkpointStart = 0;
  if (typeof checkpoint === 'object') {
    recoveryPoint = checkpoint.recoveryPoint;
    checkpointStart = checkpoint.logStartOffset;
  } else {
    if (checkpoint === 'corrupt') logger?.warn({ file: LOG_OFFSETS_CHECKPOINT_FILE }, 'corrupt checkpoint, recovering the whole log');
    if (logSizes.size > 0) clean = false;
  }
  if (epochCache === null) {
    // Rebuild the cache from the batches themselves: recover every segment.
    logger?.warn({ file: 'leader-epoch.checkpoint' }, 'corrupt leader epoch checkpoint, rebuilding it from the log');
    epochCache = LeaderEpochCache.empty(dir, durable);
    clean = false;
    recoveryPoint = 0;
  }

  const segments = new SegmentSet({ maxOpenSegments: config.maxOpenSegments });
  const bases = [...logSizes.keys()].sort((a, b) => a - b);
  if (bases.length === 0) {
    segments.push(LogSegment.create(ctx, checkpointStart, nowMs));
    fsyncDir(dir, durable);
    clean = true;
  } else {
    for (const base of bases) segments.push(LogSegment.openExisting(ctx, base, logSizes.get(base) as number, nowMs));
    for (let i = 0; i + 1 < segments.count; i++) segments.at(i).nextOffset = segments.at(i + 1).baseOffset;
  }

  let truncatedBytes = 0;
  if (clean && bases.length > 0) {
    const active = segments.active;
    segments.touch(active);
    const a = active.offsetIndex.load(active.sizeBytes);
    const b = active.timeIndex.load(active.sizeBytes);
    let ok = a === 'ok' && b === 'ok';
    if (ok) {
      try {
        active.restoreTailState();
      } catch {
        ok = false;
      }
    }
    if (!ok) {
      logger?.warn({ baseOffset: active.baseOffset, offsetIndex: a, timeIndex: b }, 'active segment indexes unusable after clean shutdown, recovering it');
      if (active.offsetIndex.loaded) active.offsetIndex.reset();
      if (active.timeIndex.loaded) active.timeIndex.reset();
      truncatedBytes += recoverFrom(segments.count - 1);
    }
  } else if (!clean) {
    const start = Math.max(0, segments.floorIndex(recoveryPoint));
    truncatedBytes += recoverFrom(start);
  }

  function recoverFrom(start: number): number {
    const cache = epochCache as LeaderEpochCache;
    const buffer = Buffer.allocUnsafe(Math.min(RECOVERY_READ_BYTES, Math.max(config.maxMessageBytes, 64 * 1024)));
    let cut = 0;
    for (let i = start; i < segments.count; i++) {
      const seg = segments.at(i);
      segments.touch(seg);
      const result = seg.recover({
        maxBatchBytes: MAX_BATCH_BYTES,
        buffer,
        truncate: true,
        onBatch: (batch) => {
          if (batch.partitionLeaderEpoch >= 0) cache.assign(batch.partitionLeaderEpoch, batch.baseOffset, false);
        },
      });
      cut += result.truncatedBytes;
      logger?.info(
        { baseOffset: seg.baseOffset, sizeBytes: seg.sizeBytes, bytesTruncated: result.truncatedBytes, reason: result.reason },
        'segment recovered',
      );
      const truncated = result.truncatedBytes > 0;
      if (truncated && i + 1 < segments.count) {
        const dropped = segments.removeFrom(i + 1);
        for (const d of dropped) {
          cut += d.sizeBytes;
          d.deleteFiles();
        }
        logger?.warn({ baseOffset: seg.baseOffset, deletedSegments: dropped.map((d) => d.baseOffset) }, 'deleted segments after a corrupt batch');
      }
      if (i + 1 < segments.count) seg.onBecomeInactive();
    }
    cache.persist();
    return cut;
  }

  const active = segments.active;
  let logEndOffset = active.nextOffset;
  let logStartOffset = Math.max(checkpointStart, segments.first.baseOffset);
  if (logStartOffset > logEndOffset) {
    // The checkpoint says records below logStartOffset were deleted, but the
    // log ends before it (its tail was lost): start empty at logStartOffset.
    for (const s of segments.removeFrom(0)) s.deleteFiles();
    segments.push(LogSegment.create(ctx, logStartOffset, nowMs));
    logEndOffset = logStartOffset;
    epochCache.clear();
  }
  recoveryPoint = Math.min(recoveryPoint, logEndOffset);
  // Start first, then end: an epoch that only held records below the log start
  // ends up starting at logStartOffset, and is dropped if that is the log end
  // (the same result truncateTo and deleteRecordsBefore give at run time).
  epochCache.truncateFromStart(logStartOffset);
  epochCache.truncateFromEnd(logEndOffset);
  assert(segments.active.offsetIndex.loaded, 'the active segment has its indexes in memory');

  const hadCleanShutdown = clean && truncatedBytes === 0;
  if (typeof checkpoint !== 'object' || checkpoint.logStartOffset !== logStartOffset || checkpoint.recoveryPoint !== recoveryPoint) {
    writeLogOffsetsCheckpoint(dir, { logStartOffset, recoveryPoint }, durable);
  }
  return { segments, logStartOffset, recoveryPoint, logEndOffset, epochCache, hadCleanShutdown, truncatedBytes };
}
