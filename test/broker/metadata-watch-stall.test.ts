// Goal: a broker keeps following cluster metadata when the coordinator it
// watches freezes (SIGSTOP: the TCP connection stays open, so the watch stream
// neither delivers nor ends). Heartbeats, which fail over to the other
// coordinators, carry the leader's metadata version; once it has been ahead of
// the broker's for a few heartbeat intervals, the broker re-opens its watch on
// another coordinator. Real processes: 3 `fjord coordinator` + 1 `fjord broker`.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FjordClient } from '@fjord/client';
import { ChildGroup, freePorts, waitFor } from '@fjord/testkit';
import { CoordinatorCluster, FJORD_BIN } from '../coordinator/coordinator-cluster.js';

const COORDINATOR_ARGS = ['--broker-session-timeout-ms', '3000', '--broker-heartbeat-interval-ms', '250', '--controller-interval-ms', '50'];

describe('a broker whose watched coordinator freezes', () => {
  let coordinators: CoordinatorCluster | null = null;
  const brokers = new ChildGroup();
  let client: FjordClient | null = null;

  afterEach(async () => {
    await client?.close();
    client = null;
    await brokers.killAll();
    for (const node of coordinators?.nodes.values() ?? []) node.resume();
    await coordinators?.close();
    coordinators = null;
  });

  it('re-watches another coordinator and learns the topics created meanwhile', async () => {
    coordinators = await CoordinatorCluster.create({ voters: 3, args: COORDINATOR_ARGS });
    await coordinators.startAll();
    await coordinators.waitForLeader();
    // The broker watches the first coordinator of its list: node 1.
    const [port] = await freePorts(1);
    const broker = brokers.start({
      name: 'broker-1',
      command: process.execPath,
      args: [FJORD_BIN, 'broker', '--id', '1', '--listen', `127.0.0.1:${port as number}`, '--data-dir', join(coordinators.dir.path, 'broker-1'), '--coordinators', coordinators.peersFlag(coordinators.voterIds), '--unsafe-no-fsync'],
    });
    await broker.waitForOutput(/"msg":"registered"/, { timeoutMs: 20_000 });
    client = new FjordClient({ bootstrap: [`127.0.0.1:${port as number}`], requestTimeoutMs: 5_000 });
    const admin = client.admin();
    const create = async (name: string): Promise<void> => {
      await waitFor(
        async () => {
          const r = await admin.createTopics([{ name, numPartitions: 1, replicationFactor: 1 }]);
          return r[0]?.error === null || r[0]?.error?.code === 'TOPIC_ALREADY_EXISTS';
        },
        { timeoutMs: 30_000, what: `topic ${name} created` },
      );
    };
    const known = async (name: string): Promise<boolean> => (await admin.listTopics()).some((t) => t.name === name);
    await create('before');
    await waitFor(() => known('before'), { timeoutMs: 20_000, what: 'the broker to know topic before' });

    coordinators.nodes.get(1)?.pause();
    await coordinators.waitForLeader({ among: [2, 3] });
    await create('after');
    await waitFor(() => known('after'), { timeoutMs: 30_000, what: 'the broker to learn topic after (through another coordinator)' });
    expect(broker.output()).toMatch(/metadata watch stalled behind the leader; re-watching elsewhere/);
  });
});
