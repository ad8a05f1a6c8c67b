// Goal: murmur2 and the default partitioner put a key on the same partition as
// Kafka's Java producer. Vectors come from Kafka's UtilsTest.testMurmur2 and
// kafkajs's Java-compatible partitioner spec (generated with the Java client);
// random keys are cross-checked against kafkajs's implementation.
import { describe, expect, it } from 'vitest';
import { FjordError, Rng, murmur2, partitionForKey, toPositive } from '@fjord/protocol';
import { kafkajsMurmur2 } from './support/kafkajs.js';

const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');

describe('murmur2', () => {
  it("matches Kafka's UtilsTest.testMurmur2 vectors", () => {
    expect(murmur2(utf8('21'))).toBe(-973932308);
    expect(murmur2(utf8('foobar'))).toBe(-790332482);
    expect(murmur2(utf8('a-little-bit-long-string'))).toBe(-985981536);
    expect(murmur2(utf8('a-little-bit-longer-string'))).toBe(-1486304829);
    expect(murmur2(utf8('lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8'))).toBe(-58897971);
    expect(murmur2(new Uint8Array([97, 98, 99]))).toBe(479470107);
    expect(murmur2(new Uint8Array([12, 42, 56, 24, 109, 111]))).toBe(274204207);
  });

  it("matches the Java-generated vectors of kafkajs's default partitioner spec", () => {
    const vectors: Record<string, number> = {
      '0': 971027396,
      '1': -1993445489,
      '128': -326012175,
      '2187': -1508407203,
      '16384': -325739742,
      '78125': -1654490814,
      '279936': 1462227128,
      '823543': -2014198330,
      '2097152': 607668903,
      '4782969': -1182699775,
      '10000000': -1830336757,
      '19487171': -1603849305,
      '35831808': -857013643,
      '62748517': -1167431028,
      '105413504': -381294639,
      '170859375': -1658323481,
      '100:48069': 1009543857,
    };
    for (const [key, hash] of Object.entries(vectors)) expect(murmur2(utf8(key)), key).toBe(hash);
  });

  it('agrees with kafkajs on random keys of every length mod 4', () => {
    const rng = new Rng(21);
    for (let i = 0; i < 2000; i++) {
      const key = rng.bytes(rng.int(64));
      const ours = murmur2(key);
      if (ours !== kafkajsMurmur2(key)) expect.unreachable(`key ${key.toString('hex')}: ${ours} != ${kafkajsMurmur2(key)}`);
    }
    expect(murmur2(new Uint8Array(0))).toBe(kafkajsMurmur2(Buffer.alloc(0)));
  });

  it('partitionForKey = toPositive(murmur2(key)) % numPartitions, within range', () => {
    expect(toPositive(-1)).toBe(0x7fffffff);
    expect(toPositive(-(2 ** 31))).toBe(0);
    expect(toPositive(5)).toBe(5);
    expect(partitionForKey('21', 2 ** 31 - 1)).toBe((-973932308 & 0x7fffffff) % (2 ** 31 - 1));
    expect(partitionForKey('foobar', 12)).toBe((-790332482 & 0x7fffffff) % 12);
    expect(partitionForKey(utf8('foobar'), 12)).toBe(partitionForKey('foobar', 12));
    const rng = new Rng(22);
    for (let i = 0; i < 1000; i++) {
      const n = rng.intBetween(1, 1000);
      const p = partitionForKey(rng.bytes(rng.int(20)), n);
      expect(p >= 0 && p < n).toBe(true);
    }
    expect(partitionForKey('anything', 1)).toBe(0);
  });

  it('an invalid partition count is INVALID_PARTITIONS', () => {
    for (const bad of [0, -1, 1.5, Number.NaN, 2 ** 31]) {
      expect(() => partitionForKey('k', bad)).toThrow(FjordError);
      try {
        partitionForKey('k', bad);
      } catch (err) {
        expect(err).toMatchObject({ code: 'INVALID_PARTITIONS' });
      }
    }
  });
});
