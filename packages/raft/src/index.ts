/**
 * @fjord/raft: a pure, deterministic Raft core (no I/O, timers or randomness of
 * its own). The simulator is exported separately as '@fjord/raft/sim'.
 */
export * from './types.js';
export { RawNode, type Ready, type RaftStatus } from './raw-node.js';
export { MemoryLog } from './memory-log.js';
export { applyConfChange, confToString } from './core/conf-change.js';
export { messageProblem } from './core/message-check.js';
