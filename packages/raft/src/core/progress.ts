/**
 * The leader's view of one follower, and the flow-control state machine over it
 * (etcd tracker/progress.go; thesis §10.2.1 pipelining):
 *
 * - Probe: we don't know where the follower's log matches ours. Send one
 *   AppendEntries per heartbeat interval and wait for its answer.
 * - Replicate: the follower is known to match at `match`. Stream entries
 *   optimistically (next advances on send), bounded by the in-flight window.
 * - Snapshot: the entries it needs are compacted; an InstallSnapshot is in
 *   flight. Nothing else is sent until it is acknowledged or times out.
 */
import { assert } from '@fjord/protocol';
import { Inflights } from './inflights.js';

export type ProgressState = 'Probe' | 'Replicate' | 'Snapshot';

export class Progress {
  match = 0;
  next: number;
  state: ProgressState = 'Probe';
  /** Probe state: one message is outstanding, wait for a reply or the next heartbeat. */
  probeSent = false;
  /** Snapshot state: the index of the snapshot in flight. */
  pendingSnapshot = 0;
  /** Snapshot state: leader ticks since the snapshot was sent (a lost snapshot must not stall the follower forever). */
  snapshotTicks = 0;
  /** Heard from since the last CheckQuorum round. */
  recentActive = true;
  isLearner: boolean;
  readonly inflights: Inflights;

  constructor(opts: { next: number; isLearner: boolean; maxInflightMsgs: number; maxInflightBytes: number }) {
    this.next = opts.next;
    this.isLearner = opts.isLearner;
    this.inflights = new Inflights(opts.maxInflightMsgs, opts.maxInflightBytes);
  }

  private resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.snapshotTicks = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    // Leaving Snapshot: the follower holds at least the snapshot, so start after it.
    if (this.state === 'Snapshot') {
      const pending = this.pendingSnapshot;
      this.resetState('Probe');
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState('Probe');
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState('Replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState('Snapshot');
    this.pendingSnapshot = snapshotIndex;
  }

  /** A successful response for `index`: returns true when match advanced. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  /** Replicate state: entries up to lastIndex are sent; next moves on without waiting. */
  sentEntries(lastIndex: number, bytes: number): void {
    if (this.state === 'Replicate') {
      this.next = lastIndex + 1;
      this.inflights.add(lastIndex, bytes);
    } else {
      this.probeSent = true;
    }
  }

  /**
   * A rejection of the append at `rejected`, with the follower's hint: returns
   * false when the rejection is stale (etcd progress.go MaybeDecrTo).
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === 'Replicate') {
      // Stale: we already know the follower matches at `match` >= rejected.
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    // Probe/Snapshot: only the answer to the probe we sent (at next-1) counts.
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  isPaused(): boolean {
    switch (this.state) {
      case 'Probe':
        return this.probeSent;
      case 'Replicate':
        return this.inflights.full();
      case 'Snapshot':
        return true;
    }
  }

  check(): void {
    assert(this.next > this.match, () => `progress: next ${this.next} <= match ${this.match}`);
  }
}
