// Goal: every metadata command survives encode -> decode unchanged, and no
// byte string (garbage, truncations, mutations of valid payloads, wrong
// types, unknown fields, out-of-range numbers) can make decoding throw: it
// answers INVALID_REQUEST instead. Raft entry payloads come from disk and
// from peers, so the decoder is a trust boundary.
import { describe, expect, it } from 'vitest';
import { Rng } from '@fjord/protocol';
import { COMMAND_FORMAT_V1, decodeCommand, encodeCommand, validateCommand } from '../src/command-codec.js';
import { METADATA_COMMAND_KINDS, type MetadataCommand } from '../src/metadata-command.js';
import { register, tid } from './helpers.js';

const samples: MetadataCommand[] = [
  register(1, 'inc', 'rack-a'),
  register(2),
  { kind: 'FenceBroker', brokerId: 3, brokerEpoch: 17 },
  { kind: 'UnfenceBroker', brokerId: 3, brokerEpoch: 17 },
  { kind: 'CreateTopic', name: 'orders', topicId: tid(1), assignment: [[1, 2], [2, 3]], configs: { 'retention.ms': '1000' } },
  { kind: 'DeleteTopic', name: 'orders', topicId: tid(1) },
  { kind: 'CreatePartitions', topicId: tid(1), assignment: [[3, 1]] },
  { kind: 'AlterPartition', brokerId: 1, brokerEpoch: 5, topicId: tid(1), partition: 0, leaderEpoch: 2, partitionEpoch: 7, isr: [{ brokerId: 1, brokerEpoch: 5 }, { brokerId: 2, brokerEpoch: 3 }] },
  { kind: 'ElectLeader', topicId: tid(1), partition: 1, leader: -1, isr: [2], partitionEpoch: 3, unclean: false },
  { kind: 'ShrinkIsr', topicId: tid(1), partition: 1, isr: [2], partitionEpoch: 3 },
  { kind: 'AllocateProducerIds', brokerId: 1, brokerEpoch: 5, count: 1000 },
];

function payload(value: unknown): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(value));
  return Uint8Array.from([COMMAND_FORMAT_V1, ...json]);
}

function expectInvalid(bytes: Uint8Array): void {
  const r = decodeCommand(bytes);
  expect(r.ok).toBe(false);
  if (!r.ok) expect(r.error.code).toBe('INVALID_REQUEST');
}

