/**
 * Runs the built `fjord` binary the way a user does in a second terminal: a
 * child process with arguments, optional stdin, reading its stdout, stderr and
 * exit code. Each run is in its own process group with a deadline; whatever is
 * still running is killed by `killRuns()` (afterEach), even when a test failed.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

export const FJORD_BIN = join(import.meta.dirname, '..', '..', 'packages', 'cli', 'bin', 'fjord.js');

export interface FjordRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const live = new Set<number>();

export async function runFjord(args: readonly string[], options: { input?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<FjordRun> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const child = spawn(process.execPath, [FJORD_BIN, ...args], {
    env: { ...process.env, ...options.env },
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`fjord ${args.join(' ')}: spawn failed`);
  live.add(pid);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => void (stdout += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => void (stderr += c.toString('utf8')));
  child.stdin.on('error', () => undefined); // a command that exits before reading all input
  child.stdin.end(options.input ?? '');
  return new Promise<FjordRun>((resolve, reject) => {
    const timer = setTimeout(() => {
      killGroup(pid);
      reject(new Error(`fjord ${args.join(' ')} did not exit within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      live.delete(pid);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
  live.delete(pid);
}

export function killRuns(): void {
  for (const pid of [...live]) killGroup(pid);
}
