import { SiftError } from '@sift/tensor-core';

/**
 * A GPT-2 configuration, with Hugging Face's `config.json` field names (`GPT2Config`), defaults filled in.
 * Learned positions, LayerNorm, GELU MLP, tied input/output embeddings.
 */
export interface Gpt2Config {
  model_type: 'gpt2';
  /** V */
  vocab_size: number;
  /** Longest context (rows of `wpe`). */
  n_positions: number;
  /** D */
  n_embd: number;
  /** Number of blocks. */
  n_layer: number;
  /** Attention heads (D / n_head per head). */
  n_head: number;
  /** MLP width; HF's `null` means 4·D. */
  n_inner: number;
  /** `gelu_new` (tanh approximation, GPT-2's), `gelu_pytorch_tanh` (the same), `gelu` (exact) or `relu`. */
  activation_function: 'gelu_new' | 'gelu_pytorch_tanh' | 'gelu' | 'relu';
  /** LayerNorm epsilon. */
  layer_norm_epsilon: number;
  /** GPT-2 always ties the head to `wte`. */
  tie_word_embeddings: true;
  /** Std of the random init (used when training from scratch). */
  initializer_range: number;
  bos_token_id?: number;
  eos_token_id?: number;
  /** Stored dtype of the checkpoint (`float32`, `float16`, `bfloat16`); the default dtype `saveCheckpoint` writes. */
  torch_dtype?: TorchDtype;
}

/**
 * A Llama configuration, with Hugging Face's `config.json` field names (`LlamaConfig`), defaults filled in.
 * RMSNorm, rotary positions, SwiGLU MLP, grouped-query attention, optionally tied head.
 */
export interface LlamaConfig {
  model_type: 'llama';
  /** V */
  vocab_size: number;
  /** D */
  hidden_size: number;
  /** SwiGLU width (gate/up outputs). */
  intermediate_size: number;
  /** Number of blocks. */
  num_hidden_layers: number;
  /** Query heads H. */
  num_attention_heads: number;
  /** Key/value heads (GQA); divides H. HF default: H. */
  num_key_value_heads: number;
  /** Per-head size; HF default D / H. */
  head_dim: number;
  /** Longest context. */
  max_position_embeddings: number;
  /** RMSNorm epsilon. */
  rms_norm_eps: number;
  /** RoPE base θ. */
  rope_theta: number;
  /** Share `lm_head` with `embed_tokens` (HF default false). */
  tie_word_embeddings: boolean;
  /** Bias on q/k/v/o (HF default false). */
  attention_bias: boolean;
  /** Bias on gate/up/down (HF default false). */
  mlp_bias: boolean;
  /** Only `silu` (SwiGLU). */
  hidden_act: 'silu';
  /** Std of the random init. */
  initializer_range: number;
  bos_token_id?: number;
  eos_token_id?: number;
  torch_dtype?: TorchDtype;
}

/** A model configuration of either architecture (discriminated by `model_type`). */
export type ModelConfig = Gpt2Config | LlamaConfig;

/** HF's `torch_dtype` values Sift reads and writes. */
export type TorchDtype = 'float32' | 'float16' | 'bfloat16';

const TORCH_DTYPES: readonly TorchDtype[] = ['float32', 'float16', 'bfloat16'];
const GPT2_ACTIVATIONS = ['gelu_new', 'gelu_pytorch_tanh', 'gelu', 'relu'] as const;

/** The architectures `parseModelConfig` knows. */
export const MODEL_TYPES: readonly ModelConfig['model_type'][] = ['gpt2', 'llama'];

type Json = Record<string, unknown>;

function fail(field: string, problem: string): never {
  throw new SiftError('E_CONFIG', `config.json: "${field}" ${problem}`);
}

function int(j: Json, field: string, def?: number): number {
  const v = j[field] ?? def;
  if (v === undefined) fail(field, 'is missing; it must be a positive integer.');
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) fail(field, `must be a positive integer, got ${JSON.stringify(v)}.`);
  return v;
}

function num(j: Json, field: string, def: number): number {
  const v = j[field] ?? def;
  if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) fail(field, `must be a positive number, got ${JSON.stringify(v)}.`);
  return v;
}

function bool(j: Json, field: string, def: boolean): boolean {
  const v = j[field] ?? def;
  if (typeof v !== 'boolean') fail(field, `must be true or false, got ${JSON.stringify(v)}.`);
  return v;
}

function optId(j: Json, field: string): Record<string, number> {
  const v = j[field];
  if (v === undefined || v === null) return {};
  // HF allows a list of eos ids; Sift keeps the first (generation accepts several stop ids separately).
  const id = Array.isArray(v) ? (v[0] as unknown) : v;
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) fail(field, `must be a token id, got ${JSON.stringify(v)}.`);
  return { [field]: id };
}

function dtype(j: Json): { torch_dtype?: TorchDtype } {
  const v = j.torch_dtype;
  if (v === undefined || v === null) return {};
  if (typeof v !== 'string' || !TORCH_DTYPES.includes(v as TorchDtype)) {
    fail('torch_dtype', `must be one of ${TORCH_DTYPES.join(', ')}, got ${JSON.stringify(v)}.`);
  }
  return { torch_dtype: v as TorchDtype };
}

