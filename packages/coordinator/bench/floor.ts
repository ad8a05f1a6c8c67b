// The machine's floor for one coordinator write, measured in the same run as
// the benchmark (these VMs are noisy, so only side-by-side figures count): a
// bare grpc-js unary round trip to another Node process whose handler answers
// at once, the same for one message each way on an open bidirectional stream
// (what a pipelined request and a Raft hop cost), one synced LevelDB batch,
// and one synced batch while three processes do the same at once on the same
// disk (a write's fsyncs on the leader and both followers). A replicated write
// needs at least one client round trip, one leader->follower->leader exchange
// and one fsync, so these bound what the sequential-write p50 can reach here.
// Run as the server with `floor.ts server` (forked by measureFloor), as one of
// the concurrent LevelDB writers with `floor.ts level N`.
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Metadata, Server, ServerCredentials, credentials, type Client, type ClientDuplexStream, type ServiceError } from '@grpc/grpc-js';
import { grpcChannelOptions, loadFjordGrpc } from '@fjord/protocol';
import { Level } from 'level';

export interface Floor {
  grpcUnaryP50Ms: number;
  grpcUnaryP99Ms: number;
  grpcStreamP50Ms: number;
  grpcStreamP99Ms: number;
  levelSyncBatchP50Ms: number;
  levelSyncBatchP99Ms: number;
  /** One synced batch while three processes each write synced batches at once (p50 over all three). */
  levelSyncBatch3ProcP50Ms: number;
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
  // The Pipeline stream echoes each request's id at once.
  const echo = (call: { on: (ev: string, f: (m: { id?: unknown }) => void) => void; write: (m: unknown) => void; end: () => void }): void => {
    call.on('data', (m) => call.write({ id: m.id, errorCode: '', errorMessage: '', errorDetails: '' }));
    call.on('end', () => call.end());
  };
  server.addService(service as never, { ...impl, Pipeline: echo } as never);
  server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, port) => {
    if (err !== null) throw err;
    process.send?.(port);
  });
}

async function grpcFloor(samples: number): Promise<{ p50: number; p99: number; streamP50: number; streamP99: number }> {
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
    lat.sort((a, b) => a - b);
    // One message each way on an open bidirectional stream.
    const stream = (client as unknown as { Pipeline: (md: Metadata) => ClientDuplexStream<unknown, { id: string }> }).Pipeline(new Metadata());
    let answer: (() => void) | null = null;
    stream.on('data', () => answer?.());
    stream.on('error', () => undefined);
    const ping = (id: number): Promise<void> =>
      new Promise((resolve) => {
        answer = resolve;
        stream.write({ id, registerBroker: { brokerId: 1, incarnationId: 'i'.repeat(64), endpoints: [{ name: 'PLAINTEXT', host: '127.0.0.1', port: 9092 }] } });
      });
    for (let i = 0; i < 300; i++) await ping(i);
    const streamLat: number[] = [];
    for (let i = 0; i < samples; i++) {
      const t0 = performance.now();
      await ping(1000 + i);
      streamLat.push(performance.now() - t0);
    }
    stream.end();
    client.close();
    streamLat.sort((a, b) => a - b);
    return { p50: pct(lat, 50), p99: pct(lat, 99), streamP50: pct(streamLat, 50), streamP99: pct(streamLat, 99) };
  } finally {
    child.kill('SIGKILL');
  }
}

async function levelFloor(samples: number): Promise<{ p50: number; p99: number; all: number[] }> {
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
    return { p50: pct(lat, 50), p99: pct(lat, 99), all: lat };
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Three processes writing synced batches at once; the p50 over all their batches. */
async function levelFloor3(samples: number): Promise<number> {
  const runs = [0, 1, 2].map(
    () =>
      new Promise<number[]>((resolve, reject) => {
        const child = fork(fileURLToPath(import.meta.url), ['level', String(samples)], { execArgv: process.execArgv, stdio: 'inherit' });
        child.once('message', (m) => resolve(m as number[]));
        child.once('exit', (code) => reject(new Error(`floor level writer exited with ${String(code)}`)));
      }),
  );
  const all = (await Promise.all(runs)).flat().sort((a, b) => a - b);
  return pct(all, 50);
}

export async function measureFloor(samples = 2_000): Promise<Floor> {
  const g = await grpcFloor(samples);
  const l = await levelFloor(Math.min(samples, 1_000));
  const l3 = await levelFloor3(Math.min(samples, 500));
  return { grpcUnaryP50Ms: g.p50, grpcUnaryP99Ms: g.p99, grpcStreamP50Ms: g.streamP50, grpcStreamP99Ms: g.streamP99, levelSyncBatchP50Ms: l.p50, levelSyncBatchP99Ms: l.p99, levelSyncBatch3ProcP50Ms: l3 };
}

if (process.argv[2] === 'server') serve();
if (process.argv[2] === 'level') {
  void levelFloor(Number(process.argv[3])).then((r) => {
    process.send?.(r.all, () => process.exit(0));
  });
}
