/**
 * Training of every method (MLEM brief §2): CoLES (margin or InfoNCE), generative, naive hybrid, MLEM and the
 * supervised baseline. One seeded loop: AdamW, gradient clipping, progress (events/s, ETA), optional early stopping.
 */
import * as tf from '@tensorflow/tfjs-core';
import { AdamW, Module, Rng, SiftError, clipGradNorm, loadTrainingState, saveTrainingState, valueAndGrads, type TrainingState } from '@sift/tensor-core';
import {
  batchForEntities, batchFromSlices, batchToTensors, colesSlices, COLES_SLICE_DEFAULTS, lengthBuckets,
  type ColesSliceOptions, type PaddedBatch, type PaddedBatchTensors,
} from '../data/batch.js';
import type { SequenceStore } from '../data/store.js';
import { createSequenceEncoder, type SequenceEncoder, type SequenceEncoderOptions } from '../nn/sequence-encoder.js';
import {
  colesInfoNceLoss, colesMarginLoss, INFONCE_DEFAULTS, l2Normalize, MARGIN_LOSS_DEFAULTS, siglipLoss,
  type InfoNceOptions, type MarginLossOptions,
} from './losses.js';
import { GenerativeModel, SupervisedModel } from './models.js';

/** The methods. */
export type MethodName = 'coles' | 'generative' | 'hybrid' | 'mlem' | 'supervised';

/** Options of every `train*` function (each uses the ones that concern it). */
export interface TrainOptions {
  /** Seeds the initialisation, batch order, slices and event dropout. Default 0. */
  seed: number;
  /** Passes over the training entities. Default 10. */
  epochs: number;
  /** Entities per step (CoLES: each gives `slices.count` views). Default 64. */
  batchSize: number;
  /** AdamW learning rate; null = the method's own (CoLES, supervised 1e-3; generative, hybrid, MLEM 3e-3). */
  lr: number | null;
  /** AdamW weight decay; null = the method's own (CoLES, supervised 0; generative, hybrid, MLEM 1e-3). */
  weightDecay: number | null;
  /** Global gradient-norm clip (0 = off). Default 5. */
  clipNorm: number;
  /** Keep the last N events of each sequence (whole-sequence methods). Default 200. */
  maxLen: number;
  /** Training event dropout (MLEM 0.01). Default 0.01. */
  eventDropout: number;
  /** CoLES views. Default 5 slices of 25–200 events. */
  slices: ColesSliceOptions;
  /** CoLES loss: `margin` (ptls, hard negatives) or `infonce`. Default `margin`. */
  colesLoss: 'margin' | 'infonce';
  margin: MarginLossOptions;
  infoNce: InfoNceOptions;
  /** Reconstruction: Δt weight (10) and latent L1 (1e-4 generative and hybrid, 1e-3 MLEM when null). */
  dtWeight: number;
  latentL1: number | null;
  /** Hybrid: weight of the CoLES loss on the shared latent. Default 1. */
  hybridColesWeight: number;
  /** MLEM: weight w of the SigLIP alignment. Default 10. */
  alignWeight: number;
  /** Supervised: the store label to fit (class indices). Default the store's first label. */
  label: string | null;
  /** Stop when the epoch's mean training loss has not improved by `minDelta` (relative) for `patience` epochs. */
  earlyStopping: { patience: number; minDelta: number } | null;
  /** Store indices to train on; default all. */
  entities: number[] | null;
  /** The encoder. */
  encoder: Partial<SequenceEncoderOptions>;
}

/** Defaults of `TrainOptions`. */
export const TRAIN_DEFAULTS: Readonly<TrainOptions> = {
  seed: 0, epochs: 10, batchSize: 64, lr: null, weightDecay: null, clipNorm: 5, maxLen: 200, eventDropout: 0.01,
  slices: COLES_SLICE_DEFAULTS, colesLoss: 'margin', margin: MARGIN_LOSS_DEFAULTS, infoNce: INFONCE_DEFAULTS,
  dtWeight: 10, latentL1: null, hybridColesWeight: 1, alignWeight: 10, label: null, earlyStopping: null, entities: null,
  encoder: {},
};

