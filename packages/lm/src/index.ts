/**
 * `@sift/lm`: transformer language models for Sift, their tokenizers and the Brown corpus data pipeline.
 * Tokenizers (`Tokenizer`: byte, GPT-2 / trained byte-level BPE, any Hugging Face `tokenizer.json`) and samplers
 * are browser-safe; functions that read or write files (`loadBrown`, `loadTokenizer`, `tokenStream`, ...) are
 * Node only.
 * @packageDocumentation
 */
export * from './tokenizer/index.js';
export * from './data/index.js';
