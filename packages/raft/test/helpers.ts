// Shared helpers for the raft unit tests: small deterministic clusters over the
// simulator's network with zero delay and every safety checker on.
import { Rng } from '@fjord/protocol';
import { SafetyChecker, SimCluster, type NodeRaftOptions, type SimNode } from '../src/sim/index.js';
import { MemoryLog, RawNode, type RaftMessage, type Ready } from '../src/index.js';

export const DEFAULT_RAFT: NodeRaftOptions = {
  electionTicks: 10,
  heartbeatTicks: 1,
  maxMsgBytes: 1 << 20,
  maxInflightMsgs: 256,
  maxUncommittedBytes: 1 << 30,
  preVote: false,
  checkQuorum: false,
};

export function newCluster(opts: { voters?: number[]; spares?: number[]; raft?: Partial<NodeRaftOptions>; seed?: number; snapshotEveryEntries?: number; checker?: boolean } = {}): SimCluster {
  return new SimCluster({
    voters: opts.voters ?? [1, 2, 3],
    spares: opts.spares ?? [],
    raft: { ...DEFAULT_RAFT, ...opts.raft },
    rng: new Rng(opts.seed ?? 42),
    ...(opts.checker === false ? {} : { checker: new SafetyChecker() }),
    ...(opts.snapshotEveryEntries === undefined ? {} : { snapshotEveryEntries: opts.snapshotEveryEntries }),
  });
}

export function raw(n: SimNode): RawNode {
  if (n.raw === undefined) throw new Error(`n${n.id} is down`);
  return n.raw;
}

/** Forces `id` to campaign and delivers everything. */
export function elect(c: SimCluster, id: number): void {
  raw(c.node(id)).campaign();
  c.pump();
}

export function ticks(c: SimCluster, n: number): void {
  for (let i = 0; i < n; i++) c.tick();
}

/** A RawNode and the log the test persists its Readies into (tests that drive Raft by hand). */
export type Hand = { n: RawNode; log: MemoryLog };

/** A fresh voter `id` of the cluster {1, 2, 3}. */
export function freshHand(id: number): Hand {
  const log = new MemoryLog({ conf: { voters: [1, 2, 3], learners: [] } });
  return { n: new RawNode({ ...DEFAULT_RAFT, id, rng: new Rng(id), log }), log };
}

/** Three RawNodes driven by hand: the test routes every message and persists every Ready. */
export function handCluster(): Map<number, Hand> {
  const hands = new Map<number, Hand>();
  for (const id of [1, 2, 3]) hands.set(id, freshHand(id));
  return hands;
}

export function persistHand(h: Hand, rd: Ready): void {
  if (rd.entries.length > 0) h.log.append(rd.entries);
  if (rd.hardState !== undefined) h.log.setHardState(rd.hardState);
  h.n.advance(rd);
}

/** Every Ready persisted, every message delivered, until quiet; returns what was sent. */
export function settleHands(hands: Map<number, Hand>): RaftMessage[] {
  const all: RaftMessage[] = [];
  for (let round = 0; round < 100; round++) {
    const out: RaftMessage[] = [];
    for (const h of hands.values()) {
      if (!h.n.hasReady()) continue;
      const rd = h.n.ready();
      persistHand(h, rd);
      out.push(...rd.earlyMessages, ...rd.messages);
    }
    if (out.length === 0) return all;
    all.push(...out);
    for (const m of out) hands.get(m.to)?.n.step(m);
  }
  throw new Error('hand cluster did not settle');
}

export function hand(hands: Map<number, Hand>, id: number): Hand {
  const h = hands.get(id);
  if (h === undefined) throw new Error(`no node ${id}`);
  return h;
}

/** A hand cluster where node 1 leads, its first entry is committed, and both followers replicate (match 1). */
export function electedHands(): Map<number, Hand> {
  const hands = handCluster();
  hand(hands, 1).n.campaign();
  settleHands(hands);
  const r = hand(hands, 1).n.raft;
  if (r.role !== 'Leader' || r.log.committed !== 1) throw new Error(`node 1 did not become a leader with entry 1 committed (${r.role}, commit ${r.log.committed})`);
  for (const id of [2, 3]) {
    const pr = r.progress.get(id);
    if (pr?.state !== 'Replicate' || pr.match !== 1 || pr.next !== 2) throw new Error(`follower ${id} is not replicating from index 2`);
  }
  return hands;
}
