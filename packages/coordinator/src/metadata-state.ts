/**
 * The replicated metadata state machine (DESIGN.md "The coordinator"): pure,
 * deterministic, no I/O. Every coordinator node applies the same committed
 * commands in the same order with `applyCommand` and holds the same state.
 *
 * - The state is plain immutable data. `applyCommand` returns a new state that
 *   shares everything it did not touch; on an invalid command it returns the
 *   very same state object and a typed error (STYLE.md D: operating errors
 *   change nothing). The topic tables are persistent maps (one bucket copied
 *   per change), so an ISR change costs microseconds even with 10,000 topics;
 *   a partition change copies its topic's partition array.
 * - `version` (the metadata version) is bumped by every command that changes
 *   something, and only then; watchers follow it (metadata-watch.ts, next).
 * - A broker's epoch is the metadata version its registration produced, so
 *   it is unique and increasing, like Kafka's broker epoch (the offset of the
 *   registration record in KRaft).
 * - Checks follow Kafka's ReplicationControlManager and ClusterControlManager
 *   (alterPartition's order: broker epoch, topic, leader epoch, leader,
 *   partition epoch, new ISR), so clients see Kafka's error codes.
 * - Request-level policy (name rules, replication factor versus live brokers,
 *   default configs) is the controller's job before it proposes
 *   (controller/create-topic.ts); apply re-checks what protects the state's
 *   invariants, so a bad command can never corrupt it.
 */
import {
  assert,
  assertNever,
  findCollidingTopic,
  hasCollisionChars,
  isFjordError,
  parseTopicConfigOverrides,
  topicConfigToStrings,
  topicNameProblem,
} from '@fjord/protocol';
import { commandErrorOf, fail, ok, type CommandError, type Result } from './result.js';
import { PersistentMap } from './persistent-map.js';
import {
  METADATA_LIMITS,
  NO_LEADER,
  type AllocateProducerIds,
  type AlterPartition,
  type CreatePartitions,
  type CreateTopic,
  type DeleteTopic,
  type ElectLeader,
  type Endpoint,
  type FenceBroker,
  type MetadataCommand,
  type RegisterBroker,
  type ShrinkIsr,
  type UnfenceBroker,
} from './metadata-command.js';

export interface BrokerState {
  readonly brokerId: number;
  readonly incarnationId: string;
  readonly brokerEpoch: number;
  readonly endpoints: readonly Endpoint[];
  readonly rack: string | null;
  /** A fenced broker may not lead a partition nor join an ISR. */
  readonly fenced: boolean;
}

export interface PartitionState {
  readonly partition: number;
  /** Preferred leader first. */
  readonly replicas: readonly number[];
  /** NO_LEADER (-1) when offline. */
  readonly leader: number;
  /** Bumped on every leader change (including to and from offline). */
  readonly leaderEpoch: number;
  readonly isr: readonly number[];
  /** Bumped on every change of leader or ISR (Kafka's partition epoch, KIP-497). */
  readonly partitionEpoch: number;
}

export interface TopicState {
  readonly name: string;
  readonly topicId: string;
  /** Explicit overrides only, in canonical string form (topicConfigToStrings). */
  readonly configs: Readonly<Record<string, string>>;
  readonly partitions: readonly PartitionState[];
}

export interface MetadataState {
  readonly version: number;
  readonly brokers: ReadonlyMap<number, BrokerState>;
  /** By name. Immutable with cheap updates (persistent-map.ts). */
  readonly topics: PersistentMap<TopicState>;
  /** topicId -> name, kept in step with `topics`. */
  readonly topicNamesById: PersistentMap<string>;
  /** The first producer id of the next block. */
  readonly nextProducerId: number;
}

export const EMPTY_METADATA: MetadataState = Object.freeze({
  version: 0,
  brokers: new Map<number, BrokerState>(),
  topics: PersistentMap.empty<TopicState>(),
  topicNamesById: PersistentMap.empty<string>(),
  nextProducerId: 0,
});

/** What a successful command touched: watchers turn this into a delta of full records. */
export interface MetadataChanges {
  readonly brokers: readonly number[];
  readonly createdTopics: readonly string[];
  readonly deletedTopics: readonly { readonly name: string; readonly topicId: string }[];
  readonly partitions: readonly { readonly topicId: string; readonly partition: number }[];
}

