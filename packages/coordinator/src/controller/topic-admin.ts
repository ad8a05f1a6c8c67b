/**
 * Request-level validation and planning for topic admin (CreateTopics,
 * CreatePartitions, DeleteTopics): the policy that belongs to the controller
 * before it proposes, in Kafka's order (ReplicationControlManager.createTopic):
 * name, existence, collision, counts or manual assignment, replication factor
 * against the live (unfenced) brokers, configs. Each returns the command to
 * propose or a typed error; nothing here changes state.
 *
 * Apply (metadata-state.ts) re-checks what protects the state's invariants;
 * these checks add what depends on policy and on the moment (live brokers).
 */
import { findCollidingTopic, hasCollisionChars, topicNameProblem } from '@fjord/protocol';
import { fail, ok, type CommandError, type Result } from '../result.js';
import { METADATA_LIMITS, type CreatePartitions, type CreateTopic, type DeleteTopic } from '../metadata-command.js';
import { applyCommand, canonicalTopicConfigs, isBrokerUnfenced, topicById, type MetadataState } from '../metadata-state.js';
import { assignReplicas, type PlacementBroker } from './placement.js';

export interface CreateTopicRequest {
  readonly name: string;
  /** Absent (undefined or null): the default. */
  readonly partitionCount?: number | null;
  readonly replicationFactor?: number | null;
  /** Manual placement: replicas per partition. Excludes partitionCount and replicationFactor. */
  readonly assignment?: readonly (readonly number[])[] | null;
  readonly configs?: Readonly<Record<string, string>>;
}

export interface TopicDefaults {
  readonly partitionCount: number;
  readonly replicationFactor: number;
}

/** Where round-robin placement starts; draw both from an injected Rng (Kafka draws them at random). */
export interface PlacementSeed {
  readonly startIndex: number;
  readonly replicaShift: number;
}

export function liveBrokers(metadata: MetadataState): PlacementBroker[] {
  return [...metadata.brokers.values()].filter((b) => !b.fenced).map((b) => ({ brokerId: b.brokerId, rack: b.rack }));
}

function checkManualAssignment(metadata: MetadataState, assignment: readonly (readonly number[])[], replicationFactor: number): Result<number[][]> {
  for (const [i, replicas] of assignment.entries()) {
    const bad = (why: string): Result<number[][]> => fail('INVALID_REPLICA_ASSIGNMENT', `partition ${i}: ${why}`);
    if (replicas.length === 0) return bad('no replicas');
    if (replicas.length !== replicationFactor) return bad(`${replicas.length} replicas where the others have ${replicationFactor}`);
    if (replicas.length > METADATA_LIMITS.maxReplicationFactor) return bad(`more than ${METADATA_LIMITS.maxReplicationFactor} replicas`);
    if (new Set(replicas).size !== replicas.length) return bad(`duplicate replicas ${JSON.stringify(replicas)}`);
    for (const id of replicas) {
      if (!metadata.brokers.has(id)) return bad(`broker ${id} is not registered`);
      if (!isBrokerUnfenced(metadata, id)) return bad(`broker ${id} is fenced`);
    }
  }
  return ok(assignment.map((r) => [...r]));
}

