/**
 * The Raft state machine (Ongaro's thesis; structure after etcd raft.go).
 * Synchronous and deterministic: inputs are tick(), step(message) and local
 * requests; outputs accumulate in `msgs`, `readStates` and the log's unstable
 * part, and leave through RawNode's Ready. No I/O, no clock, no Math.random:
 * the election timeout comes from the injected Rng.
 */
import { assert, assertNever, FjordError } from '@fjord/protocol';
import {
  entryBytes,
  entryPayloadBytes,
  NO_NODE,
  NOOP_LOGGER,
  type AppendEntriesMsg,
  type AppendEntriesResponseMsg,
  type ConfChange,
  type ConfState,
  type CoreLogger,
  type Entry,
  type HardState,
  type HeartbeatMsg,
  type HeartbeatResponseMsg,
  type InstallSnapshotMsg,
  type NodeId,
  type ProposalAccepted,
  type RaftConfig,
  type RaftMessage,
  type RaftRole,
  type ReadState,
  type RequestVoteMsg,
  type RequestVoteResponseMsg,
  type SoftState,
  type TestingBugs,
} from '../types.js';
import { applyConfChange, confToString, EMPTY_CONF, isMember } from './conf-change.js';
import { messageProblem } from './message-check.js';
import { Progress } from './progress.js';
import { committedIndex, hasQuorum, voteResult } from './quorum.js';
import { RaftLog } from './raft-log.js';
import { ReadOnly } from './read-only.js';

const DEFAULT_MAX_PENDING_READS = 4096;
const DEFAULT_MAX_COMMITTED_BYTES_PER_READY = 64 * 1024 * 1024;
const NO_BUGS: TestingBugs = Object.freeze({});

interface ConfAt {
  readonly index: number;
  readonly conf: ConfState;
}

export class Raft {
  readonly id: NodeId;
  term = 0;
  vote: NodeId = NO_NODE;
  lead: NodeId = NO_NODE;
  role: RaftRole = 'Follower';
  readonly log: RaftLog;
  /** Outbox; RawNode moves it into a Ready. */
  msgs: RaftMessage[] = [];
  readStates: ReadState[] = [];
  readonly progress = new Map<NodeId, Progress>();
  /** Configuration history: the last element is the configuration in force (thesis §4.1: the latest in the log, committed or not). */
  private confHistory: ConfAt[];
  conf: ConfState = EMPTY_CONF;
  leadTransferee: NodeId = NO_NODE;
  uncommittedBytes = 0;

  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  private readonly votes = new Map<NodeId, boolean>();
  private readonly readOnly: ReadOnly;
  /** ReadIndex requests waiting for the leader's first commit in its term (thesis §6.4 step 1). */
  private pendingReads: Array<{ readonly ctx: string; readonly from: NodeId }> = [];
  /**
   * Proposals appended since the last Ready that no append message carries
   * yet: RawNode.ready() sends them in one message per follower
   * (flushAppends), so N proposals between two Readys cost one message and
   * one acknowledgement per follower instead of N.
   */
  appendsPending = false;

  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  private readonly maxMsgBytes: number;
  private readonly maxInflightMsgs: number;
  private readonly maxInflightBytes: number;
  private readonly maxUncommittedBytes: number;
  private readonly maxPendingReads: number;
  readonly maxCommittedBytesPerReady: number;
  private readonly preVote: boolean;
  private readonly checkQuorum: boolean;
  private readonly rng: RaftConfig['rng'];
  private readonly logger: CoreLogger;
  readonly bugs: TestingBugs;

  constructor(cfg: RaftConfig) {
    assert(Number.isSafeInteger(cfg.id) && cfg.id > 0, 'raft: id must be a positive safe integer');
    assert(Number.isSafeInteger(cfg.heartbeatTicks) && cfg.heartbeatTicks >= 1, 'raft: heartbeatTicks must be >= 1');
    assert(Number.isSafeInteger(cfg.electionTicks) && cfg.electionTicks > cfg.heartbeatTicks, 'raft: electionTicks must be > heartbeatTicks');
    assert(Number.isSafeInteger(cfg.maxMsgBytes) && cfg.maxMsgBytes > 0, 'raft: maxMsgBytes must be > 0');
    assert(Number.isSafeInteger(cfg.maxUncommittedBytes) && cfg.maxUncommittedBytes > 0, 'raft: maxUncommittedBytes must be > 0');
    this.id = cfg.id;
    this.electionTicks = cfg.electionTicks;
    this.heartbeatTicks = cfg.heartbeatTicks;
    this.maxMsgBytes = cfg.maxMsgBytes;
    this.maxInflightMsgs = cfg.maxInflightMsgs;
    this.maxInflightBytes = cfg.maxInflightBytes ?? 0;
    this.maxUncommittedBytes = cfg.maxUncommittedBytes;
    this.maxPendingReads = cfg.maxPendingReads ?? DEFAULT_MAX_PENDING_READS;
    this.maxCommittedBytesPerReady = cfg.maxCommittedBytesPerReady ?? DEFAULT_MAX_COMMITTED_BYTES_PER_READY;
    this.preVote = cfg.preVote;
    this.checkQuorum = cfg.checkQuorum;
    this.rng = cfg.rng;
    this.logger = cfg.logger ?? NOOP_LOGGER;
    this.bugs = cfg.testingBugs ?? NO_BUGS;
    this.readOnly = new ReadOnly(this.maxPendingReads);

    this.log = new RaftLog(cfg.log);
    const { hardState } = cfg.log.initialState();
    const snap = this.log.snapshot();
    // Rebuild the configuration: the snapshot's, then every configuration entry after it.
    this.confHistory = [{ index: snap.meta.index, conf: snap.meta.conf }];
    const last = this.log.lastIndex();
    if (last > snap.meta.index) {
      for (const e of this.log.slice(snap.meta.index + 1, last + 1, Number.MAX_SAFE_INTEGER) ?? []) {
        if (e.type === 'ConfChange') this.confHistory.push({ index: e.index, conf: e.conf });
      }
    }
    if (hardState.term !== 0 || hardState.vote !== NO_NODE || hardState.commit !== 0) {
      assert(
        hardState.commit >= this.log.committed && hardState.commit <= last,
        () => `raft: stored commit ${hardState.commit} outside [${this.log.committed}, ${last}]`,
      );
      this.log.committed = hardState.commit;
      this.term = hardState.term;
      this.vote = hardState.vote;
    }
    if (cfg.applied !== undefined && cfg.applied > this.log.applied) this.log.appliedTo(cfg.applied);
    this.applyConf(this.confAt().conf);
    this.becomeFollower(this.term, NO_NODE);
    this.logger.info('raft: started', { id: this.id, term: this.term, commit: this.log.committed, last, conf: confToString(this.conf) });
  }

