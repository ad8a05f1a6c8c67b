/**
 * Goal: WatchMetadata as a broker or client uses it (issue 4 "A watch
 * stream"), on a follower of a 3-process cluster: subscribed from a version,
 * it receives every change after it, in order, with no gaps; one further
 * behind than the retained history gets a full image first and then the
 * changes after it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ClientReadableStream, ServiceError } from '@grpc/grpc-js';
import { fromServiceError, type FjordError } from '@fjord/protocol';
import { waitFor } from '@fjord/testkit';
import { CoordinatorCluster, registration } from './coordinator-cluster.js';

let cluster: CoordinatorCluster | null = null;
const streams: ClientReadableStream<Record<string, unknown>>[] = [];

afterEach(async () => {
  for (const s of streams.splice(0)) s.cancel();
  await cluster?.close();
  cluster = null;
});

interface Seen {
  images: number[];
  deltas: { version: number; brokerIds: number[] }[];
  errors: string[];
}

function collect(stream: ClientReadableStream<Record<string, unknown>>): Seen {
  streams.push(stream);
  const seen: Seen = { images: [], deltas: [], errors: [] };
  stream.on('data', (ev: Record<string, unknown>) => {
    const image = ev['image'] as { metadataVersion: string } | null | undefined;
    const delta = ev['delta'] as { metadataVersion: string; brokers: { brokerId: number }[] } | null | undefined;
    if (image !== null && image !== undefined) seen.images.push(Number(image.metadataVersion));
    if (delta !== null && delta !== undefined) seen.deltas.push({ version: Number(delta.metadataVersion), brokerIds: delta.brokers.map((b) => b.brokerId) });
  });
  stream.on('error', (err: Error) => seen.errors.push(err.message));
  return seen;
}

async function version(c: CoordinatorCluster, id: number): Promise<number> {
  return Number((await c.client(id).call<{ metadataVersion: string }>('GetMetadata', {})).metadataVersion);
}

describe('WatchMetadata on a follower', () => {
  it('delivers every change after the version, in order; a watcher too far behind gets an image first', async () => {
    cluster = await CoordinatorCluster.create({ voters: 3, args: ['--watch-history-versions', '5'] });
    await cluster.startAll();
    const leader = await cluster.waitForLeader();
    const follower = cluster.voterIds.find((id) => id !== leader) as number;
    for (let b = 1; b <= 3; b++) await cluster.client(leader).call('RegisterBroker', registration(b));
    const from = await version(cluster, leader);

    const live = collect(cluster.client(follower).watch({ fromVersion: from }));
    // A second watcher subscribes after more writes: it still gets every change after `from`.
    await cluster.client(leader).call('RegisterBroker', registration(4));
    const late = collect(cluster.client(follower).watch({ fromVersion: from }));
    for (let b = 5; b <= 10; b++) await cluster.client(leader).call('RegisterBroker', registration(b));
    const last = await version(cluster, leader);
    expect(last - from).toBeGreaterThanOrEqual(7);

    for (const seen of [live, late]) {
      await waitFor(async () => seen.deltas.at(-1)?.version === last, { timeoutMs: 10_000, what: 'the watcher to reach the last version' });
      expect(seen.errors).toEqual([]);
      expect(seen.images).toEqual([]);
      expect(seen.deltas.map((d) => d.version)).toEqual(Array.from({ length: last - from }, (_, i) => from + i + 1));
      expect(seen.deltas.flatMap((d) => d.brokerIds)).toEqual(expect.arrayContaining([4, 5, 6, 7, 8, 9, 10]));
    }

    // Only 5 versions are retained: a watcher from version 1 gets the whole image, then what follows it.
    const behind = collect(cluster.client(follower).watch({ fromVersion: 1 }));
    await waitFor(async () => behind.images.length === 1, { timeoutMs: 10_000, what: 'an image for the watcher too far behind' });
    expect(behind.images[0]).toBeGreaterThanOrEqual(last);
    await cluster.client(leader).call('RegisterBroker', registration(11));
    await waitFor(async () => behind.deltas.length === 1, { timeoutMs: 10_000, what: 'the change after the image' });
    expect(behind.deltas[0]?.version).toBe((behind.images[0] as number) + 1);
    expect(behind.deltas[0]?.brokerIds).toEqual([11]);
    expect(behind.errors).toEqual([]);
  });

  it('a refused watch ends with its error status (the client is never left on a silent stream)', async () => {
    cluster = await CoordinatorCluster.create({ voters: 3 });
    await cluster.startAll();
    const leader = await cluster.waitForLeader();
    const follower = cluster.voterIds.find((id) => id !== leader) as number;
    for (const id of [leader, follower]) {
      const stream = cluster.client(id).watch({ fromVersion: -5 });
      streams.push(stream);
      const ended = new Promise<FjordError>((resolve) => stream.on('error', (err: ServiceError) => resolve(fromServiceError(err))));
      const err = await Promise.race([ended, new Promise<null>((resolve) => setTimeout(() => resolve(null), 10_000))]);
      expect(err?.code, `node ${id}`).toBe('INVALID_REQUEST');
    }
  });
});
