// Goal: a watcher gets exactly what it needs. Deltas carry full records as of
// their version; the history is bounded and gap-free; a watcher too far behind
// (or starting from nothing) gets an image, one ahead of the node waits, and
// "image at v0 + every delta after it" rebuilds the state at any later version
// (checked over a seeded random run of commands).
import { describe, expect, it } from 'vitest';
import { AssertionError, Rng } from '@fjord/protocol';
import { ChangeHistory, buildDelta, type MetadataDelta } from '../src/metadata-watch.js';
import { EMPTY_METADATA, applyCommand, type BrokerState, type MetadataState, type TopicState } from '../src/metadata-state.js';
import { toSnapshot } from '../src/metadata-snapshot.js';
import { PersistentMap } from '../src/persistent-map.js';
import { decide } from '../src/controller/decide.js';
import { recordHeartbeat, seedSessions } from '../src/controller/sessions.js';
import type { MetadataCommand } from '../src/metadata-command.js';
import { cluster, epochOf, must, register, tid } from './helpers.js';

function emptyDelta(version: number): MetadataDelta {
  return { version, brokers: [], createdTopics: [], deletedTopics: [], partitions: [] };
}

describe('buildDelta', () => {
  it('carries the full records a change touched', () => {
    let state = cluster(2);
    const created = must(state, { kind: 'CreateTopic', name: 't', topicId: tid(1), assignment: [[1, 2]], configs: {} });
    state = created.state;
    const d1 = buildDelta(state, created.result.changes);
    expect(d1.version).toBe(state.version);
    expect(d1.createdTopics.map((t) => t.name)).toEqual(['t']);
    const fenced = must(state, { kind: 'FenceBroker', brokerId: 1, brokerEpoch: epochOf(state, 1) });
    expect(buildDelta(fenced.state, fenced.result.changes).brokers).toEqual([fenced.state.brokers.get(1)]);
    const elected = must(fenced.state, { kind: 'ElectLeader', topicId: tid(1), partition: 0, leader: 2, isr: [2], partitionEpoch: 0, unclean: false });
    expect(buildDelta(elected.state, elected.result.changes).partitions).toEqual([
      { topicId: tid(1), topicName: 't', state: elected.state.topics.get('t')?.partitions[0] },
    ]);
    const deleted = must(elected.state, { kind: 'DeleteTopic', name: 't', topicId: tid(1) });
    expect(buildDelta(deleted.state, deleted.result.changes).deletedTopics).toEqual([{ name: 't', topicId: tid(1) }]);
  });
});

describe('ChangeHistory', () => {
  it('plans deltas, images, and waits', () => {
    const h = new ChangeHistory(3, 10);
    expect(h.plan(10)).toEqual({ kind: 'deltas', deltas: [] });
    expect(h.plan(11)).toEqual({ kind: 'ahead' });
    for (let v = 11; v <= 14; v++) h.append(emptyDelta(v));
    expect(h.lastVersion).toBe(14);
    // Holds 12..14: a watcher at 11 or later gets deltas, one before gets an image.
    expect(h.plan(11)).toMatchObject({ kind: 'deltas', deltas: [{ version: 12 }, { version: 13 }, { version: 14 }] });
    expect(h.plan(13)).toMatchObject({ kind: 'deltas', deltas: [{ version: 14 }] });
    expect(h.plan(14)).toEqual({ kind: 'deltas', deltas: [] });
    expect(h.plan(10)).toEqual({ kind: 'image' });
    expect(h.plan(0)).toEqual({ kind: 'image' });
    expect(h.plan(15)).toEqual({ kind: 'ahead' });
    expect(h.plan(11, 2)).toMatchObject({ kind: 'deltas', deltas: [{ version: 12 }, { version: 13 }] });
    h.reset(100);
    expect(h.plan(99)).toEqual({ kind: 'image' });
    expect(h.plan(100)).toEqual({ kind: 'deltas', deltas: [] });
  });

  it('refuses gaps and bad capacities', () => {
    const h = new ChangeHistory(2, 0);
    expect(() => h.append(emptyDelta(2))).toThrow(AssertionError);
    expect(() => new ChangeHistory(0, 0)).toThrow(AssertionError);
  });

  it('image + deltas rebuild the state at every later version (seeded random run)', () => {
    interface View { brokers: Map<number, BrokerState>; topics: Map<string, TopicState>; version: number }
    const viewOf = (s: MetadataState): View => ({ brokers: new Map(s.brokers), topics: new Map(s.topics), version: s.version });
    const applyDelta = (view: View, d: MetadataDelta): void => {
      expect(d.version).toBe(view.version + 1);
      view.version = d.version;
      for (const b of d.brokers) view.brokers.set(b.brokerId, b);
      for (const t of d.deletedTopics) view.topics.delete(t.name);
      for (const t of d.createdTopics) view.topics.set(t.name, t);
      for (const c of d.partitions) {
        const topic = view.topics.get(c.topicName) as TopicState;
        const partitions = [...topic.partitions];
        partitions[c.state.partition] = c.state;
        view.topics.set(c.topicName, { ...topic, partitions });
      }
    };
    const rng = new Rng(99);
    let state = EMPTY_METADATA;
    const history = new ChangeHistory(50, 0);
    const states: MetadataState[] = [state];
    let sessions = seedSessions(state, 0);
    for (let i = 0; i < 400; i++) {
      const now = i * 1000;
      const commands: MetadataCommand[] = [];
      const roll = rng.int(10);
      if (roll < 2) commands.push(register(rng.intBetween(1, 4), `inc-${rng.int(3)}`));
      else if (roll < 4 && state.brokers.size > 0) commands.push({ kind: 'CreateTopic', name: `t${rng.int(5)}`, topicId: tid(i + 1), assignment: [[rng.pick([...state.brokers.keys()])]], configs: {} });
      else if (roll < 5 && state.topics.size > 0) {
        const t = rng.pick([...state.topics.values()]);
        commands.push({ kind: 'DeleteTopic', name: t.name, topicId: t.topicId });
      } else {
        for (const b of state.brokers.values()) {
          if (!rng.chance(2, 3)) continue;
          const hb = recordHeartbeat(state, sessions, { brokerId: b.brokerId, brokerEpoch: b.brokerEpoch, wantFence: false }, now);
          if (hb.ok) sessions = hb.value.sessions;
        }
        commands.push(...decide({ metadata: state, brokerSessions: sessions, nowMs: now, sessionTimeoutMs: 1500 }));
      }
      for (const c of commands) {
        const applied = applyCommand(state, c);
        if (applied.result.ok && applied.state !== state) {
          history.append(buildDelta(applied.state, applied.result.changes));
          states.push(applied.state);
        }
        state = applied.state;
      }
    }
    expect(state.version).toBeGreaterThan(100);
    // A watcher at each version the history still covers catches up to the end.
    for (const from of states.slice(-50)) {
      const plan = history.plan(from.version);
      expect(plan.kind).toBe('deltas');
      if (plan.kind !== 'deltas') continue;
      const view = viewOf(from);
      for (const d of plan.deltas) applyDelta(view, d);
      const rebuilt: MetadataState = { ...state, brokers: view.brokers, topics: PersistentMap.from(view.topics), version: view.version };
      expect(toSnapshot(rebuilt)).toEqual({ ...toSnapshot(state), nextProducerId: state.nextProducerId });
    }
    expect(history.plan(states[0]?.version ?? 0)).toEqual({ kind: 'image' });
  });
});
