import * as tf from '@tensorflow/tfjs-core';
import { Linear } from './linear.js';
import type { Module } from './module.js';
import { checkPatterns, passesFilter, type NameFilter } from './pattern.js';

/**
 * Per-batch context a transformer block needs besides the hidden states. Carried next to them, so block-by-block
 * pipelines pass it along unchanged.
 */
// A type alias, not an interface: only aliases are assignable to tf.TensorContainer's index signature.
// eslint-disable-next-line @typescript-eslint/consistent-type-definitions -- must be a TensorContainer
export type BlockContext = {
  /** [B, T]: 1 = real token, 0 = padding. */
  attentionMask?: tf.Tensor;
  /** int32 [B, T] or [T]: positions for RoPE / learned position embeddings. */
  positions?: tf.Tensor;
};

/** The usual hidden state of a transformer between blocks: activations plus context. */
// eslint-disable-next-line @typescript-eslint/consistent-type-definitions -- see BlockContext
export type HiddenState = {
  /** [B, T, D] */
  hidden: tf.Tensor;
  /** Masks and positions for the blocks. */
  context: BlockContext;
};

/**
 * A model that can be run block by block, for layer-wise compression (DESIGN.md "Layer-wise calibration"):
 * SparseGPT, Wanda and GPTQ run calibration batches into block 0, collect per-linear statistics with forward hooks
 * while running one block, compress that block, then feed its (compressed) outputs to the next block.
 *
 * `H` is whatever flows between blocks; it must be a `tf.TensorContainer` (a tensor, or objects/arrays of tensors
 * and plain values) so pipelines can `tf.tidy` it, `tf.dispose` it and keep it across async steps. `HiddenState` is
 * the usual choice for transformers; a GRU stack could use a bare tensor.
 *
 * Contract: `runSequential(model, batch)` (embed, then every block in order) must equal the model's own forward up to
 * its final head. `@sift/lm` models implement it; so can a user's model.
 *
 * @example
 * let h = tf.tidy(() => model.embed(batch));
 * for (let i = 0; i < model.blocks().length; i++) {
 *   const remove = findLinears(model.blocks()[i]!).map(([name, lin]) => lin.registerForwardHook(collect(name)));
 *   const next = tf.tidy(() => model.runBlock(i, h));
 *   remove.forEach((r) => r());
 *   tf.dispose(h);
 *   h = next;
 * }
 */
export interface SequentialModel<H extends tf.TensorContainer = HiddenState, Batch = tf.Tensor> {
  /** The blocks in execution order; each a `Module` whose `Linear` children `findLinears` finds by name. */
  blocks(): readonly Module[];
  /**
   * The path of block `i` inside the model (`'h.3'`, `'model.layers.3'`), so reports and `replace()` can use full
   * names (`blockPath(3) + '.mlp.c_fc'`).
   */
  blockPath(index: number): string;
  /** Runs a batch (e.g. int32 token ids [B, T]) up to block 0's input. */
  embed(batch: Batch): H;
  /** Runs block `index` on its input and returns its output (the next block's input). */
  runBlock(index: number, hidden: H): H;
}

/**
 * Runs `embed` and every block in order; returns the last block's output (before any final norm/head).
 * Synchronous; wrap in `tf.tidy`.
 */
export function runSequential<H extends tf.TensorContainer, Batch>(model: SequentialModel<H, Batch>, batch: Batch): H {
  return tf.tidy(() => {
    let h = model.embed(batch);
    const n = model.blocks().length;
    for (let i = 0; i < n; i++) h = model.runBlock(i, h);
    return h;
  });
}

/**
 * Every module of the tree that is an instance of `type`, as `[path, module]` in depth-first order, filtered by
 * name patterns (see `NamePattern`: `h.*.mlp.*`, `**.q_proj`, or RegExps).
 */
export function findModules<M extends Module>(
  root: Module,
  type: abstract new (...args: never[]) => M,
  filter: NameFilter = {},
): [string, M][] {
  if (filter.include !== undefined) checkPatterns('findModules include', filter.include);
  if (filter.exclude !== undefined) checkPatterns('findModules exclude', filter.exclude);
  const out: [string, M][] = [];
  for (const [path, m] of root.namedModules()) {
    if (m instanceof type && passesFilter(path, filter)) out.push([path, m]);
  }
  return out;
}

/**
 * The `Linear` layers (subclasses included) of a module tree, as `[path, linear]`, optionally filtered by name.
 * @example
 * findLinears(model, { include: 'h.*.mlp.*', exclude: /lm_head/ }); // [['h.0.mlp.c_fc', Linear], ...]
 */
export function findLinears(root: Module, filter: NameFilter = {}): [string, Linear][] {
  return findModules(root, Linear, filter);
}
