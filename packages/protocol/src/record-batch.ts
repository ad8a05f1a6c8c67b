/**
 * RecordBatch v2 codec (Kafka's DefaultRecordBatch / DefaultRecord layout).
 * Record, inside the batch's records section (compressed as a whole when the
 * batch is compressed):
 *   length varint | attributes int8 | timestampDelta varlong | offsetDelta varint |
 *   keyLength varint (-1 = null) | key | valueLength varint (-1 = null) | value |
 *   headerCount varint | [headerKeyLength varint | key utf8 | headerValueLength varint | value]
 */
import { assert } from './assert.js';
import {
  ATTRIBUTES_OFFSET,
  BASE_OFFSET_OFFSET,
  BASE_SEQUENCE_OFFSET,
  BASE_TIMESTAMP_OFFSET,
  BATCH_LENGTH_OFFSET,
  COMPRESSION_CODEC_MASK,
  CONTROL_FLAG_MASK,
  CRC_OFFSET,
  CURRENT_MAGIC,
  LAST_OFFSET_DELTA_OFFSET,
  LOG_OVERHEAD,
  MAGIC_OFFSET,
  MAX_TIMESTAMP_OFFSET,
  NO_PARTITION_LEADER_EPOCH,
  NO_PRODUCER_EPOCH,
  NO_PRODUCER_ID,
  NO_SEQUENCE,
  PARTITION_LEADER_EPOCH_OFFSET,
  PRODUCER_EPOCH_OFFSET,
  PRODUCER_ID_OFFSET,
  RECORD_BATCH_HEADER_BYTES,
  RECORD_COUNT_OFFSET,
  TIMESTAMP_TYPE_MASK,
  TRANSACTIONAL_FLAG_MASK,
  checkBatch,
  computeBatchCrc,
  type BatchHeader,
} from './batch-header.js';
import { CompressionType, compress, compressionName, decompress, type CompressionName } from './compression.js';
import { FjordError } from './errors.js';
import { MAX_VARLONG_BYTES, readVarintAt, varintSize, writeVarint, type ReadCursor } from './varint.js';

export interface RecordHeader {
  key: string;
  value: Uint8Array | null;
}

export interface RecordInput {
  key?: Uint8Array | null;
  value: Uint8Array | null;
  headers?: readonly RecordHeader[];
  /** Milliseconds since the epoch; defaults to the batch's defaultTimestamp. */
  timestamp?: number;
}

export type TimestampType = 'CreateTime' | 'LogAppendTime';

export interface RecordBatchInput {
  records: readonly RecordInput[];
  baseOffset?: number;
  partitionLeaderEpoch?: number;
  compression?: CompressionName;
  timestampType?: TimestampType;
  isTransactional?: boolean;
  isControl?: boolean;
  producerId?: number;
  producerEpoch?: number;
  baseSequence?: number;
  /** Timestamp for records that carry none (the codec reads no clock unless this is absent). */
  defaultTimestamp?: number;
}

export interface DecodedRecord {
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: { key: string; value: Buffer | null }[];
  attributes: number;
  offsetDelta: number;
  timestampDelta: number;
}

export interface DecodedBatch {
  header: BatchHeader;
  compression: CompressionName;
  timestampType: TimestampType;
  isTransactional: boolean;
  isControl: boolean;
  records: DecodedRecord[];
}

interface PreparedRecord {
  key: Uint8Array | null;
  value: Uint8Array | null;
  headers: { key: Buffer; value: Uint8Array | null }[];
  timestampDelta: number;
  bodyBytes: number;
}

/** Largest batch the codec will build or parse (bounds every allocation it makes). */
export const MAX_BATCH_BYTES = 256 * 1024 * 1024;

const INT16_MIN = -0x8000;
const INT16_MAX = 0x7fff;
const INT32_MIN = -0x8000_0000;
const INT32_MAX = 0x7fff_ffff;

function checkField(value: number, min: number, max: number, what: string): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new FjordError('INVALID_REQUEST', `${what} ${value} is not an integer in [${min}, ${max}]`, { field: what, value });
  }
  return value;
}

/** Header fields of a batch to build, validated (a bad one is INVALID_REQUEST, never a RangeError). */
interface HeaderFields {
  baseOffset: number;
  partitionLeaderEpoch: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
}

function headerFields(input: RecordBatchInput): HeaderFields {
  return {
    baseOffset: checkField(input.baseOffset ?? 0, 0, Number.MAX_SAFE_INTEGER, 'baseOffset'),
    partitionLeaderEpoch: checkField(input.partitionLeaderEpoch ?? NO_PARTITION_LEADER_EPOCH, INT32_MIN, INT32_MAX, 'partitionLeaderEpoch'),
    producerId: checkField(input.producerId ?? NO_PRODUCER_ID, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, 'producerId'),
    producerEpoch: checkField(input.producerEpoch ?? NO_PRODUCER_EPOCH, INT16_MIN, INT16_MAX, 'producerEpoch'),
    baseSequence: checkField(input.baseSequence ?? NO_SEQUENCE, INT32_MIN, INT32_MAX, 'baseSequence'),
  };
}

