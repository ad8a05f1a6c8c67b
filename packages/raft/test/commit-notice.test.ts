// Goal: commit notices (AppendEntriesMsg.commitOnly). When the commit index
// moves, the leader tells a follower that has acknowledged everything sent to
// it (Replicate state, match === next - 1) with an empty append it need not
// answer: the answer could only repeat the match the leader holds. Here: the
// notice moves the follower's commit and draws no answer; it is not used while
// entries are in flight or in Probe/Snapshot state; a follower whose log does
// not match still answers (a reject) and is repaired; CheckQuorum leaders stay
// up on heartbeat answers alone. Each expectation fails if the rule is wrong in
// either direction (a notice where an answer is needed, or an answer to a notice).
import { describe, expect, it } from 'vitest';
import { messageProblem, type AppendEntriesMsg, type RaftMessage } from '../src/index.js';
import { writeData } from '../src/sim/index.js';
import { elect, electedHands, freshHand as fresh, hand, newCluster, persistHand as persist, raw, settleHands as settle, ticks, type Hand } from './helpers.js';

/** A node takes one message and runs its Ready; returns everything it sends. */
function answers(h: Hand, m: RaftMessage): RaftMessage[] {
  h.n.step(m);
  if (!h.n.hasReady()) return [];
  const rd = h.n.ready();
  persist(h, rd);
  return [...rd.earlyMessages, ...rd.messages];
}

function appendsTo(msgs: readonly RaftMessage[], to: number): AppendEntriesMsg[] {
  return msgs.filter((m): m is AppendEntriesMsg => m.type === 'AppendEntries' && m.to === to);
}

