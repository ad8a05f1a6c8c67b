// @fjord/coordinator: what the package offers (STYLE.md H.7: exports only
// through this file). The Raft shell, LevelDB log store, gRPC transport and
// the coordinator service are the I/O shell around the pure pieces.
export * from './result.js';
export * from './metadata-command.js';
export * from './command-codec.js';
export * from './persistent-map.js';
export * from './metadata-state.js';
export * from './metadata-snapshot.js';
export * from './metadata-watch.js';
export * from './metadata-machine.js';
export * from './wire.js';
export * from './wire-requests.js';
export * from './config.js';
export * from './controller/placement.js';
export * from './controller/topic-id.js';
export * from './controller/sessions.js';
export * from './controller/decide.js';
export * from './controller/controller-tick.js';
export * from './controller/topic-admin.js';
export * from './controller/elections.js';
export * from './raft-codec.js';
export * from './level-raft-store.js';
export * from './grpc-raft-transport.js';
export * from './raft-node.js';
export * from './coordinator-service.js';
export * from './request-pipeline.js';
export * from './coordinator-node.js';
