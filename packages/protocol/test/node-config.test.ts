// Goal: node configuration resolves defaults < file < env < flags, refuses
// unknown keys and bad values with INVALID_CONFIG naming the key and source,
// requires what has no default, freezes the result, and a table is checkable.
import { describe, expect, it } from 'vitest';
import { cliOptionsFor, configTableMarkdownFor, configTableProblems, isFjordError, loadNodeConfig, type ConfigTable } from '@fjord/protocol';

const TABLE = {
  id: { type: 'int', default: null, min: 1, max: 100, doc: 'Node id', env: 'FJORD_T_ID', flag: '--id' },
  tickMs: { type: 'int', default: 10, min: 1, max: 1000, doc: 'Tick', env: 'FJORD_T_TICK_MS', flag: '--tick-ms' },
  listen: { type: 'address', default: '127.0.0.1:9092', doc: 'Listen', env: 'FJORD_T_LISTEN', flag: '--listen' },
  peers: { type: 'peers', default: '1=127.0.0.1:7001', doc: 'Peers', env: 'FJORD_T_PEERS', flag: '--peers' },
  level: { type: 'enum', values: ['info', 'debug'], default: 'info', doc: 'Level', env: 'FJORD_T_LEVEL', flag: '--level' },
  sync: { type: 'boolean', default: false, doc: 'Sync', env: 'FJORD_T_SYNC', flag: '--sync' },
} as const satisfies ConfigTable;

function codeAndMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (isFjordError(err)) return `${err.code}: ${err.message}`;
    throw err;
  }
  return 'no error';
}

describe('node config', () => {
  it('applies defaults < file < env < flags and freezes', () => {
    const c = loadNodeConfig(TABLE, {
      file: { id: 1, tickMs: 20, level: 'debug' },
      env: { FJORD_T_TICK_MS: '30', FJORD_T_SYNC: 'true', FJORD_OTHER: 'ignored' },
      flags: { 'tick-ms': 40 },
    });
    expect(c).toMatchObject({ id: 1, tickMs: 40, level: 'debug', sync: true, listen: '127.0.0.1:9092' });
    expect(c.peers).toEqual([{ id: 1, host: '127.0.0.1', port: 7001 }]);
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.peers)).toBe(true);
  });

  it('refuses unknown keys, bad values and missing required keys, naming them', () => {
    expect(codeAndMessage(() => loadNodeConfig(TABLE, { file: { id: 1, tikMs: 3 } }))).toMatch(/INVALID_CONFIG.*unknown key "tikMs"/);
    expect(codeAndMessage(() => loadNodeConfig(TABLE, { flags: { id: 1, nope: 1 } }))).toMatch(/INVALID_CONFIG.*unknown flag "--nope"/);
    expect(codeAndMessage(() => loadNodeConfig(TABLE, { flags: { id: 1 }, env: { FJORD_T_TICK_MS: '0' } }))).toMatch(/tickMs="0" \(from env FJORD_T_TICK_MS\).*\[1, 1000\]/);
    expect(codeAndMessage(() => loadNodeConfig(TABLE, { flags: { id: 1, listen: 'nohost' } }))).toMatch(/listen.*host:port/);
    expect(codeAndMessage(() => loadNodeConfig(TABLE, { flags: { id: 1, peers: '1=a:1,1=b:2' } }))).toMatch(/peers.*distinct ids/);
    expect(codeAndMessage(() => loadNodeConfig(TABLE, { flags: { id: 1, level: 'loud' } }))).toMatch(/level.*one of info, debug/);
    expect(codeAndMessage(() => loadNodeConfig(TABLE, {}))).toMatch(/INVALID_CONFIG.*id is required \(--id or FJORD_T_ID\)/);
  });

  it('generates CLI options and a README table, and checks a table', () => {
    expect(Object.keys(cliOptionsFor(TABLE))).toEqual(['id', 'tick-ms', 'listen', 'peers', 'level', 'sync']);
    expect(configTableMarkdownFor(TABLE)).toContain('| `tickMs` | `--tick-ms` | `FJORD_T_TICK_MS` | int | 10 | 1..1000 | Tick |');
    expect(configTableProblems(TABLE)).toEqual([]);
    expect(
      configTableProblems({
        a: { type: 'int', default: 5, min: 10, max: 20, doc: '', env: 'X', flag: '-a' },
        b: { type: 'boolean', default: true, doc: 'b', env: 'X', flag: '-a' },
      }),
    ).toEqual(['a: no doc', 'a: env name X is not FJORD_*', 'a: flag -a is not --kebab-case', 'a: default outside [min, max]', 'b: env name X is not FJORD_*', 'b: flag -a is not --kebab-case', 'b: env name X repeats', 'b: flag -a repeats']);
  });
});
