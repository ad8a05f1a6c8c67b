// Goal: after a crash, reopening keeps exactly the valid prefix of the log
// (after Kafka's LogLoaderTest.testCorruptLog). The active segment is cut at
// every byte around every batch boundary (±1, ±3) and at seeded random points,
// random garbage is appended, and the reopened log must hold exactly the whole
// batches before the cut, with indexes equal to those a full scan derives.
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '@fjord/protocol';
import { LEADER_EPOCH_CHECKPOINT_FILE, PartitionLog, indexFileName, logFileName, timeIndexFileName } from '@fjord/storage';
import {
  expectedIndexes,
  makeBatch,
  makeTempDir,
  readOffsetIndexFile,
  readTimeIndexFile,
  removeDir,
  scanLogFile,
  testSeed,
  type ScannedBatch,
} from './helpers.js';

const config = { segmentBytes: 8000, indexIntervalBytes: 300 };
// These tests simulate process crashes (closeUnclean: the page cache survives),
// so fsync adds nothing but time; the last describe block keeps real fsyncs.
const unsafeNoFsync = true;

function captureLogger(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { logger, lines };
}

function copyDir(from: string, to: string): void {
  fs.rmSync(to, { recursive: true, force: true });
  fs.mkdirSync(to);
  for (const name of fs.readdirSync(from)) fs.copyFileSync(path.join(from, name), path.join(to, name));
}

/** Reads the whole log from its start, batch by batch, as one buffer. */
function readAll(log: PartitionLog): Buffer {
  const parts: Buffer[] = [];
  let offset = log.logStartOffset;
  while (offset < log.logEndOffset) {
    const r = log.read({ fetchOffset: offset, maxBytes: 1 << 20 });
    expect(r.batchCount).toBeGreaterThan(0);
    parts.push(r.records);
    offset = r.nextFetchOffset;
  }
  return Buffer.concat(parts);
}

/** Checks each segment's index files against the entries a full scan of its .log derives. */
function expectIndexesMatchScan(dir: string, bases: readonly number[]): void {
  for (const base of bases) {
    const scan = scanLogFile(path.join(dir, logFileName(base)));
    expect(scan.validBytes).toBe(fs.statSync(path.join(dir, logFileName(base))).size);
    const want = expectedIndexes(scan.batches, config.indexIntervalBytes, base, true);
    expect(readOffsetIndexFile(path.join(dir, indexFileName(base)), base)).toEqual(want.offsets);
    expect(readTimeIndexFile(path.join(dir, timeIndexFileName(base)), base)).toEqual(want.times);
  }
}

