/**
 * Broker sessions: the controller's soft state (not replicated). Heartbeats
 * are frequent and only the Raft leader needs them, so they never go through
 * the log; what they cause (fence, unfence) does, via decide.ts. This follows
 * Kafka's BrokerHeartbeatManager.
 *
 * A leader that just took over knows no heartbeat yet: `seedSessions` gives
 * every registered broker a full session from `nowMs`, so a controller change
 * never fences a healthy cluster (Kafka does the same on activation).
 */
import { fail, ok, type CommandError, type Result } from '../result.js';
import type { RegisterBroker } from '../metadata-command.js';
import type { MetadataState } from '../metadata-state.js';

export interface BrokerSession {
  /** The registration this session belongs to. */
  readonly brokerEpoch: number;
  readonly lastHeartbeatMs: number;
  /** The broker asked to be (or stay) fenced: not caught up yet, or shutting down. */
  readonly wantFence: boolean;
}

export type BrokerSessions = ReadonlyMap<number, BrokerSession>;

export interface Heartbeat {
  readonly brokerId: number;
  readonly brokerEpoch: number;
  readonly wantFence: boolean;
}

/** Sessions for a controller that just became active: everyone gets a full timeout. */
export function seedSessions(metadata: MetadataState, nowMs: number): Map<number, BrokerSession> {
  const sessions = new Map<number, BrokerSession>();
  for (const broker of metadata.brokers.values()) {
    sessions.set(broker.brokerId, { brokerEpoch: broker.brokerEpoch, lastHeartbeatMs: nowMs, wantFence: broker.fenced });
  }
  return sessions;
}

/** True while the session belongs to the broker's current registration and has not timed out. */
export function isSessionAlive(session: BrokerSession | undefined, brokerEpoch: number, nowMs: number, sessionTimeoutMs: number): boolean {
  return session !== undefined && session.brokerEpoch === brokerEpoch && nowMs - session.lastHeartbeatMs <= sessionTimeoutMs;
}

/**
 * Records a heartbeat (or a fresh registration, whose first heartbeat it is).
 * A heartbeat from an unknown broker or an old incarnation is
 * STALE_BROKER_EPOCH: the broker must register again. Returns the new
 * sessions and whether the broker is fenced in the committed metadata (what
 * the heartbeat response tells it).
 */
export function recordHeartbeat(
  metadata: MetadataState,
  sessions: BrokerSessions,
  heartbeat: Heartbeat,
  nowMs: number,
): Result<{ sessions: Map<number, BrokerSession>; fenced: boolean }> {
  const broker = metadata.brokers.get(heartbeat.brokerId);
  if (broker === undefined) return fail('STALE_BROKER_EPOCH', `broker ${heartbeat.brokerId} is not registered`);
  if (broker.brokerEpoch !== heartbeat.brokerEpoch) {
    return fail('STALE_BROKER_EPOCH', `broker ${heartbeat.brokerId} epoch ${heartbeat.brokerEpoch} is not the current ${broker.brokerEpoch}`);
  }
  const next = new Map(sessions);
  next.set(heartbeat.brokerId, { brokerEpoch: heartbeat.brokerEpoch, lastHeartbeatMs: nowMs, wantFence: heartbeat.wantFence });
  return ok({ sessions: next, fenced: broker.fenced });
}

/**
 * Whether a registration must be refused because another incarnation of the
 * broker id still holds a live session (Kafka's ClusterControlManager.
 * registerBroker: DUPLICATE_BROKER_REGISTRATION unless
 * heartbeatManager.hasValidSession is false for the existing epoch).
 * - Same incarnation id: a retry; apply answers the same epoch (null here).
 * - The existing registration is fenced (it shut down cleanly, its session
 *   expired and the controller fenced it, or it never got unfenced): the new
 *   incarnation may replace it at once.
 * - Otherwise it may replace it only once the old session has expired, so a
 *   second process started with a live broker's id (a config mistake) cannot
 *   take over its partitions, while a broker restarted after kill -9 gets in
 *   after at most sessionTimeoutMs (its old process stopped heartbeating).
 * A leader that just took over seeds every broker with a full session
 * (seedSessions), so there the wait is a full timeout, as in Kafka.
 */
export function registrationConflict(
  metadata: MetadataState,
  sessions: BrokerSessions,
  registration: Pick<RegisterBroker, 'brokerId' | 'incarnationId'>,
  nowMs: number,
  sessionTimeoutMs: number,
): CommandError | null {
  const existing = metadata.brokers.get(registration.brokerId);
  if (existing === undefined || existing.incarnationId === registration.incarnationId || existing.fenced) return null;
  const session = sessions.get(registration.brokerId);
  if (!isSessionAlive(session, existing.brokerEpoch, nowMs, sessionTimeoutMs)) return null;
  const leftMs = (session as BrokerSession).lastHeartbeatMs + sessionTimeoutMs - nowMs;
  return {
    code: 'DUPLICATE_BROKER_REGISTRATION',
    message: `broker ${registration.brokerId} is registered by incarnation ${existing.incarnationId} (epoch ${existing.brokerEpoch}) whose session is alive; retry after it expires (within ${leftMs} ms)`,
  };
}

/** Drops sessions of brokers whose registration is gone or replaced (bounds the map). */
export function pruneSessions(metadata: MetadataState, sessions: BrokerSessions): Map<number, BrokerSession> {
  const next = new Map<number, BrokerSession>();
  for (const [id, session] of sessions) {
    if (metadata.brokers.get(id)?.brokerEpoch === session.brokerEpoch) next.set(id, session);
  }
  return next;
}

/**
 * The earliest time after `afterMs` at which a broker's session flips from
 * alive to expired, given no new heartbeat (Infinity when none will). With
 * `heartbeatChangesDecision`, this lets the shell run decide only when its
 * answer can change: after the metadata version moved, after a heartbeat that
 * matters, or once nowMs reaches this time (plus a slow periodic safety run).
 * decide walks every partition, so calling it on every tick would cost
 * O(partitions) per tick.
 */
export function nextSessionExpiryMs(metadata: MetadataState, sessions: BrokerSessions, sessionTimeoutMs: number, afterMs = Number.NEGATIVE_INFINITY): number {
  let next = Number.POSITIVE_INFINITY;
  for (const broker of metadata.brokers.values()) {
    const session = sessions.get(broker.brokerId);
    if (session === undefined || session.brokerEpoch !== broker.brokerEpoch) continue;
    // isSessionAlive holds while nowMs - last <= timeout, so it flips at last + timeout + 1.
    const expiry = session.lastHeartbeatMs + sessionTimeoutMs + 1;
    // Only flips after `afterMs` count: one that happened before the last
    // decision was already seen by it (a long-dead broker must not make every
    // tick look due).
    if (expiry > afterMs) next = Math.min(next, expiry);
  }
  return next;
}

/** True when a heartbeat can change decide's answer: the broker was not alive before, or its wantFence flipped. */
export function heartbeatChangesDecision(previous: BrokerSession | undefined, next: BrokerSession, nowMs: number, sessionTimeoutMs: number): boolean {
  return !isSessionAlive(previous, next.brokerEpoch, nowMs, sessionTimeoutMs) || previous?.wantFence !== next.wantFence;
}
