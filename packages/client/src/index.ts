export * from './producer/accumulator.js';
export * from './retry.js';
