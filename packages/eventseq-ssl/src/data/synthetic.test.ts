import { describe, expect, it } from 'vitest';
import { generateSynthetic, SYNTHETIC_DEFAULTS } from './synthetic.js';
import type { SequenceStore } from './store.js';

/** Per-client features from the store: the code histogram and the composition-normalised repeat rate. */
function features(s: SequenceStore): { hist: number[][]; repeat: number[][]; halves: [number[], number[]][] } {
  const V = s.encoder.vocabSize('mcc');
  const codes = s.codes.mcc;
  const histOf = (a: number, e: number): number[] => {
    const h = new Array<number>(V).fill(0);
    for (let j = a; j < e; j++) h[codes[j]] += 1 / (e - a);
    return h;
  };
  const hist: number[][] = [];
  const repeat: number[][] = [];
  const halves: [number[], number[]][] = [];
  for (let i = 0; i < s.numEntities; i++) {
    const a = s.start(i);
    const e = s.end(i);
    const h = histOf(a, e);
    let r = 0;
    for (let j = a + 1; j < e; j++) if (codes[j] === codes[j - 1]) r++;
    const s2 = h.reduce((x, p) => x + p * p, 0);
    hist.push(h);
    // (P̂(repeat) − Σπ̂²) / (1 − Σπ̂²): λ_B whatever the composition.
    repeat.push([(r / (e - a - 1) - s2) / (1 - s2)]);
    const mid = (a + e) >> 1;
    halves.push([histOf(a, mid), histOf(mid, e)]);
  }
  return { hist, repeat, halves };
}

/** Nearest-centroid accuracy: centroids from the first half of the clients, scored on the second half. */
function nearestCentroid(x: readonly number[][], y: Float64Array): number {
  const half = Math.floor(x.length / 2);
  const cent = new Map<number, { sum: number[]; n: number }>();
  for (let i = 0; i < half; i++) {
    const c = cent.get(y[i]) ?? { sum: x[i].map(() => 0), n: 0 };
    x[i].forEach((v, k) => (c.sum[k] += v));
    c.n++;
    cent.set(y[i], c);
  }
  let ok = 0;
  for (let i = half; i < x.length; i++) {
    let best = -1;
    let bestD = Infinity;
    for (const [label, c] of cent) {
      const d = x[i].reduce((acc, v, k) => acc + (v - c.sum[k] / c.n) ** 2, 0);
      if (d < bestD) {
        bestD = d;
        best = label;
      }
    }
    if (best === y[i]) ok++;
  }
  return ok / (x.length - half);
}

