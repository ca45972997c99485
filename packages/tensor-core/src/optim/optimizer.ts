import * as tf from '@tensorflow/tfjs-core';
import { SiftError, fmtShape } from '../errors.js';
import type { Parameter } from '../nn/module.js';
import { checkPatterns, matchAny, type NamePattern } from '../nn/pattern.js';
import { resolveParams, type GradMap, type NamedParams } from './grads.js';
import { lrAt, parseLrSchedule, type LrSchedule } from './schedule.js';

/** Selects parameters by full name: glob(s)/RegExp(s) (see `NamePattern`) or a predicate. */
export type ParamPredicate = NamePattern | readonly NamePattern[] | ((name: string, param: Parameter) => boolean);

/** Hyper-parameters for a subset of parameters (PyTorch's param groups). The first matching group wins. */
export interface ParamGroup {
  /** Which parameters belong to the group. */
  params: ParamPredicate;
  /** Multiplies the learning rate (schedules apply to all groups alike). Default 1. */
  lrScale?: number;
  /** Weight decay of the group. Default the optimizer's. */
  weightDecay?: number;
}

/** Options every optimizer shares. */
export interface OptimizerBaseOptions {
  /** Learning rate: a number or a schedule evaluated at the optimizer's step count. */
  lr?: number | LrSchedule;
  /** Weight decay. */
  weightDecay?: number;
  /**
   * Parameters that get no weight decay, e.g. `['**.bias', '**.ln_*.weight']` or `noDecayRank1` (biases and norm
   * scales: every parameter of rank < 2, nanoGPT's rule). Default none (PyTorch's behaviour).
   */
  noDecay?: ParamPredicate;
  /** Per-subset hyper-parameters. */
  groups?: readonly ParamGroup[];
}

/** nanoGPT's rule: no weight decay for parameters of rank < 2 (biases, norm scales). */
export function noDecayRank1(_name: string, param: Parameter): boolean {
  return param.rank < 2;
}

/** The JSON half of an optimizer's state. */
export interface OptimizerStateJson {
  /** Which optimizer wrote it. */
  kind: string;
  /** Steps taken (the schedule position). */
  stepCount: number;
  /** Steps per parameter (bias corrections count only steps where the parameter had a gradient). */
  paramSteps: Record<string, number>;
  /** The learning rate or schedule in use (informative; the restoring optimizer keeps its own options). */
  lr: number | LrSchedule;
}

/** An optimizer's state: tensors named `<param>.<slot>` (PyTorch slot names) plus JSON. */
export interface OptimizerState {
  /** Slot tensors (copies owned by the caller: dispose after writing them). */
  tensors: Record<string, tf.Tensor>;
  /** Step counts and settings. */
  json: OptimizerStateJson;
}

/** One managed parameter with its resolved hyper-parameters. */
export interface ParamEntry {
  /** Full name. */
  name: string;
  /** The variable. */
  param: Parameter;
  /** Learning-rate multiplier. */
  lrScale: number;
  /** Weight decay. */
  weightDecay: number;
}

/** `map[key]` when it is an own key (a Record index is typed as always present). */
function own<T>(map: Record<string, T>, key: string): T | undefined {
  return Object.prototype.hasOwnProperty.call(map, key) ? map[key] : undefined;
}

function predicate(where: string, p: ParamPredicate): (name: string, param: Parameter) => boolean {
  if (typeof p === 'function') return p;
  checkPatterns(where, p);
  return (name) => matchAny(name, p);
}

/**
 * Base of `AdamW` and `SGD`: resolves parameters and groups, steps on a gradient map, keeps per-parameter slots
 * (kept tensors it owns), and saves/restores its state as tensors + JSON.
 */
export abstract class Optimizer {
  /** Steps taken so far (the position of an `lr` schedule). */
  stepCount = 0;
  /** The managed parameters in order. */
  readonly entries: readonly ParamEntry[];
  /** Learning rate or schedule. */
  readonly lr: number | LrSchedule;
  /** Names of the per-parameter slots, e.g. `['exp_avg', 'exp_avg_sq']`. */
  protected abstract readonly slotNames: readonly string[];
  /** Short id written to the state (`'adamw'`). */
  protected abstract readonly kind: string;
  private readonly slots = new Map<string, Map<string, tf.Tensor>>();
  private readonly paramSteps = new Map<string, number>();
  private readonly byVarName = new Map<string, ParamEntry>();

