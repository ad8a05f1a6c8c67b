/**
 * Shared pieces of the Fjord-vs-NATS bench: knobs (env, defaults are issue 5's
 * sizes), payloads with the record id inside, timing helpers and the figure
 * set each system reports.
 */

function knob(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}=${raw}: expected a positive number`);
  return n;
}

export const KNOBS = {
  /** Records of the R3 publish-throughput run; the consume run reads 1,000,000 of them back. */
  records: knob('BENCH_RECORDS', 1_000_000),
  recordBytes: 100,
  /** A publish run stops issuing records after this long (a slow system publishes fewer; the rate is what counts). */
  publishMaxSeconds: knob('BENCH_PUBLISH_MAX_SECONDS', 20),
  latencyRatePerSec: knob('BENCH_LATENCY_RATE', 5_000),
  latencySeconds: knob('BENCH_LATENCY_SECONDS', 10),
  singleNodeRecords: knob('BENCH_SINGLE_RECORDS', 500_000),
  failoverRatePerSec: knob('BENCH_FAILOVER_RATE', 2_000),
  failoverBeforeMs: knob('BENCH_FAILOVER_BEFORE_MS', 3_000),
  failoverAfterMs: knob('BENCH_FAILOVER_AFTER_MS', 10_000),
  /** NATS: outstanding async publishes (the "window of acks"). */
  natsWindow: knob('BENCH_NATS_WINDOW', 1_024),
  /** Fjord: partitions of the R3 topic (1: one ordered log, like one NATS stream). */
  fjordPartitions: knob('BENCH_PARTITIONS', 1),
} as const;

/** What each system reports (the JSON line's keys; issue 5 "Benchmark"). */
export interface Figures {
  publishR3PerSec: number | null;
  latencyP50Ms: number | null;
  latencyP99Ms: number | null;
  latencyP999Ms: number | null;
  consumePerSec: number | null;
  singleNodePublishPerSec: number | null;
  failoverGapMs: number | null;
  lost: number | null;
  duplicated: number | null;
}

export function emptyFigures(): Figures {
  return {
    publishR3PerSec: null,
    latencyP50Ms: null,
    latencyP99Ms: null,
    latencyP999Ms: null,
    consumePerSec: null,
    singleNodePublishPerSec: null,
    failoverGapMs: null,
    lost: null,
    duplicated: null,
  };
}

/** A 100-byte record whose first 8 bytes are its id (big-endian), the rest filler. */
export function payloadFor(id: number, bytes = KNOBS.recordBytes): Buffer {
  const b = Buffer.alloc(bytes, 0x61);
  b.writeUIntBE(Math.floor(id / 0x1_0000_0000), 0, 2);
  b.writeUInt32BE(id >>> 0, 2);
  b.writeUInt16BE(0, 6);
  return b;
}

export function idOf(payload: Uint8Array): number {
  const b = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  return b.readUIntBE(0, 2) * 0x1_0000_0000 + b.readUInt32BE(2);
}

export function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function nowMs(): number {
  return performance.now();
}

/** Polls `f` until it returns non-null (errors count as "not yet"), or throws at the deadline. */
export async function until<T>(what: string, timeoutMs: number, f: () => Promise<T | null> | T | null): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  for (;;) {
    try {
      const v = await f();
      if (v !== null) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`bench: timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
    await sleep(20);
  }
}

export function percentile(sorted: Float64Array | readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

export function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
