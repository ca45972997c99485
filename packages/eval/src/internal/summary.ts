/** Mean and spread of repeated measurements (seeds, folds). */
export interface Summary {
  /** Arithmetic mean of `values`. */
  mean: number;
  /** Sample standard deviation (n - 1 in the denominator); 0 for a single value. */
  std: number;
  /** The measurements, in run order. */
  values: number[];
}

/**
 * Summarises repeated runs as mean +- sample std (ddof 1, as pandas' `std()` which ptls-experiments' tables use).
 * @example
 * summarize([0.6, 0.62, 0.64]); // { mean: 0.62, std: 0.02, values: [...] }
 */
export function summarize(values: readonly number[]): Summary {
  const n = values.length;
  if (n === 0) return { mean: Number.NaN, std: Number.NaN, values: [] };
  let mean = 0;
  for (const v of values) mean += v;
  mean /= n;
  let ss = 0;
  for (const v of values) ss += (v - mean) ** 2;
  return { mean, std: n > 1 ? Math.sqrt(ss / (n - 1)) : 0, values: [...values] };
}
