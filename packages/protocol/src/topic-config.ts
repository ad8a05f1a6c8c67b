/**
 * Topic-level settings, with Kafka's dotted names on the wire and in the CLI
 * (STYLE.md F). One declarative table, after Kafka's ConfigDef / LogConfig.java:
 * each key has a type, a default, bounds or allowed values, and a doc line.
 * The client, the CLI and the coordinator all validate through
 * validateTopicConfig, so they agree on what a topic may be created with.
 *
 * Values arrive as strings (as in Kafka's CreateTopics / AlterConfigs). Like
 * ConfigDef they are trimmed; booleans are case-insensitive, enums exact. An
 * unknown key or a bad value is INVALID_CONFIG naming the key.
 */
import { RECORD_BATCH_HEADER_BYTES } from './batch-header.js';
import { FjordError } from './errors.js';

const INT32_MAX = 0x7fff_ffff;

interface NumberDef {
  /** int: Kafka's INT (32-bit); long: Kafka's LONG, limited to safe integers in Fjord. */
  readonly type: 'int' | 'long';
  readonly default: number;
  readonly min: number;
  readonly max: number;
  readonly doc: string;
}

interface BooleanDef {
  readonly type: 'boolean';
  readonly default: boolean;
  readonly doc: string;
}

interface EnumDef {
  readonly type: 'enum';
  readonly values: readonly string[];
  readonly default: string;
  readonly doc: string;
}

export type TopicConfigDef = NumberDef | BooleanDef | EnumDef;

const DAY_MS = 24 * 60 * 60 * 1000;

export const TOPIC_CONFIG_DEFS = {
  'segment.bytes': {
    type: 'int',
    default: 1024 * 1024 * 1024,
    // Kafka 3.x: at least one record's overhead; for v2 batches that is the batch header.
    min: RECORD_BATCH_HEADER_BYTES,
    max: INT32_MAX,
    doc: 'Size in bytes at which the active segment rolls',
  },
  'segment.ms': {
    type: 'long',
    default: 7 * DAY_MS,
    min: 1,
    max: Number.MAX_SAFE_INTEGER,
    doc: 'Age in milliseconds at which the active segment rolls even if it is not full',
  },
  'retention.ms': {
    type: 'long',
    default: 7 * DAY_MS,
    min: -1,
    max: Number.MAX_SAFE_INTEGER,
    doc: "Closed segments whose largest timestamp is older than this many milliseconds are deleted; -1 keeps them forever",
  },
  'retention.bytes': {
    type: 'long',
    default: -1,
    min: -1,
    max: Number.MAX_SAFE_INTEGER,
    doc: 'Oldest closed segments are deleted while the partition holds more than this many bytes; -1 means no limit',
  },
  'min.insync.replicas': {
    type: 'int',
    default: 1,
    min: 1,
    max: INT32_MAX,
    doc: 'With acks=all, a write is refused (NOT_ENOUGH_REPLICAS) unless at least this many replicas are in sync',
  },
  'cleanup.policy': {
    type: 'enum',
    values: ['delete', 'compact'],
    default: 'delete',
    doc: 'delete: retention removes old segments; compact: keep the latest record per key',
  },
  'max.message.bytes': {
    type: 'int',
    // Kafka's default: 1 MiB of records plus the 12-byte log overhead.
    default: 1024 * 1024 + 12,
    min: RECORD_BATCH_HEADER_BYTES,
    max: INT32_MAX,
    doc: 'Largest record batch in bytes (after compression) the topic accepts',
  },
  'index.interval.bytes': {
    type: 'int',
    default: 4096,
    min: 0,
    max: INT32_MAX,
    doc: 'Bytes of log between two offset-index entries (sparser index: less memory, longer scans)',
  },
  'flush.policy': {
    type: 'enum',
    values: ['replicated', 'durable'],
    default: 'replicated',
    doc: 'replicated: a replica counts once the bytes are in its log (page cache); durable: only after an fdatasync',
  },
  'unclean.leader.election.enable': {
    type: 'boolean',
    default: false,
    doc: 'Allow a replica outside the ISR to become leader (may lose acknowledged records)',
  },
  'message.timestamp.type': {
    type: 'enum',
    values: ['CreateTime', 'LogAppendTime'],
    default: 'CreateTime',
    doc: "CreateTime keeps the producer's timestamps; LogAppendTime stamps the broker's append time",
  },
} as const satisfies Record<string, TopicConfigDef>;

export type TopicConfigKey = keyof typeof TOPIC_CONFIG_DEFS;

