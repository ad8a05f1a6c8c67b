/**
 * The pure half of WatchMetadata (DESIGN.md: "brokers follow it through a
 * watch stream from the version they have, a snapshot first if they are too
 * far behind"): what one committed change looked like, as full records
 * (`buildDelta`), and a bounded history of recent deltas (`ChangeHistory`)
 * that answers "what does a watcher at version v need": the deltas after v,
 * a full image first, or nothing yet (it is ahead of this node).
 *
 * Deltas hold the records as they were at that version. The state's records
 * are immutable and shared, so keeping them costs references, not copies.
 * The history is bounded by `watchHistoryVersions` (STYLE.md H.2).
 */
import { assert } from '@fjord/protocol';
import type { BrokerState, MetadataChanges, MetadataState, PartitionState, TopicState } from './metadata-state.js';

export interface PartitionChange {
  readonly topicId: string;
  readonly topicName: string;
  readonly state: PartitionState;
}

export interface MetadataDelta {
  readonly version: number;
  readonly brokers: readonly BrokerState[];
  readonly createdTopics: readonly TopicState[];
  readonly deletedTopics: readonly { readonly name: string; readonly topicId: string }[];
  readonly partitions: readonly PartitionChange[];
}

/** The delta of one applied change, read from the state right after it. */
export function buildDelta(state: MetadataState, changes: MetadataChanges): MetadataDelta {
  const brokers = changes.brokers.map((id) => {
    const broker = state.brokers.get(id);
    assert(broker !== undefined, () => `changed broker ${id} missing from the state`);
    return broker;
  });
  const createdTopics = changes.createdTopics.map((name) => {
    const topic = state.topics.get(name);
    assert(topic !== undefined, () => `created topic ${name} missing from the state`);
    return topic;
  });
  const partitions = changes.partitions.map(({ topicId, partition }) => {
    const name = state.topicNamesById.get(topicId);
    const p = name === undefined ? undefined : state.topics.get(name)?.partitions[partition];
    assert(name !== undefined && p !== undefined, () => `changed partition ${topicId}/${partition} missing from the state`);
    return { topicId, topicName: name, state: p };
  });
  return { version: state.version, brokers, createdTopics, deletedTopics: changes.deletedTopics, partitions };
}

export type WatchPlan =
  | { readonly kind: 'deltas'; readonly deltas: readonly MetadataDelta[] }
  /** Too far behind (or starting from nothing): send the whole state first. */
  | { readonly kind: 'image' }
  /** The watcher has seen a newer version than this node applied: wait for it. */
  | { readonly kind: 'ahead' };

/** A ring of the most recent deltas, in version order, without gaps. */
export class ChangeHistory {
  private readonly ring: (MetadataDelta | undefined)[];
  private start = 0;
  private size = 0;
  /** The version the history is complete from: deltas after it are all here. */
  private baseVersion: number;

  constructor(readonly capacity: number, currentVersion: number) {
    assert(Number.isSafeInteger(capacity) && capacity >= 1, 'ChangeHistory capacity must be >= 1');
    this.ring = new Array<MetadataDelta | undefined>(capacity);
    this.baseVersion = currentVersion;
  }

  /** The newest version recorded (or the starting version). */
  get lastVersion(): number {
    return this.baseVersion + this.size;
  }

  /** Appends the next delta; versions must follow each other. */
  append(delta: MetadataDelta): void {
    assert(delta.version === this.lastVersion + 1, () => `delta version ${delta.version} does not follow ${this.lastVersion}`);
    if (this.size === this.capacity) {
      this.ring[this.start] = undefined;
      this.start = (this.start + 1) % this.capacity;
      this.size--;
      this.baseVersion++;
    }
    this.ring[(this.start + this.size) % this.capacity] = delta;
    this.size++;
  }

  /** After a snapshot is installed, history before it is meaningless. */
  reset(currentVersion: number): void {
    this.ring.fill(undefined);
    this.start = 0;
    this.size = 0;
    this.baseVersion = currentVersion;
  }

  /** What a watcher that has `fromVersion` needs; at most `maxDeltas` deltas (the rest on the next call). */
  plan(fromVersion: number, maxDeltas: number = this.capacity): WatchPlan {
    if (fromVersion > this.lastVersion) return { kind: 'ahead' };
    if (fromVersion === 0 && this.lastVersion > 0) return { kind: 'image' };
    if (fromVersion < this.baseVersion) return { kind: 'image' };
    const skip = fromVersion - this.baseVersion;
    const count = Math.min(this.size - skip, Math.max(0, maxDeltas));
    const deltas: MetadataDelta[] = [];
    for (let i = 0; i < count; i++) {
      const delta = this.ring[(this.start + skip + i) % this.capacity];
      assert(delta !== undefined && delta.version === fromVersion + i + 1, 'change history has a gap');
      deltas.push(delta);
    }
    return { kind: 'deltas', deltas };
  }
}
