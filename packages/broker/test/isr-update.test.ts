// Goal: onIsrUpdate adopts an ISR committed by the coordinator (seen through
// metadata) only when its partition epoch is newer, settles a pending change,
// and lets the HW advance when a lagging member leaves.
import { describe, expect, it } from 'vitest';
import { becomeLeader, onFollowerFetch, onIsrUpdate, onLocalAppend, onTick } from '../src/index.js';

describe('onIsrUpdate', () => {
  it('adopts newer partition epochs only, and the HW follows the smaller ISR', () => {
    let s = becomeLeader({ leaderId: 1, leaderEpoch: 1, partitionEpoch: 1, replicas: [1, 2, 3], isr: [1, 2, 3], leo: 0, hw: 0, minInsyncReplicas: 1, nowMs: 0 }).state;
    s = onLocalAppend(s, 10).state;
    s = onFollowerFetch(s, { replicaId: 2, brokerEpoch: 1, fetchOffset: 10, nowMs: 1 }).state;
    s = onFollowerFetch(s, { replicaId: 3, brokerEpoch: 1, fetchOffset: 2, nowMs: 1 }).state;
    expect(s.hw).toBe(2);
    const shrink = onTick(s, { nowMs: 100_000, replicaLagTimeMaxMs: 1_000 });
    expect(shrink.effects.alterIsrRequest?.isr).toEqual([1, 2]);
    s = shrink.state;
    expect(onIsrUpdate(s, { isr: [1, 2], partitionEpoch: 1 }).state).toBe(s);
    const t = onIsrUpdate(s, { isr: [2, 1], partitionEpoch: 2 });
    expect(t.state.isr).toEqual([1, 2]);
    expect(t.state.pending).toBeNull();
    expect(t.state.hw).toBe(10);
    expect(t.effects.hwAdvancedTo).toBe(10);
    // An ISR without the leader is not ours to adopt within this epoch.
    expect(onIsrUpdate(t.state, { isr: [2, 3], partitionEpoch: 3 }).state).toBe(t.state);
  });
});
