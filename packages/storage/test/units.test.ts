// Goal: the small pieces the partition log is built from behave exactly as
// specified on their own: file names, atomic checkpoints, the leader epoch
// cache (Kafka's semantics), the retention decision, the config table, and the
// sanity check that rejects a corrupt index file.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_LOG_CONFIG, LOG_CONFIG_TABLE, PartitionLog, resolveLogConfig } from '@fjord/storage';
import { readCheckpointFile, writeCheckpointFile } from '../src/checkpoint-file.js';
import { logFileName, offsetFileStem, parseSegmentFileName } from '../src/file-names.js';
import { LeaderEpochCache } from '../src/leader-epoch-cache.js';
import { OffsetIndex } from '../src/offset-index.js';
import { segmentsToDelete, type RetentionSegment } from '../src/retention.js';
import { makeTempDir, removeDir } from './helpers.js';

let dir: string;
beforeEach(() => {
  dir = makeTempDir();
});
afterEach(() => {
  removeDir(dir);
});

describe('file names', () => {
  it('are 20-digit zero-padded base offsets, and parse back', () => {
    expect(offsetFileStem(0)).toBe('00000000000000000000');
    expect(logFileName(1234)).toBe('00000000000000001234.log');
    expect(parseSegmentFileName('00000000000000001234.timeindex')).toEqual({ baseOffset: 1234, kind: 'timeindex' });
    for (const bad of ['1234.log', '00000000000000001234.log.tmp', 'leader-epoch.checkpoint', '0000000000000000123x.log']) {
      expect(parseSegmentFileName(bad)).toBeNull();
    }
    expect(() => offsetFileStem(-1)).toThrow();
  });
});

describe('checkpoint files', () => {
  it('round-trip, leave no temp file, and report corruption instead of guessing', () => {
    writeCheckpointFile(dir, 'x.checkpoint', ['a 1', 'b 2'], true);
    expect(fs.readdirSync(dir)).toEqual(['x.checkpoint']);
    expect(readCheckpointFile(path.join(dir, 'x.checkpoint'))).toEqual({ kind: 'ok', entries: ['a 1', 'b 2'] });
    expect(readCheckpointFile(path.join(dir, 'missing'))).toEqual({ kind: 'missing' });
    for (const body of ['0\n3\na 1\n', '1\n0\n', '0\n1\na 1', '']) {
      fs.writeFileSync(path.join(dir, 'y'), body);
      expect(readCheckpointFile(path.join(dir, 'y')).kind, JSON.stringify(body)).toBe('corrupt');
    }
  });

  it('a leftover .tmp from an interrupted write is removed when the log opens', () => {
    fs.writeFileSync(path.join(dir, 'log-offsets.checkpoint.tmp'), 'half');
    const log = PartitionLog.open({ dir });
    expect(fs.existsSync(path.join(dir, 'log-offsets.checkpoint.tmp'))).toBe(false);
    log.close();
  });
});

describe('leader epoch cache (Kafka LeaderEpochFileCache semantics)', () => {
  it('assigns only newer epochs, answers endOffsetFor, truncates both ends, persists', () => {
    const cache = LeaderEpochCache.empty(dir, true);
    expect(cache.endOffsetFor(0, 10)).toEqual({ epoch: -1, endOffset: -1 });
    expect(cache.assign(2, 10)).toBe(true);
    expect(cache.assign(2, 20)).toBe(false);
    expect(cache.assign(1, 30)).toBe(false);
    cache.assign(4, 20);
    cache.assign(7, 35);
    expect(cache.endOffsetFor(7, 50)).toEqual({ epoch: 7, endOffset: 50 });
    expect(cache.endOffsetFor(5, 50)).toEqual({ epoch: 4, endOffset: 35 });
    expect(cache.endOffsetFor(4, 50)).toEqual({ epoch: 4, endOffset: 35 });
    expect(cache.endOffsetFor(1, 50)).toEqual({ epoch: 1, endOffset: 10 });
    expect(cache.endOffsetFor(8, 50)).toEqual({ epoch: -1, endOffset: -1 });
    expect(cache.endOffsetFor(-1, 50)).toEqual({ epoch: -1, endOffset: -1 });
    expect(LeaderEpochCache.load(dir, true)?.all()).toEqual(cache.all());
    cache.truncateFromStart(25);
    expect(cache.all()).toEqual([
      { epoch: 4, startOffset: 25 },
      { epoch: 7, startOffset: 35 },
    ]);
    cache.truncateFromEnd(35);
    expect(cache.all()).toEqual([{ epoch: 4, startOffset: 25 }]);
    // A newer epoch starting at or before existing entries replaces them.
    cache.assign(9, 25);
    expect(cache.all()).toEqual([{ epoch: 9, startOffset: 25 }]);
    expect(LeaderEpochCache.load(dir, true)?.all()).toEqual([{ epoch: 9, startOffset: 25 }]);
    fs.writeFileSync(path.join(dir, 'leader-epoch.checkpoint'), '0\n2\n3 10\n2 20\n');
    expect(LeaderEpochCache.load(dir, true)).toBeNull();
  });
});

