/**
 * The Raft entry payload format for metadata commands: one format byte
 * (COMMAND_FORMAT_V1) followed by the command as UTF-8 JSON. JSON because
 * coordinator traffic is small and rare next to the data plane, it stays
 * readable in a log dump, and the format byte leaves room for a binary codec
 * later without ambiguity.
 *
 * Decoding never trusts its input: every field is shape- and range-checked
 * (json-reader.ts), unknown fields and kinds are rejected, and any failure is
 * an INVALID_REQUEST result, never an exception. Semantic checks (does the
 * broker exist, is the epoch current) belong to apply (metadata-state.ts).
 */
import { FjordError } from '@fjord/protocol';
import { fail, ok, type Result } from './result.js';
import {
  METADATA_LIMITS as L,
  NO_LEADER,
  TOPIC_ID_PATTERN,
  type Endpoint,
  type IsrMember,
  type MetadataCommand,
} from './metadata-command.js';
import {
  ShapeError,
  readArray,
  readBoolean,
  readInt,
  readIntArray,
  readObject,
  readString,
  readStringMap,
  type JsonObject,
} from './json-reader.js';

export const COMMAND_FORMAT_V1 = 0x01;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Encodes a command for a Raft entry. A command built from a client request
 * can be larger than an entry may be (its JSON is bigger than the protobuf
 * request that carried it), so the size limit is an operating error, thrown
 * as FjordError INVALID_REQUEST for the service to answer, not an assertion.
 */
export function encodeCommand(command: MetadataCommand): Uint8Array {
  const json = encoder.encode(JSON.stringify(command));
  if (json.length + 1 > L.maxCommandBytes) {
    throw new FjordError('INVALID_REQUEST', `${command.kind} encodes to ${json.length + 1} bytes, above the ${L.maxCommandBytes}-byte limit of one metadata command`);
  }
  const out = new Uint8Array(json.length + 1);
  out[0] = COMMAND_FORMAT_V1;
  out.set(json, 1);
  return out;
}

