import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../random/rng.js';
import { expectTensorsClose } from '../testing.js';
import { GRADIENT_KERNELS, registerGradients } from './gradients.js';

// Sift's gradient ports are checked against tfjs-core's own gradient configs (the ESM build, which vitest can
// load; plain Node cannot, which is why the ports exist), kernel by kernel, on random inputs: same loss
// sum(op(inputs) * r), gradients compared with atol/rtol 1e-5. GatherV2's tfjs gradient needs unsortedSegmentSum,
// which tfjs-backend-wasm lacks, so it is checked against a naive scatter-add instead.

type Grad = tf.GradConfig | undefined;
let mine = new Map<string, Grad>();
let theirs = new Map<string, Grad>();

function install(set: Map<string, Grad>): void {
  for (const g of set.values()) if (g !== undefined) tf.registerGradient(g);
}

beforeAll(async () => {
  registerGradients();
  mine = new Map(GRADIENT_KERNELS.map((k) => [k, tf.getGradient(k) as Grad]));
  await import('@tensorflow/tfjs-core/dist/register_all_gradients.js');
  theirs = new Map(GRADIENT_KERNELS.map((k) => [k, tf.getGradient(k) as Grad]));
  install(mine);
});

afterAll(() => {
  install(mine);
});

const rng = new Rng(2024);
const U = (shape: number[], lo = -2, hi = 2): tf.Tensor => tf.keep(rng.uniformTensor(shape, lo, hi));

interface Case {
  kernel: string;
  inputs: tf.Tensor[];
  f: (...xs: tf.Tensor[]) => tf.Tensor;
  /** Why tfjs's own gradient cannot serve as the reference here; central finite differences are used instead. */
  tfjsBroken?: string;
}

const cases: Case[] = [];
const unary = (kernel: string, f: (x: tf.Tensor) => tf.Tensor, lo = -2, hi = 2): void => {
  cases.push({ kernel, inputs: [U([2, 3], lo, hi)], f: (x) => f(x) });
};
const NO_UNBROADCAST = 'tfjs 4.22 does not reduce this gradient over broadcast axes (shape error)';
const binary = (kernel: string, f: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor, lo = -2, hi = 2, blo = lo, bhi = hi): void => {
  const broken = [tf.Maximum, tf.Minimum, tf.SquaredDifference].includes(kernel) ? { tfjsBroken: NO_UNBROADCAST } : {};
  cases.push({ kernel, inputs: [U([2, 3], lo, hi), U([2, 3], blo, bhi)], f: (a, b) => f(a, b) });
  cases.push({ kernel, inputs: [U([2, 3], lo, hi), U([3], blo, bhi)], f: (a, b) => f(a, b), ...broken });
  cases.push({ kernel, inputs: [U([2, 1], lo, hi), U([2, 3], blo, bhi)], f: (a, b) => f(a, b), ...broken });
};

