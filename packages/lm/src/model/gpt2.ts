import * as tf from '@tensorflow/tfjs-core';
import {
  ACTIVATIONS, Embedding, LayerNorm, Linear, Module, ModuleList, bmm, type Init, type Rng,
} from '@sift/tensor-core';
import type { Gpt2Config } from './config.js';
import { CausalLM, tiedHead, type BlockCall } from './causal-lm.js';

/** Large negative score for masked keys (finite, so fully masked rows stay finite). */
const MASKED = -1e9;

/**
 * Causal softmax attention of H heads over cached + new keys.
 * @param q [B, H, T, Dh] (unscaled); k, v [B, H, T, Dh]
 * @returns [B, T, H·Dh]
 */
function causalAttention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, call: BlockCall): tf.Tensor {
  const [B, H, T, Dh] = q.shape as [number, number, number, number];
  let keys = k;
  let values = v;
  const P = call.cache?.length ?? 0;
  if (call.cache !== undefined) ({ k: keys, v: values } = call.cache.append(k, v));
  const S = P + T;
  const qs = tf.reshape(tf.mul(q, 1 / Math.sqrt(Dh)), [B * H, T, Dh]);
  let scores = tf.reshape(bmm(qs, tf.reshape(keys, [B * H, S, Dh]), true), [B, H, T, S]);
  let allowed: tf.Tensor | null = null;
  if (T > 1) {
    allowed = tf.reshape(tf.lessEqual(tf.reshape(tf.range(0, S, 1, 'int32'), [1, S]), tf.reshape(tf.range(P, S, 1, 'int32'), [T, 1])), [1, 1, T, S]);
  }
  if (call.attentionMask !== undefined) {
    const keep = tf.reshape(tf.notEqual(tf.cast(call.attentionMask, 'float32'), 0), [B, 1, 1, S]);
    allowed = allowed === null ? keep : tf.logicalAnd(allowed, keep);
  }
  if (allowed !== null) scores = tf.add(scores, tf.mul(tf.sub(1, tf.cast(allowed, 'float32')), MASKED));
  const probs = tf.reshape(tf.softmax(scores), [B * H, T, S]);
  const out = bmm(probs, tf.reshape(values, [B * H, S, Dh])); // [B·H, T, Dh]
  return tf.reshape(tf.transpose(tf.reshape(out, [B, H, T, Dh]), [0, 2, 1, 3]), [B, T, H * Dh]);
}

/** How a model's layers are initialised: random (with `rng`), or zeros when weights will be loaded. */
export interface InitPlan {
  /** Generator of the random inits. */
  rng?: Rng;
  /** Init of projection weights. */
  weight: Init;
  /** Init of the residual output projections (GPT-2 scales the std by 1/√(2L)). */
  residual: Init;
}

function lin(inF: number, outF: number, init: Init, plan: InitPlan): Linear {
  return new Linear({ inFeatures: inF, outFeatures: outF, weightInit: init, biasInit: 'zeros', ...(plan.rng === undefined ? {} : { rng: plan.rng }) });
}

/** GPT-2 attention: fused `c_attn` [3D, D] (q, k, v) and `c_proj` [D, D]. */
export class Gpt2Attention extends Module<[tf.Tensor, BlockCall], tf.Tensor> {
  /** [3D, D] (HF stores the Conv1D transposed, [D, 3D]). */
  readonly c_attn: Linear;
  /** [D, D] */
  readonly c_proj: Linear;
  private readonly nHead: number;

  constructor(cfg: Gpt2Config, plan: InitPlan) {
    super();
    const d = cfg.n_embd;
    this.nHead = cfg.n_head;
    this.c_attn = this.addModule('c_attn', lin(d, 3 * d, plan.weight, plan));
    this.c_proj = this.addModule('c_proj', lin(d, d, plan.residual, plan));
  }

  /** [B, T, D] -> [B, T, D] */
  override forward(x: tf.Tensor, call: BlockCall): tf.Tensor {
    return tf.tidy(() => {
      const [B, T, D] = x.shape as [number, number, number];
      const H = this.nHead;
      const Dh = D / H;
      const qkv = this.c_attn.forward(x); // [B, T, 3D]
      const [q, k, v] = tf.split(qkv, 3, 2).map((t) => tf.transpose(tf.reshape(t, [B, T, H, Dh]), [0, 2, 1, 3])) as [tf.Tensor, tf.Tensor, tf.Tensor];
      return this.c_proj.forward(causalAttention(q, k, v, call));
    });
  }
}

/** GPT-2 MLP: `c_fc` [F, D], activation, `c_proj` [D, F]. */
export class Gpt2Mlp extends Module<[tf.Tensor], tf.Tensor> {
  readonly c_fc: Linear;
  readonly c_proj: Linear;
  private readonly act: (x: tf.Tensor) => tf.Tensor;

