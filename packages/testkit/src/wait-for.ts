/**
 * Waiting on a condition with a deadline: the only way tests wait (never a bare
 * sleep). The condition is polled; the deadline failure names what was awaited
 * and the last value or error seen, so a red test explains itself.
 */
export interface WaitForOptions {
  timeoutMs: number;
  /** Poll interval; small by default so a fast condition returns fast. */
  intervalMs?: number;
  /** What is awaited, for the failure message. */
  what?: string;
}

export class WaitTimeoutError extends Error {
  override readonly name = 'WaitTimeoutError';
}

/**
 * Polls `condition` until it returns a value other than false/undefined/null (or
 * resolves to one), and returns that value. A thrown error counts as "not yet";
 * the last one is reported at the deadline.
 */
export async function waitFor<T>(
  condition: () => T | false | undefined | null | Promise<T | false | undefined | null>,
  options: WaitForOptions,
): Promise<T> {
  const intervalMs = options.intervalMs ?? 10;
  const deadline = Date.now() + options.timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value !== false && value !== undefined && value !== null) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const last = lastError instanceof Error ? `; last error: ${lastError.message}` : '';
      throw new WaitTimeoutError(`timed out after ${options.timeoutMs} ms waiting for ${options.what ?? 'condition'}${last}`, {
        cause: lastError,
      });
    }
    await new Promise<void>((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * Yields to the event loop (a macrotask turn). A load loop whose awaited
 * promises can settle without I/O (an immediate rejection, say) never lets
 * timers or sockets run otherwise: it spins, starves waitFor and grows without
 * bound. Await this once per window.
 */
export function nextTurn(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}
