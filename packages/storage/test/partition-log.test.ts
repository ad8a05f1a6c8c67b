// Goal: the partition log's basic contract on real files: offsets are assigned
// and stamped, reads return whole batches (at least one), segments roll on
// size / time / full index, indexes find every offset, the epoch cache follows
// appends and truncation, retention and deleteRecordsBefore advance the log start.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Rng, decodeRecordBatches, encodeRecordBatch, encodeRecordBatchSync, isFjordError, readBatchHeader } from '@fjord/protocol';
import { CLEAN_SHUTDOWN_FILE, PartitionLog, logFileName, type PartitionLogOptions } from '@fjord/storage';
import { makeBatch, makeBatches, makeTempDir, removeDir, splitBatches } from './helpers.js';

let dir: string;
beforeEach(() => {
  dir = makeTempDir();
});
afterEach(() => {
  removeDir(dir);
});

function open(options: Partial<PartitionLogOptions> = {}): PartitionLog {
  return PartitionLog.open({ dir, ...options });
}

describe('append and read', () => {
  it('assigns offsets from the log end, stamps them and the epoch in place, and reads them back', async () => {
    const rng = new Rng(1);
    const log = open();
    const b1 = makeBatch(rng, { count: 3 });
    const b2 = makeBatch(rng, { count: 2 });
    const crc = readBatchHeader(b1).crc;
    const r1 = log.append([b1], { leaderEpoch: 5 });
    expect(r1).toMatchObject({ baseOffset: 0, lastOffset: 2, logEndOffset: 3 });
    expect(readBatchHeader(b1)).toMatchObject({ baseOffset: 0, partitionLeaderEpoch: 5, crc });
    const r2 = log.append([b2], { leaderEpoch: 5 });
    expect(r2).toMatchObject({ baseOffset: 3, lastOffset: 4, logEndOffset: 5 });
    const read = log.read({ fetchOffset: 0, maxBytes: 1 << 20 });
    expect(read.records.equals(Buffer.concat([b1, b2]))).toBe(true);
    expect(read).toMatchObject({ firstOffset: 0, nextFetchOffset: 5, batchCount: 2, logEndOffset: 5, logStartOffset: 0 });
    const decoded = await decodeRecordBatches(read.records);
    expect(decoded.flatMap((d) => d.records.map((r) => r.offset))).toEqual([0, 1, 2, 3, 4]);
    log.close();
  });

  it('returns the batch holding a mid-batch fetch offset, at least one batch past maxBytes, and nothing at the LEO', () => {
    const rng = new Rng(2);
    const log = open();
    const batches = makeBatches(rng, 10, { count: 4, valueBytes: 100 });
    log.append(batches, { leaderEpoch: 0 });
    const mid = log.read({ fetchOffset: 6, maxBytes: 1 });
    expect(mid.batchCount).toBe(1);
    expect(mid.firstOffset).toBe(4);
    expect(mid.records.equals(batches[1] as Buffer)).toBe(true);
    expect(mid.nextFetchOffset).toBe(8);
    const atEnd = log.read({ fetchOffset: 40, maxBytes: 100 });
    expect(atEnd.records.length).toBe(0);
    expect(atEnd.nextFetchOffset).toBe(40);
    const two = log.read({ fetchOffset: 0, maxBytes: (batches[0] as Buffer).length + (batches[1] as Buffer).length + 5 });
    expect(two.batchCount).toBe(2);
    log.close();
  });

  it('honours maxOffset (exclusive): only batches ending below it', () => {
    const log = open();
    log.append(makeBatches(new Rng(3), 5, { count: 2 }), { leaderEpoch: 0 });
    expect(log.read({ fetchOffset: 0, maxBytes: 1 << 20, maxOffset: 4 }).nextFetchOffset).toBe(4);
    expect(log.read({ fetchOffset: 0, maxBytes: 1 << 20, maxOffset: 5 }).nextFetchOffset).toBe(4);
    expect(log.read({ fetchOffset: 4, maxBytes: 1 << 20, maxOffset: 5 }).batchCount).toBe(0);
    expect(log.read({ fetchOffset: 0, maxBytes: 1 << 20, maxOffset: 1 }).batchCount).toBe(0);
    log.close();
  });

  it('throws OFFSET_OUT_OF_RANGE below the log start and above the LEO', () => {
    const log = open();
    log.append(makeBatches(new Rng(4), 3), { leaderEpoch: 0 });
    const leo = log.logEndOffset;
    for (const fetchOffset of [-1, leo + 1]) {
      let err: unknown;
      try {
        log.read({ fetchOffset, maxBytes: 100 });
      } catch (e) {
        err = e;
      }
      expect(isFjordError(err, 'OFFSET_OUT_OF_RANGE')).toBe(true);
    }
    log.close();
  });
});

