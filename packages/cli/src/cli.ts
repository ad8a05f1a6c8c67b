/**
 * The `fjord` command line (yargs). Each subcommand is a FjordCommand in
 * commands/; `main` returns the exit code: 0 ok, 1 a FjordError (printed as
 * `error CODE: message`), 2 bad usage. Anything else is a bug and is rethrown.
 */
import yargs from 'yargs';
import { isFjordError } from '@fjord/protocol';
import type { CommandIo, FjordCommand } from './command.js';
import { versionCommand } from './commands/version.js';
import { coordinatorCommand } from './commands/coordinator.js';
import { brokerCommand } from './commands/broker.js';
import { devCommand } from './commands/dev.js';

export const COMMANDS: readonly FjordCommand[] = [versionCommand, coordinatorCommand, brokerCommand, devCommand];

const defaultIo: CommandIo = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
};

export async function main(argv: readonly string[], io: CommandIo = defaultIo): Promise<number> {
  let exitCode = 0;
  let usageError: string | null = null;
  const parser = yargs([...argv])
    .scriptName('fjord')
    .usage('$0 <command> [options]')
    .strict()
    .demandCommand(1, 'name a command (fjord --help lists them)')
    .help()
    .version(false)
    .wrap(Math.min(120, process.stdout.columns ?? 100))
    .fail((message: string | undefined, error: Error | undefined) => {
      if (error !== undefined) throw error;
      usageError = message ?? 'invalid usage';
    });
  for (const c of COMMANDS) {
    parser.command(c.command, c.describe, c.builder, async (args) => {
      exitCode = await c.run(args as Readonly<Record<string, unknown>>, io);
    });
  }
  try {
    await parser.parseAsync();
  } catch (err) {
    if (isFjordError(err)) {
      io.err(`error ${err.code}: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  if (usageError !== null) {
    io.err(`${usageError}\n`);
    return 2;
  }
  return exitCode;
}
