/**
 * Storage benchmark (not a test): `npm run bench -w @fjord/storage`.
 *
 * Measured in one run, side by side with the raw filesystem doing the same work:
 * - append: 1 KiB records in batches of 100 (one batch per append call, so each
 *   call validates the CRC, stamps, and does one writev) vs raw fs.writeSync of
 *   the same bytes to a plain file;
 * - sequential read from the page cache (1 MiB reads) vs raw fs.readSync;
 * - index lookup (random fetch offset -> segment + file position): p50 / p99
 *   (median of 5 rounds of 50k lookups);
 * - recovery: open after an unclean stop with a 1 GiB active segment (every
 *   batch's length and CRC checked).
 * Prints a table, then one JSON object as the last line.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Rng, checkBatch, encodeRecordBatchSync } from '@fjord/protocol';
import { PartitionLog } from '@fjord/storage';

const MB = 1e6;
const MIB = 1024 * 1024;
const RECORD_BYTES = 1024;
const RECORDS_PER_BATCH = 100;
const APPEND_TOTAL_BYTES = Number(process.env.FJORD_BENCH_APPEND_MIB ?? '512') * MIB;
const RECOVERY_BYTES = Number(process.env.FJORD_BENCH_RECOVERY_MIB ?? '1024') * MIB;
const READ_CHUNK = MIB;
const LOOKUPS_PER_ROUND = 50_000;
/** Each measurement is repeated, alternating with its raw baseline; best (or median) is kept. The VM is shared. */
const ROUNDS = 5;

