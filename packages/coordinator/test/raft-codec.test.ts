// Goal: every Raft message and entry survives the codec unchanged (golden
// shapes per message type), v1 (JSON) encodings written by an older node
// still decode, and garbage from the network (wrong format byte, broken
// JSON, wrong types, bad base64, lying lengths in the binary v2 layout,
// misaddressed or malformed messages, random bytes and mutations of valid
// encodings) decodes to a dropped message with a reason, never an exception.
import { describe, expect, it } from 'vitest';
import { Rng } from '@fjord/protocol';
import type { RaftMessage } from '@fjord/raft';
import { decodeEntry, decodeEntryBlock, decodeRaftMessage, encodeEntry, encodeEntryBlock, encodeJsonValue, encodeRaftMessage, entryToJson } from '../src/raft-codec.js';

const data = new Uint8Array([1, 2, 3, 250]);
const messages: RaftMessage[] = [
  { type: 'RequestVote', from: 1, to: 2, term: 3, preVote: true, lastLogIndex: 10, lastLogTerm: 2, leaderTransfer: false },
  { type: 'RequestVoteResponse', from: 1, to: 2, term: 3, preVote: false, granted: true },
  {
    type: 'AppendEntries',
    from: 1,
    to: 2,
    term: 3,
    prevLogIndex: 4,
    prevLogTerm: 2,
    commit: 4,
    entries: [
      { type: 'Normal', index: 5, term: 3, data },
      { type: 'ConfChange', index: 6, term: 3, change: { type: 'AddLearner', nodeId: 4 }, conf: { voters: [1, 2, 3], learners: [4] } },
      { type: 'Normal', index: 7, term: 3, data: new Uint8Array(0) },
    ],
  },
  // A commit notice (no entries, no answer wanted).
  { type: 'AppendEntries', from: 1, to: 2, term: 3, prevLogIndex: 7, prevLogTerm: 3, commit: 7, entries: [], commitOnly: true },
  { type: 'AppendEntriesResponse', from: 1, to: 2, term: 3, reject: true, index: 9, rejectHint: 7, hintTerm: 2 },
  { type: 'Heartbeat', from: 1, to: 2, term: 3, commit: 8, readCtx: 'r-1' },
  { type: 'HeartbeatResponse', from: 1, to: 2, term: 3, readCtx: '' },
  { type: 'InstallSnapshot', from: 1, to: 2, term: 3, snapshot: { meta: { index: 100, term: 3, conf: { voters: [1, 2, 3], learners: [] } }, data } },
  { type: 'TimeoutNow', from: 1, to: 2, term: 3 },
  { type: 'ReadIndex', from: 1, to: 2, term: 3, readCtx: '1-7' },
  { type: 'ReadIndexResponse', from: 1, to: 2, term: 3, readCtx: '2-9', index: 41 },
];

