/**
 * Gradient functions for tfjs-core kernels.
 *
 * Why this file exists: `@tensorflow/tfjs-core` 4.22 registers NO gradients by itself. Its ESM entry leaves them to
 * `@tensorflow/tfjs` (the union package) or to `import '@tensorflow/tfjs-core/dist/register_all_gradients'`, and its
 * Node bundle (`dist/tf-core.node.js`, what plain Node resolves) does not contain them at all; that ESM file cannot be
 * loaded by Node either (extension-less relative imports). Without them `tf.grad`/`tf.variableGrads` throw
 * "gradient function not found for Sum". Sift's libraries depend on tfjs-core only, so they bring the gradients they
 * need: these are ports of tfjs-core 4.22's `src/gradients/*_grad.ts` (Apache-2.0, Copyright Google LLC), written
 * with the public functional ops, with two changes:
 * - `BatchMatMul` transposes explicitly and then multiplies without transpose flags: tfjs-backend-wasm runs
 *   transposed or broadcast-batched products on a naive loop, 10-40x slower than its XNNPACK path (measured 1024x256
 *   by 256x1024: 25 ms plain vs 350 ms transposeB vs 1000 ms transposeA).
 * - `GatherV2` scatters with `scatterND` (which sums duplicates on every backend) instead of `unsortedSegmentSum`,
 *   which tfjs-backend-wasm does not implement.
 *
 * Convolution, pooling, resize and batch-norm kernels are not covered (Sift's models do not use them).
 * `registerGradients()` registers only kernels that have no gradient yet, so an app that loaded `@tensorflow/tfjs`
 * keeps its own. Every `Module` constructor and `valueAndGrads` call it; call it yourself before `tf.grad` on raw ops.
 */
import * as tf from '@tensorflow/tfjs-core';

type Saved = tf.Tensor[];
type Grads = Record<string, () => tf.Tensor>;

const { assertAndGetBroadcastShape, getReductionAxes } = tf.broadcast_util;

/** Sums a broadcast gradient back down to `shape` (the input's shape before broadcasting to `outShape`). */
function unbroadcast(res: tf.Tensor, shape: number[], outShape: number[]): tf.Tensor {
  const axes = getReductionAxes(shape, outShape);
  return axes.length > 0 ? tf.reshape(tf.sum(res, axes), shape) : tf.reshape(res, shape);
}

function f32(x: tf.Tensor): tf.Tensor {
  return tf.cast(x, 'float32');
}

function one(dy: tf.Tensor | tf.Tensor[]): tf.Tensor {
  return Array.isArray(dy) ? dy[0] : dy;
}

function unary(kernelName: string, fn: (dy: tf.Tensor, x: tf.Tensor) => tf.Tensor): tf.GradConfig {
  return {
    kernelName,
    inputsToSave: ['x'],
    gradFunc: (dy, saved: Saved): Grads => ({ x: () => fn(one(dy), saved[0]) }),
  };
}

function unaryFromOutput(kernelName: string, fn: (dy: tf.Tensor, y: tf.Tensor) => tf.Tensor): tf.GradConfig {
  return {
    kernelName,
    outputsToSave: [true],
    gradFunc: (dy, saved: Saved): Grads => ({ x: () => fn(one(dy), saved[0]) }),
  };
}

function zeroGrad(kernelName: string, inputs: string[] = ['x']): tf.GradConfig {
  return {
    kernelName,
    gradFunc: (dy): Grads => Object.fromEntries(inputs.map((name) => [name, () => tf.zerosLike(one(dy))])),
  };
}

/** a (op) b with broadcasting; `da(dy, a, b)` and `db(dy, a, b)` before un-broadcasting. */
function binary(
  kernelName: string,
  da: (dy: tf.Tensor, a: tf.Tensor, b: tf.Tensor) => tf.Tensor,
  db: (dy: tf.Tensor, a: tf.Tensor, b: tf.Tensor) => tf.Tensor,
  outputsToSave?: boolean[],
): tf.GradConfig {
  return {
    kernelName,
    inputsToSave: ['a', 'b'],
    ...(outputsToSave === undefined ? {} : { outputsToSave }),
    gradFunc: (dy, saved: Saved): Grads => {
      const [a, b] = saved as [tf.Tensor, tf.Tensor];
      const outShape = assertAndGetBroadcastShape(a.shape, b.shape);
      return {
        a: () => unbroadcast(da(one(dy), a, b), a.shape, outShape),
        b: () => unbroadcast(db(one(dy), a, b), b.shape, outShape),
      };
    },
  };
}