export type CommandOutput =
  | { readonly kind: 'RegisterBroker'; readonly brokerEpoch: number }
  | { readonly kind: 'CreateTopic'; readonly topicId: string }
  | { readonly kind: 'AlterPartition' | 'ElectLeader' | 'ShrinkIsr'; readonly partition: PartitionState }
  | { readonly kind: 'AllocateProducerIds'; readonly firstProducerId: number; readonly count: number }
  | { readonly kind: 'FenceBroker' | 'UnfenceBroker' | 'DeleteTopic' | 'CreatePartitions' };

export type ApplyResult =
  | { readonly ok: true; readonly version: number; readonly output: CommandOutput; readonly changes: MetadataChanges }
  | { readonly ok: false; readonly error: CommandError };

export interface Applied {
  readonly state: MetadataState;
  readonly result: ApplyResult;
}

const NO_CHANGES: MetadataChanges = Object.freeze({ brokers: [], createdTopics: [], deletedTopics: [], partitions: [] });

/** An intermediate outcome: the next state (without the version bump) or an error. */
type Step = Result<{ state: MetadataState; output: CommandOutput; changes: MetadataChanges; changed: boolean }>;

/**
 * Applies one committed command. Deterministic: the outcome depends only on
 * (state, command). Invalid commands return the same `state` object and a
 * typed error.
 */
export function applyCommand(state: MetadataState, command: MetadataCommand): Applied {
  const step = dispatch(state, command);
  if (!step.ok) return { state, result: step };
  const { output, changes, changed } = step.value;
  if (!changed) return { state, result: { ok: true, version: state.version, output, changes: NO_CHANGES } };
  const next: MetadataState = { ...step.value.state, version: state.version + 1 };
  assert(Number.isSafeInteger(next.version), 'metadata version overflow');
  return { state: next, result: { ok: true, version: next.version, output, changes } };
}

function dispatch(state: MetadataState, command: MetadataCommand): Step {
  switch (command.kind) {
    case 'RegisterBroker':
      return registerBroker(state, command);
    case 'FenceBroker':
      return setFenced(state, command, true);
    case 'UnfenceBroker':
      return setFenced(state, command, false);
    case 'CreateTopic':
      return createTopic(state, command);
    case 'DeleteTopic':
      return deleteTopic(state, command);
    case 'CreatePartitions':
      return createPartitions(state, command);
    case 'AlterPartition':
      return alterPartition(state, command);
    case 'ElectLeader':
      return electLeader(state, command);
    case 'ShrinkIsr':
      return shrinkIsr(state, command);
    case 'AllocateProducerIds':
      return allocateProducerIds(state, command);
    default:
      return assertNever(command, 'metadata command');
  }
}

// ---------------------------------------------------------------- lookups

export function topicById(state: MetadataState, topicId: string): TopicState | undefined {
  const name = state.topicNamesById.get(topicId);
  return name === undefined ? undefined : state.topics.get(name);
}

export function isBrokerUnfenced(state: MetadataState, brokerId: number): boolean {
  const broker = state.brokers.get(brokerId);
  return broker !== undefined && !broker.fenced;
}

/** The topic opted into unclean leader election (configs are canonical, so 'true' is the only true form). */
export function allowsUncleanElection(topic: TopicState): boolean {
  return topic.configs['unclean.leader.election.enable'] === 'true';
}

/** Kafka's checkBrokerEpoch: an unknown broker and a stale epoch are both STALE_BROKER_EPOCH. */
function checkBrokerEpoch(state: MetadataState, brokerId: number, brokerEpoch: number): CommandError | null {
  const broker = state.brokers.get(brokerId);
  if (broker === undefined) return { code: 'STALE_BROKER_EPOCH', message: `broker ${brokerId} is not registered` };
  if (broker.brokerEpoch !== brokerEpoch) {
    return { code: 'STALE_BROKER_EPOCH', message: `broker ${brokerId} epoch ${brokerEpoch} is not the current ${broker.brokerEpoch}` };
  }
  return null;
}

