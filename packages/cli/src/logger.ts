/**
 * The process's root logger (STYLE.md E): one pino logger per process with
 * `{ node }` bound; components get `root.child({ component })` through their
 * constructor options. Synchronous by default so the last lines survive
 * kill -9 (drills read them as evidence).
 */
import { pino, type Logger, type LevelWithSilent } from 'pino';

export interface RootLoggerOptions {
  /** e.g. "coordinator-1", "broker-2". */
  node: string;
  level: LevelWithSilent;
  /** File descriptor or path; stdout by default. */
  destination?: number | string;
}

export function createRootLogger(options: RootLoggerOptions): Logger {
  const destination = pino.destination({ dest: options.destination ?? 1, sync: true });
  return pino({ level: options.level, base: { node: options.node } }, destination);
}
