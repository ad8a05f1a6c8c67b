/**
 * In-sync replica rules (Kafka's Partition.scala: isFollowerOutOfSync,
 * isFollowerInSync, maybeShrinkIsr / maybeExpandIsr). Pure functions of plain
 * data; time arrives as `nowMs`.
 */
export interface ReplicaProgress {
  brokerId: number;
  /** The follower's broker (incarnation) epoch from its fetches; -1 until it fetched. */
  brokerEpoch: number;
  /** The follower's log end offset as of its last fetch; -1 until it fetched. */
  leo: number;
  /** The last time the follower was known to have all of the leader's log (KIP-... Kafka's lastCaughtUpTimeMs). */
  lastCaughtUpMs: number;
  /** When the previous fetch arrived, and the leader's LEO at that moment. */
  lastFetchMs: number;
  lastFetchLeaderLeo: number;
}

/**
 * A follower is out of sync when it has not been caught up with the leader for
 * longer than replicaLagTimeMaxMs. A follower whose LEO equals the leader's is
 * never out of sync, however long ago it fetched: there was nothing to fetch.
 */
export function isOutOfSync(progress: ReplicaProgress, leaderLeo: number, nowMs: number, replicaLagTimeMaxMs: number): boolean {
  return progress.leo !== leaderLeo && nowMs - progress.lastCaughtUpMs > replicaLagTimeMaxMs;
}

/**
 * A replica may (re-)enter the ISR once it has every record below the high
 * watermark and has reached the current leader epoch's start offset, so it can
 * never bring back a tail written in an older epoch (Kafka's isFollowerInSync).
 */
export function canJoinIsr(progress: ReplicaProgress, hw: number, leaderEpochStartOffset: number): boolean {
  return progress.leo >= hw && progress.leo >= leaderEpochStartOffset;
}

/**
 * Updates lastCaughtUpMs on a fetch the way Kafka's Replica.updateFetchState
 * does: caught up now if it fetched from the leader's LEO; otherwise caught up
 * as of the previous fetch if it has reached the LEO the leader had then.
 */
export function onFetchProgress(progress: ReplicaProgress, input: { fetchOffset: number; brokerEpoch: number; leaderLeo: number; nowMs: number }): ReplicaProgress {
  let lastCaughtUpMs = progress.lastCaughtUpMs;
  if (input.fetchOffset >= input.leaderLeo) lastCaughtUpMs = Math.max(lastCaughtUpMs, input.nowMs);
  else if (progress.lastFetchMs >= 0 && input.fetchOffset >= progress.lastFetchLeaderLeo) {
    lastCaughtUpMs = Math.max(lastCaughtUpMs, progress.lastFetchMs);
  }
  return {
    brokerId: progress.brokerId,
    brokerEpoch: input.brokerEpoch,
    leo: input.fetchOffset,
    lastCaughtUpMs,
    lastFetchMs: input.nowMs,
    lastFetchLeaderLeo: input.leaderLeo,
  };
}