function partitionOf(state: MetadataState, topicId: string, partition: number): Result<{ topic: TopicState; p: PartitionState; where: string }> {
  const topic = topicById(state, topicId);
  if (topic === undefined) return fail('UNKNOWN_TOPIC_OR_PARTITION', `no topic with id ${topicId}`);
  const p = topic.partitions[partition];
  if (p === undefined) return fail('UNKNOWN_TOPIC_OR_PARTITION', `topic ${topic.name} has no partition ${partition}`);
  // Epochs are int32 on the wire. Running out is (practically) unreachable, but
  // a committed command must never trip an assertion: every replica would
  // crash on the same entry, and again on replay. So it is a typed refusal.
  if (p.leaderEpoch >= METADATA_LIMITS.maxEpoch || p.partitionEpoch >= METADATA_LIMITS.maxEpoch) {
    return fail('INVALID_REQUEST', `${topic.name}-${partition}: epochs exhausted`);
  }
  return ok({ topic, p, where: `${topic.name}-${partition}` });
}

/** A partition-changing command must name the current partition epoch (KIP-497's optimistic check). */
function stalePartitionEpoch(where: string, given: number, p: PartitionState): Step | null {
  if (given === p.partitionEpoch) return null;
  return fail('INVALID_UPDATE_VERSION', `${where}: partition epoch ${given} is not the current ${p.partitionEpoch}`);
}

function hasDuplicates(ids: readonly number[]): boolean {
  return new Set(ids).size !== ids.length;
}

function isSubset(sub: readonly number[], of: readonly number[]): boolean {
  return sub.every((id) => of.includes(id));
}

function sameMembers(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && isSubset(a, b);
}

function withPartition(state: MetadataState, topic: TopicState, next: PartitionState): MetadataState {
  assertPartitionInvariants(topic.name, next);
  const partitions = topic.partitions.slice();
  partitions[next.partition] = next;
  return { ...state, topics: state.topics.set(topic.name, { ...topic, partitions }) };
}

/** Checked where a partition is written (and in fromSnapshot / checkInvariants): STYLE.md H.3. */
export function assertPartitionInvariants(topic: string, p: PartitionState): void {
  const where = (): string => `${topic}-${p.partition}`;
  assert(p.replicas.length >= 1 && !hasDuplicates(p.replicas), () => `${where()}: replicas must be non-empty and distinct`);
  assert(!hasDuplicates(p.isr) && isSubset(p.isr, p.replicas), () => `${where()}: ISR must be distinct replicas`);
  assert(p.leader === NO_LEADER || p.isr.includes(p.leader), () => `${where()}: leader ${p.leader} not in ISR`);
  assert(p.leaderEpoch >= 0 && p.partitionEpoch >= 0, () => `${where()}: negative epoch`);
  assert(p.leaderEpoch <= METADATA_LIMITS.maxEpoch && p.partitionEpoch <= METADATA_LIMITS.maxEpoch, () => `${where()}: epoch overflow`);
}

function changedPartitions(topicId: string, ...partitions: number[]): MetadataChanges {
  return { ...NO_CHANGES, partitions: partitions.map((partition) => ({ topicId, partition })) };
}

// ---------------------------------------------------------------- brokers

function registerBroker(state: MetadataState, cmd: RegisterBroker): Step {
  const names = cmd.endpoints.map((e) => e.name);
  if (cmd.endpoints.length === 0) return fail('INVALID_REQUEST', `broker ${cmd.brokerId} registered no endpoint`);
  if (new Set(names).size !== names.length) return fail('INVALID_REQUEST', `broker ${cmd.brokerId} has duplicate endpoint names`);
  const existing = state.brokers.get(cmd.brokerId);
  if (existing !== undefined && existing.incarnationId === cmd.incarnationId) {
    // A retried registration of the same incarnation: answer the same epoch,
    // unless it now describes itself differently (Kafka rejects that too).
    const same = existing.rack === cmd.rack && JSON.stringify(existing.endpoints) === JSON.stringify(cmd.endpoints);
    if (!same) return fail('INVALID_REQUEST', `broker ${cmd.brokerId} incarnation ${cmd.incarnationId} re-registered with different endpoints or rack`);
    return ok({ state, output: { kind: 'RegisterBroker', brokerEpoch: existing.brokerEpoch }, changes: NO_CHANGES, changed: false });
  }
  // A new incarnation: a new epoch (which fences the old one: requests with it
  // get STALE_BROKER_EPOCH), and fenced until its heartbeats unfence it, so it
  // leads nothing before it has caught up (Kafka's registration semantics).
  const brokerEpoch = state.version + 1;
  const broker: BrokerState = {
    brokerId: cmd.brokerId,
    incarnationId: cmd.incarnationId,
    brokerEpoch,
    endpoints: cmd.endpoints.map((e) => ({ name: e.name, host: e.host, port: e.port })),
    rack: cmd.rack,
    fenced: true,
  };
  const brokers = new Map(state.brokers);
  brokers.set(cmd.brokerId, broker);
  return ok({
    state: { ...state, brokers },
    output: { kind: 'RegisterBroker', brokerEpoch },
    changes: { ...NO_CHANGES, brokers: [cmd.brokerId] },
    changed: true,
  });
}

