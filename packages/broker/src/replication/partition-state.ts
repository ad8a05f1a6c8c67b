/**
 * One partition's replication bookkeeping on its leader, as a pure state
 * machine (STYLE.md C, after Kafka's Partition.scala): plain data in, plain
 * data and effects out. The replica manager (the shell) owns the log, the
 * streams and the timers, and runs each transition synchronously between awaits.
 *
 * Invariants asserted on every transition: hw <= leo; the HW never decreases
 * within a leader epoch; at most one ISR change is in flight; the leader is in
 * its ISR; the ISR is a subset of the replicas.
 */
import { FjordError, assert } from '@fjord/protocol';
import { computeHighWatermark, maximalIsr } from './high-watermark.js';
import { canJoinIsr, isOutOfSync, onFetchProgress, type ReplicaProgress } from './isr.js';

export interface PendingIsrChange {
  kind: 'expand' | 'shrink';
  /** The ISR asked of the coordinator. */
  isr: readonly number[];
  /** The partition epoch the request was based on (AlterPartition rejects a stale one). */
  basePartitionEpoch: number;
  requestedAtMs: number;
}

export interface LeaderPartitionState {
  leaderId: number;
  leaderEpoch: number;
  partitionEpoch: number;
  /** Offset at which this leader epoch began (the LEO when it became leader). */
  leaderEpochStartOffset: number;
  replicas: readonly number[];
  /** The ISR committed by the coordinator. */
  isr: readonly number[];
  pending: PendingIsrChange | null;
  progress: ReadonlyMap<number, ReplicaProgress>;
  leo: number;
  hw: number;
  minInsyncReplicas: number;
}

export interface AlterIsrRequest {
  leaderEpoch: number;
  partitionEpoch: number;
  isr: readonly number[];
  /** Broker epochs of the ISR members, so the coordinator can refuse a stale incarnation (KIP-903). */
  brokerEpochs: ReadonlyMap<number, number>;
}

export interface Effects {
  /** Set when the HW moved: the shell completes waiting acks=all produces up to here. */
  hwAdvancedTo?: number;
  /** Set when the leader wants the coordinator to change the ISR. */
  alterIsrRequest?: AlterIsrRequest;
}

export interface Transition {
  state: LeaderPartitionState;
  effects: Effects;
}

function checkInvariants(before: LeaderPartitionState | null, after: LeaderPartitionState): void {
  assert(after.hw <= after.leo, () => `hw ${after.hw} > leo ${after.leo}`);
  assert(after.hw >= 0 && Number.isSafeInteger(after.leo), 'hw/leo must be non-negative safe integers');
  assert(after.isr.includes(after.leaderId), () => `leader ${after.leaderId} not in ISR [${after.isr.join(',')}]`);
  for (const id of after.isr) assert(after.replicas.includes(id), () => `ISR member ${id} is not a replica`);
  if (before !== null && before.leaderEpoch === after.leaderEpoch) {
    assert(after.hw >= before.hw, () => `hw went back from ${before.hw} to ${after.hw} in epoch ${after.leaderEpoch}`);
  }
}

function withHw(state: LeaderPartitionState, effects: Effects): Transition {
  const hw = computeHighWatermark({
    leaderId: state.leaderId,
    leaderLeo: state.leo,
    currentHw: state.hw,
    maximalIsr: maximalIsr(state.isr, state.pending?.isr ?? null),
    progress: state.progress,
  });
  if (hw === state.hw) return { state, effects };
  return { state: { ...state, hw }, effects: { ...effects, hwAdvancedTo: hw } };
}

function finish(before: LeaderPartitionState | null, t: Transition): Transition {
  checkInvariants(before, t.state);
  return t;
}

/** The state of a broker that just became leader for `leaderEpoch`. Followers start as caught up "now" (Kafka resets their clocks). */
export function becomeLeader(input: {
  leaderId: number;
  leaderEpoch: number;
  partitionEpoch: number;
  replicas: readonly number[];
  isr: readonly number[];
  leo: number;
  hw: number;
  minInsyncReplicas: number;
  nowMs: number;
}): Transition {
  assert(input.isr.includes(input.leaderId), 'a leader must be in its ISR');
  const progress = new Map<number, ReplicaProgress>();
  for (const id of input.replicas) {
    if (id === input.leaderId) continue;
    progress.set(id, {
      brokerId: id,
      brokerEpoch: -1,
      leo: -1,
      lastCaughtUpMs: input.isr.includes(id) ? input.nowMs : 0,
      lastFetchMs: -1,
      lastFetchLeaderLeo: -1,
    });
  }
  const state: LeaderPartitionState = {
    leaderId: input.leaderId,
    leaderEpoch: input.leaderEpoch,
    partitionEpoch: input.partitionEpoch,
    leaderEpochStartOffset: input.leo,
    replicas: [...input.replicas],
    isr: [...input.isr].sort((a, b) => a - b),
    pending: null,
    progress,
    leo: input.leo,
    hw: Math.min(input.hw, input.leo),
    minInsyncReplicas: input.minInsyncReplicas,
  };
  return finish(null, withHw(state, {}));
}

/** The leader appended locally; its LEO moved to `leo`. */
export function onLocalAppend(state: LeaderPartitionState, leo: number): Transition {
  assert(leo >= state.leo, () => `leader LEO went back from ${state.leo} to ${leo}`);
  return finish(state, withHw({ ...state, leo }, {}));
}

/**
 * A follower fetched from `fetchOffset` (its LEO). Errors are operating errors
 * (a stale or unknown replica): typed, state unchanged.
 */
