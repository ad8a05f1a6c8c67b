/**
 * The coordinator node's configuration: one declarative table (STYLE.md F,
 * after Kafka's ConfigDef). Each key carries its unit, type, default,
 * bounds or allowed values, a doc line, its env name and its flag; the table
 * generates the CLI options (`cliOptions`), --help and the README table
 * (`configTableMarkdown`), and the config type itself is derived from it.
 *
 * Precedence: defaults < config file < env < flags. `loadConfig` validates
 * once (unknown keys in the file or the flags are INVALID_CONFIG; so are
 * ill-typed and out-of-range values and inconsistent combinations), then
 * returns a deep-frozen object that is passed down explicitly: no global
 * config, and cores get only their slice as plain numbers.
 *
 * The machinery (parsing, precedence, freezing, CLI options and the README
 * table) is @fjord/protocol's node-config.ts, shared with the broker; this
 * file holds only the coordinator's table and its cross-checks.
 *
 * Env names are FJORD_COORDINATOR_*: the FJORD_ namespace is shared with
 * the broker (which also has an id, a data dir and a listener) and with test
 * tooling, so unknown FJORD_* variables are ignored rather than rejected.
 */
import {
  FjordError,
  cliOptionsFor,
  configTableMarkdownFor,
  formatAddress,
  loadNodeConfig,
  type CliOption,
  type ConfigSources,
  type ConfigTable,
  type ConfigValues,
} from '@fjord/protocol';
import { METADATA_LIMITS } from './metadata-command.js';

export type { ConfigSources, PeerAddress } from '@fjord/protocol';

const MiB = 1024 * 1024;
const U32_MAX = 0xffff_ffff;
/** Room in one SendSnapshot message for everything but the chunk's data (ids, offsets, the first chunk's Raft message). */
export const SNAPSHOT_CHUNK_FRAMING_BYTES = 64 * 1024;

