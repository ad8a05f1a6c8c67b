/**
 * What a `fjord` subcommand is: yargs wiring plus a `run` that returns the exit
 * code. Output goes through `io` (not console) so tests can read it and the
 * commands stay usable as a library.
 */
import type { Argv } from 'yargs';

export interface CommandIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

export interface FjordCommand {
  /** yargs command string, e.g. "version" or "coordinator". */
  command: string;
  describe: string;
  builder: (yargs: Argv) => Argv;
  run: (args: Readonly<Record<string, unknown>>, io: CommandIo) => Promise<number>;
}
