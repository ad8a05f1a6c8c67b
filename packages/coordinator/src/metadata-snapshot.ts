/**
 * Snapshots of the metadata state: what bounds the Raft log (the shell takes
 * one every `snapshotEveryEntries` applied entries) and what a watcher far
 * behind gets first. The snapshot is plain JSON-safe data, sorted (brokers by
 * id, topics by name), so two nodes with the same state produce byte-equal
 * snapshots. `fromSnapshot` trusts nothing: it checks shape, ranges and the
 * state's invariants, and answers INVALID_REQUEST instead of throwing.
 */
import { fail, ok, type Result } from './result.js';
import { METADATA_LIMITS as L, NO_LEADER, TOPIC_ID_PATTERN, type Endpoint } from './metadata-command.js';
import type { BrokerState, MetadataState, PartitionState, TopicState } from './metadata-state.js';
import { PersistentMap } from './persistent-map.js';
import { ShapeError, readArray, readBoolean, readInt, readIntArray, readObject, readString, readStringMap } from './json-reader.js';

export const SNAPSHOT_FORMAT_V1 = 1;

/** Upper bounds for decoding (far above any real cluster, low enough to stop garbage). */
const MAX_BROKERS = 100_000;
const MAX_TOPICS = 1_000_000;

export interface MetadataSnapshot {
  readonly format: typeof SNAPSHOT_FORMAT_V1;
  readonly version: number;
  readonly nextProducerId: number;
  readonly brokers: readonly BrokerState[];
  readonly topics: readonly TopicState[];
}

export function toSnapshot(state: MetadataState): MetadataSnapshot {
  return {
    format: SNAPSHOT_FORMAT_V1,
    version: state.version,
    nextProducerId: state.nextProducerId,
    brokers: [...state.brokers.values()].sort((a, b) => a.brokerId - b.brokerId),
    topics: [...state.topics.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
  };
}

export function fromSnapshot(value: unknown): Result<MetadataState> {
  let state: MetadataState;
  try {
    state = readSnapshot(value);
  } catch (e) {
    if (e instanceof ShapeError) return fail('INVALID_REQUEST', `malformed metadata snapshot: ${e.message}`);
    throw e;
  }
  const problems = checkInvariants(state);
  if (problems.length > 0) return fail('INVALID_REQUEST', `inconsistent metadata snapshot: ${problems.slice(0, 5).join('; ')}`);
  return ok(state);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encodeSnapshot(state: MetadataState): Uint8Array {
  return encoder.encode(JSON.stringify(toSnapshot(state)));
}

export function decodeSnapshot(bytes: Uint8Array): Result<MetadataState> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(bytes));
  } catch {
    return fail('INVALID_REQUEST', 'metadata snapshot is not valid UTF-8 JSON');
  }
  return fromSnapshot(parsed);
}

function readSnapshot(value: unknown): MetadataState {
  const o = readObject(value, 'snapshot', ['format', 'version', 'nextProducerId', 'brokers', 'topics']);
  if (o['format'] !== SNAPSHOT_FORMAT_V1) throw new ShapeError(`snapshot.format must be ${SNAPSHOT_FORMAT_V1}`);
  const brokers = new Map<number, BrokerState>();
  for (const [i, raw] of readArray(o['brokers'], 'snapshot.brokers', MAX_BROKERS).entries()) {
    const broker = readBroker(raw, `snapshot.brokers[${i}]`);
    if (brokers.has(broker.brokerId)) throw new ShapeError(`snapshot.brokers: broker ${broker.brokerId} appears twice`);
    brokers.set(broker.brokerId, broker);
  }
  const topics = new Map<string, TopicState>();
  const topicNamesById = new Map<string, string>();
  for (const [i, raw] of readArray(o['topics'], 'snapshot.topics', MAX_TOPICS).entries()) {
    const topic = readTopic(raw, `snapshot.topics[${i}]`);
    if (topics.has(topic.name)) throw new ShapeError(`snapshot.topics: topic ${topic.name} appears twice`);
    if (topicNamesById.has(topic.topicId)) throw new ShapeError(`snapshot.topics: topic id ${topic.topicId} appears twice`);
    topics.set(topic.name, topic);
    topicNamesById.set(topic.topicId, topic.name);
  }
  return {
    version: readInt(o['version'], 'snapshot.version', 0, Number.MAX_SAFE_INTEGER),
    nextProducerId: readInt(o['nextProducerId'], 'snapshot.nextProducerId', 0, Number.MAX_SAFE_INTEGER),
    brokers,
    topics: PersistentMap.from(topics),
    topicNamesById: PersistentMap.from(topicNamesById),
  };
}

function readEndpoint(value: unknown, path: string): Endpoint {
  const o = readObject(value, path, ['name', 'host', 'port']);
  return {
    name: readString(o['name'], `${path}.name`, 1, L.maxEndpointNameChars),
    host: readString(o['host'], `${path}.host`, 1, L.maxHostChars),
    port: readInt(o['port'], `${path}.port`, 1, 65_535),
  };
}

