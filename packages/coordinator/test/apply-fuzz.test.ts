// Goal: apply is total over well-formed commands. A committed command is
// applied by every replica, and again on every replay, so an exception (or a
// failed assertion) in apply for any command that passed the codec would take
// the whole coordinator down, repeatedly. Random commands drawn from small
// id spaces (so they often hit real brokers, topics and epochs) must never
// throw, must leave the state unchanged when rejected, and must keep every
// invariant when accepted; each one also survives the codec unchanged.
import { describe, expect, it } from 'vitest';
import { Rng } from '@fjord/protocol';
import { decodeCommand, encodeCommand } from '../src/command-codec.js';
import { METADATA_COMMAND_KINDS, NO_LEADER, type MetadataCommand } from '../src/metadata-command.js';
import { EMPTY_METADATA, applyCommand, type MetadataState } from '../src/metadata-state.js';
import { checkInvariants, decodeSnapshot, encodeSnapshot } from '../src/metadata-snapshot.js';
import { tid } from './helpers.js';

const NAMES = ['a', 'b', 'a.b', 'a_b', 'bad name', '..'];
const CONFIGS: Record<string, string>[] = [{}, { 'unclean.leader.election.enable': 'true' }, { 'retention.ms': 'x' }, { 'no.such': '1' }, { 'min.insync.replicas': '2' }];

function ids(rng: Rng, max: number): number[] {
  return Array.from({ length: rng.int(max + 1) }, () => rng.int(6));
}

function randomCommand(rng: Rng, state: MetadataState): MetadataCommand {
  const topics = [...state.topics.values()];
  const topicId = topics.length > 0 && rng.chance(4, 5) ? rng.pick(topics).topicId : tid(rng.int(8));
  const brokerId = rng.int(6);
  const brokerEpoch = rng.chance(3, 4) ? (state.brokers.get(brokerId)?.brokerEpoch ?? rng.int(50)) : rng.int(50);
  const topic = topics.find((t) => t.topicId === topicId);
  const partition = rng.int(4);
  const p = topic?.partitions[partition];
  const partitionEpoch = p !== undefined && rng.chance(3, 4) ? p.partitionEpoch : rng.int(5);
  // Plausible ISRs (a subset of the replicas keeping the leader) most of the time, noise otherwise.
  const isr = (): number[] => {
    if (p === undefined || !rng.chance(2, 3)) return ids(rng, 4);
    const kept = p.replicas.filter((b) => b === p.leader || rng.chance(1, 2));
    return rng.chance(1, 2) ? kept : p.isr.filter((b) => b === p.leader || rng.chance(2, 3));
  };
  switch (rng.int(10)) {
    case 0:
      return { kind: 'RegisterBroker', brokerId, incarnationId: `i${rng.int(3)}`, endpoints: rng.chance(9, 10) ? [{ name: 'P', host: 'h', port: 1 + rng.int(3) }] : [], rack: rng.chance(1, 2) ? null : `r${rng.int(2)}` };
    case 1:
      return { kind: 'FenceBroker', brokerId, brokerEpoch };
    case 2:
      return { kind: 'UnfenceBroker', brokerId, brokerEpoch };
    case 3:
      return { kind: 'CreateTopic', name: rng.pick(NAMES), topicId: tid(rng.int(8)), assignment: Array.from({ length: rng.int(4) }, () => ids(rng, 3)), configs: rng.pick(CONFIGS) };
    case 4:
      return { kind: 'DeleteTopic', name: topic?.name ?? rng.pick(NAMES), topicId };
    case 5:
      return { kind: 'CreatePartitions', topicId, assignment: Array.from({ length: rng.int(3) }, () => ids(rng, 3)) };
    case 6:
      return { kind: 'AlterPartition', brokerId: p !== undefined && rng.chance(2, 3) ? Math.max(0, p.leader) : brokerId, brokerEpoch, topicId, partition, leaderEpoch: p !== undefined && rng.chance(3, 4) ? p.leaderEpoch : rng.int(5), partitionEpoch, isr: isr().map((id) => ({ brokerId: id, brokerEpoch: rng.chance(9, 10) ? (state.brokers.get(id)?.brokerEpoch ?? 0) : rng.int(50) })) };
    case 7:
      return { kind: 'ElectLeader', topicId, partition, leader: rng.chance(1, 4) ? NO_LEADER : rng.int(6), isr: isr(), partitionEpoch, unclean: rng.chance(1, 3) };
    case 8:
      return { kind: 'ShrinkIsr', topicId, partition, isr: isr(), partitionEpoch };
    default:
      return { kind: 'AllocateProducerIds', brokerId, brokerEpoch, count: rng.chance(9, 10) ? 1 + rng.int(1000) : 1_000_000 };
  }
}

