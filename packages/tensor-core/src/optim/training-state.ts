import * as tf from '@tensorflow/tfjs-core';
import { SiftError } from '../errors.js';
import { safeTensorToTf, tfToSafeTensorSync } from '../io/convert.js';
import { parseSafetensors, serializeSafetensors } from '../io/safetensors.js';
import type { SafeTensor } from '../io/dtypes.js';
import type { Module } from '../nn/module.js';
import { Rng, type RngState } from '../random/rng.js';
import type { Optimizer, OptimizerStateJson } from './optimizer.js';

/** The JSON half of a training state. */
export interface TrainingStateJson {
  /** Format version (1). */
  version: 1;
  /** The caller's step counter (e.g. batches seen), if given. */
  step: number;
  /** Optimizer step counts and settings. */
  optimizer: OptimizerStateJson;
  /** Generators by name: seed (for `fork`) and state. */
  rngs: Record<string, { seed: number; state: RngState }>;
  /** Whether `tensors` holds the model's weights under `model.`. */
  hasModel: boolean;
  /** Anything else the caller wants back (must be JSON). */
  extra?: unknown;
}

/**
 * Everything needed to resume training bit for bit, as plain tensors + JSON: optimizer slots under `optim.<param>.<slot>`
 * and, optionally, the model's weights under `model.<name>`. Write the tensors with the safetensors writer and the
 * JSON as its metadata (or a sidecar file).
 */
export interface TrainingState {
  /** Copies owned by the caller: `tf.dispose(state.tensors)` after writing them. */
  tensors: Record<string, tf.Tensor>;
  /** Step counters, generator states, settings. */
  json: TrainingStateJson;
}

/** What `saveTrainingState` takes. */
export interface SaveTrainingStateOptions {
  /** The optimizer (its moments, step counts and schedule position). */
  optimizer: Optimizer;
  /** The model: include its weights too (a one-file checkpoint). Default: not included. */
  model?: Module;
  /** Generators whose positions must resume (dropout, data order, noise), by name. */
  rngs?: Record<string, Rng>;
  /** The caller's step counter. Default the optimizer's step count. */
  step?: number;
  /** Extra JSON to carry. */
  extra?: unknown;
}

/**
 * Snapshots a training run: optimizer moments and step counts, LR schedule position (the optimizer's step count), the
 * generators' states, optionally the weights. Restore with `loadTrainingState` into freshly built objects.
 * @example
 * const state = saveTrainingState({ optimizer: opt, model, rngs: { dropout: rng } });
 * await writeSafetensorsFile(path, await tensorsToSafe(state.tensors), { sift_training: JSON.stringify(state.json) });
 * tf.dispose(state.tensors);
 */
export function saveTrainingState(options: SaveTrainingStateOptions): TrainingState {
  const opt = options.optimizer.state();
  const tensors: Record<string, tf.Tensor> = {};
  for (const [k, t] of Object.entries(opt.tensors)) tensors[`optim.${k}`] = t;
  if (options.model !== undefined) {
    for (const [k, t] of Object.entries(options.model.stateDict())) tensors[`model.${k}`] = tf.clone(t);
  }
  const rngs: TrainingStateJson['rngs'] = {};
  for (const [name, r] of Object.entries(options.rngs ?? {})) rngs[name] = { seed: r.seed, state: r.state() };
  const json: TrainingStateJson = {
    version: 1,
    step: options.step ?? opt.json.stepCount,
    optimizer: opt.json,
    rngs,
    hasModel: options.model !== undefined,
    ...(options.extra === undefined ? {} : { extra: options.extra }),
  };
  return { tensors, json };
}

/**
 * Restores a `saveTrainingState` snapshot into a freshly built optimizer (and model, when the snapshot has weights),
 * and returns the step counter and the generators, resumed where they stopped. The caller keeps ownership of
 * `state.tensors`.
 * @throws SiftError `E_STATE_DICT` for a foreign or mismatched state; `E_CONFIG` when the snapshot has weights but no
 *   model is given
 */
export function loadTrainingState(
  state: TrainingState,
  targets: { optimizer: Optimizer; model?: Module },
): { step: number; rngs: Record<string, Rng>; extra?: unknown } {
  const { json } = state;
  if ((json.version as number) !== 1) throw new SiftError('E_STATE_DICT', `loadTrainingState: unknown version ${String(json.version)}.`);
  const optim: Record<string, tf.Tensor> = {};
  const model: Record<string, tf.Tensor> = {};
  for (const [k, t] of Object.entries(state.tensors)) {
    if (k.startsWith('optim.')) optim[k.slice(6)] = t;
    else if (k.startsWith('model.')) model[k.slice(6)] = t;
    else throw new SiftError('E_STATE_DICT', `loadTrainingState: unexpected tensor "${k}" (expected optim.* or model.*).`);
  }
  if (json.hasModel) {
    if (targets.model === undefined) {
      throw new SiftError('E_CONFIG', 'loadTrainingState: the snapshot holds model weights; pass { model } to restore them.');
    }
    targets.model.loadStateDict(model);
  }
  targets.optimizer.loadState({ tensors: optim, json: json.optimizer });
  return { step: json.step, rngs: trainingStateRngs(json), ...(json.extra === undefined ? {} : { extra: json.extra }) };
}

/**
 * The generators of a saved training state, resumed where they stopped (each call returns new objects). Use it
 * before building the model, so its dropout layers draw from the restored streams.
 * @example
 * const rngs = trainingStateRngs(state.json);
 * const model = new MyModel(cfg, { dropoutRng: rngs.dropout });
 * const opt = new AdamW(model, opts);
 * loadTrainingState(state, { optimizer: opt, model });
 */
export function trainingStateRngs(json: TrainingStateJson): Record<string, Rng> {
  const rngs: Record<string, Rng> = {};
  for (const [name, r] of Object.entries(json.rngs)) rngs[name] = Rng.fromState(r.state, r.seed);
  return rngs;
}

/**
 * A training state as the bytes of one safetensors file, synchronously (for loops that cannot await): the tensors,
 * and the JSON under the `sift_training` metadata key beside `metadata`. Browser-safe; write the bytes atomically
 * (temporary file + rename). Read back with `parseTrainingState`.
 */
export function serializeTrainingState(state: TrainingState, metadata: Readonly<Record<string, string>> = {}): Uint8Array {
  const tensors = new Map<string, SafeTensor>();
  for (const [k, t] of Object.entries(state.tensors)) tensors.set(k, tfToSafeTensorSync(t, { name: k }));
  return serializeSafetensors(tensors, { ...metadata, sift_training: JSON.stringify(state.json) });
}

/**
 * Parses `serializeTrainingState` bytes; the caller disposes `state.tensors`. `metadata` holds the other keys.
 * @throws SiftError `E_STATE_DICT` when the bytes hold no training state
 */
export function parseTrainingState(bytes: Uint8Array, where = 'the file'): TrainingState & { metadata: Record<string, string> } {
  const data = parseSafetensors(bytes);
  const { sift_training: text, ...metadata } = data.metadata;
  if (typeof text !== 'string') throw new SiftError('E_STATE_DICT', `${where} is not a Sift training state (no sift_training metadata).`);
  const json = JSON.parse(text) as TrainingStateJson;
  const tensors: Record<string, tf.Tensor> = {};
  for (const [k, t] of data.tensors()) tensors[k] = safeTensorToTf(t, { name: k });
  return { tensors, json, metadata };
}
