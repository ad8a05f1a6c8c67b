// Goal: the coordinator's config table is complete (every key has a doc, an
// env name and a flag, named by one convention, all distinct), values come
// with the precedence defaults < file < env < flags, every bad input is
// INVALID_CONFIG naming the key (unknown keys, ill-typed or out-of-range
// values, inconsistent combinations), the result is deep-frozen, and the
// README's table is the one the code generates.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isFjordError, parsePeers, readConfigFile } from '@fjord/protocol';
import {
  COORDINATOR_CONFIG,
  COORDINATOR_CONFIG_KEYS,
  cliOptions,
  configTableMarkdown,
  loadConfig,
  type ConfigSources,
} from '../src/config.js';

const required = { id: 1, peers: '1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003', dataDir: '/tmp/fjord-1' };

function invalidConfig(sources: ConfigSources): string {
  try {
    loadConfig(sources);
  } catch (e) {
    expect(isFjordError(e, 'INVALID_CONFIG'), String(e)).toBe(true);
    return (e as Error).message;
  }
  throw new Error(`expected INVALID_CONFIG for ${JSON.stringify(sources)}`);
}

describe('config table', () => {
  it('gives every key a doc, an env name and a flag, by convention and distinct', () => {
    const envs = new Set<string>();
    const flags = new Set<string>();
    for (const key of COORDINATOR_CONFIG_KEYS) {
      const def = COORDINATOR_CONFIG[key];
      expect(def.doc.length, key).toBeGreaterThan(10);
      const snake = key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();
      const kebab = key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
      expect(def.env).toBe(`FJORD_COORDINATOR_${snake}`);
      expect(def.flag).toBe(`--${kebab}`);
      envs.add(def.env);
      flags.add(def.flag);
    }
    expect(envs.size).toBe(COORDINATOR_CONFIG_KEYS.length);
    expect(flags.size).toBe(COORDINATOR_CONFIG_KEYS.length);
    expect(Object.keys(cliOptions()).map((f) => `--${f}`).sort()).toEqual([...flags].sort());
  });

  it('keys with a time or size carry their unit in the name', () => {
    for (const key of COORDINATOR_CONFIG_KEYS) {
      if (/timeout|interval|tick$/i.test(key)) expect(key, key).toMatch(/Ms$|Ticks$/);
      if (/bytes/i.test(COORDINATOR_CONFIG[key].doc) && COORDINATOR_CONFIG[key].type === 'int') expect(key).toMatch(/Bytes$/);
    }
  });

  it('the README table is the generated one', () => {
    const readme = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8');
    const m = /<!-- config-table:start -->\n([\s\S]*?)\n<!-- config-table:end -->/.exec(readme);
    expect(m?.[1]).toBe(configTableMarkdown());
  });
});

