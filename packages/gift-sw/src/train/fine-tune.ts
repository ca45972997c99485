/**
 * A model-agnostic fine-tuning loop: any `Module` and a `(batch) => loss` closure, AdamW over the trainable parameters
 * only (so optimizer state exists only for what a method unfroze: k columns, LoRA factors, or everything), a
 * warm-up + cosine schedule (GIFT-SW §4.5: cosine, warm-up ratio 0.03), optional global-norm clipping, progress
 * callbacks. The same loop runs every method, so their costs compare.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AdamW, SiftError, clipGradNorm, constantLr, valueAndGrads, warmupCosine, type Module } from '@sift/tensor-core';

/** Options of `fineTune`. */
export interface FineTuneOptions {
  /** Optimizer steps. */
  steps: number;
  /** Peak learning rate (GIFT-SW uses ~3–10× the full-FT rate for the salient columns). */
  lr: number;
  /** Schedule: linear warm-up then cosine to `minLr`, or constant. */
  schedule: 'cosine' | 'constant';
  /** Warm-up steps as a fraction of `steps` (cosine only). */
  warmupRatio: number;
  /** Final learning rate of the cosine schedule. */
  minLr: number;
  /** AdamW's decoupled weight decay. */
  weightDecay: number;
  /** Clip the global gradient norm to this value; 0 disables clipping. */
  clipNorm: number;
}

/** Defaults of `FineTuneOptions` (AdamW without weight decay, cosine with 3% warm-up, clip 1). */
export const FINE_TUNE_DEFAULTS: Readonly<FineTuneOptions> = Object.freeze({
  steps: 100, lr: 1e-4, schedule: 'cosine', warmupRatio: 0.03, minLr: 0, weightDecay: 0, clipNorm: 1,
});

/** Progress of `fineTune`, after every step. */
export interface FineTuneProgress {
  stage: 'train';
  step: number;
  of: number;
  loss: number;
  lr: number;
}

/** What `fineTune` did. */
export interface FineTuneReport {
  options: FineTuneOptions;
  /** Loss of every step (before its update). */
  losses: number[];
  /** Trainable scalars. */
  trainableParams: number;
  /** Bytes of AdamW's state after training (two float32 slots per trained scalar). */
  optimizerStateBytes: number;
  /** Wall time of the loop, ms. */
  ms: number;
  /** Mean wall time per step, ms. */
  msPerStep: number;
}

/** Merges `input` over `FINE_TUNE_DEFAULTS` and validates it. */
export function parseFineTuneOptions(input: Partial<FineTuneOptions> = {}): FineTuneOptions {
  const o: FineTuneOptions = { ...FINE_TUNE_DEFAULTS, ...input };
  if (!(Number.isInteger(o.steps) && o.steps >= 1)) throw new SiftError('E_CONFIG', `fineTune: steps must be a positive integer, got ${o.steps}.`);
  if (!(o.lr > 0 && Number.isFinite(o.lr))) throw new SiftError('E_CONFIG', `fineTune: lr must be > 0, got ${o.lr}.`);
  const schedule: string = o.schedule; // options may come from JSON
  if (schedule !== 'cosine' && schedule !== 'constant') throw new SiftError('E_CONFIG', `fineTune: schedule must be 'cosine' or 'constant', got ${JSON.stringify(o.schedule)}.`);
  if (!(o.warmupRatio >= 0 && o.warmupRatio < 1)) throw new SiftError('E_CONFIG', `fineTune: warmupRatio must be in [0, 1), got ${o.warmupRatio}.`);
  if (!(o.minLr >= 0 && o.minLr <= o.lr)) throw new SiftError('E_CONFIG', `fineTune: minLr must be in [0, lr], got ${o.minLr}.`);
  if (!(o.weightDecay >= 0)) throw new SiftError('E_CONFIG', `fineTune: weightDecay must be >= 0, got ${o.weightDecay}.`);
  if (!(o.clipNorm >= 0)) throw new SiftError('E_CONFIG', `fineTune: clipNorm must be >= 0 (0 = off), got ${o.clipNorm}.`);
  return o;
}

/**
 * Trains `model`'s trainable parameters on `loss(batch)` for `steps` steps, the model in training mode (noise and
 * dropout on), and puts it back in eval mode at the end.
 * @param loss     returns a scalar loss for a batch (runs inside the gradient tape; use the model's forward)
 * @param batches  the batch of step `i` (e.g. `(i) => data[i % data.length]`); may be async
 * @example
 * const report = await fineTune(model, (b) => crossEntropy(model.forward(b.x), b.y), (i) => batches[i % batches.length],
 *   { steps: 200, lr: 1e-4 }, { onProgress: (p) => console.log(p.step, p.loss) });
 */
export async function fineTune<B>(model: Module, loss: (batch: B) => tf.Scalar, batches: (step: number) => B | Promise<B>,
  options: Partial<FineTuneOptions> = {}, hooks: { onProgress?: (p: FineTuneProgress) => void } = {}): Promise<FineTuneReport> {
  const o = parseFineTuneOptions(options);
  const trainable = model.namedParameters({ trainableOnly: true });
  if (trainable.length === 0) throw new SiftError('E_CONFIG', 'fineTune: the model has no trainable parameter; apply a method (applyGiftSw, applyLora, ...) first.');
  const warmupSteps = o.schedule === 'cosine' ? Math.floor(o.warmupRatio * o.steps) : 0;
  const lr = o.schedule === 'cosine' ? warmupCosine({ baseLr: o.lr, warmupSteps, totalSteps: o.steps, minLr: o.minLr }) : constantLr(o.lr);
  const opt = new AdamW(trainable, { lr, weightDecay: o.weightDecay });
  const losses: number[] = [];
  model.train();
  const t0 = performance.now();
  try {
    for (let step = 0; step < o.steps; step++) {
      const batch = await batches(step);
      const stepLr = opt.currentLr();
      const value = tf.tidy(() => {
        const { value: v, grads } = valueAndGrads(model, () => loss(batch));
        opt.step(o.clipNorm > 0 ? clipGradNorm(grads, o.clipNorm).grads : grads);
        return v;
      });
      const l = (await value.data())[0];
      value.dispose();
      if (!Number.isFinite(l)) {
        throw new SiftError('E_NAN', `fineTune: the loss is ${l} at step ${step}; lower the learning rate (now ${stepLr}) or enable clipNorm.`);
      }
      losses.push(l);
      hooks.onProgress?.({ stage: 'train', step: step + 1, of: o.steps, loss: l, lr: stepLr });
    }
    const ms = performance.now() - t0;
    const state = opt.state();
    const optimizerStateBytes = Object.values(state.tensors).reduce((n, t) => n + t.size * 4, 0);
    tf.dispose(Object.values(state.tensors));
    return {
      options: o, losses, trainableParams: trainable.reduce((n, [, v]) => n + v.size, 0), optimizerStateBytes, ms, msPerStep: ms / o.steps,
    };
  } finally {
    opt.dispose();
    model.eval();
  }
}
