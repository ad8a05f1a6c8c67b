// Goal: the core's Raft behaviour, scenario by scenario (election, replication,
// the commit rule, refusals, PreVote, CheckQuorum, transfer, learners,
// snapshots, ReadIndex), driven by ticks over a zero-delay network with every
// safety checker on. Each expectation is one that a broken core would fail.
import { FjordError, isFjordError, Rng } from '@fjord/protocol';
import { describe, expect, it } from 'vitest';
import { MemoryLog, RawNode, type RaftMessage } from '../src/index.js';
import { writeData } from '../src/sim/index.js';
import { DEFAULT_RAFT, elect, electedHands, hand, handCluster, newCluster, persistHand as persist, raw, ticks, type Hand } from './helpers.js';

describe('election', () => {
  it('elects exactly one leader by timeout and everyone follows it', () => {
    const c = newCluster();
    ticks(c, 40);
    const leaders = c.leaders();
    expect(leaders).toHaveLength(1);
    const l = leaders[0]!;
    for (const n of c.nodes.values()) expect(raw(n).raft.lead).toBe(l.id);
    expect(raw(l).raft.term).toBeGreaterThanOrEqual(1);
  });

  it('a single voter elects itself and commits alone', () => {
    const c = newCluster({ voters: [1] });
    elect(c, 1);
    expect(raw(c.node(1)).raft.role).toBe('Leader');
    expect(c.propose(c.node(1), 7, 0)).toBe('ok');
    c.pump();
    expect(c.node(1).app.writes).toEqual([7]);
  });

  it('rejects a candidate whose log is behind (thesis §3.6.1)', () => {
    const c = newCluster();
    elect(c, 1);
    c.net.partition([3], [1, 2]);
    expect(c.propose(c.node(1), 1, 0)).toBe('ok');
    c.pump();
    c.net.healPartitions();
    // n3 missed entry 2; its campaign must fail even though its term is higher.
    raw(c.node(3)).campaign();
    c.pump();
    expect(raw(c.node(3)).raft.role).not.toBe('Leader');
    ticks(c, 60);
    const l = c.leader()!;
    expect([1, 2]).toContain(l.id);
  });

  it('persists the vote before the vote response leaves (persist-before-send)', () => {
    const log = new MemoryLog({ conf: { voters: [1, 2, 3], learners: [] } });
    const n = new RawNode({ ...DEFAULT_RAFT, id: 2, rng: new Rng(1), log });
    n.step({ type: 'RequestVote', from: 1, to: 2, term: 5, preVote: false, lastLogIndex: 0, lastLogTerm: 0, leaderTransfer: false });
    const rd = n.ready();
    expect(rd.hardState).toEqual({ term: 5, vote: 1, commit: 0 });
    expect(rd.mustSync).toBe(true);
    expect(rd.messages).toEqual([expect.objectContaining({ type: 'RequestVoteResponse', granted: true, term: 5 })]);
    // A second ready() before advance() is a programming error.
    expect(() => n.ready()).toThrow(/before advance/);
    log.setHardState(rd.hardState!);
    n.advance(rd);
    // After a restart from the same disk the vote is remembered: no second vote in term 5.
    const again = new RawNode({ ...DEFAULT_RAFT, id: 2, rng: new Rng(2), log });
    again.step({ type: 'RequestVote', from: 3, to: 2, term: 5, preVote: false, lastLogIndex: 9, lastLogTerm: 4, leaderTransfer: false });
    expect(again.ready().messages).toEqual([expect.objectContaining({ type: 'RequestVoteResponse', granted: false })]);
  });
});