function setFenced(state: MetadataState, cmd: FenceBroker | UnfenceBroker, fenced: boolean): Step {
  const stale = checkBrokerEpoch(state, cmd.brokerId, cmd.brokerEpoch);
  if (stale !== null) return { ok: false, error: stale };
  const broker = state.brokers.get(cmd.brokerId);
  assert(broker !== undefined, 'checked above');
  if (broker.fenced === fenced) return fail('INVALID_REQUEST', `broker ${cmd.brokerId} is already ${fenced ? 'fenced' : 'unfenced'}`);
  if (!fenced) {
    // A fenced broker still listed as a leader (it was fenced, or restarted as
    // a new incarnation, while leading) must lose that leadership before it is
    // unfenced. Every return to leadership then goes through ElectLeader with a
    // new leader epoch, so followers see the change and truncate by epoch
    // instead of trusting a leader that may have lost its log's tail.
    const led = firstPartitionLedBy(state, cmd.brokerId);
    if (led !== null) return fail('INVALID_REQUEST', `broker ${cmd.brokerId} still leads ${led}; move its leadership before unfencing it`);
  }
  const brokers = new Map(state.brokers);
  brokers.set(cmd.brokerId, { ...broker, fenced });
  return ok({ state: { ...state, brokers }, output: { kind: cmd.kind }, changes: { ...NO_CHANGES, brokers: [cmd.brokerId] }, changed: true });
}

function firstPartitionLedBy(state: MetadataState, brokerId: number): string | null {
  for (const topic of state.topics.values()) {
    for (const p of topic.partitions) if (p.leader === brokerId) return `${topic.name}-${p.partition}`;
  }
  return null;
}

// ---------------------------------------------------------------- topics

/** Canonical config overrides, or INVALID_CONFIG. */
export function canonicalTopicConfigs(raw: Readonly<Record<string, string>>): Result<Readonly<Record<string, string>>> {
  try {
    return ok(topicConfigToStrings(parseTopicConfigOverrides(raw)));
  } catch (e) {
    if (isFjordError(e)) return { ok: false, error: commandErrorOf(e) };
    throw e;
  }
}

/** Validates a replica assignment against the registered brokers (INVALID_REPLICA_ASSIGNMENT). */
function checkAssignment(state: MetadataState, assignment: readonly (readonly number[])[], replicationFactor: number | null): CommandError | null {
  const rf = replicationFactor ?? assignment[0]?.length ?? 0;
  for (const [i, replicas] of assignment.entries()) {
    const bad = (why: string): CommandError => ({ code: 'INVALID_REPLICA_ASSIGNMENT', message: `partition ${i}: ${why}` });
    if (replicas.length === 0) return bad('no replicas');
    if (replicas.length !== rf) return bad(`${replicas.length} replicas, but the topic's replication factor is ${rf}`);
    if (hasDuplicates(replicas)) return bad(`duplicate replicas ${JSON.stringify(replicas)}`);
    const unknown = replicas.find((id) => !state.brokers.has(id));
    if (unknown !== undefined) return bad(`broker ${unknown} is not registered`);
    if (!replicas.some((id) => isBrokerUnfenced(state, id))) return bad(`every replica ${JSON.stringify(replicas)} is fenced`);
  }
  return null;
}

/** A new partition: every unfenced replica is in sync (the log is empty); the first one leads. */
function newPartition(state: MetadataState, partition: number, replicas: readonly number[]): PartitionState {
  const isr = replicas.filter((id) => isBrokerUnfenced(state, id));
  return { partition, replicas: replicas.slice(), leader: isr[0] ?? NO_LEADER, leaderEpoch: 0, isr, partitionEpoch: 0 };
}

