/**
 * Failover drill: an idempotent acks=all producer writes through the SDK while
 * the cluster suffers, in order: kill -9 of partition 0's leader broker (then
 * restarted), kill -9 of the coordinator Raft leader (then restarted), and
 * SIGSTOP of a broker until the coordinators fence it (then SIGCONT). Then
 * every partition is read from the beginning and each acknowledged record must
 * be there exactly once, at the offset its ack named.
 *
 *   node --import tsx scripts/failover-drill.ts [--dir DIR | --self-contained] [--duration-s 30] [--rate 500] [--partitions 6] [--step-timeout-s 60]
 *
 * Prints a human report and, as its last line, one JSON object. Exit 0 only
 * when lost == 0, duplicated == 0 and misplaced == 0 (and every fault ran).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { FjordClient, type Producer } from '@fjord/client';
import {
  brokersBehind,
  brokerStates,
  coordinatorLeader,
  isRunning,
  killAll,
  loadState,
  nodeByName,
  poll,
  signalNode,
  startCluster,
  startNode,
  stopCluster,
  type ClusterState,
  type NodeState,
} from './cluster.js';

export interface DrillOptions {
  readonly durationS: number;
  readonly rate: number;
  readonly partitions: number;
  readonly topic: string;
}

interface Ack {
  partition: number;
  offset: number;
  id: string;
  atMs: number;
}

interface FaultReport {
  name: string;
  /** ISO time the fault was injected. */
  at: string;
  /** ms after the producer started. */
  startMs: number;
  /** ms from injection until the cluster was whole again (node back, full ISR); null: it was not. */
  healedAfterMs: number | null;
  /** Longest time without any ack, from injection to the next fault (or the end). */
  longestAckGapMs: number;
  /** The same, on the partition the fault hit (when it hit one). */
  partition: number | null;
  longestAckGapOnPartitionMs: number | null;
}

export interface DrillResult {
  ok: boolean;
  topic: string;
  partitions: number;
  durationMs: number;
  sent: number;
  acked: number;
  failedSends: number;
  consumed: number;
  lost: number;
  duplicated: number;
  misplaced: number;
  unackedPresent: number;
  faults: FaultReport[];
  error: string | null;
}

/** Bound on each wait of the drill (--step-timeout-s); past it the drill fails naming the step. */
let STEP_TIMEOUT_MS = 60_000;
/** Records in flight at most: a stalled partition must not grow the producer's buffer without bound. */
const MAX_OUTSTANDING = 2_000;
const RETRY = { maxRetries: 100_000, initialBackoffMs: 10, maxBackoffMs: 200, deadlineMs: 45_000 };

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

function longestGap(times: readonly number[], fromMs: number, toMs: number): number {
  let gap = 0;
  let prev = fromMs;
  for (const t of times) {
    if (t < fromMs) continue;
    if (t > toMs) break;
    gap = Math.max(gap, t - prev);
    prev = t;
  }
  return Math.max(gap, toMs - prev);
}

export interface CheckResult {
  /** Acked records found nowhere. */
  lost: number;
  /** Record ids stored more than once (acked or not). */
  duplicated: number;
  /** Acked records present, but not at the offset their ack named. */
  misplaced: number;
  /** Stored records whose send never got an ack (allowed: the ack was lost, not the record). */
  unackedPresent: number;
}

/** Every acknowledged (partition, offset, id) must be read back exactly there, exactly once. */
export function checkAcked(
  acks: readonly { partition: number; offset: number; id: string }[],
  consumed: readonly { partition: number; offset: number; id: string }[],
): CheckResult {
  const at = new Map<string, string>(); // "partition/offset" -> id
  const copies = new Map<string, number>(); // id -> copies stored
  for (const c of consumed) {
    at.set(`${c.partition}/${c.offset}`, c.id);
    copies.set(c.id, (copies.get(c.id) ?? 0) + 1);
  }
  let lost = 0;
  let misplaced = 0;
  for (const a of acks) {
    if (at.get(`${a.partition}/${a.offset}`) === a.id) continue;
    if (copies.has(a.id)) misplaced++;
    else lost++;
  }
  const ackedIds = new Set(acks.map((a) => a.id));
  return {
    lost,
    misplaced,
    duplicated: [...copies.values()].filter((n) => n > 1).length,
    unackedPresent: [...copies.keys()].filter((id) => !ackedIds.has(id)).length,
  };
}

