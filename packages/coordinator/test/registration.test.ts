// Goal: a broker id held by a live session cannot be taken by another
// incarnation (Kafka's DUPLICATE_BROKER_REGISTRATION), while a retry of the
// same incarnation, a replacement of a fenced registration, and a restart
// after the old session expired all go through; a leader that just took over
// gives the old incarnation a full session first. Refusals change nothing.
import { describe, expect, it } from 'vitest';
import { initialControllerState, onHeartbeat, type ControllerOptions } from '../src/controller/controller-tick.js';
import { registrationConflict, seedSessions } from '../src/controller/sessions.js';
import { applyCommand } from '../src/metadata-state.js';
import { toSnapshot } from '../src/metadata-snapshot.js';
import { cluster, epochOf, must, register } from './helpers.js';

const options: ControllerOptions = { sessionTimeoutMs: 1_500, leaderRebalanceIntervalMs: 0, safetyIntervalMs: 60_000 };

describe('registrationConflict', () => {
  it('refuses a new incarnation while the old session is alive, and lets it in after the session expires', () => {
    const metadata = cluster(2);
    const before = JSON.stringify(toSnapshot(metadata));
    let state = initialControllerState(metadata, 0);
    const hb = onHeartbeat(state, metadata, { brokerId: 1, brokerEpoch: epochOf(metadata, 1), wantFence: false }, 1_000, options);
    if (!hb.ok) throw new Error(hb.error.message);
    state = hb.value.state;

    const restarted = { brokerId: 1, incarnationId: 'inc-1-restarted' };
    const refused = registrationConflict(metadata, state.sessions, restarted, 2_000, options.sessionTimeoutMs);
    expect(refused?.code).toBe('DUPLICATE_BROKER_REGISTRATION');
    expect(refused?.message).toContain('within 500 ms');
    // At the last millisecond of the session (alive while now - last <= timeout) it is still refused ...
    expect(registrationConflict(metadata, state.sessions, restarted, 2_500, options.sessionTimeoutMs)?.code).toBe('DUPLICATE_BROKER_REGISTRATION');
    // ... and one later it is allowed.
    expect(registrationConflict(metadata, state.sessions, restarted, 2_501, options.sessionTimeoutMs)).toBeNull();
    // The same incarnation retrying, another broker id, and an unknown id are never refused.
    expect(registrationConflict(metadata, state.sessions, { brokerId: 1, incarnationId: 'inc-1' }, 2_000, options.sessionTimeoutMs)).toBeNull();
    expect(registrationConflict(metadata, state.sessions, { brokerId: 3, incarnationId: 'new' }, 2_000, options.sessionTimeoutMs)).toBeNull();
    // The check is pure: the metadata is untouched.
    expect(JSON.stringify(toSnapshot(metadata))).toBe(before);
  });

  it('lets a new incarnation replace a fenced registration at once (clean shutdown, expired and fenced, never unfenced)', () => {
    let metadata = cluster(1);
    metadata = must(metadata, { kind: 'FenceBroker', brokerId: 1, brokerEpoch: epochOf(metadata, 1) }).state;
    const sessions = seedSessions(metadata, 0);
    expect(registrationConflict(metadata, sessions, { brokerId: 1, incarnationId: 'next' }, 10, options.sessionTimeoutMs)).toBeNull();
    // A registered-but-still-fenced broker (it never caught up) can be replaced too, as in Kafka (hasValidSession is false while fenced).
    const fresh = must(metadata, register(1, 'next')).state;
    expect(fresh.brokers.get(1)?.fenced).toBe(true);
    expect(registrationConflict(fresh, seedSessions(fresh, 0), { brokerId: 1, incarnationId: 'third' }, 10, options.sessionTimeoutMs)).toBeNull();
  });

  it('gives every broker a full session on a new leader: a restart right after a leader change waits the timeout', () => {
    const metadata = cluster(1);
    const state = initialControllerState(metadata, 50_000);
    const restarted = { brokerId: 1, incarnationId: 'after-failover' };
    expect(registrationConflict(metadata, state.sessions, restarted, 50_000 + options.sessionTimeoutMs, options.sessionTimeoutMs)?.code).toBe('DUPLICATE_BROKER_REGISTRATION');
    expect(registrationConflict(metadata, state.sessions, restarted, 50_001 + options.sessionTimeoutMs, options.sessionTimeoutMs)).toBeNull();
    // A session recorded for an older registration does not protect the current one.
    const replaced = must(metadata, register(1, 'other')).state;
    const unfenced = applyCommand(replaced, { kind: 'UnfenceBroker', brokerId: 1, brokerEpoch: epochOf(replaced, 1) });
    if (!unfenced.result.ok) throw new Error(unfenced.result.error.message);
    expect(registrationConflict(unfenced.state, state.sessions, restarted, 50_000, options.sessionTimeoutMs)).toBeNull();
  });
});
