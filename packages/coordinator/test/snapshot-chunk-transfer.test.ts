// Goal: a far-behind follower is caught up by a Raft snapshot sent in chunks
// over RaftTransport.SendSnapshot (three CoordinatorNodes in this process: real
// gRPC on 127.0.0.1, real LevelDB in temp dirs), including a snapshot larger
// than maxRequestBytes, which one inline InstallSnapshot on the Stream could
// never carry. The follower is stopped, the leader writes and compacts its log
// past it, the follower restarts: it must install a snapshot that arrived in
// more than one chunk and end with metadata byte-for-byte equal to the leader's.
import { afterEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { join } from 'node:path';
import { freePorts, makeTempDir, waitFor, type TempDir } from '@fjord/testkit';
import { CoordinatorNode, encodeCommand, loadConfig, type CoordinatorConfig, type MetadataCommand } from '../src/index.js';
import { register, tid } from './helpers.js';

const nodes = new Map<number, CoordinatorNode>();
let dir: TempDir | null = null;

afterEach(async () => {
  for (const n of nodes.values()) await n.stop();
  nodes.clear();
  dir?.remove();
  dir = null;
});

function configFor(id: number, peers: string, flags: Record<string, unknown>): CoordinatorConfig {
  return loadConfig({
    env: {},
    flags: {
      id,
      peers,
      dataDir: join((dir as TempDir).path, `n${id}`),
      // The controller stays out of the way: brokers registered straight through Raft have no
      // sessions, so it would fence them and re-elect every partition midway, and the
      // snapshot's size would change from run to run (its first check is 60 s away).
      brokerSessionTimeoutMs: 3_600_000,
      controllerIntervalMs: 60_000,
      controllerSafetyIntervalMs: 3_600_000,
      leaderRebalanceIntervalMs: 0,
      snapshotEveryEntries: 10,
      snapshotCatchUpEntries: 0,
      ...flags,
    },
  });
}

async function startNode(config: CoordinatorConfig): Promise<CoordinatorNode> {
  const node = new CoordinatorNode({ config, logger: pino({ level: 'silent' }), onFatal: (err) => { throw err; } });
  await node.start();
  nodes.set(config.id, node);
  return node;
}

function leaderOf(): CoordinatorNode | undefined {
  return [...nodes.values()].find((n) => n.raftNode.isLeader);
}

async function propose(command: MetadataCommand): Promise<void> {
  // A leader change under CPU load can drop a proposal: retry on whichever node leads then.
  await waitFor(
    async () => {
      const leader = leaderOf();
      if (leader === undefined) return false;
      const outcome = await leader.raftNode.propose(encodeCommand(command)).catch(() => null);
      return outcome !== null;
    },
    { timeoutMs: 20_000, what: `${command.kind} to commit` },
  );
}

function topic(n: number, partitions: number): MetadataCommand {
  return { kind: 'CreateTopic', name: `topic-${n}`, topicId: tid(n), assignment: Array.from({ length: partitions }, (_, i) => [1 + (i % 3), 1 + ((i + 1) % 3), 1 + ((i + 2) % 3)]), configs: {} };
}

/**
 * Three nodes; `partitions` per topic sizes the snapshot. Returns the restarted
 * follower and the leader once the follower holds the leader's metadata.
 */
async function catchUpBySnapshot(flags: Record<string, unknown>, topics: number, partitions: number): Promise<{ leader: CoordinatorNode; follower: CoordinatorNode }> {
  dir = makeTempDir('fjord-snapshot-chunk-');
  const ports = await freePorts(3);
  const peers = ports.map((p, i) => `${i + 1}=127.0.0.1:${p}`).join(',');
  for (let id = 1; id <= 3; id++) await startNode(configFor(id, peers, flags));
  await waitFor(() => leaderOf(), { timeoutMs: 15_000, what: 'a leader' });
  for (let id = 1; id <= 3; id++) {
    await propose(register(id));
    const epoch = leaderOf()?.raftNode.machine.state.brokers.get(id)?.brokerEpoch ?? -1;
    await propose({ kind: 'UnfenceBroker', brokerId: id, brokerEpoch: epoch });
  }
  for (let t = 0; t < topics / 2; t++) await propose(topic(t, partitions));

  // Stop a follower; the rest write on and compact their logs past it.
  const stoppedId = [...nodes.values()].find((n) => !n.raftNode.isLeader)?.raftNode.id as number;
  await nodes.get(stoppedId)?.stop();
  nodes.delete(stoppedId);
  for (let t = Math.ceil(topics / 2); t < topics; t++) await propose(topic(t, partitions));
  for (let b = 10; b < 25; b++) await propose(register(b));
  const leader = leaderOf() as CoordinatorNode;
  const stoppedAt = leader.raftNode.status().progress.find((p) => p.id === stoppedId)?.match ?? 0;
  await waitFor(() => leader.raftNode.stats.snapshotsTaken > 0 && leader.raftNode.status().firstIndex > stoppedAt + 1, { timeoutMs: 10_000, what: 'the leader to compact past the stopped follower' });

  const follower = await startNode(configFor(stoppedId, peers, flags));
  await waitFor(
    () => {
      const now = leaderOf();
      return now !== undefined && follower.raftNode.machine.appliedIndex >= now.raftNode.machine.appliedIndex && Buffer.from(follower.raftNode.machine.snapshot().data).equals(Buffer.from(now.raftNode.machine.snapshot().data));
    },
    { timeoutMs: 30_000, what: 'the restarted follower to hold the leader\'s metadata' },
  );
  return { leader: leaderOf() as CoordinatorNode, follower };
}

describe('chunked Raft snapshot transfer (SendSnapshot)', () => {
  it('catches a far-behind follower up with a snapshot in many small chunks', async () => {
    const chunkBytes = 4096;
    const { leader, follower } = await catchUpBySnapshot({ snapshotChunkBytes: chunkBytes }, 20, 30);
    const received = follower.raftNode.transport.stats;
    expect(follower.raftNode.stats.snapshotsInstalled).toBeGreaterThanOrEqual(1);
    expect(received.snapshotsReceived).toBeGreaterThanOrEqual(1);
    expect(received.snapshotsRefused).toBe(0);
    // Every received snapshot took at least one chunk for its message and ceil(bytes / chunkBytes) for its data.
    expect(received.snapshotBytesReceived).toBeGreaterThan(10 * chunkBytes);
    expect(received.snapshotChunksReceived).toBeGreaterThanOrEqual(received.snapshotsReceived + Math.ceil(received.snapshotBytesReceived / chunkBytes));
    expect(leader.raftNode.transport.stats.snapshotsSendOk).toBeGreaterThanOrEqual(1);
    expect(leader.raftNode.machine.state.topics.size).toBe(20);
    expect(follower.raftNode.machine.state.topics.size).toBe(20);
  }, 90_000);

  it('transfers a snapshot larger than maxRequestBytes', async () => {
    // ~98 bytes of snapshot per partition: 6 x 9,000 partitions is ~5.3 MB, above the 4 MiB maxRequestBytes.
    const maxRequestBytes = 4 * 1024 * 1024;
    const { follower } = await catchUpBySnapshot({ maxRequestBytes }, 6, 9_000);
    const received = follower.raftNode.transport.stats;
    expect(follower.raftNode.stats.snapshotsInstalled).toBeGreaterThanOrEqual(1);
    // Every snapshot the restarted follower got holds all six topics (the controller changes nothing).
    expect(received.snapshotBytesReceived / received.snapshotsReceived).toBeGreaterThan(maxRequestBytes);
    expect(received.snapshotChunksReceived).toBeGreaterThan(received.snapshotsReceived * 2);
    expect(follower.raftNode.machine.state.topics.size).toBe(6);
  }, 120_000);
});
