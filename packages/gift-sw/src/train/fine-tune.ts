/**
 * A model-agnostic fine-tuning loop: any `Module` and a `(batch) => loss` closure, AdamW over the trainable parameters
 * only (so optimizer state exists only for what a method unfroze: k columns, LoRA factors, or everything), a
 * warm-up + cosine schedule (GIFT-SW §4.5: cosine, warm-up ratio 0.03), optional global-norm clipping, progress
 * callbacks. The same loop runs every method, so their costs compare.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  AdamW, Rng, SiftError, clipGradNorm, constantLr, loadTrainingState, parseTrainingState, saveTrainingState, serializeTrainingState,
  valueAndGrads, warmupCosine, writeFileAtomic, type Module, type TrainingState,
} from '@sift/tensor-core';

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

/**
 * A resumable snapshot of a `fineTune` run, taken after a step: the trainable parameters (`param.<name>`), AdamW's
 * moments and step count (`optim.*`, so the schedule resumes too), the generators of the model's noise and dropout
 * (every module with a public `rng`: `GiftLinear`, `LoraLinear`, `DoraLinear`, `NoisyLinear`, `Dropout`), the losses
 * so far and the caller's JSON (e.g. its batch sampler's position). Frozen weights are not stored: resume into the
 * same base model with the same method applied (same seed, same columns).
 */
export type FineTuneState = TrainingState;

/** Hooks of `fineTune`: progress, periodic snapshots, and resuming from one. */
export interface FineTuneHooks {
  /** After every step. */
  onProgress?: (p: FineTuneProgress) => void;
  /** Take a snapshot every this many steps (0 or absent: never). */
  checkpointEvery?: number;
  /** Receives each snapshot (e.g. `writeFineTuneState(file, state)`); its tensors are disposed once it resolves. */
  onCheckpoint?: (state: FineTuneState, step: number) => void | Promise<void>;
  /** JSON saved with each snapshot (read it back with `fineTuneStateInfo(state).caller`). */
  callerState?: () => unknown;
  /** Continue from this snapshot: the run ends as the uninterrupted run would, bit for bit. The caller keeps it. */
  resume?: FineTuneState | undefined;
}

/** What a `FineTuneState` holds besides tensors (stored in `json.extra`). */
interface FineTuneExtra {
  format: 'sift.fine-tune';
  options: FineTuneOptions;
  losses: number[];
  params: { name: string; shape: number[] }[];
  caller?: unknown;
}

const OPTION_KEYS = ['steps', 'lr', 'schedule', 'warmupRatio', 'minLr', 'weightDecay', 'clipNorm'] as const;

function fineTuneExtra(state: FineTuneState): FineTuneExtra {
  const extra = state.json.extra as Partial<FineTuneExtra> | undefined;
  if (extra?.format !== 'sift.fine-tune' || !Array.isArray(extra.losses) || !Array.isArray(extra.params) || extra.options === undefined) {
    throw new SiftError('E_STATE_DICT', 'fineTune: the state is not a fine-tuning snapshot (no sift.fine-tune record); it was not written by fineTune.');
  }
  return extra as FineTuneExtra;
}

/** The step a snapshot was taken after, the run's total steps, and the caller's JSON saved with it. */
export function fineTuneStateInfo(state: FineTuneState): { step: number; of: number; caller: unknown } {
  const extra = fineTuneExtra(state);
  return { step: state.json.step, of: extra.options.steps, caller: extra.caller };
}

/** Modules of `model` with a public generator (noise, dropout), by module path. */
function moduleRngs(model: Module): Record<string, Rng> {
  const out: Record<string, Rng> = {};
  for (const [name, m] of model.namedModules()) {
    const r = (m as { rng?: unknown }).rng;
    if (r instanceof Rng) out[name === '' ? '.' : name] = r;
  }
  return out;
}

/**
 * Writes a `fineTune` snapshot to one safetensors file (tensors + the JSON as metadata), atomically: a killed writer
 * leaves the previous snapshot intact. Node only.
 */
