// Goal: topic configs use Kafka's dotted names with Kafka's defaults, parse
// from strings into typed values, and reject unknown keys and bad values with
// INVALID_CONFIG naming the key; the table documents every key.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_TOPIC_CONFIG,
  TOPIC_CONFIG_DEFS,
  TOPIC_CONFIG_KEYS,
  parseTopicConfigOverrides,
  topicConfigMarkdownTable,
  topicConfigToStrings,
  validateTopicConfig,
} from '@fjord/protocol';
import { errorOf } from './support/error-of.js';


describe('topic config', () => {
  it("has the expected keys with Kafka's defaults", () => {
    expect([...TOPIC_CONFIG_KEYS].sort()).toEqual(
      [
        'cleanup.policy',
        'flush.policy',
        'index.interval.bytes',
        'max.message.bytes',
        'message.timestamp.type',
        'min.insync.replicas',
        'retention.bytes',
        'retention.ms',
        'segment.bytes',
        'segment.ms',
        'unclean.leader.election.enable',
      ].sort(),
    );
    expect(DEFAULT_TOPIC_CONFIG).toEqual({
      'segment.bytes': 1073741824,
      'segment.ms': 604800000,
      'retention.ms': 604800000,
      'retention.bytes': -1,
      'min.insync.replicas': 1,
      'cleanup.policy': 'delete',
      'max.message.bytes': 1048588,
      'index.interval.bytes': 4096,
      'flush.policy': 'replicated',
      'unclean.leader.election.enable': false,
      'message.timestamp.type': 'CreateTime',
    });
    expect(Object.isFrozen(DEFAULT_TOPIC_CONFIG)).toBe(true);
  });

  it('every entry has a doc line and a default inside its own bounds', () => {
    for (const key of TOPIC_CONFIG_KEYS) {
      const def = TOPIC_CONFIG_DEFS[key];
      expect(def.doc.length, key).toBeGreaterThan(10);
      if (def.type === 'int' || def.type === 'long') {
        expect(def.default, key).toBeGreaterThanOrEqual(def.min);
        expect(def.default, key).toBeLessThanOrEqual(def.max);
        if (def.type === 'int') expect(def.max).toBeLessThanOrEqual(2 ** 31 - 1);
      } else if (def.type === 'enum') {
        expect(def.values, key).toContain(def.default);
      }
      // The default survives a round trip through its string form.
      expect(validateTopicConfig({ [key]: String(def.default) })[key]).toBe(def.default);
    }
  });

  it('parses strings into typed values, trimming like Kafka', () => {
    const config = validateTopicConfig({
      'segment.bytes': ' 1048576 ',
      'retention.ms': '-1',
      'retention.bytes': '9007199254740991',
      'cleanup.policy': 'compact',
      'flush.policy': 'durable',
      'unclean.leader.election.enable': 'TRUE',
      'message.timestamp.type': 'LogAppendTime',
      'min.insync.replicas': '+2',
    });
    expect(config['segment.bytes']).toBe(1048576);
    expect(config['retention.ms']).toBe(-1);
    expect(config['retention.bytes']).toBe(Number.MAX_SAFE_INTEGER);
    expect(config['cleanup.policy']).toBe('compact');
    expect(config['flush.policy']).toBe('durable');
    expect(config['unclean.leader.election.enable']).toBe(true);
    expect(config['message.timestamp.type']).toBe('LogAppendTime');
    expect(config['min.insync.replicas']).toBe(2);
    expect(config['segment.ms']).toBe(DEFAULT_TOPIC_CONFIG['segment.ms']);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('overrides alone, and back to strings', () => {
    const overrides = parseTopicConfigOverrides({ 'retention.ms': '1000', 'cleanup.policy': 'compact' });
    expect(overrides).toEqual({ 'retention.ms': 1000, 'cleanup.policy': 'compact' });
    expect(topicConfigToStrings(overrides)).toEqual({ 'retention.ms': '1000', 'cleanup.policy': 'compact' });
    expect(parseTopicConfigOverrides(topicConfigToStrings(DEFAULT_TOPIC_CONFIG))).toEqual(DEFAULT_TOPIC_CONFIG);
    expect(parseTopicConfigOverrides({})).toEqual({});
  });

  it('rejects unknown keys and bad values with INVALID_CONFIG naming the key', () => {
    const cases: [Record<string, string>, string, RegExp][] = [
      [{ 'segment.byte': '1' }, 'segment.byte', /unknown topic config "segment.byte"/],
      [{ segmentBytes: '1' }, 'segmentBytes', /unknown/],
      [JSON.parse('{"__proto__": "1"}') as Record<string, string>, '__proto__', /unknown topic config "__proto__"/],
      [{ 'segment.bytes': '60' }, 'segment.bytes', /must be in \[61, 2147483647\]/],
      [{ 'segment.bytes': '2147483648' }, 'segment.bytes', /must be in/],
      [{ 'segment.bytes': '1.5' }, 'segment.bytes', /expected an integer/],
      [{ 'segment.bytes': '1e6' }, 'segment.bytes', /expected an integer/],
      [{ 'segment.bytes': '' }, 'segment.bytes', /expected an integer/],
      [{ 'segment.bytes': '0x10' }, 'segment.bytes', /expected an integer/],
      [{ 'segment.ms': '0' }, 'segment.ms', /must be in \[1,/],
      [{ 'retention.ms': '-2' }, 'retention.ms', /must be in \[-1,/],
      [{ 'retention.bytes': '9007199254740992' }, 'retention.bytes', /expected an integer/],
      [{ 'min.insync.replicas': '0' }, 'min.insync.replicas', /must be in \[1,/],
      [{ 'cleanup.policy': 'Compact' }, 'cleanup.policy', /expected one of delete, compact/],
      [{ 'cleanup.policy': 'compact,delete' }, 'cleanup.policy', /expected one of/],
      [{ 'flush.policy': 'sync' }, 'flush.policy', /expected one of replicated, durable/],
      [{ 'unclean.leader.election.enable': 'yes' }, 'unclean.leader.election.enable', /expected true or false/],
      [{ 'message.timestamp.type': 'createtime' }, 'message.timestamp.type', /expected one of CreateTime, LogAppendTime/],
      [{ 'max.message.bytes': '-1' }, 'max.message.bytes', /must be in/],
      [{ 'index.interval.bytes': '-1' }, 'index.interval.bytes', /must be in \[0,/],
    ];
    for (const [raw, key, message] of cases) {
      const err = errorOf(() => validateTopicConfig(raw));
      expect(err.code, JSON.stringify(raw)).toBe('INVALID_CONFIG');
      expect(err.message).toMatch(message);
      expect(err.message).toContain(key);
      expect(err.details['key']).toBe(key);
    }
    const notString = errorOf(() => validateTopicConfig({ 'segment.bytes': 5 } as unknown as Record<string, string>));
    expect(notString.message).toMatch(/values are strings/);
  });

  it("the README's settings table is the one the code generates", () => {
    const readme = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8');
    const m = /<!-- topic-config:begin -->\n([\s\S]*?)\n<!-- topic-config:end -->/.exec(readme);
    expect(m?.[1]).toBe(topicConfigMarkdownTable());
    for (const key of TOPIC_CONFIG_KEYS) expect(topicConfigMarkdownTable()).toContain(`| \`${key}\` |`);
  });
});
