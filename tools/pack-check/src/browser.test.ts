/**
 * Every library package bundles for the browser (esbuild, platform `browser`) with no static import of a Node
 * built-in (Node-only functions load `node:*` modules lazily, on first call), and the bundle loads in headless
 * Chromium. One smoke bundle also computes: @sift/backend starts a backend in the page and a tensor-core `Linear`
 * runs there.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as esbuild from 'esbuild';
import { chromium, type Browser } from 'playwright-core';
import { skipBecause } from '@sift/testkit';
import { ROOT, publishablePackages } from './workspace.js';

const CHROMIUM = '/usr/bin/chromium';
const libraries = publishablePackages().filter((p) => p.dir.startsWith('packages/'));

/**
 * Dependencies that exist only in Node (native addons). A library may use them, but only behind a dynamic
 * `import()`, so a browser bundle never loads them; browser bundlers are told to leave them out (as here).
 */
const NODE_ONLY_PACKAGES = ['@duckdb/node-api', 'webgpu', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu'];

interface Bundle {
  /** Folder with `index.html`, the entry chunk and the lazily loaded chunks. */
  dir: string;
  /** Node built-ins and Node-only packages imported statically by the entry chunk or the chunks it imports. */
  nodeImports: string[];
}

/**
 * Bundles `contents` (ESM) for the browser as a browser app would (code splitting, so a dynamic `import()` becomes a
 * chunk loaded on first call); resolves `@sift/*` to the built packages.
 */
async function bundle(contents: string, resolveDir: string): Promise<Bundle> {
  const all = publishablePackages();
  const sift: esbuild.Plugin = {
    name: 'sift-workspace',
    setup(build) {
      // esbuild filters are Go regular expressions: no `u` flag.
      build.onResolve({ filter: /^@sift\/[a-z-]+$/ }, (args) => {
        const p = all.find((q) => q.name === args.path);
        return p === undefined ? undefined : { path: join(ROOT, p.dir, 'dist/index.js') };
      });
    },
  };
  const dir = mkdtempSync(join(work, 'bundle-'));
  const result = await esbuild.build({
    stdin: { contents, resolveDir, loader: 'js', sourcefile: 'entry.js' },
    bundle: true, splitting: true, format: 'esm', platform: 'browser', target: 'es2022', outdir: dir,
    entryNames: 'entry', metafile: true, external: ['node:*', ...NODE_ONLY_PACKAGES], plugins: [sift], logLevel: 'silent',
  });
  writeFileSync(join(dir, 'index.html'), '<!doctype html><meta charset="utf-8"><script type="module" src="entry.js"></script>');
  // Walk the static imports from the entry chunk.
  const outputs = result.metafile.outputs;
  const entry = Object.keys(outputs).find((f) => f.endsWith('/entry.js'));
  if (entry === undefined) throw new Error('esbuild wrote no entry.js');
  const nodeImports: string[] = [];
  const seen = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const i of outputs[file].imports) {
      if (i.kind !== 'import-statement') continue;
      if (i.external === true) nodeImports.push(i.path);
      else visit(i.path);
    }
  };
  visit(entry);
  return { dir, nodeImports: [...new Set(nodeImports)].sort() };
}

const work = mkdtempSync(join(tmpdir(), 'sift-browser-'));
let server: Server | undefined;
let origin = '';

/** Serves `/<bundle-folder>/<file>` from `work` (module scripts need http, not file://). */
function startServer(): Promise<void> {
  server = createServer((req, res) => {
    const path = join(work, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    if (!path.startsWith(work) || !existsSync(path)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': path.endsWith('.html') ? 'text/html' : 'text/javascript' }).end(readFileSync(path));
  });
  return new Promise((resolve) => {
    server?.listen(0, '127.0.0.1', () => {
      const address = server?.address();
      if (address !== null && typeof address === 'object') origin = `http://127.0.0.1:${String(address.port)}`;
      resolve();
    });
  });
}

let browser: Browser | undefined;

beforeAll(async () => {
  await startServer();
  if (existsSync(CHROMIUM)) browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--no-first-run'] });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  server?.close();
  rmSync(work, { recursive: true, force: true });
});

/** Opens a bundle's page and returns what it put in `globalThis.__sift`. */
async function runInPage(b: Bundle): Promise<unknown> {
  if (browser === undefined) throw new Error('no browser');
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  try {
    await page.goto(`${origin}/${basename(b.dir)}/index.html`);
    await page.waitForFunction(() => '__sift' in globalThis || '__siftError' in globalThis, undefined, { timeout: 60_000 });
    const failed = await page.evaluate(() => (globalThis as { __siftError?: string }).__siftError);
    if (failed !== undefined) throw new Error(failed);
    expect(errors).toEqual([]);
    return await page.evaluate(() => (globalThis as { __sift?: unknown }).__sift);
  } finally {
    await page.close();
  }
}

describe.each(libraries.map((p) => [p.name, p] as const))('%s in the browser', (name, p) => {
  it('bundles without Node built-ins and loads in headless Chromium', async (ctx) => {
    const b = await bundle(`import * as m from '${name}';\nglobalThis.__sift = Object.keys(m).sort();\n`, join(ROOT, p.dir));
    expect(b.nodeImports).toEqual([]);
    if (browser === undefined) {
      skipBecause(ctx, `${CHROMIUM} is not installed (apt-get install chromium); the bundle was built but not loaded`);
      return;
    }
    const names = await runInPage(b);
    expect(Array.isArray(names) && names.length > 0).toBe(true);
  });
});

describe('a computation in the page', () => {
  it('@sift/backend starts cpu and a tensor-core Linear matches its closed form', async (ctx) => {
    const b = await bundle(`
      import * as tf from '@tensorflow/tfjs-core';
      import { initBackend } from '@sift/backend';
      import { Linear } from '@sift/tensor-core';
      try {
        const info = await initBackend({ prefer: ['cpu'] });
        const fc = Linear.fromWeights(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor1d([0.5, -0.5]));
        const y = fc.forward(tf.tensor2d([[1, 1]]));
        globalThis.__sift = { backend: info.name, y: Array.from(await y.data()) };
      } catch (e) { globalThis.__siftError = String(e && e.stack || e); }
    `, join(ROOT, 'tools/pack-check'));
    if (browser === undefined) {
      skipBecause(ctx, `${CHROMIUM} is not installed (apt-get install chromium)`);
      return;
    }
    expect(await runInPage(b)).toEqual({ backend: 'cpu', y: [3.5, 6.5] });
  });
});
