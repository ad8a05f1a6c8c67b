/**
 * Which leading segments retention deletes (Kafka's UnifiedLog.deleteOldSegments),
 * as a pure function over plain data. Three rules, each deleting a prefix of
 * the closed segments; the union of prefixes is the longest one:
 * - retention.ms: segments whose largest timestamp is older than nowMs - retentionMs;
 * - retention.bytes: the oldest segments while the log stays above retentionBytes without them;
 * - log start offset: segments that end at or before logStartOffset (deleteRecordsBefore).
 * The active segment is never deleted (so the log always has somewhere to append).
 */
import { UNLIMITED } from './config.js';

export interface RetentionSegment {
  readonly baseOffset: number;
  /** Offset after the segment's last batch (= next segment's base offset). */
  readonly nextOffset: number;
  readonly sizeBytes: number;
  /** Evaluated lazily: reading it may touch the time index file. */
  largestTimestamp(): number;
}

export interface RetentionPolicy {
  readonly retentionMs: number;
  readonly retentionBytes: number;
}

export type RetentionReason = 'retention.ms' | 'retention.bytes' | 'log-start-offset';

/**
 * How many leading segments to delete. `segments` are all segments, the last
 * being the active one (never counted).
 */
export function segmentsToDelete(input: {
  segments: readonly RetentionSegment[];
  policy: RetentionPolicy;
  nowMs: number;
  logStartOffset: number;
}): { count: number; reason: RetentionReason | null } {
  const closed = input.segments.length - 1;
  let count = 0;
  let reason: RetentionReason | null = null;

  let byStart = 0;
  while (byStart < closed && (input.segments[byStart] as RetentionSegment).nextOffset <= input.logStartOffset) byStart++;
  if (byStart > count) {
    count = byStart;
    reason = 'log-start-offset';
  }

  if (input.policy.retentionBytes !== UNLIMITED) {
    let total = 0;
    for (const s of input.segments) total += s.sizeBytes;
    let diff = total - input.policy.retentionBytes;
    let bySize = 0;
    while (bySize < closed && diff - (input.segments[bySize] as RetentionSegment).sizeBytes >= 0) {
      diff -= (input.segments[bySize] as RetentionSegment).sizeBytes;
      bySize++;
    }
    if (bySize > count) {
      count = bySize;
      reason = 'retention.bytes';
    }
  }

  if (input.policy.retentionMs !== UNLIMITED) {
    let byTime = count;
    while (byTime < closed && input.nowMs - (input.segments[byTime] as RetentionSegment).largestTimestamp() > input.policy.retentionMs) byTime++;
    if (byTime > count) {
      // Kafka applies the rules one after another, so time retention continues
      // from where the earlier rules stopped.
      count = byTime;
      reason = 'retention.ms';
    }
  }
  return { count, reason };
}
