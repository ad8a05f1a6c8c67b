/**
 * Loads the wire contract (proto/fjord/v1/*.proto) with @grpc/proto-loader,
 * once, with one set of options for every service and client:
 * - keepCase: false: snake_case in .proto, camelCase in TypeScript;
 * - longs: String: int64 fields arrive as decimal strings and become numbers
 *   only through wireToSafeInteger (longs: Number would round above 2^53
 *   silently); outgoing, plain numbers are accepted;
 * - enums: String, defaults/arrays/objects: true (absent fields read as their
 *   proto3 defaults), oneofs: true.
 * The proto directory is found relative to this module (src/ under vitest,
 * dist/ when built): both sit three levels below the repository root.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPackageDefinition, type ChannelOptions, type GrpcObject, type ServiceClientConstructor } from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';
import { FjordError } from './errors.js';

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
  broker: 'fjord/v1/broker.proto',
});

/** The repository's proto/ directory, resolved from this module's location. */
export function defaultProtoDir(): string {
  return fileURLToPath(new URL('../../../proto/', import.meta.url));
}

export interface FjordGrpc {
  readonly packageDefinition: protoLoader.PackageDefinition;
  /** `fjord.v1.Coordinator` (client constructor; `.service` for servers). */
  readonly coordinator: ServiceClientConstructor;
  /** `fjord.v1.RaftTransport`. */
  readonly raftTransport: ServiceClientConstructor;
  /** `fjord.v1.Broker`. */
  readonly broker: ServiceClientConstructor;
}

let cached: FjordGrpc | undefined;

/** Loads every Fjord proto (synchronously, once per process; later calls return the same object). */
export function loadFjordGrpc(options: { protoDir?: string } = {}): FjordGrpc {
  if (cached !== undefined && options.protoDir === undefined) return cached;
  const protoDir = options.protoDir ?? defaultProtoDir();
  for (const file of Object.values(PROTO_FILES)) {
    if (!existsSync(join(protoDir, file))) {
      throw new FjordError('INVALID_CONFIG', `proto file ${file} not found under ${protoDir}`, { protoDir, file });
    }
  }
  const packageDefinition = protoLoader.loadSync(Object.values(PROTO_FILES), { ...PROTO_LOADER_OPTIONS, includeDirs: [protoDir] });
  const root = loadPackageDefinition(packageDefinition);
  const loaded: FjordGrpc = {
    packageDefinition,
    coordinator: serviceAt(root, ['fjord', 'v1', 'Coordinator']),
    raftTransport: serviceAt(root, ['fjord', 'v1', 'RaftTransport']),
    broker: serviceAt(root, ['fjord', 'v1', 'Broker']),
  };
  if (options.protoDir === undefined) cached = loaded;
  return loaded;
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
 * Channel options every Fjord client and server uses (TOOLCHAIN.md pitfalls 2
 * and 3): explicit message size limits on both sides, and a 16 MiB HTTP/2 flow
 * control window for streams that move log data.
 */
export function grpcChannelOptions(maxMessageBytes: number): ChannelOptions {
  return {
    'grpc.max_receive_message_length': maxMessageBytes,
    'grpc.max_send_message_length': maxMessageBytes,
    'grpc-node.flow_control_window': 16 * 1024 * 1024,
    'grpc.keepalive_time_ms': 10_000,
    'grpc.keepalive_timeout_ms': 5_000,
    'grpc.keepalive_permit_without_calls': 1,
  };
}
