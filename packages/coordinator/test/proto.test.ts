// Goal: both protos load with the documented loader options, every service
// method the coordinator and the Raft transport promise exists with the right
// streaming shape, the proto3 `optional` and int64 choices behave as
// documented, and int64 values convert to safe integers or fail typed.
import { describe, expect, it } from 'vitest';
import { defaultProtoDir, isFjordError, loadFjordGrpc, wireToSafeInteger } from '@fjord/protocol';

interface MethodDef {
  requestStream: boolean;
  responseStream: boolean;
  requestType: { type: { field: { name: string }[] } };
  requestDeserialize: (b: Buffer) => unknown;
  requestSerialize: (v: unknown) => Buffer;
  responseSerialize: (v: unknown) => Buffer;
  responseDeserialize: (b: Buffer) => unknown;
}

describe('proto loading', () => {
  const protos = loadFjordGrpc();
  const coordinator = protos.coordinator.service as unknown as Record<string, MethodDef>;
  const raft = protos.raftTransport.service as unknown as Record<string, MethodDef>;

  it('has every coordinator method with its streaming shape', () => {
    const unary = [
      'RegisterBroker', 'BrokerHeartbeat', 'CreateTopics', 'DeleteTopics', 'CreatePartitions', 'AlterPartition',
      'ElectLeaders', 'AllocateProducerIds', 'GetMetadata', 'Status', 'AddLearner', 'PromoteLearner', 'RemoveNode',
      'TransferLeadership',
    ];
    for (const name of unary) {
      expect(coordinator[name], name).toBeDefined();
      expect(coordinator[name]?.requestStream).toBe(false);
      expect(coordinator[name]?.responseStream).toBe(false);
    }
    expect(coordinator['WatchMetadata']?.requestStream).toBe(false);
    expect(coordinator['WatchMetadata']?.responseStream).toBe(true);
    expect(coordinator['BrokerSession']?.requestStream).toBe(true);
    expect(coordinator['BrokerSession']?.responseStream).toBe(true);
    expect(coordinator['Pipeline']?.requestStream).toBe(true);
    expect(coordinator['Pipeline']?.responseStream).toBe(true);
    expect(Object.keys(coordinator).sort()).toEqual([...unary, 'WatchMetadata', 'BrokerSession', 'Pipeline'].sort());
  });

  it('has the Raft transport streams', () => {
    expect(raft['Stream']?.requestStream).toBe(true);
    expect(raft['Stream']?.responseStream).toBe(true);
    expect(raft['SendSnapshot']?.requestStream).toBe(true);
    expect(raft['SendSnapshot']?.responseStream).toBe(false);
  });

  it('round-trips a batch with camelCase fields, int64 as strings, bytes as Buffers', () => {
    const stream = raft['Stream'] as MethodDef;
    const bytes = stream.requestSerialize({ clusterId: 'c1', from: 1, to: 2, messages: [Buffer.from([1, 2, 3])], sequence: 9 });
    expect(stream.requestDeserialize(bytes)).toEqual({
      clusterId: 'c1',
      from: 1,
      to: 2,
      messages: [Buffer.from([1, 2, 3])],
      sequence: '9',
    });
  });

  it('keeps proto3 optional fields absent, and defaults the rest', () => {
    const create = coordinator['CreateTopics'] as MethodDef;
    const decoded = create.requestDeserialize(create.requestSerialize({ topics: [{ name: 't' }] })) as {
      topics: Record<string, unknown>[];
      validateOnly: boolean;
    };
    expect(decoded.validateOnly).toBe(false);
    const topic = decoded.topics[0] ?? {};
    expect(topic['name']).toBe('t');
    expect(topic['numPartitions']).toBeUndefined();
    expect(topic['assignments']).toEqual([]);
    expect(topic['configs']).toEqual({});
    const withZero = create.requestDeserialize(create.requestSerialize({ topics: [{ name: 't', numPartitions: 0 }] })) as {
      topics: Record<string, unknown>[];
    };
    expect(withZero.topics[0]?.['numPartitions']).toBe(0);
  });

  it('carries the watch event oneof', () => {
    const watch = coordinator['WatchMetadata'] as MethodDef;
    const event = watch.responseDeserialize(watch.responseSerialize({ delta: { metadataVersion: 7 } })) as Record<string, unknown>;
    expect(event['event']).toBe('delta');
    expect((event['delta'] as Record<string, unknown>)['metadataVersion']).toBe('7');
  });

  it('fails typed when the proto dir is wrong', () => {
    expect(() => loadFjordGrpc({ protoDir: '/nonexistent' })).toThrow(/proto file/);
    expect(defaultProtoDir()).toMatch(/proto\/$/);
  });
});

describe('wireToSafeInteger', () => {
  it('accepts safe integers as numbers and strings', () => {
    expect(wireToSafeInteger('0', 'x')).toBe(0);
    expect(wireToSafeInteger('-5', 'x')).toBe(-5);
    expect(wireToSafeInteger(String(Number.MAX_SAFE_INTEGER), 'x')).toBe(Number.MAX_SAFE_INTEGER);
    expect(wireToSafeInteger(42, 'x')).toBe(42);
  });

  it('rejects unsafe, fractional and non-numeric values with INVALID_REQUEST', () => {
    for (const bad of ['9007199254740993', '18446744073709551615', '1.5', '', 'abc', 1.5, Number.NaN, null, undefined, {}]) {
      let caught: unknown;
      try {
        wireToSafeInteger(bad, 'field');
      } catch (e) {
        caught = e;
      }
      expect(isFjordError(caught, 'INVALID_REQUEST'), String(bad)).toBe(true);
    }
  });
});
