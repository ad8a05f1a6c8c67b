import { FjordError } from '@fjord/protocol';

/** The FjordError `fn` throws; fails the test if it throws nothing or something else. */
export function errorOf(fn: () => unknown): FjordError {
  try {
    fn();
  } catch (err) {
    if (err instanceof FjordError) return err;
    throw err;
  }
  throw new Error('expected a FjordError');
}
