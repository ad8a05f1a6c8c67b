/**
 * The seeded simulator (after TigerBeetle's VOPR and etcd's interaction
 * tests): one seed fixes the cluster shape, the fault probabilities (swarm
 * testing: each seed turns different faults up or off) and every random
 * choice. Two phases:
 *
 * 1. Faults: clients propose and read while the network drops, delays,
 *    duplicates and partitions, nodes crash (losing what was not durable) and
 *    restart, membership changes and leadership transfers happen. Safety
 *    checkers run after every event.
 * 2. Heal: all links and nodes come back, faults stop; within a bounded number
 *    of ticks a leader must exist and every member must have applied every
 *    acknowledged write (liveness).
 */
import { AssertionError, isFjordError, Rng } from '@fjord/protocol';
import type { CoreLogger, NodeId, TestingBugs } from '../types.js';
import { SafetyChecker, Violation } from './checkers.js';
import { SimCluster, type SimNode } from './cluster.js';
import { Trace } from './trace.js';

export interface SwarmParams {
  readonly voters: number;
  readonly spares: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly maxInflightMsgs: number;
  readonly maxMsgBytes: number;
  readonly maxUncommittedBytes: number;
  readonly maxCommittedBytesPerReady: number;
  readonly dropPerMille: number;
  readonly dupPerMille: number;
  readonly maxDelayTicks: number;
  readonly persistDelayMaxTicks: number;
  readonly proposePerMille: number;
  readonly readPerMille: number;
  readonly crashPerMille: number;
  readonly restartPerMille: number;
  readonly pausePerMille: number;
  readonly partitionPerMille: number;
  readonly healPerMille: number;
  readonly confChangePerMille: number;
  readonly transferPerMille: number;
  readonly snapshotEveryEntries: number;
  readonly faultTicks: number;
  readonly healTicks: number;
}

export interface SimOptions {
  readonly seed: number;
  /** Name of the SIM_PROFILES entry the params come from (printed in the replay command). */
  readonly profile?: string;
  /** TEST-ONLY broken variants (see TestingBugs). */
  readonly bugs?: TestingBugs;
  /** Override parts of the swarm draw (tests that aim at one fault; see SIM_PROFILES). */
  readonly params?: Partial<SwarmParams>;
  /** Keep this many recent events for the failure report. */
  readonly traceEvents?: number;
}

export interface SimResult {
  readonly seed: number;
  readonly profile: string | undefined;
  readonly bugs: TestingBugs | undefined;
  readonly ok: boolean;
  readonly violation: string | undefined;
  readonly params: SwarmParams;
  readonly trace: string[];
  readonly ticks: number;
  readonly stats: {
    readonly committedEntries: number;
    readonly acked: number;
    readonly readsServed: number;
    readonly elections: number;
    readonly messages: number;
  };
}

/** Draws a seed's fault mix (swarm testing: some faults off, others turned up). */
export function drawParams(rng: Rng): SwarmParams {
  const on = (num: number): boolean => rng.chance(num, 4);
  const electionTicks = rng.intBetween(6, 14);
  return {
    voters: rng.pick([1, 3, 3, 3, 5, 5]),
    spares: rng.intBetween(0, 2),
    preVote: rng.chance(1, 2),
    checkQuorum: rng.chance(1, 2),
    electionTicks,
    heartbeatTicks: rng.intBetween(1, Math.max(1, Math.floor(electionTicks / 3))),
    maxInflightMsgs: rng.pick([1, 2, 4, 16, 256]),
    maxMsgBytes: rng.pick([64, 256, 4096, 1 << 20]),
    maxUncommittedBytes: rng.pick([256, 4096, 1 << 30]),
    maxCommittedBytesPerReady: rng.pick([1, 200, 1 << 26]),
    dropPerMille: on(3) ? rng.intBetween(0, 200) : 0,
    dupPerMille: on(2) ? rng.intBetween(0, 100) : 0,
    maxDelayTicks: on(3) ? rng.intBetween(0, 8) : 0,
    persistDelayMaxTicks: on(2) ? rng.intBetween(0, 3) : 0,
    proposePerMille: rng.intBetween(100, 900),
    readPerMille: on(2) ? rng.intBetween(20, 400) : 0,
    crashPerMille: on(2) ? rng.intBetween(2, 40) : 0,
    restartPerMille: rng.intBetween(20, 500),
    pausePerMille: on(1) ? rng.intBetween(2, 30) : 0,
    partitionPerMille: on(2) ? rng.intBetween(2, 40) : 0,
    healPerMille: rng.intBetween(10, 100),
    confChangePerMille: on(1) ? rng.intBetween(5, 40) : 0,
    transferPerMille: on(1) ? rng.intBetween(5, 40) : 0,
    snapshotEveryEntries: rng.pick([0, 5, 20, 100]),
    faultTicks: 300,
    healTicks: 1000,
  };
}

