/**
 * A cluster of RawNodes wired to the simulated network, each with a MemoryLog
 * as its disk and a tiny state machine (the sequence of write ids it applied).
 * It runs the shell loop exactly as the contract on Ready says (send the
 * early messages, persist, send, apply, advance), with an optional
 * persistence delay so that a crash can lose a Ready that was not yet durable
 * after its early messages left. Used by the simulator, the transcript
 * tests, unit tests and the benchmark.
 */
import { assert, isFjordError, Rng } from '@fjord/protocol';
import { MemoryLog } from '../memory-log.js';
import { RawNode, type Ready } from '../raw-node.js';
import type { ConfState, CoreLogger, Entry, NodeId, RaftConfig, RaftMessage, ReadState, Snapshot } from '../types.js';
import { SafetyChecker, writeIdOf } from './checkers.js';
import { SimNetwork } from './network.js';
import { Trace } from './trace.js';

export type NodeRaftOptions = Omit<RaftConfig, 'id' | 'rng' | 'log' | 'logger' | 'applied'>;

export interface AppState {
  appliedIndex: number;
  writes: number[];
  conf: ConfState;
}

export function encodeWrites(writes: readonly number[]): Uint8Array {
  const out = new Uint8Array(writes.length * 4);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < writes.length; i++) dv.setUint32(i * 4, writes[i] as number, true);
  return out;
}

export function decodeWrites(data: Uint8Array): number[] {
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const out: number[] = [];
  for (let i = 0; i + 4 <= data.byteLength; i += 4) out.push(dv.getUint32(i, true));
  return out;
}

export function writeData(writeId: number, padBytes: number): Uint8Array {
  const d = new Uint8Array(4 + padBytes);
  new DataView(d.buffer).setUint32(0, writeId, true);
  return d;
}

export class SimNode {
  readonly store: MemoryLog;
  raw: RawNode | undefined = undefined;
  app: AppState = { appliedIndex: 0, writes: [], conf: { voters: [], learners: [] } };
  pending: { rd: Ready; doneAt: number } | undefined = undefined;
  incarnation = 0;
  readsWaiting: ReadState[] = [];
  /** A paused process (GC pause, SIGSTOP) neither ticks nor handles anything until this tick. */
  pausedUntil = 0;

  constructor(
    readonly id: NodeId,
    bootstrap: ConfState | undefined,
  ) {
    this.store = new MemoryLog(bootstrap === undefined ? {} : { conf: bootstrap });
  }

  get up(): boolean {
    return this.raw !== undefined;
  }
}

export interface ClusterOptions {
  /** Initial voters (bootstrapped); spare ids start empty and can be added later. */
  readonly voters: readonly NodeId[];
  readonly spares?: readonly NodeId[];
  readonly raft: NodeRaftOptions;
  readonly rng: Rng;
  readonly checker?: SafetyChecker;
  readonly trace?: Trace;
  /** Persistence takes 0..persistDelayMaxTicks ticks; a crash in between loses the Ready. */
  readonly persistDelayMaxTicks?: number;
  /** Compact after this many applied entries (0 = never). */
  readonly snapshotEveryEntries?: number;
  /** Entries kept behind a snapshot for slow followers. */
  readonly keepEntriesAfterSnapshot?: number;
  /** Called for every message delivered (transcripts). */
  readonly onDeliver?: (m: RaftMessage) => void;
  readonly logger?: (id: NodeId) => CoreLogger;
  readonly maxInFlightMsgs?: number;
}

export class SimCluster {
  readonly nodes = new Map<NodeId, SimNode>();
  readonly net: SimNetwork;
  now = 0;
  readonly checker: SafetyChecker | undefined;
  private readonly rng: Rng;
  /** writeId -> the node (and incarnation) the client proposed it on. */
  readonly proposals = new Map<number, { node: NodeId; incarnation: number }>();
  /** read ctx -> the newest acked index when the read began. */
  readonly reads = new Map<string, number>();
  readsServed = 0;
  committedEntries = 0;
  persistDelayMaxTicks: number;
  /** The per-tick event cap: more delivery rounds than this in one tick is a livelock (a violation when checking). */
  maxRoundsPerTick = 10_000;

  constructor(readonly opts: ClusterOptions) {
    this.rng = opts.rng;
    this.checker = opts.checker;
    this.net = new SimNetwork(opts.rng.fork(), { maxInFlight: opts.maxInFlightMsgs ?? 100_000 });
    this.persistDelayMaxTicks = opts.persistDelayMaxTicks ?? 0;
    const conf: ConfState = { voters: [...opts.voters], learners: [] };
    for (const id of opts.voters) this.nodes.set(id, new SimNode(id, conf));
    for (const id of opts.spares ?? []) this.nodes.set(id, new SimNode(id, undefined));
    for (const n of this.nodes.values()) this.start(n);
  }

