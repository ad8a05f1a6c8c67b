/**
 * Goal: the coordinator's Raft shell keeps every acknowledged write through
 * the failures issue 4 names, with real processes (the built `fjord
 * coordinator`), real gRPC on 127.0.0.1 and real LevelDB: leader election,
 * kill -9 of the leader, restart and catch-up, catch-up by snapshot, a full
 * stop and start, and a frozen (SIGSTOP) leader. A write is a broker
 * registration (one committed command each); "kept" means every acknowledged
 * broker id is in the metadata afterwards.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '@fjord/testkit';
import { CoordinatorCluster, brokerIds, registration, writeWithRetry } from './coordinator-cluster.js';

let cluster: CoordinatorCluster | null = null;

afterEach(async () => {
  await cluster?.close();
  cluster = null;
});

/** Writes brokers [from, to) through any running node, retrying on retriable errors; returns the acked ids. */
async function writeRange(c: CoordinatorCluster, from: number, to: number): Promise<number[]> {
  const acked: number[] = [];
  for (let id = from; id < to; id++) {
    await writeWithRetry(async () => {
      const running = [...c.nodes.keys()].filter((n) => c.isRunning(n));
      const target = running[id % running.length] as number;
      return c.client(target).call('RegisterBroker', registration(id), 2_000);
    });
    acked.push(id);
  }
  return acked;
}

async function expectAllPresent(c: CoordinatorCluster, nodeId: number, acked: readonly number[], allowStale: boolean): Promise<void> {
  await waitFor(
    async () => {
      const ids = await brokerIds(c.client(nodeId), allowStale);
      return acked.every((id) => ids.has(id));
    },
    { timeoutMs: 10_000, what: `node ${nodeId} to hold every acknowledged write` },
  );
}

describe('coordinator raft cluster (3 processes)', () => {
  it('elects a leader, writes, survives kill -9 of the leader, and the restarted node catches up', async () => {
    cluster = await CoordinatorCluster.create({ voters: 3 });
    await cluster.startAll();
    const leader = await cluster.waitForLeader();
    const acked = await writeRange(cluster, 1, 21);
    // A write sent to a follower is forwarded to the leader.
    const follower = cluster.voterIds.find((id) => id !== leader) as number;
    await cluster.client(follower).call('RegisterBroker', registration(100));
    acked.push(100);
    // A linearizable read on a follower (ReadIndex there, no waiting) sees every write acknowledged before it.
    for (let id = 200; id < 220; id++) {
      await cluster.client(leader).call('RegisterBroker', registration(id));
      acked.push(id);
      expect((await brokerIds(cluster.client(follower), false)).has(id)).toBe(true);
    }

    await cluster.kill(leader);
    const next = await cluster.waitForLeader({ not: leader });
    expect(next).not.toBe(leader);
    acked.push(...(await writeRange(cluster, 21, 41)));

    await cluster.start(leader);
    await cluster.waitForLeader();
    await expectAllPresent(cluster, leader, acked, true);
    for (const id of cluster.voterIds) await expectAllPresent(cluster, id, acked, false);
  });

  it('catches a far-behind node up by snapshot, and a full stop/start keeps every acknowledged write', async () => {
    cluster = await CoordinatorCluster.create({ voters: 3, args: ['--snapshot-every-entries', '10', '--snapshot-catch-up-entries', '0'] });
    await cluster.startAll();
    await cluster.waitForLeader();
    const acked = await writeRange(cluster, 1, 6);
    const behind = cluster.voterIds.find((id) => id !== 1) as number;
    await cluster.kill(behind);
    acked.push(...(await writeRange(cluster, 6, 60)));
    await cluster.start(behind);
    await expectAllPresent(cluster, behind, acked, true);
    expect(cluster.output(behind)).toMatch(/"msg":"snapshot installed"/);

    // Full-cluster stop (kill -9 every node) and start: nothing acknowledged is lost.
    for (const id of cluster.voterIds) await cluster.kill(id);
    await cluster.startAll();
    await cluster.waitForLeader();
    for (const id of cluster.voterIds) await expectAllPresent(cluster, id, acked, false);
    acked.push(...(await writeRange(cluster, 60, 65)));
    await expectAllPresent(cluster, 1, acked, false);
  });

  it('a frozen (SIGSTOP) leader is replaced, and steps down when it resumes', async () => {
    cluster = await CoordinatorCluster.create({ voters: 3 });
    await cluster.startAll();
    const leader = await cluster.waitForLeader();
    const acked = await writeRange(cluster, 1, 6);
    const frozen = cluster.nodes.get(leader);
    frozen?.pause();
    const others = cluster.voterIds.filter((id) => id !== leader);
    const next = await cluster.waitForLeader({ among: others, not: leader });
    expect(next).not.toBe(leader);
    for (let id = 6; id < 16; id++) {
      await writeWithRetry(() => (cluster as CoordinatorCluster).client(next).call('RegisterBroker', registration(id), 2_000));
      acked.push(id);
    }
    frozen?.resume();
    await waitFor(
      async () => {
        const s = await (cluster as CoordinatorCluster).status(leader);
        return s.role === 'follower' && s.leaderNodeId !== leader;
      },
      { timeoutMs: 10_000, what: 'the resumed old leader to step down' },
    );
    await expectAllPresent(cluster, leader, acked, true);
  });
});
