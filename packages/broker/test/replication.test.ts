// Goal: three in-process brokers replicating over real gRPC keep Kafka's
// replication contract: HW = min LEO over the ISR, acks=all answers only once
// every ISR member has the batch, a follower that stops fetching leaves the
// ISR (and rejoins on catch-up), min.insync.replicas refuses acks=all writes
// with NOT_ENOUGH_REPLICAS, a returning old leader truncates its divergent
// tail by leader epoch, and an idempotent retry after a leader change is
// stored once. The test plays the coordinator by driving the metadata image.
import { afterEach, describe, expect, it } from 'vitest';
import { decodeRecordBatches, encodeRecordBatchSync } from '@fjord/protocol';
import { waitFor } from '@fjord/testkit';
import { fetchPartition, producePartition, rawClient, startTestCluster, type RawBrokerClient, type TestCluster } from './harness.js';

function batch(values: readonly string[], idem?: { producerId: number; baseSequence: number }): Buffer {
  return encodeRecordBatchSync({
    records: values.map((v) => ({ value: Buffer.from(v) })),
    defaultTimestamp: 1_700_000_000_000,
    ...(idem !== undefined ? { producerId: idem.producerId, producerEpoch: 0, baseSequence: idem.baseSequence } : {}),
  });
}

async function readAll(client: RawBrokerClient, topic: string, partition: number, currentLeaderEpoch = -1): Promise<string[]> {
  const out: string[] = [];
  let offset = 0;
  for (;;) {
    const f = await fetchPartition(client, { topic, partition, fetchOffset: offset, currentLeaderEpoch });
    if (f.error !== null) throw f.error;
    if (f.records.length === 0) return out;
    for (const b of await decodeRecordBatches(f.records)) {
      for (const r of b.records) {
        if (r.offset >= offset) out.push(r.value === null ? '' : r.value.toString());
      }
      offset = b.header.baseOffset + b.header.lastOffsetDelta + 1;
    }
  }
}

