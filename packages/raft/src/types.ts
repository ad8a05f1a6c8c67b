/**
 * The data the Raft core consumes and produces. Everything here is plain data so
 * the shell can encode it on the wire or on disk, and the simulator can copy,
 * drop, duplicate and reorder it freely.
 */
import type { Rng } from '@fjord/protocol';

/** A node id is a positive safe integer; 0 means "none" (no vote, no leader). */
export type NodeId = number;
export const NO_NODE: NodeId = 0;

/** One configuration: the voters and the learners (disjoint sets). */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

/**
 * A single-server membership change (Raft thesis §4.1): each change adds or
 * removes one server, so any two consecutive majorities overlap.
 */
export interface ConfChange {
  readonly type: 'AddVoter' | 'AddLearner' | 'RemoveNode';
  readonly nodeId: NodeId;
}

export interface NormalEntry {
  readonly type: 'Normal';
  readonly index: number;
  readonly term: number;
  readonly data: Uint8Array;
}

/**
 * A configuration entry carries the change and the full configuration that
 * results from it, so a follower adopts `conf` as soon as it appends the entry
 * (thesis §4.1: "a server always uses the latest configuration in its log").
 */
export interface ConfChangeEntry {
  readonly type: 'ConfChange';
  readonly index: number;
  readonly term: number;
  readonly change: ConfChange;
  readonly conf: ConfState;
}

export type Entry = NormalEntry | ConfChangeEntry;

/** What must be durable before any message of the same Ready is sent (Raft figure 2, "persistent state"). */
export interface HardState {
  readonly term: number;
  readonly vote: NodeId;
  readonly commit: number;
}

export interface SnapshotMeta {
  readonly index: number;
  readonly term: number;
  /** The configuration as of `index`. */
  readonly conf: ConfState;
}

export interface Snapshot {
  readonly meta: SnapshotMeta;
  readonly data: Uint8Array;
}

export type RaftRole = 'Follower' | 'PreCandidate' | 'Candidate' | 'Leader';

/** Volatile state, reported when it changes; never needs persisting. */
export interface SoftState {
  readonly leaderId: NodeId;
  readonly role: RaftRole;
}

/**
 * A linearizable read may be served once the state machine has applied
 * `index` (Raft thesis §6.4, ReadIndex). `requestCtx` is the caller's id for
 * the read request.
 */
export interface ReadState {
  readonly index: number;
  readonly requestCtx: string;
}

// ---------------------------------------------------------------------------
// Messages: one discriminated union, switched on exhaustively.

interface MessageBase {
  readonly from: NodeId;
  readonly to: NodeId;
  /** The sender's term (for a PreVote request: the term it would campaign in). */
  readonly term: number;
}

export interface RequestVoteMsg extends MessageBase {
  readonly type: 'RequestVote';
  /** PreVote (thesis §9.6): asks "would you vote for me?" without anyone changing term. */
  readonly preVote: boolean;
  readonly lastLogIndex: number;
  readonly lastLogTerm: number;
  /** Set when the campaign was started by TimeoutNow: bypasses the leader lease (thesis §4.2.3, §3.10). */
  readonly leaderTransfer: boolean;
}

export interface RequestVoteResponseMsg extends MessageBase {
  readonly type: 'RequestVoteResponse';
  readonly preVote: boolean;
  readonly granted: boolean;
}

export interface AppendEntriesMsg extends MessageBase {
  readonly type: 'AppendEntries';
  readonly prevLogIndex: number;
  readonly prevLogTerm: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
  /**
   * A commit notice: an empty append whose only news is `commit`, sent when
   * the follower has acknowledged everything sent to it, so its answer could
   * tell the leader nothing. The follower applies it like any empty append and
   * does not answer when it is accepted (raft.ts sendAppend explains why that
   * is safe). Absent means false (older senders).
   */
  readonly commitOnly?: boolean;
}

export interface AppendEntriesResponseMsg extends MessageBase {
  readonly type: 'AppendEntriesResponse';
  readonly reject: boolean;
  /** On success: the highest index known to match the leader. On reject: the rejected prevLogIndex. */
  readonly index: number;
  /** On reject: the follower's guess of the last index that may match (fast backtracking, thesis §5.3 / etcd findConflictByTerm). */
  readonly rejectHint: number;
  /** On reject: the follower's term at rejectHint (0 if unknown). */
  readonly hintTerm: number;
}

export interface HeartbeatMsg extends MessageBase {
  readonly type: 'Heartbeat';
  /** min(follower's match, leader's commit): never ahead of what the follower holds. */
  readonly commit: number;
  /** ReadIndex round this heartbeat confirms ('' for none). */
  readonly readCtx: string;
}

export interface HeartbeatResponseMsg extends MessageBase {
  readonly type: 'HeartbeatResponse';
  readonly readCtx: string;
}

export interface InstallSnapshotMsg extends MessageBase {
  readonly type: 'InstallSnapshot';
  readonly snapshot: Snapshot;
}

export interface TimeoutNowMsg extends MessageBase {
  readonly type: 'TimeoutNow';
}

/**
 * ReadIndex from a follower (thesis §6.4, "followers can serve reads"; etcd
 * MsgReadIndex): the follower asks the leader for a read index; the leader
 * confirms its leadership with a heartbeat round and answers with its commit
 * index as of the request, which the follower serves once it has applied it.
 */