/** Collect garbage before each timed loop (node --expose-gc), so one loop does not pay another's GC debt. */
function settle(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

function now(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

function makeBatches(n: number): Buffer[] {
  const rng = new Rng(7);
  const out: Buffer[] = [];
  for (let b = 0; b < n; b++) {
    const records = [];
    for (let i = 0; i < RECORDS_PER_BATCH; i++) records.push({ key: rng.bytes(8), value: rng.bytes(RECORD_BYTES), timestamp: 1_700_000_000_000 + b });
    out.push(encodeRecordBatchSync({ records }));
  }
  return out;
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] as number;
}

function appendOnce(dir: string, batches: Buffer[], count: number): number {
  fs.rmSync(dir, { recursive: true, force: true });
  const log = PartitionLog.open({ dir, config: { segmentBytes: 256 * MIB } });
  settle();
  const t0 = now();
  for (let i = 0; i < count; i++) log.append([batches[i % batches.length] as Buffer], { leaderEpoch: 0 });
  const ms = now() - t0;
  log.closeUnclean();
  return ms;
}

function rawWriteOnce(file: string, batches: Buffer[], count: number): number {
  fs.rmSync(file, { force: true });
  const fd = fs.openSync(file, 'w');
  settle();
  const t0 = now();
  let pos = 0;
  for (let i = 0; i < count; i++) {
    const b = batches[i % batches.length] as Buffer;
    pos += fs.writeSync(fd, b, 0, b.length, pos);
  }
  const ms = now() - t0;
  fs.closeSync(fd);
  return ms;
}

function main(): void {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fjord-storage-bench-'));
  const logDir = path.join(root, 'log');
  const rawFile = path.join(root, 'raw.bin');
  const recoveryDir = path.join(root, 'recovery');
  try {
    const batches = makeBatches(64);
    const batchBytes = (batches[0] as Buffer).length;
    const count = Math.floor(APPEND_TOTAL_BYTES / batchBytes);
    const totalBytes = count * batchBytes;

    // Append vs raw write: alternate, best of ROUNDS each (the page cache and writeback vary).
    let appendMs = Infinity;
    let rawMs = Infinity;
    for (let r = 0; r < ROUNDS; r++) {
      rawMs = Math.min(rawMs, rawWriteOnce(rawFile, batches, count));
      appendMs = Math.min(appendMs, appendOnce(logDir, batches, count));
    }
    const appendMBps = totalBytes / MB / (appendMs / 1000);
    const rawWriteMBps = totalBytes / MB / (rawMs / 1000);
    const appendRecordsPerSec = (count * RECORDS_PER_BATCH) / (appendMs / 1000);
    // What validation alone costs (length, magic, CRC32C of every batch): the
    // part of an append that a raw write does not do.
    let checkMs = Infinity;
    for (let r = 0; r < ROUNDS; r++) {
      settle();
      const t0 = now();
      for (let i = 0; i < count; i++) {
        const b = batches[i % batches.length] as Buffer;
        checkBatch(b, 0, b.length, { maxBatchBytes: 2 * batchBytes, requireDenseOffsets: true });
      }
      checkMs = Math.min(checkMs, now() - t0);
    }
    const checkBatchMBps = totalBytes / MB / (checkMs / 1000);

    // Sequential read from the page cache, 1 MiB at a time, alternating with raw fs.readSync.
    const log = PartitionLog.open({ dir: logDir, config: { segmentBytes: 256 * MIB } });
    let readMs = Infinity;
    let readBytes = 0;
    let rawReadMs = Infinity;
    const rawSize = fs.statSync(rawFile).size;
    for (let r = 0; r < ROUNDS; r++) {
      let offset = log.logStartOffset;
      let bytes = 0;
      settle();
      const t0 = now();
      while (offset < log.logEndOffset) {
        const res = log.read({ fetchOffset: offset, maxBytes: READ_CHUNK });
        bytes += res.records.length;
        offset = res.nextFetchOffset;
      }
      readMs = Math.min(readMs, now() - t0);
      readBytes = bytes;
      const fd = fs.openSync(rawFile, 'r');
      settle();
      const t1 = now();
      for (let pos = 0; pos < rawSize; ) {
        const buf = Buffer.allocUnsafe(READ_CHUNK);
        const n = fs.readSync(fd, buf, 0, READ_CHUNK, pos);
        if (n === 0) break;
        pos += n;
      }
      rawReadMs = Math.min(rawReadMs, now() - t1);
      fs.closeSync(fd);
    }
    const readMBps = readBytes / MB / (readMs / 1000);
    const rawReadMBps = rawSize / MB / (rawReadMs / 1000);

    // Random index lookups: offset -> (segment, position of the batch holding it).
    const rng = new Rng(11);
    const leo = log.logEndOffset;
    for (let i = 0; i < 10_000; i++) log.lookupPosition(rng.int(leo));
    // Per round: p50 and p99 of LOOKUPS_PER_ROUND random lookups; report the median round
    // (one round hit by a neighbour's CPU burst does not decide the figure).
    const p50s: number[] = [];
    const p99s: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const samples = new Float64Array(LOOKUPS_PER_ROUND);
      settle();
      for (let i = 0; i < LOOKUPS_PER_ROUND; i++) {
        const offset = rng.int(leo);
        const t0 = process.hrtime.bigint();
        log.lookupPosition(offset);
        samples[i] = Number(process.hrtime.bigint() - t0) / 1000;
      }
      samples.sort();
      p50s.push(percentile(samples, 0.5));
      p99s.push(percentile(samples, 0.99));
    }
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
    const indexLookupP50Us = median(p50s);
    const indexLookupP99Us = median(p99s);
    const segments = log.segmentCount;
    log.close();
    fs.rmSync(logDir, { recursive: true, force: true });
    fs.rmSync(rawFile, { force: true });

    // Recovery of a 1 GiB active segment after an unclean stop (recovery point 0).
    const rlog = PartitionLog.open({ dir: recoveryDir, config: { segmentBytes: 2047 * MIB } });
    const recoveryCount = Math.ceil(RECOVERY_BYTES / batchBytes);
    for (let i = 0; i < recoveryCount; i++) rlog.append([batches[i % batches.length] as Buffer], { leaderEpoch: 0 });
    const recoveryLeo = rlog.logEndOffset;
    const recoverySize = rlog.sizeBytes;
    rlog.closeUnclean();
    settle();
    const t0 = now();
    const reopened = PartitionLog.open({ dir: recoveryDir, config: { segmentBytes: 2047 * MIB } });
    const recoveryMs = now() - t0;
    if (reopened.logEndOffset !== recoveryLeo || reopened.openedCleanly) throw new Error('recovery lost data or skipped the scan');
    reopened.close();

    const result = {
      appendRecordsPerSec: Math.round(appendRecordsPerSec),
      appendMBps: Math.round(appendMBps),
      rawWriteMBps: Math.round(rawWriteMBps),
      appendRatioToRawWrite: Number((appendMBps / rawWriteMBps).toFixed(3)),
      checkBatchMBps: Math.round(checkBatchMBps),
      readMBps: Math.round(readMBps),
      rawReadMBps: Math.round(rawReadMBps),
      readRatioToRawRead: Number((readMBps / rawReadMBps).toFixed(3)),
      indexLookupP50Us: Number(indexLookupP50Us.toFixed(2)),
      indexLookupP99Us: Number(indexLookupP99Us.toFixed(2)),
      recovery1GiBMs: Math.round(recoveryMs),
      recoveryGBps: Number((recoverySize / 1e9 / (recoveryMs / 1000)).toFixed(2)),
      appendBytes: totalBytes,
      batchBytes,
      segments,
      recoveryBytes: recoverySize,
      node: process.version,
      cpus: os.cpus().length,
    };
    const rows: [string, string][] = [
      ['append (1 KiB records, 100/batch)', `${result.appendRecordsPerSec.toLocaleString('en-US')} rec/s, ${result.appendMBps} MB/s`],
      ['raw fs.writeSync, same bytes', `${result.rawWriteMBps} MB/s`],
      ['append / raw write', `${result.appendRatioToRawWrite}`],
      ['checkBatch alone (CRC32C etc.)', `${result.checkBatchMBps} MB/s`],
      ['sequential read (page cache, 1 MiB)', `${result.readMBps} MB/s`],
      ['raw fs.readSync, same bytes', `${result.rawReadMBps} MB/s (ratio ${result.readRatioToRawRead})`],
      ['index lookup p50 / p99', `${result.indexLookupP50Us} us / ${result.indexLookupP99Us} us (${segments} segments)`],
      ['recovery of a 1 GiB active segment', `${result.recovery1GiBMs} ms (${result.recoveryGBps} GB/s)`],
    ];
    const w = Math.max(...rows.map((r) => r[0].length));
    console.log(`@fjord/storage bench: ${(totalBytes / MIB).toFixed(0)} MiB appended in ${count} batches of ${batchBytes} B; node ${process.version}`);
    for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${v}`);
    console.log(JSON.stringify(result));
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

main();