/** Gradient of a reduce-max/min over `axes`: dy flows to the elements equal to the result. */
function minMaxGrad(dy: tf.Tensor, y: tf.Tensor, x: tf.Tensor, axes: number[]): tf.Tensor {
  const keep = tf.backend_util.expandShapeToKeepDim;
  const y2 = y.rank < x.rank ? tf.reshape(y, keep(y.shape, axes)) : y;
  const dy2 = dy.rank < x.rank ? tf.reshape(dy, keep(dy.shape, axes)) : dy;
  return tf.mul(dy2, tf.cast(tf.equal(x, y2), dy.dtype));
}

/** d/dx of prod over one axis, via exclusive cumulative products from both ends (tfjs's Prod_grad). */
function prodGradOneAxis(x: tf.Tensor, dy: tf.Tensor, axis: number): tf.Tensor {
  const expanded = x.shape.slice();
  expanded[axis] = 1;
  const dx = tf.mul(tf.cumprod(x, axis, true, false), tf.cumprod(x, axis, true, true));
  return tf.mul(tf.reshape(dy, expanded), dx);
}

function prodGrad(x: tf.Tensor, dy: tf.Tensor, axes: number[]): tf.Tensor {
  const rank = x.rank;
  const perm = tf.backend_util.getAxesPermutation(axes, rank);
  const permuted = perm === null ? x : tf.transpose(x, perm);
  const shape = permuted.shape.slice();
  const removed = shape.splice(rank - axes.length, axes.length);
  shape.push(removed.reduce((p, c) => p * c, 1));
  let g = prodGradOneAxis(tf.reshape(permuted, shape), dy, rank - axes.length);
  g = tf.reshape(g, permuted.shape);
  return perm === null ? g : tf.transpose(g, tf.backend_util.getUndoAxesPermutation(perm));
}

/** Last two axes swapped (a batched matrix transpose). */
function transposeLast2(x: tf.Tensor): tf.Tensor {
  const perm = x.shape.map((_, i) => i);
  perm[x.rank - 1] = x.rank - 2;
  perm[x.rank - 2] = x.rank - 1;
  return tf.transpose(x, perm);
}

/** matMul's gradient for a (possibly broadcast) batch: sums over broadcast batch axes back to `shape`. */
function batchReduce(g: tf.Tensor, shape: number[]): tf.Tensor {
  if (g.rank === shape.length && g.shape.every((d, i) => d === shape[i])) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank - 2; i++) {
    if (i < lead || shape[i - lead] === 1) axes.push(i);
  }
  return tf.reshape(axes.length > 0 ? tf.sum(g, axes) : g, shape);
}

const batchMatMulGrad: tf.GradConfig = {
  kernelName: tf.BatchMatMul,
  inputsToSave: ['a', 'b'],
  gradFunc: (dy, saved: Saved, attrs): Grads => {
    const [a, b] = saved as [tf.Tensor, tf.Tensor];
    const { transposeA, transposeB } = attrs as unknown as tf.BatchMatMulAttrs;
    const g = one(dy);
    const T = transposeLast2;
    // Same algebra as tfjs's BatchMatMul_grad, with every transpose made explicit (see the file comment).
    let da: () => tf.Tensor;
    let db: () => tf.Tensor;
    if (!transposeA && !transposeB) {
      da = () => tf.matMul(g, T(b));
      db = () => tf.matMul(T(a), g);
    } else if (!transposeA && transposeB) {
      da = () => tf.matMul(g, b);
      db = () => tf.matMul(T(g), a);
    } else if (transposeA && !transposeB) {
      da = () => tf.matMul(b, T(g));
      db = () => tf.matMul(a, g);
    } else {
      da = () => tf.matMul(T(b), T(g));
      db = () => tf.matMul(T(g), T(a));
    }
    return { a: () => batchReduce(da(), a.shape), b: () => batchReduce(db(), b.shape) };
  },
};