  // -------------------------------------------------------------------------
  // State reported to RawNode.

  softState(): SoftState {
    return { leaderId: this.lead, role: this.role };
  }

  hardState(): HardState {
    // TEST-ONLY bug: the vote never reaches the disk.
    const vote = this.bugs.skipPersistVote === true ? NO_NODE : this.vote;
    return { term: this.term, vote, commit: this.log.committed };
  }

  private confAt(): ConfAt {
    return this.confHistory[this.confHistory.length - 1] as ConfAt;
  }

  /** A voter in the latest configuration (the one whose majorities count, thesis §4.1). */
  promotable(): boolean {
    return this.conf.voters.includes(this.id);
  }

  /**
   * May this node start an election? A voter of its latest configuration, or
   * of the latest *committed* one: a leader removing itself may lose
   * leadership before the removal commits, and then it can hold the only
   * up-to-date log, so it must be able to win again (with votes counted in the
   * new configuration, excluding itself) to commit the removal (thesis §4.2.2).
   */
  private canCampaign(): boolean {
    if (this.promotable()) return true;
    for (let i = this.confHistory.length - 1; i >= 0; i--) {
      const c = this.confHistory[i] as ConfAt;
      if (c.index <= this.log.committed) return c.conf.voters.includes(this.id);
    }
    return false;
  }

  // -------------------------------------------------------------------------
  // Time.