/** Progress, once per step. */
export interface TrainProgress {
  method: MethodName;
  epoch: number;
  epochs: number;
  step: number;
  stepsPerEpoch: number;
  loss: number;
  /** Training events (after slicing and dropout) per second so far. */
  eventsPerSecond: number;
  /** Estimated seconds left for the remaining epochs. */
  etaSeconds: number;
}

/** What training returns besides the encoder. */
export interface TrainReport {
  method: MethodName;
  /** Epochs run. */
  epochs: number;
  steps: number;
  /** Mean training loss per epoch. */
  epochLoss: number[];
  /** Events processed (counted after slicing, dropout and truncation). */
  events: number;
  seconds: number;
  eventsPerSecond: number;
  stoppedEarly: boolean;
  /** The options used, defaults filled in. */
  options: TrainOptions;
}

/** A trained encoder and its report. */
export interface TrainResult {
  /** The encoder whose `last` output is the embedding (for the generative methods, the latent after LayerNorm). */
  encoder: SequenceEncoder;
  report: TrainReport;
}

const KNOWN = Object.keys(TRAIN_DEFAULTS).concat(['onProgress', 'onEpoch', 'resume']);

function resolve(where: string, input: Partial<TrainOptions>): TrainOptions {
  for (const k of Object.keys(input)) {
    if (!KNOWN.includes(k)) throw new SiftError('E_CONFIG', `${where}: unknown option "${k}"; known: ${KNOWN.join(', ')}.`);
  }
  const o: TrainOptions = {
    ...TRAIN_DEFAULTS, ...input,
    slices: { ...COLES_SLICE_DEFAULTS, ...input.slices },
    margin: { ...MARGIN_LOSS_DEFAULTS, ...input.margin },
    infoNce: { ...INFONCE_DEFAULTS, ...input.infoNce },
  };
  for (const k of ['epochs', 'batchSize', 'maxLen'] as const) {
    if (!Number.isInteger(o[k]) || o[k] < 1) throw new SiftError('E_CONFIG', `${where}: ${k} must be an integer >= 1, got ${o[k]}.`);
  }
  if (!(o.eventDropout >= 0 && o.eventDropout < 1)) throw new SiftError('E_CONFIG', `${where}: eventDropout must be in [0, 1), got ${o.eventDropout}.`);
  if (!(['margin', 'infonce'] as string[]).includes(o.colesLoss)) throw new SiftError('E_CONFIG', `${where}: colesLoss must be 'margin' or 'infonce'.`);
  return o;
}

function entitiesOf(where: string, store: SequenceStore, o: TrainOptions): number[] {
  const ids = o.entities ?? Array.from({ length: store.numEntities }, (_, i) => i);
  if (ids.length < 2) throw new SiftError('E_DATA', `${where}: need at least 2 training entities, got ${ids.length}.`);
  for (const i of ids) {
    if (!Number.isInteger(i) || i < 0 || i >= store.numEntities) throw new SiftError('E_CONFIG', `${where}: entity ${i} is outside [0, ${store.numEntities}).`);
    if (store.length(i) === 0) throw new SiftError('E_DATA', `${where}: entity ${i} ("${store.entityIds[i]}") has no events; leave it out of \`entities\`.`);
  }
  return ids;
}

/**
 * The shared loop. `makeBatches` gives one epoch's host batches; `loss` builds the scalar loss of a batch on device.
 */
