/**
 * The server side of Coordinator.Pipeline (proto/fjord/v1/coordinator.proto):
 * many requests on one long-lived bidirectional stream, answered by id, like
 * Kafka's correlation ids on one connection.
 *
 * Why it exists: a grpc-js unary call costs the client about 0.5 ms of CPU (a
 * new HTTP/2 stream, HEADERS + DATA + trailers each way, a deadline timer,
 * the interceptor chain), which caps one Node client near 2,000 writes/s on
 * a 2-core machine whatever the server does; a message on an open stream is
 * one DATA frame (~15-20 us, TOOLCHAIN.md pitfall 4).
 *
 * Rules:
 * - Each request runs through the same handler as its unary RPC (the
 *   service passes them in: leader check, forwarding from a follower,
 *   validation, typed errors), so the two paths cannot drift apart.
 * - Answers go out as they complete, out of order; each carries its id.
 * - A whole-request failure is an answer with error_code / error_message /
 *   error_details (the catalog code, as the unary path's trailers), never a
 *   broken stream. A request without a body or with an id still in flight is
 *   answered INVALID_REQUEST and changes nothing.
 * - Bounded (STYLE.md H.2): at most `maxInFlight` requests run per stream;
 *   at the bound, and while the client is not reading answers (more than
 *   `maxInFlight` answers buffered), the server stops reading the stream, so
 *   HTTP/2 flow control holds the client back instead of a queue growing
 *   here. Stopping to read, rather than refusing ids with a retriable error,
 *   keeps the client simple: it never has to retry an id it was told to.
 * - A message above grpc.max_receive_message_length fails the whole stream
 *   with RESOURCE_EXHAUSTED before it reaches this module (the client maps it
 *   to MESSAGE_TOO_LARGE, as for unary calls).
 * - Cancelled or ended by the node: work already started finishes (a proposal
 *   cannot be taken back) but its answers are dropped. No timers; the only
 *   listeners are on the call, which goes away with it.
 */
import { AssertionError, COORDINATOR_PIPELINE_KINDS, FjordError, isFjordError, wireToSafeInteger, type CoordinatorPipelineKind } from '@fjord/protocol';
import type { ServerDuplexStream } from '@grpc/grpc-js';
import type { Logger } from 'pino';

/** The same request handler the unary RPC of that kind runs. */
export type PipelineHandler = (request: unknown) => Promise<unknown>;

/** Requests in flight per stream by default (issue 4's pipelined writes run 64). */
export const DEFAULT_PIPELINE_MAX_IN_FLIGHT = 1_024;

export interface PipelineServerOptions {
  readonly handlers: Readonly<Record<CoordinatorPipelineKind, PipelineHandler>>;
  /** Requests run at once per stream; at the bound the server stops reading. */
  readonly maxInFlight: number;
  readonly logger: Logger;
  /** Called with an AssertionError a handler threw (a broken invariant takes the node down, STYLE.md D). */
  readonly onFatal: (err: unknown) => void;
}

/** An open pipeline stream, as the service tracks it (to end it when the node stops; a step-down needs nothing: requests are forwarded). */
export interface PipelineStream {
  /** Ends the stream with a status (pending answers are dropped). */
  end(err: FjordError): void;
  /** Resolves when the stream is over (ended, cancelled or failed). */
  readonly closed: Promise<void>;
}

/** The request kinds: PipelineRequest's oneof field names (camelCase, as proto-loader reads them), shared with the client. */
function isKind(value: unknown): value is CoordinatorPipelineKind {
  return typeof value === 'string' && Object.hasOwn(COORDINATOR_PIPELINE_KINDS, value);
}

interface WireResponse {
  id: string;
  errorCode: string;
  errorMessage: string;
  errorDetails: string;
  [kind: string]: unknown;
}

function errorResponse(id: string, err: FjordError): WireResponse {
  let details = '';
  if (Object.keys(err.details).length > 0) {
    try {
      details = JSON.stringify(err.details);
    } catch {
      details = '{"unserializable":true}';
    }
  }
  // errorMessage carries the specific part, as the unary status detail does (fromServiceError rebuilds the full message).
  return { id, errorCode: err.code, errorMessage: err.detail, errorDetails: details };
}

