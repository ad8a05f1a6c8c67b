// Goal: topic create / add partitions / delete requests are validated in
// Kafka's order and give the right typed error for each kind of bad input
// (names, duplicates and collisions, counts, replication factor above the
// live brokers, manual assignments, configs); valid requests give commands
// that apply cleanly. Topic ids come from an injected Rng.
import { describe, expect, it } from 'vitest';
import { Rng } from '@fjord/protocol';
import { planCreatePartitions, planCreatePartitionsBatch, planCreateTopic, planCreateTopics, planDeleteTopic, type CreateTopicRequest } from '../src/controller/topic-admin.js';
import { newTopicId } from '../src/controller/topic-id.js';
import { TOPIC_ID_PATTERN } from '../src/metadata-command.js';
import { applyCommand, type MetadataState } from '../src/metadata-state.js';
import { checkInvariants } from '../src/metadata-snapshot.js';
import { cluster, epochOf, must, tid } from './helpers.js';

const defaults = { partitionCount: 3, replicationFactor: 2 };
const placement = { startIndex: 0, replicaShift: 0 };

function plan(metadata: MetadataState, request: CreateTopicRequest): ReturnType<typeof planCreateTopic> {
  return planCreateTopic({ metadata, request, defaults, topicId: tid(100), placement });
}

function codeOf(r: { ok: boolean; error?: { code: string } }): string {
  return r.ok ? 'ok' : (r.error?.code ?? '?');
}

describe('newTopicId', () => {
  it('draws version-4 UUIDs from the seed, reproducibly', () => {
    const a = newTopicId(new Rng(1));
    expect(a).toMatch(TOPIC_ID_PATTERN);
    expect(a[14]).toBe('4');
    expect(newTopicId(new Rng(1))).toBe(a);
    expect(newTopicId(new Rng(2))).not.toBe(a);
  });
});

describe('planCreateTopic', () => {
  it('uses defaults and places on live brokers; the command applies', () => {
    let state = cluster(3);
    state = must(state, { kind: 'FenceBroker', brokerId: 2, brokerEpoch: epochOf(state, 2) }).state;
    const r = plan(state, { name: 'orders', configs: { 'retention.ms': '60000' } });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.assignment).toEqual([[1, 3], [3, 1], [1, 3]]);
    const applied = must(state, r.value).state;
    expect(checkInvariants(applied)).toEqual([]);
    expect(applied.topics.get('orders')?.configs).toEqual({ 'retention.ms': '60000' });
  });

  it('rejects each kind of bad input with its code', () => {
    const state = must(cluster(3), { kind: 'CreateTopic', name: 'a.b', topicId: tid(1), assignment: [[1]], configs: {} }).state;
    const cases: [CreateTopicRequest, string][] = [
      [{ name: '' }, 'INVALID_TOPIC'],
      [{ name: 'x'.repeat(250) }, 'INVALID_TOPIC'],
      [{ name: 'has space' }, 'INVALID_TOPIC'],
      [{ name: 'a.b' }, 'TOPIC_ALREADY_EXISTS'],
      [{ name: 'a_b' }, 'INVALID_TOPIC'],
      [{ name: 't', partitionCount: 0 }, 'INVALID_PARTITIONS'],
      [{ name: 't', partitionCount: -3 }, 'INVALID_PARTITIONS'],
      [{ name: 't', partitionCount: 10_001 }, 'INVALID_PARTITIONS'],
      [{ name: 't', replicationFactor: 0 }, 'INVALID_REPLICATION_FACTOR'],
      [{ name: 't', replicationFactor: 4 }, 'INVALID_REPLICATION_FACTOR'],
      [{ name: 't', assignment: [[1, 2]], partitionCount: 1 }, 'INVALID_REQUEST'],
      [{ name: 't', assignment: [[1, 2], [1]] }, 'INVALID_REPLICA_ASSIGNMENT'],
      [{ name: 't', assignment: [[1, 1]] }, 'INVALID_REPLICA_ASSIGNMENT'],
      [{ name: 't', assignment: [[1, 9]] }, 'INVALID_REPLICA_ASSIGNMENT'],
      [{ name: 't', configs: { 'segment.bytes': 'big' } }, 'INVALID_CONFIG'],
      [{ name: 't', configs: { 'made.up': '1' } }, 'INVALID_CONFIG'],
    ];
    for (const [request, code] of cases) expect(codeOf(plan(state, request)), JSON.stringify(request).slice(0, 80)).toBe(code);
    expect(codeOf(planCreateTopic({ metadata: state, request: { name: 'new' }, defaults, topicId: tid(1), placement }))).toBe('INVALID_REQUEST');
  });

  it('counts only unfenced brokers as live for the replication factor', () => {
    let state = cluster(3);
    state = must(state, { kind: 'FenceBroker', brokerId: 3, brokerEpoch: epochOf(state, 3) }).state;
    expect(codeOf(plan(state, { name: 't', replicationFactor: 3 }))).toBe('INVALID_REPLICATION_FACTOR');
    expect(codeOf(plan(state, { name: 't', assignment: [[1, 3]] }))).toBe('INVALID_REPLICA_ASSIGNMENT');
    expect(codeOf(plan(state, { name: 't', replicationFactor: 2 }))).toBe('ok');
  });

  it('accepts a manual assignment as given', () => {
    const r = plan(cluster(3), { name: 't', assignment: [[3, 1], [2, 3]] });
    expect(r.ok && r.value.assignment).toEqual([[3, 1], [2, 3]]);
  });
});

