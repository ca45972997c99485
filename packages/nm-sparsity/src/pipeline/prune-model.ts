/**
 * Block-by-block pruning over any `SequentialModel` (the Wanda/SparseGPT protocol, written once): calibration batches
 * are embedded; for each block, forward hooks collect every linear's input statistics while the block runs, the
 * block's linears are pruned, and the pruned block's outputs become the next block's inputs.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  ActivationStats, LayerNorm, Linear, type Module, RMSNorm, SiftError, findLinears, type SequentialModel,
} from '@sift/tensor-core';
import { equalize } from '../corrections/equalize.js';
import { MaskedLinear } from '../masked-linear.js';
import { PRUNE_DEFAULTS, parsePruneOptions, type PruneOptions } from '../methods/config.js';
import { pruneLayer, type LayerReport } from '../methods/prune-layer.js';

/** One equalization group inside a block: the module producing an activation and the linears reading it. */
export interface EqualizeGroup {
  /** Block-relative path of a LayerNorm/RMSNorm or Linear, e.g. `'ln_1'`, `'attn.v_proj'`. */
  previous: string;
  /** Block-relative paths of the linears reading its output, e.g. `['attn.q_proj', 'attn.k_proj', 'attn.v_proj']`. */
  consumers: string[];
}

/** Options of `pruneModel`: `PruneOptions` plus what the pipeline adds. Plain and serializable. */
export interface PruneModelOptions extends PruneOptions {
  /** Block-relative glob patterns of the linears to prune (`'attn.*'`, `'**.c_fc'`); empty = every linear. */
  include: string[];
  /** Block-relative glob patterns of linears to leave dense. */
  exclude: string[];
  /** SmoothQuant-like equalization strength α before pruning, or null for none. */
  equalizeAlpha: number | null;
  /** Where to equalize (block-relative); needed when `equalizeAlpha` is set. */
  equalizeGroups: EqualizeGroup[];
  /** Swap pruned linears for `MaskedLinear` (true), or write the masked weights into the existing linears (false). */
  replace: boolean;
}

/** Defaults of `PruneModelOptions`. */
export const PRUNE_MODEL_DEFAULTS: Readonly<PruneModelOptions> = Object.freeze({
  ...PRUNE_DEFAULTS,
  include: [],
  exclude: [],
  equalizeAlpha: null,
  equalizeGroups: [],
  replace: true,
});

/** A progress event. */
export interface PruneProgress {
  /** Block index. */
  block: number;
  blocks: number;
  phase: 'calibrate' | 'equalize' | 'prune' | 'propagate';
  /** Full path of the layer being pruned (phase 'prune'), else null. */
  layer: string | null;
  /** Layers pruned so far, over all blocks. */
  layersDone: number;
}

/** What `pruneModel` returns. */
export interface PruneReport {
  /** One entry per pruned linear, in order. */
  layers: LayerReport[];
  /** Equalization per group, when on: block, previous module, max/min of s. */
  equalization: { block: number; previous: string; spread: number }[];
  /** Fraction of zeros over all pruned linears' weights. */
  sparsity: number;
  /** Calibration batches used. */
  batches: number;
  /** Wall time in milliseconds. */
  totalMs: number;
  /** The options used (serializable). */
  options: PruneModelOptions;
}

function parseModelOptions(input: Partial<PruneModelOptions>): PruneModelOptions {
  const extra = ['include', 'exclude', 'equalizeAlpha', 'equalizeGroups', 'replace'] as const;
  const base: Partial<PruneOptions> = {};
  for (const [k, v] of Object.entries(input)) if (!(extra as readonly string[]).includes(k)) (base as Record<string, unknown>)[k] = v;
  const parsed = parsePruneOptions(base);
  const o: PruneModelOptions = { ...PRUNE_MODEL_DEFAULTS, ...input };
  for (const k of ['include', 'exclude'] as const) {
    if (!Array.isArray(o[k]) || o[k].some((p) => typeof p !== 'string')) throw new SiftError('E_CONFIG', `pruneModel: ${k} must be an array of glob strings, got ${JSON.stringify(o[k])}.`);
  }
  if (o.equalizeAlpha !== null && !(typeof o.equalizeAlpha === 'number' && o.equalizeAlpha >= 0 && o.equalizeAlpha <= 1)) {
    throw new SiftError('E_CONFIG', `pruneModel: equalizeAlpha must be null or in [0, 1] (0.5 in SmoothQuant), got ${JSON.stringify(o.equalizeAlpha)}.`);
  }
  if (o.equalizeAlpha !== null && o.equalizeGroups.length === 0) {
    throw new SiftError('E_CONFIG', "pruneModel: equalizeAlpha is set but equalizeGroups is empty; name each norm and its consumers, e.g. [{ previous: 'ln_1', consumers: ['attn.q_proj', 'attn.k_proj', 'attn.v_proj'] }].");
  }
  if (typeof o.replace !== 'boolean') throw new SiftError('E_CONFIG', `pruneModel: replace must be a boolean, got ${JSON.stringify(o.replace)}.`);
  return { ...o, ...Object.fromEntries(Object.keys(PRUNE_DEFAULTS).map((k) => [k, (parsed as unknown as Record<string, unknown>)[k]])) };
}

function runAll<H extends tf.TensorContainer, B>(model: SequentialModel<H, B>, i: number, hs: H[]): void {
  for (const h of hs) {
    const out = tf.tidy(() => model.runBlock(i, h));
    tf.dispose(out);
  }
}

