/**
 * The single error catalog (STYLE.md D). Every failure a caller can see is a
 * FjordError whose `code` is a key of ERROR_CATALOG. Codes are API: they are
 * stable, use Kafka's names (and numeric codes) where one fits, and each is
 * listed in docs/errors.md (a test keeps the two equal).
 *
 * - retriable: retrying the same request later may succeed.
 * - refreshMetadata: the caller's view of leaders/partitions is probably stale.
 * - rejoinGroup: a consumer-group member must rejoin before going on.
 *
 * Unknown and non-Fjord errors are NOT retriable (the opposite of KafkaJS).
 */
export interface ErrorSpec {
  /** Kafka's numeric error code, or null for a Fjord-only code. */
  readonly kafkaCode: number | null;
  readonly message: string;
  readonly retriable: boolean;
  readonly refreshMetadata: boolean;
  readonly rejoinGroup: boolean;
}

function spec(
  kafkaCode: number | null,
  message: string,
  flags: { retriable?: boolean; refreshMetadata?: boolean; rejoinGroup?: boolean } = {},
): ErrorSpec {
  return {
    kafkaCode,
    message,
    retriable: flags.retriable ?? false,
    refreshMetadata: flags.refreshMetadata ?? false,
    rejoinGroup: flags.rejoinGroup ?? false,
  };
}

const R = { retriable: true };
const RM = { retriable: true, refreshMetadata: true };
const RG = { retriable: true, rejoinGroup: true };

