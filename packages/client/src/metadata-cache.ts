/**
 * The client's view of the cluster (DESIGN.md "Clients"): brokers and each
 * partition's leader and leader epoch, read from any broker's Metadata answer
 * and refreshed when a call says the view is stale (NOT_LEADER, a fenced or
 * unknown epoch, a dropped connection). Concurrent refreshes share one call.
 */
import { FjordError, errorFromFields, formatAddress, wireToSafeInteger } from '@fjord/protocol';
import type { ConnectionPool } from './connection-pool.js';

export interface PartitionInfo {
  partition: number;
  leaderId: number;
  leaderEpoch: number;
  replicas: readonly number[];
  isr: readonly number[];
}

export interface TopicInfo {
  name: string;
  topicId: string;
  partitions: readonly PartitionInfo[];
}

interface WireMetadata {
  clusterId: string;
  metadataVersion: string;
  brokers: { brokerId: number; host: string; port: number; rack: string }[];
  topics: { name: string; topicId: string; errorCode: string; errorMessage: string; partitions: { partition: number; leaderId: number; leaderEpoch: number; replicas: number[]; isr: number[] }[] }[];
}

export class MetadataCache {
  private brokers = new Map<number, string>();
  private topics = new Map<string, TopicInfo>();
  private refreshing: Promise<void> | null = null;
  private version = -1;
  private bootstrapIndex = 0;

  constructor(
    private readonly pool: ConnectionPool,
    private readonly options: { bootstrap: readonly string[]; requestTimeoutMs: number },
  ) {
    if (options.bootstrap.length === 0) throw new FjordError('INVALID_CONFIG', 'at least one bootstrap broker is needed', { key: 'bootstrap' });
  }

  get metadataVersion(): number {
    return this.version;
  }

  brokerAddress(brokerId: number): string | undefined {
    return this.brokers.get(brokerId);
  }

  brokerIds(): number[] {
    return [...this.brokers.keys()];
  }

  topic(name: string): TopicInfo | undefined {
    return this.topics.get(name);
  }

  /** Any reachable broker address: a known broker first, then the bootstrap list, round robin. */
  anyAddress(): string {
    const known = [...this.brokers.values()];
    const all = [...known, ...this.options.bootstrap];
    const address = all[this.bootstrapIndex % all.length] as string;
    this.bootstrapIndex++;
    return address;
  }

  /** Refreshes the view (of every topic); concurrent callers share one request. */
  refresh(): Promise<void> {
    this.refreshing ??= this.doRefresh().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  /** The topic's partitions, refreshing once if unknown; UNKNOWN_TOPIC_OR_PARTITION if it does not exist. */
  async partitionsOf(topic: string): Promise<TopicInfo> {
    let info = this.topics.get(topic);
    if (info === undefined) {
      await this.refresh();
      info = this.topics.get(topic);
    }
    if (info === undefined) throw new FjordError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${topic} does not exist`, { topic });
    return info;
  }

  private async doRefresh(): Promise<void> {
    let lastError: FjordError | null = null;
    const attempts = this.brokers.size + this.options.bootstrap.length;
    for (let i = 0; i < attempts; i++) {
      const address = this.anyAddress();
      try {
        const res = await this.pool.call<WireMetadata>(address, 'metadata', { topics: [] }, this.options.requestTimeoutMs);
        const version = wireToSafeInteger(res.metadataVersion, 'metadataVersion');
        // Never go back to an older view than one already seen (a lagging broker).
        if (version < this.version) continue;
        this.version = version;
        this.brokers = new Map(res.brokers.map((b) => [b.brokerId, formatAddress(b.host, b.port)]));
        const topics = new Map<string, TopicInfo>();
        for (const t of res.topics) {
          if (errorFromFields(t) !== null) continue;
          topics.set(t.name, {
            name: t.name,
            topicId: t.topicId,
            partitions: t.partitions
              .map((p) => ({ partition: p.partition, leaderId: p.leaderId, leaderEpoch: p.leaderEpoch, replicas: p.replicas, isr: p.isr }))
              .sort((a, b) => a.partition - b.partition),
          });
        }
        this.topics = topics;
        return;
      } catch (e) {
        if (!(e instanceof FjordError)) throw e;
        lastError = e;
        this.pool.reset(address);
      }
    }
    throw lastError ?? new FjordError('BROKER_NOT_AVAILABLE', 'no broker answered a metadata request');
  }
}
