/**
 * `@sift/nm-sparsity`: N:M (2:4, 4:8, 8:16, 16:32, …) and unstructured sparsity for tensor-core models. Masks from
 * any `@sift/salience` score; magnitude, Wanda and SparseGPT pruning; salient weights kept beside the sparse part;
 * variance correction and SmoothQuant-like equalization; a block-by-block pipeline over any `SequentialModel`;
 * `MaskedLinear`; and a packed format (values + one combinatorial code per group) with safetensors I/O and a packed
 * matrix-vector product.
 * @packageDocumentation
 */
export { parsePattern, formatPattern, binomial, codeBits, type NMPattern, type PatternLike } from './pattern.js';
export { nmMask, unstructuredMask, salientMask, type MaskSalientOptions } from './mask/nm-mask.js';
export type { SalientPattern } from './mask/salient.js';
export {
  PRUNE_DEFAULTS, parsePruneOptions,
  type PruneOptions, type ResolvedPruneOptions, type MethodName, type UnstructuredScope, type VarianceCorrection,
} from './methods/config.js';
export { METHODS, type PruningMethod, type ScoreContext } from './methods/registry.js';
export { sparsegptPrune, type SparseGptInput, type SparseGptResult } from './methods/sparsegpt.js';
export { pruneLayer, type PruneLayerInput, type PruneLayerResult, type LayerReport } from './methods/prune-layer.js';
export { varianceCorrect, type VarianceCorrectionResult, type InputMoments } from './corrections/variance.js';
export { equalize, type EqualizeReport } from './corrections/equalize.js';
export { MaskedLinear } from './masked-linear.js';
export {
  pruneModel, PRUNE_MODEL_DEFAULTS,
  type PruneModelOptions, type PruneProgress, type PruneReport, type EqualizeGroup,
} from './pipeline/prune-model.js';
export { rankSubset, unrankSubset } from './pack/combinadic.js';
export {
  packNM, unpackNM, packedMatVec, bitsPerWeight,
  type PackedNM, type PackedSalient, type PackInput, type BitsPerWeight,
} from './pack/pack.js';
export { savePacked, loadPacked, sidecarPath, type PackedSidecar, type PackedLayerMeta, type SavePackedReport } from './pack/io.js';
