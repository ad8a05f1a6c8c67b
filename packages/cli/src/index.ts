export * from './cli.js';
export * from './command.js';
export * from './logger.js';
