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
 */
import { Metadata, credentials, type ChannelOptions, type Client, type ClientDuplexStream, type ServerDuplexStream, type ServerReadableStream, type UntypedServiceImplementation, type sendUnaryData } from '@grpc/grpc-js';
import { assert, grpcChannelOptions, loadFjordGrpc } from '@fjord/protocol';
import type { NodeId, RaftMessage } from '@fjord/raft';
import type { Logger } from 'pino';
import { decodeRaftMessage, encodeRaftMessage } from './raft-codec.js';

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

export class GrpcRaftTransport {
  readonly stats: TransportStats = { batchesSent: 0, messagesSent: 0, messagesDroppedSend: 0, batchesReceived: 0, messagesReceived: 0, garbageDropped: 0, streamsOpened: 0 };
  private readonly peers = new Map<NodeId, PeerLink>();
  private readonly inbound = new Set<ServerDuplexStream<unknown, unknown>>();
  private readonly minBackoffMs: number;
  private readonly maxBackoffMs: number;
  private closed = false;

  constructor(private readonly options: RaftTransportOptions) {
    this.minBackoffMs = options.minBackoffMs ?? 20;
    this.maxBackoffMs = options.maxBackoffMs ?? 1000;
    assert(this.minBackoffMs > 0 && this.maxBackoffMs >= this.minBackoffMs, 'transport backoff bounds');
  }

  /** Server handlers for `fjord.v1.RaftTransport`. */
  handlers(): UntypedServiceImplementation {
    return {
      Stream: (call: ServerDuplexStream<unknown, unknown>) => this.serveStream(call),
      SendSnapshot: (call: ServerReadableStream<unknown, unknown>, callback: sendUnaryData<unknown>) => {
        // Snapshots travel inline on Stream (coordinator metadata is small); this RPC is reserved.
        let answered = false;
        const answer = (): void => {
          if (answered) return;
          answered = true;
          callback(null, { errorCode: 'INVALID_REQUEST', errorMessage: 'snapshots travel on Stream in this version', receivedBytes: 0 });
        };
        call.on('data', () => undefined);
        call.on('end', answer);
        call.on('error', answer);
      },
    };
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
    for (const [to, list] of byPeer) {
      const stream = this.streamFor(to, nowMs);
      if (stream === null) {
        this.dropped(to, list);
        continue;
      }
      const link = this.peers.get(to) as PeerLink;
      link.sequence++;
      const encoded = list.map(encodeRaftMessage);
      const snapshots = list.filter((m) => m.type === 'InstallSnapshot').length;
      this.stats.batchesSent++;
      this.stats.messagesSent += list.length;
      stream.write({ clusterId: this.options.clusterId, from: this.options.selfId, to, messages: encoded, sequence: link.sequence }, (err: unknown) => {
        if (snapshots > 0) this.options.onSnapshotSent(to, err === undefined || err === null);
      });
      if (stream.writableLength > this.options.maxBufferedBytes) {
        this.options.logger.info({ peer: to, bufferedBytes: stream.writableLength }, 'raft stream backed up; reconnecting');
        this.resetLink(link, nowMs);
      }
    }
  }

  private dropped(to: NodeId, list: readonly RaftMessage[]): void {
    this.stats.messagesDroppedSend += list.length;
    this.options.onUnreachable(to);
    for (const m of list) if (m.type === 'InstallSnapshot') this.options.onSnapshotSent(to, false);
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
  }
}

