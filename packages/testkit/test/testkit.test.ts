// Goal: the helpers every multi-process test leans on do what they promise:
// waitFor returns as soon as the condition holds and fails with a clear message
// at its deadline; children die with their whole process group; ports are free;
// the history checker catches lost, duplicated and reordered records.
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ChildGroup, WaitTimeoutError, checkHistory, freePort, freePorts, makeTempDir, waitFor } from '@fjord/testkit';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const group = new ChildGroup();
afterEach(async () => {
  await group.killAll();
});

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('waitFor', () => {
  it('returns the first truthy value', async () => {
    let calls = 0;
    const value = await waitFor(() => (++calls >= 3 ? `done after ${calls}` : false), { timeoutMs: 5_000, intervalMs: 1 });
    expect(value).toBe('done after 3');
  });

  it('fails at the deadline naming what it waited for and the last error', async () => {
    const err = await waitFor(
      () => {
        throw new Error('still broken');
      },
      { timeoutMs: 30, intervalMs: 5, what: 'the moon' },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WaitTimeoutError);
    expect((err as Error).message).toMatch(/the moon.*still broken/);
  });
});

describe('ChildGroup', () => {
  it('kills the whole process group, grandchildren included', async () => {
    // The child spawns a grandchild that prints its pid, then both idle.
    const script = `
      const { spawn } = require('node:child_process');
      const g = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
      console.log('grandchild ' + g.pid);
      setInterval(() => {}, 1000);`;
    const child = group.start({ name: 'parent', command: process.execPath, args: ['-e', script] });
    const m = await child.waitForOutput(/grandchild (\d+)/, { timeoutMs: 10_000 });
    const grandchildPid = Number(m[1]);
    expect(processAlive(grandchildPid)).toBe(true);
    const exit = await child.kill();
    expect(exit.signal).toBe('SIGKILL');
    await waitFor(() => !processAlive(grandchildPid), { timeoutMs: 10_000, what: 'grandchild to die' });
  });

  it('reports a child that exits before printing what was awaited', async () => {
    const child = group.start({ name: 'quitter', command: process.execPath, args: ['-e', 'console.log("bye"); process.exit(3)'] });
    await expect(child.waitForOutput(/ready/, { timeoutMs: 10_000 })).rejects.toThrow(/quitter exited/);
    expect((await child.exited).code).toBe(3);
  });

  it('pauses and resumes a process (SIGSTOP/SIGCONT)', async () => {
    const dir = makeTempDir();
    try {
      const flag = join(dir.path, 'flag');
      const script = `const fs = require('node:fs'); console.log('up'); setInterval(() => { if (fs.existsSync(${JSON.stringify(flag)})) { console.log('saw flag'); } }, 5);`;
      const child = group.start({ name: 'sleeper', command: process.execPath, args: ['-e', script] });
      await child.waitForOutput(/up/, { timeoutMs: 10_000 });
      child.pause();
      writeFileSync(flag, 'x');
      child.resume();
      await child.waitForOutput(/saw flag/, { timeoutMs: 10_000 });
    } finally {
      dir.remove();
    }
  });
});

describe('ports and temp dirs', () => {
  it('hands out distinct ports that can be bound', async () => {
    const ports = await freePorts(3);
    expect(new Set(ports).size).toBe(3);
    const port = await freePort();
    await new Promise<void>((resolve, reject) => {
      const s = createServer();
      s.on('error', reject);
      s.listen(port, '127.0.0.1', () => s.close(() => resolve()));
    });
  });

  it('removes temp dirs', () => {
    const dir = makeTempDir();
    expect(existsSync(dir.path)).toBe(true);
    dir.remove();
    expect(existsSync(dir.path)).toBe(false);
  });
});

describe('checkHistory', () => {
  const acked = [
    { partition: 0, id: 'a' },
    { partition: 0, id: 'b' },
    { partition: 1, id: 'c' },
  ];

  it('accepts a history where every acked record is present once, in order', () => {
    const report = checkHistory({
      acked,
      consumed: [
        { partition: 0, offset: 0, id: 'a' },
        { partition: 0, offset: 1, id: 'unacked-but-fine' },
        { partition: 0, offset: 2, id: 'b' },
        { partition: 1, offset: 0, id: 'c' },
      ],
    });
    expect(report.ok).toBe(true);
  });

  it('finds lost, duplicated, reordered and non-monotonic records', () => {
    const report = checkHistory({
      acked,
      consumed: [
        { partition: 0, offset: 0, id: 'b' },
        { partition: 0, offset: 1, id: 'a' },
        { partition: 0, offset: 1, id: 'a' },
      ],
    });
    expect(report.ok).toBe(false);
    expect(report.lost.map((r) => r.id)).toEqual(['c']);
    expect(report.duplicated).toEqual([{ id: 'a', offsets: [1, 1] }]);
    expect(report.reordered).toEqual([{ partition: 0, id: 'b', after: 'a' }]);
    expect(report.nonMonotonicOffsets).toEqual([{ partition: 0, offset: 1, previous: 1 }]);
  });

  it('counts a record found in the wrong partition as lost', () => {
    const report = checkHistory({ acked: [{ partition: 0, id: 'x' }], consumed: [{ partition: 1, offset: 0, id: 'x' }] });
    expect(report.lost).toEqual([{ partition: 0, id: 'x' }]);
  });
});
