// Goal: ReadIndex from a follower through the real shell (three CoordinatorNodes
// in this process: real gRPC on 127.0.0.1, real LevelDB in temp dirs). A write
// acknowledged by the leader is visible on a follower once the follower's
// readIndex() resolves, because the follower asked the leader for its commit
// index and waited to apply it; a broken forward (or a follower serving its own
// applied state) would miss writes the follower has not applied yet.
import { afterEach, describe, expect, it } from 'vitest';
import { makeTempDir, waitFor, type TempDir } from '@fjord/testkit';
import { encodeCommand, type CoordinatorNode } from '../src/index.js';
import { startInProcessNodes } from './in-process-nodes.js';
import { register } from './helpers.js';

describe('follower ReadIndex', () => {
  const nodes: CoordinatorNode[] = [];
  let dir: TempDir | null = null;

  afterEach(async () => {
    for (const n of nodes.splice(0)) await n.stop();
    dir?.remove();
    dir = null;
  });

  it('a follower read reflects every write acknowledged before it', async () => {
    dir = makeTempDir('fjord-follower-read-');
    nodes.push(...(await startInProcessNodes(dir.path, 3)));
    const leader = await waitFor(() => nodes.find((n) => n.raftNode.isLeader), { timeoutMs: 15_000, what: 'a leader' });
    const follower = nodes.find((n) => n !== leader) as CoordinatorNode;
    await waitFor(() => follower.raftNode.softState.leaderId === leader.raftNode.id, { timeoutMs: 15_000, what: 'the follower to know the leader' });
    for (let i = 1; i <= 20; i++) {
      await leader.raftNode.propose(encodeCommand(register(i)));
      // The leader acknowledged write i; the follower may not have applied it yet, a read through ReadIndex must see it.
      await follower.raftNode.readIndex();
      expect(follower.raftNode.machine.state.brokers.size, `after write ${i}`).toBe(i);
    }
  }, 60_000);
});
