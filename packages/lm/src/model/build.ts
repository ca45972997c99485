import type { ModelConfig } from './config.js';
import type { CausalLM } from './causal-lm.js';
import { Gpt2Model, type ModelInitOptions } from './gpt2.js';
import { LlamaModel } from './llama.js';

/**
 * Builds the model a config describes: `Gpt2Model` or `LlamaModel`. With `rng` the weights are random (training
 * from scratch); without, zeros (load a checkpoint next).
 * @example
 * const model = createModel(parseModelConfig(json), { rng: new Rng(0) });
 */
export function createModel(config: ModelConfig, options: ModelInitOptions = {}): CausalLM {
  return config.model_type === 'gpt2' ? new Gpt2Model(config, options) : new LlamaModel(config, options);
}
