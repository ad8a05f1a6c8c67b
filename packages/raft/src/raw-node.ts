/**
 * RawNode: the core's whole surface for a shell (etcd rawnode.go). Inputs
 * (tick, step, propose, ...) mutate the state machine; its outputs are
 * collected with ready() and acknowledged with advance().
 */
import { assert } from '@fjord/protocol';
import { Raft } from './core/raft.js';
import type {
  ConfChange,
  ConfState,
  Entry,
  HardState,
  NodeId,
  ProposalAccepted,
  RaftConfig,
  RaftMessage,
  RaftRole,
  ReadState,
  Snapshot,
  SoftState,
} from './types.js';

/**
 * One batch of work for the shell. **The persist-before-send contract**: the
 * shell must, in this order,
 *
 * 0. send `earlyMessages` at once: they may leave before or while this Ready
 *    is persisted (a leader's appends and heartbeats, thesis §10.2.1: the
 *    leader writes its log in parallel with replicating it, and counts its
 *    own copy toward commit only after advance() reports it durable);
 * 1. make `snapshot`, `entries` and `hardState` durable (one atomic write,
 *    fsynced when `mustSync`) and update the RaftLogReader to show them;
 * 2. only then send `messages` (a vote or an append acknowledgement promises
 *    that what it acknowledges survives a crash: Raft figure 2, thesis §3.8);
 * 3. restore `snapshot` into the state machine, then apply `committedEntries`
 *    in order, and serve `readStates` once the applied index reaches them;
 * 4. call advance(ready).
 *
 * Exactly one Ready is in flight: ready() again before advance() is an
 * assertion failure (etcd acceptReady). tick() and step() may be called while
 * a Ready is being persisted.
 */
export interface Ready {
  /** Present when leader or role changed. */
  readonly softState: SoftState | undefined;
  /** Present when term, vote or commit changed: persist it. */
  readonly hardState: HardState | undefined;
  /** Append to durable storage, replacing any entries at or after entries[0].index. */
  readonly entries: readonly Entry[];
  /** Install as the new durable log start (replaces the whole log). */
  readonly snapshot: Snapshot | undefined;
  /** Committed, ready to apply, in order. They may also be in `entries` (persist first). */
  readonly committedEntries: readonly Entry[];
  /** Send after persisting. */
  readonly messages: readonly RaftMessage[];
  /**
   * May be sent before persisting (and should be, right away): a leader's
   * AppendEntries and Heartbeats of its current term, when this Ready does
   * not change term or vote. They promise nothing about this node's disk.
   */
  readonly earlyMessages: readonly RaftMessage[];
  readonly readStates: readonly ReadState[];
  /** True when term, vote, entries or the snapshot changed: the write must be fsynced before sending. */
  readonly mustSync: boolean;
}

export interface RaftStatus {
  readonly id: NodeId;
  readonly term: number;
  readonly vote: NodeId;
  readonly commit: number;
  readonly applied: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly role: RaftRole;
  readonly leaderId: NodeId;
  readonly conf: ConfState;
  readonly leadTransferee: NodeId;
  /** Leader only: per-member replication state. */
  readonly progress: ReadonlyArray<{ id: NodeId; match: number; next: number; state: string; learner: boolean }>;
}

export class RawNode {
  /** Exposed for tests and the simulator; shells use the methods below. */
  readonly raft: Raft;
  private prevSoft: SoftState;
  private prevHard: HardState;
  private inflight: Ready | undefined = undefined;

  constructor(cfg: RaftConfig) {
    this.raft = new Raft(cfg);
    this.prevSoft = this.raft.softState();
    this.prevHard = this.raft.hardState();
  }

  tick(): void {
    this.raft.tick();
    this.raft.checkInvariants();
  }

  /** Feeds one message from the network. Malformed or stale messages are dropped or answered per Raft. */
  step(m: RaftMessage): void {
    this.raft.step(m);
    this.raft.checkInvariants();
  }

  /** Appends one proposal (leader only). Throws FjordError RAFT_NOT_LEADER (details.leaderId) or RAFT_PROPOSAL_DROPPED. */
  propose(data: Uint8Array): ProposalAccepted {
    return this.raft.propose([data]);
  }

  /** Appends a batch of proposals at consecutive indexes starting at the returned index. */
  proposeBatch(datas: readonly Uint8Array[]): ProposalAccepted {
    return this.raft.propose(datas);
  }

  proposeConfChange(change: ConfChange): ProposalAccepted {
    return this.raft.proposeConfChange(change);
  }

  /** Starts a linearizable read; a ReadState with the same ctx arrives in a later Ready (leader only). */
  readIndex(requestCtx: string): void {
    this.raft.readIndex(requestCtx);
  }

