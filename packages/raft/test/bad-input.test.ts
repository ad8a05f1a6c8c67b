// Goal: whatever the network brings, the core never crashes. Malformed
// messages are dropped; messages from unknown nodes, from stale terms or with
// out-of-range indexes are ignored or answered per Raft. A fuzz pass mutates
// real messages field by field and feeds them to every node, then checks the
// internal invariants still hold and the Ready loop still runs.
import { Rng } from '@fjord/protocol';
import { describe, expect, it } from 'vitest';
import { messageProblem, type RaftMessage } from '../src/index.js';
import { elect, newCluster, raw, ticks } from './helpers.js';

const WEIRD: readonly unknown[] = [undefined, null, -1, 0, 1, 2 ** 53, NaN, Infinity, 1.5, 'x', '', true, {}, [], [1], new Uint8Array(3)];

function mutate(rng: Rng, m: RaftMessage): unknown {
  const copy: Record<string, unknown> = { ...m };
  const keys = Object.keys(copy);
  const n = rng.intBetween(1, 3);
  for (let i = 0; i < n; i++) {
    const k = rng.pick(keys);
    const v = copy[k];
    if (Array.isArray(v) && v.length > 0 && rng.chance(1, 2)) {
      // Mutate inside an entry list.
      const ents = v.map((e: unknown) => ({ ...(e as object) })) as Array<Record<string, unknown>>;
      const e = rng.pick(ents);
      const ekeys = Object.keys(e);
      if (ekeys.length > 0) e[rng.pick(ekeys)] = rng.pick(WEIRD);
      copy[k] = ents;
    } else if (typeof v === 'number' && rng.chance(1, 2)) {
      copy[k] = v + rng.intBetween(-3, 3);
    } else {
      copy[k] = rng.pick(WEIRD);
    }
  }
  return copy;
}

describe('bad input', () => {
  it('drops malformed messages with a reason', () => {
    expect(messageProblem(null, 1)).toBe('not an object');
    expect(messageProblem({ type: 'Heartbeat', from: 2, to: 3, term: 1, commit: 0, readCtx: '' }, 1)).toMatch(/addressed to 3/);
    expect(messageProblem({ type: 'Nope', from: 2, to: 1, term: 1 }, 1)).toMatch(/unknown type/);
    expect(
      messageProblem({ type: 'AppendEntries', from: 2, to: 1, term: 2, prevLogIndex: 1, prevLogTerm: 1, commit: 0, entries: [{ type: 'Normal', index: 5, term: 2, data: new Uint8Array() }] }, 1),
    ).toMatch(/entry index/);
    expect(
      messageProblem({ type: 'AppendEntries', from: 2, to: 1, term: 2, prevLogIndex: 1, prevLogTerm: 3, commit: 0, entries: [] }, 1),
    ).toMatch(/prev log term above term/);
  });

  it('ignores responses from unknown nodes and beyond-the-log indexes', () => {
    const c = newCluster();
    elect(c, 1);
    const l = raw(c.node(1));
    const before = l.status();
    l.step({ type: 'AppendEntriesResponse', from: 99, to: 1, term: 1, reject: false, index: 1, rejectHint: 0, hintTerm: 0 });
    l.step({ type: 'AppendEntriesResponse', from: 2, to: 1, term: 1, reject: false, index: 1_000_000, rejectHint: 0, hintTerm: 0 });
    l.step({ type: 'HeartbeatResponse', from: 77, to: 1, term: 1, readCtx: 'nope' });
    expect(l.status().commit).toBe(before.commit);
    expect(l.status().progress).toEqual(before.progress);
    expect(l.raft.role).toBe('Leader');
  });

  it('answers a stale leader with its own term, so the stale leader steps down', () => {
    const c = newCluster({ raft: { preVote: true } });
    elect(c, 1);
    elect(c, 3);
    expect(raw(c.node(3)).raft.role).toBe('Leader');
    const f = raw(c.node(2));
    f.step({ type: 'Heartbeat', from: 1, to: 2, term: 1, commit: 0, readCtx: '' });
    const out = f.raft.msgs.filter((m) => m.to === 1);
    expect(out[out.length - 1]).toMatchObject({ type: 'AppendEntriesResponse', term: 2 });
    expect(f.raft.lead).toBe(3);
  });

  it('answers a stale append with its term even without CheckQuorum or PreVote', () => {
    // A node whose stale configuration excludes the leader never sends it a
    // vote request; without this answer the two never meet (sim seed 217623).
    const c = newCluster({ raft: { preVote: false, checkQuorum: false } });
    elect(c, 1);
    const f = raw(c.node(2));
    f.step({ type: 'RequestVote', from: 3, to: 2, term: 7, preVote: false, lastLogIndex: 0, lastLogTerm: 0, leaderTransfer: false });
    f.raft.msgs = [];
    f.step({ type: 'AppendEntries', from: 1, to: 2, term: 1, prevLogIndex: 1, prevLogTerm: 1, entries: [], commit: 1 });
    expect(f.raft.msgs).toEqual([expect.objectContaining({ type: 'AppendEntriesResponse', to: 1, term: 7 })]);
  });

  it('clamps a heartbeat commit beyond the follower log', () => {
    const c = newCluster();
    elect(c, 1);
    const f = raw(c.node(2));
    f.step({ type: 'Heartbeat', from: 1, to: 2, term: 1, commit: 10_000, readCtx: '' });
    expect(f.raft.log.committed).toBeLessThanOrEqual(f.raft.log.lastIndex());
  });

  it('fuzz: mutated and random messages never crash a node', () => {
    const rng = new Rng(2024);
    const c = newCluster({ voters: [1, 2, 3], spares: [4], snapshotEveryEntries: 7, checker: false });
    const seen: RaftMessage[] = [];
    const orig = c.deliver.bind(c);
    c.deliver = (m) => {
      if (seen.length < 2000) seen.push(m);
      orig(m);
    };
    elect(c, 1);
    for (let w = 1; w <= 30; w++) c.propose(c.node(1), w, rng.int(20));
    raw(c.node(1)).proposeConfChange({ type: 'AddLearner', nodeId: 4 });
    ticks(c, 20);
    expect(seen.length).toBeGreaterThan(50);
    let fed = 0;
    for (let i = 0; i < 20_000; i++) {
      const target = c.node(rng.intBetween(1, 4));
      const base = rng.pick(seen);
      const m = rng.chance(1, 10) ? { type: rng.pick(['AppendEntries', 'Heartbeat', 'RequestVote', 'InstallSnapshot', 'x']), from: rng.int(6), to: target.id, term: rng.int(5) } : { ...(mutate(rng, base) as object), to: target.id };
      // The core must not throw on anything from the network.
      expect(() => raw(target).step(m as RaftMessage)).not.toThrow();
      fed++;
      if (i % 50 === 0) {
        // Byzantine-but-well-formed input may confuse Raft (it is not BFT), but
        // the node's own invariants hold and its Ready loop keeps running.
        for (const n of c.nodes.values()) raw(n).raft.checkInvariants();
        c.pump();
        if (i % 1000 === 0) c.tick();
      }
    }
    expect(fed).toBe(20_000);
  });
});