function prepare(input: RecordBatchInput): { prepared: PreparedRecord[]; baseTimestamp: number; maxTimestamp: number; recordsBytes: number } {
  const count = input.records.length;
  if (count === 0) throw new FjordError('INVALID_RECORD', 'a record batch needs at least one record');
  // Bounded by MAX_BATCH_BYTES below as well: every record takes at least 7 bytes.
  if (count > MAX_BATCH_BYTES / 7) throw new FjordError('MESSAGE_TOO_LARGE', `${count} records do not fit in one batch`);
  const fallback = input.defaultTimestamp ?? Date.now();
  const first = input.records[0] as RecordInput;
  const baseTimestamp = first.timestamp ?? fallback;
  if (!Number.isSafeInteger(baseTimestamp)) throw new FjordError('INVALID_TIMESTAMP', `record 0 timestamp ${baseTimestamp} is not an integer`);
  let maxTimestamp = -Infinity;
  let recordsBytes = 0;
  const prepared: PreparedRecord[] = new Array<PreparedRecord>(count);
  for (let i = 0; i < count; i++) {
    const r = input.records[i] as RecordInput;
    const timestamp = r.timestamp ?? fallback;
    if (!Number.isSafeInteger(timestamp)) throw new FjordError('INVALID_TIMESTAMP', `record ${i} timestamp ${timestamp} is not an integer`);
    const timestampDelta = timestamp - baseTimestamp;
    if (!Number.isSafeInteger(timestampDelta)) {
      throw new FjordError('INVALID_TIMESTAMP', `record ${i} timestamp ${timestamp} is too far from the first record's ${baseTimestamp}`);
    }
    if (timestamp > maxTimestamp) maxTimestamp = timestamp;
    const key = r.key ?? null;
    const value = r.value;
    const headers = (r.headers ?? []).map((h) => ({ key: Buffer.from(h.key, 'utf8'), value: h.value }));
    let body = 1 + varintSize(timestampDelta) + varintSize(i);
    body += key === null ? varintSize(-1) : varintSize(key.length) + key.length;
    body += value === null ? varintSize(-1) : varintSize(value.length) + value.length;
    body += varintSize(headers.length);
    for (const h of headers) {
      body += varintSize(h.key.length) + h.key.length;
      body += h.value === null ? varintSize(-1) : varintSize(h.value.length) + h.value.length;
    }
    recordsBytes += varintSize(body) + body;
    if (recordsBytes > MAX_BATCH_BYTES) throw new FjordError('MESSAGE_TOO_LARGE', `records take more than ${MAX_BATCH_BYTES} bytes`);
    prepared[i] = { key, value, headers, timestampDelta, bodyBytes: body };
  }
  return { prepared, baseTimestamp, maxTimestamp, recordsBytes };
}

function writeBytes(buf: Buffer, pos: number, bytes: Uint8Array | null): number {
  if (bytes === null) return writeVarint(buf, pos, -1);
  pos = writeVarint(buf, pos, bytes.length);
  buf.set(bytes, pos);
  return pos + bytes.length;
}

function writeRecords(buf: Buffer, pos: number, prepared: readonly PreparedRecord[]): number {
  for (let i = 0; i < prepared.length; i++) {
    const r = prepared[i] as PreparedRecord;
    pos = writeVarint(buf, pos, r.bodyBytes);
    buf[pos++] = 0; // record attributes: unused in v2
    pos = writeVarint(buf, pos, r.timestampDelta);
    pos = writeVarint(buf, pos, i);
    pos = writeBytes(buf, pos, r.key);
    pos = writeBytes(buf, pos, r.value);
    pos = writeVarint(buf, pos, r.headers.length);
    for (const h of r.headers) {
      pos = writeBytes(buf, pos, h.key);
      pos = writeBytes(buf, pos, h.value);
    }
  }
  return pos;
}

function attributesOf(input: RecordBatchInput): number {
  let attributes = CompressionType[input.compression ?? 'none'];
  if (input.timestampType === 'LogAppendTime') attributes |= TIMESTAMP_TYPE_MASK;
  if (input.isTransactional === true) attributes |= TRANSACTIONAL_FLAG_MASK;
  if (input.isControl === true) attributes |= CONTROL_FLAG_MASK;
  return attributes;
}

