/**
 * Zig-zag varints as Kafka's record format uses them (protobuf encoding;
 * Kafka's ByteUtils.writeVarint / writeVarlong). varint = 32-bit signed,
 * varlong = 64-bit signed restricted to safe integers (STYLE.md H.4: offsets
 * and timestamps are numbers, never bigint).
 *
 * Numbers are exact below 2^53, and a zig-zag value is twice the magnitude, so
 * |n| < 2^52 takes a plain-number fast path; the rest of the safe range (only
 * reachable by varlongs) goes through BigInt.
 */
import { assert } from './assert.js';
import { FjordError } from './errors.js';

/** |n| below this: the zig-zag value (< 2^53) is exact as a number. */
const FAST_LIMIT = 2 ** 52;
const INT32_MIN = -0x8000_0000;
const INT32_MAX = 0x7fff_ffff;
/** Bytes of a varint (int32) and of a varlong (int64), as Kafka bounds them. */
export const MAX_VARINT_BYTES = 5;
export const MAX_VARLONG_BYTES = 10;

/** Zig-zag encoding of a safe integer; exact for |n| < 2^52 (beyond that, use writeVarint). */
export function zigzagEncode(n: number): number {
  // 2n for n >= 0, -2n - 1 for n < 0 (no 32-bit overflow).
  return n >= 0 ? n * 2 : -n * 2 - 1;
}

export function zigzagDecode(z: number): number {
  return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
}

function zigzagEncodeBig(n: number): bigint {
  return BigInt.asUintN(64, (BigInt(n) << 1n) ^ (BigInt(n) >> 63n));
}

/** Bytes needed for the unsigned varint of a non-negative safe integer. */
export function unsignedVarintSize(u: number): number {
  let size = 1;
  while (u >= 0x80) {
    u = Math.floor(u / 128);
    size++;
  }
  return size;
}

/** Bytes of the zig-zag varint of a safe integer n (what writeVarint writes). */
export function varintSize(n: number): number {
  if (n > -FAST_LIMIT && n < FAST_LIMIT) return unsignedVarintSize(zigzagEncode(n));
  let z = zigzagEncodeBig(n);
  let size = 1;
  while (z >= 0x80n) {
    z >>= 7n;
    size++;
  }
  return size;
}

/** Writes the zig-zag varint of n at pos; returns the new position. The caller sizes buf with varintSize. */
export function writeVarint(buf: Uint8Array, pos: number, n: number): number {
  if (n > -FAST_LIMIT && n < FAST_LIMIT) {
    let u = zigzagEncode(n);
    while (u >= 0x80) {
      buf[pos++] = (u % 128) | 0x80;
      u = Math.floor(u / 128);
    }
    buf[pos++] = u;
    return pos;
  }
  assert(Number.isSafeInteger(n), () => `varint value ${n} is not a safe integer`);
  let z = zigzagEncodeBig(n);
  while (z >= 0x80n) {
    buf[pos++] = Number(z & 0x7fn) | 0x80;
    z >>= 7n;
  }
  buf[pos++] = Number(z);
  return pos;
}

export interface VarintRead {
  value: number;
  pos: number;
}

/** A read position that readVarintAt advances: the decoder's per-field reads allocate nothing. */
export interface ReadCursor {
  pos: number;
}

/**
 * Reads a zig-zag varint at cursor.pos and advances the cursor. `maxBytes` is 5
 * for a varint (int32) and 10 for a varlong. The bytes came from the network or
 * disk and may lie, so each of these is CORRUPT_MESSAGE: running past `end`,
 * more than maxBytes bytes, a varint outside int32, a varlong outside the
 * safe-integer range. Like Kafka's ByteUtils.readVarint, a zero-padded
 * (non-minimal) encoding within maxBytes is accepted.
 */
export function readVarintAt(buf: Uint8Array, cursor: ReadCursor, end: number, maxBytes = MAX_VARINT_BYTES): number {
  let pos = cursor.pos;
  // One-byte values (-64..63) are the common case: record attributes, small deltas and lengths.
  if (pos < end) {
    const b0 = buf[pos] as number;
    if ((b0 & 0x80) === 0) {
      cursor.pos = pos + 1;
      return (b0 >>> 1) ^ -(b0 & 1);
    }
  }
  let u = 0;
  let scale = 1;
  // 7 bytes carry 49 bits: exact as a number. Longer varlongs finish in readVarlongTail.
  const fastBytes = maxBytes < 7 ? maxBytes : 7;
  for (let i = 0; i < fastBytes; i++) {
    if (pos >= end) throw new FjordError('CORRUPT_MESSAGE', 'varint runs past the end of its field');
    const b = buf[pos++] as number;
    u += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) {
      const value = zigzagDecode(u);
      if (maxBytes <= MAX_VARINT_BYTES && (value < INT32_MIN || value > INT32_MAX)) {
        throw new FjordError('CORRUPT_MESSAGE', 'varint does not fit in 32 bits');
      }
      cursor.pos = pos;
      return value;
    }
    scale *= 128;
  }
  if (maxBytes <= fastBytes) throw new FjordError('CORRUPT_MESSAGE', `varint longer than ${maxBytes} bytes`);
  return readVarlongTail(buf, cursor, pos, end, BigInt(u), fastBytes, maxBytes);
}

function readVarlongTail(buf: Uint8Array, cursor: ReadCursor, pos: number, end: number, acc: bigint, done: number, maxBytes: number): number {
  for (let i = done; i < maxBytes; i++) {
    if (pos >= end) throw new FjordError('CORRUPT_MESSAGE', 'varlong runs past the end of its field');
    const b = buf[pos++] as number;
    acc += BigInt(b & 0x7f) << BigInt(7 * i);
    if ((b & 0x80) === 0) {
      const value = (acc >> 1n) ^ -(acc & 1n);
      if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
        throw new FjordError('CORRUPT_MESSAGE', 'varlong is outside the safe integer range');
      }
      cursor.pos = pos;
      return Number(value);
    }
  }
  throw new FjordError('CORRUPT_MESSAGE', `varlong longer than ${maxBytes} bytes`);
}

/** Reads a zig-zag varint at pos (see readVarintAt); returns the value and the next position. */
export function readVarint(buf: Uint8Array, pos: number, end: number, maxBytes = MAX_VARINT_BYTES): VarintRead {
  const cursor = { pos };
  const value = readVarintAt(buf, cursor, end, maxBytes);
  return { value, pos: cursor.pos };
}

export function readVarlong(buf: Uint8Array, pos: number, end: number): VarintRead {
  return readVarint(buf, pos, end, MAX_VARLONG_BYTES);
}
