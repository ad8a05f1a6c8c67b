/**
 * Raft messages between coordinator nodes over gRPC (proto/fjord/v1/raft.proto):
 * one long-lived `RaftTransport.Stream` per peer (etcd's rafthttp stream),
 * one `RaftBatch` per peer per Ready (TOOLCHAIN.md pitfall 4: every gRPC
 * message costs ~15-20 us), re-opened with exponential backoff when it breaks.
 *
 * Raft retries everything itself, so the transport never retries a message:
 * a broken or backed-up stream drops what it holds and reports the peer
 * unreachable (the leader falls back to probing). Every queue is bounded
 * (STYLE.md H.2): a stream whose unsent bytes exceed `maxBufferedBytes`
 * (a frozen peer) is cancelled and re-opened later.
 *
 * Receive side: garbage is dropped, never fatal (issue 4 "Bad input"): a batch
 * for another cluster or node is acked with INVALID_REQUEST; a message that
 * does not decode or fails the core's checks is counted and dropped (and its
 * batch acked with CORRUPT_MESSAGE). Clean batches are acked sparsely
 * (CLEAN_ACK_EVERY_BATCHES).
 *
 * Snapshots (InstallSnapshot) never travel on `Stream`: every one, small or
 * large, goes in chunks over `SendSnapshot` (snapshot-sender.ts, its own call
 * and connection; snapshot-receiver.ts reassembles and checks it). Always
 * chunked rather than inline below some size: one code path, exercised by
 * every snapshot (the small ones of the far-behind test included); a RaftBatch
 * stays bounded by maxRaftMsgBytes whatever the metadata size, so a snapshot
 * above maxRequestBytes no longer cuts a node off; and a snapshot never sits
 * in front of heartbeats on the Stream. The cost, one more call per snapshot,
 * is nothing next to how rarely snapshots are sent. One snapshot in flight per
 * peer each way: a newer one to a peer cancels the older (only the newer
 * reports to Raft), and a newer one from a peer drops the older partial one.
 * All snapshots being received at once are bounded together by
 * maxSnapshotBytes, and each transfer by a deadline on both sides. An
 * InstallSnapshot arriving inline on the Stream is dropped like garbage: a
 * received snapshot's data is checked (`dataProblem`) before Raft sees it,
 * and the Stream would skip that check.
 */
import { Metadata, credentials, type ChannelOptions, type Client, type ClientDuplexStream, type ServerDuplexStream, type ServerReadableStream, type UntypedServiceImplementation, type sendUnaryData } from '@grpc/grpc-js';
import { assert, grpcChannelOptions, loadFjordGrpc } from '@fjord/protocol';
import type { InstallSnapshotMsg, NodeId, RaftMessage } from '@fjord/raft';
import type { Logger } from 'pino';
import { decodeRaftMessage, encodeRaftMessage } from './raft-codec.js';
import { SnapshotReceiver, type SnapshotRefusal } from './snapshot-receiver.js';
import { SnapshotSend, type SnapshotSendResult } from './snapshot-sender.js';

/**
 * Channel options between coordinator nodes: grpc-js's default reconnect
 * backoff starts at 1 s and grows (x1.6) while a peer is down, and a channel
 * in that backoff fails every new stream at once. After a peer restarted,
 * its neighbours then dropped all their messages to it (votes included) for
 * seconds: the SIGSTOP failover bench saw 1.5 s pre-vote livelocks. Reconnect
 * fast and cap the backoff well below an election timeout's worth of ticks.
 */
export function peerChannelOptions(maxMessageBytes: number): ChannelOptions {
  return { ...grpcChannelOptions(maxMessageBytes), 'grpc.initial_reconnect_backoff_ms': 20, 'grpc.max_reconnect_backoff_ms': 250 };
}

