// SparseGPT and Wanda time per layer against a PyTorch implementation of the same algorithm measured in the same run
// (tools/crosscheck/nm_bench.py with Debian's /usr/bin/python3), N:M mask-selection throughput, and the packed 8:16
// matvec against dense matvecs at 50% sparsity.
//
// Per-layer time = collecting the input statistics from X [tokens, in] (SparseGPT: the Gram matrix; Wanda: ‖X_j‖₂)
// + pruning to 8:16. Calibration is 128 × 128 = 16,384 tokens, except 4096 × 4096, which uses 2,048 tokens (16 × 128):
// its Gram matrix alone costs 2·T·d² = 550 GFLOP at 16k tokens, ~20 s on 2-core wasm, and the bench must stay < 3 min.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@sift/backend';
import { ActivationStats, Rng } from '@sift/tensor-core';
import { nmMask, packNM, packedMatVec, pruneLayer } from '@sift/nm-sparsity';
import { medianMs, type BenchRow } from '../../../tools/bench/harness.js';

/** Sizes and repeats, kept as data. rows × cols = out × in (GPT-2's c_fc is 3072 × 768). */
const CONFIG = {
  pattern: { n: 8, m: 16 },
  layers: [
    { rows: 768, cols: 768, tokens: 16_384, repeats: 3, warmup: 1 },
    { rows: 3072, cols: 768, tokens: 16_384, repeats: 1, warmup: 0 },
    { rows: 4096, cols: 4096, tokens: 2048, repeats: 1, warmup: 0 },
  ],
  mask: [
    { rows: 4096, cols: 4096, n: 2, m: 4, repeats: 2 },
    { rows: 4096, cols: 4096, n: 8, m: 16, repeats: 2 },
  ],
  matvec: { rows: 4096, cols: 4096, repeats: 20 },
  seed: 5,
};

const root = fileURLToPath(new URL('../../..', import.meta.url));

interface TorchOut {
  torch: string;
  threads: number;
  layers: { rows: number; cols: number; tokens: number; sparsegpt_s: number; wanda_s: number }[];
  mask: { rows: number; cols: number; n: number; m: number; seconds: number }[];
  matvec: { seconds: number } | null;
}

function torchReference(): TorchOut | { error: string } {
  const cfg = {
    layers: CONFIG.layers.map((l) => ({ ...l, n: CONFIG.pattern.n, m: CONFIG.pattern.m })),
    mask: CONFIG.mask,
    matvec: CONFIG.matvec,
  };
  const r = spawnSync('/usr/bin/python3', [`${root}tools/crosscheck/nm_bench.py`, JSON.stringify(cfg)], {
    encoding: 'utf8', maxBuffer: 1 << 20,
    // OpenMP's spinning barriers collapse under oversubscription (a shared 2-core machine): wait passively.
    env: { ...process.env, OMP_WAIT_POLICY: 'PASSIVE' },
  });
  if (r.error) return { error: `cannot run /usr/bin/python3 (${r.error.message})` };
  if (r.status !== 0) {
    const last = (r.stderr || r.stdout).trim().split('\n').at(-1) ?? '';
    return { error: last.includes('No module named') ? `torch missing: ${last}` : `python failed: ${last}` };
  }
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as TorchOut;
}

function layerTimes(l: (typeof CONFIG.layers)[number], rng: Rng): Promise<{ sparsegpt: number; wanda: number }> {
  const w = rng.normalTensor([l.rows, l.cols]) as tf.Tensor2D;
  const x = rng.normalTensor([l.tokens, l.cols]) as tf.Tensor2D;
  const sparsegpt = async (): Promise<number> => medianMs(() => {
    const stats = new ActivationStats({ name: 'bench', gram: true, sqNorm: false, maxAbs: false, moments: false });
    stats.update(x);
    pruneLayer({ weight: w, stats }, { method: 'sparsegpt', pattern: '8:16', reportError: false });
    stats.dispose();
  }, { warmup: l.warmup, repeats: l.repeats });
  const wanda = async (): Promise<number> => medianMs(() => {
    const stats = new ActivationStats({ name: 'bench', sqNorm: true, maxAbs: false, moments: false });
    stats.update(x);
    pruneLayer({ weight: w, stats }, { method: 'wanda', pattern: '8:16', reportError: false });
    stats.dispose();
  }, { warmup: l.warmup, repeats: l.repeats });
  return (async () => {
    try {
      return { sparsegpt: await sparsegpt(), wanda: await wanda() };
    } finally {
      tf.dispose([w, x]);
    }
  })();
}

