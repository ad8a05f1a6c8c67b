/**
 * The simulated network: per-message delivery time on a virtual clock (a
 * binary heap ordered by deliverAt, then send order), with drop, duplicate,
 * delay (and therefore reorder), and symmetric or asymmetric partitions
 * (blocked directed links). Deterministic for a given Rng.
 */
import type { Rng } from '@fjord/protocol';
import type { NodeId, RaftMessage } from '../types.js';

export interface NetworkFaults {
  dropPerMille: number;
  dupPerMille: number;
  minDelayTicks: number;
  maxDelayTicks: number;
}

export const NO_FAULTS: NetworkFaults = Object.freeze({ dropPerMille: 0, dupPerMille: 0, minDelayTicks: 0, maxDelayTicks: 0 });

interface InFlight {
  readonly deliverAt: number;
  readonly seq: number;
  readonly msg: RaftMessage;
}

export class SimNetwork {
  faults: NetworkFaults = NO_FAULTS;
  private readonly heap: InFlight[] = [];
  private seq = 0;
  private readonly blocked = new Set<number>();
  sent = 0;
  dropped = 0;
  /** Upper bound on messages in flight (STYLE.md H.2): beyond it the network drops, as a full socket buffer would. */
  readonly maxInFlight: number;

  constructor(
    private readonly rng: Rng,
    opts: { maxInFlight?: number } = {},
  ) {
    this.maxInFlight = opts.maxInFlight ?? 1_000_000;
  }

  get inFlight(): number {
    return this.heap.length;
  }

  private static link(from: NodeId, to: NodeId): number {
    return from * 65536 + to;
  }

  block(from: NodeId, to: NodeId): void {
    this.blocked.add(SimNetwork.link(from, to));
  }

  isBlocked(from: NodeId, to: NodeId): boolean {
    return this.blocked.size > 0 && this.blocked.has(SimNetwork.link(from, to));
  }

  /** Cuts every link between the two groups, both directions. */
  partition(a: readonly NodeId[], b: readonly NodeId[]): void {
    for (const x of a) {
      for (const y of b) {
        this.block(x, y);
        this.block(y, x);
      }
    }
  }

  healPartitions(): void {
    this.blocked.clear();
  }

  get partitioned(): boolean {
    return this.blocked.size > 0;
  }

  send(m: RaftMessage, now: number): void {
    this.sent++;
    const f = this.faults;
    if (this.isBlocked(m.from, m.to) || this.heap.length >= this.maxInFlight) {
      this.dropped++;
      return;
    }
    if (f.dropPerMille > 0 && this.rng.chance(f.dropPerMille, 1000)) {
      this.dropped++;
      return;
    }
    this.push(m, now + this.delay());
    if (f.dupPerMille > 0 && this.rng.chance(f.dupPerMille, 1000)) this.push(m, now + this.delay());
  }

  private delay(): number {
    const f = this.faults;
    return f.maxDelayTicks <= f.minDelayTicks ? f.minDelayTicks : this.rng.intBetween(f.minDelayTicks, f.maxDelayTicks);
  }

  /** Puts a message back to be delivered at `deliverAt` (its receiver is paused). */
  requeue(m: RaftMessage, deliverAt: number): void {
    this.push(m, deliverAt);
  }

  /** Drops everything in flight to or from `id` (a crashed node's sockets close). */
  dropFor(id: NodeId): void {
    const keep = this.heap.filter((x) => x.msg.to !== id);
    this.dropped += this.heap.length - keep.length;
    this.heap.length = 0;
    for (const x of keep) this.push(x.msg, x.deliverAt);
  }

  /** The next message due at or before `now`, if any. */
  popDue(now: number): RaftMessage | undefined {
    const h = this.heap;
    if (h.length === 0 || (h[0] as InFlight).deliverAt > now) return undefined;
    const top = h[0] as InFlight;
    const last = h.pop() as InFlight;
    if (h.length > 0) {
      h[0] = last;
      this.siftDown(0);
    }
    return top.msg;
  }

  private push(msg: RaftMessage, deliverAt: number): void {
    const h = this.heap;
    h.push({ deliverAt, seq: this.seq++, msg });
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(h[i] as InFlight, h[p] as InFlight)) break;
      const t = h[i] as InFlight;
      h[i] = h[p] as InFlight;
      h[p] = t;
      i = p;
    }
  }

  private siftDown(i: number): void {
    const h = this.heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && less(h[l] as InFlight, h[m] as InFlight)) m = l;
      if (r < h.length && less(h[r] as InFlight, h[m] as InFlight)) m = r;
      if (m === i) return;
      const t = h[i] as InFlight;
      h[i] = h[m] as InFlight;
      h[m] = t;
      i = m;
    }
  }
}

function less(a: InFlight, b: InFlight): boolean {
  return a.deliverAt < b.deliverAt || (a.deliverAt === b.deliverAt && a.seq < b.seq);
}