function loop(method: MethodName, o: TrainOptions, trainable: Module, defaults: { lr: number; weightDecay: number },
  makeBatches: (epochRng: Rng) => { batch: PaddedBatch; groups?: Int32Array }[],
  loss: (t: PaddedBatchTensors, item: { batch: PaddedBatch; groups?: Int32Array; extra?: tf.Tensor }) => tf.Scalar,
  call: TrainCall, before?: (t: PaddedBatchTensors) => tf.Tensor): TrainReport {
  const { onProgress } = call;
  const opt = new AdamW(trainable, { lr: o.lr ?? defaults.lr, weightDecay: o.weightDecay ?? defaults.weightDecay });
  const rng = new Rng(o.seed).fork(`train-${method}`);
  const t0 = performance.now();
  let epochLoss: number[] = [];
  let events = 0;
  let steps = 0;
  let best = Infinity;
  let sinceBest = 0;
  let stoppedEarly = false;
  let start = 0;
  const fingerprint = optionsFingerprint(o);
  if (call.resume !== undefined) {
    try {
      const info = trainSnapshotInfo(call.resume);
      const extra = call.resume.json.extra as EpochExtra;
      if (info.method !== method) throw new SiftError('E_CONFIG', `train ${method}: cannot resume a ${info.method} snapshot; resume with the method it was taken from.`);
      for (const [k, v] of Object.entries(fingerprint)) {
        if (extra.options[k] !== v) {
          throw new SiftError('E_CONFIG', `train ${method}: cannot resume: ${k} was ${extra.options[k] ?? 'unset'} in the snapshot and is ${v} now; ` +
            'resume with the same options and data, or start over.');
        }
      }
      loadTrainingState(call.resume, { optimizer: opt, model: trainable });
      ({ epochLoss, events, steps, sinceBest } = { ...extra, epochLoss: [...extra.epochLoss] });
      best = extra.best ?? Infinity;
      start = extra.epoch;
    } catch (e) {
      opt.dispose();
      throw e;
    }
  }
  trainable.train();
  try {
    for (let epoch = start; epoch < o.epochs; epoch++) {
      const batches = makeBatches(rng.fork(epoch));
      let sum = 0;
      batches.forEach((item, step) => {
        const { batch } = item;
        const t = batchToTensors(batch);
        let value: number;
        // Inputs computed outside the gradient tape (MLEM's frozen contrastive embeddings).
        const extra = before?.(t);
        try {
          value = tf.tidy(() => {
            const { value: v, grads } = valueAndGrads(trainable, () => loss(t, { ...item, extra }));
            opt.step(o.clipNorm > 0 ? clipGradNorm(grads, o.clipNorm).grads : grads);
            return v.dataSync()[0];
          });
        } finally {
          t.dispose();
          extra?.dispose();
        }
        if (!Number.isFinite(value)) {
          throw new SiftError('E_NAN', `train ${method}: the loss became ${value} at epoch ${epoch + 1}, step ${step + 1}; lower lr or raise clipNorm.`);
        }
        sum += value;
        steps++;
        for (const n of batch.lengths) events += n;
        const seconds = (performance.now() - t0) / 1000;
        const done = epoch * batches.length + step + 1;
        onProgress?.({
          method, epoch: epoch + 1, epochs: o.epochs, step: step + 1, stepsPerEpoch: batches.length, loss: value,
          eventsPerSecond: events / Math.max(seconds, 1e-9), etaSeconds: seconds / done * (o.epochs * batches.length - done),
        });
      });
      const mean = sum / Math.max(1, batches.length);
      epochLoss.push(mean);
      if (o.earlyStopping !== null) {
        if (best === Infinity || mean < best - Math.abs(best) * o.earlyStopping.minDelta) {
          best = mean;
          sinceBest = 0;
        } else if (++sinceBest >= o.earlyStopping.patience) {
          stoppedEarly = true;
          break;
        }
      }
      if (call.onEpoch !== undefined && epoch + 1 < o.epochs) {
        const extra: EpochExtra = {
          format: 'sift.eventseq-train', method, epoch: epoch + 1, epochLoss: [...epochLoss], events, steps,
          best: Number.isFinite(best) ? best : null, sinceBest, options: fingerprint,
        };
        const snapshot = saveTrainingState({ optimizer: opt, model: trainable, step: steps, extra });
        try {
          call.onEpoch(snapshot, epoch + 1);
        } finally {
          tf.dispose(Object.values(snapshot.tensors));
        }
      }
    }
  } finally {
    opt.dispose();
    trainable.eval();
  }
  const seconds = (performance.now() - t0) / 1000;
  return { method, epochs: epochLoss.length, steps, epochLoss, events, seconds, eventsPerSecond: events / Math.max(seconds, 1e-9), stoppedEarly, options: o };
}