function createTopic(state: MetadataState, cmd: CreateTopic): Step {
  const problem = topicNameProblem(cmd.name);
  if (problem !== null) return fail('INVALID_TOPIC', `${JSON.stringify(cmd.name)}: ${problem}`);
  if (state.topics.has(cmd.name)) return fail('TOPIC_ALREADY_EXISTS', `topic ${cmd.name} already exists`);
  // Checked here, not only by the planner: two creates planned concurrently on
  // the same committed state ("a.b" and "a_b") must not both succeed. Only
  // names with '.' or '_' can collide, so the scan is skipped for the others.
  const collides = hasCollisionChars(cmd.name) ? findCollidingTopic(cmd.name, state.topics.keys()) : undefined;
  if (collides !== undefined) return fail('INVALID_TOPIC', `topic ${cmd.name} collides with existing topic ${collides}: '.' and '_' are the same in metric names`);
  if (state.topicNamesById.has(cmd.topicId)) return fail('INVALID_REQUEST', `topic id ${cmd.topicId} is already in use`);
  const count = cmd.assignment.length;
  if (count < 1 || count > METADATA_LIMITS.maxPartitionsPerTopic) {
    return fail('INVALID_PARTITIONS', `topic ${cmd.name}: ${count} partitions, must be 1..${METADATA_LIMITS.maxPartitionsPerTopic}`);
  }
  const badAssignment = checkAssignment(state, cmd.assignment, null);
  if (badAssignment !== null) return { ok: false, error: badAssignment };
  const configs = canonicalTopicConfigs(cmd.configs);
  if (!configs.ok) return configs;
  const topic: TopicState = {
    name: cmd.name,
    topicId: cmd.topicId,
    configs: configs.value,
    partitions: cmd.assignment.map((replicas, i) => newPartition(state, i, replicas)),
  };
  for (const p of topic.partitions) assertPartitionInvariants(topic.name, p);
  const topics = state.topics.set(cmd.name, topic);
  const topicNamesById = state.topicNamesById.set(cmd.topicId, cmd.name);
  return ok({
    state: { ...state, topics, topicNamesById },
    output: { kind: 'CreateTopic', topicId: cmd.topicId },
    changes: { ...NO_CHANGES, createdTopics: [cmd.name] },
    changed: true,
  });
}

function deleteTopic(state: MetadataState, cmd: DeleteTopic): Step {
  const topic = state.topics.get(cmd.name);
  if (topic === undefined || topic.topicId !== cmd.topicId) {
    return fail('UNKNOWN_TOPIC_OR_PARTITION', `no topic ${cmd.name} with id ${cmd.topicId}`);
  }
  const topics = state.topics.delete(cmd.name);
  const topicNamesById = state.topicNamesById.delete(cmd.topicId);
  return ok({
    state: { ...state, topics, topicNamesById },
    output: { kind: 'DeleteTopic' },
    changes: { ...NO_CHANGES, deletedTopics: [{ name: cmd.name, topicId: cmd.topicId }] },
    changed: true,
  });
}

function createPartitions(state: MetadataState, cmd: CreatePartitions): Step {
  const topic = topicById(state, cmd.topicId);
  if (topic === undefined) return fail('UNKNOWN_TOPIC_OR_PARTITION', `no topic with id ${cmd.topicId}`);
  const total = topic.partitions.length + cmd.assignment.length;
  if (cmd.assignment.length === 0) return fail('INVALID_PARTITIONS', `topic ${topic.name} already has ${topic.partitions.length} partitions`);
  if (total > METADATA_LIMITS.maxPartitionsPerTopic) {
    return fail('INVALID_PARTITIONS', `topic ${topic.name}: ${total} partitions, at most ${METADATA_LIMITS.maxPartitionsPerTopic}`);
  }
  const rf = topic.partitions[0]?.replicas.length ?? null;
  const badAssignment = checkAssignment(state, cmd.assignment, rf);
  if (badAssignment !== null) return { ok: false, error: badAssignment };
  const first = topic.partitions.length;
  const added = cmd.assignment.map((replicas, i) => newPartition(state, first + i, replicas));
  for (const p of added) assertPartitionInvariants(topic.name, p);
  const topics = state.topics.set(topic.name, { ...topic, partitions: [...topic.partitions, ...added] });
  return ok({
    state: { ...state, topics },
    output: { kind: 'CreatePartitions' },
    changes: changedPartitions(topic.topicId, ...added.map((p) => p.partition)),
    changed: true,
  });
}

// ---------------------------------------------------------------- partitions

