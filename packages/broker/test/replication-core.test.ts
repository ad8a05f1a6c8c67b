// Goal: the leader-side replication core follows Kafka's rules exactly in the
// cases that decide data safety: HW = min LEO over the maximal ISR, ISR shrink
// after replica.lag.time.max.ms and expand on catch-up (one change in flight),
// stale fetches refused, truncation by leader epoch, idempotent sequences.
import { describe, expect, it } from 'vitest';
import { FjordError, isFjordError } from '@fjord/protocol';
import {
  becomeLeader,
  checkSequence,
  decideTruncation,
  endOffsetForEpoch,
  hasEnoughInsync,
  nextSequence,
  onAlterIsrResult,
  onFollowerFetch,
  onLocalAppend,
  onTick,
  recordAppend,
  type LeaderPartitionState,
} from '@fjord/broker';

function leader(overrides: Partial<Parameters<typeof becomeLeader>[0]> = {}): LeaderPartitionState {
  return becomeLeader({
    leaderId: 1,
    leaderEpoch: 5,
    partitionEpoch: 10,
    replicas: [1, 2, 3],
    isr: [1, 2, 3],
    leo: 100,
    hw: 100,
    minInsyncReplicas: 2,
    nowMs: 1_000,
    ...overrides,
  }).state;
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (isFjordError(err)) return err.code;
    throw err;
  }
  return 'no error';
}

describe('high watermark', () => {
  it('advances to the smallest LEO of the ISR, and only once every member fetched', () => {
    let s = onLocalAppend(leader(), 110).state;
    expect(s.hw).toBe(100);
    const t1 = onFollowerFetch(s, { replicaId: 2, brokerEpoch: 1, fetchOffset: 110, nowMs: 1_010 });
    expect(t1.effects.hwAdvancedTo).toBeUndefined(); // broker 3 has not fetched yet
    s = t1.state;
    const t2 = onFollowerFetch(s, { replicaId: 3, brokerEpoch: 1, fetchOffset: 105, nowMs: 1_020 });
    expect(t2.state.hw).toBe(105);
    expect(t2.effects.hwAdvancedTo).toBe(105);
    const t3 = onFollowerFetch(t2.state, { replicaId: 3, brokerEpoch: 1, fetchOffset: 110, nowMs: 1_030 });
    expect(t3.state.hw).toBe(110);
  });

  it('a single-replica ISR advances the HW on local append', () => {
    const s = leader({ replicas: [1], isr: [1], minInsyncReplicas: 1 });
    expect(onLocalAppend(s, 120).effects.hwAdvancedTo).toBe(120);
  });

  it('counts a replica being removed until the shrink is committed (maximal ISR)', () => {
    let s = onLocalAppend(leader(), 110).state;
    s = onFollowerFetch(s, { replicaId: 2, brokerEpoch: 1, fetchOffset: 110, nowMs: 1_010 }).state;
    s = onFollowerFetch(s, { replicaId: 3, brokerEpoch: 1, fetchOffset: 100, nowMs: 1_010 }).state;
    const shrink = onTick(s, { nowMs: 40_000, replicaLagTimeMaxMs: 30_000 });
    expect(shrink.effects.alterIsrRequest?.isr).toEqual([1, 2]);
    expect(shrink.state.hw).toBe(100); // still held back by broker 3
    const committed = onAlterIsrResult(shrink.state, { ok: true, isr: [1, 2], partitionEpoch: 11 });
    expect(committed.state.isr).toEqual([1, 2]);
    expect(committed.effects.hwAdvancedTo).toBe(110);
  });
});

