/**
 * Fjord under the bench: 3 `fjord coordinator` + 3 `fjord broker` processes
 * (the built CLI, each in its own process group, ephemeral ports, a temp dir),
 * or one `fjord dev` process for the single-node figure; driven through the
 * SDK (@fjord/client): batching producer, acks=all, min.insync.replicas=2.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FjordClient, type Producer } from '@fjord/client';
import { ChildGroup, freePorts, makeTempDir, type ManagedChild, type TempDir } from '@fjord/testkit';
import { KNOBS, nowMs, payloadFor, until } from './common.js';
import type { OnePublisher, SystemUnderTest } from './system.js';

const FJORD_BIN = fileURLToPath(new URL('../../packages/cli/bin/fjord.js', import.meta.url));
/** BENCH_PROFILE_DIR=dir: brokers (and fjord dev) run under --cpu-prof and stop with SIGTERM so the profile is written. */
const PROFILE_DIR = process.env['BENCH_PROFILE_DIR'];
const PROFILE_ARGS = PROFILE_DIR === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`];

/** Session and election timings of the failover tests (test/broker/cluster.test.ts), reported with the figures. */
export const FJORD_COORDINATOR_ARGS = [
  '--tick-ms',
  '10',
  '--election-ticks',
  '10',
  '--heartbeat-ticks',
  '2',
  '--broker-session-timeout-ms',
  '1500',
  '--broker-heartbeat-interval-ms',
  '250',
  '--controller-interval-ms',
  '50',
];
export const FJORD_BROKER_ARGS = ['--replica-fetch-backoff-ms', '20', '--replica-lag-time-max-ms', '2000'];

/** Throughput setup: chunks of records per send() call, several outstanding. */
const BURST_CHUNK = 2_000;
const BURST_OUTSTANDING = 16;
const FAILOVER_RETRY = { maxRetries: 10_000, initialBackoffMs: 10, maxBackoffMs: 100, deadlineMs: 60_000 };

export class FjordSystem implements SystemUnderTest {
  readonly name = 'fjord';
  private readonly group = new ChildGroup();
  private readonly brokers = new Map<number, ManagedChild>();
  private client: FjordClient | null = null;
  private readonly producers: Producer[] = [];

  private constructor(private readonly dir: TempDir) {}

  /** 3 coordinators + 3 brokers. */
  static async cluster(): Promise<FjordSystem> {
    const sys = new FjordSystem(makeTempDir('fjord-bench-'));
    const coordPorts = await freePorts(3);
    const brokerPorts = await freePorts(3);
    const peers = coordPorts.map((p, i) => `${i + 1}=127.0.0.1:${p}`).join(',');
    await Promise.all(
      [1, 2, 3].map(async (id) => {
        const c = sys.group.start({
          name: `fjord-coordinator-${id}`,
          command: process.execPath,
          args: [FJORD_BIN, 'coordinator', '--id', String(id), '--peers', peers, '--data-dir', join(sys.dir.path, `coordinator-${id}`), '--log-level', 'info', ...FJORD_COORDINATOR_ARGS],
        });
        await c.waitForOutput(/"msg":"coordinator listening"/, { timeoutMs: 20_000 });
      }),
    );
    await Promise.all(
      [1, 2, 3].map(async (id) => {
        const b = sys.group.start({
          name: `fjord-broker-${id}`,
          command: process.execPath,
          args: [
            ...PROFILE_ARGS,
            FJORD_BIN,
            'broker',
            '--id',
            String(id),
            '--listen',
            `127.0.0.1:${brokerPorts[id - 1] as number}`,
            '--data-dir',
            join(sys.dir.path, `broker-${id}`),
            '--coordinators',
            peers,
            '--log-level',
            'info',
            ...FJORD_BROKER_ARGS,
          ],
        });
        sys.brokers.set(id, b);
        await b.waitForOutput(/"msg":"registered"/, { timeoutMs: 30_000 });
      }),
    );
    sys.client = new FjordClient({ bootstrap: brokerPorts.map((p) => `127.0.0.1:${p}`), requestTimeoutMs: 5_000 });
    return sys;
  }

  /** `fjord dev`: one coordinator and one broker in one process. */
  static async dev(): Promise<FjordSystem> {
    const sys = new FjordSystem(makeTempDir('fjord-bench-dev-'));
    const [port, coordinatorPort] = await freePorts(2);
    const child = sys.group.start({
      name: 'fjord-dev',
      command: process.execPath,
      args: [...PROFILE_ARGS, FJORD_BIN, 'dev', '--data-dir', join(sys.dir.path, 'data'), '--port', String(port), '--coordinator-port', String(coordinatorPort)],
    });
    sys.brokers.set(1, child);
    await child.waitForOutput(/broker listening on/, { timeoutMs: 30_000 });
    sys.client = new FjordClient({ bootstrap: [`127.0.0.1:${port as number}`], requestTimeoutMs: 5_000 });
    return sys;
  }

  private get sdk(): FjordClient {
    if (this.client === null) throw new Error('fjord system not started');
    return this.client;
  }

  async createLog(log: string, replicas: number): Promise<void> {
    const admin = this.sdk.admin();
    const partitions = replicas === 3 ? KNOBS.fjordPartitions : 1;
    await until(`fjord topic ${log} created`, 30_000, async () => {
      const [r] = await admin.createTopics([{ name: log, numPartitions: partitions, replicationFactor: replicas, configs: { 'min.insync.replicas': String(Math.min(2, replicas)) } }]);
      return r?.error === null || r?.error?.code === 'TOPIC_ALREADY_EXISTS' ? true : null;
    });
    await until(`fjord topic ${log} led with a full ISR`, 30_000, async () => {
      const t = await admin.topic(log);
      return t.partitions.length === partitions && t.partitions.every((p) => p.leaderId >= 0 && p.isr.length === replicas) ? true : null;
    });
  }

  async publishBurst(log: string, count: number, deadlineMs: number): Promise<number> {
    const producer = this.sdk.producer({ lingerMs: 5 });
    this.producers.push(producer);
    const value = payloadFor(0);
    const outstanding: Promise<unknown>[] = [];
    let sent = 0;
    while (sent < count && nowMs() < deadlineMs) {
      const n = Math.min(BURST_CHUNK, count - sent);
      const messages = new Array<{ value: Buffer }>(n);
      for (let i = 0; i < n; i++) messages[i] = { value };
      outstanding.push(producer.send({ topic: log, messages }));
      sent += n;
      if (outstanding.length >= BURST_OUTSTANDING) await outstanding.shift();
    }
    await Promise.all(outstanding);
    return sent;
  }

  async publisher(log: string, options: { retrying: boolean }): Promise<OnePublisher> {
    const producer = this.sdk.producer({ lingerMs: 0, ...(options.retrying ? { retry: FAILOVER_RETRY } : {}) });
    this.producers.push(producer);
    await this.sdk.metadata.partitionsOf(log);
    return {
      publish: async (payload) => {
        await producer.send({ topic: log, messages: [{ value: payload, partition: 0 }] });
      },
      close: () => producer.close(),
    };
  }

  async consume(log: string, count: number): Promise<void> {
    const topic = await this.sdk.admin().topic(log);
    // Best setup for a catch-up read: large fetches (16 MiB per partition and per round).
    const consumer = this.sdk.consumer({ maxWaitMs: 100, partitionMaxBytes: 16 * 1024 * 1024, fetchMaxBytes: 32 * 1024 * 1024 });
    consumer.assign(topic.partitions.map((p) => ({ topic: log, partition: p.partition, offset: 'earliest' as const })));
    let seen = 0;
    for await (const b of consumer.batches()) {
      seen += b.messages.length;
      if (seen >= count) consumer.stop();
    }
  }

  async readAll(log: string): Promise<Buffer[]> {
    const admin = this.sdk.admin();
    await admin.topic(log);
    const payloads: Buffer[] = [];
    const topic = await until(`fjord ${log} metadata`, 30_000, async () => {
      const t = await admin.topic(log);
      return t.partitions.every((p) => p.leaderId >= 0) ? t : null;
    });
    for (const p of topic.partitions) {
      const end = await until(`fjord ${log}-${p.partition} high watermark`, 30_000, () => admin.listOffset(log, p.partition, 'latest'));
      if (end === 0) continue;
      const consumer = this.sdk.consumer({ maxWaitMs: 100 });
      consumer.assign([{ topic: log, partition: p.partition, offset: 'earliest' }]);
      for await (const b of consumer.batches()) {
        for (const m of b.messages) if (m.value !== null) payloads.push(m.value);
        if ((consumer.position(log, p.partition) ?? 0) >= end) consumer.stop();
      }
    }
    return payloads;
  }

  async leaderProcess(log: string): Promise<ManagedChild> {
    const t = await this.sdk.admin().topic(log);
    const leader = t.partitions[0]?.leaderId ?? -1;
    const child = this.brokers.get(leader);
    if (child === undefined) throw new Error(`fjord: no process for leader ${leader} of ${log}`);
    return child;
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.producers.map((p) => p.close()));
    await this.client?.close();
    if (PROFILE_DIR !== undefined) {
      const alive = [...this.brokers.values()].filter((b) => b.running);
      for (const b of alive) b.signal('SIGTERM');
      await Promise.race([Promise.all(alive.map((b) => b.exited)), new Promise((r) => setTimeout(r, 10_000))]);
    }
    await this.group.killAll();
    this.dir.remove();
  }
}