  protected constructor(params: NamedParams, options: OptimizerBaseOptions, defaultWeightDecay: number) {
    const where = this.constructor.name;
    const lr = options.lr ?? 1e-3;
    if (typeof lr === 'number') {
      if (!(lr >= 0 && Number.isFinite(lr))) throw new SiftError('E_CONFIG', `${where}: lr must be a finite number >= 0, got ${lr}.`);
    } else {
      parseLrSchedule(lr);
    }
    this.lr = lr;
    const wd = options.weightDecay ?? defaultWeightDecay;
    if (!(wd >= 0 && Number.isFinite(wd))) throw new SiftError('E_CONFIG', `${where}: weightDecay must be >= 0, got ${wd}.`);
    const noDecay = options.noDecay === undefined ? null : predicate(`${where} noDecay`, options.noDecay);
    const groups = (options.groups ?? []).map((g, i) => {
      if (g.lrScale !== undefined && !(g.lrScale >= 0)) throw new SiftError('E_CONFIG', `${where}: groups[${i}].lrScale must be >= 0.`);
      if (g.weightDecay !== undefined && !(g.weightDecay >= 0)) throw new SiftError('E_CONFIG', `${where}: groups[${i}].weightDecay must be >= 0.`);
      return { match: predicate(`${where} groups[${i}]`, g.params), group: g };
    });
    const entries: ParamEntry[] = [];
    for (const [name, param] of resolveParams(params)) {
      const g = groups.find((x) => x.match(name, param))?.group;
      let weightDecay = g?.weightDecay ?? wd;
      if (noDecay?.(name, param) === true) weightDecay = 0;
      const e: ParamEntry = { name, param, lrScale: g?.lrScale ?? 1, weightDecay };
      entries.push(e);
      this.byVarName.set(param.name, e);
    }
    if (entries.length === 0) throw new SiftError('E_CONFIG', `${where}: no parameters to optimize.`);
    this.entries = entries;
  }

  /** The learning rate the next `step()` uses (before group scales). */
  currentLr(): number {
    return typeof this.lr === 'number' ? this.lr : lrAt(this.lr, this.stepCount);
  }

  /**
   * One update of every trainable parameter that has a gradient in `grads` (keyed by parameter name or by tfjs
   * variable name). Frozen parameters and parameters without a gradient are left alone. `grads` is not disposed.
   * @param options.lr overrides the learning rate for this step
   * @throws SiftError `E_SHAPE` when a gradient's shape differs from its parameter's
   */
  step(grads: GradMap, options: { lr?: number } = {}): void {
    const lr = options.lr ?? this.currentLr();
    for (const e of this.entries) {
      if (!e.param.trainable) continue;
      const g = own(grads, e.name) ?? own(grads, e.param.name);
      if (g === undefined) continue;
      if (g.shape.length !== e.param.shape.length || g.shape.some((d, i) => d !== e.param.shape[i])) {
        throw new SiftError('E_SHAPE', `${this.constructor.name}.step: gradient of "${e.name}" has shape ${fmtShape(g.shape)}, ` +
          `expected ${fmtShape(e.param.shape)}.`);
      }
      const n = (this.paramSteps.get(e.name) ?? 0) + 1;
      const old = this.slots.get(e.name) ?? new Map<string, tf.Tensor>();
      tf.tidy(() => {
        const { value, slots } = this.update(e, g, old, lr * e.lrScale, n);
        e.param.assign(value);
        for (const [k, t] of slots) {
          const prev = old.get(k);
          if (prev === t) continue;
          old.set(k, tf.keep(t));
          prev?.dispose();
        }
      });
      this.slots.set(e.name, old);
      this.paramSteps.set(e.name, n);
    }
    this.stepCount += 1;
  }

