import * as tf from '@tensorflow/tfjs-core';
import { SiftError, fmtShape } from '../errors.js';
import type { Rng } from '../random/rng.js';
import { dropoutMask } from './dropout.js';
import { bmm } from './functional.js';
import { checkPositiveInt, checkProbability, type Init, withDefaults } from './init.js';
import { Linear } from './linear.js';
import { Module } from './module.js';
import { applyRope, ropeAngles, ROPE_DEFAULTS, type RopeOptions } from './rope.js';

/** Large negative score for masked keys: finite, so a fully masked row gives a finite (unused) output, never NaN. */
const MASKED = -1e9;

/**
 * Keys and values of past positions for one attention layer, for incremental decoding. `MultiHeadAttention.forward`
 * appends to it in place; it owns its tensors (`dispose()` when done). One cache per layer.
 * @example
 * const caches = model.blocks.map(() => new KVCache());
 * logits = model.forward(prompt, { caches });          // fills them
 * logits = model.forward(nextToken, { caches });       // attends to the prompt + the new token
 * caches.forEach((c) => c.dispose());
 */
export class KVCache {
  /** Keys [B, Hkv, P, Dh], or null when empty. */
  k: tf.Tensor | null = null;
  /** Values [B, Hkv, P, Dh], or null when empty. */
  v: tf.Tensor | null = null;

  /** Number of cached positions P. */
  get length(): number {
    return this.k === null ? 0 : this.k.shape[2]!;
  }

  /**
   * Appends new keys/values [B, Hkv, T, Dh] and returns the full ones [B, Hkv, P+T, Dh]. The returned tensors are
   * the cache's own (kept across tidy scopes): do not dispose them.
   */
  append(k: tf.Tensor, v: tf.Tensor): { k: tf.Tensor; v: tf.Tensor } {
    if (this.k !== null && (this.k.shape[0] !== k.shape[0] || this.k.shape[1] !== k.shape[1] || this.k.shape[3] !== k.shape[3])) {
      throw new SiftError('E_SHAPE', `KVCache.append: new keys ${fmtShape(k.shape)} do not match the cache ` +
        `${fmtShape(this.k.shape)} (batch, kv heads, head dim). Use one cache per layer and per batch.`);
    }
    const nk = tf.keep(this.k === null ? tf.clone(k) : tf.concat([this.k, k], 2));
    const nv = tf.keep(this.v === null ? tf.clone(v) : tf.concat([this.v, v], 2));
    this.k?.dispose();
    this.v?.dispose();
    this.k = nk;
    this.v = nv;
    return { k: nk, v: nv };
  }

  /** Frees the cached tensors; the cache is empty afterwards and can be reused. */
  dispose(): void {
    this.k?.dispose();
    this.v?.dispose();
    this.k = null;
    this.v = null;
  }
}

/** Options of `MultiHeadAttention`. */
export interface MultiHeadAttentionOptions {
  /** Model width D (input and output size). */
  dModel: number;
  /** Query heads H. */
  nHeads: number;
  /** Key/value heads (grouped-query attention, GQA); must divide `nHeads`. Default `nHeads` (plain MHA); 1 is MQA. */
  nKvHeads?: number;
  /** Size per head Dh. Default dModel / nHeads. */
  headDim?: number;
  /** Bias on q/k/v projections. Default true (GPT-2); Llama uses false. */
  bias?: boolean;
  /** Bias on the output projection. Default: same as `bias`. */
  outBias?: boolean;
  /** Causal mask (position i sees keys ≤ i). Default true. */
  causal?: boolean;
  /** Rotary position embedding on q and k, or false. Default false. */
  rope?: RopeOptions | false;
  /** Dropout on the attention probabilities (training only). Default 0. */
  attnDropout?: number;
  /** Score scale. Default 1/√Dh. */
  scale?: number;
  /** Generator for inits and dropout (required for random inits or attnDropout > 0). */
  rng?: Rng;
  /** Init of q/k/v/o weights. Default PyTorch's Linear init; GPT-2 uses `{ std: 0.02 }`. */
  weightInit?: Init;
  /** Init of the output projection weight. Default `weightInit` (GPT-2 scales it by 1/√(2·layers)). */
  outInit?: Init;
  /** Init of biases. Default PyTorch's Linear init; GPT-2 uses 'zeros'. */
  biasInit?: Init;
}

/** Defaults of `MultiHeadAttentionOptions`. */
export const MULTI_HEAD_ATTENTION_DEFAULTS: { bias: boolean; causal: boolean; rope: RopeOptions | false; attnDropout: number } = {
  bias: true,
  causal: true,
  rope: false,
  attnDropout: 0,
};

/** Per-call inputs of `MultiHeadAttention.forward` besides x. */
export interface AttentionCall {
  /**
   * Which keys may be attended: [B, S] with 1 = a real token, 0 = padding, S = cached + new positions (float, int
   * or bool). Combined with the causal mask.
   */
  attentionMask?: tf.Tensor;
  /** Positions for RoPE: int32 [T] or [B, T]. Default P, P+1, ..., P+T−1 (P = cached length). */
  positions?: tf.Tensor;
  /** Cache of this layer: past keys/values are prepended, the new ones appended (in place). */
  cache?: KVCache;
  /** An extra additive score bias [B|1, H|1, T, S] (e.g. ALiBi). */
  scoreBias?: tf.Tensor;
}

