// Goal: a deposed leader's proposals that can no longer commit fail at once
// with RAFT_PROPOSAL_DROPPED (retriable: the caller sends them to the new
// leader), instead of waiting out requestTimeoutMs. Three CoordinatorNodes in
// this process (real gRPC on 127.0.0.1, real LevelDB). The leader's outbound
// Raft traffic is cut (its peers' addresses point at a closed port: real
// connection failures), it appends three proposals nobody receives, the
// others elect a new leader, the link heals and the new leader's log replaces
// the old tail. The request timeout is a minute, so a proposal that is only
// failed by the timer cannot pass.
import { afterEach, describe, expect, it } from 'vitest';
import { makeTempDir, waitFor, type TempDir } from '@fjord/testkit';
import { isFjordError } from '@fjord/protocol';
import { encodeCommand, type CoordinatorNode } from '../src/index.js';
import { startInProcessNodes } from './in-process-nodes.js';
import { register } from './helpers.js';

describe('orphaned proposals on a deposed leader', () => {
  const nodes: CoordinatorNode[] = [];
  let dir: TempDir | null = null;

  afterEach(async () => {
    for (const n of nodes.splice(0)) await n.stop();
    dir?.remove();
    dir = null;
  });

  it('fail with RAFT_PROPOSAL_DROPPED once an entry of a newer term commits below them', async () => {
    dir = makeTempDir('fjord-orphans-');
    nodes.push(...(await startInProcessNodes(dir.path, 3, { electionTicks: 10, requestTimeoutMs: 60_000 })));
    const leader = await waitFor(() => nodes.find((n) => n.raftNode.isLeader), { timeoutMs: 15_000, what: 'a leader' });
    for (let i = 1; i <= 3; i++) await leader.raftNode.propose(encodeCommand(register(i)));
    const term = leader.raftNode.status().term;

    // Cut the leader's outbound Raft traffic: its peers' addresses now refuse connections.
    const book = leader.raftNode.addressBook() as Map<number, string>;
    const real = new Map(book);
    for (const id of book.keys()) if (id !== leader.raftNode.id) book.set(id, '127.0.0.1:1');
    const outcomes: (string | null)[] = [null, null, null];
    const orphans = [4, 5, 6].map((b, k) =>
      leader.raftNode.propose(encodeCommand(register(b))).then(
        () => (outcomes[k] = 'committed'),
        (err: unknown) => (outcomes[k] = isFjordError(err) ? err.code : String(err)),
      ),
    );
    const next = await waitFor(() => nodes.find((n) => n !== leader && n.raftNode.isLeader && n.raftNode.status().term > term), { timeoutMs: 15_000, what: 'a new leader' });
    expect(outcomes).toEqual([null, null, null]);

    // Heal: the new leader's entries replace the old tail on the old leader.
    for (const [id, address] of real) book.set(id, address);
    await waitFor(() => outcomes.every((o) => o !== null), { timeoutMs: 15_000, what: 'every orphaned proposal to be settled' });
    await Promise.all(orphans);
    expect(outcomes).toEqual(['RAFT_PROPOSAL_DROPPED', 'RAFT_PROPOSAL_DROPPED', 'RAFT_PROPOSAL_DROPPED']);
    // The cluster goes on, and the old leader follows the new one.
    await next.raftNode.propose(encodeCommand(register(7)));
    await waitFor(() => leader.raftNode.machine.state.brokers.has(7), { timeoutMs: 15_000, what: 'the old leader to apply the new write' });
    expect([...leader.raftNode.machine.state.brokers.keys()].sort((a, b) => a - b)).toEqual([1, 2, 3, 7]);
  }, 60_000);
});
