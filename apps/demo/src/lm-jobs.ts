/**
 * The language-model jobs of the worker: the Sparsity lab (`@sift/nm-sparsity`'s `pruneModel` on an `@sift/lm`
 * model, perplexity with `@sift/eval`, text with `generate`) and the Salience & GIFT-SW lab (`@sift/gift-sw`'s column
 * salience and fine-tuning of the salient columns). The model is the bundled checkpoint (fetched) or the user's files
 * (read in the worker, never uploaded). Plain functions: Node tests call them too.
 */
import * as tf from '@tensorflow/tfjs-core';
import { SiftError, findLinears, parseSafetensors, type Linear } from '@sift/tensor-core';
import {
  createModel, generate, loadWeights, modelContext, parseModelConfig, sampleWindows, tokenizerFromJson, windowsToTensor,
  type CausalLM, type Tokenizer,
} from '@sift/lm';
import { perplexity } from '@sift/eval';
import { MaskedLinear, bitsPerWeight, packNM, parsePattern, pruneModel, type PruneProgress, type PruneReport } from '@sift/nm-sparsity';
import { applyGiftSw, fineTune, selectSalientColumns, collectLinearStats } from '@sift/gift-sw';
import type {
  LmInfo, LmSource, MaskLayer, PplInfo, SalienceParams, SalienceResult, SparsityParams, SparsityResult, TextSlice,
} from './protocol.js';
import type { JobContext } from './worker-jobs.js';

/** The three files of a checkpoint, as bytes and text. */
interface LmFiles {
  name: string;
  config: string;
  weights: Uint8Array;
  tokenizer: string;
}

/** The last bundled checkpoint fetched (the page asks for the same one again and again). */
let bundledCache: { url: string; files: LmFiles } | undefined;

async function fetchText(url: string): Promise<string> {
  const r = await fetch(url);
  if (!r.ok) throw new SiftError('E_IO', `could not fetch ${url}: HTTP ${r.status}. Reload the page (the site must be served with its models/ folder).`);
  return r.text();
}

/** Reads the checkpoint's files: fetched once for the bundled model, read locally for the user's. */
async function readLmFiles(source: LmSource): Promise<LmFiles> {
  if (source.kind === 'files') {
    const [config, weights, tokenizer] = await Promise.all([
      source.config.text(), source.model.arrayBuffer().then((b) => new Uint8Array(b)), source.tokenizer.text(),
    ]);
    return { name: source.model.name, config, weights, tokenizer };
  }
  if (bundledCache?.url === source.url) return bundledCache.files;
  const r = await fetch(`${source.url}model.safetensors`);
  if (!r.ok) throw new SiftError('E_IO', `could not fetch ${source.url}model.safetensors: HTTP ${r.status}.`);
  const [config, weights, tokenizer] = await Promise.all([
    fetchText(`${source.url}config.json`), r.arrayBuffer().then((b) => new Uint8Array(b)), fetchText(`${source.url}tokenizer.json`),
  ]);
  const files: LmFiles = { name: 'bundled small', config, weights, tokenizer };
  bundledCache = { url: source.url, files };
  return files;
}

/** A loaded model and its tokenizer. */
export interface LoadedLm {
  model: CausalLM;
  tokenizer: Tokenizer;
  info: LmInfo;
}

/**
 * Builds the model from config.json, loads model.safetensors into it (F32/F16/BF16, read as float32) and the
 * tokenizer from tokenizer.json. Errors name the file and the fix.
 */
export async function loadLm(source: LmSource): Promise<LoadedLm> {
  const files = await readLmFiles(source);
  const config = parseModelConfig(files.config);
  const tokenizer = tokenizerFromJson(files.tokenizer);
  if (tokenizer.vocabSize > config.vocab_size) {
    throw new SiftError('E_CONFIG', `tokenizer.json has ${tokenizer.vocabSize} tokens but config.json's vocab_size is ${config.vocab_size}; ` +
      'choose the tokenizer.json that belongs to this checkpoint.');
  }
  const st = parseSafetensors(files.weights, { source: files.name });
  const model = createModel(config);
  try {
    const report = loadWeights(model, st.tensors(), [files.name]);
    const info: LmInfo = {
      name: files.name, modelType: config.model_type, parameters: report.parameters, blocks: model.blocks().length,
      vocabSize: config.vocab_size, context: modelContext(config), dtypes: report.dtypes,
    };
    return { model, tokenizer, info };
  } catch (err) {
    model.dispose();
    throw err;
  }
}

