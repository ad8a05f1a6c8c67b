/**
 * The metadata state machine as the Raft shell drives it (STYLE.md B: the
 * shell applies committed entries, then advances). Pure and deterministic:
 * no I/O, no clock. It holds the applied state, the applied Raft index and the
 * watch history, and enforces that entries are applied exactly once, in
 * index order.
 *
 * - `applyEntry(index, data)`: data is a command payload (command-codec.ts).
 *   Empty data is Raft's empty entry (a new leader's first entry in its term)
 *   and only advances the index. A payload that does not decode is a typed
 *   INVALID_REQUEST result on every replica alike, never an exception, so one
 *   bad entry cannot crash the cluster. Membership (conf-change) entries are
 *   the shell's, not this machine's.
 * - `snapshot()` / `restore()`: the metadata snapshot plus the index it
 *   covers; restoring drops the watch history (watchers behind it get an image).
 */
import { assert } from '@fjord/protocol';
import { decodeCommand } from './command-codec.js';
import { EMPTY_METADATA, applyCommand, type ApplyResult, type MetadataState } from './metadata-state.js';
import { decodeSnapshot, encodeSnapshot } from './metadata-snapshot.js';
import { ChangeHistory, buildDelta, type MetadataDelta } from './metadata-watch.js';
import { ok, type Result } from './result.js';

export interface EntryOutcome {
  /** null for an empty entry. */
  readonly result: ApplyResult | null;
  /** The change as full records, when the entry changed the state. */
  readonly delta: MetadataDelta | null;
}

export interface MachineSnapshot {
  /** The last Raft index the snapshot includes. */
  readonly appliedIndex: number;
  readonly data: Uint8Array;
}

export class MetadataMachine {
  private current: MetadataState;
  private applied: number;
  readonly history: ChangeHistory;

  constructor(options: { readonly historyCapacity: number; readonly state?: MetadataState; readonly appliedIndex?: number }) {
    this.current = options.state ?? EMPTY_METADATA;
    this.applied = options.appliedIndex ?? 0;
    assert(Number.isSafeInteger(this.applied) && this.applied >= 0, 'appliedIndex must be a non-negative safe integer');
    this.history = new ChangeHistory(options.historyCapacity, this.current.version);
  }

  get state(): MetadataState {
    return this.current;
  }

  get appliedIndex(): number {
    return this.applied;
  }

  applyEntry(index: number, data: Uint8Array): EntryOutcome {
    // Raft hands committed entries over exactly once and in order; anything
    // else is a shell bug that would make replicas diverge (STYLE.md H.3).
    assert(index === this.applied + 1, () => `entry ${index} applied after ${this.applied}`);
    this.applied = index;
    if (data.length === 0) return { result: null, delta: null };
    const decoded = decodeCommand(data);
    if (!decoded.ok) return { result: decoded, delta: null };
    const before = this.current;
    const { state, result } = applyCommand(before, decoded.value);
    if (!result.ok || state === before) return { result, delta: null };
    this.current = state;
    const delta = buildDelta(state, result.changes);
    this.history.append(delta);
    return { result, delta };
  }

  snapshot(): MachineSnapshot {
    return { appliedIndex: this.applied, data: encodeSnapshot(this.current) };
  }

  /** Replaces the state with a snapshot's (a follower far behind, or startup). Garbage is INVALID_REQUEST and changes nothing. */
  restore(snapshot: MachineSnapshot): Result<void> {
    if (!Number.isSafeInteger(snapshot.appliedIndex) || snapshot.appliedIndex < 0) {
      return { ok: false, error: { code: 'INVALID_REQUEST', message: `snapshot index ${snapshot.appliedIndex} is invalid` } };
    }
    const decoded = decodeSnapshot(snapshot.data);
    if (!decoded.ok) return decoded;
    this.current = decoded.value;
    this.applied = snapshot.appliedIndex;
    this.history.reset(this.current.version);
    return ok(undefined);
  }
}