export function planCreateTopic(args: {
  readonly metadata: MetadataState;
  readonly request: CreateTopicRequest;
  readonly defaults: TopicDefaults;
  readonly topicId: string;
  readonly placement: PlacementSeed;
}): Result<CreateTopic> {
  const { metadata, request, defaults, topicId } = args;
  const problem = topicNameProblem(request.name);
  if (problem !== null) return fail('INVALID_TOPIC', `${JSON.stringify(request.name.slice(0, 300))}: ${problem}`);
  if (metadata.topics.has(request.name)) return fail('TOPIC_ALREADY_EXISTS', `topic ${request.name} already exists`);
  const collides = hasCollisionChars(request.name) ? findCollidingTopic(request.name, metadata.topics.keys()) : undefined;
  if (collides !== undefined) {
    return fail('INVALID_TOPIC', `topic ${request.name} collides with existing topic ${collides}: '.' and '_' are the same in metric names`);
  }
  if (metadata.topicNamesById.has(topicId)) return fail('INVALID_REQUEST', `topic id ${topicId} is already in use`);

  let assignment: number[][];
  const manual = request.assignment ?? null;
  if (manual !== null && manual.length > 0) {
    if ((request.partitionCount ?? null) !== null || (request.replicationFactor ?? null) !== null) {
      return fail('INVALID_REQUEST', 'give either a manual assignment or a partition count and replication factor, not both');
    }
    if (manual.length > METADATA_LIMITS.maxPartitionsPerTopic) {
      return fail('INVALID_PARTITIONS', `${manual.length} partitions, at most ${METADATA_LIMITS.maxPartitionsPerTopic}`);
    }
    const checked = checkManualAssignment(metadata, manual, manual[0]?.length ?? 0);
    if (!checked.ok) return checked;
    assignment = checked.value;
  } else {
    const partitionCount = request.partitionCount ?? defaults.partitionCount;
    const replicationFactor = request.replicationFactor ?? defaults.replicationFactor;
    if (!Number.isSafeInteger(partitionCount) || partitionCount < 1 || partitionCount > METADATA_LIMITS.maxPartitionsPerTopic) {
      return fail('INVALID_PARTITIONS', `${partitionCount} partitions, must be 1..${METADATA_LIMITS.maxPartitionsPerTopic}`);
    }
    if (!Number.isSafeInteger(replicationFactor) || replicationFactor < 1 || replicationFactor > METADATA_LIMITS.maxReplicationFactor) {
      return fail('INVALID_REPLICATION_FACTOR', `replication factor ${replicationFactor}, must be 1..${METADATA_LIMITS.maxReplicationFactor}`);
    }
    const live = liveBrokers(metadata);
    if (replicationFactor > live.length) {
      return fail('INVALID_REPLICATION_FACTOR', `replication factor ${replicationFactor} is larger than the ${live.length} live brokers`);
    }
    const placed = assignReplicas({ brokers: live, partitionCount, replicationFactor, ...args.placement });
    if (!placed.ok) return placed;
    assignment = placed.value;
  }

  const configs = canonicalTopicConfigs(request.configs ?? {});
  if (!configs.ok) return configs;
  return ok({ kind: 'CreateTopic', name: request.name, topicId, assignment, configs: configs.value });
}

export interface CreatePartitionsRequest {
  readonly name: string;
  /** The new total. */
  readonly count: number;
  /** Manual placement of the new partitions only. */
  readonly assignment?: readonly (readonly number[])[] | null;
}

export function planCreatePartitions(args: {
  readonly metadata: MetadataState;
  readonly request: CreatePartitionsRequest;
  readonly placement: PlacementSeed;
}): Result<CreatePartitions> {
  const { metadata, request } = args;
  const topic = metadata.topics.get(request.name);
  if (topic === undefined) return fail('UNKNOWN_TOPIC_OR_PARTITION', `no topic ${request.name}`);
  const current = topic.partitions.length;
  if (!Number.isSafeInteger(request.count) || request.count <= current) {
    return fail('INVALID_PARTITIONS', `topic ${request.name} has ${current} partitions; the new count ${request.count} must be larger`);
  }
  if (request.count > METADATA_LIMITS.maxPartitionsPerTopic) {
    return fail('INVALID_PARTITIONS', `${request.count} partitions, at most ${METADATA_LIMITS.maxPartitionsPerTopic}`);
  }
  const rf = topic.partitions[0]?.replicas.length ?? 1;
  const manual = request.assignment ?? null;
  if (manual !== null && manual.length > 0) {
    if (manual.length !== request.count - current) {
      return fail('INVALID_REPLICA_ASSIGNMENT', `${manual.length} assignments for ${request.count - current} new partitions`);
    }
    const checked = checkManualAssignment(metadata, manual, rf);
    if (!checked.ok) return checked;
    return ok({ kind: 'CreatePartitions', topicId: topic.topicId, assignment: checked.value });
  }
  const live = liveBrokers(metadata);
  if (rf > live.length) return fail('INVALID_REPLICATION_FACTOR', `replication factor ${rf} is larger than the ${live.length} live brokers`);
  const placed = assignReplicas({
    brokers: live,
    partitionCount: request.count - current,
    replicationFactor: rf,
    startPartitionId: current,
    ...args.placement,
  });
  if (!placed.ok) return placed;
  return ok({ kind: 'CreatePartitions', topicId: topic.topicId, assignment: placed.value });
}

