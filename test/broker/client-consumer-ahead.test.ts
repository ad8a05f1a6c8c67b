// Goal: the consumer fetches one round ahead while the caller handles the
// current one, and a round fetched ahead but never handed over moves no
// position: stopping after the first batch and iterating again continues
// exactly after what was handed over (nothing skipped, nothing repeated).
// Also: many one-record sends to one partition under acks=all leave in few
// requests (the open batch keeps filling while a request is in flight) and
// are all acknowledged in order.
import { describe, expect, it } from 'vitest';
import { FjordClient } from '@fjord/client';
import { startTestCluster } from '../../packages/broker/test/harness.js';
import { closeAfterEach } from '../support/close-after-each.js';

describe('client: fetch ahead, per-record sends', () => {
  const track = closeAfterEach();

  it('a round fetched ahead and dropped moves no position; per-record sends are acknowledged in order', async () => {
    const cluster = track(await startTestCluster({ brokerIds: [1, 2, 3] }));
    cluster.addTopic({ name: 'ahead', partitions: 1, replicas: [1, 2, 3], leader: 1, configs: { 'min.insync.replicas': '2' } });
    const client = track(new FjordClient({ bootstrap: [`127.0.0.1:${cluster.ports.get(1) as number}`] }));
    const producer = client.producer({ lingerMs: 0 });
    // 2,000 one-record sends at once: more than the 1,024 batches a produce may carry if each were its own batch.
    const sends = Array.from({ length: 2_000 }, (_, i) => producer.send({ topic: 'ahead', messages: [{ value: Buffer.from(`v${i}`) }] }));
    const offsets = (await Promise.all(sends)).map(([m]) => m?.offset);
    expect(offsets).toEqual(Array.from({ length: 2_000 }, (_, i) => i));

    // Small rounds (one batch each at most), so several rounds are needed.
    const consumer = client.consumer({ maxWaitMs: 50, partitionMaxBytes: 1 });
    consumer.assign([{ topic: 'ahead', partition: 0, offset: 'earliest' }]);
    const seen: number[] = [];
    for await (const b of consumer.batches()) {
      for (const m of b.messages) seen.push(m.offset);
      if (b.messages.length > 0) consumer.stop();
    }
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.length).toBeLessThan(2_000);
    expect(consumer.position('ahead', 0)).toBe(seen.length);
    for await (const b of consumer.batches()) {
      for (const m of b.messages) seen.push(m.offset);
      if (seen.length >= 2_000) consumer.stop();
    }
    expect(seen).toEqual(Array.from({ length: 2_000 }, (_, i) => i));
  });
});
