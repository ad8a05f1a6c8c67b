/**
 * Loads the wire contract (proto/fjord/v1/*.proto) with @grpc/proto-loader.
 *
 * Choices, made once here so every handler sees the same shapes:
 * - keepCase: false. Fields are snake_case in the .proto files (protobuf style
 *   guide) and camelCase in TypeScript (`error_code` -> `errorCode`), like the
 *   rest of the code base.
 * - longs: String. int64/uint64 fields (metadata versions, broker epochs,
 *   producer ids, Raft indexes) arrive as decimal strings and are turned into
 *   numbers by `wireToSafeInteger`, which rejects anything that is not a safe
 *   integer with INVALID_REQUEST. `longs: Number` would round values above
 *   2^53 silently (STYLE.md H.4: one representation, checked at the boundary).
 *   Outgoing, protobufjs accepts plain numbers for int64 fields.
 * - enums: String, defaults: true, arrays: true, objects: true: absent scalars,
 *   lists and maps read as their proto3 defaults, so handlers never see
 *   undefined for a non-optional field. oneofs: true adds the virtual field
 *   naming which member of a oneof is set (WatchMetadataEvent.event).
 *   proto3 `optional` fields stay undefined when absent.
 *
 * The proto directory is found relative to this module: src/proto.ts (vitest)
 * and dist/proto.js (the build) both sit two levels below the package root,
 * three below the repository root.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPackageDefinition, type GrpcObject, type ServiceClientConstructor } from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';
import { FjordError } from '@fjord/protocol';

export const PROTO_LOADER_OPTIONS: protoLoader.Options = Object.freeze({
  keepCase: false,
  longs: String,
  enums: String,
  defaults: true,
  arrays: true,
  objects: true,
  oneofs: true,
});

export const PROTO_FILES = Object.freeze({
  coordinator: 'fjord/v1/coordinator.proto',
  raft: 'fjord/v1/raft.proto',
});

/** The repository's proto/ directory, resolved from this module's location. */
export function defaultProtoDir(): string {
  return fileURLToPath(new URL('../../../proto/', import.meta.url));
}

export interface FjordProtos {
  readonly packageDefinition: protoLoader.PackageDefinition;
  /** The `fjord.v1.Coordinator` service (client constructor; `.service` for servers). */
  readonly coordinator: ServiceClientConstructor;
  /** The `fjord.v1.RaftTransport` service. */
  readonly raftTransport: ServiceClientConstructor;
}

/** Loads both protos. Synchronous: call once at startup. */
export function loadFjordProtos(options: { protoDir?: string } = {}): FjordProtos {
  const protoDir = options.protoDir ?? defaultProtoDir();
  for (const file of Object.values(PROTO_FILES)) {
    if (!existsSync(join(protoDir, file))) {
      throw new FjordError('INVALID_CONFIG', `proto file ${file} not found under ${protoDir}`, { protoDir, file });
    }
  }
  const packageDefinition = protoLoader.loadSync([PROTO_FILES.coordinator, PROTO_FILES.raft], {
    ...PROTO_LOADER_OPTIONS,
    includeDirs: [protoDir],
  });
  const root = loadPackageDefinition(packageDefinition);
  return {
    packageDefinition,
    coordinator: serviceAt(root, ['fjord', 'v1', 'Coordinator']),
    raftTransport: serviceAt(root, ['fjord', 'v1', 'RaftTransport']),
  };
}

function serviceAt(root: GrpcObject, path: readonly string[]): ServiceClientConstructor {
  let node: GrpcObject | ServiceClientConstructor | undefined = root;
  for (const name of path) {
    if (node === undefined || typeof node === 'function') break;
    node = (node as GrpcObject)[name] as GrpcObject | ServiceClientConstructor | undefined;
  }
  if (typeof node !== 'function' || !('service' in node)) {
    throw new FjordError('INVALID_CONFIG', `service ${path.join('.')} missing from the loaded protos`);
  }
  return node;
}

/**
 * An int64 field as it arrives (longs: String) or as a handler built it
 * (number) -> a safe integer, or INVALID_REQUEST. Never rounds.
 */
export function wireToSafeInteger(value: unknown, field: string): number {
  let n: number;
  if (typeof value === 'number') {
    n = value;
  } else if (typeof value === 'string' && /^-?\d{1,20}$/.test(value)) {
    n = Number(value);
    if (String(n) !== value.replace(/^(-?)0+(?=\d)/, '$1')) n = Number.NaN;
  } else {
    n = Number.NaN;
  }
  if (!Number.isSafeInteger(n)) {
    throw new FjordError('INVALID_REQUEST', `${field} must be a safe integer, got ${JSON.stringify(value)}`, { field });
  }
  return n;
}
