// Goal: acks=all waiters complete exactly when the HW passes their batch, fail
// with a typed error on timeout, leadership loss or shutdown, and are bounded.
import { describe, expect, it } from 'vitest';
import { FjordError } from '@fjord/protocol';
import { DelayedProduce } from '@fjord/broker';

describe('DelayedProduce', () => {
  it('completes the waiters a HW advance satisfies, in order, and no others', async () => {
    const p = new DelayedProduce({ maxWaiting: 10 });
    const done: number[] = [];
    const waits = [5, 10, 15].map((o) => p.wait('t-0', o, 60_000).then(() => done.push(o)));
    p.onHighWatermark('t-0', 10);
    await Promise.all(waits.slice(0, 2));
    expect(done).toEqual([5, 10]);
    expect(p.size).toBe(1);
    p.onHighWatermark('t-1', 100); // another partition: no effect
    expect(p.size).toBe(1);
    p.onHighWatermark('t-0', 15);
    await waits[2];
    expect(done).toEqual([5, 10, 15]);
    expect(p.size).toBe(0);
  });

  it('times out with REQUEST_TIMED_OUT', async () => {
    const p = new DelayedProduce({ maxWaiting: 10 });
    await expect(p.wait('t-0', 1, 5)).rejects.toMatchObject({ code: 'REQUEST_TIMED_OUT', retriable: true });
    expect(p.size).toBe(0);
  });

  it('fails a partition and refuses new waits after close', async () => {
    const p = new DelayedProduce({ maxWaiting: 10 });
    const w = p.wait('t-0', 1, 60_000);
    p.failPartition('t-0', new FjordError('NOT_LEADER_OR_FOLLOWER', 'moved'));
    await expect(w).rejects.toMatchObject({ code: 'NOT_LEADER_OR_FOLLOWER' });
    const w2 = p.wait('t-0', 2, 60_000);
    p.close();
    await expect(w2).rejects.toMatchObject({ code: 'NOT_LEADER_OR_FOLLOWER' });
    await expect(p.wait('t-0', 3, 60_000)).rejects.toMatchObject({ code: 'NOT_LEADER_OR_FOLLOWER' });
  });

  it('bounds the number of waiters', async () => {
    const p = new DelayedProduce({ maxWaiting: 2 });
    const a = p.wait('t-0', 1, 60_000);
    const b = p.wait('t-0', 2, 60_000);
    await expect(p.wait('t-0', 3, 60_000)).rejects.toMatchObject({ code: 'REQUEST_TIMED_OUT' });
    p.onHighWatermark('t-0', 2);
    await Promise.all([a, b]);
  });
});
