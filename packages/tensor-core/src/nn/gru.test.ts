import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Rng } from '../random/rng.js';
import { expectNoLeak, expectTensorsClose } from '../testing.js';
import { GRU } from './gru.js';

// Reference: PyTorch's GRU equations stepped in float64 per sequence, stopping at each sequence's length
// (what pack_padded_sequence does): padded outputs are 0 and the final state is the last valid one. Tolerance 1e-5.

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));

function naiveGru(gru: GRU, x: tf.Tensor, lengths: number[], h0: number[][][] | null): { out: Float64Array; hN: Float64Array } {
  const [B, T, F] = x.shape as [number, number, number];
  const H = gru.hiddenSize;
  const L = gru.numLayers;
  let input: Float64Array = Float64Array.from(x.dataSync());
  let inF = F;
  const hN = new Float64Array(L * B * H);
  let out = new Float64Array(B * T * H);
  for (let l = 0; l < L; l++) {
    const p = gru.layerParams(l);
    const wih = p.wIh.dataSync(), whh = p.wHh.dataSync();
    const bih = p.bIh?.dataSync() ?? new Float32Array(3 * H), bhh = p.bHh?.dataSync() ?? new Float32Array(3 * H);
    out = new Float64Array(B * T * H);
    for (let b = 0; b < B; b++) {
      let h = Array.from({ length: H }, (_, j) => (h0 === null ? 0 : h0[l][b][j]));
      for (let t = 0; t < lengths[b]; t++) {
        const gi = (g: number, j: number): number => {
          let s = bih[g * H + j];
          for (let i = 0; i < inF; i++) s += wih[(g * H + j) * inF + i] * input[(b * T + t) * inF + i];
          return s;
        };
        const gh = (g: number, j: number): number => {
          let s = bhh[g * H + j];
          for (let i = 0; i < H; i++) s += whh[(g * H + j) * H + i] * h[i];
          return s;
        };
        h = h.map((hj, j) => {
          const r = sigmoid(gi(0, j) + gh(0, j));
          const z = sigmoid(gi(1, j) + gh(1, j));
          const n = Math.tanh(gi(2, j) + r * gh(2, j));
          return (1 - z) * n + z * hj;
        });
        for (let j = 0; j < H; j++) out[(b * T + t) * H + j] = h[j]!;
      }
      for (let j = 0; j < H; j++) hN[(l * B + b) * H + j] = h[j]!;
    }
    input = out;
    inF = H;
  }
  return { out, hN };
}

describe('GRU vs a naive step loop', () => {
  it('one layer, full lengths', () => {
    const rng = new Rng(1);
    const gru = new GRU({ inputSize: 3, hiddenSize: 5, rng });
    expect(gru.namedParameters().map(([n, v]) => `${n} [${v.shape.join(',')}]`)).toEqual([
      'weight_ih_l0 [15,3]', 'weight_hh_l0 [15,5]', 'bias_ih_l0 [15]', 'bias_hh_l0 [15]',
    ]);
    const x = rng.normalTensor([2, 6, 3]);
    const { output, last, hN } = gru.forward(x);
    const ref = naiveGru(gru, x, [6, 6], null);
    expectTensorsClose(output.dataSync(), ref.out);
    expectTensorsClose(last.dataSync(), ref.hN);
    expect(hN.shape).toEqual([1, 2, 5]);
    tf.dispose([x, output, last, hN]);
    gru.dispose();
  });

  it('two layers with lengths, a right-padded mask and a given h0; padded outputs are zero, last is the last valid state', () => {
    const rng = new Rng(2);
    const gru = new GRU({ inputSize: 4, hiddenSize: 3, numLayers: 2, rng });
    const x = rng.normalTensor([3, 5, 4]);
    const lengths = [5, 2, 4];
    const h0v = [[[0.1, -0.2, 0.3], [0, 0, 0], [1, 1, -1]], [[0.5, 0.5, 0.5], [-0.3, 0.2, 0.1], [0, 0.4, 0]]];
    const ref = naiveGru(gru, x, lengths, h0v);
    const h0 = tf.tensor3d(h0v);
    const a = gru.forward(x, { lengths, h0 });
    expectTensorsClose(a.output.dataSync(), ref.out);
    expectTensorsClose(a.hN.dataSync(), ref.hN);
    expectTensorsClose(a.last.dataSync(), ref.hN.slice(3 * 3));
    const mask = tf.tensor2d(lengths.map((len) => Array.from({ length: 5 }, (_, t) => (t < len ? 1 : 0))));
    const b = gru.forward(x, { mask, h0 });
    expectTensorsClose(b.output, a.output, { atol: 0, rtol: 0 });
    const c = gru.forward(x, { lengths: tf.tensor1d(lengths, 'int32'), h0 });
    expectTensorsClose(c.last, a.last, { atol: 0, rtol: 0 });
    // a zero-length sequence keeps its initial state and outputs zeros
    const z = gru.forward(x, { lengths: [5, 0, 4], h0 });
    expectTensorsClose(tf.slice(z.hN, [0, 1, 0], [2, 1, 3]).dataSync(), [...h0v[0][1], ...h0v[1][1]]);
    expect(Array.from(tf.slice(z.output, [1, 0, 0], [1, 5, 3]).dataSync()).every((v) => v === 0)).toBe(true);
    expect(() => gru.forward(x, { lengths: [1, 2] })).toThrow(/one entry per sequence \(3\)/);
    expect(() => gru.forward(tf.zeros([3, 5, 2]))).toThrow(/x must be \[B, T, 4\]/);
    tf.dispose([x, h0, mask, ...[a, b, c, z].flatMap((o) => [o.output, o.last, o.hN])]);
    gru.dispose();
  });

  it('a learned initial state is a parameter [layers, H] that receives a gradient', () => {
    const rng = new Rng(3);
    const gru = new GRU({ inputSize: 2, hiddenSize: 3, learnInitialState: true, rng });
    gru.loadStateDict({ h0: tf.tensor2d([[0.3, -0.1, 0.2]]) }, { strict: false });
    const x = rng.normalTensor([2, 4, 2]);
    const ref = naiveGru(gru, x, [4, 3], [[[0.3, -0.1, 0.2], [0.3, -0.1, 0.2]]]);
    const { last } = gru.forward(x, { lengths: [4, 3] });
    expectTensorsClose(last.dataSync(), ref.hN);
    const { grads } = tf.variableGrads(() => tf.sum(gru.forward(x).last), gru.parameters());
    expect(grads[gru.param('h0').name].shape).toEqual([1, 3]);
    tf.dispose([x, last, grads]);
    gru.dispose();
  });

  it('forward and backward do not leak', async () => {
    const rng = new Rng(4);
    const gru = new GRU({ inputSize: 3, hiddenSize: 4, numLayers: 2, dropout: 0.2, rng });
    const x = rng.normalTensor([2, 4, 3]);
    await expectNoLeak(() => {
      const o = gru.forward(x, { lengths: [4, 2] });
      tf.dispose([o.output, o.last, o.hN]);
    }, { label: 'GRU forward' });
    await expectNoLeak(() => {
      const { value, grads } = tf.variableGrads(() => tf.sum(gru.forward(x, { lengths: [4, 2] }).last), gru.parameters());
      tf.dispose([value, grads]);
    }, { label: 'GRU backward' });
    x.dispose();
    gru.dispose();
  });
});
