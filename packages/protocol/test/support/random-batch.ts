/**
 * Seeded random record batches for property tests: keys and values null,
 * empty, small or larger; headers with unicode keys, repeated keys and (when
 * allowed) null values; timestamps whose deltas go negative and sometimes far;
 * producer id/epoch/sequence set or absent; the transactional flag.
 */
import type { RecordBatchInput, RecordHeader, Rng } from '@fjord/protocol';

export interface RandomBatchOptions {
  /** kafkajs cannot encode a null header value (its sizeOfHeaders calls Buffer.byteLength(null)). */
  allowNullHeaderValues: boolean;
  /** LogAppendTime and control batches: kafkajs's encoder can set neither. */
  allowBrokerOnlyAttributes: boolean;
  maxRecords: number;
}

/** A batch to encode, plus each record's headers in kafkajs's object form (same order). */
export interface RandomRecord {
  key: Buffer | null;
  value: Buffer | null;
  timestamp: number;
  headers: RecordHeader[];
}

export interface RandomBatch {
  input: Omit<RecordBatchInput, 'records'> & { records: RandomRecord[] };
  headerObjects: Record<string, Buffer | null | (Buffer | null)[]>[];
  baseTimestamp: number;
  maxTimestamp: number;
}

const KEY_CHARS = ['a', 'b', 'Z', '0', '7', '-', '.', '_', ' ', 'é', 'ß', 'Ω', '日', '本', '🎉', '🦀', '\u0000', '\u00ff'];

function randomBytesOrNull(rng: Rng, nullOneIn: number): Buffer | null {
  return rng.chance(1, nullOneIn) ? null : randomBytes(rng);
}

function randomBytes(rng: Rng): Buffer {
  if (rng.chance(1, 200)) return rng.bytes(rng.intBetween(8192, 20_000)); // 3-byte record length varints
  const kind = rng.int(8);
  if (kind === 0) return Buffer.alloc(0);
  if (kind === 7) return rng.bytes(rng.intBetween(128, 2000));
  return rng.bytes(rng.intBetween(1, 40));
}

function randomHeaderKey(rng: Rng): string {
  if (rng.chance(1, 10)) return String(rng.int(5)); // index-like keys: kafkajs's object puts them first
  let s = '';
  const n = rng.intBetween(0, 6);
  for (let i = 0; i < n; i++) s += rng.pick(KEY_CHARS);
  return s;
}

/**
 * Headers are generated as kafkajs's object (unique keys, a repeated key as an
 * array), and our list is derived from it exactly as kafkajs flattens it
 * (Object.keys order), so both encoders see the same header sequence.
 */
function randomHeaders(rng: Rng, allowNull: boolean): { list: RecordHeader[]; object: Record<string, Buffer | null | (Buffer | null)[]> } {
  const object: Record<string, Buffer | null | (Buffer | null)[]> = {};
  const count = rng.chance(1, 3) ? 0 : rng.intBetween(1, 5);
  for (let i = 0; i < count; i++) {
    const key = randomHeaderKey(rng);
    const value = allowNull && rng.chance(1, 5) ? null : randomBytes(rng);
    if (Object.prototype.hasOwnProperty.call(object, key)) continue;
    object[key] = rng.chance(1, 6) ? [value, allowNull && rng.chance(1, 3) ? null : rng.bytes(rng.int(10))] : value;
  }
  const list: RecordHeader[] = Object.keys(object).flatMap((key) => {
    const v = object[key] as Buffer | null | (Buffer | null)[];
    return Array.isArray(v) ? v.map((value) => ({ key, value })) : [{ key, value: v }];
  });
  return { list, object };
}

function randomTimestampDelta(rng: Rng): number {
  switch (rng.int(6)) {
    case 0:
      return 0;
    case 1:
      return -rng.int(1000);
    case 2:
      return rng.intBetween(-(2 ** 31), 2 ** 31 - 1); // crosses varint byte boundaries
    case 3:
      return (rng.int(2) === 0 ? -1 : 1) * (rng.int(2 ** 20) * 2 ** 20 + rng.int(2 ** 20)); // up to ~2^40: varlong territory
    default:
      return rng.int(1000);
  }
}

export function randomBatch(rng: Rng, options: RandomBatchOptions): RandomBatch {
  const count = rng.chance(1, 20) ? rng.intBetween(1, options.maxRecords) : rng.intBetween(1, Math.min(12, options.maxRecords));
  const baseTimestamp = rng.chance(1, 20) ? rng.int(1000) : 1_600_000_000_000 + rng.int(2 ** 32);
  const records: RandomBatch['input']['records'] = [];
  const headerObjects: RandomBatch['headerObjects'] = [];
  let maxTimestamp = baseTimestamp;
  for (let i = 0; i < count; i++) {
    const timestamp = i === 0 ? baseTimestamp : baseTimestamp + randomTimestampDelta(rng);
    if (timestamp > maxTimestamp) maxTimestamp = timestamp;
    const { list, object } = randomHeaders(rng, options.allowNullHeaderValues);
    records.push({ key: randomBytesOrNull(rng, 4), value: randomBytesOrNull(rng, 8), timestamp, headers: list });
    headerObjects.push(object);
  }
  const idempotent = rng.chance(1, 2);
  const brokerOnly = options.allowBrokerOnlyAttributes && rng.chance(1, 3);
  const input: RandomBatch['input'] = {
    records,
    baseOffset: rng.chance(1, 3) ? 0 : rng.int(2 ** 21) * 2 ** 28 + rng.int(2 ** 28),
    partitionLeaderEpoch: rng.chance(1, 3) ? -1 : rng.int(2 ** 31),
    producerId: idempotent ? rng.int(2 ** 22) * 2 ** 28 + rng.int(2 ** 28) : -1,
    producerEpoch: idempotent ? rng.int(2 ** 15) : -1,
    baseSequence: idempotent ? rng.int(2 ** 31 - count) : -1,
    isTransactional: idempotent && rng.chance(1, 3),
    timestampType: brokerOnly && rng.chance(1, 2) ? 'LogAppendTime' : 'CreateTime',
    isControl: brokerOnly && rng.chance(1, 4),
  };
  return { input, headerObjects, baseTimestamp, maxTimestamp };
}
