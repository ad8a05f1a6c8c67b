/**
 * Log configuration as one declarative table, after Kafka's LogConfig/ConfigDef
 * (STYLE.md F): each key carries its unit, default, bounds, Kafka's dotted topic
 * name where one exists, and a doc line. `resolveLogConfig` validates once
 * (unknown keys and out-of-range values are INVALID_CONFIG) and returns a frozen
 * object; nothing reads config from anywhere else. Every bound the log enforces
 * (open files, index sizes, read sizes, batches per append) is in this table.
 */
import { FjordError, MAX_BATCH_BYTES, RECORD_BATCH_HEADER_BYTES } from '@fjord/protocol';

const MIB = 1024 * 1024;
const DAY_MS = 24 * 60 * 60 * 1000;
const INT32_MAX = 0x7fff_ffff;
const UINT32_MAX = 0xffff_ffff;
/** "Unlimited" for time/size limits (Kafka uses -1 for retention, Long.MAX for flush). */
export const UNLIMITED = -1;

export interface LogConfigEntry {
  readonly key: keyof LogConfig;
  /** Kafka's topic-level name, where one exists. */
  readonly kafkaName: string | null;
  readonly default: number;
  readonly min: number;
  readonly max: number;
  readonly doc: string;
}

export interface LogConfig {
  readonly segmentBytes: number;
  readonly segmentMs: number;
  readonly segmentIndexBytes: number;
  readonly indexIntervalBytes: number;
  readonly maxMessageBytes: number;
  readonly maxAppendBytes: number;
  readonly maxBatchesPerAppend: number;
  readonly maxReadBytes: number;
  readonly retentionMs: number;
  readonly retentionBytes: number;
  readonly maxOpenSegments: number;
  readonly flushIntervalMessages: number;
  readonly flushIntervalMs: number;
}

export const LOG_CONFIG_TABLE: readonly LogConfigEntry[] = Object.freeze([
  {
    key: 'segmentBytes',
    kafkaName: 'segment.bytes',
    default: 1024 * MIB,
    min: 512,
    max: INT32_MAX,
    doc: 'Roll to a new segment once the active one would grow past this many bytes.',
  },
  {
    key: 'segmentMs',
    kafkaName: 'segment.ms',
    default: 7 * DAY_MS,
    min: 1,
    max: Number.MAX_SAFE_INTEGER,
    doc: "Roll once the active segment's first batch timestamp is this old (creation time if no timestamps).",
  },
  {
    key: 'segmentIndexBytes',
    kafkaName: 'segment.index.bytes',
    default: 10 * MIB,
    min: 24,
    max: 256 * MIB,
    doc: 'Bytes per offset index (8 B/entry) and time index (12 B/entry); a full index rolls the segment.',
  },
  {
    key: 'indexIntervalBytes',
    kafkaName: 'index.interval.bytes',
    default: 4096,
    min: 0,
    max: INT32_MAX,
    doc: 'Add a sparse index entry after this many log bytes since the last one.',
  },
  {
    key: 'maxMessageBytes',
    kafkaName: 'max.message.bytes',
    default: MIB + 12,
    min: RECORD_BATCH_HEADER_BYTES,
    max: MAX_BATCH_BYTES,
    doc: 'Largest record batch accepted by append, in bytes including the 12-byte log overhead.',
  },
  {
    key: 'maxAppendBytes',
    kafkaName: null,
    default: 64 * MIB,
    min: RECORD_BATCH_HEADER_BYTES,
    max: 1024 * MIB,
    doc: 'Largest total size of the batches of one append call (RECORD_LIST_TOO_LARGE above it).',
  },
  {
    key: 'maxBatchesPerAppend',
    kafkaName: null,
    default: 1024,
    min: 1,
    max: 1024,
    doc: 'Most batches (and buffers: one writev) in one append call; 1024 is IOV_MAX on Linux.',
  },
  {
    key: 'maxReadBytes',
    kafkaName: null,
    default: 64 * MIB,
    min: 1,
    max: 1024 * MIB,
    doc: 'read() clamps maxBytes to this; a single larger first batch is still returned whole.',
  },
  {
    key: 'retentionMs',
    kafkaName: 'retention.ms',
    default: 7 * DAY_MS,
    min: UNLIMITED,
    max: Number.MAX_SAFE_INTEGER,
    doc: "Delete closed segments whose largest timestamp is older than this (-1: keep forever).",
  },
  {
    key: 'retentionBytes',
    kafkaName: 'retention.bytes',
    default: UNLIMITED,
    min: UNLIMITED,
    max: Number.MAX_SAFE_INTEGER,
    doc: 'Delete the oldest closed segments while the log is larger than this (-1: no size limit).',
  },
  {
    key: 'maxOpenSegments',
    kafkaName: null,
    default: 8,
    min: 2,
    max: 65536,
    doc: 'Segments whose file descriptor and loaded indexes are kept (LRU; the active one is pinned).',
  },
  {
    key: 'flushIntervalMessages',
    kafkaName: 'flush.messages',
    default: Number.MAX_SAFE_INTEGER,
    min: 1,
    max: Number.MAX_SAFE_INTEGER,
    doc: 'fsync after this many unflushed records (default: never; replication gives durability).',
  },
  {
    key: 'flushIntervalMs',
    kafkaName: 'flush.ms',
    default: Number.MAX_SAFE_INTEGER,
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    doc: 'fsync on append once the last flush is this old (default: never).',
  },
] satisfies LogConfigEntry[]);