describe('commit notices', () => {
  it('a notice advances the follower commit (it applies) and draws no answer; a plain empty append is answered', () => {
    const hands = electedHands();
    const leader = hand(hands, 1);
    leader.n.propose(writeData(1, 0));
    const rd = leader.n.ready();
    // Both followers acknowledge before the leader's own write completes: the
    // second ack commits entry 2 (two durable copies), when neither has anything in flight.
    for (const m of rd.earlyMessages) for (const ack of answers(hand(hands, m.to), m)) leader.n.step(ack);
    expect(leader.n.raft.log.committed).toBe(2);
    persist(leader, rd);
    const next = leader.n.ready();
    persist(leader, next);
    const sent = [...next.earlyMessages, ...next.messages];
    for (const id of [2, 3]) {
      expect(appendsTo(sent, id)).toEqual([expect.objectContaining({ prevLogIndex: 2, commit: 2, entries: [], commitOnly: true })]);
    }
    const notice = appendsTo(sent, 2)[0] as AppendEntriesMsg;
    const f2 = hand(hands, 2);
    expect(f2.n.raft.log.committed).toBe(1);
    f2.n.step(notice);
    const frd = f2.n.ready();
    expect(frd.hardState?.commit).toBe(2);
    expect(frd.committedEntries.map((e) => e.index)).toEqual([2]);
    expect([...frd.earlyMessages, ...frd.messages]).toEqual([]);
    persist(f2, frd);
    // The same append without the flag is answered (with the match the leader already has).
    const f3 = hand(hands, 3);
    expect(answers(f3, { ...notice, to: 3, commitOnly: false })).toEqual([expect.objectContaining({ type: 'AppendEntriesResponse', reject: false, index: 2 })]);
    // A notice that arrives late (below the follower's commit) is answered, as any append is.
    expect(answers(f3, { ...notice, to: 3, prevLogIndex: 1, prevLogTerm: 1, commit: 1 })).toEqual([
      expect.objectContaining({ type: 'AppendEntriesResponse', reject: false, index: 2 }),
    ]);
    // A notice from a stale term is answered with our term, so its sender steps down (figure 3.1).
    const f3term = f3.n.raft.term;
    f3.n.step({ type: 'AppendEntries', from: 1, to: 3, term: f3term + 1, prevLogIndex: 2, prevLogTerm: 1, entries: [], commit: 2 });
    persist(f3, f3.n.ready());
    expect(answers(f3, { ...notice, to: 3 })).toEqual([expect.objectContaining({ type: 'AppendEntriesResponse', reject: true, term: f3term + 1 })]);
  });

  it('is not used while entries are in flight to the follower', () => {
    const hands = electedHands();
    const leader = hand(hands, 1);
    leader.n.propose(writeData(1, 0));
    const rd = leader.n.ready();
    persist(leader, rd);
    // Only follower 2 acknowledges; entry 2 is still in flight to follower 3.
    for (const ack of answers(hand(hands, 2), appendsTo(rd.earlyMessages, 2)[0] as RaftMessage)) leader.n.step(ack);
    expect(leader.n.raft.log.committed).toBe(2);
    expect(leader.n.raft.progress.get(3)).toMatchObject({ state: 'Replicate', match: 1, next: 3 });
    const next = leader.n.ready();
    const sent = [...next.earlyMessages, ...next.messages];
    expect(appendsTo(sent, 2)).toEqual([expect.objectContaining({ entries: [], commitOnly: true })]);
    expect(appendsTo(sent, 3)).toEqual([expect.objectContaining({ prevLogIndex: 2, entries: [], commit: 2, commitOnly: false })]);
    persist(leader, next);
  });

  it('is not used in Probe state (the empty append is a probe, and it is answered)', () => {
    const hands = electedHands();
    const leader = hand(hands, 1);
    leader.n.propose(writeData(1, 0));
    const rd = leader.n.ready();
    const acks = new Map<number, RaftMessage[]>();
    for (const m of rd.earlyMessages) acks.set(m.to, answers(hand(hands, m.to), m));
    // Follower 3's ack first: no quorum yet (the leader's own write is not durable).
    for (const a of acks.get(3) ?? []) leader.n.step(a);
    expect(leader.n.raft.log.committed).toBe(1);
    // The shell reports 3 unreachable: Probe, with next just past its match (everything).
    leader.n.reportUnreachable(3);
    expect(leader.n.raft.progress.get(3)).toMatchObject({ state: 'Probe', match: 2, next: 3, probeSent: false });
    for (const a of acks.get(2) ?? []) leader.n.step(a);
    expect(leader.n.raft.log.committed).toBe(2);
    persist(leader, rd);
    const next = leader.n.ready();
    persist(leader, next);
    const probe = appendsTo([...next.earlyMessages, ...next.messages], 3);
    expect(probe).toEqual([expect.objectContaining({ prevLogIndex: 2, entries: [], commit: 2, commitOnly: false })]);
    expect(leader.n.raft.progress.get(3)?.probeSent).toBe(true);
    const reply = answers(hand(hands, 3), probe[0] as RaftMessage);
    expect(reply).toEqual([expect.objectContaining({ type: 'AppendEntriesResponse', reject: false, index: 2 })]);
    // An answer at the match the leader already holds still confirms the probe: back to Replicate at once.
    for (const a of reply) leader.n.step(a);
    expect(leader.n.raft.progress.get(3)).toMatchObject({ state: 'Replicate', match: 2, next: 3, probeSent: false });
  });

  it('a follower in Snapshot state gets no append at all, notices included, while commits go on', () => {
    const c = newCluster({ snapshotEveryEntries: 3 });
    elect(c, 1);
    c.net.partition([3], [1, 2]);
    for (let w = 1; w <= 10; w++) c.propose(c.node(1), w, 0);
    c.pump();
    c.net.healPartitions();
    c.net.block(1, 3); // the snapshot is lost: 3 stays in Snapshot state
    const l = raw(c.node(1));
    const pr3 = l.raft.progress.get(3)!;
    pr3.becomeProbe();
    pr3.recentActive = true;
    l.step({ type: 'HeartbeatResponse', from: 3, to: 1, term: l.raft.term, readCtx: '' });
    expect(pr3.state).toBe('Snapshot');
    const sentTo3: RaftMessage[] = [];
    const send = c.net.send.bind(c.net);
    c.net.send = (m, now) => {
      if (m.from === 1 && m.to === 3) sentTo3.push(m);
      send(m, now);
    };
    const before = l.raft.log.committed;
    for (let w = 11; w <= 15; w++) {
      expect(c.propose(c.node(1), w, 0)).toBe('ok');
      c.pump();
    }
    expect(l.raft.log.committed).toBeGreaterThanOrEqual(before + 5);
    expect(pr3.state).toBe('Snapshot');
    expect(sentTo3.filter((m) => m.type === 'AppendEntries')).toEqual([]);
  });

  it('a follower whose log does not match a notice answers with a reject, and is repaired', () => {
    const hands = electedHands();
    const leader = hand(hands, 1);
    leader.n.propose(writeData(1, 0));
    const rd = leader.n.ready();
    persist(leader, rd);
    const ack2 = answers(hand(hands, 2), appendsTo(rd.earlyMessages, 2)[0] as RaftMessage);
    const ack3 = answers(hand(hands, 3), appendsTo(rd.earlyMessages, 3)[0] as RaftMessage);
    // Follower 3 acknowledged entry 2, then loses its disk (Raft assumes it cannot; a notice must not hide it).
    hands.set(3, fresh(3));
    for (const a of ack3) leader.n.step(a);
    for (const a of ack2) leader.n.step(a);
    expect(leader.n.raft.log.committed).toBe(2);
    const next = leader.n.ready();
    persist(leader, next);
    const notice = appendsTo([...next.earlyMessages, ...next.messages], 3);
    expect(notice).toEqual([expect.objectContaining({ prevLogIndex: 2, commit: 2, entries: [], commitOnly: true })]);
    const reply = answers(hand(hands, 3), notice[0] as RaftMessage);
    expect(reply).toEqual([expect.objectContaining({ type: 'AppendEntriesResponse', reject: true, index: 2, rejectHint: 0 })]);
    for (const a of reply) leader.n.step(a);
    // This leader holds match 2 for node 3 (a promise about its durable log, thesis §3.8) and,
    // like etcd, treats a reject at or below match as stale: exactly as for the plain empty append
    // sent before notices existed. The next leader probes from scratch and repairs node 3.
    settle(hands);
    hand(hands, 2).n.campaign();
    settle(hands);
    expect(hand(hands, 2).n.raft.role).toBe('Leader');
    const want = hand(hands, 2).log.lastIndex();
    expect(want).toBe(3);
    expect(hand(hands, 3).log.lastIndex()).toBe(want);
    expect(hand(hands, 3).log.term(2)).toBe(1); // the committed write is back on node 3
    expect(hand(hands, 3).n.raft.log.committed).toBe(want);
  });

  it('CheckQuorum: a leader whose followers answer only heartbeats (notices unanswered) keeps leading', () => {
    const c = newCluster({ raft: { checkQuorum: true, preVote: true } });
    elect(c, 1);
    const term = raw(c.node(1)).raft.term;
    let notices = 0;
    let appends = 0;
    let appendAnswers = 0;
    const deliver = c.deliver.bind(c);
    c.deliver = (m) => {
      if (m.type === 'AppendEntries') appends++;
      if (m.type === 'AppendEntries' && m.commitOnly === true) notices++;
      if (m.type === 'AppendEntriesResponse') appendAnswers++;
      deliver(m);
    };
    // One write per tick for 5 election timeouts; then 5 idle election timeouts.
    for (let w = 1; w <= 50; w++) {
      expect(c.propose(c.node(1), w, 0)).toBe('ok');
      ticks(c, 1);
    }
    ticks(c, 50);
    // At least one follower per write has nothing in flight when the commit moves.
    expect(notices).toBeGreaterThanOrEqual(50);
    // No loss here: every other append is answered, no notice is.
    expect(appendAnswers).toBe(appends - notices);
    expect(raw(c.node(1)).raft.role).toBe('Leader');
    expect(raw(c.node(1)).raft.term).toBe(term);
    for (const n of c.nodes.values()) expect(n.app.writes).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  });
});

