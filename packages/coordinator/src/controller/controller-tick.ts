/**
 * The controller's whole policy as one pure step, shared by the shell (a timer
 * calls it every controllerIntervalMs on the Raft leader) and the simulator:
 * heartbeats update soft state, and `controllerTick` runs decide only when its
 * answer can change (decide walks every partition):
 * - the metadata version moved since the last decision (a command committed);
 * - a heartbeat mattered (a broker came alive or its wantFence flipped);
 * - a session reached its expiry time;
 * - the preferred-leader rebalance interval elapsed (Kafka's
 *   leader.imbalance.check.interval, auto.leader.rebalance.enable);
 * - the safety interval elapsed (a slow periodic run, in case a proposal was
 *   dropped without any state change).
 * A new Raft leader starts with `initialControllerState`, which gives every
 * broker a full session (sessions.ts).
 */
import type { MetadataCommand } from '../metadata-command.js';
import type { MetadataState } from '../metadata-state.js';
import type { Result } from '../result.js';
import { decide } from './decide.js';
import { heartbeatChangesDecision, nextSessionExpiryMs, pruneSessions, recordHeartbeat, seedSessions, type BrokerSessions, type Heartbeat } from './sessions.js';

export interface ControllerOptions {
  readonly sessionTimeoutMs: number;
  /** 0 turns preferred-leader rebalancing off. */
  readonly leaderRebalanceIntervalMs: number;
  /** decide runs at least this often even when nothing seems to change. */
  readonly safetyIntervalMs: number;
  readonly maxCommands?: number;
}

export interface ControllerState {
  readonly sessions: BrokerSessions;
  /** The metadata version decide last ran on (-1: never). */
  readonly decidedVersion: number;
  /** A heartbeat changed something decide looks at. */
  readonly dirty: boolean;
  readonly lastDecideMs: number;
  readonly lastRebalanceMs: number;
}

export function initialControllerState(metadata: MetadataState, nowMs: number): ControllerState {
  return { sessions: seedSessions(metadata, nowMs), decidedVersion: -1, dirty: true, lastDecideMs: nowMs, lastRebalanceMs: nowMs };
}

/** A broker heartbeat: STALE_BROKER_EPOCH for an unknown broker or an old incarnation. */
export function onHeartbeat(
  state: ControllerState,
  metadata: MetadataState,
  heartbeat: Heartbeat,
  nowMs: number,
  options: ControllerOptions,
): Result<{ state: ControllerState; fenced: boolean }> {
  const recorded = recordHeartbeat(metadata, state.sessions, heartbeat, nowMs);
  if (!recorded.ok) return recorded;
  const next = recorded.value.sessions.get(heartbeat.brokerId);
  const matters = next !== undefined && heartbeatChangesDecision(state.sessions.get(heartbeat.brokerId), next, nowMs, options.sessionTimeoutMs);
  return { ok: true, value: { state: { ...state, sessions: recorded.value.sessions, dirty: state.dirty || matters }, fenced: recorded.value.fenced } };
}

/**
 * The broker's BrokerSession stream closed without the broker ending it: its
 * process died and the kernel reset the connection. Its session ends now
 * (the next tick fences it and moves its leaderships) instead of
 * sessionTimeoutMs after its last heartbeat. Only for the session's own
 * broker epoch; a stream that stalls never closes, so a slow or paused broker
 * keeps the timeout. A live broker whose connection was cut heartbeats again
 * and is unfenced as after any expiry.
 */
export function onSessionLost(state: ControllerState, lost: { brokerId: number; brokerEpoch: number }, nowMs: number, options: ControllerOptions): ControllerState {
  const session = state.sessions.get(lost.brokerId);
  if (session === undefined || session.brokerEpoch !== lost.brokerEpoch) return state;
  const sessions = new Map(state.sessions);
  sessions.set(lost.brokerId, { ...session, lastHeartbeatMs: Math.min(session.lastHeartbeatMs, nowMs - options.sessionTimeoutMs - 1) });
  return { ...state, sessions, dirty: true };
}

export interface TickResult {
  readonly state: ControllerState;
  readonly commands: MetadataCommand[];
  /** Whether decide ran (for metrics and tests). */
  readonly decided: boolean;
}

export function controllerTick(state: ControllerState, metadata: MetadataState, nowMs: number, options: ControllerOptions): TickResult {
  const rebalance = options.leaderRebalanceIntervalMs > 0 && nowMs - state.lastRebalanceMs >= options.leaderRebalanceIntervalMs;
  const due =
    state.dirty ||
    rebalance ||
    metadata.version !== state.decidedVersion ||
    nowMs >= nextSessionExpiryMs(metadata, state.sessions, options.sessionTimeoutMs, state.lastDecideMs) ||
    nowMs - state.lastDecideMs >= options.safetyIntervalMs;
  if (!due) return { state, commands: [], decided: false };
  const sessions = pruneSessions(metadata, state.sessions);
  const commands = decide({
    metadata,
    brokerSessions: sessions,
    nowMs,
    sessionTimeoutMs: options.sessionTimeoutMs,
    preferredLeaderElection: rebalance,
    maxCommands: options.maxCommands,
  });
  return {
    state: {
      sessions,
      decidedVersion: metadata.version,
      dirty: false,
      lastDecideMs: nowMs,
      lastRebalanceMs: rebalance ? nowMs : state.lastRebalanceMs,
    },
    commands,
    decided: true,
  };
}
