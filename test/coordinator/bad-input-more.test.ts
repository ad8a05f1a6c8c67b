/**
 * Goal: the bad input of issue 4 that bad-input.test.ts does not reach, each
 * with a typed error (or, for peer traffic, dropped) and the metadata version
 * unchanged on every node. Real processes, real gRPC.
 * - A replication factor above the *live* broker count: a registered but
 *   fenced broker does not count.
 * - Topic names that collide ('.' and '_'), a negative partition increase.
 * - Stale epochs on AlterPartition: an old broker epoch, an old leader epoch
 *   (FENCED_LEADER_EPOCH), a newer one (UNKNOWN_LEADER_EPOCH), an old
 *   partition epoch (INVALID_UPDATE_VERSION).
 * - Oversized requests: above maxRequestBytes on the leader and on a follower
 *   (MESSAGE_TOO_LARGE, typed on the client), over a field's own bound
 *   (INVALID_REQUEST), and on the Raft stream (the peer stream is refused,
 *   the cluster does not notice).
 * - Raw non-HTTP/2 bytes on the Raft port: the connection is dropped.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Metadata, credentials, status, type ClientDuplexStream } from '@grpc/grpc-js';
import { FjordError, Rng, fromServiceError, grpcChannelOptions, loadFjordGrpc } from '@fjord/protocol';
import { waitFor } from '@fjord/testkit';
import { CoordinatorCluster, failure, registration, writeWithRetry, type CoordinatorClient, type StatusResponse, type WireMetadata, type WirePartition } from './coordinator-cluster.js';

const MAX_REQUEST_BYTES = 1024 * 1024 * 4;

type Md = WireMetadata;
interface ItemResult {
  errorCode: string;
}

let cluster: CoordinatorCluster;
let client: CoordinatorClient;
let epoch1 = '';
let beating: NodeJS.Timeout | null = null;
let wantFence = false;

async function metadata(): Promise<Md> {
  return client.call<Md>('GetMetadata', {});
}

/** The metadata version every node has applied, once they agree (each node's own state). */
async function versions(): Promise<string> {
  return waitFor(
    async () => {
      const seen = await Promise.all(cluster.voterIds.map(async (id) => (await cluster.client(id).call<{ metadataVersion: string }>('GetMetadata', { allowStale: true })).metadataVersion));
      return seen.every((v) => v === seen[0]) ? (seen[0] as string) : null;
    },
    { timeoutMs: 10_000, what: 'every node at the same metadata version' },
  );
}

async function createTopics(topics: unknown[]): Promise<string[]> {
  return (await client.call<{ topics: ItemResult[] }>('CreateTopics', { topics })).topics.map((t) => t.errorCode);
}

beforeAll(async () => {
  cluster = await CoordinatorCluster.create({
    voters: 3,
    args: ['--broker-session-timeout-ms', '60000', '--controller-interval-ms', '20', '--max-request-bytes', String(MAX_REQUEST_BYTES)],
  });
  await cluster.startAll();
  await cluster.waitForLeader();
  client = cluster.client(1);
  // Setup writes retry retriable errors: a leader change under CPU load can drop a proposal.
  epoch1 = (await writeWithRetry(() => client.call<{ brokerEpoch: string }>('RegisterBroker', registration(1)))).brokerEpoch;
  const beat = (): void => void client.call('BrokerHeartbeat', { brokerId: 1, brokerEpoch: epoch1, wantFence }).catch(() => undefined);
  beat();
  beating = setInterval(beat, 200);
  // Broker 2 registers but never heartbeats: it stays fenced, so it is not live.
  await writeWithRetry(() => client.call('RegisterBroker', registration(2)));
  await waitFor(async () => (await metadata()).brokers.find((b) => b.brokerId === 1)?.fenced === false, { timeoutMs: 10_000, what: 'broker 1 unfenced' });
  const codes = await writeWithRetry(() => createTopics([{ name: 'a.b' }, { name: 'p', numPartitions: 1, replicationFactor: 1 }]));
  for (const code of codes) expect(['', 'TOPIC_ALREADY_EXISTS']).toContain(code);
});

afterAll(async () => {
  if (beating !== null) clearInterval(beating);
  await cluster.close();
});

