/**
 * Zig-zag varints as Kafka's record format uses them (protobuf encoding).
 * varint = 32-bit signed, varlong = 64-bit signed restricted to safe integers
 * (STYLE.md H.4: offsets and timestamps are numbers, never bigint).
 */
import { FjordError } from './errors.js';

export function zigzagEncode(n: number): number {
  // For safe integers: 2n for n >= 0, -2n - 1 for n < 0 (no 32-bit overflow).
  return n >= 0 ? n * 2 : -n * 2 - 1;
}

export function zigzagDecode(z: number): number {
  return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
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

export function varintSize(n: number): number {
  return unsignedVarintSize(zigzagEncode(n));
}

/** Writes the zig-zag varint of n at pos; returns the new position. */
export function writeVarint(buf: Uint8Array, pos: number, n: number): number {
  let u = zigzagEncode(n);
  while (u >= 0x80) {
    buf[pos++] = (u % 128) | 0x80;
    u = Math.floor(u / 128);
  }
  buf[pos++] = u;
  return pos;
}

export interface VarintRead {
  value: number;
  pos: number;
}

/**
 * Reads a zig-zag varint at pos. `maxBytes` is 5 for a varint (int32) and 10 for a
 * varlong; values outside the safe-integer range or running past `end` are
 * CORRUPT_MESSAGE: the bytes came from the network or disk and may lie.
 */
export function readVarint(buf: Uint8Array, pos: number, end: number, maxBytes = 5): VarintRead {
  let u = 0;
  let scale = 1;
  for (let i = 0; i < maxBytes; i++) {
    if (pos >= end) throw new FjordError('CORRUPT_MESSAGE', 'varint runs past the end of the batch');
    const b = buf[pos++] as number;
    u += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) {
      if (!Number.isSafeInteger(u)) throw new FjordError('CORRUPT_MESSAGE', 'varint is out of the safe integer range');
      const value = zigzagDecode(u);
      if (maxBytes <= 5 && (value < -0x8000_0000 || value > 0x7fff_ffff)) {
        throw new FjordError('CORRUPT_MESSAGE', 'varint does not fit in 32 bits');
      }
      return { value, pos };
    }
    scale *= 128;
  }
  throw new FjordError('CORRUPT_MESSAGE', `varint longer than ${maxBytes} bytes`);
}

export function readVarlong(buf: Uint8Array, pos: number, end: number): VarintRead {
  return readVarint(buf, pos, end, 10);
}