const gatherGrad: tf.GradConfig = {
  kernelName: tf.GatherV2,
  inputsToSave: ['x', 'indices'],
  gradFunc: (dy, saved: Saved, attrs): Grads => {
    const [x, indices] = saved as [tf.Tensor, tf.Tensor];
    const { axis, batchDims } = attrs as unknown as tf.GatherV2Attrs;
    const g = one(dy);
    const ax = tf.util.parseAxisParam(axis, x.shape)[0];
    if (batchDims === 1) {
      return {
        x: () => {
          const B = x.shape[0];
          const parts: tf.Tensor[] = [];
          for (let i = 0; i < B; i++) {
            const idx = tf.squeeze(tf.slice(indices, [i], [1]), [0]);
            const d = tf.squeeze(tf.slice(g, [i], [1]), [0]);
            parts.push(scatterRows(x.shape.slice(1), ax - 1, idx, d));
          }
          return tf.stack(parts);
        },
        indices: () => tf.zerosLike(indices),
      };
    }
    return { x: () => scatterRows(x.shape, ax, indices, g), indices: () => tf.zerosLike(indices) };
  },
};

/**
 * d gather(x, idx, ax) / dx: dy is [outer..., n, inner...]; move the gathered axis first and scatter-add its rows
 * into [x.shape[ax], outer..., inner...] (duplicates sum), then move it back.
 */
function scatterRows(xShape: number[], ax: number, idx: tf.Tensor, d: tf.Tensor): tf.Tensor {
  const outer = xShape.slice(0, ax);
  const inner = xShape.slice(ax + 1);
  const n = idx.size;
  const values = tf.reshape(d, [...outer, n, ...inner]);
  const toFront = [outer.length, ...outer.map((_, i) => i), ...inner.map((_, i) => outer.length + 1 + i)];
  const rows = tf.scatterND(tf.reshape(tf.cast(idx, 'int32'), [n, 1]), tf.transpose(values, toFront), [xShape[ax], ...outer, ...inner]);
  return tf.transpose(rows, tf.backend_util.getUndoAxesPermutation(toFront));
}

const sumGrad: tf.GradConfig = {
  kernelName: tf.Sum,
  inputsToSave: ['x'],
  gradFunc: (dy, saved: Saved, attrs): Grads => {
    const x = saved[0];
    const axes = tf.util.parseAxisParam((attrs as unknown as tf.SumAttrs).axis, x.shape);
    const expanded = x.shape.slice();
    for (const a of axes) expanded[a] = 1;
    return { x: () => tf.mul(tf.reshape(one(dy), expanded), tf.ones(x.shape, 'float32')) };
  },
};

const meanGrad: tf.GradConfig = {
  kernelName: tf.Mean,
  inputsToSave: ['x'],
  gradFunc: (dy, saved: Saved, attrs): Grads => {
    const x = saved[0];
    const axes = tf.util.parseAxisParam((attrs as unknown as tf.MeanAttrs).axis, x.shape);
    const [, reduceShape] = tf.backend_util.computeOutAndReduceShapes(x.shape, axes);
    const n = tf.util.sizeFromShape(reduceShape);
    const expanded = x.shape.slice();
    for (const a of axes) expanded[a] = 1;
    return { x: () => tf.div(tf.mul(tf.reshape(one(dy), expanded), tf.ones(x.shape, 'float32')), n) };
  },
};

function reduceMinMax(kernelName: string, axisAttr: 'reductionIndices' | 'axis'): tf.GradConfig {
  return {
    kernelName,
    inputsToSave: ['x'],
    outputsToSave: [true],
    gradFunc: (dy, saved: Saved, attrs): Grads => {
      const [x, y] = saved as [tf.Tensor, tf.Tensor];
      const axes = tf.util.parseAxisParam(attrs[axisAttr] as number | number[], x.shape);
      return { x: () => minMaxGrad(one(dy), y, x, axes) };
    },
  };
}

function tileGrad(dy: tf.Tensor, x: tf.Tensor, reps: number[]): tf.Tensor {
  // Sum the tiles: reshape [r0*s0, r1*s1, ...] to [r0, s0, r1, s1, ...] and sum the r axes (one op, any rank).
  const split: number[] = [];
  const axes: number[] = [];
  x.shape.forEach((s, i) => {
    axes.push(split.length);
    split.push(reps[i], s);
  });
  return tf.reshape(tf.sum(tf.reshape(dy, split), axes), x.shape);
}