  node(id: NodeId): SimNode {
    const n = this.nodes.get(id);
    assert(n !== undefined, `no node ${id}`);
    return n;
  }

  private note(id: NodeId, text: string): void {
    this.opts.trace?.note(this.now, id, text);
  }

  start(n: SimNode): void {
    assert(n.raw === undefined, 'start of a running node');
    const snap = n.store.snapshot();
    n.incarnation++;
    n.raw = new RawNode({
      ...this.opts.raft,
      id: n.id,
      rng: this.rng.fork(),
      log: n.store,
      applied: snap.meta.index,
      ...(this.opts.logger === undefined ? {} : { logger: this.opts.logger(n.id) }),
    });
    n.app = { appliedIndex: snap.meta.index, writes: decodeWrites(snap.data), conf: snap.meta.conf };
    this.checker?.restoredWrites(n.id, n.app.writes);
    this.checker?.restarted(n.id, n.store.hardState());
    this.note(n.id, `start (incarnation ${n.incarnation}, term ${n.raw.raft.term}, commit ${n.raw.raft.log.committed})`);
  }

  /** Crash: everything not yet durable (the Ready being persisted, the in-memory state) is lost. */
  crash(n: SimNode): void {
    if (n.raw === undefined) return;
    n.raw = undefined;
    n.pending = undefined;
    n.readsWaiting = [];
    this.net.dropFor(n.id);
    this.note(n.id, 'crash');
  }

  leaders(): SimNode[] {
    const out: SimNode[] = [];
    for (const n of this.nodes.values()) if (n.raw !== undefined && n.raw.raft.role === 'Leader') out.push(n);
    return out;
  }

