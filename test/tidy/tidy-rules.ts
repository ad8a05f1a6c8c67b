/**
 * The repository's structural rules, checked by test/tidy.test.ts (after
 * fastify's doc test and TigerBeetle's tidy.zig): the package DAG of DESIGN.md,
 * no deep imports, no console.log in library code, and no clocks, timers or
 * randomness inside the pure cores. `checkTree` reads a tree and returns the
 * violations, so the same rules run against the real tree and a planted fixture.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

/** Which @fjord packages each package may import (DESIGN.md "Dependencies point one way"). */
export const ALLOWED_DEPS: Readonly<Record<string, readonly string[]>> = {
  protocol: [],
  storage: ['protocol'],
  raft: ['protocol'],
  coordinator: ['protocol', 'raft'],
  broker: ['protocol', 'storage'],
  client: ['protocol'],
  testkit: ['protocol', 'client'],
  cli: ['protocol', 'storage', 'raft', 'coordinator', 'broker', 'client'],
};

/** Dev-only packages that any package's tests (never its src/) may import, declared as devDependencies. */
export const TEST_ONLY_PACKAGES: readonly string[] = ['testkit'];

/** Subpath exports that exist on purpose (anything else after the package name is a deep import). */
export const ALLOWED_SUBPATHS: readonly string[] = ['@fjord/raft/sim'];

/** Folders holding pure decision logic: no clocks, timers, randomness or I/O (STYLE.md B, C, G). */
export const PURE_DIRS: readonly string[] = [
  'packages/raft/src/core',
  'packages/broker/src/replication',
  'packages/broker/src/group',
  'packages/coordinator/src/controller',
];

