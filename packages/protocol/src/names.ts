/**
 * Topic and consumer-group name rules, after Kafka's
 * org.apache.kafka.common.internals.Topic:
 * - a topic name is 1..249 characters of [a-zA-Z0-9._-] and is not "." or ".."
 *   (249 = 255, the usual file-name limit, minus room for "-<partition>" and a
 *   suffix on the partition directory: the name becomes a directory name);
 * - '.' and '_' collide: metrics names replace '.' with '_', so "a.b" and "a_b"
 *   would share metrics. Kafka refuses to create one when the other exists; the
 *   coordinator does the same with topicNamesCollide / findCollidingTopic.
 * Group ids: Kafka only requires a non-empty string (GroupCoordinator's
 * isValidGroupId); Fjord adds the wire bound of Kafka's int16-length string and
 * refuses lone UTF-16 surrogates, which would not survive UTF-8.
 */
import { FjordError } from './errors.js';

export const MAX_TOPIC_NAME_LENGTH = 249;
/** Kafka writes strings with an int16 length: a group id is at most 32767 UTF-8 bytes. */
export const MAX_GROUP_ID_BYTES = 0x7fff;

const TOPIC_NAME_PATTERN = /^[a-zA-Z0-9._-]+$/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Why `name` is not a valid topic name, or null when it is. */
export function topicNameProblem(name: string): string | null {
  if (typeof name !== 'string') return 'a topic name must be a string';
  if (name.length === 0) return 'a topic name cannot be empty';
  if (name === '.' || name === '..') return `a topic name cannot be "${name}"`;
  if (name.length > MAX_TOPIC_NAME_LENGTH) return `a topic name cannot be longer than ${MAX_TOPIC_NAME_LENGTH} characters (got ${name.length})`;
  if (!TOPIC_NAME_PATTERN.test(name)) return "a topic name may contain only ASCII letters, digits, '.', '_' and '-'";
  return null;
}

export function isValidTopicName(name: string): boolean {
  return topicNameProblem(name) === null;
}

/** Throws INVALID_TOPIC (naming the topic and the rule it breaks) unless `name` is a valid topic name. */
export function validateTopicName(name: string): void {
  const problem = topicNameProblem(name);
  if (problem !== null) {
    const shown = typeof name === 'string' ? JSON.stringify(name.length > 300 ? `${name.slice(0, 300)}...` : name) : String(name);
    throw new FjordError('INVALID_TOPIC', `${shown}: ${problem}`, { topic: name, problem });
  }
}

/** True when the name contains '.' or '_', the characters that can collide (Kafka's hasCollisionChars). */
export function hasCollisionChars(name: string): boolean {
  return name.includes('.') || name.includes('_');
}

/** The form two topics are compared in: every '.' replaced by '_' (Kafka's unifyCollisionChars). */
export function unifyCollisionChars(name: string): string {
  return name.replaceAll('.', '_');
}

/** True when two different names map to the same metrics name, e.g. "a.b" and "a_b" (Kafka's hasCollision). */
export function topicNamesCollide(a: string, b: string): boolean {
  return unifyCollisionChars(a) === unifyCollisionChars(b);
}

/**
 * The first existing topic that `name` collides with (other than itself), or
 * undefined. Creating a topic that collides is refused with INVALID_TOPIC by
 * the coordinator (validateNoTopicCollision).
 */
export function findCollidingTopic(name: string, existing: Iterable<string>): string | undefined {
  if (!hasCollisionChars(name)) {
    // Without '.' or '_' a name can only collide with one that has them.
    for (const other of existing) if (other !== name && hasCollisionChars(other) && topicNamesCollide(name, other)) return other;
    return undefined;
  }
  for (const other of existing) if (other !== name && topicNamesCollide(name, other)) return other;
  return undefined;
}

/** Throws INVALID_TOPIC when `name` collides with an existing topic ('.' vs '_'). */
export function validateNoTopicCollision(name: string, existing: Iterable<string>): void {
  const other = findCollidingTopic(name, existing);
  if (other !== undefined) {
    throw new FjordError('INVALID_TOPIC', `topic "${name}" collides with existing topic "${other}": '.' and '_' are the same in metric names`, {
      topic: name,
      collidesWith: other,
    });
  }
}

/** Why `groupId` is not a valid consumer-group id, or null when it is. */
export function groupIdProblem(groupId: string): string | null {
  if (typeof groupId !== 'string') return 'a group id must be a string';
  if (groupId.length === 0) return 'a group id cannot be empty';
  if (Buffer.byteLength(groupId, 'utf8') > MAX_GROUP_ID_BYTES) return `a group id cannot be longer than ${MAX_GROUP_ID_BYTES} UTF-8 bytes`;
  if (LONE_SURROGATE.test(groupId)) return 'a group id cannot contain a lone UTF-16 surrogate (it has no UTF-8 form)';
  return null;
}

export function isValidGroupId(groupId: string): boolean {
  return groupIdProblem(groupId) === null;
}

/** Throws INVALID_GROUP_ID unless `groupId` is a valid group id. */
export function validateGroupId(groupId: string): void {
  const problem = groupIdProblem(groupId);
  if (problem !== null) {
    const shown = typeof groupId === 'string' ? JSON.stringify(groupId.length > 300 ? `${groupId.slice(0, 300)}...` : groupId) : String(groupId);
    throw new FjordError('INVALID_GROUP_ID', `${shown}: ${problem}`, { groupId, problem });
  }
}