type ValueOf<D> = D extends { readonly type: 'boolean' }
  ? boolean
  : D extends { readonly type: 'enum'; readonly values: readonly (infer V)[] }
    ? V
    : number;

/** Every topic setting, typed (enums as their string unions). */
export type TopicConfig = { readonly [K in TopicConfigKey]: ValueOf<(typeof TOPIC_CONFIG_DEFS)[K]> };

export const TOPIC_CONFIG_KEYS: readonly TopicConfigKey[] = Object.freeze(Object.keys(TOPIC_CONFIG_DEFS) as TopicConfigKey[]);

export const DEFAULT_TOPIC_CONFIG: TopicConfig = Object.freeze(
  Object.fromEntries(TOPIC_CONFIG_KEYS.map((k) => [k, TOPIC_CONFIG_DEFS[k].default])) as unknown as TopicConfig,
);

export function isTopicConfigKey(key: string): key is TopicConfigKey {
  return Object.prototype.hasOwnProperty.call(TOPIC_CONFIG_DEFS, key);
}

const INTEGER = /^[+-]?\d+$/;

function invalid(key: string, value: unknown, why: string): FjordError {
  return new FjordError('INVALID_CONFIG', `${key}=${JSON.stringify(value)}: ${why}`, { key, value });
}

function parseValue(key: TopicConfigKey, raw: unknown): number | boolean | string {
  const def: TopicConfigDef = TOPIC_CONFIG_DEFS[key];
  if (typeof raw !== 'string') throw invalid(key, raw, 'values are strings');
  const text = raw.trim();
  switch (def.type) {
    case 'int':
    case 'long': {
      const n = INTEGER.test(text) ? Number(text) : NaN;
      if (!Number.isSafeInteger(n)) throw invalid(key, raw, `expected an integer in [${def.min}, ${def.max}]`);
      if (n < def.min || n > def.max) throw invalid(key, raw, `must be in [${def.min}, ${def.max}]`);
      return n;
    }
    case 'boolean': {
      const lower = text.toLowerCase();
      if (lower === 'true') return true;
      if (lower === 'false') return false;
      throw invalid(key, raw, 'expected true or false');
    }
    case 'enum':
      if (!def.values.includes(text)) throw invalid(key, raw, `expected one of ${def.values.join(', ')}`);
      return text;
  }
}

/**
 * Validates topic config overrides and returns only those, typed and frozen
 * (what the coordinator stores; the defaults stay out so they can change).
 */
export function parseTopicConfigOverrides(raw: Readonly<Record<string, string>>): Partial<TopicConfig> {
  const out: Record<string, number | boolean | string> = {};
  for (const key of Object.keys(raw)) {
    if (!isTopicConfigKey(key)) {
      throw new FjordError('INVALID_CONFIG', `unknown topic config "${key}"; known: ${TOPIC_CONFIG_KEYS.join(', ')}`, { key });
    }
    out[key] = parseValue(key, raw[key]);
  }
  return Object.freeze(out) as Partial<TopicConfig>;
}

/** Validates overrides and returns the full effective config (defaults filled in), frozen. */
export function validateTopicConfig(raw: Readonly<Record<string, string>>): TopicConfig {
  return Object.freeze({ ...DEFAULT_TOPIC_CONFIG, ...parseTopicConfigOverrides(raw) });
}

/** The string form of typed settings (for the wire and the CLI); parseTopicConfigOverrides reverses it. */
export function topicConfigToStrings(config: Partial<TopicConfig>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of TOPIC_CONFIG_KEYS) {
    const value = config[key];
    if (value !== undefined) out[key] = String(value);
  }
  return out;
}

function describeBounds(def: TopicConfigDef): string {
  switch (def.type) {
    case 'int':
    case 'long':
      return `${def.min} .. ${def.max === Number.MAX_SAFE_INTEGER ? '2^53-1' : def.max}`;
    case 'boolean':
      return 'true, false';
    case 'enum':
      return def.values.join(', ');
  }
}

/**
 * The Markdown table of every topic setting (key, type, default, allowed values,
 * doc), generated from TOPIC_CONFIG_DEFS for the README and `--help` (STYLE.md F).
 */
export function topicConfigMarkdownTable(): string {
  const lines = ['| key | type | default | allowed | meaning |', '| --- | --- | --- | --- | --- |'];
  for (const key of TOPIC_CONFIG_KEYS) {
    const def: TopicConfigDef = TOPIC_CONFIG_DEFS[key];
    lines.push(`| \`${key}\` | ${def.type} | \`${String(def.default)}\` | ${describeBounds(def)} | ${def.doc} |`);
  }
  return lines.join('\n');
}