describe('segments and indexes', () => {
  it('rolls on segmentBytes and finds every offset through the sparse index, across reopen', () => {
    const rng = new Rng(5);
    const config = { segmentBytes: 4096, indexIntervalBytes: 256 };
    let log = open({ config });
    const all: Buffer[] = [];
    for (let i = 0; i < 200; i++) {
      const b = makeBatch(rng, { count: 1 + rng.int(3), valueBytes: rng.int(120) });
      log.append([b], { leaderEpoch: 0 });
      all.push(b);
    }
    expect(log.segmentCount).toBeGreaterThan(3);
    const check = (l: PartitionLog): void => {
      let offset = 0;
      for (const b of all) {
        const h = readBatchHeader(b);
        for (let o = h.baseOffset; o <= h.baseOffset + h.lastOffsetDelta; o++) {
          const r = l.read({ fetchOffset: o, maxBytes: 1 });
          expect(r.firstOffset).toBe(h.baseOffset);
          expect(r.records.equals(b)).toBe(true);
        }
        offset = h.baseOffset + h.lastOffsetDelta + 1;
      }
      expect(l.logEndOffset).toBe(offset);
    };
    check(log);
    log.close();
    log = open({ config });
    expect(log.openedCleanly).toBe(true);
    check(log);
    log.close();
  });

  it('rolls on a full index and on segment.ms (from the first batch timestamp)', () => {
    const rng = new Rng(6);
    const log = open({ config: { segmentIndexBytes: 48, indexIntervalBytes: 0 } });
    for (let i = 0; i < 20; i++) log.append([makeBatch(rng, { count: 1, timestamp: 1000 + i })], { leaderEpoch: 0 });
    // 48 bytes: 4 time-index entries, 6 offset entries; the first batch of a segment is not indexed.
    expect(log.segmentCount).toBe(4);
    log.close();
    removeDir(dir);
    dir = makeTempDir();
    const log2 = open({ config: { segmentMs: 1000 } });
    log2.append([makeBatch(rng, { count: 1, timestamp: 10_000 })], { leaderEpoch: 0 });
    log2.append([makeBatch(rng, { count: 1, timestamp: 10_900 })], { leaderEpoch: 0 });
    expect(log2.segmentCount).toBe(1);
    log2.append([makeBatch(rng, { count: 1, timestamp: 11_001 })], { leaderEpoch: 0 });
    expect(log2.segmentCount).toBe(2);
    log2.close();
  });

  it('keeps open segments within maxOpenSegments', () => {
    const rng = new Rng(7);
    const log = open({ config: { segmentBytes: 1024, maxOpenSegments: 3 } });
    for (let i = 0; i < 100; i++) log.append([makeBatch(rng, { valueBytes: 100 })], { leaderEpoch: 0 });
    expect(log.segmentCount).toBeGreaterThan(10);
    for (let o = 0; o < log.logEndOffset; o += 7) {
      log.read({ fetchOffset: o, maxBytes: 1 });
      expect(log.openSegmentCount()).toBeLessThanOrEqual(3);
    }
    log.close();
  });

  it('rebuilds a missing or corrupt index of a closed segment', () => {
    const rng = new Rng(8);
    const config = { segmentBytes: 2048, indexIntervalBytes: 128 };
    let log = open({ config });
    for (let i = 0; i < 60; i++) log.append([makeBatch(rng, { valueBytes: 60 })], { leaderEpoch: 0 });
    const expected = log.read({ fetchOffset: 0, maxBytes: 1 << 20 });
    const bases = log.segmentBaseOffsets();
    log.close();
    fs.rmSync(path.join(dir, logFileName(bases[0] as number).replace('.log', '.index')));
    fs.writeFileSync(path.join(dir, logFileName(bases[1] as number).replace('.log', '.index')), Buffer.from([1, 2, 3]));
    log = open({ config });
    let offset = 0;
    const got: Buffer[] = [];
    while (offset < log.logEndOffset) {
      const r = log.read({ fetchOffset: offset, maxBytes: 1 << 20 });
      got.push(r.records);
      offset = r.nextFetchOffset;
    }
    expect(Buffer.concat(got).subarray(0, expected.records.length).equals(expected.records)).toBe(true);
    expect(fs.statSync(path.join(dir, logFileName(bases[0] as number).replace('.log', '.index'))).size % 8).toBe(0);
    log.close();
  });
});

