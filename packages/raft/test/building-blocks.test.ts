// Goal: the core's small building blocks in isolation: the in-flight window,
// progress flow control, quorum arithmetic, configuration changes, the
// unstable log, the raft log's conflict search and commit rule, and MemoryLog.
// Each is a place where an off-by-one would silently break replication.
import { describe, expect, it } from 'vitest';
import { applyConfChange } from '../src/core/conf-change.js';
import { Inflights } from '../src/core/inflights.js';
import { Progress } from '../src/core/progress.js';
import { committedIndex, hasQuorum, majority, voteResult } from '../src/core/quorum.js';
import { RaftLog } from '../src/core/raft-log.js';
import { ReadOnly } from '../src/core/read-only.js';
import { MemoryLog, type Entry } from '../src/index.js';

function ent(index: number, term: number, bytes = 0): Entry {
  return { type: 'Normal', index, term, data: new Uint8Array(bytes) };
}

describe('inflights', () => {
  it('is bounded by count and bytes and frees acknowledged messages', () => {
    const f = new Inflights(3, 100);
    f.add(5, 10);
    f.add(7, 10);
    expect(f.full()).toBe(false);
    f.add(9, 10);
    expect(f.full()).toBe(true);
    expect(() => f.add(10, 1)).toThrow(/full/);
    f.freeLE(7);
    expect(f.count).toBe(1);
    expect(f.inflightBytes).toBe(10);
    f.add(12, 95);
    expect(f.full()).toBe(true); // by bytes
    f.freeFirstOne();
    expect(f.count).toBe(1);
    f.freeLE(100);
    expect(f.count).toBe(0);
  });

  it('wraps around its ring', () => {
    const f = new Inflights(2, 0);
    for (let i = 1; i <= 10; i++) {
      f.add(i, 1);
      f.freeLE(i - 1);
      expect(f.count).toBeLessThanOrEqual(2);
    }
    expect(() => f.add(10, 1)).toThrow(/not above/);
  });
});

describe('progress', () => {
  const mk = (): Progress => new Progress({ next: 11, isLearner: false, maxInflightMsgs: 2, maxInflightBytes: 0 });

  it('probe sends one message at a time; a success switches to replicate', () => {
    const p = mk();
    expect(p.isPaused()).toBe(false);
    p.sentEntries(12, 10);
    expect(p.isPaused()).toBe(true);
    expect(p.maybeUpdate(12)).toBe(true);
    p.becomeReplicate();
    expect(p.next).toBe(13);
    p.sentEntries(14, 1);
    p.sentEntries(16, 1);
    expect(p.isPaused()).toBe(true); // window of 2
    expect(p.next).toBe(17);
  });

  it('ignores stale rejections and backs off using the hint', () => {
    const p = mk();
    p.match = 5;
    p.next = 11;
    expect(p.maybeDecrTo(7, 3)).toBe(false); // not the probe we sent (next-1 = 10)
    expect(p.maybeDecrTo(10, 3)).toBe(true);
    expect(p.next).toBe(6); // max(min(10, 4), match+1)
    p.becomeReplicate();
    expect(p.maybeDecrTo(4, 0)).toBe(false); // <= match: stale
  });

  it('leaves snapshot state after the snapshot index', () => {
    const p = mk();
    p.becomeSnapshot(50);
    expect(p.isPaused()).toBe(true);
    p.becomeProbe();
    expect(p.next).toBe(51);
  });
});

describe('quorum', () => {
  it('computes the majority-matched index', () => {
    const m = new Map([[1, 10], [2, 7], [3, 3], [4, 9], [5, 1]]);
    expect(committedIndex([1, 2, 3, 4, 5], (id) => m.get(id) ?? 0)).toBe(7);
    expect(committedIndex([1, 2, 3], (id) => m.get(id) ?? 0)).toBe(7);
    expect(committedIndex([1, 3], (id) => m.get(id) ?? 0)).toBe(3);
    expect(committedIndex([], () => 5)).toBe(0);
    expect(majority(4)).toBe(3);
  });

  it('tallies votes, ignoring non-voters', () => {
    expect(voteResult([1, 2, 3], new Map([[1, true], [9, true]]))).toBe('Pending');
    expect(voteResult([1, 2, 3], new Map([[1, true], [2, true]]))).toBe('Won');
    expect(voteResult([1, 2, 3], new Map([[1, true], [2, false], [3, false]]))).toBe('Lost');
    expect(voteResult([1, 2, 3, 4], new Map([[1, true], [2, false], [3, false]]))).toBe('Lost');
    expect(hasQuorum([1, 2, 3], (id) => id !== 3)).toBe(true);
  });
});

