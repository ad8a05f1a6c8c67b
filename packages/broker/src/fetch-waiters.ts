/**
 * Parked long-poll fetches (Kafka's DelayedFetch, simplified): a fetch that
 * found fewer than minBytes waits here until one of its partitions changes
 * (HW advance for consumers, LEO advance for followers), its maxWaitMs passes,
 * or it is cancelled (client gone). Bounded: beyond `maxWaiting` a fetch does
 * not park and answers at once with what it has.
 */
import { assert } from '@fjord/protocol';

interface Parked {
  keys: readonly string[];
  timer: NodeJS.Timeout;
  resolve: () => void;
  done: boolean;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

export class FetchWaiters {
  private readonly byKey = new Map<string, Set<Parked>>();
  private count = 0;

  constructor(private readonly options: { maxWaiting: number }) {
    assert(Number.isSafeInteger(options.maxWaiting) && options.maxWaiting > 0, 'maxWaiting must be a positive integer');
  }

  get size(): number {
    return this.count;
  }

  /**
   * Resolves (never rejects) on a wake of any key, the timeout, or `signal`
   * aborting. Resolves at once when full.
   */
  wait(keys: readonly string[], timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.count >= this.options.maxWaiting || timeoutMs <= 0 || keys.length === 0 || signal?.aborted === true) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const parked: Parked = {
        keys,
        resolve,
        done: false,
        timer: setTimeout(() => this.finish(parked), timeoutMs),
        signal,
        onAbort: () => this.finish(parked),
      };
      for (const key of keys) {
        let set = this.byKey.get(key);
        if (set === undefined) {
          set = new Set();
          this.byKey.set(key, set);
        }
        set.add(parked);
      }
      this.count++;
      signal?.addEventListener('abort', parked.onAbort, { once: true });
    });
  }

  wake(key: string): void {
    const set = this.byKey.get(key);
    if (set === undefined) return;
    for (const parked of [...set]) this.finish(parked);
  }

  wakeAll(): void {
    for (const key of [...this.byKey.keys()]) this.wake(key);
  }

  private finish(parked: Parked): void {
    if (parked.done) return;
    parked.done = true;
    clearTimeout(parked.timer);
    parked.signal?.removeEventListener('abort', parked.onAbort);
    for (const key of parked.keys) {
      const set = this.byKey.get(key);
      if (set === undefined) continue;
      set.delete(parked);
      if (set.size === 0) this.byKey.delete(key);
    }
    this.count--;
    assert(this.count >= 0, 'fetch waiter count went negative');
    parked.resolve();
  }
}
