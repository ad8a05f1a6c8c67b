/**
 * A local Fjord cluster from deploy/local/: N `fjord coordinator` + M `fjord
 * broker` processes on 127.0.0.1, each detached in its own process group (they
 * outlive this script), logs in DIR/logs/<node>.log, state in DIR/pids.json.
 *
 *   node --import tsx scripts/cluster.ts start [--dir DIR] [--coordinators 3] [--brokers 3] [--port-base N | --free-ports]
 *   node --import tsx scripts/cluster.ts status|stop [--dir DIR]
 *   node --import tsx scripts/cluster.ts kill <node> [--signal SIGKILL]   (SIGKILL, SIGTERM, SIGSTOP, SIGCONT)
 *   node --import tsx scripts/cluster.ts start-node <node>
 *
 * The node configs are the deploy/local JSON files rendered into DIR/config/
 * (ports moved when asked), so what runs is exactly what `--config` reads.
 * The processes run with cwd = DIR: the configs' relative dataDir ("data/...")
 * puts all data under DIR. Also a module: scripts/failover-drill.ts drives a
 * cluster through the exported functions.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { credentials, Metadata, type Client, type ServiceError } from '@grpc/grpc-js';
import { FjordError, fromServiceError, grpcChannelOptions, loadFjordGrpc } from '@fjord/protocol';
import { freePorts } from '@fjord/testkit';

const REPO = fileURLToPath(new URL('..', import.meta.url));
export const FJORD_BIN = join(REPO, 'packages', 'cli', 'bin', 'fjord.js');
export const DEPLOY_LOCAL = join(REPO, 'deploy', 'local');
/** deploy/local holds this many of each role. */
export const MAX_NODES_PER_ROLE = 3;
/** Above the broker's shutdownTimeoutMs default (25 s): a stop that takes longer is cut with SIGKILL. */
export const DEFAULT_STOP_TIMEOUT_MS = 35_000;
export const DEFAULT_READY_TIMEOUT_MS = 60_000;

export type Role = 'coordinator' | 'broker';

export interface NodeState {
  /** `coordinator-1`, `broker-2`. */
  readonly name: string;
  readonly role: Role;
  readonly id: number;
  /** host:port this node listens on. */
  readonly address: string;
  /** Rendered config file (absolute). */
  readonly config: string;
  readonly log: string;
  /** Pid (and process group id) of the running process; null when stopped. */
  pid: number | null;
}

export interface ClusterState {
  readonly dir: string;
  /** Broker addresses, comma-separated (the SDK's and the CLI's --bootstrap). */
  readonly bootstrap: string;
  readonly nodes: NodeState[];
}

export interface StartOptions {
  readonly dir: string;
  readonly coordinators?: number;
  readonly brokers?: number;
  /** Brokers on portBase.., coordinators on portBase+100..; default: the ports in deploy/local. */
  readonly portBase?: number;
  /** Ephemeral ports chosen now (tests). */
  readonly freePorts?: boolean;
  readonly readyTimeoutMs?: number;
  readonly log?: (line: string) => void;
}

const SIGNALS = ['SIGKILL', 'SIGTERM', 'SIGSTOP', 'SIGCONT', 'SIGINT'] as const;
export type DrillSignal = (typeof SIGNALS)[number];

// ------------------------------------------------------------------ state

function statePath(dir: string): string {
  return join(dir, 'pids.json');
}

export function loadState(dir: string): ClusterState | null {
  const path = statePath(resolve(dir));
  if (!existsSync(path)) return null;
  return JSON.parse(readFileSync(path, 'utf8')) as ClusterState;
}