describe('commitOnly on the wire', () => {
  it('is validated: boolean or absent, never with entries; absent means an ordinary append (answered)', () => {
    const f = fresh(2);
    const base = { type: 'AppendEntries', from: 1, to: 2, term: 1, prevLogIndex: 0, prevLogTerm: 0, commit: 0 } as const;
    const entry = { type: 'Normal', index: 1, term: 1, data: new Uint8Array(0) } as const;
    expect(messageProblem({ ...base, entries: [], commitOnly: 'yes' }, 2)).toBe('bad commitOnly');
    expect(messageProblem({ ...base, entries: [], commitOnly: 1 }, 2)).toBe('bad commitOnly');
    expect(messageProblem({ ...base, entries: [entry], commitOnly: true }, 2)).toBe('commit notice with entries');
    expect(messageProblem({ ...base, entries: [entry], commitOnly: false }, 2)).toBeUndefined();
    expect(messageProblem({ ...base, entries: [] }, 2)).toBeUndefined();
    // A malformed notice changes nothing and draws nothing.
    f.n.step({ ...base, entries: [entry], commitOnly: true });
    expect(f.n.hasReady()).toBe(false);
    expect(f.n.raft.term).toBe(0);
    // Absent (an older sender): answered like any append.
    expect(answers(f, { ...base, entries: [entry] })).toEqual([expect.objectContaining({ type: 'AppendEntriesResponse', reject: false, index: 1 })]);
  });
});