  constructor(cfg: Gpt2Config, plan: InitPlan) {
    super();
    this.c_fc = this.addModule('c_fc', lin(cfg.n_embd, cfg.n_inner, plan.weight, plan));
    this.c_proj = this.addModule('c_proj', lin(cfg.n_inner, cfg.n_embd, plan.residual, plan));
    const a = cfg.activation_function;
    this.act = a === 'gelu_new' || a === 'gelu_pytorch_tanh' ? ACTIVATIONS.gelu_tanh : a === 'gelu' ? ACTIVATIONS.gelu : ACTIVATIONS.relu;
  }

  /** [B, T, D] -> [B, T, D] */
  override forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.c_proj.forward(this.act(this.c_fc.forward(x))));
  }
}

/** One pre-norm GPT-2 block: x + attn(ln_1(x)), then + mlp(ln_2(·)). */
export class Gpt2Block extends Module<[tf.Tensor, BlockCall], tf.Tensor> {
  readonly ln_1: LayerNorm;
  readonly attn: Gpt2Attention;
  readonly ln_2: LayerNorm;
  readonly mlp: Gpt2Mlp;

  constructor(cfg: Gpt2Config, plan: InitPlan) {
    super();
    this.ln_1 = this.addModule('ln_1', new LayerNorm({ dim: cfg.n_embd, eps: cfg.layer_norm_epsilon }));
    this.attn = this.addModule('attn', new Gpt2Attention(cfg, plan));
    this.ln_2 = this.addModule('ln_2', new LayerNorm({ dim: cfg.n_embd, eps: cfg.layer_norm_epsilon }));
    this.mlp = this.addModule('mlp', new Gpt2Mlp(cfg, plan));
  }

  /** [B, T, D] -> [B, T, D] */
  override forward(x: tf.Tensor, call: BlockCall): tf.Tensor {
    return tf.tidy(() => {
      const h = tf.add(x, this.attn.forward(this.ln_1.forward(x), call));
      return tf.add(h, this.mlp.forward(this.ln_2.forward(h)));
    });
  }
}

/** HF's `GPT2Model` (the `transformer.` subtree): wte, wpe, h, ln_f. */
export class Gpt2Transformer extends Module {
  readonly wte: Embedding;
  readonly wpe: Embedding;
  readonly h: ModuleList<Gpt2Block>;
  readonly ln_f: LayerNorm;

  constructor(cfg: Gpt2Config, plan: InitPlan) {
    super();
    const r = plan.rng === undefined ? {} : { rng: plan.rng };
    const embInit: Init = plan.rng === undefined ? 'zeros' : { std: cfg.initializer_range };
    this.wte = this.addModule('wte', new Embedding({ numEmbeddings: cfg.vocab_size, embeddingDim: cfg.n_embd, init: embInit, ...r }));
    this.wpe = this.addModule('wpe', new Embedding({ numEmbeddings: cfg.n_positions, embeddingDim: cfg.n_embd, init: embInit, ...r }));
    this.h = this.addModule('h', new ModuleList(Array.from({ length: cfg.n_layer }, () => new Gpt2Block(cfg, plan))));
    this.ln_f = this.addModule('ln_f', new LayerNorm({ dim: cfg.n_embd, eps: cfg.layer_norm_epsilon }));
  }
}

/** How to initialise a new model. */
export interface ModelInitOptions {
  /** Draw random weights from this generator (GPT-2's N(0, 0.02²), residual projections scaled by 1/√(2L)). Without it all weights start at zero (to be loaded). */
  rng?: Rng;
}

/**
 * GPT-2 (Radford et al. 2019) as Hugging Face's `GPT2LMHeadModel`: learned positions, pre-norm LayerNorm blocks,
 * GELU MLP, LM head tied to `transformer.wte`. Parameter paths are HF's (`transformer.h.0.attn.c_attn.weight`);
 * `Linear` weights are [out, in] (HF's Conv1D files store [in, out]: `loadCheckpoint`/`saveCheckpoint` transpose).
 */
export class Gpt2Model extends CausalLM {
  readonly config: Gpt2Config;
  readonly transformer: Gpt2Transformer;

  constructor(config: Gpt2Config, options: ModelInitOptions = {}) {
    super();
    this.config = config;
    const rng = options.rng;
    const std = config.initializer_range;
    const plan: InitPlan = rng === undefined
      ? { weight: 'zeros', residual: 'zeros' }
      : { rng, weight: { std }, residual: { std: std / Math.sqrt(2 * config.n_layer) } };
    this.transformer = this.addModule('transformer', new Gpt2Transformer(config, plan));
  }

  blocks(): readonly Module[] {
    return this.transformer.h.toArray();
  }

  blockPath(index: number): string {
    return `transformer.h.${index}`;
  }

  protected embedTokens(ids: tf.Tensor, positions: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const tok = this.transformer.wte.forward(ids);
      const pos = this.transformer.wpe.forward(positions); // [T, D] or [B, T, D]
      return tf.add(tok, pos);
    });
  }

  protected blockForward(index: number, x: tf.Tensor, call: BlockCall): tf.Tensor {
    return this.transformer.h.get(index).forward(x, call);
  }

  protected head(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => tiedHead(this.transformer.ln_f.forward(x), this.transformer.wte.weight));
  }
}

