// Goal: garbage on RaftTransport.SendSnapshot (issue 4 "garbage on the Raft
// port") never crashes a node nor changes its state. A real CoordinatorNode
// (real gRPC on 127.0.0.1, real LevelDB) gets, from a raw gRPC client: a wrong
// cluster id, a wrong recipient, no message in the first chunk, an undecodable
// message, an offset gap, total_bytes lies both ways, a snapshot above
// maxSnapshotBytes (alone and together with one in flight), more transfers at
// once than the node takes, well-framed data
// that is no snapshot (a restore would assert), a stream
// truncated by a half-close, one superseded by a newer snapshot from the same
// peer, one that stalls past the deadline, one the client cancels midway, and
// an InstallSnapshot sent inline on the Stream instead.
// Each gets its catalog code in the SnapshotAck (the cancelled one is just
// dropped); afterwards the node's Raft state and metadata are unchanged, no
// snapshot was installed, and it still commits writes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { join } from 'node:path';
import { credentials, type Client, type ClientDuplexStream, type ClientWritableStream, type ServiceError } from '@grpc/grpc-js';
import { grpcChannelOptions, loadFjordGrpc } from '@fjord/protocol';
import { freePorts, makeTempDir, waitFor, type TempDir } from '@fjord/testkit';
import type { InstallSnapshotMsg } from '@fjord/raft';
import { CoordinatorNode, MAX_INBOUND_SNAPSHOTS, encodeCommand, encodeRaftMessage, loadConfig } from '../src/index.js';
import type { SnapshotChunkWire } from '../src/snapshot-sender.js';
import { register } from './helpers.js';

const CLUSTER = 'garbage-test';
const MAX_SNAPSHOT_BYTES = 1024 * 1024;
const TIMEOUT_MS = 1_000;

interface Ack {
  errorCode: string;
  errorMessage: string;
  receivedBytes: string;
}

type Chunk = SnapshotChunkWire;

let dir: TempDir;
let node: CoordinatorNode;
let client: Client;

beforeAll(async () => {
  dir = makeTempDir('fjord-snapshot-garbage-');
  const [port] = await freePorts(1);
  const config = loadConfig({
    env: {},
    flags: { id: 1, clusterId: CLUSTER, peers: `1=127.0.0.1:${port as number}`, dataDir: join(dir.path, 'n1'), maxSnapshotBytes: MAX_SNAPSHOT_BYTES, snapshotTimeoutMs: TIMEOUT_MS },
  });
  node = new CoordinatorNode({ config, logger: pino({ level: 'silent' }), onFatal: (err) => { throw err; } });
  await node.start();
  await waitFor(() => node.raftNode.isLeader, { timeoutMs: 15_000, what: 'the single node to lead' });
  await node.raftNode.propose(encodeCommand(register(1)));
  client = new (loadFjordGrpc().raftTransport)(`127.0.0.1:${port as number}`, credentials.createInsecure(), grpcChannelOptions(64 * 1024 * 1024));
}, 30_000);

afterAll(async () => {
  client?.close();
  await node?.stop();
  dir?.remove();
});

/** A snapshot message from node 2 (which this cluster does not have); never let one complete (it would reach Raft). */
function message(from = 2): Uint8Array {
  const m: InstallSnapshotMsg = { type: 'InstallSnapshot', from, to: 1, term: 1, snapshot: { meta: { index: 1_000, term: 1, conf: { voters: [1, from], learners: [] } }, data: new Uint8Array(0) } };
  return encodeRaftMessage(m);
}

function first(totalBytes: number, over: Partial<Chunk> = {}): Chunk {
  return { clusterId: CLUSTER, from: 2, to: 1, message: message(over.from ?? 2), offset: 0, totalBytes, data: new Uint8Array(0), done: false, ...over };
}

function data(offset: number, bytes: number, totalBytes: number, over: Partial<Chunk> = {}): Chunk {
  return { clusterId: CLUSTER, from: 2, to: 1, message: new Uint8Array(0), offset, totalBytes, data: new Uint8Array(bytes).fill(7), done: offset + bytes === totalBytes, ...over };
}

type SendSnapshot = (cb: (err: ServiceError | null, ack?: Ack) => void) => ClientWritableStream<Chunk>;

