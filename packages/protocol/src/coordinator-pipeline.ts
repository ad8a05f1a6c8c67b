/**
 * The client side of Coordinator.Pipeline (proto/fjord/v1/coordinator.proto):
 * one long-lived bidirectional stream to one coordinator node carrying many
 * requests at once, matched to their answers by id (Kafka's correlation ids).
 *
 * Why: a grpc-js unary call costs the client about 0.5 ms of CPU (a new
 * HTTP/2 stream, HEADERS + DATA + trailers each way, a deadline timer, the
 * interceptor chain); a message on an open stream is one DATA frame. So a
 * single Node process that keeps many coordinator requests in flight (the
 * coordinator bench, a busy admin tool) goes several times further on one
 * pipeline than on unary calls.
 *
 * - Errors are FjordErrors with the same code, message and details as the
 *   unary call would give (a per-request error travels in the answer's
 *   error_code / error_message / error_details; `grpcStatus` in the details
 *   is the status the unary call would have carried).
 * - Deadlines: one interval timer sweeps the pending calls while any are
 *   pending (`sweepIntervalMs`, so a call times out at most that much late)
 *   instead of one setTimeout per call. A call that timed out is forgotten;
 *   its late answer is dropped (ids are never reused).
 * - The stream breaks (node died, connection reset, server stopping): every
 *   pending call is rejected with the mapped error (fromServiceError:
 *   NETWORK_EXCEPTION for UNAVAILABLE, the catalog code the server sent, or
 *   COORDINATOR_NOT_AVAILABLE when the server ended the stream with calls
 *   pending); the next call opens a new stream on the same channel.
 * - Bounded (STYLE.md H.2): at most `maxInFlight` calls pending; one more is
 *   refused at once with POLICY_VIOLATION (the caller bounds its own
 *   concurrency; the server also stops reading at its own bound).
 * Lifecycle: `start()` opens the channel, `close()` rejects what is pending
 * and closes it. `call` after `close` is COORDINATOR_NOT_AVAILABLE.
 */
import { credentials, type ChannelOptions, type Client, type ClientDuplexStream } from '@grpc/grpc-js';
import { AssertionError } from './assert.js';
import { FjordError, isErrorCode } from './errors.js';
import { fromServiceError, grpcStatusFor } from './grpc-wire.js';
import { grpcChannelOptions, loadFjordGrpc } from './proto.js';

/** The request kinds (PipelineRequest's oneof field names, camelCase) and the unary RPC each stands for. */
export const COORDINATOR_PIPELINE_KINDS = {
  registerBroker: 'RegisterBroker',
  brokerHeartbeat: 'BrokerHeartbeat',
  createTopics: 'CreateTopics',
  deleteTopics: 'DeleteTopics',
  createPartitions: 'CreatePartitions',
  alterPartition: 'AlterPartition',
  electLeaders: 'ElectLeaders',
  allocateProducerIds: 'AllocateProducerIds',
  getMetadata: 'GetMetadata',
} as const;

export type CoordinatorPipelineKind = keyof typeof COORDINATOR_PIPELINE_KINDS;

export interface CoordinatorPipelineOptions {
  /** host:port of one coordinator node (a follower forwards writes to the leader). */
  readonly address: string;
  /** gRPC message size limit both ways (default 4 MiB, the coordinator's default maxRequestBytes). */
  readonly maxMessageBytes?: number;
  /** Calls pending at once (default 4,096); one more is refused with POLICY_VIOLATION. */
  readonly maxInFlight?: number;
  /** A call's deadline when it names none (default 5,000 ms). */
  readonly defaultTimeoutMs?: number;
  /** How often pending deadlines are checked (default 10 ms). */
  readonly sweepIntervalMs?: number;
  /** Extra grpc-js channel options (merged over grpcChannelOptions). */
  readonly channelOptions?: ChannelOptions;
}

interface Pending {
  readonly resolve: (response: Record<string, unknown>) => void;
  readonly reject: (err: FjordError) => void;
  readonly deadlineMs: number;
  readonly kind: CoordinatorPipelineKind;
}

