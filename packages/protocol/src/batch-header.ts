/**
 * The 61-byte RecordBatch v2 header, in Kafka's exact layout
 * (DefaultRecordBatch.java). Brokers read only this header: a batch is
 * validated once (length, magic, CRC, counts) and then handled as opaque bytes.
 *
 *  0 baseOffset int64          | 27 baseTimestamp int64
 *  8 batchLength int32         | 35 maxTimestamp int64
 * 12 partitionLeaderEpoch int32| 43 producerId int64
 * 16 magic int8 (= 2)          | 51 producerEpoch int16
 * 17 crc uint32 (CRC32C)       | 53 baseSequence int32
 * 21 attributes int16          | 57 recordCount int32
 * 23 lastOffsetDelta int32     | 61 records...
 *
 * batchLength counts the bytes after the batchLength field, so a batch takes
 * LOG_OVERHEAD + batchLength bytes. The CRC covers attributes..end, which lets a
 * leader stamp baseOffset and partitionLeaderEpoch without recomputing it.
 */
import { assert, assertSafeInteger } from './assert.js';
import { crc32c } from './crc32c.js';
import { FjordError } from './errors.js';

export const BASE_OFFSET_OFFSET = 0;
export const BATCH_LENGTH_OFFSET = 8;
export const PARTITION_LEADER_EPOCH_OFFSET = 12;
export const MAGIC_OFFSET = 16;
export const CRC_OFFSET = 17;
export const ATTRIBUTES_OFFSET = 21;
export const LAST_OFFSET_DELTA_OFFSET = 23;
export const BASE_TIMESTAMP_OFFSET = 27;
export const MAX_TIMESTAMP_OFFSET = 35;
export const PRODUCER_ID_OFFSET = 43;
export const PRODUCER_EPOCH_OFFSET = 51;
export const BASE_SEQUENCE_OFFSET = 53;
export const RECORD_COUNT_OFFSET = 57;
/** Size of the batch header (RECORD_BATCH_OVERHEAD in Kafka). */
export const RECORD_BATCH_HEADER_BYTES = 61;
/** baseOffset + batchLength: the bytes not counted by batchLength. */
export const LOG_OVERHEAD = 12;
export const CURRENT_MAGIC = 2;

export const COMPRESSION_CODEC_MASK = 0x07;
export const TIMESTAMP_TYPE_MASK = 0x08;
export const TRANSACTIONAL_FLAG_MASK = 0x10;
export const CONTROL_FLAG_MASK = 0x20;
export const DELETE_HORIZON_FLAG_MASK = 0x40;

export const NO_PRODUCER_ID = -1;
export const NO_PRODUCER_EPOCH = -1;
export const NO_SEQUENCE = -1;
export const NO_PARTITION_LEADER_EPOCH = -1;
export const NO_TIMESTAMP = -1;

export interface BatchHeader {
  baseOffset: number;
  /** Bytes after the batchLength field; the batch occupies LOG_OVERHEAD + batchLength bytes. */
  batchLength: number;
  partitionLeaderEpoch: number;
  magic: number;
  crc: number;
  attributes: number;
  lastOffsetDelta: number;
  baseTimestamp: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
}

function view(buf: Uint8Array): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

// Big-endian reads by byte arithmetic: the header is read once per batch on
// every append, fetch and recovery scan, and a DataView per call costs more
// than the reads. Callers check bounds first.
function int32At(b: Uint8Array, p: number): number {
  return ((b[p] as number) << 24) | ((b[p + 1] as number) << 16) | ((b[p + 2] as number) << 8) | (b[p + 3] as number);
}

function int16At(b: Uint8Array, p: number): number {
  return ((((b[p] as number) << 8) | (b[p + 1] as number)) << 16) >> 16;
}

