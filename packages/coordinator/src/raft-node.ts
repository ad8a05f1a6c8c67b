/**
 * The Raft I/O shell (STYLE.md B, after etcd's raft/node.go and etcdserver's
 * raft.go): a timer ticks the pure core, the transport steps it, and one loop
 * handles its Readys in etcd's order, exactly one in flight:
 *
 *   send the leader's appends (earlyMessages) -> persist (one LevelDB batch,
 *   fsynced when mustSync) -> send the rest ->
 *   restore snapshot / apply committed entries -> resolve proposals and
 *   reads -> advance -> maybe snapshot + compact.
 *
 * This loop (`runLoop`) is the only place that sequences those steps
 * (STYLE.md H.8). Proposals resolve when their entry is applied with the term
 * they were proposed in; an entry at their index with another term means they
 * were overwritten (RAFT_PROPOSAL_DROPPED). Linearizable reads use ReadIndex
 * (thesis §6.4): the leader confirms its leadership with a heartbeat round,
 * and the read is served once this node has applied up to the read index.
 *
 * Shell entries: membership addresses are replicated as Normal entries with
 * the format byte 0xA1 (`{ nodeId, address }`), handled here rather than by
 * the metadata machine, so every member knows how to reach a node added as a
 * learner. Raft snapshots carry the address book and the metadata snapshot
 * (format byte 0xB1).
 */
import { randomInt } from 'node:crypto';
import { FjordError, Rng, assert } from '@fjord/protocol';
import { RawNode, type ConfChange, type ConfState, type CoreLogger, type Entry, type MemoryLog, type NodeId, type RaftMessage, type RaftStatus, type Ready, type Snapshot, type SoftState } from '@fjord/raft';
import type { Logger } from 'pino';
import type { EntryOutcome, MetadataMachine } from './metadata-machine.js';
import type { LevelRaftStore } from './level-raft-store.js';
import { GrpcRaftTransport, type SnapshotTransferOptions } from './grpc-raft-transport.js';

export const ADDRESS_ENTRY_FORMAT = 0xa1;
export const SNAPSHOT_ENVELOPE_FORMAT = 0xb1;
const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export interface RaftNodeOptions {
  readonly id: NodeId;
  readonly clusterId: string;
  readonly store: LevelRaftStore;
  readonly log: MemoryLog;
  readonly machine: MetadataMachine;
  /** Addresses known from configuration (the bootstrap peers). */
  readonly peers: ReadonlyMap<NodeId, string>;
  readonly tickMs: number;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly maxRaftMsgBytes: number;
  readonly maxInflightMsgs: number;
  readonly maxUncommittedBytes: number;
  readonly maxRequestBytes: number;
  readonly snapshotEveryEntries: number;
  readonly snapshotCatchUpEntries: number;
  /** Chunked snapshot transfer to and from peers (the transport's defaults when absent). */
  readonly snapshotTransfer?: SnapshotTransferOptions;
  readonly requestTimeoutMs: number;
  readonly logger: Logger;
  /** Called once on a broken invariant (the node must go down: STYLE.md D). */
  readonly onFatal: (err: unknown) => void;
}

interface ProposalWaiter {
  readonly term: number;
  readonly resolve: (outcome: EntryOutcome | null) => void;
  readonly reject: (err: FjordError) => void;
  readonly timer: NodeJS.Timeout;
}

interface ReadWaiter {
  index: number;
  readonly resolve: () => void;
  readonly reject: (err: FjordError) => void;
  readonly timer: NodeJS.Timeout;
}

export interface RaftNodeStats {
  readies: number;
  appliedEntries: number;
  snapshotsTaken: number;
  snapshotsInstalled: number;
}

/** Pending proposals, reads and watchers are bounded (STYLE.md H.2). */
const MAX_PENDING_PROPOSALS = 100_000;
const MAX_PENDING_READS = 10_000;

function coreLogger(logger: Logger): CoreLogger {
  return {
    debug: (msg, fields) => logger.debug(fields ?? {}, msg),
    info: (msg, fields) => logger.info(fields ?? {}, msg),
    warn: (msg, fields) => logger.warn(fields ?? {}, msg),
  };
}

export function encodeAddressEntry(nodeId: NodeId, address: string): Uint8Array {
  const body = encoder.encode(JSON.stringify({ nodeId, address }));
  const out = new Uint8Array(body.byteLength + 1);
  out[0] = ADDRESS_ENTRY_FORMAT;
  out.set(body, 1);
  return out;
}

