// Goal: no malformed batch can crash or mislead the codec. For seeded random
// valid batches (every codec) we flip bits, truncate, lie in the length, change
// the magic byte, append garbage, and (recomputing the CRC, so the parser
// itself is exercised) scramble header fields and record bytes. decodeRecordBatch,
// decodeRecordBatches and checkBatch must either succeed (only where the change
// is outside the CRC and harmless) or throw a FjordError with the expected
// code: never a RangeError, TypeError or any other raw exception. Decompression
// bombs are refused before anything large is allocated.
import { gzipSync } from 'node:zlib';
import { compressFrame } from 'lz4-napi';
import { describe, expect, it } from 'vitest';
import {
  ATTRIBUTES_OFFSET,
  BATCH_LENGTH_OFFSET,
  CRC_OFFSET,
  FjordError,
  LAST_OFFSET_DELTA_OFFSET,
  LOG_OVERHEAD,
  MAGIC_OFFSET,
  MAX_BATCH_BYTES,
  RECORD_BATCH_HEADER_BYTES,
  RECORD_COUNT_OFFSET,
  Rng,
  checkBatch,
  computeBatchCrc,
  decodeRecordBatch,
  decodeRecordBatches,
  decompress,
  encodeRecordBatch,
  encodeRecordBatchSync,
  lz4DecompressedBound,
  readBatchHeader,
  zstdDecompressedBound,
  type CompressionName,
  type DecodedBatch,
  type RecordBatchInput,
} from '@fjord/protocol';
import { randomBatch } from './support/random-batch.js';

const SEED = Number(process.env['FJORD_PROTOCOL_SEED'] ?? 20_261_125);
const CODECS: readonly CompressionName[] = ['none', 'none', 'gzip', 'lz4', 'zstd'];

type Outcome = { ok: true; value: unknown } | { ok: false; code: string; error: FjordError };

/** Runs fn; a FjordError becomes its code, anything else fails the test with `context`. */
async function outcome(context: string, fn: () => unknown): Promise<Outcome> {
  try {
    return { ok: true, value: await fn() };
  } catch (err) {
    if (err instanceof FjordError) return { ok: false, code: err.code, error: err };
    throw new Error(`${context}: threw a non-FjordError: ${String(err)}`, { cause: err });
  }
}

async function codeOf(context: string, fn: () => unknown): Promise<string> {
  const o = await outcome(context, fn);
  return o.ok ? 'ok' : o.code;
}

const CHECK = { maxBatchBytes: MAX_BATCH_BYTES, requireDenseOffsets: true };

async function randomValidBatches(seed: number, count: number): Promise<{ bytes: Buffer; codec: CompressionName }[]> {
  const rng = new Rng(seed);
  const out: { bytes: Buffer; codec: CompressionName }[] = [];
  for (let i = 0; i < count; i++) {
    const codec = rng.pick(CODECS);
    const { input } = randomBatch(rng, { allowNullHeaderValues: true, allowBrokerOnlyAttributes: true, maxRecords: 30 });
    out.push({ bytes: await encodeRecordBatch({ ...input, compression: codec }), codec });
  }
  return out;
}

function recrc(buf: Buffer): Buffer {
  buf.writeUInt32BE(computeBatchCrc(buf, 0, buf.length), CRC_OFFSET);
  return buf;
}

/** Records without offsets and partitionLeaderEpoch: what must survive a flip outside the CRC. */
function contentOf(b: DecodedBatch): unknown {
  return b.records.map((r) => [r.offsetDelta, r.timestamp, r.key, r.value, r.headers]);
}

