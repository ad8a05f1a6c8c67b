/**
 * Decoded coordinator requests (proto-loader objects, `unknown` to us) ->
 * the inputs of the planners and the state machine. The trust boundary for
 * client traffic: every field is shape- and range-checked here.
 *
 * - A request that is malformed as a whole (wrong types, too many items,
 *   int64 values that are not safe integers) throws FjordError
 *   INVALID_REQUEST; the handler answers with a gRPC status (toServiceError).
 * - A problem with one item of a batched request is that item's error, so
 *   the other items go on (STYLE.md D).
 * Unknown fields are ignored, as protobuf does (proto-loader also adds
 * virtual oneof fields such as `_numPartitions`).
 */
import { FjordError, wireToSafeInteger } from '@fjord/protocol';
import { ShapeError, readArray, readBoolean, readInt, readObject, readString, readStringMap, type JsonObject } from './json-reader.js';
import { METADATA_LIMITS as L, type AlterPartition, type RegisterBroker } from './metadata-command.js';
import { validateCommand } from './command-codec.js';
import type { CommandError } from './result.js';
import type { CreatePartitionsRequest, CreateTopicRequest } from './controller/topic-admin.js';
import { MAX_ADMIN_BATCH_ITEMS } from './controller/topic-admin.js';
import type { ElectionType, PartitionRef } from './controller/elections.js';
import type { Heartbeat } from './controller/sessions.js';

/**
 * Topic names are checked by the planners (INVALID_TOPIC per item, Kafka's
 * 249-character rule included); this bound only stops absurd strings, the
 * request size limit bounds them anyway.
 */
const MAX_WIRE_NAME_CHARS = 65_536;

/** Runs a parser; a ShapeError becomes a whole-request INVALID_REQUEST. */
function whole<T>(what: string, parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    if (e instanceof ShapeError) throw new FjordError('INVALID_REQUEST', `${what}: ${e.message}`);
    throw e;
  }
}

function int64(value: unknown, path: string): number {
  try {
    return wireToSafeInteger(value, path);
  } catch (e) {
    if (e instanceof FjordError) throw new ShapeError(e.message);
    throw e;
  }
}

function items(o: JsonObject, key: string, path: string): readonly unknown[] {
  return readArray(o[key], `${path}.${key}`, MAX_ADMIN_BATCH_ITEMS);
}

/** RegisterBroker: a rack of '' means none; a set cluster id must match ours. */
export function registerBrokerFromWire(request: unknown, clusterId: string): RegisterBroker {
  const command = whole('RegisterBroker', () => {
    const o = readObject(request, 'request');
    const given = readString(o['clusterId'] ?? '', 'request.clusterId', 0, 64);
    if (given !== '' && given !== clusterId) throw new ShapeError(`cluster id ${JSON.stringify(given)} is not this cluster's (${JSON.stringify(clusterId)})`);
    const rack = readString(o['rack'] ?? '', 'request.rack', 0, L.maxRackChars);
    return {
      kind: 'RegisterBroker' as const,
      brokerId: o['brokerId'],
      incarnationId: o['incarnationId'],
      endpoints: readArray(o['endpoints'], 'request.endpoints', L.maxEndpoints).map((e, i) => {
        const ep = readObject(e, `request.endpoints[${i}]`);
        return { name: ep['name'], host: ep['host'], port: ep['port'] };
      }),
      rack: rack === '' ? null : rack,
    };
  });
  // The command codec's validation holds every bound a command must respect.
  const valid = validateCommand(command);
  if (!valid.ok) throw new FjordError('INVALID_REQUEST', valid.error.message);
  return valid.value as RegisterBroker;
}

export function heartbeatFromWire(request: unknown): Heartbeat & { readonly metadataVersion: number } {
  return whole('BrokerHeartbeat', () => {
    const o = readObject(request, 'request');
    return {
      brokerId: readInt(o['brokerId'], 'request.brokerId', 0, L.maxBrokerId),
      brokerEpoch: int64(o['brokerEpoch'], 'request.brokerEpoch'),
      wantFence: readBoolean(o['wantFence'] ?? false, 'request.wantFence'),
      metadataVersion: int64(o['metadataVersion'] ?? '0', 'request.metadataVersion'),
    };
  });
}

export interface ParsedItem<T> {
  readonly name: string;
  readonly request: T | null;
  readonly error: CommandError | null;
}

