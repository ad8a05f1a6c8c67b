/**
 * Retry policy (DESIGN.md "Clients"): only FjordErrors the catalog marks
 * retriable are retried (an unknown error is NOT, unlike KafkaJS), with capped
 * exponential backoff and full jitter from an injected Rng, a bounded attempt
 * count and an overall deadline. `backoffMs` is pure; `withRetry` is the shell.
 */
import { FjordError, Rng, assert, isFjordError } from '@fjord/protocol';

export interface RetryPolicy {
  /** Attempts after the first; 0 = never retry. */
  maxRetries: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** Give up once this much time has passed since the first attempt. */
  deadlineMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  maxRetries: 20,
  initialBackoffMs: 20,
  maxBackoffMs: 1_000,
  deadlineMs: 30_000,
});

/** Full-jitter exponential backoff: uniform in [0, min(max, initial * 2^attempt)]. */
export function backoffMs(attempt: number, policy: RetryPolicy, rng: Rng): number {
  assert(attempt >= 0, 'attempt must be >= 0');
  const ceiling = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * 2 ** Math.min(attempt, 30));
  return rng.int(Math.max(1, Math.floor(ceiling)) + 1);
}

export interface RetryHooks {
  /** Called before sleeping for a retry; refresh metadata here when err.refreshMetadata. */
  onRetry?: (err: FjordError, attempt: number) => void | Promise<void>;
  /** Clock and sleep are injectable so tests do not wait on wall time. */
  nowMs?: () => number;
  sleep?: (ms: number) => Promise<void>;
  rng?: Rng;
}

const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function withRetry<T>(fn: (attempt: number) => Promise<T>, policy: RetryPolicy, hooks: RetryHooks = {}): Promise<T> {
  const nowMs = hooks.nowMs ?? Date.now;
  const sleep = hooks.sleep ?? realSleep;
  const rng = hooks.rng ?? new Rng(nowMs());
  const started = nowMs();
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (!isFjordError(err) || !err.retriable) throw err;
      if (attempt >= policy.maxRetries) throw err;
      const delay = backoffMs(attempt, policy, rng);
      if (nowMs() + delay - started > policy.deadlineMs) throw err;
      await hooks.onRetry?.(err, attempt);
      await sleep(delay);
    }
  }
}