export const ERROR_CATALOG = {
  UNKNOWN_SERVER_ERROR: spec(-1, 'The server hit an unexpected error'),
  OFFSET_OUT_OF_RANGE: spec(1, 'The requested offset is outside the range of offsets the partition holds'),
  CORRUPT_MESSAGE: spec(2, 'A record batch failed validation (CRC, length, magic or record count)', R),
  UNKNOWN_TOPIC_OR_PARTITION: spec(3, 'This server does not host this topic-partition', RM),
  INVALID_FETCH_SIZE: spec(4, 'The requested fetch size is invalid'),
  LEADER_NOT_AVAILABLE: spec(5, 'There is no leader for this topic-partition right now', RM),
  NOT_LEADER_OR_FOLLOWER: spec(6, 'This server is not the leader (or a follower) for this topic-partition', RM),
  REQUEST_TIMED_OUT: spec(7, 'The request timed out', R),
  BROKER_NOT_AVAILABLE: spec(8, 'The broker is not available', RM),
  REPLICA_NOT_AVAILABLE: spec(9, 'The replica is not available for the requested topic-partition', RM),
  MESSAGE_TOO_LARGE: spec(10, 'The request or record batch is larger than the maximum the server accepts'),
  NETWORK_EXCEPTION: spec(13, 'The connection was lost before a response arrived', RM),
  COORDINATOR_LOAD_IN_PROGRESS: spec(14, 'The group coordinator is loading and cannot serve this request yet', R),
  COORDINATOR_NOT_AVAILABLE: spec(15, 'The group coordinator is not available', RM),
  NOT_COORDINATOR: spec(16, 'This broker is not the coordinator for this group', RM),
  INVALID_TOPIC: spec(17, 'The topic name is invalid'),
  RECORD_LIST_TOO_LARGE: spec(18, 'The request carries more bytes than the server accepts in one append'),
  NOT_ENOUGH_REPLICAS: spec(19, 'Fewer in-sync replicas than min.insync.replicas: the write was refused', R),
  NOT_ENOUGH_REPLICAS_AFTER_APPEND: spec(20, 'The write was stored but the in-sync replica set shrank below min.insync.replicas', R),
  INVALID_REQUIRED_ACKS: spec(21, 'acks must be 0, 1 or -1 (all)'),
  ILLEGAL_GENERATION: spec(22, 'The group generation is stale', { rejoinGroup: true }),
  INCONSISTENT_GROUP_PROTOCOL: spec(23, 'The member protocol does not match the group'),
  INVALID_GROUP_ID: spec(24, 'The group id is invalid'),
  UNKNOWN_MEMBER_ID: spec(25, 'The member id is not known to the group coordinator', { rejoinGroup: true }),
  INVALID_SESSION_TIMEOUT: spec(26, 'The session timeout is outside the allowed range'),
  REBALANCE_IN_PROGRESS: spec(27, 'The group is rebalancing', RG),
  INVALID_COMMIT_OFFSET_SIZE: spec(28, 'The committed offset metadata is too large'),
  INVALID_TIMESTAMP: spec(32, 'A timestamp is invalid or outside the accepted range'),
  TOPIC_ALREADY_EXISTS: spec(36, 'The topic already exists'),
  INVALID_PARTITIONS: spec(37, 'The number of partitions is invalid'),
  INVALID_REPLICATION_FACTOR: spec(38, 'The replication factor is invalid or above the number of live brokers'),
  INVALID_REPLICA_ASSIGNMENT: spec(39, 'The replica assignment is invalid'),
  INVALID_CONFIG: spec(40, 'A configuration key or value is invalid'),
  NOT_CONTROLLER: spec(41, 'This coordinator node is not the leader', RM),
  INVALID_REQUEST: spec(42, 'The request is malformed or violates the protocol'),
  UNSUPPORTED_FOR_MESSAGE_FORMAT: spec(43, 'The record batch format is not supported'),
  POLICY_VIOLATION: spec(44, 'The request violates a configured policy'),
  OUT_OF_ORDER_SEQUENCE_NUMBER: spec(45, 'The producer sequence number is out of order'),
  DUPLICATE_SEQUENCE_NUMBER: spec(46, 'The producer sequence number was already written'),
  INVALID_PRODUCER_EPOCH: spec(47, 'The producer epoch is stale'),
  KAFKA_STORAGE_ERROR: spec(56, 'The partition log hit a disk error', RM),
  UNKNOWN_PRODUCER_ID: spec(59, 'The producer id is not known to the partition leader'),
  GROUP_ID_NOT_FOUND: spec(69, 'The group does not exist'),
  FENCED_LEADER_EPOCH: spec(74, 'The leader epoch in the request is older than the current one', RM),
  UNKNOWN_LEADER_EPOCH: spec(75, 'The leader epoch in the request is newer than the one this server knows', RM),
  UNSUPPORTED_COMPRESSION_TYPE: spec(76, 'The compression codec is not supported'),
  STALE_BROKER_EPOCH: spec(77, 'The broker epoch is stale: a newer incarnation registered'),
  OFFSET_NOT_AVAILABLE: spec(78, 'The offset is not available yet (the leader is catching up)', R),
  PREFERRED_LEADER_NOT_AVAILABLE: spec(80, 'The preferred leader is not available', R),
  ELIGIBLE_LEADERS_NOT_AVAILABLE: spec(83, 'No eligible (in-sync) replica can become leader', R),
  INVALID_RECORD: spec(87, 'A record in the batch is invalid'),
  INVALID_UPDATE_VERSION: spec(95, 'The partition epoch in the request is stale', RM),
  // Retriable, unlike Kafka's flag: the same registration succeeds once the other incarnation's session expires (a restarted broker waits it out).
  DUPLICATE_BROKER_REGISTRATION: spec(101, 'This broker id is registered by another incarnation whose session is alive', R),
  // Fjord-only codes.
  LOG_CLOSED: spec(null, 'The partition log is closed'),
  RAFT_NOT_LEADER: spec(null, 'This Raft node is not the leader; retry on the leader', RM),
  RAFT_PROPOSAL_DROPPED: spec(null, 'The Raft proposal was dropped (leader change or uncommitted-bytes limit)', R),
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

export const ERROR_CODES: readonly ErrorCode[] = Object.freeze(Object.keys(ERROR_CATALOG) as ErrorCode[]);

export type ErrorDetails = Readonly<Record<string, unknown>>;

export class FjordError extends Error {
  override readonly name = 'FjordError';
  readonly code: ErrorCode;
  readonly kafkaCode: number | null;
  readonly retriable: boolean;
  readonly refreshMetadata: boolean;
  readonly rejoinGroup: boolean;
  readonly details: ErrorDetails;
  /** The specific part of the message (without the catalog text); '' when none was given. */
  readonly detail: string;

  constructor(code: ErrorCode, message?: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    const entry: ErrorSpec = ERROR_CATALOG[code];
    super(message === undefined || message === '' ? entry.message : `${entry.message}: ${message}`, options);
    this.code = code;
    this.detail = message ?? '';
    this.kafkaCode = entry.kafkaCode;
    this.retriable = entry.retriable;
    this.refreshMetadata = entry.refreshMetadata;
    this.rejoinGroup = entry.rejoinGroup;
    this.details = Object.freeze({ ...details });
  }

  toJSON(): { code: ErrorCode; message: string; retriable: boolean; details: ErrorDetails } {
    return { code: this.code, message: this.message, retriable: this.retriable, details: this.details };
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(ERROR_CATALOG, value);
}

/** True when `err` is a FjordError (optionally with the given code). */
export function isFjordError(err: unknown, code?: ErrorCode): err is FjordError {
  return err instanceof FjordError && (code === undefined || err.code === code);
}

/** Whether a retry can help. Anything that is not a FjordError is not retriable. */
export function isRetriable(err: unknown): boolean {
  return err instanceof FjordError && err.retriable;
}

/** Kafka numeric code -> catalog code, for codes that have one. */
export function errorCodeFromKafka(kafkaCode: number): ErrorCode | undefined {
  for (const code of ERROR_CODES) {
    if (ERROR_CATALOG[code].kafkaCode === kafkaCode) return code;
  }
  return undefined;
}
