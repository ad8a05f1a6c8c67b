// Goal: the metadata state machine applies every command as specified, and
// every invalid command returns a typed error and leaves the state exactly as
// it was (the same object, the same snapshot). Versions bump on every change
// and only then; broker epochs fence old incarnations; partition changes are
// guarded by partition, leader and broker epochs.
import { describe, expect, it } from 'vitest';
import { EMPTY_METADATA, applyCommand, type MetadataState } from '../src/metadata-state.js';
import { NO_LEADER, type MetadataCommand } from '../src/metadata-command.js';
import { checkInvariants } from '../src/metadata-snapshot.js';
import { cluster, epochOf, members, must, partition, register, rejected, tid } from './helpers.js';

function withTopic(state: MetadataState, name = 't', assignment: number[][] = [[1, 2, 3], [2, 3, 1]], configs: Record<string, string> = {}): MetadataState {
  return must(state, { kind: 'CreateTopic', name, topicId: tid(name.length * 7 + name.charCodeAt(0)), assignment, configs }).state;
}

describe('RegisterBroker', () => {
  it('registers a new broker fenced, with the new version as its epoch', () => {
    const { state, result } = must(EMPTY_METADATA, register(1));
    expect(result.version).toBe(1);
    expect(result.output).toEqual({ kind: 'RegisterBroker', brokerEpoch: 1 });
    expect(state.brokers.get(1)).toMatchObject({ brokerId: 1, brokerEpoch: 1, fenced: true, rack: null });
    expect(result.changes.brokers).toEqual([1]);
  });

  it('answers a retried registration of the same incarnation with the same epoch and no change', () => {
    const s1 = must(EMPTY_METADATA, register(1)).state;
    const retry = applyCommand(s1, register(1));
    expect(retry.state).toBe(s1);
    expect(retry.result).toMatchObject({ ok: true, version: 1, output: { brokerEpoch: 1 } });
  });

  it('gives a new incarnation a new epoch, fences it, and makes the old epoch stale', () => {
    let state = withTopic(cluster(3));
    const oldEpoch = epochOf(state, 1);
    state = must(state, register(1, 'inc-1-restarted')).state;
    expect(epochOf(state, 1)).toBe(state.version);
    expect(state.brokers.get(1)?.fenced).toBe(true);
    const p = partition(state, 't', 0);
    rejected(state, { kind: 'AlterPartition', brokerId: 1, brokerEpoch: oldEpoch, topicId: p.topicId, partition: 0, leaderEpoch: 0, partitionEpoch: 0, isr: members(state, [1, 2]) }, 'STALE_BROKER_EPOCH');
    rejected(state, { kind: 'AllocateProducerIds', brokerId: 1, brokerEpoch: oldEpoch, count: 10 }, 'STALE_BROKER_EPOCH');
    rejected(state, { kind: 'FenceBroker', brokerId: 1, brokerEpoch: oldEpoch }, 'STALE_BROKER_EPOCH');
  });

  it('rejects a changed description under the same incarnation, no endpoints, and duplicate endpoint names', () => {
    const s1 = must(EMPTY_METADATA, register(1)).state;
    rejected(s1, { ...register(1), rack: 'r1' } as MetadataCommand, 'INVALID_REQUEST');
    rejected(s1, { kind: 'RegisterBroker', brokerId: 2, incarnationId: 'x', endpoints: [], rack: null }, 'INVALID_REQUEST');
    const ep = { name: 'A', host: 'h', port: 1 };
    rejected(s1, { kind: 'RegisterBroker', brokerId: 2, incarnationId: 'x', endpoints: [ep, ep], rack: null }, 'INVALID_REQUEST');
  });
});

