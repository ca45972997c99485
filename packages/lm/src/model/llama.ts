import * as tf from '@tensorflow/tfjs-core';
import {
  Embedding, Linear, Module, ModuleList, MultiHeadAttention, RMSNorm, silu, type Init, type Rng,
} from '@sift/tensor-core';
import type { LlamaConfig } from './config.js';
import { CausalLM, tiedHead, type BlockCall } from './causal-lm.js';
import type { InitPlan, ModelInitOptions } from './gpt2.js';

function lin(inF: number, outF: number, bias: boolean, init: Init, plan: InitPlan): Linear {
  return new Linear({ inFeatures: inF, outFeatures: outF, bias, weightInit: init, biasInit: 'zeros', ...(plan.rng === undefined ? {} : { rng: plan.rng }) });
}

/** Llama's SwiGLU MLP: down_proj(silu(gate_proj(x)) ⊙ up_proj(x)). */
export class LlamaMlp extends Module<[tf.Tensor], tf.Tensor> {
  /** [F, D] */
  readonly gate_proj: Linear;
  /** [F, D] */
  readonly up_proj: Linear;
  /** [D, F] */
  readonly down_proj: Linear;

  constructor(cfg: LlamaConfig, plan: InitPlan) {
    super();
    const d = cfg.hidden_size;
    const f = cfg.intermediate_size;
    this.gate_proj = this.addModule('gate_proj', lin(d, f, cfg.mlp_bias, plan.weight, plan));
    this.up_proj = this.addModule('up_proj', lin(d, f, cfg.mlp_bias, plan.weight, plan));
    this.down_proj = this.addModule('down_proj', lin(f, d, cfg.mlp_bias, plan.residual, plan));
  }

  /** [B, T, D] -> [B, T, D] */
  override forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.down_proj.forward(tf.mul(silu(this.gate_proj.forward(x)), this.up_proj.forward(x))));
  }
}

/** One pre-norm Llama block: x + self_attn(input_layernorm(x)), then + mlp(post_attention_layernorm(·)). */
export class LlamaBlock extends Module<[tf.Tensor, BlockCall], tf.Tensor> {
  readonly input_layernorm: RMSNorm;
  /** q_proj, k_proj, v_proj, o_proj with RoPE and grouped-query heads. */
  readonly self_attn: MultiHeadAttention;
  readonly post_attention_layernorm: RMSNorm;
  readonly mlp: LlamaMlp;

  constructor(cfg: LlamaConfig, plan: InitPlan) {
    super();
    const d = cfg.hidden_size;
    this.input_layernorm = this.addModule('input_layernorm', new RMSNorm({ dim: d, eps: cfg.rms_norm_eps }));
    this.self_attn = this.addModule('self_attn', new MultiHeadAttention({
      dModel: d, nHeads: cfg.num_attention_heads, nKvHeads: cfg.num_key_value_heads, headDim: cfg.head_dim,
      bias: cfg.attention_bias, rope: { theta: cfg.rope_theta }, weightInit: plan.weight, outInit: plan.residual, biasInit: 'zeros',
      ...(plan.rng === undefined ? {} : { rng: plan.rng }),
    }));
    this.post_attention_layernorm = this.addModule('post_attention_layernorm', new RMSNorm({ dim: d, eps: cfg.rms_norm_eps }));
    this.mlp = this.addModule('mlp', new LlamaMlp(cfg, plan));
  }

  /** [B, T, D] -> [B, T, D] */
  override forward(x: tf.Tensor, call: BlockCall): tf.Tensor {
    return tf.tidy(() => {
      const h = tf.add(x, this.self_attn.forward(this.input_layernorm.forward(x), call));
      return tf.add(h, this.mlp.forward(this.post_attention_layernorm.forward(h)));
    });
  }
}

/** HF's `LlamaModel` (the `model.` subtree): embed_tokens, layers, norm. */
export class LlamaBody extends Module {
  readonly embed_tokens: Embedding;
  readonly layers: ModuleList<LlamaBlock>;
  readonly norm: RMSNorm;

  constructor(cfg: LlamaConfig, plan: InitPlan) {
    super();
    const embInit: Init = plan.rng === undefined ? 'zeros' : { std: cfg.initializer_range };
    this.embed_tokens = this.addModule('embed_tokens', new Embedding({
      numEmbeddings: cfg.vocab_size, embeddingDim: cfg.hidden_size, init: embInit, ...(plan.rng === undefined ? {} : { rng: plan.rng }),
    }));
    this.layers = this.addModule('layers', new ModuleList(Array.from({ length: cfg.num_hidden_layers }, () => new LlamaBlock(cfg, plan))));
    this.norm = this.addModule('norm', new RMSNorm({ dim: cfg.hidden_size, eps: cfg.rms_norm_eps }));
  }
}

/**
 * Llama (Touvron et al. 2023) as Hugging Face's `LlamaForCausalLM`: RMSNorm, rotary positions (rotate-half layout),
 * SwiGLU MLP, grouped-query attention, and an `lm_head` [V, D] unless `tie_word_embeddings`. Parameter paths are HF's
 * (`model.layers.0.self_attn.q_proj.weight`, `lm_head.weight`).
 */
export class LlamaModel extends CausalLM {
  readonly config: LlamaConfig;
  readonly model: LlamaBody;
  /** [V, D], or null when tied to `model.embed_tokens`. */
  readonly lm_head: Linear | null;

  constructor(config: LlamaConfig, options: ModelInitOptions = {}) {
    super();
    this.config = config;
    const rng: Rng | undefined = options.rng;
    const std = config.initializer_range;
    const plan: InitPlan = rng === undefined
      ? { weight: 'zeros', residual: 'zeros' }
      : { rng, weight: { std }, residual: { std: std / Math.sqrt(2 * config.num_hidden_layers) } };
    this.model = this.addModule('model', new LlamaBody(config, plan));
    this.lm_head = config.tie_word_embeddings
      ? null
      : this.addModule('lm_head', lin(config.hidden_size, config.vocab_size, false, plan.weight, plan));
  }

  blocks(): readonly Module[] {
    return this.model.layers.toArray();
  }

  blockPath(index: number): string {
    return `model.layers.${index}`;
  }

  protected embedTokens(ids: tf.Tensor): tf.Tensor {
    return this.model.embed_tokens.forward(ids);
  }

  protected blockForward(index: number, x: tf.Tensor, call: BlockCall): tf.Tensor {
    return this.model.layers.get(index).forward(x, call);
  }

  protected head(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const h = this.model.norm.forward(x);
      return this.lm_head === null ? tiedHead(h, this.model.embed_tokens.weight) : this.lm_head.forward(h);
    });
  }
}
