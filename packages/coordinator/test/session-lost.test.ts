// Goal: a broker whose BrokerSession stream was cut (its process died) is
// fenced on the next controller tick, its leaderships moved, long before its
// session timeout; a loss reported for an older incarnation changes nothing;
// and a live broker that heartbeats again after a cut comes back (unfenced as
// after any expiry).
import { describe, expect, it } from 'vitest';
import { controllerTick, initialControllerState, onHeartbeat, onSessionLost, type ControllerOptions } from '../src/controller/controller-tick.js';
import { applyCommand, type MetadataState } from '../src/metadata-state.js';
import type { MetadataCommand } from '../src/metadata-command.js';
import { cluster, epochOf, must, tid } from './helpers.js';

const options: ControllerOptions = { sessionTimeoutMs: 9_000, leaderRebalanceIntervalMs: 0, safetyIntervalMs: 60_000 };

function world(): MetadataState {
  return must(cluster(3), { kind: 'CreateTopic', name: 't', topicId: tid(1), assignment: [[1, 2, 3]], configs: {} }).state;
}

describe('onSessionLost', () => {
  it('fences the broker on the next tick instead of after the session timeout', () => {
    let metadata = world();
    const leader = metadata.topics.get('t')?.partitions[0]?.leader;
    expect(leader).toBe(1);
    let state = controllerTick(initialControllerState(metadata, 0), metadata, 0, options).state;
    for (const id of [1, 2, 3]) {
      const hb = onHeartbeat(state, metadata, { brokerId: id, brokerEpoch: epochOf(metadata, id), wantFence: false }, 100, options);
      if (!hb.ok) throw new Error('heartbeat');
      state = hb.value.state;
    }
    expect(controllerTick(state, metadata, 200, options).decided).toBe(false);
    // An older incarnation's stream: nothing changes.
    expect(onSessionLost(state, { brokerId: 1, brokerEpoch: epochOf(metadata, 1) - 1 }, 200, options)).toBe(state);
    const lost = onSessionLost(state, { brokerId: 1, brokerEpoch: epochOf(metadata, 1) }, 200, options);
    const tick = controllerTick(lost, metadata, 210, options);
    expect(tick.decided).toBe(true);
    expect(tick.commands.map((c) => c.kind)).toEqual(['FenceBroker', 'ElectLeader']);
    expect(tick.commands[0]).toMatchObject({ brokerId: 1 });
    for (const c of tick.commands) metadata = applyCommand(metadata, c as MetadataCommand).state;
    expect(metadata.brokers.get(1)?.fenced).toBe(true);
    expect(metadata.topics.get('t')?.partitions[0]?.leader).not.toBe(1);
    // The broker was alive after all (a reset connection): its next heartbeat unfences it.
    const back = onHeartbeat(tick.state, metadata, { brokerId: 1, brokerEpoch: epochOf(metadata, 1), wantFence: false }, 300, options);
    if (!back.ok) throw new Error('heartbeat');
    const again = controllerTick(back.value.state, metadata, 310, options);
    expect(again.commands.map((c) => c.kind)).toContain('UnfenceBroker');
  });
});
