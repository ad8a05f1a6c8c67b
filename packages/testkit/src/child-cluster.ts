/**
 * Child processes for multi-process tests. Each child runs in its own process
 * group (detached), so kill() reaches everything it spawned; `killAll()` belongs
 * in afterEach/afterAll, and an exit hook kills whatever a crashed test left
 * behind (TOOLCHAIN.md pitfall 8). Output is kept (bounded) for assertions and
 * for the failure message.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { WaitTimeoutError } from './wait-for.js';

export interface ChildSpec {
  /** Short name for messages, e.g. "broker-2". */
  name: string;
  command: string;
  args: readonly string[];
  env?: Readonly<Record<string, string>>;
  cwd?: string;
}

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Bound on the output kept per child (the tail is what matters for diagnosis). */
export const MAX_OUTPUT_CHARS = 4 * 1024 * 1024;

const liveGroups = new Set<number>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const pgid of liveGroups) {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

export class ManagedChild {
  readonly name: string;
  readonly pid: number;
  readonly exited: Promise<ChildExit>;
  private outputText = '';
  private exitInfo: ChildExit | null = null;
  private readonly listeners = new Set<() => void>();

  constructor(
    spec: ChildSpec,
    private readonly child: ChildProcess,
  ) {
    this.name = spec.name;
    if (child.pid === undefined) throw new Error(`${spec.name}: spawn failed`);
    this.pid = child.pid;
    const onData = (chunk: Buffer): void => {
      this.outputText += chunk.toString('utf8');
      if (this.outputText.length > MAX_OUTPUT_CHARS) this.outputText = this.outputText.slice(-MAX_OUTPUT_CHARS / 2);
      for (const l of this.listeners) l();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    this.exited = new Promise<ChildExit>((resolve) => {
      child.on('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        liveGroups.delete(this.pid);
        for (const l of this.listeners) l();
        resolve(this.exitInfo);
      });
    });
  }

  get running(): boolean {
    return this.exitInfo === null;
  }

  get exitStatus(): ChildExit | null {
    return this.exitInfo;
  }

  output(): string {
    return this.outputText;
  }

  /** Resolves with the first match of `pattern` in the output (past or future). */
  async waitForOutput(pattern: RegExp, options: { timeoutMs: number }): Promise<RegExpMatchArray> {
    return new Promise<RegExpMatchArray>((resolve, reject) => {
      const check = (): void => {
        const m = this.outputText.match(pattern);
        if (m) {
          done();
          resolve(m);
        } else if (this.exitInfo !== null) {
          done();
          reject(new Error(`${this.name} exited (${JSON.stringify(this.exitInfo)}) before printing ${pattern}\n${this.outputText.slice(-4000)}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new WaitTimeoutError(`${this.name}: no ${pattern} within ${options.timeoutMs} ms\n${this.outputText.slice(-4000)}`));
      }, options.timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      this.listeners.add(check);
      check();
    });
  }

  /** Signals the whole process group. */
  signal(signal: NodeJS.Signals): void {
    if (this.exitInfo !== null) return;
    try {
      process.kill(-this.pid, signal);
    } catch {
      // exited in between
    }
  }

  /** kill -9 (or another signal) and wait until it is gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<ChildExit> {
    this.signal(signal);
    return this.exited;
  }

  /** SIGSTOP: a frozen, not dead, process. */
  pause(): void {
    this.signal('SIGSTOP');
  }

  resume(): void {
    this.signal('SIGCONT');
  }
}

/** Owns a set of children; `killAll()` in afterEach, even when the test failed. */
export class ChildGroup {
  private readonly children: ManagedChild[] = [];

  start(spec: ChildSpec): ManagedChild {
    installExitHook();
    const child = spawn(spec.command, [...spec.args], {
      cwd: spec.cwd,
      env: { ...process.env, ...spec.env },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const managed = new ManagedChild(spec, child);
    liveGroups.add(managed.pid);
    this.children.push(managed);
    return managed;
  }

  get all(): readonly ManagedChild[] {
    return this.children;
  }

  async killAll(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await Promise.all(
      this.children.map(async (c) => {
        c.resume(); // a stopped process must run to die of SIGTERM
        await c.kill(signal);
      }),
    );
    this.children.length = 0;
  }
}
