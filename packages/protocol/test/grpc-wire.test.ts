// Goal: a FjordError survives a real gRPC round trip on loopback with its code
// and details (whole-request failures ride in trailing metadata), per-item error
// fields round-trip, non-Fjord gRPC failures map to catalog codes by status, and
// int64 wire values become numbers only when they are safe integers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Metadata, Server, ServerCredentials, credentials, status, type Client, type ServiceError, type sendUnaryData } from '@grpc/grpc-js';
import {
  FjordError,
  errorFields,
  errorFromFields,
  fromServiceError,
  grpcChannelOptions,
  loadFjordGrpc,
  toServiceError,
  wireToSafeInteger,
} from '@fjord/protocol';

const grpc = loadFjordGrpc();
let server: Server;
let client: Client & { metadata: (req: object, cb: (err: ServiceError | null, res?: unknown) => void) => void };
let failWith: FjordError | null = null;

beforeAll(async () => {
  server = new Server(grpcChannelOptions(1 << 20));
  server.addService(grpc.broker.service, {
    metadata: (_call: unknown, callback: sendUnaryData<object>) => {
      if (failWith !== null) callback(toServiceError(failWith));
      else callback(null, { clusterId: 'c1', brokers: [], topics: [], metadataVersion: 9_007_199_254_740_991 });
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
  });
  client = new grpc.broker(`127.0.0.1:${port}`, credentials.createInsecure(), grpcChannelOptions(1 << 20)) as unknown as typeof client;
});

afterAll(() => {
  client.close();
  server.forceShutdown();
});

function callMetadata(): Promise<{ clusterId: string; metadataVersion: unknown }> {
  return new Promise((resolve, reject) => {
    client.metadata({ topics: [] }, (err, res) => (err ? reject(fromServiceError(err)) : resolve(res as { clusterId: string; metadataVersion: unknown })));
  });
}

describe('gRPC wire mapping', () => {
  it('loads every service of the contract', () => {
    expect(Object.keys(grpc.broker.service)).toEqual(
      expect.arrayContaining(['Produce', 'Fetch', 'ReplicaFetch', 'ListOffsets', 'OffsetForLeaderEpoch', 'Metadata', 'CreateTopics', 'DeleteTopics', 'InitProducerId']),
    );
    expect(Object.keys(grpc.coordinator.service)).toContain('RegisterBroker');
    expect(Object.keys(grpc.raftTransport.service).length).toBeGreaterThan(0);
  });

  it('int64 arrives as a string and converts exactly', async () => {
    failWith = null;
    const res = await callMetadata();
    expect(res.metadataVersion).toBe('9007199254740991');
    expect(wireToSafeInteger(res.metadataVersion, 'metadataVersion')).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('a whole-request FjordError crosses the wire with its code, detail and details', async () => {
    failWith = new FjordError('NOT_LEADER_OR_FOLLOWER', 'broker 2 leads t-0 now', { leaderId: 2 });
    const err = await callMetadata().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FjordError);
    const f = err as FjordError;
    expect(f.code).toBe('NOT_LEADER_OR_FOLLOWER');
    expect(f.retriable).toBe(true);
    expect(f.detail).toBe('broker 2 leads t-0 now');
    expect(f.details).toMatchObject({ leaderId: 2, grpcStatus: status.UNAVAILABLE });
  });

  it('maps a gRPC failure without a Fjord code by status; unknown is not retriable', async () => {
    // Nothing listens on the port of a closed server: the call fails UNAVAILABLE, with no Fjord code.
    const probe = new Server();
    const port = await new Promise<number>((resolve, reject) => {
      probe.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
    });
    probe.forceShutdown();
    const dead = new grpc.broker(`127.0.0.1:${port}`, credentials.createInsecure()) as unknown as typeof client;
    const err = await new Promise<FjordError>((resolve) => {
      dead.metadata({ topics: [] }, (e) => resolve(fromServiceError(e)));
    });
    dead.close();
    expect(err).toMatchObject({ code: 'NETWORK_EXCEPTION', retriable: true, refreshMetadata: true });
    expect(err.details).toMatchObject({ grpcStatus: status.UNAVAILABLE });
    expect(fromServiceError(new TypeError('x'))).toMatchObject({ code: 'UNKNOWN_SERVER_ERROR', retriable: false });
  });

  it('a request above the server\'s receive limit is MESSAGE_TOO_LARGE (grpc-js refuses it with no Fjord code)', async () => {
    failWith = null;
    // The server accepts 1 MiB; this client may send 8 MiB, so the server's limit is the one that trips.
    const big = new grpc.broker(client.getChannel().getTarget().replace(/^dns:/, ''), credentials.createInsecure(), grpcChannelOptions(8 << 20)) as unknown as typeof client;
    const err = await new Promise<FjordError>((resolve) => {
      big.metadata({ topics: ['x'.repeat(2 << 20)] }, (e) => resolve(fromServiceError(e)));
    });
    big.close();
    expect(err).toMatchObject({ code: 'MESSAGE_TOO_LARGE', retriable: false });
    expect(err.details).toMatchObject({ grpcStatus: status.RESOURCE_EXHAUSTED });
    expect(err.detail).toMatch(/larger than max/);
    // Another RESOURCE_EXHAUSTED (a quota, not a size) stays unknown.
    const quota = { name: 'Error', message: '', code: status.RESOURCE_EXHAUSTED, details: 'Bandwidth exhausted', metadata: new Metadata() };
    expect(fromServiceError(quota)).toMatchObject({ code: 'UNKNOWN_SERVER_ERROR' });
  });

  it('per-item error fields round-trip; unknown codes become UNKNOWN_SERVER_ERROR', () => {
    const e = new FjordError('FENCED_LEADER_EPOCH', 'epoch 3 < 4');
    const fields = errorFields(e);
    expect(fields).toEqual({ errorCode: 'FENCED_LEADER_EPOCH', errorMessage: 'epoch 3 < 4' });
    expect(errorFromFields(fields)).toMatchObject({ code: 'FENCED_LEADER_EPOCH', detail: 'epoch 3 < 4' });
    expect(errorFromFields({ errorCode: '', errorMessage: '' })).toBeNull();
    expect(errorFromFields({ errorCode: 'NO_SUCH_CODE', errorMessage: 'm' })).toMatchObject({ code: 'UNKNOWN_SERVER_ERROR', retriable: false });
  });

  it('wireToSafeInteger refuses anything that is not a safe integer', () => {
    expect(wireToSafeInteger('-1', 'f')).toBe(-1);
    expect(wireToSafeInteger('0007', 'f')).toBe(7);
    for (const bad of ['9007199254740993', '1e3', '', ' 1', 'abc', 1.5, null, undefined, '18446744073709551615']) {
      expect(() => wireToSafeInteger(bad, 'f'), String(bad)).toThrow(FjordError);
    }
  });
});
