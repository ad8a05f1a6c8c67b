// Goal: the controller's pure decisions. Each rule on its own (fence on
// session expiry, unfence on a live session, elect from the ISR minus fenced
// brokers, go offline rather than elect out of the ISR unless the topic opted
// into unclean election, shrink fenced followers out of the ISR, preferred
// leader election, stale decisions rejected by apply), then a seeded
// randomized run over random clusters, heartbeats, restarts and time that
// applies the decisions and checks the invariants after every step.
import { describe, expect, it } from 'vitest';
import { Rng } from '@fjord/protocol';
import { decide } from '../src/controller/decide.js';
import {
  heartbeatChangesDecision,
  isSessionAlive,
  nextSessionExpiryMs,
  pruneSessions,
  recordHeartbeat,
  seedSessions,
  type BrokerSession,
} from '../src/controller/sessions.js';
import { planCreateTopic } from '../src/controller/topic-admin.js';
import { newTopicId } from '../src/controller/topic-id.js';
import { NO_LEADER, type MetadataCommand } from '../src/metadata-command.js';
import { allowsUncleanElection, applyCommand, type MetadataState } from '../src/metadata-state.js';
import { checkInvariants } from '../src/metadata-snapshot.js';
import { cluster, epochOf, members, must, partition, register, tid } from './helpers.js';

const TIMEOUT = 9_000;

function applyAll(state: MetadataState, commands: readonly MetadataCommand[]): MetadataState {
  return commands.reduce((s, c) => applyCommand(s, c).state, state);
}

function sessionsAt(state: MetadataState, nowMs: number, except: number[] = []): Map<number, BrokerSession> {
  const sessions = seedSessions(state, nowMs);
  for (const id of except) sessions.delete(id);
  return sessions;
}

function topicState(configs: Record<string, string> = {}, assignment: number[][] = [[1, 2, 3], [2, 3, 1], [3, 1, 2]]): MetadataState {
  return must(cluster(3), { kind: 'CreateTopic', name: 't', topicId: tid(1), assignment, configs }).state;
}

describe('sessions', () => {
  it('seeds a full session for every broker and expires after the timeout', () => {
    const state = cluster(2);
    const sessions = seedSessions(state, 1000);
    expect(isSessionAlive(sessions.get(1), epochOf(state, 1), 1000 + TIMEOUT, TIMEOUT)).toBe(true);
    expect(isSessionAlive(sessions.get(1), epochOf(state, 1), 1001 + TIMEOUT, TIMEOUT)).toBe(false);
    expect(isSessionAlive(sessions.get(1), epochOf(state, 1) + 1, 1000, TIMEOUT)).toBe(false);
    expect(isSessionAlive(undefined, 1, 0, TIMEOUT)).toBe(false);
  });

  it('records heartbeats of current registrations only', () => {
    const state = cluster(2);
    const r = recordHeartbeat(state, new Map(), { brokerId: 1, brokerEpoch: epochOf(state, 1), wantFence: false }, 50);
    expect(r.ok && r.value.sessions.get(1)).toEqual({ brokerEpoch: epochOf(state, 1), lastHeartbeatMs: 50, wantFence: false });
    expect(r.ok && r.value.fenced).toBe(false);
    const stale = recordHeartbeat(state, new Map(), { brokerId: 1, brokerEpoch: 0, wantFence: false }, 50);
    expect(!stale.ok && stale.error.code).toBe('STALE_BROKER_EPOCH');
    const unknown = recordHeartbeat(state, new Map(), { brokerId: 7, brokerEpoch: 1, wantFence: false }, 50);
    expect(!unknown.ok && unknown.error.code).toBe('STALE_BROKER_EPOCH');
  });

  it('tells the shell when decide can next change its answer', () => {
    const state = topicState();
    const sessions = seedSessions(state, 1_000);
    sessions.set(2, { ...(sessions.get(2) as BrokerSession), lastHeartbeatMs: 500 });
    const due = nextSessionExpiryMs(state, sessions, TIMEOUT);
    expect(due).toBe(500 + TIMEOUT + 1);
    // Nothing changes before it; at it, broker 2 is fenced.
    expect(decide({ metadata: state, brokerSessions: sessions, nowMs: due - 1, sessionTimeoutMs: TIMEOUT })).toEqual([]);
    expect(decide({ metadata: state, brokerSessions: sessions, nowMs: due, sessionTimeoutMs: TIMEOUT })[0]).toMatchObject({ kind: 'FenceBroker', brokerId: 2 });
    expect(nextSessionExpiryMs(state, new Map(), TIMEOUT)).toBe(Number.POSITIVE_INFINITY);
    const s1 = sessions.get(1) as BrokerSession;
    expect(heartbeatChangesDecision(s1, { ...s1, lastHeartbeatMs: 2_000 }, 2_000, TIMEOUT)).toBe(false);
    expect(heartbeatChangesDecision(s1, { ...s1, lastHeartbeatMs: 2_000, wantFence: true }, 2_000, TIMEOUT)).toBe(true);
    expect(heartbeatChangesDecision(s1, { ...s1, lastHeartbeatMs: 20_000 }, 20_000, TIMEOUT)).toBe(true);
    expect(heartbeatChangesDecision(undefined, s1, 1_000, TIMEOUT)).toBe(true);
  });

  it('prunes sessions of replaced registrations', () => {
    let state = cluster(2);
    const sessions = seedSessions(state, 0);
    state = must(state, register(2, 'new-incarnation')).state;
    expect([...pruneSessions(state, sessions).keys()]).toEqual([1]);
  });
});

