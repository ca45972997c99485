import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@sift/backend';
import { ActivationStats, Rng, choleskyInverseUpper, fixDeadInputs } from '@sift/tensor-core';
import { pruneLayer } from '@sift/nm-sparsity';
await initBackend({ prefer: ['wasm'] });
const rng = new Rng(5);
const [rows, cols, tokens] = (process.argv[2] ?? '768,768,16384').split(',').map(Number);
const w = rng.normalTensor([rows, cols]) as tf.Tensor2D;
const x = rng.normalTensor([tokens, cols]) as tf.Tensor2D;
for (let it = 0; it < Number(process.argv[3] ?? 4); it++) {
  const t0 = performance.now();
  const stats = new ActivationStats({ name: 'bench', gram: true, sqNorm: false, maxAbs: false, moments: false });
  stats.update(x);
  const t1 = performance.now();
  const h = stats.hessian();
  const t2 = performance.now();
  const { h: hh } = fixDeadInputs(Float64Array.from(h));
  if (process.argv[4] !== 'skip') choleskyInverseUpper(hh, { damp: 0.01, overwrite: true, precision: 'float64' });
  const t3 = performance.now();
  pruneLayer({ weight: w, stats }, { method: 'sparsegpt', pattern: '8:16', reportError: false });
  const t4 = performance.now();
  stats.dispose();
  console.log(`update ${(t1-t0).toFixed(0)} hessian ${(t2-t1).toFixed(0)} cholinv ${(t3-t2).toFixed(0)} prune(total) ${(t4-t3).toFixed(0)}  => ${(t4-t0 - (t3-t2)).toFixed(0)}`);
}