describe('crash recovery of the active segment', () => {
  const seed = testSeed();
  let template: string;
  let work: string;
  let activeBase: number;
  let activeBatches: ScannedBatch[];
  let fullBytes: Buffer;
  let closedBytes: number;

  beforeAll(() => {
    const rng = new Rng(seed);
    template = makeTempDir('fjord-crash-template-');
    work = makeTempDir('fjord-crash-work-');
    const log = PartitionLog.open({ dir: template, config, unsafeNoFsync });
    let epoch = 0;
    let inActive = 0;
    for (let i = 0; log.segmentCount < 4 || inActive < 24; i++) {
      if (i % 37 === 0) epoch++;
      const segmentsBefore = log.segmentCount;
      log.append([makeBatch(rng, { count: 1 + rng.int(5), valueBytes: rng.int(150), timestamp: 1_000_000 + i * 10 })], { leaderEpoch: epoch });
      inActive = log.segmentCount === segmentsBefore ? inActive + 1 : 1;
      if (i === 30) log.flush(); // the recovery point lands in an early segment
    }
    fullBytes = readAll(log);
    log.closeUnclean();
    const bases = fs
      .readdirSync(template)
      .filter((n) => n.endsWith('.log'))
      .map((n) => Number(n.slice(0, 20)))
      .sort((a, b) => a - b);
    expect(bases.length).toBeGreaterThan(3);
    activeBase = bases[bases.length - 1] as number;
    activeBatches = scanLogFile(path.join(template, logFileName(activeBase))).batches;
    expect(activeBatches.length).toBeGreaterThan(10);
    closedBytes = fullBytes.length - activeBatches.reduce((n, b) => n + b.sizeBytes, 0);
  });

  afterAll(() => {
    removeDir(template);
    removeDir(work);
  });

  function cutAndReopen(cut: number, garbage: Buffer): void {
    try {
      cutAndReopenUnchecked(cut, garbage);
    } catch (e) {
      throw new Error(`crash test failed: FJORD_STORAGE_SEED=${seed}, cut ${cut}, garbage ${garbage.length} bytes: ${String(e)}`, { cause: e });
    }
  }

  function cutAndReopenUnchecked(cut: number, garbage: Buffer): void {
    copyDir(template, work);
    const file = path.join(work, logFileName(activeBase));
    fs.truncateSync(file, cut);
    if (garbage.length > 0) fs.appendFileSync(file, garbage);
    const { logger, lines } = captureLogger();
    // The oracle: an independent CRC scan of the damaged file. It normally keeps
    // exactly the batches that end before the cut; it keeps one more only when the
    // garbage happens to restore the cut bytes (then that batch is valid again).
    const kept = scanLogFile(file).batches;
    const strict = activeBatches.filter((b) => b.position + b.sizeBytes <= cut);
    expect(kept.length === strict.length || (kept.length === strict.length + 1 && cut + garbage.length >= (kept[kept.length - 1] as ScannedBatch).position)).toBe(true);
    for (let i = 0; i < kept.length; i++) expect(kept[i]).toEqual(activeBatches[i]);
    const lastKept = kept[kept.length - 1];
    const expectedLeo = lastKept === undefined ? activeBase : lastKept.lastOffset + 1;
    const keptBytes = kept.reduce((n, b) => n + b.sizeBytes, 0);
    const log = PartitionLog.open({ dir: work, config, logger, unsafeNoFsync });
    const where = `seed ${seed} (FJORD_STORAGE_SEED=${seed}), cut ${cut}, garbage ${garbage.length}`;
    expect(log.openedCleanly, where).toBe(false);
    expect(log.logEndOffset, where).toBe(expectedLeo);
    expect(fs.statSync(file).size, where).toBe(keptBytes);
    expect(readAll(log).equals(fullBytes.subarray(0, closedBytes + keptBytes)), where).toBe(true);
    const recovered = lines.filter((l) => l.msg === 'segment recovered' && l.baseOffset === activeBase);
    expect(recovered.length, where).toBe(1);
    expect(recovered[0]?.bytesTruncated, where).toBe(cut + garbage.length - keptBytes);
    expect(recovered[0]?.component).toBe('partition-log');
    // Appends continue right after the valid prefix; then a clean close persists the indexes.
    const more = makeBatch(new Rng(cut), { count: 2, timestamp: 5_000_000 });
    expect(log.append([more], { leaderEpoch: 1000 }).baseOffset, where).toBe(expectedLeo);
    log.close();
    expectIndexesMatchScan(work, log.segmentBaseOffsets());
  }

  it('cuts at every byte within ±3 of every batch boundary, with and without garbage', () => {
    const rng = new Rng(seed + 1);
    const end = activeBatches.reduce((n, b) => Math.max(n, b.position + b.sizeBytes), 0);
    const boundaries = [...activeBatches.map((b) => b.position), end];
    const cuts = new Set<number>();
    for (const b of boundaries) for (const d of [-3, -2, -1, 0, 1, 2, 3]) if (b + d >= 0 && b + d <= end) cuts.add(b + d);
    for (const cut of cuts) cutAndReopen(cut, Buffer.alloc(0));
    // Garbage after the cut: at every boundary and one byte either side.
    for (const b of boundaries) for (const d of [-1, 0, 1]) if (b + d >= 0 && b + d <= end) cutAndReopen(b + d, rng.bytes(1 + rng.int(120)));
  });

  it('cuts at seeded random points, with random garbage', () => {
    const rng = new Rng(seed + 2);
    const end = activeBatches.reduce((n, b) => Math.max(n, b.position + b.sizeBytes), 0);
    for (let i = 0; i < 40; i++) cutAndReopen(rng.int(end + 1), rng.chance(1, 4) ? Buffer.alloc(0) : rng.bytes(rng.int(300)));
  });

  it('garbage that starts like a batch header (a length that points past the end) is cut too', () => {
    const end = activeBatches.reduce((n, b) => Math.max(n, b.position + b.sizeBytes), 0);
    const fake = Buffer.alloc(80);
    fake.writeInt32BE(1000, 8);
    fake.writeInt8(2, 16);
    cutAndReopen(end, fake);
  });
});