describe('apply is total', () => {
  it('never throws, rejects without change, keeps invariants (seeded, 200 x 300 commands)', () => {
    let accepted = 0;
    let rejected = 0;
    const acceptedKinds = new Map<string, number>();
    for (let seed = 1; seed <= 200; seed++) {
      const rng = new Rng(seed);
      let state = EMPTY_METADATA;
      for (let i = 0; i < 300; i++) {
        const command = randomCommand(rng, state);
        const decoded = decodeCommand(encodeCommand(command));
        if (!decoded.ok) throw new Error(`seed ${seed}: codec refused ${JSON.stringify(command)}: ${decoded.error.message}`);
        let applied: ReturnType<typeof applyCommand>;
        try {
          applied = applyCommand(state, decoded.value);
        } catch (e) {
          throw new Error(`seed ${seed} step ${i}: apply threw on ${JSON.stringify(command)}: ${(e as Error).message}`, { cause: e });
        }
        if (!applied.result.ok) {
          if (applied.state !== state) throw new Error(`seed ${seed}: rejected ${command.kind} changed the state`);
          rejected++;
        } else {
          accepted++;
          acceptedKinds.set(command.kind, (acceptedKinds.get(command.kind) ?? 0) + 1);
          const problems = checkInvariants(applied.state);
          if (problems.length > 0) throw new Error(`seed ${seed}: ${command.kind} broke invariants: ${problems.join('; ')}`);
        }
        state = applied.state;
      }
      // The final state also survives a snapshot round trip.
      const restored = decodeSnapshot(encodeSnapshot(state));
      expect(restored.ok && restored.value).toEqual(state);
    }
    expect(accepted).toBeGreaterThan(2_000);
    expect([...acceptedKinds.keys()].sort()).toEqual([...METADATA_COMMAND_KINDS].sort());
    expect(rejected).toBeGreaterThan(2_000);
  });
});

describe('epoch exhaustion', () => {
  it('is a typed refusal, not an assertion', () => {
    const base = EMPTY_METADATA;
    let state = applyCommand(base, { kind: 'RegisterBroker', brokerId: 1, incarnationId: 'i', endpoints: [{ name: 'P', host: 'h', port: 1 }], rack: null }).state;
    state = applyCommand(state, { kind: 'UnfenceBroker', brokerId: 1, brokerEpoch: 1 }).state;
    state = applyCommand(state, { kind: 'CreateTopic', name: 't', topicId: tid(1), assignment: [[1]], configs: {} }).state;
    const topic = state.topics.get('t');
    if (topic === undefined) throw new Error('no topic');
    const max = 2_147_483_647;
    const worn: MetadataState = { ...state, topics: state.topics.set('t', { ...topic, partitions: [{ ...(topic.partitions[0] as NonNullable<(typeof topic.partitions)[0]>), leaderEpoch: max, partitionEpoch: max }] }) };
    const r = applyCommand(worn, { kind: 'ElectLeader', topicId: tid(1), partition: 0, leader: NO_LEADER, isr: [1], partitionEpoch: max, unclean: false });
    expect(r.result.ok).toBe(false);
    expect(r.state).toBe(worn);
  });
});
