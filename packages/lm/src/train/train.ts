import * as tf from '@tensorflow/tfjs-core';
import {
  AdamW, SiftError, clipGradNorm, loadTrainingState, lrAt, noDecayRank1, readSafetensorsFile, safeTensorToTf, saveTrainingState,
  tfToSafeTensor, valueAndGrads, warmupCosine, writeSafetensorsFile, type RngState, type SafeTensor, type TrainingStateJson,
} from '@sift/tensor-core';
import { RandomBatches, sequentialWindows, windowBatches } from '../data/sampler.js';
import { lmNodeModules } from '../internal/node.js';
import type { CausalLM } from '../model/causal-lm.js';

/** Hyper-parameters and schedule of `trainLm` (plain, serializable). */
export interface TrainOptions {
  /** Optimizer steps in all (the cosine schedule ends here). */
  steps: number;
  /** Rows per batch B. */
  batchSize: number;
  /** Tokens per row L (≤ the model's context). */
  seqLen: number;
  /** Peak learning rate (after warm-up). */
  lr: number;
  /** Learning rate at the end of the cosine. */
  minLr: number;
  /** Linear warm-up steps. */
  warmupSteps: number;
  /** AdamW decoupled weight decay (not applied to biases and norm scales, nanoGPT's rule). */
  weightDecay: number;
  /** AdamW β1, β2. */
  betas: [number, number];
  /** Clip the global gradient norm to this; 0 = off. */
  gradClip: number;
  /** Validation loss every this many steps (and at the end); 0 = at the end only. */
  evalEvery: number;
  /** Validation batches of `batchSize` consecutive windows of `seqLen` (from the stream's start); 0 = all windows. */
  evalBatches: number;
  /** Progress callback every this many steps. */
  logEvery: number;
  /** Write a resumable checkpoint every this many steps (and at the end); 0 = never. Needs `checkpointDir`. */
  checkpointEvery: number;
  /** Folder of the training checkpoint (`training-state.safetensors`); resumed from when it exists. */
  checkpointDir?: string;
  /** Seed of the batch sampler. */
  seed: number;
}

/** Defaults of `TrainOptions` (nanoGPT-like for small models). */
export const TRAIN_DEFAULTS: Omit<TrainOptions, 'checkpointDir'> = {
  steps: 1000, batchSize: 16, seqLen: 128, lr: 1e-3, minLr: 1e-4, warmupSteps: 100, weightDecay: 0.1, betas: [0.9, 0.95],
  gradClip: 1, evalEvery: 0, evalBatches: 8, logEvery: 10, checkpointEvery: 0, seed: 0,
};

/** What `onProgress` receives. */
export interface TrainProgress {
  /** Steps done. */
  step: number;
  /** Steps in all. */
  totalSteps: number;
  /** Mean training loss (nats) over the steps since the last report. */
  loss: number;
  /** Learning rate of the last step. */
  lr: number;
  /** Training tokens per second in this run. */
  tokensPerSecond: number;
  /** Estimated seconds left. */
  etaSeconds: number;
  /** Validation loss, when it was just measured. */
  valLoss?: number;
}

/** Callbacks of `trainLm` (kept apart from the serializable options). */
export interface TrainHooks {
  /** Called every `logEvery` steps, after validations and at the end. */
  onProgress?: (p: TrainProgress) => void;
  /** Asked after every step (after any checkpoint): true stops the run early, as a kill would. */
  shouldStop?: (step: number) => boolean;
}

/** One point of the training curve. */
export interface TrainHistoryPoint {
  step: number;
  /** Mean training loss since the previous point. */
  loss: number;
  lr: number;
  valLoss?: number;
}

/** What `trainLm` returns. */
export interface TrainReport {
  /** Steps done (including those before a resume). */
  steps: number;
  /** True when `shouldStop` ended the run before `options.steps`. */
  stopped: boolean;
  /** The step the run resumed from, or null. */
  resumedFrom: number | null;
  /** Training tokens processed in this run. */
  tokens: number;
  /** Wall time of this run. */
  seconds: number;
  /** Training tokens per second in this run. */
  tokensPerSecond: number;
  /** Loss of the last step. */
  lastLoss: number;
  /** Last validation loss (nats/token), or null without validation data. */
  valLoss: number | null;
  /** exp(valLoss), or null. */
  valPerplexity: number | null;
  /** Logged points (also across a resume). */
  history: TrainHistoryPoint[];
  /** The checkpoint file, if one was written. */
  checkpoint: string | null;
}

/** Token streams for training and validation. */
export interface TrainData {
  /** Training stream (random windows are drawn from it). */
  train: Int32Array;
  /** Validation stream (consecutive windows), optional. */
  validation?: Int32Array;
}

interface Extra {
  batches: RngState;
  history: TrainHistoryPoint[];
}

