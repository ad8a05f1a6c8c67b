/**
 * The receive side of chunked Raft snapshot transfer (`RaftTransport.SendSnapshot`,
 * proto/fjord/v1/raft.proto; etcd's rafthttp snapshot handler): reassembles
 * one peer's snapshot from its chunks, checking every chunk before keeping
 * it. Peer traffic is untrusted (issue 4 "garbage on the Raft port"): the
 * first violation ends the transfer with a catalog code for the SnapshotAck
 * and everything received is dropped; nothing reaches the Raft core until
 * the whole snapshot arrived, so a bad transfer changes no state.
 *
 * The rules, in order (each a `SnapshotRefusal`):
 * - every chunk: this cluster's id, `to` = this node, the same `from` as the
 *   first chunk (INVALID_REQUEST);
 * - the first chunk carries the InstallSnapshot message (encoded by
 *   raft-codec.ts with empty snapshot data), offset 0 and total_bytes; the
 *   message must decode for this node (CORRUPT_MESSAGE) and come from
 *   `from`; total_bytes is at most the budget the caller grants
 *   (MESSAGE_TOO_LARGE);
 * - later chunks carry no message, the same total_bytes, offset = the bytes
 *   received so far (no gap, no overlap) and data that does not run past
 *   total_bytes; a chunk that is not the last carries data (INVALID_REQUEST);
 * - the last chunk has done = true, and by then exactly total_bytes arrived;
 *   nothing may follow it, and a stream that ends without it was truncated
 *   (INVALID_REQUEST).
 *
 * No I/O and no timers here: the transport owns the call, the deadline and
 * the per-peer bound (grpc-raft-transport.ts).
 */
import type { ErrorCode } from '@fjord/protocol';
import type { InstallSnapshotMsg, NodeId, RaftMessage } from '@fjord/raft';
import { decodeRaftMessage } from './raft-codec.js';

/** A SnapshotChunk as proto-loader hands it over (uint64 as decimal strings); untrusted. */
export interface WireSnapshotChunk {
  clusterId: string;
  from: number;
  to: number;
  message: Uint8Array;
  offset: string | number;
  totalBytes: string | number;
  data: Uint8Array;
  done: boolean;
}

export interface SnapshotRefusal {
  readonly code: ErrorCode;
  readonly message: string;
}

export interface SnapshotReceiverOptions {
  readonly selfId: NodeId;
  readonly clusterId: string;
}

/** What the first chunk announced; the caller checks `totalBytes` against its budget before accepting more. */
export interface SnapshotHeader {
  readonly from: NodeId;
  readonly totalBytes: number;
}

export type ChunkOutcome =
  | { readonly kind: 'header'; readonly header: SnapshotHeader; readonly complete: boolean }
  | { readonly kind: 'more' }
  | { readonly kind: 'complete' }
  | { readonly kind: 'refused'; readonly refusal: SnapshotRefusal };

function count(value: unknown): number | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : null;
  if (typeof value !== 'string' || !/^\d{1,16}$/.test(value)) return null;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : null;
}

function bytesOf(value: unknown): Uint8Array | null {
  return value instanceof Uint8Array ? value : null;
}

export class SnapshotReceiver {
  private message: InstallSnapshotMsg | null = null;
  private from: NodeId = 0;
  private totalBytes = 0;
  private receivedBytes = 0;
  private chunks: Uint8Array[] = [];
  private chunkCount = 0;
  private done = false;
  private refusal: SnapshotRefusal | null = null;

  constructor(private readonly options: SnapshotReceiverOptions) {}

  get received(): number {
    return this.receivedBytes;
  }

  get chunksReceived(): number {
    return this.chunkCount;
  }

  get sender(): NodeId {
    return this.from;
  }

  /** Checks one chunk and keeps its data; after a refusal every further chunk is refused the same way. */
  accept(raw: unknown): ChunkOutcome {
    if (this.refusal !== null) return { kind: 'refused', refusal: this.refusal };
    const outcome = this.check(raw);
    if (outcome.kind === 'refused') this.refuse(outcome.refusal);
    return outcome;
  }

