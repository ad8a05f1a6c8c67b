/**
 * Goal: the controller shell on the Raft leader (issue 4): a broker whose
 * session expires is fenced and every partition it led gets a new leader
 * from the ISR with a higher leader epoch; an AlterPartition with a stale
 * partition epoch is rejected and changes nothing; a heartbeat with an old
 * broker epoch is STALE_BROKER_EPOCH. Real processes, real gRPC.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { FjordError } from '@fjord/protocol';
import { waitFor } from '@fjord/testkit';
import { CoordinatorCluster, registration, writeWithRetry, type CoordinatorClient, type WireMetadata, type WirePartition } from './coordinator-cluster.js';

type Md = WireMetadata;

let cluster: CoordinatorCluster | null = null;
let heartbeats: NodeJS.Timeout | null = null;

afterEach(async () => {
  if (heartbeats !== null) clearInterval(heartbeats);
  heartbeats = null;
  await cluster?.close();
  cluster = null;
});

async function metadata(client: CoordinatorClient): Promise<Md> {
  return client.call<Md>('GetMetadata', {});
}

describe('controller shell (real processes)', () => {
  it('fences a broker whose session expires and moves its leaderships within the ISR; rejects a stale AlterPartition', async () => {
    const c = await CoordinatorCluster.create({
      voters: 3,
      args: ['--broker-session-timeout-ms', '1000', '--broker-heartbeat-interval-ms', '100', '--controller-interval-ms', '20'],
    });
    cluster = c;
    await c.startAll();
    await c.waitForLeader();
    const client = c.client(1);
    const epochs = new Map<number, string>();
    for (const id of [1, 2, 3]) {
      const r = await writeWithRetry(() => client.call<{ brokerEpoch: string }>('RegisterBroker', registration(id)));
      epochs.set(id, r.brokerEpoch);
    }
    const alive = new Set([1, 2, 3]);
    const beat = (): void => {
      for (const id of alive) {
        client.call('BrokerHeartbeat', { brokerId: id, brokerEpoch: epochs.get(id), wantFence: false }).catch(() => undefined);
      }
    };
    beat();
    heartbeats = setInterval(beat, 100);
    await waitFor(async () => (await metadata(client)).brokers.every((b) => !b.fenced), { timeoutMs: 10_000, what: 'all brokers unfenced' });

    // A leader change under CPU load can drop the proposal (RAFT_PROPOSAL_DROPPED, retriable): retry; a retry that finds the topic is fine.
    const created = await writeWithRetry(() => client.call<{ topics: { errorCode: string; topicId: string }[] }>('CreateTopics', { topics: [{ name: 'orders', numPartitions: 6, replicationFactor: 3 }] }));
    expect(['', 'TOPIC_ALREADY_EXISTS']).toContain(created.topics[0]?.errorCode);
    const before = (await metadata(client)).topics.find((t) => t.name === 'orders');
    expect(before?.partitions).toHaveLength(6);
    const victim = before?.partitions[0]?.leader as number;
    const led = (before?.partitions ?? []).filter((p) => p.leader === victim);
    expect(led.length).toBeGreaterThan(0);

    alive.delete(victim);
    const after = await waitFor(
      async () => {
        const md = await metadata(client);
        const fenced = md.brokers.find((b) => b.brokerId === victim)?.fenced === true;
        const topic = md.topics.find((t) => t.name === 'orders');
        const moved = led.every((old) => {
          const now = topic?.partitions[old.partition];
          return now !== undefined && now.leader !== victim && now.leader !== -1;
        });
        return fenced && moved ? topic : null;
      },
      { timeoutMs: 10_000, what: `broker ${victim} fenced and its partitions re-led` },
    );
    for (const old of led) {
      const now = after.partitions[old.partition] as WirePartition;
      expect(old.isr).toContain(now.leader);
      expect(now.leaderEpoch).toBeGreaterThan(old.leaderEpoch);
      expect(now.isr).not.toContain(victim);
    }

    // A stale AlterPartition (old partition epoch) is rejected and changes nothing.
    const p = after.partitions[led[0]?.partition ?? 0] as WirePartition;
    const versionBefore = (await metadata(client)).metadataVersion;
    const stale = await client.call<{ items: { errorCode: string; state: WirePartition | null }[] }>('AlterPartition', {
      brokerId: p.leader,
      brokerEpoch: epochs.get(p.leader),
      items: [{ topicId: after.topicId, partition: p.partition, leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch - 1, newIsr: p.isr.map((b) => ({ brokerId: b, brokerEpoch: epochs.get(b) })) }],
    });
    expect(stale.items[0]?.errorCode).toBe('INVALID_UPDATE_VERSION');
    expect(stale.items[0]?.state?.partitionEpoch).toBe(p.partitionEpoch);
    const afterStale = await metadata(client);
    expect(afterStale.topics.find((t) => t.name === 'orders')?.partitions[p.partition]).toEqual(p);

    // The fenced broker's old incarnation: a new registration makes the old epoch stale.
    const again = await client.call<{ brokerEpoch: string }>('RegisterBroker', registration(victim, 'second-incarnation'));
    expect(again.brokerEpoch).not.toBe(epochs.get(victim));
    const err = await client.call('BrokerHeartbeat', { brokerId: victim, brokerEpoch: epochs.get(victim), wantFence: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FjordError);
    expect((err as FjordError).code).toBe('STALE_BROKER_EPOCH');
    expect(versionBefore).toBe(afterStale.metadataVersion);
  });
});
