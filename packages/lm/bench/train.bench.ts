// Training and generation throughput (tokens/s) of the `small` preset on wasm, against PyTorch (CPU, the same
// architecture and sizes, the same number of threads) measured in the same run by tools/crosscheck/lm_train_bench.py.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@sift/backend';
import { AdamW, Rng, clipGradNorm, noDecayRank1, valueAndGrads } from '@sift/tensor-core';
import { createModel, generate, presetConfig, toHfConfig } from '@sift/lm';
import { medianMs, type BenchRow } from '../../../tools/bench/harness.js';
import { TRAIN_BENCH as C } from './config.js';

const SCRIPT = fileURLToPath(new URL('../../../tools/crosscheck/lm_train_bench.py', import.meta.url));

interface TorchResult { train_tokens_per_second: number; generate_tokens_per_second: number; threads: number }

function torchReference(config: Record<string, unknown>, threads: number): TorchResult {
  const args = JSON.stringify({
    config, batch: C.batchSize, seq: C.seqLen, steps: C.steps, warmup: C.warmupSteps, prompt: C.promptTokens, new_tokens: C.newTokens, gen_warmup: C.genWarmup, gen_repeats: C.genRepeats, threads,
  });
  const r = spawnSync('/usr/bin/python3', [SCRIPT, args], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`lm_train_bench.py failed (PyTorch reference): ${r.stderr || String(r.error)}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as TorchResult;
}

export default async function bench(): Promise<BenchRow[]> {
  const info = await initBackend({ prefer: ['wasm'] });
  const config = presetConfig(C.preset, { vocabSize: C.vocabSize, eotId: C.vocabSize - 1 });
  const model = createModel(config, { rng: new Rng(C.seed) });
  const opt = new AdamW(model, { lr: 1e-3, betas: [0.9, 0.95], weightDecay: 0.1, noDecay: noDecayRank1 });
  const rng = new Rng(C.seed + 1);
  const n = C.batchSize * C.seqLen;
  const x = tf.tensor2d(Int32Array.from({ length: n }, () => rng.int(C.vocabSize)), [C.batchSize, C.seqLen], 'int32');
  const y = tf.tensor2d(Int32Array.from({ length: n }, () => rng.int(C.vocabSize)), [C.batchSize, C.seqLen], 'int32');
  try {
    const step = async (): Promise<void> => {
      const loss = tf.tidy(() => {
        const { value, grads } = valueAndGrads(model, () => model.loss(x, { targets: y }));
        opt.step(clipGradNorm(grads, 1).grads);
        return value;
      });
      await loss.data();
      loss.dispose();
    };
    const trainMs = await medianMs(step, { warmup: C.warmupSteps, repeats: C.steps });
    const prompt = Array.from({ length: C.promptTokens }, () => rng.int(C.vocabSize));
    const gen = async (): Promise<void> => {
      await generate(model, prompt, { maxNewTokens: C.newTokens, stopTokens: [] });
    };
    const genMs = await medianMs(gen, { warmup: C.genWarmup, repeats: C.genRepeats });
    const ref = torchReference(toHfConfig(config), info.threads);
    const what = `small preset (d 256, 4 layers, V ${C.vocabSize}), ${info.name} ${info.threads} thread(s) vs PyTorch CPU ${ref.threads} thread(s)`;
    return [
      {
        name: `train tok/s, B ${C.batchSize} x T ${C.seqLen}, AdamW + clip, ${what}`,
        value: n / (trainMs / 1000), unit: 'tok/s', reference: 'PyTorch 1.13, same architecture and step',
        referenceValue: ref.train_tokens_per_second, higherIsBetter: true,
      },
      {
        name: `greedy generation tok/s with KV cache, prompt ${C.promptTokens} + ${C.newTokens} new, ${what}`,
        value: C.newTokens / (genMs / 1000), unit: 'tok/s', reference: 'PyTorch 1.13, same loop with a KV cache',
        referenceValue: ref.generate_tokens_per_second, higherIsBetter: true,
      },
    ];
  } finally {
    opt.dispose();
    tf.dispose([x, y]);
    model.dispose();
  }
}
