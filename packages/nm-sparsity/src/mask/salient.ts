import { SiftError } from '@sift/tensor-core';
import { checkDivisible } from '../pattern.js';
import { selectNM, selectUnstructured, type Scores } from './select.js';

/** How salient (outlier) weights are laid out: k:M' along the input dimension, or unstructured per row / per layer. */
export type SalientPattern = 'structured' | 'row' | 'layer';

/** k of the structured k:M' salient pattern for a fraction ρ (ρ·M' must be a positive integer). */
export function salientK(fraction: number, group: number, where: string): number {
  const k = Math.round(fraction * group);
  if (k < 1 || Math.abs(k - fraction * group) > 1e-9 || k >= group) {
    throw new SiftError('E_CONFIG', `${where}: salientFraction ${fraction} × salientGroup ${group} = ${fraction * group} must be a ` +
      `whole number in [1, ${group}) for the structured k:M' pattern (e.g. 1/32 with group 32 gives 1:32, 1/16 with 32 gives 2:32).`);
  }
  return k;
}

/**
 * Chooses the salient entries of a [rows, cols] score: the top fraction ρ, either as k:M' per row along the input
 * dimension (`'structured'`, k = ρ·M'), or unstructured at the same count per row or per layer.
 * @returns a 0/1 mask, 1 = salient
 */
export function selectSalient(score: Scores, rows: number, cols: number, fraction: number, pattern: SalientPattern,
  group: number, where: string): Uint8Array {
  if (pattern === 'structured') {
    const k = salientK(fraction, group, where);
    checkDivisible(cols, { n: k, m: group }, `${where} (salient ${k}:${group})`);
    return selectNM(score, rows, cols, k, group);
  }
  return selectUnstructured(score, rows, cols, 1 - fraction, pattern);
}