/** Token ids of a text (`tokenizer.encode`), with an error when there are too few for `need` tokens. */
export function encodeText(tokenizer: Tokenizer, text: string, need: number, what: string): Int32Array {
  const ids = Int32Array.from(tokenizer.encode(text));
  if (ids.length < need) {
    throw new SiftError('E_DATA', `the ${what} text has ${ids.length} tokens with this tokenizer, fewer than the ${need} needed; use fewer or shorter windows.`);
  }
  return ids;
}

/**
 * Calibration windows and test ids as the Sparsity lab uses them (the end-to-end test does the same in Node):
 * `sampleWindows(encode(calibration), { count, length: seqlen, seed })` as one [count, seqlen] batch, and the first
 * `pplWindows · seqlen` tokens of `encode(test)`.
 */
export function lmData(tokenizer: Tokenizer, texts: TextSlice, o: { calibrationWindows: number; pplWindows: number; seqlen: number; seed: number }):
  { calibration: tf.Tensor2D; test: Int32Array } {
  const calib = encodeText(tokenizer, texts.calibration, o.seqlen + 1, 'calibration');
  const test = encodeText(tokenizer, texts.test, o.pplWindows * o.seqlen, 'test');
  const windows = sampleWindows(calib, { count: o.calibrationWindows, length: o.seqlen, seed: o.seed });
  return { calibration: windowsToTensor(windows), test: test.subarray(0, o.pplWindows * o.seqlen) };
}

function checkRange(name: string, v: number, lo: number, hi: number): void {
  if (!Number.isInteger(v) || v < lo || v > hi) throw new SiftError('E_CONFIG', `${name} must be an integer in [${lo}, ${hi}], got ${v}.`);
}

async function ppl(model: CausalLM, ids: Int32Array, seqlen: number): Promise<PplInfo> {
  const r = await perplexity(model, ids, { seqlen, batchSize: 4 });
  return { perplexity: r.perplexity, tokens: r.tokens, windows: r.windows };
}

async function greedyText(lm: LoadedLm, prompt: string, maxNewTokens: number): Promise<string> {
  const ids = lm.tokenizer.encode(prompt);
  if (ids.length === 0) return '';
  const room = lm.info.context - ids.length;
  if (room < 1) throw new SiftError('E_CONFIG', `the prompt has ${ids.length} tokens; the model's context is ${lm.info.context}. Shorten it.`);
  const r = await generate(lm.model, ids, { maxNewTokens: Math.min(maxNewTokens, room), stopTokens: [] });
  return lm.tokenizer.decode(r.tokens[0]);
}

/**
 * The backend `pruneModel` runs on. `@sift/nm-sparsity` reads weights and statistics with synchronous reads
 * (`dataSync`); tfjs-backend-webgpu implements those through OffscreenCanvas copies, and in Chromium with the
 * SwiftShader adapter a pruning run's worth of them loses the WebGPU device ("A valid external Instance reference no longer
 * exists"). So on WebGPU the pruning step runs on wasm: every weight is first read back asynchronously (tfjs then
 * keeps a host copy, and moving it to wasm needs no synchronous GPU read), and the backend is switched back afterwards
 * (the pruned weights move to the GPU on their next use). Perplexity and generation stay on WebGPU.
 * @returns the backend to switch back to, or null when nothing was switched
 */
/** Whether the wasm backend is registered (tfjs types `findBackend` as never null; it returns null for an unknown name). */
function hasWasm(): boolean {
  return (tf.findBackend('wasm') as tf.KernelBackend | null) !== null;
}