/** By name, by id, or both (then they must agree). */
export function planDeleteTopic(metadata: MetadataState, ref: { readonly name?: string | null; readonly topicId?: string | null }): Result<DeleteTopic> {
  const name = ref.name ?? '';
  const id = ref.topicId ?? '';
  if (name === '' && id === '') return fail('INVALID_REQUEST', 'name a topic by name or id');
  const topic = name !== '' ? metadata.topics.get(name) : topicById(metadata, id);
  if (topic === undefined || (id !== '' && topic.topicId !== id)) {
    return fail('UNKNOWN_TOPIC_OR_PARTITION', `no topic ${name !== '' ? name : ''}${id !== '' ? ` with id ${id}` : ''}`);
  }
  return ok({ kind: 'DeleteTopic', name: topic.name, topicId: topic.topicId });
}

/** Bound on the items of one admin request (STYLE.md H.2); the service refuses larger requests whole. */
export const MAX_ADMIN_BATCH_ITEMS = 10_000;

export interface PlannedItem<C> {
  readonly name: string;
  readonly command: C | null;
  readonly error: CommandError | null;
}

/**
 * Plans a whole CreateTopics request, item by item. Each accepted item is
 * applied to a scratch copy of the state, so later items see earlier ones
 * (two items colliding or exceeding limits together are caught here, with a
 * per-item error), and a name given twice fails for every occurrence
 * (Kafka's rule). Topic ids and placement seeds are drawn per item by the
 * caller's functions (an injected Rng).
 */
export function planCreateTopics(args: {
  readonly metadata: MetadataState;
  readonly requests: readonly CreateTopicRequest[];
  readonly defaults: TopicDefaults;
  readonly nextTopicId: () => string;
  readonly nextPlacement: () => PlacementSeed;
}): PlannedItem<CreateTopic>[] {
  const counts = new Map<string, number>();
  for (const r of args.requests) counts.set(r.name, (counts.get(r.name) ?? 0) + 1);
  let scratch = args.metadata;
  return args.requests.map((request) => {
    if ((counts.get(request.name) ?? 0) > 1) {
      return { name: request.name, command: null, error: { code: 'INVALID_REQUEST', message: `topic ${request.name} appears more than once in the request` } };
    }
    const planned = planCreateTopic({ metadata: scratch, request, defaults: args.defaults, topicId: args.nextTopicId(), placement: args.nextPlacement() });
    if (!planned.ok) return { name: request.name, command: null, error: planned.error };
    const applied = applyCommand(scratch, planned.value);
    if (!applied.result.ok) return { name: request.name, command: null, error: applied.result.error };
    scratch = applied.state;
    return { name: request.name, command: planned.value, error: null };
  });
}

/** Plans a whole CreatePartitions request (duplicates fail for every occurrence, as in Kafka). */
export function planCreatePartitionsBatch(args: {
  readonly metadata: MetadataState;
  readonly requests: readonly CreatePartitionsRequest[];
  readonly nextPlacement: () => PlacementSeed;
}): PlannedItem<CreatePartitions>[] {
  const counts = new Map<string, number>();
  for (const r of args.requests) counts.set(r.name, (counts.get(r.name) ?? 0) + 1);
  return args.requests.map((request) => {
    if ((counts.get(request.name) ?? 0) > 1) {
      return { name: request.name, command: null, error: { code: 'INVALID_REQUEST', message: `topic ${request.name} appears more than once in the request` } };
    }
    const planned = planCreatePartitions({ metadata: args.metadata, request, placement: args.nextPlacement() });
    return planned.ok ? { name: request.name, command: planned.value, error: null } : { name: request.name, command: null, error: planned.error };
  });
}