function saveState(state: ClusterState): void {
  // Write then rename: a crash mid-write never leaves a torn pids.json.
  const path = statePath(state.dir);
  writeFileSync(`${path}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(`${path}.tmp`, path);
}

export function nodeByName(state: ClusterState, name: string): NodeState {
  const node = state.nodes.find((n) => n.name === name);
  if (node === undefined) throw new Error(`no node ${name} in ${state.dir} (nodes: ${state.nodes.map((n) => n.name).join(', ')})`);
  return node;
}

// ------------------------------------------------------------------ processes

const HAS_PROC = existsSync('/proc/self/stat');

/**
 * True when the node's process is alive and still ours: its command line names
 * this node's config file, so a recycled pid is never signalled. A zombie
 * (exited, not yet reaped) counts as gone.
 */
export function isRunning(node: NodeState): boolean {
  const pid = node.pid;
  if (pid === null) return false;
  if (!HAS_PROC) {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const stateChar = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (stateChar === 'Z' || stateChar === 'X') return false;
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(node.config);
  } catch {
    return false;
  }
}

/** Sends `signal` to the node's whole process group; false when it was not running. */
export function signalNode(node: NodeState, signal: DrillSignal): boolean {
  if (!isRunning(node) || node.pid === null) return false;
  try {
    process.kill(-node.pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Starts one node detached (own process group, survives this script); records its pid. */
export function spawnNode(state: ClusterState, node: NodeState): number {
  if (isRunning(node)) throw new Error(`${node.name} is already running (pid ${String(node.pid)})`);
  const fd = openSync(node.log, 'a');
  try {
    // FJORD_<ROLE>_* in our environment would override the config file (file < env < flags): drop them.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^FJORD_(COORDINATOR|BROKER)_/.test(k)));
    const child = spawn(process.execPath, [FJORD_BIN, node.role, '--config', node.config], { cwd: state.dir, detached: true, stdio: ['ignore', fd, fd], env });
    child.unref();
    if (child.pid === undefined) throw new Error(`${node.name} did not start`);
    node.pid = child.pid;
  } finally {
    closeSync(fd);
  }
  saveState(state);
  return node.pid;
}

async function waitGone(nodes: readonly NodeState[], timeoutMs: number): Promise<boolean> {
  try {
    await poll(() => nodes.every((n) => !isRunning(n)), { timeoutMs, intervalMs: 50, what: 'processes to exit' });
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM, then SIGKILL for what is still up after timeoutMs. Returns the nodes that had to be killed. */
async function stopNodes(state: ClusterState, nodes: readonly NodeState[], timeoutMs: number): Promise<string[]> {
  const running = nodes.filter((n) => isRunning(n));
  for (const n of running) signalNode(n, 'SIGCONT'); // a SIGSTOPped node cannot act on SIGTERM
  for (const n of running) signalNode(n, 'SIGTERM');
  const killed: string[] = [];
  if (!(await waitGone(running, timeoutMs))) {
    for (const n of running.filter((x) => isRunning(x))) {
      signalNode(n, 'SIGKILL');
      killed.push(n.name);
    }
    await waitGone(running, 10_000);
  }
  for (const n of nodes) if (!isRunning(n)) n.pid = null;
  saveState(state);
  return killed;
}

/** Stops brokers first (their controlled shutdown needs the coordinators), then coordinators. */
export async function stopCluster(state: ClusterState, timeoutMs = DEFAULT_STOP_TIMEOUT_MS): Promise<string[]> {
  const brokers = await stopNodes(
    state,
    state.nodes.filter((n) => n.role === 'broker'),
    timeoutMs,
  );
  const coordinators = await stopNodes(
    state,
    state.nodes.filter((n) => n.role === 'coordinator'),
    timeoutMs,
  );
  return [...brokers, ...coordinators];
}

/** SIGKILL to every node still running (cleanup after a failure). */
export function killAll(state: ClusterState): void {
  for (const n of state.nodes) {
    signalNode(n, 'SIGKILL');
  }
}

// ------------------------------------------------------------------ rendering deploy/local

type Json = Record<string, unknown>;

function readTemplate(role: Role, id: number): Json {
  const path = join(DEPLOY_LOCAL, `${role}-${id}.json`);
  return JSON.parse(readFileSync(path, 'utf8')) as Json;
}

function portOf(address: string): number {
  return Number(address.slice(address.lastIndexOf(':') + 1));
}

function movePorts(address: string, ports: ReadonlyMap<number, number>): string {
  const port = portOf(address);
  return `${address.slice(0, address.lastIndexOf(':'))}:${ports.get(port) ?? port}`;
}

/** "1=h:p,2=h:p,..." kept to ids <= count, ports moved. */
function renderPeers(peers: string, count: number, ports: ReadonlyMap<number, number>): string {
  return peers
    .split(',')
    .map((p) => p.trim())
    .filter((p) => Number(p.slice(0, p.indexOf('='))) <= count)
    .map((p) => `${p.slice(0, p.indexOf('=') + 1)}${movePorts(p.slice(p.indexOf('=') + 1), ports)}`)
    .join(',');
}

async function renderCluster(opts: StartOptions, dir: string): Promise<ClusterState> {
  const nCoord = opts.coordinators ?? MAX_NODES_PER_ROLE;
  const nBroker = opts.brokers ?? MAX_NODES_PER_ROLE;
  for (const [what, n] of [
    ['coordinators', nCoord],
    ['brokers', nBroker],
  ] as const) {
    if (!Number.isInteger(n) || n < 1 || n > MAX_NODES_PER_ROLE) throw new Error(`--${what} must be 1..${MAX_NODES_PER_ROLE} (deploy/local holds ${MAX_NODES_PER_ROLE})`);
  }
  const coords = Array.from({ length: nCoord }, (_, i) => readTemplate('coordinator', i + 1));
  const brokers = Array.from({ length: nBroker }, (_, i) => readTemplate('broker', i + 1));
  const coordAddress = (c: Json): string => {
    const id = c['id'] as number;
    const self = String(c['peers'])
      .split(',')
      .find((p) => p.trim().startsWith(`${id}=`));
    return typeof c['listen'] === 'string' && c['listen'] !== '' ? c['listen'] : (self?.slice(self.indexOf('=') + 1) ?? '');
  };
  // Map each fixed port in deploy/local to the port it gets here.
  const fixed = [...brokers.map((b) => portOf(String(b['listen']))), ...coords.map((c) => portOf(coordAddress(c)))];
  const ports = new Map<number, number>();
  if (opts.freePorts === true) {
    const chosen = await freePorts(fixed.length);
    fixed.forEach((p, i) => ports.set(p, chosen[i] as number));
  } else if (opts.portBase !== undefined) {
    brokers.forEach((b, i) => ports.set(portOf(String(b['listen'])), (opts.portBase as number) + i));
    coords.forEach((c, i) => ports.set(portOf(coordAddress(c)), (opts.portBase as number) + 100 + i));
  }
  mkdirSync(join(dir, 'config'), { recursive: true });
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const nodes: NodeState[] = [];
  const write = (role: Role, cfg: Json, address: string): void => {
    const name = `${role}-${String(cfg['id'])}`;
    const config = join(dir, 'config', `${name}.json`);
    writeFileSync(config, `${JSON.stringify(cfg, null, 2)}\n`);
    nodes.push({ name, role, id: cfg['id'] as number, address, config, log: join(dir, 'logs', `${name}.log`), pid: null });
  };
  for (const c of coords) {
    const cfg: Json = { ...c, peers: renderPeers(String(c['peers']), nCoord, ports) };
    if (typeof c['listen'] === 'string' && c['listen'] !== '') cfg['listen'] = movePorts(c['listen'], ports);
    write('coordinator', cfg, movePorts(coordAddress(c), ports));
  }
  for (const b of brokers) {
    const cfg: Json = { ...b, listen: movePorts(String(b['listen']), ports), coordinators: renderPeers(String(b['coordinators']), nCoord, ports) };
    if (typeof b['advertised'] === 'string' && b['advertised'] !== '') cfg['advertised'] = movePorts(b['advertised'], ports);
    write('broker', cfg, String(cfg['listen']));
  }
  return {
    dir,
    bootstrap: nodes
      .filter((n) => n.role === 'broker')
      .map((n) => n.address)
      .join(','),
    nodes,
  };
}

// ------------------------------------------------------------------ gRPC probes

type Callable = (req: unknown, md: Metadata, opts: { deadline: number }, cb: (err: ServiceError | null, res: unknown) => void) => void;

export interface CoordinatorStatus {
  nodeId: number;
  role: string;
  term: string;
  leaderNodeId: number;
}

export interface ClusterMetadata {
  metadataVersion: string;
  brokers: { brokerId: number; brokerEpoch: string; fenced: boolean }[];
}

/** One unary RPC on a fresh channel (closed after): probes are rare, a pool is not worth it. */
async function unaryCall<T>(service: 'coordinator' | 'broker', address: string, method: string, request: unknown, timeoutMs: number): Promise<T> {
  const client: Client = new (loadFjordGrpc()[service])(address, credentials.createInsecure(), grpcChannelOptions(16 * 1024 * 1024));
  try {
    const fn = (client as unknown as Record<string, Callable>)[method];
    if (fn === undefined) throw new Error(`no ${service} method ${method}`);
    return await new Promise<T>((res, rej) => {
      fn.call(client, request, new Metadata(), { deadline: Date.now() + timeoutMs }, (err, out) => {
        if (err !== null) rej(fromServiceError(err));
        else res(out as T);
      });
    });
  } finally {
    client.close();
  }
}

export function coordinatorCall<T>(address: string, method: string, request: unknown, timeoutMs = 2_000): Promise<T> {
  return unaryCall<T>('coordinator', address, method, request, timeoutMs);
}

/** The coordinator metadata version a broker's own image reflects (its Metadata answer); null when it does not answer. */
export async function brokerMetadataVersion(node: NodeState): Promise<number | null> {
  if (!isRunning(node)) return null;
  const res = await unaryCall<{ metadataVersion: string }>('broker', node.address, 'Metadata', { topics: [] }, 2_000).catch(() => null);
  return res === null ? null : Number(res.metadataVersion);
}

/**
 * Running brokers whose metadata image is behind the coordinators' committed
 * version (read first, so a broker that keeps up passes): a broker that stops
 * following the metadata serves stale leaders and epochs.
 */
export async function brokersBehind(state: ClusterState): Promise<{ name: string; version: number | null; coordinatorVersion: number }[] | null> {
  const md = await clusterMetadata(state);
  if (md === null) return null;
  const coordinatorVersion = Number(md.metadataVersion);
  const brokers = state.nodes.filter((n) => n.role === 'broker' && isRunning(n));
  const versions = await Promise.all(brokers.map(async (b) => ({ name: b.name, version: await brokerMetadataVersion(b), coordinatorVersion })));
  return versions.filter((v) => v.version === null || v.version < coordinatorVersion);
}

export async function coordinatorStatus(node: NodeState): Promise<CoordinatorStatus | null> {
  if (!isRunning(node)) return null;
  return coordinatorCall<CoordinatorStatus>(node.address, 'Status', {}).catch(() => null);
}

/** The coordinator every running voter names as leader and that says so itself; null when there is none (yet). */
export async function coordinatorLeader(state: ClusterState): Promise<NodeState | null> {
  const coords = state.nodes.filter((n) => n.role === 'coordinator' && isRunning(n));
  const statuses = await Promise.all(coords.map((n) => coordinatorStatus(n)));
  const leader = statuses.find((s) => s !== null && s.role === 'leader');
  if (leader === undefined || leader === null) return null;
  if (!statuses.every((s) => s !== null && s.leaderNodeId === leader.nodeId)) return null;
  return coords.find((n) => n.id === leader.nodeId) ?? null;
}

/** The coordinators' committed view of the brokers (a linearizable read at the leader); null when no leader answers. */
export async function clusterMetadata(state: ClusterState): Promise<ClusterMetadata | null> {
  const leader = await coordinatorLeader(state);
  if (leader === null) return null;
  return coordinatorCall<ClusterMetadata>(leader.address, 'GetMetadata', { allowStale: false }).catch(() => null);
}

/** Broker id -> 'registered' | 'fenced'; absent ids are not registered. */
export async function brokerStates(state: ClusterState): Promise<Map<number, 'registered' | 'fenced'> | null> {
  const md = await clusterMetadata(state);
  if (md === null) return null;
  return new Map(md.brokers.map((b) => [b.brokerId, b.fenced ? 'fenced' : 'registered']));
}

/** Thrown by a poll condition to stop waiting at once (a node died). */
export class Fatal extends Error {}

/**
 * Polls `condition` until it returns a value (not false/null/undefined) or the
 * deadline passes. Other errors are retried (a node not answering yet); a
 * Fatal stops the wait at once.
 */
export async function poll<T>(condition: () => Promise<T | false | null | undefined> | T | false | null | undefined, opts: { timeoutMs: number; intervalMs?: number; what: string }): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  let last: unknown = null;
  for (;;) {
    try {
      const v = await condition();
      if (v !== false && v !== null && v !== undefined) return v;
    } catch (e) {
      if (e instanceof Fatal) throw e;
      last = e;
    }
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${opts.what}${last === null ? '' : ` (last error: ${last instanceof Error ? last.message : String(last)})`}`);
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 100));
  }
}

