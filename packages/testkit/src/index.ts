export * from './child-cluster.js';
export * from './history-checker.js';
export * from './ports.js';
export * from './temp-dir.js';
export * from './wait-for.js';
