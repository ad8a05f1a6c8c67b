// The machine's floor for one coordinator write, measured in the same run as
// the benchmark (these VMs are noisy, so only side-by-side figures count): a
// bare grpc-js unary round trip to another Node process whose handler answers
// at once, and one synced LevelDB batch. A replicated write needs at least one
// client round trip, one leader->follower->leader exchange and one fsync, so
// these bound what the sequential-write p50 can reach here.
// Run as the server with `floor.ts server` (forked by measureFloor).
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Metadata, Server, ServerCredentials, credentials, type Client, type ServiceError } from '@grpc/grpc-js';
import { grpcChannelOptions, loadFjordGrpc } from '@fjord/protocol';
import { Level } from 'level';

export interface Floor {
  grpcUnaryP50Ms: number;
  grpcUnaryP99Ms: number;
  levelSyncBatchP50Ms: number;
  levelSyncBatchP99Ms: number;
}

type Callable = (req: unknown, md: Metadata, opts: { deadline: number }, cb: (err: ServiceError | null, res: unknown) => void) => void;

function pct(sorted: readonly number[], p: number): number {
  return Math.round((sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? Number.NaN) * 1000) / 1000;
}

function serve(): void {
  const server = new Server();
  const service = (loadFjordGrpc().coordinator as unknown as { service: Record<string, unknown> }).service;
  const impl: Record<string, (call: unknown, cb: (err: null, res: unknown) => void) => void> = {};
  for (const name of Object.keys(service)) impl[name] = (_call, cb) => cb(null, { role: 'leader' });
  server.addService(service as never, impl as never);
  server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, port) => {
    if (err !== null) throw err;
    process.send?.(port);
  });
}

async function grpcFloor(samples: number): Promise<{ p50: number; p99: number }> {
  const child = fork(fileURLToPath(import.meta.url), ['server'], { execArgv: process.execArgv, stdio: 'inherit' });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.once('message', (m) => resolve(Number(m)));
      child.once('exit', (code) => reject(new Error(`floor server exited with ${String(code)}`)));
    });
    const ctor = loadFjordGrpc().coordinator;
    const client = new ctor(`127.0.0.1:${port}`, credentials.createInsecure(), grpcChannelOptions(8 << 20)) as Client;
    const status = (client as unknown as Record<string, Callable>)['Status'] as Callable;
    const call = (): Promise<void> =>
      new Promise((resolve, reject) => status.call(client, {}, new Metadata(), { deadline: Date.now() + 5_000 }, (err) => (err === null ? resolve() : reject(err))));
    for (let i = 0; i < 300; i++) await call();
    const lat: number[] = [];
    for (let i = 0; i < samples; i++) {
      const t0 = performance.now();
      await call();
      lat.push(performance.now() - t0);
    }
    client.close();
    lat.sort((a, b) => a - b);
    return { p50: pct(lat, 50), p99: pct(lat, 99) };
  } finally {
    child.kill('SIGKILL');
  }
}

async function levelFloor(samples: number): Promise<{ p50: number; p99: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'fjord-floor-'));
  const db = new Level<string, Uint8Array>(dir, { valueEncoding: 'view' });
  try {
    await db.open();
    const value = new Uint8Array(200);
    const lat: number[] = [];
    for (let i = 0; i < samples; i++) {
      const t0 = performance.now();
      await db.batch([{ type: 'put', key: `e${i}`, value }, { type: 'put', key: 'hard-state', value }], { sync: true });
      lat.push(performance.now() - t0);
    }
    lat.sort((a, b) => a - b);
    return { p50: pct(lat, 50), p99: pct(lat, 99) };
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function measureFloor(samples = 2_000): Promise<Floor> {
  const g = await grpcFloor(samples);
  const l = await levelFloor(Math.min(samples, 1_000));
  return { grpcUnaryP50Ms: g.p50, grpcUnaryP99Ms: g.p99, levelSyncBatchP50Ms: l.p50, levelSyncBatchP99Ms: l.p99 };
}

if (process.argv[2] === 'server') serve();