const STATE_FILE = 'training-state.safetensors';

function resolveOptions(options: Partial<TrainOptions>, model: CausalLM): TrainOptions {
  const o = { ...TRAIN_DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => (v as unknown) !== undefined)) } as TrainOptions;
  const bad = (field: string, want: string): never => {
    throw new SiftError('E_CONFIG', `trainLm: ${field} must be ${want}, got ${JSON.stringify(o[field as keyof TrainOptions])}.`);
  };
  const posInt = (f: keyof TrainOptions): void => {
    const v = o[f];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) bad(f, 'a positive integer');
  };
  const nonNegInt = (f: keyof TrainOptions): void => {
    const v = o[f];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) bad(f, 'an integer >= 0');
  };
  posInt('steps');
  posInt('batchSize');
  posInt('seqLen');
  posInt('logEvery');
  nonNegInt('warmupSteps');
  nonNegInt('evalEvery');
  nonNegInt('evalBatches');
  nonNegInt('checkpointEvery');
  if (o.seqLen > model.maxContext) bad('seqLen', `<= the model's context (${model.maxContext})`);
  if (!(o.lr > 0)) bad('lr', '> 0');
  if (!(o.minLr >= 0 && o.minLr <= o.lr)) bad('minLr', 'in [0, lr]');
  if (o.warmupSteps >= o.steps) bad('warmupSteps', `< steps (${o.steps})`);
  if (!(o.weightDecay >= 0)) bad('weightDecay', '>= 0');
  if (!(o.gradClip >= 0)) bad('gradClip', '>= 0 (0 = off)');
  if (o.checkpointEvery > 0 && o.checkpointDir === undefined) bad('checkpointDir', 'set when checkpointEvery > 0');
  return o;
}

/**
 * Mean next-token loss (nats/token) of the model over consecutive windows of a stream.
 * @param maxBatches 0 = every window
 */
export async function evaluateLoss(model: CausalLM, stream: Int32Array, options: { seqLen: number; batchSize: number; maxBatches?: number }): Promise<number> {
  const windows = sequentialWindows(stream, { length: options.seqLen });
  let sum = 0;
  let count = 0;
  let n = 0;
  for (const w of windowBatches(windows, options.batchSize)) {
    if ((options.maxBatches ?? 0) > 0 && n >= options.maxBatches!) break;
    const loss = tf.tidy(() => model.loss(tf.tensor2d(w.data, w.shape, 'int32')));
    const tokens = w.shape[0] * (w.shape[1] - 1);
    sum += (await loss.data())[0] * tokens;
    loss.dispose();
    count += tokens;
    n += 1;
  }
  return sum / count;
}

async function writeState(file: string, model: CausalLM, opt: AdamW, step: number, extra: Extra): Promise<void> {
  const state = saveTrainingState({ optimizer: opt, model, step, extra });
  try {
    const safe = new Map<string, SafeTensor>();
    for (const [k, t] of Object.entries(state.tensors)) safe.set(k, await tfToSafeTensor(t, { name: k }));
    await writeSafetensorsFile(file, safe, { sift_training: JSON.stringify(state.json) });
  } finally {
    tf.dispose(Object.values(state.tensors));
  }
}

async function readState(file: string, model: CausalLM, opt: AdamW): Promise<{ step: number; extra: Extra }> {
  const data = await readSafetensorsFile(file);
  const text = data.metadata.sift_training as string | undefined;
  if (text === undefined) throw new SiftError('E_STATE_DICT', `"${file}" is not a Sift training state (no sift_training metadata).`);
  const json = JSON.parse(text) as TrainingStateJson;
  const tensors: Record<string, tf.Tensor> = {};
  try {
    for (const [k, t] of data.tensors()) tensors[k] = safeTensorToTf(t, { name: k });
    const { step, extra } = loadTrainingState({ tensors, json }, { optimizer: opt, model });
    return { step, extra: extra as Extra };
  } finally {
    tf.dispose(Object.values(tensors));
  }
}

/**
 * Trains a causal LM on a token stream: AdamW (decoupled decay, none on biases and norm scales), linear warm-up then
 * cosine decay, global-norm gradient clipping, periodic validation loss, progress with tokens/s and ETA, and a
 * resumable checkpoint every N steps (weights, optimizer moments, step, batch-sampler state, history; one
 * safetensors file written atomically). With `checkpointDir` holding a checkpoint, the run resumes from it and ends
 * bit-identical to an uninterrupted run.
 * @example
 * const report = await trainLm(model, { train, validation }, { steps: 2000, batchSize: 16, seqLen: 128, checkpointEvery: 200,
 *   checkpointDir: 'runs/small' }, { onProgress: (p) => console.log(p.step, p.loss, p.etaSeconds) });
 */
