// Training throughput (events/s) of CoLES and of the generative model on wasm against the same GRU models in PyTorch
// (tools/crosscheck/eventseq_bench.py, Debian's torch), one thread each, measured in the same run. Same architecture
// (16-d mcc embedding, 8-d amount projection, 2 time features, GRU 64; generative: GRU decoder and heads), same batch
// shapes (CoLES: 32 clients × 4 views of 25–50 events, margin loss with 5 hard negatives; generative: 64 sequences of
// 50–100 events), AdamW and gradient clipping. Run: pnpm bench train.
import { fileURLToPath } from 'node:url';
import { initBackend } from '@sift/backend';
import { generateSynthetic, trainColes, trainGenerative, type TrainOptions } from '@sift/eventseq-ssl';
import { runPython, type BenchRow } from '../../../tools/bench/harness.js';

const CONFIG = {
  vocab: 32, catDim: 16, numDim: 8, hidden: 64, colesEntities: 32, colesViews: 4, colesLen: 50, genBatch: 64, genLen: 100, steps: 6, threads: 1,
};

export default async function bench(): Promise<BenchRow[]> {
  await initBackend({ prefer: ['wasm'], threads: CONFIG.threads });
  const { store } = generateSynthetic({ seed: 0, numClients: 128, minEvents: CONFIG.genLen / 2, maxEvents: CONFIG.genLen, numCodes: CONFIG.vocab - 2 });
  const common: Partial<TrainOptions> = {
    encoder: { hiddenSize: CONFIG.hidden, categoricalDim: CONFIG.catDim, numericDim: CONFIG.numDim }, eventDropout: 0, maxLen: CONFIG.genLen,
  };
  const coles = (epochs: number): number => {
    const r = trainColes(store, {
      ...common, epochs, batchSize: CONFIG.colesEntities,
      slices: { count: CONFIG.colesViews, minLength: CONFIG.colesLen / 2, maxLength: CONFIG.colesLen },
    });
    r.encoder.dispose();
    return r.report.eventsPerSecond;
  };
  const generative = (epochs: number): number => {
    const r = trainGenerative(store, { ...common, epochs, batchSize: CONFIG.genBatch });
    r.encoder.dispose();
    return r.report.eventsPerSecond;
  };
  coles(1); // warm-up: kernels, first allocations
  generative(1);
  const ours = { coles: coles(2), generative: generative(3) };
  const script = fileURLToPath(new URL('../../../tools/crosscheck/eventseq_bench.py', import.meta.url));
  const ref = await runPython<{ coles: number; generative: number; torch: string }>(script, [JSON.stringify(CONFIG)], CONFIG.threads);
  const refValue = (k: 'coles' | 'generative'): number => (ref.ok ? ref.value[k] : Number.NaN);
  const torch = ref.ok ? `PyTorch ${ref.value.torch} CPU, same model` : ref.reason;
  return [
    { name: `CoLES training (GRU ${CONFIG.hidden}, ${CONFIG.colesEntities}×${CONFIG.colesViews} views, 1 thread)`, value: ours.coles, unit: 'events/s', reference: torch, referenceValue: refValue('coles'), higherIsBetter: true },
    { name: `generative training (GRU ${CONFIG.hidden} enc+dec, batch ${CONFIG.genBatch}, 1 thread)`, value: ours.generative, unit: 'events/s', reference: torch, referenceValue: refValue('generative'), higherIsBetter: true },
  ];
}
