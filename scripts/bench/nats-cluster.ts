/**
 * NATS JetStream under the bench: Debian's `nats-server` (installed with
 * apt-get if missing), a 3-node cluster on loopback with file storage, or one
 * server for the R1 (single-node) figure; each in its own process group,
 * ephemeral ports, a temp dir. Driven through the maintained nats.js v3
 * client (@nats-io/transport-node + @nats-io/jetstream): async publish with a
 * window of outstanding acks, ordered pull consumer for reads.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { StorageType, jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { ChildGroup, freePorts, makeTempDir, type ManagedChild, type TempDir } from '@fjord/testkit';
import { KNOBS, nowMs, out, payloadFor, sleep, until } from './common.js';
import type { OnePublisher, SystemUnderTest } from './system.js';

const PUBLISH_TIMEOUT_MS = 2_000;
const FAILOVER_DEADLINE_MS = 60_000;

/** nats-server's version, installing Debian's package first if it is missing; null (with a note) if it cannot be had. */
export function ensureNatsServer(): { version: string } | { note: string } {
  const probe = (): string | null => {
    const r = spawnSync('nats-server', ['--version']);
    return r.status === 0 ? r.stdout.toString().trim() : null;
  };
  let version = probe();
  if (version !== null) return { version };
  out('nats-server not found; installing Debian nats-server with apt-get');
  spawnSync('apt-get', ['update'], { stdio: 'inherit' });
  spawnSync('apt-get', ['install', '-y', 'nats-server'], { stdio: 'inherit' });
  version = probe();
  return version !== null ? { version } : { note: 'nats-server could not be installed (apt-get install -y nats-server failed)' };
}

export class NatsSystem implements SystemUnderTest {
  readonly name = 'nats';
  private readonly group = new ChildGroup();
  private readonly servers = new Map<string, ManagedChild>();
  private nc: NatsConnection | null = null;
  private js: JetStreamClient | null = null;
  private jsm: JetStreamManager | null = null;

  private readonly savedStackTraceLimit = Error.stackTraceLimit;

  private constructor(private readonly dir: TempDir) {
    // nats.js 3.4 also builds a RequestError("cancelled") after every answered
    // request (RequestOne.resolver -> cancel), noAsyncTraces or not: capturing
    // its stack was 23% of the client's CPU in a publish burst. NATS's best
    // setup here: no stack traces while NATS runs (restored in close()).
    Error.stackTraceLimit = 0;
  }

  /** `nodes` servers (3: a JetStream cluster; 1: a standalone server). */
  static async start(nodes: 1 | 3): Promise<NatsSystem> {
    const sys = new NatsSystem(makeTempDir('nats-bench-'));
    const clientPorts = await freePorts(nodes);
    const routePorts = await freePorts(nodes);
    for (let i = 0; i < nodes; i++) {
      const name = `n${i + 1}`;
      const cluster =
        nodes === 1
          ? ''
          : `cluster {\n  name: bench\n  listen: 127.0.0.1:${routePorts[i] as number}\n  routes: [${routePorts.map((p) => `nats-route://127.0.0.1:${p}`).join(', ')}]\n}\n`;
      const conf = `server_name: ${name}\nlisten: 127.0.0.1:${clientPorts[i] as number}\njetstream {\n  store_dir: "${join(sys.dir.path, name)}"\n}\n${cluster}`;
      const file = join(sys.dir.path, `${name}.conf`);
      writeFileSync(file, conf);
      const child = sys.group.start({ name: `nats-${name}`, command: 'nats-server', args: ['-c', file] });
      sys.servers.set(name, child);
    }
    await Promise.all([...sys.servers.values()].map((c) => c.waitForOutput(/Server is ready/, { timeoutMs: 20_000 })));
    sys.nc = await connect({
      servers: clientPorts.map((p) => `127.0.0.1:${p}`),
      maxReconnectAttempts: -1,
      reconnectTimeWait: 50,
      // nats.js builds an Error (a stack trace) per request for async traces
      // unless told not to: 35% of the client's CPU in a publish burst.
      noAsyncTraces: true,
    });
    sys.jsm = await until('nats JetStream ready', 30_000, () => jetstreamManager(sys.connection));
    sys.js = jetstream(sys.connection);
    return sys;
  }

  private get connection(): NatsConnection {
    if (this.nc === null) throw new Error('nats system not started');
    return this.nc;
  }