async function hostReadableBackend(model: CausalLM, calibration: tf.Tensor): Promise<{ from: string; to: string } | null> {
  const from = tf.getBackend();
  if (from !== 'webgpu' || !hasWasm()) return null;
  await Promise.all([...model.namedParameters().map(([, v]) => v.data()), ...model.namedBuffers().map(([, b]) => b.data()), calibration.data()]);
  if (!(await tf.setBackend('wasm'))) return null;
  return { from, to: 'wasm' };
}

async function restoreBackend(switched: { from: string; to: string } | null): Promise<void> {
  if (switched !== null && tf.getBackend() !== switched.from) await tf.setBackend(switched.from);
}

const PRUNE_PHASES: Record<PruneProgress['phase'], string> = {
  calibrate: 'collecting input statistics', equalize: 'equalizing', prune: 'pruning', propagate: 'running the pruned block',
};

/** The heat-map mask (0 pruned, 1 kept, 2 salient) and packed size of one pruned linear. */
function maskLayer(name: string, lin: MaskedLinear, pattern: string, sparsity: number, error: number | null):
  { layer: MaskLayer; bits: { metadata: number; values: number; salient: number; total: number } } {
  const rows = lin.outFeatures;
  const cols = lin.inFeatures;
  const keep = lin.mask.dataSync();
  const sal = lin.salientMask?.dataSync();
  const mask = new Uint8Array(rows * cols);
  const nm = new Uint8Array(rows * cols);
  const salient = sal === undefined ? undefined : new Uint8Array(rows * cols);
  let salientCount = 0;
  for (let i = 0; i < mask.length; i++) {
    const s = sal !== undefined && sal[i] !== 0;
    mask[i] = s ? 2 : keep[i] !== 0 ? 1 : 0;
    if (s && salient !== undefined) {
      salient[i] = 1;
      salientCount++;
    } else if (keep[i] !== 0) nm[i] = 1;
  }
  let bits: { metadata: number; values: number; salient: number; total: number };
  if (pattern === 'unstructured') {
    // Compressed sparse rows: per kept weight a 16-bit value and a column index; 32-bit row pointers.
    let nnz = 0;
    for (const v of mask) if (v !== 0) nnz++;
    const size = rows * cols;
    const idx = Math.ceil(Math.log2(cols));
    bits = { metadata: (nnz * idx + 32 * (rows + 1)) / size, values: (16 * nnz) / size, salient: 0, total: 0 };
    bits.total = bits.metadata + bits.values;
  } else {
    const w = tf.tidy(() => lin.effectiveWeight()) as tf.Tensor2D;
    try {
      const salientLayout = salientCount > 0 ? { k: Math.round((salientCount / rows / cols) * 32), m: 32 } : undefined;
      const packed = packNM({
        weight: w, pattern, nmMask: nm,
        ...(salient !== undefined && salientLayout !== undefined ? { salientMask: salient, salientLayout } : {}),
      });
      bits = bitsPerWeight(packed, 16);
    } finally {
      w.dispose();
    }
  }
  return { layer: { name, rows, cols, mask, sparsity, reconstructionError: error, bitsPerWeight: bits.total }, bits };
}

/**
 * The Sparsity lab: loads the model, measures the dense perplexity and text, prunes every block's linears with
 * `pruneModel` on the calibration windows, and measures the pruned model the same way; returns the masks, bits per
 * weight and bytes.
 */
