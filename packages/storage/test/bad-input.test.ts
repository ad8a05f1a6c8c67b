// Goal: bad input gets a typed FjordError and changes nothing (DESIGN.md
// "Errors and bad input"): for every case, the log end offset and every byte
// of every file in the partition directory are the same after the failed call.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  BATCH_LENGTH_OFFSET,
  CRC_OFFSET,
  LAST_OFFSET_DELTA_OFFSET,
  MAGIC_OFFSET,
  Rng,
  computeBatchCrc,
  isFjordError,
  type ErrorCode,
} from '@fjord/protocol';
import fs from 'node:fs';
import path from 'node:path';
import { PartitionLog, partitionDirName, resolveLogConfig } from '@fjord/storage';
import { makeBatch, makeBatches, makeTempDir, removeDir, snapshotDir } from './helpers.js';

let dir: string;
let log: PartitionLog;
const rng = new Rng(42);

beforeEach(() => {
  dir = makeTempDir();
  log = PartitionLog.open({ dir, config: { segmentBytes: 2048, maxMessageBytes: 4096, maxBatchesPerAppend: 8 } });
  for (let i = 0; i < 20; i++) log.append([makeBatch(rng, { valueBytes: 50 })], { leaderEpoch: 3 });
  log.flush();
});
afterEach(() => {
  log.close();
  removeDir(dir);
});

function expectRejected(code: ErrorCode, fn: () => unknown): void {
  const before = snapshotDir(dir);
  const leo = log.logEndOffset;
  const start = log.logStartOffset;
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(isFjordError(err), `expected a FjordError, got ${String(err)}`).toBe(true);
  expect((err as { code: string }).code).toBe(code);
  expect(log.logEndOffset).toBe(leo);
  expect(log.logStartOffset).toBe(start);
  expect(snapshotDir(dir)).toEqual(before);
}

function withCrc(buf: Buffer): Buffer {
  buf.writeUInt32BE(computeBatchCrc(buf, 0, buf.length), CRC_OFFSET);
  return buf;
}

