import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { expectNoLeak, expectTensorsClose } from '@sift/tensor-core/testing';
import { batchForEntities, batchToTensors, type PaddedBatch } from '../data/batch.js';
import { generateSynthetic } from '../data/synthetic.js';
import { createSequenceEncoder } from '../nn/sequence-encoder.js';
import { GenerativeModel } from './models.js';

const { store } = generateSynthetic({ seed: 4, numClients: 6, minEvents: 3, maxEvents: 9, numCodes: 5 });

function model(): GenerativeModel {
  return new GenerativeModel(createSequenceEncoder(store, { hiddenSize: 6, categoricalDim: 3, numericDim: 2, outputNorm: true, seed: 1 }), { seed: 2 });
}

/** The reconstruction loss from the decoder's outputs, by plain loops (MLEM brief §2.2 reductions). */
function naiveReconstruction(batch: PaddedBatch, logits: Float32Array, V: number, num: Float32Array, dt: Float32Array, h: Float32Array,
  mean: number, std: number, meanDt: number, dtWeight: number, l1w: number): { ce: number; mse: number; dt: number; total: number } {
  const { batchSize: B, maxLen: T } = batch;
  let ce = 0;
  let mse = 0;
  let dtSum = 0;
  let valid = 0;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const at = b * T + t;
      if (batch.mask[at] === 0) continue;
      valid++;
      const code = batch.codes.mcc[at];
      if (code !== 0) {
        const row = Array.from(logits.subarray(at * V, at * V + V));
        const m = Math.max(...row);
        const lse = m + Math.log(row.reduce((s, x) => s + Math.exp(x - m), 0));
        ce += lse - row[code];
      }
      const raw = batch.values.amount[at];
      if (raw !== 0) mse += (num[at] - (raw - mean) / std) ** 2;
      dtSum += (dt[at] - Math.log1p(batch.dt[at] / meanDt)) ** 2;
    }
  }
  let l1 = 0;
  for (const x of h) l1 += Math.abs(x);
  const dtl = dtSum / valid;
  return { ce: ce / B, mse: mse / B, dt: dtl, total: ce / B + mse / B + dtWeight * dtl + l1w * l1 / B };
}

describe('GenerativeModel', () => {
  it('reconstruction loss matches a naive loop over the decoder outputs (rtol 1e-4)', () => {
    const m = model();
    const batch = batchForEntities(store, [0, 1, 2, 3]);
    const t = batchToTensors(batch);
    const h = m.forward(t);
    const out = m.decode(t, h);
    const parts = m.reconstruction(t, h, { dtWeight: 10, latentL1: 1e-3 });
    const stats = m.encoder.stats;
    const ref = naiveReconstruction(batch, out.categorical[0].dataSync() as Float32Array, out.categorical[0].shape[2]!,
      out.numeric[0].dataSync() as Float32Array, out.dt.dataSync() as Float32Array, h.dataSync() as Float32Array,
      stats.numericMean[0], stats.numericStd[0], stats.meanDt, 10, 1e-3);
    expect(parts.categorical.dataSync()[0]).toBeCloseTo(ref.ce, 3);
    expect(parts.numeric.dataSync()[0]).toBeCloseTo(ref.mse, 3);
    expect(parts.dt.dataSync()[0]).toBeCloseTo(ref.dt, 4);
    expect(Math.abs(parts.total.dataSync()[0] - ref.total) / ref.total).toBeLessThan(1e-4);
    tf.dispose([h, out.categorical, out.numeric, out.dt, Object.values(parts)]);
    t.dispose();
    m.dispose();
  });

  it('decoding is causal: step i does not see event i or later (teacher forcing)', () => {
    const m = model();
    m.eval();
    const batch = batchForEntities(store, [0]);
    const n = batch.lengths[0];
    const changed = { ...batch, codes: { mcc: batch.codes.mcc.slice() }, values: { amount: batch.values.amount.slice() } };
    changed.codes.mcc[n - 1] = changed.codes.mcc[n - 1] === 2 ? 3 : 2;
    changed.values.amount[n - 1] += 5;
    const a = batchToTensors(batch);
    const b = batchToTensors(changed);
    const h = m.forward(a); // the same latent for both: only the decoder inputs differ
    const da = m.decode(a, h);
    const db = m.decode(b, h);
    expectTensorsClose(da.categorical[0], db.categorical[0], { atol: 1e-6 }); // the last event is input to no step
    tf.dispose([h, da.categorical, da.numeric, da.dt, db.categorical, db.numeric, db.dt]);
    a.dispose();
    b.dispose();
    m.dispose();
  });

  it('leaks no tensors', async () => {
    const m = model();
    const t = batchToTensors(batchForEntities(store, [0, 1]));
    await expectNoLeak(() => {
      const h = m.forward(t);
      const p = m.reconstruction(t, h, { dtWeight: 10, latentL1: 1e-4 });
      tf.dispose([h, Object.values(p)]);
    });
    t.dispose();
    m.dispose();
  });
});
