/**
 * One gRPC client per broker (grpc-js multiplexes calls over one HTTP/2
 * connection), created on first use with Fjord's channel options (message
 * limits and a 16 MiB flow-control window, TOOLCHAIN.md pitfalls 2-3).
 * Calls are promisified; a gRPC failure becomes a FjordError (fromServiceError).
 */
import { credentials, status, type Client } from '@grpc/grpc-js';
import { FjordError, assert, fromServiceError, grpcChannelOptions, loadFjordGrpc } from '@fjord/protocol';

export type BrokerRpc = 'produce' | 'fetch' | 'listOffsets' | 'metadata' | 'createTopics' | 'deleteTopics' | 'initProducerId' | 'offsetForLeaderEpoch';

type Unary = (req: unknown, options: { deadline: number }, cb: (err: Error | null, res?: unknown) => void) => void;
type BrokerClient = Client & Record<BrokerRpc, Unary>;

export interface ConnectionPoolOptions {
  maxMessageBytes: number;
  /** Most brokers connected at once (a bound on sockets). */
  maxConnections: number;
}

/**
 * A gRPC error -> FjordError. A call the server cut without a Fjord code
 * (CANCELLED: the broker shut down or died mid-call) is a network failure,
 * retriable: the outcome is unknown, and idempotence makes the retry safe.
 */
function classify(err: Error): FjordError {
  const e = fromServiceError(err);
  if (e.code === 'UNKNOWN_SERVER_ERROR' && e.details['grpcStatus'] === status.CANCELLED && e.details['wireCode'] === undefined) {
    return new FjordError('NETWORK_EXCEPTION', `call cut by the server: ${e.detail}`, { grpcStatus: status.CANCELLED }, { cause: err });
  }
  return e;
}

export class ConnectionPool {
  private readonly clients = new Map<string, BrokerClient>();
  private closed = false;

  constructor(private readonly options: ConnectionPoolOptions) {
    assert(options.maxConnections > 0, 'maxConnections must be positive');
  }

  private client(address: string): BrokerClient {
    if (this.closed) throw new FjordError('NETWORK_EXCEPTION', 'the client is closed');
    let c = this.clients.get(address);
    if (c === undefined) {
      if (this.clients.size >= this.options.maxConnections) {
        const oldest = this.clients.keys().next().value as string;
        this.clients.get(oldest)?.close();
        this.clients.delete(oldest);
      }
      const ctor = loadFjordGrpc().broker;
      c = new ctor(address, credentials.createInsecure(), grpcChannelOptions(this.options.maxMessageBytes)) as unknown as BrokerClient;
      this.clients.set(address, c);
    }
    return c;
  }

  call<T>(address: string, rpc: BrokerRpc, request: unknown, timeoutMs: number): Promise<T> {
    let client: BrokerClient;
    try {
      client = this.client(address);
    } catch (e) {
      return Promise.reject(e as Error);
    }
    return new Promise<T>((resolve, reject) => {
      client[rpc].call(client, request, { deadline: Date.now() + timeoutMs }, (err, res) => {
        if (err !== null) reject(classify(err));
        else resolve(res as T);
      });
    });
  }

  /** Drop a broker's connection (after network errors), so the next call reconnects. */
  reset(address: string): void {
    this.clients.get(address)?.close();
    this.clients.delete(address);
  }

  close(): void {
    this.closed = true;
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