/**
 * Multi-head self-attention with grouped-query heads, optional RoPE, causal and padding masks, and a KV cache.
 * Children `q_proj` [H·Dh, D], `k_proj`/`v_proj` [Hkv·Dh, D] and `o_proj` [D, H·Dh] are `Linear`s named as in Llama
 * checkpoints, so `findLinears` sees them and compression methods can replace them. Query head h uses key/value
 * head ⌊h / (H/Hkv)⌋ (Hugging Face's `repeat_kv`).
 *
 * Heads are batched: q is viewed as [B·Hkv, (H/Hkv)·T, Dh] so one plain matMul serves a whole group of query heads
 * (no key/value copies for GQA).
 *
 * Forward: x [B, T, D] -> [B, T, D].
 * @example
 * const attn = new MultiHeadAttention({ dModel: 256, nHeads: 8, nKvHeads: 2, bias: false, rope: { theta: 10000 }, rng });
 * const y = attn.forward(x, { attentionMask: mask }); // x [B, T, 256], mask [B, T]
 */
export class MultiHeadAttention extends Module<[tf.Tensor, AttentionCall?], tf.Tensor> {
  /** D */
  readonly dModel: number;
  /** H */
  readonly nHeads: number;
  /** Hkv */
  readonly nKvHeads: number;
  /** Dh */
  readonly headDim: number;
  /** Whether the causal mask applies. */
  readonly causal: boolean;
  /** RoPE settings (theta, rotated dim), or null. */
  readonly rope: { theta: number; dim: number } | null;
  /** Attention-probability dropout. */
  readonly attnDropout: number;
  /** Score scale. */
  readonly scale: number;
  /** [H·Dh, D] */
  readonly q_proj: Linear;
  /** [Hkv·Dh, D] */
  readonly k_proj: Linear;
  /** [Hkv·Dh, D] */
  readonly v_proj: Linear;
  /** [D, H·Dh] */
  readonly o_proj: Linear;
  private readonly rng: Rng | undefined;

  constructor(options: MultiHeadAttentionOptions) {
    super();
    const o = withDefaults(MULTI_HEAD_ATTENTION_DEFAULTS, options);
    const where = 'MultiHeadAttention';
    checkPositiveInt(where, 'dModel', o.dModel);
    checkPositiveInt(where, 'nHeads', o.nHeads);
    const nKv = o.nKvHeads ?? o.nHeads;
    checkPositiveInt(where, 'nKvHeads', nKv);
    if (o.nHeads % nKv !== 0) {
      throw new SiftError('E_CONFIG', `${where}: nKvHeads (${nKv}) must divide nHeads (${o.nHeads}).`);
    }
    if (o.headDim === undefined && o.dModel % o.nHeads !== 0) {
      throw new SiftError('E_CONFIG', `${where}: dModel (${o.dModel}) is not a multiple of nHeads (${o.nHeads}); pass headDim.`);
    }
    const dh = o.headDim ?? o.dModel / o.nHeads;
    checkPositiveInt(where, 'headDim', dh);
    checkProbability(where, 'attnDropout', o.attnDropout);
    if (o.attnDropout > 0 && o.rng === undefined) {
      throw new SiftError('E_CONFIG', `${where}: attnDropout > 0 needs an rng.`);
    }
    if (o.rope !== false) {
      const dim = o.rope.dim ?? dh;
      if (dim % 2 !== 0 || dim > dh || dim <= 0) {
        throw new SiftError('E_CONFIG', `${where}: rope.dim must be even and in (0, headDim=${dh}], got ${dim}.`);
      }
      const theta = o.rope.theta ?? ROPE_DEFAULTS.theta;
      if (!(theta > 0)) throw new SiftError('E_CONFIG', `${where}: rope.theta must be > 0, got ${theta}.`);
      this.rope = { theta, dim };
    } else {
      this.rope = null;
    }
    this.dModel = o.dModel;
    this.nHeads = o.nHeads;
    this.nKvHeads = nKv;
    this.headDim = dh;
    this.causal = o.causal;
    this.attnDropout = o.attnDropout;
    this.scale = o.scale ?? 1 / Math.sqrt(dh);
    this.rng = o.rng;
    const lin = (inF: number, outF: number, bias: boolean, weightInit: Init | undefined): Linear => new Linear({
      inFeatures: inF, outFeatures: outF, bias, ...(o.rng === undefined ? {} : { rng: o.rng }),
      ...(weightInit === undefined ? {} : { weightInit }), ...(o.biasInit === undefined ? {} : { biasInit: o.biasInit }),
    });
    this.q_proj = this.addModule('q_proj', lin(o.dModel, o.nHeads * dh, o.bias, o.weightInit));
    this.k_proj = this.addModule('k_proj', lin(o.dModel, nKv * dh, o.bias, o.weightInit));
    this.v_proj = this.addModule('v_proj', lin(o.dModel, nKv * dh, o.bias, o.weightInit));
    this.o_proj = this.addModule('o_proj', lin(o.nHeads * dh, o.dModel, o.outBias ?? o.bias, o.outInit ?? o.weightInit));
  }

