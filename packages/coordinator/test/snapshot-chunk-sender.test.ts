// Goal: the send side of chunked snapshot transfer between two real
// GrpcRaftTransports (real gRPC on 127.0.0.1): a snapshot arrives whole and
// Raft is told ok only from the receiver's ack; a refusal by the receiver is
// reported as a failure; a receiver that never answers hits the transfer's
// deadline; a newer snapshot to the same peer cancels the one in flight, and
// only the newer one reports to Raft; a receiver that reads nothing holds the
// sender back (HTTP/2 flow control, 'drain').
import { afterEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { Server, ServerCredentials, type ServerReadableStream, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { waitFor } from '@fjord/testkit';
import type { InstallSnapshotMsg, NodeId, RaftMessage } from '@fjord/raft';
import { FjordError, grpcChannelOptions, loadFjordGrpc } from '@fjord/protocol';
import { GrpcRaftTransport, type SnapshotTransferOptions } from '../src/grpc-raft-transport.js';
import { SNAPSHOT_CHUNK_FRAMING_BYTES, loadConfig } from '../src/config.js';

const CLUSTER = 'sender-test';
const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
const servers: Server[] = [];
const transports: GrpcRaftTransport[] = [];

afterEach(() => {
  for (const t of transports.splice(0)) t.close();
  for (const s of servers.splice(0)) s.forceShutdown();
});

async function serve(handlers: UntypedServiceImplementation): Promise<string> {
  const server = new Server(grpcChannelOptions(MAX_MESSAGE_BYTES));
  server.addService(loadFjordGrpc().raftTransport.service, handlers);
  servers.push(server);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err === null ? resolve(p) : reject(err))));
  return `127.0.0.1:${port}`;
}

interface Node {
  readonly transport: GrpcRaftTransport;
  readonly received: RaftMessage[];
  readonly reports: { id: NodeId; ok: boolean }[];
}

function transport(selfId: NodeId, snapshot: SnapshotTransferOptions, addressOf: (id: NodeId) => string | undefined = () => undefined): Node {
  const received: RaftMessage[] = [];
  const reports: { id: NodeId; ok: boolean }[] = [];
  const t = new GrpcRaftTransport({
    selfId,
    clusterId: CLUSTER,
    maxMessageBytes: MAX_MESSAGE_BYTES,
    maxBufferedBytes: 8 * 1024 * 1024,
    logger: pino({ level: 'silent' }),
    addressOf,
    onMessage: (m) => received.push(m),
    onUnreachable: () => undefined,
    onSnapshotSent: (id, ok) => reports.push({ id, ok }),
    snapshot,
  });
  transports.push(t);
  return { transport: t, received, reports };
}

function snapshot(index: number, dataBytes: number): InstallSnapshotMsg {
  const data = new Uint8Array(dataBytes);
  for (let i = 0; i < dataBytes; i++) data[i] = (i * 13 + index) & 0xff;
  return { type: 'InstallSnapshot', from: 1, to: 2, term: 3, snapshot: { meta: { index, term: 3, conf: { voters: [1, 2, 3], learners: [] } }, data } };
}

const OPTIONS: SnapshotTransferOptions = { chunkBytes: 1024, maxSnapshotBytes: 1024 * 1024, timeoutMs: 10_000 };

