/**
 * Admin-requested leader elections (Kafka's ElectLeaders, KIP-460), planned
 * per partition:
 * - preferred: move leadership to the first replica when it is live and in
 *   the ISR (PREFERRED_LEADER_NOT_AVAILABLE otherwise);
 * - unclean: for a partition without a live leader, elect from the ISR if any
 *   member is live, else the first live replica, but only when the topic set
 *   unclean.leader.election.enable (POLICY_VIOLATION otherwise). Kafka lets
 *   the admin request override the topic config; Fjord does not, so losing
 *   acknowledged records always needs the topic's explicit opt-in.
 * A partition that needs no election gets `command: null` and no error.
 */
import { NO_LEADER, type ElectLeader } from '../metadata-command.js';
import { allowsUncleanElection, isBrokerUnfenced, type MetadataState } from '../metadata-state.js';
import type { CommandError } from '../result.js';

export type ElectionType = 'preferred' | 'unclean';

export interface PartitionRef {
  readonly topic: string;
  readonly partition: number;
}

export interface ElectionPlan {
  readonly topic: string;
  readonly partition: number;
  readonly command: ElectLeader | null;
  readonly error: CommandError | null;
}

/** Bound on how many partitions one request may name (STYLE.md H.2). */
export const MAX_ELECTION_PARTITIONS = 100_000;

export function planElections(metadata: MetadataState, electionType: ElectionType, partitions: readonly PartitionRef[] | null): ElectionPlan[] {
  const refs: readonly PartitionRef[] =
    partitions ?? [...metadata.topics.values()].flatMap((t) => t.partitions.map((p) => ({ topic: t.name, partition: p.partition })));
  return refs.slice(0, MAX_ELECTION_PARTITIONS).map((ref) => planOne(metadata, electionType, ref));
}

function planOne(metadata: MetadataState, electionType: ElectionType, ref: PartitionRef): ElectionPlan {
  const plan = (command: ElectLeader | null, error: CommandError | null = null): ElectionPlan => ({ ...ref, command, error });
  const topic = metadata.topics.get(ref.topic);
  const p = topic?.partitions[ref.partition];
  if (topic === undefined || p === undefined) return plan(null, { code: 'UNKNOWN_TOPIC_OR_PARTITION', message: `no partition ${ref.topic}-${ref.partition}` });
  const live = (id: number): boolean => isBrokerUnfenced(metadata, id);
  const liveIsr = p.isr.filter(live);
  const elect = (leader: number, isr: readonly number[], unclean: boolean): ElectLeader => ({
    kind: 'ElectLeader', topicId: topic.topicId, partition: p.partition, leader, isr: [...isr], partitionEpoch: p.partitionEpoch, unclean,
  });
  if (electionType === 'preferred') {
    const preferred = p.replicas[0] as number;
    if (p.leader === preferred) return plan(null);
    if (!liveIsr.includes(preferred)) {
      return plan(null, { code: 'PREFERRED_LEADER_NOT_AVAILABLE', message: `${ref.topic}-${ref.partition}: broker ${preferred} is not live and in sync` });
    }
    return plan(elect(preferred, liveIsr, false));
  }
  if (p.leader !== NO_LEADER && live(p.leader)) return plan(null);
  const clean = p.replicas.find((id) => liveIsr.includes(id));
  if (clean !== undefined) return plan(elect(clean, liveIsr, false));
  if (!allowsUncleanElection(topic)) {
    return plan(null, { code: 'POLICY_VIOLATION', message: `topic ${ref.topic} does not set unclean.leader.election.enable=true` });
  }
  const candidate = p.replicas.find(live);
  if (candidate === undefined) {
    return plan(null, { code: 'ELIGIBLE_LEADERS_NOT_AVAILABLE', message: `${ref.topic}-${ref.partition}: no replica is live` });
  }
  return plan(elect(candidate, [candidate], true));
}