describe('loadConfig', () => {
  it('fills defaults, resolves listen from peers, and freezes deeply', () => {
    const config = loadConfig({ flags: required });
    expect(config.tickMs).toBe(10);
    expect(config.preVote).toBe(true);
    expect(config.listen).toBe('127.0.0.1:7001');
    expect(config.peers).toEqual([
      { id: 1, host: '127.0.0.1', port: 7001 },
      { id: 2, host: '127.0.0.1', port: 7002 },
      { id: 3, host: '127.0.0.1', port: 7003 },
    ]);
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.peers)).toBe(true);
    expect(Object.isFrozen(config.peers[0])).toBe(true);
    expect(() => {
      (config as { tickMs: number }).tickMs = 5;
    }).toThrow(TypeError);
  });

  it('takes defaults < file < env < flags', () => {
    const file = { ...required, tickMs: 20, electionTicks: 30, logLevel: 'debug' };
    expect(loadConfig({ file }).tickMs).toBe(20);
    expect(loadConfig({ file, env: { FJORD_COORDINATOR_TICK_MS: '30' } }).tickMs).toBe(30);
    expect(loadConfig({ file, env: { FJORD_COORDINATOR_TICK_MS: '30' }, flags: { 'tick-ms': 40 } }).tickMs).toBe(40);
    expect(loadConfig({ file, env: { FJORD_COORDINATOR_TICK_MS: '30' }, flags: { tickMs: '50' } }).tickMs).toBe(50);
    const c = loadConfig({ file, env: { FJORD_COORDINATOR_PRE_VOTE: 'false' } });
    expect(c.preVote).toBe(false);
    expect(c.electionTicks).toBe(30);
    expect(c.logLevel).toBe('debug');
    // Unknown FJORD_* variables belong to someone else (the broker, test tools): ignored.
    expect(loadConfig({ file, env: { FJORD_SEGMENT_BYTES: 'x', FJORD_SIM_SEED: '1' } }).tickMs).toBe(20);
  });

  it('rejects unknown keys in the file and the flags', () => {
    expect(invalidConfig({ file: { ...required, tickMS: 5 } })).toMatch(/unknown key "tickMS"/);
    expect(invalidConfig({ flags: { ...required, 'no-such-flag': 1 } })).toMatch(/unknown flag "--no-such-flag"/);
  });

  it('requires id, peers and dataDir', () => {
    expect(invalidConfig({ flags: { peers: required.peers, dataDir: 'd' } })).toMatch(/id is required/);
    expect(invalidConfig({ flags: { id: 1, dataDir: 'd' } })).toMatch(/peers is required/);
    expect(invalidConfig({ flags: { id: 1, peers: required.peers } })).toMatch(/dataDir is required/);
  });

  it('rejects ill-typed and out-of-range values, naming the key and the source', () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ tickMs: 'fast' }, /tickMs="fast" \(from --tick-ms\): expected an integer/],
      [{ tickMs: 0 }, /tickMs=0.*\[1, 1000\]/],
      [{ tickMs: 1.5 }, /tickMs/],
      [{ preVote: 'maybe' }, /preVote/],
      [{ logLevel: 'loud' }, /logLevel/],
      [{ dataDir: '' }, /dataDir/],
      [{ dataDir: 7 }, /dataDir/],
      [{ listen: 'nohost' }, /listen/],
      [{ listen: '127.0.0.1:70000' }, /listen/],
      [{ peers: '1=127.0.0.1:7001,1=127.0.0.1:7002' }, /peers/],
      [{ peers: 'garbage' }, /peers/],
      [{ peers: '0=127.0.0.1:7001' }, /peers/],
      [{ maxRequestBytes: 65_536 }, /maxRequestBytes/],
    ];
    for (const [flags, message] of bad) expect(invalidConfig({ flags: { ...required, ...flags } })).toMatch(message);
    expect(invalidConfig({ file: required, env: { FJORD_COORDINATOR_ELECTION_TICKS: '-1' } })).toMatch(/from env FJORD_COORDINATOR_ELECTION_TICKS/);
  });

  it('rejects inconsistent combinations', () => {
    expect(invalidConfig({ flags: { ...required, heartbeatTicks: 20, electionTicks: 20 } })).toMatch(/heartbeatTicks/);
    expect(invalidConfig({ flags: { ...required, id: 4 } })).toMatch(/id 4 is not in peers/);
    expect(invalidConfig({ flags: { ...required, peers: '1=h:1,2=h:1' } })).toMatch(/share an address/);
    expect(invalidConfig({ flags: { ...required, brokerHeartbeatIntervalMs: 9_000 } })).toMatch(/brokerHeartbeatIntervalMs/);
  });

  it('parses IPv6 peers', () => {
    expect(parsePeers('2=[::1]:7002, 1=[::1]:7001')).toEqual([
      { id: 1, host: '::1', port: 7001 },
      { id: 2, host: '::1', port: 7002 },
    ]);
    expect(loadConfig({ flags: { ...required, peers: '1=[::1]:7001' } }).listen).toBe('[::1]:7001');
  });
});

describe('readConfigFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fjord-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a JSON object, and turns every failure into INVALID_CONFIG', () => {
    const good = join(dir, 'good.json');
    writeFileSync(good, JSON.stringify({ ...required, tickMs: 25 }));
    expect(loadConfig({ file: readConfigFile(good) }).tickMs).toBe(25);
    const cases: [string, string | null][] = [['bad.json', '{"id": '], ['array.json', '[1]'], ['missing.json', null]];
    for (const [name, content] of cases) {
      const path = join(dir, name);
      if (content !== null) writeFileSync(path, content);
      let caught: unknown;
      try {
        readConfigFile(path);
      } catch (e) {
        caught = e;
      }
      expect(isFjordError(caught, 'INVALID_CONFIG'), name).toBe(true);
    }
  });
});
