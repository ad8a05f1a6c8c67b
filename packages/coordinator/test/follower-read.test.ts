// Goal: ReadIndex from a follower through the real shell (three CoordinatorNodes
// in this process: real gRPC on 127.0.0.1, real LevelDB in temp dirs). A write
// acknowledged by the leader is visible on a follower once the follower's
// readIndex() resolves, because the follower asked the leader for its commit
// index and waited to apply it; a broken forward (or a follower serving its own
// applied state) would miss writes the follower has not applied yet.
import { afterEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { freePorts, makeTempDir, waitFor, type TempDir } from '@fjord/testkit';
import { join } from 'node:path';
import { CoordinatorNode, encodeCommand, loadConfig } from '../src/index.js';
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
    const ports = await freePorts(3);
    const peers = ports.map((p, i) => `${i + 1}=127.0.0.1:${p}`).join(',');
    for (let i = 0; i < 3; i++) {
      const config = loadConfig({ env: {}, flags: { id: i + 1, peers, dataDir: join(dir.path, `n${i + 1}`) } });
      const node = new CoordinatorNode({ config, logger: pino({ level: 'silent' }), onFatal: (err) => { throw err; } });
      await node.start();
      nodes.push(node);
    }
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