/** Big-endian int64 as a number; outside the safe-integer range it is CORRUPT_MESSAGE (STYLE.md H.4). */
function int64At(b: Uint8Array, p: number, what: string): number {
  const hi = int32At(b, p);
  const lo = int32At(b, p + 4) >>> 0;
  const v = hi * 0x1_0000_0000 + lo;
  if (hi > 0x1f_ffff || hi < -0x20_0000 || !Number.isSafeInteger(v)) {
    throw new FjordError('CORRUPT_MESSAGE', `${what} ${view(b).getBigInt64(p)} is outside the safe integer range`, { field: what });
  }
  return v;
}

/** Total bytes of the batch starting at `pos` (LOG_OVERHEAD + batchLength), read from its length field. */
export function batchSizeAt(buf: Uint8Array, pos: number): number {
  assert(pos >= 0 && pos + LOG_OVERHEAD <= buf.length, () => `batchSizeAt(${pos}) needs ${LOG_OVERHEAD} bytes of ${buf.length}`);
  return LOG_OVERHEAD + int32At(buf, pos + BATCH_LENGTH_OFFSET);
}

/** Reads the header at `pos`: CORRUPT_MESSAGE if fewer than RECORD_BATCH_HEADER_BYTES are there or an int64 is unsafe. */
export function readBatchHeader(buf: Uint8Array, pos = 0): BatchHeader {
  if (!(pos >= 0 && buf.length - pos >= RECORD_BATCH_HEADER_BYTES)) {
    throw new FjordError('CORRUPT_MESSAGE', `batch header needs ${RECORD_BATCH_HEADER_BYTES} bytes, ${buf.length - pos} available`);
  }
  return {
    baseOffset: int64At(buf, pos + BASE_OFFSET_OFFSET, 'baseOffset'),
    batchLength: int32At(buf, pos + BATCH_LENGTH_OFFSET),
    partitionLeaderEpoch: int32At(buf, pos + PARTITION_LEADER_EPOCH_OFFSET),
    magic: ((buf[pos + MAGIC_OFFSET] as number) << 24) >> 24,
    crc: int32At(buf, pos + CRC_OFFSET) >>> 0,
    attributes: int16At(buf, pos + ATTRIBUTES_OFFSET),
    lastOffsetDelta: int32At(buf, pos + LAST_OFFSET_DELTA_OFFSET),
    baseTimestamp: int64At(buf, pos + BASE_TIMESTAMP_OFFSET, 'baseTimestamp'),
    maxTimestamp: int64At(buf, pos + MAX_TIMESTAMP_OFFSET, 'maxTimestamp'),
    producerId: int64At(buf, pos + PRODUCER_ID_OFFSET, 'producerId'),
    producerEpoch: int16At(buf, pos + PRODUCER_EPOCH_OFFSET),
    baseSequence: int32At(buf, pos + BASE_SEQUENCE_OFFSET),
    recordCount: int32At(buf, pos + RECORD_COUNT_OFFSET),
  };
}

/** Overwrites baseOffset in place (not covered by the CRC). */
export function stampBaseOffset(buf: Uint8Array, pos: number, baseOffset: number): void {
  assertSafeInteger(baseOffset, 'baseOffset');
  view(buf).setBigInt64(pos + BASE_OFFSET_OFFSET, BigInt(baseOffset));
}

/** Overwrites partitionLeaderEpoch in place (not covered by the CRC). */
export function stampPartitionLeaderEpoch(buf: Uint8Array, pos: number, partitionLeaderEpoch: number): void {
  view(buf).setInt32(pos + PARTITION_LEADER_EPOCH_OFFSET, partitionLeaderEpoch);
}

/** CRC32C over attributes..end of the batch at `pos` of `sizeBytes` bytes. */
export function computeBatchCrc(buf: Uint8Array, pos: number, sizeBytes: number): number {
  return crc32c(buf.subarray(pos + ATTRIBUTES_OFFSET, pos + sizeBytes));
}

export interface BatchCheckOptions {
  /** Largest accepted batch, in bytes including LOG_OVERHEAD (Kafka's max.message.bytes). */
  maxBatchBytes: number;
  /**
   * Require lastOffsetDelta === recordCount - 1 (a fresh producer batch). Batches
   * that went through compaction may have gaps, so replicas and recovery pass false.
   */
  requireDenseOffsets: boolean;
}

