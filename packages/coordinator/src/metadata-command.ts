/**
 * The commands of the replicated metadata state machine: the payloads of Raft
 * entries. Everything a command's effect depends on is carried in it (the
 * topic id, the replica assignment, the expected partition epoch), so every
 * replica that applies the same log reaches the same state (STYLE.md B).
 *
 * Who proposes what:
 * - the coordinator service, on behalf of a request: RegisterBroker,
 *   CreateTopic, DeleteTopic, CreatePartitions, AlterPartition,
 *   AllocateProducerIds, ElectLeader (admin preferred/unclean election);
 * - the controller (controller/decide.ts), from broker sessions and time:
 *   FenceBroker, UnfenceBroker, ElectLeader, ShrinkIsr.
 *
 * Controller commands carry the epochs they were decided on (brokerEpoch,
 * partitionEpoch); apply rejects them when the state moved on in between, so
 * a decision made on a stale view, or proposed twice, changes nothing
 * (optimistic concurrency, like Kafka's partition epoch in KIP-497).
 */

/** Kafka keeps broker ids, partition indexes and epochs in int32. */
export const INT32_MAX = 2_147_483_647;

/** No leader: the partition is offline. */
export const NO_LEADER = -1;

/**
 * Bounds on everything a command can carry (STYLE.md H.2). They are part of
 * the replicated format: changing one changes which commands apply, so they
 * are constants, never per-node config.
 */
export const METADATA_LIMITS = Object.freeze({
  maxCommandBytes: 4 * 1024 * 1024,
  maxPartitionsPerTopic: 10_000,
  maxReplicationFactor: 32,
  maxEndpoints: 16,
  maxEndpointNameChars: 64,
  maxHostChars: 255,
  maxRackChars: 255,
  maxIncarnationIdChars: 64,
  /** Kafka's limit (Topic.MAX_NAME_LENGTH). */
  maxTopicNameChars: 249,
  maxConfigEntries: 128,
  maxConfigKeyChars: 128,
  maxConfigValueChars: 4096,
  maxProducerIdBlock: 1_000_000,
  maxBrokerId: INT32_MAX,
  maxEpoch: INT32_MAX,
});

/** A topic id: a UUID in its canonical lowercase text form. */
export const TOPIC_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface Endpoint {
  /** Listener name, unique per broker ("PLAINTEXT", "REPLICATION"). */
  readonly name: string;
  readonly host: string;
  readonly port: number;
}

export interface RegisterBroker {
  readonly kind: 'RegisterBroker';
  readonly brokerId: number;
  /** Random per broker process start; a new one is a new incarnation. */
  readonly incarnationId: string;
  readonly endpoints: readonly Endpoint[];
  readonly rack: string | null;
}

export interface FenceBroker {
  readonly kind: 'FenceBroker';
  readonly brokerId: number;
  /** The registration the decision was about; a newer one is left alone. */
  readonly brokerEpoch: number;
}

export interface UnfenceBroker {
  readonly kind: 'UnfenceBroker';
  readonly brokerId: number;
  readonly brokerEpoch: number;
}

export interface CreateTopic {
  readonly kind: 'CreateTopic';
  readonly name: string;
  /** Chosen by the proposer (from an injected Rng), so replicas agree. */
  readonly topicId: string;
  /** assignment[p] = the replicas of partition p, preferred leader first. */
  readonly assignment: readonly (readonly number[])[];
  /** Kafka's dotted topic configs, only the ones set explicitly. */
  readonly configs: Readonly<Record<string, string>>;
}

export interface DeleteTopic {
  readonly kind: 'DeleteTopic';
  readonly name: string;
  readonly topicId: string;
}

export interface CreatePartitions {
  readonly kind: 'CreatePartitions';
  readonly topicId: string;
  /** Replicas of the new partitions only, in partition order. */
  readonly assignment: readonly (readonly number[])[];
}

/**
 * An ISR member as the leader saw it: the registration (broker epoch) it had
 * when it fetched and caught up. If the broker restarted since, its epoch no
 * longer matches and it cannot join (KIP-903: a restarted follower may have
 * lost the tail the leader saw it fetch).
 */
export interface IsrMember {
  readonly brokerId: number;
  readonly brokerEpoch: number;
}

/** A partition leader asks for a new ISR (Kafka's AlterPartition, KIP-497, with KIP-903's member epochs). */
export interface AlterPartition {
  readonly kind: 'AlterPartition';
  readonly brokerId: number;
  readonly brokerEpoch: number;
  readonly topicId: string;
  readonly partition: number;
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
  readonly isr: readonly IsrMember[];
}

export interface ElectLeader {
  readonly kind: 'ElectLeader';
  readonly topicId: string;
  readonly partition: number;
  /** The new leader, or NO_LEADER to take the partition offline. */
  readonly leader: number;
  readonly isr: readonly number[];
  /** The partition epoch the decision was made on. */
  readonly partitionEpoch: number;
  /** Elect a replica outside the ISR; needs unclean.leader.election.enable=true on the topic. */
  readonly unclean: boolean;
}

/** The controller drops fenced followers from an ISR (the leader stays). */
export interface ShrinkIsr {
  readonly kind: 'ShrinkIsr';
  readonly topicId: string;
  readonly partition: number;
  readonly isr: readonly number[];
  readonly partitionEpoch: number;
}

export interface AllocateProducerIds {
  readonly kind: 'AllocateProducerIds';
  readonly brokerId: number;
  readonly brokerEpoch: number;
  readonly count: number;
}

export type MetadataCommand =
  | RegisterBroker
  | FenceBroker
  | UnfenceBroker
  | CreateTopic
  | DeleteTopic
  | CreatePartitions
  | AlterPartition
  | ElectLeader
  | ShrinkIsr
  | AllocateProducerIds;

export type MetadataCommandKind = MetadataCommand['kind'];

export const METADATA_COMMAND_KINDS: readonly MetadataCommandKind[] = Object.freeze([
  'RegisterBroker',
  'FenceBroker',
  'UnfenceBroker',
  'CreateTopic',
  'DeleteTopic',
  'CreatePartitions',
  'AlterPartition',
  'ElectLeader',
  'ShrinkIsr',
  'AllocateProducerIds',
]);
