// Goal: the cluster and drill scripts work end to end as a user runs them,
// each a separate process: `cluster.ts start` (6 detached nodes from the
// deploy/local configs, on ephemeral ports), `status`, a refused second
// `start` over the running cluster, `failover-drill.ts` (kill -9 of a leader
// broker, kill -9 of the coordinator leader, SIGSTOP of a broker, all under an
// acks=all producer) with lost = 0 and duplicated = 0, then `cluster.ts stop`
// leaves no process behind. Whatever happens, every node is SIGKILLed after.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ChildGroup, makeTempDir, waitFor, type TempDir } from '@fjord/testkit';
import { isRunning, killAll, loadState } from '../../scripts/cluster.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** Pids of live processes whose command line mentions `text` (the cluster's directory). */
function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z') continue;
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text)) pids.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return pids;
}

describe('scripts/cluster.ts and scripts/failover-drill.ts', () => {
  const scripts = new ChildGroup();
  let dir: TempDir | null = null;

  afterEach(async () => {
    await scripts.killAll();
    if (dir !== null) {
      const state = loadState(dir.path);
      if (state !== null) killAll(state);
      await waitFor(() => processesMentioning(dir?.path ?? '').length === 0, { timeoutMs: 10_000, what: 'cluster processes gone' });
      dir.remove();
      dir = null;
    }
  });

  const run = async (name: string, script: string, args: readonly string[], timeoutMs: number): Promise<{ code: number | null; output: string }> => {
    const child = scripts.start({ name, command: process.execPath, args: ['--import', 'tsx', join(REPO, 'scripts', script), ...args], cwd: REPO });
    const exit = await waitFor(() => child.exitStatus, { timeoutMs, what: `${name} to exit` }).catch((e: unknown) => {
      throw new Error(`${String(e)}\n${child.output().slice(-4_000)}`);
    });
    return { code: exit.code, output: child.output() };
  };

  it('start, status, a refused second start, a drill with lost 0 and duplicated 0, stop with nothing left', async () => {
    dir = makeTempDir('fjord-cluster-');
    const path = dir.path;
    const started = await run('cluster start', 'cluster.ts', ['start', '--dir', path, '--free-ports'], 60_000);
    expect(started.code, started.output).toBe(0);
    const state = loadState(path);
    expect(state).not.toBeNull();
    expect(state?.nodes.map((n) => n.name)).toEqual(['coordinator-1', 'coordinator-2', 'coordinator-3', 'broker-1', 'broker-2', 'broker-3']);
    expect(state?.nodes.every((n) => isRunning(n))).toBe(true);
    expect(started.output).toContain(`bootstrap: ${state?.bootstrap ?? '?'}`);

    const status = await run('cluster status', 'cluster.ts', ['status', '--dir', path, '--json'], 30_000);
    expect(status.code, status.output).toBe(0);
    const rows = JSON.parse(status.output.trim().split('\n').pop() ?? '[]') as { name: string; role: string; running: boolean }[];
    expect(rows.filter((r) => r.role.startsWith('leader'))).toHaveLength(1);
    for (const r of rows.filter((x) => x.name.startsWith('broker-'))) expect(r.role).toMatch(/^registered, metadata v\d+$/);
    expect(rows.filter((r) => r.name.startsWith('broker-'))).toHaveLength(3);

    const again = await run('cluster start again', 'cluster.ts', ['start', '--dir', path, '--free-ports'], 30_000);
    expect(again.code).toBe(1);
    expect(again.output).toMatch(/a cluster is running in .*; stop it first/);

    const drill = await run('failover drill', 'failover-drill.ts', ['--dir', path, '--duration-s', '6', '--rate', '200', '--partitions', '4', '--step-timeout-s', '20'], 90_000);
    const report = JSON.parse(drill.output.trim().split('\n').pop() ?? '{}') as { ok: boolean; acked: number; lost: number; duplicated: number; misplaced: number; faults: unknown[]; error: string | null };
    process.stderr.write(`${drill.output.split('\n').slice(-12, -1).join('\n')}\n`);
    expect(report.error, drill.output).toBeNull();
    expect(report.faults).toHaveLength(3);
    expect(report.acked).toBeGreaterThan(0);
    expect(report.lost).toBe(0);
    expect(report.duplicated).toBe(0);
    expect(report.misplaced).toBe(0);
    expect(drill.code).toBe(0);

    const stopped = await run('cluster stop', 'cluster.ts', ['stop', '--dir', path], 60_000);
    expect(stopped.code, stopped.output).toBe(0);
    const after = loadState(path);
    expect(after?.nodes.every((n) => n.pid === null && !isRunning(n))).toBe(true);
    expect(processesMentioning(path)).toEqual([]);
  }, 120_000);
});
