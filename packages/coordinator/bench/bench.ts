// `npm run bench -w @fjord/coordinator`: a 3-node Fjord coordinator and a
// 3-node etcd 3.4 (Debian's etcd-server, installed with apt-get if missing),
// both on loopback, driven by the same Node client loop (etcd through the
// `etcd3` package), in the same run (issue 4 "Benchmark"):
//   - sequential writes, 2,000 x ~100 B, one in flight: p50 and p99;
//   - 64 in flight, 20,000 writes: writes/s;
//   - writes every 10 ms while the leader is killed (-9), then frozen
//     (SIGSTOP): the longest gap between acknowledged writes;
//   - watch notify latency: the writer on the leader, the watcher on a
//     follower, from sending the write to receiving its event.
// Fjord's write is a broker registration (RegisterBroker of one of 16 broker
// ids with a new 64-character incarnation id and one endpoint: about 100 B of
// request, one committed command that changes the state), since the
// coordinator has no generic key/value put. (Thousands of distinct broker ids
// would measure the state machine's copy of the broker map instead.)
// Fjord's client: the figures use one CoordinatorPipeline per node (the
// Pipeline RPC: many requests on one stream, answered by id; a grpc-js unary
// call costs the client ~0.5 ms of CPU, which alone caps one Node client near
// 2,000 writes/s here). The sequential and 64-in-flight runs are repeated with
// one unary RegisterBroker call per write, reported as seqUnaryP50Ms,
// seqUnaryP99Ms and concUnaryWritesPerSec, so both client paths stay visible.
// etcd is driven by etcd3 (unary calls) in every row.
// Prints a table, then one JSON line (last). Nodes run as separate process
// groups and are killed on exit.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Metadata, credentials, type Client, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { CoordinatorPipeline, FjordError, fromServiceError, grpcChannelOptions, loadFjordGrpc } from '@fjord/protocol';
import { Etcd3 } from 'etcd3';
import { measureFloor } from './floor.js';

const FJORD_BIN = fileURLToPath(new URL('../../cli/bin/fjord.js', import.meta.url));
const SEQ_WRITES = Number(process.env['BENCH_SEQ_WRITES'] ?? 2_000);
const CONC_WRITES = Number(process.env['BENCH_CONC_WRITES'] ?? 20_000);
const CONCURRENCY = 64;
const WATCH_EVENTS = Number(process.env['BENCH_WATCH_EVENTS'] ?? 500);
const FAILOVER_INTERVAL_MS = 10;
/** BENCH_DEBUG_FAILOVER=1 prints every failed write around a fault. */
const DEBUG_FAILOVER = process.env['BENCH_DEBUG_FAILOVER'] === '1';
/** BENCH_ONLY_FAILOVER=1 runs only the two failover measurements (diagnosis). */
const ONLY_FAILOVER = process.env['BENCH_ONLY_FAILOVER'] === '1';
/** BENCH_ONLY=fjord|etcd runs one system (diagnosis); the issue's figures come from both. */
const ONLY = process.env['BENCH_ONLY'] ?? '';
/** BENCH_SKIP_FAILOVER=1 skips the two failover measurements (profiling: kill -9 loses a CPU profile). */
const SKIP_FAILOVER = process.env['BENCH_SKIP_FAILOVER'] === '1';
/** BENCH_NODE_ARGS: extra node flags for Fjord nodes, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof". */
const NODE_ARGS = (process.env['BENCH_NODE_ARGS'] ?? '').split(' ').filter((a) => a !== '');
/** BENCH_SKIP_UNARY=1 skips Fjord's unary-client runs (profiling the pipeline path alone). */
const SKIP_UNARY = process.env['BENCH_SKIP_UNARY'] === '1';
/** BENCH_CPU=1 prints the CPU time per write of the client and of each node during each 64-in-flight run (from /proc). */
const CPU = process.env['BENCH_CPU'] === '1';
const VALUE = 'v'.repeat(100);

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) killGroup(c, 'SIGKILL');
});

