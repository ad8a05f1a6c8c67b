/**
 * Safety invariants, checked after every simulator event (Raft thesis figure
 * 3.2 and the list). Each check is incremental so it can run after
 * every step of every seed:
 *
 * - Election safety: at most one leader per term.
 * - Terms and commit indexes never decrease (per incarnation, and on disk).
 * - Log matching: an entry (index, term) has one content and one predecessor
 *   term across all nodes, so equal (index, term) means equal prefixes.
 * - Leader completeness: a new leader holds the newest applied entry.
 * - State machine safety: every node applies the same entry at each index and
 *   the same sequence of writes; no write is applied twice.
 * - Linearizable reads: a read returns state at least as new as every write
 *   acknowledged before the read began.
 */
import type { Entry, HardState, NodeId } from '../types.js';

export class Violation extends Error {
  override readonly name = 'Violation';
}

export function writeIdOf(e: Entry): number {
  if (e.type !== 'Normal' || e.data.byteLength < 4) return 0;
  const d = e.data;
  return ((d[0] as number) | ((d[1] as number) << 8) | ((d[2] as number) << 16) | ((d[3] as number) << 24)) >>> 0;
}

function sig(e: Entry): string {
  return e.type === 'Normal' ? `N${writeIdOf(e)}` : `C${e.change.type}${e.change.nodeId}`;
}

export class SafetyChecker {
  private readonly leaders = new Map<number, NodeId>();
  private readonly seen = new Map<NodeId, { term: number; commit: number }>();
  private readonly durable = new Map<NodeId, HardState>();
  private readonly logKeys = new Map<number, Map<number, string>>();
  private readonly canonEntries = new Map<number, string>();
  /** The one history of writes, in apply order. */
  readonly canonWrites: number[] = [];
  private readonly canonWriteSet = new Set<number>();
  maxAppliedIndex = 0;
  /** Write id -> raft index, for every write acknowledged to its client. */
  readonly acked = new Map<number, number>();
  maxAckedIndex = 0;
  elections = 0;

  fail(msg: string): never {
    throw new Violation(msg);
  }

  /** After every input to a node. */
  observe(id: NodeId, st: { term: number; commit: number; role: string }): void {
    const prev = this.seen.get(id);
    if (prev !== undefined) {
      if (st.term < prev.term) this.fail(`term went back on n${id}: ${prev.term} -> ${st.term}`);
      if (st.commit < prev.commit) this.fail(`commit went back on n${id}: ${prev.commit} -> ${st.commit}`);
    }
    this.seen.set(id, { term: st.term, commit: st.commit });
  }

  /** Per term: the highest durable commit index (and its entry's term) of a node in that term. */
  private readonly leaderCommits = new Map<number, { index: number; term: number }>();

  /**
   * A node in `term` durably recorded commit `index` (entry term `indexTerm`):
   * that entry was committed by a leader of a term <= `term`. Only durable
   * commits count: a lone leader commits on append, but if it crashes before
   * persisting, that commit never existed for anyone.
   */
  observeDurableCommit(term: number, index: number, indexTerm: number | undefined): void {
    if (indexTerm === undefined) return;
    const prev = this.leaderCommits.get(term);
    if (prev === undefined || index > prev.index) this.leaderCommits.set(term, { index, term: indexTerm });
  }

  /**
   * A node is leader of `term`. Election safety: no other leader in `term`.
   * Leader completeness (thesis §3.6.3): it holds every entry committed in
   * earlier terms; checking the newest one suffices, by log matching.
   * (A stale election in an old term may finish after a newer leader committed:
   * that leader need not hold entries committed in later terms.)
   */
  observeLeader(id: NodeId, term: number, termAt: (index: number) => number | undefined, firstIndex: number): void {
    const l = this.leaders.get(term);
    if (l === id) return;
    if (l !== undefined) this.fail(`two leaders in term ${term}: n${l} and n${id}`);
    this.leaders.set(term, id);
    this.elections++;
    let need: { index: number; term: number } | undefined;
    for (const [t, c] of this.leaderCommits) {
      if (t < term && (need === undefined || c.index > need.index)) need = c;
    }
    if (need === undefined || need.index === 0 || need.index < firstIndex - 1) return; // none, or covered by its snapshot
    const have = termAt(need.index);
    if (have !== need.term) {
      this.fail(`leader completeness: n${id} leads term ${term} without committed entry ${need.index} (term ${need.term}, has ${have})`);
    }
  }