/**
 * Serves one Pipeline stream. `endWithError` ends the call with a status the
 * grpc-js way for duplex streams (see coordinator-service.ts).
 */
export function servePipeline(call: ServerDuplexStream<unknown, unknown>, options: PipelineServerOptions, endWithError: (err: FjordError) => void): PipelineStream {
  if (!Number.isSafeInteger(options.maxInFlight) || options.maxInFlight < 1) throw new AssertionError(`pipeline maxInFlight must be >= 1, got ${options.maxInFlight}`);
  const log = options.logger;
  /** Ids running now (a second request with one of them is refused). */
  const inFlight = new Set<string>();
  let over = false;
  let halfClosed = false;
  let readPaused = false;
  let resolveClosed!: () => void;
  const closed = new Promise<void>((resolve) => {
    resolveClosed = resolve;
  });

  const finish = (): void => {
    if (over) return;
    over = true;
    resolveClosed();
  };

  const blocked = (): boolean => inFlight.size >= options.maxInFlight || call.writableLength >= options.maxInFlight;

  /** Stops or restarts reading so in-flight work and buffered answers stay under the bound. */
  const flow = (): void => {
    if (over) return;
    const stop = blocked();
    if (stop && !readPaused) {
      readPaused = true;
      call.pause();
    } else if (!stop && readPaused) {
      readPaused = false;
      call.resume();
    }
  };

  const send = (response: WireResponse): void => {
    if (over || call.destroyed || call.writableEnded) return;
    call.write(response);
  };

  const settle = (id: string, response: WireResponse): void => {
    inFlight.delete(id);
    send(response);
    if (halfClosed && inFlight.size === 0 && !over) {
      // The client said it has nothing more to send and every answer is out: a clean end.
      finish();
      call.end();
      return;
    }
    flow();
  };

  const run = (id: string, kind: CoordinatorPipelineKind, request: unknown): void => {
    const handler = options.handlers[kind];
    handler(request).then(
      (body) => settle(id, { id, errorCode: '', errorMessage: '', errorDetails: '', [kind]: body }),
      (err: unknown) => {
        if (isFjordError(err)) {
          log.debug({ rpc: 'Pipeline', kind, code: err.code, message: err.message }, 'request failed');
          settle(id, errorResponse(id, err));
          return;
        }
        log.error({ rpc: 'Pipeline', kind, err }, 'request failed unexpectedly');
        settle(id, errorResponse(id, new FjordError('UNKNOWN_SERVER_ERROR', err instanceof Error ? err.message : String(err))));
        if (err instanceof AssertionError) options.onFatal(err);
      },
    );
  };

  call.on('data', (message: unknown) => {
    if (over) return;
    const m = (typeof message === 'object' && message !== null ? message : {}) as { id?: unknown; request?: unknown; [field: string]: unknown };
    let id: string;
    try {
      // uint64 arrives as a decimal string (longs: String); ids are opaque keys here, checked to be safe integers.
      id = String(wireToSafeInteger(m.id ?? '0', 'id'));
    } catch (err) {
      if (!isFjordError(err)) throw err;
      // The id itself is unusable: answer it as it came so the client can still match it.
      send(errorResponse(typeof m.id === 'string' ? m.id : '0', err));
      return;
    }
    if (inFlight.has(id)) {
      // Not added to inFlight: the running request keeps its id and answers once.
      send(errorResponse(id, new FjordError('INVALID_REQUEST', `request id ${id} is already in flight on this stream`, { id })));
      return;
    }
    const kind = m.request;
    if (!isKind(kind) || m[kind] === undefined || m[kind] === null) {
      send(errorResponse(id, new FjordError('INVALID_REQUEST', 'a pipeline request must carry exactly one request body', { id })));
      return;
    }
    inFlight.add(id);
    flow();
    run(id, kind, m[kind]);
  });
  call.on('drain', flow);
  call.on('end', () => {
    halfClosed = true;
    if (inFlight.size === 0 && !over) {
      finish();
      call.end();
    }
  });
  call.on('cancelled', finish);
  call.on('error', finish);
  call.on('close', finish);

  return {
    closed,
    end(err: FjordError): void {
      if (over) return;
      finish();
      endWithError(err);
    },
  };
}
