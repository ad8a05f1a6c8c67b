// Goal: pin the exact RecordBatch v2 byte layout with small hand-written
// fixtures (after kafkajs's golden-byte fixtures): every field written out and
// annotated from Kafka's DefaultRecordBatch / DefaultRecord spec, CRC32C
// values checked against the plain-JS oracle. Our encoder must produce these
// bytes, kafkajs's encoder too where it can express the batch, and decoding
// must give back the annotated fields.
import { describe, expect, it } from 'vitest';
import { ATTRIBUTES_OFFSET, RECORD_BATCH_HEADER_BYTES, crc32cJs, decodeRecordBatch, encodeRecordBatchSync, readBatchHeader, type RecordBatchInput } from '@fjord/protocol';
import { Long, kafkaEncodeBatch, kafkaRecord, type KafkaHeaders } from './support/kafkajs.js';

/** Hex with `//` comments and whitespace, one field per line. */
function hex(annotated: string): Buffer {
  const digits = annotated
    .split('\n')
    .map((line) => line.replace(/\/\/.*$/, ''))
    .join('')
    .replace(/\s+/g, '');
  expect(digits).toMatch(/^([0-9a-f]{2})*$/);
  return Buffer.from(digits, 'hex');
}

const T = 1_700_000_000_000; // 0x0000018bcfe56800

// One record, key "key", value "value", no headers, a plain (non-idempotent) producer batch.
const ONE_RECORD = hex(`
  0000000000000000 // baseOffset 0
  00000040         // batchLength 64 = 49 header bytes after this field + 15 record bytes
  ffffffff         // partitionLeaderEpoch -1 (none yet)
  02               // magic 2
  db5e9cdd         // CRC32C of attributes..end
  0000             // attributes: no compression, CreateTime, not transactional, not control
  00000000         // lastOffsetDelta 0
  0000018bcfe56800 // baseTimestamp T
  0000018bcfe56800 // maxTimestamp T
  ffffffffffffffff // producerId -1
  ffff             // producerEpoch -1
  ffffffff         // baseSequence -1
  00000001         // record count 1
  1c               // record length 14 (zig-zag 28)
  00               // record attributes
  00               // timestampDelta 0
  00               // offsetDelta 0
  06 6b6579        // key length 3, "key"
  0a 76616c7565    // value length 5, "value"
  00               // header count 0
`);

// Two records of an idempotent transactional producer, stamped at offset 5 in
// leader epoch 1: a null key with a header, an empty key with a null value and
// a negative timestamp delta.
const TWO_RECORDS = hex(`
  0000000000000005 // baseOffset 5
  00000044         // batchLength 68 = 49 + 19
  00000001         // partitionLeaderEpoch 1
  02               // magic 2
  10360e90         // CRC32C
  0010             // attributes: transactional
  00000001         // lastOffsetDelta 1
  0000018bcfe56800 // baseTimestamp T
  0000018bcfe56800 // maxTimestamp T (the second record is older)
  00000000000003e8 // producerId 1000
  0003             // producerEpoch 3
  0000002a         // baseSequence 42
  00000002         // record count 2
  16 00 00 00      // record 0: length 11, attributes, timestampDelta 0, offsetDelta 0
  01               //   key null (length -1)
  02 61            //   value "a"
  02 02 68 02 31   //   1 header: key "h", value "1"
  0c 00            // record 1: length 6, attributes
  01               //   timestampDelta -1 (zig-zag 1)
  02               //   offsetDelta 1
  00               //   key empty (length 0)
  01               //   value null
  00               //   0 headers
`);

// What kafkajs cannot encode: LogAppendTime and a null header value; a
// timestamp delta of +1000 takes a two-byte varint.
const LOG_APPEND_TIME = hex(`
  0000000000000000 // baseOffset 0
  00000045         // batchLength 69 = 49 + 20
  ffffffff         // partitionLeaderEpoch -1
  02               // magic 2
  fc6f1855         // CRC32C
  0008             // attributes: LogAppendTime
  00000001         // lastOffsetDelta 1
  0000018bcfe56800 // baseTimestamp T
  0000018bcfe56be8 // maxTimestamp T + 1000
  ffffffffffffffff // producerId -1
  ffff             // producerEpoch -1
  ffffffff         // baseSequence -1
  00000002         // record count 2
  16 00 00 00      // record 0: length 11, attributes, timestampDelta 0, offsetDelta 0
  02 6b            //   key "k"
  02 76            //   value "v"
  02 02 6e 01      //   1 header: key "n", value null
  0e 00            // record 1: length 7, attributes
  d0 0f            //   timestampDelta 1000 (zig-zag 2000 = 0x7d0: d0 0f)
  02               //   offsetDelta 1
  01               //   key null
  00               //   value empty
  00               //   0 headers
`);