function killGroup(c: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (c.pid !== undefined) process.kill(-c.pid, signal);
  } catch {
    // gone
  }
}

/** Signals one node's process group (both systems run each node as its own group). */
function signalNode(procs: ReadonlyMap<number, ChildProcess>, node: number, signal: NodeJS.Signals): void {
  const p = procs.get(node);
  if (p !== undefined) killGroup(p, signal);
}

/** A process's CPU time so far (user + system) in ms, from /proc/<pid>/stat (clock ticks of 10 ms); NaN when unreadable. */
function processCpuMs(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces, so split after its closing parenthesis): utime and stime are 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return Number.NaN;
  }
}

function cpuOf(procs: ReadonlyMap<number, ChildProcess>): Map<number, number> {
  return new Map([...procs].map(([id, p]) => [id, processCpuMs(p.pid)]));
}

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function until<T>(what: string, timeoutMs: number, f: () => Promise<T | null>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = await f();
      if (v !== null) return v;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`bench: timed out waiting for ${what}`);
    await sleep(20);
  }
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

function round(n: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

function nowMs(): number {
  return performance.now();
}

/** What the bench needs from a system: writes to a chosen node, leader discovery, a watcher. */
interface System {
  readonly name: string;
  readonly nodes: number[];
  /** Fjord only: the client path writes take (the pipeline by default; unary for the extra figures). */
  clientPath?: 'pipeline' | 'unary';
  write(node: number, seq: number, timeoutMs: number): Promise<void>;
  leader(): Promise<number>;
  watch(node: number, onEvent: () => void): Promise<() => void>;
  /** CPU time (user + system, ms) each node's process has used so far, by node (Linux /proc; empty elsewhere). */
  cpuMs(): Map<number, number>;
  kill(node: number): void;
  pause(node: number): void;
  resume(node: number): void;
  restart(node: number): Promise<void>;
  close(): Promise<void>;
}

// ---------------------------------------------------------------- Fjord

type Callable = (req: unknown, md: Metadata, opts: { deadline: number }, cb: (err: ServiceError | null, res: unknown) => void) => void;

class FjordSystem implements System {
  readonly name = 'fjord';
  readonly nodes = [1, 2, 3];
  private readonly procs = new Map<number, ChildProcess>();
  private readonly clients = new Map<number, Client>();
  /** One pipeline per node, opened on first use; a broken stream reopens on the next call (CoordinatorPipeline). */
  private readonly pipelines = new Map<number, CoordinatorPipeline>();
  private readonly incarnation = 'i'.repeat(48);
  clientPath: 'pipeline' | 'unary' = 'pipeline';

  private constructor(
    private readonly ports: Map<number, number>,
    private readonly dir: string,
  ) {}

  static async start(): Promise<FjordSystem> {
    const ports = new Map<number, number>();
    for (const id of [1, 2, 3]) ports.set(id, await freePort());
    const sys = new FjordSystem(ports, mkdtempSync(join(tmpdir(), 'fjord-bench-')));
    await Promise.all(sys.nodes.map((id) => sys.spawnNode(id)));
    await sys.leader();
    return sys;
  }

  private peers(): string {
    return this.nodes.map((id) => `${id}=127.0.0.1:${this.ports.get(id) as number}`).join(',');
  }

  private async spawnNode(id: number): Promise<void> {
    const logFile = DEBUG_FAILOVER ? openSync(join(tmpdir(), `fjord-bench-n${id}.log`), 'a') : 'ignore';
    const child = spawn(process.execPath, [...NODE_ARGS, FJORD_BIN, 'coordinator', '--id', String(id), '--peers', this.peers(), '--data-dir', join(this.dir, `n${id}`), '--log-level', DEBUG_FAILOVER ? 'info' : 'warn'], {
      detached: true,
      stdio: ['ignore', logFile, 'inherit'],
    });
    children.add(child);
    this.procs.set(id, child);
    await until(`fjord node ${id} to answer`, 15_000, async () => ((await this.call(id, 'Status', {}, 500)) as unknown) ?? null);
  }

  private client(id: number): Client {
    let c = this.clients.get(id);
    if (c === undefined) {
      c = new (loadFjordGrpc().coordinator)(`127.0.0.1:${this.ports.get(id) as number}`, credentials.createInsecure(), grpcChannelOptions(8 << 20));
      this.clients.set(id, c);
    }
    return c;
  }

  call(id: number, method: string, request: unknown, timeoutMs: number): Promise<Record<string, unknown>> {
    const client = this.client(id);
    const fn = (client as unknown as Record<string, Callable>)[method] as Callable;
    return new Promise((resolve, reject) => {
      fn.call(client, request, new Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => {
        if (err !== null) reject(fromServiceError(err));
        else resolve(res as Record<string, unknown>);
      });
    });
  }

  private pipeline(id: number): CoordinatorPipeline {
    let p = this.pipelines.get(id);
    if (p === undefined) {
      p = new CoordinatorPipeline({ address: `127.0.0.1:${this.ports.get(id) as number}`, maxMessageBytes: 8 << 20 }).start();
      this.pipelines.set(id, p);
    }
    return p;
  }

  async write(node: number, seq: number, timeoutMs: number): Promise<void> {
    const request = { brokerId: (seq % 16) + 1, incarnationId: `${this.incarnation}${String(seq).padStart(16, '0')}`, endpoints: [{ name: 'PLAINTEXT', host: '127.0.0.1', port: 9092 }] };
    if (this.clientPath === 'pipeline') await this.pipeline(node).call('registerBroker', request, { timeoutMs });
    else await this.call(node, 'RegisterBroker', request, timeoutMs);
  }

  async leader(): Promise<number> {
    return until('a fjord leader', 15_000, async () => {
      for (const id of this.nodes) {
        if (!this.alive(id)) continue;
        const s = await this.call(id, 'Status', {}, 300).catch(() => null);
        if (s !== null && s['role'] === 'leader') return id;
      }
      return null;
    });
  }

  private alive(id: number): boolean {
    const p = this.procs.get(id);
    return p !== undefined && p.exitCode === null && p.signalCode === null;
  }

  async watch(node: number, onEvent: () => void): Promise<() => void> {
    const client = this.client(node) as unknown as Record<string, (req: unknown) => ClientReadableStream<Record<string, unknown>>>;
    const status = await this.call(node, 'Status', {}, 1_000);
    const stream = (client['WatchMetadata'] as (req: unknown) => ClientReadableStream<Record<string, unknown>>).call(client, { fromVersion: status['metadataVersion'] });
    stream.on('data', (ev: Record<string, unknown>) => {
      if (ev['delta'] !== undefined && ev['delta'] !== null) onEvent();
    });
    stream.on('error', () => undefined);
    await sleep(100);
    return () => stream.cancel();
  }

  cpuMs(): Map<number, number> {
    return cpuOf(this.procs);
  }

  kill(node: number): void {
    signalNode(this.procs, node, 'SIGKILL');
  }

  pause(node: number): void {
    signalNode(this.procs, node, 'SIGSTOP');
  }

  resume(node: number): void {
    signalNode(this.procs, node, 'SIGCONT');
  }

  async restart(node: number): Promise<void> {
    const p = this.procs.get(node);
    if (p !== undefined && this.alive(node)) {
      killGroup(p, 'SIGKILL');
      await new Promise((r) => p.once('exit', r));
    }
    this.clients.get(node)?.close();
    this.clients.delete(node);
    this.pipelines.get(node)?.close();
    this.pipelines.delete(node);
    await this.spawnNode(node);
  }

  async close(): Promise<void> {
    for (const c of this.clients.values()) c.close();
    for (const p of this.pipelines.values()) p.close();
    if (NODE_ARGS.length > 0) {
      // Profiling: a clean SIGTERM lets each node write its profile before the kill below.
      for (const p of this.procs.values()) {
        killGroup(p, 'SIGCONT');
        killGroup(p, 'SIGTERM');
      }
      await Promise.all([...this.procs.values()].map((p) => (p.exitCode === null && p.signalCode === null ? Promise.race([new Promise((r) => p.once('exit', r)), sleep(5_000)]) : Promise.resolve())));
    }
    for (const p of this.procs.values()) {
      killGroup(p, 'SIGCONT');
      killGroup(p, 'SIGKILL');
    }
    await sleep(200);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- etcd

class EtcdSystem implements System {
  readonly name = 'etcd';
  readonly nodes = [1, 2, 3];
  private readonly procs = new Map<number, ChildProcess>();
  private readonly clients = new Map<number, Etcd3>();
  private memberIds = new Map<string, number>();

  private constructor(
    private readonly ports: Map<number, { client: number; peer: number }>,
    private readonly dir: string,
  ) {}

  static async start(): Promise<EtcdSystem> {
    const ports = new Map<number, { client: number; peer: number }>();
    for (const id of [1, 2, 3]) ports.set(id, { client: await freePort(), peer: await freePort() });
    const sys = new EtcdSystem(ports, mkdtempSync(join(tmpdir(), 'etcd-bench-')));
    await Promise.all(sys.nodes.map((id) => sys.spawnNode(id, 'new')));
    await sys.leader();
    return sys;
  }

  private async spawnNode(id: number, state: 'new' | 'existing'): Promise<void> {
    const p = this.ports.get(id) as { client: number; peer: number };
    const cluster = this.nodes.map((n) => `e${n}=http://127.0.0.1:${(this.ports.get(n) as { peer: number }).peer}`).join(',');
    const child = spawn(
      'etcd',
      [
        '--name', `e${id}`,
        '--data-dir', join(this.dir, `e${id}`),
        '--listen-client-urls', `http://127.0.0.1:${p.client}`,
        '--advertise-client-urls', `http://127.0.0.1:${p.client}`,
        '--listen-peer-urls', `http://127.0.0.1:${p.peer}`,
        '--initial-advertise-peer-urls', `http://127.0.0.1:${p.peer}`,
        '--initial-cluster', cluster,
        '--initial-cluster-state', state,
        '--initial-cluster-token', 'bench',
        '--log-level', 'error',
        '--logger', 'zap',
      ],
      { detached: true, stdio: ['ignore', 'ignore', 'ignore'] },
    );
    children.add(child);
    this.procs.set(id, child);
    await until(`etcd node ${id}`, 20_000, async () => {
      await this.client(id).maintenance.status();
      return true;
    });
  }

  private client(id: number): Etcd3 {
    let c = this.clients.get(id);
    if (c === undefined) {
      c = new Etcd3({ hosts: `http://127.0.0.1:${(this.ports.get(id) as { client: number }).client}` });
      this.clients.set(id, c);
    }
    return c;
  }

  async write(node: number, seq: number, timeoutMs: number): Promise<void> {
    const c = this.client(node);
    await Promise.race([
      c.put(`k${seq % 100_000}`).value(VALUE).exec(),
      sleep(timeoutMs).then(() => {
        throw new Error('etcd write timed out');
      }),
    ]);
  }

  async leader(): Promise<number> {
    return until('an etcd leader', 20_000, async () => {
      for (const id of this.nodes) {
        if (!this.alive(id)) continue;
        const s = await Promise.race([this.client(id).maintenance.status(), sleep(300).then(() => null)]).catch(() => null);
        if (s === null) continue;
        this.memberIds.set(s.header.member_id, id);
        if (s.leader === s.header.member_id) return id;
      }
      return null;
    });
  }

  private alive(id: number): boolean {
    const p = this.procs.get(id);
    return p !== undefined && p.exitCode === null && p.signalCode === null;
  }

  async watch(node: number, onEvent: () => void): Promise<() => void> {
    const watcher = await this.client(node).watch().prefix('k').create();
    watcher.on('put', () => onEvent());
    return () => {
      watcher.cancel().catch(() => undefined);
    };
  }

  cpuMs(): Map<number, number> {
    return cpuOf(this.procs);
  }

  kill(node: number): void {
    signalNode(this.procs, node, 'SIGKILL');
  }

  pause(node: number): void {
    signalNode(this.procs, node, 'SIGSTOP');
  }

  resume(node: number): void {
    signalNode(this.procs, node, 'SIGCONT');
  }

  async restart(node: number): Promise<void> {
    const p = this.procs.get(node);
    if (p !== undefined && this.alive(node)) {
      killGroup(p, 'SIGKILL');
      await new Promise((r) => p.once('exit', r));
    }
    this.clients.get(node)?.close();
    this.clients.delete(node);
    await this.spawnNode(node, 'existing');
  }

  async close(): Promise<void> {
    for (const c of this.clients.values()) c.close();
    for (const p of this.procs.values()) {
      killGroup(p, 'SIGCONT');
      killGroup(p, 'SIGKILL');
    }
    await sleep(200);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- the measurements

interface Figures {
  seqP50Ms: number;
  seqP99Ms: number;
  concWritesPerSec: number;
  /** Fjord only (null for etcd, whose client is unary in every row): the same runs with one unary call per write. */
  seqUnaryP50Ms: number | null;
  seqUnaryP99Ms: number | null;
  concUnaryWritesPerSec: number | null;
  failoverKillMs: number;
  failoverStopMs: number;
  watchP50Ms: number;
  watchP99Ms: number;
}

/** Retries counted per system: a write that failed retriably (a leader change under load) is sent again to the new leader, as a client would. */
const retries = new Map<string, number>();

async function writeRetrying(sys: System, target: { leader: number }, seq: number, timeoutMs: number): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await sys.write(target.leader, seq, timeoutMs);
      return;
    } catch (err) {
      const retriable = !(err instanceof FjordError) || err.retriable;
      if (!retriable || attempt >= 20) throw err;
      retries.set(sys.name, (retries.get(sys.name) ?? 0) + 1);
      target.leader = await sys.leader();
    }
  }
}

async function sequential(sys: System, leader: number): Promise<{ p50: number; p99: number }> {
  const target = { leader };
  for (let i = 0; i < 200; i++) await writeRetrying(sys, target, i, 5_000); // warm-up
  const lat: number[] = [];
  for (let i = 0; i < SEQ_WRITES; i++) {
    const t0 = nowMs();
    await writeRetrying(sys, target, i, 5_000);
    lat.push(nowMs() - t0);
  }
  lat.sort((a, b) => a - b);
  return { p50: percentile(lat, 50), p99: percentile(lat, 99) };
}

async function concurrent(sys: System, leader: number): Promise<number> {
  let next = 0;
  const target = { leader };
  const cpu0 = CPU ? { client: process.cpuUsage(), nodes: sys.cpuMs() } : null;
  const t0 = nowMs();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < CONC_WRITES) {
        const i = next++;
        await writeRetrying(sys, target, i, 10_000);
      }
    }),
  );
  const rate = CONC_WRITES / ((nowMs() - t0) / 1000);
  if (cpu0 !== null) {
    const client = process.cpuUsage(cpu0.client);
    const perWrite = (ms: number): string => `${round(ms / CONC_WRITES, 3)} ms`;
    const nodes = [...sys.cpuMs()].map(([id, ms]) => `node ${id}${id === target.leader ? ' (leader)' : ''} ${perWrite(ms - (cpu0.nodes.get(id) ?? Number.NaN))}`);
    out(`${sys.name}: CPU per write at ${CONCURRENCY} in flight${sys.clientPath === undefined ? '' : ` (${sys.clientPath} client)`}: client ${perWrite((client.user + client.system) / 1000)}, ${nodes.join(', ')}`);
  }
  return rate;
}

