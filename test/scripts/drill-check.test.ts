// Goal: the drill's verdict counts each kind of damage: an acked record
// missing (lost), stored at another offset than its ack named (misplaced),
// stored twice (duplicated); a stored record that was never acked is allowed
// and only counted.
import { describe, expect, it } from 'vitest';
import { checkAcked } from '../../scripts/failover-drill.js';

const rec = (partition: number, offset: number, id: string): { partition: number; offset: number; id: string } => ({ partition, offset, id });

describe('failover drill verdict (checkAcked)', () => {
  it('a clean history has nothing to report', () => {
    const acks = [rec(0, 0, 'a'), rec(0, 1, 'b'), rec(1, 0, 'c')];
    expect(checkAcked(acks, [...acks, rec(1, 1, 'd')])).toEqual({ lost: 0, duplicated: 0, misplaced: 0, unackedPresent: 1 });
  });

  it('counts lost, misplaced and duplicated records', () => {
    const acks = [rec(0, 0, 'a'), rec(0, 1, 'b'), rec(1, 0, 'c'), rec(1, 1, 'd')];
    const consumed = [rec(0, 0, 'a'), rec(0, 1, 'x'), rec(0, 2, 'b'), rec(1, 0, 'c'), rec(1, 1, 'c')];
    // b is at offset 2, not 1; d is gone; c is stored twice; x was never acked.
    expect(checkAcked(acks, consumed)).toEqual({ lost: 1, duplicated: 1, misplaced: 1, unackedPresent: 1 });
  });
});