describe('FenceBroker / UnfenceBroker', () => {
  it('fences and unfences with the current epoch, bumping the version', () => {
    let state = cluster(2);
    const v = state.version;
    state = must(state, { kind: 'FenceBroker', brokerId: 2, brokerEpoch: epochOf(state, 2) }).state;
    expect(state.brokers.get(2)?.fenced).toBe(true);
    expect(state.version).toBe(v + 1);
    state = must(state, { kind: 'UnfenceBroker', brokerId: 2, brokerEpoch: epochOf(state, 2) }).state;
    expect(state.brokers.get(2)?.fenced).toBe(false);
  });

  it('rejects unknown brokers, stale epochs and no-op changes', () => {
    const state = cluster(2);
    rejected(state, { kind: 'FenceBroker', brokerId: 9, brokerEpoch: 1 }, 'STALE_BROKER_EPOCH');
    rejected(state, { kind: 'FenceBroker', brokerId: 2, brokerEpoch: epochOf(state, 2) + 1 }, 'STALE_BROKER_EPOCH');
    rejected(state, { kind: 'UnfenceBroker', brokerId: 2, brokerEpoch: epochOf(state, 2) }, 'INVALID_REQUEST');
    const fenced = must(state, { kind: 'FenceBroker', brokerId: 2, brokerEpoch: epochOf(state, 2) }).state;
    rejected(fenced, { kind: 'FenceBroker', brokerId: 2, brokerEpoch: epochOf(state, 2) }, 'INVALID_REQUEST');
  });

  it('refuses to unfence a broker that still leads a partition', () => {
    let state = withTopic(cluster(3));
    state = must(state, { kind: 'FenceBroker', brokerId: 1, brokerEpoch: epochOf(state, 1) }).state;
    expect(rejected(state, { kind: 'UnfenceBroker', brokerId: 1, brokerEpoch: epochOf(state, 1) }, 'INVALID_REQUEST')).toMatch(/still leads t-0/);
    const p = partition(state, 't', 0);
    state = must(state, { kind: 'ElectLeader', topicId: p.topicId, partition: 0, leader: 2, isr: [2, 3], partitionEpoch: p.partitionEpoch, unclean: false }).state;
    expect(must(state, { kind: 'UnfenceBroker', brokerId: 1, brokerEpoch: epochOf(state, 1) }).state.brokers.get(1)?.fenced).toBe(false);
  });
});

describe('CreateTopic', () => {
  it('creates partitions led by the first unfenced replica, ISR = unfenced replicas', () => {
    let state = cluster(3);
    state = must(state, { kind: 'FenceBroker', brokerId: 1, brokerEpoch: epochOf(state, 1) }).state;
    const { state: s, result } = must(state, {
      kind: 'CreateTopic', name: 'orders', topicId: tid(1), assignment: [[1, 2, 3], [3, 1, 2]], configs: { 'retention.ms': ' 1000 ', 'unclean.leader.election.enable': 'TRUE' },
    });
    expect(result.output).toEqual({ kind: 'CreateTopic', topicId: tid(1) });
    expect(result.changes.createdTopics).toEqual(['orders']);
    expect(partition(s, 'orders', 0)).toMatchObject({ leader: 2, isr: [2, 3], leaderEpoch: 0, partitionEpoch: 0 });
    expect(partition(s, 'orders', 1)).toMatchObject({ leader: 3, isr: [3, 2] });
    // Configs are stored in canonical form.
    expect(s.topics.get('orders')?.configs).toEqual({ 'retention.ms': '1000', 'unclean.leader.election.enable': 'true' });
    expect(s.topicNamesById.get(tid(1))).toBe('orders');
    expect(checkInvariants(s)).toEqual([]);
  });

  it('rejects bad names, duplicates, bad partition counts, bad assignments and bad configs', () => {
    const state = withTopic(cluster(3), 't');
    const base = { kind: 'CreateTopic' as const, name: 'u', topicId: tid(99), assignment: [[1, 2]], configs: {} };
    rejected(state, { ...base, name: 'bad name!' }, 'INVALID_TOPIC');
    rejected(state, { ...base, name: '..' }, 'INVALID_TOPIC');
    rejected(state, { ...base, name: 't' }, 'TOPIC_ALREADY_EXISTS');
    const dotted = must(state, { ...base, name: 'a.b', topicId: tid(98) }).state;
    expect(rejected(dotted, { ...base, name: 'a_b' }, 'INVALID_TOPIC')).toMatch(/collides with existing topic a\.b/);
    rejected(state, { ...base, topicId: partition(state, 't', 0).topicId }, 'INVALID_REQUEST');
    rejected(state, { ...base, assignment: [] }, 'INVALID_PARTITIONS');
    rejected(state, { ...base, assignment: [[1, 2], [1]] }, 'INVALID_REPLICA_ASSIGNMENT');
    rejected(state, { ...base, assignment: [[1, 1]] }, 'INVALID_REPLICA_ASSIGNMENT');
    rejected(state, { ...base, assignment: [[]] }, 'INVALID_REPLICA_ASSIGNMENT');
    rejected(state, { ...base, assignment: [[1, 7]] }, 'INVALID_REPLICA_ASSIGNMENT');
    rejected(state, { ...base, configs: { 'no.such.key': '1' } }, 'INVALID_CONFIG');
    rejected(state, { ...base, configs: { 'retention.ms': 'soon' } }, 'INVALID_CONFIG');
    let fenced = state;
    for (const id of [1, 2]) fenced = must(fenced, { kind: 'FenceBroker', brokerId: id, brokerEpoch: epochOf(fenced, id) }).state;
    rejected(fenced, base, 'INVALID_REPLICA_ASSIGNMENT');
  });
});