export async function sparsityJob(p: SparsityParams, ctx: JobContext): Promise<SparsityResult> {
  if (p.pattern !== 'unstructured') parsePattern(p.pattern);
  checkRange('calibrationWindows', p.calibrationWindows, 1, 256);
  checkRange('pplWindows', p.pplWindows, 1, 256);
  checkRange('maxNewTokens', p.maxNewTokens, 1, 256);
  const t0 = performance.now();
  ctx.progress(0, 'loading the model');
  const lm = await loadLm(p.source);
  let calibration: tf.Tensor2D | undefined;
  try {
    checkRange('seqlen', p.seqlen, 2, lm.info.context);
    const data = lmData(lm.tokenizer, p.texts, p);
    calibration = data.calibration;
    const tLoad = performance.now();
    await ctx.checkpoint();
    ctx.progress(0.05, `dense perplexity on ${p.pplWindows} x ${p.seqlen} test tokens`);
    const dense = await ppl(lm.model, data.test, p.seqlen);
    await ctx.checkpoint();
    ctx.progress(0.1, 'dense model: generating text');
    const denseText = await greedyText(lm, p.prompt, p.maxNewTokens);
    const tDense = performance.now();
    await ctx.checkpoint();
    const linears = findLinears(lm.model.blocks()[0]).length * lm.info.blocks;
    const pruneBackend = await hostReadableBackend(lm.model, calibration);
    const layers: MaskLayer[] = [];
    const sum = { metadata: 0, values: 0, salient: 0, total: 0 };
    let weights = 0;
    let report: PruneReport;
    try {
      report = await pruneModel(lm.model, [calibration], {
        method: p.method, pattern: p.pattern, salientFraction: p.salientFraction, salientGroup: 32,
        varianceCorrection: p.varianceCorrection,
      }, {
        onProgress: (q) => {
          ctx.progress(0.15 + (0.7 * (q.layersDone + (q.phase === 'propagate' ? 0 : 0.5))) / linears,
            `block ${q.block + 1}/${q.blocks}: ${PRUNE_PHASES[q.phase]}${q.layer === null ? '' : ` ${q.layer}`}`);
        },
      });
      // The masks and packed sizes, read while the weights are still on the pruning backend.
      const byName = new Map(report.layers.map((l) => [l.name, l]));
      for (const [name, lin] of findLinears(lm.model)) {
        if (!(lin instanceof MaskedLinear)) continue;
        const r = byName.get(name);
        const { layer, bits } = maskLayer(name, lin, p.pattern, r?.sparsity ?? 0, r?.reconstructionError ?? null);
        layers.push(layer);
        const size = layer.rows * layer.cols;
        weights += size;
        sum.metadata += bits.metadata * size;
        sum.values += bits.values * size;
        sum.salient += bits.salient * size;
        sum.total += bits.total * size;
      }
    } finally {
      await restoreBackend(pruneBackend);
    }
    const tPrune = performance.now();
    await ctx.checkpoint();
    ctx.progress(0.85, 'pruned perplexity');
    const pruned = await ppl(lm.model, data.test, p.seqlen);
    ctx.progress(0.92, 'pruned model: generating text');
    const prunedText = await greedyText(lm, p.prompt, p.maxNewTokens);
    const tPruned = performance.now();
    const w = Math.max(1, weights);
    ctx.progress(1, 'done');
    return {
      backend: tf.getBackend(), pruneBackend: pruneBackend?.to ?? tf.getBackend(), model: lm.info, pattern: p.pattern, method: p.method,
      sparsity: report.sparsity, dense, pruned,
      bits: { metadata: sum.metadata / w, values: sum.values / w, salient: sum.salient / w, total: sum.total / w, layout: p.pattern === 'unstructured' ? 'CSR' : 'N:M' },
      bytes: { dense: weights * 2, packed: Math.ceil(sum.total / 8) },
      layers,
      text: { prompt: p.prompt, dense: denseText, pruned: prunedText },
      seconds: { load: (tLoad - t0) / 1000, dense: (tDense - tLoad) / 1000, prune: (tPrune - tDense) / 1000, pruned: (tPruned - tPrune) / 1000 },
    };
  } finally {
    calibration?.dispose();
    lm.model.dispose();
  }
}

/**
 * The Salience & GIFT-SW lab: statistics of one linear's input on the calibration windows, GIFT-SW's column scores
 * s_j and the k salient columns (`selectSalientColumns`), then `applyGiftSw` on that linear and a few `fineTune`
 * steps of the language-model loss on the calibration text, training only its k salient columns.
 */