describe('retention decision', () => {
  const seg = (baseOffset: number, nextOffset: number, sizeBytes: number, ts: number): RetentionSegment => ({
    baseOffset,
    nextOffset,
    sizeBytes,
    largestTimestamp: () => ts,
  });
  const segments = [seg(0, 10, 100, 1000), seg(10, 20, 100, 2000), seg(20, 30, 100, 3000), seg(30, 35, 50, 4000)];

  it('deletes the longest breaching prefix, never the active segment', () => {
    const none = { retentionMs: -1, retentionBytes: -1 };
    expect(segmentsToDelete({ segments, policy: none, nowMs: 1e9, logStartOffset: 0 })).toEqual({ count: 0, reason: null });
    expect(segmentsToDelete({ segments, policy: { retentionMs: -1, retentionBytes: 200 }, nowMs: 0, logStartOffset: 0 })).toEqual({
      count: 1,
      reason: 'retention.bytes',
    });
    expect(segmentsToDelete({ segments, policy: { retentionMs: -1, retentionBytes: 0 }, nowMs: 0, logStartOffset: 0 }).count).toBe(3);
    expect(segmentsToDelete({ segments, policy: { retentionMs: 1500, retentionBytes: -1 }, nowMs: 3600, logStartOffset: 0 })).toEqual({
      count: 2,
      reason: 'retention.ms',
    });
    expect(segmentsToDelete({ segments, policy: { retentionMs: 0, retentionBytes: -1 }, nowMs: 1e9, logStartOffset: 0 }).count).toBe(3);
    expect(segmentsToDelete({ segments, policy: none, nowMs: 0, logStartOffset: 20 })).toEqual({ count: 2, reason: 'log-start-offset' });
    expect(segmentsToDelete({ segments, policy: none, nowMs: 0, logStartOffset: 19 }).count).toBe(1);
  });
});

describe('config table', () => {
  it('every key has a doc and a default inside its bounds; defaults validate', () => {
    for (const e of LOG_CONFIG_TABLE) {
      expect(e.doc.length, e.key).toBeGreaterThan(10);
      expect(e.default, e.key).toBeGreaterThanOrEqual(e.min);
      expect(e.default, e.key).toBeLessThanOrEqual(e.max);
    }
    expect(resolveLogConfig({})).toEqual(DEFAULT_LOG_CONFIG);
    // The README's table documents every key with its Kafka name and default.
    const readme = fs.readFileSync(path.join(import.meta.dirname, '..', 'README.md'), 'utf8');
    const rows = readme.split('\n').filter((l) => l.startsWith('| `'));
    for (const e of LOG_CONFIG_TABLE) {
      const row = rows.find((l) => l.startsWith(`| \`${e.key}\` |`));
      expect(row, e.key).toBeDefined();
      const cells = (row as string).split('|').map((c) => c.trim());
      expect(cells[2], e.key).toBe(e.kafkaName === null ? '—' : `\`${e.kafkaName}\``);
      expect(cells[3], e.key).toBe(e.default === Number.MAX_SAFE_INTEGER ? 'never (2^53-1)' : String(e.default));
    }
    expect(resolveLogConfig({ segmentBytes: 4096 }).segmentBytes).toBe(4096);
  });
});

describe('index sanity check', () => {
  it('accepts a well-formed file and rejects torn, non-monotonic or out-of-range entries', () => {
    const file = path.join(dir, 'i.index');
    const entries = (pairs: [number, number][]): Buffer => {
      const b = Buffer.alloc(pairs.length * 8);
      pairs.forEach(([rel, pos], i) => {
        b.writeUInt32BE(rel, i * 8);
        b.writeUInt32BE(pos, i * 8 + 4);
      });
      return b;
    };
    const load = (buf: Buffer, logSize: number): string => {
      fs.writeFileSync(file, buf);
      return new OffsetIndex({ path: file, baseOffset: 100, maxEntries: 10, durable: false }).load(logSize);
    };
    expect(load(entries([[1, 50], [5, 200]]), 1000)).toBe('ok');
    expect(load(entries([[1, 50], [5, 200]]).subarray(0, 12), 1000)).toBe('corrupt');
    expect(load(entries([[5, 50], [1, 200]]), 1000)).toBe('corrupt');
    expect(load(entries([[1, 200], [5, 50]]), 1000)).toBe('corrupt');
    expect(load(entries([[1, 50], [5, 2000]]), 1000)).toBe('corrupt');
    expect(load(Buffer.alloc(8 * 12), 1000)).toBe('corrupt');
    const idx = new OffsetIndex({ path: path.join(dir, 'none.index'), baseOffset: 0, maxEntries: 10, durable: false });
    expect(idx.load(10)).toBe('missing');
  });
});