describe('snapshot sender', () => {
  it('delivers the snapshot whole and reports ok from the ack', async () => {
    const receiver = transport(2, OPTIONS);
    const address = await serve(receiver.transport.handlers());
    const sender = transport(1, OPTIONS, (id) => (id === 2 ? address : undefined));
    const m = snapshot(40, 10_000);
    sender.transport.send([m]);
    await waitFor(() => sender.reports.length > 0, { timeoutMs: 10_000, what: 'the snapshot outcome' });
    expect(sender.reports).toEqual([{ id: 2, ok: true }]);
    expect(receiver.received).toHaveLength(1);
    const got = receiver.received[0] as InstallSnapshotMsg;
    expect(got.snapshot.meta).toEqual(m.snapshot.meta);
    expect(Buffer.from(got.snapshot.data).equals(Buffer.from(m.snapshot.data))).toBe(true);
    // The message chunk plus ceil(10,000 / 1,024) data chunks; nothing went on the Stream.
    expect(sender.transport.stats.snapshotChunksSent).toBe(11);
    expect(receiver.transport.stats.snapshotChunksReceived).toBe(11);
    expect(sender.transport.stats.batchesSent).toBe(0);
    expect(sender.transport.stats).toMatchObject({ snapshotsSent: 1, snapshotsSendOk: 1, snapshotsSendFailed: 0 });
  });

  it('reports a failure when the receiver refuses the snapshot', async () => {
    const receiver = transport(2, { ...OPTIONS, maxSnapshotBytes: 5_000 });
    const address = await serve(receiver.transport.handlers());
    const sender = transport(1, OPTIONS, () => address);
    sender.transport.send([snapshot(40, 10_000)]);
    await waitFor(() => sender.reports.length > 0, { timeoutMs: 10_000, what: 'the snapshot outcome' });
    expect(sender.reports).toEqual([{ id: 2, ok: false }]);
    expect(receiver.received).toHaveLength(0);
    expect(receiver.transport.stats.snapshotsRefused).toBe(1);
  });

  it('reports a failure for an unknown peer address at once', () => {
    const sender = transport(1, OPTIONS);
    sender.transport.send([snapshot(40, 10)]);
    expect(sender.reports).toEqual([{ id: 2, ok: false }]);
  });

  it('a newer snapshot cancels the one in flight; a receiver that never answers hits the deadline', async () => {
    const calls: { chunks: number; cancelled: boolean }[] = [];
    const address = await serve({
      Stream: () => undefined,
      // Reads every chunk and never answers.
      SendSnapshot: (call: ServerReadableStream<unknown, unknown>) => {
        const seen = { chunks: 0, cancelled: false };
        calls.push(seen);
        call.on('data', () => seen.chunks++);
        call.on('cancelled', () => {
          seen.cancelled = true;
        });
      },
    });
    const sender = transport(1, { ...OPTIONS, timeoutMs: 500 }, () => address);
    sender.transport.send([snapshot(40, 5_000)]);
    await waitFor(() => calls.length === 1 && (calls[0]?.chunks ?? 0) > 0, { timeoutMs: 10_000, what: 'the first transfer to start' });
    sender.transport.send([snapshot(50, 5_000)]);
    await waitFor(() => calls.length === 2 && calls.every((c) => c.cancelled), { timeoutMs: 10_000, what: 'the older call cancelled and the newer one past its deadline' });
    await waitFor(() => sender.reports.length > 0, { timeoutMs: 10_000, what: 'the newer transfer to report' });
    // Only the newer transfer reported, as a failure (its deadline); the superseded one stayed silent.
    expect(sender.reports).toEqual([{ id: 2, ok: false }]);
    expect(sender.transport.stats).toMatchObject({ snapshotsSent: 2, snapshotsSendOk: 0, snapshotsSendFailed: 1 });
  });

  it('waits for HTTP/2 flow control: a receiver that reads nothing stops the sender early', async () => {
    let opened = 0;
    const address = await serve({
      Stream: () => undefined,
      // Never reads a message: grpc-js stops reading the HTTP/2 stream once its 16-message buffer is full, and the windows fill.
      SendSnapshot: () => {
        opened++;
      },
    });
    const sender = transport(1, { ...OPTIONS, chunkBytes: 64 * 1024, timeoutMs: 1_000 }, () => address);
    const totalChunks = 1 + 512;
    sender.transport.send([snapshot(40, 32 * 1024 * 1024)]);
    await waitFor(() => sender.reports.length > 0, { timeoutMs: 10_000, what: 'the transfer to hit its deadline' });
    expect(opened).toBe(1);
    expect(sender.reports).toEqual([{ id: 2, ok: false }]);
    // Without waiting for 'drain' the loop would have queued all 513 chunks at once (measured: 32 written, 2 MiB).
    expect(sender.transport.stats.snapshotChunksSent).toBeGreaterThan(1);
    expect(sender.transport.stats.snapshotChunksSent).toBeLessThan(totalChunks / 4);
  });

  it('the config keeps a chunk and its framing within maxRequestBytes', () => {
    const base = { id: 1, peers: '1=127.0.0.1:7001', dataDir: '/tmp/unused' };
    const maxRequestBytes = 4 * 1024 * 1024;
    expect(loadConfig({ env: {}, flags: { ...base, maxRequestBytes, snapshotChunkBytes: maxRequestBytes - SNAPSHOT_CHUNK_FRAMING_BYTES } }).snapshotChunkBytes).toBe(maxRequestBytes - SNAPSHOT_CHUNK_FRAMING_BYTES);
    let err: unknown = null;
    try {
      loadConfig({ env: {}, flags: { ...base, maxRequestBytes, snapshotChunkBytes: maxRequestBytes - SNAPSHOT_CHUNK_FRAMING_BYTES + 1 } });
    } catch (e) {
      err = e;
    }
    expect(err instanceof FjordError && err.code === 'INVALID_CONFIG' && /snapshotChunkBytes/.test(err.message)).toBe(true);
    expect(loadConfig({ env: { FJORD_COORDINATOR_SNAPSHOT_CHUNK_BYTES: '4096' }, flags: base }).snapshotChunkBytes).toBe(4096);
  });
});