describe('leader append rejects bad batches and writes nothing', () => {
  it('corrupt CRC', () => {
    const b = makeBatch(rng, { valueBytes: 30 });
    b[b.length - 3] = (b[b.length - 3] as number) ^ 0xff;
    expectRejected('CORRUPT_MESSAGE', () => log.append([b], { leaderEpoch: 3 }));
  });

  it('wrong magic', () => {
    const b = makeBatch(rng);
    b[MAGIC_OFFSET] = 1;
    expectRejected('CORRUPT_MESSAGE', () => log.append([b], { leaderEpoch: 3 }));
  });

  it('truncated batch, and a buffer shorter than the length field', () => {
    const b = makeBatch(rng, { valueBytes: 30 });
    expectRejected('CORRUPT_MESSAGE', () => log.append([b.subarray(0, b.length - 5)], { leaderEpoch: 3 }));
    expectRejected('CORRUPT_MESSAGE', () => log.append([b.subarray(0, 10)], { leaderEpoch: 3 }));
    expectRejected('CORRUPT_MESSAGE', () => log.append([Buffer.alloc(0)], { leaderEpoch: 3 }));
  });

  it('a length field that lies (too long, too short, negative)', () => {
    for (const delta of [1, -1, -30]) {
      const b = makeBatch(rng, { valueBytes: 30 });
      b.writeInt32BE(b.readInt32BE(BATCH_LENGTH_OFFSET) + delta, BATCH_LENGTH_OFFSET);
      expectRejected('CORRUPT_MESSAGE', () => log.append([b], { leaderEpoch: 3 }));
    }
    const neg = makeBatch(rng);
    neg.writeInt32BE(-5, BATCH_LENGTH_OFFSET);
    expectRejected('CORRUPT_MESSAGE', () => log.append([neg], { leaderEpoch: 3 }));
  });

  it('oversized batch (max.message.bytes)', () => {
    const b = makeBatch(rng, { count: 1, valueBytes: 5000 });
    expectRejected('MESSAGE_TOO_LARGE', () => log.append([b], { leaderEpoch: 3 }));
  });

  it('a record count that does not match lastOffsetDelta', () => {
    const b = makeBatch(rng, { count: 3 });
    b.writeInt32BE(5, LAST_OFFSET_DELTA_OFFSET);
    expectRejected('CORRUPT_MESSAGE', () => log.append([withCrc(b)], { leaderEpoch: 3 }));
  });

  it('one bad batch among good ones: none is written, the good ones are not even stamped', () => {
    const good = makeBatch(rng);
    const copy = Buffer.from(good);
    const bad = makeBatch(rng);
    bad[MAGIC_OFFSET] = 0;
    expectRejected('CORRUPT_MESSAGE', () => log.append([good, bad], { leaderEpoch: 3 }));
    expect(good.equals(copy)).toBe(true);
    // Two batches in one buffer, the second torn.
    const two = Buffer.concat([makeBatch(rng), makeBatch(rng).subarray(0, 40)]);
    expectRejected('CORRUPT_MESSAGE', () => log.append([two], { leaderEpoch: 3 }));
  });

  it('bounds and arguments: empty list, too many batches, not a Buffer, bad or stale leader epoch', () => {
    expectRejected('INVALID_REQUEST', () => log.append([], { leaderEpoch: 3 }));
    expectRejected('RECORD_LIST_TOO_LARGE', () => log.append(makeBatches(rng, 9), { leaderEpoch: 3 }));
    expectRejected('RECORD_LIST_TOO_LARGE', () => log.append([Buffer.concat(makeBatches(rng, 9))], { leaderEpoch: 3 }));
    expectRejected('INVALID_REQUEST', () => log.append(['nope' as unknown as Buffer], { leaderEpoch: 3 }));
    for (const leaderEpoch of [-1, 1.5, Number.NaN, 2 ** 31, 2 ** 53]) {
      expectRejected('INVALID_REQUEST', () => log.append([makeBatch(rng)], { leaderEpoch }));
    }
    expectRejected('FENCED_LEADER_EPOCH', () => log.append([makeBatch(rng)], { leaderEpoch: 2 }));
  });
});

describe('follower append keeps offsets and rejects gaps and overlaps', () => {
  function leaderBatch(baseOffset: number, count: number, epoch: number): Buffer {
    const other = makeTempDir();
    const leader = PartitionLog.open({ dir: other });
    if (baseOffset > 0) leader.truncateFullyAndStartAt(baseOffset);
    const b = makeBatch(rng, { count });
    leader.append([b], { leaderEpoch: epoch });
    leader.close();
    removeDir(other);
    return b;
  }

  it('gap, overlap, backwards epoch, negative base offset', () => {
    const leo = log.logEndOffset;
    expectRejected('INVALID_REQUEST', () => log.appendAsFollower([leaderBatch(leo + 1, 2, 3)]));
    expectRejected('INVALID_REQUEST', () => log.appendAsFollower([leaderBatch(leo - 1, 2, 3)]));
    expectRejected('INVALID_REQUEST', () => log.appendAsFollower([leaderBatch(leo, 2, 3), leaderBatch(leo + 3, 1, 3)]));
    expectRejected('INVALID_REQUEST', () => log.appendAsFollower([leaderBatch(leo, 2, 2)]));
    const neg = leaderBatch(leo, 1, 3);
    neg.writeInt32BE(-1, 0);
    expectRejected('CORRUPT_MESSAGE', () => log.appendAsFollower([neg]));
    // A contiguous follower append is accepted, keeps offsets, and records the new epoch.
    const ok = log.appendAsFollower([leaderBatch(leo, 2, 4), leaderBatch(leo + 2, 1, 6)]);
    expect(ok).toMatchObject({ baseOffset: leo, lastOffset: leo + 2, logEndOffset: leo + 3 });
    expect(log.epochEntries().slice(-2)).toEqual([
      { epoch: 4, startOffset: leo },
      { epoch: 6, startOffset: leo + 2 },
    ]);
  });
});

