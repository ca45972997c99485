/**
 * `@sift/lm`: transformer language models for Sift (GPT-2, Llama; Hugging Face configs and checkpoints, KV-cache
 * generation, training, presets), their tokenizers and the Brown corpus data pipeline.
 * Tokenizers (`Tokenizer`: byte, GPT-2 / trained byte-level BPE, any Hugging Face `tokenizer.json`) and samplers
 * are browser-safe, as are the models and `generate`; functions that read or write files (`loadBrown`,
 * `loadTokenizer`, `tokenStream`, `loadCheckpoint`, `saveCheckpoint`, `trainLm` checkpoints, `trainPreset`, ...) are
 * Node only.
 * @packageDocumentation
 */
export * from './tokenizer/index.js';
export * from './data/index.js';
export * from './model/index.js';
export * from './generate/index.js';
export * from './train/index.js';
export * from './presets/index.js';