describe('decide', () => {
  it('does nothing for a healthy cluster', () => {
    const state = topicState();
    expect(decide({ metadata: state, brokerSessions: sessionsAt(state, 0), nowMs: 5_000, sessionTimeoutMs: TIMEOUT })).toEqual([]);
  });

  it('fences an expired broker and elects new leaders from the ISR for its partitions', () => {
    const state = topicState();
    const sessions = sessionsAt(state, 0);
    sessions.set(2, { ...(sessions.get(2) as BrokerSession), lastHeartbeatMs: 9_500 });
    sessions.set(3, { ...(sessions.get(3) as BrokerSession), lastHeartbeatMs: 9_500 });
    const commands = decide({ metadata: state, brokerSessions: sessions, nowMs: 10_000, sessionTimeoutMs: TIMEOUT });
    expect(commands[0]).toEqual({ kind: 'FenceBroker', brokerId: 1, brokerEpoch: epochOf(state, 1) });
    expect(commands.slice(1)).toEqual([
      { kind: 'ElectLeader', topicId: tid(1), partition: 0, leader: 2, isr: [2, 3], partitionEpoch: 0, unclean: false },
      { kind: 'ShrinkIsr', topicId: tid(1), partition: 1, isr: [2, 3], partitionEpoch: 0 },
      { kind: 'ShrinkIsr', topicId: tid(1), partition: 2, isr: [3, 2], partitionEpoch: 0 },
    ]);
    const after = applyAll(state, commands);
    expect(partition(after, 't', 0)).toMatchObject({ leader: 2, leaderEpoch: 1, partitionEpoch: 1, isr: [2, 3] });
    expect(decide({ metadata: after, brokerSessions: sessions, nowMs: 10_000, sessionTimeoutMs: TIMEOUT })).toEqual([]);
  });

  it('takes a partition offline when no ISR member is left, keeping the last ISR', () => {
    let state = topicState({}, [[1, 2]]);
    state = must(state, { kind: 'AlterPartition', brokerId: 1, brokerEpoch: epochOf(state, 1), topicId: tid(1), partition: 0, leaderEpoch: 0, partitionEpoch: 0, isr: members(state, [1]) }).state;
    const sessions = sessionsAt(state, 0, [1]);
    const commands = decide({ metadata: state, brokerSessions: sessions, nowMs: 1, sessionTimeoutMs: TIMEOUT });
    expect(commands).toEqual([
      { kind: 'FenceBroker', brokerId: 1, brokerEpoch: epochOf(state, 1) },
      { kind: 'ElectLeader', topicId: tid(1), partition: 0, leader: NO_LEADER, isr: [1], partitionEpoch: 1, unclean: false },
    ]);
    const offline = applyAll(state, commands);
    expect(partition(offline, 't', 0)).toMatchObject({ leader: -1, isr: [1], leaderEpoch: 1 });
    // Nothing more while broker 1 is away: broker 2 is live but out of sync.
    expect(decide({ metadata: offline, brokerSessions: sessions, nowMs: 2, sessionTimeoutMs: TIMEOUT })).toEqual([]);
    // Broker 1 heartbeats again: unfenced, then it leads again cleanly.
    const back = recordHeartbeat(offline, sessions, { brokerId: 1, brokerEpoch: epochOf(state, 1), wantFence: false }, 3);
    if (!back.ok) throw new Error('heartbeat');
    // Two rounds: unfenced first (it counts as fenced for that round), then elected.
    const round1 = decide({ metadata: offline, brokerSessions: back.value.sessions, nowMs: 3, sessionTimeoutMs: TIMEOUT });
    expect(round1).toEqual([{ kind: 'UnfenceBroker', brokerId: 1, brokerEpoch: epochOf(state, 1) }]);
    const unfenced = applyAll(offline, round1);
    const round2 = decide({ metadata: unfenced, brokerSessions: back.value.sessions, nowMs: 3, sessionTimeoutMs: TIMEOUT });
    expect(round2).toEqual([{ kind: 'ElectLeader', topicId: tid(1), partition: 0, leader: 1, isr: [1], partitionEpoch: 2, unclean: false }]);
    expect(partition(applyAll(unfenced, round2), 't', 0)).toMatchObject({ leader: 1, leaderEpoch: 2 });
  });

  it('moves leadership off a restarted broker (new incarnation) before unfencing it, even if it already heartbeats', () => {
    let state = topicState();
    state = must(state, register(1, 'inc-1-restarted')).state;
    // The new incarnation heartbeats before the controller runs.
    const hb = recordHeartbeat(state, seedSessions(state, 0), { brokerId: 1, brokerEpoch: epochOf(state, 1), wantFence: false }, 1);
    if (!hb.ok) throw new Error('heartbeat');
    const commands = decide({ metadata: state, brokerSessions: hb.value.sessions, nowMs: 1, sessionTimeoutMs: TIMEOUT });
    expect(commands.map((c) => c.kind)).toEqual(['ElectLeader', 'ShrinkIsr', 'ShrinkIsr', 'UnfenceBroker']);
    const after = applyAll(state, commands);
    expect(after.brokers.get(1)?.fenced).toBe(false);
    expect(partition(after, 't', 0)).toMatchObject({ leader: 2, leaderEpoch: 1, isr: [2, 3] });
    // Had the elections failed (a concurrent change), apply would refuse the unfence.
    const unfence = commands[commands.length - 1] as MetadataCommand;
    expect(applyCommand(state, unfence).result).toMatchObject({ ok: false, error: { code: 'INVALID_REQUEST' } });
  });

  it('elects a live out-of-ISR replica when the topic opted into unclean election', () => {
    let state = topicState({ 'unclean.leader.election.enable': 'true' }, [[1, 2]]);
    state = must(state, { kind: 'AlterPartition', brokerId: 1, brokerEpoch: epochOf(state, 1), topicId: tid(1), partition: 0, leaderEpoch: 0, partitionEpoch: 0, isr: members(state, [1]) }).state;
    const commands = decide({ metadata: state, brokerSessions: sessionsAt(state, 0, [1]), nowMs: 1, sessionTimeoutMs: TIMEOUT });
    expect(commands[1]).toEqual({ kind: 'ElectLeader', topicId: tid(1), partition: 0, leader: 2, isr: [2], partitionEpoch: 1, unclean: true });
    expect(partition(applyAll(state, commands), 't', 0)).toMatchObject({ leader: 2, isr: [2], leaderEpoch: 1 });
  });

  it('unfences a broker with a live session, but not one that asks to stay fenced', () => {
    const state = must(cluster(1), register(2)).state; // broker 2 registered, fenced
    const sessions = seedSessions(state, 0);
    expect(decide({ metadata: state, brokerSessions: sessions, nowMs: 0, sessionTimeoutMs: TIMEOUT })).toEqual([]);
    const hb = recordHeartbeat(state, sessions, { brokerId: 2, brokerEpoch: epochOf(state, 2), wantFence: false }, 1);
    if (!hb.ok) throw new Error('heartbeat');
    expect(decide({ metadata: state, brokerSessions: hb.value.sessions, nowMs: 1, sessionTimeoutMs: TIMEOUT })).toEqual([
      { kind: 'UnfenceBroker', brokerId: 2, brokerEpoch: epochOf(state, 2) },
    ]);
  });

  it('fences a live broker that asks to be fenced (controlled shutdown) and moves its leadership', () => {
    const state = topicState();
    const hb = recordHeartbeat(state, seedSessions(state, 0), { brokerId: 1, brokerEpoch: epochOf(state, 1), wantFence: true }, 1);
    if (!hb.ok) throw new Error('heartbeat');
    const commands = decide({ metadata: state, brokerSessions: hb.value.sessions, nowMs: 1, sessionTimeoutMs: TIMEOUT });
    expect(commands[0]).toMatchObject({ kind: 'FenceBroker', brokerId: 1 });
    const after = applyAll(state, commands);
    expect(partition(after, 't', 0).leader).toBe(2);
  });

  it('moves leadership back to the preferred replica only when asked', () => {
    let state = topicState();
    state = must(state, { kind: 'ElectLeader', topicId: tid(1), partition: 0, leader: 2, isr: [1, 2, 3], partitionEpoch: 0, unclean: false }).state;
    const input = { metadata: state, brokerSessions: sessionsAt(state, 0), nowMs: 0, sessionTimeoutMs: TIMEOUT };
    expect(decide(input)).toEqual([]);
    const commands = decide({ ...input, preferredLeaderElection: true });
    expect(commands).toEqual([{ kind: 'ElectLeader', topicId: tid(1), partition: 0, leader: 1, isr: [1, 2, 3], partitionEpoch: 1, unclean: false }]);
    expect(partition(applyAll(state, commands), 't', 0)).toMatchObject({ leader: 1, leaderEpoch: 2 });
  });

  it('bounds its output and finishes on later calls', () => {
    const state = topicState();
    const input = { metadata: state, brokerSessions: sessionsAt(state, 0, [1, 2]), nowMs: 1, sessionTimeoutMs: TIMEOUT, maxCommands: 2 };
    let s = state;
    for (let round = 0; round < 10; round++) {
      const commands = decide({ ...input, metadata: s });
      expect(commands.length).toBeLessThanOrEqual(2);
      if (commands.length === 0) break;
      s = applyAll(s, commands);
    }
    expect(decide({ ...input, metadata: s, maxCommands: undefined })).toEqual([]);
    expect(partition(s, 't', 0).leader).toBe(3);
  });

  it('a decision made on a stale view, or applied twice, changes nothing', () => {
    const state = topicState();
    const commands = decide({ metadata: state, brokerSessions: sessionsAt(state, 0, [1]), nowMs: 1, sessionTimeoutMs: TIMEOUT });
    const once = applyAll(state, commands);
    for (const c of commands) expect(applyCommand(once, c).state).toBe(once);
  });
});

