/**
 * A consumer of assigned partitions (groups come with the next issue): it
 * fetches from each partition's leader from a position, long-polling, one
 * Fetch per leader broker per round; a round's batches are handed to the
 * caller before the next round is fetched, so the buffer is bounded by one
 * round (fetchMaxBytes per broker) and a slow caller slows fetching
 * (backpressure). Offers `run({ eachMessage, eachBatch })` and an async
 * iterator. Stale leaders and dropped connections refresh metadata and retry.
 */
import { FjordError, decodeRecordBatches, errorFromFields, wireToSafeInteger } from '@fjord/protocol';
import type { ConnectionPool } from '../connection-pool.js';
import type { MetadataCache } from '../metadata-cache.js';

export interface ConsumerOptions {
  maxWaitMs?: number;
  minBytes?: number;
  /** Most bytes of one fetch answer (per broker). */
  fetchMaxBytes?: number;
  partitionMaxBytes?: number;
  requestTimeoutMs?: number;
  /** Where to go when the position is out of range. */
  autoOffsetReset?: 'earliest' | 'latest';
  /** Pause after a failed round. */
  retryBackoffMs?: number;
}

export interface ConsumedMessage {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: { key: string; value: Buffer | null }[];
}

export interface ConsumedBatch {
  topic: string;
  partition: number;
  highWatermark: number;
  messages: ConsumedMessage[];
}

export interface Assignment {
  topic: string;
  partition: number;
  /** An offset, or earliest / latest (resolved with ListOffsets). */
  offset?: number | 'earliest' | 'latest';
}

interface Position {
  topic: string;
  partition: number;
  /** -1 earliest, -2 latest while unresolved. */
  offset: number;
  pending: 'earliest' | 'latest' | null;
}

export class Consumer {
  private readonly positions = new Map<string, Position>();
  private readonly opts: Required<ConsumerOptions>;
  private stopped = false;

  constructor(
    private readonly pool: ConnectionPool,
    private readonly metadata: MetadataCache,
    options: ConsumerOptions = {},
  ) {
    this.opts = {
      maxWaitMs: options.maxWaitMs ?? 500,
      minBytes: options.minBytes ?? 1,
      fetchMaxBytes: options.fetchMaxBytes ?? 16 * 1024 * 1024,
      partitionMaxBytes: options.partitionMaxBytes ?? 4 * 1024 * 1024,
      requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
      autoOffsetReset: options.autoOffsetReset ?? 'earliest',
      retryBackoffMs: options.retryBackoffMs ?? 100,
    };
  }

  assign(assignments: readonly Assignment[]): void {
    for (const a of assignments) {
      const o = a.offset ?? 'earliest';
      this.positions.set(`${a.topic}\u0000${a.partition}`, {
        topic: a.topic,
        partition: a.partition,
        offset: typeof o === 'number' ? o : -1,
        pending: typeof o === 'number' ? null : o,
      });
    }
  }

  position(topic: string, partition: number): number | undefined {
    const p = this.positions.get(`${topic}\u0000${partition}`);
    return p === undefined || p.pending !== null ? undefined : p.offset;
  }

  stop(): void {
    this.stopped = true;
  }

  /**
   * Rounds of batches. One round is fetched ahead while the caller handles
   * the current one (bounded: one round, fetchMaxBytes per broker), so the
   * network and the broker work while the caller does. A round moves the
   * positions only when it is handed over: a round fetched ahead and dropped
   * (stop, an error, the caller leaving the loop) moves nothing.
   */
  async *batches(): AsyncGenerator<ConsumedBatch> {
    this.stopped = false;
    let ahead: Promise<Round> | null = null;
    while (!this.stopped) {
      let round: Round;
      try {
        round = await (ahead ?? this.pollRound());
      } catch (e) {
        ahead = null;
        if (!(e instanceof FjordError) || !e.retriable) throw e;
        await this.metadata.refresh().catch(() => undefined);
        await new Promise<void>((resolve) => setTimeout(resolve, this.opts.retryBackoffMs));
        continue;
      }
      ahead = null;
      round.apply();
      if (round.stale) await this.metadata.refresh().catch(() => undefined);
      if (this.stopped) return;
      ahead = this.pollRound();
      // Observed here so a round dropped unawaited is no unhandled rejection; awaited above otherwise.
      ahead.catch(() => undefined);
      for (const b of round.batches) {
        if (this.stopped) return;
        yield b;
      }
    }
  }

  async *messages(): AsyncGenerator<ConsumedMessage> {
    for await (const b of this.batches()) yield* b.messages;
  }

  async run(handlers: { eachBatch?: (b: ConsumedBatch) => Promise<void> | void; eachMessage?: (m: ConsumedMessage) => Promise<void> | void }): Promise<void> {
    for await (const b of this.batches()) {
      if (handlers.eachBatch !== undefined) await handlers.eachBatch(b);
      if (handlers.eachMessage !== undefined) for (const m of b.messages) await handlers.eachMessage(m);
    }
  }

  private async resolvePending(): Promise<void> {
    for (const p of this.positions.values()) {
      if (p.pending === null) continue;
      const leader = await this.leaderOf(p.topic, p.partition);
      const res = await this.pool.call<{ topics: { partitions: { errorCode: string; errorMessage: string; offset: string }[] }[] }>(
        leader.address,
        'listOffsets',
        { topics: [{ name: p.topic, partitions: [{ partition: p.partition, timestamp: p.pending === 'earliest' ? -2 : -1, currentLeaderEpoch: leader.epoch }] }] },
        this.opts.requestTimeoutMs,
      );
      const r = res.topics[0]?.partitions[0];
      if (r === undefined) throw new FjordError('UNKNOWN_SERVER_ERROR', 'empty ListOffsets answer');
      const err = errorFromFields(r);
      if (err !== null) throw err;
      p.offset = wireToSafeInteger(r.offset, 'offset');
      p.pending = null;
    }
  }