describe('DeleteTopic', () => {
  it('deletes by name and id', () => {
    const state = withTopic(cluster(3));
    const topicId = partition(state, 't', 0).topicId;
    const { state: s, result } = must(state, { kind: 'DeleteTopic', name: 't', topicId });
    expect(s.topics.has('t')).toBe(false);
    expect(s.topicNamesById.has(topicId)).toBe(false);
    expect(result.changes.deletedTopics).toEqual([{ name: 't', topicId }]);
  });

  it('rejects unknown topics and id mismatches (a recreated topic is another topic)', () => {
    const state = withTopic(cluster(3));
    rejected(state, { kind: 'DeleteTopic', name: 'nope', topicId: tid(5) }, 'UNKNOWN_TOPIC_OR_PARTITION');
    rejected(state, { kind: 'DeleteTopic', name: 't', topicId: tid(5) }, 'UNKNOWN_TOPIC_OR_PARTITION');
  });
});

describe('CreatePartitions', () => {
  it('appends partitions with the next indexes', () => {
    const state = withTopic(cluster(3));
    const topicId = partition(state, 't', 0).topicId;
    const { state: s, result } = must(state, { kind: 'CreatePartitions', topicId, assignment: [[3, 1, 2]] });
    expect(s.topics.get('t')?.partitions.length).toBe(3);
    expect(partition(s, 't', 2)).toMatchObject({ leader: 3, replicas: [3, 1, 2] });
    expect(result.changes.partitions).toEqual([{ topicId, partition: 2 }]);
  });

  it('rejects unknown topics, no new partitions, too many, and a different replication factor', () => {
    const state = withTopic(cluster(3));
    const topicId = partition(state, 't', 0).topicId;
    rejected(state, { kind: 'CreatePartitions', topicId: tid(77), assignment: [[1, 2, 3]] }, 'UNKNOWN_TOPIC_OR_PARTITION');
    rejected(state, { kind: 'CreatePartitions', topicId, assignment: [] }, 'INVALID_PARTITIONS');
    rejected(state, { kind: 'CreatePartitions', topicId, assignment: Array.from({ length: 9_999 }, () => [1, 2, 3]) }, 'INVALID_PARTITIONS');
    rejected(state, { kind: 'CreatePartitions', topicId, assignment: [[1, 2]] }, 'INVALID_REPLICA_ASSIGNMENT');
  });
});

