/**
 * Goal: `fjord coordinator` takes its configuration from the coordinator's
 * table (flags, FJORD_COORDINATOR_* env, --config file) and refuses bad
 * configuration with exit code 1 and `error: INVALID_CONFIG: ...` before it
 * opens anything.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '@fjord/cli';

const dir = mkdtempSync(join(tmpdir(), 'fjord-cli-coord-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}

describe('fjord coordinator configuration', () => {
  it('refuses an id that is not in peers, bad values and unknown file keys with INVALID_CONFIG', async () => {
    const notInPeers = await run(['coordinator', '--id', '9', '--peers', '1=127.0.0.1:7001', '--data-dir', join(dir, 'a')]);
    expect(notInPeers.code).toBe(1);
    expect(notInPeers.err).toMatch(/error: INVALID_CONFIG: .*id 9 is not in peers/);

    const badTicks = await run(['coordinator', '--id', '1', '--peers', '1=127.0.0.1:7001', '--data-dir', join(dir, 'b'), '--heartbeat-ticks', '50']);
    expect(badTicks.code).toBe(1);
    expect(badTicks.err).toMatch(/INVALID_CONFIG: .*heartbeatTicks/);

    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ id: 1, peers: '1=127.0.0.1:7001', dataDir: join(dir, 'c'), noSuchKey: 1 }));
    const unknownKey = await run(['coordinator', '--config', file]);
    expect(unknownKey.code).toBe(1);
    expect(unknownKey.err).toMatch(/INVALID_CONFIG: .*unknown key "noSuchKey"/);

    const badPeers = await run(['coordinator', '--id', '1', '--peers', 'nonsense', '--data-dir', join(dir, 'd')]);
    expect(badPeers.code).toBe(1);
    expect(badPeers.err).toMatch(/INVALID_CONFIG: .*peers/);
  });
});
