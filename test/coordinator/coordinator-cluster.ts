/**
 * Test harness for multi-process coordinator tests: real `fjord coordinator`
 * processes (the built CLI, so what ships is what runs), real gRPC on
 * 127.0.0.1 with ephemeral ports, real LevelDB in temp dirs. Children run in
 * their own process groups (testkit ChildGroup); `close()` kills them all.
 */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { credentials, Metadata, type Client, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { FjordError, fromServiceError, grpcChannelOptions, loadFjordGrpc } from '@fjord/protocol';
import { ChildGroup, freePorts, makeTempDir, waitFor, type ManagedChild, type TempDir } from '@fjord/testkit';

export const FJORD_BIN = fileURLToPath(new URL('../../packages/cli/bin/fjord.js', import.meta.url));

type Callable = (req: unknown, md: Metadata, opts: { deadline: number }, cb: (err: ServiceError | null, res: unknown) => void) => void;

/** A promise-returning Coordinator client; errors come back as FjordError. */
export class CoordinatorClient {
  private readonly client: Client;

  constructor(readonly address: string) {
    this.client = new (loadFjordGrpc().coordinator)(address, credentials.createInsecure(), grpcChannelOptions(64 * 1024 * 1024));
  }

  call<T = Record<string, unknown>>(method: string, request: unknown, timeoutMs = 5_000): Promise<T> {
    const fn = (this.client as unknown as Record<string, Callable>)[method];
    if (fn === undefined) throw new Error(`no method ${method}`);
    return new Promise<T>((resolve, reject) => {
      fn.call(this.client, request, new Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => {
        if (err !== null) reject(fromServiceError(err));
        else resolve(res as T);
      });
    });
  }

  watch(request: unknown): ClientReadableStream<Record<string, unknown>> {
    const fn = (this.client as unknown as Record<string, (req: unknown) => ClientReadableStream<Record<string, unknown>>>)['WatchMetadata'];
    if (fn === undefined) throw new Error('no WatchMetadata');
    return fn.call(this.client, request);
  }

  close(): void {
    this.client.close();
  }
}

export interface StatusResponse {
  nodeId: number;
  role: string;
  term: string;
  leaderNodeId: number;
  commitIndex: string;
  appliedIndex: string;
  metadataVersion: string;
  peers: { nodeId: number; learner: boolean; matchIndex: string }[];
}

export interface ClusterOptions {
  /** Voters at bootstrap. */
  readonly voters: number;
  /** Extra node ids with reserved ports (joiners). */
  readonly spares?: number;
  /** Extra CLI flags for every node. */
  readonly args?: readonly string[];
}

/** Fast timeouts so failover tests finish quickly (10 ms ticks, 100-200 ms election timeout). */
export const FAST_ARGS: readonly string[] = ['--tick-ms', '10', '--election-ticks', '10', '--heartbeat-ticks', '2', '--log-level', 'info'];

export class CoordinatorCluster {
  readonly group = new ChildGroup();
  readonly nodes = new Map<number, ManagedChild>();
  private readonly clients = new Map<number, CoordinatorClient>();

  private constructor(
    readonly ports: ReadonlyMap<number, number>,
    readonly dir: TempDir,
    private readonly options: ClusterOptions,
  ) {}

  static async create(options: ClusterOptions): Promise<CoordinatorCluster> {
    const total = options.voters + (options.spares ?? 0);
    const ports = await freePorts(total);
    const map = new Map<number, number>(ports.map((p, i) => [i + 1, p]));
    return new CoordinatorCluster(map, makeTempDir('fjord-coord-'), options);
  }

  address(id: number): string {
    return `127.0.0.1:${this.ports.get(id) as number}`;
  }

  peersFlag(ids: readonly number[]): string {
    return ids.map((id) => `${id}=${this.address(id)}`).join(',');
  }

  get voterIds(): number[] {
    return Array.from({ length: this.options.voters }, (_, i) => i + 1);
  }

  /** Starts node `id` and waits until it listens. `join`: an empty node that an existing cluster adds. */
  async start(id: number, opts: { join?: boolean; extraArgs?: readonly string[] } = {}): Promise<ManagedChild> {
    const peers = opts.join === true ? [...this.voterIds, id] : this.voterIds;
    const args = [
      FJORD_BIN,
      'coordinator',
      '--id',
      String(id),
      '--peers',
      this.peersFlag([...new Set(peers)]),
      '--data-dir',
      join(this.dir.path, `node-${id}`),
      ...FAST_ARGS,
      ...(this.options.args ?? []),
      ...(opts.extraArgs ?? []),
      ...(opts.join === true ? ['--join'] : []),
    ];
    const child = this.group.start({ name: `coordinator-${id}`, command: process.execPath, args });
    this.nodes.set(id, child);
    await child.waitForOutput(/"msg":"coordinator listening"/, { timeoutMs: 15_000 });
    return child;
  }

  async startAll(): Promise<void> {
    await Promise.all(this.voterIds.map((id) => this.start(id)));
  }

  client(id: number): CoordinatorClient {
    let c = this.clients.get(id);
    if (c === undefined) {
      c = new CoordinatorClient(this.address(id));
      this.clients.set(id, c);
    }
    return c;
  }

  async status(id: number): Promise<StatusResponse> {
    return this.client(id).call<StatusResponse>('Status', {}, 1_000);
  }

  isRunning(id: number): boolean {
    return this.nodes.get(id)?.running === true;
  }

  /** Waits until a running node reports itself leader and every other listed node agrees; returns its id. */
  async waitForLeader(options: { among?: readonly number[]; timeoutMs?: number; not?: number } = {}): Promise<number> {
    const among = options.among ?? [...this.nodes.keys()].filter((id) => this.isRunning(id));
    return waitFor(
      async () => {
        const statuses = await Promise.all(among.map((id) => this.status(id).catch(() => null)));
        const leader = statuses.find((s) => s !== null && s.role === 'leader');
        if (leader === undefined || leader === null || leader.nodeId === options.not) return null;
        const agree = statuses.every((s) => s !== null && s.leaderNodeId === leader.nodeId);
        return agree ? leader.nodeId : null;
      },
      { timeoutMs: options.timeoutMs ?? 10_000, intervalMs: 20, what: 'a leader all nodes agree on' },
    );
  }

  async kill(id: number): Promise<void> {
    const child = this.nodes.get(id);
    if (child !== undefined) await child.kill('SIGKILL');
    this.clients.get(id)?.close();
    this.clients.delete(id);
  }

  output(id: number): string {
    return this.nodes.get(id)?.output() ?? '';
  }

  async close(): Promise<void> {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
    await this.group.killAll();
    this.dir.remove();
  }
}

/** A unique write: registering a new broker id (every registration is one committed command). */
export function registration(brokerId: number, incarnation = `inc-${brokerId}`): Record<string, unknown> {
  return { brokerId, incarnationId: incarnation, endpoints: [{ name: 'PLAINTEXT', host: '127.0.0.1', port: 9000 + (brokerId % 1000) }], rack: '' };
}

/** Retries a write on retriable errors (not leader, leader change, timeout) until the deadline. */
export async function writeWithRetry<T>(attempt: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  return waitFor(
    async () => {
      try {
        return { value: await attempt() };
      } catch (err) {
        if (err instanceof FjordError && err.retriable) return null;
        throw err;
      }
    },
    { timeoutMs, intervalMs: 5, what: 'a write to succeed' },
  ).then((r) => r.value);
}

/** Broker ids present in a node's metadata (allowStale: that node's own applied state). */
export async function brokerIds(client: CoordinatorClient, allowStale: boolean): Promise<Set<number>> {
  const md = await client.call<{ brokers: { brokerId: number }[] }>('GetMetadata', { allowStale }, 3_000);
  return new Set(md.brokers.map((b) => b.brokerId));
}

/** The error a call that must fail rejected with (asserted to be a FjordError). */
export async function failure(p: Promise<unknown>): Promise<FjordError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  if (!(err instanceof FjordError)) throw new Error(`expected a FjordError, got ${err === null ? 'success' : String(err)}`);
  return err;
}

/** GetMetadata's answer as the tests read it (longs as strings). */
export interface WirePartition {
  partition: number;
  replicas: number[];
  leader: number;
  leaderEpoch: number;
  isr: number[];
  partitionEpoch: number;
}
export interface WireMetadata {
  metadataVersion: string;
  brokers: { brokerId: number; brokerEpoch: string; fenced: boolean }[];
  topics: { name: string; topicId: string; partitions: WirePartition[]; errorCode: string }[];
}