function colesBatches(store: SequenceStore, ids: number[], o: TrainOptions) {
  return (r: Rng): { batch: PaddedBatch; groups: Int32Array }[] => {
    const order = r.shuffle([...ids]);
    const out: { batch: PaddedBatch; groups: Int32Array }[] = [];
    for (let i = 0; i + 1 < order.length || i === 0; i += o.batchSize) {
      const chunk = order.slice(i, i + o.batchSize);
      if (chunk.length < 2) break;
      const slices = colesSlices(store, chunk, o.slices, r);
      const groups = Int32Array.from(slices, (_, k) => Math.floor(k / o.slices.count));
      out.push({ batch: batchFromSlices(store, slices, { maxLen: o.maxLen, dropout: o.eventDropout, rng: r }), groups });
    }
    return out;
  };
}

function wholeBatches(store: SequenceStore, ids: number[], o: TrainOptions) {
  return (r: Rng): { batch: PaddedBatch }[] => lengthBuckets(store, ids, o.batchSize, r)
    .map((chunk) => ({ batch: batchForEntities(store, chunk, { maxLen: o.maxLen, dropout: o.eventDropout, rng: r }) }));
}

function colesLoss(o: TrainOptions, z: tf.Tensor, groups: Int32Array): tf.Scalar {
  return o.colesLoss === 'margin' ? colesMarginLoss(l2Normalize(z), groups, o.margin) : colesInfoNceLoss(z, groups, o.infoNce);
}

/** Extra per-call inputs of the training functions. */
export interface TrainCall {
  onProgress?: (p: TrainProgress) => void;
  /**
   * After every epoch but the last, a resumable snapshot (the trained module's weights, AdamW's moments and step
   * count, the epoch, the losses so far; batch order, slices and event dropout are seeded per epoch). Synchronous:
   * store it with `serializeTrainingState` (tensor-core) and write the bytes atomically; its tensors are disposed when
   * the callback returns.
   */
  onEpoch?: (snapshot: TrainingState, epoch: number) => void;
  /** Continue from a snapshot of the same method, store and options; the run ends as the uninterrupted one would. */
  resume?: TrainingState | undefined;
}

/** What a snapshot carries in `json.extra`. */
interface EpochExtra {
  format: 'sift.eventseq-train';
  method: MethodName;
  epoch: number;
  epochLoss: number[];
  events: number;
  steps: number;
  best: number | null;
  sinceBest: number;
  /** The options, key by key (the entity list as a count and checksum), to refuse a resume with other ones. */
  options: Record<string, string>;
}

/** `o` key by key as short strings; `entities` as its length and an FNV-1a checksum. */
function optionsFingerprint(o: TrainOptions): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(TRAIN_DEFAULTS) as (keyof TrainOptions)[]) {
    const v = o[k];
    if (k === 'entities' && Array.isArray(v)) {
      let h = 0x811c9dc5;
      for (const e of v) h = Math.imul(h ^ e, 0x01000193) >>> 0;
      out[k] = `${String(v.length)} entities, checksum ${h.toString(16)}`;
    } else {
      out[k] = JSON.stringify(v);
    }
  }
  return out;
}

