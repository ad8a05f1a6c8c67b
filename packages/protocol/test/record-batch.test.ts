// Goal: the codec's own contract beyond byte layout: a leader can stamp
// baseOffset and partitionLeaderEpoch in place without touching the CRC; a
// fetch response of back-to-back batches splits and decodes; defaults
// (timestamps, null keys, sentinels) are Kafka's; every codec round-trips.
import { describe, expect, it } from 'vitest';
import {
  CRC_OFFSET,
  LOG_OVERHEAD,
  NO_PARTITION_LEADER_EPOCH,
  NO_PRODUCER_EPOCH,
  NO_PRODUCER_ID,
  NO_SEQUENCE,
  MAX_BATCH_BYTES,
  batchSizeAt,
  checkBatch,
  decodeRecordBatch,
  decodeRecordBatches,
  encodeRecordBatch,
  encodeRecordBatchSync,
  stampBaseOffset,
  stampPartitionLeaderEpoch,
} from '@fjord/protocol';

const v = (s: string): Buffer => Buffer.from(s);

describe('record batch contract', () => {
  it('stamping baseOffset and partitionLeaderEpoch keeps the CRC valid and moves every offset', async () => {
    const bytes = encodeRecordBatchSync({ records: [{ value: v('a'), timestamp: 1 }, { value: v('b'), timestamp: 2 }] });
    const crc = bytes.readUInt32BE(CRC_OFFSET);
    stampBaseOffset(bytes, 0, 1_000_000_000_000);
    stampPartitionLeaderEpoch(bytes, 0, 17);
    expect(bytes.readUInt32BE(CRC_OFFSET)).toBe(crc);
    const { header } = checkBatch(bytes, 0, bytes.length, { maxBatchBytes: MAX_BATCH_BYTES, requireDenseOffsets: true });
    expect(header.baseOffset).toBe(1_000_000_000_000);
    expect(header.partitionLeaderEpoch).toBe(17);
    const decoded = await decodeRecordBatch(bytes);
    expect(decoded.records.map((r) => r.offset)).toEqual([1_000_000_000_000, 1_000_000_000_001]);
    expect(() => stampBaseOffset(bytes, 0, 2 ** 53)).toThrow();
  });

  it('stamping works on a batch inside a larger buffer', async () => {
    const a = encodeRecordBatchSync({ records: [{ value: v('a'), timestamp: 1 }] });
    const b = encodeRecordBatchSync({ records: [{ value: v('b'), timestamp: 1 }, { value: v('c'), timestamp: 1 }] });
    const joined = Buffer.concat([a, b]);
    expect(batchSizeAt(joined, 0)).toBe(a.length);
    expect(batchSizeAt(joined, a.length)).toBe(b.length);
    stampBaseOffset(joined, 0, 10);
    stampBaseOffset(joined, a.length, 11);
    const batches = await decodeRecordBatches(joined);
    expect(batches.flatMap((x) => x.records.map((r) => [r.offset, r.value?.toString()]))).toEqual([
      [10, 'a'],
      [11, 'b'],
      [12, 'c'],
    ]);
    expect(await decodeRecordBatches(Buffer.alloc(0))).toEqual([]);
  });

  it("uses Kafka's sentinels and defaults", async () => {
    const bytes = encodeRecordBatchSync({ records: [{ value: v('x') }, { value: null, timestamp: 5 }], defaultTimestamp: 3 });
    const decoded = await decodeRecordBatch(bytes);
    expect(decoded.header).toMatchObject({
      baseOffset: 0,
      partitionLeaderEpoch: NO_PARTITION_LEADER_EPOCH,
      producerId: NO_PRODUCER_ID,
      producerEpoch: NO_PRODUCER_EPOCH,
      baseSequence: NO_SEQUENCE,
      baseTimestamp: 3,
      maxTimestamp: 5,
      batchLength: bytes.length - LOG_OVERHEAD,
    });
    expect(decoded.records.map((r) => [r.key, r.timestamp, r.headers])).toEqual([
      [null, 3, []],
      [null, 5, []],
    ]);
    expect(decoded.compression).toBe('none');
    expect(decoded.timestampType).toBe('CreateTime');
    expect(decoded.isControl).toBe(false);
  });

  it('control and LogAppendTime attributes survive a round trip', async () => {
    const bytes = encodeRecordBatchSync({
      records: [{ key: v('k'), value: v('v'), timestamp: 10 }, { value: v('w'), timestamp: 30 }],
      isControl: true,
      isTransactional: true,
      timestampType: 'LogAppendTime',
      producerId: 9,
      producerEpoch: 1,
      baseSequence: 0,
    });
    const decoded = await decodeRecordBatch(bytes);
    expect(decoded.isControl).toBe(true);
    expect(decoded.isTransactional).toBe(true);
    expect(decoded.timestampType).toBe('LogAppendTime');
    expect(decoded.records.map((r) => r.timestamp)).toEqual([30, 30]);
    expect(decoded.records.map((r) => r.timestampDelta)).toEqual([0, 20]);
  });

  for (const compression of ['none', 'gzip', 'lz4', 'zstd'] as const) {
    it(`${compression}: a large batch (3000 records, 1 KiB values) round-trips`, async () => {
      const records = Array.from({ length: 3000 }, (_, i) => ({
        key: v(`key-${i}`),
        value: Buffer.alloc(1024, i & 0xff),
        headers: [{ key: 'i', value: v(String(i)) }],
        timestamp: 1_700_000_000_000 + i,
      }));
      const bytes = await encodeRecordBatch({ records, compression });
      const decoded = await decodeRecordBatch(bytes);
      expect(decoded.compression).toBe(compression);
      expect(decoded.records).toHaveLength(3000);
      expect(decoded.records[2999]?.value).toEqual(Buffer.alloc(1024, 2999 & 0xff));
      expect(decoded.records[1234]?.headers).toEqual([{ key: 'i', value: v('1234') }]);
      if (compression !== 'none') expect(bytes.length).toBeLessThan(3000 * 1024);
    });
  }

  it('decodes from a plain Uint8Array view as from a Buffer', async () => {
    const bytes = encodeRecordBatchSync({ records: [{ key: v('k'), value: v('v'), headers: [{ key: 'hé', value: v('x') }], timestamp: 1 }] });
    const backing = new Uint8Array(bytes.length + 10);
    backing.set(bytes, 5);
    const view = new Uint8Array(backing.buffer, 5, bytes.length);
    const decoded = await decodeRecordBatch(view);
    expect(decoded.records[0]?.headers).toEqual([{ key: 'hé', value: v('x') }]);
    expect(Buffer.isBuffer(decoded.records[0]?.value)).toBe(true);
    expect((await decodeRecordBatches(view)).length).toBe(1);
  });
});
