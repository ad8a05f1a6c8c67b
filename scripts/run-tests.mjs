#!/usr/bin/env node
// The whole test gate, as CI runs it: build, type-check tests, lint, then every
// vitest test. It always ends with one line "N passed, N failed" (CI counts that
// line, not vitest's summary). A failing gate (build, types, lint) counts as one
// failed test, so a red build can never print "0 failed".
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);
const extraArgs = process.argv.slice(2);

function run(label, cmd, args) {
  process.stdout.write(`\n== ${label}: ${[cmd, ...args].join(' ')}\n`);
  const started = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  const ms = Number((process.hrtime.bigint() - started) / 1_000_000n);
  process.stdout.write(`== ${label}: ${r.status === 0 ? 'ok' : 'FAILED'} in ${ms} ms\n`);
  return r.status === 0;
}

let gateFailures = 0;
if (!run('build', bin('tsc'), ['-b'])) gateFailures++;
if (!run('typecheck tests', bin('tsc'), ['-p', 'tsconfig.check.json'])) gateFailures++;
if (!run('lint', bin('eslint'), ['--max-warnings', '0', '--no-error-on-unmatched-pattern', 'packages', 'test', 'scripts'])) gateFailures++;

const resultsFile = join(root, '.vitest-results.json');
rmSync(resultsFile, { force: true });
const vitestOk = run('vitest', bin('vitest'), [
  'run',
  '--reporter=default',
  '--reporter=json',
  `--outputFile.json=${resultsFile}`,
  ...extraArgs,
]);

let passed = 0;
let failed = 0;
try {
  const results = JSON.parse(readFileSync(resultsFile, 'utf8'));
  passed = results.numPassedTests;
  failed = results.numFailedTests;
  // A test file that fails to load has no failed tests but is a failure.
  for (const file of results.testResults ?? []) {
    if (file.status === 'failed' && (file.assertionResults ?? []).length === 0) failed++;
  }
} catch (err) {
  process.stdout.write(`could not read vitest results: ${err}\n`);
  failed++;
}
if (!vitestOk && failed === 0) failed++;
failed += gateFailures;
process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
process.exit(failed === 0 ? 0 : 1);
