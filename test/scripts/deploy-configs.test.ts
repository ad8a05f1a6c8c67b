// Goal: every deploy/local JSON file is a valid `--config` file for its role:
// it goes through the real readers and loaders (readConfigFile, then
// loadConfig / loadBrokerConfig, which refuse unknown keys), and the files
// agree with each other (one peers list, distinct fixed ports, data under the
// start directory). A file with a key the loader does not know must fail here.
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { loadBrokerConfig } from '@fjord/broker';
import { loadConfig } from '@fjord/coordinator';
import { FjordError, readConfigFile } from '@fjord/protocol';
import { makeTempDir, type TempDir } from '@fjord/testkit';

const LOCAL = fileURLToPath(new URL('../../deploy/local/', import.meta.url));

function load(path: string): { role: 'coordinator' | 'broker'; id: number; listen: string; peers: string; dataDir: string } {
  const file = readConfigFile(path);
  if (/\/coordinator-\d+\.json$/.test(path)) {
    const c = loadConfig({ file, env: {} });
    return { role: 'coordinator', id: c.id, listen: c.listen, peers: c.peers.map((p) => `${p.id}=${p.host}:${p.port}`).join(','), dataDir: c.dataDir };
  }
  if (/\/broker-\d+\.json$/.test(path)) {
    const b = loadBrokerConfig({ file, env: {} });
    return { role: 'broker', id: b.id, listen: b.listen, peers: b.coordinators, dataDir: b.dataDir };
  }
  throw new Error(`${path}: not a coordinator-N.json or broker-N.json`);
}

describe('deploy/local configs', () => {
  let dir: TempDir | null = null;
  afterEach(() => {
    dir?.remove();
    dir = null;
  });

  it('load through the real config loaders and describe one 3+3 cluster', () => {
    const files = readdirSync(LOCAL).filter((f) => f.endsWith('.json')).sort();
    expect(files).toEqual(['broker-1.json', 'broker-2.json', 'broker-3.json', 'coordinator-1.json', 'coordinator-2.json', 'coordinator-3.json']);
    const nodes = files.map((f) => ({ f, ...load(join(LOCAL, f)) }));
    for (const n of nodes) {
      expect(n.f).toBe(`${n.role}-${n.id}.json`);
      expect(n.dataDir).toBe(`data/${n.role}-${n.id}`); // relative: under the directory the cluster starts in
    }
    const peers = new Set(nodes.map((n) => n.peers));
    expect([...peers]).toEqual(['1=127.0.0.1:9191,2=127.0.0.1:9192,3=127.0.0.1:9193']);
    expect(nodes.map((n) => n.listen).sort()).toEqual(['127.0.0.1:9092', '127.0.0.1:9093', '127.0.0.1:9094', '127.0.0.1:9191', '127.0.0.1:9192', '127.0.0.1:9193']);
  });

  it('a file with an unknown key is refused by the same path (INVALID_CONFIG)', () => {
    dir = makeTempDir('fjord-deploy-');
    for (const f of ['broker-1.json', 'coordinator-1.json']) {
      const path = join(dir.path, f);
      writeFileSync(path, JSON.stringify({ ...readConfigFile(join(LOCAL, f)), listenn: '127.0.0.1:1' }));
      let err: unknown = null;
      try {
        load(path);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(FjordError);
      expect((err as FjordError).code).toBe('INVALID_CONFIG');
      expect((err as FjordError).message).toMatch(/unknown key "listenn"/);
    }
  });
});