/**
 * Checks the batch that starts at `pos` and ends before `end`: the length field is
 * sane and fits, magic is 2, the CRC matches, counts are consistent, baseOffset
 * plus lastOffsetDelta is a safe integer. Returns its header and size, or throws
 * CORRUPT_MESSAGE (a wrong magic byte included: to recovery it is a torn or
 * foreign write) or MESSAGE_TOO_LARGE. Reads only; never modifies the bytes.
 *
 * The length field is checked against maxBatchBytes *before* checking that the
 * batch is all present, so a reader holding only a window of a file gets
 * "truncated" (CORRUPT_MESSAGE with details.sizeBytes) only for a size it may
 * sensibly read, and MESSAGE_TOO_LARGE for an absurd length.
 */
export function checkBatch(
  buf: Uint8Array,
  pos: number,
  end: number,
  options: BatchCheckOptions,
): { header: BatchHeader; sizeBytes: number } {
  if (!(Number.isSafeInteger(pos) && Number.isSafeInteger(end) && pos >= 0 && pos <= end && end <= buf.length)) {
    assert(false, `checkBatch window [${pos}, ${end}) is outside the buffer of ${buf.length} bytes`);
  }
  const available = end - pos;
  if (available < LOG_OVERHEAD) {
    throw new FjordError('CORRUPT_MESSAGE', `truncated batch: ${available} bytes left, the length field needs ${LOG_OVERHEAD}`, { pos });
  }
  const batchLength = int32At(buf, pos + BATCH_LENGTH_OFFSET);
  const sizeBytes = LOG_OVERHEAD + batchLength;
  if (batchLength < RECORD_BATCH_HEADER_BYTES - LOG_OVERHEAD) {
    throw new FjordError('CORRUPT_MESSAGE', `batch length ${batchLength} is smaller than the header`, { pos, batchLength });
  }
  if (sizeBytes > options.maxBatchBytes) {
    throw new FjordError('MESSAGE_TOO_LARGE', `batch of ${sizeBytes} bytes exceeds the limit of ${options.maxBatchBytes}`, {
      pos,
      sizeBytes,
      maxBatchBytes: options.maxBatchBytes,
    });
  }
  if (sizeBytes > available) {
    throw new FjordError('CORRUPT_MESSAGE', `truncated batch: its length says ${sizeBytes} bytes, ${available} are present`, {
      pos,
      sizeBytes,
      available,
    });
  }
  const header = readBatchHeader(buf, pos);
  if (header.magic !== CURRENT_MAGIC) {
    throw new FjordError('CORRUPT_MESSAGE', `magic byte is ${header.magic}, expected ${CURRENT_MAGIC}`, { pos, magic: header.magic });
  }
  const crc = computeBatchCrc(buf, pos, sizeBytes);
  if (crc !== header.crc) {
    throw new FjordError('CORRUPT_MESSAGE', `CRC mismatch: stored ${header.crc}, computed ${crc}`, { pos, stored: header.crc, computed: crc });
  }
  if (header.recordCount < 0 || header.lastOffsetDelta < 0) {
    throw new FjordError('CORRUPT_MESSAGE', 'negative record count or lastOffsetDelta', { pos });
  }
  if (options.requireDenseOffsets ? header.lastOffsetDelta !== header.recordCount - 1 : header.lastOffsetDelta < header.recordCount - 1) {
    throw new FjordError('CORRUPT_MESSAGE', `lastOffsetDelta ${header.lastOffsetDelta} does not match record count ${header.recordCount}`, {
      pos,
    });
  }
  if (header.baseOffset < 0 || !Number.isSafeInteger(header.baseOffset + header.lastOffsetDelta)) {
    throw new FjordError('CORRUPT_MESSAGE', `baseOffset ${header.baseOffset} is negative or too large`, { pos });
  }
  return { header, sizeBytes };
}