  /**
   * Computes one parameter's update inside a tidy: returns the new parameter value and the new slot tensors.
   * @param slots current slots (empty before the first step)
   * @param stepNumber this parameter's step, from 1
   */
  protected abstract update(
    entry: ParamEntry, grad: tf.Tensor, slots: ReadonlyMap<string, tf.Tensor>, lr: number, stepNumber: number,
  ): { value: tf.Tensor; slots: Map<string, tf.Tensor> };

  /** A copy of the state: slot tensors `<param>.<slot>` (owned by the caller) and JSON step counts. */
  state(): OptimizerState {
    const tensors: Record<string, tf.Tensor> = {};
    for (const [name, slots] of this.slots) for (const [k, t] of slots) tensors[`${name}.${k}`] = tf.clone(t);
    return {
      tensors,
      json: { kind: this.kind, stepCount: this.stepCount, paramSteps: Object.fromEntries(this.paramSteps), lr: this.lr },
    };
  }

  /**
   * Restores a state from `state()` (possibly written to disk and read back). Checks every name and shape first.
   * The tensors are copied; the caller keeps ownership of `state.tensors`.
   * @throws SiftError `E_STATE_DICT` for another optimizer kind, unknown or missing parameters, or wrong shapes
   */
  loadState(state: OptimizerState): void {
    const where = `${this.constructor.name}.loadState`;
    const { json, tensors } = state;
    if (json.kind !== this.kind) {
      throw new SiftError('E_STATE_DICT', `${where}: the state was written by "${json.kind}", this is "${this.kind}".`);
    }
    const known = new Map(this.entries.map((e) => [e.name, e]));
    const unknown = Object.keys(json.paramSteps).filter((n) => !known.has(n));
    if (unknown.length > 0) {
      throw new SiftError('E_STATE_DICT', `${where}: the state has parameters this optimizer does not manage: ` +
        `${unknown.slice(0, 10).join(', ')}. Build the optimizer over the same model (after the same surgery).`);
    }
    const next = new Map<string, Map<string, tf.Tensor>>();
    for (const name of Object.keys(json.paramSteps)) {
      const e = known.get(name)!;
      const slots = new Map<string, tf.Tensor>();
      for (const k of this.slotNames) {
        const t = own(tensors, `${name}.${k}`);
        if (t === undefined) continue;
        if (t.shape.length !== e.param.shape.length || t.shape.some((d, i) => d !== e.param.shape[i])) {
          throw new SiftError('E_STATE_DICT', `${where}: "${name}.${k}" has shape got ${fmtShape(t.shape)} expected ` +
            `${fmtShape(e.param.shape)}.`);
        }
        slots.set(k, t);
      }
      next.set(name, slots);
    }
    const slotKeys = new Set([...next].flatMap(([n, s]) => [...s.keys()].map((k) => `${n}.${k}`)));
    const extra = Object.keys(tensors).filter((k) => !slotKeys.has(k));
    if (extra.length > 0) {
      throw new SiftError('E_STATE_DICT', `${where}: unexpected tensors ${extra.slice(0, 10).join(', ')} (slots of this ` +
        `optimizer: ${this.slotNames.join(', ')}).`);
    }
    this.disposeSlots();
    for (const [name, slots] of next) {
      this.slots.set(name, new Map([...slots].map(([k, t]) => [k, tf.keep(tf.clone(t))])));
    }
    this.paramSteps.clear();
    for (const [name, n] of Object.entries(json.paramSteps)) this.paramSteps.set(name, n);
    this.stepCount = json.stepCount;
  }

  /** The entry of a parameter, by full name or tfjs variable name. */
  entry(name: string): ParamEntry | undefined {
    return this.entries.find((e) => e.name === name) ?? this.byVarName.get(name);
  }

  private disposeSlots(): void {
    for (const slots of this.slots.values()) for (const t of slots.values()) t.dispose();
    this.slots.clear();
  }

  /** Frees the optimizer's slot tensors (the parameters are the model's and stay). */
  dispose(): void {
    this.disposeSlots();
    this.paramSteps.clear();
  }
}