const IMPURE_PATTERNS: readonly { pattern: RegExp; what: string }[] = [
  { pattern: /\bDate\.now\s*\(/, what: 'Date.now' },
  { pattern: /\bnew\s+Date\s*\(\s*\)/, what: 'new Date()' },
  { pattern: /\bperformance\.now\s*\(/, what: 'performance.now' },
  { pattern: /\bprocess\.hrtime\b/, what: 'process.hrtime' },
  { pattern: /\bMath\.random\s*\(/, what: 'Math.random' },
  { pattern: /\bsetTimeout\s*\(/, what: 'setTimeout' },
  { pattern: /\bsetInterval\s*\(/, what: 'setInterval' },
  { pattern: /\bsetImmediate\s*\(/, what: 'setImmediate' },
];

const IMPURE_MODULES = /^(node:)?(fs|fs\/promises|net|http|http2|dgram|child_process|timers|timers\/promises|worker_threads)$|^pino$|^level$|^@grpc\//;

export interface Violation {
  rule: 'dependency' | 'deep-import' | 'console' | 'impure' | 'exports' | 'cycle';
  file: string;
  message: string;
}

/** Removes comments so rules match code, not prose. Strings containing "//" after whitespace are rare here. */
export function stripComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, (m) => m.replace(/[^\n]/g, ' ')).replace(/(^|[\s;{}(),])\/\/.*$/gm, '$1');
}

const IMPORT_RE = /(?:^|[\s;])(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g;

export function importsOf(source: string): string[] {
  const specs: string[] = [];
  for (const m of stripComments(source).matchAll(IMPORT_RE)) {
    const spec = m[1] ?? m[2];
    if (spec !== undefined) specs.push(spec);
  }
  return specs;
}

function walk(dir: string, out: string[] = []): string[] {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (/\.(ts|mts|cts)$/.test(name) && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

interface PackageJson {
  name?: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  exports?: Record<string, unknown>;
}

function findCycle(graph: ReadonlyMap<string, readonly string[]>): string[] | null {
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): string[] | null => {
    if (state.get(node) === 'done') return null;
    if (state.get(node) === 'visiting') return [...stack.slice(stack.indexOf(node)), node];
    state.set(node, 'visiting');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(node, 'done');
    return null;
  };
  for (const node of graph.keys()) {
    const cycle = visit(node);
    if (cycle) return cycle;
  }
  return null;
}

export function checkTree(root: string): Violation[] {
  const violations: Violation[] = [];
  const packagesDir = join(root, 'packages');
  const packages = existsSync(packagesDir) ? readdirSync(packagesDir).filter((n) => existsSync(join(packagesDir, n, 'package.json'))) : [];
  const rel = (p: string): string => relative(root, p).split(sep).join('/');
  const graph = new Map<string, string[]>();

  for (const pkg of packages) {
    const pkgDir = join(packagesDir, pkg);
    const manifest = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as PackageJson;
    const allowed = ALLOWED_DEPS[pkg];
    if (allowed === undefined) {
      violations.push({ rule: 'dependency', file: rel(join(pkgDir, 'package.json')), message: `package "${pkg}" is not in DESIGN.md's table` });
      continue;
    }
    if (manifest.name !== `@fjord/${pkg}`) {
      violations.push({ rule: 'exports', file: rel(join(pkgDir, 'package.json')), message: `name must be @fjord/${pkg}` });
    }
    const dot = manifest.exports?.['.'] as Record<string, unknown> | undefined;
    if (dot?.['source'] !== './src/index.ts') {
      violations.push({ rule: 'exports', file: rel(join(pkgDir, 'package.json')), message: 'exports["."] must expose ./src/index.ts under the "source" condition' });
    }
    const fjordDeps = (deps: Record<string, string> | undefined): string[] =>
      Object.keys(deps ?? {})
        .filter((d) => d.startsWith('@fjord/'))
        .map((d) => d.slice('@fjord/'.length));
    const runtimeDeps = fjordDeps(manifest.dependencies);
    const devDeps = fjordDeps(manifest.devDependencies);
    const declared = [...runtimeDeps, ...devDeps];
    graph.set(pkg, declared);
    for (const dep of runtimeDeps) {
      if (!allowed.includes(dep)) {
        violations.push({ rule: 'dependency', file: rel(join(pkgDir, 'package.json')), message: `@fjord/${pkg} may not depend on @fjord/${dep}` });
      }
    }
    for (const dep of devDeps) {
      if (!allowed.includes(dep) && !TEST_ONLY_PACKAGES.includes(dep)) {
        violations.push({ rule: 'dependency', file: rel(join(pkgDir, 'package.json')), message: `@fjord/${pkg} may not depend on @fjord/${dep}` });
      }
    }

    for (const file of walk(pkgDir)) {
      const source = readFileSync(file, 'utf8');
      const code = stripComments(source);
      const inSrc = rel(file).startsWith(`packages/${pkg}/src/`);
      for (const spec of importsOf(source)) {
        if (spec.startsWith('@fjord/')) {
          const [, name = '', ...rest] = spec.split('/');
          if (rest.length > 0 && !ALLOWED_SUBPATHS.includes(spec)) {
            violations.push({ rule: 'deep-import', file: rel(file), message: `deep import "${spec}": import from "@fjord/${name}" only` });
          }
          const testOnlyOk = !inSrc && TEST_ONLY_PACKAGES.includes(name);
          if (name !== pkg && !allowed.includes(name) && !testOnlyOk) {
            violations.push({ rule: 'dependency', file: rel(file), message: `@fjord/${pkg} may not import @fjord/${name}` });
          } else if (name !== pkg && !declared.includes(name)) {
            violations.push({ rule: 'dependency', file: rel(file), message: `imports @fjord/${name} without declaring it in package.json` });
          }
        } else if (spec.startsWith('.')) {
          const target = resolve(dirname(file), spec);
          if (!target.startsWith(pkgDir + sep)) {
            violations.push({ rule: 'deep-import', file: rel(file), message: `relative import "${spec}" leaves the package` });
          }
        }
      }
      if (inSrc && /\bconsole\.(log|info|debug|warn|error|trace)\s*\(/.test(code)) {
        violations.push({ rule: 'console', file: rel(file), message: 'console.* in library code: use the injected pino logger' });
      }
      const pureDir = PURE_DIRS.find((d) => rel(file).startsWith(d + '/'));
      if (pureDir !== undefined) {
        for (const { pattern, what } of IMPURE_PATTERNS) {
          if (pattern.test(code)) violations.push({ rule: 'impure', file: rel(file), message: `${what} in a pure core (${pureDir}): take time/randomness as input` });
        }
        for (const spec of importsOf(source)) {
          if (IMPURE_MODULES.test(spec)) violations.push({ rule: 'impure', file: rel(file), message: `imports "${spec}" in a pure core (${pureDir})` });
        }
      }
    }
  }

  const cycle = findCycle(graph);
  if (cycle) violations.push({ rule: 'cycle', file: 'packages', message: `dependency cycle: ${cycle.join(' -> ')}` });
  return violations;
}
