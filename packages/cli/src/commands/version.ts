import { readFileSync } from 'node:fs';
import type { FjordCommand } from '../command.js';

function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
  return manifest.version ?? 'unknown';
}

export const versionCommand: FjordCommand = {
  command: 'version',
  describe: 'Print the Fjord version and the Node.js it runs on',
  builder: (y) => y,
  run: async (_args, io) => {
    io.out(`fjord ${packageVersion()} (node ${process.version})\n`);
    return 0;
  },
};
