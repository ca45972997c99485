/**
 * Every publishable package as users get it: the packed tarball passes publint and are-the-types-wrong, installs
 * with npm into a scratch project outside the workspace (only its declared dependencies, no workspace links), and
 * its README's first example runs there.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkPackage, createPackageFromTarballData } from '@arethetypeswrong/core';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import ts from 'typescript';
import { ROOT, firstTsExample, pack, publishablePackages, siftClosure } from './workspace.js';

const packages = publishablePackages();
const work = mkdtempSync(join(tmpdir(), 'sift-pack-'));
const tarballs = new Map<string, string>();

beforeAll(() => {
  const dest = join(work, 'tarballs');
  mkdirSync(dest);
  for (const p of packages) tarballs.set(p.name, pack(p, dest));
}, 300_000);

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

function tarball(name: string): string {
  const t = tarballs.get(name);
  if (t === undefined) throw new Error(`no tarball for ${name}`);
  return t;
}

/** A scratch npm project with `names` installed from their tarballs (Sift dependencies pinned to tarballs too). */
function scratchProject(label: string, names: string[]): string {
  const dir = join(work, label.replace(/[^a-z0-9-]/giu, '_'));
  mkdirSync(dir);
  const all = [...new Set(names.flatMap((n) => siftClosure(n, packages)))];
  const files = Object.fromEntries(all.map((n) => [n, `file:${tarball(n)}`]));
  const direct = Object.fromEntries(names.map((n) => [n, `file:${tarball(n)}`]));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module', dependencies: direct, overrides: files }, null, 2));
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts', '--loglevel=error'], { cwd: dir, stdio: 'pipe', timeout: 600_000 });
  return dir;
}

/** Type-only syntax removed, ESM kept (the example is plain TypeScript with top-level await). */
function toJs(source: string): string {
  return ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false } }).outputText;
}

const RUNNER = `import { initBackend } from '@sift/backend';
await initBackend({ prefer: ['wasm'], threads: 1 });
const m = await import('./example.mjs');
process.stdout.write('\\nSUMMARY ' + JSON.stringify(m.summary ?? null, (_k, v) => (typeof v === 'bigint' ? String(v) : v)) + '\\n');
`;

describe.each(packages.map((p) => [p.name, p] as const))('%s, packed', (_name, p) => {
  it('passes publint (no errors or warnings)', async () => {
    const bytes = readFileSync(tarball(p.name));
    const { messages, pkg } = await publint({ pkgDir: 'package', pack: { tarball: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) }, level: 'warning', strict: true });
    expect(messages.map((m) => `${m.type}: ${formatMessage(m, pkg) ?? m.code}`)).toEqual([]);
  });

  it('has types that resolve for ESM consumers (are-the-types-wrong: node16-esm and bundler)', async () => {
    const result = await checkPackage(createPackageFromTarballData(new Uint8Array(readFileSync(tarball(p.name)))));
    expect(result.types).not.toBe(false);
    if (result.types === false) return;
    // ESM-only packages: node10 and require() from CommonJS are out of scope (as attw's `--profile esm-only`).
    const problems = result.problems.filter((q) => !('resolutionKind' in q) || (q.resolutionKind !== 'node10' && q.resolutionKind !== 'node16-cjs'));
    expect(problems).toEqual([]);
  });

  it('installs alone from its tarball and runs its README example', () => {
    const example = firstTsExample(readFileSync(join(ROOT, p.dir, 'README.md'), 'utf8'));
    const names = p.name === '@sift/backend' ? [p.name] : [p.name, '@sift/backend'];
    const dir = scratchProject(p.name, names);
    if (p.bins.length > 0) {
      for (const bin of p.bins) {
        const help = execFileSync(join(dir, 'node_modules/.bin', bin), ['--help'], { cwd: dir, encoding: 'utf8' });
        expect(help).toMatch(/Usage/u);
      }
    }
    const code = example === undefined ? `import * as m from '${p.name}';\nexport const summary = Object.keys(m).length;\n` : toJs(example);
    writeFileSync(join(dir, 'example.mjs'), code);
    writeFileSync(join(dir, 'run.mjs'), RUNNER);
    const out = execFileSync(process.execPath, ['run.mjs'], { cwd: dir, encoding: 'utf8', timeout: 300_000 });
    const line = out.split('\n').find((l) => l.startsWith('SUMMARY '));
    expect(line).toBeDefined();
    if (example === undefined || example.includes('export const summary')) expect(line).not.toBe('SUMMARY null');
  });
});