describe('AlterPartition', () => {
  const setup = (): { state: MetadataState; topicId: string } => {
    const state = withTopic(cluster(3));
    return { state, topicId: partition(state, 't', 0).topicId };
  };

  it('shrinks and expands the ISR, bumping only the partition epoch', () => {
    const { state, topicId } = setup();
    const alter = { kind: 'AlterPartition' as const, brokerId: 1, brokerEpoch: epochOf(state, 1), topicId, partition: 0, leaderEpoch: 0 };
    const shrunk = must(state, { ...alter, partitionEpoch: 0, isr: members(state, [1, 3]) });
    expect(shrunk.result.output).toMatchObject({ kind: 'AlterPartition', partition: { isr: [1, 3], leaderEpoch: 0, partitionEpoch: 1 } });
    expect(shrunk.result.changes.partitions).toEqual([{ topicId, partition: 0 }]);
    const grown = must(shrunk.state, { ...alter, partitionEpoch: 1, isr: members(state, [1, 3, 2]) });
    expect(partition(grown.state, 't', 0)).toMatchObject({ isr: [1, 3, 2], partitionEpoch: 2, leaderEpoch: 0 });
  });

  it('answers an unchanged ISR without a new version', () => {
    const { state, topicId } = setup();
    const same = applyCommand(state, { kind: 'AlterPartition', brokerId: 1, brokerEpoch: epochOf(state, 1), topicId, partition: 0, leaderEpoch: 0, partitionEpoch: 0, isr: members(state, [3, 2, 1]) });
    expect(same.state).toBe(state);
    expect(same.result).toMatchObject({ ok: true, version: state.version });
  });

  it('rejects stale epochs, non-leaders and bad ISRs, in Kafka order', () => {
    const { state, topicId } = setup();
    const good = { kind: 'AlterPartition' as const, brokerId: 1, brokerEpoch: epochOf(state, 1), topicId, partition: 0, leaderEpoch: 0, partitionEpoch: 0, isr: members(state, [1, 2]) };
    const moved = must(state, { ...good }).state; // partitionEpoch is now 1
    rejected(moved, good, 'INVALID_UPDATE_VERSION');
    rejected(state, { ...good, brokerEpoch: 999 }, 'STALE_BROKER_EPOCH');
    rejected(state, { ...good, brokerId: 42 }, 'STALE_BROKER_EPOCH');
    rejected(state, { ...good, topicId: tid(4242) }, 'UNKNOWN_TOPIC_OR_PARTITION');
    rejected(state, { ...good, partition: 7 }, 'UNKNOWN_TOPIC_OR_PARTITION');
    rejected(state, { ...good, brokerId: 2, brokerEpoch: epochOf(state, 2) }, 'NOT_LEADER_OR_FOLLOWER');
    rejected(state, { ...good, isr: members(state, [1, 1]) }, 'INVALID_REQUEST');
    rejected(state, { ...good, isr: members(state, [1, 4]) }, 'INVALID_REQUEST');
    rejected(state, { ...good, isr: members(state, [2, 3]) }, 'INVALID_REQUEST');
    rejected(state, { ...good, isr: [] }, 'INVALID_REQUEST');
    // A leader epoch older than the partition's is fenced; a newer one is unknown.
    const elected = must(state, { kind: 'ElectLeader', topicId, partition: 0, leader: 2, isr: [1, 2, 3], partitionEpoch: 0, unclean: false }).state;
    rejected(elected, { ...good, partitionEpoch: 1 }, 'FENCED_LEADER_EPOCH');
    rejected(state, { ...good, leaderEpoch: 5 }, 'UNKNOWN_LEADER_EPOCH');
  });

  it('refuses ISR changes from a fenced leader', () => {
    const { state, topicId } = setup();
    const fenced = must(state, { kind: 'FenceBroker', brokerId: 1, brokerEpoch: epochOf(state, 1) }).state;
    rejected(fenced, { kind: 'AlterPartition', brokerId: 1, brokerEpoch: epochOf(state, 1), topicId, partition: 0, leaderEpoch: 0, partitionEpoch: 0, isr: members(state, [1]) }, 'NOT_LEADER_OR_FOLLOWER');
  });

  it('refuses to add a fenced broker (KIP-841) or a restarted one (KIP-903), but lets a fenced one stay', () => {
    const { state, topicId } = setup();
    const alter = { kind: 'AlterPartition' as const, brokerId: 1, brokerEpoch: epochOf(state, 1), topicId, partition: 0, leaderEpoch: 0 };
    const shrunk = must(state, { ...alter, partitionEpoch: 0, isr: members(state, [1, 2]) }).state;
    const fenced = must(shrunk, { kind: 'FenceBroker', brokerId: 3, brokerEpoch: epochOf(state, 3) }).state;
    rejected(fenced, { ...alter, partitionEpoch: 1, isr: members(state, [1, 2, 3]) }, 'INVALID_REQUEST');
    // Broker 3 restarts (new epoch) and is unfenced; the leader saw the old incarnation catch up.
    let restarted = must(shrunk, register(3, 'inc-3-b')).state;
    restarted = must(restarted, { kind: 'UnfenceBroker', brokerId: 3, brokerEpoch: epochOf(restarted, 3) }).state;
    expect(rejected(restarted, { ...alter, partitionEpoch: 1, isr: members(state, [1, 2, 3]) }, 'INVALID_REQUEST')).toMatch(/restarted/);
    expect(partition(must(restarted, { ...alter, partitionEpoch: 1, isr: members(restarted, [1, 2, 3]) }).state, 't', 0).isr).toEqual([1, 2, 3]);
    // A fenced member that is already in the ISR may stay.
    const f2 = must(fenced, { kind: 'FenceBroker', brokerId: 2, brokerEpoch: epochOf(state, 2) }).state;
    const kept = must(f2, { ...alter, partitionEpoch: 1, isr: members(state, [1, 2]) });
    expect(partition(kept.state, 't', 0).isr).toEqual([1, 2]);
  });
});

