import { SiftError } from '@sift/tensor-core';
import { parsePattern, type NMPattern } from '../pattern.js';
import type { SalientPattern } from '../mask/salient.js';

/** The pruning criteria: magnitude |W|, Wanda |W|·‖X‖₂, SparseGPT (OBS with weight updates). */
export type MethodName = 'magnitude' | 'wanda' | 'sparsegpt';

/** Where an unstructured mask compares weights: per output row, per layer, or per (rows × blockSize) block. */
export type UnstructuredScope = 'auto' | 'row' | 'layer' | 'block';

/** Variance correction (the sparsity brief §2.4): none, (a) data-free per row, (b) data-driven per output channel. */
export type VarianceCorrection = 'none' | 'data-free' | 'data-driven';

/**
 * Options of `pruneLayer` and `pruneModel`: one plain, serializable object. Defaults: `PRUNE_DEFAULTS`.
 */
export interface PruneOptions {
  /** The criterion. */
  method: MethodName;
  /** `'N:M'` (e.g. `'2:4'`, `'8:16'`) along the input dimension, or `'unstructured'`. */
  pattern: string;
  /** Fraction of weights pruned, in [0, 1), for `'unstructured'` (an N:M pattern implies 1 − N/M). */
  sparsity: number;
  /**
   * Unstructured only: `'row'` (Wanda's per-output comparison), `'layer'` (one threshold, classic magnitude),
   * `'block'` (SparseGPT's adaptive mask per rows × blockSize block, the only scope SparseGPT supports), or `'auto'`
   * (magnitude: layer, wanda: row, sparsegpt: block).
   */
  scope: UnstructuredScope;
  /** SparseGPT: columns per block of OBS updates (lazy batch updates between blocks); a multiple of M. */
  blockSize: number;
  /** SparseGPT: damping λ, adding λ·mean(diag H) to H's diagonal (`percdamp`). */
  dampPercent: number;
  /** ρ: fraction of weights kept dense beside the sparse part (salient / outlier weights); 0 = none. */
  salientFraction: number;
  /** Layout of the salient weights: `'structured'` k:M' along the input dimension, or unstructured per `'row'` / `'layer'`. */
  salientPattern: SalientPattern;
  /** M' of the structured salient pattern; k = ρ·M' must be a whole number. */
  salientGroup: number;
  /** Whether salient weights count toward the N kept per group (true: N in total; false: N besides them). */
  salientCountsTowardN: boolean;
  /** Variance correction folded into the weights after pruning. */
  varianceCorrection: VarianceCorrection;
  /** Data-driven correction only: also shift the bias so the output mean matches the dense one (needs a bias). */
  meanFix: boolean;
  /**
   * Compute the report's reconstruction error on the calibration data (two [out, in] × [in, in] products) when the
   * input Gram matrix is available.
   */
  reportError: boolean;
}

/** Defaults of `PruneOptions`: Wanda at 8:16, no salient weights, no correction. */
export const PRUNE_DEFAULTS: Readonly<PruneOptions> = Object.freeze({
  method: 'wanda',
  pattern: '8:16',
  sparsity: 0.5,
  scope: 'auto',
  blockSize: 128,
  dampPercent: 0.01,
  salientFraction: 0,
  salientPattern: 'structured',
  salientGroup: 32,
  salientCountsTowardN: true,
  varianceCorrection: 'none',
  meanFix: false,
  reportError: true,
});

const METHODS: readonly MethodName[] = ['magnitude', 'wanda', 'sparsegpt'];
const SCOPES: readonly UnstructuredScope[] = ['auto', 'row', 'layer', 'block'];
const SALIENT: readonly SalientPattern[] = ['structured', 'row', 'layer'];
const VC: readonly VarianceCorrection[] = ['none', 'data-free', 'data-driven'];

/** Parsed options plus the resolved pattern and scope. */
export interface ResolvedPruneOptions extends PruneOptions {
  /** The N:M pattern, or null for unstructured. */
  nm: NMPattern | null;
  /** The scope actually used (unstructured). */
  resolvedScope: 'row' | 'layer' | 'block';
}

function oneOf(o: Record<string, unknown>, key: string, allowed: readonly string[]): void {
  if (!(allowed as readonly unknown[]).includes(o[key])) {
    throw new SiftError('E_CONFIG', `prune options: ${key} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${JSON.stringify(o[key])}.`);
  }
}

