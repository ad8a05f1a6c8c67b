// Goal: topic and group names follow Kafka's rules (Topic.validate,
// hasCollision), and an invalid one is a FjordError (INVALID_TOPIC /
// INVALID_GROUP_ID) whose message says which rule it broke.
import { describe, expect, it } from 'vitest';
import {
  MAX_TOPIC_NAME_LENGTH,
  findCollidingTopic,
  hasCollisionChars,
  isValidGroupId,
  isValidTopicName,
  topicNamesCollide,
  unifyCollisionChars,
  validateGroupId,
  validateNoTopicCollision,
  validateTopicName,
} from '@fjord/protocol';
import { errorOf } from './support/error-of.js';


describe('topic names', () => {
  it('accepts Kafka-legal names', () => {
    for (const name of ['a', 'A-Z_0.9', 'orders', '...', '.a', 'a..', '-', '_', 'x'.repeat(249), '__consumer_offsets']) {
      expect(isValidTopicName(name), name).toBe(true);
      expect(() => validateTopicName(name)).not.toThrow();
    }
    expect(MAX_TOPIC_NAME_LENGTH).toBe(249);
  });

  it('rejects the rest with INVALID_TOPIC and a clear message', () => {
    const cases: [string, RegExp][] = [
      ['', /cannot be empty/],
      ['.', /cannot be "\."/],
      ['..', /cannot be "\.\."/],
      ['x'.repeat(250), /longer than 249 characters \(got 250\)/],
      ['has space', /only ASCII letters, digits/],
      ['slash/name', /only ASCII letters/],
      ['tab\t', /only ASCII letters/],
      ['ünïcode', /only ASCII letters/],
      ['emoji🎉', /only ASCII letters/],
      ['colon:x', /only ASCII letters/],
      ['new\nline', /only ASCII letters/],
    ];
    for (const [name, message] of cases) {
      expect(isValidTopicName(name), name).toBe(false);
      const err = errorOf(() => validateTopicName(name));
      expect(err.code).toBe('INVALID_TOPIC');
      expect(err.message).toMatch(message);
      expect(err.details['topic']).toBe(name);
    }
  });

  it("'.' and '_' collide, as in Kafka's metric names", () => {
    expect(hasCollisionChars('a.b')).toBe(true);
    expect(hasCollisionChars('a_b')).toBe(true);
    expect(hasCollisionChars('a-b')).toBe(false);
    expect(unifyCollisionChars('a.b.c_d')).toBe('a_b_c_d');
    expect(topicNamesCollide('a.b', 'a_b')).toBe(true);
    expect(topicNamesCollide('a.b', 'a.b')).toBe(true);
    expect(topicNamesCollide('a.b', 'a-b')).toBe(false);
    expect(findCollidingTopic('metrics.cpu', ['other', 'metrics_cpu'])).toBe('metrics_cpu');
    expect(findCollidingTopic('metrics_cpu', ['metrics.cpu'])).toBe('metrics.cpu');
    expect(findCollidingTopic('metrics.cpu', ['metrics.cpu'])).toBeUndefined(); // itself is not a collision
    expect(findCollidingTopic('plain', ['plain', 'other'])).toBeUndefined();
    const err = errorOf(() => validateNoTopicCollision('a.b', new Set(['a_b'])));
    expect(err.code).toBe('INVALID_TOPIC');
    expect(err.message).toMatch(/collides with existing topic "a_b"/);
    expect(() => validateNoTopicCollision('a.b', [])).not.toThrow();
  });
});

describe('group ids', () => {
  it("accepts any non-empty string Kafka's wire can carry", () => {
    for (const id of ['g', 'my group', 'app:consumer/1', 'ünïcode-🎉', 'x'.repeat(32767)]) expect(isValidGroupId(id), id.slice(0, 20)).toBe(true);
  });

  it('rejects empty, over-long and unencodable ids with INVALID_GROUP_ID', () => {
    const cases: [string, RegExp][] = [
      ['', /cannot be empty/],
      ['x'.repeat(32768), /longer than 32767 UTF-8 bytes/],
      ['é'.repeat(20000), /longer than 32767 UTF-8 bytes/],
      ['lone \ud800 surrogate', /lone UTF-16 surrogate/],
      ['\udc00', /lone UTF-16 surrogate/],
    ];
    for (const [id, message] of cases) {
      expect(isValidGroupId(id)).toBe(false);
      const err = errorOf(() => validateGroupId(id));
      expect(err.code).toBe('INVALID_GROUP_ID');
      expect(err.message).toMatch(message);
      expect(err.message.length).toBeLessThan(500); // long ids are shortened in the message
    }
  });
});