  /** x [B, T, D] -> [B, T, D] */
  override forward(x: tf.Tensor, call: AttentionCall = {}): tf.Tensor {
    if (x.rank !== 3 || x.shape[2] !== this.dModel) {
      throw new SiftError('E_SHAPE', `MultiHeadAttention: x must be [B, T, ${this.dModel}], got ${fmtShape(x.shape)}.`);
    }
    const [B, T] = x.shape as [number, number, number];
    const H = this.nHeads;
    const Hkv = this.nKvHeads;
    const Dh = this.headDim;
    const rep = H / Hkv;
    const P = call.cache?.length ?? 0;
    const S = P + T;
    if (call.attentionMask !== undefined) {
      const m = call.attentionMask;
      if (m.rank !== 2 || m.shape[0] !== B || m.shape[1] !== S) {
        throw new SiftError('E_SHAPE', `MultiHeadAttention: attentionMask must be [B, S] = [${B}, ${S}] (cached ${P} + new ${T}), ` +
          `got ${fmtShape(m.shape)}.`);
      }
    }
    return tf.tidy(() => {
      // [B, T, n·Dh] -> [B, n, T, Dh]
      const heads = (t: tf.Tensor, n: number): tf.Tensor => tf.transpose(tf.reshape(t, [B, T, n, Dh]), [0, 2, 1, 3]);
      let q = heads(this.q_proj.forward(x), H);
      let k = heads(this.k_proj.forward(x), Hkv);
      let v = heads(this.v_proj.forward(x), Hkv);
      if (this.rope !== null) {
        const pos = call.positions ?? tf.range(P, P + T, 1, 'int32');
        if (pos.shape[pos.rank - 1] !== T) {
          throw new SiftError('E_SHAPE', `MultiHeadAttention: positions ${fmtShape(pos.shape)} must be [T] or [B, T] with T = ${T}.`);
        }
        const { cos, sin } = ropeAngles(pos, this.rope.dim, this.rope.theta);
        q = applyRope(q, cos, sin);
        k = applyRope(k, cos, sin);
      }
      if (call.cache !== undefined) ({ k, v } = call.cache.append(k, v));
      // Query heads of one kv group side by side: [B, H, T, Dh] = [B, Hkv, rep, T, Dh] -> [B·Hkv, rep·T, Dh].
      const qg = tf.reshape(tf.mul(q, this.scale), [B * Hkv, rep * T, Dh]);
      const kg = tf.reshape(k, [B * Hkv, S, Dh]);
      const vg = tf.reshape(v, [B * Hkv, S, Dh]);
      let scores = tf.reshape(bmm(qg, kg, true), [B, Hkv, rep, T, S]);
      const bias = this.maskBias(B, T, P, call.attentionMask);
      if (bias !== null) scores = tf.add(scores, bias);
      if (call.scoreBias !== undefined) {
        const sb = call.scoreBias;
        const b0 = sb.shape[0];
        const h0 = sb.shape[1]!;
        scores = tf.add(scores, tf.reshape(sb, h0 === 1 ? [b0, 1, 1, T, S] : [b0, Hkv, rep, T, S]));
      }
      let probs = tf.softmax(scores);
      if (this.training && this.attnDropout > 0) probs = tf.mul(probs, dropoutMask(probs.shape, this.attnDropout, this.rng!));
      const out = bmm(tf.reshape(probs, [B * Hkv, rep * T, S]), vg); // [B·Hkv, rep·T, Dh]
      const merged = tf.reshape(tf.transpose(tf.reshape(out, [B, H, T, Dh]), [0, 2, 1, 3]), [B, T, H * Dh]);
      return this.o_proj.forward(merged);
    });
  }

  /** Additive bias [B|1, 1, 1, T, S]: 0 where query t (absolute P+t) may see key s, −1e9 elsewhere; null if none. */
  private maskBias(B: number, T: number, P: number, attentionMask: tf.Tensor | undefined): tf.Tensor | null {
    const S = P + T;
    let allowed: tf.Tensor | null = null;
    if (this.causal && T > 1) {
      allowed = tf.lessEqual(tf.reshape(tf.range(0, S, 1, 'int32'), [1, S]), tf.reshape(tf.range(P, S, 1, 'int32'), [T, 1]));
      allowed = tf.reshape(allowed, [1, 1, 1, T, S]);
    }
    if (attentionMask !== undefined) {
      const keys = tf.reshape(tf.notEqual(tf.cast(attentionMask, 'float32'), 0), [B, 1, 1, 1, S]);
      allowed = allowed === null ? keys : tf.logicalAnd(allowed, keys);
    }
    if (allowed === null) return null;
    return tf.mul(tf.sub(1, tf.cast(allowed, 'float32')), MASKED);
  }
}
