/**
 * Goal: Coordinator.Pipeline (many requests on one stream, answered by id)
 * against a real 3-node coordinator (real processes, gRPC on 127.0.0.1,
 * LevelDB), through the shipped client (CoordinatorPipeline) and, for
 * garbage a well-behaved client never sends, a raw grpc-js stream:
 * - 1,000 concurrent RegisterBroker + CreateTopics on one pipeline are all
 *   answered, each with its own request's answer (the broker epoch each
 *   registration got is the one the committed state holds; each topic answer
 *   names its topic), and the state reflects every one;
 * - per-request errors come back as the same FjordError the unary call gives
 *   (a stale broker epoch, a stale partition epoch per item, an invalid topic
 *   name per item) and do not disturb the other ids;
 * - a pipeline to a follower works (writes forwarded to the leader);
 * - garbage (no request body, an id already in flight, a malformed field) is
 *   answered INVALID_REQUEST and changes nothing; an oversized message fails
 *   the stream with MESSAGE_TOO_LARGE and the next call opens a new one;
 * - a client deadline rejects with REQUEST_TIMED_OUT;
 * - kill -9 of the leader rejects the pending calls with a retriable
 *   FjordError; a pipeline to the new leader works.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentials, type ClientDuplexStream } from '@grpc/grpc-js';
import { CoordinatorPipeline, FjordError, grpcChannelOptions, loadFjordGrpc } from '@fjord/protocol';
import { waitFor } from '@fjord/testkit';
import { closeAfterEach } from '../support/close-after-each.js';
import { CoordinatorCluster, failure, registration, writeWithRetry, type WireMetadata } from './coordinator-cluster.js';

let cluster: CoordinatorCluster;
const track = closeAfterEach();

beforeAll(async () => {
  // A long session keeps the three placement brokers live without a heartbeat loop. A write a leader change left
  // uncommitted waits out the request timeout before it is retried: 1 s keeps that short.
  cluster = await CoordinatorCluster.create({ voters: 3, args: ['--broker-session-timeout-ms', '120000', '--controller-interval-ms', '20', '--request-timeout-ms', '1000'] });
  await cluster.startAll();
  await cluster.waitForLeader();
});

afterAll(async () => {
  await cluster.close();
});

function pipelineTo(id: number, options: { maxMessageBytes?: number } = {}): CoordinatorPipeline {
  return track(new CoordinatorPipeline({ address: cluster.address(id), defaultTimeoutMs: 10_000, ...options }).start());
}

async function metadata(id: number): Promise<WireMetadata> {
  return cluster.client(id).call<WireMetadata>('GetMetadata', {});
}

/** Registers brokers 1-3 and heartbeats them through `p` until unfenced, so topics can be placed. */
async function placementBrokers(p: CoordinatorPipeline): Promise<Map<number, string>> {
  const epochs = new Map<number, string>();
  for (const id of [1, 2, 3]) {
    // Registrations of one incarnation are idempotent, so they retry a leader change (fast election timeouts under load).
    const r = await writeWithRetry(() => p.call<{ brokerEpoch: string }>('registerBroker', registration(id)));
    epochs.set(id, r.brokerEpoch);
  }
  await waitFor(
    async () => {
      const beats = await Promise.all([1, 2, 3].map((id) => p.call<{ fenced: boolean }>('brokerHeartbeat', { brokerId: id, brokerEpoch: epochs.get(id), wantFence: false })));
      return beats.every((b) => !b.fenced);
    },
    { timeoutMs: 10_000, intervalMs: 50, what: 'brokers 1-3 unfenced' },
  );
  return epochs;
}

