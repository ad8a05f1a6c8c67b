/**
 * File names inside a partition directory, after Kafka's LocalLog/UnifiedLog:
 * a segment is `<20-digit zero-padded base offset>.log` with `.index` and
 * `.timeindex` beside it, so a plain `ls` sorts segments by offset.
 */
import { FjordError, assert, assertSafeInteger, validateTopicName } from '@fjord/protocol';

export const LOG_FILE_SUFFIX = '.log';
export const INDEX_FILE_SUFFIX = '.index';
export const TIME_INDEX_FILE_SUFFIX = '.timeindex';
/** Suffix of a file being written atomically (checkpoint-file.ts); leftovers are deleted on open. */
export const TMP_FILE_SUFFIX = '.tmp';
/** Written by a clean close() and removed on open: its presence means "no recovery needed". */
export const CLEAN_SHUTDOWN_FILE = '.clean-shutdown';
/** logStartOffset and recoveryPoint (Kafka keeps these in per-data-dir checkpoint files). */
export const LOG_OFFSETS_CHECKPOINT_FILE = 'log-offsets.checkpoint';
/** Leader epoch -> start offset (Kafka's leader-epoch-checkpoint). */
export const LEADER_EPOCH_CHECKPOINT_FILE = 'leader-epoch.checkpoint';

const OFFSET_DIGITS = 20;

export type SegmentFileKind = 'log' | 'index' | 'timeindex';

/** `00000000000000001234` for base offset 1234 (Kafka's LogFileUtils.filenamePrefixFromOffset). */
export function offsetFileStem(baseOffset: number): string {
  assertSafeInteger(baseOffset, 'baseOffset');
  assert(baseOffset >= 0, () => `baseOffset must be >= 0, got ${baseOffset}`);
  return String(baseOffset).padStart(OFFSET_DIGITS, '0');
}

export function logFileName(baseOffset: number): string {
  return offsetFileStem(baseOffset) + LOG_FILE_SUFFIX;
}

export function indexFileName(baseOffset: number): string {
  return offsetFileStem(baseOffset) + INDEX_FILE_SUFFIX;
}

export function timeIndexFileName(baseOffset: number): string {
  return offsetFileStem(baseOffset) + TIME_INDEX_FILE_SUFFIX;
}

/** Throws INVALID_REQUEST unless `partition` is an int32 >= 0. */
export function validatePartition(partition: number): void {
  if (typeof partition !== 'number' || !Number.isSafeInteger(partition) || partition < 0 || partition > 0x7fff_ffff) {
    throw new FjordError('INVALID_REQUEST', `partition must be an int32 >= 0, got ${String(partition)}`, { partition });
  }
}

/**
 * The directory of one partition, `<topic>-<partition>` (Kafka's layout). The
 * topic name is validated first (INVALID_TOPIC), so it can never escape the
 * data directory ('/', '..') or collide with another partition's directory.
 */
export function partitionDirName(topic: string, partition: number): string {
  validateTopicName(topic);
  validatePartition(partition);
  return `${topic}-${partition}`;
}

const SEGMENT_FILE = /^(\d{20})\.(log|index|timeindex)$/;

/** Parses a segment file name; null for any other file. */
export function parseSegmentFileName(name: string): { baseOffset: number; kind: SegmentFileKind } | null {
  const m = SEGMENT_FILE.exec(name);
  if (m === null) return null;
  const baseOffset = Number(m[1]);
  if (!Number.isSafeInteger(baseOffset)) return null;
  return { baseOffset, kind: m[2] as SegmentFileKind };
}
