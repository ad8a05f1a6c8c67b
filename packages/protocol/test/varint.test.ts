// Goal: zig-zag varints and varlongs match Kafka's encoding at the edges (0,
// -1, int32 min/max, byte-length boundaries, the whole safe-integer range for
// varlongs), sizes agree with what is written, and malformed encodings
// (truncated, longer than 5/10 bytes, out of range) are CORRUPT_MESSAGE,
// never a RangeError or a wrong number.
import { describe, expect, it } from 'vitest';
import {
  FjordError,
  MAX_VARINT_BYTES,
  MAX_VARLONG_BYTES,
  Rng,
  readVarint,
  readVarlong,
  varintSize,
  writeVarint,
  zigzagDecode,
  zigzagEncode,
} from '@fjord/protocol';

function enc(n: number): string {
  const buf = Buffer.alloc(10);
  const end = writeVarint(buf, 0, n);
  expect(end, `size of ${n}`).toBe(varintSize(n));
  return buf.subarray(0, end).toString('hex');
}

function corruptCode(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof FjordError) return err.code;
    throw err;
  }
  return 'no error';
}

/** Reference zig-zag + LEB128 with BigInt, as Kafka's ByteUtils.writeVarlong computes it on a Java long. */
function referenceHex(n: number): string {
  let z = BigInt.asUintN(64, (BigInt(n) << 1n) ^ (BigInt(n) >> 63n));
  const bytes: number[] = [];
  while (z >= 0x80n) {
    bytes.push(Number(z & 0x7fn) | 0x80);
    z >>= 7n;
  }
  bytes.push(Number(z));
  return Buffer.from(bytes).toString('hex');
}