/** A default of null means required. */
export const COORDINATOR_CONFIG = {
  id: { type: 'int', default: null, min: 1, max: U32_MAX, doc: 'This node\'s Raft id; must appear in peers', env: 'FJORD_COORDINATOR_ID', flag: '--id' },
  clusterId: { type: 'string', default: 'fjord', maxLength: 64, doc: 'Cluster name; Raft traffic and broker registrations from another cluster are refused', env: 'FJORD_COORDINATOR_CLUSTER_ID', flag: '--cluster-id' },
  peers: { type: 'peers', default: null, doc: 'Every voter at bootstrap as id=host:port, comma-separated (this node included)', env: 'FJORD_COORDINATOR_PEERS', flag: '--peers' },
  dataDir: { type: 'string', default: null, maxLength: 4096, doc: 'Directory of the Raft log and snapshots (LevelDB); one node per directory', env: 'FJORD_COORDINATOR_DATA_DIR', flag: '--data-dir' },
  listen: { type: 'address', default: '', doc: 'gRPC listen address (Raft and coordinator services); empty: this node\'s address in peers', env: 'FJORD_COORDINATOR_LISTEN', flag: '--listen' },
  tickMs: { type: 'int', default: 10, min: 1, max: 1_000, doc: 'Raft tick interval in milliseconds; election and heartbeat timeouts count ticks', env: 'FJORD_COORDINATOR_TICK_MS', flag: '--tick-ms' },
  electionTicks: { type: 'int', default: 20, min: 2, max: 10_000, doc: 'Follower election timeout in ticks (randomized in [n, 2n))', env: 'FJORD_COORDINATOR_ELECTION_TICKS', flag: '--election-ticks' },
  heartbeatTicks: { type: 'int', default: 2, min: 1, max: 1_000, doc: 'Leader heartbeat interval in ticks; must be below electionTicks', env: 'FJORD_COORDINATOR_HEARTBEAT_TICKS', flag: '--heartbeat-ticks' },
  preVote: { type: 'boolean', default: true, doc: 'Raft PreVote (thesis 9.6): a partitioned node does not disrupt the leader when it returns', env: 'FJORD_COORDINATOR_PRE_VOTE', flag: '--pre-vote' },
  checkQuorum: { type: 'boolean', default: true, doc: 'A leader that has not heard from a quorum for an election timeout steps down', env: 'FJORD_COORDINATOR_CHECK_QUORUM', flag: '--check-quorum' },
  maxRaftMsgBytes: { type: 'int', default: 1 * MiB, min: 4 * 1024, max: 64 * MiB, doc: 'Largest batch of entries in one Raft append message, in bytes', env: 'FJORD_COORDINATOR_MAX_RAFT_MSG_BYTES', flag: '--max-raft-msg-bytes' },
  maxInflightMsgs: { type: 'int', default: 256, min: 1, max: 65_536, doc: 'Append messages in flight per follower before the leader waits for acks', env: 'FJORD_COORDINATOR_MAX_INFLIGHT_MSGS', flag: '--max-inflight-msgs' },
  maxUncommittedBytes: { type: 'int', default: 64 * MiB, min: 1 * MiB, max: 1024 * MiB, doc: 'Proposals the leader holds uncommitted, in bytes; beyond it proposals are dropped (RAFT_PROPOSAL_DROPPED)', env: 'FJORD_COORDINATOR_MAX_UNCOMMITTED_BYTES', flag: '--max-uncommitted-bytes' },
  snapshotEveryEntries: { type: 'int', default: 10_000, min: 10, max: 10_000_000, doc: 'Take a metadata snapshot and compact the log after this many applied entries', env: 'FJORD_COORDINATOR_SNAPSHOT_EVERY_ENTRIES', flag: '--snapshot-every-entries' },
  snapshotCatchUpEntries: { type: 'int', default: 5_000, min: 0, max: 10_000_000, doc: 'Entries kept behind a snapshot so slightly slow followers catch up without one (etcd\'s snapshot-catchup-entries)', env: 'FJORD_COORDINATOR_SNAPSHOT_CATCH_UP_ENTRIES', flag: '--snapshot-catch-up-entries' },
  maxRequestBytes: { type: 'int', default: 4 * MiB, min: 64 * 1024, max: 256 * MiB, doc: 'Largest gRPC message accepted or sent, in bytes; larger requests are refused', env: 'FJORD_COORDINATOR_MAX_REQUEST_BYTES', flag: '--max-request-bytes' },
  snapshotChunkBytes: { type: 'int', default: 1 * MiB, min: 1024, max: 64 * MiB, doc: 'Raft snapshot bytes per message on the SendSnapshot stream to a peer; at most maxRequestBytes minus 64 KiB', env: 'FJORD_COORDINATOR_SNAPSHOT_CHUNK_BYTES', flag: '--snapshot-chunk-bytes' },
  maxSnapshotBytes: { type: 'int', default: 1024 * MiB, min: 1 * MiB, max: 2047 * MiB, doc: 'Largest Raft snapshot accepted from peers, in bytes (all snapshots being received at once together); a larger one is refused (MESSAGE_TOO_LARGE)', env: 'FJORD_COORDINATOR_MAX_SNAPSHOT_BYTES', flag: '--max-snapshot-bytes' },
  snapshotTimeoutMs: { type: 'int', default: 60_000, min: 100, max: 3_600_000, doc: 'Deadline for one whole Raft snapshot transfer between peers (sending and receiving), in milliseconds', env: 'FJORD_COORDINATOR_SNAPSHOT_TIMEOUT_MS', flag: '--snapshot-timeout-ms' },
  requestTimeoutMs: { type: 'int', default: 5_000, min: 10, max: 600_000, doc: 'How long a write waits to commit before REQUEST_TIMED_OUT, in milliseconds', env: 'FJORD_COORDINATOR_REQUEST_TIMEOUT_MS', flag: '--request-timeout-ms' },
  brokerSessionTimeoutMs: { type: 'int', default: 9_000, min: 100, max: 3_600_000, doc: 'A broker without a heartbeat for this long is fenced (Kafka\'s broker.session.timeout.ms)', env: 'FJORD_COORDINATOR_BROKER_SESSION_TIMEOUT_MS', flag: '--broker-session-timeout-ms' },
  brokerHeartbeatIntervalMs: { type: 'int', default: 2_000, min: 10, max: 600_000, doc: 'Heartbeat interval brokers are told to use (Kafka\'s broker.heartbeat.interval.ms); below the session timeout', env: 'FJORD_COORDINATOR_BROKER_HEARTBEAT_INTERVAL_MS', flag: '--broker-heartbeat-interval-ms' },
  controllerIntervalMs: { type: 'int', default: 100, min: 1, max: 60_000, doc: 'How often the leader checks whether the controller must decide (controllerTick), in milliseconds', env: 'FJORD_COORDINATOR_CONTROLLER_INTERVAL_MS', flag: '--controller-interval-ms' },
  controllerSafetyIntervalMs: { type: 'int', default: 5_000, min: 10, max: 3_600_000, doc: 'The leader runs the controller\'s decide step at least this often, even when nothing seems to change, in milliseconds', env: 'FJORD_COORDINATOR_CONTROLLER_SAFETY_INTERVAL_MS', flag: '--controller-safety-interval-ms' },
  leaderRebalanceIntervalMs: { type: 'int', default: 300_000, min: 0, max: 86_400_000, doc: 'How often leadership moves back to preferred replicas, in milliseconds; 0 turns it off (Kafka\'s auto.leader.rebalance.enable)', env: 'FJORD_COORDINATOR_LEADER_REBALANCE_INTERVAL_MS', flag: '--leader-rebalance-interval-ms' },
  defaultPartitions: { type: 'int', default: 1, min: 1, max: METADATA_LIMITS.maxPartitionsPerTopic, doc: 'Partitions of a topic created without a count (Kafka\'s num.partitions)', env: 'FJORD_COORDINATOR_DEFAULT_PARTITIONS', flag: '--default-partitions' },
  defaultReplicationFactor: { type: 'int', default: 1, min: 1, max: METADATA_LIMITS.maxReplicationFactor, doc: 'Replication factor of a topic created without one (Kafka\'s default.replication.factor)', env: 'FJORD_COORDINATOR_DEFAULT_REPLICATION_FACTOR', flag: '--default-replication-factor' },
  producerIdBlockSize: { type: 'int', default: 1_000, min: 1, max: METADATA_LIMITS.maxProducerIdBlock, doc: 'Producer ids handed to a broker per AllocateProducerIds (KIP-730)', env: 'FJORD_COORDINATOR_PRODUCER_ID_BLOCK_SIZE', flag: '--producer-id-block-size' },
  watchHistoryVersions: { type: 'int', default: 10_000, min: 1, max: 1_000_000, doc: 'Metadata changes kept for watchers; one further behind gets a full image first', env: 'FJORD_COORDINATOR_WATCH_HISTORY_VERSIONS', flag: '--watch-history-versions' },
  maxWatchers: { type: 'int', default: 1_024, min: 1, max: 100_000, doc: 'Concurrent WatchMetadata streams per node; more are refused', env: 'FJORD_COORDINATOR_MAX_WATCHERS', flag: '--max-watchers' },
  logLevel: { type: 'enum', values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace'], default: 'info', doc: 'pino log level', env: 'FJORD_COORDINATOR_LOG_LEVEL', flag: '--log-level' },
} as const satisfies ConfigTable;

export type CoordinatorConfigKey = keyof typeof COORDINATOR_CONFIG;

/** The validated, frozen configuration. `listen` is resolved (never empty). */
export type CoordinatorConfig = ConfigValues<typeof COORDINATOR_CONFIG>;

export const COORDINATOR_CONFIG_KEYS: readonly CoordinatorConfigKey[] = Object.freeze(Object.keys(COORDINATOR_CONFIG) as CoordinatorConfigKey[]);

function invalid(message: string, details: Record<string, unknown>): FjordError {
  return new FjordError('INVALID_CONFIG', message, details);
}

/** Resolves and validates the configuration (defaults < file < env < flags); throws INVALID_CONFIG. */
export function loadConfig(sources: ConfigSources): CoordinatorConfig {
  return loadNodeConfig(COORDINATOR_CONFIG, sources, crossCheck);
}

function crossCheck(config: CoordinatorConfig): CoordinatorConfig {
  const fail = (message: string, keys: string[]): never => {
    throw invalid(message, { keys });
  };
  if (config.heartbeatTicks >= config.electionTicks) {
    fail(`heartbeatTicks (${config.heartbeatTicks}) must be below electionTicks (${config.electionTicks})`, ['heartbeatTicks', 'electionTicks']);
  }
  if (config.brokerHeartbeatIntervalMs >= config.brokerSessionTimeoutMs) {
    fail(`brokerHeartbeatIntervalMs (${config.brokerHeartbeatIntervalMs}) must be below brokerSessionTimeoutMs (${config.brokerSessionTimeoutMs})`, [
      'brokerHeartbeatIntervalMs',
      'brokerSessionTimeoutMs',
    ]);
  }
  if (config.maxRequestBytes < METADATA_LIMITS.maxCommandBytes) {
    fail(`maxRequestBytes (${config.maxRequestBytes}) must be at least the largest command (${METADATA_LIMITS.maxCommandBytes})`, ['maxRequestBytes']);
  }
  if (config.snapshotChunkBytes + SNAPSHOT_CHUNK_FRAMING_BYTES > config.maxRequestBytes) {
    // A chunk is one gRPC message: the first also carries the encoded InstallSnapshot message (its conf lists).
    fail(`snapshotChunkBytes (${config.snapshotChunkBytes}) must be at least ${SNAPSHOT_CHUNK_FRAMING_BYTES} bytes below maxRequestBytes (${config.maxRequestBytes})`, [
      'snapshotChunkBytes',
      'maxRequestBytes',
    ]);
  }
  const self = config.peers.find((p) => p.id === config.id);
  if (self === undefined) return fail(`id ${config.id} is not in peers`, ['id', 'peers']);
  const addresses = config.peers.map((p) => formatAddress(p.host, p.port));
  if (new Set(addresses).size !== addresses.length) fail('two peers share an address', ['peers']);
  return config.listen === '' ? { ...config, listen: formatAddress(self.host, self.port) } : config;
}

/** yargs options generated from the table. */
export function cliOptions(): Record<string, CliOption> {
  return cliOptionsFor(COORDINATOR_CONFIG);
}

/** The README table, generated (a test keeps README.md equal to it). */
export function configTableMarkdown(): string {
  return configTableMarkdownFor(COORDINATOR_CONFIG);
}