describe('raft codec', () => {
  it('round-trips every message type', () => {
    for (const m of messages) {
      const decoded = decodeRaftMessage(encodeRaftMessage(m), 2);
      expect('message' in decoded ? decoded.message : decoded, m.type).toEqual(m);
    }
  });

  it('round-trips entries', () => {
    const e = { type: 'Normal' as const, index: 9, term: 2, data };
    expect(decodeEntry(encodeEntry(e))).toEqual(e);
  });

  it('round-trips entry blocks, and decodes v1 (JSON) entries and AppendEntries from older nodes', () => {
    const ae = messages[2] as Extract<RaftMessage, { type: 'AppendEntries' }>;
    expect(decodeEntryBlock(encodeEntryBlock(ae.entries))).toEqual(ae.entries);
    expect(decodeEntryBlock(encodeEntryBlock([]))).toEqual([]);
    for (const e of ae.entries) expect(decodeEntry(encodeJsonValue(entryToJson(e)))).toEqual(e);
    const v1 = encodeJsonValue({ ...ae, entries: ae.entries.map(entryToJson) });
    expect(v1[0]).toBe(1);
    expect(decodeRaftMessage(v1, 2)).toEqual({ message: ae });
    expect(encodeRaftMessage(ae)[0]).toBe(2);
  });

  it('drops binary (v2) messages whose lengths lie or whose parts are wrong', () => {
    const ae = messages[2] as Extract<RaftMessage, { type: 'AppendEntries' }>;
    const good = encodeRaftMessage(ae);
    const view = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);
    const headerBytes = view(good).getUint32(1);
    const blockAt = 5 + headerBytes;
    const mutate = (f: (b: Uint8Array) => void): Uint8Array => {
      const b = new Uint8Array(good);
      f(b);
      return b;
    };
    const bad: [string, Uint8Array][] = [
      ['truncated', good.subarray(0, good.byteLength - 1)],
      ['trailing byte', new Uint8Array([...good, 0])],
      ['header overruns', mutate((b) => view(b).setUint32(1, 1 << 30))],
      ['header not JSON', mutate((b) => (b[5] = 0x7b + 1))],
      ['entry count lies', mutate((b) => view(b).setUint32(blockAt, 1000))],
      ['entry length lies', mutate((b) => view(b).setUint32(blockAt + 4, 1 << 30))],
      ['unknown entry kind', mutate((b) => (b[blockAt + 8 + 1] = 9))],
      ['index not an integer', mutate((b) => view(b).setFloat64(blockAt + 8 + 2, 1.5))],
      ['index NaN', mutate((b) => view(b).setFloat64(blockAt + 8 + 2, Number.NaN))],
      ['entry format byte', mutate((b) => (b[blockAt + 8] = 1))],
      ['entries out of order', encodeRaftMessage({ ...ae, entries: [ae.entries[1], ae.entries[0]] as typeof ae.entries })],
      ['header of another type', (() => {
        const header = new TextEncoder().encode(JSON.stringify({ type: 'Heartbeat', from: 1, to: 2, term: 3, commit: 1, readCtx: '' }));
        const b = new Uint8Array(5 + header.byteLength + 4);
        b[0] = 2;
        view(b).setUint32(1, header.byteLength);
        b.set(header, 5);
        return b;
      })()],
    ];
    for (const [what, b] of bad) {
      const decoded = decodeRaftMessage(b, 2);
      expect('problem' in decoded, what).toBe(true);
    }
    expect(decodeEntryBlock(new Uint8Array([0, 0, 0, 1]))).toBeNull();
    expect(decodeEntry(new Uint8Array([2, 1, 0]))).toBeNull();
  });

  it('drops garbage with a reason', () => {
    const enc = (s: string): Uint8Array => new Uint8Array([1, ...new TextEncoder().encode(s)]);
    const bad: Uint8Array[] = [
      new Uint8Array(0),
      new Uint8Array([1]),
      new Uint8Array([2, 123, 125]),
      enc('{'),
      enc('null'),
      enc('[]'),
      enc('{"type":"Nope","from":1,"to":2,"term":1}'),
      enc('{"type":"TimeoutNow","from":1,"to":3,"term":1}'),
      enc('{"type":"TimeoutNow","from":2,"to":2,"term":1}'),
      enc('{"type":"TimeoutNow","from":1,"to":2,"term":-1}'),
      enc('{"type":"AppendEntries","from":1,"to":2,"term":1,"prevLogIndex":0,"prevLogTerm":0,"commit":0,"entries":[{"type":"Normal","index":1,"term":1,"data":"%%%"}]}'),
      enc('{"type":"AppendEntries","from":1,"to":2,"term":1,"prevLogIndex":0,"prevLogTerm":0,"commit":0,"entries":[{"type":"Normal","index":3,"term":1,"data":""}]}'),
      enc('{"type":"InstallSnapshot","from":1,"to":2,"term":1,"snapshot":{"meta":{"index":1,"term":1,"conf":{"voters":["x"],"learners":[]}},"data":""}}'),
    ];
    for (const b of bad) {
      const decoded = decodeRaftMessage(b, 2);
      expect('problem' in decoded, Buffer.from(b).toString()).toBe(true);
    }
    expect(decodeEntry(enc('{"type":"Normal","index":1,"term":1}'))).toBeNull();
  });

  it('never throws on random bytes or mutated encodings', () => {
    const rng = new Rng(20261125);
    const valid = messages.map(encodeRaftMessage);
    for (let i = 0; i < 5_000; i++) {
      let bytes: Uint8Array;
      if (i % 2 === 0) {
        bytes = new Uint8Array(rng.bytes(rng.int(64)));
      } else {
        bytes = new Uint8Array(valid[rng.int(valid.length)] as Uint8Array);
        for (let k = 0; k < 1 + rng.int(4); k++) bytes[rng.int(bytes.length)] = rng.int(256);
      }
      expect(() => decodeRaftMessage(bytes, 2)).not.toThrow();
      expect(() => decodeEntry(bytes)).not.toThrow();
    }
  });
});
