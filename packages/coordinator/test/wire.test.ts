// Goal: state records map onto the proto messages and survive the real
// protobuf encoding (int64 back through wireToSafeInteger); errors travel
// per item as { errorCode, errorMessage } and per request as a gRPC status
// with the catalog code in metadata, and come back as the same FjordError
// (message not doubled, details kept); non-Fjord failures are not retriable.
import { Metadata, status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { ERROR_CODE_METADATA_KEY, FjordError, errorFields, errorFromFields, fromServiceError, grpcStatusFor, loadFjordGrpc, toServiceError, wireToSafeInteger } from '@fjord/protocol';
import { buildDelta } from '../src/metadata-watch.js';
import { canonicalTopicConfigs } from '../src/metadata-state.js';
import { toFjordError } from '../src/result.js';
import { deltaToWire, imageToWire } from '../src/wire.js';
import { cluster, epochOf, must, tid } from './helpers.js';

interface MethodDef {
  responseSerialize: (v: unknown) => Buffer;
  responseDeserialize: (b: Buffer) => unknown;
}
const service = loadFjordGrpc().coordinator.service as unknown as Record<string, MethodDef>;

function sample(): ReturnType<typeof cluster> {
  let state = cluster(3, ['a', 'b']);
  state = must(state, { kind: 'CreateTopic', name: 'orders', topicId: tid(1), assignment: [[1, 2], [2, 3]], configs: { 'retention.ms': '1000' } }).state;
  return must(state, { kind: 'FenceBroker', brokerId: 3, brokerEpoch: epochOf(state, 3) }).state;
}

describe('wire mapping', () => {
  it('an image survives GetMetadataResponse encoding', () => {
    const state = sample();
    const image = imageToWire(state);
    const method = service['GetMetadata'] as MethodDef;
    const decoded = method.responseDeserialize(method.responseSerialize({ ...image, leaderNodeId: 2, clusterId: 'c' })) as Record<string, unknown> & {
      brokers: Record<string, unknown>[];
      topics: Record<string, unknown>[];
    };
    expect(wireToSafeInteger(decoded['metadataVersion'], 'metadataVersion')).toBe(state.version);
    expect(decoded.brokers.map((b) => ({ ...b, brokerEpoch: wireToSafeInteger(b['brokerEpoch'], 'brokerEpoch') }))).toEqual(image.brokers);
    expect(decoded.topics).toEqual(image.topics);
    expect(image.brokers.map((b) => [b.brokerId, b.rack, b.fenced])).toEqual([[1, 'a', false], [2, 'b', false], [3, 'a', true]]);
  });

  it('names unknown topics with a per-topic error', () => {
    const image = imageToWire(sample(), ['orders', 'nope']);
    expect(image.topics.map((t) => [t.name, t.errorCode])).toEqual([['orders', ''], ['nope', 'UNKNOWN_TOPIC_OR_PARTITION']]);
  });

  it('a delta survives WatchMetadataEvent encoding', () => {
    const state = sample();
    const { state: s, result } = must(state, { kind: 'ElectLeader', topicId: tid(1), partition: 1, leader: 2, isr: [2], partitionEpoch: 0, unclean: false });
    const delta = deltaToWire(buildDelta(s, result.changes));
    const method = service['WatchMetadata'] as MethodDef;
    const decoded = method.responseDeserialize(method.responseSerialize({ delta })) as { event: string; delta: Record<string, unknown> };
    expect(decoded.event).toBe('delta');
    expect(decoded.delta['partitions']).toEqual([{ partition: 1, replicas: [2, 3], leader: 2, leaderEpoch: 1, isr: [2], partitionEpoch: 1, topicId: tid(1), topicName: 'orders' }]);
    expect(wireToSafeInteger(decoded.delta['metadataVersion'], 'v')).toBe(s.version);
  });
});

describe('errors on the wire', () => {
  it('per-item fields round-trip, without doubling the catalog text', () => {
    expect(errorFields(null)).toEqual({ errorCode: '', errorMessage: '' });
    const err = new FjordError('INVALID_UPDATE_VERSION', 't-0: partition epoch 1 is not the current 2');
    const fields = errorFields(err);
    expect(fields).toEqual({ errorCode: 'INVALID_UPDATE_VERSION', errorMessage: 't-0: partition epoch 1 is not the current 2' });
    const back = errorFromFields(fields);
    expect(back?.message).toBe(err.message);
    expect(back?.retriable).toBe(true);
    expect(errorFromFields({ errorCode: '', errorMessage: '' })).toBeNull();
    const unknown = errorFromFields({ errorCode: 'MADE_UP', errorMessage: 'x' });
    expect(unknown?.code).toBe('UNKNOWN_SERVER_ERROR');
    expect(unknown?.retriable).toBe(false);
    expect(errorFields({ code: 'INVALID_TOPIC', message: 'bad' })).toEqual({ errorCode: 'INVALID_TOPIC', errorMessage: 'bad' });
  });

  it('whole-request errors carry the code in metadata and come back typed', () => {
    const err = new FjordError('STALE_BROKER_EPOCH', 'broker 3 epoch 7 is not the current 9', { brokerId: 3 });
    const se = toServiceError(err);
    expect(se.code).toBe(status.FAILED_PRECONDITION);
    expect(se.metadata.get(ERROR_CODE_METADATA_KEY)).toEqual(['STALE_BROKER_EPOCH']);
    // What a client sees: a ServiceError with the status, the details and the trailers.
    const received = Object.assign(new Error(`${se.code} ${se.details}`), { code: se.code, details: se.details, metadata: se.metadata });
    const back = fromServiceError(received);
    expect(back.code).toBe('STALE_BROKER_EPOCH');
    expect(back.message).toBe(err.message);
    expect(back.details).toMatchObject({ brokerId: 3, grpcStatus: status.FAILED_PRECONDITION });
  });

  it('maps plain gRPC failures by status, and anything else to a non-retriable error', () => {
    const plain = (code: status): Error => Object.assign(new Error('x'), { code, details: 'connection refused', metadata: new Metadata() });
    expect(fromServiceError(plain(status.UNAVAILABLE))).toMatchObject({ code: 'NETWORK_EXCEPTION', retriable: true });
    expect(fromServiceError(plain(status.DEADLINE_EXCEEDED))).toMatchObject({ code: 'REQUEST_TIMED_OUT', retriable: true });
    expect(fromServiceError(plain(status.INTERNAL))).toMatchObject({ code: 'UNKNOWN_SERVER_ERROR', retriable: false });
    expect(fromServiceError(new TypeError('boom'))).toMatchObject({ code: 'UNKNOWN_SERVER_ERROR', retriable: false });
    expect(grpcStatusFor('INVALID_REQUEST')).toBe(status.INVALID_ARGUMENT);
    expect(grpcStatusFor('NOT_CONTROLLER')).toBe(status.UNAVAILABLE);
  });
});

describe('command errors', () => {
  it('hold the specific part only, so the catalog text never appears twice', () => {
    const r = canonicalTopicConfigs({ 'retention.ms': 'soon' });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.message.startsWith('retention.ms=')).toBe(true);
    const err = toFjordError(r.error);
    expect(err.message.match(/A configuration key or value is invalid/g)?.length).toBe(1);
  });
});