/**
 * Merges `input` over `PRUNE_DEFAULTS` and validates every field (SiftError 'E_CONFIG' naming the field, the value and
 * the valid choices). Unknown keys are rejected, so a typo does not silently fall back to a default.
 */
export function parsePruneOptions(input: Partial<PruneOptions> = {}): ResolvedPruneOptions {
  for (const k of Object.keys(input)) {
    if (!(k in PRUNE_DEFAULTS)) throw new SiftError('E_CONFIG', `prune options: unknown option "${k}"; valid options are ${Object.keys(PRUNE_DEFAULTS).join(', ')}.`);
  }
  const o: PruneOptions = { ...PRUNE_DEFAULTS, ...input };
  const rec = o as unknown as Record<string, unknown>;
  oneOf(rec, 'method', METHODS);
  oneOf(rec, 'scope', SCOPES);
  oneOf(rec, 'salientPattern', SALIENT);
  oneOf(rec, 'varianceCorrection', VC);
  for (const k of ['salientCountsTowardN', 'meanFix', 'reportError'] as const) {
    if (typeof o[k] !== 'boolean') throw new SiftError('E_CONFIG', `prune options: ${k} must be a boolean, got ${JSON.stringify(o[k])}.`);
  }
  const nm = o.pattern === 'unstructured' ? null : parsePattern(o.pattern, 'prune options: pattern');
  if (!(typeof o.sparsity === 'number' && o.sparsity >= 0 && o.sparsity < 1)) {
    throw new SiftError('E_CONFIG', `prune options: sparsity must be a number in [0, 1), got ${JSON.stringify(o.sparsity)}.`);
  }
  if (!(Number.isInteger(o.blockSize) && o.blockSize > 0)) throw new SiftError('E_CONFIG', `prune options: blockSize must be a positive integer, got ${JSON.stringify(o.blockSize)}.`);
  if (nm !== null && o.blockSize % nm.m !== 0) {
    throw new SiftError('E_CONFIG', `prune options: blockSize ${o.blockSize} must be a multiple of M=${nm.m} so N:M groups do not straddle SparseGPT blocks; use 128.`);
  }
  if (!(typeof o.dampPercent === 'number' && o.dampPercent >= 0 && Number.isFinite(o.dampPercent))) {
    throw new SiftError('E_CONFIG', `prune options: dampPercent must be a finite number >= 0 (SparseGPT uses 0.01), got ${JSON.stringify(o.dampPercent)}.`);
  }
  if (!(typeof o.salientFraction === 'number' && o.salientFraction >= 0 && o.salientFraction < 0.5)) {
    throw new SiftError('E_CONFIG', `prune options: salientFraction must be in [0, 0.5), e.g. 1/32 or 1/16, got ${JSON.stringify(o.salientFraction)}.`);
  }
  if (!(Number.isInteger(o.salientGroup) && o.salientGroup >= 2)) throw new SiftError('E_CONFIG', `prune options: salientGroup must be an integer >= 2, got ${JSON.stringify(o.salientGroup)}.`);
  if (o.meanFix && o.varianceCorrection !== 'data-driven') {
    throw new SiftError('E_CONFIG', `prune options: meanFix needs varianceCorrection 'data-driven' (it matches the output mean on calibration data), got '${o.varianceCorrection}'.`);
  }
  let resolvedScope: 'row' | 'layer' | 'block';
  if (o.scope === 'auto') resolvedScope = o.method === 'sparsegpt' ? 'block' : o.method === 'wanda' ? 'row' : 'layer';
  else resolvedScope = o.scope;
  if (nm === null && o.method === 'sparsegpt' && resolvedScope !== 'block') {
    throw new SiftError('E_CONFIG', `prune options: unstructured SparseGPT chooses its mask per rows × blockSize block (scope 'block' or 'auto'), got scope '${o.scope}'.`);
  }
  if (nm === null && o.method !== 'sparsegpt' && resolvedScope === 'block') {
    throw new SiftError('E_CONFIG', `prune options: scope 'block' is SparseGPT's; ${o.method} uses 'row' or 'layer'.`);
  }
  return { ...o, nm, resolvedScope };
}