/** Writes every 10 ms (one in flight, any node, rotating on failure) around `fault`; the longest gap between acks. */
async function failover(sys: System, fault: (leader: number) => void, heal: (leader: number) => Promise<void>): Promise<number> {
  const leader = await sys.leader();
  const acks: number[] = [];
  let stop = false;
  let target = sys.nodes.find((n) => n !== leader) ?? leader;
  let seq = 1_000_000;
  let faultAt = Number.POSITIVE_INFINITY;
  const writer = (async () => {
    while (!stop) {
      const started = nowMs();
      try {
        await sys.write(target, seq++, 250);
        acks.push(nowMs());
      } catch (err) {
        if (DEBUG_FAILOVER) out(`  ${sys.name} +${Math.round(nowMs() - faultAt)} ms: write via ${target} failed after ${Math.round(nowMs() - started)} ms: ${err instanceof Error ? err.message.slice(0, 120) : String(err)}`);
        target = sys.nodes[(sys.nodes.indexOf(target) + 1) % sys.nodes.length] as number;
      }
      const wait = FAILOVER_INTERVAL_MS - (nowMs() - started);
      if (wait > 0) await sleep(wait);
    }
  })();
  await sleep(1_000);
  // The writer targets the leader itself when the fault hits, as a client of the leader would.
  target = leader;
  await sleep(100);
  fault(leader);
  faultAt = nowMs();
  if (DEBUG_FAILOVER) out(`  ${sys.name} fault on node ${leader} at ${Date.now()}`);
  await sleep(4_000);
  stop = true;
  await writer;
  await heal(leader);
  let maxGap = 0;
  for (let i = 1; i < acks.length; i++) {
    if ((acks[i] as number) < faultAt - 200) continue;
    maxGap = Math.max(maxGap, (acks[i] as number) - (acks[i - 1] as number));
  }
  return maxGap;
}

