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

/**
 * Every command, loaded on demand: a data command (topic, produce, consume)
 * never loads the broker and coordinator packages (LevelDB's native module
 * and the rest): importing the CLI with them took 1.63 s wall / 0.80 s CPU,
 * the client alone 0.54 s / 0.45 s (average of 5, 2-core VM at load ~7).
 * `command` and `describe` are repeated here for `fjord
 * --help`; cli.test.ts checks they equal the loaded command's.
 */
export interface CommandEntry {
  command: string;
  describe: string;
  load: () => Promise<FjordCommand>;
}

export const COMMANDS: readonly CommandEntry[] = [
  { command: 'version', describe: 'Print the Fjord version and the Node.js it runs on', load: async () => (await import('./commands/version.js')).versionCommand },
  {
    command: 'coordinator',
    describe: 'Run a coordinator node (Raft-replicated cluster metadata and the controller)',
    load: async () => (await import('./commands/coordinator.js')).coordinatorCommand,
  },
  {
    command: 'broker',
    describe: 'Run a broker node (replicated partition logs and the produce/fetch data plane)',
    load: async () => (await import('./commands/broker.js')).brokerCommand,
  },
  {
    command: 'dev',
    describe: 'Run a one-node cluster (a coordinator and a broker in one process) for development',
    load: async () => (await import('./commands/dev.js')).devCommand,
  },
  { command: 'topic', describe: 'Create, list, describe and delete topics', load: async () => (await import('./commands/topic.js')).topicCommand },
  {
    command: 'produce <topic>',
    describe: 'Write records: --value flags, or one record per line of stdin',
    load: async () => (await import('./commands/produce.js')).produceCommand,
  },
  { command: 'consume <topic>', describe: 'Print records, one per line', load: async () => (await import('./commands/consume.js')).consumeCommand },
];

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
  for (const entry of COMMANDS) {
    // Load a command only when its name is on the command line; the others
    // are listed (for --help) but never chosen, since yargs picks by name.
    const name = entry.command.split(' ')[0] as string;
    if (argv.includes(name)) register(parser, await entry.load());
    else parser.command(entry.command, entry.describe);
  }
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
