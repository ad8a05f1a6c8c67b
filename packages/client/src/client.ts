/**
 * The SDK's entry point: one connection pool and one metadata cache shared by
 * the producers, consumers and admin it creates.
 */
import { Admin } from './admin.js';
import { ConnectionPool } from './connection-pool.js';
import { Consumer, type ConsumerOptions } from './consumer/consumer.js';
import { MetadataCache } from './metadata-cache.js';
import { Producer, type ProducerOptions } from './producer/producer.js';

export interface FjordClientOptions {
  /** host:port of one or more brokers. */
  bootstrap: readonly string[];
  requestTimeoutMs?: number;
  maxMessageBytes?: number;
  maxConnections?: number;
}

export class FjordClient {
  readonly pool: ConnectionPool;
  readonly metadata: MetadataCache;
  private readonly requestTimeoutMs: number;
  private readonly producers = new Set<Producer>();

  constructor(options: FjordClientOptions) {
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.pool = new ConnectionPool({ maxMessageBytes: options.maxMessageBytes ?? 64 * 1024 * 1024, maxConnections: options.maxConnections ?? 1024 });
    this.metadata = new MetadataCache(this.pool, { bootstrap: options.bootstrap, requestTimeoutMs: this.requestTimeoutMs });
  }

  producer(options: ProducerOptions = {}): Producer {
    const p = new Producer(this.pool, this.metadata, { requestTimeoutMs: this.requestTimeoutMs, ...options });
    this.producers.add(p);
    return p;
  }

  consumer(options: ConsumerOptions = {}): Consumer {
    return new Consumer(this.pool, this.metadata, options);
  }

  admin(): Admin {
    return new Admin(this.pool, this.metadata, { requestTimeoutMs: this.requestTimeoutMs });
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.producers].map((p) => p.close()));
    this.pool.close();
  }
}