function alterPartition(state: MetadataState, cmd: AlterPartition): Step {
  const stale = checkBrokerEpoch(state, cmd.brokerId, cmd.brokerEpoch);
  if (stale !== null) return { ok: false, error: stale };
  const found = partitionOf(state, cmd.topicId, cmd.partition);
  if (!found.ok) return found;
  const { topic, p, where } = found.value;
  if (cmd.leaderEpoch < p.leaderEpoch) return fail('FENCED_LEADER_EPOCH', `${where}: leader epoch ${cmd.leaderEpoch} < ${p.leaderEpoch}`);
  if (cmd.leaderEpoch > p.leaderEpoch) return fail('UNKNOWN_LEADER_EPOCH', `${where}: leader epoch ${cmd.leaderEpoch} > ${p.leaderEpoch}`);
  if (cmd.brokerId !== p.leader) return fail('NOT_LEADER_OR_FOLLOWER', `${where}: broker ${cmd.brokerId} is not the leader (${p.leader})`);
  // A fenced leader is about to lose its leadership; letting it shrink the ISR
  // to itself first would turn a clean failover into an offline partition.
  if (!isBrokerUnfenced(state, cmd.brokerId)) return fail('NOT_LEADER_OR_FOLLOWER', `${where}: leader ${cmd.brokerId} is fenced`);
  const staleEpoch = stalePartitionEpoch(where, cmd.partitionEpoch, p);
  if (staleEpoch !== null) return staleEpoch;
  const isr = cmd.isr.map((m) => m.brokerId);
  const shown = JSON.stringify(isr);
  if (hasDuplicates(isr)) return fail('INVALID_REQUEST', `${where}: ISR ${shown} has duplicates`);
  if (!isSubset(isr, p.replicas)) return fail('INVALID_REQUEST', `${where}: ISR ${shown} is not a subset of the replicas`);
  if (!isr.includes(p.leader)) return fail('INVALID_REQUEST', `${where}: ISR ${shown} must contain the leader ${p.leader}`);
  for (const member of cmd.isr) {
    if (p.isr.includes(member.brokerId)) continue;
    // Joining members: unfenced (KIP-841) and still the registration the
    // leader saw catch up (KIP-903).
    const broker = state.brokers.get(member.brokerId);
    if (broker === undefined || broker.fenced) return fail('INVALID_REQUEST', `${where}: broker ${member.brokerId} is fenced and cannot join the ISR`);
    if (broker.brokerEpoch !== member.brokerEpoch) {
      return fail('INVALID_REQUEST', `${where}: broker ${member.brokerId} epoch ${member.brokerEpoch} is not its current ${broker.brokerEpoch}; it restarted and cannot join the ISR`);
    }
  }
  if (sameMembers(isr, p.isr)) {
    return ok({ state, output: { kind: 'AlterPartition', partition: p }, changes: NO_CHANGES, changed: false });
  }
  const next: PartitionState = { ...p, isr, partitionEpoch: p.partitionEpoch + 1 };
  return ok({
    state: withPartition(state, topic, next),
    output: { kind: 'AlterPartition', partition: next },
    changes: changedPartitions(topic.topicId, p.partition),
    changed: true,
  });
}