describe('ElectLeader', () => {
  const setup = (configs: Record<string, string> = {}): { state: MetadataState; topicId: string } => {
    const state = withTopic(cluster(3), 't', [[1, 2, 3]], configs);
    return { state, topicId: partition(state, 't', 0).topicId };
  };

  it('elects an ISR member, bumping leader and partition epochs', () => {
    const { state, topicId } = setup();
    const { state: s, result } = must(state, { kind: 'ElectLeader', topicId, partition: 0, leader: 2, isr: [2, 3], partitionEpoch: 0, unclean: false });
    expect(partition(s, 't', 0)).toMatchObject({ leader: 2, isr: [2, 3], leaderEpoch: 1, partitionEpoch: 1 });
    expect(result.output).toMatchObject({ kind: 'ElectLeader', partition: { leader: 2 } });
  });

  it('takes a partition offline keeping its last ISR, and elects from it again later', () => {
    const { state, topicId } = setup();
    const offline = must(state, { kind: 'ElectLeader', topicId, partition: 0, leader: NO_LEADER, isr: [1, 2, 3], partitionEpoch: 0, unclean: false }).state;
    expect(partition(offline, 't', 0)).toMatchObject({ leader: -1, leaderEpoch: 1, partitionEpoch: 1 });
    const back = must(offline, { kind: 'ElectLeader', topicId, partition: 0, leader: 3, isr: [3], partitionEpoch: 1, unclean: false }).state;
    expect(partition(back, 't', 0)).toMatchObject({ leader: 3, isr: [3], leaderEpoch: 2 });
  });

  it('rejects stale epochs, fenced or out-of-ISR leaders, ISR growth and no-ops', () => {
    const { state, topicId } = setup();
    const e = { kind: 'ElectLeader' as const, topicId, partition: 0, partitionEpoch: 0, unclean: false };
    rejected(state, { ...e, leader: 2, isr: [2], partitionEpoch: 3 }, 'INVALID_UPDATE_VERSION');
    rejected(state, { ...e, topicId: tid(31337), leader: 2, isr: [2] }, 'UNKNOWN_TOPIC_OR_PARTITION');
    rejected(state, { ...e, leader: 4, isr: [4] }, 'INVALID_REQUEST');
    rejected(state, { ...e, leader: 2, isr: [3] }, 'INVALID_REQUEST');
    rejected(state, { ...e, leader: 2, isr: [2, 2] }, 'INVALID_REQUEST');
    rejected(state, { ...e, leader: 1, isr: [1, 2, 3] }, 'INVALID_REQUEST');
    const fenced = must(state, { kind: 'FenceBroker', brokerId: 2, brokerEpoch: epochOf(state, 2) }).state;
    rejected(fenced, { ...e, leader: 2, isr: [2, 3] }, 'ELIGIBLE_LEADERS_NOT_AVAILABLE');
    const shrunk = must(state, { kind: 'ShrinkIsr', topicId, partition: 0, isr: [1, 2], partitionEpoch: 0 }).state;
    rejected(shrunk, { ...e, partitionEpoch: 1, leader: 3, isr: [3] }, 'ELIGIBLE_LEADERS_NOT_AVAILABLE');
    rejected(shrunk, { ...e, partitionEpoch: 1, leader: 2, isr: [2, 3] }, 'INVALID_REQUEST');
    rejected(shrunk, { ...e, partitionEpoch: 1, leader: NO_LEADER, isr: [1, 2, 3] }, 'INVALID_REQUEST');
  });

  it('allows unclean election only when the topic opted in and no in-sync replica is left', () => {
    for (const configs of [{}, { 'unclean.leader.election.enable': 'true' }] as Record<string, string>[]) {
      const { state, topicId } = setup(configs);
      // ISR shrinks to [1], then 1 dies: 2 and 3 are alive but out of sync.
      let s = must(state, { kind: 'ShrinkIsr', topicId, partition: 0, isr: [1], partitionEpoch: 0 }).state;
      const unclean = { kind: 'ElectLeader' as const, topicId, partition: 0, leader: 2, isr: [2], partitionEpoch: 1, unclean: true };
      rejected(s, unclean, 'INVALID_REQUEST'); // broker 1 is still alive and in sync
      s = must(s, { kind: 'FenceBroker', brokerId: 1, brokerEpoch: epochOf(s, 1) }).state;
      rejected(s, { ...unclean, unclean: false }, 'ELIGIBLE_LEADERS_NOT_AVAILABLE');
      if (Object.keys(configs).length === 0) {
        rejected(s, unclean, 'POLICY_VIOLATION');
      } else {
        rejected(s, { ...unclean, isr: [2, 3] }, 'INVALID_REQUEST');
        rejected(s, { ...unclean, leader: NO_LEADER, isr: [] }, 'INVALID_REQUEST');
        const after = must(s, unclean).state;
        expect(partition(after, 't', 0)).toMatchObject({ leader: 2, isr: [2], leaderEpoch: 1, partitionEpoch: 2 });
      }
    }
  });
});

