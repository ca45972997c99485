/**
 * stats: streaming, mergeable, serialisable statistics of layer activations for calibration: Gram matrix / Hessian
 * (SparseGPT, GPTQ, OWQ), channel norms (Wanda), max |x| (QUIK, GIFT-SW, SmoothQuant), mean/variance, and the
 * per-output moments of X Wᵀ (variance correction).
 */
export {
  ActivationStats, ACTIVATION_STATS_DEFAULTS, type ActivationStatsOptions, type ActivationStatsJSON,
} from './activation-stats.js';
export { OutputMoments, type OutputMomentsJSON } from './output-moments.js';