const INPUTS: { name: string; bytes: Buffer; input: RecordBatchInput; kafkajsHeaders?: KafkaHeaders[] }[] = [
  {
    name: 'one record',
    bytes: ONE_RECORD,
    input: { records: [{ key: Buffer.from('key'), value: Buffer.from('value'), timestamp: T }] },
    kafkajsHeaders: [{}],
  },
  {
    name: 'two records, idempotent and transactional',
    bytes: TWO_RECORDS,
    input: {
      baseOffset: 5,
      partitionLeaderEpoch: 1,
      producerId: 1000,
      producerEpoch: 3,
      baseSequence: 42,
      isTransactional: true,
      records: [
        { key: null, value: Buffer.from('a'), headers: [{ key: 'h', value: Buffer.from('1') }], timestamp: T },
        { key: Buffer.alloc(0), value: null, timestamp: T - 1 },
      ],
    },
    kafkajsHeaders: [{ h: Buffer.from('1') }, {}],
  },
  {
    name: 'LogAppendTime with a null header value',
    bytes: LOG_APPEND_TIME,
    input: {
      timestampType: 'LogAppendTime',
      records: [
        { key: Buffer.from('k'), value: Buffer.from('v'), headers: [{ key: 'n', value: null }], timestamp: T },
        { key: null, value: Buffer.alloc(0), timestamp: T + 1000 },
      ],
    },
  },
];

describe('golden bytes', () => {
  for (const { name, bytes, input, kafkajsHeaders } of INPUTS) {
    it(`${name}: the annotated CRC is CRC32C of attributes..end`, () => {
      expect(bytes.readUInt32BE(17)).toBe(crc32cJs(bytes.subarray(ATTRIBUTES_OFFSET)));
      expect(bytes.readInt32BE(8)).toBe(bytes.length - 12);
    });

    it(`${name}: our encoder writes exactly these bytes`, () => {
      expect(encodeRecordBatchSync(input).toString('hex')).toBe(bytes.toString('hex'));
    });

    if (kafkajsHeaders !== undefined) {
      it(`${name}: kafkajs's encoder writes exactly these bytes`, async () => {
        const records = input.records;
        const first = records[0]?.timestamp as number;
        const theirs = await kafkaEncodeBatch({
          compression: 0,
          firstOffset: Long.fromValue(input.baseOffset ?? 0),
          firstTimestamp: first,
          maxTimestamp: Math.max(...records.map((r) => r.timestamp as number)),
          partitionLeaderEpoch: input.partitionLeaderEpoch ?? -1,
          lastOffsetDelta: records.length - 1,
          transactional: input.isTransactional === true,
          producerId: Long.fromValue(input.producerId ?? -1),
          producerEpoch: input.producerEpoch ?? -1,
          firstSequence: input.baseSequence ?? -1,
          records: records.map((r, i) =>
            kafkaRecord({
              offsetDelta: i,
              timestampDelta: (r.timestamp as number) - first,
              key: r.key === undefined || r.key === null ? null : Buffer.from(r.key),
              value: r.value === null ? null : Buffer.from(r.value),
              headers: kafkajsHeaders[i] ?? {},
            }),
          ),
        });
        expect(theirs.toString('hex')).toBe(bytes.toString('hex'));
      });
    }
  }

  it('decodes the fixtures to the annotated fields', async () => {
    const one = await decodeRecordBatch(ONE_RECORD);
    expect(one.header).toMatchObject({ baseOffset: 0, batchLength: 64, partitionLeaderEpoch: -1, magic: 2, attributes: 0, recordCount: 1 });
    expect(one.records).toHaveLength(1);
    expect(one.records[0]).toMatchObject({ offset: 0, timestamp: T, key: Buffer.from('key'), value: Buffer.from('value'), headers: [] });

    const two = await decodeRecordBatch(TWO_RECORDS);
    expect(two.header).toMatchObject({ baseOffset: 5, partitionLeaderEpoch: 1, producerId: 1000, producerEpoch: 3, baseSequence: 42, lastOffsetDelta: 1 });
    expect(two.isTransactional).toBe(true);
    expect(two.records.map((r) => [r.offset, r.timestamp, r.timestampDelta])).toEqual([
      [5, T, 0],
      [6, T - 1, -1],
    ]);
    expect(two.records[0]?.key).toBeNull();
    expect(two.records[0]?.headers).toEqual([{ key: 'h', value: Buffer.from('1') }]);
    expect(two.records[1]?.key).toEqual(Buffer.alloc(0));
    expect(two.records[1]?.value).toBeNull();

    const lat = await decodeRecordBatch(LOG_APPEND_TIME);
    expect(lat.timestampType).toBe('LogAppendTime');
    // With LogAppendTime every record carries the batch's maxTimestamp (Kafka's DefaultRecordBatch).
    expect(lat.records.map((r) => r.timestamp)).toEqual([T + 1000, T + 1000]);
    expect(lat.records[0]?.headers).toEqual([{ key: 'n', value: null }]);
  });

  it('the header is 61 bytes and readBatchHeader reads every field at its offset', () => {
    expect(RECORD_BATCH_HEADER_BYTES).toBe(61);
    expect(readBatchHeader(TWO_RECORDS)).toEqual({
      baseOffset: 5,
      batchLength: 68,
      partitionLeaderEpoch: 1,
      magic: 2,
      crc: 0x10360e90,
      attributes: 0x10,
      lastOffsetDelta: 1,
      baseTimestamp: T,
      maxTimestamp: T,
      producerId: 1000,
      producerEpoch: 3,
      baseSequence: 42,
      recordCount: 2,
    });
  });
});
