// Goal: requests as they come off the wire (real protobuf encoding, decoded
// with the loader's options) turn into planner inputs; a malformed request is
// a whole-request INVALID_REQUEST, a bad item is that item's error. The
// issue's "bad input" list end to end for CreateTopics: invalid names,
// duplicates, zero or negative partitions, a replication factor above the
// live brokers, unknown or ill-typed configs, each with its own code.
import { describe, expect, it } from 'vitest';
import { Rng, isFjordError } from '@fjord/protocol';
import { loadFjordGrpc } from '@fjord/protocol';
import {
  alterPartitionFromWire,
  allocateProducerIdsFromWire,
  createPartitionsFromWire,
  createTopicsFromWire,
  deleteTopicsFromWire,
  electLeadersFromWire,
  getMetadataFromWire,
  heartbeatFromWire,
  registerBrokerFromWire,
  watchMetadataFromWire,
} from '../src/wire-requests.js';
import { planCreateTopics } from '../src/controller/topic-admin.js';
import { newTopicId } from '../src/controller/topic-id.js';
import { cluster, must, tid } from './helpers.js';

interface MethodDef {
  requestSerialize: (v: unknown) => Buffer;
  requestDeserialize: (b: Buffer) => unknown;
}
const service = loadFjordGrpc().coordinator.service as unknown as Record<string, MethodDef>;

/** What a handler receives for `value` sent by a client. */
function wire(method: string, value: unknown): unknown {
  const m = service[method] as MethodDef;
  return m.requestDeserialize(m.requestSerialize(value));
}

function invalid(parse: () => unknown): string {
  try {
    parse();
  } catch (e) {
    expect(isFjordError(e, 'INVALID_REQUEST'), String(e)).toBe(true);
    return (e as Error).message;
  }
  throw new Error('expected INVALID_REQUEST');
}

describe('broker requests', () => {
  it('parses RegisterBroker (empty rack is none) and checks the cluster id', () => {
    const request = { brokerId: 3, incarnationId: 'abc', endpoints: [{ name: 'PLAINTEXT', host: 'h', port: 9092 }], rack: '', clusterId: 'c1' };
    expect(registerBrokerFromWire(wire('RegisterBroker', request), 'c1')).toEqual({
      kind: 'RegisterBroker', brokerId: 3, incarnationId: 'abc', endpoints: [{ name: 'PLAINTEXT', host: 'h', port: 9092 }], rack: null,
    });
    expect(registerBrokerFromWire(wire('RegisterBroker', { ...request, clusterId: '', rack: 'r1' }), 'c1').rack).toBe('r1');
    expect(invalid(() => registerBrokerFromWire(wire('RegisterBroker', request), 'other'))).toMatch(/cluster id/);
    invalid(() => registerBrokerFromWire(wire('RegisterBroker', { ...request, incarnationId: '' }), 'c1'));
    invalid(() => registerBrokerFromWire(wire('RegisterBroker', { ...request, endpoints: [{ name: 'P', host: 'h', port: 70000 }] }), 'c1'));
    invalid(() => registerBrokerFromWire(wire('RegisterBroker', { ...request, brokerId: -1 }), 'c1'));
  });

  it('parses heartbeats and refuses unsafe int64 epochs', () => {
    expect(heartbeatFromWire(wire('BrokerHeartbeat', { brokerId: 1, brokerEpoch: 7, wantFence: true, metadataVersion: 12 }))).toEqual({
      brokerId: 1, brokerEpoch: 7, wantFence: true, metadataVersion: 12,
    });
    invalid(() => heartbeatFromWire(wire('BrokerHeartbeat', { brokerId: 1, brokerEpoch: '9007199254740993' })));
    expect(allocateProducerIdsFromWire(wire('AllocateProducerIds', { brokerId: 2, brokerEpoch: 5 }))).toEqual({ brokerId: 2, brokerEpoch: 5 });
  });
});