export async function writeFineTuneState(file: string, state: FineTuneState): Promise<void> {
  await writeFileAtomic(file, serializeTrainingState(state));
}

/**
 * Reads a snapshot written by `writeFineTuneState`; dispose `state.tensors` when done. Node only.
 * @throws SiftError `E_STATE_DICT` when the file is not a fine-tuning snapshot
 */
export async function readFineTuneState(file: string): Promise<FineTuneState> {
  const { readFile } = await import('node:fs/promises');
  let state: FineTuneState;
  try {
    state = parseTrainingState(await readFile(file), `"${file}"`);
  } catch (e) {
    if (e instanceof SiftError && e.code === 'E_STATE_DICT') {
      throw new SiftError('E_STATE_DICT', `"${file}" is not a Sift fine-tuning snapshot (no training state in it); it was not written by writeFineTuneState.`);
    }
    throw e;
  }
  const { tensors } = state;
  try {
    fineTuneExtra(state);
  } catch (e) {
    tf.dispose(Object.values(tensors));
    throw e;
  }
  return state;
}

/** Restores a snapshot into the freshly set-up run; returns the losses so far. */
function restore(state: FineTuneState, o: FineTuneOptions, trainable: [string, tf.Variable][], opt: AdamW, rngs: Record<string, Rng>): number[] {
  const extra = fineTuneExtra(state);
  for (const k of OPTION_KEYS) {
    if (extra.options[k] !== o[k]) {
      throw new SiftError('E_CONFIG', `fineTune: cannot resume: ${k} was ${JSON.stringify(extra.options[k])} in the snapshot and is ${JSON.stringify(o[k])} now; resume with the same options or start over.`);
    }
  }
  const want = trainable.map(([n, p]) => `${n} [${p.shape.join(',')}]`);
  const got = extra.params.map((p) => `${p.name} [${p.shape.join(',')}]`);
  if (want.join(';') !== got.join(';')) {
    const diff = want.find((w, i) => w !== got[i]) ?? (got.length > want.length ? got[want.length] : '');
    throw new SiftError('E_CONFIG', `fineTune: cannot resume: the snapshot trained ${got.length} tensors and this model has ${want.length} trainable ones ` +
      `(first difference: ${diff}); apply the same method, options and seed to the same base model as the interrupted run.`);
  }
  const missing = Object.keys(rngs).filter((n) => !(n in state.json.rngs));
  if (missing.length > 0) throw new SiftError('E_CONFIG', `fineTune: cannot resume: the snapshot has no generator state for ${missing.slice(0, 3).join(', ')}; apply the same method as the interrupted run.`);
  const optim: Record<string, tf.Tensor> = {};
  for (const [k, t] of Object.entries(state.tensors)) if (k.startsWith('optim.')) optim[k] = t;
  loadTrainingState({ tensors: optim, json: state.json }, { optimizer: opt });
  for (const [name, p] of trainable) {
    const t = state.tensors[`param.${name}`] as tf.Tensor | undefined;
    if (t === undefined) throw new SiftError('E_STATE_DICT', `fineTune: the snapshot lacks the tensor param.${name}; the file is damaged, start over.`);
    p.assign(t.dtype === p.dtype ? t : tf.cast(t, p.dtype));
  }
  for (const [name, r] of Object.entries(rngs)) r.setState(state.json.rngs[name].state);
  return [...extra.losses];
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
  /** Wall time of the loop (this call's steps only, when resumed), ms. */
  ms: number;
  /** Mean wall time per step of this call, ms. */
  msPerStep: number;
  /** The step the run resumed after, or null. */
  resumedFrom: number | null;
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
 * dropout on), and puts it back in eval mode at the end. With `checkpointEvery` + `onCheckpoint` it hands out
 * resumable snapshots; `resume` continues one, ending exactly as the uninterrupted run.
 * @param loss     returns a scalar loss for a batch (runs inside the gradient tape; use the model's forward)
 * @param batches  the batch of step `i` (e.g. `(i) => data[i % data.length]`); may be async
 * @example
 * const report = await fineTune(model, (b) => crossEntropy(model.forward(b.x), b.y), (i) => batches[i % batches.length],
 *   { steps: 200, lr: 1e-4 }, { onProgress: (p) => console.log(p.step, p.loss),
 *     checkpointEvery: 50, onCheckpoint: (s) => writeFineTuneState('run/state.safetensors', s) });
 */
export async function fineTune<B>(model: Module, loss: (batch: B) => tf.Scalar, batches: (step: number) => B | Promise<B>,
  options: Partial<FineTuneOptions> = {}, hooks: FineTuneHooks = {}): Promise<FineTuneReport> {
  const o = parseFineTuneOptions(options);
  const every = hooks.checkpointEvery ?? 0;
  if (!(Number.isInteger(every) && every >= 0)) throw new SiftError('E_CONFIG', `fineTune: checkpointEvery must be an integer >= 0, got ${every}.`);
  if (every > 0 && hooks.onCheckpoint === undefined) throw new SiftError('E_CONFIG', 'fineTune: checkpointEvery is set but onCheckpoint is not; pass onCheckpoint to receive the snapshots.');
  const trainable = model.namedParameters({ trainableOnly: true });
  if (trainable.length === 0) throw new SiftError('E_CONFIG', 'fineTune: the model has no trainable parameter; apply a method (applyGiftSw, applyLora, ...) first.');
  const warmupSteps = o.schedule === 'cosine' ? Math.floor(o.warmupRatio * o.steps) : 0;
  const lr = o.schedule === 'cosine' ? warmupCosine({ baseLr: o.lr, warmupSteps, totalSteps: o.steps, minLr: o.minLr }) : constantLr(o.lr);
  const opt = new AdamW(trainable, { lr, weightDecay: o.weightDecay });
  const rngs = moduleRngs(model);
  const params = trainable.map(([name, p]) => ({ name, shape: [...p.shape] }));
  let losses: number[] = [];
  let start = 0;
  try {
    if (hooks.resume !== undefined) {
      losses = restore(hooks.resume, o, trainable, opt, rngs);
      start = hooks.resume.json.step;
      if (start !== losses.length || start > o.steps) throw new SiftError('E_STATE_DICT', `fineTune: the snapshot's step (${start}) does not match its ${losses.length} losses; the file is damaged, start over.`);
    }
  } catch (e) {
    opt.dispose();
    throw e;
  }
  const snapshot = async (step: number): Promise<void> => {
    const state = saveTrainingState({ optimizer: opt, rngs, step });
    for (const [name, p] of trainable) state.tensors[`param.${name}`] = tf.clone(p);
    const extra: FineTuneExtra = { format: 'sift.fine-tune', options: o, losses: [...losses], params, ...(hooks.callerState === undefined ? {} : { caller: hooks.callerState() }) };
    state.json.extra = extra;
    try {
      await hooks.onCheckpoint!(state, step);
    } finally {
      tf.dispose(Object.values(state.tensors));
    }
  };
  model.train();
  const t0 = performance.now();
  try {
    for (let step = start; step < o.steps; step++) {
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
      if (every > 0 && (step + 1) % every === 0 && step + 1 < o.steps) await snapshot(step + 1);
    }
    const ms = performance.now() - t0;
    const state = opt.state();
    const optimizerStateBytes = Object.values(state.tensors).reduce((n, t) => n + t.size * 4, 0);
    tf.dispose(Object.values(state.tensors));
    const ran = o.steps - start;
    return {
      options: o, losses, trainableParams: trainable.reduce((n, [, v]) => n + v.size, 0), optimizerStateBytes, ms, msPerStep: ran > 0 ? ms / ran : 0,
      resumedFrom: hooks.resume === undefined ? null : start,
    };
  } finally {
    opt.dispose();
    model.eval();
  }
}
