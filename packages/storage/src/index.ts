/**
 * @fjord/storage: the partition log (DESIGN.md "Storage"). See README.md for
 * the on-disk format, recovery and configuration.
 */
export { DEFAULT_LOG_CONFIG, LOG_CONFIG_TABLE, UNLIMITED, resolveLogConfig, type LogConfig, type LogConfigEntry } from './config.js';
export {
  EARLIEST_TIMESTAMP,
  LATEST_TIMESTAMP,
  PartitionLog,
  type AppendResult,
  type PartitionLogOptions,
  type ReadOptions,
  type ReadResult,
  type RetentionResult,
} from './partition-log.js';
export { UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET, type EpochEntry } from './leader-epoch-cache.js';
export {
  CLEAN_SHUTDOWN_FILE,
  INDEX_FILE_SUFFIX,
  LEADER_EPOCH_CHECKPOINT_FILE,
  LOG_FILE_SUFFIX,
  LOG_OFFSETS_CHECKPOINT_FILE,
  TIME_INDEX_FILE_SUFFIX,
  indexFileName,
  logFileName,
  offsetFileStem,
  partitionDirName,
  validatePartition,
  parseSegmentFileName,
  timeIndexFileName,
} from './file-names.js';
export { OFFSET_INDEX_ENTRY_BYTES } from './offset-index.js';
export { TIME_INDEX_ENTRY_BYTES } from './time-index.js';
export { segmentsToDelete, type RetentionReason, type RetentionSegment } from './retention.js';
