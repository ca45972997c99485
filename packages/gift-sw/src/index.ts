/**
 * `@sift/gift-sw`: GIFT-SW (Zhelnin et al., arXiv:2408.15300, ACL 2025) on tensor-core modules. Quantization with k
 * salient input columns kept in full precision (symmetric per-row grid with MSE clip search; RTN and GPTQ with QUIK's
 * error flow into the salient columns; packed 2/3/4/8-bit storage), noise-injected fine-tuning of the salient
 * columns (`GiftLinear`, `applyGiftSw`), and the paper's baselines at equal budget (LoRA, DoRA, full fine-tuning with
 * and without noise, STE QAT), with one model-agnostic fine-tuning loop.
 * @packageDocumentation
 */
export {
  GRID_DEFAULTS, QUANT_BITS, fakeQuantize, qmax, rowScales, type GridOptions, type QuantBits,
} from './quant/grid.js';
export {
  QUANTIZE_DEFAULTS, dequantizeWeight, layerError, quantizeGptq, quantizeRtn,
  type GptqResult, type QuantizeOptions, type QuantizedWeight, type WeightInput,
} from './quant/quantize.js';
export {
  loadQuantized, packCodes, quantizedSidecarPath, saveQuantized, unpackCodes,
  type QuantizedLayerMeta, type QuantizedSidecar, type SaveQuantizedReport,
} from './quant/pack.js';
export {
  QUANTIZE_MODEL_DEFAULTS, quantizeModel,
  type QuantizeLayerReport, type QuantizeModelInputs, type QuantizeModelOptions, type QuantizeModelReport, type QuantizeProgress,
} from './quant/quantize-model.js';
export { GiftLinear, type GiftLinearOptions, type NoiseType } from './gift/gift-linear.js';
export {
  SALIENT_SELECT_DEFAULTS, collectLinearStats, randomColumns, selectSalientColumns,
  type SalientSelectOptions, type SalientSelection,
} from './gift/select.js';
export {
  GIFT_DEFAULTS, applyGiftSw, giftAdapterSidecarPath, giftModeOptions, loadGiftAdapter, parseGiftOptions, saveGiftAdapter,
  type ColumnChoice, type GiftAdapterSidecar, type GiftInputs, type GiftLayerReport, type GiftMode, type GiftOptions, type GiftReport,
} from './gift/apply.js';
export {
  DoraLinear, LORA_DEFAULTS, LoraLinear, applyDora, applyLora, loraRankForBudget, type LoraOptions, type LoraReport,
} from './baselines/lora.js';
export {
  FULL_FT_DEFAULTS, NoisyLinear, STE_DEFAULTS, SteLinear, applyFullFineTuning, applySte,
  type FullFineTuneOptions, type FullFineTuneReport, type SteOptions,
} from './baselines/full.js';
export { TARGET_DEFAULTS, countParams, type ParamCounts, type TargetOptions } from './targets.js';
export { mergeAdapters } from './merge.js';
export {
  FINE_TUNE_DEFAULTS, fineTune, fineTuneStateInfo, parseFineTuneOptions, readFineTuneState, writeFineTuneState,
  type FineTuneHooks, type FineTuneOptions, type FineTuneProgress, type FineTuneReport, type FineTuneState,
} from './train/fine-tune.js';
