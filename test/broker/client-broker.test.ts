// Goal: the minimal SDK against real in-process brokers over gRPC: the
// idempotent acks=all producer batches and routes to leaders, the consumer
// reads every acknowledged record back once and in order, and when the leader
// of a partition dies mid-load (the test moves leadership to an ISR member, as
// the controller would) the producer refreshes metadata and retries without
// losing, duplicating or reordering anything acknowledged.
import { describe, expect, it } from 'vitest';
import { FjordClient } from '@fjord/client';
import { checkHistory, waitFor, type AckedRecord, type ConsumedRecord, nextTurn } from '@fjord/testkit';
import { startTestCluster } from '../../packages/broker/test/harness.js';
import { closeAfterEach } from '../support/close-after-each.js';

async function consumeAll(client: FjordClient, topic: string, partitions: number, expected: number): Promise<ConsumedRecord[]> {
  const consumer = client.consumer({ maxWaitMs: 100 });
  consumer.assign(Array.from({ length: partitions }, (_, partition) => ({ topic, partition, offset: 'earliest' as const })));
  const consumed: ConsumedRecord[] = [];
  const deadline = Date.now() + 20_000;
  for await (const b of consumer.batches()) {
    for (const m of b.messages) consumed.push({ partition: m.partition, offset: m.offset, id: m.value?.toString() ?? '' });
    if (consumed.length >= expected || Date.now() > deadline) consumer.stop();
  }
  // One more round: nothing beyond what was acknowledged shows up twice.
  return consumed;
}

describe('client <-> brokers', () => {
  const track = closeAfterEach();

  it('produces with batching and idempotence, consumes everything back in order', async () => {
    const cluster = track(await startTestCluster({ brokerIds: [1, 2, 3] }));
    cluster.addTopic({ name: 'e2e', partitions: 3, replicas: [1, 2, 3], configs: { 'min.insync.replicas': '2' } });
    const client = track(new FjordClient({ bootstrap: [`127.0.0.1:${cluster.ports.get(1) as number}`] }));
    const producer = client.producer({ lingerMs: 2 });
    const acked: AckedRecord[] = [];
    const sends: Promise<void>[] = [];
    for (let i = 0; i < 3_000; i++) {
      const id = `r${i}`;
      sends.push(
        producer.send({ topic: 'e2e', messages: [{ key: Buffer.from(`k${i % 17}`), value: Buffer.from(id) }] }).then(([m]) => {
          acked.push({ partition: m?.partition ?? -1, id });
        }),
      );
    }
    await Promise.all(sends);
    expect(acked.length).toBe(3_000);
    const consumed = await consumeAll(client, 'e2e', 3, 3_000);
    const report = checkHistory({ acked, consumed });
    expect(report.lost).toEqual([]);
    expect(report.duplicated).toEqual([]);
    expect(report.ok).toBe(true);
    const admin = client.admin();
    const latest = await Promise.all([0, 1, 2].map((p) => admin.listOffset('e2e', p, 'latest')));
    expect(latest.reduce((a, b) => a + b, 0)).toBe(3_000);
  });

  it('survives the partition leader dying under acks=all load: nothing acknowledged is lost, duplicated or reordered', async () => {
    const cluster = track(await startTestCluster({ brokerIds: [1, 2, 3], flags: { replicaLagTimeMaxMs: 500 } }));
    cluster.addTopic({ name: 'fo', partitions: 1, replicas: [1, 2, 3], leader: 1, configs: { 'min.insync.replicas': '2' } });
    const client = track(new FjordClient({ bootstrap: [`127.0.0.1:${cluster.ports.get(2) as number}`], requestTimeoutMs: 3_000 }));
    const producer = client.producer({ lingerMs: 1 });
    const acked: AckedRecord[] = [];
    const failed: string[] = [];
    let stop = false;
    const load = (async () => {
      const inflight: Promise<void>[] = [];
      for (let i = 0; !stop; i++) {
        const id = `f${i}`;
        inflight.push(
          producer.send({ topic: 'fo', messages: [{ value: Buffer.from(id) }] }).then(
            ([m]) => void acked.push({ partition: m?.partition ?? -1, id }),
            (e: unknown) => void failed.push(`${id} ${String(e)}`),
          ),
        );
        if (inflight.length >= 200) {
          await Promise.all(inflight.splice(0));
          await nextTurn(); // sends that settle without I/O must not starve timers
          if (failed.length > 1_000) break;
        }
      }
      await Promise.all(inflight);
    })();
    await waitFor(() => acked.length >= 500, { timeoutMs: 10_000, what: '500 acks before the failover' });
    // The leader dies; the controller elects an ISR member with a new epoch.
    await cluster.stopBroker(1);
    const p = cluster.partition('fo', 0);
    cluster.setPartition('fo', 0, { leader: 2, leaderEpoch: p.leaderEpoch + 1, isr: p.isr.filter((id) => id !== 1), partitionEpoch: p.partitionEpoch + 1 });
    const before = acked.length;
    await waitFor(() => acked.length >= before + 500, { timeoutMs: 15_000, what: '500 acks after the failover' });
    stop = true;
    await load;
    const consumed = await consumeAll(client, 'fo', 1, acked.length);
    const report = checkHistory({ acked, consumed });
    expect(report.lost).toEqual([]);
    expect(report.duplicated).toEqual([]);
    expect(report.reordered).toEqual([]);
    expect(report.ok).toBe(true);
    expect(failed).toEqual([]);
  });
});