describe('more bad input to the coordinator (real processes)', () => {
  it('counts only live brokers for the replication factor; refuses colliding names and negative partition increases', async () => {
    const before = await versions();
    expect((await metadata()).brokers.find((b) => b.brokerId === 2)?.fenced).toBe(true);
    expect(await createTopics([{ name: 'rf2', replicationFactor: 2 }])).toEqual(['INVALID_REPLICATION_FACTOR']);
    expect(await createTopics([{ name: 'manual', assignments: [{ brokerIds: [1, 2] }] }])).toEqual(['INVALID_REPLICA_ASSIGNMENT']);
    expect(await createTopics([{ name: 'a_b' }])).toEqual(['INVALID_TOPIC']);
    const parts = await client.call<{ topics: ItemResult[] }>('CreatePartitions', { topics: [{ name: 'p', count: 2 }, { name: 'p', count: 3 }] });
    expect(parts.topics.map((t) => t.errorCode)).toEqual(['INVALID_REQUEST', 'INVALID_REQUEST']); // the same topic twice in one request
    const negative = await client.call<{ topics: ItemResult[] }>('CreatePartitions', { topics: [{ name: 'p', count: -1 }] });
    expect(negative.topics.map((t) => t.errorCode)).toEqual(['INVALID_PARTITIONS']);
    expect(await versions()).toBe(before);
  });

  it('refuses AlterPartition with a stale broker, leader or partition epoch, per item, changing nothing', async () => {
    // Move p-0's epochs forward: broker 1 asks to be fenced (p-0 goes offline), then comes back (re-elected).
    const start = (await metadata()).topics.find((t) => t.name === 'p')?.partitions[0] as WirePartition;
    wantFence = true;
    await waitFor(async () => (await metadata()).topics.find((t) => t.name === 'p')?.partitions[0]?.leader === -1, { timeoutMs: 10_000, what: 'p-0 offline' });
    wantFence = false;
    const p = await waitFor(
      async () => {
        const q = (await metadata()).topics.find((t) => t.name === 'p')?.partitions[0];
        return q !== undefined && q.leader === 1 && q.leaderEpoch > start.leaderEpoch + 1 ? q : null;
      },
      { timeoutMs: 10_000, what: 'p-0 led by broker 1 again' },
    );
    const topicId = (await metadata()).topics.find((t) => t.name === 'p')?.topicId as string;
    const before = await versions();
    const item = (o: Partial<{ leaderEpoch: number; partitionEpoch: number }>): unknown => ({
      topicId,
      partition: 0,
      leaderEpoch: o.leaderEpoch ?? p.leaderEpoch,
      partitionEpoch: o.partitionEpoch ?? p.partitionEpoch,
      newIsr: [{ brokerId: 1, brokerEpoch: epoch1 }],
    });
    const alter = async (brokerEpoch: string, items: unknown[]): Promise<string[]> =>
      (await client.call<{ items: ItemResult[] }>('AlterPartition', { brokerId: 1, brokerEpoch, items })).items.map((i) => i.errorCode);
    expect(await alter(String(Number(epoch1) - 1), [item({})])).toEqual(['STALE_BROKER_EPOCH']);
    expect(await alter(epoch1, [item({ leaderEpoch: p.leaderEpoch - 1 }), item({ leaderEpoch: p.leaderEpoch + 1 }), item({ partitionEpoch: p.partitionEpoch - 1 })])).toEqual([
      'FENCED_LEADER_EPOCH',
      'UNKNOWN_LEADER_EPOCH',
      'INVALID_UPDATE_VERSION',
    ]);
    expect(await versions()).toBe(before);
    expect((await metadata()).topics.find((t) => t.name === 'p')?.partitions[0]).toEqual(p);
  });

  it('answers oversized requests with MESSAGE_TOO_LARGE on the leader and on a follower, and over-long fields with INVALID_REQUEST', async () => {
    const before = await versions();
    const leader = await cluster.waitForLeader();
    const follower = cluster.voterIds.find((id) => id !== leader) as number;
    const huge = { topics: [{ name: 'huge', configs: { 'cleanup.policy': 'x'.repeat(MAX_REQUEST_BYTES + 1024) } }] };
    for (const id of [leader, follower]) {
      const err = await failure(cluster.client(id).call('CreateTopics', huge));
      expect(err.code, `node ${id}`).toBe('MESSAGE_TOO_LARGE');
      expect(err.retriable).toBe(false);
      expect(err.details['grpcStatus']).toBe(status.RESOURCE_EXHAUSTED);
    }
    const hugeRegistration = await failure(client.call('RegisterBroker', registration(5, 'i'.repeat(MAX_REQUEST_BYTES + 1))));
    expect(hugeRegistration.code).toBe('MESSAGE_TOO_LARGE');
    // Under the message limit but over a field's bound: the request parser refuses it.
    const longIncarnation = await failure(client.call('RegisterBroker', registration(5, 'i'.repeat(65))));
    expect(longIncarnation.code).toBe('INVALID_REQUEST');
    expect(await versions()).toBe(before);
  });

  it('drops an oversized Raft batch and raw garbage on the Raft port without disturbing the cluster', async () => {
    const leader = await cluster.waitForLeader();
    const target = cluster.voterIds.find((id) => id !== leader) as number;
    const statusBefore: StatusResponse = await cluster.status(leader);
    const before = await versions();

    // A peer stream carrying one batch above maxRequestBytes: grpc-js refuses it before the transport sees it.
    const raft = new (loadFjordGrpc().raftTransport)(cluster.address(target), credentials.createInsecure(), grpcChannelOptions(4 * MAX_REQUEST_BYTES));
    const stream = (raft as unknown as { Stream: (md: Metadata) => ClientDuplexStream<unknown, unknown> }).Stream(new Metadata());
    const streamError = new Promise<FjordError>((resolve) => stream.on('error', (e: unknown) => resolve(fromServiceError(e))));
    stream.on('data', () => undefined);
    stream.write({ clusterId: 'fjord', from: leader, to: target, messages: [Buffer.alloc(MAX_REQUEST_BYTES + 1024, 7)], sequence: 1 });
    const refused = await streamError;
    expect(refused.code).toBe('MESSAGE_TOO_LARGE');
    raft.close();

    // Raw bytes that are not HTTP/2 at all: the server closes the connection.
    const rng = new Rng(4);
    const socket = connect({ host: '127.0.0.1', port: cluster.ports.get(target) as number });
    let closed = false;
    socket.on('close', () => {
      closed = true;
    });
    socket.on('error', () => undefined);
    socket.resume(); // read (and discard) what the server answers, so its close is seen
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(Buffer.concat([Buffer.from('GET / HTTP/1.1\r\n\r\n'), rng.bytes(64 * 1024)]));
    await waitFor(() => closed, { timeoutMs: 10_000, what: 'the server to drop the garbage connection' });

    for (const id of cluster.voterIds) expect(cluster.isRunning(id)).toBe(true);
    const statusAfter = await cluster.status(leader);
    expect(statusAfter.role).toBe('leader');
    expect(statusAfter.term).toBe(statusBefore.term);
    expect(await versions()).toBe(before);
    // Still serving: a write commits.
    await writeWithRetry(() => client.call('RegisterBroker', registration(9)));
    expect(Number(await versions())).toBe(Number(before) + 1);
  });
});
