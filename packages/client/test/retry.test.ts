// Goal: only retriable FjordErrors are retried, with bounded, jittered,
// growing backoff; everything else (and the last failure) reaches the caller.
import { describe, expect, it } from 'vitest';
import { FjordError, Rng } from '@fjord/protocol';
import { backoffMs, withRetry, type RetryPolicy } from '@fjord/client';

const policy: RetryPolicy = { maxRetries: 3, initialBackoffMs: 10, maxBackoffMs: 40, deadlineMs: 10_000 };

function fakeClock(): { nowMs: () => number; sleep: (ms: number) => Promise<void>; slept: number[] } {
  let now = 0;
  const slept: number[] = [];
  return { nowMs: () => now, sleep: async (ms) => void (slept.push(ms), (now += ms)), slept };
}

describe('retry', () => {
  it('backoff stays within [0, min(max, initial * 2^attempt)]', () => {
    const rng = new Rng(1);
    for (let attempt = 0; attempt < 10; attempt++) {
      for (let i = 0; i < 100; i++) {
        const ms = backoffMs(attempt, policy, rng);
        expect(ms).toBeGreaterThanOrEqual(0);
        expect(ms).toBeLessThanOrEqual(Math.min(40, 10 * 2 ** attempt));
      }
    }
  });

  it('retries retriable errors, calls onRetry, and succeeds', async () => {
    const clock = fakeClock();
    const seen: string[] = [];
    const result = await withRetry(
      async (attempt) => {
        if (attempt < 2) throw new FjordError('NOT_LEADER_OR_FOLLOWER');
        return 'ok';
      },
      policy,
      { ...clock, rng: new Rng(2), onRetry: (err) => void seen.push(err.code) },
    );
    expect(result).toBe('ok');
    expect(seen).toEqual(['NOT_LEADER_OR_FOLLOWER', 'NOT_LEADER_OR_FOLLOWER']);
  });

  it('does not retry non-retriable or unknown errors', async () => {
    const clock = fakeClock();
    let calls = 0;
    await expect(withRetry(async () => (calls++, Promise.reject(new FjordError('INVALID_TOPIC'))), policy, clock)).rejects.toMatchObject({ code: 'INVALID_TOPIC' });
    await expect(withRetry(async () => (calls++, Promise.reject(new TypeError('bug'))), policy, clock)).rejects.toBeInstanceOf(TypeError);
    expect(calls).toBe(2);
  });

  it('gives up after maxRetries with the last error', async () => {
    const clock = fakeClock();
    let calls = 0;
    await expect(withRetry(async () => (calls++, Promise.reject(new FjordError('REQUEST_TIMED_OUT'))), policy, clock)).rejects.toMatchObject({
      code: 'REQUEST_TIMED_OUT',
    });
    expect(calls).toBe(4);
  });
});