describe('replication and commit', () => {
  it('replicates proposals and applies them in order everywhere', () => {
    const c = newCluster();
    elect(c, 1);
    for (let w = 1; w <= 20; w++) expect(c.propose(c.node(1), w, 10)).toBe('ok');
    c.pump();
    const want = Array.from({ length: 20 }, (_, i) => i + 1);
    for (const n of c.nodes.values()) expect(n.app.writes).toEqual(want);
  });

  it('commits only with a majority, and only entries of the current term count (thesis §3.6.2)', () => {
    const c = newCluster({ voters: [1, 2, 3, 4, 5] });
    elect(c, 1);
    c.net.partition([1, 2], [3, 4, 5]);
    expect(c.propose(c.node(1), 1, 0)).toBe('ok');
    c.pump();
    const r1 = raw(c.node(1)).raft;
    expect(r1.log.lastIndex()).toBe(2);
    expect(r1.log.committed).toBe(1); // entry 2 is on 2 of 5 nodes only
    c.net.healPartitions();
    ticks(c, 3);
    expect(raw(c.node(1)).raft.log.committed).toBe(2);
  });

  it('refuses proposals on a follower with the leader id as a hint', () => {
    const c = newCluster();
    elect(c, 2);
    try {
      raw(c.node(1)).propose(writeData(1, 0));
      expect.unreachable();
    } catch (err) {
      expect(isFjordError(err, 'RAFT_NOT_LEADER')).toBe(true);
      expect((err as FjordError).details.leaderId).toBe(2);
    }
  });

  it('refuses proposals beyond maxUncommittedBytes with RAFT_PROPOSAL_DROPPED', () => {
    const c = newCluster({ raft: { maxUncommittedBytes: 100 } });
    elect(c, 1);
    c.net.partition([1], [2, 3]);
    expect(c.propose(c.node(1), 1, 60)).toBe('ok');
    expect(c.propose(c.node(1), 2, 60)).toBe('RAFT_PROPOSAL_DROPPED');
    c.net.healPartitions();
    ticks(c, 3);
    // Once committed and applied, the budget is free again.
    expect(c.propose(c.node(1), 3, 60)).toBe('ok');
  });

  it('bounds the in-flight window by count', () => {
    const c = newCluster({ raft: { maxInflightMsgs: 2, maxMsgBytes: 1 } });
    elect(c, 1);
    c.net.faults = { dropPerMille: 0, dupPerMille: 0, minDelayTicks: 5, maxDelayTicks: 5 };
    for (let w = 1; w <= 10; w++) c.propose(c.node(1), w, 0);
    c.pump();
    const pr = raw(c.node(1)).raft.progress.get(2)!;
    expect(pr.state).toBe('Replicate');
    expect(pr.inflights.count).toBe(2);
    expect(c.net.inFlight).toBeLessThanOrEqual(2 * 2);
    ticks(c, 60);
    expect(c.node(2).app.writes).toHaveLength(10);
  });

  it('a new leader overwrites a divergent uncommitted tail, using the conflict hint', () => {
    const c = newCluster();
    elect(c, 1);
    c.net.partition([1], [2, 3]);
    for (let w = 1; w <= 5; w++) c.propose(c.node(1), w, 0); // never committed
    c.pump();
    elect(c, 2);
    for (let w = 6; w <= 8; w++) expect(c.propose(c.node(2), w, 0)).toBe('ok');
    c.pump();
    c.net.healPartitions();
    ticks(c, 5);
    for (const n of c.nodes.values()) expect(n.app.writes).toEqual([6, 7, 8]);
    expect(raw(c.node(1)).raft.role).toBe('Follower');
  });
});

describe('PreVote and CheckQuorum', () => {
  it('PreVote: a partitioned node does not inflate its term, and does not disrupt on return', () => {
    const c = newCluster({ raft: { preVote: true } });
    elect(c, 1);
    c.net.partition([3], [1, 2]);
    ticks(c, 100);
    expect(raw(c.node(3)).raft.term).toBe(1);
    c.net.healPartitions();
    ticks(c, 5);
    expect(raw(c.node(1)).raft.role).toBe('Leader');
    expect(raw(c.node(1)).raft.term).toBe(1);
  });

  it('without PreVote the same node bumps its term and disrupts the leader', () => {
    const c = newCluster({ raft: { preVote: false } });
    elect(c, 1);
    c.net.partition([3], [1, 2]);
    ticks(c, 100);
    expect(raw(c.node(3)).raft.term).toBeGreaterThan(1);
  });

  it('CheckQuorum: a leader cut off from its majority steps down within an election timeout', () => {
    const c = newCluster({ raft: { checkQuorum: true } });
    elect(c, 1);
    c.net.partition([1], [2, 3]);
    ticks(c, 25);
    expect(raw(c.node(1)).raft.role).toBe('Follower');
  });

  it('CheckQuorum lease: followers ignore a vote request while they hear from a leader', () => {
    const c = newCluster({ raft: { checkQuorum: true } });
    elect(c, 1);
    ticks(c, 2);
    const f = raw(c.node(2));
    f.step({ type: 'RequestVote', from: 3, to: 2, term: 9, preVote: false, lastLogIndex: 100, lastLogTerm: 9, leaderTransfer: false });
    expect(f.raft.term).toBe(1);
  });
});

