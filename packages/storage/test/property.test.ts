// Goal: seeded random sequences of append / follower append / read / roll /
// truncate / deleteRecordsBefore / retention / offsetForTimestamp / epoch
// queries / flush / clean and unclean reopen, run against the real log and against a
// plain in-memory model, must agree on every read (byte for byte), every offset
// and every epoch answer. A failure prints FJORD_STORAGE_SEED to replay it.
import { afterEach, describe, expect, it } from 'vitest';
import { Rng, encodeRecordBatchSync, readBatchHeader } from '@fjord/protocol';
import { PartitionLog, type LogConfig } from '@fjord/storage';
import { makeTempDir, removeDir, splitBatches, testSeed } from './helpers.js';

interface ModelBatch {
  baseOffset: number;
  lastOffset: number;
  bytes: Buffer;
}

/** The obviously-correct model: a list of batches plus the offsets and epochs around them. */
class Model {
  batches: ModelBatch[] = [];
  logStart = 0;
  logEnd = 0;
  epochs: { epoch: number; startOffset: number }[] = [];

  get latestEpoch(): number {
    return this.epochs.length === 0 ? -1 : (this.epochs[this.epochs.length - 1] as { epoch: number }).epoch;
  }

  add(bytes: Buffer): void {
    const h = readBatchHeader(bytes);
    this.batches.push({ baseOffset: h.baseOffset, lastOffset: h.baseOffset + h.lastOffsetDelta, bytes: Buffer.from(bytes) });
    this.logEnd = h.baseOffset + h.lastOffsetDelta + 1;
    if (h.partitionLeaderEpoch >= 0 && h.partitionLeaderEpoch > this.latestEpoch) {
      // Kafka's assign drops entries the new one contradicts (same or later start offset).
      this.epochs = this.epochs.filter((e) => e.startOffset < h.baseOffset);
      this.epochs.push({ epoch: h.partitionLeaderEpoch, startOffset: h.baseOffset });
    }
  }

  setStart(offset: number): void {
    this.logStart = offset;
    this.batches = this.batches.filter((b) => b.lastOffset >= offset);
    let lastBefore = -1;
    this.epochs.forEach((e, i) => {
      if (e.startOffset <= offset) lastBefore = i;
    });
    if (lastBefore >= 0) {
      const e = this.epochs[lastBefore] as { epoch: number; startOffset: number };
      this.epochs = [{ epoch: e.epoch, startOffset: offset }, ...this.epochs.slice(lastBefore + 1)];
    }
  }

  truncateTo(offset: number): void {
    if (offset >= this.logEnd) return;
    if (offset < this.logStart) {
      this.truncateFully(offset);
      return;
    }
    const cutIndex = this.batches.findIndex((b) => b.lastOffset >= offset);
    const cut = this.batches[cutIndex] as ModelBatch;
    this.logEnd = cut.baseOffset;
    this.batches = this.batches.slice(0, cutIndex);
    if (this.logStart > this.logEnd) this.logStart = this.logEnd;
    this.epochs = this.epochs.filter((e) => e.startOffset < this.logEnd);
  }

  truncateFully(offset: number): void {
    this.batches = [];
    this.logStart = offset;
    this.logEnd = offset;
    this.epochs = [];
  }

  endOffsetFor(epoch: number): { epoch: number; endOffset: number } {
    if (epoch === -1 || this.epochs.length === 0) return { epoch: -1, endOffset: -1 };
    if (epoch === this.latestEpoch) return { epoch, endOffset: this.logEnd };
    let floor: number | null = null;
    for (const e of this.epochs) {
      if (e.epoch > epoch) return { epoch: floor ?? epoch, endOffset: e.startOffset };
      floor = e.epoch;
    }
    return { epoch: -1, endOffset: -1 };
  }
}

interface Generated {
  bytes: Buffer;
  timestamps: number[];
}

function genBatch(rng: Rng, clock: { ts: number }, baseOffset = 0, partitionLeaderEpoch = -1): Generated {
  const count = 1 + rng.int(rng.chance(1, 10) ? 40 : 5);
  const records = [];
  const timestamps: number[] = [];
  for (let i = 0; i < count; i++) {
    // Mostly increasing time, sometimes a step back (producers' clocks differ).
    clock.ts += rng.chance(1, 8) ? -rng.int(50) : rng.int(20);
    if (clock.ts < 0) clock.ts = 0;
    timestamps.push(clock.ts);
    records.push({ key: rng.chance(1, 3) ? null : rng.bytes(rng.int(10)), value: rng.chance(1, 20) ? null : rng.bytes(rng.int(rng.chance(1, 10) ? 900 : 80)), timestamp: clock.ts });
  }
  return { bytes: encodeRecordBatchSync({ records, baseOffset, partitionLeaderEpoch }), timestamps };
}