function readBroker(value: unknown, path: string): BrokerState {
  const o = readObject(value, path, ['brokerId', 'incarnationId', 'brokerEpoch', 'endpoints', 'rack', 'fenced']);
  return {
    brokerId: readInt(o['brokerId'], `${path}.brokerId`, 0, L.maxBrokerId),
    incarnationId: readString(o['incarnationId'], `${path}.incarnationId`, 1, L.maxIncarnationIdChars),
    brokerEpoch: readInt(o['brokerEpoch'], `${path}.brokerEpoch`, 0, Number.MAX_SAFE_INTEGER),
    endpoints: readArray(o['endpoints'], `${path}.endpoints`, L.maxEndpoints).map((e, i) => readEndpoint(e, `${path}.endpoints[${i}]`)),
    rack: o['rack'] === null ? null : readString(o['rack'], `${path}.rack`, 1, L.maxRackChars),
    fenced: readBoolean(o['fenced'], `${path}.fenced`),
  };
}

function readPartition(value: unknown, path: string): PartitionState {
  const o = readObject(value, path, ['partition', 'replicas', 'leader', 'leaderEpoch', 'isr', 'partitionEpoch']);
  return {
    partition: readInt(o['partition'], `${path}.partition`, 0, L.maxPartitionsPerTopic - 1),
    replicas: readIntArray(o['replicas'], `${path}.replicas`, L.maxReplicationFactor, 0, L.maxBrokerId),
    leader: readInt(o['leader'], `${path}.leader`, NO_LEADER, L.maxBrokerId),
    leaderEpoch: readInt(o['leaderEpoch'], `${path}.leaderEpoch`, 0, L.maxEpoch),
    isr: readIntArray(o['isr'], `${path}.isr`, L.maxReplicationFactor, 0, L.maxBrokerId),
    partitionEpoch: readInt(o['partitionEpoch'], `${path}.partitionEpoch`, 0, L.maxEpoch),
  };
}

function readTopic(value: unknown, path: string): TopicState {
  const o = readObject(value, path, ['name', 'topicId', 'configs', 'partitions']);
  const topicId = readString(o['topicId'], `${path}.topicId`, 36, 36);
  if (!TOPIC_ID_PATTERN.test(topicId)) throw new ShapeError(`${path}.topicId must be a lowercase UUID`);
  return {
    name: readString(o['name'], `${path}.name`, 1, L.maxTopicNameChars),
    topicId,
    configs: readStringMap(o['configs'], `${path}.configs`, L.maxConfigEntries, L.maxConfigKeyChars, L.maxConfigValueChars),
    partitions: readArray(o['partitions'], `${path}.partitions`, L.maxPartitionsPerTopic).map((p, i) => readPartition(p, `${path}.partitions[${i}]`)),
  };
}

/**
 * Every invariant of the metadata state, as a list of problems (empty when
 * consistent). Used by fromSnapshot and by the tests after every step.
 */
export function checkInvariants(state: MetadataState): string[] {
  const problems: string[] = [];
  if (!Number.isSafeInteger(state.version) || state.version < 0) problems.push(`version ${state.version} is not a non-negative safe integer`);
  if (!Number.isSafeInteger(state.nextProducerId) || state.nextProducerId < 0) problems.push(`nextProducerId ${state.nextProducerId} is invalid`);
  for (const [id, broker] of state.brokers) {
    if (broker.brokerId !== id) problems.push(`broker map key ${id} holds broker ${broker.brokerId}`);
    if (broker.brokerEpoch > state.version) problems.push(`broker ${id} epoch ${broker.brokerEpoch} is above the version ${state.version}`);
    if (new Set(broker.endpoints.map((e) => e.name)).size !== broker.endpoints.length) problems.push(`broker ${id} has duplicate endpoint names`);
  }
  if (state.topicNamesById.size !== state.topics.size) problems.push('topicNamesById and topics differ in size');
  for (const [name, topic] of state.topics) {
    if (topic.name !== name) problems.push(`topic map key ${name} holds topic ${topic.name}`);
    if (state.topicNamesById.get(topic.topicId) !== name) problems.push(`topic id ${topic.topicId} does not map to ${name}`);
    if (topic.partitions.length === 0) problems.push(`topic ${name} has no partitions`);
    const rf = topic.partitions[0]?.replicas.length;
    for (const [i, p] of topic.partitions.entries()) {
      const where = `${name}-${i}`;
      if (p.partition !== i) problems.push(`${where} holds partition ${p.partition}`);
      if (p.replicas.length === 0 || new Set(p.replicas).size !== p.replicas.length) problems.push(`${where}: replicas must be non-empty and distinct`);
      if (p.replicas.length !== rf) problems.push(`${where}: replication factor ${p.replicas.length}, topic has ${rf}`);
      if (new Set(p.isr).size !== p.isr.length || !p.isr.every((b) => p.replicas.includes(b))) problems.push(`${where}: ISR must be distinct replicas`);
      if (p.leader !== NO_LEADER && !p.isr.includes(p.leader)) problems.push(`${where}: leader ${p.leader} is not in the ISR`);
      // A partition is created with a leader (apply requires an unfenced replica); only an election takes it offline.
      if (p.leader === NO_LEADER && p.leaderEpoch === 0) problems.push(`${where}: offline without any election`);
      for (const b of p.replicas) if (!state.brokers.has(b)) problems.push(`${where}: replica ${b} is not a registered broker`);
    }
  }
  return problems;
}
