// Goal: the controller's decision function (controllerTick -> decide) run the
// way the coordinator runs it, on the leader of a simulated Raft cluster
// (@fjord/raft/sim: real RawNodes, a seeded network that drops, delays,
// duplicates and partitions, crashes that lose what was not durable, process
// pauses, snapshots). Every coordinator node applies the committed entries
// with the real codec and MetadataMachine; a node that restarts or installs a
// Raft snapshot rebuilds its metadata through the metadata snapshot codec.
// Simulated brokers register (new incarnations after crashes), heartbeat to
// whichever node they believe leads, get cut off from the coordinators, shut
// down cleanly (want_fence), and as partition leaders send AlterPartition.
// A restarted broker's registration goes through the shell's check
// (registrationConflict): it waits until its old session expired.
// A leader plans only once it has applied its own first entry (the shell's
// leaderReady), proposes a decision as one batch and waits for it (the
// shell's controllerBusy); a deposed leader's controller state is dropped.
//
// Checked on every node after every tick (phase 1, faults):
// - the Raft safety checker (one leader per term, log matching, one applied
//   history, acked => committed);
// - per applied command: leaderEpoch never goes back and partitionEpoch rises
//   on every partition change; no fenced broker is elected; no out-of-ISR
//   leader without the topic's opt-in (and only when no in-sync replica was
//   live); a broker is unfenced only when it leads nothing;
// - per applied state: checkInvariants (leader in the ISR and the replicas,
//   ISR within the replicas), and every ISR non-empty;
// - all nodes' applied states are byte-equal (metadata snapshot) at equal
//   applied Raft indexes.
// Phase 2 (heal, as TigerBeetle's VOPR does): faults stop, one broker may stay
// dead; within a bounded time every node has the same state, every live broker
// is unfenced, a fenced broker leads nothing, a partition with a live in-sync
// replica is led, and its ISR is exactly its live replicas.
// Seeds are fixed (FJORD_SIM_SEED=n replays one), so every run is the same.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isFjordError, Rng } from '@fjord/protocol';
import type { NodeId } from '@fjord/raft';
import { SafetyChecker, SimCluster, Trace, Violation, type AppState, type SimNode } from '@fjord/raft/sim';
import { encodeCommand } from '../src/command-codec.js';
import { controllerTick, initialControllerState, onHeartbeat, type ControllerOptions, type ControllerState } from '../src/controller/controller-tick.js';
import { registrationConflict } from '../src/controller/sessions.js';
import { planCreateTopic } from '../src/controller/topic-admin.js';
import { newTopicId } from '../src/controller/topic-id.js';
import { NO_LEADER, type MetadataCommand } from '../src/metadata-command.js';
import { MetadataMachine } from '../src/metadata-machine.js';
import { checkInvariants, encodeSnapshot } from '../src/metadata-snapshot.js';
import { allowsUncleanElection, type ApplyResult, type MetadataState } from '../src/metadata-state.js';

const TICK_MS = 10;
const CONTROLLER_EVERY_TICKS = 5;
const HEARTBEAT_MS = 250;
const RETRY_MS = 200;
/** A proposal not answered within this long counts as failed (the shell's request timeout). */
const PROPOSAL_TIMEOUT_MS = 2_000;
const options: ControllerOptions = { sessionTimeoutMs: 1_500, leaderRebalanceIntervalMs: 4_000, safetyIntervalMs: 1_000 };
const FAULT_TICKS = 2_000;
const HEAL_TICKS = 2_500;
const SEEDS = 8;

class SimFailure extends Error {}

function check(condition: boolean, message: () => string): void {
  if (!condition) throw new SimFailure(message());
}

/** A coordinator node's applied metadata, kept in step with its Raft app state. */
interface Tracked {
  app: AppState | undefined;
  machine: MetadataMachine;
  /** Writes (metadata commands) applied so far, and their ids. */
  writes: number;
  ids: Set<number>;
  fingerprintAt: number;
}

/** The controller shell of one node while it leads one term. */
interface Ctl {
  readonly incarnation: number;
  readonly term: number;
  readonly readyIndex: number;
  state: ControllerState | null;
  busy: { ids: number[]; untilMs: number } | null;
}

