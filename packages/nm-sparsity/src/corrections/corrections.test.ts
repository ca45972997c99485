import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { ActivationStats, LayerNorm, Linear, MultiHeadAttention, RMSNorm } from '@sift/tensor-core';
import { expectNoLeak, expectTensorsClose, seeded } from '@sift/tensor-core/testing';
import { pruneLayer } from '../methods/prune-layer.js';
import { equalize } from './equalize.js';
import { dataFreeGamma, varianceCorrect } from './variance.js';

/** Calibration-like inputs with outlier channels, [T, d]. */
function inputs(name: string, t: number, d: number): tf.Tensor2D {
  const rng = seeded(name);
  const x = rng.fillNormal(new Float32Array(t * d));
  for (let i = 0; i < t; i++) for (let j = 0; j < d; j += 11) x[i * d + j] *= 12;
  return tf.tensor2d(x, [t, d]);
}

function statsOf(x: tf.Tensor, name = 'x'): ActivationStats {
  const s = new ActivationStats({ name, gram: true });
  s.update(x);
  return s;
}

describe('SmoothQuant-like equalization', () => {
  it('LayerNorm -> attention (q, k, v) and v_proj -> o_proj: the dense function is unchanged', () => {
    const d = 32;
    const rng = seeded('eq-attn');
    const ln = new LayerNorm({ dim: d });
    const attn = new MultiHeadAttention({ dModel: d, nHeads: 4, rng: rng.fork('attn') });
    tf.tidy(() => {
      ln.weight!.assign(tf.add(1, rng.fork('g').normalTensor([d], 0, 0.3)));
      ln.bias!.assign(rng.fork('b').normalTensor([d], 0, 0.3));
    });
    const x = tf.reshape(inputs('eq-x', 2 * 16, d), [2, 16, d]);
    const f = (): tf.Tensor => tf.tidy(() => attn.forward(ln.forward(x)));
    const before = f();
    const h = tf.tidy(() => tf.reshape(ln.forward(x), [-1, d]));
    const st = statsOf(h);
    const r1 = equalize(ln, [attn.q_proj, attn.k_proj, attn.v_proj], st.maxAbs(), 0.5);
    expect(r1.foldedInto).toBe('layernorm');
    expect(r1.spread).toBeGreaterThan(2);
    // o_proj reads softmax·V: per-channel linear in v_proj's outputs, so s⁻¹ folds into v_proj's rows.
    const vOut = new ActivationStats({ name: 'o input' });
    const rm = attn.o_proj.registerForwardHook((_m, [xi]) => { vOut.update(xi); });
    tf.dispose(f());
    rm();
    const r2 = equalize(attn.v_proj, [attn.o_proj], vOut.maxAbs(), 0.5);
    expect(r2.foldedInto).toBe('linear');
    const after = f();
    expectTensorsClose(after, before, { atol: 2e-4, rtol: 2e-4, label: 'equalized attention' });
    tf.dispose([x, before, after, h]);
    st.dispose();
    vOut.dispose();
    ln.dispose();
    attn.dispose();
  });

  it("RMSNorm -> linear: function unchanged, Wanda's 8:16 mask unchanged, magnitude's mask changes", () => {
    const d = 64;
    const rng = seeded('eq-wanda');
    const norm = new RMSNorm({ dim: d });
    const fc = new Linear({ inFeatures: d, outFeatures: 48, rng: rng.fork('fc') });
    const x = inputs('eq-w-x', 128, d);
    const h0 = norm.forward(x);
    const y0 = fc.forward(h0);
    const s0 = statsOf(h0);
    const wanda0 = pruneLayer({ weight: fc.weight as tf.Variable<tf.Rank.R2>, stats: s0 }, { method: 'wanda', pattern: '8:16' });
    const mag0 = pruneLayer({ weight: fc.weight as tf.Variable<tf.Rank.R2> }, { method: 'magnitude', pattern: '8:16' });
    equalize(norm, [fc], s0.maxAbs(), 0.5);
    const h1 = norm.forward(x);
    const y1 = fc.forward(h1);
    expectTensorsClose(y1, y0, { atol: 2e-4, rtol: 2e-4 });
    const s1 = statsOf(h1);
    const wanda1 = pruneLayer({ weight: fc.weight as tf.Variable<tf.Rank.R2>, stats: s1 }, { method: 'wanda', pattern: '8:16' });
    const mag1 = pruneLayer({ weight: fc.weight as tf.Variable<tf.Rank.R2> }, { method: 'magnitude', pattern: '8:16' });
    expect(wanda1.mask).toEqual(wanda0.mask); // |W_ij s_j|·‖X_j‖/s_j = |W_ij|·‖X_j‖
    let differ = 0;
    for (let i = 0; i < mag0.mask.length; i++) if (mag0.mask[i] !== mag1.mask[i]) differ++;
    expect(differ).toBeGreaterThan(0);
    tf.dispose([x, h0, y0, h1, y1]);
    s0.dispose();
    s1.dispose();
    norm.dispose();
    fc.dispose();
  });

  it('rejects mismatched widths and bad alpha', () => {
    const norm = new RMSNorm({ dim: 8 });
    const fc = new Linear({ inFeatures: 16, outFeatures: 4, rng: seeded(1) });
    expect(() => equalize(norm, [fc], new Float64Array(16))).toThrow(/produces 8 channels, the consumers read 16/u);
    expect(() => equalize(norm, [fc], new Float64Array(16), 2)).toThrow(/alpha must be in \[0, 1\]/u);
    norm.dispose();
    fc.dispose();
  });
});