unary(tf.Abs, tf.abs);
unary(tf.Acos, tf.acos, -0.9, 0.9);
unary(tf.Acosh, tf.acosh, 1.2, 3);
unary(tf.Asin, tf.asin, -0.9, 0.9);
unary(tf.Asinh, tf.asinh);
unary(tf.Atan, tf.atan);
unary(tf.Atanh, tf.atanh, -0.9, 0.9);
unary(tf.Cos, tf.cos);
unary(tf.Cosh, tf.cosh);
unary(tf.Elu, tf.elu);
unary(tf.Erf, tf.erf);
unary(tf.Exp, tf.exp);
unary(tf.Expm1, tf.expm1);
unary(tf.Log, tf.log, 0.2, 3);
unary(tf.Log1p, tf.log1p, -0.5, 2);
unary(tf.Neg, tf.neg);
unary(tf.Reciprocal, tf.reciprocal, 0.3, 2);
unary(tf.Relu, tf.relu);
unary(tf.Relu6, (x) => tf.relu6(tf.mul(x, 4)));
unary(tf.Rsqrt, tf.rsqrt, 0.2, 3);
unary(tf.Selu, tf.selu);
unary(tf.Sigmoid, tf.sigmoid);
unary(tf.Sin, tf.sin);
unary(tf.Sinh, tf.sinh);
unary(tf.Softplus, tf.softplus);
unary(tf.Sqrt, tf.sqrt, 0.2, 3);
unary(tf.Square, tf.square);
unary(tf.Tan, tf.tan, -1, 1);
unary(tf.Tanh, tf.tanh);
unary(tf.LeakyRelu, (x) => tf.leakyRelu(x, 0.3));
unary(tf.ClipByValue, (x) => tf.clipByValue(x, -0.5, 0.7));
unary(tf.Identity, tf.clone);
for (const k of [tf.Sign, tf.Floor, tf.Ceil, tf.Round, tf.Step]) {
  const fn: Record<string, (x: tf.Tensor) => tf.Tensor> = { [tf.Sign]: tf.sign, [tf.Floor]: tf.floor, [tf.Ceil]: tf.ceil, [tf.Round]: tf.round, [tf.Step]: tf.step };
  unary(k, (x) => tf.add(fn[k](x), x));
}
binary(tf.Add, tf.add);
binary(tf.Sub, tf.sub);
binary(tf.Multiply, tf.mul);
binary(tf.RealDiv, tf.div, -2, 2, 0.5, 2);
binary(tf.FloorDiv, (a, b) => tf.add(tf.floorDiv(a, b), tf.mul(a, b)), -2, 2, 0.5, 2);
binary(tf.Maximum, tf.maximum);
binary(tf.Minimum, tf.minimum);
binary(tf.Pow, tf.pow, 0.3, 2, -1.5, 1.5);
binary(tf.SquaredDifference, tf.squaredDifference);
binary(tf.Atan2, tf.atan2);
binary(tf.Mod, tf.mod, 0.5, 3, 0.7, 1.3);
cases.push({ kernel: tf.Prelu, inputs: [U([2, 3]), U([3], 0.1, 0.5)], f: (x, a) => tf.prelu(x, a) });
cases.push({ kernel: tf.Sum, inputs: [U([2, 3, 4])], f: (x) => tf.sum(x, 1) });
cases.push({ kernel: tf.Sum, inputs: [U([2, 3, 4])], f: (x) => tf.sum(x, [0, 2], true) });
cases.push({ kernel: tf.Mean, inputs: [U([2, 3, 4])], f: (x) => tf.mean(x, [0, 2]) });
cases.push({ kernel: tf.Max, inputs: [U([2, 3, 4])], f: (x) => tf.max(x, 1) });
cases.push({ kernel: tf.Min, inputs: [U([2, 3, 4])], f: (x) => tf.min(x, [0, 2], true) });
const PROD = 'tfjs 4.22 calls the chained x.reshape(), absent when only tfjs-core is loaded';
cases.push({ kernel: tf.Prod, inputs: [U([2, 3, 4], 0.5, 1.5)], f: (x) => tf.prod(x, 1), tfjsBroken: PROD });
cases.push({ kernel: tf.Prod, inputs: [U([2, 3, 4], 0.5, 1.5)], f: (x) => tf.prod(x, [0, 2]), tfjsBroken: PROD });
for (const [exclusive, reverse] of [[false, false], [true, false], [false, true], [true, true]] as const) {
  cases.push({ kernel: tf.Cumsum, inputs: [U([3, 4])], f: (x) => tf.cumsum(x, 1, exclusive, reverse) });
}
cases.push({ kernel: tf.Cumsum, inputs: [U([3, 4])], f: (x) => tf.cumsum(x, 0), tfjsBroken: 'tfjs 4.22 transposes the result for a non-last axis' });
cases.push({ kernel: tf.AddN, inputs: [U([2, 3]), U([2, 3]), U([2, 3])], f: (a, b, c) => tf.addN([a, b, tf.mul(c, a)]) });
cases.push({ kernel: tf.Softmax, inputs: [U([3, 5])], f: (x) => tf.softmax(x) });
cases.push({ kernel: tf.LogSoftmax, inputs: [U([3, 5])], f: (x) => tf.logSoftmax(x) });
cases.push({ kernel: tf.Reshape, inputs: [U([2, 6])], f: (x) => tf.reshape(x, [3, 4]) });
cases.push({ kernel: tf.Transpose, inputs: [U([2, 3, 4])], f: (x) => tf.transpose(x, [2, 0, 1]) });
cases.push({ kernel: tf.ExpandDims, inputs: [U([2, 3])], f: (x) => tf.expandDims(x, 1) });
cases.push({ kernel: tf.Concat, inputs: [U([2, 3]), U([2, 2])], f: (a, b) => tf.concat([a, b], 1) });
cases.push({ kernel: tf.Pack, inputs: [U([2, 3]), U([2, 3])], f: (a, b) => tf.stack([a, b], 1) });
cases.push({ kernel: tf.Unpack, inputs: [U([2, 3])], f: (x) => tf.add(tf.unstack(x, 1)[0], tf.mul(tf.unstack(x, 1)[2], 3)) });
cases.push({ kernel: tf.SplitV, inputs: [U([2, 5])], f: (x) => { const [a, b] = tf.split(x, [2, 3], 1); return tf.concat([tf.mul(a, 2), b], 1); } });
cases.push({ kernel: tf.Slice, inputs: [U([3, 4])], f: (x) => tf.slice(x, [1, 1], [2, 2]) });
cases.push({ kernel: tf.PadV2, inputs: [U([2, 3])], f: (x) => tf.pad(x, [[1, 0], [2, 1]], 0.5) });
cases.push({ kernel: tf.Tile, inputs: [U([2, 3])], f: (x) => tf.tile(x, [2, 3]) });
cases.push({ kernel: tf.Tile, inputs: [U([2, 1, 3])], f: (x) => tf.tile(x, [1, 4, 2]) });
cases.push({ kernel: tf.Reverse, inputs: [U([2, 3])], f: (x) => tf.reverse(x, 1) });
cases.push({ kernel: tf.BroadcastTo, inputs: [U([1, 3])], f: (x) => tf.broadcastTo(x, [4, 3]) });
cases.push({ kernel: tf.BroadcastTo, inputs: [U([3])], f: (x) => tf.broadcastTo(x, [2, 4, 3]) });
cases.push({ kernel: tf.Select, inputs: [U([2, 3]), U([2, 3])], f: (a, b) => tf.where(tf.greaterEqual(a, 0), a, tf.mul(b, 2)) });
for (const [k, cmp] of [[tf.Greater, tf.greater], [tf.Less, tf.less], [tf.LessEqual, tf.lessEqual], [tf.Equal, tf.equal], [tf.NotEqual, tf.notEqual]] as const) {
  cases.push({
    kernel: k, inputs: [U([2, 3], -2, -1), U([2, 3], 1, 2)], f: (a, b) => tf.where(cmp(a, b), a, tf.mul(b, 2)), // far from ties
    tfjsBroken: `tfjs 4.22 registers no gradient for ${k}`,
  });
}
cases.push({ kernel: tf.ZerosLike, inputs: [U([2, 3])], f: (x) => tf.add(tf.zerosLike(x), x) });
cases.push({ kernel: tf.OnesLike, inputs: [U([2, 3])], f: (x) => tf.mul(tf.onesLike(x), x) });
cases.push({ kernel: tf.Cast, inputs: [U([2, 3])], f: (x) => tf.cast(tf.mul(x, 1), 'float32') });
for (const [ta, tb] of [[false, false], [false, true], [true, false], [true, true]] as const) {
  cases.push({
    kernel: tf.BatchMatMul,
    inputs: [U(ta ? [2, 4, 3] : [2, 3, 4]), U(tb ? [2, 5, 4] : [2, 4, 5])],
    f: (a, b) => tf.matMul(a, b, ta, tb),
  });
}
cases.push({
  kernel: tf.BatchMatMul, inputs: [U([3, 4]), U([2, 4, 5])], f: (a, b) => tf.matMul(tf.reshape(a, [1, 3, 4]), b),
  tfjsBroken: 'tfjs 4.22 does not sum a broadcast batch axis',
});