/** Chunked snapshot transfer (config.ts: snapshotChunkBytes, maxSnapshotBytes, snapshotTimeoutMs). */
export interface SnapshotTransferOptions {
  /** Snapshot data bytes per SendSnapshot message. */
  readonly chunkBytes: number;
  /** Bound on the snapshots this node is receiving at once, summed over their total_bytes. */
  readonly maxSnapshotBytes: number;
  /** Deadline for one transfer, on the sending and on the receiving side. */
  readonly timeoutMs: number;
  /**
   * Why a received snapshot's data cannot be restored, or undefined when it
   * can. Checked before the message reaches Raft: the shell restores a
   * snapshot under an assert (a broken local snapshot must stop the node), so
   * a peer's bad data is refused here (CORRUPT_MESSAGE) instead.
   */
  readonly dataProblem?: (data: Uint8Array) => string | undefined;
}

export const DEFAULT_SNAPSHOT_TRANSFER: SnapshotTransferOptions = Object.freeze({ chunkBytes: 1024 * 1024, maxSnapshotBytes: 1024 * 1024 * 1024, timeoutMs: 60_000 });

/**
 * Snapshots this node receives at once (one per sending peer; a newer one from
 * the same peer replaces the older). Only a leader sends snapshots, so more
 * than one or two at once means leadership churn or garbage; the bound keeps
 * many tiny fake transfers from piling up where maxSnapshotBytes would not.
 */
export const MAX_INBOUND_SNAPSHOTS = 8;

/** A clean batch is acked when it is the first on its stream, then one in this many. Drops are always acked. */
export const CLEAN_ACK_EVERY_BATCHES = 64;

export interface RaftTransportOptions {
  readonly selfId: NodeId;
  readonly clusterId: string;
  readonly maxMessageBytes: number;
  /** Unsent bytes one peer stream may hold before it is cancelled (a frozen peer). */
  readonly maxBufferedBytes: number;
  readonly logger: Logger;
  /** host:port of a peer, or undefined when unknown (its messages are dropped). */
  readonly addressOf: (id: NodeId) => string | undefined;
  /** A well-formed message for this node. */
  readonly onMessage: (message: RaftMessage) => void;
  readonly onUnreachable: (id: NodeId) => void;
  readonly onSnapshotSent: (id: NodeId, ok: boolean) => void;
  /** Defaults to DEFAULT_SNAPSHOT_TRANSFER. */
  readonly snapshot?: SnapshotTransferOptions;
  /** Backoff bounds for re-opening a peer's stream, in milliseconds. */
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
}

export interface TransportStats {
  batchesSent: number;
  messagesSent: number;
  messagesDroppedSend: number;
  batchesReceived: number;
  messagesReceived: number;
  garbageDropped: number;
  streamsOpened: number;
  /** Snapshot transfers started to peers, and how they ended (acked ok / anything else). */
  snapshotsSent: number;
  snapshotsSendOk: number;
  snapshotsSendFailed: number;
  snapshotChunksSent: number;
  /** Snapshots received whole and handed to Raft; every chunk seen; transfers refused or dropped. */
  snapshotsReceived: number;
  snapshotChunksReceived: number;
  snapshotBytesReceived: number;
  snapshotsRefused: number;
}

interface WireBatch {
  clusterId: string;
  from: number;
  to: number;
  messages: Uint8Array[];
  sequence: number;
}

interface PeerLink {
  readonly id: NodeId;
  address: string;
  client: Client | null;
  stream: ClientDuplexStream<WireBatch, unknown> | null;
  sequence: number;
  backoffMs: number;
  retryAtMs: number;
}

interface OutboundSnapshot {
  readonly send: SnapshotSend;
  /** Tracked (STYLE.md H.9): settles when the transfer ended; never rejects. */
  readonly done: Promise<void>;
}

interface InboundSnapshot {
  readonly totalBytes: number;
  readonly abort: (refusal: SnapshotRefusal) => void;
}