export async function trainLm(model: CausalLM, data: TrainData, options: Partial<TrainOptions> = {}, hooks: TrainHooks = {}): Promise<TrainReport> {
  const o = resolveOptions(options, model);
  const schedule = warmupCosine({ baseLr: o.lr, warmupSteps: o.warmupSteps, totalSteps: o.steps, minLr: o.minLr });
  const opt = new AdamW(model, { lr: schedule, betas: o.betas, weightDecay: o.weightDecay, noDecay: noDecayRank1 });
  let file: string | null = null;
  let step = 0;
  let resumedFrom: number | null = null;
  let history: TrainHistoryPoint[] = [];
  let batchState: RngState | undefined;
  if (o.checkpointDir !== undefined) {
    const { fs, path } = await lmNodeModules('trainLm checkpoints');
    await fs.mkdir(o.checkpointDir, { recursive: true });
    file = path.join(o.checkpointDir, STATE_FILE);
    const exists = await fs.access(file).then(() => true, () => false);
    if (exists) {
      const r = await readState(file, model, opt);
      step = r.step;
      resumedFrom = step;
      history = r.extra.history;
      batchState = r.extra.batches;
    }
  }
  const batches = new RandomBatches(data.train, { batchSize: o.batchSize, length: o.seqLen, seed: o.seed }, batchState);
  const tokensPerStep = o.batchSize * o.seqLen;
  const t0 = performance.now();
  const startStep = step;
  let windowLoss = 0;
  let windowSteps = 0;
  let lastLoss = Number.NaN;
  let valLoss: number | null = null;
  let stopped = false;
  let wroteCheckpoint = false;
  model.train();
  const validate = async (): Promise<number | null> => {
    if (data.validation === undefined) return null;
    model.eval();
    try {
      return await evaluateLoss(model, data.validation, { seqLen: o.seqLen, batchSize: o.batchSize, maxBatches: o.evalBatches });
    } finally {
      model.train();
    }
  };
  try {
    while (step < o.steps) {
      const lr = lrAt(schedule, opt.stepCount);
      const b = batches.next().value;
      const loss = tf.tidy(() => {
        const x = tf.tensor2d(b.inputs, b.shape, 'int32');
        const y = tf.tensor2d(b.targets, b.shape, 'int32');
        const { value, grads } = valueAndGrads(model, () => model.loss(x, { targets: y }));
        opt.step(o.gradClip > 0 ? clipGradNorm(grads, o.gradClip).grads : grads);
        return value;
      });
      lastLoss = (await loss.data())[0]!;
      loss.dispose();
      if (!Number.isFinite(lastLoss)) {
        throw new SiftError('E_NAN', `trainLm: the loss is ${lastLoss} at step ${step + 1}; lower lr (${o.lr}) or set gradClip.`);
      }
      step += 1;
      windowLoss += lastLoss;
      windowSteps += 1;
      const isEval = step === o.steps || (o.evalEvery > 0 && step % o.evalEvery === 0);
      const isLog = isEval || step % o.logEvery === 0;
      let v: number | null = null;
      if (isEval) {
        v = await validate();
        if (v !== null) valLoss = v;
      }
      if (isLog) {
        const point: TrainHistoryPoint = { step, loss: windowLoss / windowSteps, lr };
        if (v !== null) point.valLoss = v;
        history.push(point);
        const seconds = (performance.now() - t0) / 1000;
        const tps = ((step - startStep) * tokensPerStep) / Math.max(seconds, 1e-9);
        const p: TrainProgress = {
          step, totalSteps: o.steps, loss: point.loss, lr, tokensPerSecond: tps,
          etaSeconds: ((o.steps - step) * tokensPerStep) / Math.max(tps, 1e-9),
        };
        if (v !== null) p.valLoss = v;
        hooks.onProgress?.(p);
        windowLoss = 0;
        windowSteps = 0;
      }
      if (file !== null && o.checkpointEvery > 0 && (step % o.checkpointEvery === 0 || step === o.steps)) {
        await writeState(file, model, opt, step, { batches: batches.state(), history });
        wroteCheckpoint = true;
      }
      if (step < o.steps && hooks.shouldStop?.(step) === true) {
        stopped = true;
        break;
      }
    }
  } finally {
    opt.dispose();
    model.eval();
  }
  if (!stopped && valLoss === null && startStep === o.steps) valLoss = await validate();
  const seconds = (performance.now() - t0) / 1000;
  const tokens = (step - startStep) * tokensPerStep;
  return {
    steps: step, stopped, resumedFrom, tokens, seconds, tokensPerSecond: tokens / Math.max(seconds, 1e-9), lastLoss, valLoss,
    valPerplexity: valLoss === null ? null : Math.exp(valLoss), history, checkpoint: wroteCheckpoint ? file : null,
  };
}
