/**
 * `@sift/salience`: weight-importance scores. Element scores ([out, in], larger = keep) feed `@sift/nm-sparsity`'s
 * masks; column scores ([in], larger = salient) feed `@sift/gift-sw`'s salient-column choice. Every score is a plain
 * function of a weight (or a perturbation of it) and calibration statistics.
 * @packageDocumentation
 */
export { columnNorm, type ColumnNorms, type StatsLike, type NormOrder } from './stats.js';
export { magnitudeScore, wandaScore, sparsegptScore } from './element.js';
export {
  generalizedScore, owqScore, spqrColumnScore, perturbationNorm, parseMetricOptions,
  METRIC_PRESETS, GENERALIZED_METRIC_DEFAULTS, type GeneralizedMetricOptions, type MetricPresetName,
} from './column.js';
export { topColumns } from './top.js';