export interface ReadIndexMsg extends MessageBase {
  readonly type: 'ReadIndex';
  readonly readCtx: string;
}

export interface ReadIndexResponseMsg extends MessageBase {
  readonly type: 'ReadIndexResponse';
  readonly readCtx: string;
  readonly index: number;
}

export type RaftMessage =
  | RequestVoteMsg
  | RequestVoteResponseMsg
  | AppendEntriesMsg
  | AppendEntriesResponseMsg
  | HeartbeatMsg
  | HeartbeatResponseMsg
  | InstallSnapshotMsg
  | TimeoutNowMsg
  | ReadIndexMsg
  | ReadIndexResponseMsg;

export type RaftMessageType = RaftMessage['type'];

// ---------------------------------------------------------------------------
// Storage (read side) and configuration.

/**
 * The synchronous, in-memory view of durable Raft state (like etcd's
 * `Storage`/`MemoryStorage`). The shell updates it after each durable write;
 * the core only reads it. `MemoryLog` is the reference implementation.
 */
export interface RaftLogReader {
  initialState(): { hardState: HardState };
  /** First index still held as an entry (snapshot/compaction index + 1). */
  firstIndex(): number;
  lastIndex(): number;
  /** Term of `index` for firstIndex-1 <= index <= lastIndex, otherwise undefined. */
  term(index: number): number | undefined;
  /** Entries [lo, hiExclusive), firstIndex <= lo; at least one entry when lo < hiExclusive, then stops before exceeding maxBytes. */
  entries(lo: number, hiExclusive: number, maxBytes: number): Entry[];
  snapshot(): Snapshot;
}

/** Structured logging hook for the pure core (STYLE.md E): no-op by default. */
export interface CoreLogger {
  debug(msg: string, fields?: Readonly<Record<string, unknown>>): void;
  info(msg: string, fields?: Readonly<Record<string, unknown>>): void;
  warn(msg: string, fields?: Readonly<Record<string, unknown>>): void;
}

export const NOOP_LOGGER: CoreLogger = Object.freeze({
  debug(): void {},
  info(): void {},
  warn(): void {},
});

/**
 * TEST-ONLY. Deliberately broken variants of the algorithm, used to prove that
 * the simulator's checkers can fail (test/sim-broken.test.ts). Never set in
 * production: each flag removes a safety rule.
 */
export interface TestingBugs {
  /** Commit by counting replicas of entries from older terms (violates thesis §3.6.2, figure 3.7). */
  readonly commitOldTermEntries?: boolean;
  /** Report a HardState without the vote, so a crash forgets it and the node can vote twice in a term. */
  readonly skipPersistVote?: boolean;
  /** Grant votes without the "candidate's log is at least as up-to-date" check (thesis §3.6.1). */
  readonly grantVoteWithoutLogCheck?: boolean;
  /** Answer ReadIndex at once, without a heartbeat round proving leadership (thesis §6.4 step 3). */
  readonly readIndexWithoutHeartbeat?: boolean;
  /** Accept AppendEntries whose prevLogTerm does not match (breaks the log matching property, thesis §3.5). */
  readonly skipPrevLogTermCheck?: boolean;
}

export interface RaftConfig {
  readonly id: NodeId;
  /** A follower that hears nothing for a random [electionTicks, 2*electionTicks) ticks campaigns. */
  readonly electionTicks: number;
  /** A leader sends heartbeats every heartbeatTicks; must be < electionTicks. */
  readonly heartbeatTicks: number;
  /** Upper bound on the entry bytes in one AppendEntries (at least one entry is always sent). */
  readonly maxMsgBytes: number;
  /** Max AppendEntries in flight per follower in replicate state. */
  readonly maxInflightMsgs: number;
  /** Max entry bytes in flight per follower in replicate state (0 = only the count bounds it). */
  readonly maxInflightBytes?: number;
  /** Proposals beyond this many uncommitted payload bytes are refused (RAFT_PROPOSAL_DROPPED). */
  readonly maxUncommittedBytes: number;
  /** Max ReadIndex requests waiting for a heartbeat round or the first commit of a term. */
  readonly maxPendingReads?: number;
  /** Max bytes of committed entries handed out in one Ready. */
  readonly maxCommittedBytesPerReady?: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly rng: Rng;
  readonly log: RaftLogReader;
  /** Index the application has already applied (on restart); defaults to the snapshot index. */
  readonly applied?: number;
  readonly logger?: CoreLogger;
  /** TEST-ONLY: see TestingBugs. */
  readonly testingBugs?: TestingBugs;
}

/** The index and term a proposal was appended at (the shell matches them against committed entries). */
export interface ProposalAccepted {
  readonly index: number;
  readonly term: number;
}

/** Rough wire size of an entry, for maxMsgBytes / maxInflightBytes accounting. */
export function entryBytes(e: Entry): number {
  return e.type === 'Normal' ? e.data.byteLength + 24 : 64 + 8 * (e.conf.voters.length + e.conf.learners.length);
}

/** Payload bytes of an entry, for maxUncommittedBytes (etcd counts payload only). */
export function entryPayloadBytes(e: Entry): number {
  return e.type === 'Normal' ? e.data.byteLength : 0;
}
