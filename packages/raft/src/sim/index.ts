/**
 * '@fjord/raft/sim': the deterministic simulator, for tests only (the
 * coordinator's tests reuse the cluster harness and the checkers).
 */
export { SimNetwork, NO_FAULTS, type NetworkFaults } from './network.js';
export { SimCluster, SimNode, writeData, encodeWrites, decodeWrites, type ClusterOptions, type NodeRaftOptions, type AppState } from './cluster.js';
export { SafetyChecker, Violation, writeIdOf } from './checkers.js';
export { Trace, formatMessage } from './trace.js';
export { runSeed, drawParams, formatFailure, replayCommand, SIM_PROFILES, type SimOptions, type SimResult, type SwarmParams } from './simulator.js';