describe('varint / varlong', () => {
  it('encodes Kafka examples at the edges', () => {
    expect(enc(0)).toBe('00');
    expect(enc(-1)).toBe('01');
    expect(enc(1)).toBe('02');
    expect(enc(63)).toBe('7e');
    expect(enc(-64)).toBe('7f');
    expect(enc(64)).toBe('8001');
    expect(enc(300)).toBe('d804');
    expect(enc(2 ** 31 - 1)).toBe('feffffff0f'); // int32 max: 5 bytes
    expect(enc(-(2 ** 31))).toBe('ffffffff0f'); // int32 min: 5 bytes
    expect(enc(Number.MAX_SAFE_INTEGER)).toBe(referenceHex(Number.MAX_SAFE_INTEGER));
    expect(enc(Number.MIN_SAFE_INTEGER)).toBe(referenceHex(Number.MIN_SAFE_INTEGER));
  });

  it('round-trips and matches a BigInt reference across the safe range, near every 7-bit boundary', () => {
    const values = [0, -1, 1, 2 ** 31 - 1, -(2 ** 31), 2 ** 52, -(2 ** 52), 2 ** 52 - 1, -(2 ** 52) + 1, 2 ** 53 - 2, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER];
    for (let bits = 1; bits <= 53; bits++) {
      for (const d of [-2, -1, 0, 1]) {
        const v = 2 ** bits + d;
        if (Number.isSafeInteger(v)) values.push(v, v === 0 ? 0 : -v);
      }
    }
    const rng = new Rng(11);
    for (let i = 0; i < 2000; i++) {
      const v = (rng.int(2 ** 21) * 2 ** 32 + rng.nextU32()) * (rng.chance(1, 2) ? -1 : 1);
      values.push(v === 0 ? 0 : v); // no -0
    }
    for (const v of values) {
      const hexed = enc(v);
      expect(hexed, String(v)).toBe(referenceHex(v));
      const buf = Buffer.from(hexed, 'hex');
      expect(readVarlong(buf, 0, buf.length)).toEqual({ value: v, pos: buf.length });
      if (v >= -(2 ** 31) && v < 2 ** 31) expect(readVarint(buf, 0, buf.length)).toEqual({ value: v, pos: buf.length });
    }
  });

  it('zigzag helpers are exact below 2^52', () => {
    for (const v of [0, -1, 1, 12345, -12345, 2 ** 40, -(2 ** 40), 2 ** 52 - 1, -(2 ** 52) + 1]) {
      expect(zigzagDecode(zigzagEncode(v))).toBe(v);
    }
    expect(zigzagEncode(-1)).toBe(1);
    expect(zigzagEncode(1)).toBe(2);
  });

  it('reads a varint in the middle of a buffer and respects end', () => {
    const buf = Buffer.from('ff' + 'd804' + 'ff', 'hex');
    expect(readVarint(buf, 1, 3)).toEqual({ value: 300, pos: 3 });
    expect(corruptCode(() => readVarint(buf, 1, 2))).toBe('CORRUPT_MESSAGE');
  });

  it('truncated encodings are CORRUPT_MESSAGE', () => {
    for (const h of ['', '80', 'ffff', 'feffffff']) {
      const buf = Buffer.from(h, 'hex');
      expect(corruptCode(() => readVarint(buf, 0, buf.length)), h).toBe('CORRUPT_MESSAGE');
      expect(corruptCode(() => readVarlong(buf, 0, buf.length)), h).toBe('CORRUPT_MESSAGE');
    }
    const tenMinusOne = Buffer.from('ffffffffffffffffff', 'hex'); // 9 continuation bytes, then nothing
    expect(corruptCode(() => readVarlong(tenMinusOne, 0, tenMinusOne.length))).toBe('CORRUPT_MESSAGE');
  });

  it('longer than 5 (varint) or 10 (varlong) bytes is CORRUPT_MESSAGE', () => {
    const six = Buffer.from('808080808000', 'hex');
    expect(corruptCode(() => readVarint(six, 0, six.length))).toBe('CORRUPT_MESSAGE');
    expect(readVarlong(six, 0, six.length)).toEqual({ value: 0, pos: 6 }); // fine as a varlong
    const eleven = Buffer.from('8080808080808080808000', 'hex');
    expect(eleven.length).toBe(MAX_VARLONG_BYTES + 1);
    expect(corruptCode(() => readVarlong(eleven, 0, eleven.length))).toBe('CORRUPT_MESSAGE');
    expect(MAX_VARINT_BYTES).toBe(5);
  });

  it('zero-padded encodings within the byte limit are accepted, as Kafka accepts them', () => {
    const padded = Buffer.from('8280808000', 'hex'); // 2 in 5 bytes -> 1
    expect(readVarint(padded, 0, padded.length)).toEqual({ value: 1, pos: 5 });
  });

  it('values out of range are CORRUPT_MESSAGE', () => {
    const over32 = Buffer.from('8080808010', 'hex'); // 2^32: zig-zag 2^31 out of int32
    expect(corruptCode(() => readVarint(over32, 0, over32.length))).toBe('CORRUPT_MESSAGE');
    const fifthByteHigh = Buffer.from('ffffffff7f', 'hex'); // 35 bits
    expect(corruptCode(() => readVarint(fifthByteHigh, 0, fifthByteHigh.length))).toBe('CORRUPT_MESSAGE');
    const int64Max = Buffer.from('feffffffffffffffff01', 'hex'); // zig-zag of 2^63-1
    expect(corruptCode(() => readVarlong(int64Max, 0, int64Max.length))).toBe('CORRUPT_MESSAGE');
    const beyondSafe = Buffer.from('8080808080808080' + '20', 'hex'); // 2^61 -> 2^60: not a safe integer
    expect(corruptCode(() => readVarlong(beyondSafe, 0, beyondSafe.length))).toBe('CORRUPT_MESSAGE');
    const bits70 = Buffer.from('ffffffffffffffffff7f', 'hex');
    expect(corruptCode(() => readVarlong(bits70, 0, bits70.length))).toBe('CORRUPT_MESSAGE');
  });
});
