// The simulator's command line: `npm run sim -w @fjord/raft -- --seeds N`
// [--start S] [--jobs J] [--profile NAME] [--bug NAME].
// Runs N seeds (split over worker threads), prints progress, and ends with one
// JSON line {"seeds", "violations", ...}; exits 1 on any violation. With
// FJORD_SIM_SEED=<seed> it replays that one seed and prints its trace.
import { availableParallelism } from 'node:os';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { randomInt } from 'node:crypto';
import { formatFailure, runSeed, SIM_PROFILES, type SimResult, type SwarmParams } from '../src/sim/index.js';
import type { TestingBugs } from '../src/index.js';

interface Job {
  readonly seeds: number[];
  readonly bug: keyof TestingBugs | undefined;
  readonly profile: string | undefined;
}

function optionsFor(job: Pick<Job, 'bug' | 'profile'>): { bugs?: TestingBugs; profile?: string; params?: Partial<SwarmParams> } {
  const params = job.profile === undefined ? undefined : SIM_PROFILES[job.profile];
  if (job.profile !== undefined && params === undefined) throw new Error(`unknown profile ${job.profile}; known: ${Object.keys(SIM_PROFILES).join(', ')}`);
  return {
    ...(job.bug === undefined ? {} : { bugs: { [job.bug]: true } }),
    ...(job.profile === undefined ? {} : { profile: job.profile }),
    ...(params === undefined ? {} : { params }),
  };
}

interface Report {
  readonly kind: 'progress' | 'done';
  readonly ran: number;
  readonly failures: Array<{ seed: number; text: string }>;
  readonly committedEntries: number;
  readonly acked: number;
  readonly reads: number;
  readonly elections: number;
}

function runJob(job: Job, onProgress: (r: Report) => void): Report {
  const failures: Array<{ seed: number; text: string }> = [];
  let committedEntries = 0;
  let acked = 0;
  let reads = 0;
  let elections = 0;
  let ran = 0;
  for (const seed of job.seeds) {
    const r: SimResult = runSeed({ seed, ...optionsFor(job) });
    ran++;
    committedEntries += r.stats.committedEntries;
    acked += r.stats.acked;
    reads += r.stats.readsServed;
    elections += r.stats.elections;
    if (!r.ok) failures.push({ seed, text: formatFailure(r) });
    if (ran % 200 === 0) onProgress({ kind: 'progress', ran, failures: [], committedEntries, acked, reads, elections });
  }
  return { kind: 'done', ran, failures, committedEntries, acked, reads, elections };
}

// Worker threads do not inherit tsx's loader on Node 20: register it first, then load this file.
const WORKER_BOOT = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(import.meta.url)}); })`;

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const bug = arg('bug') as keyof TestingBugs | undefined;
  const profile = arg('profile');
  optionsFor({ bug, profile }); // validates the profile name up front
  const replay = process.env.FJORD_SIM_SEED;
  if (replay !== undefined && replay !== '') {
    const seed = Number(replay);
    const r = runSeed({ seed, traceEvents: 200, ...optionsFor({ bug, profile }) });
    console.log(r.ok ? `seed ${seed}: ok (${r.ticks} ticks, ${JSON.stringify(r.stats)})\nparams: ${JSON.stringify(r.params)}` : formatFailure(r));
    console.log(JSON.stringify({ seeds: 1, violations: r.ok ? 0 : 1, seed, ticks: r.ticks, ...r.stats }));
    process.exitCode = r.ok ? 0 : 1;
    return;
  }
  const n = Number(arg('seeds') ?? 1000);
  const start = Number(arg('start') ?? randomInt(1, 2 ** 40));
  const jobs = Math.max(1, Math.min(Number(arg('jobs') ?? availableParallelism()), n));
  const seeds = Array.from({ length: n }, (_, i) => start + i);
  console.log(
    `simulating ${n} seeds from ${start} on ${jobs} thread(s)${profile === undefined ? '' : `, profile ${profile}`}${bug === undefined ? '' : `, broken variant ${bug}`}`,
  );
  const t0 = process.hrtime.bigint();
  const parts: number[][] = Array.from({ length: jobs }, () => []);
  seeds.forEach((s, i) => (parts[i % jobs] as number[]).push(s));
  const progress = new Array<number>(jobs).fill(0);
  let lastPrint = Date.now();
  const results = await Promise.all(
    parts.map(
      (part, k) =>
        new Promise<Report>((resolve, reject) => {
          const w = new Worker(WORKER_BOOT, { eval: true, workerData: { seeds: part, bug, profile } satisfies Job, execArgv: ['--conditions=source'] });
          w.on('message', (r: Report) => {
            if (r.kind === 'done') resolve(r);
            else {
              progress[k] = r.ran;
              if (Date.now() - lastPrint > 5000) {
                lastPrint = Date.now();
                const ran = progress.reduce((a, b) => a + b, 0);
                const secs = Number(process.hrtime.bigint() - t0) / 1e9;
                console.log(`  ${ran}/${n} seeds, ${(ran / secs).toFixed(0)} seeds/s`);
              }
            }
          });
          w.on('error', reject);
        }),
    ),
  );
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const failures = results.flatMap((r) => r.failures).sort((a, b) => a.seed - b.seed);
  if (failures.length > 0) {
    console.log(`\n${failures.length} violating seed(s): ${failures.map((f) => f.seed).join(' ')}\n`);
    console.log((failures[0] as { text: string }).text);
  }
  const sum = (k: 'committedEntries' | 'acked' | 'reads' | 'elections'): number => results.reduce((a, r) => a + r[k], 0);
  console.log(
    JSON.stringify({
      seeds: n,
      violations: failures.length,
      startSeed: start,
      threads: jobs,
      elapsedSec: Number(secs.toFixed(2)),
      seedsPerSec: Number((n / secs).toFixed(1)),
      committedEntries: sum('committedEntries'),
      ackedWrites: sum('acked'),
      readsServed: sum('reads'),
      elections: sum('elections'),
      ...(failures.length > 0 ? { firstFailingSeed: (failures[0] as { seed: number }).seed } : {}),
    }),
  );
  process.exitCode = failures.length === 0 ? 0 : 1;
}

if (isMainThread) {
  await main();
} else {
  const job = workerData as Job;
  const port = parentPort;
  if (port !== null) port.postMessage(runJob(job, (r) => port.postMessage(r)));
}
