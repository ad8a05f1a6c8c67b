/**
 * Invariant checks. A failed assertion is a programmer error or a broken
 * invariant: it must stop the node loudly (STYLE.md D, H.3), never be handled
 * like an operating error. `AssertionError` is deliberately not a FjordError,
 * so `catch` blocks that handle only FjordError rethrow it.
 */
export class AssertionError extends Error {
  override readonly name = 'AssertionError';
}

export function assert(condition: unknown, message: string | (() => string) = 'assertion failed'): asserts condition {
  if (!condition) {
    throw new AssertionError(typeof message === 'function' ? message() : message);
  }
}

/** Exhaustiveness check for discriminated unions. */
export function assertNever(value: never, what = 'value'): never {
  throw new AssertionError(`unexpected ${what}: ${JSON.stringify(value)}`);
}

/** Offsets, epochs and sizes are plain numbers, safe integers at every boundary (STYLE.md H.4). */
export function assertSafeInteger(value: number, what: string): void {
  if (!Number.isSafeInteger(value)) {
    throw new AssertionError(`${what} must be a safe integer, got ${value}`);
  }
}
