export {
  MODEL_TYPES, modelContext, modelDepth, modelWidth, parseModelConfig, toHfConfig,
  type Gpt2Config, type LlamaConfig, type ModelConfig, type TorchDtype,
} from './config.js';
export { CROSS_ENTROPY_DEFAULTS, crossEntropy, type CrossEntropyOptions } from './loss.js';
export { CausalLM, tiedHead, type BlockCall, type ForwardOptions, type LossOptions } from './causal-lm.js';
export { Gpt2Attention, Gpt2Block, Gpt2Mlp, Gpt2Model, Gpt2Transformer, type InitPlan, type ModelInitOptions } from './gpt2.js';
export { LlamaBlock, LlamaBody, LlamaMlp, LlamaModel } from './llama.js';
export { createModel } from './build.js';
export {
  SAVE_CHECKPOINT_DEFAULTS, hfTensors, loadCheckpoint, loadWeights, saveCheckpoint,
  type CheckpointDtype, type LoadCheckpointOptions, type LoadCheckpointReport, type SaveCheckpointOptions, type SaveCheckpointReport,
} from './checkpoint.js';