describe('time index', () => {
  it('offsetForTimestamp finds the first record at or after a timestamp', () => {
    const rng = new Rng(9);
    const log = open({ config: { segmentBytes: 1024, indexIntervalBytes: 64 } });
    // Record i has timestamp 1000 + 10 * i.
    let ts = 1000;
    for (let i = 0; i < 50; i++) {
      log.append([makeBatch(rng, { count: 3, valueBytes: 30, timestamp: ts, timestampStep: 10 })], { leaderEpoch: 0 });
      ts += 30;
    }
    for (const target of [0, 1000, 1001, 1010, 1255, 1499, 1000 + 10 * 149]) {
      const expected = Math.max(0, Math.ceil((target - 1000) / 10));
      expect(log.offsetForTimestamp(target)).toEqual({ offset: expected, timestamp: 1000 + 10 * expected });
    }
    expect(log.offsetForTimestamp(1000 + 10 * 150)).toBeNull();
    expect(log.offsetForTimestamp(-2)).toEqual({ offset: 0, timestamp: -1 });
    expect(log.offsetForTimestamp(-1)).toEqual({ offset: 150, timestamp: -1 });
    log.close();
  });
});

describe('compressed batches', () => {
  it('are stored and served as opaque bytes; offsetForTimestamp answers the batch start', async () => {
    const log = open();
    log.append([makeBatch(new Rng(15), { count: 2, timestamp: 100 })], { leaderEpoch: 0 });
    const records = Array.from({ length: 10 }, (_, i) => ({ value: Buffer.from(`v${i}`), timestamp: 200 + i }));
    const gz = await encodeRecordBatch({ records, compression: 'gzip' });
    expect(log.append([gz], { leaderEpoch: 0 })).toMatchObject({ baseOffset: 2, lastOffset: 11 });
    expect(log.offsetForTimestamp(205)).toEqual({ offset: 2, timestamp: 209 });
    const r = log.read({ fetchOffset: 7, maxBytes: 1 });
    expect(r.records.equals(gz)).toBe(true);
    const decoded = await decodeRecordBatches(r.records);
    expect(decoded[0]?.records.map((x) => x.offset)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    log.close();
  });
});

describe('I/O failure', () => {
  it('takes the log offline: KAFKA_STORAGE_ERROR now and on every later call', () => {
    const log = open();
    log.append([makeBatch(new Rng(16))], { leaderEpoch: 0 });
    removeDir(dir);
    const codes: string[] = [];
    for (const fn of [() => log.truncateFullyAndStartAt(10), () => log.read({ fetchOffset: 0, maxBytes: 10 }), () => log.append([makeBatch(new Rng(17))], { leaderEpoch: 0 })]) {
      try {
        fn();
      } catch (e) {
        if (isFjordError(e)) codes.push(e.code);
      }
    }
    expect(codes).toEqual(['KAFKA_STORAGE_ERROR', 'KAFKA_STORAGE_ERROR', 'KAFKA_STORAGE_ERROR']);
    log.close(); // releases the files without a marker, and does not throw
    fs.mkdirSync(dir);
  });
});

describe('leader epochs and truncation', () => {
  it('records epoch starts, answers endOffsetForEpoch like Kafka, and truncates with the log', () => {
    const rng = new Rng(10);
    let log = open({ config: { segmentBytes: 1024 } });
    log.append(makeBatches(rng, 3, { count: 2 }), { leaderEpoch: 1 }); // 0..5
    log.append(makeBatches(rng, 2, { count: 2 }), { leaderEpoch: 3 }); // 6..9
    log.append(makeBatches(rng, 2, { count: 2 }), { leaderEpoch: 3 }); // 10..13
    log.append(makeBatches(rng, 1, { count: 2 }), { leaderEpoch: 4 }); // 14..15
    expect(log.epochEntries()).toEqual([
      { epoch: 1, startOffset: 0 },
      { epoch: 3, startOffset: 6 },
      { epoch: 4, startOffset: 14 },
    ]);
    expect(log.latestEpoch).toBe(4);
    expect(log.endOffsetForEpoch(4)).toEqual({ epoch: 4, endOffset: 16 });
    expect(log.endOffsetForEpoch(3)).toEqual({ epoch: 3, endOffset: 14 });
    expect(log.endOffsetForEpoch(2)).toEqual({ epoch: 1, endOffset: 6 });
    expect(log.endOffsetForEpoch(0)).toEqual({ epoch: 0, endOffset: 0 });
    expect(log.endOffsetForEpoch(5)).toEqual({ epoch: -1, endOffset: -1 });
    log.truncateTo(10);
    expect(log.logEndOffset).toBe(10);
    expect(log.epochEntries()).toEqual([
      { epoch: 1, startOffset: 0 },
      { epoch: 3, startOffset: 6 },
    ]);
    log.close();
    log = open({ config: { segmentBytes: 1024 } });
    expect(log.logEndOffset).toBe(10);
    expect(log.latestEpoch).toBe(3);
    const r = log.append([makeBatch(rng, { count: 1 })], { leaderEpoch: 5 });
    expect(r.baseOffset).toBe(10);
    expect(log.endOffsetForEpoch(3)).toEqual({ epoch: 3, endOffset: 10 });
    log.close();
  });

  it('truncateTo across segments, then appends continue; truncateFullyAndStartAt restarts empty', () => {
    const rng = new Rng(11);
    const log = open({ config: { segmentBytes: 1024, indexIntervalBytes: 100 } });
    for (let i = 0; i < 60; i++) log.append([makeBatch(rng, { count: 2, valueBytes: 50 })], { leaderEpoch: 0 });
    const before = log.read({ fetchOffset: 0, maxBytes: 1 << 20 });
    const segs = log.segmentCount;
    log.truncateTo(31); // mid-batch: the batch 30..31 goes
    expect(log.logEndOffset).toBe(30);
    expect(log.segmentCount).toBeLessThan(segs);
    const b = makeBatch(rng, { count: 2 });
    expect(log.append([b], { leaderEpoch: 1 }).baseOffset).toBe(30);
    const parts = splitBatches(log.read({ fetchOffset: 0, maxBytes: 1 << 20 }).records);
    expect(parts[0]?.bytes.equals(splitBatches(before.records)[0]?.bytes as Buffer)).toBe(true);
    log.truncateFullyAndStartAt(1000);
    expect([log.logStartOffset, log.logEndOffset, log.segmentCount]).toEqual([1000, 1000, 1]);
    expect(log.epochEntries()).toEqual([]);
    expect(log.append([makeBatch(rng, { count: 1 })], { leaderEpoch: 2 }).baseOffset).toBe(1000);
    log.close();
  });
});

describe('retention and log start', () => {
  it('deletes closed segments by retention.bytes and retention.ms, never the active one', () => {
    const rng = new Rng(12);
    const log = open({ config: { segmentBytes: 1024, retentionBytes: 3000, retentionMs: 10_000 } });
    for (let i = 0; i < 40; i++) log.append([makeBatch(rng, { valueBytes: 100, timestamp: 1000 + i })], { leaderEpoch: 0 });
    const n = log.segmentCount;
    const r = log.applyRetention(0);
    expect(r.reason).toBe('retention.bytes');
    expect(log.sizeBytes).toBeLessThanOrEqual(3000 + 1024);
    expect(log.segmentCount).toBeLessThan(n);
    expect(log.logStartOffset).toBe(log.segmentBaseOffsets()[0]);
    const byTime = log.applyRetention(1000 + 40 + 10_001);
    expect(byTime.reason).toBe('retention.ms');
    expect(log.segmentCount).toBe(1);
    expect(log.read({ fetchOffset: log.logStartOffset, maxBytes: 1 << 20 }).batchCount).toBeGreaterThan(0);
    log.close();
  });

  it('deleteRecordsBefore advances the log start, deletes whole segments below it, and survives reopen', () => {
    const rng = new Rng(13);
    const config = { segmentBytes: 1024 };
    let log = open({ config });
    for (let i = 0; i < 40; i++) log.append([makeBatch(rng, { count: 1, valueBytes: 100 })], { leaderEpoch: 0 });
    const n = log.segmentCount;
    expect(log.deleteRecordsBefore(25)).toBe(25);
    expect(log.segmentCount).toBeLessThan(n);
    expect(() => log.read({ fetchOffset: 24, maxBytes: 10 })).toThrowError(/outside/);
    expect(log.read({ fetchOffset: 25, maxBytes: 1 }).firstOffset).toBe(25);
    log.close();
    log = open({ config });
    expect(log.logStartOffset).toBe(25);
    expect(log.offsetForTimestamp(-2)).toEqual({ offset: 25, timestamp: -1 });
    log.close();
  });
});

describe('flushAsync', () => {
  it('fsyncs off the event loop and advances the recovery point to the LEO seen at its start', async () => {
    const rng = new Rng(18);
    const log = open({ config: { segmentBytes: 1024 } });
    for (let i = 0; i < 20; i++) log.append([makeBatch(rng, { valueBytes: 100 })], { leaderEpoch: 0 });
    const target = log.logEndOffset;
    const pending = log.flushAsync();
    log.append([makeBatch(rng, { valueBytes: 100 })], { leaderEpoch: 0 }); // appends continue meanwhile
    expect(await pending).toBe(target);
    expect(log.recoveryPoint).toBe(target);
    // A truncation racing the flush keeps the recovery point where it was.
    log.append([makeBatch(rng, { valueBytes: 100 })], { leaderEpoch: 0 });
    const racing = log.flushAsync();
    log.truncateTo(target);
    expect(await racing).toBe(target);
    // Retention deleting files during a flush is fine.
    const more = log.flushAsync();
    log.deleteRecordsBefore(log.logEndOffset);
    expect(await more).toBe(log.logEndOffset);
    log.close();
    let err: unknown;
    try {
      await log.flushAsync();
    } catch (e) {
      err = e;
    }
    expect(isFjordError(err, 'LOG_CLOSED')).toBe(true);
  });
});

describe('lifecycle', () => {
  it('a clean close writes the marker; open removes it; closed logs throw LOG_CLOSED', () => {
    const log = open();
    log.append([encodeRecordBatchSync({ records: [{ value: Buffer.from('x'), timestamp: 1 }] })], { leaderEpoch: 0 });
    log.close();
    expect(fs.existsSync(path.join(dir, CLEAN_SHUTDOWN_FILE))).toBe(true);
    let err: unknown;
    try {
      log.read({ fetchOffset: 0, maxBytes: 1 });
    } catch (e) {
      err = e;
    }
    expect(isFjordError(err, 'LOG_CLOSED')).toBe(true);
    const again = open();
    expect(fs.existsSync(path.join(dir, CLEAN_SHUTDOWN_FILE))).toBe(false);
    expect(again.openedCleanly).toBe(true);
    expect(again.logEndOffset).toBe(1);
    again.close();
  });

  it('flushIntervalMessages advances the recovery point', () => {
    const log = open({ config: { flushIntervalMessages: 5 } });
    const rng = new Rng(14);
    log.append([makeBatch(rng, { count: 3 })], { leaderEpoch: 0 });
    expect(log.recoveryPoint).toBe(0);
    log.append([makeBatch(rng, { count: 3 })], { leaderEpoch: 0 });
    expect(log.recoveryPoint).toBe(6);
    log.close();
  });
});