function decodeAddressEntry(data: Uint8Array): { nodeId: NodeId; address: string } | null {
  try {
    const o = JSON.parse(decoder.decode(data.subarray(1))) as { nodeId?: unknown; address?: unknown };
    if (typeof o.nodeId === 'number' && Number.isSafeInteger(o.nodeId) && o.nodeId > 0 && typeof o.address === 'string' && o.address.length <= 300) {
      return { nodeId: o.nodeId, address: o.address };
    }
  } catch {
    return null;
  }
  return null;
}

export function encodeSnapshotEnvelope(addresses: ReadonlyMap<NodeId, string>, machine: Uint8Array): Uint8Array {
  const head = encoder.encode(JSON.stringify({ addresses: [...addresses.entries()] }));
  const out = new Uint8Array(1 + 4 + head.byteLength + machine.byteLength);
  out[0] = SNAPSHOT_ENVELOPE_FORMAT;
  new DataView(out.buffer).setUint32(1, head.byteLength);
  out.set(head, 5);
  out.set(machine, 5 + head.byteLength);
  return out;
}

export function decodeSnapshotEnvelope(data: Uint8Array): { addresses: Map<NodeId, string>; machine: Uint8Array } | null {
  if (data.byteLength === 0) return { addresses: new Map(), machine: EMPTY };
  if (data.byteLength < 5 || data[0] !== SNAPSHOT_ENVELOPE_FORMAT) return null;
  const headBytes = new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(1);
  if (5 + headBytes > data.byteLength) return null;
  try {
    const head = JSON.parse(decoder.decode(data.subarray(5, 5 + headBytes))) as { addresses?: unknown };
    if (!Array.isArray(head.addresses)) return null;
    const addresses = new Map<NodeId, string>();
    for (const pair of head.addresses as unknown[]) {
      if (!Array.isArray(pair) || typeof pair[0] !== 'number' || typeof pair[1] !== 'string') return null;
      addresses.set(pair[0], pair[1]);
    }
    return { addresses, machine: data.subarray(5 + headBytes) };
  } catch {
    return null;
  }
}

export class RaftNode {
  readonly raw: RawNode;
  readonly transport: GrpcRaftTransport;
  readonly stats: RaftNodeStats = { readies: 0, appliedEntries: 0, snapshotsTaken: 0, snapshotsInstalled: 0 };
  private readonly addresses: Map<NodeId, string>;
  private readonly proposals = new Map<number, ProposalWaiter>();
  private readonly reads = new Map<string, ReadWaiter>();
  private readonly appliedListeners = new Set<() => void>();
  private readonly roleListeners = new Set<(soft: SoftState) => void>();
  private readonly log: Logger;
  private appliedConf: ConfState;
  private soft: SoftState = { leaderId: 0, role: 'Follower' };
  private tickTimer: NodeJS.Timeout | null = null;
  private loop: Promise<void> | null = null;
  private stopped = false;
  private readCounter = 0;
  /** The term of the last applied entry (proposals of older terms beyond it are orphans). */
  private appliedTerm = 0;

  constructor(private readonly options: RaftNodeOptions) {
    this.log = options.logger.child({ component: 'raft-node' });
    this.addresses = new Map(options.peers);
    const snap = options.log.snapshot();
    this.appliedConf = snap.meta.conf;
    if (snap.meta.index > 0) this.restoreSnapshot(snap);
    this.raw = new RawNode({
      id: options.id,
      electionTicks: options.electionTicks,
      heartbeatTicks: options.heartbeatTicks,
      maxMsgBytes: options.maxRaftMsgBytes,
      maxInflightMsgs: options.maxInflightMsgs,
      maxUncommittedBytes: options.maxUncommittedBytes,
      preVote: options.preVote,
      checkQuorum: options.checkQuorum,
      rng: new Rng(randomInt(0, 2 ** 47)),
      log: options.log,
      logger: coreLogger(options.logger.child({ component: 'raft' })),
    });
    this.transport = new GrpcRaftTransport({
      selfId: options.id,
      clusterId: options.clusterId,
      maxMessageBytes: options.maxRequestBytes,
      maxBufferedBytes: Math.max(4 * options.maxRaftMsgBytes, 8 << 20),
      logger: options.logger.child({ component: 'raft-transport' }),
      addressOf: (id) => this.addresses.get(id),
      onMessage: (m) => this.step(m),
      onUnreachable: (id) => {
        if (!this.stopped) this.raw.reportUnreachable(id);
      },
      ...(options.snapshotTransfer === undefined ? {} : { snapshot: options.snapshotTransfer }),
      onSnapshotSent: (id, ok) => {
        if (!this.stopped) {
          this.raw.reportSnapshot(id, ok);
          this.kick();
        }
      },
    });
  }