describe('configuration changes', () => {
  const conf = { voters: [1, 2, 3], learners: [4] };
  it('adds, promotes and removes one server at a time', () => {
    expect(applyConfChange(conf, { type: 'AddVoter', nodeId: 4 })).toEqual({ voters: [1, 2, 3, 4], learners: [] });
    expect(applyConfChange(conf, { type: 'AddLearner', nodeId: 5 })).toEqual({ voters: [1, 2, 3], learners: [4, 5] });
    expect(applyConfChange(conf, { type: 'RemoveNode', nodeId: 2 })).toEqual({ voters: [1, 3], learners: [4] });
    expect(applyConfChange(conf, { type: 'AddLearner', nodeId: 1 })).toMatch(/voter/);
    expect(applyConfChange({ voters: [1], learners: [] }, { type: 'RemoveNode', nodeId: 1 })).toMatch(/last voter/);
    expect(applyConfChange(conf, { type: 'AddVoter', nodeId: -1 })).toMatch(/invalid/);
  });
});

describe('read-only queue', () => {
  it('releases a request and all earlier ones in order', () => {
    const r = new ReadOnly(3);
    r.add('a', 5, 1);
    r.add('b', 6, 1);
    r.add('c', 6, 1);
    expect(r.full()).toBe(true);
    expect(r.recvAck(2, 'zzz')).toBeUndefined();
    expect(r.recvAck(2, 'b')?.size).toBe(1);
    expect(r.advance('b')).toEqual([
      { index: 5, requestCtx: 'a', from: 1 },
      { index: 6, requestCtx: 'b', from: 1 },
    ]);
    expect(r.lastCtx()).toBe('c');
  });
});

describe('raft log and memory log', () => {
  function logWith(terms: number[]): { mem: MemoryLog; log: RaftLog } {
    const mem = new MemoryLog({ conf: { voters: [1], learners: [] } });
    mem.append(terms.map((t, i) => ent(i + 1, t)));
    return { mem, log: new RaftLog(mem) };
  }

  it('finds conflicts and the backtracking hint by term', () => {
    const { log } = logWith([1, 1, 2, 2, 4, 4]);
    expect(log.findConflict([ent(3, 2), ent(4, 2), ent(5, 4)])).toBe(0);
    expect(log.findConflict([ent(4, 2), ent(5, 5)])).toBe(5);
    expect(log.findConflict([ent(6, 4), ent(7, 4)])).toBe(7);
    // Largest index <= 6 whose term <= 3: index 4.
    expect(log.findConflictByTerm(6, 3)).toEqual({ index: 4, term: 2 });
    expect(log.findConflictByTerm(6, 0)).toEqual({ index: 0, term: 0 });
  });

  it('appends after a match, truncates a conflicting uncommitted tail, and never commits beyond what matched', () => {
    const { log } = logWith([1, 1, 2]);
    expect(log.maybeAppend(2, 9, 3, [], false)).toEqual({ kind: 'Mismatch' });
    const r = log.maybeAppend(2, 1, 10, [ent(3, 3), ent(4, 3)], false);
    expect(r).toEqual({ kind: 'Appended', lastNewIndex: 4, appendedFrom: 3 });
    expect(log.term(3)).toBe(3);
    expect(log.committed).toBe(4);
    expect(log.maybeAppend(1, 1, 4, [ent(2, 5)], false)).toEqual({ kind: 'ConflictBelowCommit', index: 2 });
  });

  it('commits only entries of the current term unless told otherwise (thesis §3.6.2)', () => {
    const { log } = logWith([1, 1, 2]);
    expect(log.maybeCommit(3, 3, false)).toBe(false);
    expect(log.maybeCommit(3, 2, false)).toBe(true);
    expect(log.committed).toBe(3);
  });

  it('caps slices by bytes but always returns one entry', () => {
    const mem = new MemoryLog();
    mem.append([ent(1, 1, 100), ent(2, 1, 100), ent(3, 1, 100)]);
    expect(mem.entries(1, 4, 10)).toHaveLength(1);
    expect(mem.entries(1, 4, 260)).toHaveLength(2);
  });

  it('MemoryLog: snapshot, compaction and append over compacted entries', () => {
    const mem = new MemoryLog({ conf: { voters: [1], learners: [] } });
    mem.append([ent(1, 1), ent(2, 1), ent(3, 2), ent(4, 2)]);
    mem.setHardState({ term: 2, vote: 1, commit: 4 });
    mem.createSnapshot(3, { voters: [1], learners: [] }, new Uint8Array([7]));
    mem.compact(2);
    expect(mem.firstIndex()).toBe(3);
    expect(mem.term(2)).toBe(1);
    expect(mem.term(1)).toBeUndefined();
    mem.append([ent(2, 1), ent(3, 2), ent(4, 3)]); // 2 is compacted: skipped; 4 replaced
    expect(mem.term(4)).toBe(3);
    expect(mem.lastIndex()).toBe(4);
    expect(() => mem.append([ent(9, 3)])).toThrow(/gap/);
    mem.applySnapshot({ meta: { index: 10, term: 5, conf: { voters: [1, 2], learners: [] } }, data: new Uint8Array() });
    expect(mem.firstIndex()).toBe(11);
    expect(mem.lastIndex()).toBe(10);
  });
});