  tick(): void {
    if (this.role === 'Leader') this.tickHeartbeat();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.electionElapsed >= this.randomizedElectionTimeout && this.canCampaign()) {
      this.electionElapsed = 0;
      this.hup(false);
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTicks) {
      this.electionElapsed = 0;
      // CheckQuorum (thesis §6.2): a leader that has not heard from a majority
      // within an election timeout steps down, so clients stop using it.
      if (this.checkQuorum && !this.quorumActive()) {
        this.logger.info('raft: leader lost quorum, stepping down', { id: this.id, term: this.term });
        this.becomeFollower(this.term, NO_NODE);
        return;
      }
      // A transfer that did not finish within an election timeout is abandoned (thesis §3.10).
      if (this.leadTransferee !== NO_NODE) this.abortLeaderTransfer();
    }
    for (const [id, pr] of this.progress) {
      if (id !== this.id && pr.state === 'Snapshot' && ++pr.snapshotTicks >= 2 * this.electionTicks) {
        // The snapshot (or its answer) was probably lost: probe again.
        pr.becomeProbe();
      }
    }
    if (this.heartbeatElapsed >= this.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat(this.readOnly.lastCtx());
    }
  }

  private quorumActive(): boolean {
    const ok = hasQuorum(this.conf.voters, (id) => id === this.id || (this.progress.get(id)?.recentActive ?? false));
    for (const [id, pr] of this.progress) if (id !== this.id) pr.recentActive = false;
    return ok;
  }

  // -------------------------------------------------------------------------
  // Role changes.

  private reset(term: number): void {
    if (this.term !== term) {
      assert(term > this.term, () => `raft: term going back from ${this.term} to ${term}`);
      this.term = term;
      this.vote = NO_NODE;
    }
    this.lead = NO_NODE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.electionTicks + this.rng.int(this.electionTicks);
    this.leadTransferee = NO_NODE;
    this.votes.clear();
    this.readOnly.reset();
    this.pendingReads = [];
    this.appendsPending = false;
    this.uncommittedBytes = 0;
    const last = this.log.lastIndex();
    for (const [id, pr] of this.progress) {
      pr.becomeProbe();
      pr.match = 0;
      pr.next = last + 1;
      pr.recentActive = true;
      if (id === this.id) pr.match = this.log.durableLastIndex();
    }
  }

  becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.role = 'Follower';
    this.lead = lead;
  }

  private becomePreCandidate(): void {
    assert(this.role !== 'Leader', 'raft: leader cannot become pre-candidate');
    // PreVote does not touch term or vote (thesis §9.6), so a partitioned node rejoining cannot disrupt.
    this.role = 'PreCandidate';
    this.votes.clear();
    this.lead = NO_NODE;
    this.logger.info('raft: became pre-candidate', { id: this.id, term: this.term });
  }

  private becomeCandidate(): void {
    assert(this.role !== 'Leader', 'raft: leader cannot become candidate');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = 'Candidate';
    this.logger.info('raft: became candidate', { id: this.id, term: this.term, timeoutTicks: this.randomizedElectionTimeout });
  }

  private becomeLeader(): void {
    assert(this.role === 'Candidate', 'raft: only a candidate becomes leader');
    this.reset(this.term);
    this.role = 'Leader';
    this.lead = this.id;
    const self = this.progress.get(this.id);
    if (self !== undefined) self.becomeReplicate();
    // An empty entry of the new term: committing it commits everything before
    // it (thesis §3.6.2) and unblocks ReadIndex (§6.4) and membership changes (§4.1 fix).
    this.appendLocal([{ type: 'Normal', index: 0, term: 0, data: EMPTY_DATA }]);
    this.logger.info('raft: became leader', { id: this.id, term: this.term, lastIndex: this.log.lastIndex() });
  }

  /** Starts an election (a test or the shell may force one; normally the election timer does). */
  hup(leaderTransfer: boolean): void {
    if (this.role === 'Leader' || !this.canCampaign()) return;
    if (this.preVote && !leaderTransfer) this.campaign(true, false);
    else this.campaign(false, leaderTransfer);
  }

  private campaign(pre: boolean, leaderTransfer: boolean): void {
    let voteTerm: number;
    if (pre) {
      this.becomePreCandidate();
      voteTerm = this.term + 1;
    } else {
      this.becomeCandidate();
      voteTerm = this.term;
    }
    if (this.poll(this.id, true) === 'Won') {
      // A single-voter configuration wins at once.
      if (pre) this.campaign(false, leaderTransfer);
      else this.becomeLeader();
      return;
    }
    const lastLogIndex = this.log.lastIndex();
    const lastLogTerm = this.log.lastTerm();
    for (const to of this.conf.voters) {
      if (to === this.id) continue;
      this.send({ type: 'RequestVote', from: this.id, to, term: voteTerm, preVote: pre, lastLogIndex, lastLogTerm, leaderTransfer });
    }
  }

  private poll(from: NodeId, granted: boolean): 'Won' | 'Lost' | 'Pending' {
    if (!this.votes.has(from)) this.votes.set(from, granted);
    return voteResult(this.conf.voters, this.votes);
  }

  // -------------------------------------------------------------------------
  // Messages.

  private send(m: RaftMessage): void {
    this.msgs.push(m);
  }

  /** Entry point for every message from the network. */
  step(m: RaftMessage): void {
    const problem = messageProblem(m, this.id);
    if (problem !== undefined) {
      this.logger.warn('raft: dropped malformed message', { id: this.id, problem });
      return;
    }
    // The central term check, before any role-specific handling (etcd raft.go Step).
    if (m.term > this.term) {
      if (m.type === 'RequestVote') {
        // Leader lease (thesis §4.2.3): while we hear from a leader, ignore
        // elections, so a removed or partitioned server cannot disrupt. A
        // transfer (TimeoutNow) is a deliberate election and passes.
        const inLease = this.checkQuorum && this.lead !== NO_NODE && this.electionElapsed < this.electionTicks;
        if (inLease && !m.leaderTransfer) {
          this.logger.debug('raft: ignored vote request in lease', { id: this.id, from: m.from, term: m.term });
          return;
        }
      }
      if (m.type === 'RequestVote' && m.preVote) {
        // Never change term for a pre-vote request.
      } else if (m.type === 'RequestVoteResponse' && m.preVote && m.granted) {
        // A granted pre-vote carries the term we would campaign in, not a real term.
      } else if (m.type === 'AppendEntries' || m.type === 'Heartbeat' || m.type === 'InstallSnapshot') {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NO_NODE);
      }
    } else if (m.term < this.term) {
      if (m.type === 'AppendEntries' || m.type === 'Heartbeat' || m.type === 'InstallSnapshot') {
        // A stale leader: answer with our term (Raft figure 3.1, "reply false if
        // term < currentTerm"), so it steps down. etcd answers only with
        // CheckQuorum/PreVote and relies on vote requests otherwise, but a node
        // whose (stale) configuration does not include the leader never sends
        // it one: the simulator found that livelock (seed 217623).
        this.send({ type: 'AppendEntriesResponse', from: this.id, to: m.from, term: this.term, reject: true, index: 0, rejectHint: 0, hintTerm: 0 });
      } else if (m.type === 'RequestVote') {
        // Reject with our term (figure 3.1) so the candidate catches up. etcd
        // answers only pre-votes here; a real vote request from a lower term
        // is dropped, and a candidate whose requests only reach us never
        // learns our term: another livelock the simulator found (seed 1028614).
        this.send({ type: 'RequestVoteResponse', from: this.id, to: m.from, term: this.term, preVote: m.preVote, granted: false });
      }
      return;
    }

    if (m.type === 'RequestVote') {
      this.handleVoteRequest(m);
      return;
    }
    switch (this.role) {
      case 'Leader':
        this.stepLeader(m);
        return;
      case 'PreCandidate':
      case 'Candidate':
        this.stepCandidate(m);
        return;
      case 'Follower':
        this.stepFollower(m);
        return;
      default:
        assertNever(this.role, 'role');
    }
  }

  private handleVoteRequest(m: RequestVoteMsg): void {
    // We can vote for m.from if we already did in this term, or have not voted
    // and know no leader; a pre-vote for a higher term is always considered.
    const canVote = this.vote === m.from || (this.vote === NO_NODE && this.lead === NO_NODE) || (m.preVote && m.term > this.term);
    const upToDate = this.bugs.grantVoteWithoutLogCheck === true || this.log.isUpToDate(m.lastLogIndex, m.lastLogTerm);
    if (canVote && upToDate) {
      this.logger.debug('raft: granted vote', { id: this.id, to: m.from, term: m.term, preVote: m.preVote });
      this.send({ type: 'RequestVoteResponse', from: this.id, to: m.from, term: m.term, preVote: m.preVote, granted: true });
      if (!m.preVote) {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send({ type: 'RequestVoteResponse', from: this.id, to: m.from, term: this.term, preVote: m.preVote, granted: false });
    }
  }

  private stepLeader(m: RaftMessage): void {
    switch (m.type) {
      case 'AppendEntriesResponse':
        this.handleAppendResponse(m);
        return;
      case 'ReadIndex':
        this.handleRemoteRead(m.from, m.readCtx);
        return;
      case 'ReadIndexResponse':
        return;
      case 'HeartbeatResponse':
        this.handleHeartbeatResponse(m);
        return;
      case 'AppendEntries':
      case 'Heartbeat':
      case 'InstallSnapshot':
        // Two leaders in one term cannot happen in Raft; a peer that claims it is broken.
        this.logger.warn('raft: leader got a leader message in its own term', { id: this.id, from: m.from, term: m.term, type: m.type });
        return;
      case 'RequestVote':
      case 'RequestVoteResponse':
      case 'TimeoutNow':
        return;
      default:
        assertNever(m, 'message');
    }
  }

  private stepCandidate(m: RaftMessage): void {
    switch (m.type) {
      case 'AppendEntries':
        this.becomeFollower(m.term, m.from);
        this.handleAppendEntries(m);
        return;
      case 'Heartbeat':
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case 'InstallSnapshot':
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      case 'RequestVoteResponse':
        this.handleVoteResponse(m);
        return;
      case 'RequestVote':
      case 'AppendEntriesResponse':
      case 'HeartbeatResponse':
      case 'TimeoutNow':
      case 'ReadIndex':
      case 'ReadIndexResponse':
        // A read forwarded to a former leader is lost: the follower's shell times it out.
        return;
      default:
        assertNever(m, 'message');
    }
  }

  private handleVoteResponse(m: RequestVoteResponseMsg): void {
    // Only answers to the kind of campaign we are running count.
    if (m.preVote !== (this.role === 'PreCandidate')) return;
    if (m.preVote && m.granted && m.term !== this.term + 1) return;
    switch (this.poll(m.from, m.granted)) {
      case 'Won':
        if (this.role === 'PreCandidate') this.campaign(false, false);
        else {
          this.becomeLeader();
          this.bcastAppend();
        }
        return;
      case 'Lost':
        this.becomeFollower(this.term, NO_NODE);
        return;
      case 'Pending':
        return;
    }
  }

  private stepFollower(m: RaftMessage): void {
    switch (m.type) {
      case 'AppendEntries':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppendEntries(m);
        return;
      case 'Heartbeat':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case 'InstallSnapshot':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return;
      case 'TimeoutNow':
        // Leadership transfer (thesis §3.10): campaign now, skipping PreVote and the lease.
        this.logger.info('raft: TimeoutNow, campaigning', { id: this.id, from: m.from, term: this.term });
        this.hup(true);
        return;
      case 'ReadIndexResponse':
        // The leader confirmed a read this node forwarded: serve it once applied up to index.
        if (m.from === this.lead) this.readStates.push({ index: m.index, requestCtx: m.readCtx });
        return;
      case 'RequestVote':
      case 'RequestVoteResponse':
      case 'AppendEntriesResponse':
      case 'HeartbeatResponse':
      case 'ReadIndex':
        return;
      default:
        assertNever(m, 'message');
    }
  }

  // -------------------------------------------------------------------------
  // Follower side of replication.

  private handleAppendEntries(m: AppendEntriesMsg): void {
    const reply = (reject: boolean, index: number, rejectHint = 0, hintTerm = 0): void =>
      this.send({ type: 'AppendEntriesResponse', from: this.id, to: m.from, term: this.term, reject, index, rejectHint, hintTerm });
    if (m.prevLogIndex < this.log.committed) {
      // Everything up to our commit already matches the leader's log.
      reply(false, this.log.committed);
      return;
    }
    const r = this.log.maybeAppend(m.prevLogIndex, m.prevLogTerm, m.commit, m.entries, this.bugs.skipPrevLogTermCheck === true);
    switch (r.kind) {
      case 'Appended':
        if (r.appendedFrom !== 0) this.onLogAppended(r.appendedFrom, m.entries);
        // An accepted commit notice is not answered: the answer (index =
        // prevLogIndex) is the match the leader already holds (see sendAppend).
        if (m.commitOnly === true && m.entries.length === 0) return;
        reply(false, r.lastNewIndex);
        return;
      case 'ConflictBelowCommit':
        // Only a broken leader sends this: keep our committed entries and say nothing.
        this.logger.warn('raft: append conflicts with a committed entry, ignored', { id: this.id, from: m.from, index: r.index, commit: this.log.committed });
        return;
      case 'Mismatch': {
        // Fast backtracking: point the leader at the last index that may match.
        const hint = this.log.findConflictByTerm(Math.min(m.prevLogIndex, this.log.lastIndex()), m.prevLogTerm);
        reply(true, m.prevLogIndex, hint.index, hint.term);
        return;
      }
      default:
        assertNever(r, 'append result');
    }
  }

  private handleHeartbeat(m: HeartbeatMsg): void {
    // The leader sends min(our match, its commit), so this is within our matching prefix.
    this.log.commitTo(Math.min(m.commit, this.log.lastIndex()));
    this.send({ type: 'HeartbeatResponse', from: this.id, to: m.from, term: this.term, readCtx: m.readCtx });
  }

  private handleSnapshot(m: InstallSnapshotMsg): void {
    const meta = m.snapshot.meta;
    const reply = (index: number): void =>
      this.send({ type: 'AppendEntriesResponse', from: this.id, to: m.from, term: this.term, reject: false, index, rejectHint: 0, hintTerm: 0 });
    if (meta.index <= this.log.committed) {
      reply(this.log.committed);
      return;
    }
    if (this.log.matchTerm(meta.index, meta.term)) {
      // We hold the snapshot's last entry: fast-forward commit, keep the log (etcd raft.go restore).
      this.log.commitTo(meta.index);
      reply(this.log.committed);
      return;
    }
    this.logger.info('raft: restoring snapshot', { id: this.id, index: meta.index, term: meta.term, conf: confToString(meta.conf) });
    this.log.restore(m.snapshot);
    this.confHistory = [{ index: meta.index, conf: meta.conf }];
    this.applyConf(meta.conf);
    reply(this.log.lastIndex());
  }

  // -------------------------------------------------------------------------
  // Leader side of replication.

  private handleAppendResponse(m: AppendEntriesResponseMsg): void {
    const pr = this.progress.get(m.from);
    if (pr === undefined) return; // not (or no longer) a member
    pr.recentActive = true;
    if (m.index > this.log.lastIndex()) {
      this.logger.warn('raft: append response beyond our log, ignored', { id: this.id, from: m.from, index: m.index });
      return;
    }
    if (m.reject) {
      let nextProbe = m.rejectHint;
      if (m.hintTerm > 0) nextProbe = this.log.findConflictByTerm(m.rejectHint, m.hintTerm).index;
      if (pr.maybeDecrTo(m.index, nextProbe)) {
        if (pr.state === 'Replicate') pr.becomeProbe();
        this.sendAppend(m.from, true);
      }
      return;
    }
    const oldPaused = pr.isPaused();
    // A probe answered at the match we already hold still proves the logs agree
    // up to it: back to Replicate now, not after the next heartbeat (etcd's
    // `pr.Match == m.Index && pr.State == StateProbe`).
    const probeConfirmed = pr.state === 'Probe' && pr.match === m.index;
    if (!pr.maybeUpdate(m.index) && !probeConfirmed) return;
    switch (pr.state) {
      case 'Probe':
        pr.becomeReplicate();
        break;
      case 'Snapshot':
        if (pr.match >= pr.pendingSnapshot || pr.match + 1 >= this.log.firstIndex()) {
          pr.becomeProbe();
          pr.becomeReplicate();
        }
        break;
      case 'Replicate':
        pr.inflights.freeLE(m.index);
        break;
    }
    if (this.maybeCommit()) {
      if (this.role !== 'Leader') return;
      this.bcastAppend();
    } else if (oldPaused) {
      this.sendAppend(m.from, true);
    }
    // Fill the window (pipelining, thesis §10.2.1).
    while (this.sendAppend(m.from, false)) {
      // keep sending
    }
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) {
      this.sendTimeoutNow(m.from);
    }
  }

  private handleHeartbeatResponse(m: HeartbeatResponseMsg): void {
    const pr = this.progress.get(m.from);
    if (pr === undefined) return;
    pr.recentActive = true;
    pr.probeSent = false;
    // Lost appends or acks would keep a full window full forever: free one
    // slot per heartbeat round (etcd). The follower rejects what does not fit
    // its log, and the leader falls back to probing.
    if (pr.state === 'Replicate' && pr.inflights.full()) pr.inflights.freeFirstOne();
    if (pr.match < this.log.lastIndex()) this.sendAppend(m.from, true);
    if (m.readCtx === '') return;
    const acks = this.readOnly.recvAck(m.from, m.readCtx);
    if (acks === undefined) return;
    if (!hasQuorum(this.conf.voters, (id) => id === this.id || acks.has(id))) return;
    for (const rs of this.readOnly.advance(m.readCtx)) this.releaseRead(rs.requestCtx, rs.from, rs.index);
  }

  /** Sends entries (or a snapshot) to `to`; returns true when a message with entries went out. */
  private sendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.progress.get(to);
    if (pr === undefined || to === this.id || pr.isPaused()) return false;
    const prevLogIndex = pr.next - 1;
    const prevLogTerm = this.log.term(prevLogIndex);
    const ents = prevLogTerm === undefined ? undefined : this.log.entriesFrom(pr.next, this.maxMsgBytes);
    if (prevLogTerm === undefined || ents === undefined) {
      this.sendSnapshot(to, pr);
      return false;
    }
    if (ents.length === 0 && !sendIfEmpty) return false;
    // A commit notice (no answer wanted): an empty append to a follower in
    // Replicate state that has acknowledged everything sent to it
    // (match === next - 1, so prevLogIndex === match and the window is empty).
    // Its answer, when accepted, would be `index = prevLogIndex`: the match we
    // already hold. match never decreases within our term and answers from
    // another term are dropped, so in handleAppendResponse that answer could
    // only set recentActive (maybeUpdate is false and it returns before the
    // window, the commit and the transfer check). Nothing waits for it:
    // - recentActive (CheckQuorum) is also set by heartbeat responses, and a
    //   heartbeat goes out every heartbeatTicks < electionTicks regardless;
    // - Probe (probeSent) and Snapshot states never get a notice: their
    //   appends are probes whose answers move the state machine;
    // - the window holds nothing (next - 1 === match), so no slot waits to be freed;
    // - a transfer's `pr.match === lastIndex` check runs on answers that move
    //   match, which this one cannot; transferLeader checks match itself;
    // - ReadIndex is confirmed by heartbeat responses, not append answers.
    // The follower still answers a notice it rejects (a log that lost
    // entries), one whose prevLogIndex is below its commit (a late or
    // duplicated notice), and one from a stale term (figure 3.1).
    const commitOnly = ents.length === 0 && pr.state === 'Replicate' && prevLogIndex === pr.match;
    assert(!commitOnly || pr.inflights.count === 0, () => `raft: commit notice to ${to} with ${pr.inflights.count} appends in flight`);
    this.send({ type: 'AppendEntries', from: this.id, to, term: this.term, prevLogIndex, prevLogTerm, entries: ents, commit: this.log.committed, commitOnly });
    if (ents.length > 0) {
      let bytes = 0;
      for (const e of ents) bytes += entryBytes(e);
      pr.sentEntries((ents[ents.length - 1] as Entry).index, bytes);
      return true;
    }
    if (pr.state === 'Probe') pr.probeSent = true;
    return false;
  }

  private sendSnapshot(to: NodeId, pr: Progress): void {
    if (!pr.recentActive) return;
    const snapshot = this.log.snapshot();
    assert(snapshot.meta.index > 0, 'raft: entries compacted but no snapshot');
    this.logger.info('raft: sending snapshot', { id: this.id, to, index: snapshot.meta.index, match: pr.match });
    pr.becomeSnapshot(snapshot.meta.index);
    this.send({ type: 'InstallSnapshot', from: this.id, to, term: this.term, snapshot });
  }

  private bcastAppend(): void {
    for (const id of this.progress.keys()) if (id !== this.id) this.sendAppend(id, true);
  }

  private bcastHeartbeat(readCtx: string): void {
    for (const [id, pr] of this.progress) {
      if (id === this.id) continue;
      this.send({ type: 'Heartbeat', from: this.id, to: id, term: this.term, commit: Math.min(pr.match, this.log.committed), readCtx });
    }
  }

  /** Leader: advance commit to what a majority of voters hold, if it is of our term. */
  private maybeCommit(): boolean {
    const idx = committedIndex(this.conf.voters, (id) => this.progress.get(id)?.match ?? 0);
    if (!this.log.maybeCommit(idx, this.term, this.bugs.commitOldTermEntries === true)) return false;
    this.afterLeaderCommit();
    return true;
  }

  private afterLeaderCommit(): void {
    if (this.pendingReads.length > 0 && this.committedInTerm()) {
      const reads = this.pendingReads;
      this.pendingReads = [];
      for (const r of reads) this.startRead(r.ctx, r.from);
    }
    // A leader removed from the configuration manages the cluster until the
    // removal commits, then steps down (thesis §4.2.2).
    if (!this.promotable() && this.log.committed >= this.confAt().index) {
      this.logger.info('raft: leader removed from configuration, stepping down', { id: this.id, term: this.term });
      this.becomeFollower(this.term, NO_NODE);
    }
  }

  private committedInTerm(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  /** Appends entries at the leader; indexes and terms are assigned here. */
  private appendLocal(ents: Entry[]): ProposalAccepted {
    let index = this.log.lastIndex();
    const stamped: Entry[] = new Array<Entry>(ents.length);
    for (let i = 0; i < ents.length; i++) {
      index++;
      stamped[i] = { ...(ents[i] as Entry), index, term: this.term };
    }
    const first = this.log.lastIndex() + 1;
    this.log.append(stamped);
    this.onLogAppended(first, stamped);
    // The leader's own progress moves only once these entries are durable
    // (onPersisted): they go to the followers before that (RawNode's
    // earlyMessages), so a quorum never counts an entry the leader may lose.
    return { index: first, term: this.term };
  }

  /**
   * RawNode.advance: the shell made the Ready's entries durable. The leader
   * now counts its own copy toward the commit quorum (thesis §10.2.1), and a
   * commit that moves is sent at once (an empty append carries it), so
   * followers apply (and serve watchers) without waiting for a heartbeat.
   */
  onPersisted(): void {
    if (this.role !== 'Leader') return;
    const self = this.progress.get(this.id);
    if (self === undefined || !self.maybeUpdate(this.log.durableLastIndex())) return;
    if (this.maybeCommit() && this.role === 'Leader') this.bcastAppend();
  }

  // -------------------------------------------------------------------------
  // Configuration.

  /** Keeps the configuration history in step with the log after entries from `from` were (re)written. */
  private onLogAppended(from: number, ents: readonly Entry[]): void {
    let changed = false;
    while (this.confHistory.length > 1 && this.confAt().index >= from) {
      this.confHistory.pop();
      changed = true;
    }
    for (const e of ents) {
      if (e.type === 'ConfChange' && e.index >= from) {
        this.confHistory.push({ index: e.index, conf: e.conf });
        changed = true;
      }
    }
    if (changed) this.applyConf(this.confAt().conf);
  }

  private applyConf(conf: ConfState): void {
    this.conf = conf;
    const last = this.log.lastIndex();
    for (const id of [...conf.voters, ...conf.learners]) {
      const isLearner = conf.learners.includes(id);
      const pr = this.progress.get(id);
      if (pr === undefined) {
        const p = new Progress({ next: last + 1, isLearner, maxInflightMsgs: this.maxInflightMsgs, maxInflightBytes: this.maxInflightBytes });
        if (id === this.id) p.match = this.log.durableLastIndex();
        this.progress.set(id, p);
      } else {
        pr.isLearner = isLearner;
      }
    }
    for (const id of [...this.progress.keys()]) if (!isMember(conf, id)) this.progress.delete(id);
    if (this.role === 'Leader') {
      if (this.leadTransferee !== NO_NODE && !conf.voters.includes(this.leadTransferee)) this.abortLeaderTransfer();
      // The quorum changed: the commit index may move.
      if (this.maybeCommit() && this.role === 'Leader') this.bcastAppend();
    } else if (this.role !== 'Follower' && !this.canCampaign()) {
      this.becomeFollower(this.term, NO_NODE);
    }
  }

  /** Drops configuration history that can no longer be truncated away (keeps memory bounded). */
  pruneConfHistory(): void {
    let keepFrom = 0;
    for (let i = 0; i < this.confHistory.length; i++) {
      if ((this.confHistory[i] as ConfAt).index <= this.log.committed) keepFrom = i;
    }
    if (keepFrom > 0) this.confHistory = this.confHistory.slice(keepFrom);
  }

  /** Index of the latest configuration entry (or snapshot) in the log. */
  lastConfIndex(): number {
    return this.confAt().index;
  }

  // -------------------------------------------------------------------------
  // Local requests.

  private notLeader(): FjordError {
    return new FjordError('RAFT_NOT_LEADER', `node ${this.id} is ${this.role}`, { leaderId: this.lead, nodeId: this.id });
  }

  propose(datas: readonly Uint8Array[]): ProposalAccepted {
    if (this.role !== 'Leader') throw this.notLeader();
    if (this.leadTransferee !== NO_NODE) {
      // Thesis §3.10: stop accepting requests while leadership moves.
      throw new FjordError('RAFT_PROPOSAL_DROPPED', `leadership is moving to ${this.leadTransferee}`, { leaderId: this.lead });
    }
    if (datas.length === 0) throw new FjordError('INVALID_REQUEST', 'empty proposal batch');
    let bytes = 0;
    const ents: Entry[] = new Array<Entry>(datas.length);
    for (let i = 0; i < datas.length; i++) {
      const data = datas[i] as Uint8Array;
      assert(data instanceof Uint8Array, 'raft: proposal data must be bytes');
      bytes += data.byteLength;
      ents[i] = { type: 'Normal', index: 0, term: 0, data };
    }
    // One oversized batch is let through when nothing is pending (etcd), so a big proposal cannot be stuck forever.
    if (this.uncommittedBytes > 0 && this.uncommittedBytes + bytes > this.maxUncommittedBytes) {
      throw new FjordError('RAFT_PROPOSAL_DROPPED', `uncommitted bytes ${this.uncommittedBytes} + ${bytes} > maxUncommittedBytes ${this.maxUncommittedBytes}`, {
        leaderId: this.lead,
      });
    }
    this.uncommittedBytes += bytes;
    const accepted = this.appendLocal(ents);
    this.appendsPending = true;
    return accepted;
  }

  /** RawNode.ready(): one append per follower for every proposal since the last Ready (fills the window). */
  flushAppends(): void {
    if (!this.appendsPending) return;
    this.appendsPending = false;
    if (this.role !== 'Leader') return;
    for (const [id, pr] of this.progress) {
      if (id === this.id) continue;
      // A follower not yet replicating (a new member, or one being probed) gets a probe even with nothing new for it.
      if (!this.sendAppend(id, pr.state !== 'Replicate')) continue;
      while (this.sendAppend(id, false)) {
        // keep sending while the window has room and entries remain
      }
    }
  }

  proposeConfChange(change: ConfChange): ProposalAccepted {
    if (this.role !== 'Leader') throw this.notLeader();
    if (this.leadTransferee !== NO_NODE) throw new FjordError('RAFT_PROPOSAL_DROPPED', 'leadership transfer in progress', { leaderId: this.lead });
    if (this.lastConfIndex() > this.log.committed) {
      // One change at a time (thesis §4.1): the previous one must commit first.
      throw new FjordError('RAFT_PROPOSAL_DROPPED', 'a configuration change is pending', { leaderId: this.lead });
    }
    if (!this.committedInTerm()) {
      // Ongaro's 2015 fix to single-server changes: a leader must commit an
      // entry of its own term before changing the configuration.
      throw new FjordError('RAFT_PROPOSAL_DROPPED', 'leader has not committed an entry in its term yet', { leaderId: this.lead });
    }
    const next = applyConfChange(this.conf, change);
    if (typeof next === 'string') throw new FjordError('INVALID_REQUEST', next);
    this.logger.info('raft: proposing configuration change', { id: this.id, change: `${change.type} ${change.nodeId}`, conf: confToString(next) });
    const accepted = this.appendLocal([{ type: 'ConfChange', index: 0, term: 0, change, conf: next }]);
    this.appendsPending = true;
    return accepted;
  }

  /** ReadIndex (thesis §6.4). The answer arrives as a ReadState. */
  readIndex(requestCtx: string): void {
    if (typeof requestCtx !== 'string' || requestCtx === '' || requestCtx.length > 1024) throw new FjordError('INVALID_REQUEST', 'read ctx must be a non-empty string');
    if (this.role === 'Follower' && this.lead !== NO_NODE) {
      // A follower (or learner) asks the leader; the answer arrives as a ReadIndexResponse
      // and leaves as a ReadState. A lost request or answer is the shell's to time out.
      this.send({ type: 'ReadIndex', from: this.id, to: this.lead, term: this.term, readCtx: requestCtx });
      return;
    }
    if (this.role !== 'Leader') throw this.notLeader();
    if (this.readOnly.has(requestCtx) || this.pendingReads.some((r) => r.ctx === requestCtx)) throw new FjordError('INVALID_REQUEST', 'duplicate read ctx');
    if (!this.committedInTerm()) {
      if (this.pendingReads.length >= this.maxPendingReads) throw new FjordError('RAFT_PROPOSAL_DROPPED', 'too many pending reads', { leaderId: this.lead });
      this.pendingReads.push({ ctx: requestCtx, from: this.id });
      return;
    }
    if (this.readOnly.full()) throw new FjordError('RAFT_PROPOSAL_DROPPED', 'too many pending reads', { leaderId: this.lead });
    this.startRead(requestCtx, this.id);
  }

  /** A follower's forwarded read: like a local one, but refusals are silent drops (the follower times out). */
  private handleRemoteRead(from: NodeId, ctx: string): void {
    if (!this.progress.has(from) || this.readOnly.has(ctx) || this.pendingReads.some((r) => r.ctx === ctx)) return;
    if (!this.committedInTerm()) {
      if (this.pendingReads.length < this.maxPendingReads) this.pendingReads.push({ ctx, from });
      return;
    }
    if (this.readOnly.full()) return;
    this.startRead(ctx, from);
  }

  private startRead(ctx: string, from: NodeId): void {
    const commit = this.log.committed;
    if (this.conf.voters.length === 1 && this.conf.voters[0] === this.id) {
      this.releaseRead(ctx, from, commit);
      return;
    }
    if (this.bugs.readIndexWithoutHeartbeat === true) {
      this.releaseRead(ctx, from, commit);
      return;
    }
    if (this.readOnly.full()) {
      // Only pending reads released at the first commit of the term get here: drop (a local one times out in the shell).
      this.logger.warn('raft: read dropped, too many pending reads', { id: this.id, ctx });
      return;
    }
    this.readOnly.add(ctx, commit, from);
    this.readOnly.recvAck(this.id, ctx);
    this.bcastHeartbeat(ctx);
  }

  /** A confirmed read index: a local ReadState, or the answer to the follower that asked. */
  private releaseRead(ctx: string, from: NodeId, index: number): void {
    if (from === this.id) this.readStates.push({ index, requestCtx: ctx });
    else this.send({ type: 'ReadIndexResponse', from: this.id, to: from, term: this.term, readCtx: ctx, index });
  }

  /** Leadership transfer (thesis §3.10). */
  transferLeader(to: NodeId): void {
    if (this.role !== 'Leader') throw this.notLeader();
    if (to === this.id || !this.conf.voters.includes(to)) throw new FjordError('INVALID_REQUEST', `node ${to} is not another voter`);
    if (this.leadTransferee === to) return;
    if (this.leadTransferee !== NO_NODE) this.abortLeaderTransfer();
    this.logger.info('raft: transferring leadership', { id: this.id, to, term: this.term });
    this.leadTransferee = to;
    // The transfer must finish within an election timeout.
    this.electionElapsed = 0;
    const pr = this.progress.get(to) as Progress;
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(to);
    else this.sendAppend(to, true);
  }

  private sendTimeoutNow(to: NodeId): void {
    this.send({ type: 'TimeoutNow', from: this.id, to, term: this.term });
  }

  private abortLeaderTransfer(): void {
    this.leadTransferee = NO_NODE;
  }

  /** The shell reports an InstallSnapshot it could not deliver (etcd ReportSnapshot). */
  reportSnapshot(to: NodeId, ok: boolean): void {
    const pr = this.progress.get(to);
    if (this.role !== 'Leader' || pr === undefined || pr.state !== 'Snapshot') return;
    if (!ok) pr.pendingSnapshot = 0;
    // Either way wait for the follower's answer in probe state.
    pr.becomeProbe();
    pr.probeSent = true;
  }

  /** The shell could not reach `to`: stop streaming optimistically to it. */
  reportUnreachable(to: NodeId): void {
    const pr = this.progress.get(to);
    if (this.role === 'Leader' && pr !== undefined && pr.state === 'Replicate') pr.becomeProbe();
  }

  /** Called by RawNode.advance with the entries the application applied (etcd reduceUncommittedSize). */
  reduceUncommittedSize(ents: readonly Entry[]): void {
    if (this.role !== 'Leader' || this.uncommittedBytes === 0) return;
    let bytes = 0;
    for (const e of ents) bytes += entryPayloadBytes(e);
    this.uncommittedBytes = Math.max(0, this.uncommittedBytes - bytes);
  }

  /** Internal invariants, checked by RawNode after every input. */
  checkInvariants(): void {
    this.log.check();
    assert(this.role !== 'Leader' || this.lead === this.id, 'raft: leader must lead itself');
    assert(this.role !== 'Candidate' || this.vote === this.id, 'raft: candidate must vote for itself');
    if (this.role === 'Leader') {
      for (const pr of this.progress.values()) {
        assert(pr.match <= this.log.lastIndex(), 'raft: follower match beyond our log');
        pr.check();
      }
    }
  }
}

const EMPTY_DATA = new Uint8Array(0);
