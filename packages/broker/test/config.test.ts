// Goal: the broker's config table is complete and consistent (doc, FJORD_BROKER_*
// env name, --flag for every key), values follow defaults < file < env < flags,
// and bad input is INVALID_CONFIG naming the key; the result is frozen.
import { describe, expect, it } from 'vitest';
import { configTableProblems, isFjordError } from '@fjord/protocol';
import { BROKER_CONFIG, brokerCliOptions, brokerConfigTableMarkdown, coordinatorPeers, loadBrokerConfig } from '../src/index.js';

const required = { id: 1, dataDir: '/tmp/fjord-b1' };

function invalidKey(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(isFjordError(e, 'INVALID_CONFIG'), String(e)).toBe(true);
    return String((e as { details: { key?: unknown } }).details.key);
  }
  throw new Error('expected INVALID_CONFIG');
}

describe('broker config', () => {
  it('has no table problems, and names follow FJORD_BROKER_* / --kebab-case', () => {
    expect(configTableProblems(BROKER_CONFIG)).toEqual([]);
    for (const [key, def] of Object.entries(BROKER_CONFIG)) {
      const snake = key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();
      const kebab = key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
      expect(def.env).toBe(`FJORD_BROKER_${snake}`);
      expect(def.flag).toBe(`--${kebab}`);
      if (/timeout|interval|WaitMax|MaxWait|lagTime/.test(key)) expect(key).toMatch(/Ms$/);
    }
    expect(Object.keys(brokerCliOptions()).length).toBe(Object.keys(BROKER_CONFIG).length);
    expect(brokerConfigTableMarkdown()).toContain('`FJORD_BROKER_REPLICA_LAG_TIME_MAX_MS`');
  });

  it('applies defaults < file < env < flags and freezes the result', () => {
    const c = loadBrokerConfig({
      file: { ...required, replicaLagTimeMaxMs: 2_000, fetchMaxWaitMs: 100 },
      env: { FJORD_BROKER_REPLICA_LAG_TIME_MAX_MS: '3000', FJORD_BROKER_MAX_WAITING_PRODUCES: '10' },
      flags: { 'max-waiting-produces': 20 },
    });
    expect(c.replicaLagTimeMaxMs).toBe(3_000);
    expect(c.fetchMaxWaitMs).toBe(100);
    expect(c.maxWaitingProduces).toBe(20);
    expect(c.retentionCheckIntervalMs).toBe(BROKER_CONFIG.retentionCheckIntervalMs.default);
    expect(Object.isFrozen(c)).toBe(true);
    expect(coordinatorPeers(c)).toEqual([]);
    const withPeers = loadBrokerConfig({ flags: { ...required, coordinators: '1=127.0.0.1:7001,2=127.0.0.1:7002' } });
    expect(coordinatorPeers(withPeers).map((p) => p.port)).toEqual([7001, 7002]);
  });

  it('refuses unknown keys, bad values and inconsistent combinations with INVALID_CONFIG', () => {
    expect(invalidKey(() => loadBrokerConfig({ file: { ...required, nope: 1 } }))).toBe('nope');
    expect(invalidKey(() => loadBrokerConfig({ flags: { dataDir: '/x' } }))).toBe('id');
    expect(invalidKey(() => loadBrokerConfig({ flags: { ...required, replicaLagTimeMaxMs: 1 } }))).toBe('replicaLagTimeMaxMs');
    expect(invalidKey(() => loadBrokerConfig({ flags: { ...required, listen: 'nohost' } }))).toBe('listen');
    expect(invalidKey(() => loadBrokerConfig({ flags: { ...required, heartbeatIntervalMs: 10_000, sessionTimeoutMs: 5_000 } }))).toBe('heartbeatIntervalMs');
    expect(invalidKey(() => loadBrokerConfig({ flags: { ...required, coordinators: 'x' } }))).toBe('coordinators');
  });
});

describe('broker README', () => {
  it('holds the config table the code generates', async () => {
    const { readFileSync } = await import('node:fs');
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const m = /<!-- broker-config:begin -->\n([\s\S]*?)\n<!-- broker-config:end -->/.exec(readme);
    expect(m?.[1]).toBe(brokerConfigTableMarkdown());
  });
});