interface WireAnswer {
  id?: unknown;
  response?: unknown;
  errorCode?: unknown;
  errorMessage?: unknown;
  errorDetails?: unknown;
  [field: string]: unknown;
}

type PipelineMethod = () => ClientDuplexStream<unknown, unknown>;

/** A pipeline answer's error fields -> the FjordError the unary path would have raised. */
export function pipelineError(fields: { errorCode: string; errorMessage: string; errorDetails: string }): FjordError {
  let details: Record<string, unknown> = {};
  if (fields.errorDetails !== '') {
    try {
      const parsed: unknown = JSON.parse(fields.errorDetails);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) details = parsed as Record<string, unknown>;
    } catch {
      details = {};
    }
  }
  if (!isErrorCode(fields.errorCode)) {
    return new FjordError('UNKNOWN_SERVER_ERROR', fields.errorMessage === '' ? undefined : fields.errorMessage, { ...details, wireCode: fields.errorCode });
  }
  return new FjordError(fields.errorCode, fields.errorMessage === '' ? undefined : fields.errorMessage, { ...details, grpcStatus: grpcStatusFor(fields.errorCode) });
}

export class CoordinatorPipeline {
  readonly address: string;
  private readonly maxMessageBytes: number;
  private readonly maxInFlight: number;
  private readonly defaultTimeoutMs: number;
  private readonly sweepIntervalMs: number;
  private readonly channelOptions: ChannelOptions;
  private client: Client | null = null;
  private stream: ClientDuplexStream<unknown, unknown> | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private sweeper: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(options: CoordinatorPipelineOptions) {
    this.address = options.address;
    this.maxMessageBytes = options.maxMessageBytes ?? 4 * 1024 * 1024;
    this.maxInFlight = options.maxInFlight ?? 4_096;
    this.defaultTimeoutMs = options.defaultTimeoutMs ?? 5_000;
    this.sweepIntervalMs = options.sweepIntervalMs ?? 10;
    for (const [name, value] of [
      ['maxMessageBytes', this.maxMessageBytes],
      ['maxInFlight', this.maxInFlight],
      ['defaultTimeoutMs', this.defaultTimeoutMs],
      ['sweepIntervalMs', this.sweepIntervalMs],
    ] as const) {
      if (!Number.isSafeInteger(value) || value < 1) throw new FjordError('INVALID_CONFIG', `${name} must be an integer >= 1, got ${value}`, { [name]: value });
    }
    this.channelOptions = { ...grpcChannelOptions(this.maxMessageBytes), ...options.channelOptions };
  }

  /** Opens the channel (the stream itself opens on the first call). */
  start(): this {
    if (this.closed) throw new FjordError('COORDINATOR_NOT_AVAILABLE', 'the pipeline is closed');
    this.client ??= new (loadFjordGrpc().coordinator)(this.address, credentials.createInsecure(), this.channelOptions);
    return this;
  }

  /** Calls pending now. */
  get inFlight(): number {
    return this.pending.size;
  }

