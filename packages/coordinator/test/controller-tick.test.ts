// Goal: the controller's policy step runs decide exactly when its answer can
// change (a commit moved the version, a heartbeat mattered, a session
// expired, the rebalance or safety interval elapsed) and otherwise costs
// nothing; and driven like the shell drives it (ticks every 100 ms,
// heartbeats every 2 s, commands applied as they commit) it fences a silent
// broker within session timeout + one tick and moves its leaderships, and a
// long-dead broker does not make every tick run decide.
import { describe, expect, it } from 'vitest';
import { controllerTick, initialControllerState, onHeartbeat, type ControllerOptions, type ControllerState } from '../src/controller/controller-tick.js';
import { applyCommand, type MetadataState } from '../src/metadata-state.js';
import { NO_LEADER, type MetadataCommand } from '../src/metadata-command.js';
import { cluster, epochOf, must, partition, tid } from './helpers.js';

const options: ControllerOptions = { sessionTimeoutMs: 9_000, leaderRebalanceIntervalMs: 0, safetyIntervalMs: 60_000 };

function world(): MetadataState {
  return must(cluster(3), { kind: 'CreateTopic', name: 't', topicId: tid(1), assignment: [[1, 2, 3], [2, 3, 1], [3, 1, 2]], configs: {} }).state;
}

describe('controllerTick', () => {
  it('runs decide only when something relevant changed', () => {
    const metadata = world();
    let state: ControllerState = initialControllerState(metadata, 0);
    let r = controllerTick(state, metadata, 0, options);
    expect(r.decided).toBe(true); // first tick
    state = r.state;
    r = controllerTick(state, metadata, 100, options);
    expect(r.decided).toBe(false);
    // A routine heartbeat does not matter.
    const hb = onHeartbeat(state, metadata, { brokerId: 1, brokerEpoch: epochOf(metadata, 1), wantFence: false }, 200, options);
    if (!hb.ok) throw new Error('heartbeat');
    expect(hb.value.fenced).toBe(false);
    expect(controllerTick(hb.value.state, metadata, 300, options).decided).toBe(false);
    // wantFence flips: it matters.
    const wants = onHeartbeat(state, metadata, { brokerId: 1, brokerEpoch: epochOf(metadata, 1), wantFence: true }, 200, options);
    if (!wants.ok) throw new Error('heartbeat');
    const fenceTick = controllerTick(wants.value.state, metadata, 300, options);
    expect(fenceTick.decided).toBe(true);
    expect(fenceTick.commands[0]).toMatchObject({ kind: 'FenceBroker', brokerId: 1 });
    // A committed change moves the version: due again.
    const moved = applyCommand(metadata, fenceTick.commands[0] as MetadataCommand).state;
    expect(controllerTick(fenceTick.state, moved, 400, options).decided).toBe(true);
    // Stale heartbeats are refused.
    const stale = onHeartbeat(state, metadata, { brokerId: 1, brokerEpoch: 0, wantFence: false }, 200, options);
    expect(!stale.ok && stale.error.code).toBe('STALE_BROKER_EPOCH');
  });

  it('runs the safety and rebalance intervals', () => {
    const metadata = world();
    const opts = { ...options, safetyIntervalMs: 1_000, leaderRebalanceIntervalMs: 5_000 };
    let state = controllerTick(initialControllerState(metadata, 0), metadata, 0, opts).state;
    // Keep every session alive so only the intervals matter.
    const beat = (at: number): void => {
      for (const id of [1, 2, 3]) {
        const hb = onHeartbeat(state, metadata, { brokerId: id, brokerEpoch: epochOf(metadata, id), wantFence: false }, at, opts);
        if (hb.ok) state = hb.value.state;
      }
    };
    beat(500);
    expect(controllerTick(state, metadata, 900, opts).decided).toBe(false);
    const safety = controllerTick(state, metadata, 1_000, opts);
    expect(safety.decided).toBe(true);
    state = safety.state;
    beat(4_000);
    state = controllerTick(state, metadata, 4_500, opts).state;
    beat(4_900);
    const rebalance = controllerTick(state, metadata, 5_000, opts);
    expect(rebalance.decided).toBe(true);
    expect(rebalance.state.lastRebalanceMs).toBe(5_000);
  });

  it('driven like the shell: a silent broker is fenced in time, and a dead one costs nothing afterwards', () => {
    let metadata = world();
    let state = initialControllerState(metadata, 0);
    const tickMs = 100;
    let decisions = 0;
    let fencedAt: number | null = null;
    for (let now = 0; now <= 60_000; now += tickMs) {
      // Brokers 2 and 3 heartbeat every 2 s; broker 1 goes silent at t=0.
      if (now % 2_000 === 0) {
        for (const id of [2, 3]) {
          const hb = onHeartbeat(state, metadata, { brokerId: id, brokerEpoch: epochOf(metadata, id), wantFence: false }, now, options);
          if (hb.ok) state = hb.value.state;
        }
      }
      const r = controllerTick(state, metadata, now, options);
      state = r.state;
      if (r.decided) decisions++;
      for (const c of r.commands) metadata = applyCommand(metadata, c).state;
      if (fencedAt === null && metadata.brokers.get(1)?.fenced === true) fencedAt = now;
    }
    expect(fencedAt).not.toBeNull();
    expect(fencedAt as number).toBeLessThanOrEqual(options.sessionTimeoutMs + tickMs);
    expect(fencedAt as number).toBeGreaterThan(options.sessionTimeoutMs);
    for (const p of [0, 1, 2]) {
      const part = partition(metadata, 't', p);
      expect(part.leader).not.toBe(1);
      expect(part.leader).not.toBe(NO_LEADER);
      expect(part.isr).not.toContain(1);
    }
    // 600 ticks, but decide ran only a handful of times (start, fencing, commits, safety runs).
    expect(decisions).toBeLessThan(12);
  });
});
