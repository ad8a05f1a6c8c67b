/**
 * FjordError <-> gRPC, shared by every service and client (STYLE.md D):
 * - per-item errors in batched responses: `errorFields(err)` ->
 *   { errorCode, errorMessage } (empty strings on success); `errorFromFields`
 *   reverses it;
 * - whole-request errors: `toServiceError(err)` -> a gRPC status with the
 *   catalog code in the trailing metadata key `fjord-error-code` (details as
 *   JSON in `fjord-error-details`); `fromServiceError` reverses it. A gRPC
 *   error without a Fjord code maps by status: UNAVAILABLE -> NETWORK_EXCEPTION,
 *   DEADLINE_EXCEEDED -> REQUEST_TIMED_OUT, RESOURCE_EXHAUSTED from a message
 *   size limit -> MESSAGE_TOO_LARGE, anything else -> UNKNOWN_SERVER_ERROR
 *   (not retriable);
 * - int64 fields arrive as decimal strings (proto-loader `longs: String`) and
 *   become numbers only through `wireToSafeInteger`, which never rounds.
 */
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { FjordError, isErrorCode, type ErrorCode } from './errors.js';

export const ERROR_CODE_METADATA_KEY = 'fjord-error-code';
export const ERROR_DETAILS_METADATA_KEY = 'fjord-error-details';

/** Per-item error fields of a batched response; empty strings on success. */
export function errorFields(error: { readonly code: ErrorCode; readonly detail?: string; readonly message: string } | null): {
  errorCode: string;
  errorMessage: string;
} {
  if (error === null) return { errorCode: '', errorMessage: '' };
  return { errorCode: error.code, errorMessage: error.detail ?? error.message };
}

/** Per-item error fields -> FjordError, or null on success. An unknown code is UNKNOWN_SERVER_ERROR (not retriable). */
export function errorFromFields(fields: { errorCode: string; errorMessage: string }): FjordError | null {
  if (fields.errorCode === '') return null;
  const code: ErrorCode = isErrorCode(fields.errorCode) ? fields.errorCode : 'UNKNOWN_SERVER_ERROR';
  return new FjordError(code, fields.errorMessage === '' ? undefined : fields.errorMessage, code === fields.errorCode ? {} : { wireCode: fields.errorCode });
}

/** The gRPC status a whole-request failure travels with (the catalog code rides in metadata). */
export function grpcStatusFor(code: ErrorCode): status {
  switch (code) {
    case 'INVALID_REQUEST':
    case 'INVALID_CONFIG':
    case 'INVALID_TOPIC':
    case 'INVALID_PARTITIONS':
    case 'INVALID_REPLICATION_FACTOR':
    case 'INVALID_REPLICA_ASSIGNMENT':
    case 'INVALID_REQUIRED_ACKS':
    case 'CORRUPT_MESSAGE':
      return status.INVALID_ARGUMENT;
    case 'RECORD_LIST_TOO_LARGE':
    case 'MESSAGE_TOO_LARGE':
      return status.RESOURCE_EXHAUSTED;
    case 'REQUEST_TIMED_OUT':
      return status.DEADLINE_EXCEEDED;
    case 'NOT_CONTROLLER':
    case 'RAFT_NOT_LEADER':
    case 'RAFT_PROPOSAL_DROPPED':
    case 'NETWORK_EXCEPTION':
    case 'COORDINATOR_NOT_AVAILABLE':
    case 'BROKER_NOT_AVAILABLE':
    case 'LEADER_NOT_AVAILABLE':
    case 'NOT_LEADER_OR_FOLLOWER':
      return status.UNAVAILABLE;
    case 'STALE_BROKER_EPOCH':
    case 'FENCED_LEADER_EPOCH':
    case 'INVALID_UPDATE_VERSION':
    case 'POLICY_VIOLATION':
      return status.FAILED_PRECONDITION;
    case 'TOPIC_ALREADY_EXISTS':
      return status.ALREADY_EXISTS;
    case 'UNKNOWN_TOPIC_OR_PARTITION':
      return status.NOT_FOUND;
    case 'UNKNOWN_SERVER_ERROR':
      return status.INTERNAL;
    default:
      return status.UNKNOWN;
  }
}

export type FjordServiceError = Partial<ServiceError> & { code: status; details: string; metadata: Metadata };