// Swarm-style: each seed draws its own cluster shape and fault rates.
const SEEDS = 150;
const STEPS = 40;

/** What the randomized run exercised, so it cannot pass vacuously. */
const seen = { fenced: 0, unfenced: 0, cleanElections: 0, uncleanElections: 0, offline: 0, shrinks: 0, rejected: 0, restarts: 0 };

/** A cheap check for hot loops (vitest's expect costs too much per call there). */
function check(condition: boolean, message: () => string): void {
  if (!condition) throw new Error(message());
}

describe('decide + apply, seeded random clusters', () => {
  it(`keeps every invariant over ${SEEDS} seeds x ${STEPS} steps`, () => {
    for (let seed = 1; seed <= SEEDS; seed++) {
      try {
        runSeed(seed);
      } catch (e) {
        throw new Error(`seed ${seed}: ${(e as Error).message}`, { cause: e });
      }
    }
    for (const [what, count] of Object.entries(seen)) expect(count, what).toBeGreaterThan(0);
  });
});

function runSeed(seed: number): void {
  const rng = new Rng(seed);
  const brokerCount = rng.intBetween(1, 6);
  const racks = rng.intBetween(0, 3);
  let state = cluster(brokerCount, racks === 0 ? undefined : Array.from({ length: racks }, (_, i) => `rack-${i}`));
  const topicCount = rng.intBetween(1, 4);
  for (let t = 0; t < topicCount; t++) {
    const planned = planCreateTopic({
      metadata: state,
      request: {
        name: `topic-${t}`,
        partitionCount: rng.intBetween(1, 6),
        replicationFactor: rng.intBetween(1, Math.min(3, brokerCount)),
        configs: rng.chance(1, 3) ? { 'unclean.leader.election.enable': 'true' } : {},
      },
      defaults: { partitionCount: 1, replicationFactor: 1 },
      topicId: newTopicId(rng),
      placement: { startIndex: rng.int(brokerCount), replicaShift: rng.int(brokerCount) },
    });
    if (!planned.ok) throw new Error(`create failed: ${planned.error.message}`);
    state = must(state, planned.value).state;
  }
  let nowMs = 0;
  let sessions: Map<number, BrokerSession> = seedSessions(state, nowMs);
  const heartbeatOdds = rng.intBetween(1, 9); // out of 10, per broker per step
  const restartOdds = rng.intBetween(0, 2); // out of 20
  const preferred = rng.chance(1, 2);

  const step = (command: MetadataCommand): void => {
    const before = state;
    const applied = applyCommand(state, command);
    if (!applied.result.ok) {
      check(applied.state === before, () => `${command.kind} failed but changed the state`);
      seen.rejected++;
      return;
    }
    state = applied.state;
    checkTransition(before, state, command);
  };

  for (let s = 0; s < STEPS; s++) {
    nowMs += rng.int(TIMEOUT / 2);
    // Heartbeats, some wanting to be fenced.
    for (const broker of state.brokers.values()) {
      if (!rng.chance(heartbeatOdds, 10)) continue;
      const hb = recordHeartbeat(state, sessions, { brokerId: broker.brokerId, brokerEpoch: broker.brokerEpoch, wantFence: rng.chance(1, 20) }, nowMs);
      if (hb.ok) sessions = hb.value.sessions;
    }
    // Restarts: a new incarnation registers (fenced, new epoch).
    if (rng.chance(restartOdds, 20)) {
      const id = rng.intBetween(1, brokerCount);
      step(register(id, `inc-${id}-${s}`, state.brokers.get(id)?.rack ?? null));
      sessions = pruneSessions(state, sessions);
      seen.restarts++;
    }
    // Leaders change their ISR (shrink a follower, or re-add one).
    for (const topic of state.topics.values()) {
      for (const p of topic.partitions) {
        if (p.leader === NO_LEADER || !rng.chance(1, 6)) continue;
        const leader = state.brokers.get(p.leader);
        if (leader === undefined) continue;
        const candidate = rng.pick(p.replicas);
        const isr = p.isr.includes(candidate) ? (candidate === p.leader ? p.isr : p.isr.filter((b) => b !== candidate)) : [...p.isr, candidate];
        step({ kind: 'AlterPartition', brokerId: p.leader, brokerEpoch: leader.brokerEpoch, topicId: topic.topicId, partition: p.partition, leaderEpoch: p.leaderEpoch, partitionEpoch: p.partitionEpoch, isr: members(state, isr) });
      }
    }
    // Garbage elections: apply must refuse anything unsafe.
    if (rng.chance(1, 3)) {
      const topic = rng.pick([...state.topics.values()]);
      const p = rng.pick(topic.partitions);
      const leader = rng.chance(1, 5) ? NO_LEADER : rng.intBetween(1, brokerCount);
      const isr = p.replicas.filter(() => rng.chance(1, 2));
      step({ kind: 'ElectLeader', topicId: topic.topicId, partition: p.partition, leader, isr, partitionEpoch: rng.chance(1, 2) ? p.partitionEpoch : rng.int(5), unclean: rng.chance(1, 3) });
    }
    // The controller runs until it has nothing left to do.
    let rounds = 0;
    for (;;) {
      const commands = decide({ metadata: state, brokerSessions: sessions, nowMs, sessionTimeoutMs: TIMEOUT, preferredLeaderElection: preferred });
      if (commands.length === 0) break;
      for (const c of commands) {
        if (c.kind === 'FenceBroker') seen.fenced++;
        else if (c.kind === 'UnfenceBroker') seen.unfenced++;
        else if (c.kind === 'ShrinkIsr') seen.shrinks++;
        else if (c.kind === 'ElectLeader') {
          if (c.leader === NO_LEADER) seen.offline++;
          else if (c.unclean) seen.uncleanElections++;
          else seen.cleanElections++;
        }
        step(c);
      }
      rounds++;
      check(rounds <= 3, () => 'decide did not converge within 3 rounds');
    }
    checkConverged(state, sessions, nowMs);
  }
}

