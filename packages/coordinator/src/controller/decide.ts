/**
 * The controller's decision function (STYLE.md B "The controller is pure
 * too"): from the committed metadata, the broker sessions (soft state) and
 * the time, the commands the Raft leader should propose. Nothing changes
 * until a proposed command commits and is applied, so the same decisions
 * replay exactly under the simulator.
 *
 * What it decides, in this order (Kafka's ReplicationControlManager and
 * BrokerHeartbeatManager):
 * 1. Broker fencing: an unfenced broker whose session expired (or that asked
 *    to be fenced) is fenced.
 * 2. For every partition whose leader is fenced, or that is offline: a new
 *    leader from the ISR minus fenced brokers, first in replica order (the
 *    preferred order). The leader epoch is bumped by apply. With no eligible
 *    ISR member the partition goes offline (leader -1, the last ISR kept so
 *    one of its members can lead again cleanly), unless the topic set
 *    unclean.leader.election.enable: then the first live replica leads alone.
 * 3. For a partition with a live leader: fenced followers leave the ISR
 *    (ShrinkIsr); with preferredLeaderElection, leadership moves back to the
 *    first replica when it is live and in sync.
 * 4. Unfencing, last: a fenced broker with a live session that no longer asks
 *    to be fenced is unfenced. It still counts as fenced for this round's
 *    partition decisions, so its old leaderships move first (apply refuses to
 *    unfence a broker that still leads anything), and it can lead again only
 *    through a later election with a new leader epoch. A restarted broker
 *    (new incarnation, registered fenced) thus never keeps its old epochs.
 *
 * Each partition command carries the partition epoch it was decided on, so a
 * decision that raced with another change (or was proposed twice) is
 * rejected by apply and changes nothing. Commands come out fences first,
 * then partitions by topic name and index, then unfences, at most
 * maxCommands (the rest come next time: decide is called again after they
 * apply). A broker coming back takes two rounds: unfenced, then elected.
 */
import { assert } from '@fjord/protocol';
import { NO_LEADER, type ElectLeader, type MetadataCommand, type ShrinkIsr } from '../metadata-command.js';
import { allowsUncleanElection, type MetadataState, type PartitionState, type TopicState } from '../metadata-state.js';
import { isSessionAlive, type BrokerSessions } from './sessions.js';

export const DEFAULT_MAX_COMMANDS_PER_DECISION = 10_000;

export interface DecideInput {
  readonly metadata: MetadataState;
  readonly brokerSessions: BrokerSessions;
  readonly nowMs: number;
  readonly sessionTimeoutMs: number;
  /** Move leadership back to preferred replicas (Kafka's auto.leader.rebalance.enable). */
  readonly preferredLeaderElection?: boolean;
  readonly maxCommands?: number;
}

export function decide(input: DecideInput): MetadataCommand[] {
  const { metadata, brokerSessions, nowMs, sessionTimeoutMs } = input;
  const maxCommands = input.maxCommands ?? DEFAULT_MAX_COMMANDS_PER_DECISION;

  assert(Number.isSafeInteger(maxCommands) && maxCommands >= 1, 'maxCommands must be >= 1');
  const commands: MetadataCommand[] = [];
  const unfences: MetadataCommand[] = [];

  // 1 and 4. Broker fencing. `fenced` is the set partition decisions use: the
  // fenced brokers, plus those fenced now; those unfenced now stay in it.
  const fenced = new Set<number>();
  for (const broker of [...metadata.brokers.values()].sort((a, b) => a.brokerId - b.brokerId)) {
    const session = brokerSessions.get(broker.brokerId);
    const alive = isSessionAlive(session, broker.brokerEpoch, nowMs, sessionTimeoutMs);
    const wantsFence = session?.wantFence ?? false;
    if (!broker.fenced && (!alive || wantsFence)) {
      commands.push({ kind: 'FenceBroker', brokerId: broker.brokerId, brokerEpoch: broker.brokerEpoch });
      fenced.add(broker.brokerId);
    } else if (broker.fenced) {
      if (alive && !wantsFence) unfences.push({ kind: 'UnfenceBroker', brokerId: broker.brokerId, brokerEpoch: broker.brokerEpoch });
      fenced.add(broker.brokerId);
    }
  }
  if (commands.length >= maxCommands) return commands.slice(0, maxCommands);

  // 2 and 3. Partitions. Most partitions need nothing: a check without
  // allocation skips them (decide runs every controllerIntervalMs over every
  // partition), and only the few commands found are sorted.
  const isLive = (id: number): boolean => metadata.brokers.has(id) && !fenced.has(id);
  const preferred = input.preferredLeaderElection ?? false;
  const found: { topic: string; partition: number; command: ElectLeader | ShrinkIsr }[] = [];
  for (const topic of metadata.topics.values()) {
    for (const p of topic.partitions) {
      if (isSettled(p, fenced, preferred)) continue;
      const command = decidePartition(topic, p, isLive, preferred);
      if (command !== null) found.push({ topic: topic.name, partition: p.partition, command });
    }
  }
  found.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));
  for (const f of found) commands.push(f.command);
  return [...commands, ...unfences].slice(0, maxCommands);
}

/** True when the partition certainly needs no command: a live leader, no fenced ISR member, and (if asked) the preferred leader. */
function isSettled(p: PartitionState, fenced: ReadonlySet<number>, preferred: boolean): boolean {
  if (p.leader === NO_LEADER || fenced.has(p.leader)) return false;
  if (preferred && p.replicas[0] !== p.leader) return false;
  if (fenced.size > 0) {
    for (let i = 0; i < p.isr.length; i++) if (fenced.has(p.isr[i] as number)) return false;
  }
  return true;
}

/** The command one partition needs, or null. Exported for the admin election planner and tests. */
export function decidePartition(
  topic: TopicState,
  p: PartitionState,
  isLive: (brokerId: number) => boolean,
  preferredLeaderElection: boolean,
): ElectLeader | ShrinkIsr | null {
  const liveIsr = p.isr.filter(isLive);
  const elect = (leader: number, isr: readonly number[], unclean = false): ElectLeader => ({
    kind: 'ElectLeader',
    topicId: topic.topicId,
    partition: p.partition,
    leader,
    isr: [...isr],
    partitionEpoch: p.partitionEpoch,
    unclean,
  });

  if (p.leader !== NO_LEADER && isLive(p.leader)) {
    const first = p.replicas[0] as number;
    if (preferredLeaderElection && first !== p.leader && liveIsr.includes(first)) return elect(first, liveIsr);
    if (liveIsr.length < p.isr.length) {
      return { kind: 'ShrinkIsr', topicId: topic.topicId, partition: p.partition, isr: liveIsr, partitionEpoch: p.partitionEpoch };
    }
    return null;
  }

  // The leader is fenced, or the partition is offline.
  const clean = p.replicas.find((id) => liveIsr.includes(id));
  if (clean !== undefined) return elect(clean, liveIsr);
  if (allowsUncleanElection(topic)) {
    const live = p.replicas.find(isLive);
    if (live !== undefined) return elect(live, [live], true);
  }
  // Offline: keep the last ISR, so only one of its members can lead again.
  return p.leader === NO_LEADER ? null : elect(NO_LEADER, p.isr);
}
