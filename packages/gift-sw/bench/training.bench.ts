// Training step time and AdamW state of GIFT-SW vs LoRA (same budget) vs full fine-tuning, on a d = 256, 4-block
// transformer-like stack of tensor-core modules (src/internal/tiny-model.ts), all through the same `fineTune` loop.
// Rows are ratios against full fine-tuning measured in the same run.
import { initBackend } from '@sift/backend';
import * as tf from '@tensorflow/tfjs-core';
import { type BenchRow } from '../../../tools/bench/harness.js';
import { applyFullFineTuning, applyGiftSw, applyLora, fineTune, loraRankForBudget, type FineTuneReport } from '../src/index.js';
import { TinyModel, tinyTask } from '../src/internal/tiny-model.js';
import { STACK } from './config.js';

type Method = 'full' | 'gift-sw' | 'lora';

async function run(method: Method): Promise<FineTuneReport> {
  const model = new TinyModel({ d: STACK.d, hidden: STACK.hidden, blocks: STACK.blocks, classes: STACK.classes, seed: 1 });
  const { x, y } = tinyTask(STACK.tokens, STACK.d, STACK.classes, 2);
  if (method === 'full') applyFullFineTuning(model);
  else if (method === 'lora') applyLora(model, { rank: loraRankForBudget(STACK.k, STACK.d, STACK.d), dropout: 0 });
  else applyGiftSw(model, { k: STACK.k, columns: 'random' }); // column choice does not change the step's cost
  const loss = (b: { x: tf.Tensor; y: tf.Tensor1D }): tf.Scalar => model.loss(b.x, b.y);
  await fineTune(model, loss, () => ({ x, y }), { steps: 1, lr: 1e-4 }); // warm-up (kernels, first allocations)
  const r = await fineTune(model, loss, () => ({ x, y }), { steps: STACK.steps, lr: 1e-4 });
  tf.dispose([x, y]);
  model.dispose();
  return r;
}

export default async function bench(): Promise<BenchRow[]> {
  const info = await initBackend({ prefer: ['wasm'] });
  const where = `${info.name}, ${String(info.threads)} thread(s), d=${STACK.d} x${STACK.blocks} blocks, ${STACK.tokens} tokens`;
  const full = await run('full');
  const rows: BenchRow[] = [];
  for (const m of ['gift-sw', 'lora'] as const) {
    const r = await run(m);
    rows.push({
      name: `${m} training step (${where})`, value: r.msPerStep, unit: 'ms', reference: 'full fine-tuning step',
      referenceValue: full.msPerStep, higherIsBetter: false,
    });
    rows.push({
      name: `${m} AdamW state (${r.trainableParams} trainable)`, value: r.optimizerStateBytes / 2 ** 20, unit: 'MiB',
      reference: `full fine-tuning (${full.trainableParams} trainable)`, referenceValue: full.optimizerStateBytes / 2 ** 20, higherIsBetter: false,
    });
  }
  return rows;
}
