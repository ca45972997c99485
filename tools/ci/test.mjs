#!/usr/bin/env node
// The README's test command (`pnpm test`): typecheck (which also builds dist/ for the CLI), lint, then every vitest
// project. Ends with one line `tests: N passed, N failed`, counted from vitest's JSON report, and exits non-zero on
// any failure.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;
const bin = (name) => join(root, 'node_modules', '.bin', name);
const extra = process.argv.slice(2);

function step(label, cmd, args) {
  const t0 = Date.now();
  process.stdout.write(`\n== ${label}\n`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  process.stdout.write(`== ${label}: ${r.status === 0 ? 'ok' : `FAILED (exit ${r.status ?? r.signal})`} in ${secs}s\n`);
  return r.status === 0;
}

const failures = [];
if (!step('typecheck + build', process.execPath, [join(root, 'tools/ci/typecheck.mjs')])) failures.push('typecheck');
// Lint after the build: benchmarks and apps see other packages through their built .d.ts files.
if (!extra.includes('--no-lint') && !step('lint', bin('eslint'), ['.'])) failures.push('lint');
if (!extra.includes('--no-lint') && !step('knip (unused files, exports, dependencies)', bin('knip'), ['--no-progress'])) failures.push('knip');

const dir = mkdtempSync(join(tmpdir(), 'sift-vitest-'));
const report = join(dir, 'report.json');
step('vitest', bin('vitest'), ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`,
  ...extra.filter((a) => a !== '--no-lint')]);

let passed = 0, failed = 0, skipped = 0;
if (existsSync(report)) {
  const json = JSON.parse(readFileSync(report, 'utf8'));
  passed = json.numPassedTests;
  failed = json.numFailedTests;
  skipped = json.numPendingTests + json.numTodoTests;
  // A file that fails to load has no tests in the counts: count it as a failure.
  const brokenFiles = json.testResults.filter((f) => f.status === 'failed' && f.assertionResults.length === 0);
  if (brokenFiles.length > 0) {
    for (const f of brokenFiles) process.stdout.write(`test file failed to load: ${f.name}\n${f.message}\n`);
    failed += brokenFiles.length;
  }
  const skippedTests = json.testResults.flatMap((f) => f.assertionResults
    .filter((a) => a.status === 'skipped' || a.status === 'pending')
    .map((a) => `  ${f.name.replace(root, '')} > ${a.fullName}`));
  if (skippedTests.length > 0) {
    process.stdout.write(`\nskipped (each prints its reason above as "[skip reason] ..."):\n${skippedTests.join('\n')}\n`);
  }
} else {
  failures.push('vitest (no report written)');
}
rmSync(dir, { recursive: true, force: true });
if (failed > 0) failures.push('vitest');

if (failures.length > 0) process.stdout.write(`\nfailed steps: ${failures.join(', ')}\n`);
process.stdout.write(`tests: ${passed} passed, ${failed} failed${skipped > 0 ? ` (${skipped} skipped)` : ''}\n`);
process.exit(failures.length > 0 ? 1 : 0);