export default async function bench(): Promise<BenchRow[]> {
  // PyTorch first, before the wasm thread pool starts, so the two never compete for the cores.
  const ref = torchReference();
  const info = await initBackend({ prefer: ['wasm'] });
  const rng = new Rng(CONFIG.seed);
  const refNote = 'error' in ref ? ref.error : `PyTorch ${ref.torch}, ${ref.threads} threads`;
  const rows: BenchRow[] = [];
  for (const [k, l] of CONFIG.layers.entries()) {
    const t = await layerTimes(l, rng.fork(`layer${k}`));
    const r = 'error' in ref ? null : ref.layers[k];
    const shape = `${l.rows}x${l.cols}, ${l.tokens} tokens, 8:16`;
    rows.push({ name: `SparseGPT layer ${shape} (${info.name}, ${info.threads} threads)`, value: t.sparsegpt / 1000, unit: 's', reference: `${refNote}, same algorithm`, referenceValue: r === null ? Number.NaN : r.sparsegpt_s, higherIsBetter: false });
    rows.push({ name: `Wanda layer ${shape}`, value: t.wanda / 1000, unit: 's', reference: `${refNote}, wanda's topk loop`, referenceValue: r === null ? Number.NaN : r.wanda_s, higherIsBetter: false });
  }
  for (const [k, mk] of CONFIG.mask.entries()) {
    const s = rng.fork(`mask${k}`).uniformTensor([mk.rows, mk.cols]) as tf.Tensor2D;
    const ms = await medianMs(() => {
      nmMask(s, { n: mk.n, m: mk.m }).dispose();
    }, { warmup: 1, repeats: mk.repeats });
    s.dispose();
    const r = 'error' in ref ? null : ref.mask[k];
    const size = (mk.rows * mk.cols) / 1e6;
    rows.push({ name: `nmMask ${mk.n}:${mk.m} selection, ${mk.rows}x${mk.cols} scores`, value: size / (ms / 1000), unit: 'Melem/s', reference: `${refNote}, wanda's topk loop`, referenceValue: r === null ? Number.NaN : size / r.seconds, higherIsBetter: true });
  }
  // Packed 8:16 matvec vs dense matvecs of the same masked weight (50% zeros).
  const { rows: R, cols: C, repeats } = CONFIG.matvec;
  const mrng = rng.fork('matvec');
  const w = mrng.fillNormal(new Float32Array(R * C));
  const wt = tf.tensor2d(w, [R, C]);
  const mask = nmMask(tf.abs<tf.Tensor2D>(wt), '8:16');
  const maskedT = tf.mul<tf.Tensor2D>(wt, mask);
  const masked = maskedT.dataSync() as Float32Array;
  const packed = packNM({ weight: masked, shape: [R, C], pattern: '8:16' });
  const x = mrng.fillNormal(new Float32Array(C));
  const packedMs = await medianMs(() => packedMatVec(packed, x), { warmup: 3, repeats });
  const denseMs = await medianMs(() => {
    const y = new Float32Array(R);
    for (let r = 0; r < R; r++) {
      let acc = 0;
      const o = r * C;
      for (let j = 0; j < C; j++) acc += masked[o + j] * x[j];
      y[r] = acc;
    }
    return y;
  }, { warmup: 3, repeats });
  const xt = tf.tensor2d(x, [C, 1]);
  const tfMs = await medianMs(() => {
    const y = tf.matMul(maskedT, xt);
    y.dataSync();
    y.dispose();
  }, { warmup: 3, repeats });
  tf.dispose([wt, mask, maskedT, xt]);
  const gflop = (2 * R * C) / 1e9;
  const name = `packed 8:16 matvec ${R}x${C} (50% zeros; float32 values: 16.875 vs 32 bits/weight read)`;
  rows.push({ name, value: gflop / (packedMs / 1000), unit: 'GFLOP/s dense-equiv', reference: 'dense float32 matvec, plain JS loop', referenceValue: gflop / (denseMs / 1000), higherIsBetter: true });
  rows.push({ name, value: gflop / (packedMs / 1000), unit: 'GFLOP/s dense-equiv', reference: `dense tfjs ${info.name} matMul [${R},${C}]x[${C},1]`, referenceValue: gflop / (tfMs / 1000), higherIsBetter: true });
  rows.push({ name, value: gflop / (packedMs / 1000), unit: 'GFLOP/s dense-equiv', reference: `${refNote}, dense torch.mv`, referenceValue: 'error' in ref || ref.matvec === null ? Number.NaN : gflop / ref.matvec.seconds, higherIsBetter: true });
  if ('error' in ref) console.error(`nm-sparsity bench: no PyTorch reference (${ref.error})`);
  return rows;
}