interface Broker {
  readonly id: number;
  readonly rack: string | null;
  incarnation: number;
  up: boolean;
  downUntilMs: number;
  /** Stays down in the heal phase too. */
  dead: boolean;
  /** -1 until the current incarnation registered. */
  epoch: number;
  pending: { writeId: number; node: NodeId; nodeIncarnation: number; untilMs: number } | null;
  nextActionMs: number;
  /** Controlled shutdown: heartbeats with wantFence until fenced and leading nothing. */
  shuttingDown: boolean;
  /** Coordinator nodes this broker cannot reach (its side of a partition). */
  cut: Set<NodeId>;
}

function incarnationId(b: Broker): string {
  return `b${b.id}-${b.incarnation}`;
}

function leads(state: MetadataState, brokerId: number): string | null {
  for (const topic of state.topics.values()) for (const p of topic.partitions) if (p.leader === brokerId) return `${topic.name}-${p.partition}`;
  return null;
}

/** Per applied command: what a transition may and may not do. */
function checkTransition(before: MetadataState, after: MetadataState, command: MetadataCommand, where: string): void {
  if (after === before) return;
  if (command.kind === 'UnfenceBroker') {
    const led = leads(after, command.brokerId);
    check(led === null, () => `${where}: broker ${command.brokerId} unfenced while leading ${led}`);
  }
  for (const [name, topic] of after.topics) {
    const old = before.topics.get(name);
    if (old === undefined || old.topicId !== topic.topicId || old === topic) continue;
    check(topic.partitions.length >= old.partitions.length, () => `${where}: ${name} lost partitions`);
    for (const p of topic.partitions) {
      const q = old.partitions[p.partition];
      if (q === undefined || q === p) continue;
      check(p.leaderEpoch >= q.leaderEpoch, () => `${where}: ${name}-${p.partition} leaderEpoch went back ${q.leaderEpoch} -> ${p.leaderEpoch} (${command.kind})`);
      check(p.partitionEpoch > q.partitionEpoch, () => `${where}: ${name}-${p.partition} changed without a partitionEpoch bump (${command.kind})`);
      if (p.leader !== q.leader) check(p.leaderEpoch > q.leaderEpoch, () => `${where}: ${name}-${p.partition} new leader without a new leaderEpoch`);
      if (p.leader !== q.leader && p.leader !== NO_LEADER) {
        check(after.brokers.get(p.leader)?.fenced === false, () => `${where}: ${name}-${p.partition} elected fenced broker ${p.leader}`);
        if (!q.isr.includes(p.leader)) {
          check(allowsUncleanElection(topic), () => `${where}: ${name}-${p.partition} out-of-ISR leader ${p.leader} without opt-in`);
          check(!q.isr.some((b) => before.brokers.get(b)?.fenced === false), () => `${where}: ${name}-${p.partition} unclean election while an in-sync replica lived`);
        }
      }
    }
  }
}

function checkState(state: MetadataState, where: string): void {
  const problems = checkInvariants(state);
  check(problems.length === 0, () => `${where}: ${problems.join('; ')}`);
  for (const topic of state.topics.values()) {
    for (const p of topic.partitions) {
      check(p.isr.length > 0, () => `${where}: ${topic.name}-${p.partition} has an empty ISR`);
      check(p.leader === NO_LEADER || p.replicas.includes(p.leader), () => `${where}: ${topic.name}-${p.partition} leader ${p.leader} is not a replica`);
    }
  }
}

interface SeedStats {
  commands: number;
  rejected: number;
  elections: number;
  fences: number;
  leaderChanges: number;
  registrations: number;
  rebuilds: number;
  duplicateRefusals: number;
}