async function watchLatency(sys: System): Promise<{ p50: number; p99: number }> {
  const leader = await sys.leader();
  const follower = sys.nodes.find((n) => n !== leader) as number;
  let resolveEvent: (() => void) | null = null;
  const stopWatch = await sys.watch(follower, () => {
    const r = resolveEvent;
    resolveEvent = null;
    r?.();
  });
  const lat: number[] = [];
  for (let i = 0; i < WATCH_EVENTS + 50; i++) {
    const event = new Promise<void>((r) => {
      resolveEvent = r;
    });
    const t0 = nowMs();
    await Promise.all([writeRetrying(sys, { leader }, 2_000_000 + i, 5_000), event]);
    if (i >= 50) lat.push(nowMs() - t0);
  }
  stopWatch();
  lat.sort((a, b) => a - b);
  return { p50: percentile(lat, 50), p99: percentile(lat, 99) };
}

/** Fjord's sequential and 64-in-flight runs again with one unary call per write (null for a system without a second client path). */
async function unaryFigures(sys: System): Promise<Pick<Figures, 'seqUnaryP50Ms' | 'seqUnaryP99Ms' | 'concUnaryWritesPerSec'>> {
  if (sys.clientPath === undefined || ONLY_FAILOVER || SKIP_UNARY) return { seqUnaryP50Ms: null, seqUnaryP99Ms: null, concUnaryWritesPerSec: null };
  sys.clientPath = 'unary';
  try {
    const leader = await sys.leader();
    const seq = await sequential(sys, leader);
    out(`${sys.name}: sequential, unary client p50 ${round(seq.p50)} ms, p99 ${round(seq.p99)} ms`);
    const conc = await concurrent(sys, leader);
    out(`${sys.name}: ${CONCURRENCY} in flight, unary client ${Math.round(conc)} writes/s`);
    return { seqUnaryP50Ms: round(seq.p50), seqUnaryP99Ms: round(seq.p99), concUnaryWritesPerSec: Math.round(conc) };
  } finally {
    sys.clientPath = 'pipeline';
  }
}

