/**
 * Admin calls: topic creation and deletion (any broker forwards them to the
 * coordinator), offsets and metadata.
 */
import { FjordError, errorFromFields, isFjordError, wireToSafeInteger } from '@fjord/protocol';
import type { ConnectionPool } from './connection-pool.js';
import type { MetadataCache, PartitionInfo, TopicInfo } from './metadata-cache.js';

export interface NewTopic {
  name: string;
  numPartitions?: number;
  replicationFactor?: number;
  configs?: Record<string, string>;
}

/** One partition as `describeTopic` reports it: placement plus the readable offset range. */
export interface PartitionDescription extends PartitionInfo {
  /** The log start offset, or null when the leader could not be asked (offline, or it answered an error). */
  earliestOffset: number | null;
  /** The high watermark (the next offset a consumer can read up to), or null as above. */
  latestOffset: number | null;
  /** Why the offsets are null. */
  offsetsError: FjordError | null;
}

export interface TopicDescription {
  name: string;
  topicId: string;
  partitions: readonly PartitionDescription[];
}

interface WireTopicMetadata {
  name: string;
  topicId: string;
  errorCode: string;
  errorMessage: string;
  partitions: PartitionInfo[];
}

export class Admin {
  constructor(
    private readonly pool: ConnectionPool,
    private readonly metadata: MetadataCache,
    private readonly options: { requestTimeoutMs: number },
  ) {}

  /**
   * A call any broker can answer, tried on each known broker and bootstrap
   * address in turn while the connection fails (NETWORK_EXCEPTION), as the
   * metadata refresh does: one dead address in --bootstrap must not fail the
   * call. A CreateTopics that reached a broker before its connection broke
   * can come back TOPIC_ALREADY_EXISTS from the next one; the caller sees it.
   */
  private async callAnyBroker<T>(rpc: 'metadata' | 'createTopics' | 'deleteTopics', request: unknown): Promise<T> {
    // anyAddress() goes round the known brokers and the bootstrap list: stop when it comes back to one already tried.
    const tried = new Set<string>();
    let lastError: FjordError | null = null;
    for (;;) {
      const address = this.metadata.anyAddress();
      if (tried.has(address)) break;
      tried.add(address);
      try {
        return await this.pool.call<T>(address, rpc, request, this.options.requestTimeoutMs);
      } catch (e) {
        if (!isFjordError(e, 'NETWORK_EXCEPTION')) throw e;
        lastError = e;
        this.pool.reset(address);
      }
    }
    throw lastError ?? new FjordError('BROKER_NOT_AVAILABLE', 'no broker address to call');
  }

  /** Creates topics; per-topic errors come back as FjordErrors (null on success). */
  async createTopics(topics: readonly NewTopic[]): Promise<{ name: string; error: FjordError | null }[]> {
    const res = await this.callAnyBroker<{ topics: { name: string; errorCode: string; errorMessage: string }[] }>(
      'createTopics',
      {
        topics: topics.map((t) => ({
          name: t.name,
          ...(t.numPartitions !== undefined ? { numPartitions: t.numPartitions } : {}),
          ...(t.replicationFactor !== undefined ? { replicationFactor: t.replicationFactor } : {}),
          assignments: [],
          configs: t.configs ?? {},
        })),
        validateOnly: false,
      },
    );
    return res.topics.map((t) => ({ name: t.name, error: errorFromFields(t) }));
  }

  async createTopic(topic: NewTopic): Promise<void> {
    const [r] = await this.createTopics([topic]);
    if (r?.error !== null && r?.error !== undefined) throw r.error;
  }

  async deleteTopics(names: readonly string[]): Promise<{ name: string; error: FjordError | null }[]> {
    const res = await this.callAnyBroker<{ topics: { name: string; errorCode: string; errorMessage: string }[] }>('deleteTopics', { topics: names.map((name) => ({ name, topicId: '' })) });
    return res.topics.map((t) => ({ name: t.name, error: errorFromFields(t) }));
  }

