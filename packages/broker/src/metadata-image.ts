/**
 * The broker's copy of the cluster metadata as plain data (what the
 * coordinator's watch stream delivers, or what a test supplies). The replica
 * manager acts on it; the Metadata RPC answers from it.
 */
export interface BrokerImage {
  brokerId: number;
  host: string;
  port: number;
  rack: string;
  /** The broker's incarnation epoch; -1 when unknown. */
  brokerEpoch: number;
  fenced: boolean;
}

export interface PartitionImage {
  partition: number;
  replicas: readonly number[];
  /** -1: offline. */
  leader: number;
  leaderEpoch: number;
  isr: readonly number[];
  partitionEpoch: number;
}

export interface TopicImage {
  name: string;
  topicId: string;
  /** Kafka's dotted topic settings as strings (validated with validateTopicConfig). */
  configs: Readonly<Record<string, string>>;
  partitions: readonly PartitionImage[];
}

export interface MetadataImage {
  clusterId: string;
  /** The coordinator metadata version this image reflects. */
  version: number;
  brokers: readonly BrokerImage[];
  topics: readonly TopicImage[];
}

export const EMPTY_METADATA_IMAGE: MetadataImage = Object.freeze({ clusterId: '', version: -1, brokers: [], topics: [] });

export function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}