describe('leadership transfer', () => {
  it('moves leadership to the target with TimeoutNow', () => {
    const c = newCluster();
    elect(c, 1);
    c.propose(c.node(1), 1, 0);
    c.pump();
    raw(c.node(1)).transferLeader(3);
    c.pump();
    expect(raw(c.node(3)).raft.role).toBe('Leader');
    expect(raw(c.node(1)).raft.role).toBe('Follower');
    expect(c.node(3).app.writes).toEqual([1]);
  });

  it('refuses proposals while a transfer is in progress and aborts it after an election timeout', () => {
    const c = newCluster();
    elect(c, 1);
    c.net.partition([1], [3]);
    raw(c.node(1)).transferLeader(3);
    c.pump();
    expect(c.propose(c.node(1), 1, 0)).toBe('RAFT_PROPOSAL_DROPPED');
    ticks(c, 11);
    expect(raw(c.node(1)).raft.leadTransferee).toBe(0);
    expect(c.propose(c.node(1), 2, 0)).toBe('ok');
  });
});

describe('membership', () => {
  it('a learner catches up without voting, then is promoted', () => {
    const c = newCluster({ spares: [4] });
    elect(c, 1);
    for (let w = 1; w <= 5; w++) c.propose(c.node(1), w, 0);
    c.pump();
    raw(c.node(1)).proposeConfChange({ type: 'AddLearner', nodeId: 4 });
    c.pump();
    ticks(c, 3);
    expect(c.node(4).app.writes).toEqual([1, 2, 3, 4, 5]);
    expect(raw(c.node(1)).raft.conf.learners).toEqual([4]);
    // A learner never campaigns.
    ticks(c, 5);
    raw(c.node(4)).campaign();
    expect(raw(c.node(4)).raft.role).toBe('Follower');
    raw(c.node(1)).proposeConfChange({ type: 'AddVoter', nodeId: 4 });
    c.pump();
    expect(raw(c.node(4)).raft.conf.voters).toEqual([1, 2, 3, 4]);
  });

  it('one change at a time: a second change waits for the first to commit', () => {
    const c = newCluster({ spares: [4, 5] });
    elect(c, 1);
    c.net.partition([1], [2, 3]);
    raw(c.node(1)).proposeConfChange({ type: 'AddLearner', nodeId: 4 });
    expect(() => raw(c.node(1)).proposeConfChange({ type: 'AddLearner', nodeId: 5 })).toThrow(/pending/);
  });

  it('a removed leader keeps leading until the removal commits, then steps down', () => {
    const c = newCluster();
    elect(c, 1);
    raw(c.node(1)).proposeConfChange({ type: 'RemoveNode', nodeId: 1 });
    c.pump();
    expect(raw(c.node(1)).raft.role).toBe('Follower');
    ticks(c, 40);
    const l = c.leader()!;
    expect([2, 3]).toContain(l.id);
    expect(c.propose(l, 9, 0)).toBe('ok');
    c.pump();
    expect(c.node(2).app.writes).toEqual([9]);
  });

  it('rejects invalid changes with INVALID_REQUEST', () => {
    const c = newCluster();
    elect(c, 1);
    expect(() => raw(c.node(1)).proposeConfChange({ type: 'AddVoter', nodeId: 2 })).toThrow(/already a voter/);
    expect(() => raw(c.node(1)).proposeConfChange({ type: 'RemoveNode', nodeId: 9 })).toThrow(/not a member/);
  });
});