export class GrpcRaftTransport {
  readonly stats: TransportStats = {
    batchesSent: 0,
    messagesSent: 0,
    messagesDroppedSend: 0,
    batchesReceived: 0,
    messagesReceived: 0,
    garbageDropped: 0,
    streamsOpened: 0,
    snapshotsSent: 0,
    snapshotsSendOk: 0,
    snapshotsSendFailed: 0,
    snapshotChunksSent: 0,
    snapshotsReceived: 0,
    snapshotChunksReceived: 0,
    snapshotBytesReceived: 0,
    snapshotsRefused: 0,
  };
  private readonly peers = new Map<NodeId, PeerLink>();
  private readonly inbound = new Set<ServerDuplexStream<unknown, unknown>>();
  /** At most one snapshot in flight per peer, each way. */
  private readonly outboundSnapshots = new Map<NodeId, OutboundSnapshot>();
  private readonly inboundSnapshots = new Map<NodeId, InboundSnapshot>();
  private readonly snapshotOptions: SnapshotTransferOptions;
  private readonly minBackoffMs: number;
  private readonly maxBackoffMs: number;
  private closed = false;

  constructor(private readonly options: RaftTransportOptions) {
    this.minBackoffMs = options.minBackoffMs ?? 20;
    this.maxBackoffMs = options.maxBackoffMs ?? 1000;
    this.snapshotOptions = options.snapshot ?? DEFAULT_SNAPSHOT_TRANSFER;
    assert(this.minBackoffMs > 0 && this.maxBackoffMs >= this.minBackoffMs, 'transport backoff bounds');
    const snap = this.snapshotOptions;
    assert(Number.isSafeInteger(snap.chunkBytes) && snap.chunkBytes > 0 && snap.chunkBytes < options.maxMessageBytes, 'snapshot chunkBytes must fit a gRPC message');
    assert(Number.isSafeInteger(snap.maxSnapshotBytes) && snap.maxSnapshotBytes > 0 && snap.timeoutMs > 0, 'snapshot transfer bounds');
  }

  /** Server handlers for `fjord.v1.RaftTransport`. */
  handlers(): UntypedServiceImplementation {
    return {
      Stream: (call: ServerDuplexStream<unknown, unknown>) => this.serveStream(call),
      SendSnapshot: (call: ServerReadableStream<unknown, unknown>, callback: sendUnaryData<unknown>) => this.serveSnapshot(call, callback),
    };
  }

