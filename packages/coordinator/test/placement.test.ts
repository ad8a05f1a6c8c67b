// Goal: replica placement reproduces Kafka's AdminUtils assignments exactly
// (golden fixtures from AdminUtilsTest and AdminRackAwareTest), is
// deterministic whatever order brokers come in, balances leaders, spreads
// replicas across racks, and rejects impossible requests with typed errors.
import { describe, expect, it } from 'vitest';
import { Rng } from '@fjord/protocol';
import { assignReplicas, rackAlternatedBrokers, type PlacementBroker } from '../src/controller/placement.js';

const plain = (ids: number[]): PlacementBroker[] => ids.map((brokerId) => ({ brokerId, rack: null }));
const kafkaRackMap: PlacementBroker[] = [
  { brokerId: 0, rack: 'rack1' }, { brokerId: 1, rack: 'rack3' }, { brokerId: 2, rack: 'rack3' },
  { brokerId: 3, rack: 'rack2' }, { brokerId: 4, rack: 'rack2' }, { brokerId: 5, rack: 'rack1' },
];

function value<T>(r: { ok: true; value: T } | { ok: false }): T {
  if (!r.ok) throw new Error('expected ok');
  return r.value;
}

describe('assignReplicas', () => {
  it("matches Kafka's round-robin fixture (AdminUtilsTest.testReplicaAssignment)", () => {
    expect(value(assignReplicas({ brokers: plain([0, 1, 2, 3, 4]), partitionCount: 10, replicationFactor: 3, startIndex: 0, replicaShift: 0 }))).toEqual([
      [0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 0], [4, 0, 1], [0, 2, 3], [1, 3, 4], [2, 4, 0], [3, 0, 1], [4, 1, 2],
    ]);
  });

  it("matches Kafka's rack-aware fixture (AdminRackAwareTest)", () => {
    expect(rackAlternatedBrokers(kafkaRackMap).ids).toEqual([0, 3, 1, 5, 4, 2]);
    expect(rackAlternatedBrokers(kafkaRackMap.filter((b) => b.brokerId !== 5)).ids).toEqual([0, 3, 1, 4, 2]);
    expect(value(assignReplicas({ brokers: kafkaRackMap, partitionCount: 7, replicationFactor: 3, startIndex: 0, replicaShift: 0 }))).toEqual([
      [0, 3, 1], [3, 1, 5], [1, 5, 4], [5, 4, 2], [4, 2, 0], [2, 0, 3], [0, 4, 2],
    ]);
  });

  it('is deterministic and independent of input order', () => {
    const a = assignReplicas({ brokers: kafkaRackMap, partitionCount: 20, replicationFactor: 2, startIndex: 3, replicaShift: 4 });
    const b = assignReplicas({ brokers: [...kafkaRackMap].reverse(), partitionCount: 20, replicationFactor: 2, startIndex: 3, replicaShift: 4 });
    expect(a).toEqual(b);
  });

  it('continues the leader round-robin from startPartitionId when adding partitions', () => {
    const all = value(assignReplicas({ brokers: plain([1, 2, 3, 4]), partitionCount: 8, replicationFactor: 2, startIndex: 1, replicaShift: 2 }));
    const tail = value(assignReplicas({ brokers: plain([1, 2, 3, 4]), partitionCount: 3, replicationFactor: 2, startIndex: 1, replicaShift: 2, startPartitionId: 5 }));
    // Leaders continue the round-robin (the follower shift restarts from replicaShift, as in Kafka).
    expect(tail.map((r) => r[0])).toEqual(all.slice(5).map((r) => r[0]));
  });

  it('balances leaders and spreads replicas over racks (seeded random shapes)', () => {
    const rng = new Rng(42);
    for (let round = 0; round < 200; round++) {
      const n = rng.intBetween(1, 9);
      const racks = rng.intBetween(0, 4);
      const brokers = Array.from({ length: n }, (_, i) => ({ brokerId: i * 3 + 1, rack: racks === 0 ? null : `r${rng.int(racks)}` }));
      const rf = rng.intBetween(1, n);
      const count = rng.intBetween(1, 40);
      const out = value(assignReplicas({ brokers, partitionCount: count, replicationFactor: rf, startIndex: rng.int(100), replicaShift: rng.int(100) }));
      expect(out.length).toBe(count);
      const leaders = new Map<number, number>();
      const rackOf = new Map(brokers.map((b) => [b.brokerId, b.rack ?? `own-${b.brokerId}`]));
      const numRacks = new Set(rackOf.values()).size;
      for (const replicas of out) {
        expect(replicas.length).toBe(rf);
        expect(new Set(replicas).size).toBe(rf);
        for (const id of replicas) expect(rackOf.has(id)).toBe(true);
        leaders.set(replicas[0] as number, (leaders.get(replicas[0] as number) ?? 0) + 1);
        if (racks > 0) expect(new Set(replicas.map((id) => rackOf.get(id))).size).toBe(Math.min(rf, numRacks));
      }
      // Leaders go round-robin over the brokers: counts differ by at most one.
      const counts = brokers.map((b) => leaders.get(b.brokerId) ?? 0);
      expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
    }
  });

  it('rejects impossible requests with typed errors', () => {
    const code = (r: ReturnType<typeof assignReplicas>): string => (r.ok ? 'ok' : r.error.code);
    expect(code(assignReplicas({ brokers: plain([1, 2]), partitionCount: 0, replicationFactor: 1, startIndex: 0, replicaShift: 0 }))).toBe('INVALID_PARTITIONS');
    expect(code(assignReplicas({ brokers: plain([1, 2]), partitionCount: 1, replicationFactor: 3, startIndex: 0, replicaShift: 0 }))).toBe('INVALID_REPLICATION_FACTOR');
    expect(code(assignReplicas({ brokers: plain([1, 2]), partitionCount: 1, replicationFactor: 0, startIndex: 0, replicaShift: 0 }))).toBe('INVALID_REPLICATION_FACTOR');
    expect(code(assignReplicas({ brokers: [], partitionCount: 1, replicationFactor: 1, startIndex: 0, replicaShift: 0 }))).toBe('INVALID_REPLICATION_FACTOR');
    expect(code(assignReplicas({ brokers: plain([1, 1]), partitionCount: 1, replicationFactor: 1, startIndex: 0, replicaShift: 0 }))).toBe('INVALID_REQUEST');
  });
});
