/**
 * A follower's fetcher for one leader broker (Kafka's ReplicaFetcherThread):
 * one long-lived ReplicaFetch stream carries every partition this broker
 * follows on that leader. A partition joins in the "truncating" state: before
 * fetching, its divergent tail is cut by leader epoch (OffsetForLeaderEpoch +
 * decideTruncation, KIP-101/279; never by HW alone). Then each request reports
 * the follower's LEO per partition (its fetch offset) and each response's
 * batches are appended as they are. One request is in flight at a time (the
 * leader's long poll keeps latency low), so the in-flight window is 1.
 */
import { credentials, type ClientDuplexStream, type ClientUnaryCall, type Client } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { FjordError, errorFromFields, fromServiceError, grpcChannelOptions, isFjordError, loadFjordGrpc, wireToSafeInteger } from '@fjord/protocol';
import type { EpochEntry } from '@fjord/storage';
import { partitionKey } from './metadata-image.js';
import { decideTruncation } from './replication/truncation.js';

/** What the fetcher needs from the replica manager; each call re-checks the partition still follows this leader epoch. */
export interface FollowerTarget {
  followerState(topic: string, partition: number, leaderEpoch: number): { leo: number; logStartOffset: number; latestEpoch: number; epochEntries: readonly EpochEntry[] } | null;
  truncate(topic: string, partition: number, leaderEpoch: number, offset: number): void;
  resetTo(topic: string, partition: number, leaderEpoch: number, offset: number): void;
  append(topic: string, partition: number, leaderEpoch: number, records: Buffer, leaderHw: number): void;
}

export interface FollowerFetcherOptions {
  brokerId: number;
  brokerEpoch: () => number;
  leaderId: number;
  endpoint: { host: string; port: number };
  target: FollowerTarget;
  logger: Logger;
  maxWaitMs: number;
  maxBytes: number;
  partitionMaxBytes: number;
  backoffMs: number;
  maxMessageBytes: number;
  /** Most rounds of OffsetForLeaderEpoch for one partition before giving up for this attempt. */
  maxTruncationRounds?: number;
}

/** How long an OffsetForLeaderEpoch call may take beyond the fetch long-poll wait before it fails (and is retried after a backoff). */
const EPOCH_REQUEST_TIMEOUT_MS = 5_000;

interface Followed {
  topic: string;
  partition: number;
  leaderEpoch: number;
  state: 'truncating' | 'fetching';
}

interface WireFetchResponse {
  correlationId: string;
  partitions: { topic: string; partition: number; errorCode: string; errorMessage: string; highWatermark: string; logStartOffset: string; records: Buffer }[];
}

interface WireEpochResponse {
  partitions: { topic: string; partition: number; errorCode: string; errorMessage: string; leaderEpoch: number; endOffset: string }[];
}

type UnaryFn<Req, Res> = (req: Req, options: { deadline: number }, cb: (err: Error | null, res?: Res) => void) => ClientUnaryCall;

interface BrokerClient extends Client {
  replicaFetch(): ClientDuplexStream<unknown, WireFetchResponse>;
  offsetForLeaderEpoch: UnaryFn<unknown, WireEpochResponse>;
}

export class FollowerFetcher {
  readonly leaderId: number;
  private readonly partitions = new Map<string, Followed>();
  private readonly logger: Logger;
  private endpoint: { host: string; port: number };
  private client: BrokerClient | null = null;
  private stream: ClientDuplexStream<unknown, WireFetchResponse> | null = null;
  private pending: { correlationId: number; resolve: (r: WireFetchResponse) => void; reject: (e: FjordError) => void } | null = null;
  private correlationId = 0;
  private running: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private epochCall: ClientUnaryCall | null = null;
  private closed = false;

  constructor(private readonly options: FollowerFetcherOptions) {
    this.leaderId = options.leaderId;
    this.endpoint = options.endpoint;
    this.logger = options.logger.child({ component: 'follower-fetcher', leaderId: options.leaderId });
  }

  get partitionCount(): number {
    return this.partitions.size;
  }

  addPartition(p: { topic: string; partition: number; leaderEpoch: number }): void {
    this.partitions.set(partitionKey(p.topic, p.partition), { ...p, state: 'truncating' });
    this.ensureRunning();
    this.wake?.();
  }

  removePartition(topic: string, partition: number): void {
    this.partitions.delete(partitionKey(topic, partition));
  }

