/**
 * Replica placement for new topics and partitions: a port of the behaviour of
 * Kafka's AdminUtils.assignReplicasToBrokers (rack-unaware and rack-aware).
 *
 * - Round-robin: partition p's first replica is broker (p + startIndex) mod n;
 *   the followers are spread with a shift that grows every n partitions, so
 *   leaders and followers are balanced and a broker's followers are not all
 *   on one other broker.
 * - Rack-aware: brokers are first arranged rack-alternated (a1, b1, c1, a2,
 *   b2, ...), then each partition takes at most one replica per rack until
 *   every rack has one (and at most one per broker), so losing a rack leaves
 *   a replica of every partition.
 *
 * Deterministic: the result depends only on the inputs; brokers are sorted by
 * id whatever order they come in. Kafka picks startIndex and replicaShift at
 * random; here the caller passes them (from an injected Rng, or 0 in tests).
 * When only some brokers have a rack, each rackless broker counts as a rack
 * of its own (Kafka refuses that mix; spreading is the safer reading).
 */
import { fail, ok, type Result } from '../result.js';
import { METADATA_LIMITS } from '../metadata-command.js';

export interface PlacementBroker {
  readonly brokerId: number;
  readonly rack: string | null;
}

export interface PlacementInput {
  /** The brokers that may hold replicas (the caller passes the unfenced ones). */
  readonly brokers: readonly PlacementBroker[];
  readonly partitionCount: number;
  readonly replicationFactor: number;
  /** Index of the first new partition (the existing count, when adding partitions). */
  readonly startPartitionId?: number;
  /** Any non-negative integer; reduced modulo the broker count. */
  readonly startIndex: number;
  /** Any non-negative integer; reduced modulo the broker count. */
  readonly replicaShift: number;
}

/** assignment[i] = replicas of partition startPartitionId + i, preferred leader first. */
export function assignReplicas(input: PlacementInput): Result<number[][]> {
  const { partitionCount, replicationFactor } = input;
  const brokers = [...input.brokers].sort((a, b) => a.brokerId - b.brokerId);
  const n = brokers.length;
  if (!Number.isSafeInteger(partitionCount) || partitionCount < 1 || partitionCount > METADATA_LIMITS.maxPartitionsPerTopic) {
    return fail('INVALID_PARTITIONS', `${partitionCount} partitions, must be 1..${METADATA_LIMITS.maxPartitionsPerTopic}`);
  }
  if (!Number.isSafeInteger(replicationFactor) || replicationFactor < 1) {
    return fail('INVALID_REPLICATION_FACTOR', `replication factor ${replicationFactor} must be at least 1`);
  }
  if (replicationFactor > n) {
    return fail('INVALID_REPLICATION_FACTOR', `replication factor ${replicationFactor} is larger than the ${n} available brokers`);
  }
  if (new Set(brokers.map((b) => b.brokerId)).size !== n) return fail('INVALID_REQUEST', 'duplicate broker ids in placement input');
  const startIndex = Math.abs(Math.trunc(input.startIndex)) % n;
  const shift = Math.abs(Math.trunc(input.replicaShift)) % n;
  const startPartitionId = Math.max(0, input.startPartitionId ?? 0);
  const racked = brokers.some((b) => b.rack !== null);
  return ok(
    racked
      ? rackAware(brokers, partitionCount, replicationFactor, startPartitionId, startIndex, shift)
      : roundRobin(brokers.map((b) => b.brokerId), partitionCount, replicationFactor, startPartitionId, startIndex, shift),
  );
}

/** Kafka's replicaIndex: the follower `index` positions after the first replica, skipping it. */
function replicaIndex(firstReplicaIndex: number, secondReplicaShift: number, index: number, n: number): number {
  const shift = 1 + ((secondReplicaShift + index) % (n - 1));
  return (firstReplicaIndex + shift) % n;
}

function roundRobin(ids: readonly number[], count: number, rf: number, startPartitionId: number, startIndex: number, shift: number): number[][] {
  const n = ids.length;
  const out: number[][] = [];
  let nextReplicaShift = shift;
  let partitionId = startPartitionId;
  for (let i = 0; i < count; i++, partitionId++) {
    if (partitionId > 0 && partitionId % n === 0) nextReplicaShift++;
    const first = (partitionId + startIndex) % n;
    const replicas = [ids[first] as number];
    for (let j = 0; j < rf - 1; j++) replicas.push(ids[replicaIndex(first, nextReplicaShift, j, n)] as number);
    out.push(replicas);
  }
  return out;
}

/** Kafka's getRackAlternatedBrokerList: one broker from each rack in turn, racks and brokers in order. */
export function rackAlternatedBrokers(brokers: readonly PlacementBroker[]): { ids: number[]; rackOf: Map<number, string> } {
  const byRack = new Map<string, number[]>();
  const rackOf = new Map<number, string>();
  for (const b of [...brokers].sort((x, y) => x.brokerId - y.brokerId)) {
    const rack = b.rack ?? `\u0000broker-${b.brokerId}`;
    rackOf.set(b.brokerId, rack);
    const list = byRack.get(rack) ?? [];
    list.push(b.brokerId);
    byRack.set(rack, list);
  }
  const racks = [...byRack.keys()].sort();
  const cursors = new Map<string, number>(racks.map((r) => [r, 0]));
  const ids: number[] = [];
  for (let r = 0; ids.length < brokers.length; r = (r + 1) % racks.length) {
    const rack = racks[r] as string;
    const list = byRack.get(rack) as number[];
    const at = cursors.get(rack) as number;
    if (at < list.length) {
      ids.push(list[at] as number);
      cursors.set(rack, at + 1);
    }
  }
  return { ids, rackOf };
}

function rackAware(
  brokers: readonly PlacementBroker[],
  count: number,
  rf: number,
  startPartitionId: number,
  startIndex: number,
  shift: number,
): number[][] {
  const { ids, rackOf } = rackAlternatedBrokers(brokers);
  const n = ids.length;
  const numRacks = new Set(rackOf.values()).size;
  const out: number[][] = [];
  let nextReplicaShift = shift;
  let partitionId = startPartitionId;
  for (let i = 0; i < count; i++, partitionId++) {
    if (partitionId > 0 && partitionId % n === 0) nextReplicaShift++;
    const first = (partitionId + startIndex) % n;
    const leader = ids[first] as number;
    const replicas = [leader];
    const racksWithReplicas = new Set([rackOf.get(leader)]);
    const brokersWithReplicas = new Set([leader]);
    let k = 0;
    for (let j = 0; j < rf - 1; j++) {
      for (;;) {
        const broker = ids[replicaIndex(first, nextReplicaShift * numRacks, k, n)] as number;
        const rack = rackOf.get(broker);
        k++;
        // Take a new rack while one is left, and a new broker while one is left.
        if ((!racksWithReplicas.has(rack) || racksWithReplicas.size === numRacks) && (!brokersWithReplicas.has(broker) || brokersWithReplicas.size === n)) {
          replicas.push(broker);
          racksWithReplicas.add(rack);
          brokersWithReplicas.add(broker);
          break;
        }
      }
    }
    out.push(replicas);
  }
  return out;
}