  private get client(): JetStreamClient {
    if (this.js === null) throw new Error('nats system not started');
    return this.js;
  }

  private get manager(): JetStreamManager {
    if (this.jsm === null) throw new Error('nats system not started');
    return this.jsm;
  }

  async createLog(log: string, replicas: number): Promise<void> {
    await until(`nats stream ${log} created`, 30_000, async () => {
      await this.manager.streams.add({ name: log, subjects: [log], num_replicas: replicas, storage: StorageType.File });
      return true;
    });
    await until(`nats stream ${log} led with all replicas current`, 30_000, async () => {
      const info = await this.manager.streams.info(log);
      if (replicas === 1) return true;
      const c = info.cluster;
      return c?.leader !== undefined && (c.replicas ?? []).length === replicas - 1 && (c.replicas ?? []).every((r) => r.current) ? true : null;
    });
    // The first publish proves the stream takes writes.
    await until(`nats stream ${log} writable`, 30_000, async () => {
      await this.client.publish(log, payloadFor(0), { timeout: PUBLISH_TIMEOUT_MS, msgID: `${log}-probe` });
      return true;
    });
    await this.manager.streams.purge(log);
  }

  async publishBurst(log: string, count: number, deadlineMs: number): Promise<number> {
    const js = this.client;
    const value = payloadFor(0);
    const window = KNOBS.natsWindow;
    let failed: unknown = null;
    let inflight = 0;
    let wake: (() => void) | null = null;
    const settle = (): void => {
      inflight--;
      const w = wake;
      wake = null;
      w?.();
    };
    let sent = 0;
    for (; sent < count && (sent % 1024 !== 0 || nowMs() < deadlineMs); sent++) {
      while (inflight >= window) await new Promise<void>((resolve) => (wake = resolve));
      if (failed !== null) throw failed as Error;
      inflight++;
      js.publish(log, value, { timeout: 30_000 }).then(settle, (e: unknown) => {
        failed ??= e;
        settle();
      });
    }
    while (inflight > 0) await new Promise<void>((resolve) => (wake = resolve));
    if (failed !== null) throw failed as Error;
    return sent;
  }

  async publisher(log: string, options: { retrying: boolean }): Promise<OnePublisher> {
    const js = this.client;
    let seq = 0;
    return {
      publish: async (payload) => {
        if (!options.retrying) {
          await js.publish(log, payload, { timeout: 30_000 });
          return;
        }
        // msgID: a retry of a publish that was stored but not acknowledged is dropped as a duplicate.
        const msgID = `${log}-${++seq}`;
        const deadline = Date.now() + FAILOVER_DEADLINE_MS;
        for (;;) {
          try {
            await js.publish(log, payload, { timeout: PUBLISH_TIMEOUT_MS, msgID });
            return;
          } catch (e) {
            if (Date.now() > deadline) throw e;
            await sleep(20);
          }
        }
      },
      close: () => Promise.resolve(),
    };
  }

  async consume(log: string, count: number): Promise<void> {
    const consumer = await this.client.consumers.get(log);
    const messages = await consumer.consume({ max_messages: 10_000 });
    let seen = 0;
    for await (const m of messages) {
      void m;
      if (++seen >= count) break;
    }
    await messages.close();
  }

  async readAll(log: string): Promise<Buffer[]> {
    // Right after a kill the cluster may still be electing (JetStream API calls time out): retry the whole read.
    return until(`nats ${log} read back`, 60_000, async () => {
      const info = await this.manager.streams.info(log);
      const total = info.state.messages;
      const payloads: Buffer[] = [];
      if (total === 0) return payloads;
      const consumer = await this.client.consumers.get(log);
      const messages = await consumer.consume({ max_messages: 10_000 });
      for await (const m of messages) {
        payloads.push(Buffer.from(m.data));
        if (payloads.length >= total) break;
      }
      await messages.close();
      return payloads;
    });
  }

  async leaderProcess(log: string): Promise<ManagedChild> {
    const info = await until(`nats ${log} info`, 30_000, () => this.manager.streams.info(log));
    const leader = info.cluster?.leader ?? '';
    const child = this.servers.get(leader);
    if (child === undefined) throw new Error(`nats: no process for stream leader ${leader} of ${log}`);
    return child;
  }

  async close(): Promise<void> {
    await this.nc?.close().catch(() => undefined);
    await this.group.killAll();
    this.dir.remove();
    Error.stackTraceLimit = this.savedStackTraceLimit;
  }
}
