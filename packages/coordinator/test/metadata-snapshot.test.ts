// Goal: a snapshot of the metadata state is JSON-safe, deterministic (same
// state, same bytes) and restores to an equal state; a malformed or
// inconsistent snapshot is a typed INVALID_REQUEST, never a crash.
import { describe, expect, it } from 'vitest';
import { Rng } from '@fjord/protocol';
import { EMPTY_METADATA } from '../src/metadata-state.js';
import { checkInvariants, decodeSnapshot, encodeSnapshot, fromSnapshot, toSnapshot } from '../src/metadata-snapshot.js';
import { cluster, epochOf, must, tid } from './helpers.js';

function sampleState(): ReturnType<typeof cluster> {
  let state = cluster(4, ['a', 'b']);
  state = must(state, { kind: 'CreateTopic', name: 'b-topic', topicId: tid(2), assignment: [[1, 2], [3, 4]], configs: { 'cleanup.policy': 'compact' } }).state;
  state = must(state, { kind: 'CreateTopic', name: 'a-topic', topicId: tid(1), assignment: [[2, 3, 4]], configs: {} }).state;
  state = must(state, { kind: 'FenceBroker', brokerId: 2, brokerEpoch: epochOf(state, 2) }).state;
  state = must(state, { kind: 'ElectLeader', topicId: tid(1), partition: 0, leader: 3, isr: [3, 4], partitionEpoch: 0, unclean: false }).state;
  state = must(state, { kind: 'AllocateProducerIds', brokerId: 1, brokerEpoch: epochOf(state, 1), count: 100 }).state;
  return state;
}

describe('metadata snapshot', () => {
  it('round-trips through JSON bytes to an equal state', () => {
    const state = sampleState();
    const bytes = encodeSnapshot(state);
    const restored = decodeSnapshot(bytes);
    expect(restored.ok).toBe(true);
    if (!restored.ok) return;
    expect(restored.value).toEqual(state);
    expect(encodeSnapshot(restored.value)).toEqual(bytes);
    expect(checkInvariants(restored.value)).toEqual([]);
    expect(toSnapshot(state).topics.map((t) => t.name)).toEqual(['a-topic', 'b-topic']);
  });

  it('restores the empty state', () => {
    expect(fromSnapshot(JSON.parse(JSON.stringify(toSnapshot(EMPTY_METADATA))))).toEqual({ ok: true, value: EMPTY_METADATA });
  });

  it('rejects malformed and inconsistent snapshots with INVALID_REQUEST', () => {
    const good = JSON.parse(JSON.stringify(toSnapshot(sampleState()))) as Record<string, unknown> & { topics: Record<string, unknown>[]; brokers: Record<string, unknown>[] };
    const variants: unknown[] = [
      null, [], {}, { ...good, format: 2 }, { ...good, extra: 1 }, { ...good, version: -1 },
      { ...good, brokers: [...good.brokers, good.brokers[0]] },
      { ...good, topics: [...good.topics, good.topics[0]] },
      { ...good, topics: [{ ...good.topics[0], partitions: [{ partition: 0, replicas: [1], leader: 2, leaderEpoch: 1, isr: [1], partitionEpoch: 1 }] }] },
      { ...good, topics: [{ ...good.topics[0], partitions: [{ partition: 1, replicas: [1], leader: 1, leaderEpoch: 1, isr: [1], partitionEpoch: 1 }] }] },
      { ...good, topics: [{ ...good.topics[0], partitions: [{ partition: 0, replicas: [99], leader: 99, leaderEpoch: 1, isr: [99], partitionEpoch: 1 }] }] },
      { ...good, brokers: [{ ...good.brokers[0], brokerEpoch: 10_000 }] },
    ];
    for (const v of variants) {
      const r = fromSnapshot(v);
      expect(r.ok, JSON.stringify(v)?.slice(0, 200)).toBe(false);
      if (!r.ok) expect(r.error.code).toBe('INVALID_REQUEST');
    }
    for (const bytes of [new Uint8Array(0), Uint8Array.from([0xff]), new TextEncoder().encode('{"format":1')]) {
      expect(decodeSnapshot(bytes).ok).toBe(false);
    }
  });

  it('never throws on mutated snapshot bytes (seeded)', () => {
    const rng = new Rng(7);
    const base = encodeSnapshot(sampleState());
    for (let i = 0; i < 1000; i++) {
      const bytes = Uint8Array.from(base);
      for (let f = 0; f < 1 + rng.int(3); f++) bytes[rng.int(bytes.length)] = rng.int(256);
      expect(() => decodeSnapshot(bytes)).not.toThrow();
    }
  });
});