  /**
   * Every topic the answering broker knows, sorted by name, read with one
   * Metadata call (not from the cache, so a topic created or deleted by
   * another client a moment ago shows as the broker sees it).
   */
  async listTopics(): Promise<TopicInfo[]> {
    const res = await this.callAnyBroker<{ topics: WireTopicMetadata[] }>('metadata', { topics: [] });
    return res.topics
      .filter((t) => errorFromFields(t) === null)
      .map((t) => topicInfoOf(t))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /**
   * One topic's partitions (leader, leader epoch, replicas, ISR) and each
   * partition's earliest and latest offset from its leader. Throws
   * UNKNOWN_TOPIC_OR_PARTITION (or the broker's per-topic error) when the
   * topic is not there; a partition whose leader cannot answer keeps its
   * placement and reports why its offsets are missing.
   */
  async describeTopic(name: string): Promise<TopicDescription> {
    const res = await this.callAnyBroker<{ topics: WireTopicMetadata[] }>('metadata', { topics: [name] });
    const wire = res.topics.find((t) => t.name === name);
    if (wire === undefined) throw new FjordError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${name} does not exist`, { topic: name });
    const err = errorFromFields(wire);
    if (err !== null) throw err;
    const info = topicInfoOf(wire);
    // listOffset routes through the cache: make it at least as new as the answer above.
    await this.metadata.refresh();
    const partitions = await Promise.all(
      info.partitions.map(async (p): Promise<PartitionDescription> => {
        try {
          const [earliestOffset, latestOffset] = await Promise.all([this.listOffset(name, p.partition, 'earliest'), this.listOffset(name, p.partition, 'latest')]);
          return { ...p, earliestOffset, latestOffset, offsetsError: null };
        } catch (e) {
          if (!(e instanceof FjordError)) throw e;
          return { ...p, earliestOffset: null, latestOffset: null, offsetsError: e };
        }
      }),
    );
    return { name: info.name, topicId: info.topicId, partitions };
  }

  /** Refreshed metadata of one topic (UNKNOWN_TOPIC_OR_PARTITION if absent). */
  async topic(name: string): Promise<TopicInfo> {
    await this.metadata.refresh();
    return this.metadata.partitionsOf(name);
  }

  /** ListOffsets against the leader: -2 earliest, -1 latest (the HW), or a timestamp (-1 offset when none). */
  async listOffset(topic: string, partition: number, timestamp: number | 'earliest' | 'latest'): Promise<number> {
    const info = (await this.metadata.partitionsOf(topic)).partitions[partition];
    if (info === undefined) throw new FjordError('UNKNOWN_TOPIC_OR_PARTITION', `${topic} has no partition ${partition}`);
    const address = this.metadata.brokerAddress(info.leaderId);
    if (address === undefined) throw new FjordError('LEADER_NOT_AVAILABLE', `${topic}-${partition} has no leader now`);
    const ts = timestamp === 'earliest' ? -2 : timestamp === 'latest' ? -1 : timestamp;
    const res = await this.pool.call<{ topics: { partitions: { errorCode: string; errorMessage: string; offset: string }[] }[] }>(
      address,
      'listOffsets',
      { topics: [{ name: topic, partitions: [{ partition, timestamp: ts, currentLeaderEpoch: info.leaderEpoch }] }] },
      this.options.requestTimeoutMs,
    );
    const r = res.topics[0]?.partitions[0];
    if (r === undefined) throw new FjordError('UNKNOWN_SERVER_ERROR', 'empty ListOffsets answer');
    const err = errorFromFields(r);
    if (err !== null) throw err;
    return wireToSafeInteger(r.offset, 'offset');
  }
}

function topicInfoOf(t: WireTopicMetadata): TopicInfo {
  return {
    name: t.name,
    topicId: t.topicId,
    partitions: t.partitions
      .map((p) => ({ partition: p.partition, leaderId: p.leaderId, leaderEpoch: p.leaderEpoch, replicas: p.replicas, isr: p.isr }))
      .sort((a, b) => a.partition - b.partition),
  };
}