  transferLeader(to: NodeId): void {
    this.raft.transferLeader(to);
  }

  /** Forces an election now (tests, or an operator); a no-op for leaders and non-voters. */
  campaign(): void {
    this.raft.hup(false);
  }

  reportSnapshot(to: NodeId, ok: boolean): void {
    this.raft.reportSnapshot(to, ok);
  }

  reportUnreachable(to: NodeId): void {
    this.raft.reportUnreachable(to);
  }

  hasReady(): boolean {
    const r = this.raft;
    if (r.msgs.length > 0 || r.readStates.length > 0 || r.appendsPending) return true;
    if (r.log.unstable.entries.length > 0 || r.log.unstable.snapshot !== undefined) return true;
    if (r.log.hasNextCommittedEnts()) return true;
    const s = r.softState();
    if (s.leaderId !== this.prevSoft.leaderId || s.role !== this.prevSoft.role) return true;
    return !hardStateEqual(r.hardState(), this.prevHard);
  }

  ready(): Ready {
    assert(this.inflight === undefined, 'raw-node: ready() called again before advance()');
    const r = this.raft;
    r.flushAppends();
    const soft = r.softState();
    const hard = r.hardState();
    const softChanged = soft.leaderId !== this.prevSoft.leaderId || soft.role !== this.prevSoft.role;
    const hardChanged = !hardStateEqual(hard, this.prevHard);
    const entries = r.log.unstableEntries();
    // A leader's appends need not wait for its own fsync; anything else (votes,
    // acks, and everything in a Ready whose term or vote must be made durable
    // first) does.
    const early: RaftMessage[] = [];
    let late: RaftMessage[] = r.msgs;
    if (r.role === 'Leader' && hard.term === this.prevHard.term && hard.vote === this.prevHard.vote) {
      late = [];
      for (const m of r.msgs) {
        if ((m.type === 'AppendEntries' || m.type === 'Heartbeat') && m.term === r.term) early.push(m);
        else late.push(m);
      }
    }
    const rd: Ready = {
      softState: softChanged ? soft : undefined,
      hardState: hardChanged ? hard : undefined,
      entries,
      snapshot: r.log.unstable.snapshot,
      committedEntries: r.log.nextCommittedEnts(r.maxCommittedBytesPerReady),
      messages: late,
      earlyMessages: early,
      readStates: r.readStates,
      mustSync: entries.length > 0 || r.log.unstable.snapshot !== undefined || hard.term !== this.prevHard.term || hard.vote !== this.prevHard.vote,
    };
    r.msgs = [];
    r.readStates = [];
    if (softChanged) this.prevSoft = soft;
    if (hardChanged) this.prevHard = hard;
    this.inflight = rd;
    return rd;
  }

  /** The shell has persisted, sent and applied `rd` (see Ready). */
  advance(rd: Ready): void {
    assert(this.inflight === rd, 'raw-node: advance() with a Ready that is not the one in flight');
    this.inflight = undefined;
    const r = this.raft;
    const storage = r.log.storage;
    if (rd.snapshot !== undefined) {
      assert(storage.firstIndex() > rd.snapshot.meta.index || storage.snapshot().meta.index >= rd.snapshot.meta.index, 'raw-node: snapshot was not persisted before advance()');
      r.log.stableSnapTo(rd.snapshot.meta.index);
      r.log.appliedTo(rd.snapshot.meta.index);
    }
    if (rd.entries.length > 0) {
      const last = rd.entries[rd.entries.length - 1] as Entry;
      assert(storage.lastIndex() >= last.index || r.log.term(last.index) !== last.term, 'raw-node: entries were not persisted before advance()');
      r.log.stableTo(last.index, last.term);
    }
    if (rd.committedEntries.length > 0) {
      r.log.appliedTo((rd.committedEntries[rd.committedEntries.length - 1] as Entry).index);
      r.reduceUncommittedSize(rd.committedEntries);
    }
    r.onPersisted();
    r.pruneConfHistory();
    r.checkInvariants();
  }

  status(): RaftStatus {
    const r = this.raft;
    const progress: Array<{ id: NodeId; match: number; next: number; state: string; learner: boolean }> = [];
    if (r.role === 'Leader') {
      for (const [id, pr] of r.progress) progress.push({ id, match: pr.match, next: pr.next, state: pr.state, learner: pr.isLearner });
      progress.sort((a, b) => a.id - b.id);
    }
    return {
      id: r.id,
      term: r.term,
      vote: r.vote,
      commit: r.log.committed,
      applied: r.log.applied,
      firstIndex: r.log.firstIndex(),
      lastIndex: r.log.lastIndex(),
      role: r.role,
      leaderId: r.lead,
      conf: r.conf,
      leadTransferee: r.leadTransferee,
      progress,
    };
  }
}

function hardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}
