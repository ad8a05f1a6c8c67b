// Goal: the repository keeps the shape DESIGN.md draws. The real tree has no
// violation, and a planted fixture shows that every rule can fail.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkTree, importsOf, stripComments } from './tidy/tidy-rules.js';

const repoRoot = join(import.meta.dirname, '..');
const badTree = join(import.meta.dirname, 'fixtures', 'tidy-bad');

describe('tidy', () => {
  it('the repository tree has no violations', () => {
    expect(checkTree(repoRoot)).toEqual([]);
  });

  it('finds every planted violation in the fixture tree', () => {
    const found = checkTree(badTree).map((v) => `${v.rule} ${v.file}: ${v.message}`);
    const expectMatch = (re: RegExp): void => {
      expect(found.some((f) => re.test(f)), `expected a violation matching ${re}\nfound:\n${found.join('\n')}`).toBe(true);
    };
    expectMatch(/^dependency packages\/storage\/package\.json: @fjord\/storage may not depend on @fjord\/raft/);
    expectMatch(/^dependency packages\/storage\/src\/uses-raft\.ts: @fjord\/storage may not import @fjord\/raft/);
    expectMatch(/^dependency packages\/protocol\/src\/index\.ts: @fjord\/protocol may not import @fjord\/storage/);
    expectMatch(/^cycle packages: dependency cycle: /);
    expectMatch(/^deep-import packages\/storage\/src\/deep\.ts: deep import "@fjord\/protocol\/src\/errors\.js"/);
    expectMatch(/^deep-import packages\/storage\/src\/deep\.ts: relative import "\.\.\/\.\.\/protocol\/src\/errors\.js" leaves the package/);
    expectMatch(/^console packages\/storage\/src\/noisy\.ts/);
    expectMatch(/^impure packages\/raft\/src\/core\/clock\.ts: Date\.now/);
    expectMatch(/^impure packages\/raft\/src\/core\/clock\.ts: Math\.random/);
    expectMatch(/^impure packages\/raft\/src\/core\/clock\.ts: setTimeout/);
    expectMatch(/^impure packages\/raft\/src\/core\/clock\.ts: performance\.now/);
    expectMatch(/^impure packages\/raft\/src\/core\/clock\.ts: imports "node:fs"/);
    expectMatch(/^exports packages\/raft\/package\.json/);
    expectMatch(/^dependency packages\/storage\/src\/uses-testkit\.ts: @fjord\/storage may not import @fjord\/testkit/);
    expect(found.some((f) => f.includes('storage/test/uses-testkit.ts'))).toBe(false);
    // What is only mentioned in a comment is not a violation.
    expect(found.some((f) => f.includes('commented.ts'))).toBe(false);
  });

  it('reads imports and strips comments', () => {
    expect(importsOf(`import { a } from './a.js';\nimport type { B } from "@fjord/protocol";\nexport * from './c.js';\nconst d = await import('./d.js');`)).toEqual([
      './a.js',
      '@fjord/protocol',
      './c.js',
      './d.js',
    ]);
    expect(stripComments('x(); // Date.now()\n/* Math.random() */ y();')).not.toMatch(/Date\.now|Math\.random/);
  });
});
