/**
 * End-to-end: builds the site with Vite, serves it from node:http, and drives it in Debian's headless Chromium
 * (playwright-core, never a downloaded browser) with WebGPU on SwiftShader: backend choice, the speed check in the
 * worker, cancelling, switching to wasm, and the checkpoint inspector. Screenshots go to apps/demo/test-results/.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { build } from 'vite';
import { serializeSafetensors } from '@sift/tensor-core';
import { skipBecause } from '@sift/testkit';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--enable-unsafe-webgpu'];
const demo = fileURLToPath(new URL('..', import.meta.url));
const shots = join(demo, 'test-results');
const TYPES: Record<string, string> = {
  '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm', '.json': 'application/json',
};

const site = mkdtempSync(join(tmpdir(), 'sift-demo-'));
let server: Server | undefined;
let origin = '';
let browser: Browser | undefined;
let page: Page | undefined;
const pageErrors: string[] = [];

function serve(dir: string): Promise<void> {
  server = createServer((req, res) => {
    const rel = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const path = normalize(join(dir, rel === '/' ? 'index.html' : rel));
    if (!path.startsWith(dir) || !existsSync(path)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream' }).end(readFileSync(path));
  });
  return new Promise((resolve) => {
    server?.listen(0, '127.0.0.1', () => {
      const address = server?.address();
      if (address !== null && typeof address === 'object') origin = `http://127.0.0.1:${String(address.port)}`;
      resolve();
    });
  });
}

beforeAll(async () => {
  await build({ configFile: join(demo, 'vite.config.ts'), logLevel: 'error', build: { outDir: site, emptyOutDir: true } });
  await serve(site);
  if (!existsSync(CHROMIUM)) return;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  page = await browser.newPage({ viewport: { width: 1100, height: 1400 } });
  page.on('pageerror', (e) => pageErrors.push(e.message));
  mkdirSync(shots, { recursive: true });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  server?.close();
  rmSync(site, { recursive: true, force: true });
});

/** The page, or a skip with the reason when Chromium is not installed. */
function open(ctx: TestContext): Page {
  if (page === undefined) skipBecause(ctx, `${CHROMIUM} is not installed (apt-get install chromium); the site was built but not opened`);
  return page;
}

const byTestId = (id: string): string => `[data-testid="${id}"]`;

async function waitReady(p: Page, backend: string): Promise<void> {
  await p.waitForSelector('#backend[data-state="ready"], #backend[data-state="failed"]', { timeout: 60_000 });
  const why = await p.textContent(byTestId('backend-why'));
  expect(await p.getAttribute('#backend', 'data-state'), why ?? '').toBe('ready');
  expect(await p.textContent(byTestId('backend-name'))).toBe(backend);
}

async function runSpeed(p: Page, size: number, repeats: number): Promise<{ state: string; gflops: number; backend: string; maxAbsError: number }> {
  await p.fill(byTestId('speed-size'), String(size));
  await p.fill(byTestId('speed-repeats'), String(repeats));
  await p.click(byTestId('speed-run'));
  const out = p.locator(byTestId('speed-result'));
  await p.waitForSelector(`${byTestId('speed-result')}[data-state]`, { timeout: 60_000 });
  return {
    state: (await out.getAttribute('data-state')) ?? '',
    gflops: Number(await out.getAttribute('data-gflops')),
    backend: (await out.getAttribute('data-backend')) ?? '',
    maxAbsError: Number(await out.getAttribute('data-max-abs-error')),
  };
}