  get id(): NodeId {
    return this.options.id;
  }

  get machine(): MetadataMachine {
    return this.options.machine;
  }

  get softState(): SoftState {
    return this.soft;
  }

  get isLeader(): boolean {
    return this.soft.role === 'Leader';
  }

  addressOf(id: NodeId): string | undefined {
    return this.addresses.get(id);
  }

  addressBook(): ReadonlyMap<NodeId, string> {
    return this.addresses;
  }

  status(): RaftStatus {
    return this.raw.status();
  }

  start(): void {
    assert(this.tickTimer === null && !this.stopped, 'raft node started twice');
    this.tickTimer = setInterval(() => {
      if (this.stopped) return;
      this.raw.tick();
      this.kick();
    }, this.options.tickMs);
    this.kick();
  }

  /** One message from the transport (already validated by the codec and the core's checks). */
  step(message: RaftMessage): void {
    if (this.stopped) return;
    this.raw.step(message);
    this.kick();
  }

  /** Listeners run after each Ready's entries are applied (watchers). */
  onApplied(listener: () => void): () => void {
    this.appliedListeners.add(listener);
    return () => this.appliedListeners.delete(listener);
  }

  onRoleChange(listener: (soft: SoftState) => void): () => void {
    this.roleListeners.add(listener);
    return () => this.roleListeners.delete(listener);
  }

  /**
   * Proposes one payload; resolves with the apply outcome once committed and
   * applied here. Throws RAFT_NOT_LEADER (details.leaderId) on a follower.
   */
  propose(data: Uint8Array): Promise<EntryOutcome | null> {
    return this.proposeBatch([data]).then((outcomes) => outcomes[0] ?? null);
  }

  /** Several payloads at consecutive indexes in one Raft append (one Ready, one fsync). */
  async proposeBatch(datas: readonly Uint8Array[]): Promise<(EntryOutcome | null)[]> {
    this.checkRunning();
    if (this.proposals.size + datas.length > MAX_PENDING_PROPOSALS) throw new FjordError('RAFT_PROPOSAL_DROPPED', 'too many proposals pending');
    const accepted = this.raw.proposeBatch(datas);
    const waits = datas.map((_, i) => this.waitForEntry(accepted.index + i, accepted.term));
    this.kick();
    return Promise.all(waits);
  }

  async proposeConfChange(change: ConfChange): Promise<void> {
    this.checkRunning();
    const accepted = this.raw.proposeConfChange(change);
    const wait = this.waitForEntry(accepted.index, accepted.term);
    this.kick();
    await wait;
  }

