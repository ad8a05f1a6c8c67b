/**
 * What a `fjord` subcommand is: yargs wiring plus a `run` that returns the exit
 * code. Output goes through `io` (not console) so tests can read it and the
 * commands stay usable as a library.
 */
import type { Readable } from 'node:stream';
import type { Argv } from 'yargs';

export interface CommandIo {
  out: (text: string) => void;
  err: (text: string) => void;
  /** Where `fjord produce` reads records from; process.stdin when absent. */
  in?: Readable;
}

export interface FjordCommand {
  /** yargs command string, e.g. "version" or "coordinator". */
  command: string;
  describe: string;
  builder: (yargs: Argv) => Argv;
  run: (args: Readonly<Record<string, unknown>>, io: CommandIo) => Promise<number>;
  /** Nested commands (`fjord topic create`); when present, `run` is never called and one of them must be named. */
  subcommands?: readonly FjordCommand[];
}

/**
 * Bad usage found after yargs parsed the flags (a malformed --config pair, a
 * negative --partition): printed as `error: <message>`, exit code 2, like
 * yargs' own usage errors. Not a FjordError: nothing reached a server.
 */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