function randomConfig(rng: Rng): Partial<LogConfig> {
  return {
    segmentBytes: rng.pick([512, 1024, 2048, 4096]),
    indexIntervalBytes: rng.pick([0, 64, 300, 1000]),
    segmentIndexBytes: rng.pick([48, 120, 10 * 1024]),
    maxOpenSegments: rng.pick([2, 3, 16]),
    retentionBytes: rng.pick([-1, 3000, 10_000]),
    retentionMs: rng.pick([-1, 500, 5000]),
    maxMessageBytes: 64 * 1024,
  };
}

let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) removeDir(d);
  dirs = [];
});

function runScenario(seed: number, steps: number): void {
  const rng = new Rng(seed);
  const dir = makeTempDir('fjord-prop-');
  dirs.push(dir);
  const config = randomConfig(rng);
  const clock = { ts: 1_000_000 };
  const options = { dir, config, unsafeNoFsync: true };
  let log = PartitionLog.open(options);
  const model = new Model();
  const timestampsByBase = new Map<number, number[]>();
  let epoch = 0;

  const expectSameState = (what: string): void => {
    expect([log.logStartOffset, log.logEndOffset], what).toEqual([model.logStart, model.logEnd]);
    expect(log.epochEntries(), what).toEqual(model.epochs);
  };

  const readAllAndCompare = (what: string): void => {
    let offset = model.logStart;
    const got: Buffer[] = [];
    while (offset < model.logEnd) {
      const r = log.read({ fetchOffset: offset, maxBytes: 1 + rng.int(8000) });
      expect(r.batchCount, what).toBeGreaterThan(0);
      got.push(r.records);
      offset = r.nextFetchOffset;
    }
    expect(Buffer.concat(got).equals(Buffer.concat(model.batches.map((b) => b.bytes))), what).toBe(true);
  };

  for (let step = 0; step < steps; step++) {
    const op = rng.int(100);
    const what = `FJORD_STORAGE_SEED=${seed} step ${step} op ${op} config ${JSON.stringify(config)}`;
    if (op < 35) {
      // Leader append of 1..3 batches, sometimes under a new epoch.
      if (rng.chance(1, 10)) epoch++;
      const gens = Array.from({ length: 1 + rng.int(3) }, () => genBatch(rng, clock));
      const r = log.append(
        gens.map((g) => g.bytes),
        { leaderEpoch: epoch },
      );
      expect(r.baseOffset, what).toBe(model.logEnd);
      for (const g of gens) {
        model.add(g.bytes);
        timestampsByBase.set(readBatchHeader(g.bytes).baseOffset, g.timestamps);
      }
      expect(r.logEndOffset, what).toBe(model.logEnd);
    } else if (op < 42) {
      // Follower append: batches already carry offsets and epochs.
      if (rng.chance(1, 5)) epoch++;
      const gens: Generated[] = [];
      let next = model.logEnd;
      for (let i = 0; i < 1 + rng.int(2); i++) {
        const g = genBatch(rng, clock, next, epoch);
        gens.push(g);
        next = readBatchHeader(g.bytes).baseOffset + readBatchHeader(g.bytes).lastOffsetDelta + 1;
      }
      log.appendAsFollower(gens.map((g) => g.bytes));
      for (const g of gens) {
        model.add(g.bytes);
        timestampsByBase.set(readBatchHeader(g.bytes).baseOffset, g.timestamps);
      }
    } else if (op < 62) {
      // Random read against the model.
      const fetchOffset = model.logStart + rng.int(model.logEnd - model.logStart + 1);
      const maxBytes = 1 + rng.int(rng.chance(1, 2) ? 200 : 6000);
      const maxOffset = rng.chance(1, 4) ? fetchOffset + rng.int(30) : undefined;
      const r = log.read({ fetchOffset, maxBytes, maxOffset });
      const bound = Math.min(maxOffset ?? model.logEnd, model.logEnd);
      const eligible = model.batches.filter((b) => b.lastOffset >= fetchOffset && b.lastOffset < bound);
      const got = splitBatches(r.records);
      if (eligible.length === 0 || fetchOffset >= bound) {
        expect(got.length, what).toBe(0);
        expect(r.nextFetchOffset, what).toBe(fetchOffset);
      } else {
        expect(got.length, what).toBeGreaterThan(0);
        for (let i = 0; i < got.length; i++) expect((got[i] as { bytes: Buffer }).bytes.equals((eligible[i] as ModelBatch).bytes), what).toBe(true);
        if (got.length > 1) expect(r.records.length, what).toBeLessThanOrEqual(maxBytes);
        expect(r.firstOffset, what).toBe((eligible[0] as ModelBatch).baseOffset);
        expect(r.nextFetchOffset, what).toBe((eligible[got.length - 1] as ModelBatch).lastOffset + 1);
      }
    } else if (op < 66) {
      log.roll();
    } else if (op < 71) {
      const span = model.logEnd - model.logStart;
      const offset = rng.chance(1, 10) ? rng.int(model.logStart + 1) : model.logStart + rng.int(span + 2);
      log.truncateTo(offset);
      model.truncateTo(offset);
    } else if (op < 72) {
      const offset = model.logEnd + rng.int(100);
      log.truncateFullyAndStartAt(offset);
      model.truncateFully(offset);
    } else if (op < 76) {
      const offset = model.logStart + rng.int(model.logEnd - model.logStart + 1);
      expect(log.deleteRecordsBefore(offset), what).toBe(Math.max(offset, model.logStart));
      if (offset > model.logStart) model.setStart(offset);
    } else if (op < 81) {
      const sizeBefore = log.sizeBytes;
      const now = clock.ts + rng.int(6000);
      const r = log.applyRetention(now);
      expect(r.logStartOffset, what).toBeGreaterThanOrEqual(model.logStart);
      expect(r.logStartOffset, what).toBeLessThanOrEqual(model.logEnd);
      if (r.reason === 'retention.bytes') expect(sizeBefore - r.deletedBytes, what).toBeGreaterThanOrEqual(config.retentionBytes as number);
      if (r.logStartOffset > model.logStart) model.setStart(r.logStartOffset);
    } else if (op < 88) {
      // offsetForTimestamp: the first record (>= log start) at or after the target.
      const target = clock.ts - rng.int(3000) + rng.int(100);
      let want: { offset: number; timestamp: number } | null = null;
      for (const b of model.batches) {
        const ts = timestampsByBase.get(b.baseOffset) as number[];
        for (let i = 0; i < ts.length && want === null; i++) {
          if ((ts[i] as number) >= target && b.baseOffset + i >= model.logStart) want = { offset: b.baseOffset + i, timestamp: ts[i] as number };
        }
        if (want !== null) break;
      }
      const got = log.offsetForTimestamp(Math.max(0, target));
      expect(got, what).toEqual(target < 0 ? log.offsetForTimestamp(0) : want);
    } else if (op < 90) {
      const e = rng.int(epoch + 3) - 1;
      expect(log.endOffsetForEpoch(e), what).toEqual(model.endOffsetFor(e));
    } else if (op < 92) {
      // Moves the recovery point: a later unclean reopen scans only from there.
      log.flush();
      expect(log.recoveryPoint, what).toBe(model.logEnd);
    } else {
      // Reopen, cleanly or after a simulated crash.
      if (rng.chance(1, 2)) log.close();
      else log.closeUnclean();
      log = PartitionLog.open(options);
      // Like Kafka's LogLoader, opening truncates the epoch cache to the log end
      // offset, dropping an epoch that starts at the LEO with no records yet.
      model.epochs = model.epochs.filter((e) => e.startOffset < model.logEnd);
    }
    expectSameState(what);
    if (step % 50 === 49) readAllAndCompare(what);
  }
  readAllAndCompare(`FJORD_STORAGE_SEED=${seed} final`);
  log.close();
}

describe('partition log vs in-memory model', () => {
  const envSeed = process.env.FJORD_STORAGE_SEED;
  // A fixed list plus a few clock-derived seeds per run; FJORD_STORAGE_PROP_SEEDS=N runs N more (a sweep).
  const extra = Number(process.env.FJORD_STORAGE_PROP_SEEDS ?? '4');
  const base = testSeed();
  const seeds =
    envSeed !== undefined && envSeed !== ''
      ? [Number(envSeed)]
      : [...Array.from({ length: 16 }, (_, i) => i + 1), ...Array.from({ length: extra }, (_, i) => base + i)];
  for (const seed of seeds) {
    it(`seed ${seed}`, () => {
      try {
        runScenario(seed, Number(process.env.FJORD_STORAGE_PROP_STEPS ?? '500'));
      } catch (e) {
        throw new Error(`property test failed; replay with FJORD_STORAGE_SEED=${seed} npx vitest run packages/storage/test/property.test.ts`, { cause: e });
      }
    });
  }
});
