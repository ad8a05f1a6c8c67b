/**
 * Upper bounds on how many bytes an LZ4 frame or a Zstandard frame will
 * decompress to, computed by walking the frame and block headers only (no
 * decompression). The native decoders have no output limit, and both formats
 * expand enormously (zstd RLE blocks: 4 bytes -> 128 KiB, so a 1 MiB batch could
 * claim ~32 GiB), so a batch from the network is checked against
 * maxDecompressedBytes before it is handed to a decoder.
 *
 * Formats: LZ4 Frame Format 1.6.x (lz4/doc/lz4_Frame_format.md) and RFC 8878
 * (Zstandard), section 3.1. A structural error here is CORRUPT_MESSAGE.
 */
import { FjordError } from './errors.js';

const LZ4_MAGIC = 0x184d2204;
const ZSTD_MAGIC = 0xfd2fb528;
/** Skippable frames (both formats share the range 0x184D2A50..0x184D2A5F). */
const SKIPPABLE_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;
/** RFC 8878 3.1.1.2: a block never decompresses to more than 128 KiB. */
const ZSTD_BLOCK_MAX_BYTES = 128 * 1024;
/** LZ4 BD byte, bits 4-6: 4 -> 64 KiB, 5 -> 256 KiB, 6 -> 1 MiB, 7 -> 4 MiB. */
const LZ4_BLOCK_MAX_BYTES: Readonly<Record<number, number>> = { 4: 64 * 1024, 5: 256 * 1024, 6: 1024 * 1024, 7: 4 * 1024 * 1024 };

function corrupt(codec: string, what: string): FjordError {
  return new FjordError('CORRUPT_MESSAGE', `${codec} payload is malformed: ${what}`, { compression: codec });
}

function need(data: Uint8Array, pos: number, bytes: number, codec: string, what: string): void {
  if (pos + bytes > data.length) throw corrupt(codec, `${what} runs past the end`);
}

function u32le(data: Uint8Array, pos: number): number {
  return ((data[pos] as number) | ((data[pos + 1] as number) << 8) | ((data[pos + 2] as number) << 16) | ((data[pos + 3] as number) << 24)) >>> 0;
}

/** Skips a skippable frame at pos (magic already matched); returns the next position. */
function skipFrame(data: Uint8Array, pos: number, codec: string): number {
  need(data, pos, 8, codec, 'skippable frame header');
  const size = u32le(data, pos + 4);
  need(data, pos + 8, size, codec, 'skippable frame');
  return pos + 8 + size;
}

/** Sum over all frames of an upper bound on each block's decompressed size. */
export function lz4DecompressedBound(data: Uint8Array): number {
  const codec = 'lz4';
  let pos = 0;
  let bound = 0;
  if (data.length === 0) throw corrupt(codec, 'empty');
  while (pos < data.length) {
    need(data, pos, 4, codec, 'frame magic');
    const magic = u32le(data, pos);
    if ((magic & SKIPPABLE_MASK) >>> 0 === SKIPPABLE_MAGIC) {
      pos = skipFrame(data, pos, codec);
      continue;
    }
    if (magic !== LZ4_MAGIC) throw corrupt(codec, `bad frame magic 0x${magic.toString(16)}`);
    need(data, pos + 4, 3, codec, 'frame descriptor');
    const flg = data[pos + 4] as number;
    const bd = data[pos + 5] as number;
    if (flg >> 6 !== 1) throw corrupt(codec, `frame version ${flg >> 6}`);
    const blockChecksum = (flg & 0x10) !== 0;
    const contentSize = (flg & 0x08) !== 0;
    const contentChecksum = (flg & 0x04) !== 0;
    const dictId = (flg & 0x01) !== 0;
    const blockMaxBytes = LZ4_BLOCK_MAX_BYTES[(bd >> 4) & 0x07];
    if (blockMaxBytes === undefined) throw corrupt(codec, `block max size code ${(bd >> 4) & 0x07}`);
    pos += 4 + 2 + (contentSize ? 8 : 0) + (dictId ? 4 : 0) + 1; // magic, FLG, BD, [size], [dict], HC
    for (;;) {
      need(data, pos, 4, codec, 'block header');
      const word = u32le(data, pos);
      pos += 4;
      if (word === 0) break; // EndMark
      const uncompressed = (word & 0x8000_0000) !== 0;
      const size = word & 0x7fff_ffff;
      if (size > blockMaxBytes) throw corrupt(codec, `block of ${size} bytes exceeds the frame's ${blockMaxBytes}`);
      need(data, pos, size + (blockChecksum ? 4 : 0), codec, 'block');
      pos += size + (blockChecksum ? 4 : 0);
      bound += uncompressed ? size : blockMaxBytes;
    }
    if (contentChecksum) {
      need(data, pos, 4, codec, 'content checksum');
      pos += 4;
    }
  }
  return bound;
}

/** Sum over all frames of an upper bound on each block's decompressed size. */
export function zstdDecompressedBound(data: Uint8Array): number {
  const codec = 'zstd';
  let pos = 0;
  let bound = 0;
  if (data.length === 0) throw corrupt(codec, 'empty');
  while (pos < data.length) {
    need(data, pos, 4, codec, 'frame magic');
    const magic = u32le(data, pos);
    if ((magic & SKIPPABLE_MASK) >>> 0 === SKIPPABLE_MAGIC) {
      pos = skipFrame(data, pos, codec);
      continue;
    }
    if (magic !== ZSTD_MAGIC) throw corrupt(codec, `bad frame magic 0x${magic.toString(16)}`);
    need(data, pos + 4, 1, codec, 'frame header');
    const fhd = data[pos + 4] as number;
    const fcsFlag = fhd >> 6;
    const singleSegment = (fhd & 0x20) !== 0;
    const contentChecksum = (fhd & 0x04) !== 0;
    const dictIdBytes = [0, 1, 2, 4][fhd & 0x03] as number;
    if ((fhd & 0x08) !== 0) throw corrupt(codec, 'reserved frame header bit is set');
    const fcsBytes = [singleSegment ? 1 : 0, 2, 4, 8][fcsFlag] as number;
    pos += 5 + (singleSegment ? 0 : 1) + dictIdBytes + fcsBytes;
    for (;;) {
      need(data, pos, 3, codec, 'block header');
      const header = (data[pos] as number) | ((data[pos + 1] as number) << 8) | ((data[pos + 2] as number) << 16);
      pos += 3;
      const last = (header & 1) !== 0;
      const type = (header >> 1) & 0x03;
      const size = header >>> 3;
      if (type === 3) throw corrupt(codec, 'reserved block type');
      if (size > ZSTD_BLOCK_MAX_BYTES) throw corrupt(codec, `block size ${size} exceeds ${ZSTD_BLOCK_MAX_BYTES}`);
      if (type === 0) {
        // Raw: size bytes in, size bytes out.
        need(data, pos, size, codec, 'raw block');
        pos += size;
        bound += size;
      } else if (type === 1) {
        // RLE: one byte in, size bytes out.
        need(data, pos, 1, codec, 'RLE block');
        pos += 1;
        bound += size;
      } else {
        // Compressed: size is the compressed size; the output is at most one block.
        need(data, pos, size, codec, 'compressed block');
        pos += size;
        bound += ZSTD_BLOCK_MAX_BYTES;
      }
      if (last) break;
    }
    if (contentChecksum) {
      need(data, pos, 4, codec, 'content checksum');
      pos += 4;
    }
  }
  return bound;
}