export function onFollowerFetch(
  state: LeaderPartitionState,
  input: { replicaId: number; brokerEpoch: number; fetchOffset: number; nowMs: number },
): Transition {
  const prev = state.progress.get(input.replicaId);
  if (prev === undefined) {
    throw new FjordError('NOT_LEADER_OR_FOLLOWER', `broker ${input.replicaId} is not a replica of this partition`, { replicaId: input.replicaId });
  }
  if (input.brokerEpoch < prev.brokerEpoch) {
    throw new FjordError('STALE_BROKER_EPOCH', `fetch from broker ${input.replicaId} epoch ${input.brokerEpoch} < ${prev.brokerEpoch}`);
  }
  if (!Number.isSafeInteger(input.fetchOffset) || input.fetchOffset < 0 || input.fetchOffset > state.leo) {
    // A follower ahead of the leader has a divergent tail: it must truncate first (by epoch).
    throw new FjordError('OFFSET_OUT_OF_RANGE', `follower fetch offset ${input.fetchOffset} outside [0, ${state.leo}]`, {
      fetchOffset: input.fetchOffset,
      logEndOffset: state.leo,
    });
  }
  const next = onFetchProgress(prev, { fetchOffset: input.fetchOffset, brokerEpoch: input.brokerEpoch, leaderLeo: state.leo, nowMs: input.nowMs });
  const progress = new Map(state.progress);
  progress.set(input.replicaId, next);
  let updated: LeaderPartitionState = { ...state, progress };
  let effects: Effects = {};
  // Expand: one change in flight at a time; the follower must hold everything below the HW.
  if (updated.pending === null && !updated.isr.includes(input.replicaId) && canJoinIsr(next, updated.hw, updated.leaderEpochStartOffset)) {
    const isr = [...updated.isr, input.replicaId].sort((a, b) => a - b);
    updated = { ...updated, pending: { kind: 'expand', isr, basePartitionEpoch: updated.partitionEpoch, requestedAtMs: input.nowMs } };
    effects = { alterIsrRequest: alterRequest(updated, isr) };
  }
  return finish(state, withHw(updated, effects));
}

function alterRequest(state: LeaderPartitionState, isr: readonly number[]): AlterIsrRequest {
  const brokerEpochs = new Map<number, number>();
  for (const id of isr) {
    if (id !== state.leaderId) brokerEpochs.set(id, state.progress.get(id)?.brokerEpoch ?? -1);
  }
  return { leaderEpoch: state.leaderEpoch, partitionEpoch: state.partitionEpoch, isr, brokerEpochs };
}

/** Periodic check: ask to drop followers that have lagged longer than replicaLagTimeMaxMs. */
export function onTick(state: LeaderPartitionState, input: { nowMs: number; replicaLagTimeMaxMs: number }): Transition {
  if (state.pending !== null) return finish(state, { state, effects: {} });
  const lagging = state.isr.filter((id) => {
    if (id === state.leaderId) return false;
    const p = state.progress.get(id);
    return p !== undefined && isOutOfSync(p, state.leo, input.nowMs, input.replicaLagTimeMaxMs);
  });
  if (lagging.length === 0) return finish(state, { state, effects: {} });
  const isr = state.isr.filter((id) => !lagging.includes(id));
  const updated: LeaderPartitionState = {
    ...state,
    pending: { kind: 'shrink', isr, basePartitionEpoch: state.partitionEpoch, requestedAtMs: input.nowMs },
  };
  return finish(state, { state: updated, effects: { alterIsrRequest: alterRequest(updated, isr) } });
}

/**
 * The coordinator answered the pending AlterPartition. On success the new ISR
 * and partition epoch become committed (and a shrink may let the HW advance);
 * on failure the change is dropped and will be retried from fresh state.
 */
export function onAlterIsrResult(
  state: LeaderPartitionState,
  result: { ok: true; isr: readonly number[]; partitionEpoch: number } | { ok: false },
): Transition {
  if (state.pending === null) return finish(state, { state, effects: {} });
  if (!result.ok) return finish(state, { state: { ...state, pending: null }, effects: {} });
  assert(result.partitionEpoch > state.partitionEpoch, 'a committed ISR change must bump the partition epoch');
  const updated: LeaderPartitionState = {
    ...state,
    isr: [...result.isr].sort((a, b) => a - b),
    partitionEpoch: result.partitionEpoch,
    pending: null,
  };
  return finish(state, withHw(updated, {}));
}

/** Whether an acks=all write may be accepted now (Kafka checks the committed ISR). */
export function hasEnoughInsync(state: LeaderPartitionState): boolean {
  return state.isr.length >= state.minInsyncReplicas;
}

/**
 * The metadata shows a newer partition epoch within the same leader epoch (an
 * ISR change committed by the coordinator, possibly the one we asked for, its
 * answer lost). Adopt it; a pending change is settled by it. A partition epoch
 * that is not newer changes nothing (metadata may arrive late or twice).
 */
export function onIsrUpdate(state: LeaderPartitionState, input: { isr: readonly number[]; partitionEpoch: number }): Transition {
  if (input.partitionEpoch <= state.partitionEpoch) return finish(state, { state, effects: {} });
  if (!input.isr.includes(state.leaderId)) return finish(state, { state, effects: {} });
  const updated: LeaderPartitionState = {
    ...state,
    isr: [...input.isr].sort((a, b) => a - b),
    partitionEpoch: input.partitionEpoch,
    pending: null,
  };
  return finish(state, withHw(updated, {}));
}