function failIfDied(nodes: readonly NodeState[]): void {
  const dead = nodes.filter((n) => n.pid !== null && !isRunning(n));
  if (dead.length > 0) throw new Fatal(`${dead.map((n) => n.name).join(', ')} exited; see ${dead.map((n) => n.log).join(', ')}`);
}

/** Waits until the coordinators have one leader and every running broker is registered and unfenced. */
export async function waitReady(state: ClusterState, timeoutMs = DEFAULT_READY_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  await poll(
    async () => {
      failIfDied(state.nodes);
      return (await coordinatorLeader(state)) !== null;
    },
    { timeoutMs, what: 'a coordinator leader' },
  );
  const brokers = state.nodes.filter((n) => n.role === 'broker' && n.pid !== null);
  await poll(
    async () => {
      failIfDied(state.nodes);
      const states = await brokerStates(state);
      return states !== null && brokers.every((b) => states.get(b.id) === 'registered');
    },
    { timeoutMs: Math.max(1, deadline - Date.now()), what: 'every broker registered and unfenced' },
  );
}

// ------------------------------------------------------------------ commands

/** Starts every node of DIR (rendering the configs on first use) and waits until the cluster is ready. */
export async function startCluster(opts: StartOptions): Promise<ClusterState> {
  const dir = resolve(opts.dir);
  const log = opts.log ?? ((): void => undefined);
  mkdirSync(dir, { recursive: true });
  let state = loadState(dir);
  if (state !== null) {
    const running = state.nodes.filter((n) => isRunning(n));
    if (running.length > 0) {
      throw new Error(`a cluster is running in ${dir} (${running.map((n) => `${n.name} pid ${String(n.pid)}`).join(', ')}); stop it first`);
    }
    log(`restarting the cluster in ${dir} (same configs and data)`);
  } else {
    state = await renderCluster(opts, dir);
  }
  saveState(state);
  try {
    for (const n of state.nodes) spawnNode(state, n);
    await waitReady(state, opts.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS);
  } catch (e) {
    // Never leave half a cluster behind a failed start.
    killAll(state);
    await waitGone(state.nodes, 10_000);
    for (const n of state.nodes) n.pid = null;
    saveState(state);
    throw e;
  }
  return state;
}