/**
 * Prunes every selected linear of every block of `model`, in place, block by block on the calibration batches.
 * @param model        any tensor-core `SequentialModel` (an `@sift/lm` model, or your own)
 * @param calibration  batches for `model.embed` (e.g. int32 token ids [B, T])
 * @param options      `PRUNE_MODEL_DEFAULTS` merged with yours
 * @param callbacks.onProgress  called at each phase of each block
 * @returns            a per-layer report (sparsity, reconstruction error on calibration data, time)
 * @example
 * const report = await pruneModel(model, batches, { method: 'sparsegpt', pattern: '8:16' }, { onProgress: (p) => console.log(p) });
 */
export async function pruneModel<H extends tf.TensorContainer, B>(
  model: SequentialModel<H, B>,
  calibration: readonly B[],
  options: Partial<PruneModelOptions> = {},
  callbacks: { onProgress?: (p: PruneProgress) => void } = {},
): Promise<PruneReport> {
  const t0 = performance.now();
  const o = parseModelOptions(options);
  const resolved = parsePruneOptions(Object.fromEntries(Object.keys(PRUNE_DEFAULTS).map((k) => [k, (o as unknown as Record<string, unknown>)[k]])));
  if (calibration.length === 0) throw new SiftError('E_EMPTY', 'pruneModel: give at least one calibration batch.');
  const blocks = model.blocks().length;
  const layers: LayerReport[] = [];
  const eq: PruneReport['equalization'] = [];
  const progress = (p: Omit<PruneProgress, 'blocks' | 'layersDone'>): void => callbacks.onProgress?.({ ...p, blocks, layersDone: layers.length });
  let zeros = 0;
  let total = 0;
  let hs: H[] = calibration.map((b) => tf.tidy(() => model.embed(b)));
  try {
    for (let i = 0; i < blocks; i++) {
      const block: Module = model.blocks()[i];
      const prefix = model.blockPath(i);
      if (o.equalizeAlpha !== null) {
        progress({ block: i, phase: 'equalize', layer: null });
        for (const g of o.equalizeGroups) {
          const prev = block.getModule(g.previous);
          if (!(prev instanceof LayerNorm || prev instanceof RMSNorm || prev instanceof Linear)) {
            throw new SiftError('E_CONFIG', `pruneModel: equalizeGroups previous "${prefix}.${g.previous}" is a ${prev.constructor.name}; it must be a LayerNorm, RMSNorm or Linear.`);
          }
          const consumers = g.consumers.map((c) => block.getModule(c, Linear));
          const st = new ActivationStats({ name: `${prefix}.${g.consumers[0]} input`, sqNorm: false, moments: false, maxAbs: true });
          const remove = consumers[0].registerForwardHook((_m, [x]) => {
            st.update(x);
          });
          try {
            runAll(model, i, hs);
          } finally {
            remove();
          }
          const r = equalize(prev, consumers, st.maxAbs(), o.equalizeAlpha);
          st.dispose();
          eq.push({ block: i, previous: `${prefix}.${g.previous}`, spread: r.spread });
        }
      }
      const filter = { ...(o.include.length > 0 ? { include: o.include } : {}), ...(o.exclude.length > 0 ? { exclude: o.exclude } : {}) };
      const targets = findLinears(block, filter).filter(([, l]) => !(l instanceof MaskedLinear));
      progress({ block: i, phase: 'calibrate', layer: null });
      // XᵀX (in² float64 numbers per linear) only when something reads it: SparseGPT, data-driven correction, the report.
      const gram = resolved.method === 'sparsegpt' || resolved.varianceCorrection === 'data-driven' || resolved.reportError;
      const stats = targets.map(([p]) => new ActivationStats({ name: `${prefix}.${p} input`, gram, moments: true, sqNorm: true, maxAbs: false }));
      const removers = targets.map(([, lin], k) => lin.registerForwardHook((_m, [x]) => {
        stats[k].update(x);
      }));
      try {
        runAll(model, i, hs);
      } finally {
        for (const r of removers) r();
      }
      try {
        for (const [k, [path, lin]] of targets.entries()) {
          const name = `${prefix}.${path}`;
          progress({ block: i, phase: 'prune', layer: name });
          const r = pruneLayer({ name, weight: lin.weight as tf.Variable<tf.Rank.R2>, bias: lin.bias, stats: stats[k] }, resolved);
          layers.push(r.report);
          const wv = r.weight;
          const nw = wv.length;
          for (let q = 0; q < nw; q++) if (wv[q] === 0) zeros++; // indexed: for-of over a typed array is slow in V8
          total += r.weight.length;
          tf.tidy(() => {
            lin.weight.assign(tf.tensor2d(r.weight, [lin.outFeatures, lin.inFeatures]));
            if (r.bias !== null) lin.bias!.assign(tf.tensor1d(r.bias));
          });
          if (o.replace) {
            const masked = MaskedLinear.fromLinear(lin, r.mask, resolved.nm, r.salient ?? undefined);
            block.replace(path, masked).dispose();
          }
        }
      } finally {
        for (const s of stats) s.dispose();
      }
      progress({ block: i, phase: 'propagate', layer: null });
      const next = hs.map((h) => tf.tidy(() => model.runBlock(i, h)));
      tf.dispose(hs);
      hs = next;
      await Promise.resolve();
    }
  } finally {
    tf.dispose(hs);
  }
  return { layers, equalization: eq, sparsity: total > 0 ? zeros / total : 0, batches: calibration.length, totalMs: performance.now() - t0, options: o };
}