/** Manual assignments arrive as (partition, brokerIds) pairs; they must cover 0..n-1 once each. */
function assignmentFromWire(raw: readonly unknown[], path: string): number[][] | CommandError {
  const byPartition = new Map<number, number[]>();
  for (const [i, a] of raw.entries()) {
    const o = readObject(a, `${path}[${i}]`);
    const partition = readInt(o['partition'], `${path}[${i}].partition`, 0, L.maxPartitionsPerTopic - 1);
    if (byPartition.has(partition)) return { code: 'INVALID_REPLICA_ASSIGNMENT', message: `partition ${partition} is assigned twice` };
    byPartition.set(partition, readArray(o['brokerIds'], `${path}[${i}].brokerIds`, L.maxReplicationFactor).map((b, j) => readInt(b, `${path}[${i}].brokerIds[${j}]`, 0, L.maxBrokerId)));
  }
  const out: number[][] = [];
  for (let p = 0; p < byPartition.size; p++) {
    const replicas = byPartition.get(p);
    if (replicas === undefined) return { code: 'INVALID_REPLICA_ASSIGNMENT', message: `partitions must be numbered 0..${byPartition.size - 1}; ${p} is missing` };
    out.push(replicas);
  }
  return out;
}

function optionalInt(value: unknown, path: string): number | null {
  // proto3 `optional`: absent is undefined; present values are checked by the planner (so 0 and negatives get their own codes).
  return value === undefined || value === null ? null : readInt(value, path, -(2 ** 31), 2 ** 31 - 1);
}

export function createTopicsFromWire(request: unknown): { readonly items: ParsedItem<CreateTopicRequest>[]; readonly validateOnly: boolean } {
  return whole('CreateTopics', () => {
    const o = readObject(request, 'request');
    const parsed = items(o, 'topics', 'request').map((raw, i): ParsedItem<CreateTopicRequest> => {
      const t = readObject(raw, `request.topics[${i}]`);
      const name = readString(t['name'], `request.topics[${i}].name`, 0, MAX_WIRE_NAME_CHARS);
      const assignment = assignmentFromWire(readArray(t['assignments'] ?? [], `request.topics[${i}].assignments`, L.maxPartitionsPerTopic), `request.topics[${i}].assignments`);
      if (!Array.isArray(assignment)) return { name, request: null, error: assignment };
      let configs: Record<string, string>;
      try {
        configs = readStringMap(t['configs'] ?? {}, `request.topics[${i}].configs`, L.maxConfigEntries, L.maxConfigKeyChars, L.maxConfigValueChars);
      } catch (e) {
        if (e instanceof ShapeError) return { name, request: null, error: { code: 'INVALID_CONFIG', message: e.message } };
        throw e;
      }
      return {
        name,
        request: {
          name,
          partitionCount: optionalInt(t['numPartitions'], `request.topics[${i}].numPartitions`),
          replicationFactor: optionalInt(t['replicationFactor'], `request.topics[${i}].replicationFactor`),
          assignment: assignment.length > 0 ? assignment : null,
          configs,
        },
        error: null,
      };
    });
    return { items: parsed, validateOnly: readBoolean(o['validateOnly'] ?? false, 'request.validateOnly') };
  });
}

export function createPartitionsFromWire(request: unknown): { readonly items: ParsedItem<CreatePartitionsRequest>[]; readonly validateOnly: boolean } {
  return whole('CreatePartitions', () => {
    const o = readObject(request, 'request');
    const parsed = items(o, 'topics', 'request').map((raw, i): ParsedItem<CreatePartitionsRequest> => {
      const t = readObject(raw, `request.topics[${i}]`);
      const name = readString(t['name'], `request.topics[${i}].name`, 0, MAX_WIRE_NAME_CHARS);
      const count = readInt(t['count'], `request.topics[${i}].count`, -(2 ** 31), 2 ** 31 - 1);
      // New partitions are listed in order; their indexes are implied, so only the replica lists matter.
      const assignment = readArray(t['assignments'] ?? [], `request.topics[${i}].assignments`, L.maxPartitionsPerTopic).map((a, j) => {
        const ao = readObject(a, `request.topics[${i}].assignments[${j}]`);
        return readArray(ao['brokerIds'], `request.topics[${i}].assignments[${j}].brokerIds`, L.maxReplicationFactor).map((b, k) => readInt(b, `request.topics[${i}].assignments[${j}].brokerIds[${k}]`, 0, L.maxBrokerId));
      });
      return { name, request: { name, count, assignment: assignment.length > 0 ? assignment : null }, error: null };
    });
    return { items: parsed, validateOnly: readBoolean(o['validateOnly'] ?? false, 'request.validateOnly') };
  });
}