  updateEndpoint(endpoint: { host: string; port: number }): void {
    if (endpoint.host === this.endpoint.host && endpoint.port === this.endpoint.port) return;
    this.endpoint = endpoint;
    this.resetConnection();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    this.resetConnection();
    await this.running;
  }

  private ensureRunning(): void {
    if (this.running !== null || this.closed) return;
    this.running = this.loop()
      .catch((e: unknown) => {
        if (!isFjordError(e)) throw e;
        this.logger.error({ err: e }, 'fetcher stopped');
      })
      .finally(() => {
        this.running = null;
        if (!this.closed && this.partitions.size > 0) this.ensureRunning();
      });
  }

  private connect(): BrokerClient {
    // A closed fetcher must not open a connection: close() has already cut
    // the old one, and a new channel or stream nobody closes keeps the
    // process alive after shutdown (the SIGTERM hang: a partition that had
    // just become a follower finished its OffsetForLeaderEpoch round after
    // close() and opened a fresh ReplicaFetch stream).
    if (this.closed) throw new FjordError('NETWORK_EXCEPTION', `the fetcher for leader ${this.leaderId} is closed`);
    if (this.client === null) {
      const ctor = loadFjordGrpc().broker;
      this.client = new ctor(`${this.endpoint.host}:${this.endpoint.port}`, credentials.createInsecure(), grpcChannelOptions(this.options.maxMessageBytes)) as unknown as BrokerClient;
    }
    return this.client;
  }

  private resetConnection(): void {
    this.pending?.reject(new FjordError('NETWORK_EXCEPTION', 'replica fetch stream reset'));
    this.pending = null;
    // grpc-js lets calls started on a channel outlive its close(): cancel them.
    this.epochCall?.cancel();
    this.epochCall = null;
    this.stream?.cancel();
    this.stream = null;
    this.client?.close();
    this.client = null;
  }

  private openStream(): ClientDuplexStream<unknown, WireFetchResponse> {
    if (this.stream !== null) return this.stream;
    const stream = this.connect().replicaFetch();
    stream.on('data', (res: WireFetchResponse) => {
      const pending = this.pending;
      if (pending === null) return;
      let id: number;
      try {
        id = wireToSafeInteger(res.correlationId, 'correlationId');
      } catch {
        return;
      }
      if (id !== pending.correlationId) return;
      this.pending = null;
      pending.resolve(res);
    });
    const fail = (e: unknown): void => {
      if (this.stream === stream) this.stream = null;
      const pending = this.pending;
      this.pending = null;
      pending?.reject(e instanceof FjordError ? e : fromServiceError(e));
    };
    stream.on('error', fail);
    stream.on('end', () => fail(new FjordError('NETWORK_EXCEPTION', 'replica fetch stream ended')));
    this.stream = stream;
    return stream;
  }

