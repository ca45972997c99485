import { SiftError } from '@sift/tensor-core';

/**
 * The indices of the `k` highest scores, in ascending index order (ready for `tf.gather` along the input axis). Ties
 * go to the lower index, so the choice is deterministic.
 * @param scores [in] column scores (e.g. `generalizedScore`)
 * @param k      0 <= k <= scores.length
 * @returns      Int32Array of k indices, ascending
 * @throws SiftError 'E_CONFIG' for a bad k, 'E_NAN' for a NaN score
 * @example
 * topColumns([0.1, 5, 2, 7], 2); // Int32Array [1, 3]
 */
export function topColumns(scores: ArrayLike<number>, k: number): Int32Array {
  const n = scores.length;
  if (!Number.isInteger(k) || k < 0 || k > n) {
    throw new SiftError('E_CONFIG', `topColumns: k must be an integer in [0, ${n}] (the number of columns), got ${k}.`);
  }
  for (let j = 0; j < n; j++) {
    if (Number.isNaN(scores[j])) throw new SiftError('E_NAN', `topColumns: score ${j} is NaN; check the statistics the scores came from.`);
  }
  const order = Array.from({ length: n }, (_, j) => j);
  order.sort((a, b) => scores[b] - scores[a] || a - b);
  return Int32Array.from(order.slice(0, k)).sort();
}