/** A raw Pipeline stream, for messages CoordinatorPipeline never sends. */
function rawPipeline(address: string): { send(message: unknown): void; answer(id: string, timeoutMs?: number): Promise<Record<string, unknown>>; close(): void } {
  const client = new (loadFjordGrpc().coordinator)(address, credentials.createInsecure(), grpcChannelOptions(64 * 1024 * 1024));
  const stream = (client as unknown as Record<string, () => ClientDuplexStream<unknown, Record<string, unknown>>>)['Pipeline']?.call(client);
  if (stream === undefined) throw new Error('no Pipeline method');
  const answers: Record<string, unknown>[] = [];
  stream.on('data', (a: Record<string, unknown>) => answers.push(a));
  stream.on('error', () => undefined);
  return {
    send: (message) => stream.write(message),
    answer: (id, timeoutMs = 10_000) => waitFor(() => answers.find((a) => a['id'] === id), { timeoutMs, what: `the answer to id ${id}` }),
    close: () => {
      stream.cancel();
      client.close();
    },
  };
}

describe('Coordinator.Pipeline (real processes)', () => {
  it('answers 1,000 concurrent RegisterBroker + CreateTopics on one stream, each with its own answer, and the state holds them all', async () => {
    const leader = await cluster.waitForLeader();
    const p = pipelineTo(leader);
    await placementBrokers(p);
    const brokerIds = Array.from({ length: 950 }, (_, i) => 1_000 + i);
    const topics = Array.from({ length: 50 }, (_, i) => `pipelined-${i}`);
    // A leader change under load fails the calls in flight retriably: each is retried (a registration is idempotent; a
    // retried create may find its topic made by the first attempt).
    const [registered, created] = await Promise.all([
      Promise.all(brokerIds.map((id) => writeWithRetry(() => p.call<{ brokerEpoch: string; metadataVersion: string }>('registerBroker', registration(id)), 30_000))),
      Promise.all(topics.map((name) => writeWithRetry(() => p.call<{ topics: { name: string; errorCode: string; topicId: string }[] }>('createTopics', { topics: [{ name, numPartitions: 1, replicationFactor: 3 }] }), 30_000))),
    ]);
    expect(p.inFlight).toBe(0);
    for (const [i, r] of created.entries()) {
      expect(r.topics).toHaveLength(1);
      expect(r.topics[0]?.name).toBe(topics[i]);
      expect(['', 'TOPIC_ALREADY_EXISTS']).toContain(r.topics[0]?.errorCode);
    }
    // Every epoch is a distinct committed change, so a swapped answer would show here.
    expect(new Set(registered.map((r) => r.brokerEpoch)).size).toBe(brokerIds.length);
    const md = await metadata(leader);
    const epochOf = new Map(md.brokers.map((b) => [b.brokerId, b.brokerEpoch]));
    for (const [i, id] of brokerIds.entries()) expect(epochOf.get(id)).toBe(registered[i]?.brokerEpoch);
    const byName = new Map(md.topics.map((t) => [t.name, t.topicId]));
    for (const [i, name] of topics.entries()) {
      const answer = created[i]?.topics[0];
      expect(byName.has(name)).toBe(true);
      if (answer?.errorCode === '') expect(byName.get(name)).toBe(answer.topicId);
    }
  });

  it('gives per-request errors exactly as the unary calls do, without disturbing the other ids; a follower forwards', async () => {
    const leader = await cluster.waitForLeader();
    const follower = [1, 2, 3].find((id) => id !== leader) as number;
    const p = pipelineTo(follower);
    const epochs = await placementBrokers(p);
    await p.call('createTopics', { topics: [{ name: 'epochs', numPartitions: 1, replicationFactor: 3 }] });
    const topic = (await metadata(leader)).topics.find((t) => t.name === 'epochs');
    const part = topic?.partitions[0];
    if (topic === undefined || part === undefined) throw new Error('topic epochs missing');
    const staleAlter = {
      brokerId: part.leader,
      brokerEpoch: epochs.get(part.leader),
      items: [{ topicId: topic.topicId, partition: 0, leaderEpoch: part.leaderEpoch, partitionEpoch: part.partitionEpoch + 7, newIsr: part.isr.map((b) => ({ brokerId: b, brokerEpoch: epochs.get(b) })) }],
    };
    const badName = { topics: [{ name: 'no spaces allowed', numPartitions: 1, replicationFactor: 1 }] };
    const staleBeat = { brokerId: 1, brokerEpoch: String(Number(epochs.get(1)) + 1_000), wantFence: false };
    const before = await metadata(leader);

    const good = [2_001, 2_002, 2_003].map((id) => p.call<{ brokerEpoch: string }>('registerBroker', registration(id)));
    const [alterAnswer, nameAnswer, beatError] = await Promise.all([
      p.call<{ items: { errorCode: string; state: { partitionEpoch: number } }[] }>('alterPartition', staleAlter),
      p.call<{ topics: { errorCode: string; errorMessage: string }[] }>('createTopics', badName),
      failure(p.call('brokerHeartbeat', staleBeat)),
    ]);
    const goodAnswers = await Promise.all(good);
    expect(goodAnswers.every((r) => typeof r.brokerEpoch === 'string' && r.brokerEpoch !== '0')).toBe(true);

    // The same requests as unary calls (to the same follower) answer the same.
    const unary = cluster.client(follower);
    const unaryAlter = await unary.call<{ items: { errorCode: string; state: { partitionEpoch: number } }[] }>('AlterPartition', staleAlter);
    const unaryName = await unary.call<{ topics: { errorCode: string; errorMessage: string }[] }>('CreateTopics', badName);
    const unaryBeat = await failure(unary.call('BrokerHeartbeat', staleBeat));
    expect(alterAnswer.items[0]?.errorCode).toBe('INVALID_UPDATE_VERSION');
    expect(alterAnswer.items).toEqual(unaryAlter.items);
    expect(alterAnswer.items[0]?.state.partitionEpoch).toBe(part.partitionEpoch);
    expect(nameAnswer.topics[0]?.errorCode).toBe('INVALID_TOPIC');
    expect(nameAnswer.topics).toEqual(unaryName.topics);
    expect(beatError.code).toBe('STALE_BROKER_EPOCH');
    expect(beatError.code).toBe(unaryBeat.code);
    expect(beatError.message).toBe(unaryBeat.message);
    expect(beatError.details).toEqual(unaryBeat.details);

    // The refused requests changed nothing (the good registrations did; the controller may also commit meanwhile, so no exact version count).
    const after = await metadata(leader);
    expect(Number(after.metadataVersion) - Number(before.metadataVersion)).toBeGreaterThanOrEqual(3);
    expect(after.topics.find((t) => t.name === 'epochs')?.partitions[0]).toEqual(part);
    expect(after.topics.some((t) => t.name === 'no spaces allowed')).toBe(false);
    expect(after.brokers.find((b) => b.brokerId === 1)).toEqual(before.brokers.find((b) => b.brokerId === 1));
    // A linearizable read through the follower's pipeline sees them.
    const read = await p.call<{ brokers: { brokerId: number }[] }>('getMetadata', {});
    expect(read.brokers.map((b) => b.brokerId)).toEqual(expect.arrayContaining([2_001, 2_002, 2_003]));
  });

  it('answers garbage with INVALID_REQUEST and changes nothing; an oversized message fails the stream with MESSAGE_TOO_LARGE and the next call reopens', async () => {
    const leader = await cluster.waitForLeader();
    const before = await metadata(leader);
    const raw = track(rawPipeline(cluster.address(leader)));
    raw.send({ id: 11 }); // no request body
    raw.send({ id: 12, registerBroker: { brokerId: 0, incarnationId: '', endpoints: [] } }); // malformed fields
    const noBody = await raw.answer('11');
    const malformed = await raw.answer('12');
    const unaryMalformed = await failure(cluster.client(leader).call('RegisterBroker', { brokerId: 0, incarnationId: '', endpoints: [] }));
    expect(noBody['errorCode']).toBe('INVALID_REQUEST');
    expect(noBody['response']).toBeUndefined();
    expect(malformed['errorCode']).toBe(unaryMalformed.code);
    expect(malformed['errorCode']).toBe('INVALID_REQUEST');
    expect((await metadata(leader)).metadataVersion).toBe(before.metadataVersion);

    // An id still in flight: freeze both followers so the first request cannot commit while the duplicate arrives.
    const followers = [1, 2, 3].filter((id) => id !== leader);
    for (const id of followers) cluster.nodes.get(id)?.pause();
    try {
      raw.send({ id: 13, registerBroker: registration(3_001) });
      raw.send({ id: 13, registerBroker: registration(3_002) });
      const duplicate = await raw.answer('13');
      expect(duplicate['errorCode']).toBe('INVALID_REQUEST');
      expect(String(duplicate['errorMessage'])).toMatch(/already in flight/);
      // The client's own deadline (one sweep timer): a frozen node never answers.
      const p = pipelineTo(followers[0] as number);
      const timedOut = await failure(p.call('registerBroker', registration(3_003), { timeoutMs: 200 }));
      expect(timedOut.code).toBe('REQUEST_TIMED_OUT');
      expect(p.inFlight).toBe(0);
    } finally {
      for (const id of followers) cluster.nodes.get(id)?.resume();
    }
    await cluster.waitForLeader();
    // The first id-13 request may or may not have committed (leadership may have moved); the duplicate never did.
    await waitFor(async () => (await metadata(leader).catch(() => null)) !== null, { timeoutMs: 10_000, what: 'metadata readable again' });
    const ids = new Set((await metadata((await cluster.waitForLeader()))).brokers.map((b) => b.brokerId));
    expect(ids.has(3_002)).toBe(false);

    // Oversized: above the server's 4 MiB receive limit (the client allows 64 MiB).
    const now = await cluster.waitForLeader();
    const big = pipelineTo(now, { maxMessageBytes: 64 * 1024 * 1024 });
    await big.call('getMetadata', { allowStale: true });
    const versionBefore = (await metadata(now)).metadataVersion;
    const tooLarge = await failure(big.call('createTopics', { topics: [{ name: 'huge', configs: { 'cleanup.policy': 'x'.repeat(5 * 1024 * 1024) } }] }));
    expect(tooLarge.code).toBe('MESSAGE_TOO_LARGE');
    const again = await big.call<{ metadataVersion: string }>('getMetadata', {});
    expect(again.metadataVersion).toBe(versionBefore);
    expect((await metadata(now)).topics.some((t) => t.name === 'huge')).toBe(false);
  });

  it('kill -9 of the leader rejects pending calls with a retriable FjordError; a pipeline to the new leader works', async () => {
    const leader = await cluster.waitForLeader();
    const followers = [1, 2, 3].filter((id) => id !== leader);
    const p = pipelineTo(leader);
    await p.call('getMetadata', {});
    // The signal goes out in this tick, before 1,000 writes can commit: most are pending when the leader dies.
    const outcomes = Array.from({ length: 1_000 }, (_, i) =>
      p.call('registerBroker', registration(4_000 + i)).then(
        () => null,
        (e: unknown) => e,
      ),
    );
    expect(p.inFlight).toBe(1_000);
    await cluster.kill(leader);
    const errors = (await Promise.all(outcomes)).filter((e) => e !== null);
    expect(errors.length).toBeGreaterThan(0);
    for (const err of errors) {
      expect(err).toBeInstanceOf(FjordError);
      expect((err as FjordError).retriable, `${(err as FjordError).code}: ${(err as FjordError).message}`).toBe(true);
    }
    expect(p.inFlight).toBe(0);
    // The old pipeline reopens lazily, to a dead address: retriable again.
    const dead = await failure(p.call('getMetadata', {}, { timeoutMs: 2_000 }));
    expect(dead.retriable).toBe(true);

    const next = await cluster.waitForLeader({ among: followers });
    const q = pipelineTo(next);
    const r = await q.call<{ brokerEpoch: string }>('registerBroker', registration(4_500));
    const md = await metadata(next);
    expect(md.brokers.find((b) => b.brokerId === 4_500)?.brokerEpoch).toBe(r.brokerEpoch);
  });
});