/** Opens a SendSnapshot call; `ack` settles with the SnapshotAck or the call's error. */
function open(): { call: ClientWritableStream<Chunk>; ack: Promise<Ack | ServiceError> } {
  let call: ClientWritableStream<Chunk> | null = null;
  const ack = new Promise<Ack | ServiceError>((resolve) => {
    call = (client as unknown as { SendSnapshot: SendSnapshot }).SendSnapshot.call(client, (err, res) => resolve(err ?? (res as Ack)));
  });
  return { call: call as unknown as ClientWritableStream<Chunk>, ack };
}

async function send(chunks: readonly Chunk[], end = true): Promise<Ack> {
  const { call, ack } = open();
  for (const c of chunks) call.write(c);
  if (end) call.end();
  const res = await ack;
  if (res instanceof Error) throw res;
  return res;
}

function stateNow(): unknown {
  const s = node.raftNode.status();
  return { term: s.term, commit: s.commit, lastIndex: s.lastIndex, firstIndex: s.firstIndex, role: s.role, metadata: Buffer.from(node.raftNode.machine.snapshot().data).toString('base64'), installed: node.raftNode.stats.snapshotsInstalled };
}

describe('garbage on SendSnapshot', () => {
  let before: unknown;
  beforeAll(() => {
    before = stateNow();
  });

  const cases: [string, () => Chunk[], string, RegExp][] = [
    ['wrong cluster id', () => [first(10, { clusterId: 'other' })], 'INVALID_REQUEST', /cluster/],
    ['another recipient', () => [first(10, { to: 7 })], 'INVALID_REQUEST', /for node 7/],
    ['no message in the first chunk', () => [data(0, 10, 10)], 'INVALID_REQUEST', /no snapshot message/],
    ['an undecodable message', () => [first(10, { message: new Uint8Array([1, 123, 34]) })], 'CORRUPT_MESSAGE', /snapshot message/],
    ['an offset gap', () => [first(3000), data(0, 1000, 3000), data(2000, 1000, 3000)], 'INVALID_REQUEST', /offset 2000, expected 1000/],
    ['total_bytes below the data', () => [first(1500), data(0, 1000, 1500), data(1000, 1000, 1500)], 'INVALID_REQUEST', /runs past total_bytes/],
    ['total_bytes above the data', () => [first(3000), data(0, 1000, 3000), data(1000, 1000, 3000, { done: true })], 'INVALID_REQUEST', /last chunk at 2000 bytes of 3000/],
    ['above maxSnapshotBytes', () => [first(MAX_SNAPSHOT_BYTES + 1), data(0, 1000, MAX_SNAPSHOT_BYTES + 1)], 'MESSAGE_TOO_LARGE', /maxSnapshotBytes/],
    ['truncated by a half-close', () => [first(3000), data(0, 1000, 3000)], 'INVALID_REQUEST', /truncated/],
    // Well framed, but the data is no snapshot envelope: refused before Raft could install it (the restore would assert).
    ['data that does not restore', () => [first(10), data(0, 10, 10)], 'CORRUPT_MESSAGE', /envelope does not decode/],
  ];
  for (const [name, chunks, code, reason] of cases) {
    it(`${name}: ${code}`, async () => {
      const refusedBefore = node.raftNode.transport.stats.snapshotsRefused;
      const ack = await send(chunks());
      expect(ack.errorCode).toBe(code);
      expect(ack.errorMessage).toMatch(reason);
      expect(node.raftNode.transport.stats.snapshotsRefused).toBe(refusedBefore + 1);
    });
  }

  it('two snapshots in flight above maxSnapshotBytes together: the second gets MESSAGE_TOO_LARGE', async () => {
    const big = Math.floor(MAX_SNAPSHOT_BYTES * 0.6);
    const chunksBefore = node.raftNode.transport.stats.snapshotChunksReceived;
    const a = open();
    a.call.write(first(big, { from: 2 }));
    a.call.write(data(0, 10, big, { from: 2 }));
    await waitFor(() => node.raftNode.transport.stats.snapshotChunksReceived >= chunksBefore + 2, { timeoutMs: 5_000, what: 'the first snapshot to be in flight' });
    const b = await send([{ ...first(big, { from: 3 }) }]);
    expect(b.errorCode).toBe('MESSAGE_TOO_LARGE');
    a.call.end();
    const ackA = await a.ack;
    expect(ackA instanceof Error ? ackA.message : ackA.errorMessage).toMatch(/truncated/);
  });

  it(`more than ${MAX_INBOUND_SNAPSHOTS} snapshots at once (from made-up peers): the next is refused`, async () => {
    const chunksBefore = node.raftNode.transport.stats.snapshotChunksReceived;
    const transfers = Array.from({ length: MAX_INBOUND_SNAPSHOTS }, (_, i) => {
      const t = open();
      t.call.write(first(100, { from: 10 + i }));
      return t;
    });
    await waitFor(() => node.raftNode.transport.stats.snapshotChunksReceived >= chunksBefore + MAX_INBOUND_SNAPSHOTS, { timeoutMs: 5_000, what: 'every transfer to start' });
    const refused = await send([first(100, { from: 99 })]);
    expect(refused.errorCode).toBe('COORDINATOR_NOT_AVAILABLE');
    for (const t of transfers) t.call.end();
    for (const t of transfers) {
      const ack = await t.ack;
      expect(ack instanceof Error ? ack.message : ack.errorMessage).toMatch(/truncated/);
    }
  });

  it('a newer snapshot from the same peer supersedes the one in flight', async () => {
    const older = open();
    const chunksBefore = node.raftNode.transport.stats.snapshotChunksReceived;
    older.call.write(first(3000));
    await waitFor(() => node.raftNode.transport.stats.snapshotChunksReceived > chunksBefore, { timeoutMs: 5_000, what: 'the older snapshot to start' });
    const newer = open();
    newer.call.write(first(3000));
    const olderAck = await older.ack;
    expect(olderAck instanceof Error ? olderAck.message : olderAck.errorMessage).toMatch(/superseded/);
    newer.call.end();
    const newerAck = await newer.ack;
    expect(newerAck instanceof Error ? newerAck.message : newerAck.errorMessage).toMatch(/truncated/);
    older.call.end();
  });

  it('a transfer that stalls past snapshotTimeoutMs is refused with REQUEST_TIMED_OUT', async () => {
    const stalled = open();
    stalled.call.write(first(3000));
    const ack = await stalled.ack;
    expect(ack instanceof Error ? ack.message : ack.errorCode).toBe('REQUEST_TIMED_OUT');
    stalled.call.end();
  });

  it('a transfer the client cancels midway is dropped', async () => {
    const refusedBefore = node.raftNode.transport.stats.snapshotsRefused;
    const chunksBefore = node.raftNode.transport.stats.snapshotChunksReceived;
    const { call, ack } = open();
    call.write(first(3000));
    call.write(data(0, 1000, 3000));
    await waitFor(() => node.raftNode.transport.stats.snapshotChunksReceived >= chunksBefore + 2, { timeoutMs: 5_000, what: 'two chunks to arrive' });
    call.cancel();
    const res = await ack;
    expect(res instanceof Error).toBe(true);
    await waitFor(() => node.raftNode.transport.stats.snapshotsRefused === refusedBefore + 1, { timeoutMs: 5_000, what: 'the node to drop the cancelled transfer' });
  });

  it('an InstallSnapshot inline on the Stream is dropped (CORRUPT_MESSAGE ack)', async () => {
    const garbageBefore = node.raftNode.transport.stats.garbageDropped;
    const m: InstallSnapshotMsg = { type: 'InstallSnapshot', from: 2, to: 1, term: 1, snapshot: { meta: { index: 1_000, term: 1, conf: { voters: [1, 2], learners: [] } }, data: new Uint8Array(10).fill(7) } };
    const stream = (client as unknown as { Stream: () => ClientDuplexStream<unknown, { errorCode: string }> }).Stream.call(client);
    const ack = new Promise<{ errorCode: string }>((resolve) => stream.once('data', resolve));
    stream.on('error', () => undefined);
    stream.write({ clusterId: CLUSTER, from: 2, to: 1, messages: [encodeRaftMessage(m)], sequence: 1 });
    expect((await ack).errorCode).toBe('CORRUPT_MESSAGE');
    expect(node.raftNode.transport.stats.garbageDropped).toBe(garbageBefore + 1);
    stream.cancel();
  });

  it('leaves the node running with its state unchanged', async () => {
    expect(stateNow()).toEqual(before);
    expect(node.raftNode.transport.stats.snapshotsReceived).toBe(0);
    expect(node.raftNode.isLeader).toBe(true);
    await node.raftNode.propose(encodeCommand(register(2)));
    expect(node.raftNode.machine.state.brokers.size).toBe(2);
  });
});