  /**
   * One inbound snapshot transfer: chunks are checked as they arrive
   * (snapshot-receiver.ts); the first violation answers the SnapshotAck with
   * its catalog code and drops the rest of the call. A complete snapshot is
   * stepped like a message from the Stream and then acked, so the sender's
   * ok means Raft here has it.
   */
  private serveSnapshot(call: ServerReadableStream<unknown, unknown>, callback: sendUnaryData<unknown>): void {
    const log = this.options.logger;
    const receiver = new SnapshotReceiver({ selfId: this.options.selfId, clusterId: this.options.clusterId });
    let answered = false;
    let slot: InboundSnapshot | null = null;
    const release = (): void => {
      clearTimeout(deadline);
      if (slot !== null && this.inboundSnapshots.get(receiver.sender) === slot) this.inboundSnapshots.delete(receiver.sender);
      slot = null;
    };
    /** null: the snapshot was delivered. */
    const answer = (refusal: SnapshotRefusal | null): void => {
      if (answered) return;
      answered = true;
      release();
      if (refusal !== null) {
        receiver.refuse(refusal);
        this.stats.snapshotsRefused++;
        log.info({ from: receiver.sender, code: refusal.code, reason: refusal.message, receivedBytes: receiver.received, chunks: receiver.chunksReceived }, 'raft snapshot refused');
      }
      callback(null, { errorCode: refusal?.code ?? '', errorMessage: refusal?.message ?? '', receivedBytes: receiver.received });
    };
    const deliver = (): void => {
      const finished = receiver.finish();
      if ('refusal' in finished) {
        answer(finished.refusal);
        return;
      }
      const problem = finished.message.type === 'InstallSnapshot' ? this.snapshotOptions.dataProblem?.(finished.message.snapshot.data) : undefined;
      if (problem !== undefined) {
        answer({ code: 'CORRUPT_MESSAGE', message: `snapshot data: ${problem}` });
        return;
      }
      this.stats.snapshotsReceived++;
      this.stats.snapshotBytesReceived += receiver.received;
      log.info({ from: receiver.sender, bytes: receiver.received, chunks: receiver.chunksReceived }, 'raft snapshot received');
      if (!this.closed) this.options.onMessage(finished.message);
      answer(null);
    };
    const deadline = setTimeout(() => answer({ code: 'REQUEST_TIMED_OUT', message: `snapshot transfer not complete after ${this.snapshotOptions.timeoutMs} ms` }), this.snapshotOptions.timeoutMs);
    call.on('data', (raw: unknown) => {
      if (answered) return;
      this.stats.snapshotChunksReceived++;
      const outcome = receiver.accept(raw);
      switch (outcome.kind) {
        case 'refused':
          answer(outcome.refusal);
          return;
        case 'more':
          return;
        case 'complete':
          deliver();
          return;
        case 'header': {
          const { from, totalBytes } = outcome.header;
          // A newer snapshot from the same peer replaces the older one (the sender cancelled it).
          this.inboundSnapshots.get(from)?.abort({ code: 'INVALID_REQUEST', message: 'superseded by a newer snapshot from the same peer' });
          if (this.inboundSnapshots.size >= MAX_INBOUND_SNAPSHOTS) {
            answer({ code: 'COORDINATOR_NOT_AVAILABLE', message: `${this.inboundSnapshots.size} snapshots already being received` });
            return;
          }
          let inFlightBytes = 0;
          for (const other of this.inboundSnapshots.values()) inFlightBytes += other.totalBytes;
          if (inFlightBytes + totalBytes > this.snapshotOptions.maxSnapshotBytes) {
            answer({ code: 'MESSAGE_TOO_LARGE', message: `snapshot of ${totalBytes} bytes (${inFlightBytes} more being received) exceeds maxSnapshotBytes ${this.snapshotOptions.maxSnapshotBytes}` });
            return;
          }
          slot = { totalBytes, abort: (refusal) => answer(refusal) };
          this.inboundSnapshots.set(from, slot);
          if (outcome.complete) deliver();
          return;
        }
      }
    });
    call.on('end', () => {
      // A half-close before the last chunk: truncated (finish() refuses it).
      if (!answered) deliver();
    });
    const dropped = (): void => {
      // The sender cancelled or the connection broke: there is no one to answer.
      if (answered) return;
      answered = true;
      release();
      receiver.refuse({ code: 'NETWORK_EXCEPTION', message: 'snapshot call cancelled' });
      this.stats.snapshotsRefused++;
      log.debug({ from: receiver.sender, receivedBytes: receiver.received }, 'raft snapshot call dropped');
    };
    call.on('cancelled', dropped);
    call.on('error', dropped);
  }

  private serveStream(call: ServerDuplexStream<unknown, unknown>): void {
    this.inbound.add(call);
    const log = this.options.logger;
    let accepted = 0;
    call.on('data', (raw: unknown) => {
      this.stats.batchesReceived++;
      const batch = raw as Partial<WireBatch> | null;
      const sequence = typeof batch?.sequence === 'string' || typeof batch?.sequence === 'number' ? batch.sequence : '0';
      if (batch === null || typeof batch !== 'object' || batch.clusterId !== this.options.clusterId || batch.to !== this.options.selfId || !Array.isArray(batch.messages)) {
        this.stats.garbageDropped++;
        log.debug({ from: batch?.from, clusterId: batch?.clusterId, to: batch?.to }, 'raft batch dropped');
        call.write({ sequence, errorCode: 'INVALID_REQUEST', errorMessage: 'wrong cluster id or recipient' });
        return;
      }
      let dropped = 0;
      for (const bytes of batch.messages) {
        if (!(bytes instanceof Uint8Array)) {
          dropped++;
          continue;
        }
        const decoded = decodeRaftMessage(bytes, this.options.selfId);
        if ('problem' in decoded) {
          dropped++;
          log.debug({ from: batch.from, problem: decoded.problem }, 'raft message dropped');
          continue;
        }
        if (decoded.message.type === 'InstallSnapshot') {
          // Snapshots travel on SendSnapshot only, where their data is checked before Raft sees it.
          dropped++;
          log.debug({ from: batch.from }, 'inline raft snapshot dropped');
          continue;
        }
        if (decoded.message.from !== batch.from) {
          dropped++;
          continue;
        }
        this.stats.messagesReceived++;
        this.options.onMessage(decoded.message);
      }
      this.stats.garbageDropped += dropped;
      if (dropped > 0) {
        call.write({ sequence, errorCode: 'CORRUPT_MESSAGE', errorMessage: `${dropped} message(s) dropped` });
      } else if (accepted++ % CLEAN_ACK_EVERY_BATCHES === 0) {
        // Clean batches are acked sparsely: the sender uses an ack only to learn the
        // link works, and one ack message per batch was a third of all the messages
        // (and wake-ups) a write caused between the nodes.
        call.write({ sequence, errorCode: '', errorMessage: '' });
      }
    });
    const done = (): void => {
      this.inbound.delete(call);
    };
    call.on('end', () => {
      done();
      call.end();
    });
    call.on('error', done);
    call.on('close', done);
  }

