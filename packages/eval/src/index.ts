/**
 * `@sift/eval`: evaluation for Sift. Language models: perplexity (non-overlapping or sliding windows, bits per byte)
 * and lm-eval-style multiple-choice scoring, for any model that maps token ids to logits. Embeddings: probes
 * (multinomial logistic regression, ridge, LightGBM-style gradient-boosted trees) with cross-validation, metrics,
 * and geometry (anisotropy, TwoNN). Reports: Markdown/JSON tables and Vega-Lite SVG plots.
 * @packageDocumentation
 */

// Language models
export type { LogitsModel, Tokenizer } from './lm/types.js';
export { perplexity, PERPLEXITY_DEFAULTS } from './lm/perplexity.js';
export type { PerplexityMode, PerplexityOptions, PerplexityProgress, PerplexityReport } from './lm/perplexity.js';
export {
  evaluateMultipleChoice, encodePair, parseMultipleChoiceJsonl, toMultipleChoiceJsonl, MULTIPLE_CHOICE_DEFAULTS,
} from './lm/multiple-choice.js';
export type {
  MultipleChoiceItem, MultipleChoiceTask, MultipleChoiceOptions, MultipleChoiceProgress, MultipleChoiceReport,
  MultipleChoiceTaskReport, MultipleChoiceItemResult,
} from './lm/multiple-choice.js';
export { buildNextSentenceTask, NEXT_SENTENCE_DEFAULTS, type NextSentenceTaskOptions } from './lm/next-sentence-task.js';
export { bigramLogitsModel, BIGRAM_DEFAULTS, type BigramModel, type BigramOptions } from './lm/bigram-model.js';

// Probes
export { matrix, matrixFromTensor, type Matrix } from './probes/matrix.js';
export { fitLogistic, predictLogisticProba, LOGISTIC_DEFAULTS, type LogisticModel, type LogisticOptions } from './probes/logistic.js';
export { fitRidge, predictRidge, RIDGE_DEFAULTS, type RidgeModel, type RidgeOptions } from './probes/ridge.js';
export { fitGbdt, predictGbdt, predictGbdtProba, predictGbdtRaw, type GbdtModel } from './probes/gbdt/train.js';
export { GBDT_DEFAULTS, MLEM_GBDT_PARAMS, type GbdtObjective, type GbdtOptions, type GbdtProgress } from './probes/gbdt/config.js';
export type { GbdtTree } from './probes/gbdt/tree.js';
export { fitScaler, applyScaler, type Scaler, type ScalingKind } from './probes/scaling.js';
export { stratifiedKFold, kFold, trainTestSplit, TRAIN_TEST_SPLIT_DEFAULTS, type Split, type TrainTestSplitOptions } from './probes/split.js';
export { crossValidateProbe, evaluateProbeSplit, classificationMetrics, PROBE_EVAL_DEFAULTS } from './probes/evaluate.js';
export type {
  ProbeSpec, ProbeTask, ProbeEvalOptions, CrossValidateOptions, SplitEvalOptions, ProbeReport, ProbeProgress,
} from './probes/evaluate.js';

// Metrics
export { accuracy, rocAuc, rocAucOvr, logLoss, f1Binary, f1Macro } from './metrics/classification.js';
export { mse, mae } from './metrics/regression.js';
export {
  anisotropy, singularValues, twoNN, ANISOTROPY_DEFAULTS, TWO_NN_DEFAULTS,
  type AnisotropyOptions, type AnisotropyReport, type TwoNNOptions, type TwoNNReport,
} from './metrics/geometry.js';
export { summarize, type Summary } from './internal/summary.js';

// Reports
export {
  renderMarkdown, renderJson, perplexityTable, multipleChoiceTable, probeTable,
  type Table, type TableCell, type TableColumn, type PerplexityEntry,
} from './report/table.js';
export {
  plotPerplexity, plotLossCurves, plotProbeScores, renderVegaLiteSvg,
  type PerplexityPlotOptions, type LossSeries, type LossPlotOptions, type ProbeScorePlotOptions,
} from './report/plots.js';
