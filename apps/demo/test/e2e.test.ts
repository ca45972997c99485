/**
 * End-to-end: builds the site with Vite, serves it from node:http, and drives it in Debian's headless Chromium
 * (playwright-core, never a downloaded browser) with WebGPU on SwiftShader: backend choice, the speed check in the
 * worker, cancelling, switching to wasm, the checkpoint inspector, and the labs: pruning the bundled model at 8:16 on
 * WebGPU and on wasm with the perplexity checked against `@sift/nm-sparsity` + `@sift/eval` in Node (same calibration
 * windows, same test text), a user checkpoint chosen through the file inputs, CoLES with its map, and GIFT-SW.
 * Screenshots go to apps/demo/test-results/.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { build } from 'vite';
import * as tf from '@tensorflow/tfjs-core';
import { Rng, parseSafetensors, serializeSafetensors } from '@sift/tensor-core';
import {
  ByteTokenizer, createModel, hfTensors, loadWeights, parseModelConfig, presetConfig, sampleWindows, toHfConfig, tokenizerFromJson,
  windowsToTensor,
} from '@sift/lm';
import { perplexity } from '@sift/eval';
import { pruneModel, type MethodName } from '@sift/nm-sparsity';
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

/** The checkpoint files as the page reads them. */
interface CheckpointFiles {
  config: string;
  weights: Uint8Array;
  tokenizer: string;
}

const bundledDir = join(demo, 'public/models/small');
const bundled: CheckpointFiles = {
  config: readFileSync(join(bundledDir, 'config.json'), 'utf8'),
  weights: new Uint8Array(readFileSync(join(bundledDir, 'model.safetensors'))),
  tokenizer: readFileSync(join(bundledDir, 'tokenizer.json'), 'utf8'),
};
const slice = JSON.parse(readFileSync(join(demo, 'public/data/brown-slice.json'), 'utf8')) as { calibration: { text: string }; test: { text: string } };

/** The lab settings of a pruning run (what the test types into the page). */
interface PruneSettings {
  pattern: string;
  method: MethodName;
  calibrationWindows: number;
  pplWindows: number;
  seqlen: number;
  seed: number;
}

/**
 * The Node side: the same library calls the page's worker makes, written out here. Calibration: `sampleWindows` of the
 * tokenized calibration text as one [n, L] batch; test: the first pplWindows · L tokens of the tokenized test text;
 * `pruneModel` with the lab's options; `perplexity` from `@sift/eval` before and after.
 */
async function nodePerplexities(files: CheckpointFiles, o: PruneSettings): Promise<{ dense: number; pruned: number }> {
  const model = createModel(parseModelConfig(files.config));
  loadWeights(model, parseSafetensors(files.weights).tensors());
  const tok = tokenizerFromJson(files.tokenizer);
  const calib = Int32Array.from(tok.encode(slice.calibration.text));
  const test = Int32Array.from(tok.encode(slice.test.text)).subarray(0, o.pplWindows * o.seqlen);
  const ids = windowsToTensor(sampleWindows(calib, { count: o.calibrationWindows, length: o.seqlen, seed: o.seed }));
  try {
    const dense = (await perplexity(model, test, { seqlen: o.seqlen, batchSize: 4 })).perplexity;
    await pruneModel(model, [ids], { method: o.method, pattern: o.pattern, salientFraction: 0, salientGroup: 32, varianceCorrection: 'none' });
    const pruned = (await perplexity(model, test, { seqlen: o.seqlen, batchSize: 4 })).perplexity;
    return { dense, pruned };
  } finally {
    ids.dispose();
    model.dispose();
  }
}

/** e2e settings: Wanda, few windows (SwiftShader is slow). */
const E2E_PRUNE: PruneSettings = { pattern: '8:16', method: 'wanda', calibrationWindows: 4, pplWindows: 2, seqlen: 128, seed: 0 };
let nodeBundled: Promise<{ dense: number; pruned: number }> | undefined;

/** Fills the Sparsity lab's inputs, runs it, and returns the result's data attributes. */
async function runSparsity(p: Page, o: PruneSettings, timeout: number): Promise<Record<string, string>> {
  await p.selectOption(byTestId('sparsity-pattern'), o.pattern);
  await p.selectOption(byTestId('sparsity-method'), o.method);
  await p.selectOption(byTestId('sparsity-salient'), '0');
  await p.selectOption(byTestId('sparsity-correction'), 'none');
  await p.fill(byTestId('sparsity-calib'), String(o.calibrationWindows));
  await p.fill(byTestId('sparsity-ppl-windows'), String(o.pplWindows));
  await p.fill(byTestId('sparsity-seqlen'), String(o.seqlen));
  await p.fill(byTestId('sparsity-seed'), String(o.seed));
  await p.fill(byTestId('sparsity-tokens'), '4');
  await p.click(byTestId('sparsity-run'));
  const sel = `${byTestId('sparsity-result')}[data-state="done"], ${byTestId('sparsity-result')}[data-state="failed"]`;
  await p.waitForSelector(sel, { timeout });
  const data = await p.locator(byTestId('sparsity-result')).evaluate((e) => Object.fromEntries(Object.entries((e as HTMLElement).dataset)) as Record<string, string>);
  if (data.state !== 'done') throw new Error(`the sparsity lab failed: ${await p.textContent(byTestId('sparsity-result')) ?? ''}`);
  return data;
}