describe('ISR changes', () => {
  it('does not shrink a follower that is caught up, however long ago it fetched', () => {
    let s = leader();
    s = onFollowerFetch(s, { replicaId: 2, brokerEpoch: 1, fetchOffset: 100, nowMs: 1_000 }).state;
    s = onFollowerFetch(s, { replicaId: 3, brokerEpoch: 1, fetchOffset: 100, nowMs: 1_000 }).state;
    expect(onTick(s, { nowMs: 1_000_000, replicaLagTimeMaxMs: 30_000 }).effects.alterIsrRequest).toBeUndefined();
  });

  it('keeps one change in flight and expands a follower once it reaches the HW', () => {
    let s = leader({ isr: [1, 2] });
    s = onLocalAppend(s, 120).state;
    s = onFollowerFetch(s, { replicaId: 2, brokerEpoch: 1, fetchOffset: 120, nowMs: 1_010 }).state;
    expect(s.hw).toBe(120);
    const behind = onFollowerFetch(s, { replicaId: 3, brokerEpoch: 1, fetchOffset: 110, nowMs: 1_020 });
    expect(behind.effects.alterIsrRequest).toBeUndefined();
    const caughtUp = onFollowerFetch(behind.state, { replicaId: 3, brokerEpoch: 1, fetchOffset: 120, nowMs: 1_030 });
    expect(caughtUp.effects.alterIsrRequest).toMatchObject({ isr: [1, 2, 3], leaderEpoch: 5, partitionEpoch: 10 });
    expect(caughtUp.effects.alterIsrRequest?.brokerEpochs.get(3)).toBe(1);
    // While it is pending, a lagging member is not shrunk (one change at a time).
    expect(onTick(caughtUp.state, { nowMs: 1_000_000, replicaLagTimeMaxMs: 30_000 }).effects.alterIsrRequest).toBeUndefined();
    const rejected = onAlterIsrResult(caughtUp.state, { ok: false });
    expect(rejected.state.pending).toBeNull();
    expect(rejected.state.isr).toEqual([1, 2]);
  });

  it('min.insync.replicas counts the committed ISR', () => {
    expect(hasEnoughInsync(leader({ isr: [1] }))).toBe(false);
    expect(hasEnoughInsync(leader({ isr: [1, 3] }))).toBe(true);
  });

  it('refuses fetches from non-replicas, stale broker epochs and offsets past the LEO, changing nothing', () => {
    let s = leader();
    s = onFollowerFetch(s, { replicaId: 2, brokerEpoch: 7, fetchOffset: 100, nowMs: 1_000 }).state;
    expect(codeOf(() => onFollowerFetch(s, { replicaId: 9, brokerEpoch: 1, fetchOffset: 100, nowMs: 1 }))).toBe('NOT_LEADER_OR_FOLLOWER');
    expect(codeOf(() => onFollowerFetch(s, { replicaId: 2, brokerEpoch: 6, fetchOffset: 100, nowMs: 1 }))).toBe('STALE_BROKER_EPOCH');
    expect(codeOf(() => onFollowerFetch(s, { replicaId: 2, brokerEpoch: 7, fetchOffset: 101, nowMs: 1 }))).toBe('OFFSET_OUT_OF_RANGE');
    expect(codeOf(() => onFollowerFetch(s, { replicaId: 2, brokerEpoch: 7, fetchOffset: -1, nowMs: 1 }))).toBe('OFFSET_OUT_OF_RANGE');
    expect(s.progress.get(2)?.leo).toBe(100);
  });

  it('asserts that the LEO never goes back', () => {
    expect(() => onLocalAppend(leader(), 99)).toThrow(/LEO went back/);
  });
});

describe('truncation by leader epoch', () => {
  const epochs = [
    { epoch: 1, startOffset: 0 },
    { epoch: 3, startOffset: 50 },
    { epoch: 4, startOffset: 80 },
  ];

  it('finds where an epoch ends', () => {
    expect(endOffsetForEpoch(epochs, 100, 3)).toEqual({ epoch: 3, endOffset: 80 });
    expect(endOffsetForEpoch(epochs, 100, 2)).toEqual({ epoch: 1, endOffset: 50 });
    expect(endOffsetForEpoch(epochs, 100, 4)).toEqual({ epoch: 4, endOffset: 100 });
    expect(endOffsetForEpoch(epochs, 100, 0)).toEqual({ epoch: -1, endOffset: -1 });
  });

  it('cuts a divergent tail written in an epoch the leader never saw, in two rounds', () => {
    // We wrote epoch 4 at 80..100 as a leader that died; the new leader only knows epoch 3 up to 90.
    const first = decideTruncation({ localEpochs: epochs, localLeo: 100, leaderEpochEnd: { epoch: 3, endOffset: 90 } });
    // We hold epoch 3 up to 80: truncate there (the leader has 80..90 in epoch 3 too).
    expect(first).toEqual({ truncateTo: 80, done: true });
    // Asked for epoch 4, a leader that only has epoch 1 answers (1, 50): we have epoch 1 too.
    const second = decideTruncation({ localEpochs: epochs, localLeo: 100, leaderEpochEnd: { epoch: 1, endOffset: 50 } });
    expect(second).toEqual({ truncateTo: 50, done: true });
    // A leader with epoch 2 (that we never saw) ending at 60: cut to our end of epoch 1 and ask again.
    const third = decideTruncation({ localEpochs: epochs, localLeo: 100, leaderEpochEnd: { epoch: 2, endOffset: 60 } });
    expect(third).toEqual({ truncateTo: 50, done: false });
  });

  it('keeps a log that matches the leader', () => {
    expect(decideTruncation({ localEpochs: epochs, localLeo: 100, leaderEpochEnd: { epoch: 4, endOffset: 140 } })).toEqual({
      truncateTo: 100,
      done: true,
    });
  });
});

