// Goal: the chunk checks of snapshot-receiver.ts, one rule at a time, without
// the network: the sender's own chunking (snapshot-sender.ts snapshotChunks)
// reassembles to the same message and bytes at any chunk size, and every
// framing violation is refused with its catalog code, after which nothing
// more is accepted and no message comes out.
import { describe, expect, it } from 'vitest';
import type { InstallSnapshotMsg } from '@fjord/raft';
import { encodeRaftMessage } from '../src/raft-codec.js';
import { SnapshotReceiver, type ChunkOutcome, type WireSnapshotChunk } from '../src/snapshot-receiver.js';
import { snapshotChunks } from '../src/snapshot-sender.js';

const CLUSTER = 'fjord-test';

function snapshotMessage(dataBytes: number): InstallSnapshotMsg {
  const data = new Uint8Array(dataBytes);
  for (let i = 0; i < dataBytes; i++) data[i] = (i * 31 + 7) & 0xff;
  return { type: 'InstallSnapshot', from: 2, to: 1, term: 5, snapshot: { meta: { index: 40, term: 4, conf: { voters: [1, 2, 3], learners: [] } }, data } };
}

function wireChunks(m: InstallSnapshotMsg, chunkBytes: number): WireSnapshotChunk[] {
  return [...snapshotChunks(m, CLUSTER, chunkBytes)].map((c) => ({ ...c, offset: String(c.offset), totalBytes: String(c.totalBytes) }));
}

function receiver(): SnapshotReceiver {
  return new SnapshotReceiver({ selfId: 1, clusterId: CLUSTER });
}

/** Feeds chunks until one is refused; returns the last outcome. */
function feed(r: SnapshotReceiver, chunks: readonly unknown[]): ChunkOutcome {
  let last: ChunkOutcome = { kind: 'more' };
  for (const c of chunks) {
    last = r.accept(c);
    if (last.kind === 'refused') break;
  }
  return last;
}

function refusedWith(outcome: ChunkOutcome, code: string, reason: RegExp): void {
  expect(outcome.kind).toBe('refused');
  if (outcome.kind !== 'refused') return;
  expect(outcome.refusal.code).toBe(code);
  expect(outcome.refusal.message).toMatch(reason);
}

describe('snapshot chunks: reassembly', () => {
  for (const [dataBytes, chunkBytes] of [
    [0, 1024],
    [1, 1024],
    [1024, 1024],
    [1025, 1024],
    [10_000, 1024],
    [10_000, 3],
  ] as const) {
    it(`${dataBytes} bytes in chunks of ${chunkBytes}`, () => {
      const m = snapshotMessage(dataBytes);
      const chunks = wireChunks(m, chunkBytes);
      expect(chunks.length).toBe(1 + Math.ceil(dataBytes / chunkBytes));
      const r = receiver();
      const outcomes = chunks.map((c) => r.accept(c));
      expect(outcomes[0]).toEqual({ kind: 'header', header: { from: 2, totalBytes: dataBytes }, complete: dataBytes === 0 });
      if (dataBytes > 0) expect(outcomes.at(-1)).toEqual({ kind: 'complete' });
      const finished = r.finish();
      if (!('message' in finished)) throw new Error(finished.refusal.message);
      expect(finished.message).toEqual({ ...m, snapshot: { meta: m.snapshot.meta, data: expect.anything() as unknown } });
      expect(Buffer.from((finished.message as InstallSnapshotMsg).snapshot.data).equals(Buffer.from(m.snapshot.data))).toBe(true);
      expect(r.received).toBe(dataBytes);
    });
  }
});