describe('CreateTopics', () => {
  it('keeps absent counts absent and orders manual assignments by partition', () => {
    const parsed = createTopicsFromWire(wire('CreateTopics', {
      topics: [
        { name: 'a' },
        { name: 'b', numPartitions: 0, replicationFactor: -1 },
        { name: 'c', assignments: [{ partition: 1, brokerIds: [2, 1] }, { partition: 0, brokerIds: [1, 2] }] },
        { name: 'd', assignments: [{ partition: 1, brokerIds: [2] }] },
        { name: 'e', assignments: [{ partition: 0, brokerIds: [2] }, { partition: 0, brokerIds: [1] }] },
      ],
      validateOnly: true,
    }));
    expect(parsed.validateOnly).toBe(true);
    expect(parsed.items.map((i) => i.request)).toEqual([
      { name: 'a', partitionCount: null, replicationFactor: null, assignment: null, configs: {} },
      { name: 'b', partitionCount: 0, replicationFactor: -1, assignment: null, configs: {} },
      { name: 'c', partitionCount: null, replicationFactor: null, assignment: [[1, 2], [2, 1]], configs: {} },
      null,
      null,
    ]);
    expect(parsed.items.slice(3).map((i) => i.error?.code)).toEqual(['INVALID_REPLICA_ASSIGNMENT', 'INVALID_REPLICA_ASSIGNMENT']);
  });

  it("gives each kind of bad input its own code, end to end (issue 4's list)", () => {
    const metadata = must(cluster(3), { kind: 'CreateTopic', name: 'exists', topicId: tid(1), assignment: [[1]], configs: {} }).state;
    const parsed = createTopicsFromWire(wire('CreateTopics', {
      topics: [
        { name: 'good', numPartitions: 3, replicationFactor: 3, configs: { 'retention.ms': '60000' } },
        { name: 'bad name' },
        { name: 'x'.repeat(5_000) },
        { name: '' },
        { name: 'exists' },
        { name: 'twice' },
        { name: 'twice' },
        { name: 'zero', numPartitions: 0 },
        { name: 'negative', numPartitions: -4 },
        { name: 'too-many-replicas', replicationFactor: 4 },
        { name: 'unknown-config', configs: { 'no.such.config': '1' } },
        { name: 'ill-typed-config', configs: { 'min.insync.replicas': 'two' } },
      ],
    }));
    const rng = new Rng(11);
    const requests = parsed.items.flatMap((i) => (i.request ? [i.request] : []));
    const planned = planCreateTopics({
      metadata, requests, defaults: { partitionCount: 1, replicationFactor: 1 },
      nextTopicId: () => newTopicId(rng), nextPlacement: () => ({ startIndex: rng.int(3), replicaShift: rng.int(3) }),
    });
    expect(planned.map((p) => [p.name, p.error?.code ?? 'ok'])).toEqual([
      ['good', 'ok'],
      ['bad name', 'INVALID_TOPIC'],
      ['x'.repeat(5_000), 'INVALID_TOPIC'],
      ['', 'INVALID_TOPIC'],
      ['exists', 'TOPIC_ALREADY_EXISTS'],
      ['twice', 'INVALID_REQUEST'],
      ['twice', 'INVALID_REQUEST'],
      ['zero', 'INVALID_PARTITIONS'],
      ['negative', 'INVALID_PARTITIONS'],
      ['too-many-replicas', 'INVALID_REPLICATION_FACTOR'],
      ['unknown-config', 'INVALID_CONFIG'],
      ['ill-typed-config', 'INVALID_CONFIG'],
    ]);
  });

  it('refuses malformed requests whole', () => {
    for (const garbage of [null, 'x', { topics: 'x' }, { topics: [null] }, { topics: Array.from({ length: 10_001 }, () => ({ name: 'a' })) }]) {
      invalid(() => createTopicsFromWire(garbage));
    }
  });
});

describe('other admin requests', () => {
  it('parses CreatePartitions, DeleteTopics, ElectLeaders, GetMetadata and WatchMetadata', () => {
    expect(createPartitionsFromWire(wire('CreatePartitions', { topics: [{ name: 't', count: 4, assignments: [{ brokerIds: [1, 2] }] }] })).items[0]?.request).toEqual({
      name: 't', count: 4, assignment: [[1, 2]],
    });
    expect(deleteTopicsFromWire(wire('DeleteTopics', { topics: [{ name: 't' }, { topicId: tid(2) }] }))).toEqual([
      { name: 't', topicId: '' },
      { name: '', topicId: tid(2) },
    ]);
    expect(electLeadersFromWire(wire('ElectLeaders', { electionType: 'ELECTION_TYPE_UNCLEAN', partitions: [{ topic: 't', partition: 2 }] }))).toEqual({
      electionType: 'unclean', partitions: [{ topic: 't', partition: 2 }],
    });
    expect(electLeadersFromWire(wire('ElectLeaders', {}))).toEqual({ electionType: 'preferred', partitions: null });
    expect(getMetadataFromWire(wire('GetMetadata', { topics: ['a'], allowStale: true }))).toEqual({ topics: ['a'], allowStale: true });
    expect(watchMetadataFromWire(wire('WatchMetadata', { fromVersion: 42 }))).toEqual({ fromVersion: 42, allowStale: false });
    invalid(() => watchMetadataFromWire(wire('WatchMetadata', { fromVersion: -1 })));
  });

  it('turns AlterPartition items into commands, with per-item errors', () => {
    const parsed = alterPartitionFromWire(wire('AlterPartition', {
      brokerId: 1,
      brokerEpoch: 5,
      items: [
        { topicId: tid(1), partition: 0, leaderEpoch: 2, partitionEpoch: 3, newIsr: [{ brokerId: 1, brokerEpoch: 5 }, { brokerId: 2, brokerEpoch: 6 }] },
        { topicId: 'not-a-uuid', partition: 0 },
      ],
    }));
    expect(parsed.items[0]?.request).toEqual({
      kind: 'AlterPartition', brokerId: 1, brokerEpoch: 5, topicId: tid(1), partition: 0, leaderEpoch: 2, partitionEpoch: 3,
      isr: [{ brokerId: 1, brokerEpoch: 5 }, { brokerId: 2, brokerEpoch: 6 }],
    });
    expect(parsed.items[1]?.error?.code).toBe('INVALID_REQUEST');
    invalid(() => alterPartitionFromWire({ brokerId: 1, brokerEpoch: 'x', items: [] }));
  });
});