describe('generateSynthetic', () => {
  const ds = generateSynthetic({ seed: 7, numClients: 400 });
  const { store } = ds;
  const A = store.label('composition');
  const B = store.label('dynamics');
  const f = features(store);

  it('is deterministic: the same seed gives bit-identical data, another seed different data', () => {
    const again = generateSynthetic({ seed: 7, numClients: 400 });
    expect(again.store.times).toEqual(store.times);
    expect(again.store.codes).toEqual(store.codes);
    expect(again.store.values).toEqual(store.values);
    expect(again.store.labels).toEqual(store.labels);
    expect(again.latents).toEqual(ds.latents);
    const other = generateSynthetic({ seed: 8, numClients: 400 });
    expect(other.store.codes.mcc).not.toEqual(store.codes.mcc);
  });

  it('has the configured sizes and balanced, independent labels with matched marginals', () => {
    expect(store.numEntities).toBe(400);
    for (let i = 0; i < store.numEntities; i++) {
      expect(store.length(i)).toBeGreaterThanOrEqual(SYNTHETIC_DEFAULTS.minEvents);
      expect(store.length(i)).toBeLessThanOrEqual(SYNTHETIC_DEFAULTS.maxEvents);
    }
    const table = [0, 1, 2, 3].map((a) => [0, 1, 2, 3].map((b) => A.filter((x, i) => x === a && B[i] === b).length));
    for (let c = 0; c < 4; c++) {
      expect(A.filter((x) => x === c).length).toBe(100);
      expect(B.filter((x) => x === c).length).toBe(100);
    }
    // Independent: every cell of the 4x4 table near 400/16 = 25 (a chi-square of 9 dof below its 0.999 quantile, 27.9).
    const chi2 = table.flat().reduce((s, o) => s + (o - 25) ** 2 / 25, 0);
    expect(chi2).toBeLessThan(27.9);
    expect(store.encoder.vocabSize('mcc')).toBeLessThanOrEqual(SYNTHETIC_DEFAULTS.numCodes + 2);
    expect(ds.report.messages).toEqual([]);
  });

  it('label A (composition) is identifiable from code histograms, label B (dynamics) is not', () => {
    // Chance is 0.25; 200 test clients put chance within ±0.1 at 3 sigma.
    expect(nearestCentroid(f.hist, A)).toBeGreaterThan(0.9);
    expect(nearestCentroid(f.hist, B)).toBeLessThan(0.38);
  });

  it('label B is identifiable from transition statistics (normalised repeat rate), label A is not', () => {
    expect(nearestCentroid(f.repeat, B)).toBeGreaterThan(0.85);
    expect(nearestCentroid(f.repeat, A)).toBeLessThan(0.38);
    // The statistic estimates λ_B: class means within 0.05 of the latent repeat probabilities.
    for (let b = 0; b < 4; b++) {
      const xs = f.repeat.filter((_, i) => B[i] === b).map((r) => r[0]);
      expect(Math.abs(xs.reduce((s, x) => s + x, 0) / xs.length - ds.latents.repeatProbability[b])).toBeLessThan(0.05);
    }
  });

  it('gives each client an identity: its two halves match each other better than other clients of its class', () => {
    let self = 0;
    for (let i = 0; i < store.numEntities; i++) {
      let best = -1;
      let bestD = Infinity;
      for (let j = 0; j < store.numEntities; j++) {
        if (A[j] !== A[i]) continue;
        const d = f.halves[i][0].reduce((s, p, k) => s + Math.abs(p - f.halves[j][1][k]), 0);
        if (d < bestD) {
          bestD = d;
          best = j;
        }
      }
      if (best === i) self++;
    }
    // Chance among the 100 clients of a class is 1% (binomial sd 0.5% over 400 clients); measured 9%.
    expect(self / store.numEntities).toBeGreaterThan(0.05);
  });

  it('draws log-amounts around μ_{A,code} + the client offset, and Hawkes bursts grow with α_B', () => {
    const { amountMeans, clients } = ds.latents;
    const enc = store.encoder.field('mcc');
    const vocab = enc.kind === 'categorical' ? enc.vocab : [];
    let sxy = 0;
    let sxx = 0;
    let syy = 0;
    const cvByB = [0, 0, 0, 0];
    for (let i = 0; i < store.numEntities; i++) {
      let resid = 0;
      const dts: number[] = [];
      for (let j = store.start(i); j < store.end(i); j++) {
        const code = Number(vocab[store.codes.mcc[j] - 2]);
        // amount is stored as log1p(amount); invert to log(amount).
        resid += Math.log(Math.expm1(store.values.amount[j])) - amountMeans[clients.composition[i]][code];
        if (j > store.start(i)) dts.push(store.times[j] - store.times[j - 1]);
      }
      resid /= store.length(i);
      const off = clients.amountOffset[i];
      sxy += resid * off;
      sxx += off * off;
      syy += resid * resid;
      const m = dts.reduce((s, x) => s + x, 0) / dts.length;
      cvByB[clients.dynamics[i]] += Math.sqrt(dts.reduce((s, x) => s + (x - m) ** 2, 0) / dts.length) / m / 100;
    }
    expect(sxy / Math.sqrt(sxx * syy)).toBeGreaterThan(0.95);
    // The coefficient of variation of Δt is 1 for a Poisson process and grows with self-excitation.
    expect(cvByB[0]).toBeGreaterThan(0.9);
    for (let b = 1; b < 4; b++) expect(cvByB[b]).toBeGreaterThan(cvByB[b - 1]);
  });

  it('rejects bad options, naming the option and the expectation', () => {
    expect(() => generateSynthetic({ numClients: 0 })).toThrow(/numClients must be an integer >= 1, got 0/);
    expect(() => generateSynthetic({ repeatProbability: [0.5] })).toThrow(/repeatProbability needs 4 values in \[0, 1\)/);
    expect(() => generateSynthetic({ hawkesBranching: [0, 0, 0, 1.2] })).toThrow(/a stable process/);
    expect(() => generateSynthetic({ minEvents: 10, maxEvents: 5 })).toThrow(/maxEvents 5 < minEvents 10/);
  });
});
