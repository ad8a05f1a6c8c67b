export * from './assert.js';
export * from './batch-header.js';
export * from './compression.js';
export * from './crc32c.js';
export * from './errors.js';
export * from './record-batch.js';
export * from './rng.js';
export * from './varint.js';