describe('the demo site in headless Chromium', () => {
  it('starts the worker on WebGPU (the SwiftShader adapter) when asked', async (ctx) => {
    const p = open(ctx);
    await p.goto(`${origin}/index.html?backend=webgpu`);
    await waitReady(p, 'webgpu');
    expect((await p.textContent(byTestId('backend-device')))?.toLowerCase()).toContain('swiftshader');
    // Every browser backend is listed with its status.
    expect(await p.textContent(`${byTestId('backend-env')} tr[data-backend="wasm"]`)).toContain('yes');
    await p.screenshot({ path: join(shots, 'backend-webgpu.png'), fullPage: true });
  });

  it('runs the speed check in the worker and shows GFLOP/s', async (ctx) => {
    const p = open(ctx);
    const r = await runSpeed(p, 128, 3);
    expect(r.state).toBe('done');
    expect(r.backend).toBe('webgpu');
    expect(r.gflops).toBeGreaterThan(0);
    expect(r.maxAbsError).toBeLessThan(1e-4); // float32 sums of 64 products of values in [-1, 1]
    expect(await p.textContent(byTestId('speed-result'))).toMatch(/GFLOP\/s on webgpu/);
    await p.screenshot({ path: join(shots, 'speed-webgpu.png'), fullPage: true });
  });

  it('cancels a long run, and the worker runs the next job', async (ctx) => {
    const p = open(ctx);
    // 384³ products take about a second each on SwiftShader (2 shared cores): cancel in the middle of the timed ones.
    await p.fill(byTestId('speed-size'), '384');
    await p.fill(byTestId('speed-repeats'), '1000');
    await p.click(byTestId('speed-run'));
    await p.waitForFunction((sel) => (document.querySelector(sel)?.textContent ?? '').includes('product 1/'), byTestId('speed-status'), { timeout: 60_000 });
    const t0 = Date.now();
    await p.click(byTestId('speed-cancel'));
    await p.waitForSelector(`${byTestId('speed-result')}[data-state="cancelled"]`, { timeout: 15_000 });
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(await p.textContent(byTestId('speed-status'))).toBe('cancelled');
    await p.screenshot({ path: join(shots, 'cancelled.png'), fullPage: true });
    const r = await runSpeed(p, 64, 2);
    expect(r.state).toBe('done');
    expect(r.backend).toBe('webgpu');
  });

  it('switches to wasm and reruns the speed check and the SPD inverse', async (ctx) => {
    const p = open(ctx);
    await p.selectOption(byTestId('backend-select'), 'wasm');
    await p.click(byTestId('backend-restart'));
    await waitReady(p, 'wasm');
    expect(p.url()).toContain('backend=wasm');
    const r = await runSpeed(p, 256, 3);
    expect(r.state).toBe('done');
    expect(r.backend).toBe('wasm');
    expect(r.gflops).toBeGreaterThan(0);
    expect(r.maxAbsError).toBeLessThan(1e-4);
    await p.fill(byTestId('spd-size'), '128');
    await p.selectOption(byTestId('spd-precision'), 'float32');
    await p.click(byTestId('spd-run'));
    await p.waitForSelector(`${byTestId('spd-result')}[data-state]`, { timeout: 60_000 });
    expect(await p.getAttribute(byTestId('spd-result'), 'data-state')).toBe('done');
    // A · A⁻¹ - I in float64 from a float32 inverse of a well-conditioned matrix (eigenvalues in about [1, 4]).
    expect(Number(await p.getAttribute(byTestId('spd-result'), 'data-residual'))).toBeLessThan(1e-4);
    await p.screenshot({ path: join(shots, 'speed-wasm.png'), fullPage: true });
  });

  it('on auto, skips the software WebGPU adapter and says why', async (ctx) => {
    const p = open(ctx);
    await p.selectOption(byTestId('backend-select'), 'auto');
    await p.click(byTestId('backend-restart'));
    await waitReady(p, 'wasm');
    expect(await p.textContent(byTestId('backend-why'))).toMatch(/webgpu skipped: .*software WebGPU adapter/);
  });

  it('lists the tensors of a checkpoint chosen from disk', async (ctx) => {
    const p = open(ctx);
    const bytes = serializeSafetensors({
      'wte.weight': { dtype: 'F32', shape: [16, 8], data: new Float32Array(128).map((_, i) => i / 128) },
      'h.0.mlp.c_fc.weight': { dtype: 'F16', shape: [8, 32], data: new Uint16Array(256) },
      'h.0.ln_1.bias': { dtype: 'BF16', shape: [8], data: new Uint16Array(8) },
    }, { format: 'pt' });
    const config = JSON.stringify({ model_type: 'gpt2', n_layer: 1, n_embd: 8, vocab_size: 16 });
    const tokenizer = JSON.stringify({ model: { type: 'BPE', vocab: { a: 0, b: 1, c: 2 }, merges: [] } });
    await p.setInputFiles(byTestId('checkpoint-config-file'), { name: 'config.json', mimeType: 'application/json', buffer: Buffer.from(config) });
    await p.setInputFiles(byTestId('checkpoint-tokenizer-file'), { name: 'tokenizer.json', mimeType: 'application/json', buffer: Buffer.from(tokenizer) });
    await p.setInputFiles(byTestId('checkpoint-model'), { name: 'model.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.from(bytes) });
    await p.waitForSelector(`${byTestId('checkpoint-result')}[data-state="done"], ${byTestId('checkpoint-result')}[data-state="failed"]`, { timeout: 30_000 });
    expect(await p.textContent(byTestId('checkpoint-result'))).not.toContain('Error');
    const rows = await p.locator(`${byTestId('checkpoint-tensors')} tr`).allTextContents();
    expect(rows.slice(1).sort()).toEqual([
      'h.0.ln_1.biasBF16[8]16 B', 'h.0.mlp.c_fc.weightF16[8, 32]512 B', 'wte.weightF32[16, 8]512 B',
    ]);
    expect(await p.textContent(byTestId('checkpoint-summary'))).toContain('3 tensors, 392 parameters');
    expect(await p.textContent(byTestId('checkpoint-config'))).toContain('model_type=gpt2');
    expect(await p.textContent(byTestId('checkpoint-tokenizer'))).toContain('BPE, 3 tokens');
    await p.locator('#lab-checkpoint').screenshot({ path: join(shots, 'checkpoint.png') });
  });

  it('shows the E_SAFETENSORS error of a malformed file', async (ctx) => {
    const p = open(ctx);
    const bad = new Uint8Array(64);
    new DataView(bad.buffer).setUint32(0, 1000, true); // a header longer than the file
    await p.setInputFiles(byTestId('checkpoint-model'), { name: 'broken.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.from(bad) });
    await p.waitForSelector(byTestId('checkpoint-error'), { timeout: 30_000 });
    const text = await p.textContent(byTestId('checkpoint-error'));
    expect(text).toMatch(/^E_SAFETENSORS: .*broken\.safetensors/);
    await p.locator('#lab-checkpoint').screenshot({ path: join(shots, 'checkpoint-error.png') });
    expect(pageErrors).toEqual([]);
  });
});
