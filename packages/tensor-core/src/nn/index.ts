/**
 * nn: a PyTorch-like module tree on tfjs-core. `Module` (named parameters, buffers, children, hooks, state dicts),
 * layers (`Linear`, `Embedding`, `LayerNorm`, `RMSNorm`, `Dropout`, `MultiHeadAttention`, `GRU`), activations,
 * fused differentiable ops, and the `SequentialModel` seam for layer-wise compression.
 */
export {
  Module, ModuleList,
  type Parameter, type ForwardHook, type GradHook, type StateDict, type LoadStateDictOptions, type LoadStateDictReport,
  type ParamSelector,
} from './module.js';
export { globToRegExp, matchName, matchAny, passesFilter, type NamePattern, type NameFilter } from './pattern.js';
export { initTensor, kaimingUniform, type Init } from './init.js';
export {
  linear, bmm, relu, silu, gelu, geluTanh, activation, ACTIVATIONS, type ActivationName, type LinearFnOptions,
} from './functional.js';
export { Linear, LINEAR_DEFAULTS, type LinearOptions } from './linear.js';
export { Embedding, EMBEDDING_DEFAULTS, embeddingLookup, type EmbeddingOptions } from './embedding.js';
export {
  LayerNorm, RMSNorm, layerNorm, rmsNorm, LAYER_NORM_DEFAULTS, RMS_NORM_DEFAULTS, type LayerNormOptions, type RMSNormOptions,
} from './norm.js';
export { Dropout, dropout, dropoutMask, type DropoutOptions } from './dropout.js';
export { applyRope, ropeAngles, ROPE_DEFAULTS, type RopeOptions } from './rope.js';
export {
  MultiHeadAttention, KVCache, MULTI_HEAD_ATTENTION_DEFAULTS, type MultiHeadAttentionOptions, type AttentionCall,
} from './attention.js';
export { GRU, GRU_DEFAULTS, type GRUOptions, type GRUCall, type GRUOutput } from './gru.js';
export {
  findLinears, findModules, runSequential, type SequentialModel, type HiddenState, type BlockContext,
} from './sequential.js';
export { registerGradients, GRADIENT_KERNELS } from './gradients.js';