function simulate(seed: number, trace: Trace): SeedStats {
  const rng = new Rng(seed);
  const voters: NodeId[] = Array.from({ length: rng.pick([3, 3, 5]) }, (_, i) => i + 1);
  const electionTicks = rng.intBetween(8, 14);
  const snapshotEveryEntries = rng.pick([0, 10, 50]);
  const checker = new SafetyChecker();
  const c = new SimCluster({
    voters,
    rng: rng.fork(),
    checker,
    trace,
    persistDelayMaxTicks: rng.chance(1, 2) ? rng.intBetween(1, 3) : 0,
    snapshotEveryEntries,
    keepEntriesAfterSnapshot: snapshotEveryEntries === 0 ? 0 : rng.intBetween(0, 5),
    raft: {
      electionTicks,
      heartbeatTicks: rng.intBetween(1, 3),
      maxMsgBytes: rng.pick([512, 64 * 1024]),
      maxInflightMsgs: rng.pick([2, 64]),
      maxUncommittedBytes: 1 << 24,
      preVote: rng.chance(3, 4),
      checkQuorum: rng.chance(3, 4),
    },
  });
  const faults = {
    dropPerMille: rng.chance(1, 2) ? rng.intBetween(1, 80) : 0,
    dupPerMille: rng.chance(1, 2) ? rng.intBetween(1, 50) : 0,
    maxDelayTicks: rng.chance(1, 2) ? rng.intBetween(1, 4) : 0,
    crashPerMille: rng.intBetween(1, 6),
    pausePerMille: rng.chance(1, 2) ? rng.intBetween(1, 4) : 0,
    partitionPerMille: rng.intBetween(1, 6),
    healPerMille: rng.intBetween(10, 40),
    brokerCrashPerMille: rng.intBetween(1, 3),
    brokerCutPerMille: rng.intBetween(0, 3),
    shutdownPerMille: rng.intBetween(0, 2),
  };
  c.net.faults = { dropPerMille: faults.dropPerMille, dupPerMille: faults.dupPerMille, minDelayTicks: 0, maxDelayTicks: faults.maxDelayTicks };
  const nowMs = (): number => c.now * TICK_MS;
  const stats: SeedStats = { commands: 0, rejected: 0, elections: 0, fences: 0, leaderChanges: 0, registrations: 0, rebuilds: 0, duplicateRefusals: 0 };

  // ------------------------------------------------------------ entries: [u32 write id][command]
  const commands = new Map<number, { command: MetadataCommand; bytes: Uint8Array }>();
  let nextWriteId = 1;
  /** Proposes commands as one batch on node n; returns their write ids, or null when n refused (not leader, dropped). */
  const propose = (n: SimNode, batch: readonly MetadataCommand[]): number[] | null => {
    const raw = n.raw;
    if (raw === undefined || batch.length === 0) return null;
    const ids = batch.map(() => nextWriteId++);
    const datas = batch.map((command, i) => {
      const bytes = encodeCommand(command);
      commands.set(ids[i] as number, { command, bytes });
      const data = new Uint8Array(4 + bytes.length);
      new DataView(data.buffer).setUint32(0, ids[i] as number, true);
      data.set(bytes, 4);
      return data;
    });
    try {
      raw.proposeBatch(datas);
    } catch (err) {
      if (!isFjordError(err)) throw err;
      return null;
    }
    for (const id of ids) c.proposals.set(id, { node: n.id, incarnation: n.incarnation });
    return ids;
  };

  // ------------------------------------------------------------ applied metadata per node
  const tracked = new Map<NodeId, Tracked>();
  /** Raft applied index -> fingerprint of the metadata state there (first node to reach it). */
  const fingerprints = new Map<number, string>();
  /** Outcomes a waiting broker wants, per node: write id -> result. */
  const outcomes = new Map<NodeId, Map<number, ApplyResult | null>>();
  const wanted = new Set<number>();
  /** Write ids apply refused (stale or duplicate decisions and requests). */
  const refused = new Set<number>();
  const accepted = new Set<number>();
  const apply = (machine: MetadataMachine, position: number, writeId: number): ApplyResult | null => {
    const entry = commands.get(writeId);
    check(entry !== undefined, () => `write ${writeId} applied but never proposed`);
    return machine.applyEntry(position, (entry as { bytes: Uint8Array }).bytes).result;
  };
  const sync = (n: SimNode): void => {
    let t = tracked.get(n.id);
    if (t === undefined || t.app !== n.app) {
      // Restarted, or installed a Raft snapshot: rebuild from the writes the
      // snapshot holds, through the metadata snapshot codec (what a real node
      // restores from).
      const scratch = new MetadataMachine({ historyCapacity: 8 });
      n.app.writes.forEach((w, i) => apply(scratch, i + 1, w));
      const machine = new MetadataMachine({ historyCapacity: 8 });
      const restored = machine.restore(scratch.snapshot());
      check(restored.ok, () => `n${n.id}: metadata snapshot did not restore`);
      if (t !== undefined) stats.rebuilds++;
      t = { app: n.app, machine, writes: n.app.writes.length, ids: new Set(n.app.writes), fingerprintAt: -1 };
      tracked.set(n.id, t);
    }
    const where = `n${n.id}`;
    while (t.writes < n.app.writes.length) {
      const writeId = n.app.writes[t.writes] as number;
      const before = t.machine.state;
      const result = apply(t.machine, t.writes + 1, writeId);
      t.writes++;
      t.ids.add(writeId);
      if (result === null || !result.ok) refused.add(writeId);
      else accepted.add(writeId);
      const command = (commands.get(writeId) as { command: MetadataCommand }).command;
      checkTransition(before, t.machine.state, command, `${where} write ${t.writes}`);
      if (wanted.has(writeId)) {
        let m = outcomes.get(n.id);
        if (m === undefined) outcomes.set(n.id, (m = new Map()));
        m.set(writeId, result);
      }
    }
    if (t.fingerprintAt !== n.app.appliedIndex) {
      t.fingerprintAt = n.app.appliedIndex;
      checkState(t.machine.state, `${where} at index ${n.app.appliedIndex}`);
      const fp = createHash('sha1').update(encodeSnapshot(t.machine.state)).digest('hex');
      const seen = fingerprints.get(n.app.appliedIndex);
      if (seen === undefined) fingerprints.set(n.app.appliedIndex, fp);
      else check(seen === fp, () => `${where}: metadata at applied index ${n.app.appliedIndex} differs from another node's`);
    }
  };
  const metadataOf = (id: NodeId): MetadataState => (tracked.get(id) as Tracked).machine.state;

  // ------------------------------------------------------------ the controller shell on leaders
  const ctls = new Map<NodeId, Ctl>();
  const isLeader = (n: SimNode): boolean => n.raw !== undefined && !c.paused(n) && n.raw.raft.role === 'Leader';
  const ctlOf = (n: SimNode): Ctl | null => {
    const raw = n.raw;
    if (raw === undefined || !isLeader(n)) {
      ctls.delete(n.id);
      return null;
    }
    let ctl = ctls.get(n.id);
    if (ctl === undefined || ctl.term !== raw.raft.term || ctl.incarnation !== n.incarnation) {
      // Became leader: plan only after applying the term's first entry (coordinator-service.ts leaderReady).
      ctl = { incarnation: n.incarnation, term: raw.raft.term, readyIndex: raw.raft.log.lastIndex(), state: null, busy: null };
      ctls.set(n.id, ctl);
      stats.leaderChanges++;
      trace.note(c.now, n.id, `controller active (term ${ctl.term}, ready at ${ctl.readyIndex})`);
    }
    return ctl;
  };
  const ready = (n: SimNode, ctl: Ctl): boolean => n.app.appliedIndex >= ctl.readyIndex;
  const runController = (n: SimNode): void => {
    const ctl = ctlOf(n);
    if (ctl === null || !ready(n, ctl)) return;
    const metadata = metadataOf(n.id);
    ctl.state ??= initialControllerState(metadata, nowMs());
    if (ctl.busy !== null) {
      const t = tracked.get(n.id) as Tracked;
      if (ctl.busy.ids.every((id) => t.ids.has(id)) || nowMs() >= ctl.busy.untilMs) ctl.busy = null;
      else return;
    }
    const tick = controllerTick(ctl.state, metadata, nowMs(), options);
    ctl.state = tick.state;
    if (tick.commands.length === 0) return;
    const ids = propose(n, tick.commands);
    if (ids !== null) ctl.busy = { ids, untilMs: nowMs() + PROPOSAL_TIMEOUT_MS };
  };

  // ------------------------------------------------------------ brokers
  const brokerCount = rng.intBetween(3, 5);
  const brokers: Broker[] = Array.from({ length: brokerCount }, (_, i) => ({
    id: i + 1,
    rack: rng.chance(1, 2) ? `rack-${i % 2}` : null,
    incarnation: 0,
    up: true,
    downUntilMs: 0,
    dead: false,
    epoch: -1,
    pending: null,
    nextActionMs: 0,
    shuttingDown: false,
    cut: new Set<NodeId>(),
  }));
  const brokerById = (id: number): Broker | undefined => brokers[id - 1];
  /** The node a broker's request lands on: the leader with the highest term among the nodes it reaches (clients follow leader hints). */
  const targetOf = (b: Broker): SimNode | undefined => {
    let best: SimNode | undefined;
    for (const n of c.nodes.values()) {
      if (!isLeader(n) || b.cut.has(n.id)) continue;
      if (best === undefined || (n.raw?.raft.term ?? 0) > (best.raw?.raft.term ?? 0)) best = n;
    }
    return best;
  };

  const brokerStep = (b: Broker, faultsOn: boolean): void => {
    const now = nowMs();
    if (!b.up) {
      if (b.dead || now < b.downUntilMs) return;
      b.up = true;
      b.incarnation++;
      b.epoch = -1;
      b.pending = null;
      b.shuttingDown = false;
      trace.note(c.now, 0, `broker ${b.id} restarts as ${incarnationId(b)}`);
    }
    if (faultsOn && rng.chance(faults.brokerCrashPerMille, 1000)) {
      crashBroker(b, now + rng.intBetween(200, 5_000));
      return;
    }
    // A registration in flight: answered when the node it went to applies it (lost if that node crashed or lost its term).
    if (b.pending !== null) {
      const p = b.pending;
      const result = outcomes.get(p.node)?.get(p.writeId);
      if (result !== undefined) {
        outcomes.get(p.node)?.delete(p.writeId);
        wanted.delete(p.writeId);
        b.pending = null;
        if (result !== null && result.ok && result.output.kind === 'RegisterBroker' && c.node(p.node).incarnation === p.nodeIncarnation) {
          b.epoch = result.output.brokerEpoch;
          stats.registrations++;
          b.nextActionMs = now;
        } else {
          b.nextActionMs = now + RETRY_MS;
        }
      } else if (now >= p.untilMs) {
        wanted.delete(p.writeId);
        b.pending = null;
        b.nextActionMs = now;
      }
      return;
    }
    if (now < b.nextActionMs) return;
    const n = targetOf(b);
    if (n === undefined) {
      b.nextActionMs = now + RETRY_MS;
      return;
    }
    const ctl = ctlOf(n);
    if (ctl === null || !ready(n, ctl)) {
      b.nextActionMs = now + RETRY_MS;
      return;
    }
    const metadata = metadataOf(n.id);
    if (b.epoch < 0) {
      const command: MetadataCommand = {
        kind: 'RegisterBroker',
        brokerId: b.id,
        incarnationId: incarnationId(b),
        endpoints: [{ name: 'PLAINTEXT', host: '127.0.0.1', port: 9000 + b.id }],
        rack: b.rack,
      };
      // The shell's check before proposing: another incarnation with a live session holds the id (a restart after kill -9 waits it out).
      ctl.state ??= initialControllerState(metadata, now);
      const conflict = registrationConflict(metadata, ctl.state.sessions, command, now, options.sessionTimeoutMs);
      if (conflict !== null) {
        stats.duplicateRefusals++;
        b.nextActionMs = now + RETRY_MS;
        return;
      }
      const ids = propose(n, [command]);
      if (ids === null) {
        b.nextActionMs = now + RETRY_MS;
        return;
      }
      const writeId = ids[0] as number;
      wanted.add(writeId);
      b.pending = { writeId, node: n.id, nodeIncarnation: n.incarnation, untilMs: now + PROPOSAL_TIMEOUT_MS };
      return;
    }
    // Heartbeat (the shell's brokerHeartbeat: soft state on the leader only).
    ctl.state ??= initialControllerState(metadata, now);
    const hb = onHeartbeat(ctl.state, metadata, { brokerId: b.id, brokerEpoch: b.epoch, wantFence: b.shuttingDown }, now, options);
    b.nextActionMs = now + HEARTBEAT_MS;
    if (!hb.ok) {
      check(hb.error.code === 'STALE_BROKER_EPOCH', () => `heartbeat of broker ${b.id}: ${hb.error.code}`);
      // Kafka's and Fjord's brokers register again (same incarnation) when told their epoch is stale.
      b.epoch = -1;
      b.nextActionMs = now;
      return;
    }
    ctl.state = hb.value.state;
    const me = metadata.brokers.get(b.id);
    if (b.shuttingDown) {
      if (me?.fenced === true && leads(metadata, b.id) === null) crashBroker(b, now + rng.intBetween(200, 3_000));
      return;
    }
    if (faultsOn && rng.chance(faults.shutdownPerMille, 100)) {
      b.shuttingDown = true;
      trace.note(c.now, 0, `broker ${b.id} shuts down (want_fence)`);
      return;
    }
    // As partition leader: shrink a lagging (dead, cut-off or restarted) follower out of the ISR, or
    // let a caught-up live replica join (with the epoch it fetched with: KIP-903).
    if (me === undefined || me.fenced) return;
    for (const topic of metadata.topics.values()) {
      for (const p of topic.partitions) {
        if (p.leader !== b.id || !rng.chance(1, 3)) continue;
        const lagging = p.isr.filter((r) => r !== b.id && brokerById(r)?.epoch !== metadata.brokers.get(r)?.brokerEpoch);
        const randomShrink = faultsOn && rng.chance(1, 20) ? p.isr.filter((r) => r !== b.id).slice(0, 1) : [];
        const leaving = new Set([...lagging, ...randomShrink]);
        let isr = p.isr.filter((r) => !leaving.has(r));
        if (leaving.size === 0) {
          const joining = p.replicas.filter((r) => {
            const follower = brokerById(r);
            return !p.isr.includes(r) && follower !== undefined && follower.up && follower.epoch >= 0 && !follower.shuttingDown && metadata.brokers.get(r)?.fenced === false;
          });
          if (joining.length === 0) continue;
          isr = [...p.isr, ...joining];
        }
        const alter: MetadataCommand = {
            kind: 'AlterPartition',
            brokerId: b.id,
            brokerEpoch: b.epoch,
            topicId: topic.topicId,
            partition: p.partition,
            leaderEpoch: p.leaderEpoch,
            partitionEpoch: p.partitionEpoch,
            isr: isr.map((r) => ({ brokerId: r, brokerEpoch: brokerById(r)?.epoch ?? 0 })),
        };
        // Under faults a timed-out request is sometimes sent again: apply must refuse the stale copy.
        propose(n, faultsOn && rng.chance(1, 4) ? [alter, alter] : [alter]);
      }
    }
  };
  const crashBroker = (b: Broker, untilMs: number): void => {
    b.up = false;
    b.downUntilMs = untilMs;
    b.epoch = -1;
    b.pending = null;
    trace.note(c.now, 0, `broker ${b.id} down until ${untilMs} ms`);
  };

  // ------------------------------------------------------------ coordinator faults
  const ids = [...c.nodes.keys()];
  const pickNode = (pred: (n: SimNode) => boolean): SimNode | undefined => {
    const ok = [...c.nodes.values()].filter(pred);
    return ok.length === 0 ? undefined : rng.pick(ok);
  };
  const faultEvents = (): void => {
    if (rng.chance(faults.crashPerMille, 1000)) {
      // Bias towards the leader: leader changes are what the controller must survive.
      const n = (rng.chance(1, 2) ? pickNode(isLeader) : undefined) ?? pickNode((x) => x.up);
      if (n !== undefined && [...c.nodes.values()].filter((x) => x.up).length > 1) c.crash(n);
    }
    const down = pickNode((x) => !x.up);
    if (down !== undefined && rng.chance(1, 30)) c.start(down);
    if (faults.pausePerMille > 0 && rng.chance(faults.pausePerMille, 1000)) {
      const n = pickNode((x) => x.up && !c.paused(x));
      if (n !== undefined) {
        n.pausedUntil = c.now + rng.intBetween(1, 3 * electionTicks);
        trace.note(c.now, n.id, `pause until t=${n.pausedUntil}`);
      }
    }
    if (rng.chance(faults.partitionPerMille, 1000)) {
      const shuffled = rng.shuffle([...ids]);
      const cut = rng.intBetween(1, shuffled.length - 1);
      const [a, z] = [shuffled.slice(0, cut), shuffled.slice(cut)];
      c.net.partition(a, z);
      // Each broker ends up on one side or the other (or stays connected to all).
      for (const b of brokers) if (rng.chance(1, 2)) for (const x of rng.chance(1, 2) ? a : z) b.cut.add(x);
      trace.note(c.now, 0, `partition [${a.join(',')}] | [${z.join(',')}]`);
    }
    for (const b of brokers) {
      if (faults.brokerCutPerMille > 0 && rng.chance(faults.brokerCutPerMille, 1000)) {
        for (const x of ids) b.cut.add(x);
        trace.note(c.now, 0, `broker ${b.id} cut off from every coordinator`);
      }
    }
    if (rng.chance(faults.healPerMille, 1000)) {
      c.net.healPartitions();
      for (const b of brokers) b.cut.clear();
      trace.note(c.now, 0, 'heal partitions');
    }
  };

  // ------------------------------------------------------------ one tick
  const step = (faultsOn: boolean): void => {
    if (faultsOn) faultEvents();
    c.tick();
    for (const n of c.nodes.values()) if (n.up) sync(n);
    if (c.now % CONTROLLER_EVERY_TICKS === 0) for (const n of c.nodes.values()) runController(n);
    for (const b of brokers) brokerStep(b, faultsOn);
  };

  // Bootstrap: a leader, every broker registered and unfenced, then topics.
  const until = (what: string, maxTicks: number, done: () => boolean): void => {
    for (let i = 0; i < maxTicks; i++) {
      if (done()) return;
      step(false);
    }
    check(done(), () => `${what}: not within ${maxTicks} ticks`);
  };
  const anyLeaderState = (): MetadataState | undefined => {
    const l = c.leader();
    return l === undefined ? undefined : metadataOf(l.id);
  };
  until('bootstrap: brokers unfenced', 2_000, () => {
    const s = anyLeaderState();
    return s !== undefined && brokers.every((b) => s.brokers.get(b.id)?.fenced === false);
  });
  const topicCount = rng.intBetween(2, 4);
  for (let t = 0; t < topicCount; t++) {
    const name = `t${t}`;
    until(`bootstrap: topic ${name}`, 2_000, () => {
      const l = c.leader();
      if (l === undefined) return false;
      const s = metadataOf(l.id);
      if (s.topics.has(name)) return true;
      if (c.now % 20 !== 0) return false;
      const planned = planCreateTopic({
        metadata: s,
        request: {
          name,
          partitionCount: rng.intBetween(1, 4),
          replicationFactor: rng.intBetween(2, Math.min(3, brokerCount)),
          configs: rng.chance(1, 4) ? { 'unclean.leader.election.enable': 'true' } : {},
        },
        defaults: { partitionCount: 1, replicationFactor: 1 },
        topicId: newTopicId(rng),
        placement: { startIndex: rng.int(10), replicaShift: rng.int(10) },
      });
      check(planned.ok, () => `planCreateTopic ${name} failed`);
      if (planned.ok) propose(l, [planned.value]);
      return false;
    });
  }

  // Phase 1: faults.
  for (let i = 0; i < FAULT_TICKS; i++) step(true);

  // Phase 2: heal. Every node and link comes back; maybe one broker stays dead for good.
  c.net.healPartitions();
  c.net.faults = { dropPerMille: 0, dupPerMille: 0, minDelayTicks: 0, maxDelayTicks: 0 };
  for (const n of c.nodes.values()) {
    n.pausedUntil = 0;
    if (!n.up) c.start(n);
  }
  const deadOne = rng.chance(1, 2) ? rng.pick(brokers) : undefined;
  for (const b of brokers) {
    b.cut.clear();
    b.shuttingDown = false;
    if (b === deadOne) {
      if (b.up) crashBroker(b, Number.POSITIVE_INFINITY);
      b.dead = true;
    } else if (!b.up) {
      b.downUntilMs = 0;
    }
  }
  const settledProblems = (): string[] => {
    const l = c.leader();
    if (l === undefined) return ['no leader'];
    const lt = tracked.get(l.id) as Tracked;
    const problems: string[] = [];
    for (const n of c.nodes.values()) {
      if (n.app.appliedIndex !== l.app.appliedIndex) problems.push(`n${n.id} applied ${n.app.appliedIndex}, leader ${l.app.appliedIndex}`);
      else if ((tracked.get(n.id) as Tracked).machine.state.version !== lt.machine.state.version) problems.push(`n${n.id} metadata differs`);
    }
    const s = lt.machine.state;
    const live = (id: number): boolean => brokerById(id)?.up === true;
    for (const broker of s.brokers.values()) {
      if (live(broker.brokerId) && broker.fenced) problems.push(`live broker ${broker.brokerId} fenced`);
      if (!live(broker.brokerId) && !broker.fenced) problems.push(`dead broker ${broker.brokerId} unfenced`);
      const led = broker.fenced ? leads(s, broker.brokerId) : null;
      if (led !== null) problems.push(`fenced broker ${broker.brokerId} leads ${led}`);
    }
    for (const topic of s.topics.values()) {
      for (const p of topic.partitions) {
        const where = `${topic.name}-${p.partition}`;
        const canLead = p.isr.some(live) || (allowsUncleanElection(topic) && p.replicas.some(live));
        if (canLead && p.leader === NO_LEADER) problems.push(`${where} offline with a live candidate`);
        if (p.leader !== NO_LEADER) {
          const want = p.replicas.filter(live);
          if (p.isr.length !== want.length || !want.every((r) => p.isr.includes(r))) problems.push(`${where} ISR ${JSON.stringify(p.isr)}, live replicas ${JSON.stringify(want)}`);
        }
      }
    }
    return problems;
  };
  let problems = settledProblems();
  for (let i = 0; i < HEAL_TICKS && problems.length > 0; i++) {
    step(false);
    problems = settledProblems();
  }
  check(problems.length === 0, () => `not converged ${HEAL_TICKS} ticks after healing: ${problems.slice(0, 6).join('; ')}`);

  // Totals for the whole run: commands that applied (on any node; all apply the same history).
  for (const id of accepted) {
    const kind = commands.get(id)?.command.kind;
    if (kind === 'ElectLeader') stats.elections++;
    if (kind === 'FenceBroker') stats.fences++;
  }
  stats.commands = commands.size;
  stats.rejected = refused.size;
  return stats;
}