const CONFIGS: readonly tf.GradConfig[] = [
  unary(tf.Abs, (dy, x) => tf.mul(dy, tf.step(f32(x), -1))),
  unary(tf.Acos, (dy, x) => tf.neg(tf.div(dy, tf.sqrt(tf.sub(1, tf.square(f32(x))))))),
  unary(tf.Acosh, (dy, x) => tf.div(dy, tf.sqrt(tf.sub(tf.square(f32(x)), 1)))),
  {
    kernelName: tf.AddN,
    saveAllInputs: true,
    gradFunc: (dy, saved: Saved): Grads => Object.fromEntries(saved.map((_, i) => [String(i), () => tf.clone(one(dy))])),
  },
  binary(tf.Add, (dy) => dy, (dy) => dy),
  zeroGrad(tf.ArgMax),
  zeroGrad(tf.ArgMin),
  unary(tf.Asin, (dy, x) => tf.div(dy, tf.sqrt(tf.sub(1, tf.square(f32(x)))))),
  unary(tf.Asinh, (dy, x) => tf.div(dy, tf.sqrt(tf.add(1, tf.square(f32(x)))))),
  binary(tf.Atan2,
    (dy, a, b) => tf.mul(dy, tf.div(b, tf.add(tf.square(a), tf.square(b)))),
    (dy, a, b) => tf.neg(tf.mul(dy, tf.div(a, tf.add(tf.square(a), tf.square(b)))))),
  unary(tf.Atan, (dy, x) => tf.div(dy, tf.add(tf.square(f32(x)), 1))),
  unary(tf.Atanh, (dy, x) => tf.div(dy, tf.sub(1, tf.square(f32(x))))),
  batchMatMulGrad,
  {
    kernelName: tf.BroadcastTo,
    gradFunc: (dy, _saved, attrs): Grads => {
      const { inputShape, shape } = attrs as unknown as { inputShape: number[]; shape: number[] };
      const lead = shape.length - inputShape.length;
      const axes: number[] = [];
      for (let i = 0; i < shape.length; i++) if (i < lead || inputShape[i - lead] !== shape[i]) axes.push(i);
      return { x: () => tf.reshape(tf.sum(one(dy), axes), inputShape) };
    },
  },
  { kernelName: tf.Cast, gradFunc: (dy): Grads => ({ x: () => tf.clone(one(dy)) }) },
  zeroGrad(tf.Ceil),
  {
    kernelName: tf.ClipByValue,
    inputsToSave: ['x'],
    gradFunc: (dy, saved: Saved, attrs): Grads => {
      const x = saved[0];
      const { clipValueMin, clipValueMax } = attrs as unknown as tf.ClipByValueAttrs;
      const g = one(dy);
      return { x: () => tf.where(tf.logicalAnd(tf.greaterEqual(x, clipValueMin), tf.lessEqual(x, clipValueMax)), g, tf.zerosLike(g)) };
    },
  },
  {
    kernelName: tf.Concat,
    saveAllInputs: true,
    gradFunc: (dy, saved: Saved, attrs): Grads => {
      const axis = tf.util.parseAxisParam((attrs as unknown as tf.ConcatAttrs).axis, saved[0].shape)[0];
      const parts = tf.split(one(dy), saved.map((t) => t.shape[axis]), axis);
      return Object.fromEntries(parts.map((t, i) => [String(i), () => t]));
    },
  },
  unary(tf.Cos, (dy, x) => tf.mul(tf.neg(tf.sin(f32(x))), dy)),
  unary(tf.Cosh, (dy, x) => tf.mul(tf.sinh(f32(x)), dy)),
  {
    kernelName: tf.Cumsum,
    gradFunc: (dy, _saved, attrs): Grads => {
      const { axis, exclusive, reverse } = attrs as unknown as tf.CumsumAttrs;
      // tfjs's version also transposes the result for a non-last axis, which gives a wrong shape: the cumsum op
      // already handles the axis, so the gradient is the reversed cumsum along it.
      return { x: () => tf.cumsum(one(dy), axis, exclusive, !reverse) };
    },
  },
  unaryFromOutput(tf.Elu, (dy, y) => tf.engine().runKernel<tf.Tensor>(tf.EluGrad, { dy, y })),
  unary(tf.Erf, (dy, x) => tf.mul(dy, tf.mul(tf.exp(tf.neg(tf.square(x))), 2 / Math.sqrt(Math.PI)))),
  unaryFromOutput(tf.Exp, (dy, y) => tf.mul(dy, y)),
  {
    kernelName: tf.ExpandDims,
    inputsToSave: ['input'],
    gradFunc: (dy, saved: Saved): Grads => ({ input: () => tf.reshape(one(dy), saved[0].shape) }),
  },
  unary(tf.Expm1, (dy, x) => tf.mul(dy, tf.exp(x))),
  binary(tf.FloorDiv,
    (dy, _a, b) => tf.div(dy, f32(b)),
    (dy, a, b) => tf.neg(tf.div(tf.mul(dy, f32(a)), f32(tf.square(b))))),
  zeroGrad(tf.Floor),
  gatherGrad,
  zeroGrad(tf.GreaterEqual, ['a', 'b']),
  // Comparisons have zero gradients; tfjs registers only GreaterEqual's, so `tf.where(tf.greater(x, 0), ...)` on a
  // differentiated x would fail with "gradient function not found for Greater".
  zeroGrad(tf.Greater, ['a', 'b']),
  zeroGrad(tf.Less, ['a', 'b']),
  zeroGrad(tf.LessEqual, ['a', 'b']),
  zeroGrad(tf.Equal, ['a', 'b']),
  zeroGrad(tf.NotEqual, ['a', 'b']),
  { kernelName: tf.Identity, gradFunc: (dy): Grads => ({ x: () => f32(one(dy)) }) },
  zeroGrad(tf.IsFinite),
  zeroGrad(tf.IsInf),
  zeroGrad(tf.IsNan),
  {
    kernelName: tf.LeakyRelu,
    inputsToSave: ['x'],
    gradFunc: (dy, saved: Saved, attrs): Grads => {
      const { alpha } = attrs as unknown as tf.LeakyReluAttrs;
      const g = one(dy);
      return { x: () => tf.where(tf.greater(saved[0], 0), g, tf.mul(g, alpha)) };
    },
  },
  unary(tf.Log1p, (dy, x) => tf.div(dy, tf.add(x, 1))),
  {
    kernelName: tf.LogSoftmax,
    inputsToSave: [],
    outputsToSave: [true],
    gradFunc: (dy, saved: Saved, attrs): Grads => {
      const { axis } = attrs as unknown as tf.LogSoftmaxAttrs;
      const g = one(dy);
      return { logits: () => tf.sub(g, tf.mul(tf.sum(g, axis, true), tf.exp(saved[0]))) };
    },
  },
  unary(tf.Log, (dy, x) => tf.div(dy, f32(x))),
  reduceMinMax(tf.Max, 'reductionIndices'),
  binary(tf.Maximum,
    (dy, a, b) => tf.mul(dy, f32(tf.greaterEqual(a, b))),
    (dy, a, b) => tf.mul(dy, f32(tf.less(a, b)))),
  meanGrad,
  reduceMinMax(tf.Min, 'axis'),
  binary(tf.Minimum,
    (dy, a, b) => tf.mul(dy, f32(tf.lessEqual(a, b))),
    (dy, a, b) => tf.mul(dy, f32(tf.greater(a, b)))),
  binary(tf.Mod, (dy) => dy, (dy, a, b) => tf.mul(dy, tf.neg(tf.floor(tf.div(a, b))))),
  binary(tf.Multiply, (dy, _a, b) => tf.mul(dy, f32(b)), (dy, a) => tf.mul(dy, f32(a))),
  { kernelName: tf.Neg, gradFunc: (dy): Grads => ({ x: () => tf.neg(one(dy)) }) },
  {
    kernelName: tf.OneHot,
    inputsToSave: ['indices'],
    gradFunc: (_dy, saved: Saved): Grads => ({ indices: () => tf.zeros(saved[0].shape, 'float32') }),
  },
  zeroGrad(tf.OnesLike),
  {
    kernelName: tf.Pack,
    saveAllInputs: true,
    gradFunc: (dy, _saved, attrs): Grads => {
      const parts = tf.unstack(one(dy), (attrs as unknown as tf.PackAttrs).axis);
      return Object.fromEntries(parts.map((t, i) => [String(i), () => t]));
    },
  },
  {
    kernelName: tf.PadV2,
    inputsToSave: ['x'],
    gradFunc: (dy, saved: Saved, attrs): Grads => {
      const { paddings } = attrs as unknown as tf.PadV2Attrs;
      return { x: () => tf.slice(one(dy), paddings.map((p) => p[0]), saved[0].shape) };
    },
  },
  binary(tf.Pow,
    (dy, a, b) => tf.mul(dy, tf.mul(f32(b), tf.pow(a, tf.sub(f32(b), 1)))),
    (dy, a, b) => tf.mul(dy, tf.mul(tf.pow(a, b), tf.where(tf.greater(a, 0), tf.log(a), tf.zerosLike(a))))),
  {
    kernelName: tf.Prelu,
    inputsToSave: ['x', 'alpha'],
    gradFunc: (dy, saved: Saved): Grads => {
      const [x, alpha] = saved as [tf.Tensor, tf.Tensor];
      const g = one(dy);
      const mask = tf.greater(x, 0);
      return {
        x: () => tf.where(mask, g, tf.mul(g, alpha)),
        alpha: () => unbroadcast(tf.where(mask, tf.zerosLike(g), tf.mul(g, x)), alpha.shape, g.shape),
      };
    },
  },
  {
    kernelName: tf.Prod,
    inputsToSave: ['x'],
    gradFunc: (dy, saved: Saved, attrs): Grads => {
      const x = saved[0];
      const axes = tf.util.parseAxisParam((attrs as unknown as tf.ProdAttrs).axis, x.shape);
      return { x: () => prodGrad(x, one(dy), axes) };
    },
  },
  binary(tf.RealDiv,
    (dy, _a, b) => tf.div(dy, f32(b)),
    (dy, a, b) => tf.neg(tf.div(tf.mul(dy, f32(a)), f32(tf.square(b))))),
  unary(tf.Reciprocal, (dy, x) => tf.div(dy, tf.neg(tf.square(x)))),
  unary(tf.Relu6, (dy, x) => tf.mul(dy, f32(tf.mul(tf.lessEqual(x, 6), tf.step(x))))),
  unary(tf.Relu, (dy, x) => tf.mul(dy, f32(tf.step(x)))),
  unary(tf.Reshape, (dy, x) => tf.reshape(dy, x.shape)),
  {
    kernelName: tf.Reverse,
    gradFunc: (dy, _saved, attrs): Grads => {
      const g = one(dy);
      return { x: () => tf.reverse(g, tf.util.parseAxisParam((attrs as unknown as tf.ReverseAttrs).dims, g.shape)) };
    },
  },
  zeroGrad(tf.Round),
  unary(tf.Rsqrt, (dy, x) => tf.neg(tf.div(dy, tf.mul(tf.pow(x, 1.5), 2)))),
  {
    kernelName: tf.Select,
    inputsToSave: ['condition'],
    gradFunc: (dy, saved: Saved): Grads => {
      const c = saved[0];
      const g = one(dy);
      return {
        condition: () => f32(tf.zerosLike(c)),
        t: () => tf.mul(g, tf.cast(c, g.dtype)),
        e: () => tf.mul(g, tf.cast(tf.logicalNot(c), g.dtype)),
      };
    },
  },
  unary(tf.Selu, (dy, x) => tf.where(tf.greater(x, 0), tf.mul(dy, tf.backend_util.SELU_SCALE),
    tf.mul(tf.mul(dy, tf.backend_util.SELU_SCALEALPHA), tf.exp(f32(x))))),
  unaryFromOutput(tf.Sigmoid, (dy, y) => tf.mul(dy, tf.mul(y, tf.sub(1, y)))),
  zeroGrad(tf.Sign),
  unary(tf.Sin, (dy, x) => tf.mul(tf.cos(f32(x)), dy)),
  unary(tf.Sinh, (dy, x) => tf.mul(tf.cosh(f32(x)), dy)),
  {
    kernelName: tf.Slice,
    inputsToSave: ['x'],
    gradFunc: (dy, saved: Saved, attrs): Grads => {
      const x = saved[0];
      const { begin, size } = attrs as unknown as tf.SliceAttrs;
      const [b, s] = tf.slice_util.parseSliceParams(x, begin, size);
      return { x: () => tf.pad(one(dy), x.shape.map((d, i) => [b[i], d - b[i] - s[i]] as [number, number])) };
    },
  },
  {
    kernelName: tf.Softmax,
    outputsToSave: [true],
    gradFunc: (dy, saved: Saved, attrs): Grads => {
      const y = saved[0];
      const { dim } = attrs as unknown as tf.SoftmaxAttrs;
      const dyy = tf.mul(one(dy), y);
      return { logits: () => tf.sub(dyy, tf.mul(tf.sum(dyy, [dim], true), y)) };
    },
  },
  unary(tf.Softplus, (dy, x) => tf.mul(dy, tf.sigmoid(x))),
  {
    kernelName: tf.SplitV,
    gradFunc: (dy, _saved, attrs): Grads => ({
      x: () => tf.concat(Array.isArray(dy) ? dy : [dy], (attrs as unknown as tf.SplitVAttrs).axis),
    }),
  },
  unary(tf.Sqrt, (dy, x) => tf.div(dy, tf.mul(tf.sqrt(f32(x)), 2))),
  unary(tf.Square, (dy, x) => tf.mul(dy, tf.mul(f32(x), 2))),
  binary(tf.SquaredDifference, (dy, a, b) => tf.mul(dy, tf.mul(2, tf.sub(a, b))), (dy, a, b) => tf.mul(dy, tf.mul(2, tf.sub(b, a)))),
  zeroGrad(tf.Step),
  binary(tf.Sub, (dy) => dy, (dy) => tf.neg(dy)),
  sumGrad,
  unary(tf.Tan, (dy, x) => tf.div(dy, tf.square(tf.cos(x)))),
  unaryFromOutput(tf.Tanh, (dy, y) => tf.mul(tf.sub(1, tf.square(y)), dy)),
  {
    kernelName: tf.Tile,
    inputsToSave: ['x'],
    gradFunc: (dy, saved: Saved, attrs): Grads => ({
      x: () => tileGrad(one(dy), saved[0], (attrs as unknown as { reps: number[] }).reps),
    }),
  },
  {
    kernelName: tf.Transpose,
    gradFunc: (dy, _saved, attrs): Grads => ({
      x: () => tf.transpose(one(dy), tf.backend_util.getUndoAxesPermutation((attrs as unknown as tf.TransposeAttrs).perm)),
    }),
  },
  {
    kernelName: tf.Unpack,
    gradFunc: (dy, _saved, attrs): Grads => ({
      value: () => tf.stack(Array.isArray(dy) ? dy : [dy], (attrs as unknown as tf.UnpackAttrs).axis),
    }),
  },
  {
    kernelName: tf.UnsortedSegmentSum,
    inputsToSave: ['segmentIds'],
    gradFunc: (dy, saved: Saved): Grads => ({
      x: () => {
        // Gathers dy at each segment id; negative ids (dropped in the forward pass) get zero.
        const ids = saved[0];
        const g = one(dy);
        const gathered = tf.gather(g, tf.maximum(ids, tf.zerosLike(ids)));
        let keep = tf.greaterEqual(ids, tf.scalar(0, 'int32'));
        for (let i = keep.rank; i < gathered.rank; i++) keep = tf.expandDims(keep, i);
        return tf.where(tf.logicalAnd(keep, tf.ones(gathered.shape, 'bool')), gathered, tf.zerosLike(gathered));
      },
    }),
  },
  zeroGrad(tf.ZerosLike),
];

