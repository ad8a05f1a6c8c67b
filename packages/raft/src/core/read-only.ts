/**
 * ReadIndex bookkeeping on the leader (Raft thesis §6.4; etcd read_only.go).
 * A read request records the commit index when it arrived, then waits for a
 * heartbeat round acknowledged by a majority: that proves no newer leader had
 * been elected when the read began, so serving state at >= that index is
 * linearizable. Requests are released in arrival order: an ack for a later
 * round also confirms every earlier one.
 */
import { assert } from '@fjord/protocol';
import type { NodeId } from '../types.js';

interface PendingRead {
  readonly index: number;
  readonly acks: Set<NodeId>;
  /** Who asked: the leader itself, or a follower that forwarded the read (its answer is a ReadIndexResponse). */
  readonly from: NodeId;
}

export class ReadOnly {
  private readonly pending = new Map<string, PendingRead>();
  private queue: string[] = [];

  constructor(private readonly maxPendingReads: number) {}

  get size(): number {
    return this.queue.length;
  }

  has(ctx: string): boolean {
    return this.pending.has(ctx);
  }

  full(): boolean {
    return this.queue.length >= this.maxPendingReads;
  }

  add(ctx: string, index: number, from: NodeId): void {
    assert(!this.pending.has(ctx), 'read-only: duplicate ctx');
    assert(!this.full(), 'read-only: add while full');
    this.pending.set(ctx, { index, acks: new Set(), from });
    this.queue.push(ctx);
  }

  /** Records an ack; returns the acks for ctx, or undefined for an unknown (stale) ctx. */
  recvAck(from: NodeId, ctx: string): ReadonlySet<NodeId> | undefined {
    const p = this.pending.get(ctx);
    if (p === undefined) return undefined;
    p.acks.add(from);
    return p.acks;
  }

  /** Releases ctx and every request queued before it; returns them as (index, ctx) in order. */
  advance(ctx: string): Array<{ index: number; requestCtx: string; from: NodeId }> {
    const at = this.queue.indexOf(ctx);
    if (at < 0) return [];
    const released = this.queue.slice(0, at + 1);
    this.queue = this.queue.slice(at + 1);
    const out: Array<{ index: number; requestCtx: string; from: NodeId }> = [];
    for (const c of released) {
      const p = this.pending.get(c) as PendingRead;
      this.pending.delete(c);
      out.push({ index: p.index, requestCtx: c, from: p.from });
    }
    return out;
  }

  /** The newest request, whose ctx rides on heartbeats. */
  lastCtx(): string {
    return this.queue.length === 0 ? '' : (this.queue[this.queue.length - 1] as string);
  }

  reset(): void {
    this.pending.clear();
    this.queue = [];
  }
}
