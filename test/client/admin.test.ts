// Goal: Admin.listTopics and Admin.describeTopic against real in-process
// brokers over gRPC: every topic the broker knows, sorted; one topic's
// placement (leader, leader epoch, replicas, ISR) with each partition's
// earliest and latest offset from its leader; a typed error for a topic that
// does not exist; an offline partition keeps its placement and says why its
// offsets are missing instead of failing the whole description; a dead
// address in the bootstrap list is skipped.
import { describe, expect, it } from 'vitest';
import { FjordClient } from '@fjord/client';
import { isFjordError } from '@fjord/protocol';
import { freePorts } from '@fjord/testkit';
import { startTestCluster } from '../../packages/broker/test/harness.js';
import { closeAfterEach } from '../support/close-after-each.js';

describe('Admin: list and describe topics', () => {
  const track = closeAfterEach();

  it('lists topics sorted, describes placement and offsets, and types the unknown topic', async () => {
    const cluster = track(await startTestCluster({ brokerIds: [1, 2] }));
    cluster.addTopic({ name: 'zeta', partitions: 1, replicas: [1] });
    cluster.addTopic({ name: 'alpha', partitions: 2, replicas: [1, 2] });
    const client = track(new FjordClient({ bootstrap: [`127.0.0.1:${cluster.ports.get(1) as number}`], requestTimeoutMs: 5_000 }));
    const admin = client.admin();

    const topics = await admin.listTopics();
    expect(topics.map((t) => t.name)).toEqual(['alpha', 'zeta']);
    expect(topics[0]?.partitions.map((p) => p.partition)).toEqual([0, 1]);

    const sent = await client.producer().send({ topic: 'alpha', messages: ['a', 'b', 'c'].map((v) => ({ value: Buffer.from(v), partition: 1 })) });
    expect(sent.map((m) => m.offset)).toEqual([0, 1, 2]);

    const d = await admin.describeTopic('alpha');
    expect(d.name).toBe('alpha');
    expect(d.topicId).toBe('id-alpha');
    expect(d.partitions.map((p) => ({ partition: p.partition, leaderId: p.leaderId, leaderEpoch: p.leaderEpoch, replicas: p.replicas, isr: p.isr, earliestOffset: p.earliestOffset, latestOffset: p.latestOffset }))).toEqual([
      { partition: 0, leaderId: 1, leaderEpoch: 1, replicas: [1, 2], isr: [1, 2], earliestOffset: 0, latestOffset: 0 },
      { partition: 1, leaderId: 2, leaderEpoch: 1, replicas: [1, 2], isr: [1, 2], earliestOffset: 0, latestOffset: 3 },
    ]);

    const missing = await admin.describeTopic('no-such-topic').then(
      () => null,
      (e: unknown) => e,
    );
    expect(isFjordError(missing, 'UNKNOWN_TOPIC_OR_PARTITION')).toBe(true);
  });

  it('describes an offline partition with its placement and the reason its offsets are missing', async () => {
    const cluster = track(await startTestCluster({ brokerIds: [1] }));
    cluster.addTopic({ name: 'off', partitions: 2, replicas: [1] });
    cluster.setPartition('off', 1, { leader: -1, isr: [] });
    const client = track(new FjordClient({ bootstrap: [`127.0.0.1:${cluster.ports.get(1) as number}`], requestTimeoutMs: 5_000 }));
    const d = await client.admin().describeTopic('off');
    expect(d.partitions[0]).toMatchObject({ partition: 0, leaderId: 1, earliestOffset: 0, latestOffset: 0, offsetsError: null });
    expect(d.partitions[1]).toMatchObject({ partition: 1, leaderId: -1, isr: [], earliestOffset: null, latestOffset: null });
    expect(d.partitions[1]?.offsetsError?.code).toBe('LEADER_NOT_AVAILABLE');
  });

  it('goes past a dead bootstrap address to a live one, and says NETWORK_EXCEPTION when none answers', async () => {
    const cluster = track(await startTestCluster({ brokerIds: [1] }));
    cluster.addTopic({ name: 'reach', partitions: 1, replicas: [1] });
    const [deadA, deadB] = await freePorts(2);
    const client = track(new FjordClient({ bootstrap: [`127.0.0.1:${deadA as number}`, `127.0.0.1:${cluster.ports.get(1) as number}`], requestTimeoutMs: 5_000 }));
    expect((await client.admin().listTopics()).map((t) => t.name)).toEqual(['reach']);
    expect((await client.admin().describeTopic('reach')).partitions).toHaveLength(1);
    const deadOnly = track(new FjordClient({ bootstrap: [`127.0.0.1:${deadA as number}`, `127.0.0.1:${deadB as number}`], requestTimeoutMs: 5_000 }));
    const err = await deadOnly.admin().listTopics().then(
      () => null,
      (e: unknown) => e,
    );
    expect(isFjordError(err, 'NETWORK_EXCEPTION')).toBe(true);
  });
});