/**
 * Ends a server-side stream (server-streaming or bidirectional) with the
 * error's status. grpc-js's stream listens for 'error', records the status and
 * ends the call, which sends it; `destroy(err)` instead tears the stream down
 * without ever sending a status, so the client waits forever on a stream that
 * is neither open nor closed (a broker's metadata watch went silent that way
 * after a coordinator leader was killed).
 */
export function failServerStream(call: { emit(event: 'error', err: unknown): boolean; destroyed: boolean; writableEnded: boolean }, err: FjordError): void {
  if (call.destroyed || call.writableEnded) return;
  call.emit('error', toServiceError(err));
}

/** A FjordError as a gRPC ServiceError (for a handler's callback). */
export function toServiceError(err: FjordError): FjordServiceError {
  const metadata = new Metadata();
  metadata.set(ERROR_CODE_METADATA_KEY, err.code);
  if (Object.keys(err.details).length > 0) {
    let details: string;
    try {
      details = JSON.stringify(err.details);
    } catch {
      details = '{"unserializable":true}';
    }
    metadata.set(ERROR_DETAILS_METADATA_KEY, details);
  }
  return { name: 'FjordError', message: err.message, code: grpcStatusFor(err.code), details: err.detail, metadata };
}

/**
 * grpc-js's own message-size refusals (a request above the receiver's
 * grpc.max_receive_message_length, or above the sender's send limit) carry no
 * Fjord code: the call fails before any handler runs. Their status detail is
 * "Received message larger than max (N vs M)", "Sent message larger than max",
 * "Attempted to send message with a size larger than M" or "Received message
 * that decompresses to a size larger than M". Any other RESOURCE_EXHAUSTED
 * stays UNKNOWN_SERVER_ERROR.
 */
const MESSAGE_SIZE_LIMIT = /\blarger than\b/i;

function isServiceError(e: unknown): e is ServiceError {
  return typeof e === 'object' && e !== null && 'code' in e && typeof (e as { code: unknown }).code === 'number' && 'metadata' in e;
}

/** A gRPC error from a call -> FjordError with the catalog code (unknown errors are not retriable). */
export function fromServiceError(e: unknown): FjordError {
  if (e instanceof FjordError) return e;
  if (!isServiceError(e)) return new FjordError('UNKNOWN_SERVER_ERROR', e instanceof Error ? e.message : String(e), {}, { cause: e });
  const raw = e.metadata instanceof Metadata ? e.metadata.get(ERROR_CODE_METADATA_KEY)[0] : undefined;
  const wireCode = typeof raw === 'string' ? raw : undefined;
  let details: Record<string, unknown> = {};
  const rawDetails = e.metadata instanceof Metadata ? e.metadata.get(ERROR_DETAILS_METADATA_KEY)[0] : undefined;
  if (typeof rawDetails === 'string') {
    try {
      const parsed: unknown = JSON.parse(rawDetails);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) details = parsed as Record<string, unknown>;
    } catch {
      details = {};
    }
  }
  const byStatus: ErrorCode =
    e.code === status.UNAVAILABLE
      ? 'NETWORK_EXCEPTION'
      : e.code === status.DEADLINE_EXCEEDED
        ? 'REQUEST_TIMED_OUT'
        : e.code === status.RESOURCE_EXHAUSTED && MESSAGE_SIZE_LIMIT.test(e.details)
          ? 'MESSAGE_TOO_LARGE'
          : 'UNKNOWN_SERVER_ERROR';
  const code: ErrorCode = wireCode !== undefined && isErrorCode(wireCode) ? wireCode : byStatus;
  const detail = code === wireCode ? e.details : `gRPC ${status[e.code] ?? e.code}: ${e.details}`;
  return new FjordError(code, detail === '' ? undefined : detail, { ...details, grpcStatus: e.code }, { cause: e });
}

/**
 * An int64 field as it arrives (longs: String) or as a handler built it
 * (number) -> a safe integer, or INVALID_REQUEST. Never rounds.
 */
export function wireToSafeInteger(value: unknown, field: string): number {
  let n: number;
  if (typeof value === 'number') {
    n = value;
  } else if (typeof value === 'string' && /^-?\d{1,20}$/.test(value)) {
    n = Number(value);
    if (String(n) !== value.replace(/^(-?)0+(?=\d)/, '$1')) n = Number.NaN;
  } else {
    n = Number.NaN;
  }
  if (!Number.isSafeInteger(n)) {
    throw new FjordError('INVALID_REQUEST', `${field} must be a safe integer, got ${JSON.stringify(value)}`, { field });
  }
  return n;
}