  private readonly votesGranted = new Map<string, NodeId>();

  /** A node sent a granted (real) vote: one vote per term, across crashes (thesis §3.6.1, figure 3.1 "persistent state"). */
  voteGranted(id: NodeId, term: number, candidate: NodeId): void {
    const k = `${id}:${term}`;
    const had = this.votesGranted.get(k);
    if (had === undefined) this.votesGranted.set(k, candidate);
    else if (had !== candidate) this.fail(`n${id} voted twice in term ${term}: for n${had} and n${candidate}`);
  }

  /** A restart reads the hard state from disk: the in-memory view resets to it. */
  restarted(id: NodeId, hs: HardState): void {
    this.seen.set(id, { term: hs.term, commit: hs.commit });
  }

  persistedHardState(id: NodeId, hs: HardState): void {
    const prev = this.durable.get(id);
    if (prev !== undefined) {
      if (hs.term < prev.term) this.fail(`durable term went back on n${id}: ${prev.term} -> ${hs.term}`);
      if (hs.commit < prev.commit) this.fail(`durable commit went back on n${id}: ${prev.commit} -> ${hs.commit}`);
      if (hs.term === prev.term && prev.vote !== 0 && hs.vote !== prev.vote) this.fail(`n${id} changed its vote in term ${hs.term}: ${prev.vote} -> ${hs.vote}`);
    }
    this.durable.set(id, hs);
  }

  /** Entries just made durable on a node; prevTermOf gives the term before each. */
  persistedEntries(id: NodeId, ents: readonly Entry[], prevTermOf: (index: number) => number | undefined): void {
    for (const e of ents) {
      const v = `${prevTermOf(e.index - 1) ?? '?'}|${sig(e)}`;
      let byTerm = this.logKeys.get(e.index);
      if (byTerm === undefined) {
        byTerm = new Map();
        this.logKeys.set(e.index, byTerm);
      }
      const had = byTerm.get(e.term);
      if (had === undefined) byTerm.set(e.term, v);
      else if (had !== v && !had.startsWith('?') && !v.startsWith('?')) {
        this.fail(`log matching: entry ${e.index}/${e.term} on n${id} is ${v}, elsewhere ${had}`);
      }
    }
  }

  /** A node applied a committed entry. */
  applied(id: NodeId, e: Entry): void {
    const s = `${e.term}:${sig(e)}`;
    const had = this.canonEntries.get(e.index);
    if (had === undefined) {
      this.canonEntries.set(e.index, s);
      if (e.index > this.maxAppliedIndex) this.maxAppliedIndex = e.index;
    } else if (had !== s) {
      this.fail(`state machine safety: n${id} applied ${s} at ${e.index}, others applied ${had}`);
    }
  }

  /** A node's write sequence grew to include `writeId` at position `pos`. */
  appliedWrite(id: NodeId, pos: number, writeId: number): void {
    if (pos < this.canonWrites.length) {
      if (this.canonWrites[pos] !== writeId) this.fail(`state machine safety: n${id} applied write ${writeId} at position ${pos}, others ${this.canonWrites[pos]}`);
      return;
    }
    if (pos !== this.canonWrites.length) this.fail(`n${id} skipped writes: position ${pos} beyond ${this.canonWrites.length}`);
    if (this.canonWriteSet.has(writeId)) this.fail(`write ${writeId} applied twice`);
    this.canonWrites.push(writeId);
    this.canonWriteSet.add(writeId);
  }

  /** A snapshot replaced a node's state: it must be a prefix of the one history. */
  restoredWrites(id: NodeId, writes: readonly number[]): void {
    for (let i = 0; i < writes.length; i++) this.appliedWrite(id, i, writes[i] as number);
  }

  ack(writeId: number, index: number): void {
    if (this.acked.has(writeId)) return;
    this.acked.set(writeId, index);
    if (index > this.maxAckedIndex) this.maxAckedIndex = index;
  }

  /** A read started when maxAckedIndex was `ackedAtStart` returned state at `appliedIndex`. */
  readServed(id: NodeId, ctx: string, ackedAtStart: number, appliedIndex: number): void {
    if (appliedIndex < ackedAtStart) {
      this.fail(`linearizability: read ${ctx} on n${id} saw state at ${appliedIndex}, but a write at ${ackedAtStart} was acknowledged before it began`);
    }
  }
}