  /** Sends one Ready's messages: one batch per peer. Never throws for network trouble. */
  send(messages: readonly RaftMessage[]): void {
    if (this.closed || messages.length === 0) return;
    const byPeer = new Map<NodeId, RaftMessage[]>();
    for (const m of messages) {
      const list = byPeer.get(m.to);
      if (list === undefined) byPeer.set(m.to, [m]);
      else list.push(m);
    }
    const nowMs = Date.now();
    for (const [to, all] of byPeer) {
      const list: RaftMessage[] = [];
      for (const m of all) {
        if (m.type === 'InstallSnapshot') this.sendSnapshot(m);
        else list.push(m);
      }
      if (list.length === 0) continue;
      const stream = this.streamFor(to, nowMs);
      if (stream === null) {
        this.dropped(to, list);
        continue;
      }
      const link = this.peers.get(to) as PeerLink;
      link.sequence++;
      const encoded = list.map(encodeRaftMessage);
      this.stats.batchesSent++;
      this.stats.messagesSent += list.length;
      stream.write({ clusterId: this.options.clusterId, from: this.options.selfId, to, messages: encoded, sequence: link.sequence });
      if (stream.writableLength > this.options.maxBufferedBytes) {
        this.options.logger.info({ peer: to, bufferedBytes: stream.writableLength }, 'raft stream backed up; reconnecting');
        this.resetLink(link, nowMs);
      }
    }
  }

  private dropped(to: NodeId, list: readonly RaftMessage[]): void {
    this.stats.messagesDroppedSend += list.length;
    this.options.onUnreachable(to);
  }

  /** Starts a chunked transfer (snapshot-sender.ts); its outcome reaches Raft through onSnapshotSent. */
  private sendSnapshot(m: InstallSnapshotMsg): void {
    const to = m.to;
    const address = this.options.addressOf(to);
    // A newer snapshot for the peer replaces the one in flight: only the newer reports.
    const previous = this.outboundSnapshots.get(to);
    if (previous !== undefined) {
      this.outboundSnapshots.delete(to);
      previous.send.cancel();
    }
    if (address === undefined) {
      this.stats.snapshotsSendFailed++;
      this.options.onSnapshotSent(to, false);
      return;
    }
    const send = new SnapshotSend(m, {
      clusterId: this.options.clusterId,
      selfId: this.options.selfId,
      address,
      chunkBytes: this.snapshotOptions.chunkBytes,
      timeoutMs: this.snapshotOptions.timeoutMs,
      channelOptions: peerChannelOptions(this.options.maxMessageBytes),
    });
    this.stats.snapshotsSent++;
    this.options.logger.info({ peer: to, index: m.snapshot.meta.index, term: m.snapshot.meta.term, bytes: m.snapshot.data.byteLength }, 'raft snapshot sending');
    const done = send.run().then(
      (result) => this.snapshotSent(send, result),
      (err: unknown) => {
        // run() resolves on every network outcome; a rejection is a bug in this process.
        this.options.logger.error({ peer: to, err: err instanceof Error ? err.message : String(err) }, 'raft snapshot send failed unexpectedly');
        this.snapshotSent(send, { ok: false, errorCode: 'UNKNOWN_SERVER_ERROR', errorMessage: String(err), bytes: 0, chunks: 0, elapsedMs: 0 });
      },
    );
    this.outboundSnapshots.set(to, { send, done });
  }