export function deleteTopicsFromWire(request: unknown): { name: string; topicId: string }[] {
  return whole('DeleteTopics', () => {
    const o = readObject(request, 'request');
    return items(o, 'topics', 'request').map((raw, i) => {
      const t = readObject(raw, `request.topics[${i}]`);
      return { name: readString(t['name'] ?? '', `request.topics[${i}].name`, 0, MAX_WIRE_NAME_CHARS), topicId: readString(t['topicId'] ?? '', `request.topics[${i}].topicId`, 0, 64) };
    });
  });
}

/** AlterPartition: one command per item; a malformed item (e.g. a bad topic id) is that item's INVALID_REQUEST. */
export function alterPartitionFromWire(request: unknown): { readonly brokerId: number; readonly brokerEpoch: number; readonly items: ParsedItem<AlterPartition>[] } {
  return whole('AlterPartition', () => {
    const o = readObject(request, 'request');
    const brokerId = readInt(o['brokerId'], 'request.brokerId', 0, L.maxBrokerId);
    const brokerEpoch = int64(o['brokerEpoch'], 'request.brokerEpoch');
    const parsed = items(o, 'items', 'request').map((raw, i): ParsedItem<AlterPartition> => {
      const it = readObject(raw, `request.items[${i}]`);
      const topicId = readString(it['topicId'] ?? '', `request.items[${i}].topicId`, 0, 64);
      const isr = readArray(it['newIsr'] ?? [], `request.items[${i}].newIsr`, L.maxReplicationFactor).map((m, j) => {
        const mo = readObject(m, `request.items[${i}].newIsr[${j}]`);
        return { brokerId: mo['brokerId'], brokerEpoch: int64(mo['brokerEpoch'], `request.items[${i}].newIsr[${j}].brokerEpoch`) };
      });
      const valid = validateCommand({
        kind: 'AlterPartition',
        brokerId,
        brokerEpoch,
        topicId,
        partition: it['partition'],
        leaderEpoch: it['leaderEpoch'],
        partitionEpoch: it['partitionEpoch'],
        isr,
      });
      return valid.ok ? { name: topicId, request: valid.value as AlterPartition, error: null } : { name: topicId, request: null, error: valid.error };
    });
    return { brokerId, brokerEpoch, items: parsed };
  });
}

export function electLeadersFromWire(request: unknown): { readonly electionType: ElectionType; readonly partitions: PartitionRef[] | null } {
  return whole('ElectLeaders', () => {
    const o = readObject(request, 'request');
    const type = o['electionType'] ?? 'ELECTION_TYPE_PREFERRED';
    const electionType: ElectionType =
      type === 'ELECTION_TYPE_PREFERRED' || type === 0 ? 'preferred' : type === 'ELECTION_TYPE_UNCLEAN' || type === 1 ? 'unclean' : (() => {
        throw new ShapeError(`unknown election type ${JSON.stringify(type)}`);
      })();
    const partitions = items(o, 'partitions', 'request').map((raw, i) => {
      const p = readObject(raw, `request.partitions[${i}]`);
      return { topic: readString(p['topic'], `request.partitions[${i}].topic`, 0, MAX_WIRE_NAME_CHARS), partition: readInt(p['partition'], `request.partitions[${i}].partition`, 0, 2 ** 31 - 1) };
    });
    return { electionType, partitions: partitions.length > 0 ? partitions : null };
  });
}

export function allocateProducerIdsFromWire(request: unknown): { readonly brokerId: number; readonly brokerEpoch: number } {
  return whole('AllocateProducerIds', () => {
    const o = readObject(request, 'request');
    return { brokerId: readInt(o['brokerId'], 'request.brokerId', 0, L.maxBrokerId), brokerEpoch: int64(o['brokerEpoch'], 'request.brokerEpoch') };
  });
}

export function getMetadataFromWire(request: unknown): { readonly topics: string[]; readonly allowStale: boolean } {
  return whole('GetMetadata', () => {
    const o = readObject(request, 'request');
    return {
      topics: items(o, 'topics', 'request').map((t, i) => readString(t, `request.topics[${i}]`, 0, MAX_WIRE_NAME_CHARS)),
      allowStale: readBoolean(o['allowStale'] ?? false, 'request.allowStale'),
    };
  });
}

export function watchMetadataFromWire(request: unknown): { readonly fromVersion: number; readonly allowStale: boolean } {
  return whole('WatchMetadata', () => {
    const o = readObject(request, 'request');
    const fromVersion = int64(o['fromVersion'] ?? '0', 'request.fromVersion');
    if (fromVersion < 0) throw new ShapeError('request.fromVersion must not be negative');
    return { fromVersion, allowStale: readBoolean(o['allowStale'] ?? false, 'request.allowStale') };
  });
}