describe('snapshot chunks: violations are refused and nothing comes out', () => {
  const m = snapshotMessage(5_000);
  const good = (): WireSnapshotChunk[] => wireChunks(m, 1_000);
  const cases: [string, (chunks: WireSnapshotChunk[]) => unknown[], string, RegExp][] = [
    ['wrong cluster id', (c) => [{ ...c[0], clusterId: 'other' }], 'INVALID_REQUEST', /cluster/],
    ['wrong cluster id midway', (c) => [c[0], c[1], { ...c[2], clusterId: 'other' }], 'INVALID_REQUEST', /cluster/],
    ['another recipient', (c) => [{ ...c[0], to: 3 }], 'INVALID_REQUEST', /for node 3/],
    ['another sender midway', (c) => [c[0], { ...c[1], from: 3 }], 'INVALID_REQUEST', /from 3/],
    ['sender id 0', (c) => [{ ...c[0], from: 0 }], 'INVALID_REQUEST', /from 0/],
    ['chunk from another node than its message', (c) => [{ ...c[0], from: 3 }], 'INVALID_REQUEST', /message from 2 in a chunk from 3/],
    ['no message in the first chunk', (c) => [c[1]], 'INVALID_REQUEST', /no snapshot message/],
    ['first chunk at offset 10', (c) => [{ ...c[0], offset: '10' }], 'INVALID_REQUEST', /offset 10/],
    ['undecodable message', (c) => [{ ...c[0], message: new Uint8Array([1, 2, 3]) }], 'CORRUPT_MESSAGE', /snapshot message/],
    ['a heartbeat instead of a snapshot', (c) => [{ ...c[0], message: encodeRaftMessage({ type: 'Heartbeat', from: 2, to: 1, term: 5, commit: 0, readCtx: '' }) }], 'CORRUPT_MESSAGE', /Heartbeat/],
    ['the message with its data inline', (c) => [{ ...c[0], message: encodeRaftMessage(m) }], 'CORRUPT_MESSAGE', /inline/],
    ['the message again in a later chunk', (c) => [c[0], { ...c[1], message: c[0]?.message }], 'INVALID_REQUEST', /repeated/],
    ['offset gap', (c) => [c[0], c[1], c[3]], 'INVALID_REQUEST', /offset 2000, expected 1000/],
    ['offset overlap', (c) => [c[0], c[1], c[2], { ...c[3], offset: '1500' }], 'INVALID_REQUEST', /offset 1500, expected 2000/],
    ['total_bytes changes', (c) => [c[0], { ...c[1], totalBytes: '9000' }], 'INVALID_REQUEST', /total_bytes changed/],
    ['total_bytes below the data (lie)', (c) => [{ ...c[0], totalBytes: '1500' }, { ...c[1], totalBytes: '1500' }, { ...c[2], totalBytes: '1500' }], 'INVALID_REQUEST', /runs past total_bytes 1500/],
    ['total_bytes above the data (lie)', (c) => c.map((x) => ({ ...x, totalBytes: '6000' })), 'INVALID_REQUEST', /last chunk at 5000 bytes of 6000/],
    ['total_bytes not a count', (c) => [{ ...c[0], totalBytes: '-1' }], 'INVALID_REQUEST', /not a count/],
    ['offset above 2^53', (c) => [{ ...c[0], offset: '9007199254740993' }], 'INVALID_REQUEST', /not a count/],
    ['an empty chunk that is not the last', (c) => [c[0], { ...c[1], data: new Uint8Array(0) }], 'INVALID_REQUEST', /empty chunk/],
    ['a chunk after the last', (c) => [...c, { ...c[1], offset: '5000', data: new Uint8Array(1) }], 'INVALID_REQUEST', /after the last/],
    ['not an object', () => [null], 'INVALID_REQUEST', /not a snapshot chunk/],
  ];
  for (const [name, build, code, reason] of cases) {
    it(name, () => {
      const r = receiver();
      refusedWith(feed(r, build(good())), code, reason);
      // Refused for good: the rest of a correct stream is refused too, and finish() gives no message.
      expect(r.accept(good()[1]).kind).toBe('refused');
      expect('refusal' in r.finish()).toBe(true);
    });
  }

  it('a stream that ends before its last chunk is truncated', () => {
    const r = receiver();
    expect(feed(r, good().slice(0, 3)).kind).toBe('more');
    const finished = r.finish();
    expect('refusal' in finished && finished.refusal.code).toBe('INVALID_REQUEST');
    expect('refusal' in finished && finished.refusal.message).toMatch(/truncated/);
    expect('refusal' in receiver().finish()).toBe(true);
  });
});