  private snapshotSent(send: SnapshotSend, result: SnapshotSendResult): void {
    const to = send.peer;
    this.stats.snapshotChunksSent += result.chunks;
    // Superseded by a newer snapshot, or the transport closed: nothing to report.
    if (this.outboundSnapshots.get(to)?.send !== send) return;
    this.outboundSnapshots.delete(to);
    if (result.ok) this.stats.snapshotsSendOk++;
    else this.stats.snapshotsSendFailed++;
    const fields = { peer: to, ok: result.ok, bytes: result.bytes, chunks: result.chunks, elapsedMs: result.elapsedMs, code: result.errorCode, reason: result.errorMessage };
    if (result.ok) this.options.logger.info(fields, 'raft snapshot sent');
    else this.options.logger.warn(fields, 'raft snapshot not sent');
    if (!this.closed) this.options.onSnapshotSent(to, result.ok);
  }

  private streamFor(to: NodeId, nowMs: number): ClientDuplexStream<WireBatch, unknown> | null {
    const address = this.options.addressOf(to);
    if (address === undefined) return null;
    let link = this.peers.get(to);
    if (link !== undefined && link.address !== address) {
      this.resetLink(link, nowMs);
      link.client?.close();
      link.client = null;
      link.address = address;
    }
    if (link === undefined) {
      link = { id: to, address, client: null, stream: null, sequence: 0, backoffMs: this.minBackoffMs, retryAtMs: 0 };
      this.peers.set(to, link);
    }
    if (link.stream !== null) return link.stream;
    if (nowMs < link.retryAtMs) return null;
    if (link.client === null) {
      const ctor = loadFjordGrpc().raftTransport;
      link.client = new ctor(address, credentials.createInsecure(), peerChannelOptions(this.options.maxMessageBytes));
    }
    const client = link.client as Client & { Stream: (md?: Metadata) => ClientDuplexStream<WireBatch, unknown> };
    const stream = client.Stream(new Metadata());
    this.stats.streamsOpened++;
    link.stream = stream;
    const current = link;
    stream.on('data', () => {
      // An ack: the link works.
      current.backoffMs = this.minBackoffMs;
    });
    stream.on('error', (err: unknown) => {
      if (current.stream !== stream) return;
      this.options.logger.debug({ peer: to, err: err instanceof Error ? err.message : String(err) }, 'raft stream failed');
      this.resetLink(current, Date.now());
      this.options.onUnreachable(to);
    });
    stream.on('end', () => {
      if (current.stream === stream) this.resetLink(current, Date.now());
    });
    return stream;
  }

  private resetLink(link: PeerLink, nowMs: number): void {
    const stream = link.stream;
    link.stream = null;
    link.retryAtMs = nowMs + link.backoffMs;
    link.backoffMs = Math.min(this.maxBackoffMs, link.backoffMs * 2);
    if (stream !== null) stream.cancel();
  }

  close(): void {
    this.closed = true;
    for (const link of this.peers.values()) {
      if (link.stream !== null) {
        const s = link.stream;
        link.stream = null;
        s.cancel();
      }
      link.client?.close();
      link.client = null;
    }
    for (const call of this.inbound) call.end();
    this.inbound.clear();
    for (const out of this.outboundSnapshots.values()) out.send.cancel();
    this.outboundSnapshots.clear();
    for (const slot of [...this.inboundSnapshots.values()]) slot.abort({ code: 'COORDINATOR_NOT_AVAILABLE', message: 'node stopping' });
    this.inboundSnapshots.clear();
  }
}

