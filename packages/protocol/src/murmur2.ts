/**
 * Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2: MurmurHash2,
 * 32-bit, seed 0x9747b28c) and the default partitioner's choice for a keyed
 * record, `toPositive(murmur2(keyBytes)) % numPartitions`
 * (BuiltInPartitioner.partitionForKey). A Fjord producer must put a key on the
 * same partition as a Java producer, so the test checks Kafka's own vectors
 * (UtilsTest.testMurmur2). All arithmetic is 32-bit: Math.imul and |0 stand in
 * for Java's int overflow.
 */
import { FjordError } from './errors.js';

const SEED = 0x9747b28c;
const M = 0x5bd1e995;
const R = 24;

/** Kafka's murmur2 of `data`, as a signed 32-bit integer (what Java's int holds). */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = (SEED ^ length) | 0;
  const tail = length & ~3;
  for (let i = 0; i < tail; i += 4) {
    let k = (data[i] as number) | ((data[i + 1] as number) << 8) | ((data[i + 2] as number) << 16) | ((data[i + 3] as number) << 24);
    k = Math.imul(k, M);
    k ^= k >>> R;
    k = Math.imul(k, M);
    h = Math.imul(h, M);
    h ^= k;
  }
  const rest = length & 3;
  if (rest === 3) h ^= (data[tail + 2] as number) << 16;
  if (rest >= 2) h ^= (data[tail + 1] as number) << 8;
  if (rest >= 1) {
    h ^= data[tail] as number;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** Kafka's Utils.toPositive: clears the sign bit (not Math.abs, which fails on -2^31). */
export function toPositive(n: number): number {
  return n & 0x7fff_ffff;
}

/**
 * The partition Kafka's default partitioner picks for a record with this key
 * (a string key is hashed as its UTF-8 bytes, as Kafka's StringSerializer
 * sends it). Records without a key are spread by the producer instead (sticky
 * or round-robin); that choice is not a hash and lives in the client.
 */
export function partitionForKey(key: Uint8Array | string, numPartitions: number): number {
  if (!Number.isSafeInteger(numPartitions) || numPartitions < 1 || numPartitions > 0x7fff_ffff) {
    throw new FjordError('INVALID_PARTITIONS', `numPartitions must be an integer in [1, 2^31 - 1], got ${numPartitions}`, { numPartitions });
  }
  const bytes = typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
  return toPositive(murmur2(bytes)) % numPartitions;
}
