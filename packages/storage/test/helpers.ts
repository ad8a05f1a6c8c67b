// Shared test helpers: temp dirs, batch builders, directory snapshots and an
// independent scan of a .log file (the oracle the crash tests compare against).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LOG_OVERHEAD, Rng, checkBatch, encodeRecordBatchSync, readBatchHeader } from '@fjord/protocol';

export function makeTempDir(prefix = 'fjord-storage-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** An uncompressed batch of `count` records with payloads from `rng`; timestamps start at `timestamp`. */
export function makeBatch(rng: Rng, options: { count?: number; valueBytes?: number; timestamp?: number; timestampStep?: number } = {}): Buffer {
  const count = options.count ?? 1 + rng.int(4);
  const valueBytes = options.valueBytes ?? rng.int(200);
  const ts = options.timestamp ?? 1_700_000_000_000;
  const step = options.timestampStep ?? 1;
  const records = [];
  for (let i = 0; i < count; i++) {
    records.push({ key: rng.chance(1, 2) ? rng.bytes(1 + rng.int(8)) : null, value: rng.bytes(valueBytes), timestamp: ts + i * step });
  }
  return encodeRecordBatchSync({ records });
}

/** Batches with `count` records each; returned buffers are fresh (append stamps them in place). */
export function makeBatches(rng: Rng, n: number, options: Parameters<typeof makeBatch>[1] = {}): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) out.push(makeBatch(rng, options));
  return out;
}

/** Every file in `dir` with its bytes (to assert "changes nothing"). */
export function snapshotDir(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const name of fs.readdirSync(dir).sort()) {
    out.set(name, fs.readFileSync(path.join(dir, name)).toString('hex'));
  }
  return out;
}

export interface ScannedBatch {
  position: number;
  baseOffset: number;
  lastOffset: number;
  sizeBytes: number;
  maxTimestamp: number;
  partitionLeaderEpoch: number;
}

/** Valid prefix of a .log file, batch by batch (CRC-checked), independent of the storage code. */
export function scanLogFile(file: string): { batches: ScannedBatch[]; validBytes: number } {
  const buf = fs.readFileSync(file);
  const batches: ScannedBatch[] = [];
  let pos = 0;
  while (pos < buf.length) {
    try {
      const { header, sizeBytes } = checkBatch(buf, pos, buf.length, { maxBatchBytes: 1 << 30, requireDenseOffsets: false });
      batches.push({
        position: pos,
        baseOffset: header.baseOffset,
        lastOffset: header.baseOffset + header.lastOffsetDelta,
        sizeBytes,
        maxTimestamp: header.maxTimestamp,
        partitionLeaderEpoch: header.partitionLeaderEpoch,
      });
      pos += sizeBytes;
    } catch {
      break;
    }
  }
  return { batches, validBytes: pos };
}

/** The index entries the storage must produce for these batches (Kafka's per-batch rule). */
export function expectedIndexes(batches: readonly ScannedBatch[], indexIntervalBytes: number, baseOffset: number, closing: boolean): {
  offsets: [number, number][];
  times: [number, number][];
} {
  const offsets: [number, number][] = [];
  const times: [number, number][] = [];
  let since = 0;
  let maxTs = -1;
  let offsetOfMax = baseOffset;
  for (const b of batches) {
    if (b.maxTimestamp > maxTs) {
      maxTs = b.maxTimestamp;
      offsetOfMax = b.baseOffset;
    }
    if (since > indexIntervalBytes) {
      offsets.push([b.baseOffset, b.position]);
      const lastT = times.length > 0 ? (times[times.length - 1] as [number, number])[0] : -1;
      if (maxTs > lastT) times.push([maxTs, offsetOfMax]);
      since = 0;
    }
    since += b.sizeBytes;
  }
  if (closing) {
    const lastT = times.length > 0 ? (times[times.length - 1] as [number, number])[0] : -1;
    if (maxTs > lastT) times.push([maxTs, offsetOfMax]);
  }
  return { offsets, times };
}

export function readOffsetIndexFile(file: string, baseOffset: number): [number, number][] {
  const buf = fs.readFileSync(file);
  const out: [number, number][] = [];
  for (let p = 0; p + 8 <= buf.length; p += 8) out.push([baseOffset + buf.readUInt32BE(p), buf.readUInt32BE(p + 4)]);
  return out;
}

export function readTimeIndexFile(file: string, baseOffset: number): [number, number][] {
  const buf = fs.readFileSync(file);
  const out: [number, number][] = [];
  for (let p = 0; p + 12 <= buf.length; p += 12) out.push([Number(buf.readBigInt64BE(p)), baseOffset + buf.readUInt32BE(p + 8)]);
  return out;
}

/** Splits concatenated batches into [baseOffset, bytes] pairs. */
export function splitBatches(buf: Buffer): { baseOffset: number; lastOffset: number; bytes: Buffer }[] {
  const out: { baseOffset: number; lastOffset: number; bytes: Buffer }[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const h = readBatchHeader(buf, pos);
    const size = LOG_OVERHEAD + h.batchLength;
    out.push({ baseOffset: h.baseOffset, lastOffset: h.baseOffset + h.lastOffsetDelta, bytes: buf.subarray(pos, pos + size) });
    pos += size;
  }
  return out;
}

/** A seed from the environment (FJORD_STORAGE_SEED) or derived from the clock, printed on failure. */
export function testSeed(): number {
  const env = process.env.FJORD_STORAGE_SEED;
  if (env !== undefined && env !== '') return Number(env);
  return Date.now() % 1_000_000_007;
}
