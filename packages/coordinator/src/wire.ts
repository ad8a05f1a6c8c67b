/**
 * Mapping between the state machine's plain data and the proto messages
 * (coordinator.proto, loaded with the options in proto.ts: camelCase fields,
 * int64 as strings on the way in, numbers accepted on the way out), and
 * between FjordError and gRPC status (STYLE.md D):
 * - per-item errors: `errorFields(error)` -> { errorCode, errorMessage };
 * - whole-request errors: `toServiceError(err)` -> a gRPC status with the
 *   catalog code in the trailing metadata key `fjord-error-code` (and the
 *   details as JSON in `fjord-error-details`); `fromServiceError` reverses it.
 *   A gRPC error without a Fjord code maps to a catalog code by status
 *   (UNAVAILABLE -> NETWORK_EXCEPTION, DEADLINE_EXCEEDED -> REQUEST_TIMED_OUT,
 *   anything else -> UNKNOWN_SERVER_ERROR, which is not retriable).
 */
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { FjordError, isErrorCode, type ErrorCode } from '@fjord/protocol';
import { messageDetail, type CommandError } from './result.js';
import type { BrokerState, MetadataState, PartitionState, TopicState } from './metadata-state.js';
import type { MetadataDelta } from './metadata-watch.js';

export const ERROR_CODE_METADATA_KEY = 'fjord-error-code';
export const ERROR_DETAILS_METADATA_KEY = 'fjord-error-details';

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

/** Per-item error fields of a batched response; empty strings on success. */
export function errorFields(error: CommandError | FjordError | null): { errorCode: string; errorMessage: string } {
  return error === null ? { errorCode: '', errorMessage: '' } : { errorCode: error.code, errorMessage: messageDetail(error.code, error.message) };
}

/** Per-item error fields -> FjordError, or null on success. An unknown code is UNKNOWN_SERVER_ERROR (not retriable). */
export function errorFromFields(fields: { errorCode: string; errorMessage: string }): FjordError | null {
  if (fields.errorCode === '') return null;
  const code: ErrorCode = isErrorCode(fields.errorCode) ? fields.errorCode : 'UNKNOWN_SERVER_ERROR';
  return new FjordError(code, fields.errorMessage === '' ? undefined : fields.errorMessage, code === fields.errorCode ? {} : { wireCode: fields.errorCode });
}

/** The gRPC status a whole-request failure travels with (the catalog code rides in metadata). */
export function grpcStatusFor(code: ErrorCode): status {
  switch (code) {
    case 'INVALID_REQUEST':
    case 'INVALID_CONFIG':
    case 'INVALID_TOPIC':
    case 'INVALID_PARTITIONS':
    case 'INVALID_REPLICATION_FACTOR':
    case 'INVALID_REPLICA_ASSIGNMENT':
      return status.INVALID_ARGUMENT;
    case 'RECORD_LIST_TOO_LARGE':
    case 'MESSAGE_TOO_LARGE':
      return status.RESOURCE_EXHAUSTED;
    case 'REQUEST_TIMED_OUT':
      return status.DEADLINE_EXCEEDED;
    case 'NOT_CONTROLLER':
    case 'RAFT_NOT_LEADER':
    case 'RAFT_PROPOSAL_DROPPED':
    case 'NETWORK_EXCEPTION':
    case 'COORDINATOR_NOT_AVAILABLE':
      return status.UNAVAILABLE;
    case 'STALE_BROKER_EPOCH':
    case 'FENCED_LEADER_EPOCH':
    case 'INVALID_UPDATE_VERSION':
    case 'POLICY_VIOLATION':
      return status.FAILED_PRECONDITION;
    case 'TOPIC_ALREADY_EXISTS':
      return status.ALREADY_EXISTS;
    case 'UNKNOWN_TOPIC_OR_PARTITION':
      return status.NOT_FOUND;
    case 'UNKNOWN_SERVER_ERROR':
      return status.INTERNAL;
    default:
      return status.UNKNOWN;
  }
}

/** A FjordError as a gRPC ServiceError (for a handler's callback or stream.destroy). */
export function toServiceError(err: FjordError): Partial<ServiceError> & { code: status; details: string; metadata: Metadata } {
  const metadata = new Metadata();
  metadata.set(ERROR_CODE_METADATA_KEY, err.code);
  if (Object.keys(err.details).length > 0) {
    let details: string;
    try {
      details = JSON.stringify(err.details);
    } catch {
      details = '{"unserializable":true}';
    }
    metadata.set(ERROR_DETAILS_METADATA_KEY, details);
  }
  return { name: 'FjordError', message: err.message, code: grpcStatusFor(err.code), details: messageDetail(err.code, err.message), metadata };
}

function isServiceError(e: unknown): e is ServiceError {
  return typeof e === 'object' && e !== null && 'code' in e && typeof (e as { code: unknown }).code === 'number' && 'metadata' in e;
}

/** A gRPC error from a call -> FjordError with the catalog code (STYLE.md D: unknown errors are not retriable). */
export function fromServiceError(e: unknown): FjordError {
  if (e instanceof FjordError) return e;
  if (!isServiceError(e)) return new FjordError('UNKNOWN_SERVER_ERROR', e instanceof Error ? e.message : String(e), {}, { cause: e });
  const raw = e.metadata instanceof Metadata ? e.metadata.get(ERROR_CODE_METADATA_KEY)[0] : undefined;
  const wireCode = typeof raw === 'string' ? raw : undefined;
  let details: Record<string, unknown> = {};
  const rawDetails = e.metadata instanceof Metadata ? e.metadata.get(ERROR_DETAILS_METADATA_KEY)[0] : undefined;
  if (typeof rawDetails === 'string') {
    try {
      const parsed: unknown = JSON.parse(rawDetails);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) details = parsed as Record<string, unknown>;
    } catch {
      details = {};
    }
  }
  const byStatus: ErrorCode = e.code === status.UNAVAILABLE ? 'NETWORK_EXCEPTION' : e.code === status.DEADLINE_EXCEEDED ? 'REQUEST_TIMED_OUT' : 'UNKNOWN_SERVER_ERROR';
  const code: ErrorCode = wireCode !== undefined && isErrorCode(wireCode) ? wireCode : byStatus;
  const detail = code === wireCode ? e.details : `gRPC ${status[e.code] ?? e.code}: ${e.details}`;
  return new FjordError(code, detail === '' ? undefined : detail, { ...details, grpcStatus: e.code }, { cause: e });
}
