// Goal: the machine the Raft shell drives applies committed entries exactly
// once and in order (out-of-order is an assertion), skips empty entries,
// answers undecodable entries with a typed error on every replica alike, feeds
// the watch history, and snapshots/restores with the index it covers (two
// replicas fed the same entries, one of them through a snapshot, agree).
import { describe, expect, it } from 'vitest';
import { AssertionError } from '@fjord/protocol';
import { encodeCommand } from '../src/command-codec.js';
import { MetadataMachine } from '../src/metadata-machine.js';
import { toSnapshot } from '../src/metadata-snapshot.js';
import type { MetadataCommand } from '../src/metadata-command.js';
import { register, tid } from './helpers.js';

const commands: MetadataCommand[] = [
  register(1),
  register(2),
  { kind: 'UnfenceBroker', brokerId: 1, brokerEpoch: 1 },
  { kind: 'UnfenceBroker', brokerId: 2, brokerEpoch: 2 },
  { kind: 'CreateTopic', name: 't', topicId: tid(1), assignment: [[1, 2]], configs: {} },
  { kind: 'AllocateProducerIds', brokerId: 1, brokerEpoch: 1, count: 10 },
];

describe('MetadataMachine', () => {
  it('applies entries in order, skips empty ones, and records deltas', () => {
    const m = new MetadataMachine({ historyCapacity: 100 });
    expect(m.applyEntry(1, new Uint8Array(0))).toEqual({ result: null, delta: null });
    commands.forEach((c, i) => {
      const out = m.applyEntry(i + 2, encodeCommand(c));
      expect(out.result?.ok).toBe(true);
    });
    expect(m.appliedIndex).toBe(commands.length + 1);
    expect(m.state.version).toBe(commands.length);
    expect(m.history.lastVersion).toBe(m.state.version);
    const plan = m.history.plan(4);
    expect(plan.kind === 'deltas' && plan.deltas.map((d) => d.createdTopics.length)).toEqual([1, 0]);
  });

  it('answers garbage and invalid commands with typed errors, without changing the state', () => {
    const m = new MetadataMachine({ historyCapacity: 10 });
    const garbage = m.applyEntry(1, Uint8Array.from([1, 2, 3]));
    expect(garbage.result).toMatchObject({ ok: false, error: { code: 'INVALID_REQUEST' } });
    const stale = m.applyEntry(2, encodeCommand({ kind: 'FenceBroker', brokerId: 1, brokerEpoch: 1 }));
    expect(stale.result).toMatchObject({ ok: false, error: { code: 'STALE_BROKER_EPOCH' } });
    expect(m.state.version).toBe(0);
    expect(m.appliedIndex).toBe(2);
    expect(m.history.lastVersion).toBe(0);
  });

  it('refuses entries out of order', () => {
    const m = new MetadataMachine({ historyCapacity: 10 });
    expect(() => m.applyEntry(2, new Uint8Array(0))).toThrow(AssertionError);
    m.applyEntry(1, new Uint8Array(0));
    expect(() => m.applyEntry(1, new Uint8Array(0))).toThrow(AssertionError);
  });

  it('a replica restored from a snapshot agrees with one that applied every entry', () => {
    const full = new MetadataMachine({ historyCapacity: 100 });
    const entries = commands.map((c) => encodeCommand(c));
    entries.forEach((e, i) => full.applyEntry(i + 1, e));
    const half = new MetadataMachine({ historyCapacity: 100 });
    entries.slice(0, 3).forEach((e, i) => half.applyEntry(i + 1, e));
    const snap = half.snapshot();
    const follower = new MetadataMachine({ historyCapacity: 100 });
    expect(follower.restore(snap)).toEqual({ ok: true, value: undefined });
    expect(follower.appliedIndex).toBe(3);
    expect(follower.history.plan(0)).toEqual({ kind: 'image' });
    entries.slice(3).forEach((e, i) => follower.applyEntry(i + 4, e));
    expect(toSnapshot(follower.state)).toEqual(toSnapshot(full.state));
    expect(follower.appliedIndex).toBe(full.appliedIndex);
  });

  it('refuses a bad snapshot and keeps its state', () => {
    const m = new MetadataMachine({ historyCapacity: 10 });
    m.applyEntry(1, encodeCommand(register(1)));
    const before = m.state;
    expect(m.restore({ appliedIndex: 5, data: Uint8Array.from([0x7b]) }).ok).toBe(false);
    expect(m.restore({ appliedIndex: -1, data: m.snapshot().data }).ok).toBe(false);
    expect(m.state).toBe(before);
    expect(m.appliedIndex).toBe(1);
  });
});