describe('ShrinkIsr', () => {
  it('drops followers, keeps the leader, bumps the partition epoch only', () => {
    const state = withTopic(cluster(3), 't', [[1, 2, 3]]);
    const topicId = partition(state, 't', 0).topicId;
    const s = must(state, { kind: 'ShrinkIsr', topicId, partition: 0, isr: [1, 3], partitionEpoch: 0 }).state;
    expect(partition(s, 't', 0)).toMatchObject({ leader: 1, isr: [1, 3], leaderEpoch: 0, partitionEpoch: 1 });
  });

  it('rejects stale epochs, dropping the leader, non-shrinks and offline partitions', () => {
    const state = withTopic(cluster(3), 't', [[1, 2, 3]]);
    const topicId = partition(state, 't', 0).topicId;
    const sh = { kind: 'ShrinkIsr' as const, topicId, partition: 0, partitionEpoch: 0 };
    rejected(state, { ...sh, isr: [1], partitionEpoch: 1 }, 'INVALID_UPDATE_VERSION');
    rejected(state, { ...sh, partition: 3, isr: [1] }, 'UNKNOWN_TOPIC_OR_PARTITION');
    rejected(state, { ...sh, isr: [2, 3] }, 'INVALID_REQUEST');
    rejected(state, { ...sh, isr: [1, 2, 3] }, 'INVALID_REQUEST');
    rejected(state, { ...sh, isr: [1, 1] }, 'INVALID_REQUEST');
    const offline = must(state, { kind: 'ElectLeader', topicId, partition: 0, leader: NO_LEADER, isr: [1, 2, 3], partitionEpoch: 0, unclean: false }).state;
    rejected(offline, { ...sh, partitionEpoch: 1, isr: [1] }, 'INVALID_REQUEST');
  });
});