/** Invariants of one applied command: state consistent, epochs monotone, no unsafe election. */
function checkTransition(before: MetadataState, after: MetadataState, command: MetadataCommand): void {
  const problems = checkInvariants(after);
  check(problems.length === 0, () => `after ${command.kind}: ${problems.join('; ')}`);
  if (command.kind === 'UnfenceBroker') {
    for (const topic of after.topics.values()) {
      for (const p of topic.partitions) check(p.leader !== command.brokerId, () => `unfenced broker ${command.brokerId} still leads ${topic.name}-${p.partition}`);
    }
  }
  check(after.version === before.version + 1 || after === before, () => `version ${before.version} -> ${after.version}`);
  for (const [name, topic] of after.topics) {
    const old = before.topics.get(name);
    if (old === undefined || old.topicId !== topic.topicId || old === topic) continue;
    for (const p of topic.partitions) {
      const q = old.partitions[p.partition];
      if (q === undefined || q === p) continue;
      const where = `${name}-${p.partition} after ${JSON.stringify(command)}`;
      check(p.leaderEpoch >= q.leaderEpoch && p.partitionEpoch >= q.partitionEpoch, () => `${where}: an epoch went back`);
      check(p.leader === q.leader || p.leaderEpoch > q.leaderEpoch, () => `${where}: leader changed without a new leader epoch`);
      check(p.partitionEpoch > q.partitionEpoch, () => `${where}: changed without a new partition epoch`);
      if (p.leader !== q.leader && p.leader !== NO_LEADER) {
        check(after.brokers.get(p.leader)?.fenced === false, () => `${where}: elected fenced broker ${p.leader}`);
        if (!q.isr.includes(p.leader)) {
          // Only an unclean election elects outside the ISR: opted in, and no in-sync replica was live.
          check(allowsUncleanElection(topic), () => `${where}: out-of-ISR leader without the opt-in`);
          check(!q.isr.some((b) => before.brokers.get(b)?.fenced === false), () => `${where}: unclean while a clean candidate lived`);
        }
      }
    }
  }
}

/** After decide has nothing more to do. */
function checkConverged(state: MetadataState, sessions: ReadonlyMap<number, BrokerSession>, nowMs: number): void {
  for (const broker of state.brokers.values()) {
    const session = sessions.get(broker.brokerId);
    const alive = isSessionAlive(session, broker.brokerEpoch, nowMs, TIMEOUT) && session?.wantFence === false;
    check(broker.fenced === !alive, () => `broker ${broker.brokerId} fenced=${broker.fenced} but alive=${alive}`);
  }
  const live = (b: number): boolean => state.brokers.get(b)?.fenced === false;
  for (const topic of state.topics.values()) {
    for (const p of topic.partitions) {
      const where = `${topic.name}-${p.partition}`;
      if (p.leader !== NO_LEADER) {
        check(live(p.leader), () => `${where}: leader ${p.leader} is fenced`);
        check(p.isr.every(live), () => `${where}: fenced broker in the ISR of a led partition`);
      } else {
        check(!p.isr.some(live), () => `${where}: offline with a live ISR member`);
        if (allowsUncleanElection(topic)) check(!p.replicas.some(live), () => `${where}: offline with a live replica and unclean allowed`);
      }
    }
  }
}