describe('replication across three brokers', () => {
  let cluster: TestCluster | null = null;
  const clients: RawBrokerClient[] = [];
  const clientFor = (id: number): RawBrokerClient => {
    const c = rawClient((cluster as TestCluster).ports.get(id) as number);
    clients.push(c);
    return c;
  };

  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await cluster?.close();
    cluster = null;
  });

  it('acks=all answers once every ISR member holds the batch; HW = min ISR LEO', async () => {
    cluster = await startTestCluster({ brokerIds: [1, 2, 3] });
    cluster.addTopic({ name: 'r', partitions: 1, replicas: [1, 2, 3], leader: 1, configs: { 'min.insync.replicas': '2' } });
    const leader = clientFor(1);
    for (let i = 0; i < 20; i++) {
      const r = await producePartition(leader, { topic: 'r', partition: 0, records: batch([`v${i}a`, `v${i}b`]) });
      expect(r.error).toBeNull();
      const end = r.baseOffset + 2;
      for (const id of [1, 2, 3]) {
        const s = cluster.brokers.get(id)?.replicaManager.partitionStatus('r', 0);
        expect(s?.leo, `broker ${id}`).toBeGreaterThanOrEqual(end);
      }
      const hw = cluster.brokers.get(1)?.replicaManager.partitionStatus('r', 0)?.hw ?? -1;
      expect(hw).toBeGreaterThanOrEqual(end);
    }
    const all = await readAll(leader, 'r', 0);
    expect(all.length).toBe(40);
    // Followers learn the HW from the leader's fetch answers.
    await waitFor(() => [2, 3].every((id) => cluster?.brokers.get(id)?.replicaManager.partitionStatus('r', 0)?.hw === 40), { timeoutMs: 5_000, what: 'follower HW 40' });
    // Produce to a follower is refused; a stale epoch is fenced.
    expect((await producePartition(clientFor(2), { topic: 'r', partition: 0, records: batch(['x']) })).error?.code).toBe('NOT_LEADER_OR_FOLLOWER');
    expect((await fetchPartition(clientFor(2), { topic: 'r', partition: 0, fetchOffset: 0 })).error?.code).toBe('NOT_LEADER_OR_FOLLOWER');
  });

  it('shrinks the ISR when a follower stops fetching, refuses below min.insync, expands on catch-up', async () => {
    cluster = await startTestCluster({ brokerIds: [1, 2, 3] });
    cluster.addTopic({ name: 'm2', partitions: 1, replicas: [1, 2, 3], leader: 1, configs: { 'min.insync.replicas': '2' } });
    cluster.addTopic({ name: 'm3', partitions: 1, replicas: [1, 2, 3], leader: 1, configs: { 'min.insync.replicas': '3' } });
    const leader = clientFor(1);
    expect((await producePartition(leader, { topic: 'm2', partition: 0, records: batch(['a']) })).error).toBeNull();
    expect((await producePartition(leader, { topic: 'm3', partition: 0, records: batch(['a']) })).error).toBeNull();
    await cluster.stopBroker(3);
    // Waiting for broker 3 when the ISR shrinks below min.insync: stored, but not safe.
    const pendingM3 = producePartition(leader, { topic: 'm3', partition: 0, records: batch(['pending']), timeoutMs: 15_000 });
    // Lagging needs data to lag behind: keep writing to m2 with acks=1.
    await waitFor(
      async () => {
        await producePartition(leader, { topic: 'm2', partition: 0, records: batch(['more']), acks: 1 });
        await producePartition(leader, { topic: 'm3', partition: 0, records: batch(['more']), acks: 1 });
        return cluster?.partition('m2', 0).isr.join(',') === '1,2' && cluster.partition('m3', 0).isr.join(',') === '1,2';
      },
      { timeoutMs: 10_000, intervalMs: 100, what: 'ISR shrink to [1,2]' },
    );
    expect(cluster.brokers.get(1)?.replicaManager.partitionStatus('m2', 0)?.isr).toEqual([1, 2]);
    expect((await pendingM3).error?.code).toBe('NOT_ENOUGH_REPLICAS_AFTER_APPEND');
    const ok = await producePartition(leader, { topic: 'm2', partition: 0, records: batch(['b']) });
    expect(ok.error).toBeNull();
    const refused = await producePartition(leader, { topic: 'm3', partition: 0, records: batch(['b']) });
    expect(refused.error?.code).toBe('NOT_ENOUGH_REPLICAS');
    const leoBefore = cluster.brokers.get(1)?.replicaManager.partitionStatus('m3', 0)?.leo;
    expect(leoBefore).toBeDefined();
    // The refused write changed nothing; acks=1 still works.
    expect((await producePartition(leader, { topic: 'm3', partition: 0, records: batch(['c']), acks: 1 })).error).toBeNull();
    // Broker 3 returns, catches up and rejoins.
    await cluster.startBroker(3);
    await waitFor(() => cluster?.partition('m3', 0).isr.join(',') === '1,2,3', { timeoutMs: 10_000, what: 'ISR expand to [1,2,3]' });
    expect((await producePartition(leader, { topic: 'm3', partition: 0, records: batch(['d']) })).error).toBeNull();
    expect(await readAll(leader, 'm3', 0)).toEqual(['a', 'pending', ...Array.from({ length: (leoBefore as number) - 2 }, () => 'more'), 'c', 'd']);
  });

  it('an old leader that wrote an unreplicated tail truncates it by leader epoch when it returns as a follower', async () => {
    cluster = await startTestCluster({ brokerIds: [1, 2, 3] });
    cluster.addTopic({ name: 'd', partitions: 1, replicas: [1, 2, 3], leader: 1 });
    const one = clientFor(1);
    for (const v of ['a', 'b', 'c']) expect((await producePartition(one, { topic: 'd', partition: 0, records: batch([v]) })).error).toBeNull();
    await cluster.stopBroker(2);
    await cluster.stopBroker(3);
    // Unreplicated: acks=1 answers from the leader's log alone.
    for (const v of ['tail1', 'tail2']) expect((await producePartition(one, { topic: 'd', partition: 0, records: batch([v]), acks: 1 })).error).toBeNull();
    expect(cluster.brokers.get(1)?.replicaManager.partitionStatus('d', 0)?.leo).toBe(5);
    await cluster.stopBroker(1);
    const p = cluster.partition('d', 0);
    cluster.setPartition('d', 0, { leader: 2, leaderEpoch: p.leaderEpoch + 1, isr: [2, 3], partitionEpoch: p.partitionEpoch + 1 });
    await cluster.startBroker(2);
    await cluster.startBroker(3);
    const two = clientFor(2);
    for (const v of ['new1', 'new2', 'new3']) expect((await producePartition(two, { topic: 'd', partition: 0, records: batch([v]) })).error).toBeNull();
    await cluster.startBroker(1);
    await waitFor(
      () => {
        const s = cluster?.brokers.get(1)?.replicaManager.partitionStatus('d', 0);
        return s !== undefined && s !== null && s.leo === 6 && s.role === 'follower';
      },
      { timeoutMs: 10_000, what: 'broker 1 truncated and caught up to 6' },
    );
    // Leadership back to broker 1: it serves the new leader's history, never its old tail.
    const q = cluster.partition('d', 0);
    cluster.setPartition('d', 0, { leader: 1, leaderEpoch: q.leaderEpoch + 1, isr: [1, 2, 3], partitionEpoch: q.partitionEpoch + 1 });
    await waitFor(() => cluster?.brokers.get(1)?.replicaManager.partitionStatus('d', 0)?.role === 'leader', { timeoutMs: 5_000, what: 'broker 1 leads' });
    expect((await producePartition(one, { topic: 'd', partition: 0, records: batch(['last']) })).error).toBeNull();
    expect(await readAll(one, 'd', 0)).toEqual(['a', 'b', 'c', 'new1', 'new2', 'new3', 'last']);
    // The old epoch is fenced on the new leader.
    expect((await fetchPartition(one, { topic: 'd', partition: 0, fetchOffset: 0, currentLeaderEpoch: q.leaderEpoch })).error?.code).toBe('FENCED_LEADER_EPOCH');
  });

  it('an idempotent retry after a leader change is stored once (followers keep producer state)', async () => {
    cluster = await startTestCluster({ brokerIds: [1, 2, 3] });
    cluster.addTopic({ name: 'i', partitions: 1, replicas: [1, 2, 3], leader: 1 });
    const one = clientFor(1);
    const first = await producePartition(one, { topic: 'i', partition: 0, records: batch(['x0', 'x1'], { producerId: 42, baseSequence: 0 }) });
    expect(first.error).toBeNull();
    // The answer was "lost"; leadership moves before the retry.
    const p = cluster.partition('i', 0);
    cluster.setPartition('i', 0, { leader: 2, leaderEpoch: p.leaderEpoch + 1, partitionEpoch: p.partitionEpoch + 1 });
    const two = clientFor(2);
    await waitFor(() => cluster?.brokers.get(2)?.replicaManager.partitionStatus('i', 0)?.role === 'leader', { timeoutMs: 5_000, what: 'broker 2 leads' });
    const retry = await producePartition(two, { topic: 'i', partition: 0, records: batch(['x0', 'x1'], { producerId: 42, baseSequence: 0 }) });
    expect(retry).toEqual(first);
    expect((await producePartition(two, { topic: 'i', partition: 0, records: batch(['x2'], { producerId: 42, baseSequence: 2 }) })).error).toBeNull();
    expect(await readAll(two, 'i', 0)).toEqual(['x0', 'x1', 'x2']);
  });
});
