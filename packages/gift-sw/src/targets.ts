/**
 * Target linears by name pattern (tensor-core's `findLinears`), shared by GIFT-SW and every baseline, so all methods
 * touch the same modules (GIFT-SW §4.4: LoRA/DoRA "on the same modules").
 */
import { Linear, SiftError, findLinears, type Module } from '@sift/tensor-core';

/** Which linears a method replaces: globs over module paths (`'h.*.mlp.*'`, `'**.q_proj'`). */
export interface TargetOptions {
  /** Include patterns. Default `['**']` (every linear). */
  targets: string[];
  /** Exclude patterns. Default `['**.lm_head']` (the head stays frozen, as in the paper). */
  exclude: string[];
}

/** Defaults of `TargetOptions`. */
export const TARGET_DEFAULTS: Readonly<TargetOptions> = Object.freeze({ targets: ['**'], exclude: ['**.lm_head'] });

/** The target linears `[path, linear]`, in model order; throws E_CONFIG listing the model's linears when none match. */
export function targetLinears(model: Module, o: TargetOptions, where: string): [string, Linear][] {
  for (const key of ['targets', 'exclude'] as const) {
    if (!Array.isArray(o[key]) || o[key].some((p) => typeof p !== 'string')) {
      throw new SiftError('E_CONFIG', `${where}: ${key} must be an array of glob strings, got ${JSON.stringify(o[key])}.`);
    }
  }
  const found = findLinears(model, { include: o.targets, exclude: o.exclude });
  if (found.length === 0) {
    const all = findLinears(model).map(([n]) => n);
    throw new SiftError('E_CONFIG', `${where}: no Linear matches targets ${JSON.stringify(o.targets)} (exclude ${JSON.stringify(o.exclude)}); ` +
      `the model's linears are ${all.slice(0, 12).join(', ') || 'none'}${all.length > 12 ? ', ...' : ''}.`);
  }
  return found;
}

/** Trainable and total parameter counts of a model (each method's report prints them). */
export interface ParamCounts {
  trainable: number;
  total: number;
}

/** Counts the model's trainable and total parameters. */
export function countParams(model: Module): ParamCounts {
  return { trainable: model.numParameters({ trainableOnly: true }), total: model.numParameters() };
}

/** A plain `Linear` holding a layer's `effectiveWeight()` and its bias: the `merge()` of every adapter layer. */
export function mergedLinear(layer: Linear): Linear {
  const w = layer.effectiveWeight();
  try {
    return Linear.fromWeights(w, layer.bias);
  } finally {
    w.dispose();
  }
}
