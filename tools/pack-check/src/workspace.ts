import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const ROOT: string = fileURLToPath(new URL('../../..', import.meta.url));

/** A package that users install from the registry. */
export interface PublishablePackage {
  /** Folder relative to the root, e.g. `packages/lm`. */
  dir: string;
  name: string;
  version: string;
  /** Sift packages it depends on (`workspace:` dependencies), direct only. */
  siftDeps: string[];
  /** Its `bin` entries, if any. */
  bins: string[];
}

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  dependencies?: Record<string, string>;
  bin?: string | Record<string, string>;
}

/** Every non-private package under `packages/` and `apps/`, sorted by folder. */
export function publishablePackages(): PublishablePackage[] {
  const out: PublishablePackage[] = [];
  for (const group of ['packages', 'apps']) {
    const base = join(ROOT, group);
    if (!existsSync(base)) continue;
    for (const d of readdirSync(base).sort()) {
      const file = join(base, d, 'package.json');
      if (!existsSync(file)) continue;
      const m = JSON.parse(readFileSync(file, 'utf8')) as Manifest;
      if (m.private === true) continue;
      const deps = m.dependencies ?? {};
      out.push({
        dir: `${group}/${d}`,
        name: m.name,
        version: m.version,
        siftDeps: Object.keys(deps).filter((k) => deps[k].startsWith('workspace:')),
        bins: typeof m.bin === 'string' ? [m.name.split('/').pop() ?? m.name] : Object.keys(m.bin ?? {}),
      });
    }
  }
  return out;
}

/** `name` and every Sift package it needs, transitively (the order of discovery, `name` first). */
export function siftClosure(name: string, all: readonly PublishablePackage[]): string[] {
  const byName = new Map(all.map((p) => [p.name, p]));
  const seen: string[] = [];
  const visit = (n: string): void => {
    if (seen.includes(n)) return;
    const p = byName.get(n);
    if (p === undefined) throw new Error(`${n} is a workspace dependency but not a publishable package (private?)`);
    seen.push(n);
    for (const d of p.siftDeps) visit(d);
  };
  visit(name);
  return seen;
}

/**
 * Packs a package with `pnpm pack` (which rewrites `workspace:` ranges to real versions, as publishing does) into
 * `dest` and returns the tarball's path.
 */
export function pack(p: PublishablePackage, dest: string): string {
  const out = execFileSync('pnpm', ['pack', '--pack-destination', dest], { cwd: join(ROOT, p.dir), encoding: 'utf8' });
  const tgz = out.trim().split('\n').map((l) => l.trim()).reverse().find((l) => l.endsWith('.tgz'));
  if (tgz === undefined) throw new Error(`pnpm pack in ${p.dir} printed no .tgz path:\n${out}`);
  return tgz.startsWith('/') ? tgz : join(dest, tgz);
}

/** The first ```ts block of a README (the block the package's own readme test runs), or undefined. */
export function firstTsExample(readme: string): string | undefined {
  return /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
}