function parseGpt2(j: Json): Gpt2Config {
  const n_embd = int(j, 'n_embd');
  const n_head = int(j, 'n_head');
  if (n_embd % n_head !== 0) fail('n_head', `(${n_head}) must divide n_embd (${n_embd}).`);
  const act = j.activation_function ?? 'gelu_new';
  if (typeof act !== 'string' || !(GPT2_ACTIVATIONS as readonly string[]).includes(act)) {
    fail('activation_function', `must be one of ${GPT2_ACTIVATIONS.join(', ')}, got ${JSON.stringify(act)}.`);
  }
  if (j.tie_word_embeddings === false) fail('tie_word_embeddings', 'is false, but GPT-2 always ties its head to wte; remove the field.');
  return {
    model_type: 'gpt2',
    vocab_size: int(j, 'vocab_size'),
    n_positions: int(j, 'n_positions', 1024),
    n_embd,
    n_layer: int(j, 'n_layer'),
    n_head,
    n_inner: j.n_inner === null || j.n_inner === undefined ? 4 * n_embd : int(j, 'n_inner'),
    activation_function: act as Gpt2Config['activation_function'],
    layer_norm_epsilon: num(j, 'layer_norm_epsilon', 1e-5),
    tie_word_embeddings: true,
    initializer_range: num(j, 'initializer_range', 0.02),
    ...optId(j, 'bos_token_id'),
    ...optId(j, 'eos_token_id'),
    ...dtype(j),
  };
}

function parseLlama(j: Json): LlamaConfig {
  const hidden = int(j, 'hidden_size');
  const heads = int(j, 'num_attention_heads');
  const kv = int(j, 'num_key_value_heads', heads);
  if (heads % kv !== 0) fail('num_key_value_heads', `(${kv}) must divide num_attention_heads (${heads}).`);
  if (j.head_dim === undefined && hidden % heads !== 0) {
    fail('num_attention_heads', `(${heads}) must divide hidden_size (${hidden}), or set head_dim.`);
  }
  const headDim = j.head_dim === undefined || j.head_dim === null ? hidden / heads : int(j, 'head_dim');
  if (headDim % 2 !== 0) fail('head_dim', `must be even for rotary embeddings, got ${headDim}.`);
  const act = j.hidden_act ?? 'silu';
  if (act !== 'silu') fail('hidden_act', `must be "silu" (SwiGLU), got ${JSON.stringify(act)}.`);
  if (j.rope_scaling !== undefined && j.rope_scaling !== null) {
    throw new SiftError('E_UNSUPPORTED', `config.json: "rope_scaling" ${JSON.stringify(j.rope_scaling)} is not supported; ` +
      'Sift implements plain RoPE (rope_scaling: null).');
  }
  return {
    model_type: 'llama',
    vocab_size: int(j, 'vocab_size'),
    hidden_size: hidden,
    intermediate_size: int(j, 'intermediate_size'),
    num_hidden_layers: int(j, 'num_hidden_layers'),
    num_attention_heads: heads,
    num_key_value_heads: kv,
    head_dim: headDim,
    max_position_embeddings: int(j, 'max_position_embeddings', 2048),
    rms_norm_eps: num(j, 'rms_norm_eps', 1e-6),
    rope_theta: num(j, 'rope_theta', 10000),
    tie_word_embeddings: bool(j, 'tie_word_embeddings', false),
    attention_bias: bool(j, 'attention_bias', false),
    mlp_bias: bool(j, 'mlp_bias', false),
    hidden_act: 'silu',
    initializer_range: num(j, 'initializer_range', 0.02),
    ...optId(j, 'bos_token_id'),
    ...optId(j, 'eos_token_id'),
    ...dtype(j),
  };
}

/**
 * Validates a Hugging Face `config.json` (parsed object or its text) and fills in HF's defaults.
 * @throws SiftError `E_CONFIG` naming the missing or bad field; `E_UNSUPPORTED` for another `model_type` (lists the
 *   valid ones) or RoPE scaling
 * @example
 * const cfg = parseModelConfig({ model_type: 'llama', vocab_size: 4096, hidden_size: 256, intermediate_size: 704,
 *   num_hidden_layers: 4, num_attention_heads: 8, num_key_value_heads: 4 });
 */
export function parseModelConfig(input: unknown): ModelConfig {
  let j: unknown = input;
  if (typeof input === 'string') {
    try {
      j = JSON.parse(input);
    } catch (err) {
      throw new SiftError('E_CONFIG', `config.json is not valid JSON: ${(err as Error).message}.`, { cause: err });
    }
  }
  if (typeof j !== 'object' || j === null || Array.isArray(j)) {
    throw new SiftError('E_CONFIG', 'config.json must be a JSON object with a "model_type" field.');
  }
  const o = j as Json;
  switch (o.model_type) {
    case 'gpt2':
      return parseGpt2(o);
    case 'llama':
      return parseLlama(o);
    case undefined:
      throw new SiftError('E_CONFIG', `config.json: "model_type" is missing; set it to one of ${MODEL_TYPES.join(', ')}.`);
    default:
      throw new SiftError('E_UNSUPPORTED', `config.json: model_type ${JSON.stringify(o.model_type)} is not supported; ` +
        `Sift builds ${MODEL_TYPES.join(', ')}.`);
  }
}

/** The config as a Hugging Face `config.json` object (with `architectures`), ready to `JSON.stringify`. */
export function toHfConfig(config: ModelConfig): Record<string, unknown> {
  const architectures = config.model_type === 'gpt2' ? ['GPT2LMHeadModel'] : ['LlamaForCausalLM'];
  return { architectures, ...config };
}

/** Model width D of either architecture. */
export function modelWidth(config: ModelConfig): number {
  return config.model_type === 'gpt2' ? config.n_embd : config.hidden_size;
}

/** Number of blocks of either architecture. */
export function modelDepth(config: ModelConfig): number {
  return config.model_type === 'gpt2' ? config.n_layer : config.num_hidden_layers;
}

/** Longest context of either architecture. */
export function modelContext(config: ModelConfig): number {
  return config.model_type === 'gpt2' ? config.n_positions : config.max_position_embeddings;
}