/** The step a snapshot of `train*` was taken after: method and epochs done of the total. */
export function trainSnapshotInfo(snapshot: TrainingState): { method: MethodName; epoch: number; epochs: number } {
  const extra = snapshot.json.extra as Partial<EpochExtra> | undefined;
  if (extra?.format !== 'sift.eventseq-train' || extra.method === undefined || extra.epoch === undefined || extra.options === undefined) {
    throw new SiftError('E_STATE_DICT', 'the snapshot was not taken by an event-sequence training (no sift.eventseq-train record); start over.');
  }
  return { method: extra.method, epoch: extra.epoch, epochs: Number(extra.options.epochs) };
}

/**
 * CoLES (ptls): random contiguous slices of each entity are positives of each other, other entities' slices negatives;
 * margin loss with hard negatives on L2-normalised embeddings (or InfoNCE).
 * @example
 * const { encoder, report } = trainColes(store, { epochs: 5, slices: { count: 5, minLength: 15, maxLength: 60 } });
 */
export function trainColes(store: SequenceStore, options: Partial<TrainOptions> & TrainCall = {}): TrainResult {
  const o = resolve('trainColes', options);
  const ids = entitiesOf('trainColes', store, o);
  const encoder = createSequenceEncoder(store, { seed: o.seed, ...o.encoder });
  const report = loop('coles', o, encoder, { lr: 1e-3, weightDecay: 0 }, colesBatches(store, ids, o), (t, { groups }) => {
    const { states, last } = encoder.forward(t);
    states.dispose();
    return colesLoss(o, last, groups!);
  }, options);
  return { encoder, report };
}

function generativeModel(store: SequenceStore, o: TrainOptions, projector: boolean): GenerativeModel {
  const encoder = createSequenceEncoder(store, { seed: o.seed, outputNorm: true, ...o.encoder });
  return new GenerativeModel(encoder, { seed: o.seed, projector });
}

/**
 * Generative (MLEM `SeqGen`): the encoder's latent reconstructs the whole sequence through an autoregressive decoder;
 * L = Σ CE + Σ MSE_num + dtWeight·MSE_Δt + λ‖h‖₁.
 * @example
 * const { encoder } = trainGenerative(store, { epochs: 5 });
 */
export function trainGenerative(store: SequenceStore, options: Partial<TrainOptions> & TrainCall = {}): TrainResult {
  const o = resolve('trainGenerative', options);
  const ids = entitiesOf('trainGenerative', store, o);
  const model = generativeModel(store, o, false);
  const w = { dtWeight: o.dtWeight, latentL1: o.latentL1 ?? 1e-4 };
  model.freeze(['logit_scale', 'logit_bias']);
  const report = loop('generative', o, model, { lr: 3e-3, weightDecay: 1e-3 }, wholeBatches(store, ids, o), (t) => {
    const h = model.forward(t);
    return model.reconstruction(t, h, w).total;
  }, options);
  model.disposeAllButEncoder();
  return { encoder: model.encoder, report };
}

/**
 * Naive hybrid (MLEM "GC"): the generative model trained on CoLES-sliced batches with
 * L = L_rec + hybridColesWeight·L_CoLES(projector(h)).
 * @example
 * const { encoder } = trainHybrid(store, { epochs: 5 });
 */
export function trainHybrid(store: SequenceStore, options: Partial<TrainOptions> & TrainCall = {}): TrainResult {
  const o = resolve('trainHybrid', options);
  const ids = entitiesOf('trainHybrid', store, o);
  const model = generativeModel(store, o, true);
  model.freeze(['logit_scale', 'logit_bias']);
  const w = { dtWeight: o.dtWeight, latentL1: o.latentL1 ?? 1e-4 };
  const report = loop('hybrid', o, model, { lr: 3e-3, weightDecay: 1e-3 }, colesBatches(store, ids, o), (t, { groups }) => {
    const h = model.forward(t);
    const rec = model.reconstruction(t, h, w).total;
    return tf.add(rec, tf.mul(colesLoss(o, model.project(h), groups!), o.hybridColesWeight));
  }, options);
  model.disposeAllButEncoder();
  return { encoder: model.encoder, report };
}