/** Decodes and validates a Raft entry payload. Garbage gives INVALID_REQUEST. */
export function decodeCommand(bytes: Uint8Array): Result<MetadataCommand> {
  if (bytes.length === 0) return fail('INVALID_REQUEST', 'empty command');
  if (bytes.length > L.maxCommandBytes) return fail('INVALID_REQUEST', `command of ${bytes.length} bytes is above ${L.maxCommandBytes}`);
  if (bytes[0] !== COMMAND_FORMAT_V1) return fail('INVALID_REQUEST', `unknown command format ${bytes[0]}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(bytes.subarray(1)));
  } catch {
    return fail('INVALID_REQUEST', 'command is not valid UTF-8 JSON');
  }
  return validateCommand(parsed);
}

/** Checks that an untrusted value is a well-formed command (shape and ranges). */
export function validateCommand(value: unknown): Result<MetadataCommand> {
  try {
    return ok(readCommand(value));
  } catch (e) {
    if (e instanceof ShapeError) return fail('INVALID_REQUEST', `malformed command: ${e.message}`);
    throw e;
  }
}

const brokerId = (v: unknown, path: string): number => readInt(v, path, 0, L.maxBrokerId);
const brokerEpoch = (v: unknown, path: string): number => readInt(v, path, 0, Number.MAX_SAFE_INTEGER);
const epoch = (v: unknown, path: string): number => readInt(v, path, 0, L.maxEpoch);
const partitionIndex = (v: unknown, path: string): number => readInt(v, path, 0, L.maxPartitionsPerTopic - 1);
const brokerList = (v: unknown, path: string): number[] => readIntArray(v, path, L.maxReplicationFactor, 0, L.maxBrokerId);

function topicId(v: unknown, path: string): string {
  const s = readString(v, path, 36, 36);
  if (!TOPIC_ID_PATTERN.test(s)) throw new ShapeError(`${path} must be a lowercase UUID`);
  return s;
}

function assignment(v: unknown, path: string): number[][] {
  return readArray(v, path, L.maxPartitionsPerTopic).map((r, i) => brokerList(r, `${path}[${i}]`));
}

function isrMembers(v: unknown, path: string): IsrMember[] {
  return readArray(v, path, L.maxReplicationFactor).map((m, i) => {
    const o = readObject(m, `${path}[${i}]`, ['brokerId', 'brokerEpoch']);
    return { brokerId: brokerId(o['brokerId'], `${path}[${i}].brokerId`), brokerEpoch: brokerEpoch(o['brokerEpoch'], `${path}[${i}].brokerEpoch`) };
  });
}

function endpoint(v: unknown, path: string): Endpoint {
  const o = readObject(v, path, ['name', 'host', 'port']);
  return {
    name: readString(o['name'], `${path}.name`, 1, L.maxEndpointNameChars),
    host: readString(o['host'], `${path}.host`, 1, L.maxHostChars),
    port: readInt(o['port'], `${path}.port`, 1, 65_535),
  };
}

function fields(o: JsonObject, path: string, keys: readonly string[]): void {
  readObject(o, path, ['kind', ...keys]);
  for (const key of keys) {
    if (!(key in o)) throw new ShapeError(`${path}.${key} is missing`);
  }
}

function readCommand(value: unknown): MetadataCommand {
  const o = readObject(value, 'command');
  const kind = o['kind'];
  const p = `command(${String(kind)})`;
  switch (kind) {
    case 'RegisterBroker': {
      fields(o, p, ['brokerId', 'incarnationId', 'endpoints', 'rack']);
      const rack = o['rack'] === null ? null : readString(o['rack'], `${p}.rack`, 1, L.maxRackChars);
      return {
        kind,
        brokerId: brokerId(o['brokerId'], `${p}.brokerId`),
        incarnationId: readString(o['incarnationId'], `${p}.incarnationId`, 1, L.maxIncarnationIdChars),
        endpoints: readArray(o['endpoints'], `${p}.endpoints`, L.maxEndpoints).map((e, i) => endpoint(e, `${p}.endpoints[${i}]`)),
        rack,
      };
    }
    case 'FenceBroker':
    case 'UnfenceBroker':
      fields(o, p, ['brokerId', 'brokerEpoch']);
      return { kind, brokerId: brokerId(o['brokerId'], `${p}.brokerId`), brokerEpoch: brokerEpoch(o['brokerEpoch'], `${p}.brokerEpoch`) };
    case 'CreateTopic':
      fields(o, p, ['name', 'topicId', 'assignment', 'configs']);
      return {
        kind,
        name: readString(o['name'], `${p}.name`, 1, L.maxTopicNameChars),
        topicId: topicId(o['topicId'], `${p}.topicId`),
        assignment: assignment(o['assignment'], `${p}.assignment`),
        configs: readStringMap(o['configs'], `${p}.configs`, L.maxConfigEntries, L.maxConfigKeyChars, L.maxConfigValueChars),
      };
    case 'DeleteTopic':
      fields(o, p, ['name', 'topicId']);
      return { kind, name: readString(o['name'], `${p}.name`, 1, L.maxTopicNameChars), topicId: topicId(o['topicId'], `${p}.topicId`) };
    case 'CreatePartitions':
      fields(o, p, ['topicId', 'assignment']);
      return { kind, topicId: topicId(o['topicId'], `${p}.topicId`), assignment: assignment(o['assignment'], `${p}.assignment`) };
    case 'AlterPartition':
      fields(o, p, ['brokerId', 'brokerEpoch', 'topicId', 'partition', 'leaderEpoch', 'partitionEpoch', 'isr']);
      return {
        kind,
        brokerId: brokerId(o['brokerId'], `${p}.brokerId`),
        brokerEpoch: brokerEpoch(o['brokerEpoch'], `${p}.brokerEpoch`),
        topicId: topicId(o['topicId'], `${p}.topicId`),
        partition: partitionIndex(o['partition'], `${p}.partition`),
        leaderEpoch: epoch(o['leaderEpoch'], `${p}.leaderEpoch`),
        partitionEpoch: epoch(o['partitionEpoch'], `${p}.partitionEpoch`),
        isr: isrMembers(o['isr'], `${p}.isr`),
      };
    case 'ElectLeader':
      fields(o, p, ['topicId', 'partition', 'leader', 'isr', 'partitionEpoch', 'unclean']);
      return {
        kind,
        topicId: topicId(o['topicId'], `${p}.topicId`),
        partition: partitionIndex(o['partition'], `${p}.partition`),
        leader: readInt(o['leader'], `${p}.leader`, NO_LEADER, L.maxBrokerId),
        isr: brokerList(o['isr'], `${p}.isr`),
        partitionEpoch: epoch(o['partitionEpoch'], `${p}.partitionEpoch`),
        unclean: readBoolean(o['unclean'], `${p}.unclean`),
      };
    case 'ShrinkIsr':
      fields(o, p, ['topicId', 'partition', 'isr', 'partitionEpoch']);
      return {
        kind,
        topicId: topicId(o['topicId'], `${p}.topicId`),
        partition: partitionIndex(o['partition'], `${p}.partition`),
        isr: brokerList(o['isr'], `${p}.isr`),
        partitionEpoch: epoch(o['partitionEpoch'], `${p}.partitionEpoch`),
      };
    case 'AllocateProducerIds':
      fields(o, p, ['brokerId', 'brokerEpoch', 'count']);
      return {
        kind,
        brokerId: brokerId(o['brokerId'], `${p}.brokerId`),
        brokerEpoch: brokerEpoch(o['brokerEpoch'], `${p}.brokerEpoch`),
        count: readInt(o['count'], `${p}.count`, 1, L.maxProducerIdBlock),
      };
    default:
      throw new ShapeError(`unknown command kind ${JSON.stringify(kind)?.slice(0, 64)}`);
  }
}