describe('AllocateProducerIds', () => {
  it('hands out consecutive blocks', () => {
    let state = cluster(2);
    const a = must(state, { kind: 'AllocateProducerIds', brokerId: 1, brokerEpoch: epochOf(state, 1), count: 1000 });
    state = a.state;
    const b = must(state, { kind: 'AllocateProducerIds', brokerId: 2, brokerEpoch: epochOf(state, 2), count: 10 });
    expect(a.result.output).toEqual({ kind: 'AllocateProducerIds', firstProducerId: 0, count: 1000 });
    expect(b.result.output).toEqual({ kind: 'AllocateProducerIds', firstProducerId: 1000, count: 10 });
    expect(b.state.nextProducerId).toBe(1010);
    expect(b.result.version).toBe(a.result.version + 1);
  });

  it('rejects stale brokers and bad block sizes', () => {
    const state = cluster(1);
    rejected(state, { kind: 'AllocateProducerIds', brokerId: 1, brokerEpoch: 0, count: 1 }, 'STALE_BROKER_EPOCH');
    rejected(state, { kind: 'AllocateProducerIds', brokerId: 1, brokerEpoch: epochOf(state, 1), count: 0 }, 'INVALID_REQUEST');
    rejected(state, { kind: 'AllocateProducerIds', brokerId: 1, brokerEpoch: epochOf(state, 1), count: 2_000_000 }, 'INVALID_REQUEST');
    rejected({ ...state, nextProducerId: Number.MAX_SAFE_INTEGER - 5 }, { kind: 'AllocateProducerIds', brokerId: 1, brokerEpoch: epochOf(state, 1), count: 10 }, 'UNKNOWN_SERVER_ERROR');
  });
});

describe('determinism', () => {
  it('the same commands give the same state, and the input state is never mutated', () => {
    const commands: MetadataCommand[] = [register(1), register(2), { kind: 'UnfenceBroker', brokerId: 1, brokerEpoch: 1 }, { kind: 'UnfenceBroker', brokerId: 2, brokerEpoch: 2 }];
    const run = (): MetadataState => commands.reduce((s, c) => applyCommand(s, c).state, EMPTY_METADATA);
    const a = run();
    const frozenCopy = JSON.stringify([...a.brokers.values()]);
    const b = must(a, { kind: 'CreateTopic', name: 'x', topicId: tid(3), assignment: [[1, 2]], configs: {} }).state;
    expect(JSON.stringify([...a.brokers.values()])).toBe(frozenCopy);
    expect(a.topics.size).toBe(0);
    expect(b.topics.size).toBe(1);
    expect(run()).toEqual(a);
  });
});
