export * from './replication/high-watermark.js';
export * from './replication/isr.js';
export * from './replication/partition-state.js';
export * from './replication/producer-state.js';
export * from './replication/truncation.js';
export * from './delayed-produce.js';
