#!/usr/bin/env node
// `pnpm typecheck`: builds every package with project references (tsc -b, emitting dist/ that the CLI and
// benchmarks run), then checks the non-emitting configs: each package's bench/, the tools/ folder and apps/demo.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;
const tsc = join(root, 'node_modules/.bin/tsc');
const run = (args) => spawnSync(tsc, args, { cwd: root, stdio: 'inherit' }).status === 0;

let ok = run(['-b', 'tsconfig.json']);
const extra = [join(root, 'tools/tsconfig.json')];
// Apps bundled by Vite (apps/demo) have a non-emitting tsconfig that tsc -b does not build: check it here.
if (existsSync(join(root, 'apps/demo/tsconfig.json'))) extra.push(join(root, 'apps/demo/tsconfig.json'));
for (const group of ['packages', 'apps']) {
  if (!existsSync(join(root, group))) continue;
  for (const pkg of readdirSync(join(root, group))) {
    const cfg = join(root, group, pkg, 'bench/tsconfig.json');
    if (existsSync(cfg)) extra.push(cfg);
  }
}
for (const cfg of extra) ok = run(['-p', cfg]) && ok;
process.exit(ok ? 0 : 1);