  private async sleep(ms: number): Promise<void> {
    if (this.closed) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
    });
  }

  private async loop(): Promise<void> {
    while (!this.closed && this.partitions.size > 0) {
      try {
        await this.truncatePending();
        if (this.closed) return;
        const fetching = [...this.partitions.values()].filter((p) => p.state === 'fetching');
        if (fetching.length === 0) {
          await this.sleep(this.options.backoffMs);
          continue;
        }
        await this.fetchOnce(fetching);
      } catch (e) {
        if (!isFjordError(e)) throw e;
        if (this.closed) return;
        this.logger.debug({ err: e }, 'replica fetch failed; backing off');
        this.resetConnection();
        await this.sleep(this.options.backoffMs);
      }
    }
  }

  private async truncatePending(): Promise<void> {
    const maxRounds = this.options.maxTruncationRounds ?? 16;
    for (const p of [...this.partitions.values()]) {
      if (p.state !== 'truncating' || this.closed) continue;
      for (let round = 0; ; round++) {
        const local = this.options.target.followerState(p.topic, p.partition, p.leaderEpoch);
        if (local === null) {
          this.partitions.delete(partitionKey(p.topic, p.partition));
          break;
        }
        if (local.latestEpoch < 0 || local.leo === local.logStartOffset) {
          p.state = 'fetching';
          break;
        }
        if (round >= maxRounds) throw new FjordError('UNKNOWN_SERVER_ERROR', `truncation of ${p.topic}-${p.partition} did not converge in ${maxRounds} rounds`);
        const answer = await this.askEpochEnd(p, local.latestEpoch);
        if (this.closed) return;
        if (this.partitions.get(partitionKey(p.topic, p.partition)) !== p) break;
        const decision = decideTruncation({ localEpochs: local.epochEntries, localLeo: local.leo, leaderEpochEnd: answer });
        if (decision.truncateTo < local.leo) this.options.target.truncate(p.topic, p.partition, p.leaderEpoch, decision.truncateTo);
        if (decision.done) {
          p.state = 'fetching';
          break;
        }
      }
    }
  }

  private askEpochEnd(p: Followed, epoch: number): Promise<{ epoch: number; endOffset: number }> {
    const client = this.connect();
    return new Promise((resolve, reject) => {
      // Bounded like a fetch round: a leader that stopped answering must not park the loop.
      const deadline = Date.now() + this.options.maxWaitMs + EPOCH_REQUEST_TIMEOUT_MS;
      const call = client.offsetForLeaderEpoch(
        { replicaId: this.options.brokerId, partitions: [{ topic: p.topic, partition: p.partition, currentLeaderEpoch: p.leaderEpoch, leaderEpoch: epoch }] },
        { deadline },
        (err, res) => {
          if (this.epochCall === call) this.epochCall = null;
          if (err !== null || res === undefined) {
            reject(fromServiceError(err));
            return;
          }
          const r = res.partitions[0];
          if (r === undefined) {
            reject(new FjordError('UNKNOWN_SERVER_ERROR', 'empty OffsetForLeaderEpoch answer'));
            return;
          }
          const error = errorFromFields(r);
          if (error !== null) {
            reject(error);
            return;
          }
          try {
            resolve({ epoch: r.leaderEpoch, endOffset: wireToSafeInteger(r.endOffset, 'endOffset') });
          } catch (e) {
            reject(e instanceof FjordError ? e : new FjordError('UNKNOWN_SERVER_ERROR', String(e)));
          }
        },
      );
      this.epochCall = call;
    });
  }

  private async fetchOnce(fetching: readonly Followed[]): Promise<void> {
    const requestParts: { topic: string; partition: number; fetchOffset: number; currentLeaderEpoch: number; partitionMaxBytes: number }[] = [];
    for (const p of fetching) {
      const local = this.options.target.followerState(p.topic, p.partition, p.leaderEpoch);
      if (local === null) {
        this.partitions.delete(partitionKey(p.topic, p.partition));
        continue;
      }
      requestParts.push({ topic: p.topic, partition: p.partition, fetchOffset: local.leo, currentLeaderEpoch: p.leaderEpoch, partitionMaxBytes: this.options.partitionMaxBytes });
    }
    if (requestParts.length === 0 || this.closed) return;
    const stream = this.openStream();
    const correlationId = ++this.correlationId;
    const response = new Promise<WireFetchResponse>((resolve, reject) => {
      this.pending = { correlationId, resolve, reject };
    });
    stream.write({
      replicaId: this.options.brokerId,
      brokerEpoch: this.options.brokerEpoch(),
      maxWaitMs: this.options.maxWaitMs,
      minBytes: 1,
      maxBytes: this.options.maxBytes,
      partitions: requestParts,
      correlationId,
    });
    const res = await response;
    let backoff = false;
    for (const r of res.partitions) {
      const p = this.partitions.get(partitionKey(r.topic, r.partition));
      if (p === undefined || p.state !== 'fetching') continue;
      const error = errorFromFields(r);
      if (error !== null) {
        if (error.code === 'OFFSET_OUT_OF_RANGE') {
          const leaderStart = wireToSafeInteger(r.logStartOffset, 'logStartOffset');
          const local = this.options.target.followerState(p.topic, p.partition, p.leaderEpoch);
          if (local !== null && leaderStart > local.leo) this.options.target.resetTo(p.topic, p.partition, p.leaderEpoch, leaderStart);
          else p.state = 'truncating';
        }
        // NOT_LEADER / FENCED / UNKNOWN_LEADER_EPOCH: wait for metadata to move us.
        this.logger.debug({ topic: r.topic, partition: r.partition, err: error }, 'replica fetch partition error');
        backoff = true;
        continue;
      }
      this.options.target.append(p.topic, p.partition, p.leaderEpoch, r.records, wireToSafeInteger(r.highWatermark, 'highWatermark'));
    }
    if (backoff) await this.sleep(this.options.backoffMs);
  }
}