describe('offsets that are negative, unsafe or out of range', () => {
  it('read, truncate, deleteRecordsBefore, offsetForTimestamp, endOffsetForEpoch', () => {
    const leo = log.logEndOffset;
    expectRejected('OFFSET_OUT_OF_RANGE', () => log.read({ fetchOffset: -1, maxBytes: 100 }));
    expectRejected('OFFSET_OUT_OF_RANGE', () => log.read({ fetchOffset: leo + 1, maxBytes: 100 }));
    for (const bad of [2 ** 53, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expectRejected('INVALID_REQUEST', () => log.read({ fetchOffset: bad, maxBytes: 100 }));
      expectRejected('INVALID_REQUEST', () => log.truncateTo(bad));
      expectRejected('INVALID_REQUEST', () => log.deleteRecordsBefore(bad));
      expectRejected('INVALID_REQUEST', () => log.truncateFullyAndStartAt(bad));
      expectRejected('INVALID_REQUEST', () => log.offsetForTimestamp(bad));
      expectRejected('INVALID_REQUEST', () => log.endOffsetForEpoch(bad));
      expectRejected('INVALID_REQUEST', () => log.applyRetention(bad));
    }
    for (const maxBytes of [0, -1, 0.5]) expectRejected('INVALID_FETCH_SIZE', () => log.read({ fetchOffset: 0, maxBytes }));
    expectRejected('OFFSET_OUT_OF_RANGE', () => log.truncateTo(-1));
    expectRejected('OFFSET_OUT_OF_RANGE', () => log.truncateFullyAndStartAt(-5));
    expectRejected('OFFSET_OUT_OF_RANGE', () => log.deleteRecordsBefore(-1));
    expectRejected('OFFSET_OUT_OF_RANGE', () => log.deleteRecordsBefore(leo + 1));
    expectRejected('INVALID_TIMESTAMP', () => log.offsetForTimestamp(-3));
  });
});

describe('invalid names', () => {
  it('a bad topic name or partition is rejected before anything is created', () => {
    const parent = makeTempDir();
    for (const [topic, partition, code] of [
      ['../escape', 0, 'INVALID_TOPIC'],
      ['a/b', 0, 'INVALID_TOPIC'],
      ['..', 0, 'INVALID_TOPIC'],
      ['', 0, 'INVALID_TOPIC'],
      ['x'.repeat(250), 0, 'INVALID_TOPIC'],
      ['ok', -1, 'INVALID_REQUEST'],
      ['ok', 1.5, 'INVALID_REQUEST'],
    ] as const) {
      for (const fn of [
        () => partitionDirName(topic, partition),
        () => PartitionLog.open({ dir: path.join(parent, 'p'), topic, partition }),
      ]) {
        let err: unknown;
        try {
          fn();
        } catch (e) {
          err = e;
        }
        expect(isFjordError(err, code), `${topic} ${partition}`).toBe(true);
      }
      expect(fs.readdirSync(parent)).toEqual([]);
    }
    expect(partitionDirName('orders.v1', 3)).toBe('orders.v1-3');
    removeDir(parent);
  });
});

describe('config', () => {
  it('unknown keys and out-of-range values are INVALID_CONFIG', () => {
    const bad: Record<string, unknown>[] = [
      { segmentBytes: 1 },
      { nope: 1 },
      { indexIntervalBytes: -1 },
      { maxOpenSegments: 1 },
      { retentionMs: 1.5 },
      { maxMessageBytes: 2048, maxAppendBytes: 1024 },
      { segmentBytes: 2 ** 31 - 1, maxAppendBytes: 2 ** 30 * 1 + 2 ** 30 },
    ];
    for (const overrides of bad) {
      let err: unknown;
      try {
        resolveLogConfig(overrides);
      } catch (e) {
        err = e;
      }
      expect(isFjordError(err, 'INVALID_CONFIG'), JSON.stringify(overrides)).toBe(true);
    }
    expect(Object.isFrozen(resolveLogConfig({}))).toBe(true);
  });
});