describe(`bad input (seed ${SEED})`, () => {
  it('random single-bit flips: caught by the CRC, or outside it and harmless', async () => {
    const rng = new Rng(SEED);
    const batches = await randomValidBatches(SEED, 150);
    const seen = new Map<string, number>();
    for (const [n, { bytes }] of batches.entries()) {
      const original = await decodeRecordBatch(bytes);
      for (let k = 0; k < 8; k++) {
        const mutated = Buffer.from(bytes);
        const bit = rng.int(mutated.length * 8);
        const pos = bit >> 3;
        mutated[pos] = (mutated[pos] as number) ^ (1 << (bit & 7));
        const ctx = `batch ${n}, bit ${bit}`;
        const decoded = await outcome(ctx, () => decodeRecordBatch(mutated));
        const checked = await codeOf(ctx, () => checkBatch(mutated, 0, mutated.length, CHECK));
        const where = pos < BATCH_LENGTH_OFFSET ? 'baseOffset' : pos < 12 ? 'length' : pos < MAGIC_OFFSET ? 'epoch' : 'covered';
        const got = decoded.ok ? 'ok' : decoded.code;
        seen.set(`${where}:${got}`, (seen.get(`${where}:${got}`) ?? 0) + 1);
        if (where === 'covered') {
          // magic, CRC and everything after: CRC32C detects every single-bit error.
          expect(got, ctx).toBe('CORRUPT_MESSAGE');
          expect(checked, ctx).toBe('CORRUPT_MESSAGE');
        } else if (where === 'length') {
          expect(['CORRUPT_MESSAGE', 'MESSAGE_TOO_LARGE'], ctx).toContain(got);
          expect(checked, ctx).toBe(got);
        } else if (decoded.ok) {
          // baseOffset and partitionLeaderEpoch sit outside the CRC by design (the
          // leader stamps them): a flip there changes only that field.
          expect(contentOf(decoded.value as DecodedBatch), ctx).toEqual(contentOf(original));
          expect(checked, ctx).toBe('ok');
        } else {
          expect(got, ctx).toBe('CORRUPT_MESSAGE'); // negative or unsafe baseOffset
          expect(where).toBe('baseOffset');
        }
      }
    }
    expect(seen.get('covered:CORRUPT_MESSAGE')).toBeGreaterThan(500);
  });

  it('truncation at every length is CORRUPT_MESSAGE', async () => {
    const rng = new Rng(SEED + 1);
    const batches = await randomValidBatches(SEED + 1, 60);
    for (const [n, { bytes }] of batches.entries()) {
      // Every length through the header and first records, the last few, and a random sample between.
      const lengths = new Set<number>();
      for (let len = 0; len < Math.min(bytes.length, 100); len++) lengths.add(len);
      for (let len = Math.max(0, bytes.length - 4); len < bytes.length; len++) lengths.add(len);
      for (let i = 0; i < 40; i++) lengths.add(rng.int(bytes.length));
      for (const len of lengths) {
        const cut = bytes.subarray(0, len);
        const ctx = `batch ${n} cut to ${len}`;
        expect(await codeOf(ctx, () => decodeRecordBatch(cut)), ctx).toBe('CORRUPT_MESSAGE');
        expect(await codeOf(ctx, () => decodeRecordBatches(cut)), ctx).toBe(len === 0 ? 'ok' : 'CORRUPT_MESSAGE');
        expect(await codeOf(ctx, () => checkBatch(cut, 0, cut.length, CHECK)), ctx).toBe('CORRUPT_MESSAGE');
        // A window of a larger buffer, as a file reader holds it.
        expect(await codeOf(ctx, () => checkBatch(bytes, 0, len, CHECK)), ctx).toBe('CORRUPT_MESSAGE');
      }
    }
  });

  it('a length that lies is CORRUPT_MESSAGE, or MESSAGE_TOO_LARGE above the limit', async () => {
    const rng = new Rng(SEED + 2);
    const batches = await randomValidBatches(SEED + 2, 100);
    for (const [n, { bytes }] of batches.entries()) {
      const real = bytes.length - LOG_OVERHEAD;
      for (const lie of [real - 1, real + 1, 0, -1, -real, RECORD_BATCH_HEADER_BYTES - LOG_OVERHEAD - 1, rng.int(real), real + 1 + rng.int(1000), 0x7fff_ffff, -0x8000_0000]) {
        const mutated = Buffer.from(bytes);
        mutated.writeInt32BE(lie, BATCH_LENGTH_OFFSET);
        if (lie === real) continue;
        const ctx = `batch ${n}, length ${lie} instead of ${real}`;
        const expected = lie + LOG_OVERHEAD > MAX_BATCH_BYTES ? 'MESSAGE_TOO_LARGE' : 'CORRUPT_MESSAGE';
        expect(await codeOf(ctx, () => decodeRecordBatch(mutated)), ctx).toBe(expected);
        expect(await codeOf(ctx, () => decodeRecordBatches(mutated)), ctx).toBe(expected);
        expect(await codeOf(ctx, () => checkBatch(mutated, 0, mutated.length, CHECK)), ctx).toBe(expected);
      }
      // A smaller configured limit: the true length is too large.
      const limit = { maxBatchBytes: bytes.length - 1, requireDenseOffsets: true };
      expect(await codeOf('limit', () => checkBatch(bytes, 0, bytes.length, limit))).toBe('MESSAGE_TOO_LARGE');
      expect(await codeOf('limit', () => decodeRecordBatch(bytes, { maxBatchBytes: bytes.length - 1 }))).toBe('MESSAGE_TOO_LARGE');
    }
  });

  it('every magic byte but 2 is CORRUPT_MESSAGE', async () => {
    const first = (await randomValidBatches(SEED + 3, 1))[0];
    if (first === undefined) throw new Error('no batch');
    const { bytes } = first;
    for (let magic = 0; magic < 256; magic++) {
      if (magic === 2) continue;
      const mutated = Buffer.from(bytes);
      mutated[MAGIC_OFFSET] = magic;
      const o = await outcome(`magic ${magic}`, () => decodeRecordBatch(mutated));
      expect(o.ok ? 'ok' : o.code).toBe('CORRUPT_MESSAGE');
      if (!o.ok) expect(o.error.message).toMatch(/magic/);
      expect(await codeOf(`magic ${magic}`, () => checkBatch(mutated, 0, mutated.length, CHECK))).toBe('CORRUPT_MESSAGE');
    }
  });

  it('garbage after a batch: one batch is CORRUPT_MESSAGE, a batch stream fails on the garbage', async () => {
    const rng = new Rng(SEED + 4);
    const batches = await randomValidBatches(SEED + 4, 100);
    for (const [n, { bytes }] of batches.entries()) {
      const garbage = rng.bytes(rng.intBetween(1, 200));
      const joined = Buffer.concat([bytes, garbage]);
      const ctx = `batch ${n} + ${garbage.length} garbage bytes`;
      expect(await codeOf(ctx, () => decodeRecordBatch(joined)), ctx).toBe('CORRUPT_MESSAGE');
      expect(['CORRUPT_MESSAGE', 'MESSAGE_TOO_LARGE'], ctx).toContain(await codeOf(ctx, () => decodeRecordBatches(joined)));
      // checkBatch checks the batch at pos and reports its size; the caller moves on to the garbage.
      const first = checkBatch(joined, 0, joined.length, CHECK);
      expect(first.sizeBytes).toBe(bytes.length);
      expect(['CORRUPT_MESSAGE', 'MESSAGE_TOO_LARGE'], ctx).toContain(await codeOf(ctx, () => checkBatch(joined, bytes.length, joined.length, CHECK)));
    }
  });

  it('short and empty buffers are CORRUPT_MESSAGE', async () => {
    const rng = new Rng(SEED + 5);
    for (let len = 0; len < RECORD_BATCH_HEADER_BYTES + 5; len++) {
      for (const fill of [Buffer.alloc(len), Buffer.alloc(len, 0xff), rng.bytes(len)]) {
        const ctx = `${len} bytes`;
        expect(['CORRUPT_MESSAGE', 'MESSAGE_TOO_LARGE'], ctx).toContain(await codeOf(ctx, () => decodeRecordBatch(fill)));
        expect(['CORRUPT_MESSAGE', 'MESSAGE_TOO_LARGE'], ctx).toContain(await codeOf(ctx, () => checkBatch(fill, 0, fill.length, CHECK)));
      }
    }
  });

  it('scrambled records and header fields behind a valid CRC never escape as a raw exception', async () => {
    // The CRC is recomputed after each change, so this drives the record parser
    // and the decompressors with hostile bytes (what a malicious producer can send).
    const rng = new Rng(SEED + 6);
    const batches = await randomValidBatches(SEED + 6, 250);
    const codes = new Map<string, number>();
    for (const [n, { bytes }] of batches.entries()) {
      for (let k = 0; k < 12; k++) {
        const mutated = Buffer.from(bytes);
        const kind = rng.int(5);
        if (kind === 0) {
          // Overwrite 1..4 random bytes anywhere after the CRC.
          for (let j = rng.intBetween(1, 4); j > 0; j--) mutated[rng.intBetween(ATTRIBUTES_OFFSET, mutated.length - 1)] = rng.int(256);
        } else if (kind === 1) {
          // Records section bytes only.
          if (mutated.length > RECORD_BATCH_HEADER_BYTES) mutated[rng.intBetween(RECORD_BATCH_HEADER_BYTES, mutated.length - 1)] = rng.int(256);
        } else if (kind === 2) {
          // recordCount lies (more, fewer, negative, huge).
          const count = mutated.readInt32BE(RECORD_COUNT_OFFSET);
          mutated.writeInt32BE(rng.pick([count + 1, count - 1, count + rng.int(1000), -1, 0, 0x7fff_ffff, -0x8000_0000]), RECORD_COUNT_OFFSET);
        } else if (kind === 3) {
          // lastOffsetDelta and recordCount lie together (consistent with each other).
          const count = rng.pick([0, 1, 1000, 0x7fff_ffff]);
          mutated.writeInt32BE(count, RECORD_COUNT_OFFSET);
          mutated.writeInt32BE(count - 1, LAST_OFFSET_DELTA_OFFSET);
        } else {
          // Attributes: another codec, flags, or garbage high bits.
          mutated.writeInt16BE(rng.intBetween(-0x8000, 0x7fff), ATTRIBUTES_OFFSET);
        }
        recrc(mutated);
        const ctx = `batch ${n}, mutation ${k} (kind ${kind})`;
        const code = await codeOf(ctx, () => decodeRecordBatch(mutated));
        codes.set(code, (codes.get(code) ?? 0) + 1);
        expect(['ok', 'CORRUPT_MESSAGE', 'UNSUPPORTED_COMPRESSION_TYPE'], ctx).toContain(code);
        await codeOf(ctx, () => checkBatch(mutated, 0, mutated.length, { maxBatchBytes: MAX_BATCH_BYTES, requireDenseOffsets: false }));
      }
    }
    expect(codes.get('CORRUPT_MESSAGE')).toBeGreaterThan(1000);
  });

  it('record-level lies behind a valid CRC: huge field lengths, negative lengths, bad header counts', async () => {
    // One record, hand-built: length | attrs | tsDelta | offsetDelta | key | value | headers.
    const base = encodeRecordBatchSync({ records: [{ key: Buffer.from('k'), value: Buffer.from('v'), timestamp: 1 }] });
    const cases: [string, string, RegExp][] = [
      ['key length 2^31-1', '10 00 00 00 feffffff0f', /runs past the end of its record/],
      ['key length -2', '08 00 00 00 03', /negative length -2/],
      ['record length 0', '00', /record 0 length 0/],
      ['record length longer than the rest', '7e 00 00 00 02 6b 02 76 00', /record 0 length 63/],
      ['record length negative', '01 00 00 00 02 6b 02 76 00', /record 0 length -1/],
      ['header count 2^31-1', '18 00 00 00 02 6b 02 76 feffffff0f', /runs past the end/],
      ['header count -1', '10 00 00 00 02 6b 02 76 01', /negative header count/],
      ['null header key', '14 00 00 00 02 6b 02 76 02 01 01', /null key/],
      ['offsetDelta beyond lastOffsetDelta', '10 00 00 02 02 6b 02 76 00', /offsetDelta 1 is outside/],
      ['offsetDelta negative', '10 00 00 01 02 6b 02 76 00', /offsetDelta -1 is outside/],
      ['trailing bytes inside the record', '12 00 00 00 02 6b 02 76 00 00', /1 trailing bytes/],
      ['timestamp delta past the safe range', '1e 00 feffffffffffff1f 00 02 6b 02 76 00', /overflows/],
      ['varlong of 11 bytes', '24 00 8080808080808080808001 00 02 6b 02 76 00', /longer than 10 bytes/],
      ['bytes after the last record', '10 00 00 00 02 6b 02 76 00 00', /1 bytes follow the last record/],
    ];
    for (const [name, records, message] of cases) {
      const body = Buffer.from(records.replace(/\s+/g, ''), 'hex');
      const buf = Buffer.concat([base.subarray(0, RECORD_BATCH_HEADER_BYTES), body]);
      buf.writeInt32BE(buf.length - LOG_OVERHEAD, BATCH_LENGTH_OFFSET);
      if (name === 'timestamp delta past the safe range') buf.writeBigInt64BE(BigInt(Number.MAX_SAFE_INTEGER), 27);
      recrc(buf);
      const o = await outcome(name, () => decodeRecordBatch(buf));
      expect(o.ok ? 'ok' : o.code, name).toBe('CORRUPT_MESSAGE');
      if (!o.ok) expect(o.error.message, name).toMatch(message);
    }
  });

  it('int64 header fields outside the safe-integer range are CORRUPT_MESSAGE', async () => {
    const bytes = encodeRecordBatchSync({ records: [{ value: Buffer.from('v'), timestamp: 5 }] });
    for (const [name, offset] of [['baseOffset', 0], ['baseTimestamp', 27], ['maxTimestamp', 35], ['producerId', 43]] as const) {
      const mutated = Buffer.from(bytes);
      mutated.writeBigInt64BE(2n ** 62n, offset);
      recrc(mutated);
      expect(await codeOf(name, () => decodeRecordBatch(mutated)), name).toBe('CORRUPT_MESSAGE');
    }
  });

  it('int64 fields: the whole safe-integer range reads exactly, one past it is CORRUPT_MESSAGE', async () => {
    const bytes = encodeRecordBatchSync({ records: [{ value: Buffer.from('v'), timestamp: 5 }] });
    const PRODUCER_ID = 43;
    for (const [value, ok] of [
      [BigInt(Number.MAX_SAFE_INTEGER), true],
      [BigInt(Number.MIN_SAFE_INTEGER), true],
      [-1n, true],
      [2n ** 32n - 1n, true],
      [-(2n ** 32n), true],
      [BigInt(Number.MAX_SAFE_INTEGER) + 1n, false],
      [BigInt(Number.MIN_SAFE_INTEGER) - 1n, false],
      [2n ** 63n - 1n, false],
      [-(2n ** 63n), false],
    ] as const) {
      const mutated = Buffer.from(bytes);
      mutated.writeBigInt64BE(value, PRODUCER_ID);
      const o = await outcome(String(value), () => readBatchHeader(mutated));
      if (ok) expect(o.ok && (o.value as { producerId: number }).producerId, String(value)).toBe(Number(value));
      else expect(o.ok ? 'ok' : o.code, String(value)).toBe('CORRUPT_MESSAGE');
    }
  });

  it('checkBatch: dense offsets for producer batches, gaps allowed for compacted ones', () => {
    const bytes = encodeRecordBatchSync({ records: [{ value: null, timestamp: 1 }, { value: null, timestamp: 2 }] });
    const gappy = recrc(Buffer.from(bytes));
    gappy.writeInt32BE(5, LAST_OFFSET_DELTA_OFFSET);
    recrc(gappy);
    expect(() => checkBatch(gappy, 0, gappy.length, CHECK)).toThrow(FjordError);
    expect(checkBatch(gappy, 0, gappy.length, { ...CHECK, requireDenseOffsets: false }).header.lastOffsetDelta).toBe(5);
  });

  it('decompression bombs are refused before decompressing', async () => {
    // zstd: RLE blocks turn 4 bytes into 128 KiB each. 8192 of them claim 1 GiB from 32 KiB.
    const blocks = 8192;
    const frame = Buffer.alloc(6 + blocks * 4);
    frame.writeUInt32LE(0xfd2fb528, 0);
    frame[4] = 0x00; // no content size, not single-segment: a window descriptor follows
    frame[5] = 0x58; // window 2^(10+11) bytes
    for (let i = 0; i < blocks; i++) {
      const header = ((128 * 1024) << 3) | (1 << 1) | (i === blocks - 1 ? 1 : 0);
      frame.writeUIntLE(header, 6 + i * 4, 3);
      frame[6 + i * 4 + 3] = 0x41;
    }
    expect(zstdDecompressedBound(frame)).toBe(blocks * 128 * 1024);
    const started = process.hrtime.bigint();
    const zstdBatch = batchWithPayload(frame, 4);
    expect(await codeOf('zstd bomb', () => decodeRecordBatch(zstdBatch))).toBe('CORRUPT_MESSAGE');
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(1000);
    // Below the limit the same construction decompresses (the bound is not a false alarm).
    const small = frame.subarray(0, 6 + 8 * 4);
    small[6 + 7 * 4] = (small[6 + 7 * 4] as number) | 1; // mark block 8 as last
    expect((await decompress('zstd', small, 1024 * 1024)).length).toBe(8 * 128 * 1024);
    expect(await codeOf('zstd small limit', () => decompress('zstd', small, 1024 * 1024 - 1))).toBe('CORRUPT_MESSAGE');

    // lz4: 64 MiB of zeros compress to ~260 KiB.
    const zeros = Buffer.alloc(64 * 1024 * 1024);
    const lz4Bomb = await compressFrame(zeros);
    expect(lz4DecompressedBound(lz4Bomb)).toBeGreaterThanOrEqual(zeros.length);
    expect(await codeOf('lz4 bomb', () => decodeRecordBatch(batchWithPayload(lz4Bomb, 3), { maxDecompressedBytes: 16 * 1024 * 1024 }))).toBe(
      'CORRUPT_MESSAGE',
    );
    // gzip: zlib stops at maxOutputLength.
    const gzBomb = gzipSync(zeros, { level: 1 });
    expect(await codeOf('gzip bomb', () => decodeRecordBatch(batchWithPayload(gzBomb, 1), { maxDecompressedBytes: 16 * 1024 * 1024 }))).toBe(
      'CORRUPT_MESSAGE',
    );
  });

  it('the lz4 and zstd bounds are true upper bounds for what our encoder writes', async () => {
    const rng = new Rng(SEED + 7);
    const { compress } = await import('@fjord/protocol');
    for (let i = 0; i < 60; i++) {
      const size = rng.pick([0, 1, 100, 65_536, 65_537, 300_000, 1_500_000]);
      const data = rng.chance(1, 2) ? rng.bytes(size) : Buffer.alloc(size, rng.int(256));
      for (const codec of ['lz4', 'zstd'] as const) {
        const packed = await compress(codec, data);
        const bound = codec === 'lz4' ? lz4DecompressedBound(packed) : zstdDecompressedBound(packed);
        expect(bound, `${codec} ${size}`).toBeGreaterThanOrEqual(size);
        expect((await decompress(codec, packed)).equals(data)).toBe(true);
      }
    }
  });

  it('malformed compressed payloads are CORRUPT_MESSAGE (garbage, empty, truncated frames)', async () => {
    const rng = new Rng(SEED + 8);
    for (const codec of ['gzip', 'lz4', 'zstd'] as const) {
      const { compress } = await import('@fjord/protocol');
      const good = await compress(codec, rng.bytes(5000));
      const payloads = [Buffer.alloc(0), rng.bytes(1), rng.bytes(50), good.subarray(0, good.length >> 1), good.subarray(0, 4)];
      for (let i = 0; i < 30; i++) {
        const p = Buffer.from(good);
        p[rng.int(p.length)] = rng.int(256);
        payloads.push(p);
      }
      for (const [i, p] of payloads.entries()) {
        const ctx = `${codec} payload ${i}`;
        const o = await outcome(ctx, () => decompress(codec, p));
        if (!o.ok) expect(o.code, ctx).toBe('CORRUPT_MESSAGE');
      }
    }
  });

  it('encoder input out of range is a FjordError, never a RangeError', async () => {
    const rec = [{ value: Buffer.from('v'), timestamp: 1 }];
    const bad: [RecordBatchInput, string][] = [
      [{ records: [] }, 'INVALID_RECORD'],
      [{ records: rec, baseOffset: -1 }, 'INVALID_REQUEST'],
      [{ records: rec, baseOffset: 2 ** 53 }, 'INVALID_REQUEST'],
      [{ records: rec, producerEpoch: 40_000 }, 'INVALID_REQUEST'],
      [{ records: rec, baseSequence: 2 ** 31 }, 'INVALID_REQUEST'],
      [{ records: rec, partitionLeaderEpoch: 1.5 }, 'INVALID_REQUEST'],
      [{ records: rec, producerId: Number.NaN }, 'INVALID_REQUEST'],
      [{ records: [{ value: null, timestamp: Number.NaN }] }, 'INVALID_TIMESTAMP'],
      [{ records: [{ value: null, timestamp: 1.5 }] }, 'INVALID_TIMESTAMP'],
      [{ records: [{ value: null, timestamp: Number.MIN_SAFE_INTEGER }, { value: null, timestamp: Number.MAX_SAFE_INTEGER }] }, 'INVALID_TIMESTAMP'],
      [{ records: rec, compression: 'gzip' }, 'INVALID_REQUEST'], // the sync encoder builds uncompressed batches only
    ];
    for (const [input, code] of bad) {
      expect(await codeOf(JSON.stringify(input), () => encodeRecordBatchSync(input))).toBe(code);
    }
    expect(await codeOf('async', () => encodeRecordBatch({ records: rec, compression: 'zstd', producerEpoch: -40_000 }))).toBe('INVALID_REQUEST');
  });
});

/** A one-record batch whose records section is `payload`, compressed with codec `code`, with a valid CRC. */
function batchWithPayload(payload: Buffer, code: number): Buffer {
  const header = encodeRecordBatchSync({ records: [{ value: null, timestamp: 1 }] }).subarray(0, RECORD_BATCH_HEADER_BYTES);
  const buf = Buffer.concat([header, payload]);
  buf.writeInt32BE(buf.length - LOG_OVERHEAD, BATCH_LENGTH_OFFSET);
  buf.writeInt16BE(code, ATTRIBUTES_OFFSET);
  return recrc(buf);
}
