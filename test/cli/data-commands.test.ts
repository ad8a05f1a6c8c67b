// Goal: the issue-5 promise, checked the way a user meets it: `fjord dev` runs
// as a child process, and the built `fjord` binary, run as separate processes,
// creates a topic, produces records from stdin and consumes exactly those
// records back in order; topic list/describe/delete show the cluster's state;
// typed failures (unknown topic, invalid name, bad flag, offset out of range,
// no broker) end with their exit code and one `error: ...` line, no stack,
// and change nothing.
import { execFile } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ChildGroup, freePorts, makeTempDir, waitFor, type TempDir } from '@fjord/testkit';
import { main } from '@fjord/cli';
import { FJORD_BIN, killRuns, runFjord } from './run-fjord.js';

describe('fjord topic / produce / consume against fjord dev', () => {
  const children = new ChildGroup();
  let dir: TempDir | null = null;
  let env: Record<string, string> = {};
  let port = 0;

  beforeAll(async () => {
    dir = makeTempDir('fjord-cli-');
    const [brokerPort, coordinatorPort] = await freePorts(2);
    port = brokerPort as number;
    const dev = children.start({
      name: 'fjord-dev',
      command: process.execPath,
      args: [FJORD_BIN, 'dev', '--data-dir', dir.path, '--port', String(brokerPort), '--coordinator-port', String(coordinatorPort)],
    });
    await dev.waitForOutput(/fjord dev: broker listening on 127\.0\.0\.1:\d+/, { timeoutMs: 30_000 });
    // FJORD_BOOTSTRAP is how most runs find the broker; one test passes --bootstrap instead.
    env = { FJORD_BOOTSTRAP: `127.0.0.1:${port}` };
  });

  afterEach(() => killRuns());

  afterAll(async () => {
    killRuns();
    await children.killAll();
    dir?.remove();
  });

  it('creates a topic, produces 3 records from stdin, consumes exactly them from the beginning in order', { timeout: 180_000 }, async () => {
    const created = await runFjord(['topic', 'create', 'greetings', '--partitions', '1'], { env });
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    expect(created.stdout).toBe('created topic greetings (partitions: 1, replication factor: 1)\n');

    const produced = await runFjord(['produce', 'greetings'], { env, input: 'hello\nhej\nhallo\n' });
    expect(produced.stderr).toBe('');
    expect(produced.code).toBe(0);
    expect(produced.stdout).toBe('produced 3 records to greetings: partition 0 offsets 0..2 (3)\n');

    const consumed = await runFjord(['consume', 'greetings', '--from-beginning', '--max-messages', '3'], { env });
    expect(consumed.code).toBe(0);
    expect(consumed.stdout).toBe('hello\nhej\nhallo\n');
    expect(consumed.stderr).toBe('consumed 3 records\n');

    // Keys from --key-separator, offsets and partitions through --format, from an explicit offset.
    const keyed = await runFjord(['produce', 'greetings', '--key-separator', ':', '--bootstrap', `127.0.0.1:${port}`], { input: 'se:hej\nde:hallo:welt\n' });
    expect(keyed.code, keyed.stderr).toBe(0);
    expect(keyed.stdout).toBe('produced 2 records to greetings: partition 0 offsets 3..4 (2)\n');
    const formatted = await runFjord(['consume', 'greetings', '--offset', '2', '--max-messages', '3', '--format', '%k %v %o %p'], { env });
    expect(formatted.code, formatted.stderr).toBe(0);
    expect(formatted.stdout).toBe(' hallo 2 0\nse hej 3 0\nde hallo:welt 4 0\n');
    const json = await runFjord(['consume', 'greetings', '--from-beginning', '--partition', '0', '--max-messages', '1', '--json'], { env });
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ topic: 'greetings', partition: 0, offset: 0, key: null, value: 'hello' });

    // --timeout-ms: nothing new arrives, so it exits by itself having printed nothing.
    const idle = await runFjord(['consume', 'greetings', '--timeout-ms', '300'], { env });
    expect(idle.code).toBe(0);
    expect(idle.stdout).toBe('');
    expect(idle.stderr).toBe('consumed 0 records\n');
  });

  it('a reader that leaves early (fjord consume | head -1) ends it quietly, exit 0, no EPIPE stack', { timeout: 180_000 }, async () => {
    expect((await runFjord(['topic', 'create', 'piped'], { env })).code).toBe(0);
    // More output than a pipe buffer (64 KiB), so consume must write after head has gone.
    const lines = Array.from({ length: 20_000 }, (_, i) => `line-${i}`).join('\n');
    const produced = await runFjord(['produce', 'piped'], { env, input: `${lines}\n` });
    expect(produced.code, produced.stderr).toBe(0);
    const r = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
      execFile(
        'bash',
        ['-c', `"${process.execPath}" "${FJORD_BIN}" consume piped --from-beginning --max-messages 20000 | head -1; echo "status=\${PIPESTATUS[0]}"`],
        { env: { ...process.env, ...env }, timeout: 60_000, killSignal: 'SIGKILL' },
        (err, stdout, stderr) => (err !== null ? reject(err) : resolve({ stdout, stderr })),
      );
    });
    expect(r.stdout).toBe('line-0\nstatus=0\n');
    // It may or may not get to its summary before it notices the reader left; never a stack.
    expect(r.stderr).toMatch(/^(consumed \d+ records\n)?$/);
  });

  it('consume follows new records until Ctrl-C (SIGINT), then exits 0 with its count', { timeout: 180_000 }, async () => {
    expect((await runFjord(['topic', 'create', 'live'], { env })).code).toBe(0);
    // --offset 0 on the empty topic, not "latest": no race between the consumer resolving the end and the produce below.
    const consumer = children.start({ name: 'consume-live', command: process.execPath, args: [FJORD_BIN, 'consume', 'live', '--offset', '0'], env });
    const produced = await runFjord(['produce', 'live', '--value', 'first', '--value', 'second'], { env });
    expect(produced.code, produced.stderr).toBe(0);
    await consumer.waitForOutput(/first\nsecond\n/, { timeoutMs: 30_000 });
    expect(consumer.running).toBe(true);
    consumer.signal('SIGINT');
    expect(await consumer.exited).toEqual({ code: 0, signal: null });
    expect(consumer.output()).toBe('first\nsecond\nconsumed 2 records\n');
  });

  it('lists, describes (partitions, leader, replicas, ISR, leader epoch, offsets) and deletes topics', { timeout: 180_000 }, async () => {
    for (const [name, partitions] of [['zz-orders', '3'], ['aa-events', '2']] as const) {
      const r = await runFjord(['topic', 'create', name, '--partitions', partitions, '--replication-factor', '1', '--config', 'retention.ms=3600000'], { env });
      expect(r.code, r.stderr).toBe(0);
    }
    const values = Array.from({ length: 4 }, (_, i) => ['--value', `v${i}`]).flat();
    const produced = await runFjord(['produce', 'zz-orders', '--partition', '2', '--acks', '1', ...values], { env });
    expect(produced.code, produced.stderr).toBe(0);
    expect(produced.stdout).toBe('produced 4 records to zz-orders: partition 2 offsets 0..3 (4)\n');

    const list = await runFjord(['topic', 'list'], { env });
    expect(list.code, list.stderr).toBe(0);
    const names = list.stdout.trim().split('\n');
    expect(names).toEqual([...names].sort());
    expect(names).toEqual(expect.arrayContaining(['aa-events', 'zz-orders']));

    const described = await runFjord(['topic', 'describe', 'zz-orders'], { env });
    expect(described.code, described.stderr).toBe(0);
    const lines = described.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^Topic: zz-orders\tTopicId: \S+\tPartitions: 3\tReplicationFactor: 1$/);
    expect(lines.slice(1)).toEqual([
      '\tPartition: 0\tLeader: 1\tLeaderEpoch: 0\tReplicas: 1\tIsr: 1\tOffsets: 0..0',
      '\tPartition: 1\tLeader: 1\tLeaderEpoch: 0\tReplicas: 1\tIsr: 1\tOffsets: 0..0',
      '\tPartition: 2\tLeader: 1\tLeaderEpoch: 0\tReplicas: 1\tIsr: 1\tOffsets: 0..4',
    ]);
    const asJson = await runFjord(['topic', 'describe', 'aa-events', '--json'], { env });
    expect(asJson.code, asJson.stderr).toBe(0);
    expect(JSON.parse(asJson.stdout)).toMatchObject({
      name: 'aa-events',
      partitions: [
        { partition: 0, leader: 1, replicas: [1], isr: [1], earliestOffset: 0, latestOffset: 0 },
        { partition: 1, leader: 1, replicas: [1], isr: [1], earliestOffset: 0, latestOffset: 0 },
      ],
    });

    const deleted = await runFjord(['topic', 'delete', 'aa-events'], { env });
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(deleted.stdout).toBe('deleted topic aa-events\n');
    // The broker learns of the deletion through its metadata watch: wait for it, with a deadline.
    await waitFor(
      async () => {
        const r = await runFjord(['topic', 'list'], { env });
        return r.code === 0 && !r.stdout.split('\n').includes('aa-events') && r.stdout.split('\n').includes('zz-orders');
      },
      { timeoutMs: 20_000, intervalMs: 100, what: 'aa-events gone from topic list' },
    );
  });

  it('typed failures from the binary: one error line with the code, a non-zero exit, no stack, nothing changed', { timeout: 180_000 }, async () => {
    const unknown = await runFjord(['produce', 'no-such-topic', '--value', 'x'], { env });
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toBe('');
    expect(unknown.stderr).toBe('error: UNKNOWN_TOPIC_OR_PARTITION: topic no-such-topic does not exist\n');

    const fromStdin = await runFjord(['produce', 'no-such-topic'], { env, input: 'a\nb\n' });
    expect(fromStdin.code).toBe(1);
    expect(fromStdin.stderr).toBe('error: UNKNOWN_TOPIC_OR_PARTITION: topic no-such-topic does not exist\n');

    const invalid = await runFjord(['topic', 'create', 'bad name!'], { env });
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/^error: INVALID_TOPIC: .*bad name!.*\n$/);

    const created = await runFjord(['topic', 'create', 'errs', '--partitions', '2'], { env });
    expect(created.code, created.stderr).toBe(0);
    const again = await runFjord(['topic', 'create', 'errs'], { env });
    expect(again.code).toBe(1);
    expect(again.stderr).toBe('error: TOPIC_ALREADY_EXISTS: topic errs already exists\n');

    // Bad usage is exit code 2, and the command does not run: nothing is written.
    const badFlag = await runFjord(['produce', 'errs', '--value', 'x', '--bogus'], { env });
    expect(badFlag.code).toBe(2);
    expect(badFlag.stdout).toBe('');
    expect(badFlag.stderr).toBe('error: Unknown argument: bogus\n');

    // No broker there: a clear network error naming the address, not a hang.
    const [closedPort] = await freePorts(1);
    const down = await runFjord(['topic', 'list', '--bootstrap', `127.0.0.1:${closedPort as number}`], { env: { FJORD_BOOTSTRAP: '' } });
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(new RegExp(`^error: NETWORK_EXCEPTION: no broker answered at 127\\.0\\.0\\.1:${closedPort as number} .*fjord dev.*\\n$`));

    const described = await runFjord(['topic', 'describe', 'errs', '--json'], { env });
    expect(described.code, described.stderr).toBe(0);
    const d = JSON.parse(described.stdout) as { partitions: { latestOffset: number }[] };
    expect(d.partitions.map((p) => p.latestOffset)).toEqual([0, 0]);
    for (const r of [unknown, fromStdin, invalid, again, badFlag, down]) expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  // The same entry point in-process (main), for the rest of the error table:
  // cheaper than a process each on a loaded 2-core machine, same code path
  // after the process boundary.
  it('more typed failures and usage errors through main(): codes, one line, nothing changed', { timeout: 120_000 }, async () => {
    const bootstrap = ['--bootstrap', `127.0.0.1:${port}`];
    const run = async (argv: string[]): Promise<{ code: number; out: string; err: string }> => {
      let out = '';
      let err = '';
      const code = await main([...argv, ...bootstrap], { out: (t) => void (out += t), err: (t) => void (err += t) });
      return { code, out, err };
    };
    expect(await run(['topic', 'create', 'errs2', '--partitions', '2'])).toMatchObject({ code: 0 });
    const cases: [string[], number, RegExp][] = [
      [['consume', 'no-such-topic', '--from-beginning'], 1, /^error: UNKNOWN_TOPIC_OR_PARTITION: topic no-such-topic does not exist\n$/],
      [['topic', 'describe', 'no-such-topic'], 1, /^error: UNKNOWN_TOPIC_OR_PARTITION: topic no-such-topic does not exist\n$/],
      [['topic', 'delete', 'no-such-topic'], 1, /^error: UNKNOWN_TOPIC_OR_PARTITION: /],
      [['topic', 'create', 'cfg-topic', '--config', 'retention.ms=soon'], 1, /^error: INVALID_CONFIG: .*retention\.ms.*\n$/],
      [['produce', 'errs2', '--partition', '7', '--value', 'x'], 1, /^error: UNKNOWN_TOPIC_OR_PARTITION: errs2 has no partition 7\n$/],
      [['consume', 'errs2', '--partition', '7'], 1, /^error: UNKNOWN_TOPIC_OR_PARTITION: errs2 has no partition 7 \(it has 2\)\n$/],
      [['consume', 'errs2', '--partition', '1', '--offset', '5'], 1, /^error: OFFSET_OUT_OF_RANGE: offset 5 is outside errs2-1's 0\.\.0\n$/],
      [['consume', 'errs2', '--group', 'g1'], 1, /^error: INVALID_REQUEST: consumer groups are not available yet/],
      [['produce', 'errs2', '--value', 'x', '--acks', '2'], 2, /^error: Invalid values: Argument: acks, Given: "2"/],
      [['topic', 'create', 'never', '--partitions', '0'], 2, /^error: --partitions must be a whole number >= 1, not 0\n$/],
      [['topic', 'create', 'never', '--config', 'retention.ms'], 2, /^error: --config takes key=value, not "retention\.ms"\n$/],
      [['consume', 'errs2', '--from-beginning', '--offset', '0'], 2, /^error: Arguments from-beginning and offset are mutually exclusive\n$/],
      [['consume', 'errs2', '--format', '%q'], 2, /^error: --format: unknown field %q/],
      [['topic'], 2, /^error: name a topic command/],
    ];
    for (const [argv, code, stderr] of cases) {
      const r = await run(argv);
      expect({ argv, code: r.code, out: r.out }).toEqual({ argv, code, out: '' });
      expect(r.err).toMatch(stderr);
      expect(r.err.split('\n').length, r.err).toBe(2);
    }
    const listed = await run(['topic', 'list']);
    const names = listed.out.split('\n');
    for (const name of ['cfg-topic', 'never', 'no-such-topic']) expect(names).not.toContain(name);
    const described = await run(['topic', 'describe', 'errs2', '--json']);
    expect((JSON.parse(described.out) as { partitions: { latestOffset: number }[] }).partitions.map((p) => p.latestOffset)).toEqual([0, 0]);
  });
});
