// `npm run bench` (root): Fjord against NATS JetStream in the same run (issue 5
// "Benchmark"). Both run on loopback, one after the other (never at once, so
// neither steals the other's CPU): 3 coordinators + 3 brokers against a
// 3-node JetStream cluster (file storage, R3), then `fjord dev` against one
// nats-server (R1). 100-byte records. Workloads in workloads.ts; the table and
// the JSON line (last) in report.ts. Knobs (env): BENCH_RECORDS,
// BENCH_PUBLISH_MAX_SECONDS, BENCH_LATENCY_SECONDS, BENCH_SINGLE_RECORDS, BENCH_FAILOVER_AFTER_MS,
// BENCH_NATS_WINDOW, BENCH_PARTITIONS, BENCH_ONLY=fjord|nats, BENCH_WORKLOADS,
// BENCH_PROFILE_DIR (Fjord brokers under --cpu-prof).
import { execSync } from 'node:child_process';
import { KNOBS, emptyFigures, out, round, type Figures } from './common.js';
import { FJORD_BROKER_ARGS, FJORD_COORDINATOR_ARGS, FjordSystem } from './fjord-cluster.js';
import { NatsSystem, ensureNatsServer } from './nats-cluster.js';
import { report } from './report.js';
import type { SystemUnderTest } from './system.js';
import { consumeThroughput, failover, latencyAtFixedRate, publishThroughput } from './workloads.js';

const CONSUME_RECORDS = 1_000_000;
/** BENCH_WORKLOADS=publish,consume,latency,failover,single (default: all). */
const WORKLOADS = new Set((process.env['BENCH_WORKLOADS'] ?? 'publish,consume,latency,failover,single').split(','));

type Side = Figures & { setup: string; errors: string[] };

async function step(side: Side, what: string, f: () => Promise<void>, workload?: string): Promise<void> {
  if (workload !== undefined && !WORKLOADS.has(workload)) return;
  try {
    await f();
  } catch (e) {
    const msg = `${what}: ${e instanceof Error ? e.message : String(e)}`;
    side.errors.push(msg);
    out(`  FAILED ${msg}`);
  }
}

async function clusterRun(side: Side, start: () => Promise<SystemUnderTest>): Promise<void> {
  const sys = await start();
  let published = 0;
  try {
    await step(side, 'R3 publish', async () => {
      await sys.createLog('r3', 3);
      const r = await publishThroughput(sys, 'r3', KNOBS.records);
      side.publishR3PerSec = r.perSec;
      published = r.published;
    }, 'publish');
    await step(side, 'consume', async () => {
      // 1,000,000 records (issue 5), or what the publish run stored if it was cut short (said in the output).
      const n = Math.min(CONSUME_RECORDS, published);
      if (n < CONSUME_RECORDS) out(`  ${sys.name}: consuming ${n} records (the publish run stored no more)`);
      side.consumePerSec = await consumeThroughput(sys, 'r3', n);
    }, 'consume');
    await step(side, 'latency', async () => {
      await sys.createLog('latency', 3);
      const r = await latencyAtFixedRate(sys, 'latency');
      side.latencyP50Ms = round(r.p50, 3);
      side.latencyP99Ms = round(r.p99, 3);
      side.latencyP999Ms = round(r.p999, 3);
    }, 'latency');
    await step(side, 'failover', async () => {
      await sys.createLog('failover', 3);
      const r = await failover(sys, 'failover');
      side.failoverGapMs = Math.round(r.gapMs);
      side.lost = r.lost;
      side.duplicated = r.duplicated;
    }, 'failover');
  } finally {
    await sys.close();
  }
}

async function singleRun(side: Side, start: () => Promise<SystemUnderTest>): Promise<void> {
  if (!WORKLOADS.has('single')) return;
  const sys = await start();
  try {
    await step(side, 'single node publish', async () => {
      await sys.createLog('r1', 1);
      side.singleNodePublishPerSec = (await publishThroughput(sys, 'r1', KNOBS.singleNodeRecords)).perSec;
    });
  } finally {
    await sys.close();
  }
}

async function main(): Promise<void> {
  const only = process.env['BENCH_ONLY'];
  out(`load before: ${execSync('uptime').toString().trim()}`);
  out(`knobs: ${JSON.stringify(KNOBS)}`);
  const fjord: Side = {
    ...emptyFigures(),
    setup: `3 coordinators + 3 brokers; SDK producer (batching, linger 5 ms for throughput, 0 for latency/failover), acks=all, RF=3, min.insync.replicas=2, ${KNOBS.fjordPartitions} partition(s); coordinator ${FJORD_COORDINATOR_ARGS.join(' ')}; broker ${FJORD_BROKER_ARGS.join(' ')}; single node: fjord dev`,
    errors: [],
  };
  const nats: Side = { ...emptyFigures(), setup: `3-node JetStream cluster, file storage, R3 stream; async publish, window ${KNOBS.natsWindow}; ordered consumer; single node: one server, R1`, errors: [] };
  if (only !== 'nats') {
    out('fjord: 3 coordinators + 3 brokers');
    if ([...WORKLOADS].some((w) => w !== 'single')) await step(fjord, 'cluster', () => clusterRun(fjord, () => FjordSystem.cluster()));
    out('fjord: fjord dev (single node)');
    await step(fjord, 'single node', () => singleRun(fjord, () => FjordSystem.dev()));
  }
  if (only !== 'fjord') {
    const installed = ensureNatsServer();
    if ('note' in installed) {
      nats.errors.push(installed.note);
    } else {
      nats.setup = `${installed.version}; ${nats.setup}`;
      out(`nats: ${installed.version}, 3-node JetStream cluster`);
      if ([...WORKLOADS].some((w) => w !== 'single')) await step(nats, 'cluster', () => clusterRun(nats, () => NatsSystem.start(3)));
      out('nats: one server (R1)');
      await step(nats, 'single node', () => singleRun(nats, () => NatsSystem.start(1)));
    }
  }
  out(`load after: ${execSync('uptime').toString().trim()}`);
  report(fjord, nats);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