describe('snapshots', () => {
  it('a follower too far behind catches up by InstallSnapshot', () => {
    const c = newCluster({ snapshotEveryEntries: 5 });
    elect(c, 1);
    c.net.partition([3], [1, 2]);
    for (let w = 1; w <= 30; w++) c.propose(c.node(1), w, 0);
    c.pump();
    expect(c.node(1).store.firstIndex()).toBeGreaterThan(2);
    let snapshots = 0;
    const orig = c.deliver.bind(c);
    c.deliver = (m) => {
      if (m.type === 'InstallSnapshot') snapshots++;
      orig(m);
    };
    c.net.healPartitions();
    ticks(c, 5);
    expect(snapshots).toBeGreaterThan(0);
    expect(c.node(3).app.writes).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
  });

  it('reportSnapshot(failure) sends the follower back to probing', () => {
    const c = newCluster({ snapshotEveryEntries: 3 });
    elect(c, 1);
    c.net.partition([3], [1, 2]);
    for (let w = 1; w <= 10; w++) c.propose(c.node(1), w, 0);
    c.pump();
    c.net.healPartitions();
    c.net.block(1, 3); // the snapshot will be lost
    const l = raw(c.node(1));
    l.raft.progress.get(3)!.becomeProbe();
    l.raft.progress.get(3)!.recentActive = true;
    l.step({ type: 'HeartbeatResponse', from: 3, to: 1, term: 1, readCtx: '' });
    expect(l.status().progress.find((p) => p.id === 3)?.state).toBe('Snapshot');
    l.reportSnapshot(3, false);
    expect(l.status().progress.find((p) => p.id === 3)?.state).toBe('Probe');
    c.net.healPartitions();
    ticks(c, 5);
    expect(c.node(3).app.writes).toHaveLength(10);
  });

  it('a restarted node recovers from its snapshot plus log', () => {
    const c = newCluster({ snapshotEveryEntries: 4 });
    elect(c, 1);
    for (let w = 1; w <= 10; w++) c.propose(c.node(1), w, 0);
    c.pump();
    c.crash(c.node(2));
    c.start(c.node(2));
    ticks(c, 3);
    expect(c.node(2).app.writes).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
  });
});

describe('ReadIndex', () => {
  it('serves a read only after a heartbeat round, at the commit index', () => {
    const c = newCluster();
    elect(c, 1);
    c.propose(c.node(1), 1, 0);
    c.pump();
    const r = raw(c.node(1)).raft;
    expect(c.readIndex(c.node(1), 'a')).toBe('ok');
    expect(r.readStates).toEqual([]);
    expect(r.msgs.filter((m) => m.type === 'Heartbeat' && m.readCtx === 'a')).toHaveLength(2);
    c.pump();
    expect(c.readsServed).toBe(1);
  });

  it('a leader cut off from its majority never answers a read', () => {
    const c = newCluster();
    elect(c, 1);
    c.net.partition([1], [2, 3]);
    expect(c.readIndex(c.node(1), 'x')).toBe('ok');
    ticks(c, 5);
    expect(c.readsServed).toBe(0);
    c.net.healPartitions();
    ticks(c, 2);
    expect(c.readsServed).toBe(1);
  });

  it('a read on a follower goes to the leader, is confirmed by a heartbeat round, and is served on the follower', () => {
    const c = newCluster();
    elect(c, 1);
    c.propose(c.node(1), 1, 0);
    c.pump();
    expect(c.readIndex(c.node(2), 'y')).toBe('ok');
    expect(raw(c.node(2)).raft.msgs).toEqual([expect.objectContaining({ type: 'ReadIndex', to: 1, readCtx: 'y' })]);
    c.pump();
    expect(c.readsServed).toBe(1);
  });

  it('a follower still following a deposed leader never gets a stale read answered', () => {
    const c = newCluster({ voters: [1, 2, 3, 4, 5] });
    elect(c, 1);
    c.net.partition([1, 2], [3, 4, 5]);
    // The majority side elects n3 and commits a write n1 and n2 never see.
    elect(c, 3);
    expect(c.propose(c.node(3), 7, 0)).toBe('ok');
    c.pump();
    expect(c.node(3).app.writes).toEqual([7]);
    // n2 still follows n1: its read goes to n1, whose heartbeat round only n2 answers (2 of 5).
    expect(raw(c.node(2)).raft.lead).toBe(1);
    expect(c.readIndex(c.node(2), 'stale?')).toBe('ok');
    ticks(c, 3);
    expect(c.readsServed).toBe(0);
  });

  it('a follower that knows no leader refuses a read with RAFT_NOT_LEADER', () => {
    const c = newCluster();
    expect(c.readIndex(c.node(2), 'z')).toBe('RAFT_NOT_LEADER');
  });
});