/** The kernels `registerGradients()` provides gradients for. */
export const GRADIENT_KERNELS: readonly string[] = CONFIGS.map((c) => c.kernelName);

let registered = false;

/**
 * Registers Sift's gradient functions for every kernel in `GRADIENT_KERNELS` that has none yet (see the file comment
 * for why tfjs-core needs this). Idempotent and cheap after the first call. `Module` constructors and
 * `valueAndGrads` call it; call it yourself before using `tf.grad`/`tf.variableGrads` on raw ops.
 * @param options.override also replace gradients that are already registered (for example tfjs's own), so that the
 *   faster explicit-transpose `BatchMatMul` gradient is used. Default false.
 * @returns the kernel names registered by this call.
 * @example
 * registerGradients();
 * const g = tf.grad((x: tf.Tensor) => tf.sum(tf.square(x)))(tf.tensor1d([1, 2])); // [2, 4]
 */
export function registerGradients(options: { override?: boolean } = {}): string[] {
  if (registered && options.override !== true) return [];
  const done: string[] = [];
  for (const config of CONFIGS) {
    // tfjs types getGradient as never undefined, but it returns undefined for a kernel without a gradient.
    const existing = tf.getGradient(config.kernelName) as tf.GradConfig | undefined;
    if (existing === undefined || options.override === true) {
      tf.registerGradient(config);
      done.push(config.kernelName);
    }
  }
  registered = true;
  return done;
}
