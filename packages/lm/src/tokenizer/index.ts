export { END_OF_TEXT, type HfAddedToken, type HfModelJson, type HfTokenizerJson, type Tokenizer, type TokenizerKind } from './types.js';
export { BYTE_TO_CHAR, GPT2_PRETOKENIZE_PATTERN } from './byte-level.js';
export { ByteTokenizer } from './byte-tokenizer.js';
export { BPE_MAX_VOCAB, BpeTokenizer, type BpeSpec } from './bpe.js';
export { gpt2TokenizerFromFiles, loadGpt2Tokenizer, parseVocabBpe, type Gpt2Files } from './gpt2.js';
export {
  HF_SUPPORTED_MODELS, HfTokenizer, tokenizerFromJson, type HfTokenizerConfig, type TokenizerFromJsonOptions,
} from './hf.js';
export {
  TRAIN_BPE_DEFAULTS, trainBpe, type TrainBpeOptions, type TrainBpeProgress, type TrainBpeReport,
} from './train-bpe.js';
export { loadTokenizer, saveTokenizer, tokenizerFingerprint } from './files.js';
