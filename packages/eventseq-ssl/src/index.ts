/**
 * `@sift/eventseq-ssl`: self-supervised learning on event sequences (MLEM, arXiv:2401.15935, and its baselines).
 * The data layer (`data/`), the sequence encoder (`nn/`), the methods and their losses (`methods/`) and the
 * evaluation protocol (`eval/`).
 * @packageDocumentation
 */
export * from './data/index.js';
export {
  createSequenceEncoder, EventFeatures, fitInputStats, SEQUENCE_ENCODER_DEFAULTS, SequenceEncoder,
  type EncoderOutput, type InputStats, type SequenceEncoderOptions,
} from './nn/sequence-encoder.js';
export {
  EMBED_DEFAULTS, embed, loadSequenceEncoder, saveSequenceEncoder,
  type EmbedOptions, type EmbedProgress, type EmbedResult, type EncoderSidecar,
} from './nn/embed.js';
export {
  colesInfoNceLoss, colesMarginLoss, INFONCE_DEFAULTS, l2Normalize, MARGIN_LOSS_DEFAULTS, siglipLoss,
  type InfoNceOptions, type MarginLossOptions, type SiglipOptions,
} from './methods/losses.js';
export { GenerativeModel, SupervisedModel, type ReconstructionParts, type ReconstructionWeights } from './methods/models.js';
export {
  TRAIN_DEFAULTS, trainColes, trainGenerative, trainHybrid, trainMlem, trainSnapshotInfo, trainSupervised,
  type MethodName, type TrainCall, type TrainOptions, type TrainProgress, type TrainReport, type TrainResult,
} from './methods/train.js';
export {
  embeddingGeometry, fewLabelSubset, nextEventProbe, PROBE_DEFAULTS, probeLabel, robustnessProbe, splitEntities,
  type GeometryReport, type NextEventReport, type ProbeOptions, type RobustnessPoint,
} from './eval/protocol.js';
export {
  BENCHMARK_FULL, BENCHMARK_METHODS, BENCHMARK_QUICK, runBenchmark,
  type BenchmarkConfig, type BenchmarkProgress, type BenchmarkReport, type BenchmarkScores,
} from './eval/benchmark.js';
export { METHODS, type EventSeqMethod, type MethodContext } from './methods/registry.js';