  /**
   * Resolves once this node's applied state reflects every write committed
   * before the call (ReadIndex, thesis §6.4). On a follower the core forwards
   * the request to the leader and serves it here once applied up to the
   * leader's answer; RAFT_NOT_LEADER when no leader is known, and a request
   * lost with a leader change fails at once with RAFT_NOT_LEADER too.
   */
  async readIndex(): Promise<void> {
    this.checkRunning();
    if (this.reads.size >= MAX_PENDING_READS) throw new FjordError('RAFT_PROPOSAL_DROPPED', 'too many reads pending');
    const ctx = `${this.options.id}-${++this.readCounter}`;
    this.raw.readIndex(ctx);
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.reads.delete(ctx);
        reject(new FjordError('REQUEST_TIMED_OUT', `read not confirmed within ${this.options.requestTimeoutMs} ms`));
      }, this.options.requestTimeoutMs);
      this.reads.set(ctx, { index: -1, resolve, reject, timer });
    });
    this.kick();
    return done;
  }

  /** Resolves once this node has applied `index` (or rejects after the request timeout). */
  async waitApplied(index: number): Promise<void> {
    if (this.machine.appliedIndex >= index) return;
    const ctx = `wait-${++this.readCounter}`;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.reads.delete(ctx);
        reject(new FjordError('REQUEST_TIMED_OUT', `index ${index} not applied within ${this.options.requestTimeoutMs} ms`));
      }, this.options.requestTimeoutMs);
      this.reads.set(ctx, { index, resolve, reject, timer });
    });
  }

  transferLeader(to: NodeId): void {
    this.checkRunning();
    this.raw.transferLeader(to);
    this.kick();
  }

  private checkRunning(): void {
    if (this.stopped) throw new FjordError('COORDINATOR_NOT_AVAILABLE', 'the coordinator node is stopping');
  }

  private waitForEntry(index: number, term: number): Promise<EntryOutcome | null> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.proposals.delete(index);
        reject(new FjordError('REQUEST_TIMED_OUT', `entry ${index} not committed within ${this.options.requestTimeoutMs} ms`));
      }, this.options.requestTimeoutMs);
      const old = this.proposals.get(index);
      if (old !== undefined) {
        clearTimeout(old.timer);
        old.reject(new FjordError('RAFT_PROPOSAL_DROPPED', `entry ${index} was overwritten by a newer leader`));
      }
      this.proposals.set(index, { term, resolve, reject, timer });
    });
  }

  private kick(): void {
    if (this.loop !== null || this.stopped) return;
    if (!this.raw.hasReady()) return;
    this.loop = this.runLoop()
      .catch((err: unknown) => {
        this.log.fatal({ err }, 'raft loop failed');
        this.options.onFatal(err);
      })
      .finally(() => {
        this.loop = null;
        if (!this.stopped && this.raw.hasReady()) this.kick();
      });
  }

  /** The Ready loop: the one place that orders persist -> send -> apply -> advance. */
  private async runLoop(): Promise<void> {
    while (!this.stopped && this.raw.hasReady()) {
      const rd: Ready = this.raw.ready();
      this.stats.readies++;
      // 0. A leader's appends leave now, so followers write their copies while
      //    we write ours (thesis §10.2.1): two fsyncs in parallel, not in series.
      this.transport.send(rd.earlyMessages);
      // 1. Persist: one batch (fsynced when mustSync); the MemoryLog shows it afterwards.
      await this.options.store.persistReady(rd, this.options.log);
      if (this.stopped) return;
      // 2. Send: votes and acks may leave only once what they promise is durable.
      this.transport.send(rd.messages);
      // 3. Apply.
      if (rd.snapshot !== undefined) {
        this.restoreSnapshot(rd.snapshot);
        this.stats.snapshotsInstalled++;
        this.log.info({ index: rd.snapshot.meta.index, term: rd.snapshot.meta.term }, 'snapshot installed');
      }
      for (const e of rd.committedEntries) this.applyEntry(e);
      if (rd.softState !== undefined) this.changeSoftState(rd.softState);
      for (const rs of rd.readStates) {
        const waiter = this.reads.get(rs.requestCtx);
        if (waiter !== undefined) waiter.index = rs.index;
      }
      this.serveReads();
      // 4. Advance.
      this.raw.advance(rd);
      for (const listener of this.appliedListeners) listener();
      await this.maybeSnapshot();
    }
  }

  private applyEntry(e: Entry): void {
    const machine = this.options.machine;
    let outcome: EntryOutcome | null = null;
    if (e.index <= machine.appliedIndex) return; // covered by a restored snapshot
    if (e.term > this.appliedTerm) {
      this.appliedTerm = e.term;
      this.dropOrphanedProposals(e);
    }
    if (e.type === 'ConfChange') {
      machine.applyEntry(e.index, EMPTY);
      this.appliedConf = e.conf;
      this.log.info({ index: e.index, change: e.change, conf: e.conf }, 'membership changed');
    } else if (e.data.byteLength > 0 && e.data[0] === ADDRESS_ENTRY_FORMAT) {
      machine.applyEntry(e.index, EMPTY);
      const rec = decodeAddressEntry(e.data);
      if (rec !== null) this.addresses.set(rec.nodeId, rec.address);
    } else {
      outcome = machine.applyEntry(e.index, e.data);
    }
    this.stats.appliedEntries++;
    const waiter = this.proposals.get(e.index);
    if (waiter !== undefined) {
      this.proposals.delete(e.index);
      clearTimeout(waiter.timer);
      if (waiter.term === e.term) waiter.resolve(outcome);
      else waiter.reject(new FjordError('RAFT_PROPOSAL_DROPPED', `entry ${e.index} was overwritten by a newer leader`));
    }
  }

  /**
   * A committed entry of a newer term at `e.index` means no entry of an older
   * term can commit after it (terms never decrease along a log), so proposals
   * of older terms waiting at higher indexes are lost: fail them now
   * (RAFT_PROPOSAL_DROPPED, retriable) instead of after requestTimeoutMs. This
   * is a deposed leader's uncommitted tail, e.g. after a burst that starved
   * its heartbeats. The entry at e.index itself is settled by the term check
   * in applyEntry.
   */
  private dropOrphanedProposals(e: Entry): void {
    for (const [index, waiter] of this.proposals) {
      if (index <= e.index || waiter.term >= e.term) continue;
      this.proposals.delete(index);
      clearTimeout(waiter.timer);
      waiter.reject(new FjordError('RAFT_PROPOSAL_DROPPED', `entry ${index} of term ${waiter.term} can no longer commit: entry ${e.index} committed in term ${e.term}`));
    }
  }

  private restoreSnapshot(snap: Snapshot): void {
    const envelope = decodeSnapshotEnvelope(snap.data);
    assert(envelope !== null, 'raft snapshot envelope does not decode');
    if (envelope.machine.byteLength > 0) {
      const restored = this.options.machine.restore({ appliedIndex: snap.meta.index, data: envelope.machine });
      assert(restored.ok, () => `metadata snapshot does not restore: ${restored.ok ? '' : restored.error.message}`);
    }
    for (const [id, address] of envelope.addresses) this.addresses.set(id, address);
    this.appliedConf = snap.meta.conf;
    for (const [index, waiter] of this.proposals) {
      if (index <= snap.meta.index) {
        this.proposals.delete(index);
        clearTimeout(waiter.timer);
        waiter.reject(new FjordError('REQUEST_TIMED_OUT', `entry ${index}: outcome unknown (a snapshot replaced the log)`));
      }
    }
  }

  private changeSoftState(next: SoftState): void {
    const previous = this.soft;
    this.soft = next;
    this.log.info({ role: next.role, leaderId: next.leaderId, term: this.raw.status().term }, next.role === 'Leader' ? 'became leader' : 'raft role changed');
    const lostLeadership = previous.role === 'Leader' && next.role !== 'Leader';
    if (lostLeadership || previous.leaderId !== next.leaderId) {
      // ReadIndex needs the leader: reads in flight fail fast (the caller retries
      // elsewhere). A follower's reads not yet answered by the old leader never
      // will be; ones it answered stay valid (their index was confirmed).
      for (const [ctx, waiter] of this.reads) {
        if (ctx.startsWith('wait-')) continue;
        if (!lostLeadership && waiter.index >= 0) continue;
        this.reads.delete(ctx);
        clearTimeout(waiter.timer);
        waiter.reject(new FjordError('RAFT_NOT_LEADER', 'leadership changed during the read', { leaderId: next.leaderId }));
      }
    }
    for (const listener of this.roleListeners) listener(next);
  }

  private serveReads(): void {
    const applied = this.options.machine.appliedIndex;
    for (const [ctx, waiter] of this.reads) {
      if (waiter.index >= 0 && waiter.index <= applied) {
        this.reads.delete(ctx);
        clearTimeout(waiter.timer);
        waiter.resolve();
      }
    }
  }

  private async maybeSnapshot(): Promise<void> {
    const log = this.options.log;
    const applied = this.options.machine.appliedIndex;
    const snapIndex = log.snapshot().meta.index;
    if (applied - snapIndex < this.options.snapshotEveryEntries) return;
    const data = encodeSnapshotEnvelope(this.addresses, this.options.machine.snapshot().data);
    const compactTo = Math.max(log.firstIndex() - 1, applied - this.options.snapshotCatchUpEntries);
    await this.options.store.saveSnapshot({ log, index: applied, conf: this.appliedConf, data, compactTo });
    this.stats.snapshotsTaken++;
    this.log.info({ index: applied, compactTo }, 'snapshot taken');
  }

  /** Stops ticking and stepping, fails what waits, and lets the Ready in flight finish. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.tickTimer !== null) clearInterval(this.tickTimer);
    this.tickTimer = null;
    this.transport.close();
    const err = new FjordError('COORDINATOR_NOT_AVAILABLE', 'the coordinator node is stopping');
    for (const waiter of this.proposals.values()) {
      clearTimeout(waiter.timer);
      waiter.reject(err);
    }
    this.proposals.clear();
    for (const waiter of this.reads.values()) {
      clearTimeout(waiter.timer);
      waiter.reject(err);
    }
    this.reads.clear();
    if (this.loop !== null) await this.loop;
  }
}
