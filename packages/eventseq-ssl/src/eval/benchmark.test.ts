import { describe, expect, it } from 'vitest';
import { generateSynthetic } from '../data/synthetic.js';
import { BENCHMARK_METHODS, BENCHMARK_QUICK, runBenchmark } from './benchmark.js';
import { fewLabelSubset, probeLabel, splitEntities } from './protocol.js';

describe('evaluation protocol', () => {
  it('splits are seeded, disjoint and complete; few-label subsets come from the training part', () => {
    const { store } = generateSynthetic({ seed: 1, numClients: 40, minEvents: 3, maxEvents: 6 });
    const a = splitEntities(store, 0.25, 7);
    expect(splitEntities(store, 0.25, 7)).toEqual(a);
    expect(a.test.length).toBe(10);
    expect([...a.train, ...a.test].sort((x, y) => x - y)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    const few = fewLabelSubset(a.train, 8, 0);
    expect(few.length).toBe(8);
    expect(few.every((i) => a.train.includes(i))).toBe(true);
  });

  it('probes find a label that the embedding carries (oracle features)', () => {
    const { store } = generateSynthetic({ seed: 1, numClients: 80, minEvents: 3, maxEvents: 6 });
    const y = store.label('composition');
    // An embedding that is the one-hot label plus a constant column: both probes must be perfect.
    const data = new Float32Array(80 * 5);
    for (let i = 0; i < 80; i++) {
      data[i * 5 + y[i]] = 1;
      data[i * 5 + 4] = 1;
    }
    const { train, test } = splitEntities(store, 0.3, 0);
    const reports = probeLabel({ rows: 80, cols: 5, data }, store, 'composition', train, test, { gbdt: { nEstimators: 20, minDataInLeaf: 2 } });
    expect(reports.map((r) => r.probe)).toEqual(['logistic', 'gbdt']);
    for (const r of reports) expect(r.metrics.accuracy.mean).toBe(1);
  });
});

describe('runBenchmark (quick)', () => {
  it('runs every method with every probe and renders tables and plots', async () => {
    const r = await runBenchmark(BENCHMARK_QUICK);
    expect(Object.keys(r.scores)).toEqual([...BENCHMARK_METHODS]);
    for (const m of BENCHMARK_METHODS) {
      for (const k of ['composition logistic', 'dynamics gbdt', 'composition logistic few', 'next type acc', 'next time MSE', 'anisotropy', 'intrinsic dim']) {
        expect(Number.isFinite(r.scores[m][k].mean), `${m} ${k}`).toBe(true);
      }
      expect(Object.keys(r.robustness[m])).toEqual(['0.3']);
    }
    expect(r.markdown).toContain('| MLEM |');
    expect(Object.keys(r.plots).sort()).toEqual(['few-labels.svg', 'probe-composition.svg', 'probe-dynamics.svg', 'robustness.svg']);
    for (const svg of Object.values(r.plots)) expect(svg.startsWith('<svg')).toBe(true);
  }, 60_000);
});