export async function salienceJob(p: SalienceParams, ctx: JobContext): Promise<SalienceResult> {
  checkRange('steps', p.steps, 0, 1000);
  checkRange('calibrationWindows', p.calibrationWindows, 1, 256);
  // GIFT-SW's selection and noise read weights synchronously: on WebGPU the job runs on wasm (see hostReadableBackend).
  const switched = tf.getBackend() === 'webgpu' && hasWasm() && await tf.setBackend('wasm') ? { from: 'webgpu', to: 'wasm' } : null;
  ctx.progress(0, 'loading the model');
  let lm: LoadedLm;
  try {
    lm = await loadLm(p.source);
  } catch (err) {
    await restoreBackend(switched);
    throw err;
  }
  let calibration: tf.Tensor2D | undefined;
  try {
    checkRange('seqlen', p.seqlen, 2, lm.info.context);
    const all = findLinears(lm.model);
    const linears = all.map(([name, l]: [string, Linear]) => ({ name, rows: l.outFeatures, cols: l.inFeatures }));
    const layer = p.layer === '' ? linears[0]?.name ?? '' : p.layer;
    const target = all.find(([n]) => n === layer)?.[1];
    if (target === undefined) {
      throw new SiftError('E_CONFIG', `the model has no linear "${layer}"; choose one of ${linears.slice(0, 8).map((l) => l.name).join(', ')}, ...`);
    }
    checkRange('k', p.k, 1, target.inFeatures - 1);
    const calib = encodeText(lm.tokenizer, p.texts.calibration, p.seqlen + 1, 'calibration');
    calibration = windowsToTensor(sampleWindows(calib, { count: p.calibrationWindows, length: p.seqlen, seed: p.seed }));
    const ids = calibration;
    await ctx.checkpoint();
    ctx.progress(0.05, `input statistics of ${layer}`);
    const stats = await collectLinearStats(lm.model, { include: [layer] }, () => {
      tf.dispose(tf.tidy(() => lm.model.forward(ids)));
    });
    let result: SalienceResult;
    try {
      const st = stats.get(layer);
      if (st === undefined) throw new SiftError('E_CONFIG', `no statistics were collected for ${layer}.`);
      const sel = selectSalientColumns(target.weight as tf.Variable<tf.Rank.R2>, st, { k: p.k, metric: p.metric });
      await ctx.checkpoint();
      ctx.progress(0.2, `GIFT-SW on ${layer}: ${p.k} salient columns`);
      const gift = applyGiftSw(lm.model, { targets: [layer], exclude: [], k: p.k, metric: p.metric, seed: p.seed }, { stats });
      let losses: number[] = [];
      let msPerStep = 0;
      if (p.steps > 0) {
        // Every step trains on the same batch, all calibration windows, so the curve shows the fit of the k columns.
        const report = await fineTune(lm.model, () => lm.model.loss(ids), async (step) => {
          await ctx.checkpoint();
          ctx.progress(0.2 + (0.8 * step) / p.steps, `fine-tuning step ${step + 1}/${p.steps}`);
        }, { steps: p.steps, lr: p.lr, schedule: 'constant' }, {
          onProgress: (q) => { ctx.progress(0.2 + (0.8 * q.step) / q.of, `step ${q.step}/${q.of}: loss ${q.loss.toFixed(3)}`); },
        });
        losses = report.losses;
        msPerStep = report.msPerStep;
      }
      result = {
        backend: tf.getBackend(), model: lm.info, linears, layer, rows: target.outFeatures, cols: target.inFeatures,
        metric: p.metric, scores: sel.scores, salient: Array.from(sel.columns), losses,
        trainableParams: gift.trainableParams, totalParams: gift.totalParams, msPerStep,
      };
    } finally {
      for (const s of stats.values()) s.dispose();
    }
    ctx.progress(1, 'done');
    return result;
  } finally {
    calibration?.dispose();
    lm.model.dispose();
    await restoreBackend(switched);
  }
}
