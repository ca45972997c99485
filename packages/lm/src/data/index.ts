export { BROWN_GENRES, brownGenre, type BrownGenre, type BrownGenreInfo } from './brown/genres.js';
export { loadBrown, type BrownCorpus, type BrownDocument, type LoadBrownOptions } from './brown/load.js';
export {
  BROWN_SPLIT_DEFAULTS, loadBrownSplit, splitBrown,
  type BrownSplitName, type BrownSplitOptions, type BrownSplits, type LoadBrownSplitOptions,
} from './brown/split.js';
export { encodeDocuments, type EncodeDocumentsOptions, type StreamDocument } from './stream.js';
export {
  brownTokenStream, defaultCacheDir, tokenStream,
  type BrownTokenStreamOptions, type TokenStream, type TokenStreamOptions,
} from './stream-cache.js';
export {
  RandomBatches, sampleWindows, sequentialWindows, windowBatches, windowsToTensor,
  type RandomBatchesOptions, type SampleWindowsOptions, type TokenBatch, type TokenWindows,
} from './sampler.js';
