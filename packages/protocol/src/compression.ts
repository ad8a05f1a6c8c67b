/**
 * Batch compression codecs, by Kafka's attribute values (bits 0-2):
 * 0 none, 1 gzip, 2 snappy, 3 lz4 (LZ4 frame format), 4 zstd.
 * Snappy is refused with UNSUPPORTED_COMPRESSION_TYPE: no maintained native
 * binding installs here, and a slow pure-JS one would sit on the hot path.
 */
import { kMaxLength } from 'node:buffer';
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import { compressFrame, decompressFrame } from 'lz4-napi';
import { compress as zstdCompress, decompress as zstdDecompress } from '@mongodb-js/zstd';
import { assert } from './assert.js';
import { lz4DecompressedBound, zstdDecompressedBound } from './decompressed-bound.js';
import { FjordError } from './errors.js';

export const CompressionType = {
  none: 0,
  gzip: 1,
  snappy: 2,
  lz4: 3,
  zstd: 4,
} as const;
export type CompressionName = keyof typeof CompressionType;
export type CompressionCode = (typeof CompressionType)[CompressionName];

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

/** Upper bound on a decompressed records section: a batch can't expand without limit (zip bombs). */
export const MAX_DECOMPRESSED_BYTES = 256 * 1024 * 1024;

export function compressionName(code: number): CompressionName {
  switch (code) {
    case 0:
      return 'none';
    case 1:
      return 'gzip';
    case 2:
      return 'snappy';
    case 3:
      return 'lz4';
    case 4:
      return 'zstd';
    default:
      throw new FjordError('UNSUPPORTED_COMPRESSION_TYPE', `unknown compression code ${code}`, { code });
  }
}

export async function compress(name: CompressionName, data: Buffer): Promise<Buffer> {
  switch (name) {
    case 'none':
      return data;
    case 'gzip':
      return gzipAsync(data, { level: 1 });
    case 'lz4':
      return compressFrame(data);
    case 'zstd':
      return zstdCompress(data, 3);
    case 'snappy':
      throw new FjordError('UNSUPPORTED_COMPRESSION_TYPE', 'snappy is not supported; use lz4 or zstd');
  }
}

/**
 * Decompresses a records section. Bytes from the network may be a bomb, so the
 * output is bounded by `maxDecompressedBytes` *before* a native decoder runs
 * (gzip: zlib's maxOutputLength; lz4 and zstd: a bound from their block headers,
 * decompressed-bound.ts). Any failure is a FjordError: CORRUPT_MESSAGE for bad
 * or oversized payloads, UNSUPPORTED_COMPRESSION_TYPE for snappy.
 */
export async function decompress(name: CompressionName, data: Buffer, maxDecompressedBytes = MAX_DECOMPRESSED_BYTES): Promise<Buffer> {
  assert(
    Number.isSafeInteger(maxDecompressedBytes) && maxDecompressedBytes > 0 && maxDecompressedBytes <= kMaxLength,
    'maxDecompressedBytes must be a positive integer no larger than a Buffer can be',
  );
  if (name === 'none') return data;
  if (name === 'snappy') throw new FjordError('UNSUPPORTED_COMPRESSION_TYPE', 'snappy is not supported; use lz4 or zstd');
  if (name === 'lz4' || name === 'zstd') {
    const bound = name === 'lz4' ? lz4DecompressedBound(data) : zstdDecompressedBound(data);
    if (bound > maxDecompressedBytes) {
      throw new FjordError('CORRUPT_MESSAGE', `${name} payload may expand to ${bound} bytes, beyond the limit of ${maxDecompressedBytes}`, {
        compression: name,
        boundBytes: bound,
        maxDecompressedBytes,
      });
    }
  }
  let out: Buffer;
  try {
    switch (name) {
      case 'gzip':
        out = await gunzipAsync(data, { maxOutputLength: maxDecompressedBytes });
        break;
      case 'lz4':
        out = await decompressFrame(data);
        break;
      case 'zstd':
        out = await zstdDecompress(data);
        break;
    }
  } catch (err) {
    throw new FjordError('CORRUPT_MESSAGE', `${name} payload does not decompress`, { compression: name }, { cause: err });
  }
  if (out.length > maxDecompressedBytes) {
    throw new FjordError('CORRUPT_MESSAGE', `${name} payload expands beyond ${maxDecompressedBytes} bytes`, { compression: name });
  }
  return out;
}
