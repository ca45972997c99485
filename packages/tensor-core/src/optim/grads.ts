import * as tf from '@tensorflow/tfjs-core';
import { SiftError } from '../errors.js';
import { Module, type Parameter } from '../nn/module.js';
import { registerGradients } from '../nn/gradients.js';

/** Gradients by parameter name (`h.0.attn.q_proj.weight`), or by tfjs variable name as `tf.variableGrads` returns. */
export type GradMap = Record<string, tf.Tensor>;

/** Parameters with names: a module (its `namedParameters()`) or explicit `[name, variable]` pairs. */
export type NamedParams = Module | Iterable<readonly [string, Parameter]>;

/** `[name, variable]` pairs of a `NamedParams`. */
export function resolveParams(params: NamedParams): [string, Parameter][] {
  if (params instanceof Module) return params.namedParameters();
  const out: [string, Parameter][] = [];
  const seen = new Set<string>();
  for (const entry of params) {
    const [name, v] = entry;
    if (!(v instanceof tf.Variable)) {
      throw new SiftError('E_CONFIG', `parameter "${name}" is not a tf.Variable; pass a Module or [name, tf.Variable] pairs.`);
    }
    if (seen.has(name)) throw new SiftError('E_CONFIG', `parameter name "${name}" appears twice.`);
    seen.add(name);
    out.push([name, v]);
  }
  return out;
}

/**
 * Runs `f` and returns its value and the gradients of every TRAINABLE parameter it depends on, keyed by parameter
 * name (not tfjs's variable ids). Parameters `f` does not reach are absent (as PyTorch's `grad is None`). When
 * `params` is a `Module`, its gradient hooks (`registerGradHook`) are applied.
 *
 * All returned tensors belong to the caller; inside a `tf.tidy` they are freed with it.
 * @param f returns a scalar loss
 * @throws SiftError `E_CONFIG` when there is no trainable parameter
 * @example
 * const loss = tf.tidy(() => {
 *   const { value, grads } = valueAndGrads(model, () => crossEntropy(model.forward(x), y));
 *   opt.step(clipGradNorm(grads, 1).grads);
 *   return value;
 * });
 */
export function valueAndGrads(params: NamedParams, f: () => tf.Scalar): { value: tf.Scalar; grads: GradMap } {
  registerGradients();
  const named = resolveParams(params).filter(([, v]) => v.trainable);
  if (named.length === 0) {
    throw new SiftError('E_CONFIG', 'valueAndGrads: no trainable parameter (everything is frozen). Unfreeze some with ' +
      'module.unfreeze(pattern).');
  }
  const byVar = new Map<string, string>(named.map(([name, v]) => [v.name, name]));
  const { value, grads } = tf.variableGrads(f, named.map(([, v]) => v));
  const hooks = params instanceof Module ? params.namedGradHooks() : new Map<string, never[]>();
  const out: GradMap = {};
  for (const [varName, g] of Object.entries(grads)) {
    const name = byVar.get(varName);
    if (name === undefined) {
      g.dispose();
      continue;
    }
    let cur = g;
    for (const hook of hooks.get(name) ?? []) {
      const next = hook(cur, name);
      if (next !== cur) cur.dispose();
      cur = next;
    }
    out[name] = cur;
  }
  return { value, grads: out };
}
