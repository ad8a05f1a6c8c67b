// Goal: the README's `fjord` examples are what a user gets. Every `npx fjord`
// / `printf ... | npx fjord` line in README.md's shell blocks (except `fjord
// dev` itself, started here as the child it tells the user to run) is run in
// order against a fresh `fjord dev`, and its stdout must equal the `# ` lines
// under it (the TopicId column, random per run, excepted).
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChildGroup, freePorts, makeTempDir, type TempDir } from '@fjord/testkit';
import { FJORD_BIN } from './run-fjord.js';

interface Example {
  command: string;
  expected: string[];
}

function readmeExamples(): Example[] {
  const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
  const examples: Example[] = [];
  for (const block of readme.matchAll(/```sh\n([\s\S]*?)```/g)) {
    const lines = (block[1] as string).split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i] as string;
      if (!/^(npx fjord |printf .*\| npx fjord )/.test(line) || line.includes('fjord dev')) continue;
      const expected: string[] = [];
      while ((lines[i + 1] ?? '').startsWith('# ')) expected.push((lines[++i] as string).slice(2));
      examples.push({ command: line, expected });
    }
  }
  return examples;
}

function sh(command: string, env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('bash', ['-c', command], { env: { ...process.env, ...env }, timeout: 60_000, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

const withoutTopicId = (line: string): string => line.replace(/\tTopicId: \S+/, '\tTopicId: *');

describe('README fjord examples', () => {
  const children = new ChildGroup();
  let dir: TempDir | null = null;
  let bootstrap = '';

  beforeAll(async () => {
    dir = makeTempDir('fjord-readme-');
    const [port, coordinatorPort] = await freePorts(2);
    bootstrap = `127.0.0.1:${port as number}`;
    const dev = children.start({
      name: 'fjord-dev',
      command: process.execPath,
      args: [FJORD_BIN, 'dev', '--data-dir', dir.path, '--port', String(port), '--coordinator-port', String(coordinatorPort)],
    });
    await dev.waitForOutput(/fjord dev: broker listening on/, { timeoutMs: 30_000 });
  });

  afterAll(async () => {
    await children.killAll();
    dir?.remove();
  });

  it('every example prints what the README shows', { timeout: 240_000 }, async () => {
    const examples = readmeExamples();
    expect(examples.length).toBeGreaterThanOrEqual(5);
    for (const { command, expected } of examples) {
      // The built binary itself rather than npx (no npm in the loop); same bin file.
      const r = await sh(command.replaceAll('npx fjord', `"${process.execPath}" "${FJORD_BIN}"`), { FJORD_BOOTSTRAP: bootstrap });
      expect({ command, code: r.code, stderr: r.stderr.replace(/^consumed \d+ records?\n$/, '') }).toEqual({ command, code: 0, stderr: '' });
      expect({ command, stdout: r.stdout.trimEnd().split('\n').map(withoutTopicId) }).toEqual({ command, stdout: expected.map(withoutTopicId) });
    }
  });
});
