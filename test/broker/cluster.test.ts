// Goal: real processes (3 `fjord coordinator` + 3 `fjord broker`, the built
// CLI, real gRPC on 127.0.0.1, real files): an RF=3 acks=all topic keeps
// every acknowledged record, exactly once and in order, when the partition
// leader is killed with SIGKILL under load; a new leader comes from the ISR
// (the controller fences the dead broker as soon as its BrokerSession stream
// is cut) and the idempotent producer's retries are stored once.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FjordClient } from '@fjord/client';
import { ChildGroup, checkHistory, freePorts, waitFor, type AckedRecord, type ConsumedRecord, type ManagedChild, nextTurn } from '@fjord/testkit';
import { CoordinatorCluster, FJORD_BIN } from '../coordinator/coordinator-cluster.js';

const REPLICA_FETCH_WAIT_MAX_MS = 100;
const COORDINATOR_ARGS = ['--broker-session-timeout-ms', '1500', '--broker-heartbeat-interval-ms', '250', '--controller-interval-ms', '50'];

describe('brokers and coordinators as processes', () => {
  let coordinators: CoordinatorCluster | null = null;
  const brokers = new ChildGroup();
  let client: FjordClient | null = null;

  afterEach(async () => {
    await client?.close();
    client = null;
    await brokers.killAll();
    await coordinators?.close();
    coordinators = null;
  });

  // SIGTERM used to hang under CPU load (2 of 7 clean-clone CI runs): a
  // partition that had just become a follower during the controlled shutdown
  // was still in its OffsetForLeaderEpoch round when the node closed, and its
  // fetcher then opened a ReplicaFetch stream nobody closed. Fixed in the
  // fetcher (packages/broker/test/follower-fetcher-close.test.ts); both
  // variants run in CI.
  const variants: (readonly [string, 'SIGKILL' | 'SIGTERM'])[] = [
    ['kill -9', 'SIGKILL'],
    ['controlled shutdown (SIGTERM)', 'SIGTERM'],
  ];
  it.each(variants)('%s of the partition leader under acks=all load loses nothing acknowledged', async (_name, signal) => {
    coordinators = await CoordinatorCluster.create({ voters: 3, args: COORDINATOR_ARGS });
    await coordinators.startAll();
    const coordinatorsFlag = coordinators.peersFlag(coordinators.voterIds);
    const ports = await freePorts(3);
    const brokerProcs = new Map<number, ManagedChild>();
    await Promise.all(
      [1, 2, 3].map(async (id) => {
        const child = brokers.start({
          name: `broker-${id}`,
          command: process.execPath,
          args: [
            FJORD_BIN,
            'broker',
            '--id',
            String(id),
            '--listen',
            `127.0.0.1:${ports[id - 1] as number}`,
            '--data-dir',
            join((coordinators as CoordinatorCluster).dir.path, `broker-${id}`),
            '--coordinators',
            coordinatorsFlag,
            '--unsafe-no-fsync',
            '--replica-lag-time-max-ms',
            '2000',
            '--replica-fetch-backoff-ms',
            '20',
          ],
        });
        brokerProcs.set(id, child);
        await child.waitForOutput(/"msg":"registered"/, { timeoutMs: 20_000 });
      }),
    );
    client = new FjordClient({ bootstrap: ports.map((p) => `127.0.0.1:${p}`), requestTimeoutMs: 3_000 });
    const admin = client.admin();
    await waitFor(
      async () => {
        const r = await admin.createTopics([{ name: 'ha', numPartitions: 1, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } }]);
        return r[0]?.error === null || r[0]?.error?.code === 'TOPIC_ALREADY_EXISTS';
      },
      { timeoutMs: 20_000, what: 'topic created (all brokers unfenced)' },
    );
    const leaderId = await waitFor(
      async () => {
        const t = await admin.topic('ha');
        const p = t.partitions[0];
        return p !== undefined && p.leaderId > 0 && p.isr.length === 3 ? p.leaderId : null;
      },
      { timeoutMs: 20_000, what: 'partition with a leader and a full ISR' },
    );

    const producer = client.producer({ lingerMs: 1, retry: { maxRetries: 1_000, initialBackoffMs: 20, maxBackoffMs: 200, deadlineMs: 60_000 } });
    const acked: AckedRecord[] = [];
    const failed: string[] = [];
    const ackTimes: number[] = [];
    let stop = false;
    const load = (async () => {
      const window: Promise<void>[] = [];
      for (let i = 0; !stop; i++) {
        const id = `k${i}`;
        window.push(
          producer.send({ topic: 'ha', messages: [{ value: Buffer.from(id) }] }).then(
            ([m]) => {
              acked.push({ partition: m?.partition ?? -1, id });
              ackTimes.push(Date.now());
            },
            (e: unknown) => void failed.push(`${id}: ${String(e)}`),
          ),
        );
        if (window.length >= 100) {
          await Promise.all(window.splice(0));
          await nextTurn(); // sends that settle without I/O must not starve timers
          if (failed.length > 1_000) break;
        }
      }
      await Promise.all(window);
    })();
    await waitFor(() => acked.length >= 2_000, { timeoutMs: 20_000, what: '2000 acks before the kill' });
    const victim = brokerProcs.get(leaderId) as ManagedChild;
    if (signal === 'SIGKILL') {
      await victim.kill('SIGKILL');
    } else {
      // Controlled shutdown: leadership moves away first, then the process exits 0
      // by itself: nothing left open (a leaked socket or timer would keep it up
      // until the CLI's exit watchdog names it, which fails the test too).
      victim.signal('SIGTERM');
      const exit = await waitFor(() => victim.exitStatus, { timeoutMs: 30_000, what: `${victim.name} to exit after SIGTERM` }).catch((e: unknown) => {
        throw new Error(`${String(e)}\n${victim.output().slice(-4_000)}`);
      });
      expect(exit.code).toBe(0);
      expect(victim.output()).not.toMatch(/still busy after the broker stopped/);
      expect(victim.output()).toMatch(/"msg":"stopped"/);
    }
    const atKill = acked.length;
    await waitFor(() => acked.length >= atKill + 2_000, { timeoutMs: 30_000, what: '2000 acks after the kill' });
    stop = true;
    await load;
    const newLeader = (await admin.topic('ha')).partitions[0]?.leaderId;
    expect(newLeader).not.toBe(leaderId);

    const consumer = client.consumer({ maxWaitMs: 200 });
    consumer.assign([{ topic: 'ha', partition: 0, offset: 'earliest' }]);
    const consumed: ConsumedRecord[] = [];
    const deadline = Date.now() + 20_000;
    for await (const b of consumer.batches()) {
      for (const m of b.messages) consumed.push({ partition: m.partition, offset: m.offset, id: m.value?.toString() ?? '' });
      if (consumed.length >= acked.length || Date.now() > deadline) consumer.stop();
    }
    const report = checkHistory({ acked, consumed });
    let gapMs = 0;
    for (let i = 1; i < ackTimes.length; i++) gapMs = Math.max(gapMs, (ackTimes[i] as number) - (ackTimes[i - 1] as number));
    process.stderr.write(`${signal} failover: acked ${acked.length}, consumed ${consumed.length}, longest gap between acks ${gapMs} ms, failed ${failed.length}\n`);
    if (signal === 'SIGKILL') {
      // The dead leader was fenced because its BrokerSession stream was cut,
      // not by the session timeout (that path is the isolated-leader test's).
      const cut = coordinators.voterIds.some((id) => /"brokerId":\d+,"brokerEpoch":\d+,"msg":"broker session stream cut/.test((coordinators as CoordinatorCluster).output(id)));
      expect(cut).toBe(true);
    }
    expect(report.lost).toEqual([]);
    expect(report.duplicated).toEqual([]);
    expect(report.reordered).toEqual([]);
    expect(report.ok).toBe(true);
    expect(failed).toEqual([]);
  });
  it('an old leader comes back and truncates its unreplicated tail; an isolated leader gets NOT_ENOUGH_REPLICAS', async () => {
    coordinators = await CoordinatorCluster.create({ voters: 3, args: COORDINATOR_ARGS });
    await coordinators.startAll();
    const coordinatorsFlag = coordinators.peersFlag(coordinators.voterIds);
    const ports = await freePorts(3);
    const procs = new Map<number, ManagedChild>();
    const startBroker = async (id: number): Promise<ManagedChild> => {
      const child = brokers.start({
        name: `broker-${id}`,
        command: process.execPath,
        args: [
          FJORD_BIN, 'broker', '--id', String(id), '--listen', `127.0.0.1:${ports[id - 1] as number}`,
          '--data-dir', join((coordinators as CoordinatorCluster).dir.path, `broker-${id}`),
          '--coordinators', coordinatorsFlag, '--unsafe-no-fsync', '--replica-lag-time-max-ms', '2000', '--replica-fetch-backoff-ms', '20',
          '--replica-fetch-wait-max-ms', String(REPLICA_FETCH_WAIT_MAX_MS),
        ],
      });
      procs.set(id, child);
      await child.waitForOutput(/"msg":"registered"/, { timeoutMs: 20_000 });
      return child;
    };
    await Promise.all([1, 2, 3].map((id) => startBroker(id)));
    client = new FjordClient({ bootstrap: ports.map((p) => `127.0.0.1:${p}`), requestTimeoutMs: 3_000 });
    const admin = client.admin();
    await waitFor(
      async () => {
        const r = await admin.createTopics([{ name: 'dv', numPartitions: 1, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } }]);
        return r[0]?.error === null || r[0]?.error?.code === 'TOPIC_ALREADY_EXISTS';
      },
      { timeoutMs: 20_000, what: 'topic created' },
    );
    const first = await waitFor(
      async () => {
        const p = (await admin.topic('dv')).partitions[0];
        return p !== undefined && p.leaderId > 0 && p.isr.length === 3 ? p : null;
      },
      { timeoutMs: 20_000, what: 'leader with a full ISR' },
    );
    const oldLeader = first.leaderId;
    const followers = [1, 2, 3].filter((id) => id !== oldLeader);
    const producer = client.producer({ lingerMs: 1 });
    const acked: AckedRecord[] = [];
    for (let i = 0; i < 100; i++) {
      const [m] = await producer.send({ topic: 'dv', messages: [{ value: Buffer.from(`a${i}`) }] });
      acked.push({ partition: m?.partition ?? 0, id: `a${i}` });
    }
    // The followers stop (SIGSTOP); the leader takes acks=1 writes nobody else has, then dies.
    for (const id of followers) procs.get(id)?.pause();
    // A stopped follower may still have a fetch parked on the leader, which the
    // tail would wake and answer (delivered on resume: the tail would then be
    // replicated, legitimately). An append wakes every parked fetch before the
    // produce is answered (FetchWaiters.wake runs inside the append), so once
    // this acks=1 probe is acknowledged the parked fetches have been answered
    // with the probe, and the stopped followers can ask for nothing more.
    const loose = client.producer({ acks: 1, idempotent: false, lingerMs: 0 });
    await loose.send({ topic: 'dv', messages: [{ value: Buffer.from('probe') }] });
    for (let i = 0; i < 5; i++) await loose.send({ topic: 'dv', messages: [{ value: Buffer.from(`tail${i}`) }] });
    await procs.get(oldLeader)?.kill('SIGKILL');
    for (const id of followers) procs.get(id)?.resume();
    const second = await waitFor(
      async () => {
        const p = (await admin.topic('dv')).partitions[0];
        return p !== undefined && p.leaderId > 0 && p.leaderId !== oldLeader ? p : null;
      },
      { timeoutMs: 20_000, what: 'a new leader from the ISR' },
    );
    expect(followers).toContain(second.leaderId);
    for (let i = 0; i < 50; i++) {
      const [m] = await producer.send({ topic: 'dv', messages: [{ value: Buffer.from(`b${i}`) }] });
      acked.push({ partition: m?.partition ?? 0, id: `b${i}` });
    }
    // The old leader returns as a follower and cuts its tail by leader epoch.
    const back = await startBroker(oldLeader);
    await back.waitForOutput(/truncating divergent tail/, { timeoutMs: 20_000 });
    await waitFor(
      async () => ((await admin.topic('dv')).partitions[0]?.isr ?? []).includes(oldLeader),
      { timeoutMs: 20_000, what: 'old leader back in the ISR' },
    );
    const consumer = client.consumer({ maxWaitMs: 100 });
    consumer.assign([{ topic: 'dv', partition: 0, offset: 'earliest' }]);
    const consumed: ConsumedRecord[] = [];
    for await (const b of consumer.batches()) {
      for (const m of b.messages) consumed.push({ partition: m.partition, offset: m.offset, id: m.value?.toString() ?? '' });
      if (consumed.length >= acked.length) consumer.stop();
    }
    expect(consumed.some((c) => c.id.startsWith('tail'))).toBe(false);
    expect(checkHistory({ acked, consumed }).ok).toBe(true);

    // An isolated leader (both followers stopped) cannot acknowledge acks=all writes.
    const leaderNow = second.leaderId;
    for (const id of [1, 2, 3].filter((x) => x !== leaderNow)) procs.get(id)?.pause();
    const strict = client.producer({ lingerMs: 0, requestTimeoutMs: 500, retry: { maxRetries: 0, initialBackoffMs: 10, maxBackoffMs: 10, deadlineMs: 1_000 } });
    const codes = new Set<string>();
    await waitFor(
      async () => {
        try {
          await strict.send({ topic: 'dv', messages: [{ value: Buffer.from('isolated') }] });
          codes.add('ACKED');
        } catch (e) {
          codes.add((e as { code?: string }).code ?? String(e));
        }
        return codes.has('NOT_ENOUGH_REPLICAS');
      },
      { timeoutMs: 20_000, intervalMs: 100, what: 'NOT_ENOUGH_REPLICAS from the isolated leader' },
    );
    expect(codes.has('ACKED')).toBe(false);
    for (const id of [1, 2, 3].filter((x) => x !== leaderNow)) procs.get(id)?.resume();
  });
  it('SIGTERM with the coordinator frozen: the broker gives up the controlled shutdown at its deadline, closes its logs and exits', async () => {
    // Goal: shutdown is bounded whatever the coordinators do. The only
    // coordinator is stopped (SIGSTOP), so no heartbeat is answered and the
    // broker's leadership can never move; the broker must still exit within
    // --shutdown-timeout-ms (plus process slack), clean (logs closed), saying
    // why. Before the bound, one heartbeat alone could take 2 attempts x 5 s.
    const SHUTDOWN_TIMEOUT_MS = 1_500;
    coordinators = await CoordinatorCluster.create({ voters: 1, args: COORDINATOR_ARGS });
    await coordinators.startAll();
    const [port] = await freePorts(1);
    const broker = brokers.start({
      name: 'broker-1',
      command: process.execPath,
      args: [
        FJORD_BIN, 'broker', '--id', '1', '--listen', `127.0.0.1:${port as number}`,
        '--data-dir', join(coordinators.dir.path, 'broker-1'),
        '--coordinators', coordinators.peersFlag(coordinators.voterIds), '--unsafe-no-fsync',
        '--shutdown-timeout-ms', String(SHUTDOWN_TIMEOUT_MS),
      ],
    });
    await broker.waitForOutput(/"msg":"registered"/, { timeoutMs: 20_000 });
    client = new FjordClient({ bootstrap: [`127.0.0.1:${port as number}`], requestTimeoutMs: 3_000 });
    const admin = client.admin();
    await waitFor(
      async () => {
        const r = await admin.createTopics([{ name: 'solo', numPartitions: 1, replicationFactor: 1, configs: {} }]);
        return r[0]?.error === null || r[0]?.error?.code === 'TOPIC_ALREADY_EXISTS';
      },
      { timeoutMs: 20_000, what: 'topic created' },
    );
    await broker.waitForOutput(/"msg":"became leader"/, { timeoutMs: 20_000 });
    coordinators.nodes.get(1)?.pause();
    const signalledMs = Date.now();
    broker.signal('SIGTERM');
    const exit = await waitFor(() => broker.exitStatus, { timeoutMs: 30_000, what: 'broker-1 to exit after SIGTERM' }).catch((e: unknown) => {
      throw new Error(`${String(e)}\n${broker.output().slice(-4_000)}`);
    });
    const stopMs = Date.now() - signalledMs;
    process.stderr.write(`SIGTERM with a frozen coordinator: exit ${JSON.stringify(exit)} after ${stopMs} ms (bound ${SHUTDOWN_TIMEOUT_MS} ms)\n`);
    coordinators.nodes.get(1)?.resume();
    expect(exit.code).toBe(0);
    expect(broker.output()).toMatch(/"msg":"controlled shutdown timed out with leaderships left"/);
    expect(broker.output()).toMatch(/"leadershipMoved":false,"clean":true/);
    expect(broker.output()).not.toMatch(/still busy after the broker stopped/);
    // The bound plus slack for a loaded 2-core machine (signal delivery, exit);
    // the unbounded shutdown took 10 s or more here.
    expect(stopMs).toBeLessThan(SHUTDOWN_TIMEOUT_MS + 3_000);
  });
});
