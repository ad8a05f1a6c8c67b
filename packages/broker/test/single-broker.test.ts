// Goal: one broker over real gRPC serves produce, fetch (below the HW, long
// poll), list offsets and metadata from a test-supplied image, and every bad
// input of issue 5 gets its typed error while the broker stays up and the log
// stays unchanged.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeRecordBatches, encodeRecordBatchSync, errorFromFields } from '@fjord/protocol';
import { call, fetchPartition, producePartition, rawClient, startTestCluster, type RawBrokerClient, type TestCluster } from './harness.js';

function batch(values: readonly string[], extra: { producerId?: number; producerEpoch?: number; baseSequence?: number; timestamp?: number } = {}): Buffer {
  return encodeRecordBatchSync({
    records: values.map((v) => ({ value: Buffer.from(v), ...(extra.timestamp !== undefined ? { timestamp: extra.timestamp } : {}) })),
    defaultTimestamp: extra.timestamp ?? 1_700_000_000_000,
    ...(extra.producerId !== undefined ? { producerId: extra.producerId, producerEpoch: extra.producerEpoch ?? 0, baseSequence: extra.baseSequence ?? 0 } : {}),
  });
}

async function values(records: Buffer): Promise<string[]> {
  const batches = await decodeRecordBatches(records);
  return batches.flatMap((b) => b.records.map((r) => (r.value === null ? '' : r.value.toString())));
}