/** Relative difference |a − b| / |b|. */
const rel = (a: number, b: number): number => Math.abs(a - b) / Math.abs(b);

/** Browser vs Node perplexities, written to test-results/e2e-perplexities.json (a CI artifact). */
const measured: Record<string, { browser: { dense: number; pruned: number }; node: { dense: number; pruned: number }; relDiff: { dense: number; pruned: number } }> = {};

function record(name: string, r: Record<string, string>, node: { dense: number; pruned: number }): void {
  const browser = { dense: Number(r.pplDense), pruned: Number(r.pplPruned) };
  measured[name] = { browser, node, relDiff: { dense: rel(browser.dense, node.dense), pruned: rel(browser.pruned, node.pruned) } };
  if (page !== undefined) writeFileSync(join(shots, 'e2e-perplexities.json'), `${JSON.stringify(measured, null, 2)}\n`);
}

describe('the labs in headless Chromium', () => {
  it('prunes the bundled model at 8:16 on WebGPU; the perplexity equals Node\'s within 1e-3', async (ctx) => {
    const p = open(ctx);
    nodeBundled ??= nodePerplexities(bundled, E2E_PRUNE);
    await p.goto(`${origin}/index.html?backend=webgpu`);
    await waitReady(p, 'webgpu');
    const r = await runSparsity(p, E2E_PRUNE, 280_000);
    const node = await nodeBundled;
    record('bundled small, wanda 8:16, webgpu', r, node);
    expect(r.backend).toBe('webgpu');
    // tfjs-backend-webgpu's synchronous reads lose the SwiftShader device: pruneModel's step runs on wasm (lm-jobs.ts).
    expect(r.pruneBackend).toBe('wasm');
    expect(Number(r.sparsity)).toBeCloseTo(0.5, 6);
    // WebGPU's f32 reductions differ from wasm's (order, fused ops): relative 1e-3 on the perplexities.
    expect(rel(Number(r.pplDense), node.dense)).toBeLessThan(1e-3);
    expect(rel(Number(r.pplPruned), node.pruned)).toBeLessThan(1e-3);
    expect(Number(r.bits)).toBeCloseTo(8.875, 6);
    expect(await p.textContent(byTestId('sparsity-text-pruned'))).toMatch(/^The jury said/);
    await p.locator('#lab-sparsity').screenshot({ path: join(shots, 'sparsity-webgpu.png') });
    // The heat-map zooms in until single 16-groups are visible.
    const canvas = p.locator(byTestId('sparsity-heatmap'));
    for (let i = 0; i < 3; i++) await canvas.click({ position: { x: 100, y: 60 } });
    expect(Number(await canvas.getAttribute('data-scale'))).toBeGreaterThanOrEqual(6);
    expect(await p.textContent(byTestId('sparsity-heatmap-view'))).toContain('groups of 16');
    await p.locator('#lab-sparsity').screenshot({ path: join(shots, 'sparsity-heatmap-zoom.png') });
  }, 300_000); // SwiftShader: about 100 s on 2 loaded cores, mostly the two perplexities and the text

  it('repeats on wasm; the perplexity equals Node\'s (wasm too) within 1e-6', async (ctx) => {
    const p = open(ctx);
    nodeBundled ??= nodePerplexities(bundled, E2E_PRUNE);
    await p.selectOption(byTestId('backend-select'), 'wasm');
    await p.click(byTestId('backend-restart'));
    await waitReady(p, 'wasm');
    const r = await runSparsity(p, E2E_PRUNE, 180_000);
    const node = await nodeBundled;
    record('bundled small, wanda 8:16, wasm', r, node);
    expect(r.backend).toBe('wasm');
    expect(r.pruneBackend).toBe('wasm');
    // The same wasm kernels (one thread, SIMD) in the page and in Node: equal up to float printing; measured 0.
    expect(rel(Number(r.pplDense), node.dense)).toBeLessThan(1e-6);
    expect(rel(Number(r.pplPruned), node.pruned)).toBeLessThan(1e-6);
    await p.locator('#lab-sparsity').screenshot({ path: join(shots, 'sparsity-wasm.png') });
  }, 200_000);

  it('cancels a pruning run in the middle of pruneModel, and the next run works', async (ctx) => {
    const p = open(ctx);
    await p.selectOption(byTestId('sparsity-method'), 'sparsegpt');
    await p.fill(byTestId('sparsity-calib'), '16');
    await p.click(byTestId('sparsity-run'));
    await p.waitForFunction((sel) => (document.querySelector(sel)?.textContent ?? '').includes('block 1/4'), byTestId('sparsity-status'), { timeout: 60_000 });
    const t0 = Date.now();
    await p.click(byTestId('sparsity-cancel'));
    await p.waitForSelector(`${byTestId('sparsity-result')}[data-state="cancelled"]`, { timeout: 15_000 });
    // pruneModel has no checkpoint inside: the runner terminates the worker after 0.5 s and starts a fresh one.
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(await p.textContent(byTestId('sparsity-status'))).toBe('cancelled');  });

  it('prunes a checkpoint written by the test, chosen through the file inputs', async (ctx) => {
    const p = open(ctx);
    // A random `tiny` Llama (d = 64, 2 layers, byte tokenizer), as Hugging Face files.
    const tok = new ByteTokenizer();
    const config = presetConfig('tiny', tok);
    const model = createModel(config, { rng: new Rng(7) });
    const weights = serializeSafetensors(Object.fromEntries(await hfTensors(model, 'F32')), { format: 'pt' });
    model.dispose();
    const files: CheckpointFiles = { config: JSON.stringify(toHfConfig(config)), weights, tokenizer: JSON.stringify(tok.toJSON()) };
    const settings: PruneSettings = { pattern: '2:4', method: 'wanda', calibrationWindows: 2, pplWindows: 2, seqlen: 64, seed: 3 };
    const node = nodePerplexities(files, settings);
    await p.setInputFiles(byTestId('sparsity-model-file'), { name: 'tiny.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.from(files.weights) });
    await p.setInputFiles(byTestId('sparsity-config-file'), { name: 'config.json', mimeType: 'application/json', buffer: Buffer.from(files.config) });
    await p.setInputFiles(byTestId('sparsity-tokenizer-file'), { name: 'tokenizer.json', mimeType: 'application/json', buffer: Buffer.from(files.tokenizer) });
    expect(await p.isChecked(byTestId('sparsity-source-files'))).toBe(true);
    const r = await runSparsity(p, settings, 120_000);
    expect(r.model).toBe('tiny.safetensors');
    expect(await p.textContent(byTestId('sparsity-summary'))).toContain('2:4');
    const n = await node;
    record('user tiny checkpoint, wanda 2:4, wasm', r, n);
    expect(rel(Number(r.pplDense), n.dense)).toBeLessThan(1e-6);
    expect(rel(Number(r.pplPruned), n.pruned)).toBeLessThan(1e-6);
    await p.locator('#lab-sparsity').screenshot({ path: join(shots, 'sparsity-user-checkpoint.png') });
    await p.click(byTestId('sparsity-source-bundled'));
  });

  it('trains CoLES briefly and draws the 2-D map of the embeddings', async (ctx) => {
    const p = open(ctx);
    await p.selectOption(byTestId('eventseq-method'), 'coles');
    await p.fill(byTestId('eventseq-clients'), '80');
    await p.fill(byTestId('eventseq-epochs'), '2');
    await p.fill(byTestId('eventseq-hidden'), '16');
    await p.click(byTestId('eventseq-run'));
    await p.waitForSelector(`${byTestId('eventseq-result')}[data-state="done"], ${byTestId('eventseq-result')}[data-state="failed"]`, { timeout: 120_000 });
    const out = p.locator(byTestId('eventseq-result'));
    expect(await out.getAttribute('data-state'), await out.textContent() ?? '').toBe('done');
    expect(await out.getAttribute('data-points')).toBe('80');
    const accuracy = Number(await out.getAttribute('data-composition'));
    expect(accuracy).toBeGreaterThanOrEqual(0);
    expect(accuracy).toBeLessThanOrEqual(1);
    // The map has coloured points: count non-white, non-grey pixels.
    const coloured = await p.locator(byTestId('eventseq-map')).evaluate((c) => {
      const canvas = c as HTMLCanvasElement;
      const d = canvas.getContext('2d')?.getImageData(0, 0, canvas.width, canvas.height).data ?? new Uint8ClampedArray();
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (Math.max(d[i], d[i + 1], d[i + 2]) - Math.min(d[i], d[i + 1], d[i + 2]) > 60) n++;
      return n;
    });
    expect(coloured).toBeGreaterThan(200);
    await p.locator('#lab-eventseq').screenshot({ path: join(shots, 'eventseq-coles.png') });
  });

  it('scores the columns of a layer and fine-tunes its salient columns (GIFT-SW)', async (ctx) => {
    const p = open(ctx);
    await p.fill(byTestId('salience-k'), '4');
    await p.fill(byTestId('salience-steps'), '2');
    await p.click(byTestId('salience-run'));
    await p.waitForSelector(`${byTestId('salience-result')}[data-state="done"], ${byTestId('salience-result')}[data-state="failed"]`, { timeout: 120_000 });
    const out = p.locator(byTestId('salience-result'));
    expect(await out.getAttribute('data-state'), await out.textContent() ?? '').toBe('done');
    expect((await out.getAttribute('data-salient'))?.split(',')).toHaveLength(4);
    expect(await out.getAttribute('data-steps')).toBe('2');
    await p.locator('#lab-salience').screenshot({ path: join(shots, 'salience.png') });
    expect(pageErrors).toEqual([]);
    expect(tf.memory().numTensors).toBe(0);
  });
});
