/**
 * Admin calls: topic creation and deletion (any broker forwards them to the
 * coordinator), offsets and metadata.
 */
import { FjordError, errorFromFields, wireToSafeInteger } from '@fjord/protocol';
import type { ConnectionPool } from './connection-pool.js';
import type { MetadataCache, TopicInfo } from './metadata-cache.js';

export interface NewTopic {
  name: string;
  numPartitions?: number;
  replicationFactor?: number;
  configs?: Record<string, string>;
}

export class Admin {
  constructor(
    private readonly pool: ConnectionPool,
    private readonly metadata: MetadataCache,
    private readonly options: { requestTimeoutMs: number },
  ) {}

  /** Creates topics; per-topic errors come back as FjordErrors (null on success). */
  async createTopics(topics: readonly NewTopic[]): Promise<{ name: string; error: FjordError | null }[]> {
    const res = await this.pool.call<{ topics: { name: string; errorCode: string; errorMessage: string }[] }>(
      this.metadata.anyAddress(),
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
      this.options.requestTimeoutMs,
    );
    return res.topics.map((t) => ({ name: t.name, error: errorFromFields(t) }));
  }

  async createTopic(topic: NewTopic): Promise<void> {
    const [r] = await this.createTopics([topic]);
    if (r?.error !== null && r?.error !== undefined) throw r.error;
  }

  async deleteTopics(names: readonly string[]): Promise<{ name: string; error: FjordError | null }[]> {
    const res = await this.pool.call<{ topics: { name: string; errorCode: string; errorMessage: string }[] }>(
      this.metadata.anyAddress(),
      'deleteTopics',
      { topics: names.map((name) => ({ name, topicId: '' })) },
      this.options.requestTimeoutMs,
    );
    return res.topics.map((t) => ({ name: t.name, error: errorFromFields(t) }));
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
