import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { registerGradients } from '@sift/tensor-core';
import { expectNoLeak, expectTensorsClose, seeded } from '@sift/tensor-core/testing';
import { colesInfoNceLoss, colesMarginLoss, l2Normalize, siglipLoss } from './losses.js';

registerGradients();

/** PyTorch reference (tools/crosscheck/eventseq_losses.py, float64). */
interface Case { loss: number; grad: number[][] }
const fx = JSON.parse(readFileSync(new URL('../../test/fixtures/losses.json', import.meta.url), 'utf8')) as {
  z: number[][]; groups: number[]; margin: Case; infonce_decoupled: Case; infonce_classic: Case;
  siglip: Case & { c: number[][]; gradT: number; gradB: number };
};

// Naive float64 references, written from the formulas (independent of the tensor code).
const norm = (v: number[]): number[] => {
  const n = Math.sqrt(v.reduce((s, x) => s + x * x, 0) + 1e-12);
  return v.map((x) => x / n);
};
const sqd = (a: number[], b: number[]): number => a.reduce((s, x, k) => s + (x - b[k]) ** 2, 0);
const dot = (a: number[], b: number[]): number => a.reduce((s, x, k) => s + x * b[k], 0);
const lse = (xs: number[]): number => {
  const m = Math.max(...xs);
  return m + Math.log(xs.reduce((s, x) => s + Math.exp(x - m), 0));
};

function naiveMargin(z: number[][], g: number[], m: number, k: number): number {
  const zn = z.map(norm);
  let loss = 0;
  for (let i = 0; i < zn.length; i++) {
    for (let j = i + 1; j < zn.length; j++) if (g[i] === g[j]) loss += sqd(zn[i], zn[j]);
    const others = zn.map((_, j) => j).filter((j) => g[j] !== g[i]).sort((a, b) => sqd(zn[i], zn[a]) - sqd(zn[i], zn[b]));
    for (const j of others.slice(0, k)) loss += Math.max(0, m - Math.sqrt(sqd(zn[i], zn[j]))) ** 2;
  }
  return loss;
}

function naiveInfoNce(z: number[][], g: number[], tau: number, decoupled: boolean): number {
  const zn = z.map(norm);
  const terms: number[] = [];
  for (let i = 0; i < zn.length; i++) {
    const pos: number[] = [];
    const den: number[] = [];
    for (let j = 0; j < zn.length; j++) {
      if (j === i) continue;
      const s = dot(zn[i], zn[j]) / tau;
      if (g[j] === g[i]) pos.push(s);
      if (g[j] !== g[i] || !decoupled) den.push(s);
    }
    if (pos.length > 0) terms.push(lse(den) - lse(pos));
  }
  return terms.reduce((a, b) => a + b, 0) / terms.length;
}

function naiveSiglip(g: number[][], c: number[][], t: number, b: number): number {
  const gn = g.map(norm);
  const cn = c.map(norm);
  let loss = 0;
  for (let i = 0; i < g.length; i++) {
    for (let j = 0; j < c.length; j++) {
      const y = i === j ? 1 : -1;
      const l = Math.exp(t) * dot(gn[i], cn[j]) + b;
      loss += Math.log1p(Math.exp(-y * l));
    }
  }
  return loss / g.length;
}

const z = tf.tensor2d(fx.z);
const groups = fx.groups;

describe('CoLES margin loss (hard negatives)', () => {
  it('matches the naive loop and PyTorch, value and gradient (rtol 1e-4)', () => {
    const f = (x: tf.Tensor): tf.Scalar => colesMarginLoss(l2Normalize(x), groups, { margin: 0.5, negCount: 2 });
    const value = f(z);
    expect(value.dataSync()[0]).toBeCloseTo(naiveMargin(fx.z, groups, 0.5, 2), 4);
    expect(value.dataSync()[0]).toBeCloseTo(fx.margin.loss, 4);
    expectTensorsClose(tf.grad(f)(z), fx.margin.grad.flat(), { rtol: 1e-3, atol: 1e-4 });
    value.dispose();
  });

  it('is 0 for identical positives and negatives farther than the margin', () => {
    const x = tf.tensor2d([[1, 0], [1, 0], [-1, 0], [-1, 0]]);
    expect(colesMarginLoss(x, [0, 0, 1, 1], { margin: 0.5 }).dataSync()[0]).toBeCloseTo(0, 6);
    x.dispose();
  });

  it('random inputs agree with the naive loop; no leak', async () => {
    const rng = seeded('margin');
    const data = Array.from({ length: 12 }, () => Array.from({ length: 4 }, () => rng.normal()));
    const g = Array.from({ length: 12 }, (_, i) => Math.floor(i / 3));
    const x = tf.tensor2d(data);
    const v = colesMarginLoss(l2Normalize(x), g, { margin: 0.9, negCount: 3 });
    expect(v.dataSync()[0]).toBeCloseTo(naiveMargin(data, g, 0.9, 3), 4);
    tf.dispose([v]);
    await expectNoLeak(() => tf.tidy(() => tf.grad((t: tf.Tensor) => colesMarginLoss(l2Normalize(t), g))(x)));
    x.dispose();
  });
});

describe('InfoNCE', () => {
  for (const [name, decoupled] of [['infonce_decoupled', true], ['infonce_classic', false]] as const) {
    it(`${decoupled ? 'decoupled' : 'classic'}: matches the naive loop and PyTorch`, () => {
      const f = (x: tf.Tensor): tf.Scalar => colesInfoNceLoss(x, groups, { temperature: 0.1, decoupled });
      const v = f(z);
      expect(v.dataSync()[0]).toBeCloseTo(naiveInfoNce(fx.z, groups, 0.1, decoupled), 4);
      expect(v.dataSync()[0]).toBeCloseTo(fx[name].loss, 4);
      expectTensorsClose(tf.grad(f)(z), fx[name].grad.flat(), { rtol: 1e-3, atol: 1e-4 });
      v.dispose();
    });
  }

  it('needs a positive per row', () => {
    expect(() => colesInfoNceLoss(z, [0, 1, 2, 3, 4, 5, 6, 7])).toThrow(/no row has a positive/);
  });
});

describe('SigLIP', () => {
  it('matches the naive loop and PyTorch, with gradients for g, t′ and b', () => {
    const c = tf.tensor2d(fx.siglip.c);
    const t = tf.scalar(Math.log(10));
    const b = tf.scalar(-10);
    const v = siglipLoss(z, c, t, b);
    expect(v.dataSync()[0]).toBeCloseTo(naiveSiglip(fx.z, fx.siglip.c, Math.log(10), -10), 4);
    expect(v.dataSync()[0]).toBeCloseTo(fx.siglip.loss, 4);
    const [gg, gt, gb] = tf.grads((g: tf.Tensor, tt: tf.Tensor, bb: tf.Tensor) => siglipLoss(g, c, tt, bb))([z, t, b]);
    expectTensorsClose(gg, fx.siglip.grad.flat(), { rtol: 1e-3, atol: 1e-4 });
    expect(gt.dataSync()[0]).toBeCloseTo(fx.siglip.gradT, 3);
    expect(gb.dataSync()[0]).toBeCloseTo(fx.siglip.gradB, 3);
    tf.dispose([c, t, b, v, gg, gt, gb]);
  });

  it('rejects mismatched shapes', () => {
    const c = tf.zeros([3, 5]);
    expect(() => siglipLoss(z, c, tf.scalar(0), tf.scalar(0))).toThrow(/both be \[N, D\]/);
    c.dispose();
  });
});