/** Drives the producer: `rate` records per second, one send() per record (the SDK batches them), bounded in flight. */
class Load {
  readonly acks: Ack[] = [];
  readonly failures = new Map<string, number>();
  sent = 0;
  private outstanding = 0;
  private stopped = false;
  private readonly done: Promise<void>;
  readonly startMs = Date.now();

  constructor(
    private readonly producer: Producer,
    private readonly topic: string,
    private readonly rate: number,
  ) {
    this.done = this.run();
  }

  private async run(): Promise<void> {
    const inflight = new Set<Promise<void>>();
    while (!this.stopped) {
      const due = Math.floor(((Date.now() - this.startMs) * this.rate) / 1000);
      while (this.sent < due && this.outstanding < MAX_OUTSTANDING) {
        const id = `r${this.sent}`;
        this.sent++;
        this.outstanding++;
        const p = this.producer.send({ topic: this.topic, messages: [{ value: Buffer.from(id) }] }).then(
          ([m]) => {
            if (m !== undefined) this.acks.push({ partition: m.partition, offset: m.offset, id, atMs: Date.now() });
          },
          (e: unknown) => {
            const code = e instanceof Error && 'code' in e ? String((e as { code: unknown }).code) : String(e);
            this.failures.set(code, (this.failures.get(code) ?? 0) + 1);
          },
        );
        const tracked = p.finally(() => {
          this.outstanding--;
          inflight.delete(tracked);
        });
        inflight.add(tracked);
      }
      // Pace in 20 ms steps: the rate is an average, the SDK's linger batches what a step issues.
      await new Promise((r) => setTimeout(r, 20));
    }
    await Promise.all(inflight);
  }

  ackTimes(partition?: number): number[] {
    return this.acks.filter((a) => partition === undefined || a.partition === partition).map((a) => a.atMs);
  }

  /** Waits until `count` more acks than now arrived (progress after a fault). */
  async progressed(count: number, what: string): Promise<void> {
    const target = this.acks.length + count;
    await poll(() => this.acks.length >= target, { timeoutMs: STEP_TIMEOUT_MS, intervalMs: 20, what });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }
}