  private async leaderOf(topic: string, partition: number): Promise<{ address: string; epoch: number; leaderId: number }> {
    const info = (await this.metadata.partitionsOf(topic)).partitions[partition];
    if (info === undefined) throw new FjordError('UNKNOWN_TOPIC_OR_PARTITION', `${topic} has no partition ${partition}`);
    const address = this.metadata.brokerAddress(info.leaderId);
    if (info.leaderId < 0 || address === undefined) throw new FjordError('LEADER_NOT_AVAILABLE', `${topic}-${partition} has no leader now`);
    return { address, epoch: info.leaderEpoch, leaderId: info.leaderId };
  }

  /** One round: one Fetch per leader broker, in parallel; positions move past what it returns. */
  async poll(): Promise<ConsumedBatch[]> {
    const round = await this.pollRound();
    round.apply();
    if (round.stale) await this.metadata.refresh().catch(() => undefined);
    return round.batches;
  }

  /** A round whose position changes wait in `apply`, so a round fetched ahead can be dropped. */
  private async pollRound(): Promise<Round> {
    await this.resolvePending();
    const byLeader = new Map<string, { pos: Position; epoch: number }[]>();
    for (const pos of this.positions.values()) {
      const leader = await this.leaderOf(pos.topic, pos.partition);
      const list = byLeader.get(leader.address) ?? [];
      byLeader.set(leader.address, list);
      list.push({ pos, epoch: leader.epoch });
    }
    const rounds = await Promise.all([...byLeader].map(([address, parts]) => this.fetchFrom(address, parts)));
    const batches: ConsumedBatch[] = [];
    const moves: (() => void)[] = [];
    let stale = false;
    for (const r of rounds) {
      for (const b of r.batches) batches.push(b);
      for (const m of r.moves) moves.push(m);
      stale ||= r.stale;
    }
    return {
      batches,
      stale,
      apply: () => {
        for (const m of moves) m();
      },
    };
  }

  private async fetchFrom(address: string, parts: { pos: Position; epoch: number }[]): Promise<{ batches: ConsumedBatch[]; moves: (() => void)[]; stale: boolean }> {
    const topics = new Map<string, unknown[]>();
    const fetchOffsets = new Map<Position, number>();
    for (const { pos, epoch } of parts) {
      const list = topics.get(pos.topic) ?? [];
      topics.set(pos.topic, list);
      fetchOffsets.set(pos, pos.offset);
      list.push({ partition: pos.partition, fetchOffset: pos.offset, partitionMaxBytes: this.opts.partitionMaxBytes, currentLeaderEpoch: epoch });
    }
    let res: { topics: { name: string; partitions: { partition: number; errorCode: string; errorMessage: string; highWatermark: string; records: Buffer }[] }[] };
    try {
      res = await this.pool.call(
        address,
        'fetch',
        { maxWaitMs: this.opts.maxWaitMs, minBytes: this.opts.minBytes, maxBytes: this.opts.fetchMaxBytes, topics: [...topics].map(([name, partitions]) => ({ name, partitions })) },
        this.opts.requestTimeoutMs + this.opts.maxWaitMs,
      );
    } catch (e) {
      if (e instanceof FjordError && e.code === 'NETWORK_EXCEPTION') this.pool.reset(address);
      throw e;
    }
    const out: ConsumedBatch[] = [];
    const moves: (() => void)[] = [];
    let stale = false;
    for (const t of res.topics) {
      for (const p of t.partitions) {
        const pos = this.positions.get(`${t.name}\u0000${p.partition}`);
        if (pos === undefined) continue;
        const from = fetchOffsets.get(pos);
        if (from === undefined) continue;
        const err = errorFromFields(p);
        if (err !== null) {
          if (err.code === 'OFFSET_OUT_OF_RANGE') moves.push(() => {
            if (pos.offset === from) pos.pending = this.opts.autoOffsetReset;
          });
          else if (err.retriable) stale = true;
          else throw err;
          continue;
        }
        if (p.records.length === 0) continue;
        const messages: ConsumedMessage[] = [];
        let next = from;
        for (const b of await decodeRecordBatches(p.records)) {
          const end = b.header.baseOffset + b.header.lastOffsetDelta + 1;
          if (!b.isControl) {
            for (const r of b.records) {
              if (r.offset < next) continue;
              messages.push({ topic: t.name, partition: p.partition, offset: r.offset, timestamp: r.timestamp, key: r.key, value: r.value, headers: r.headers as { key: string; value: Buffer | null }[] });
            }
          }
          if (end > next) next = end;
        }
        // Applied when the round is handed over, and only if nothing moved the position meanwhile (assign, seek).
        moves.push(() => {
          if (pos.offset === from && pos.pending === null) pos.offset = next;
        });
        out.push({ topic: t.name, partition: p.partition, highWatermark: wireToSafeInteger(p.highWatermark, 'highWatermark'), messages });
      }
    }
    return { batches: out, moves, stale };
  }
}

interface Round {
  batches: ConsumedBatch[];
  stale: boolean;
  apply: () => void;
}