/** Starts one stopped node and waits until it serves (coordinator: answers Status in a cluster with a leader; broker: registered and unfenced). */
export async function startNode(state: ClusterState, name: string, timeoutMs = DEFAULT_READY_TIMEOUT_MS): Promise<NodeState> {
  const node = nodeByName(state, name);
  spawnNode(state, node);
  if (node.role === 'coordinator') {
    await poll(
      async () => {
        failIfDied([node]);
        const s = await coordinatorStatus(node);
        return s !== null && s.leaderNodeId > 0 && (await coordinatorLeader(state)) !== null;
      },
      { timeoutMs, what: `${name} to rejoin` },
    );
  } else {
    await poll(
      async () => {
        failIfDied([node]);
        return (await brokerStates(state))?.get(node.id) === 'registered';
      },
      { timeoutMs, what: `${name} registered and unfenced` },
    );
  }
  return node;
}

export interface NodeReport {
  name: string;
  pid: number | null;
  running: boolean;
  address: string;
  /** coordinator: leader/follower/...; broker: registered/fenced/unregistered; down when not running. */
  role: string;
}

export async function clusterStatus(state: ClusterState): Promise<NodeReport[]> {
  const md = await clusterMetadata(state).catch(() => null);
  const brokers = md === null ? null : new Map(md.brokers.map((b) => [b.brokerId, b.fenced ? 'fenced' : 'registered']));
  return Promise.all(
    state.nodes.map(async (n) => {
      const running = isRunning(n);
      let role = 'down';
      if (running && n.role === 'coordinator') {
        const st = await coordinatorStatus(n);
        role = st === null ? 'not answering' : `${st.role}${st.role === 'leader' && md !== null ? `, metadata v${md.metadataVersion}` : ''}`;
      }
      if (running && n.role === 'broker') {
        role = brokers === null ? 'unknown (no coordinator leader)' : (brokers.get(n.id) ?? 'unregistered');
        const version = await brokerMetadataVersion(n);
        role += version === null ? ', not answering' : `, metadata v${version}`;
      }
      return { name: n.name, pid: running ? n.pid : null, running, address: n.address, role };
    }),
  );
}