async function measure(sys: System): Promise<Figures> {
  const unary = await unaryFigures(sys);
  const leader = await sys.leader();
  const seq = ONLY_FAILOVER ? { p50: Number.NaN, p99: Number.NaN } : await sequential(sys, leader);
  out(`${sys.name}: sequential p50 ${round(seq.p50)} ms, p99 ${round(seq.p99)} ms`);
  const conc = ONLY_FAILOVER ? Number.NaN : await concurrent(sys, leader);
  out(`${sys.name}: ${CONCURRENCY} in flight ${Math.round(conc)} writes/s`);
  const watch = ONLY_FAILOVER ? { p50: Number.NaN, p99: Number.NaN } : await watchLatency(sys);
  out(`${sys.name}: watch notify p50 ${round(watch.p50)} ms, p99 ${round(watch.p99)} ms`);
  if (SKIP_FAILOVER) {
    return { seqP50Ms: round(seq.p50), seqP99Ms: round(seq.p99), concWritesPerSec: Math.round(conc), ...unary, failoverKillMs: Number.NaN, failoverStopMs: Number.NaN, watchP50Ms: round(watch.p50), watchP99Ms: round(watch.p99) };
  }
  const killMs = await failover(
    sys,
    (l) => sys.kill(l),
    (l) => sys.restart(l),
  );
  out(`${sys.name}: failover (kill -9 leader) longest gap ${Math.round(killMs)} ms`);
  await sys.leader();
  const stopMs = await failover(
    sys,
    (l) => sys.pause(l),
    async (l) => {
      sys.resume(l);
      await sleep(500);
    },
  );
  out(`${sys.name}: failover (SIGSTOP leader) longest gap ${Math.round(stopMs)} ms`);
  out(`${sys.name}: writes retried after a leader change during the steady-state runs: ${retries.get(sys.name) ?? 0}`);
  return {
    seqP50Ms: round(seq.p50),
    seqP99Ms: round(seq.p99),
    concWritesPerSec: Math.round(conc),
    ...unary,
    failoverKillMs: Math.round(killMs),
    failoverStopMs: Math.round(stopMs),
    watchP50Ms: round(watch.p50),
    watchP99Ms: round(watch.p99),
  };
}

