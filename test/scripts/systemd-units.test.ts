// Goal: the systemd templates in deploy/systemd are units systemd accepts
// (`systemd-analyze verify` on an instance: no unknown key, executable found)
// and keep the promises deploy/README.md makes: config at
// /etc/fjord/<role>-%i.json, Restart=on-failure, LimitNOFILE, and a stop
// timeout above the broker's own shutdown bound (shutdownTimeoutMs, 25 s).
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { BROKER_CONFIG } from '@fjord/broker';
import { makeTempDir, type TempDir } from '@fjord/testkit';

const UNITS = fileURLToPath(new URL('../../deploy/systemd/', import.meta.url));
const HAS_SYSTEMD_ANALYZE = spawnSync('systemd-analyze', ['--version']).status === 0;

function directives(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (m !== null) out.set(m[1] as string, m[2] as string);
  }
  return out;
}

describe('deploy/systemd units', () => {
  let dir: TempDir | null = null;
  afterEach(() => {
    dir?.remove();
    dir = null;
  });

  it.each(['coordinator', 'broker'])('fjord-%s@.service: config path, restart, file limit, stop timeout', (role) => {
    const d = directives(readFileSync(join(UNITS, `fjord-${role}@.service`), 'utf8'));
    expect(d.get('ExecStart')).toMatch(new RegExp(`fjord\\.js ${role} --config /etc/fjord/${role}-%i\\.json$`));
    expect(d.get('Restart')).toBe('on-failure');
    expect(Number(d.get('LimitNOFILE'))).toBeGreaterThanOrEqual(65_536);
    const stopS = Number(d.get('TimeoutStopSec'));
    if (role === 'broker') expect(stopS * 1000).toBeGreaterThan(BROKER_CONFIG.shutdownTimeoutMs.default);
    expect(stopS).toBeGreaterThan(0);
  });

  it.skipIf(!HAS_SYSTEMD_ANALYZE)('systemd-analyze verify accepts both units (no warning)', () => {
    dir = makeTempDir('fjord-systemd-');
    for (const role of ['coordinator', 'broker']) {
      const unit = join(dir.path, `fjord-${role}@1.service`);
      copyFileSync(join(UNITS, `fjord-${role}@.service`), unit);
      // verify warns on stderr (unknown keys, missing executables) and may still exit 0: both must be clean.
      const r = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' });
      expect(`${r.stdout}${r.stderr}`).toBe('');
      expect(r.status).toBe(0);
    }
    expect(execFileSync('systemd-analyze', ['--version'], { encoding: 'utf8' })).toMatch(/systemd/);
  });
});
