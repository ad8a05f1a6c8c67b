/**
 * Typed outcomes of pure operations. Operating errors (bad input, stale
 * epochs) are values, not exceptions, so the state machine and the
 * controller can return them without unwinding (STYLE.md D: "typed and
 * returned to the caller, and leave state unchanged"). Shells turn them into
 * FjordError at the boundary with `toFjordError`.
 */
import { ERROR_CATALOG, FjordError, type ErrorCode } from '@fjord/protocol';

export interface CommandError {
  readonly code: ErrorCode;
  readonly message: string;
}

export type Result<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: CommandError };

export function ok<T>(value: T): { readonly ok: true; readonly value: T } {
  return { ok: true, value };
}

export function fail(code: ErrorCode, message: string): { readonly ok: false; readonly error: CommandError } {
  return { ok: false, error: { code, message } };
}

export function toFjordError(error: CommandError): FjordError {
  return new FjordError(error.code, error.message === '' ? undefined : error.message);
}

/**
 * A FjordError's message starts with the catalog text for its code; a
 * CommandError (and a wire error message) holds only the specific part, and
 * `toFjordError` adds the catalog text back, so it never appears twice.
 */
export function messageDetail(code: ErrorCode, message: string): string {
  const prefix = `${ERROR_CATALOG[code].message}: `;
  if (message.startsWith(prefix)) return message.slice(prefix.length);
  return message === ERROR_CATALOG[code].message ? '' : message;
}

export function commandErrorOf(err: FjordError): CommandError {
  return { code: err.code, message: messageDetail(err.code, err.message) };
}