describe('variance correction', () => {
  const rows = 32, cols = 64, T = 256;
  const rng = seeded('vc');
  const w = rng.normalTensor([rows, cols]) as tf.Tensor2D;
  const x = inputs('vc-x', T, cols);

  it('(a) data-free: γ_i = √(Var_j W_ij / Var_j W̃_ij) ≈ 1.038-ish for Gaussian rows at 50% magnitude pruning', () => {
    const r = pruneLayer({ weight: w }, { method: 'magnitude', pattern: 'unstructured', scope: 'row', varianceCorrection: 'data-free' });
    const base = pruneLayer({ weight: w }, { method: 'magnitude', pattern: 'unstructured', scope: 'row' });
    const dense = w.dataSync() as Float32Array;
    const g = dataFreeGamma(dense, base.weight, rows, cols);
    for (let i = 0; i < r.weight.length; i++) expect(r.weight[i]).toBeCloseTo(base.weight[i] * g[Math.floor(i / cols)], 5);
    expect(r.mask).toEqual(base.mask); // the mask is unchanged
    // Brief §2.4: the kept half holds ~92.9% of the energy, so γ ≈ 1/√0.929 ≈ 1.038 (64 columns: loose bounds).
    expect(r.report.gamma!.mean).toBeGreaterThan(1.0);
    expect(r.report.gamma!.mean).toBeLessThan(1.1);
  });

  it('(b) data-driven: pruned output std (and mean, with meanFix) match the dense output on calibration data', () => {
    const stats = statsOf(x);
    const bias = rng.normalTensor([rows]);
    const r = pruneLayer({ weight: w, bias, stats }, { method: 'wanda', pattern: '2:4', varianceCorrection: 'data-driven', meanFix: true });
    const yd = tf.add(tf.matMul(x, w, false, true), bias);
    const yp = tf.add(tf.matMul(x, tf.tensor2d(r.weight, [rows, cols]), false, true), tf.tensor1d(r.bias!));
    const md = tf.moments(yd, 0);
    const mp = tf.moments(yp, 0);
    expectTensorsClose(tf.sqrt(mp.variance), tf.sqrt(md.variance), { rtol: 1e-3, atol: 1e-3, label: 'std' });
    expectTensorsClose(mp.mean, md.mean, { rtol: 1e-3, atol: 1e-3, label: 'mean' });
    // The reported reconstruction error is ‖Ỹ − Y‖² / ‖X Wᵀ‖², checked directly.
    const num = tf.sum(tf.square(tf.sub(yp, yd))).dataSync()[0];
    const den = tf.sum(tf.square(tf.matMul(x, w, false, true))).dataSync()[0];
    expect(r.report.reconstructionError!).toBeCloseTo(num / den, 3);
    tf.dispose([bias, yd, yp, md.mean, md.variance, mp.mean, mp.variance]);
    stats.dispose();
  });

  it('varianceCorrect (tensor API) equals pruneLayer’s folding, needs moments for data-driven, does not leak', async () => {
    const base = pruneLayer({ weight: w }, { method: 'magnitude', pattern: '4:8' });
    const wp = tf.tensor2d(base.weight, [rows, cols]);
    const r = varianceCorrect({ dense: w, pruned: wp, mode: 'data-free' });
    const viaPrune = pruneLayer({ weight: w }, { method: 'magnitude', pattern: '4:8', varianceCorrection: 'data-free' });
    expectTensorsClose(r.weight, viaPrune.weight, { atol: 1e-6, rtol: 1e-6 });
    expect(() => varianceCorrect({ dense: w, pruned: wp, mode: 'data-driven' })).toThrow(/needs the input moments/u);
    r.weight.dispose();
    await expectNoLeak(() => varianceCorrect({ dense: w, pruned: wp, mode: 'data-free' }).weight);
    wp.dispose();
  });
});