  /** The sender half-closed: the assembled message, or why there is none. */
  finish(): { message: RaftMessage } | { refusal: SnapshotRefusal } {
    if (this.refusal !== null) return { refusal: this.refusal };
    if (this.message === null || !this.done) return { refusal: this.refuse({ code: 'INVALID_REQUEST', message: 'snapshot stream ended before its last chunk (truncated)' }) };
    const data: Uint8Array = this.chunks.length === 1 ? (this.chunks[0] as Uint8Array) : Buffer.concat(this.chunks, this.totalBytes);
    this.chunks = [];
    return { message: { ...this.message, snapshot: { meta: this.message.snapshot.meta, data } } };
  }

  /** Drops everything received (a refusal, a cancelled call, a deadline, a newer snapshot from the same peer). */
  refuse(refusal: SnapshotRefusal): SnapshotRefusal {
    if (this.refusal === null) this.refusal = refusal;
    this.chunks = [];
    return this.refusal;
  }

  private check(raw: unknown): ChunkOutcome {
    const bad = (message: string, code: ErrorCode = 'INVALID_REQUEST'): ChunkOutcome => ({ kind: 'refused', refusal: { code, message } });
    if (typeof raw !== 'object' || raw === null) return bad('not a snapshot chunk');
    const c = raw as Partial<Record<keyof WireSnapshotChunk, unknown>>;
    if (c.clusterId !== this.options.clusterId) return bad(`wrong cluster id ${JSON.stringify(c.clusterId)}`);
    if (c.to !== this.options.selfId) return bad(`chunk for node ${String(c.to)}, this is node ${this.options.selfId}`);
    const from = typeof c.from === 'number' && Number.isSafeInteger(c.from) && c.from > 0 ? c.from : null;
    if (from === null || (this.message !== null && from !== this.from)) return bad(`chunk from ${String(c.from)} in a snapshot from ${this.from}`);
    const offset = count(c.offset);
    const totalBytes = count(c.totalBytes);
    const message = bytesOf(c.message) ?? new Uint8Array(0);
    const data = bytesOf(c.data) ?? new Uint8Array(0);
    const done = c.done === true;
    if (offset === null || totalBytes === null) return bad('offset or total_bytes is not a count');
    if (this.done) return bad('chunk after the last chunk');
    this.chunkCount++;

    if (this.message === null) {
      if (message.byteLength === 0) return bad('first chunk carries no snapshot message');
      if (offset !== 0) return bad(`first chunk at offset ${offset}`);
      const decoded = decodeRaftMessage(message, this.options.selfId);
      if ('problem' in decoded) return bad(`snapshot message: ${decoded.problem}`, 'CORRUPT_MESSAGE');
      if (decoded.message.type !== 'InstallSnapshot') return bad(`first chunk carries ${decoded.message.type}, not InstallSnapshot`, 'CORRUPT_MESSAGE');
      if (decoded.message.from !== from) return bad(`snapshot message from ${decoded.message.from} in a chunk from ${from}`);
      if (decoded.message.snapshot.data.byteLength !== 0) return bad('snapshot message carries data inline', 'CORRUPT_MESSAGE');
      this.message = decoded.message;
      this.from = from;
      this.totalBytes = totalBytes;
      const kept = this.keep(data, done);
      if (kept !== null) return kept;
      return { kind: 'header', header: { from, totalBytes }, complete: this.done };
    }
    if (message.byteLength !== 0) return bad('snapshot message repeated after the first chunk');
    if (totalBytes !== this.totalBytes) return bad(`total_bytes changed from ${this.totalBytes} to ${totalBytes}`);
    if (offset !== this.receivedBytes) return bad(`chunk at offset ${offset}, expected ${this.receivedBytes}`);
    if (data.byteLength === 0 && !done) return bad('empty chunk that is not the last');
    const kept = this.keep(data, done);
    if (kept !== null) return kept;
    return this.done ? { kind: 'complete' } : { kind: 'more' };
  }

  private keep(data: Uint8Array, done: boolean): ChunkOutcome | null {
    if (this.receivedBytes + data.byteLength > this.totalBytes) {
      return { kind: 'refused', refusal: { code: 'INVALID_REQUEST', message: `chunk runs past total_bytes ${this.totalBytes}` } };
    }
    if (done && this.receivedBytes + data.byteLength !== this.totalBytes) {
      return { kind: 'refused', refusal: { code: 'INVALID_REQUEST', message: `last chunk at ${this.receivedBytes + data.byteLength} bytes of ${this.totalBytes}` } };
    }
    if (data.byteLength > 0) this.chunks.push(data);
    this.receivedBytes += data.byteLength;
    this.done = done;
    return null;
  }
}
