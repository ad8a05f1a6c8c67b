// Goal: a follower fetcher closed while a call to its leader is in flight
// stops at once: it touches the replica no more and opens no new connection.
// This was the SIGTERM hang (issue 5): a partition that had just become a
// follower during controlled shutdown was still in its OffsetForLeaderEpoch
// round when the node closed; the answer came back after close(), the loop
// went on to fetchOnce and opened a fresh channel and ReplicaFetch stream that
// nobody closed, which kept the process alive after "broker closed".
// Real gRPC to a real in-process leader; the fetcher is the shipped class.
import { afterEach, describe, expect, it } from 'vitest';
import { FollowerFetcher, type FollowerTarget } from '../src/index.js';
import { waitFor } from '@fjord/testkit';
import { startTestCluster, testLogger, type TestCluster } from './harness.js';

describe('follower fetcher close', () => {
  let cluster: TestCluster | null = null;

  afterEach(async () => {
    await cluster?.close();
    cluster = null;
  });

  it('touches nothing and connects nowhere once closed, even when an OffsetForLeaderEpoch answer arrives after close()', async () => {
    cluster = await startTestCluster({ brokerIds: [1] });
    cluster.addTopic({ name: 't', partitions: 1, replicas: [1] });
    const port = cluster.ports.get(1) as number;

    let fetcher: FollowerFetcher | null = null;
    // A holder, not a let: TypeScript does not see the callback assign it.
    const closing: { done: Promise<void> | null } = { done: null };
    const afterClose: string[] = [];
    const target: FollowerTarget = {
      // A follower holding 5 records of epoch 0 that the (empty) leader does
      // not have: it asks the leader where epoch 0 ends (KIP-279), then cuts.
      followerState: () => {
        if (closing.done !== null) afterClose.push('followerState');
        return { leo: 5, logStartOffset: 0, latestEpoch: 0, epochEntries: [{ epoch: 0, startOffset: 0 }] };
      },
      // The node closes right as the answer is applied: close() lands while
      // the loop is between an awaited answer and its next step, as SIGTERM's
      // close did while a new follower was still truncating.
      truncate: () => {
        if (closing.done !== null) afterClose.push('truncate');
        else closing.done = (fetcher as FollowerFetcher).close();
      },
      resetTo: () => void afterClose.push('resetTo'),
      append: () => void afterClose.push('append'),
    };
    fetcher = new FollowerFetcher({
      brokerId: 2,
      brokerEpoch: () => 1,
      leaderId: 1,
      endpoint: { host: '127.0.0.1', port },
      target,
      logger: testLogger,
      maxWaitMs: 200,
      maxBytes: 1 << 20,
      partitionMaxBytes: 1 << 20,
      backoffMs: 20,
      maxMessageBytes: 64 << 20,
    });
    fetcher.addPartition({ topic: 't', partition: 0, leaderEpoch: 1 });
    // Resolves once close() was called (from the truncation step) and finished.
    await waitFor(() => closing.done?.then(() => true) ?? null, { timeoutMs: 10_000, what: 'the truncation answer applied and close() done' });
    // A fetch round after close() would have asked followerState for the
    // fetch offset and opened a new ReplicaFetch stream that nobody closes.
    expect(afterClose).toEqual([]);
    expect(fetcher.partitionCount).toBe(1);
  });
});