describe('idempotent producer sequences', () => {
  const base = { producerId: 7, producerEpoch: 0 };

  it('appends in order, answers retries of the last five with their offsets, refuses gaps', () => {
    let entry = undefined;
    let offset = 0;
    for (let seq = 0; seq < 60; seq += 10) {
      expect(checkSequence(entry, { ...base, baseSequence: seq, recordCount: 10 })).toEqual({ kind: 'append' });
      entry = recordAppend(entry, { ...base, baseSequence: seq, recordCount: 10, firstOffset: offset, lastOffset: offset + 9 });
      offset += 10;
    }
    expect(entry?.batches).toHaveLength(5);
    expect(checkSequence(entry, { ...base, baseSequence: 50, recordCount: 10 })).toEqual({ kind: 'duplicate', firstOffset: 50, lastOffset: 59 });
    expect(checkSequence(entry, { ...base, baseSequence: 10, recordCount: 10 })).toEqual({ kind: 'duplicate', firstOffset: 10, lastOffset: 19 });
    // Batch 0 fell out of the window of five: it is no longer recognised, and it is out of order.
    expect(codeOf(() => checkSequence(entry, { ...base, baseSequence: 0, recordCount: 10 }))).toBe('OUT_OF_ORDER_SEQUENCE_NUMBER');
    expect(codeOf(() => checkSequence(entry, { ...base, baseSequence: 70, recordCount: 10 }))).toBe('OUT_OF_ORDER_SEQUENCE_NUMBER');
    expect(checkSequence(entry, { ...base, baseSequence: 60, recordCount: 10 })).toEqual({ kind: 'append' });
  });

  it('fences an old epoch and makes a new epoch start at 0', () => {
    const entry = recordAppend(undefined, { producerId: 7, producerEpoch: 3, baseSequence: 0, recordCount: 1, firstOffset: 0, lastOffset: 0 });
    expect(codeOf(() => checkSequence(entry, { producerId: 7, producerEpoch: 2, baseSequence: 1, recordCount: 1 }))).toBe('INVALID_PRODUCER_EPOCH');
    expect(codeOf(() => checkSequence(entry, { producerId: 7, producerEpoch: 4, baseSequence: 5, recordCount: 1 }))).toBe('OUT_OF_ORDER_SEQUENCE_NUMBER');
    expect(checkSequence(entry, { producerId: 7, producerEpoch: 4, baseSequence: 0, recordCount: 1 })).toEqual({ kind: 'append' });
  });

  it('wraps sequences at Int32.MAX', () => {
    expect(nextSequence(0x7fff_ffff)).toBe(0);
    const entry = recordAppend(undefined, { ...base, baseSequence: 0x7fff_fffe, recordCount: 2, firstOffset: 0, lastOffset: 1 });
    expect(checkSequence(entry, { ...base, baseSequence: 0, recordCount: 1 })).toEqual({ kind: 'append' });
  });

  it('rejects negative sequences as invalid records', () => {
    expect(() => checkSequence(undefined, { ...base, baseSequence: -1, recordCount: 1 })).toThrow(FjordError);
  });
});
