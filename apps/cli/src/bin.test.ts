import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runReadmeExample } from '@sift/testkit';
import { describe, expect, it } from 'vitest';

const pkgDir = fileURLToPath(new URL('..', import.meta.url));

describe('the sift binary', () => {
  it('bin/sift.js doctor --json runs from the built dist', () => {
    // `pnpm test` builds (tsc -b) before vitest runs.
    expect(existsSync(`${pkgDir}/dist/index.js`), 'dist/ is missing: run `pnpm build` first').toBe(true);
    const r = spawnSync(process.execPath, [`${pkgDir}/bin/sift.js`, '--json', 'doctor'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { defaultBackend?: string };
    expect(report.defaultBackend).toBeDefined();
  });

  it('the README example runs as written', async () => {
    const mod = await runReadmeExample(pkgDir);
    const report = mod.report as { code: number; text: string };
    expect(report.code).toBe(0);
    expect(report.text).toMatch(/"backends"/);
  });
});