/** Runs the drill against a ready cluster. */
export async function runDrill(state: ClusterState, opts: DrillOptions): Promise<DrillResult> {
  const client = new FjordClient({ bootstrap: state.bootstrap.split(','), requestTimeoutMs: 5_000 });
  const admin = client.admin();
  const faults: FaultReport[] = [];
  const stoppedNodes = new Set<NodeState>();
  const killedNodes = new Set<NodeState>();
  let load: Load | null = null;
  let error: string | null = null;
  const t0 = Date.now();
  /** Longest ack gaps per fault window (from its injection to the next fault, or `endMs`). */
  const fillGaps = (running: Load, endMs: number): void => {
    faults.forEach((f, i) => {
      const from = running.startMs + f.startMs;
      const next = faults[i + 1];
      const to = next === undefined ? endMs : running.startMs + next.startMs;
      f.longestAckGapMs = longestGap(running.ackTimes(), from, to);
      f.longestAckGapOnPartitionMs = f.partition === null ? null : longestGap(running.ackTimes(f.partition), from, to);
    });
  };
  const result = (): DrillResult => ({
    ok: false,
    topic: opts.topic,
    partitions: opts.partitions,
    durationMs: Date.now() - t0,
    sent: load?.sent ?? 0,
    acked: load?.acks.length ?? 0,
    failedSends: [...(load?.failures.values() ?? [])].reduce((a, b) => a + b, 0),
    consumed: 0,
    lost: 0,
    duplicated: 0,
    misplaced: 0,
    unackedPresent: 0,
    faults,
    error,
  });

  const fullIsr = (what: string): Promise<unknown> =>
    poll(
      async () => {
        const t = await admin.topic(opts.topic);
        return t.partitions.length === opts.partitions && t.partitions.every((p) => p.leaderId >= 0 && p.isr.length === 3);
      },
      { timeoutMs: STEP_TIMEOUT_MS, intervalMs: 100, what },
    );
  const leaderOf = async (partition: number): Promise<NodeState> => {
    const id = (await admin.topic(opts.topic)).partitions[partition]?.leaderId ?? -1;
    return nodeByName(state, `broker-${id}`);
  };

  try {
    log(`topic ${opts.topic}: ${opts.partitions} partitions, RF 3, min.insync.replicas 2`);
    await poll(
      async () => {
        const [r] = await admin.createTopics([{ name: opts.topic, numPartitions: opts.partitions, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } }]);
        if (r?.error !== null && r?.error?.code !== 'TOPIC_ALREADY_EXISTS') throw r?.error ?? new Error('no answer');
        return true;
      },
      { timeoutMs: STEP_TIMEOUT_MS, what: `topic ${opts.topic} created` },
    );
    await fullIsr('every partition led with a full ISR');

    const producer = client.producer({ lingerMs: 5, retry: { ...RETRY, deadlineMs: Math.min(RETRY.deadlineMs, STEP_TIMEOUT_MS) } });
    load = new Load(producer, opts.topic, opts.rate);
    const running = load;
    const durationMs = opts.durationS * 1000;
    const warmup = Math.max(20, Math.floor(opts.rate / 2));
    await poll(() => running.acks.length >= warmup, { timeoutMs: STEP_TIMEOUT_MS, intervalMs: 20, what: `${warmup} acks before the first fault` });

    const progress = Math.max(20, Math.floor(opts.rate / 4));
    /** Each fault waits for its slot (evenly spread over the duration), injects, waits for acks to flow again, heals. */
    const fault = async (slot: number, name: string, partition: number | null, inject: () => Promise<void>, heal: () => Promise<void>): Promise<void> => {
      const slotMs = running.startMs + (durationMs * slot) / 4;
      if (Date.now() < slotMs) await new Promise((r) => setTimeout(r, slotMs - Date.now()));
      const startMs = Date.now();
      log(`${new Date(startMs).toISOString()}  +${((startMs - running.startMs) / 1000).toFixed(1)} s  ${name}`);
      const step = (what: string): void => log(`    ${what} (+${Date.now() - startMs} ms)`);
      // Recorded at injection, so a fault that never heals still shows in the report.
      const report: FaultReport = {
        name,
        at: new Date(startMs).toISOString(),
        startMs: startMs - running.startMs,
        healedAfterMs: null,
        longestAckGapMs: 0,
        partition,
        longestAckGapOnPartitionMs: null,
      };
      faults.push(report);
      await inject();
      step('injected');
      await running.progressed(progress, `acks after: ${name}`);
      step(`acks flowing (${running.acks.length} acked)`);
      await heal();
      step('healed');
      await fullIsr(`full ISR after: ${name}`);
      step('every partition has a full ISR');
      // A metadata change after every fault (a one-partition probe topic), so a broker that
      // stopped following the coordinators shows as behind here, not only at a later fault.
      await poll(
        async () => {
          const [r] = await admin.createTopics([{ name: `${opts.topic}-probe-${slot}`, numPartitions: 1, replicationFactor: 1 }]);
          if (r?.error !== null && r?.error?.code !== 'TOPIC_ALREADY_EXISTS') throw r?.error ?? new Error('no answer');
          return true;
        },
        { timeoutMs: STEP_TIMEOUT_MS, what: `probe topic after: ${name}` },
      );
      await poll(
        async () => {
          const behind = await brokersBehind(state);
          if (behind === null) return false;
          if (behind.length > 0) throw new Error(`behind the coordinators' metadata: ${behind.map((b) => `${b.name} at v${String(b.version)} < v${b.coordinatorVersion}`).join(', ')}`);
          return true;
        },
        { timeoutMs: STEP_TIMEOUT_MS, intervalMs: 200, what: `every broker following the coordinators' metadata after: ${name}` },
      );
      step('every broker follows the metadata (probe topic created)');
      report.healedAfterMs = Date.now() - startMs;
    };

    const broker0 = await leaderOf(0);
    await fault(
      1,
      `kill -9 ${broker0.name} (leader of partition 0), then restart it`,
      0,
      async () => {
        signalNode(broker0, 'SIGKILL');
        killedNodes.add(broker0);
        await poll(async () => (await leaderOf(0)) !== broker0 && !isRunning(broker0), { timeoutMs: STEP_TIMEOUT_MS, what: 'a new leader of partition 0' });
      },
      async () => {
        await startNode(state, broker0.name);
        killedNodes.delete(broker0);
      },
    );

    const coordinator = await poll(() => coordinatorLeader(state), { timeoutMs: STEP_TIMEOUT_MS, what: 'the coordinator leader' });
    await fault(
      2,
      `kill -9 ${coordinator.name} (coordinator Raft leader), then restart it`,
      null,
      async () => {
        signalNode(coordinator, 'SIGKILL');
        killedNodes.add(coordinator);
        await poll(async () => !isRunning(coordinator) && (await coordinatorLeader(state)) !== null, { timeoutMs: STEP_TIMEOUT_MS, what: 'a new coordinator leader' });
      },
      async () => {
        await startNode(state, coordinator.name);
        killedNodes.delete(coordinator);
      },
    );

    const frozenPartition = opts.partitions > 1 ? 1 : 0;
    const frozen = await leaderOf(frozenPartition);
    await fault(
      3,
      `SIGSTOP ${frozen.name} (leader of partition ${frozenPartition}) until fenced, then SIGCONT`,
      frozenPartition,
      async () => {
        signalNode(frozen, 'SIGSTOP');
        stoppedNodes.add(frozen);
        await poll(async () => (await brokerStates(state))?.get(frozen.id) === 'fenced', { timeoutMs: STEP_TIMEOUT_MS, what: `${frozen.name} fenced` });
      },
      async () => {
        signalNode(frozen, 'SIGCONT');
        stoppedNodes.delete(frozen);
        await poll(async () => (await brokerStates(state))?.get(frozen.id) === 'registered', { timeoutMs: STEP_TIMEOUT_MS, what: `${frozen.name} unfenced` });
      },
    );

    const endMs = running.startMs + durationMs;
    if (Date.now() < endMs) await new Promise((r) => setTimeout(r, endMs - Date.now()));
    await running.progressed(progress, 'acks after the last fault');
    await running.stop();
    await producer.close();
    fillGaps(running, Date.now());

    // Read back every partition up to its high watermark.
    const consumed: { partition: number; offset: number; id: string }[] = [];
    for (let p = 0; p < opts.partitions; p++) {
      const end = await poll(() => admin.listOffset(opts.topic, p, 'latest'), { timeoutMs: STEP_TIMEOUT_MS, what: `partition ${p} high watermark` });
      if (end === 0) continue;
      const consumer = client.consumer({ maxWaitMs: 100 });
      consumer.assign([{ topic: opts.topic, partition: p, offset: 'earliest' }]);
      const deadline = Date.now() + STEP_TIMEOUT_MS;
      for await (const b of consumer.batches()) {
        for (const m of b.messages) consumed.push({ partition: m.partition, offset: m.offset, id: m.value?.toString() ?? '' });
        if ((consumer.position(opts.topic, p) ?? 0) >= end || Date.now() > deadline) consumer.stop();
      }
    }

    const { lost, duplicated, misplaced, unackedPresent } = checkAcked(running.acks, consumed);
    return { ...result(), ok: lost === 0 && duplicated === 0 && misplaced === 0 && faults.length === 3 && faults.every((f) => f.healedAfterMs !== null), consumed: consumed.length, lost, duplicated, misplaced, unackedPresent };
  } catch (e) {
    error = e instanceof Error ? e.message : String(e);
    if (load !== null) fillGaps(load, Date.now());
    return result();
  } finally {
    // Leave the cluster whole even when the drill failed midway.
    for (const n of stoppedNodes) signalNode(n, 'SIGCONT');
    for (const n of killedNodes) {
      if (!isRunning(n)) await startNode(state, n.name).catch((e: unknown) => log(`could not restart ${n.name}: ${String(e)}`));
    }
    await load?.stop().catch(() => undefined);
    await client.close();
  }
}

