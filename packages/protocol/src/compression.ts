/**
 * Batch compression codecs, by Kafka's attribute values (bits 0-2):
 * 0 none, 1 gzip, 2 snappy, 3 lz4 (LZ4 frame format), 4 zstd.
 * Snappy is refused with UNSUPPORTED_COMPRESSION_TYPE: no maintained native
 * binding installs here, and a slow pure-JS one would sit on the hot path.
 */
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import { compressFrame, decompressFrame } from 'lz4-napi';
import { compress as zstdCompress, decompress as zstdDecompress } from '@mongodb-js/zstd';
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

export async function decompress(name: CompressionName, data: Buffer): Promise<Buffer> {
  let out: Buffer;
  try {
    switch (name) {
      case 'none':
        return data;
      case 'gzip':
        out = await gunzipAsync(data, { maxOutputLength: MAX_DECOMPRESSED_BYTES });
        break;
      case 'lz4':
        out = await decompressFrame(data);
        break;
      case 'zstd':
        out = await zstdDecompress(data);
        break;
      case 'snappy':
        throw new FjordError('UNSUPPORTED_COMPRESSION_TYPE', 'snappy is not supported; use lz4 or zstd');
    }
  } catch (err) {
    if (err instanceof FjordError) throw err;
    throw new FjordError('CORRUPT_MESSAGE', `${name} payload does not decompress`, { compression: name }, { cause: err });
  }
  if (out.length > MAX_DECOMPRESSED_BYTES) {
    throw new FjordError('CORRUPT_MESSAGE', `${name} payload expands beyond ${MAX_DECOMPRESSED_BYTES} bytes`);
  }
  return out;
}