function writeHeaderAndCrc(
  buf: Buffer,
  header: HeaderFields,
  fields: { count: number; baseTimestamp: number; maxTimestamp: number; attributes: number },
): Buffer {
  buf.writeBigInt64BE(BigInt(header.baseOffset), BASE_OFFSET_OFFSET);
  buf.writeInt32BE(buf.length - LOG_OVERHEAD, BATCH_LENGTH_OFFSET);
  buf.writeInt32BE(header.partitionLeaderEpoch, PARTITION_LEADER_EPOCH_OFFSET);
  buf.writeInt8(CURRENT_MAGIC, MAGIC_OFFSET);
  buf.writeInt16BE(fields.attributes, ATTRIBUTES_OFFSET);
  buf.writeInt32BE(fields.count - 1, LAST_OFFSET_DELTA_OFFSET);
  buf.writeBigInt64BE(BigInt(fields.baseTimestamp), BASE_TIMESTAMP_OFFSET);
  buf.writeBigInt64BE(BigInt(fields.maxTimestamp), MAX_TIMESTAMP_OFFSET);
  buf.writeBigInt64BE(BigInt(header.producerId), PRODUCER_ID_OFFSET);
  buf.writeInt16BE(header.producerEpoch, PRODUCER_EPOCH_OFFSET);
  buf.writeInt32BE(header.baseSequence, BASE_SEQUENCE_OFFSET);
  buf.writeInt32BE(fields.count, RECORD_COUNT_OFFSET);
  buf.writeUInt32BE(computeBatchCrc(buf, 0, buf.length), CRC_OFFSET);
  return buf;
}

/** Encodes an uncompressed batch synchronously (the producer's and tests' fast path). */
export function encodeRecordBatchSync(input: RecordBatchInput): Buffer {
  if ((input.compression ?? 'none') !== 'none') {
    throw new FjordError('INVALID_REQUEST', 'encodeRecordBatchSync only builds uncompressed batches; use encodeRecordBatch');
  }
  const header = headerFields(input);
  const { prepared, baseTimestamp, maxTimestamp, recordsBytes } = prepare(input);
  const buf = Buffer.allocUnsafe(RECORD_BATCH_HEADER_BYTES + recordsBytes);
  const end = writeRecords(buf, RECORD_BATCH_HEADER_BYTES, prepared);
  assert(end === buf.length, 'record size accounting is off');
  return writeHeaderAndCrc(buf, header, { count: prepared.length, baseTimestamp, maxTimestamp, attributes: attributesOf(input) });
}

/** Encodes a batch, compressing the records section when asked. */
export async function encodeRecordBatch(input: RecordBatchInput): Promise<Buffer> {
  const name = input.compression ?? 'none';
  if (name === 'none') return encodeRecordBatchSync(input);
  const header = headerFields(input);
  const { prepared, baseTimestamp, maxTimestamp, recordsBytes } = prepare(input);
  const raw = Buffer.allocUnsafe(recordsBytes);
  const end = writeRecords(raw, 0, prepared);
  assert(end === raw.length, 'record size accounting is off');
  const packed = await compress(name, raw);
  const buf = Buffer.allocUnsafe(RECORD_BATCH_HEADER_BYTES + packed.length);
  packed.copy(buf, RECORD_BATCH_HEADER_BYTES);
  return writeHeaderAndCrc(buf, header, { count: prepared.length, baseTimestamp, maxTimestamp, attributes: attributesOf(input) });
}

/** Reads a varint-length-prefixed byte field (-1 = null) as a view into buf. */
function readBytesAt(buf: Buffer, cursor: ReadCursor, end: number): Buffer | null {
  const len = readVarintAt(buf, cursor, end);
  if (len === -1) return null;
  if (len < -1) throw new FjordError('CORRUPT_MESSAGE', `negative length ${len}`);
  const start = cursor.pos;
  if (start + len > end) throw new FjordError('CORRUPT_MESSAGE', 'field runs past the end of its record');
  cursor.pos = start + len;
  return buf.subarray(start, start + len);
}