describe('single broker', () => {
  let cluster: TestCluster;
  let client: RawBrokerClient;

  beforeAll(async () => {
    cluster = await startTestCluster({ brokerIds: [1] });
    cluster.addTopic({ name: 't', partitions: 2, replicas: [1] });
    cluster.addTopic({ name: 'small', partitions: 1, replicas: [1], configs: { 'max.message.bytes': '200' } });
    client = rawClient(cluster.ports.get(1) as number);
  });

  afterAll(async () => {
    client.close();
    await cluster.close();
  });

  it('produces, fetches below the HW and lists offsets', async () => {
    const a = await producePartition(client, { topic: 't', partition: 0, records: batch(['a', 'b', 'c'], { timestamp: 1_000 }) });
    expect(a).toEqual({ error: null, baseOffset: 0 });
    const b = await producePartition(client, { topic: 't', partition: 0, records: batch(['d'], { timestamp: 2_000 }), acks: 1 });
    expect(b).toEqual({ error: null, baseOffset: 3 });
    const f = await fetchPartition(client, { topic: 't', partition: 0, fetchOffset: 0 });
    expect(f.error).toBeNull();
    expect(f.highWatermark).toBe(4);
    expect(await values(f.records)).toEqual(['a', 'b', 'c', 'd']);
    const lo = await call<{ topics: { partitions: { errorCode: string; offset: string }[] }[] }>(client, 'listOffsets', {
      topics: [{ name: 't', partitions: [{ partition: 0, timestamp: -2, currentLeaderEpoch: -1 }, { partition: 0, timestamp: -1, currentLeaderEpoch: -1 }, { partition: 0, timestamp: 1_500, currentLeaderEpoch: -1 }, { partition: 0, timestamp: 9_999, currentLeaderEpoch: -1 }] }],
    });
    expect(lo.topics[0]?.partitions.map((p) => Number(p.offset))).toEqual([0, 4, 3, -1]);
    const md = await call<{ brokers: { brokerId: number }[]; topics: { name: string; partitions: { leaderId: number }[] }[] }>(client, 'metadata', { topics: [] });
    expect(md.brokers.map((x) => x.brokerId)).toEqual([1]);
    expect(md.topics.map((t) => t.name).sort()).toEqual(['small', 't']);
  });

  it('long-polls a fetch until data arrives', async () => {
    const polled = fetchPartition(client, { topic: 't', partition: 1, fetchOffset: 0, maxWaitMs: 5_000 });
    const started = Date.now();
    await producePartition(client, { topic: 't', partition: 1, records: batch(['late']) });
    const f = await polled;
    expect(await values(f.records)).toEqual(['late']);
    expect(Date.now() - started).toBeLessThan(4_000);
    // Nothing new: the poll ends at maxWaitMs with no records.
    const empty = await fetchPartition(client, { topic: 't', partition: 1, fetchOffset: 1, maxWaitMs: 100 });
    expect(empty.error).toBeNull();
    expect(empty.records.length).toBe(0);
  });

  it('idempotent retries are stored once and answered with the original offset', async () => {
    const first = await producePartition(client, { topic: 't', partition: 1, records: batch(['p0', 'p1'], { producerId: 7, baseSequence: 0 }) });
    const retry = await producePartition(client, { topic: 't', partition: 1, records: batch(['p0', 'p1'], { producerId: 7, baseSequence: 0 }) });
    expect(retry).toEqual(first);
    const gap = await producePartition(client, { topic: 't', partition: 1, records: batch(['p5'], { producerId: 7, baseSequence: 5 }) });
    expect(gap.error?.code).toBe('OUT_OF_ORDER_SEQUENCE_NUMBER');
    const next = await producePartition(client, { topic: 't', partition: 1, records: batch(['p2'], { producerId: 7, baseSequence: 2 }) });
    expect(next.error).toBeNull();
    const f = await fetchPartition(client, { topic: 't', partition: 1, fetchOffset: first.baseOffset });
    expect(await values(f.records)).toEqual(['p0', 'p1', 'p2']);
  });

  it('answers bad input with typed errors and leaves the log unchanged', async () => {
    const status = (): unknown => cluster.brokers.get(1)?.replicaManager.partitionStatus('t', 0);
    const before = status();
    const corrupt = batch(['x']);
    corrupt[corrupt.length - 1] ^= 0xff;
    expect((await producePartition(client, { topic: 't', partition: 0, records: corrupt })).error?.code).toBe('CORRUPT_MESSAGE');
    expect((await producePartition(client, { topic: 't', partition: 0, records: Buffer.from('garbage') })).error?.code).toBe('CORRUPT_MESSAGE');
    expect((await producePartition(client, { topic: 't', partition: 0, records: Buffer.alloc(0) })).error?.code).toBe('INVALID_RECORD');
    expect((await producePartition(client, { topic: 'small', partition: 0, records: batch(['y'.repeat(300)]) })).error?.code).toBe('MESSAGE_TOO_LARGE');
    expect((await producePartition(client, { topic: 'nope', partition: 0, records: batch(['x']) })).error?.code).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    expect((await producePartition(client, { topic: 't', partition: 9, records: batch(['x']) })).error?.code).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    expect((await producePartition(client, { topic: '../../etc', partition: 0, records: batch(['x']) })).error?.code).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    await expect(producePartition(client, { topic: 't', partition: 0, records: batch(['x']), acks: 2 })).rejects.toMatchObject({ code: 'INVALID_REQUIRED_ACKS' });
    expect((await fetchPartition(client, { topic: 't', partition: 0, fetchOffset: 99 })).error?.code).toBe('OFFSET_OUT_OF_RANGE');
    expect((await fetchPartition(client, { topic: 't', partition: 0, fetchOffset: -1 })).error?.code).toBe('OFFSET_OUT_OF_RANGE');
    expect((await fetchPartition(client, { topic: 't', partition: 0, fetchOffset: 0, currentLeaderEpoch: 0 })).error?.code).toBe('FENCED_LEADER_EPOCH');
    expect((await fetchPartition(client, { topic: 't', partition: 0, fetchOffset: 0, currentLeaderEpoch: 5 })).error?.code).toBe('UNKNOWN_LEADER_EPOCH');
    expect((await fetchPartition(client, { topic: 't', partition: 0, fetchOffset: 0, partitionMaxBytes: 0 })).error?.code).toBe('INVALID_FETCH_SIZE');
    // An int64 that is not a safe integer is a whole-request INVALID_REQUEST.
    await expect(call(client, 'fetch', { maxWaitMs: 0, minBytes: 1, maxBytes: 1000, topics: [{ name: 't', partitions: [{ partition: 0, fetchOffset: '9223372036854775807', partitionMaxBytes: 100 }] }] })).rejects.toMatchObject({
      code: 'INVALID_REQUEST',
    });
    const epochs = await call<{ partitions: { errorCode: string; errorMessage: string }[] }>(client, 'offsetForLeaderEpoch', {
      replicaId: -1,
      partitions: [{ topic: 't', partition: 0, currentLeaderEpoch: 0, leaderEpoch: 1 }],
    });
    expect(errorFromFields(epochs.partitions[0] as { errorCode: string; errorMessage: string })?.code).toBe('FENCED_LEADER_EPOCH');
    expect(status()).toEqual(before);
    // Still serving.
    expect((await fetchPartition(client, { topic: 't', partition: 0, fetchOffset: 0 })).error).toBeNull();
  });

  it('survives malformed gRPC messages and a client that disconnects mid-stream', async () => {
    const port = cluster.ports.get(1) as number;
    // A raw HTTP/2 gRPC call whose body is not a valid protobuf.
    const http2 = await import('node:http2');
    const session = http2.connect(`http://127.0.0.1:${port}`);
    const req = session.request({ ':method': 'POST', ':path': '/fjord.v1.Broker/Produce', 'content-type': 'application/grpc', te: 'trailers' });
    const garbage = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x0a, 0xff]);
    const frame = Buffer.alloc(5 + garbage.length);
    frame.writeUInt32BE(garbage.length, 1);
    garbage.copy(frame, 5);
    const statusCode = await new Promise<string>((resolve) => {
      req.on('trailers', (t) => resolve(String(t['grpc-status'])));
      req.on('response', (h) => {
        if (h['grpc-status'] !== undefined) resolve(String(h['grpc-status']));
      });
      req.on('error', () => resolve('error'));
      req.end(frame);
      req.resume();
    });
    expect(statusCode).not.toBe('0');
    session.close();
    // A replica fetch stream cancelled while its long poll is parked.
    const stream = client.replicaFetch();
    stream.on('error', () => undefined);
    stream.write({ replicaId: 5, brokerEpoch: 1, maxWaitMs: 5_000, minBytes: 1, maxBytes: 1000, correlationId: 1, partitions: [{ topic: 't', partition: 0, fetchOffset: 0, currentLeaderEpoch: 1, partitionMaxBytes: 1000 }] });
    stream.cancel();
    // A consumer fetch cancelled mid long-poll.
    const other = rawClient(port);
    const pending = fetchPartition(other, { topic: 't', partition: 1, fetchOffset: 1_000_000, maxWaitMs: 5_000 }).catch((e: unknown) => e);
    other.close();
    await pending;
    const f = await fetchPartition(client, { topic: 't', partition: 0, fetchOffset: 0 });
    expect(f.error).toBeNull();
  });
});
