// Goal: every Raft message and entry survives the codec unchanged (golden
// shapes per message type), and garbage from the network (wrong format byte,
// broken JSON, wrong types, bad base64, misaddressed or malformed messages,
// random bytes and mutations of valid encodings) decodes to a dropped
// message with a reason, never an exception.
import { describe, expect, it } from 'vitest';
import { Rng } from '@fjord/protocol';
import type { RaftMessage } from '@fjord/raft';
import { decodeEntry, decodeRaftMessage, encodeEntry, encodeRaftMessage } from '../src/raft-codec.js';

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
