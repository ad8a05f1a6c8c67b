// Goal: the accumulator batches per partition, closes batches at batchBytes or
// after lingerMs, never exceeds its memory budget (refusing instead, with no
// change), and frees memory only when batches are released.
import { describe, expect, it } from 'vitest';
import { RECORD_BATCH_HEADER_BYTES, isFjordError } from '@fjord/protocol';
import { RecordAccumulator, estimateRecordBytes } from '@fjord/client';

const value = Buffer.alloc(100, 1);
const recordBytes = estimateRecordBytes({ value });

describe('RecordAccumulator', () => {
  it('closes a batch when the next record would not fit, per partition', () => {
    const acc = new RecordAccumulator({ batchBytes: RECORD_BATCH_HEADER_BYTES + recordBytes * 3, lingerMs: 5, bufferMemoryBytes: 1 << 20, maxRecordBytes: 1 << 20 });
    for (let i = 0; i < 3; i++) acc.append('t', 0, { value }, 0);
    acc.append('t', 1, { value }, 0);
    const first = acc.drain(0);
    expect(first.batches.map((b) => [b.partition, b.records.length])).toEqual([[0, 3]]);
    expect(first.nextReadyMs).toBe(5);
    const later = acc.drain(5);
    expect(later.batches.map((b) => [b.partition, b.records.length])).toEqual([[1, 1]]);
    expect(acc.hasPending).toBe(false);
  });

  it('sends after lingerMs, or at once on flush', () => {
    const acc = new RecordAccumulator({ batchBytes: 1 << 16, lingerMs: 10, bufferMemoryBytes: 1 << 20, maxRecordBytes: 1 << 20 });
    acc.append('t', 0, { value }, 100);
    expect(acc.drain(109).batches).toHaveLength(0);
    expect(acc.drain(110).batches).toHaveLength(1);
    acc.append('t', 0, { value }, 200);
    expect(acc.drain(200, true).batches).toHaveLength(1);
  });

  it('refuses appends beyond the memory budget without changing anything, until release', () => {
    const budget = (RECORD_BATCH_HEADER_BYTES + recordBytes) * 2;
    const acc = new RecordAccumulator({ batchBytes: RECORD_BATCH_HEADER_BYTES + recordBytes, lingerMs: 0, bufferMemoryBytes: budget, maxRecordBytes: 1 << 20 });
    expect(acc.append('t', 0, { value }, 0).kind).toBe('appended');
    expect(acc.append('t', 1, { value }, 0).kind).toBe('appended');
    const used = acc.usedBytes;
    expect(acc.append('t', 2, { value }, 0)).toEqual({ kind: 'no-memory', neededBytes: RECORD_BATCH_HEADER_BYTES + recordBytes });
    expect(acc.usedBytes).toBe(used);
    const { batches } = acc.drain(0);
    expect(batches).toHaveLength(2);
    acc.release(batches[0]!);
    expect(acc.append('t', 2, { value }, 0).kind).toBe('appended');
  });

  it('rejects a record above maxRecordBytes with MESSAGE_TOO_LARGE', () => {
    const acc = new RecordAccumulator({ batchBytes: 1 << 16, lingerMs: 0, bufferMemoryBytes: 1 << 20, maxRecordBytes: 50 });
    let code = '';
    try {
      acc.append('t', 0, { value }, 0);
    } catch (err) {
      if (isFjordError(err)) code = err.code;
    }
    expect(code).toBe('MESSAGE_TOO_LARGE');
    expect(acc.usedBytes).toBe(0);
  });

  it('keeps filling the open batch of a partition that is not ready (a request in flight), then drains it as one batch', () => {
    const acc = new RecordAccumulator({ batchBytes: 1 << 16, lingerMs: 0, bufferMemoryBytes: 1 << 20, maxRecordBytes: 1 << 20 });
    let busy = true;
    const ready = (_topic: string, partition: number): boolean => partition !== 0 || !busy;
    for (let i = 0; i < 10; i++) acc.append('t', 0, { value }, i);
    acc.append('t', 1, { value }, 0);
    const first = acc.drain(100, false, ready);
    expect(first.batches.map((b) => [b.partition, b.records.length])).toEqual([[1, 1]]);
    expect(first.nextReadyMs).toBe(Infinity);
    busy = false;
    const second = acc.drain(100, false, ready);
    expect(second.batches.map((b) => [b.partition, b.records.length])).toEqual([[0, 10]]);
    // flush ignores readiness
    acc.append('t', 0, { value }, 200);
    busy = true;
    expect(acc.drain(200, true, ready).batches).toHaveLength(1);
  });

  it('records which send call and index each record came from, as runs', () => {
    const acc = new RecordAccumulator({ batchBytes: 1 << 16, lingerMs: 0, bufferMemoryBytes: 1 << 20, maxRecordBytes: 1 << 20 });
    const a = {};
    const b = {};
    acc.append('t', 0, { value }, 0, a, 0);
    acc.append('t', 0, { value }, 0, a, 1);
    acc.append('t', 0, { value }, 0, b, 0);
    acc.append('t', 0, { value }, 0, a, 3); // not contiguous with a's run: a new run
    const [batch] = acc.drain(0).batches;
    expect(batch?.runs).toEqual([
      { owner: a, ownerIndex: 0, batchIndex: 0, count: 2 },
      { owner: b, ownerIndex: 0, batchIndex: 2, count: 1 },
      { owner: a, ownerIndex: 3, batchIndex: 3, count: 1 },
    ]);
  });
});