const CHURN: Partial<SwarmParams> = {
  voters: 5,
  preVote: false,
  checkQuorum: false,
  crashPerMille: 0,
  maxDelayTicks: 5,
  maxMsgBytes: 1,
  maxInflightMsgs: 1,
  electionTicks: 6,
  heartbeatTicks: 3,
  partitionPerMille: 150,
  healPerMille: 150,
  dropPerMille: 200,
  proposePerMille: 900,
  snapshotEveryEntries: 0,
};

/**
 * Fault profiles aimed at one failure mode each (they override the swarm
 * draw). The broken-variant tests use them, and CI runs some seeds of each
 * against the real core.
 */
export const SIM_PROFILES: Readonly<Record<string, Partial<SwarmParams>>> = Object.freeze({
  /** Constant leader churn, one entry per message: Figure 8 of the Raft paper. */
  'leader-churn': { ...CHURN, voters: 3, spares: 0, faultTicks: 1000 },
  /** The same with five voters. */
  'leader-churn-5': CHURN,
  /** Crashes right after votes, duplicated and delayed vote requests: double votes. */
  'vote-amnesia': {
    voters: 5,
    preVote: false,
    checkQuorum: false,
    crashPerMille: 100,
    restartPerMille: 600,
    maxDelayTicks: 6,
    dupPerMille: 200,
    electionTicks: 6,
    heartbeatTicks: 1,
    partitionPerMille: 20,
  },
  /** Partitions and crashes around elections: a candidate with a short log. */
  'stale-candidates': { voters: 5, partitionPerMille: 30, crashPerMille: 10 },
  /** Long partitions without CheckQuorum and many reads: stale leaders answering reads. */
  'stale-leader-reads': { voters: 3, checkQuorum: false, partitionPerMille: 30, healPerMille: 10, readPerMille: 300, dropPerMille: 0, crashPerMille: 0 },
});

function recordingLogger(trace: Trace, clock: () => number, id: NodeId): CoreLogger {
  return {
    debug(): void {},
    info(msg, fields): void {
      trace.note(clock(), id, `${msg} ${fields === undefined ? '' : JSON.stringify(fields)}`);
    },
    warn(msg, fields): void {
      trace.note(clock(), id, `WARN ${msg} ${fields === undefined ? '' : JSON.stringify(fields)}`);
    },
  };
}