/**
 * MLEM: a frozen, pre-trained CoLES encoder and a separate generative model trained with
 * L = L_rec + alignWeight·SigLIP(g, c), where g is the generative latent, c the CoLES embedding and the SigLIP scale
 * and bias are learnt (init log 10, −10). The embedding is g.
 * @param contrastive a trained CoLES encoder (e.g. `trainColes(store).encoder`); it is not changed
 * @example
 * const coles = trainColes(store, { epochs: 5 });
 * const mlem = trainMlem(store, coles.encoder, { epochs: 5 });
 */
export function trainMlem(store: SequenceStore, contrastive: SequenceEncoder, options: Partial<TrainOptions> & TrainCall = {}): TrainResult {
  const o = resolve('trainMlem', options);
  const ids = entitiesOf('trainMlem', store, o);
  const model = generativeModel(store, o, false);
  const w = { dtWeight: o.dtWeight, latentL1: o.latentL1 ?? 1e-3 };
  if (contrastive.dim !== model.encoder.dim) {
    throw new SiftError('E_CONFIG', `trainMlem: the contrastive encoder's embedding size ${contrastive.dim} differs from the generative one's ` +
      `${model.encoder.dim}; set encoder.hiddenSize to ${contrastive.dim}.`);
  }
  const wasTraining = contrastive.training;
  contrastive.eval();
  try {
    const report = loop('mlem', o, model, { lr: 3e-3, weightDecay: 1e-3 }, wholeBatches(store, ids, o), (t, { extra }) => {
      const g = model.forward(t);
      const rec = model.reconstruction(t, g, w).total;
      return tf.add(rec, tf.mul(siglipLoss(g, extra!, model.logScale, model.logitBias), o.alignWeight));
    }, options, (t) => {
      const { states, last } = contrastive.forward(t);
      states.dispose();
      return last;
    });
    model.disposeAllButEncoder();
    return { encoder: model.encoder, report };
  } finally {
    contrastive.train(wasTraining);
  }
}

/**
 * The supervised baseline: the same encoder with LayerNorm and a linear head, cross-entropy on a store label.
 * @example
 * const { encoder } = trainSupervised(store, { label: 'composition', entities: labelledIds });
 */
export function trainSupervised(store: SequenceStore, options: Partial<TrainOptions> & TrainCall = {}): TrainResult {
  const o = resolve('trainSupervised', options);
  const ids = entitiesOf('trainSupervised', store, o);
  if (o.label === null && store.labelNames.length === 0) throw new SiftError('E_DATA', 'trainSupervised: the store has no labels; join a label table at ingestion.');
  const label = o.label ?? store.labelNames[0];
  const y = store.label(label);
  let k = 0;
  for (const i of ids) {
    const v = y[i];
    if (!Number.isInteger(v) || v < 0) {
      throw new SiftError('E_DATA', `trainSupervised: label "${label}" of entity ${i} is ${v}, not a class index; pass labelled entities only.`);
    }
    k = Math.max(k, v + 1);
  }
  const encoder = createSequenceEncoder(store, { seed: o.seed, ...o.encoder });
  const K = Math.max(k, 2);
  const model = new SupervisedModel(encoder, K, o.seed);
  const report = loop('supervised', o, model, { lr: 1e-3, weightDecay: 0 }, wholeBatches(store, ids, o), (t, { batch }) => {
    const logits = model.forward(t);
    const targets = tf.oneHot(tf.tensor1d(Array.from(batch.entities, (e) => y[e]), 'int32'), K);
    return tf.neg<tf.Scalar>(tf.mean(tf.sum(tf.mul(tf.logSoftmax(logits), targets), 1)));
  }, options);
  model.disposeAllButEncoder();
  return { encoder, report };
}
