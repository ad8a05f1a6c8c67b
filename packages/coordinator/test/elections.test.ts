// Goal: admin-requested elections (ElectLeaders) plan the right command or
// typed error per partition: preferred election only to a live in-sync first
// replica; unclean election only with the topic's opt-in, preferring a clean
// candidate when one lives; nothing when no election is needed.
import { describe, expect, it } from 'vitest';
import { planElections } from '../src/controller/elections.js';
import { applyCommand, type MetadataState } from '../src/metadata-state.js';
import { cluster, epochOf, members, must, partition, tid } from './helpers.js';

function setup(configs: Record<string, string> = {}): MetadataState {
  let state = must(cluster(3), { kind: 'CreateTopic', name: 't', topicId: tid(1), assignment: [[1, 2, 3], [2, 3, 1]], configs }).state;
  // Partition 0 moves to broker 2 (ISR intact); partition 1 keeps its preferred leader.
  state = must(state, { kind: 'ElectLeader', topicId: tid(1), partition: 0, leader: 2, isr: [1, 2, 3], partitionEpoch: 0, unclean: false }).state;
  return state;
}

describe('planElections: preferred', () => {
  it('elects the first replica where needed and applies', () => {
    const state = setup();
    const plans = planElections(state, 'preferred', null);
    expect(plans.map((p) => [p.partition, p.command?.leader ?? null, p.error?.code ?? null])).toEqual([[0, 1, null], [1, null, null]]);
    const command = plans[0]?.command;
    if (!command) throw new Error('no command');
    expect(partition(must(state, command).state, 't', 0)).toMatchObject({ leader: 1, leaderEpoch: 2 });
  });

  it('refuses a fenced or out-of-sync preferred replica, and unknown partitions', () => {
    let state = setup();
    state = must(state, { kind: 'FenceBroker', brokerId: 1, brokerEpoch: epochOf(state, 1) }).state;
    const plans = planElections(state, 'preferred', [{ topic: 't', partition: 0 }, { topic: 't', partition: 9 }, { topic: 'u', partition: 0 }]);
    expect(plans.map((p) => p.error?.code)).toEqual(['PREFERRED_LEADER_NOT_AVAILABLE', 'UNKNOWN_TOPIC_OR_PARTITION', 'UNKNOWN_TOPIC_OR_PARTITION']);
    expect(plans.every((p) => p.command === null)).toBe(true);
  });
});

describe('planElections: unclean', () => {
  const offline = (configs: Record<string, string>): MetadataState => {
    let state = setup(configs);
    // Partition 1: ISR shrinks to its leader 2, then 2 is fenced and the partition goes offline.
    state = must(state, { kind: 'AlterPartition', brokerId: 2, brokerEpoch: epochOf(state, 2), topicId: tid(1), partition: 1, leaderEpoch: 0, partitionEpoch: 0, isr: members(state, [2]) }).state;
    state = must(state, { kind: 'FenceBroker', brokerId: 2, brokerEpoch: epochOf(state, 2) }).state;
    state = must(state, { kind: 'ElectLeader', topicId: tid(1), partition: 1, leader: -1, isr: [2], partitionEpoch: 1, unclean: false }).state;
    return state;
  };

  it('needs the topic opt-in', () => {
    const plans = planElections(offline({}), 'unclean', [{ topic: 't', partition: 1 }]);
    expect(plans[0]?.error?.code).toBe('POLICY_VIOLATION');
  });

  it('elects the first live replica alone when opted in, and the command applies', () => {
    const state = offline({ 'unclean.leader.election.enable': 'true' });
    const [plan] = planElections(state, 'unclean', [{ topic: 't', partition: 1 }]);
    expect(plan?.command).toMatchObject({ leader: 3, isr: [3], unclean: true });
    if (!plan?.command) throw new Error('no command');
    expect(applyCommand(state, plan.command).result.ok).toBe(true);
  });

  it('prefers a clean candidate, and leaves partitions with a live leader alone', () => {
    let state = setup();
    state = must(state, { kind: 'FenceBroker', brokerId: 2, brokerEpoch: epochOf(state, 2) }).state;
    const plans = planElections(state, 'unclean', null);
    expect(plans[0]?.command).toMatchObject({ leader: 1, isr: [1, 3], unclean: false });
    expect(plans[1]?.command).toMatchObject({ leader: 3, unclean: false });
    const healthy = planElections(setup(), 'unclean', null);
    expect(healthy.every((p) => p.command === null && p.error === null)).toBe(true);
  });

  it('reports no live replica at all', () => {
    let state = offline({ 'unclean.leader.election.enable': 'true' });
    for (const id of [1, 3]) state = must(state, { kind: 'FenceBroker', brokerId: id, brokerEpoch: epochOf(state, id) }).state;
    expect(planElections(state, 'unclean', [{ topic: 't', partition: 1 }])[0]?.error?.code).toBe('ELIGIBLE_LEADERS_NOT_AVAILABLE');
  });
});
