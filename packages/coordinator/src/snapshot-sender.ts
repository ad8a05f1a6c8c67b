/**
 * The send side of chunked Raft snapshot transfer (`RaftTransport.SendSnapshot`,
 * proto/fjord/v1/raft.proto; etcd's rafthttp snapshotSender): one
 * InstallSnapshot message to one peer, on its own call over its own
 * connection, so a snapshot of any size never waits behind, nor holds up,
 * the heartbeats and appends on the peer's `Stream`.
 *
 * The first chunk carries the message encoded with empty snapshot data
 * (raft-codec.ts), offset 0 and total_bytes; then the data follows in chunks
 * of `chunkBytes`, the last with done = true. Writes respect HTTP/2 flow
 * control: grpc-js serializes one queued chunk at a time and completes it
 * only once HTTP/2 took it, and once its queue is full (16 chunks, object
 * mode) the next write waits for 'drain'. Queued chunks are views into the
 * snapshot, not copies, so beyond the snapshot itself only the serialized
 * message HTTP/2 holds (up to the peer's window) sits in memory. A
 * deadline covers the whole transfer (grpc-js cancels the call at
 * `timeoutMs`). The outcome is the receiver's SnapshotAck: ok only when its
 * error_code is empty, so the leader's Raft learns that the follower really
 * has the snapshot (raw.reportSnapshot), not just that bytes left.
 *
 * The connection is opened for the transfer and closed after it
 * ('grpc.use_local_subchannel_pool': grpc-js otherwise shares one subchannel,
 * and so one TCP connection and one HTTP/2 connection window, among channels
 * to the same address). Snapshots are rare, so the handshake is noise.
 */
import { Metadata, credentials, status, type ChannelOptions, type Client, type ClientWritableStream, type ServiceError } from '@grpc/grpc-js';
import { assert, loadFjordGrpc } from '@fjord/protocol';
import type { InstallSnapshotMsg, NodeId } from '@fjord/raft';
import { encodeRaftMessage } from './raft-codec.js';

export interface SnapshotSendOptions {
  readonly clusterId: string;
  readonly selfId: NodeId;
  /** host:port of the peer. */
  readonly address: string;
  readonly chunkBytes: number;
  /** Deadline for the whole transfer, ack included. */
  readonly timeoutMs: number;
  readonly channelOptions: ChannelOptions;
}

export interface SnapshotSendResult {
  readonly ok: boolean;
  /** The receiver's catalog code, or the gRPC status name when the call failed ('' when ok). */
  readonly errorCode: string;
  readonly errorMessage: string;
  readonly bytes: number;
  readonly chunks: number;
  readonly elapsedMs: number;
}

/** One SnapshotChunk as proto-loader writes it (also what tests send raw). */
export interface SnapshotChunkWire {
  clusterId: string;
  from: number;
  to: number;
  message: Uint8Array;
  offset: number;
  totalBytes: number;
  data: Uint8Array;
  done: boolean;
}

interface WireSnapshotAck {
  errorCode?: string;
  errorMessage?: string;
}

type SendSnapshotCall = (md: Metadata, opts: { deadline: number }, cb: (err: ServiceError | null, ack?: WireSnapshotAck) => void) => ClientWritableStream<SnapshotChunkWire>;

const EMPTY = new Uint8Array(0);

/** The chunks of one snapshot message, in order (a generator: only one chunk's view exists at a time). */
export function* snapshotChunks(message: InstallSnapshotMsg, clusterId: string, chunkBytes: number): Generator<SnapshotChunkWire> {
  assert(Number.isSafeInteger(chunkBytes) && chunkBytes > 0, 'snapshot chunkBytes');
  const data = message.snapshot.data;
  const totalBytes = data.byteLength;
  const head = { clusterId, from: message.from, to: message.to, totalBytes };
  const encoded = encodeRaftMessage({ ...message, snapshot: { meta: message.snapshot.meta, data: EMPTY } });
  yield { ...head, message: encoded, offset: 0, data: EMPTY, done: totalBytes === 0 };
  for (let offset = 0; offset < totalBytes; offset += chunkBytes) {
    const end = Math.min(totalBytes, offset + chunkBytes);
    yield { ...head, message: EMPTY, offset, data: data.subarray(offset, end), done: end === totalBytes };
  }
}

/** One transfer; `run` never rejects, `cancel` ends it early (the result is then not ok). */
export class SnapshotSend {
  private call: ClientWritableStream<SnapshotChunkWire> | null = null;
  private finished = false;
  private cancelled = false;
  private readonly wakers = new Set<() => void>();

  constructor(
    private readonly message: InstallSnapshotMsg,
    private readonly options: SnapshotSendOptions,
  ) {
    assert(message.from === options.selfId, 'snapshot sent by another node');
  }

  get peer(): NodeId {
    return this.message.to;
  }

  cancel(): void {
    this.cancelled = true;
    this.call?.cancel();
    this.wake();
  }

  async run(): Promise<SnapshotSendResult> {
    const startedMs = Date.now();
    let chunks = 0;
    const result = (ok: boolean, errorCode: string, errorMessage: string): SnapshotSendResult => ({
      ok,
      errorCode,
      errorMessage,
      bytes: this.message.snapshot.data.byteLength,
      chunks,
      elapsedMs: Date.now() - startedMs,
    });
    if (this.cancelled) return result(false, 'CANCELLED', 'cancelled before it started');
    const ctor = loadFjordGrpc().raftTransport;
    const client: Client = new ctor(this.options.address, credentials.createInsecure(), { ...this.options.channelOptions, 'grpc.use_local_subchannel_pool': 1 });
    try {
      const send = (client as unknown as { SendSnapshot: SendSnapshotCall }).SendSnapshot.bind(client);
      const acked = new Promise<SnapshotSendResult>((resolve) => {
        this.call = send(new Metadata(), { deadline: startedMs + this.options.timeoutMs }, (err, ack) => {
          this.finished = true;
          this.wake();
          if (err !== null) resolve(result(false, status[err.code] ?? 'UNKNOWN', err.details ?? err.message));
          else if (ack === undefined || (ack.errorCode ?? '') !== '') resolve(result(false, ack?.errorCode ?? 'UNKNOWN_SERVER_ERROR', ack?.errorMessage ?? 'no ack'));
          else resolve(result(true, '', ''));
        });
      });
      const call = this.call as ClientWritableStream<SnapshotChunkWire> | null;
      assert(call !== null, 'SendSnapshot call not created');
      // A cancel() between the call's creation and here: the call was not known to it yet.
      if (this.cancelled) call.cancel();
      for (const chunk of snapshotChunks(this.message, this.options.clusterId, this.options.chunkBytes)) {
        if (this.finished || this.cancelled) break;
        chunks++;
        if (!call.write(chunk)) await this.drained(call);
      }
      if (!this.finished && !this.cancelled) call.end();
      return await acked;
    } finally {
      client.close();
    }
  }

  /** Waits for the call's buffer to drain, or for the call to end (an early ack, the deadline, a cancel). */
  private async drained(call: ClientWritableStream<SnapshotChunkWire>): Promise<void> {
    if (this.finished || this.cancelled) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        call.off('drain', done);
        this.wakers.delete(done);
        resolve();
      };
      call.on('drain', done);
      this.wakers.add(done);
    });
  }

  private wake(): void {
    for (const w of [...this.wakers]) w();
  }
}
