/**
 * The broker node's configuration: one declarative table (STYLE.md F, after
 * Kafka's KafkaConfig/ConfigDef), loaded through @fjord/protocol's node-config
 * machinery: defaults < config file < env (FJORD_BROKER_*) < flags, validated
 * once, deep-frozen, passed down explicitly.
 */
import {
  FjordError,
  cliOptionsFor,
  configTableMarkdownFor,
  loadNodeConfig,
  parsePeers,
  type CliOption,
  type ConfigSources,
  type ConfigValues,
  type PeerAddress,
} from '@fjord/protocol';

const KiB = 1024;
const MiB = 1024 * KiB;
const INT32_MAX = 0x7fff_ffff;

/** A default of null means required. */
export const BROKER_CONFIG = {
  id: { type: 'int', default: null, min: 0, max: INT32_MAX, doc: 'This broker\'s id (unique in the cluster)', env: 'FJORD_BROKER_ID', flag: '--id' },
  clusterId: { type: 'string', default: 'fjord', maxLength: 64, doc: 'Cluster name; must match the coordinators\'', env: 'FJORD_BROKER_CLUSTER_ID', flag: '--cluster-id' },
  listen: { type: 'address', default: '127.0.0.1:9092', doc: 'gRPC listen address of the data plane (host:port)', env: 'FJORD_BROKER_LISTEN', flag: '--listen' },
  advertised: { type: 'address', default: '', doc: 'Address clients and other brokers use to reach this broker; empty: the listen address', env: 'FJORD_BROKER_ADVERTISED', flag: '--advertised' },
  dataDir: { type: 'string', default: null, maxLength: 4096, doc: 'Directory holding one sub-directory per partition replica', env: 'FJORD_BROKER_DATA_DIR', flag: '--data-dir' },
  coordinators: { type: 'string', default: 'none', maxLength: 4096, doc: 'Coordinator nodes as id=host:port, comma-separated; none: metadata is supplied in-process (tests, embedded)', env: 'FJORD_BROKER_COORDINATORS', flag: '--coordinators' },
  rack: { type: 'string', default: 'none', maxLength: 255, doc: 'Rack (or zone) of this broker, for replica placement; none: no rack', env: 'FJORD_BROKER_RACK', flag: '--rack' },
  replicaLagTimeMaxMs: { type: 'int', default: 10_000, min: 10, max: 3_600_000, doc: 'A follower not caught up for this long leaves the ISR (Kafka\'s replica.lag.time.max.ms)', env: 'FJORD_BROKER_REPLICA_LAG_TIME_MAX_MS', flag: '--replica-lag-time-max-ms' },
  replicaFetchMaxBytes: { type: 'int', default: 8 * MiB, min: 1 * KiB, max: 256 * MiB, doc: 'Most bytes of log data in one replica fetch response, all partitions together', env: 'FJORD_BROKER_REPLICA_FETCH_MAX_BYTES', flag: '--replica-fetch-max-bytes' },
  replicaFetchPartitionMaxBytes: { type: 'int', default: 1 * MiB, min: 1 * KiB, max: 256 * MiB, doc: 'Most bytes of log data per partition in one replica fetch response', env: 'FJORD_BROKER_REPLICA_FETCH_PARTITION_MAX_BYTES', flag: '--replica-fetch-partition-max-bytes' },
  replicaFetchWaitMaxMs: { type: 'int', default: 500, min: 0, max: 60_000, doc: 'How long the leader holds a replica fetch that has no new data (long poll)', env: 'FJORD_BROKER_REPLICA_FETCH_WAIT_MAX_MS', flag: '--replica-fetch-wait-max-ms' },
  replicaFetchBackoffMs: { type: 'int', default: 100, min: 1, max: 60_000, doc: 'Pause before a follower retries after a failed replica fetch', env: 'FJORD_BROKER_REPLICA_FETCH_BACKOFF_MS', flag: '--replica-fetch-backoff-ms' },
  fetchMaxWaitMs: { type: 'int', default: 30_000, min: 0, max: 300_000, doc: 'Upper bound on a consumer fetch\'s max_wait_ms (long poll)', env: 'FJORD_BROKER_FETCH_MAX_WAIT_MS', flag: '--fetch-max-wait-ms' },
  fetchMaxBytes: { type: 'int', default: 50 * MiB, min: 1 * KiB, max: 256 * MiB, doc: 'Upper bound on the bytes of one fetch response, all partitions together', env: 'FJORD_BROKER_FETCH_MAX_BYTES', flag: '--fetch-max-bytes' },
  maxWaitingFetches: { type: 'int', default: 4_096, min: 1, max: 1_000_000, doc: 'Long-poll fetches parked at once; beyond it a fetch answers at once with what it has', env: 'FJORD_BROKER_MAX_WAITING_FETCHES', flag: '--max-waiting-fetches' },
  maxRequestBytes: { type: 'int', default: 64 * MiB, min: 64 * KiB, max: 1024 * MiB, doc: 'Largest gRPC message accepted or sent, in bytes', env: 'FJORD_BROKER_MAX_REQUEST_BYTES', flag: '--max-request-bytes' },
  maxWaitingProduces: { type: 'int', default: 16_384, min: 1, max: 1_000_000, doc: 'acks=all produces waiting for replication at once; beyond it they fail with REQUEST_TIMED_OUT', env: 'FJORD_BROKER_MAX_WAITING_PRODUCES', flag: '--max-waiting-produces' },
  produceTimeoutMaxMs: { type: 'int', default: 120_000, min: 1, max: 600_000, doc: 'Upper bound on a produce\'s timeout_ms', env: 'FJORD_BROKER_PRODUCE_TIMEOUT_MAX_MS', flag: '--produce-timeout-max-ms' },
  isrCheckIntervalMs: { type: 'int', default: 500, min: 1, max: 600_000, doc: 'How often leaders check their followers\' lag (ISR shrink)', env: 'FJORD_BROKER_ISR_CHECK_INTERVAL_MS', flag: '--isr-check-interval-ms' },
  retentionCheckIntervalMs: { type: 'int', default: 300_000, min: 10, max: 86_400_000, doc: 'How often retention runs over every partition (Kafka\'s log.retention.check.interval.ms)', env: 'FJORD_BROKER_RETENTION_CHECK_INTERVAL_MS', flag: '--retention-check-interval-ms' },
  heartbeatIntervalMs: { type: 'int', default: 2_000, min: 10, max: 600_000, doc: 'Heartbeat interval to the coordinator until it names one', env: 'FJORD_BROKER_HEARTBEAT_INTERVAL_MS', flag: '--heartbeat-interval-ms' },
  sessionTimeoutMs: { type: 'int', default: 9_000, min: 100, max: 3_600_000, doc: 'Session timeout until the coordinator names one; above the heartbeat interval', env: 'FJORD_BROKER_SESSION_TIMEOUT_MS', flag: '--session-timeout-ms' },
  shutdownTimeoutMs: { type: 'int', default: 25_000, min: 100, max: 3_600_000, doc: 'Bound on a stop (SIGTERM): controlled shutdown (leadership moves away) then closing the logs; past it the broker cuts everything and exits', env: 'FJORD_BROKER_SHUTDOWN_TIMEOUT_MS', flag: '--shutdown-timeout-ms' },
  maxPartitions: { type: 'int', default: 10_000, min: 1, max: 1_000_000, doc: 'Partition replicas this broker hosts at most; more in the metadata are refused (logged)', env: 'FJORD_BROKER_MAX_PARTITIONS', flag: '--max-partitions' },
  unsafeNoFsync: { type: 'boolean', default: false, doc: 'Skip every fsync (tests and benchmarks only: a machine crash loses data)', env: 'FJORD_BROKER_UNSAFE_NO_FSYNC', flag: '--unsafe-no-fsync' },
  logLevel: { type: 'enum', values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace'], default: 'info', doc: 'pino log level', env: 'FJORD_BROKER_LOG_LEVEL', flag: '--log-level' },
} as const;

export type BrokerConfig = ConfigValues<typeof BROKER_CONFIG>;

function crossCheck(config: BrokerConfig): BrokerConfig {
  if (config.heartbeatIntervalMs >= config.sessionTimeoutMs) {
    throw new FjordError('INVALID_CONFIG', `heartbeatIntervalMs ${config.heartbeatIntervalMs} must be below sessionTimeoutMs ${config.sessionTimeoutMs}`, {
      key: 'heartbeatIntervalMs',
    });
  }
  if (config.replicaFetchPartitionMaxBytes > config.replicaFetchMaxBytes) {
    throw new FjordError('INVALID_CONFIG', 'replicaFetchPartitionMaxBytes must not exceed replicaFetchMaxBytes', { key: 'replicaFetchPartitionMaxBytes' });
  }
  if (config.replicaFetchMaxBytes + 1 * MiB > config.maxRequestBytes || config.fetchMaxBytes + 1 * MiB > config.maxRequestBytes) {
    throw new FjordError('INVALID_CONFIG', 'maxRequestBytes must exceed replicaFetchMaxBytes and fetchMaxBytes by at least 1 MiB (framing)', { key: 'maxRequestBytes' });
  }
  if (config.coordinators !== 'none' && parsePeers(config.coordinators) === null) {
    throw new FjordError('INVALID_CONFIG', `coordinators=${JSON.stringify(config.coordinators)}: expected none or id=host:port[,id=host:port...]`, { key: 'coordinators' });
  }
  return config;
}

/** The coordinator peers, or [] when metadata is supplied in-process. */
export function coordinatorPeers(config: BrokerConfig): readonly PeerAddress[] {
  return config.coordinators === 'none' ? [] : (parsePeers(config.coordinators) ?? []);
}

/** Validates and freezes a broker configuration; throws INVALID_CONFIG naming the key and its source. */
export function loadBrokerConfig(sources: ConfigSources): BrokerConfig {
  return loadNodeConfig(BROKER_CONFIG, sources, crossCheck);
}

export function brokerCliOptions(): Record<string, CliOption> {
  return cliOptionsFor(BROKER_CONFIG);
}

export function brokerConfigTableMarkdown(): string {
  return configTableMarkdownFor(BROKER_CONFIG);
}
