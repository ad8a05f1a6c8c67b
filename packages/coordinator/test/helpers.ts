// Shared builders for the coordinator's unit tests (not a test file itself).
import { expect } from 'vitest';
import type { ErrorCode } from '@fjord/protocol';
import type { MetadataCommand } from '../src/metadata-command.js';
import { EMPTY_METADATA, applyCommand, type ApplyResult, type MetadataState } from '../src/metadata-state.js';
import { toSnapshot } from '../src/metadata-snapshot.js';

export function tid(n: number): string {
  return `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}

export function register(brokerId: number, incarnation = `inc-${brokerId}`, rack: string | null = null): MetadataCommand {
  return { kind: 'RegisterBroker', brokerId, incarnationId: incarnation, endpoints: [{ name: 'PLAINTEXT', host: '127.0.0.1', port: 9000 + brokerId }], rack };
}

/** Applies a command that must succeed; returns the new state and the result. */
export function must(state: MetadataState, command: MetadataCommand): { state: MetadataState; result: Extract<ApplyResult, { ok: true }> } {
  const applied = applyCommand(state, command);
  if (!applied.result.ok) throw new Error(`${command.kind} failed: ${applied.result.error.code} ${applied.result.error.message}`);
  return { state: applied.state, result: applied.result };
}

/** Applies a command that must fail with `code` and leave the state untouched (same object, same snapshot). */
export function rejected(state: MetadataState, command: MetadataCommand, code: ErrorCode): string {
  const before = JSON.stringify(toSnapshot(state));
  const applied = applyCommand(state, command);
  expect(applied.result.ok, `${command.kind} should fail with ${code}`).toBe(false);
  if (applied.result.ok) return '';
  expect(applied.result.error.code, applied.result.error.message).toBe(code);
  expect(applied.state).toBe(state);
  expect(JSON.stringify(toSnapshot(state))).toBe(before);
  return applied.result.error.message;
}

/** Brokers 1..n registered (with racks when given) and unfenced. */
export function cluster(n: number, racks?: readonly string[]): MetadataState {
  let state = EMPTY_METADATA;
  for (let id = 1; id <= n; id++) {
    state = must(state, register(id, `inc-${id}`, racks?.[(id - 1) % racks.length] ?? null)).state;
    const epoch = state.brokers.get(id)?.brokerEpoch ?? -1;
    state = must(state, { kind: 'UnfenceBroker', brokerId: id, brokerEpoch: epoch }).state;
  }
  return state;
}

export function epochOf(state: MetadataState, brokerId: number): number {
  const broker = state.brokers.get(brokerId);
  if (broker === undefined) throw new Error(`no broker ${brokerId}`);
  return broker.brokerEpoch;
}

export function partition(state: MetadataState, topic: string, p: number): { topicId: string; leader: number; leaderEpoch: number; isr: readonly number[]; partitionEpoch: number; replicas: readonly number[] } {
  const t = state.topics.get(topic);
  const part = t?.partitions[p];
  if (t === undefined || part === undefined) throw new Error(`no ${topic}-${p}`);
  return { topicId: t.topicId, ...part };
}

/** ISR members with their current broker epochs (what a leader sends in AlterPartition). */
export function members(state: MetadataState, ids: readonly number[]): { brokerId: number; brokerEpoch: number }[] {
  return ids.map((brokerId) => ({ brokerId, brokerEpoch: state.brokers.get(brokerId)?.brokerEpoch ?? 0 }));
}