describe('command codec', () => {
  it('round-trips a sample of every kind', () => {
    expect(new Set(samples.map((c) => c.kind))).toEqual(new Set(METADATA_COMMAND_KINDS));
    for (const command of samples) {
      const bytes = encodeCommand(command);
      expect(bytes[0]).toBe(COMMAND_FORMAT_V1);
      expect(decodeCommand(bytes)).toEqual({ ok: true, value: command });
    }
  });

  it('rejects framing garbage', () => {
    expectInvalid(new Uint8Array(0));
    expectInvalid(Uint8Array.from([0x02, 0x7b, 0x7d]));
    expectInvalid(Uint8Array.from([COMMAND_FORMAT_V1, 0xff, 0xfe]));
    expectInvalid(Uint8Array.from([COMMAND_FORMAT_V1, 0x7b]));
    expectInvalid(new Uint8Array(4 * 1024 * 1024 + 1).fill(COMMAND_FORMAT_V1));
  });

  it('rejects wrong shapes, unknown kinds and fields, and out-of-range values', () => {
    const good = samples[7] as MetadataCommand;
    const bad: unknown[] = [
      null, 1, 'x', [], {}, { kind: 'Nope' }, { kind: 'toString' }, { kind: '__proto__' },
      { ...good, extra: 1 },
      { ...good, brokerId: undefined },
      { ...good, brokerId: -1 },
      { ...good, brokerId: 1.5 },
      { ...good, brokerId: '1' },
      { ...good, brokerEpoch: 2 ** 60 },
      { ...good, topicId: 'not-a-uuid' },
      { ...good, topicId: tid(0xabc).toUpperCase() },
      { ...good, isr: [1, 2] },
      { ...good, isr: [{ brokerId: 1 }] },
      { ...good, isr: [{ brokerId: 1, brokerEpoch: 1, x: 1 }] },
      { ...good, isr: Array.from({ length: 33 }, (_, i) => ({ brokerId: i, brokerEpoch: 1 })) },
      { ...good, leaderEpoch: 2 ** 31 },
      { ...good, partition: 10_000 },
      { kind: 'RegisterBroker', brokerId: 1, incarnationId: '', endpoints: [], rack: null },
      { kind: 'RegisterBroker', brokerId: 1, incarnationId: 'i', endpoints: [{ name: 'A', host: 'h', port: 0 }], rack: null },
      { kind: 'RegisterBroker', brokerId: 1, incarnationId: 'i', endpoints: [{ name: 'A', host: 'h', port: 1, x: 1 }], rack: null },
      { kind: 'RegisterBroker', brokerId: 1, incarnationId: 'i', endpoints: [], rack: '' },
      { kind: 'CreateTopic', name: 't', topicId: tid(1), assignment: [[1]], configs: { a: 1 } },
      { kind: 'CreateTopic', name: 't', topicId: tid(1), assignment: [[1]], configs: [] },
      { kind: 'CreateTopic', name: '', topicId: tid(1), assignment: [[1]], configs: {} },
      { kind: 'CreateTopic', name: 't', topicId: tid(1), assignment: [1], configs: {} },
      { kind: 'ElectLeader', topicId: tid(1), partition: 0, leader: -2, isr: [], partitionEpoch: 0, unclean: false },
      { kind: 'ElectLeader', topicId: tid(1), partition: 0, leader: 1, isr: [1], partitionEpoch: 0, unclean: 'no' },
      { kind: 'AllocateProducerIds', brokerId: 1, brokerEpoch: 1, count: 0 },
    ];
    for (const value of bad) {
      const r = decodeCommand(payload(value));
      expect(r.ok, JSON.stringify(value)).toBe(false);
      if (!r.ok) expect(r.error.code).toBe('INVALID_REQUEST');
    }
    // "__proto__" as a config key must not reach an object's prototype.
    expectInvalid(Uint8Array.from([COMMAND_FORMAT_V1, ...new TextEncoder().encode(
      `{"kind":"CreateTopic","name":"t","topicId":"${tid(1)}","assignment":[[1]],"configs":{"__proto__":"x"}}`,
    )]));
  });

  it('refuses to encode a command above the entry limit with a typed error', () => {
    const huge: MetadataCommand = {
      kind: 'CreateTopic', name: 't', topicId: tid(1),
      assignment: Array.from({ length: 10_000 }, () => Array.from({ length: 32 }, (_, i) => 2_000_000_000 + i)),
      configs: Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`key.${i}`, 'v'.repeat(4096)])),
    };
    expect(() => encodeCommand(huge)).toThrow(expect.objectContaining({ code: 'INVALID_REQUEST' }));
  });

  it('validateCommand checks values that never went through bytes', () => {
    expect(validateCommand(samples[0]).ok).toBe(true);
    expect(validateCommand({ kind: 'FenceBroker', brokerId: 1 }).ok).toBe(false);
  });

  it('never throws on random bytes or on mutations of valid payloads (seeded)', () => {
    const rng = new Rng(0xc0ffee);
    for (let i = 0; i < 3000; i++) {
      const bytes = i % 2 === 0 ? rng.bytes(rng.int(64)) : Uint8Array.from(encodeCommand(rng.pick(samples)));
      if (i % 2 === 1) {
        const flips = 1 + rng.int(4);
        for (let f = 0; f < flips; f++) bytes[rng.int(bytes.length)] = rng.int(256);
      }
      const cut = rng.chance(1, 4) ? bytes.subarray(0, rng.int(bytes.length + 1)) : bytes;
      expect(() => decodeCommand(cut)).not.toThrow();
      const r = decodeCommand(cut);
      if (!r.ok) expect(r.error.code).toBe('INVALID_REQUEST');
      else expect(METADATA_COMMAND_KINDS).toContain(r.value.kind);
    }
  });
});