function ensureEtcd(): string | null {
  if (spawnSync('etcd', ['--version']).status === 0) return null;
  out('etcd not found; installing Debian etcd-server with apt-get');
  const r = spawnSync('apt-get', ['install', '-y', 'etcd-server'], { stdio: 'inherit' });
  if (r.status !== 0 || spawnSync('etcd', ['--version']).status !== 0) return 'etcd-server could not be installed (apt-get install -y etcd-server failed)';
  return null;
}

const SKIPPED: Figures = { seqP50Ms: Number.NaN, seqP99Ms: Number.NaN, concWritesPerSec: Number.NaN, seqUnaryP50Ms: null, seqUnaryP99Ms: null, concUnaryWritesPerSec: null, failoverKillMs: Number.NaN, failoverStopMs: Number.NaN, watchP50Ms: Number.NaN, watchP99Ms: Number.NaN };

async function main(): Promise<void> {
  const floor = await measureFloor();
  out(`floor: bare grpc-js unary round trip p50 ${floor.grpcUnaryP50Ms} ms, p99 ${floor.grpcUnaryP99Ms} ms; one message each way on an open stream p50 ${floor.grpcStreamP50Ms} ms, p99 ${floor.grpcStreamP99Ms} ms; synced LevelDB batch p50 ${floor.levelSyncBatchP50Ms} ms, p99 ${floor.levelSyncBatchP99Ms} ms; with three processes syncing at once p50 ${floor.levelSyncBatch3ProcP50Ms} ms`);
  let fjord: Figures = SKIPPED;
  if (ONLY !== 'etcd') {
    const fjordSys = await FjordSystem.start();
    try {
      fjord = await measure(fjordSys);
    } finally {
      await fjordSys.close();
    }
  }
  let etcd: (Figures & { version?: string }) | { note: string; seqP50Ms: null; seqP99Ms: null; concWritesPerSec: null; seqUnaryP50Ms: null; seqUnaryP99Ms: null; concUnaryWritesPerSec: null; failoverKillMs: null; failoverStopMs: null; watchP50Ms: null; watchP99Ms: null };
  const missing = ONLY === 'fjord' ? 'skipped (BENCH_ONLY=fjord)' : ensureEtcd();
  if (missing !== null) {
    etcd = { note: missing, seqP50Ms: null, seqP99Ms: null, concWritesPerSec: null, seqUnaryP50Ms: null, seqUnaryP99Ms: null, concUnaryWritesPerSec: null, failoverKillMs: null, failoverStopMs: null, watchP50Ms: null, watchP99Ms: null };
  } else {
    const etcdSys = await EtcdSystem.start();
    try {
      const version = spawnSync('etcd', ['--version']).stdout.toString().split('\n')[0] ?? '';
      etcd = { ...(await measure(etcdSys)), version };
    } finally {
      await etcdSys.close();
    }
  }
  const ratio = (a: number | null, b: number | null): string => (a === null || b === null || b === 0 ? 'n/a' : `${round(a / b, 2)}x`);
  out('');
  out('| figure | fjord | etcd | fjord/etcd | target |');
  out('| --- | --- | --- | --- | --- |');
  // The unary rows compare Fjord's unary client with etcd's (unary) figure of the same run.
  const rows: [string, keyof Figures, string, keyof Figures][] = [
    ['sequential p50 (ms)', 'seqP50Ms', '< 0.75', 'seqP50Ms'],
    ['sequential p99 (ms)', 'seqP99Ms', '< 4.5', 'seqP99Ms'],
    [`${CONCURRENCY} in flight (writes/s)`, 'concWritesPerSec', '>= 1.3x etcd', 'concWritesPerSec'],
    ['sequential p50, fjord unary client (ms)', 'seqUnaryP50Ms', '', 'seqP50Ms'],
    ['sequential p99, fjord unary client (ms)', 'seqUnaryP99Ms', '', 'seqP99Ms'],
    [`${CONCURRENCY} in flight, fjord unary client (writes/s)`, 'concUnaryWritesPerSec', '', 'concWritesPerSec'],
    ['failover, kill -9 (ms)', 'failoverKillMs', '< 500', 'failoverKillMs'],
    ['failover, SIGSTOP (ms)', 'failoverStopMs', '< 1100', 'failoverStopMs'],
    ['watch notify p50 (ms)', 'watchP50Ms', '< 0.7', 'watchP50Ms'],
    ['watch notify p99 (ms)', 'watchP99Ms', '', 'watchP99Ms'],
  ];
  for (const [label, key, target, etcdKey] of rows) {
    const e = etcd[etcdKey];
    out(`| ${label} | ${fjord[key] ?? 'n/a'} | ${e ?? 'n/a'} | ${ratio(fjord[key], e)} | ${target} |`);
  }
  out(`(floor on this machine, same run: a bare grpc-js unary call p50 ${floor.grpcUnaryP50Ms} ms, a stream message round trip p50 ${floor.grpcStreamP50Ms} ms, a synced LevelDB batch p50 ${floor.levelSyncBatchP50Ms} ms, ${floor.levelSyncBatch3ProcP50Ms} ms with three processes syncing at once)`);
  out(JSON.stringify({ fjord, etcd, floor }));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
