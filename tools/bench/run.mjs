#!/usr/bin/env node
// `pnpm bench`: builds, runs every packages/*/bench/*.bench.ts and apps/*/bench/*.bench.ts in its own process, and
// prints one table: Sift's figure, the reference measured in the same run, and the ratio (>1 means Sift is better).
// Usage: pnpm bench [filter] [--write]   (only files whose path contains `filter`; --write also records the table
// with the machine it ran on in BENCHMARKS.md)
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, relative } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;
const args = process.argv.slice(2);
const write = args.includes('--write');
const filter = args.find((a) => !a.startsWith('--')) ?? '';
const build = spawnSync(join(root, 'node_modules/.bin/tsc'), ['-b', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) process.exit(1);

// The same-run references need Debian's Python with torch, numpy (OpenBLAS) and scikit-learn (the GBDT row): install
// the missing ones with apt-get when this process may (root, or passwordless sudo), else say why and go on (those rows
// then read n/a with the reason).
ensurePythonReferences();

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
  // A row whose reference could not be measured (e.g. no PyTorch) carries NaN and the reason as its reference.
  const known = Number.isFinite(r.referenceValue);
  return [r.name, `${fmt(r.value)} ${r.unit}`, r.reference, known ? `${fmt(r.referenceValue)} ${r.unit}` : 'n/a', known ? `${ratio.toFixed(2)}x` : 'n/a'];
});
const header = ['benchmark', 'sift', 'reference', 'reference value', 'ratio (>1: sift better)'];
const widths = header.map((h, i) => Math.max(h.length, ...table.map((t) => t[i].length)));
const print = (cells) => process.stdout.write(`${cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()}\n`);
print(header);
print(widths.map((w) => '-'.repeat(w)));
for (const t of table) print(t);
if (write) {
  const python = spawnSync('/usr/bin/python3', ['-c', 'import torch, numpy; print(torch.__version__, numpy.__version__)'], { encoding: 'utf8' });
  const cpuModel = cpus()[0]?.model ?? 'unknown CPU';
  const machine = [
    `- date: ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    `- CPU: ${cpuModel}, ${cpus().length} logical cores; memory ${(totalmem() / 2 ** 30).toFixed(0)} GiB`,
    `- Node ${process.version}; tfjs ${JSON.parse(readFileSync(join(root, 'node_modules/.pnpm/node_modules/@tensorflow/tfjs-core/package.json'), 'utf8')).version}`,
    `- references: ${python.status === 0 ? `PyTorch ${python.stdout.trim().split(' ')[0]}, numpy ${python.stdout.trim().split(' ')[1]} (Debian, OpenBLAS)` : 'PyTorch/numpy not installed'}`,
    filter === '' ? '- all benchmark files' : `- only files matching "${filter}"`,
  ];
  const md = [
    '# Benchmarks', '',
    'Written by `pnpm bench --write`. Each row puts Sift\'s figure beside a reference measured in the same run on the same',
    'machine (these machines are noisy: compare ratios, not absolute figures across runs). Ratio > 1: Sift is better.', '',
    '## Machine', '', ...machine, '',
    '## Results', '',
    `| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`,
    ...table.map((t) => `| ${t.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`),
    ...(failed > 0 ? ['', `${failed} benchmark file(s) failed in this run.`] : []), '',
  ].join('\n');
  const out = join(root, 'BENCHMARKS.md');
  writeFileSync(`${out}.tmp`, md);
  renameSync(`${out}.tmp`, out);
  process.stdout.write(`\nwrote ${relative(process.cwd(), out) || 'BENCHMARKS.md'}\n`);
}
if (failed > 0) {
  process.stdout.write(`\n${failed} benchmark file(s) failed\n`);
  process.exit(1);
}

function ensurePythonReferences() {
  const python = '/usr/bin/python3';
  const wanted = [['torch', 'python3-torch'], ['numpy', 'python3-numpy'], ['sklearn', 'python3-sklearn']];
  const has = (mod) => spawnSync(python, ['-c', `import ${mod}`], { stdio: 'ignore' }).status === 0;
  const missing = wanted.filter(([mod]) => !has(mod));
  if (missing.length === 0) return;
  const pkgs = [...missing.map(([, pkg]) => pkg), 'libopenblas0-pthread'];
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const cmd = asRoot ? ['apt-get'] : ['sudo', '-n', 'apt-get'];
  process.stderr.write(`bench: ${python} lacks ${missing.map(([mod]) => mod).join(', ')}; installing ${pkgs.join(' ')} with apt-get ...\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const update = spawnSync(cmd[0], [...cmd.slice(1), 'update', '-qq'], { stdio: 'inherit', env });
  const install = update.status === 0
    ? spawnSync(cmd[0], [...cmd.slice(1), 'install', '-y', '-qq', '--no-install-recommends', ...pkgs], { stdio: 'inherit', env })
    : update;
  const still = wanted.filter(([mod]) => !has(mod)).map(([mod]) => mod);
  if (still.length === 0) return;
  process.stderr.write(`bench: cannot install the Python references (${cmd.join(' ')} install ${pkgs.join(' ')} ` +
    `${install.error === undefined ? `exited ${String(install.status)}` : `failed: ${install.error.message}`}); ` +
    `rows that need ${still.join(', ')} report n/a and the reason\n`);
}