describe('controller on the leader of a simulated Raft cluster (seeded faults, crashes, partitions, leader changes)', () => {
  it(`keeps the metadata invariants on every node and converges after healing (${SEEDS} seeds)`, () => {
    const only = process.env['FJORD_SIM_SEED'];
    const seeds = only === undefined ? Array.from({ length: SEEDS }, (_, i) => 1000 + i) : [Number(only)];
    const totals = { commands: 0, rejected: 0, elections: 0, fences: 0, leaderChanges: 0, registrations: 0, rebuilds: 0, duplicateRefusals: 0 };
    for (const seed of seeds) {
      const trace = new Trace(60);
      let stats: SeedStats;
      try {
        stats = simulate(seed, trace);
      } catch (e) {
        if (!(e instanceof SimFailure) && !(e instanceof Violation)) throw e;
        throw new Error(
          `seed ${seed}: ${e.message}\nreplay: FJORD_SIM_SEED=${seed} npx vitest run packages/coordinator/test/controller-raft-sim.test.ts\nlast events:\n${trace.lines().join('\n')}`,
          { cause: e },
        );
      }
      for (const k of Object.keys(totals) as (keyof SeedStats)[]) totals[k] += stats[k];
    }
    if (only !== undefined) return;
    // The faults really happened: leaders changed, brokers were fenced and
    // re-registered, partitions moved, nodes rebuilt from snapshots, and
    // duplicate or stale proposals were refused by apply.
    expect(totals.leaderChanges).toBeGreaterThan(SEEDS * 3);
    expect(totals.fences).toBeGreaterThan(SEEDS * 2);
    expect(totals.elections).toBeGreaterThan(SEEDS * 5);
    expect(totals.registrations).toBeGreaterThan(SEEDS * 5);
    expect(totals.rebuilds).toBeGreaterThan(0);
    expect(totals.duplicateRefusals).toBeGreaterThan(0);
    expect(totals.rejected).toBeGreaterThan(0);
  });
});