export const DEFAULT_LOG_CONFIG: LogConfig = Object.freeze(
  Object.fromEntries(LOG_CONFIG_TABLE.map((e) => [e.key, e.default])) as unknown as LogConfig,
);

/**
 * Validates `overrides` against the table and returns a frozen, complete config.
 * Rejects unknown keys, non-integers and out-of-range values with INVALID_CONFIG.
 */
export function resolveLogConfig(overrides: Readonly<Record<string, unknown>> = {}): LogConfig {
  const byKey = new Map(LOG_CONFIG_TABLE.map((e) => [e.key as string, e]));
  for (const key of Object.keys(overrides)) {
    if (!byKey.has(key)) throw new FjordError('INVALID_CONFIG', `unknown log config key "${key}"`, { key });
  }
  const out: Record<string, number> = {};
  for (const entry of LOG_CONFIG_TABLE) {
    const raw = overrides[entry.key];
    const value = raw === undefined ? entry.default : raw;
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
      throw new FjordError('INVALID_CONFIG', `${entry.key} must be a safe integer, got ${String(value)}`, { key: entry.key });
    }
    if (value < entry.min || value > entry.max) {
      throw new FjordError('INVALID_CONFIG', `${entry.key}=${value} is outside [${entry.min}, ${entry.max}]`, {
        key: entry.key,
        value,
        min: entry.min,
        max: entry.max,
      });
    }
    out[entry.key] = value;
  }
  const config = out as unknown as LogConfig;
  // Cross-field bounds. Positions in the offset index are u32: a segment never
  // exceeds segmentBytes before an append, so segmentBytes + one append must fit.
  if (config.segmentBytes + config.maxAppendBytes > UINT32_MAX) {
    throw new FjordError('INVALID_CONFIG', 'segmentBytes + maxAppendBytes must fit in 32 bits (index positions are u32)');
  }
  if (config.maxAppendBytes < config.maxMessageBytes) {
    throw new FjordError('INVALID_CONFIG', 'maxAppendBytes must be >= maxMessageBytes');
  }
  return Object.freeze(config);
}

/** Entries that fit in the offset index (8 bytes each) and time index (12 bytes each). */
export function maxOffsetIndexEntries(config: LogConfig): number {
  return Math.floor(config.segmentIndexBytes / 8);
}

export function maxTimeIndexEntries(config: LogConfig): number {
  return Math.floor(config.segmentIndexBytes / 12);
}
