#!/usr/bin/env node
// `pnpm bench`: builds, runs every packages/*/bench/*.bench.ts and apps/*/bench/*.bench.ts in its own process, and
// prints one table: Sift's figure, the reference measured in the same run, and the ratio (>1 means Sift is better).
// Usage: pnpm bench [filter]   (only files whose path contains `filter`)
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;
const filter = process.argv[2] ?? '';
const build = spawnSync(join(root, 'node_modules/.bin/tsc'), ['-b', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) process.exit(1);

const files = [];
for (const group of ['packages', 'apps']) {
  if (!existsSync(join(root, group))) continue;
  for (const pkg of readdirSync(join(root, group))) {
    const dir = join(root, group, pkg, 'bench');
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir)) if (f.endsWith('.bench.ts')) files.push(join(dir, f));
  }
}
const selected = files.filter((f) => relative(root, f).includes(filter));
const rows = [];
let failed = 0;
for (const file of selected) {
  const rel = relative(root, file);
  process.stderr.write(`bench: ${rel} ...\n`);
  const r = spawnSync(join(root, 'node_modules/.bin/tsx'), [join(root, 'tools/bench/run-one.ts'), file],
    { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20 });
  const line = (r.stdout ?? '').split('\n').find((l) => l.startsWith('BENCH_ROWS '));
  if (r.status !== 0 || line === undefined) {
    failed++;
    process.stderr.write(`bench: ${rel} FAILED (exit ${r.status})\n${r.stdout ?? ''}\n`);
    continue;
  }
  for (const row of JSON.parse(line.slice('BENCH_ROWS '.length))) rows.push({ file: rel, ...row });
}

const fmt = (v) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(3));
const table = rows.map((r) => {
  const ratio = r.higherIsBetter ? r.value / r.referenceValue : r.referenceValue / r.value;
  return [r.name, `${fmt(r.value)} ${r.unit}`, r.reference, `${fmt(r.referenceValue)} ${r.unit}`, `${ratio.toFixed(2)}x`];
});
const header = ['benchmark', 'sift', 'reference', 'reference value', 'ratio (>1: sift better)'];
const widths = header.map((h, i) => Math.max(h.length, ...table.map((t) => t[i].length)));
const print = (cells) => process.stdout.write(`${cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()}\n`);
print(header);
print(widths.map((w) => '-'.repeat(w)));
for (const t of table) print(t);
if (failed > 0) {
  process.stdout.write(`\n${failed} benchmark file(s) failed\n`);
  process.exit(1);
}