export function formatReport(r: DrillResult): string {
  const lines = [
    '',
    `failover drill on ${r.topic} (${r.partitions} partitions): ${r.ok ? 'PASSED' : 'FAILED'}`,
    '',
    'fault                                                                  at (UTC)                  healed after  longest ack gap (all / its partition)',
    ...r.faults.map(
      (f) =>
        `${f.name.padEnd(70)} ${f.at}  ${(f.healedAfterMs === null ? 'not healed' : `${f.healedAfterMs} ms`).padStart(12)}  ${f.longestAckGapMs} ms / ${f.longestAckGapOnPartitionMs === null ? '-' : `${f.longestAckGapOnPartitionMs} ms`}`,
    ),
    '',
    `sent ${r.sent}, acknowledged ${r.acked}, failed sends ${r.failedSends}, consumed ${r.consumed}`,
    `lost ${r.lost}, duplicated ${r.duplicated}, at another offset ${r.misplaced}, present but unacknowledged ${r.unackedPresent} (allowed)`,
  ];
  if (r.error !== null) lines.push(`error: ${r.error}`);
  return lines.join('\n');
}

async function main(argv: readonly string[]): Promise<number> {
  // A closed stdout (`| head`) must not crash the script midway (nodes started, state unsaved).
  process.stdout.on('error', () => undefined);
  let values;
  try {
    values = parseArgs({
      args: [...argv],
      options: {
        dir: { type: 'string', default: 'fjord-cluster' },
        'self-contained': { type: 'boolean' },
        'duration-s': { type: 'string', default: '30' },
        rate: { type: 'string', default: '500' },
        partitions: { type: 'string', default: '6' },
        topic: { type: 'string' },
        'step-timeout-s': { type: 'string', default: '60' },
      },
    }).values;
  } catch (e) {
    process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
  }
  const num = (name: string, v: string, min: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got ${v}`);
    return n;
  };
  let opts: DrillOptions;
  try {
    opts = {
      durationS: num('duration-s', values['duration-s'], 1),
      rate: num('rate', values.rate, 1),
      partitions: num('partitions', values.partitions, 2),
      topic: values.topic ?? `drill-${Date.now()}`,
    };
    STEP_TIMEOUT_MS = num('step-timeout-s', values['step-timeout-s'], 1) * 1000;
  } catch (e) {
    process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
  }
  let state: ClusterState;
  let tempDir: string | null = null;
  if (values['self-contained'] === true) {
    tempDir = mkdtempSync(join(tmpdir(), 'fjord-drill-'));
    log(`starting a 3+3 cluster in ${tempDir}`);
    try {
      state = await startCluster({ dir: tempDir, freePorts: true });
    } catch (e) {
      process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
      return 1;
    }
  } else {
    const loaded = loadState(values.dir);
    if (loaded === null) {
      process.stderr.write(`error: no cluster in ${resolve(values.dir)}; start one with scripts/cluster.ts start, or pass --self-contained\n`);
      return 1;
    }
    state = loaded;
    const down = state.nodes.filter((n) => !isRunning(n));
    if (down.length > 0 || state.nodes.filter((n) => n.role === 'broker').length < 3) {
      process.stderr.write(`error: the drill needs 3 brokers and every node up; down: ${down.map((n) => n.name).join(', ') || 'none'}\n`);
      return 1;
    }
  }
  let result: DrillResult;
  try {
    result = await runDrill(state, opts);
  } finally {
    if (tempDir !== null) {
      await stopCluster(state).catch(() => killAll(state));
    }
  }
  if (tempDir !== null) {
    if (result.ok) rmSync(tempDir, { recursive: true, force: true });
    else log(`cluster data and logs kept in ${tempDir}`);
  }
  log(formatReport(result));
  log(JSON.stringify(result));
  return result.ok ? 0 : 1;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
