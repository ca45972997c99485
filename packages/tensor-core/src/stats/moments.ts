/**
 * Per-channel count, mean and sum of squared deviations (M2) in float64, merged with the parallel update of Chan, Golub
 * & LeVeque ("Updating formulae and a pairwise algorithm for computing sample variances", 1979; the batch form of
 * Welford's online algorithm): for parts a and b with δ = μ_b − μ_a and n = n_a + n_b,
 *   μ = μ_a + δ·n_b/n,   M2 = M2_a + M2_b + δ²·n_a·n_b/n.
 * Each batch arrives as its own (n_b, μ_b, M2_b), computed on the device with a two-pass (centred) reduction, so no
 * sum of squares is ever differenced.
 */
export class Moments {
  /** Samples seen. */
  count = 0;
  /** Running mean per channel. */
  readonly mean: Float64Array;
  /** Σ (x − mean)² per channel. */
  readonly m2: Float64Array;

  constructor(dim: number) {
    this.mean = new Float64Array(dim);
    this.m2 = new Float64Array(dim);
  }

  /** Folds in a part with `n` samples, per-channel mean `mean` and M2 `m2`. */
  add(n: number, mean: ArrayLike<number>, m2: ArrayLike<number>): void {
    if (n === 0) return;
    const na = this.count;
    const total = na + n;
    const fb = n / total;
    const cross = (na * n) / total;
    for (let j = 0; j < this.mean.length; j++) {
      const delta = mean[j] - this.mean[j];
      this.mean[j] += delta * fb;
      this.m2[j] += m2[j] + delta * delta * cross;
    }
    this.count = total;
  }

  /** A copy. */
  clone(): Moments {
    const m = new Moments(this.mean.length);
    m.count = this.count;
    m.mean.set(this.mean);
    m.m2.set(this.m2);
    return m;
  }

  /** Population variance M2/n (ddof 0) or, with `unbiased`, M2/(n−1). */
  variance(unbiased: boolean): Float64Array {
    const d = unbiased ? this.count - 1 : this.count;
    return this.m2.map((v) => (d > 0 ? v / d : 0));
  }
}