function electLeader(state: MetadataState, cmd: ElectLeader): Step {
  const found = partitionOf(state, cmd.topicId, cmd.partition);
  if (!found.ok) return found;
  const { topic, p, where } = found.value;
  const staleEpoch = stalePartitionEpoch(where, cmd.partitionEpoch, p);
  if (staleEpoch !== null) return staleEpoch;
  if (hasDuplicates(cmd.isr) || !isSubset(cmd.isr, p.replicas)) {
    return fail('INVALID_REQUEST', `${where}: ISR ${JSON.stringify(cmd.isr)} must be distinct replicas`);
  }
  if (cmd.leader === p.leader && sameMembers(cmd.isr, p.isr)) return fail('INVALID_REQUEST', `${where}: the election changes nothing`);
  if (cmd.leader === NO_LEADER) {
    if (cmd.unclean) return fail('INVALID_REQUEST', `${where}: an unclean election must name a leader`);
    // Going offline keeps the last in-sync members (never adds one), so one of
    // them can lead again cleanly when it comes back.
    if (!isSubset(cmd.isr, p.isr)) return fail('INVALID_REQUEST', `${where}: an election cannot grow the ISR`);
  } else {
    if (!p.replicas.includes(cmd.leader)) return fail('INVALID_REQUEST', `${where}: broker ${cmd.leader} is not a replica`);
    if (!isBrokerUnfenced(state, cmd.leader)) return fail('ELIGIBLE_LEADERS_NOT_AVAILABLE', `${where}: broker ${cmd.leader} is fenced or unknown`);
    if (!cmd.isr.includes(cmd.leader)) return fail('INVALID_REQUEST', `${where}: ISR must contain the new leader ${cmd.leader}`);
    if (cmd.unclean) {
      // Unclean: only when the topic opted in, and only when no in-sync
      // replica could lead (otherwise it would throw acknowledged data away).
      if (p.isr.some((id) => isBrokerUnfenced(state, id))) return fail('INVALID_REQUEST', `${where}: an in-sync replica is available; unclean election refused`);
      if (!allowsUncleanElection(topic)) return fail('POLICY_VIOLATION', `${where}: topic ${topic.name} does not allow unclean leader election`);
      if (cmd.isr.length !== 1) return fail('INVALID_REQUEST', `${where}: after an unclean election the ISR is the new leader alone`);
    } else {
      if (!p.isr.includes(cmd.leader)) return fail('ELIGIBLE_LEADERS_NOT_AVAILABLE', `${where}: broker ${cmd.leader} is not in the ISR`);
      if (!isSubset(cmd.isr, p.isr)) return fail('INVALID_REQUEST', `${where}: an election cannot grow the ISR`);
    }
  }
  const next: PartitionState = {
    ...p,
    leader: cmd.leader,
    isr: cmd.isr.slice(),
    leaderEpoch: p.leaderEpoch + 1,
    partitionEpoch: p.partitionEpoch + 1,
  };
  return ok({
    state: withPartition(state, topic, next),
    output: { kind: 'ElectLeader', partition: next },
    changes: changedPartitions(topic.topicId, p.partition),
    changed: true,
  });
}

function shrinkIsr(state: MetadataState, cmd: ShrinkIsr): Step {
  const found = partitionOf(state, cmd.topicId, cmd.partition);
  if (!found.ok) return found;
  const { topic, p, where } = found.value;
  const staleEpoch = stalePartitionEpoch(where, cmd.partitionEpoch, p);
  if (staleEpoch !== null) return staleEpoch;
  if (p.leader === NO_LEADER) return fail('INVALID_REQUEST', `${where}: offline partitions keep their last ISR`);
  if (hasDuplicates(cmd.isr) || !isSubset(cmd.isr, p.isr) || cmd.isr.length >= p.isr.length) {
    return fail('INVALID_REQUEST', `${where}: ${JSON.stringify(cmd.isr)} is not a strict subset of the ISR ${JSON.stringify(p.isr)}`);
  }
  if (!cmd.isr.includes(p.leader)) return fail('INVALID_REQUEST', `${where}: the ISR must keep the leader ${p.leader}`);
  const next: PartitionState = { ...p, isr: cmd.isr.slice(), partitionEpoch: p.partitionEpoch + 1 };
  return ok({
    state: withPartition(state, topic, next),
    output: { kind: 'ShrinkIsr', partition: next },
    changes: changedPartitions(topic.topicId, p.partition),
    changed: true,
  });
}

// ---------------------------------------------------------------- producer ids

function allocateProducerIds(state: MetadataState, cmd: AllocateProducerIds): Step {
  const stale = checkBrokerEpoch(state, cmd.brokerId, cmd.brokerEpoch);
  if (stale !== null) return { ok: false, error: stale };
  if (cmd.count < 1 || cmd.count > METADATA_LIMITS.maxProducerIdBlock) {
    return fail('INVALID_REQUEST', `producer id block of ${cmd.count}, must be 1..${METADATA_LIMITS.maxProducerIdBlock}`);
  }
  const firstProducerId = state.nextProducerId;
  if (firstProducerId + cmd.count > Number.MAX_SAFE_INTEGER) return fail('UNKNOWN_SERVER_ERROR', 'producer ids are exhausted');
  return ok({
    state: { ...state, nextProducerId: firstProducerId + cmd.count },
    output: { kind: 'AllocateProducerIds', firstProducerId, count: cmd.count },
    changes: NO_CHANGES,
    changed: true,
  });
}