describe('the leader writes its log in parallel with replicating it (thesis §10.2.1)', () => {
  /** A follower takes one message, persists, and returns its answers (which must all wait for its write). */
  function followerAnswers(h: Hand, m: RaftMessage): RaftMessage[] {
    h.n.step(m);
    const rd = h.n.ready();
    expect(rd.earlyMessages).toEqual([]);
    persist(h, rd);
    return [...rd.messages];
  }

  it('appends leave before the leader persists, and the leader counts itself only once durable', () => {
    const hands = electedHands();
    const leader = hand(hands, 1);
    leader.n.propose(writeData(1, 0));
    leader.n.propose(writeData(2, 0));
    const rd = leader.n.ready();
    expect(rd.entries.map((e) => e.index)).toEqual([2, 3]);
    expect(rd.mustSync).toBe(true);
    // Both proposals travel in one append per follower, sent before the leader's own write.
    expect(rd.earlyMessages).toEqual([
      expect.objectContaining({ type: 'AppendEntries', to: 2, entries: [expect.objectContaining({ index: 2 }), expect.objectContaining({ index: 3 })] }),
      expect.objectContaining({ type: 'AppendEntries', to: 3, entries: [expect.objectContaining({ index: 2 }), expect.objectContaining({ index: 3 })] }),
    ]);
    expect(rd.messages.filter((m) => m.type === 'AppendEntries')).toEqual([]);
    // Follower 2 acknowledges while the leader's write is still in flight:
    // one durable copy of three is no quorum, the leader's own does not count yet.
    const acks = followerAnswers(hand(hands, 2), rd.earlyMessages[0] as RaftMessage);
    expect(acks).toEqual([expect.objectContaining({ type: 'AppendEntriesResponse', reject: false, index: 3 })]);
    for (const m of acks) leader.n.step(m);
    expect(leader.n.raft.log.committed).toBe(1);
    // The leader's write completes: now two durable copies, and the new commit goes out at once.
    persist(leader, rd);
    expect(leader.n.raft.log.committed).toBe(3);
    const next = leader.n.ready();
    expect(next.committedEntries.map((e) => e.index)).toEqual([2, 3]);
    expect(next.earlyMessages).toEqual(
      expect.arrayContaining([expect.objectContaining({ type: 'AppendEntries', to: 2, commit: 3 }), expect.objectContaining({ type: 'AppendEntries', to: 3, commit: 3 })]),
    );
    persist(leader, next);
  });

  it('two followers durable commit without the leader, but nothing applies before the leader persists', () => {
    const hands = electedHands();
    const leader = hand(hands, 1);
    leader.n.propose(writeData(1, 0));
    const rd = leader.n.ready();
    for (const m of rd.earlyMessages) for (const ack of followerAnswers(hand(hands, m.to), m)) leader.n.step(ack);
    // A majority (the two followers) holds entry 2: it is committed...
    expect(leader.n.raft.log.committed).toBe(2);
    // ...but the next Ready, which applies it, exists only after the leader's write.
    expect(() => leader.n.ready()).toThrow(/before advance/);
    persist(leader, rd);
    expect(leader.n.ready().committedEntries.map((e) => e.index)).toEqual([2]);
  });

  it('a single voter commits its entry only after persisting it', () => {
    const log = new MemoryLog({ conf: { voters: [1], learners: [] } });
    const n = new RawNode({ ...DEFAULT_RAFT, id: 1, rng: new Rng(1), log });
    const h = { n, log };
    n.campaign();
    persist(h, n.ready());
    while (n.hasReady()) persist(h, n.ready());
    expect(n.raft.log.committed).toBe(1);
    n.propose(writeData(9, 0));
    const rd = n.ready();
    expect(rd.entries.map((e) => e.index)).toEqual([2]);
    expect(rd.committedEntries).toEqual([]);
    expect(n.raft.log.committed).toBe(1);
    persist(h, rd);
    expect(n.raft.log.committed).toBe(2);
    expect(n.ready().committedEntries.map((e) => e.index)).toEqual([2]);
  });

  it('a candidate sends nothing early: its vote requests wait for its term and vote to be durable', () => {
    const hands = handCluster();
    const c = hand(hands, 1);
    c.n.campaign();
    const rd = c.n.ready();
    expect(rd.hardState).toEqual(expect.objectContaining({ term: 1, vote: 1 }));
    expect(rd.earlyMessages).toEqual([]);
    expect(rd.messages.filter((m) => m.type === 'RequestVote')).toHaveLength(2);
  });

  it('a new leader sends its first append only after its term is durable', () => {
    const hands = handCluster();
    const c = hand(hands, 1);
    c.n.campaign();
    const rd = c.n.ready();
    persist(c, rd);
    for (const m of rd.messages) for (const vote of followerAnswers(hand(hands, m.to), m)) c.n.step(vote);
    expect(c.n.raft.role).toBe('Leader');
    // Its term and vote were durable before the vote requests left, so its first appends may go early.
    const first = c.n.ready();
    expect(first.hardState).toBeUndefined(); // term and vote unchanged since the durable campaign Ready
    expect(first.earlyMessages.filter((m) => m.type === 'AppendEntries')).toHaveLength(2);
  });
});
