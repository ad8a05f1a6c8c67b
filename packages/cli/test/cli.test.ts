// Goal: the built `fjord` binary runs (what ships is what is tested), answers
// bad usage with exit code 2 and a message, and main() is usable in-process.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMANDS, main } from '@fjord/cli';

const bin = join(import.meta.dirname, '..', 'bin', 'fjord.js');

function capture(): { io: { out: (t: string) => void; err: (t: string) => void }; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return { io: { out: (t) => void (out += t), err: (t) => void (err += t) }, out: () => out, err: () => err };
}

describe('fjord CLI', () => {
  it('the built binary prints its version', () => {
    const r = spawnSync(process.execPath, [bin, 'version'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^fjord \d+\.\d+\.\d+ \(node v\d+/);
  });

  it('refuses unknown commands and missing commands with exit code 2', async () => {
    const a = capture();
    expect(await main(['no-such-command'], a.io)).toBe(2);
    expect(a.err()).toMatch(/Unknown argument: no-such-command/);
    const b = capture();
    expect(await main([], b.io)).toBe(2);
    expect(b.err()).toMatch(/name a command/);
  });

  it('lists every command with the name and description the loaded command has (commands load on demand)', async () => {
    for (const entry of COMMANDS) {
      const loaded = await entry.load();
      expect({ command: loaded.command, describe: loaded.describe }).toEqual({ command: entry.command, describe: entry.describe });
    }
    const r = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    for (const entry of COMMANDS) expect(r.stdout).toContain(`fjord ${entry.command}`);
  });
});
