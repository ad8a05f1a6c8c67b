/**
 * Typed access to kafkajs internals (its RecordBatch v2 encoder and decoder,
 * its record encoder, gzip codec lookup and murmur2), used only as an
 * independent implementation to cross-check ours. kafkajs is CommonJS and
 * untyped inside, so each module is loaded as `unknown` and given the narrow
 * shape this test relies on (read from node_modules/kafkajs/src).
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

function load<T>(id: string): T {
  const mod: unknown = require(id);
  return mod as T;
}

/** kafkajs's BigInt-backed Long (src/utils/long.js). */
export interface KafkaLong {
  readonly value: bigint;
}

interface KafkaLongStatic {
  fromValue(value: number | bigint | string): KafkaLong;
}

/** An encoder whose `buffer` holds the bytes written so far (src/protocol/encoder.js). */
export interface KafkaEncoder {
  readonly buffer: Buffer;
}

/** kafkajs keeps headers as an object; a repeated key holds an array (record/v0/index.js). */
export type KafkaHeaders = Record<string, Buffer | Buffer[]>;
export type KafkaDecodedHeaders = Record<string, Buffer | null | (Buffer | null)[]>;

export interface KafkaRecordInput {
  offsetDelta: number;
  timestampDelta: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: KafkaHeaders;
}

export interface KafkaRecordBatchInput {
  compression: number;
  firstOffset: KafkaLong;
  firstTimestamp: number;
  maxTimestamp: number;
  partitionLeaderEpoch: number;
  lastOffsetDelta: number;
  transactional: boolean;
  producerId: KafkaLong;
  producerEpoch: number;
  firstSequence: number;
  records: KafkaEncoder[];
}

export interface KafkaDecodedRecord {
  timestamp: string;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: KafkaDecodedHeaders;
  attributes: number;
  isControlRecord: boolean;
}

export interface KafkaDecodedBatch {
  firstOffset: string;
  firstTimestamp: string;
  maxTimestamp: string;
  partitionLeaderEpoch: number;
  inTransaction: boolean;
  isControlBatch: boolean;
  lastOffsetDelta: number;
  producerId: string;
  producerEpoch: number;
  firstSequence: number;
  /** 0 CreateTime, 1 LogAppendTime (src/protocol/timestampTypes.js). */
  timestampType: number;
  records: KafkaDecodedRecord[];
}

interface KafkaDecoderStatic {
  new (buffer: Buffer): unknown;
}

interface KafkaCodec {
  compress(encoder: KafkaEncoder): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

interface KafkaCompressionModule {
  Types: { None: number; GZIP: number; Snappy: number; LZ4: number; ZSTD: number };
  /** Throws KafkaJSNotImplemented for snappy, lz4 and zstd unless a plugin registered a codec. */
  lookupCodec(type: number): KafkaCodec | null;
}

export const Long = load<KafkaLongStatic>('kafkajs/src/utils/long');
const Decoder = load<KafkaDecoderStatic>('kafkajs/src/protocol/decoder');
const recordBatchModule = load<{ RecordBatch: (input: KafkaRecordBatchInput) => Promise<KafkaEncoder> }>('kafkajs/src/protocol/recordBatch/v0');
const encodeRecord = load<(input: KafkaRecordInput) => KafkaEncoder>('kafkajs/src/protocol/recordBatch/record/v0');
const decodeBatch = load<(decoder: unknown) => Promise<KafkaDecodedBatch>>('kafkajs/src/protocol/recordBatch/v0/decoder');
export const compression = load<KafkaCompressionModule>('kafkajs/src/protocol/message/compression');
/** kafkajs's Java-compatible murmur2 (producer/partitioners/default), for a random cross-check. */
export const kafkajsMurmur2 = load<(key: Buffer | string) => number>('kafkajs/src/producer/partitioners/default/murmur2');

export function kafkaRecord(input: KafkaRecordInput): KafkaEncoder {
  return encodeRecord(input);
}

export async function kafkaEncodeBatch(input: KafkaRecordBatchInput): Promise<Buffer> {
  return (await recordBatchModule.RecordBatch(input)).buffer;
}

export async function kafkaDecodeBatch(bytes: Buffer): Promise<KafkaDecodedBatch> {
  return decodeBatch(new Decoder(bytes));
}