function parseRecords(records: Buffer, header: BatchHeader, logAppendTime: boolean): DecodedRecord[] {
  const out: DecodedRecord[] = [];
  const cursor: ReadCursor = { pos: 0 };
  const end = records.length;
  for (let i = 0; i < header.recordCount; i++) {
    const length = readVarintAt(records, cursor, end);
    if (length < 1 || cursor.pos + length > end) throw new FjordError('CORRUPT_MESSAGE', `record ${i} length ${length} is invalid`);
    const recordEnd = cursor.pos + length;
    const attributes = records[cursor.pos++] as number;
    const timestampDelta = readVarintAt(records, cursor, recordEnd, MAX_VARLONG_BYTES);
    const offsetDelta = readVarintAt(records, cursor, recordEnd);
    if (offsetDelta < 0 || offsetDelta > header.lastOffsetDelta) {
      throw new FjordError('CORRUPT_MESSAGE', `record ${i} offsetDelta ${offsetDelta} is outside the batch`);
    }
    const key = readBytesAt(records, cursor, recordEnd);
    const value = readBytesAt(records, cursor, recordEnd);
    const headerCount = readVarintAt(records, cursor, recordEnd);
    if (headerCount < 0) throw new FjordError('CORRUPT_MESSAGE', `record ${i} has a negative header count`);
    const headers: { key: string; value: Buffer | null }[] = [];
    for (let h = 0; h < headerCount; h++) {
      const hk = readBytesAt(records, cursor, recordEnd);
      if (hk === null) throw new FjordError('CORRUPT_MESSAGE', `record ${i} header ${h} has a null key`);
      headers.push({ key: hk.toString('utf8'), value: readBytesAt(records, cursor, recordEnd) });
    }
    if (cursor.pos !== recordEnd) throw new FjordError('CORRUPT_MESSAGE', `record ${i} has ${recordEnd - cursor.pos} trailing bytes`);
    const timestamp = logAppendTime ? header.maxTimestamp : header.baseTimestamp + timestampDelta;
    if (!Number.isSafeInteger(timestamp)) throw new FjordError('CORRUPT_MESSAGE', `record ${i} timestamp delta ${timestampDelta} overflows`);
    out.push({
      offset: header.baseOffset + offsetDelta,
      timestamp,
      key,
      value,
      headers,
      attributes,
      offsetDelta,
      timestampDelta,
    });
  }
  if (cursor.pos !== end) throw new FjordError('CORRUPT_MESSAGE', `${end - cursor.pos} bytes follow the last record`);
  return out;
}

export interface DecodeOptions {
  /** Largest accepted batch in bytes, LOG_OVERHEAD included (default MAX_BATCH_BYTES). */
  maxBatchBytes?: number;
  /** Largest accepted decompressed records section (default MAX_DECOMPRESSED_BYTES): bounds zip bombs. */
  maxDecompressedBytes?: number;
}

/** A Buffer view of the same bytes (gRPC and others may hand over a plain Uint8Array). */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Decodes one whole batch (validating it first: length, magic, CRC, counts).
 * Record keys and values are views into `buf` (or the decompressed copy).
 * Malformed input of any kind is a FjordError (CORRUPT_MESSAGE,
 * MESSAGE_TOO_LARGE or UNSUPPORTED_COMPRESSION_TYPE), never another exception.
 */
export async function decodeRecordBatch(bytes: Uint8Array, options: DecodeOptions = {}): Promise<DecodedBatch> {
  const buf = asBuffer(bytes);
  const { header, sizeBytes } = checkBatch(buf, 0, buf.length, {
    maxBatchBytes: options.maxBatchBytes ?? MAX_BATCH_BYTES,
    requireDenseOffsets: false,
  });
  if (sizeBytes !== buf.length) throw new FjordError('CORRUPT_MESSAGE', `${buf.length - sizeBytes} bytes follow the batch`);
  return decodeChecked(buf, header, options);
}

/** Decodes a batch that checkBatch has already validated (buf holds exactly the batch). */
async function decodeChecked(buf: Buffer, header: BatchHeader, options: DecodeOptions): Promise<DecodedBatch> {
  const compression = compressionName(header.attributes & COMPRESSION_CODEC_MASK);
  const records = await decompress(compression, buf.subarray(RECORD_BATCH_HEADER_BYTES), options.maxDecompressedBytes);
  const logAppendTime = (header.attributes & TIMESTAMP_TYPE_MASK) !== 0;
  return {
    header,
    compression,
    timestampType: logAppendTime ? 'LogAppendTime' : 'CreateTime',
    isTransactional: (header.attributes & TRANSACTIONAL_FLAG_MASK) !== 0,
    isControl: (header.attributes & CONTROL_FLAG_MASK) !== 0,
    records: parseRecords(records, header, logAppendTime),
  };
}

/** Splits a buffer of back-to-back batches (as a fetch returns) and decodes each. */
export async function decodeRecordBatches(bytes: Uint8Array, options: DecodeOptions = {}): Promise<DecodedBatch[]> {
  const buf = asBuffer(bytes);
  const out: DecodedBatch[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const { header, sizeBytes } = checkBatch(buf, pos, buf.length, {
      maxBatchBytes: options.maxBatchBytes ?? MAX_BATCH_BYTES,
      requireDenseOffsets: false,
    });
    // Checked once (CRC included); decodeChecked does not check again.
    out.push(await decodeChecked(buf.subarray(pos, pos + sizeBytes), header, options));
    pos += sizeBytes;
  }
  return out;
}