function formatStatus(rows: readonly NodeReport[]): string {
  const lines = [['node', 'pid', 'address', 'state'], ...rows.map((r) => [r.name, r.pid === null ? '-' : String(r.pid), r.address, r.role])];
  const widths = lines[0]?.map((_, i) => Math.max(...lines.map((l) => (l[i] ?? '').length))) ?? [];
  return lines.map((l) => l.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n');
}

const USAGE = `usage: node --import tsx scripts/cluster.ts <command> [options]
  start       [--dir DIR] [--coordinators 1..3] [--brokers 1..3] [--port-base N | --free-ports] [--timeout-s 60]
  status      [--dir DIR] [--json]
  stop        [--dir DIR] [--timeout-s 35]
  kill        <node> [--dir DIR] [--signal SIGKILL|SIGTERM|SIGSTOP|SIGCONT|SIGINT]
  start-node  <node> [--dir DIR] [--timeout-s 60]
DIR defaults to ./fjord-cluster; nodes are coordinator-<id> and broker-<id>.`;

function intOption(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new UsageError(`--${name} must be a non-negative integer, got ${value}`);
  return Number(value);
}

class UsageError extends Error {}

function mustState(dir: string): ClusterState {
  const state = loadState(dir);
  if (state === null) throw new Error(`no cluster in ${resolve(dir)} (no pids.json); run start first`);
  return state;
}

export async function main(argv: readonly string[]): Promise<number> {
  // A closed stdout (`| head`) must not crash the script midway (nodes started, state unsaved).
  process.stdout.on('error', () => undefined);
  const out = (line: string): void => void process.stdout.write(`${line}\n`);
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        dir: { type: 'string', default: 'fjord-cluster' },
        coordinators: { type: 'string' },
        brokers: { type: 'string' },
        'port-base': { type: 'string' },
        'free-ports': { type: 'boolean' },
        'timeout-s': { type: 'string' },
        signal: { type: 'string', default: 'SIGKILL' },
        json: { type: 'boolean' },
        help: { type: 'boolean' },
      },
    });
  } catch (e) {
    process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, target] = positionals;
  if (values.help === true || command === undefined) {
    out(USAGE);
    return command === undefined && values.help !== true ? 2 : 0;
  }
  const dir = values.dir;
  try {
    const timeoutS = intOption(values['timeout-s'], 'timeout-s');
    switch (command) {
      case 'start': {
        const state = await startCluster({
          dir,
          ...(values.coordinators !== undefined ? { coordinators: intOption(values.coordinators, 'coordinators') as number } : {}),
          ...(values.brokers !== undefined ? { brokers: intOption(values.brokers, 'brokers') as number } : {}),
          ...(values['port-base'] !== undefined ? { portBase: intOption(values['port-base'], 'port-base') as number } : {}),
          ...(values['free-ports'] === true ? { freePorts: true } : {}),
          ...(timeoutS !== undefined ? { readyTimeoutMs: timeoutS * 1000 } : {}),
          log: out,
        });
        out(formatStatus(await clusterStatus(state)));
        out(`cluster ready in ${state.dir}`);
        out(`bootstrap: ${state.bootstrap}`);
        return 0;
      }
      case 'status': {
        const rows = await clusterStatus(mustState(dir));
        out(values.json === true ? JSON.stringify(rows) : formatStatus(rows));
        return 0;
      }
      case 'stop': {
        const state = mustState(dir);
        const killed = await stopCluster(state, timeoutS !== undefined ? timeoutS * 1000 : DEFAULT_STOP_TIMEOUT_MS);
        out(killed.length === 0 ? `stopped (${state.dir})` : `stopped; SIGKILL after the deadline: ${killed.join(', ')}`);
        return 0;
      }
      case 'kill': {
        if (target === undefined) throw new UsageError('kill needs a node name');
        const signal = values.signal as DrillSignal;
        if (!SIGNALS.includes(signal)) throw new UsageError(`--signal must be one of ${SIGNALS.join(', ')}`);
        const node = nodeByName(mustState(dir), target);
        if (!signalNode(node, signal)) throw new Error(`${target} is not running`);
        out(`${signal} -> ${target} (pid ${String(node.pid)})`);
        return 0;
      }
      case 'start-node': {
        if (target === undefined) throw new UsageError('start-node needs a node name');
        const node = await startNode(mustState(dir), target, timeoutS !== undefined ? timeoutS * 1000 : DEFAULT_READY_TIMEOUT_MS);
        out(`started ${node.name} (pid ${String(node.pid)})`);
        return 0;
      }
      default:
        throw new UsageError(`unknown command ${command}`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`error: ${e.message}\n${USAGE}\n`);
      return 2;
    }
    process.stderr.write(`error: ${e instanceof FjordError ? `${e.code}: ` : ''}${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
