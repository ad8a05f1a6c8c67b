/**
 * The `fjord` command line (yargs). Each subcommand is a FjordCommand in
 * commands/; `main` returns the exit code: 0 ok, 1 a FjordError (printed as
 * one line `error: CODE: message` on stderr, no stack: these are expected
 * outcomes such as an unknown topic), 2 bad usage (`error: message`).
 * Anything else is a bug and is rethrown (with its stack).
 */
import yargs from 'yargs';
import { isFjordError } from '@fjord/protocol';
import type { Argv } from 'yargs';
import { UsageError, type CommandIo, type FjordCommand } from './command.js';
import { versionCommand } from './commands/version.js';
import { coordinatorCommand } from './commands/coordinator.js';
import { brokerCommand } from './commands/broker.js';
import { devCommand } from './commands/dev.js';
import { topicCommand } from './commands/topic.js';
import { produceCommand } from './commands/produce.js';
import { consumeCommand } from './commands/consume.js';

export const COMMANDS: readonly FjordCommand[] = [versionCommand, coordinatorCommand, brokerCommand, devCommand, topicCommand, produceCommand, consumeCommand];

/** The one line a FjordError becomes: the code, then the specific detail (the catalog text when there is none). */
export function formatError(err: { code: string; detail: string; message: string }): string {
  return `error: ${err.code}: ${err.detail !== '' ? err.detail : err.message}`;
}

const defaultIo: CommandIo = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
};

export async function main(argv: readonly string[], io: CommandIo = defaultIo): Promise<number> {
  let exitCode = 0;
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
      // Throw, not just record: yargs runs the command's handler after a fail
      // callback that returns, i.e. a command with a bad flag would still run.
      // One line: yargs splits some messages ("Invalid values:\n  Argument: ...").
      throw new UsageError((message ?? 'invalid usage').replace(/\s*\n\s*/g, ' '));
    });
  const register = (y: Argv, c: FjordCommand): Argv => {
    const subcommands = c.subcommands;
    if (subcommands !== undefined) {
      return y.command(c.command, c.describe, (sub) => {
        let b = c.builder(sub);
        for (const s of subcommands) b = register(b, s);
        return b.demandCommand(1, `name a ${c.command} command (fjord ${c.command} --help lists them)`);
      });
    }
    return y.command(c.command, c.describe, c.builder, async (args) => {
      exitCode = await c.run(args as Readonly<Record<string, unknown>>, io);
    });
  };
  for (const c of COMMANDS) register(parser, c);
  try {
    await parser.parseAsync();
  } catch (err) {
    if (isFjordError(err)) {
      io.err(`${formatError(err)}\n`);
      return 1;
    }
    if (err instanceof UsageError) {
      io.err(`error: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  return exitCode;
}
