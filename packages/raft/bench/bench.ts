// `npm run bench -w @fjord/raft`: committed entries per second for 100-byte
// proposals on an in-process 3-node cluster over the simulator's network with
// zero delay and no I/O (batched proposals), the CPU cost per entry, and the
// simulator's seeds per second. Prints a table, then one JSON line (last).
import { Rng } from '@fjord/protocol';
import { runSeed, SimCluster } from '../src/sim/index.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

const PAYLOAD_BYTES = 100;
const BATCH = arg('batch', 512);
const SECONDS = arg('seconds', 3);
const SIM_SEEDS = arg('sim-seeds', 300);

function benchReplication(): { entries: number; secs: number; cpuUs: number; batch: number } {
  const c = new SimCluster({
    voters: [1, 2, 3],
    rng: new Rng(1),
    snapshotEveryEntries: 100_000,
    keepEntriesAfterSnapshot: 1_000,
    raft: {
      electionTicks: 10,
      heartbeatTicks: 1,
      maxMsgBytes: 1 << 20,
      maxInflightMsgs: 256,
      maxUncommittedBytes: 64 << 20,
      preVote: true,
      checkQuorum: true,
    },
  });
  const leaderNode = c.node(1);
  leaderNode.raw?.campaign();
  c.pump();
  const leader = leaderNode.raw;
  if (leader === undefined || leader.raft.role !== 'Leader') throw new Error('bench: no leader');
  // Payloads are zero bytes: write id 0, so the harness's state machine skips bookkeeping.
  const batch = Array.from({ length: BATCH }, () => new Uint8Array(PAYLOAD_BYTES));
  const warm = (ms: number): void => {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      leader.proposeBatch(batch);
      c.pump();
    }
  };
  warm(500);
  const startCommit = leader.raft.log.committed;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let ticks = 0;
  while (Number(process.hrtime.bigint() - t0) < SECONDS * 1e9) {
    leader.proposeBatch(batch);
    c.pump();
    if (++ticks % 100 === 0) c.tick(); // heartbeats and CheckQuorum keep running
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const entries = leader.raft.log.committed - startCommit;
  for (const n of c.nodes.values()) {
    if (n.app.appliedIndex !== leader.raft.log.committed) throw new Error(`bench: n${n.id} applied ${n.app.appliedIndex} != ${leader.raft.log.committed}`);
  }
  return { entries, secs, cpuUs: cpu.user + cpu.system, batch: BATCH };
}

function benchSim(): { seeds: number; secs: number } {
  const t0 = process.hrtime.bigint();
  for (let s = 1; s <= SIM_SEEDS; s++) {
    const r = runSeed({ seed: s });
    if (!r.ok) throw new Error(`bench: seed ${s} failed: ${r.violation}`);
  }
  return { seeds: SIM_SEEDS, secs: Number(process.hrtime.bigint() - t0) / 1e9 };
}

const rep = benchReplication();
const sim = benchSim();
const committedEntriesPerSec = Math.round(rep.entries / rep.secs);
const cpuUsPerEntry = Number((rep.cpuUs / rep.entries).toFixed(3));
const simSeedsPerSec = Number((sim.seeds / sim.secs).toFixed(1));
const rows: Array<[string, string]> = [
  ['cluster', '3 voters, in-process, zero-delay network, no I/O'],
  ['proposal size', `${PAYLOAD_BYTES} B, batches of ${rep.batch}`],
  ['committed entries', String(rep.entries)],
  ['committed entries/s', committedEntriesPerSec.toLocaleString('en-US')],
  ['CPU per entry (all 3 nodes)', `${cpuUsPerEntry} µs`],
  ['sim seeds', `${sim.seeds} in ${sim.secs.toFixed(2)} s`],
  ['sim seeds/s (1 thread)', String(simSeedsPerSec)],
];
const w = Math.max(...rows.map(([k]) => k.length));
console.log('@fjord/raft bench');
for (const [k, v] of rows) console.log(`  ${k.padEnd(w)}  ${v}`);
console.log(
  JSON.stringify({
    committedEntriesPerSec,
    cpuUsPerEntry,
    simSeedsPerSec,
    payloadBytes: PAYLOAD_BYTES,
    batch: rep.batch,
    nodes: 3,
    node: process.version,
  }),
);
