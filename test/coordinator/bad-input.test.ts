/**
 * Goal: every kind of bad input issue 4 names gets a typed error (or, for
 * peer traffic, is dropped) and leaves the metadata unchanged: invalid topic
 * names, duplicate topics, zero or negative partitions, a replication factor
 * above the live broker count, unknown or ill-typed config keys, stale
 * epochs, malformed and oversized requests, and garbage on the Raft port.
 * Real processes and real gRPC.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Metadata, credentials, status, type ClientDuplexStream } from '@grpc/grpc-js';
import { grpcChannelOptions, loadFjordGrpc } from '@fjord/protocol';
import { waitFor } from '@fjord/testkit';
import { CoordinatorCluster, failure, registration, type CoordinatorClient, type StatusResponse } from './coordinator-cluster.js';

let cluster: CoordinatorCluster;
let client: CoordinatorClient;
let brokerEpoch = '';

interface TopicResult {
  name: string;
  errorCode: string;
  errorMessage: string;
}

async function version(): Promise<string> {
  return (await client.call<{ metadataVersion: string }>('GetMetadata', {})).metadataVersion;
}

async function createTopics(topics: unknown[]): Promise<TopicResult[]> {
  return (await client.call<{ topics: TopicResult[] }>('CreateTopics', { topics })).topics;
}

beforeAll(async () => {
  cluster = await CoordinatorCluster.create({ voters: 3, args: ['--broker-session-timeout-ms', '60000', '--controller-interval-ms', '20'] });
  await cluster.startAll();
  await cluster.waitForLeader();
  client = cluster.client(1);
  brokerEpoch = (await client.call<{ brokerEpoch: string }>('RegisterBroker', registration(1))).brokerEpoch;
  await client.call('BrokerHeartbeat', { brokerId: 1, brokerEpoch, wantFence: false });
  await waitFor(async () => (await client.call<{ brokers: { fenced: boolean }[] }>('GetMetadata', {})).brokers.every((b) => !b.fenced), {
    timeoutMs: 10_000,
    what: 'broker 1 unfenced',
  });
  const created = await createTopics([{ name: 'existing' }]);
  expect(created[0]?.errorCode).toBe('');
});

afterAll(async () => {
  await cluster.close();
});

describe('bad input to the coordinator (real processes)', () => {
  it('answers bad topic requests per item with typed errors and changes nothing', async () => {
    const before = await version();
    const cases: [unknown, string][] = [
      [{ name: 'bad name!' }, 'INVALID_TOPIC'],
      [{ name: '' }, 'INVALID_TOPIC'],
      [{ name: '..' }, 'INVALID_TOPIC'],
      [{ name: 'x'.repeat(250) }, 'INVALID_TOPIC'],
      [{ name: 'existing' }, 'TOPIC_ALREADY_EXISTS'],
      [{ name: 'zero', numPartitions: 0 }, 'INVALID_PARTITIONS'],
      [{ name: 'negative', numPartitions: -3 }, 'INVALID_PARTITIONS'],
      [{ name: 'rf-too-big', replicationFactor: 2 }, 'INVALID_REPLICATION_FACTOR'],
      [{ name: 'rf-zero', replicationFactor: 0 }, 'INVALID_REPLICATION_FACTOR'],
      [{ name: 'unknown-config', configs: { 'no.such.key': '1' } }, 'INVALID_CONFIG'],
      [{ name: 'ill-typed-config', configs: { 'retention.ms': 'soon' } }, 'INVALID_CONFIG'],
    ];
    for (const [topic, code] of cases) {
      const [result] = await createTopics([topic]);
      expect(result?.errorCode, JSON.stringify(topic).slice(0, 80)).toBe(code);
    }
    const dup = await createTopics([{ name: 'twice' }, { name: 'twice' }]);
    expect(dup.map((r) => r.errorCode)).toEqual(['INVALID_REQUEST', 'INVALID_REQUEST']);
    const parts = await client.call<{ topics: TopicResult[] }>('CreatePartitions', { topics: [{ name: 'existing', count: 1 }, { name: 'missing', count: 3 }] });
    expect(parts.topics.map((r) => r.errorCode)).toEqual(['INVALID_PARTITIONS', 'UNKNOWN_TOPIC_OR_PARTITION']);
    const del = await client.call<{ topics: TopicResult[] }>('DeleteTopics', { topics: [{ name: 'missing' }, {}] });
    expect(del.topics.map((r) => r.errorCode)).toEqual(['UNKNOWN_TOPIC_OR_PARTITION', 'INVALID_REQUEST']);
    expect(await version()).toBe(before);
  });

  it('refuses stale epochs, malformed and oversized requests as a whole with typed errors', async () => {
    const before = await version();
    const stale = await failure(client.call('BrokerHeartbeat', { brokerId: 1, brokerEpoch: String(Number(brokerEpoch) + 1000), wantFence: false }));
    expect(stale.code).toBe('STALE_BROKER_EPOCH');
    const unknownBroker = await failure(client.call('AllocateProducerIds', { brokerId: 77, brokerEpoch: '1' }));
    expect(unknownBroker.code).toBe('STALE_BROKER_EPOCH');
    const unsafe = await failure(client.call('BrokerHeartbeat', { brokerId: 1, brokerEpoch: '99999999999999999999', wantFence: false }));
    expect(unsafe.code).toBe('INVALID_REQUEST');
    const badBroker = await failure(client.call('RegisterBroker', { brokerId: -5, incarnationId: 'x', endpoints: [] }));
    expect(badBroker.code).toBe('INVALID_REQUEST');
    const wrongCluster = await failure(client.call('RegisterBroker', { ...registration(2), clusterId: 'another' }));
    expect(wrongCluster.code).toBe('INVALID_REQUEST');
    const badMember = await failure(client.call('AddLearner', { nodeId: 0, address: 'nowhere' }));
    expect(badMember.code).toBe('INVALID_REQUEST');
    const notLearner = await failure(client.call('PromoteLearner', { nodeId: 9 }));
    expect(notLearner.code).toBe('INVALID_REQUEST');
    // Larger than maxRequestBytes (4 MiB): refused by gRPC before any handler runs.
    const huge = await failure(createTopics([{ name: 'huge', configs: { 'cleanup.policy': 'x'.repeat(5 * 1024 * 1024) } }]));
    expect(huge.details['grpcStatus']).toBe(status.RESOURCE_EXHAUSTED);
    expect(await version()).toBe(before);
  });

  it('drops garbage on the Raft port without disturbing the cluster', async () => {
    const leader = await cluster.waitForLeader();
    const before: StatusResponse = await cluster.status(leader);
    const versionBefore = await version();
    const target = cluster.voterIds.find((id) => id !== leader) as number;
    const raft = new (loadFjordGrpc().raftTransport)(cluster.address(target), credentials.createInsecure(), grpcChannelOptions(8 * 1024 * 1024));
    const stream = (raft as unknown as { Stream: (md: Metadata) => ClientDuplexStream<unknown, { sequence: string; errorCode: string }> }).Stream(new Metadata());
    const acks: { sequence: string; errorCode: string }[] = [];
    stream.on('data', (a: { sequence: string; errorCode: string }) => acks.push(a));
    stream.on('error', () => undefined);
    const enc = (s: string): Buffer => Buffer.concat([Buffer.from([1]), Buffer.from(s)]);
    const batches = [
      { clusterId: 'another-cluster', from: 2, to: target, messages: [], sequence: 1 },
      { clusterId: 'fjord', from: 2, to: 99, messages: [], sequence: 2 },
      { clusterId: 'fjord', from: 99, to: target, messages: [Buffer.from('garbage'), Buffer.alloc(0), Buffer.from([1, 0xff, 0xfe])], sequence: 3 },
      { clusterId: 'fjord', from: 99, to: target, messages: [enc('{}'), enc('[1,2]'), enc('{"type":"AppendEntries","from":99,"to":1,"term":"x"}')], sequence: 4 },
      { clusterId: 'fjord', from: 99, to: target, messages: [enc(`{"type":"Heartbeat","from":99,"to":${target},"term":-1,"commit":0,"readCtx":""}`)], sequence: 5 },
      { clusterId: 'fjord', from: 99, to: target, messages: [enc(`{"type":"AppendEntries","from":99,"to":${target},"term":1,"prevLogIndex":0,"prevLogTerm":0,"commit":0,"entries":[{"type":"Normal","index":5,"term":1,"data":"!!"}]}`)], sequence: 6 },
    ];
    for (const b of batches) stream.write(b);
    await waitFor(() => acks.length >= batches.length, { timeoutMs: 5_000, what: 'acks for every garbage batch' });
    expect(acks.map((a) => a.errorCode)).toEqual(['INVALID_REQUEST', 'INVALID_REQUEST', 'CORRUPT_MESSAGE', 'CORRUPT_MESSAGE', 'CORRUPT_MESSAGE', 'CORRUPT_MESSAGE']);
    stream.end();
    raft.close();

    // Everyone is alive, the leader and its term are unchanged, and writes still work.
    for (const id of cluster.voterIds) expect(cluster.isRunning(id)).toBe(true);
    const after = await cluster.status(leader);
    expect(after.role).toBe('leader');
    expect(after.term).toBe(before.term);
    expect(await version()).toBe(versionBefore);
    await client.call('RegisterBroker', registration(3));
  });
});
