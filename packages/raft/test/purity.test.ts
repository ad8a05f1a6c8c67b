// Goal: keep the core pure (STYLE.md B, H.1). No clock, timer, randomness,
// file system, logger library or console may appear in src/core/ or the
// RawNode, and nothing under src/ may print; the repo-wide tidy test checks the
// same rule, this one fails closer to the cause.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(import.meta.dirname, '..', 'src');
const FORBIDDEN_IN_CORE = [/\bDate\.now\b/, /\bnew Date\b/, /\bsetTimeout\b/, /\bsetInterval\b/, /\bsetImmediate\b/, /\bperformance\.now\b/, /\bMath\.random\b/, /node:fs/, /\bpino\b/, /\bprocess\./, /\bhrtime\b/];

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? files(join(dir, d.name)) : d.name.endsWith('.ts') ? [join(dir, d.name)] : []));
}

function code(path: string): string {
  // Ignore comments: they may name what the code must not do.
  return readFileSync(path, 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/\/\/.*$/gm, '');
}

describe('purity', () => {
  it('src/core and raw-node.ts use no clock, timer, randomness or I/O', () => {
    const core = [...files(join(SRC, 'core')), join(SRC, 'raw-node.ts'), join(SRC, 'memory-log.ts'), join(SRC, 'types.ts')];
    expect(core.length).toBeGreaterThan(8);
    const hits: string[] = [];
    for (const f of core) for (const re of FORBIDDEN_IN_CORE) if (re.test(code(f))) hits.push(`${f}: ${re}`);
    expect(hits).toEqual([]);
  });

  it('nothing under src/ prints, and the simulator takes no wall-clock time or global randomness', () => {
    const hits: string[] = [];
    for (const f of files(SRC)) {
      const c = code(f);
      if (/\bconsole\./.test(c)) hits.push(`${f}: console`);
      if (/\bMath\.random\b|\bDate\.now\b|\bperformance\.now\b/.test(c)) hits.push(`${f}: nondeterminism`);
    }
    expect(hits).toEqual([]);
  });
});
