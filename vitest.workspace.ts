import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { TestProjectInlineConfiguration } from 'vitest/config';

/**
 * One vitest project per package and app. Cross-package imports (`@sift/x`, `@sift/x/testing`) resolve to the
 * packages' TypeScript sources, so tests never need a build first.
 */
const root = fileURLToPath(new URL('.', import.meta.url));

interface Pkg { dir: string; name: string; pkgName: string }

function workspacePackages(): Pkg[] {
  const out: Pkg[] = [];
  for (const group of ['packages', 'apps', 'tools']) {
    const base = join(root, group);
    if (!existsSync(base)) continue;
    for (const d of readdirSync(base)) {
      const manifest = join(base, d, 'package.json');
      if (!existsSync(manifest)) continue;
      const { name } = JSON.parse(readFileSync(manifest, 'utf8')) as { name: string };
      out.push({ dir: `${group}/${d}`, name: d, pkgName: name });
    }
  }
  return out;
}

const packages = workspacePackages();

/** `@sift/<name>` and `@sift/<name>/<sub>` -> the package's `src/index.ts` / `src/<sub>/index.ts` or `src/<sub>.ts`. */
export const siftAliases: { find: RegExp; replacement: string }[] = packages
  
  .flatMap((p) => [
    { find: new RegExp(`^${p.pkgName}$`), replacement: join(root, p.dir, 'src/index.ts') },
    { find: new RegExp(`^${p.pkgName}/testing$`), replacement: join(root, p.dir, 'src/testing.ts') },
  ]);

/** Packages whose tests start their own backends (so no setup file picks one first). */
const SELF_STARTING = new Set(['backend', 'pack-check']);

/** Packages whose tests run a second time on tfjs's cpu backend, the reference kernels (STYLE.md: a wasm run plus a rerun). */
const CPU_RERUN = new Set(['tensor-core']);

function project(p: Pkg, backend: 'wasm' | 'cpu'): TestProjectInlineConfiguration {
  return {
    resolve: { alias: siftAliases },
    test: {
      name: backend === 'wasm' ? p.name : `${p.name} (${backend})`,
      root: join(root, p.dir),
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      environment: 'node',
      pool: 'forks',
      testTimeout: 120_000,
      hookTimeout: 120_000,
      env: { SIFT_TEST_BACKEND: backend },
      setupFiles: SELF_STARTING.has(p.name) ? [] : [join(root, 'tools/vitest/setup-backend.ts')],
    },
  };
}

export const projects: TestProjectInlineConfiguration[] = packages.flatMap((p) =>
  CPU_RERUN.has(p.name) ? [project(p, 'wasm'), project(p, 'cpu')] : [project(p, 'wasm')]);