export function runSeed(opts: SimOptions): SimResult {
  const rng = new Rng(opts.seed);
  const params: SwarmParams = { ...drawParams(rng), ...opts.params };
  const trace = new Trace(opts.traceEvents ?? 80);
  const checker = new SafetyChecker();
  const voters: NodeId[] = [];
  for (let i = 1; i <= params.voters; i++) voters.push(i);
  const spares: NodeId[] = [];
  for (let i = 1; i <= params.spares; i++) spares.push(params.voters + i);
  let cluster: SimCluster | undefined;
  const clock = (): number => cluster?.now ?? 0;
  cluster = new SimCluster({
    voters,
    spares,
    rng: rng.fork(),
    checker,
    trace,
    persistDelayMaxTicks: params.persistDelayMaxTicks,
    snapshotEveryEntries: params.snapshotEveryEntries,
    keepEntriesAfterSnapshot: params.snapshotEveryEntries === 0 ? 0 : rng.intBetween(0, 10),
    logger: (id) => recordingLogger(trace, clock, id),
    raft: {
      electionTicks: params.electionTicks,
      heartbeatTicks: params.heartbeatTicks,
      maxMsgBytes: params.maxMsgBytes,
      maxInflightMsgs: params.maxInflightMsgs,
      maxInflightBytes: params.maxMsgBytes * 4,
      maxUncommittedBytes: params.maxUncommittedBytes,
      maxCommittedBytesPerReady: params.maxCommittedBytesPerReady,
      preVote: params.preVote,
      checkQuorum: params.checkQuorum,
      ...(opts.bugs === undefined ? {} : { testingBugs: opts.bugs }),
    },
  });
  const c = cluster;
  c.net.faults = { dropPerMille: params.dropPerMille, dupPerMille: params.dupPerMille, minDelayTicks: 0, maxDelayTicks: params.maxDelayTicks };
  const ids = [...c.nodes.keys()];
  let nextWrite = 1;
  let nextRead = 1;
  let violation: string | undefined;

  const pickNode = (pred: (n: SimNode) => boolean): SimNode | undefined => {
    const ok = [...c.nodes.values()].filter(pred);
    return ok.length === 0 ? undefined : rng.pick(ok);
  };
  // Clients and operators reach only running processes.
  const upLeader = (): SimNode | undefined => pickNode((n) => n.raw !== undefined && !c.paused(n) && n.raw.raft.role === 'Leader');
  const clientTarget = (): SimNode | undefined => (rng.chance(4, 5) ? upLeader() : undefined) ?? pickNode((n) => n.up && !c.paused(n));

  const faultEvents = (): void => {
    if (rng.chance(params.proposePerMille, 1000)) {
      const n = clientTarget();
      if (n !== undefined) {
        const w = nextWrite++;
        const r = c.propose(n, w, rng.int(40));
        if (r === 'RAFT_NOT_LEADER') {
          // The client follows the leader hint once.
          const hint = n.raw?.raft.lead ?? 0;
          const h = c.nodes.get(hint);
          if (h !== undefined) c.propose(h, w, rng.int(40));
        }
      }
    }
    if (params.readPerMille > 0 && rng.chance(params.readPerMille, 1000)) {
      const n = clientTarget();
      if (n !== undefined) c.readIndex(n, `r${nextRead++}`);
    }
    if (params.crashPerMille > 0 && rng.chance(params.crashPerMille, 1000)) {
      const n = pickNode((x) => x.up);
      if (n !== undefined) c.crash(n);
    }
    if (params.pausePerMille > 0 && rng.chance(params.pausePerMille, 1000)) {
      // A process pause (GC, SIGSTOP): a paused leader wakes up still believing it leads.
      const n = pickNode((x) => x.up && !c.paused(x));
      if (n !== undefined) {
        n.pausedUntil = c.now + rng.intBetween(1, 3 * params.electionTicks);
        trace.note(c.now, n.id, `pause until t=${n.pausedUntil}`);
      }
    }
    if (rng.chance(params.restartPerMille, 1000)) {
      const n = pickNode((x) => !x.up);
      if (n !== undefined) c.start(n);
    }
    if (params.partitionPerMille > 0 && rng.chance(params.partitionPerMille, 1000)) {
      const shuffled = rng.shuffle([...ids]);
      const kind = rng.int(4);
      const l = upLeader();
      if (kind === 0) {
        // Symmetric split.
        const cut = rng.intBetween(1, Math.max(1, shuffled.length - 1));
        c.net.partition(shuffled.slice(0, cut), shuffled.slice(cut));
        trace.note(c.now, 0, `partition [${shuffled.slice(0, cut).join(',')}] | [${shuffled.slice(cut).join(',')}]`);
      } else if (kind === 3 && l !== undefined) {
        // Isolate the leader (Jepsen's favourite nemesis).
        c.net.partition([l.id], ids.filter((x) => x !== l.id));
        trace.note(c.now, 0, `isolate leader n${l.id}`);
      } else if (kind === 1) {
        // Isolate one node.
        const x = shuffled[0] as NodeId;
        c.net.partition([x], shuffled.slice(1));
        trace.note(c.now, 0, `isolate n${x}`);
      } else {
        // Asymmetric: some directed links fail.
        const links: string[] = [];
        for (const a of ids) {
          for (const b of ids) {
            if (a !== b && rng.chance(1, 3)) {
              c.net.block(a, b);
              links.push(`${a}>${b}`);
            }
          }
        }
        trace.note(c.now, 0, `block links ${links.join(' ')}`);
      }
    }
    if (c.net.partitioned && rng.chance(params.healPerMille, 1000)) {
      c.net.healPartitions();
      trace.note(c.now, 0, 'heal partitions');
    }
    if (params.confChangePerMille > 0 && rng.chance(params.confChangePerMille, 1000)) {
      const l = upLeader();
      if (l?.raw !== undefined) {
        const conf = l.raw.raft.conf;
        const nonMembers = ids.filter((x) => !conf.voters.includes(x) && !conf.learners.includes(x));
        const choice = rng.int(3);
        let change: { type: 'AddVoter' | 'AddLearner' | 'RemoveNode'; nodeId: NodeId } | undefined;
        if (choice === 0 && conf.learners.length > 0) change = { type: 'AddVoter', nodeId: rng.pick(conf.learners) };
        else if (choice === 1 && nonMembers.length > 0) change = { type: rng.chance(1, 2) ? 'AddLearner' : 'AddVoter', nodeId: rng.pick(nonMembers) };
        else if (conf.voters.length + conf.learners.length > 1) change = { type: 'RemoveNode', nodeId: rng.pick([...conf.voters, ...conf.learners]) };
        if (change !== undefined) {
          try {
            l.raw.proposeConfChange(change);
            trace.note(c.now, l.id, `propose ${change.type} ${change.nodeId}`);
          } catch (err) {
            if (!isFjordError(err)) throw err;
          }
        }
      }
    }
    if (params.transferPerMille > 0 && rng.chance(params.transferPerMille, 1000)) {
      const l = upLeader();
      if (l?.raw !== undefined) {
        const others = l.raw.raft.conf.voters.filter((x) => x !== l.id);
        if (others.length > 0) {
          const to = rng.pick(others);
          try {
            l.raw.transferLeader(to);
            trace.note(c.now, l.id, `transfer leadership to n${to}`);
          } catch (err) {
            if (!isFjordError(err)) throw err;
          }
        }
      }
    }
  };

  /** Liveness goal: a leader, and every member has applied everything up to its commit in its term. */
  const converged = (): boolean => {
    const l = c.leader();
    if (l?.raw === undefined) return false;
    const r = l.raw.raft;
    if (r.log.term(r.log.committed) !== r.term) return false;
    if (r.log.committed < checker.maxAckedIndex) return false;
    for (const id of [...r.conf.voters, ...r.conf.learners]) {
      const n = c.nodes.get(id);
      if (n?.raw === undefined || n.app.appliedIndex < r.log.committed) return false;
      if (n.raw.raft.term !== r.term) return false;
    }
    return true;
  };

  let phase = 'faults';
  try {
    for (let t = 0; t < params.faultTicks; t++) {
      faultEvents();
      c.tick();
    }
    phase = 'heal';
    trace.note(c.now, 0, '--- heal: all links and nodes back, faults off ---');
    c.net.healPartitions();
    // A healthy network: delays well below the election timeout. (With delays
    // near the timeout, randomized elections can take very long to settle
    // without PreVote: a node that cannot win keeps bumping its term.)
    c.net.faults = { dropPerMille: 0, dupPerMille: 0, minDelayTicks: 0, maxDelayTicks: Math.min(1, params.maxDelayTicks) };
    for (const n of c.nodes.values()) {
      if (!n.up) c.start(n);
      n.pausedUntil = 0;
    }
    let done = false;
    for (let t = 0; t < params.healTicks; t++) {
      c.tick();
      if (converged()) {
        done = true;
        break;
      }
    }
    if (!done) {
      const l = c.leader();
      const state = [...c.nodes.values()]
        .map((n) => `n${n.id}:${n.raw?.raft.role ?? "down"}/t${n.raw?.raft.term ?? "-"}/c${n.raw?.raft.log.committed ?? "-"}/a${n.app.appliedIndex}/l${n.raw?.raft.log.lastIndex() ?? "-"}/v(${n.raw?.raft.conf.voters.join(",") ?? ""})/l(${n.raw?.raft.conf.learners.join(",") ?? ""})/ct${n.raw?.raft.log.term(n.raw.raft.log.committed) ?? "-"}`)
        .join(' ');
      throw new Violation(`liveness: no convergence ${params.healTicks} ticks after heal (leader ${l?.id ?? 'none'}; maxAcked ${checker.maxAckedIndex}; ${state})`);
    }
    // Every acknowledged write is applied on every member (checked by index, exactly once by the checker).
    const l = c.leader() as SimNode;
    const conf = (l.raw as NonNullable<SimNode['raw']>).raft.conf;
    for (const id of [...conf.voters, ...conf.learners]) {
      const n = c.node(id);
      const have = new Set(n.app.writes);
      for (const w of checker.acked.keys()) {
        if (!have.has(w)) throw new Violation(`acknowledged write ${w} missing on n${id} after heal`);
      }
    }
  } catch (err) {
    if (err instanceof Violation) violation = `${err.message} (${phase} phase, t=${c.now})`;
    else if (err instanceof AssertionError) violation = `core assertion: ${err.message} (${phase} phase, t=${c.now})`;
    else throw err;
  }
  return {
    seed: opts.seed,
    profile: opts.profile,
    bugs: opts.bugs,
    ok: violation === undefined,
    violation,
    params,
    trace: violation === undefined ? [] : trace.lines(),
    ticks: c.now,
    stats: {
      committedEntries: c.committedEntries,
      acked: checker.acked.size,
      readsServed: c.readsServed,
      elections: checker.elections,
      messages: c.net.sent,
    },
  };
}

/** The one command that replays a seed (with its profile and broken variant, if any). */
export function replayCommand(r: Pick<SimResult, 'seed' | 'profile' | 'bugs'>): string {
  const extra: string[] = [];
  if (r.profile !== undefined) extra.push(`--profile ${r.profile}`);
  for (const [k, v] of Object.entries(r.bugs ?? {})) if (v === true) extra.push(`--bug ${k}`);
  return `FJORD_SIM_SEED=${r.seed} npm run sim -w @fjord/raft${extra.length > 0 ? ` -- ${extra.join(' ')}` : ''}`;
}

/** The failure report: the violation, the replay command and the last events. */
export function formatFailure(r: SimResult): string {
  return [
    `seed ${r.seed}: ${r.violation ?? 'ok'}`,
    `replay: ${replayCommand(r)}`,
    `params: ${JSON.stringify(r.params)}`,
    'last events:',
    ...r.trace.map((l) => `  ${l}`),
  ].join('\n');
}