  /**
   * Sends one request of `kind` (the body is that kind's unary request) and
   * resolves with its unary response; rejects with the FjordError the unary
   * call would raise, REQUEST_TIMED_OUT after `timeoutMs`, or the stream's
   * error when it breaks.
   */
  call<T = Record<string, unknown>>(kind: CoordinatorPipelineKind, request: object, options: { timeoutMs?: number } = {}): Promise<T> {
    if (this.closed) return Promise.reject(new FjordError('COORDINATOR_NOT_AVAILABLE', 'the pipeline is closed'));
    if (!Object.hasOwn(COORDINATOR_PIPELINE_KINDS, kind)) return Promise.reject(new FjordError('INVALID_REQUEST', `unknown pipeline request kind ${String(kind)}`));
    if (this.pending.size >= this.maxInFlight) return Promise.reject(new FjordError('POLICY_VIOLATION', `more than ${this.maxInFlight} calls in flight on this pipeline`, { maxInFlight: this.maxInFlight }));
    const timeoutMs = options.timeoutMs ?? this.defaultTimeoutMs;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) return Promise.reject(new FjordError('INVALID_REQUEST', `timeoutMs must be > 0, got ${timeoutMs}`));
    const stream = this.openStream();
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (r: Record<string, unknown>) => void, reject, deadlineMs: performance.now() + timeoutMs, kind });
      this.sweeper ??= setInterval(() => this.sweep(), this.sweepIntervalMs).unref();
      stream.write({ id, [kind]: request });
    });
  }

  /** Rejects every pending call (COORDINATOR_NOT_AVAILABLE) and closes the stream and the channel. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const stream = this.stream;
    this.stream = null;
    this.failPending(new FjordError('COORDINATOR_NOT_AVAILABLE', 'the pipeline was closed with calls pending'));
    stream?.cancel();
    this.client?.close();
    this.client = null;
  }

  private openStream(): ClientDuplexStream<unknown, unknown> {
    if (this.stream !== null) return this.stream;
    const client = this.start().client;
    if (client === null) throw new AssertionError('pipeline channel missing after start');
    const method = (client as unknown as Record<string, PipelineMethod | undefined>)['Pipeline'];
    if (method === undefined) throw new AssertionError('the loaded Coordinator service has no Pipeline method');
    const stream = method.call(client);
    this.stream = stream;
    // Each handler checks it still serves the current stream: a broken one's late events change nothing.
    stream.on('data', (answer: WireAnswer) => this.onAnswer(answer));
    stream.on('error', (err: unknown) => this.onBroken(stream, fromServiceError(err)));
    stream.on('end', () => this.onBroken(stream, new FjordError('COORDINATOR_NOT_AVAILABLE', `the coordinator at ${this.address} ended the pipeline`)));
    return stream;
  }

  private onAnswer(answer: WireAnswer): void {
    const id = Number(answer.id);
    const p = this.pending.get(id);
    // Unknown ids: answers to calls that timed out (or a broken server); nothing waits for them.
    if (p === undefined) return;
    this.pending.delete(id);
    const errorCode = typeof answer.errorCode === 'string' ? answer.errorCode : '';
    if (errorCode !== '') {
      p.reject(
        pipelineError({
          errorCode,
          errorMessage: typeof answer.errorMessage === 'string' ? answer.errorMessage : '',
          errorDetails: typeof answer.errorDetails === 'string' ? answer.errorDetails : '',
        }),
      );
    } else if (answer.response !== p.kind) {
      p.reject(new FjordError('UNKNOWN_SERVER_ERROR', `pipeline answer ${id} carries ${String(answer.response)}, expected ${p.kind}`));
    } else {
      p.resolve((answer[p.kind] ?? {}) as Record<string, unknown>);
    }
    this.stopSweeperIfIdle();
  }

  private onBroken(stream: ClientDuplexStream<unknown, unknown>, err: FjordError): void {
    if (this.stream !== stream) return;
    this.stream = null;
    // Our half of the call too, so grpc-js releases it; the next call opens a new stream.
    stream.end();
    this.failPending(err);
  }

  private failPending(err: FjordError): void {
    const calls = [...this.pending.values()];
    this.pending.clear();
    this.stopSweeperIfIdle();
    for (const p of calls) p.reject(err);
  }

  private sweep(): void {
    const nowMs = performance.now();
    for (const [id, p] of this.pending) {
      if (p.deadlineMs > nowMs) continue;
      this.pending.delete(id);
      p.reject(new FjordError('REQUEST_TIMED_OUT', `no answer to ${COORDINATOR_PIPELINE_KINDS[p.kind]} from ${this.address} within its deadline`, { grpcStatus: grpcStatusFor('REQUEST_TIMED_OUT') }));
    }
    this.stopSweeperIfIdle();
  }

  private stopSweeperIfIdle(): void {
    if (this.pending.size > 0 || this.sweeper === null) return;
    clearInterval(this.sweeper);
    this.sweeper = null;
  }
}
