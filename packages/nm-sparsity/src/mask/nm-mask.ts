/**
 * Masks from scores, as tensors: N:M along the input dimension, unstructured per row or per layer, and salient
 * (outlier) entries. Any score of `@sift/salience` (or your own [out, in] tensor, larger = keep) plugs in.
 */
import * as tf from '@tensorflow/tfjs-core';
import { SiftError, fmtShape } from '@sift/tensor-core';
import { checkDivisible, parsePattern, type PatternLike } from '../pattern.js';
import { selectSalient, type SalientPattern } from './salient.js';
import { checkScores, selectNM, selectUnstructured } from './select.js';

function read(scores: tf.Tensor2D, where: string): { s: Float32Array; rows: number; cols: number } {
  if (!((scores as unknown) instanceof tf.Tensor) || scores.rank !== 2) {
    throw new SiftError('E_SHAPE', `${where}: scores must be a tf.Tensor2D [out, in], got ${scores instanceof tf.Tensor ? fmtShape(scores.shape) : typeof scores}.`);
  }
  const s = Float32Array.from(scores.dataSync());
  checkScores(s, where);
  return { s, rows: scores.shape[0], cols: scores.shape[1] };
}

function salientArray(salient: tf.Tensor2D | undefined, rows: number, cols: number, where: string): Uint8Array | null {
  if (salient === undefined) return null;
  if (salient.shape.join() !== [rows, cols].join()) throw new SiftError('E_SHAPE', `${where}: salient mask is ${fmtShape(salient.shape)}, scores are ${fmtShape([rows, cols])}.`);
  return Uint8Array.from(salient.dataSync(), (v) => (v !== 0 ? 1 : 0));
}

function toTensor(keep: Uint8Array, salient: Uint8Array | null, rows: number, cols: number): tf.Tensor2D {
  const f = new Float32Array(keep); // 0/1 as float32 (a native conversion; a loop with `salient?.[i]` took 8 ns per entry)
  if (salient !== null) for (let i = 0; i < f.length; i++) if (salient[i] === 1) f[i] = 1;
  return tf.tensor2d(f, [rows, cols]);
}

/** Options of the mask functions that take salient entries. */
export interface MaskSalientOptions {
  /** 0/1 [out, in]: entries kept dense regardless; they are never pruned and are included in the returned mask. */
  salient?: tf.Tensor2D;
  /** Whether salient entries count toward the N (or the kept count). Default true. */
  countSalient?: boolean;
}

/**
 * N:M mask: in each row, every group of M consecutive input columns keeps its N highest scores (ties: lower index).
 * @param scores [out, in], larger = keep; `in` must be a multiple of M
 * @returns      0/1 float32 [out, in] (a new tensor)
 * @throws SiftError 'E_SHAPE' when `in % M != 0` (naming the patterns that would fit), 'E_CONFIG' for a bad pattern
 * @example
 * const mask = nmMask(wandaScore(w, stats), '8:16');
 */
export function nmMask(scores: tf.Tensor2D, pattern: PatternLike, options: MaskSalientOptions = {}): tf.Tensor2D {
  const p = parsePattern(pattern, 'nmMask');
  const { s, rows, cols } = read(scores, 'nmMask');
  checkDivisible(cols, p, 'nmMask');
  const sal = salientArray(options.salient, rows, cols, 'nmMask');
  return toTensor(selectNM(s, rows, cols, p.n, p.m, sal, options.countSalient ?? true), sal, rows, cols);
}

/**
 * Unstructured mask at `sparsity` (the pruned count round(sparsity·size) per row or per layer; ties: lower index kept).
 * @param scores [out, in]
 * @param options.sparsity in [0, 1); `scope` `'row'` (Wanda) or `'layer'` (one threshold)
 */
export function unstructuredMask(scores: tf.Tensor2D, options: { sparsity: number; scope?: 'row' | 'layer' } & MaskSalientOptions): tf.Tensor2D {
  const { sparsity, scope = 'row' } = options;
  if (!(sparsity >= 0 && sparsity < 1)) throw new SiftError('E_CONFIG', `unstructuredMask: sparsity must be in [0, 1), got ${sparsity}.`);
  if (!(['row', 'layer'] as unknown[]).includes(scope)) throw new SiftError('E_CONFIG', `unstructuredMask: scope must be 'row' or 'layer', got ${JSON.stringify(scope)}.`);
  const { s, rows, cols } = read(scores, 'unstructuredMask');
  const sal = salientArray(options.salient, rows, cols, 'unstructuredMask');
  return toTensor(selectUnstructured(s, rows, cols, sparsity, scope, sal, options.countSalient ?? true), sal, rows, cols);
}

/**
 * Salient entries: the top fraction ρ of the scores, as k:M' per row along the input dimension (`'structured'`,
 * k = ρ·M') or unstructured per `'row'` / `'layer'` at the same count.
 * @returns 0/1 float32 [out, in], 1 = salient
 * @example
 * const sal = salientMask(scores, { fraction: 1 / 32, pattern: 'structured', group: 32 }); // 1:32
 * const mask = nmMask(scores, '8:16', { salient: sal });
 */
export function salientMask(scores: tf.Tensor2D, options: { fraction: number; pattern: SalientPattern; group?: number }): tf.Tensor2D {
  const { s, rows, cols } = read(scores, 'salientMask');
  if (!(options.fraction > 0 && options.fraction < 0.5)) throw new SiftError('E_CONFIG', `salientMask: fraction must be in (0, 0.5), got ${options.fraction}.`);
  const sal = selectSalient(s, rows, cols, options.fraction, options.pattern, options.group ?? 32, 'salientMask');
  return toTensor(sal, null, rows, cols);
}