  /** The leader with the highest term, if any. */
  leader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const n of this.leaders()) if (best === undefined || (n.raw as RawNode).raft.term > (best.raw as RawNode).raft.term) best = n;
    return best;
  }

  private observe(n: SimNode): void {
    const c = this.checker;
    const raw = n.raw;
    if (c === undefined || raw === undefined) return;
    const r = raw.raft;
    c.observe(n.id, { term: r.term, commit: r.log.committed, role: r.role });
    if (r.role === 'Leader') c.observeLeader(n.id, r.term, (i) => r.log.term(i), r.log.firstIndex());
  }

  paused(n: SimNode): boolean {
    return n.pausedUntil > this.now;
  }

  tickNode(n: SimNode): void {
    if (n.raw === undefined || this.paused(n)) return;
    n.raw.tick();
    this.observe(n);
  }

  deliver(m: RaftMessage): void {
    const n = this.nodes.get(m.to);
    if (n === undefined || n.raw === undefined) return;
    if (this.paused(n)) {
      // The message waits in the socket buffer until the process runs again.
      this.net.requeue(m, n.pausedUntil);
      return;
    }
    this.opts.trace?.add({ t: this.now, node: m.to, msg: m, dir: 'deliver' });
    this.opts.onDeliver?.(m);
    n.raw.step(m);
    this.observe(n);
  }

  /** Takes a Ready if the node has one and none is in flight. */
  private collect(n: SimNode): boolean {
    if (n.raw === undefined || n.pending !== undefined || this.paused(n) || !n.raw.hasReady()) return false;
    const rd = n.raw.ready();
    const delay = this.persistDelayMaxTicks > 0 && (rd.mustSync || rd.snapshot !== undefined) ? this.rng.int(this.persistDelayMaxTicks + 1) : 0;
    n.pending = { rd, doneAt: this.now + delay };
    // The leader's appends leave before its own write (a crash during the persist delay loses that write, not these).
    for (const m of rd.earlyMessages) this.net.send(m, this.now);
    return true;
  }

  /** The shell loop body: persist, send, apply, advance (Ready's contract). */
  private complete(n: SimNode): void {
    const p = n.pending;
    const raw = n.raw;
    assert(p !== undefined && raw !== undefined, 'complete without a pending ready');
    n.pending = undefined;
    const rd = p.rd;
    const c = this.checker;
    // 1. Persist.
    if (rd.snapshot !== undefined) n.store.applySnapshot(rd.snapshot);
    if (rd.entries.length > 0) {
      n.store.append(rd.entries);
      c?.persistedEntries(n.id, rd.entries, (i) => n.store.term(i));
    }
    if (rd.hardState !== undefined) {
      n.store.setHardState(rd.hardState);
      c?.persistedHardState(n.id, rd.hardState);
      c?.observeDurableCommit(rd.hardState.term, rd.hardState.commit, n.store.term(rd.hardState.commit));
    }
    // 2. Send.
    for (const m of rd.messages) {
      if (c !== undefined && m.type === 'RequestVoteResponse' && m.granted && !m.preVote) c.voteGranted(n.id, m.term, m.to);
      this.net.send(m, this.now);
    }
    // 3. Apply.
    if (rd.snapshot !== undefined) this.restoreApp(n, rd.snapshot);
    for (const e of rd.committedEntries) this.apply(n, e);
    for (const rs of rd.readStates) n.readsWaiting.push(rs);
    // 4. Advance.
    raw.advance(rd);
    if (rd.softState !== undefined) this.note(n.id, `role ${rd.softState.role} leader=${rd.softState.leaderId} term=${raw.raft.term}`);
    this.serveReads(n);
    this.maybeSnapshot(n);
  }

  private restoreApp(n: SimNode, s: Snapshot): void {
    if (s.meta.index <= n.app.appliedIndex) return;
    n.app = { appliedIndex: s.meta.index, writes: decodeWrites(s.data), conf: s.meta.conf };
    this.checker?.restoredWrites(n.id, n.app.writes);
    this.note(n.id, `restored snapshot ${s.meta.index}/${s.meta.term}`);
  }

  private apply(n: SimNode, e: Entry): void {
    if (e.index <= n.app.appliedIndex) return;
    assert(e.index === n.app.appliedIndex + 1, () => `n${n.id} applies ${e.index} after ${n.app.appliedIndex}`);
    this.checker?.applied(n.id, e);
    n.app.appliedIndex = e.index;
    this.committedEntries++;
    if (e.type === 'ConfChange') {
      n.app.conf = e.conf;
      return;
    }
    const w = writeIdOf(e);
    if (w === 0) return;
    this.checker?.appliedWrite(n.id, n.app.writes.length, w);
    n.app.writes.push(w);
    const prop = this.proposals.get(w);
    if (prop !== undefined && prop.node === n.id && prop.incarnation === n.incarnation) {
      this.checker?.ack(w, e.index);
      this.proposals.delete(w);
    }
  }

  private serveReads(n: SimNode): void {
    if (n.readsWaiting.length === 0) return;
    const keep: ReadState[] = [];
    for (const rs of n.readsWaiting) {
      if (n.app.appliedIndex < rs.index) {
        keep.push(rs);
        continue;
      }
      const ackedAtStart = this.reads.get(rs.requestCtx);
      if (ackedAtStart === undefined) continue;
      this.reads.delete(rs.requestCtx);
      this.readsServed++;
      this.checker?.readServed(n.id, rs.requestCtx, ackedAtStart, n.app.appliedIndex);
    }
    n.readsWaiting = keep;
  }

  private maybeSnapshot(n: SimNode): void {
    const every = this.opts.snapshotEveryEntries ?? 0;
    if (every <= 0) return;
    const snapIndex = n.store.snapshot().meta.index;
    if (n.app.appliedIndex - snapIndex < every) return;
    n.store.createSnapshot(n.app.appliedIndex, n.app.conf, encodeWrites(n.app.writes));
    n.store.compact(Math.max(snapIndex, n.app.appliedIndex - (this.opts.keepEntriesAfterSnapshot ?? 0)));
  }

  /** Runs readies and deliveries due now until nothing moves. */
  pump(): void {
    for (let round = 0; round < this.maxRoundsPerTick; round++) {
      let moved = false;
      for (const n of this.nodes.values()) {
        if (n.pending !== undefined && n.pending.doneAt <= this.now && n.raw !== undefined && !this.paused(n)) {
          this.complete(n);
          moved = true;
        }
        if (this.collect(n)) {
          moved = true;
          if ((n.pending as { doneAt: number }).doneAt <= this.now) this.complete(n);
        }
      }
      for (let m = this.net.popDue(this.now); m !== undefined; m = this.net.popDue(this.now)) {
        this.deliver(m);
        moved = true;
      }
      if (!moved) return;
    }
    // Still moving after the cap: a zero-delay message storm (the per-tick event cap).
    this.checker?.fail(`livelock: messages still flowing after ${this.maxRoundsPerTick} delivery rounds in one tick`);
  }

  /** One virtual tick: every live node ticks, then everything due is delivered. */
  tick(): void {
    this.now++;
    for (const n of this.nodes.values()) this.tickNode(n);
    this.pump();
  }

  /** Proposes write `writeId` on node `n`; returns an error code on refusal. */
  propose(n: SimNode, writeId: number, padBytes: number): 'ok' | string {
    if (n.raw === undefined) return 'down';
    try {
      n.raw.propose(writeData(writeId, padBytes));
      this.proposals.set(writeId, { node: n.id, incarnation: n.incarnation });
      return 'ok';
    } catch (err) {
      if (isFjordError(err)) return err.code;
      throw err;
    }
  }

  readIndex(n: SimNode, ctx: string): 'ok' | string {
    if (n.raw === undefined) return 'down';
    try {
      n.raw.readIndex(ctx);
      this.reads.set(ctx, this.checker?.maxAckedIndex ?? 0);
      return 'ok';
    } catch (err) {
      if (isFjordError(err)) return err.code;
      throw err;
    }
  }
}