describe('recovery beyond the active segment', () => {
  it('a corrupt batch in a segment after the recovery point truncates there and deletes later segments', () => {
    const dir = makeTempDir();
    const rng = new Rng(77);
    const log = PartitionLog.open({ dir, config });
    for (let i = 0; i < 100; i++) log.append([makeBatch(rng, { valueBytes: 100 })], { leaderEpoch: 1 });
    const bases = log.segmentBaseOffsets();
    log.closeUnclean();
    const victim = bases[1] as number;
    const file = path.join(dir, logFileName(victim));
    const batches = scanLogFile(file).batches;
    const target = batches[3] as ScannedBatch;
    const bytes = fs.readFileSync(file);
    bytes[target.position + 70] = (bytes[target.position + 70] as number) ^ 0x55;
    fs.writeFileSync(file, bytes);
    const reopened = PartitionLog.open({ dir, config });
    expect(reopened.logEndOffset).toBe(target.baseOffset);
    expect(reopened.segmentBaseOffsets()).toEqual([bases[0], victim]);
    expect(fs.existsSync(path.join(dir, logFileName(bases[2] as number)))).toBe(false);
    reopened.close();
    removeDir(dir);
  });

  it('segments below the recovery point are not scanned; a clean open scans nothing', () => {
    const dir = makeTempDir();
    const rng = new Rng(78);
    let log = PartitionLog.open({ dir, config });
    for (let i = 0; i < 100; i++) log.append([makeBatch(rng, { valueBytes: 100 })], { leaderEpoch: 1 });
    log.flush();
    log.append([makeBatch(rng, { valueBytes: 100 })], { leaderEpoch: 1 });
    const segments = log.segmentCount;
    log.closeUnclean();
    let cap = captureLogger();
    log = PartitionLog.open({ dir, config, logger: cap.logger });
    expect(cap.lines.filter((l) => l.msg === 'segment recovered').length).toBe(1);
    expect(segments).toBeGreaterThan(2);
    log.close();
    cap = captureLogger();
    log = PartitionLog.open({ dir, config, logger: cap.logger });
    expect(log.openedCleanly).toBe(true);
    expect(cap.lines.filter((l) => l.msg === 'segment recovered').length).toBe(0);
    log.close();
    removeDir(dir);
  });

  it('a flushed segment whose index is missing is rebuilt (logged); one with a corrupt batch is refused, not cut', () => {
    const dir = makeTempDir();
    const rng = new Rng(80);
    let log = PartitionLog.open({ dir, config });
    for (let i = 0; i < 100; i++) log.append([makeBatch(rng, { valueBytes: 100 })], { leaderEpoch: 1 });
    const bases = log.segmentBaseOffsets();
    log.close();
    fs.rmSync(path.join(dir, indexFileName(bases[0] as number)));
    fs.rmSync(path.join(dir, indexFileName(bases[1] as number)));
    const file = path.join(dir, logFileName(bases[1] as number));
    const bytes = fs.readFileSync(file);
    bytes[bytes.length - 20] = (bytes[bytes.length - 20] as number) ^ 0x01;
    fs.writeFileSync(file, bytes);
    const cap = captureLogger();
    log = PartitionLog.open({ dir, config, logger: cap.logger });
    expect(log.read({ fetchOffset: 0, maxBytes: 100 }).batchCount).toBe(1);
    expect(cap.lines.filter((l) => l.msg === 'index rebuilt').map((l) => l.baseOffset)).toEqual([bases[0]]);
    for (let attempt = 0; attempt < 2; attempt++) {
      let code: unknown;
      try {
        log.read({ fetchOffset: bases[1] as number, maxBytes: 100 });
      } catch (e) {
        code = (e as { code?: string }).code;
      }
      expect(code).toBe('KAFKA_STORAGE_ERROR');
    }
    expect(fs.statSync(file).size).toBe(bytes.length);
    expect(log.read({ fetchOffset: bases[2] as number, maxBytes: 100 }).batchCount).toBe(1);
    log.close();
    // Nothing was persisted for the corrupt segment: the next open refuses it again.
    expect(fs.existsSync(path.join(dir, indexFileName(bases[1] as number)))).toBe(false);
    log = PartitionLog.open({ dir, config });
    expect(() => log.read({ fetchOffset: bases[1] as number, maxBytes: 100 })).toThrow(/corrupt/);
    log.close();
    removeDir(dir);
  });

  it('a corrupt leader-epoch checkpoint is rebuilt from the batches', () => {
    const dir = makeTempDir();
    const rng = new Rng(79);
    let log = PartitionLog.open({ dir, config });
    for (let i = 0; i < 30; i++) log.append([makeBatch(rng, { count: 2, valueBytes: 100 })], { leaderEpoch: 1 + Math.floor(i / 10) * 2 });
    const epochs = log.epochEntries().map((e) => ({ ...e }));
    log.close();
    fs.writeFileSync(path.join(dir, LEADER_EPOCH_CHECKPOINT_FILE), 'garbage\n');
    log = PartitionLog.open({ dir, config });
    expect(log.openedCleanly).toBe(false);
    expect(log.epochEntries()).toEqual(epochs);
    expect(epochs.length).toBe(3);
    log.close();
    removeDir(dir);
  });
});