describe('planCreatePartitions', () => {
  const withTopic = (): MetadataState => must(cluster(4), { kind: 'CreateTopic', name: 't', topicId: tid(1), assignment: [[1, 2], [2, 3]], configs: {} }).state;

  it('places new partitions with the topic replication factor and applies', () => {
    const state = withTopic();
    const r = planCreatePartitions({ metadata: state, request: { name: 't', count: 5 }, placement });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.assignment.length).toBe(3);
    for (const replicas of r.value.assignment) expect(replicas.length).toBe(2);
    const after = must(state, r.value).state;
    expect(after.topics.get('t')?.partitions.length).toBe(5);
    expect(checkInvariants(after)).toEqual([]);
  });

  it('rejects unknown topics, shrinking, and bad manual assignments', () => {
    const state = withTopic();
    expect(codeOf(planCreatePartitions({ metadata: state, request: { name: 'nope', count: 3 }, placement }))).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    expect(codeOf(planCreatePartitions({ metadata: state, request: { name: 't', count: 2 }, placement }))).toBe('INVALID_PARTITIONS');
    expect(codeOf(planCreatePartitions({ metadata: state, request: { name: 't', count: 1 }, placement }))).toBe('INVALID_PARTITIONS');
    expect(codeOf(planCreatePartitions({ metadata: state, request: { name: 't', count: 10_001 }, placement }))).toBe('INVALID_PARTITIONS');
    expect(codeOf(planCreatePartitions({ metadata: state, request: { name: 't', count: 4, assignment: [[1, 2]] }, placement }))).toBe('INVALID_REPLICA_ASSIGNMENT');
    expect(codeOf(planCreatePartitions({ metadata: state, request: { name: 't', count: 3, assignment: [[1, 2, 3]] }, placement }))).toBe('INVALID_REPLICA_ASSIGNMENT');
    const ok = planCreatePartitions({ metadata: state, request: { name: 't', count: 3, assignment: [[4, 1]] }, placement });
    expect(ok.ok && ok.value.assignment).toEqual([[4, 1]]);
  });
});

describe('planDeleteTopic', () => {
  it('finds topics by name or id and checks they agree', () => {
    const state = must(cluster(1), { kind: 'CreateTopic', name: 't', topicId: tid(1), assignment: [[1]], configs: {} }).state;
    expect(planDeleteTopic(state, { name: 't' })).toEqual({ ok: true, value: { kind: 'DeleteTopic', name: 't', topicId: tid(1) } });
    expect(planDeleteTopic(state, { topicId: tid(1) })).toEqual({ ok: true, value: { kind: 'DeleteTopic', name: 't', topicId: tid(1) } });
    expect(codeOf(planDeleteTopic(state, { name: 't', topicId: tid(2) }))).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    expect(codeOf(planDeleteTopic(state, { name: 'u' }))).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    expect(codeOf(planDeleteTopic(state, {}))).toBe('INVALID_REQUEST');
    const planned = planDeleteTopic(state, { name: 't' });
    if (planned.ok) expect(applyCommand(state, planned.value).result.ok).toBe(true);
  });
});

describe('planCreateTopics (a whole request)', () => {
  it('sees earlier items of the same request, and fails duplicates every time', () => {
    const rng = new Rng(3);
    const items = planCreateTopics({
      metadata: cluster(3),
      requests: [{ name: 'x.y' }, { name: 'x_y' }, { name: 'dup' }, { name: 'ok', partitionCount: 2 }, { name: 'dup' }, { name: 'bad!' }],
      defaults,
      nextTopicId: () => newTopicId(rng),
      nextPlacement: () => ({ startIndex: rng.int(3), replicaShift: rng.int(3) }),
    });
    expect(items.map((i) => [i.name, i.error?.code ?? 'ok'])).toEqual([
      ['x.y', 'ok'], ['x_y', 'INVALID_TOPIC'], ['dup', 'INVALID_REQUEST'], ['ok', 'ok'], ['dup', 'INVALID_REQUEST'], ['bad!', 'INVALID_TOPIC'],
    ]);
    // The planned commands apply in order, with distinct topic ids.
    let state = cluster(3);
    for (const item of items) if (item.command) state = must(state, item.command).state;
    expect([...state.topics.keys()].sort()).toEqual(['ok', 'x.y']);
    expect(new Set(items.flatMap((i) => (i.command ? [i.command.topicId] : []))).size).toBe(2);
  });

  it('plans CreatePartitions batches with per-item errors', () => {
    const state = must(cluster(3), { kind: 'CreateTopic', name: 't', topicId: tid(1), assignment: [[1, 2]], configs: {} }).state;
    const items = planCreatePartitionsBatch({
      metadata: state,
      requests: [{ name: 't', count: 3 }, { name: 'u', count: 2 }],
      nextPlacement: () => placement,
    });
    expect(items.map((i) => i.error?.code ?? 'ok')).toEqual(['ok', 'UNKNOWN_TOPIC_OR_PARTITION']);
    const dup = planCreatePartitionsBatch({ metadata: state, requests: [{ name: 't', count: 3 }, { name: 't', count: 4 }], nextPlacement: () => placement });
    expect(dup.map((i) => i.error?.code)).toEqual(['INVALID_REQUEST', 'INVALID_REQUEST']);
  });
});
