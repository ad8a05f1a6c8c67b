/**
 * Goal: Kafka's rule for a broker id whose session is alive, over real gRPC
 * against real coordinator processes, and with the real broker process on the
 * other side.
 * - A registration with a new incarnation id while the old incarnation keeps
 *   heartbeating is refused with DUPLICATE_BROKER_REGISTRATION (retriable) and
 *   changes nothing (metadata version and the broker's epoch unchanged); the
 *   same incarnation retrying gets its epoch back, also changing nothing.
 * - Once the old session expires (no heartbeat for the session timeout), the
 *   new incarnation gets in with a new epoch.
 * - `fjord broker`: a second process started with a live broker's id is held
 *   off while the first one lives; after the first is killed with SIGKILL it
 *   registers (it keeps retrying the retriable refusal), and a broker
 *   restarted after kill -9 on its own data dir registers again and is
 *   unfenced.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FjordError } from '@fjord/protocol';
import { ChildGroup, freePorts, waitFor, type ManagedChild } from '@fjord/testkit';
import { CoordinatorCluster, FJORD_BIN, failure, registration, writeWithRetry, type CoordinatorClient } from './coordinator-cluster.js';

const SESSION_TIMEOUT_MS = 3_000;
const HEARTBEAT_MS = 250;

let cluster: CoordinatorCluster;
let client: CoordinatorClient;
const brokers = new ChildGroup();

interface WireBroker {
  brokerId: number;
  brokerEpoch: string;
  fenced: boolean;
}

async function metadata(): Promise<{ metadataVersion: string; brokers: WireBroker[] }> {
  return client.call<{ metadataVersion: string; brokers: WireBroker[] }>('GetMetadata', {});
}

async function brokerRecord(id: number): Promise<WireBroker | undefined> {
  return (await metadata()).brokers.find((b) => b.brokerId === id);
}

beforeAll(async () => {
  cluster = await CoordinatorCluster.create({
    voters: 3,
    args: ['--broker-session-timeout-ms', String(SESSION_TIMEOUT_MS), '--broker-heartbeat-interval-ms', String(HEARTBEAT_MS), '--controller-interval-ms', '20'],
  });
  await cluster.startAll();
  await cluster.waitForLeader();
  client = cluster.client(1);
});

afterAll(async () => {
  await brokers.killAll();
  await cluster.close();
});

describe('broker registration with an id whose session is alive (real processes)', () => {
  it('refuses a new incarnation while the old one heartbeats, changing nothing, and admits it once the session expired', async () => {
    // Registrations of one incarnation are idempotent, so they retry retriable errors (a leader change under load).
    const first = await writeWithRetry(() => client.call<{ brokerEpoch: string }>('RegisterBroker', registration(1, 'incarnation-a')));
    let heartbeats = 0;
    let beating = true;
    const beat = (async () => {
      while (beating) {
        await client.call('BrokerHeartbeat', { brokerId: 1, brokerEpoch: first.brokerEpoch, wantFence: false });
        heartbeats++;
        await new Promise<void>((resolve) => setTimeout(resolve, HEARTBEAT_MS));
      }
    })();
    try {
      await waitFor(async () => (await brokerRecord(1))?.fenced === false, { timeoutMs: 10_000, what: 'broker 1 unfenced' });
      const before = await metadata();
      const refused = await failure(client.call('RegisterBroker', registration(1, 'incarnation-b')));
      expect(refused.code).toBe('DUPLICATE_BROKER_REGISTRATION');
      expect(refused.retriable).toBe(true);
      // Still refused after more than a session timeout, because the old incarnation keeps heartbeating.
      const heartbeatsAtRefusal = heartbeats;
      await waitFor(() => heartbeats >= heartbeatsAtRefusal + Math.ceil((SESSION_TIMEOUT_MS * 1.5) / HEARTBEAT_MS), {
        timeoutMs: 30_000,
        what: 'heartbeats for longer than a session timeout',
      });
      expect((await failure(client.call('RegisterBroker', registration(1, 'incarnation-b')))).code).toBe('DUPLICATE_BROKER_REGISTRATION');
      // The same incarnation retrying is idempotent.
      const retried = await writeWithRetry(() => client.call<{ brokerEpoch: string }>('RegisterBroker', registration(1, 'incarnation-a')));
      expect(retried.brokerEpoch).toBe(first.brokerEpoch);
      const after = await metadata();
      expect(after.metadataVersion).toBe(before.metadataVersion);
      expect(after.brokers.find((b) => b.brokerId === 1)).toEqual(before.brokers.find((b) => b.brokerId === 1));
    } finally {
      beating = false;
      await beat;
    }
    // The old incarnation went silent: after the session timeout the new one gets in (retrying the retriable refusal until then).
    let refusals = 0;
    const second = await writeWithRetry(async () => {
      try {
        return await client.call<{ brokerEpoch: string }>('RegisterBroker', registration(1, 'incarnation-b'));
      } catch (err) {
        if (err instanceof FjordError && err.code === 'DUPLICATE_BROKER_REGISTRATION') refusals++;
        throw err;
      }
    }, 30_000);
    expect(Number(second.brokerEpoch)).toBeGreaterThan(Number(first.brokerEpoch));
    expect(refusals).toBeGreaterThan(0);
    // The old incarnation is fenced out: its epoch is stale now.
    expect((await failure(client.call('BrokerHeartbeat', { brokerId: 1, brokerEpoch: first.brokerEpoch, wantFence: false }))).code).toBe('STALE_BROKER_EPOCH');
  });

  it('fjord broker: a second process with a live id waits; after kill -9 it, and a restarted broker, register again', async () => {
    const coordinators = cluster.peersFlag(cluster.voterIds);
    const ports = await freePorts(3);
    const start = (name: string, port: number, dir: string): ManagedChild =>
      brokers.start({
        name,
        command: process.execPath,
        args: [FJORD_BIN, 'broker', '--id', '7', '--listen', `127.0.0.1:${port}`, '--data-dir', join(cluster.dir.path, dir), '--coordinators', coordinators, '--unsafe-no-fsync'],
      });

    const original = start('broker-7', ports[0] as number, 'broker-7');
    await original.waitForOutput(/"msg":"registered"/, { timeoutMs: 20_000 });
    await waitFor(async () => (await brokerRecord(7))?.fenced === false, { timeoutMs: 20_000, what: 'broker 7 unfenced' });
    const firstEpoch = (await brokerRecord(7))?.brokerEpoch;

    // An impostor with the same id (its own data dir) is refused while the original heartbeats.
    const impostor = start('broker-7-impostor', ports[1] as number, 'broker-7-impostor');
    await impostor.waitForOutput(/DUPLICATE_BROKER_REGISTRATION/, { timeoutMs: 20_000 });
    expect(impostor.output()).not.toMatch(/"msg":"registered"/);
    expect((await brokerRecord(7))?.brokerEpoch).toBe(firstEpoch);

    // kill -9 the original: the impostor, still retrying, gets in once the session expires.
    await original.kill('SIGKILL');
    await impostor.waitForOutput(/"msg":"registered"/, { timeoutMs: 30_000 });
    const secondEpoch = await waitFor(
      async () => {
        const b = await brokerRecord(7);
        return b !== undefined && b.brokerEpoch !== firstEpoch && !b.fenced ? b.brokerEpoch : null;
      },
      { timeoutMs: 20_000, what: 'broker 7 registered by the second process and unfenced' },
    );

    // kill -9 and restart on the same data dir (a new incarnation): it registers again.
    await impostor.kill('SIGKILL');
    const restarted = start('broker-7-restarted', ports[2] as number, 'broker-7-impostor');
    await restarted.waitForOutput(/"msg":"registered"/, { timeoutMs: 30_000 });
    await waitFor(
      async () => {
        const b = await brokerRecord(7);
        return b !== undefined && b.brokerEpoch !== secondEpoch && !b.fenced;
      },
      { timeoutMs: 20_000, what: 'restarted broker 7 registered and unfenced' },
    );
    expect(restarted.running).toBe(true);
  });
});
