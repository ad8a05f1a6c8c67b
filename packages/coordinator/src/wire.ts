/**
 * Mapping between the state machine's plain data and the proto messages
 * (coordinator.proto, loaded by @fjord/protocol's loadFjordGrpc: camelCase
 * fields, int64 as strings on the way in, numbers accepted on the way out).
 * FjordError <-> gRPC status lives in @fjord/protocol (grpc-wire.ts), shared
 * with the broker (STYLE.md D):
 * - per-item errors: `errorFields(error)` -> { errorCode, errorMessage };
 * - whole-request errors: `toServiceError(err)` -> a gRPC status with the
 *   catalog code in the trailing metadata key `fjord-error-code` (and the
 *   details as JSON in `fjord-error-details`); `fromServiceError` reverses it.
 *   A gRPC error without a Fjord code maps to a catalog code by status
 *   (UNAVAILABLE -> NETWORK_EXCEPTION, DEADLINE_EXCEEDED -> REQUEST_TIMED_OUT,
 *   anything else -> UNKNOWN_SERVER_ERROR, which is not retriable).
 */
import type { BrokerState, MetadataState, PartitionState, TopicState } from './metadata-state.js';
import type { MetadataDelta } from './metadata-watch.js';


export interface WireEndpoint {
  name: string;
  host: string;
  port: number;
}
export interface WireBroker {
  brokerId: number;
  incarnationId: string;
  brokerEpoch: number;
  endpoints: WireEndpoint[];
  rack: string;
  fenced: boolean;
}
export interface WirePartition {
  partition: number;
  replicas: number[];
  leader: number;
  leaderEpoch: number;
  isr: number[];
  partitionEpoch: number;
  topicId: string;
  topicName: string;
}
export interface WireTopic {
  name: string;
  topicId: string;
  partitions: WirePartition[];
  configs: Record<string, string>;
  errorCode: string;
  errorMessage: string;
}
export interface WireImage {
  metadataVersion: number;
  brokers: WireBroker[];
  topics: WireTopic[];
}
export interface WireDelta {
  metadataVersion: number;
  brokers: WireBroker[];
  createdTopics: WireTopic[];
  deletedTopics: { name: string; topicId: string }[];
  partitions: WirePartition[];
}

export function brokerToWire(b: BrokerState): WireBroker {
  return {
    brokerId: b.brokerId,
    incarnationId: b.incarnationId,
    brokerEpoch: b.brokerEpoch,
    endpoints: b.endpoints.map((e) => ({ name: e.name, host: e.host, port: e.port })),
    rack: b.rack ?? '',
    fenced: b.fenced,
  };
}

export function partitionToWire(p: PartitionState, topic?: { readonly topicId: string; readonly topicName: string }): WirePartition {
  return {
    partition: p.partition,
    replicas: [...p.replicas],
    leader: p.leader,
    leaderEpoch: p.leaderEpoch,
    isr: [...p.isr],
    partitionEpoch: p.partitionEpoch,
    topicId: topic?.topicId ?? '',
    topicName: topic?.topicName ?? '',
  };
}

export function topicToWire(t: TopicState): WireTopic {
  return { name: t.name, topicId: t.topicId, partitions: t.partitions.map((p) => partitionToWire(p)), configs: { ...t.configs }, errorCode: '', errorMessage: '' };
}

export function unknownTopicToWire(name: string): WireTopic {
  return { name, topicId: '', partitions: [], configs: {}, errorCode: 'UNKNOWN_TOPIC_OR_PARTITION', errorMessage: `no topic ${name}` };
}

/** The whole state, or only the named topics (unknown names get a per-topic error). Brokers by id, topics by name. */
export function imageToWire(state: MetadataState, topicNames?: readonly string[]): WireImage {
  const brokers = [...state.brokers.values()].sort((a, b) => a.brokerId - b.brokerId).map(brokerToWire);
  const topics =
    topicNames === undefined || topicNames.length === 0
      ? [...state.topics.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map(topicToWire)
      : topicNames.map((name) => {
          const topic = state.topics.get(name);
          return topic === undefined ? unknownTopicToWire(name) : topicToWire(topic);
        });
  return { metadataVersion: state.version, brokers, topics };
}

export function deltaToWire(delta: MetadataDelta): WireDelta {
  return {
    metadataVersion: delta.version,
    brokers: delta.brokers.map(brokerToWire),
    createdTopics: delta.createdTopics.map(topicToWire),
    deletedTopics: delta.deletedTopics.map((t) => ({ name: t.name, topicId: t.topicId })),
    partitions: delta.partitions.map((c) => partitionToWire(c.state, c)),
  };
}