function finiteDiff(loss: (...xs: tf.Tensor[]) => tf.Scalar, inputs: tf.Tensor[], j: number, h = 1e-2): Float64Array {
  const base = Float32Array.from(inputs[j].dataSync());
  const out = new Float64Array(base.length);
  const at = (v: Float32Array): number => tf.tidy(() => {
    const xs = inputs.map((t, k) => (k === j ? tf.tensor(v, t.shape) : t));
    return loss(...xs).dataSync()[0];
  });
  for (let i = 0; i < base.length; i++) {
    const p = Float32Array.from(base), m = Float32Array.from(base);
    p[i] = base[i] + h;
    m[i] = base[i] - h;
    out[i] = (at(p) - at(m)) / (p[i] - m[i]);
  }
  return out;
}

describe('gradient ports vs tfjs-core\'s own gradient configs', () => {
  it('every registered kernel has at least one case', () => {
    const covered = new Set(cases.map((c) => c.kernel));
    const skipped = [tf.GatherV2, tf.UnsortedSegmentSum, tf.ArgMax, tf.ArgMin, tf.GreaterEqual, tf.IsFinite, tf.IsInf, tf.IsNan, tf.OneHot];
    expect(GRADIENT_KERNELS.filter((k) => !covered.has(k) && !skipped.includes(k))).toEqual([]);
  });

  for (const [i, c] of cases.entries()) {
    it(`${c.kernel} #${i}`, () => {
      tf.tidy(() => {
        const r = tf.tidy(() => rng.normalTensor(c.f(...c.inputs).shape));
        const loss = (...xs: tf.Tensor[]): tf.Scalar => tf.sum(tf.mul(c.f(...xs), r));
        const got = tf.grads(loss)(c.inputs);
        if (c.tfjsBroken === undefined) {
          let want: tf.Tensor[];
          try {
            install(theirs);
            want = tf.grads(loss)(c.inputs);
          } finally {
            install(mine);
          }
          got.forEach((g, j) => { expectTensorsClose(g, want[j], { atol: 1e-5, rtol: 1e-5, label: `${c.kernel} input ${j}` }); });
        } else {
          // float32 central differences, h = 1e-2: truncation O(h²) and rounding ~1e-7/h; atol 2e-3, rtol 1e-2
          got.forEach((g, j) => { expectTensorsClose(g, finiteDiff(loss, c.inputs, j), { atol: 2e-3, rtol: 1e-2, label: `${c.kernel} input ${j} (fd)` }); });
        }
      });
    });
  }

  it('GatherV2 (axis 0 with duplicates, axis 1) matches a naive scatter-add', () => {
    tf.tidy(() => {
      const x = rng.normalTensor([4, 3]);
      const idx = tf.tensor1d([2, 0, 2, 3, 2], 'int32');
      const r = rng.normalTensor([5, 3]);
      const g0 = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(tf.gather(xx, idx), r)))(x);
      const R = r.dataSync();
      const want0 = new Float64Array(12);
      [2, 0, 2, 3, 2].forEach((row, n) => {
        for (let d = 0; d < 3; d++) want0[row * 3 + d] += R[n * 3 + d];
      });
      expectTensorsClose(g0.dataSync(), want0, { atol: 1e-6, rtol: 1e-6 });
      const idx1 = tf.tensor2d([[1, 1], [0, 2]], [2, 2], 'int32');
      const r1 = rng.normalTensor([4, 2, 2]);
      const g1 = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(tf.gather(xx, idx1, 1), r1)))(x);
      const R1 = r1.dataSync();
      const want1 = new Float64Array(12);
      for (let i = 0; i < 4; i++) [1, 1, 0, 2].forEach((col, n) => (want1[i * 3 + col] += R1[i * 4 + n]));
      expectTensorsClose(g1.dataSync(), want1, { atol: 1e-6, rtol: 1e-6 });
    });
  });

  it('registerGradients() is idempotent and keeps gradients registered by others', () => {
    expect(registerGradients()).toEqual([]);
    expect(tf.getGradient(tf.Sum)).toBe(mine.get(tf.Sum));
  });
});
