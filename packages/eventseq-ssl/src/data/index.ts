/**
 * Event-sequence data: schemas, fitted encoders, the typed-array sequence store, ingestion (DuckDB, out of core),
 * loaders for public datasets' layouts, the synthetic generator and padded batches.
 */
export {
  NUMERIC_TRANSFORMS, parseEventSchema,
  type CategoricalFieldSpec, type EventSchema, type FieldSpec, type NumericFieldSpec, type NumericTransform,
  type TimeFormat, type TimeSpec,
} from './schema.js';
export {
  EventEncoder, FitStatsAccumulator, loadEncoder, OOV_CODE, PAD_CODE, saveEncoder, signedLog,
  type CategoricalEncoding, type CategoricalFieldStats, type EncoderFitStats, type EventEncoderJSON, type FieldEncoding,
  type NumericEncoding, type NumericFieldStats, type TimeEncoding,
} from './encoder.js';
export { SequenceStore, type SequenceStoreParts } from './store.js';
export { loadStore, saveStore, type StoreSidecar } from './store-io.js';
export {
  INGEST_POLICY_DEFAULTS,
  type CountExamples, type FieldReport, type IngestPolicy, type IngestProgress, type IngestReport, type LabelReport,
  type RowExample,
} from './report.js';
export { INGEST_DEFAULTS, ingestEvents, type IngestOptions, type IngestResult, type LabelSource, type TableSource } from './ingest.js';
export { storeFromTable, type CellValue, type EventTable, type LabelTable, type StoreFromTableOptions } from './from-table.js';
export {
  generateSynthetic, SYNTHETIC_DEFAULTS, SYNTHETIC_SCHEMA,
  type SyntheticDataset, type SyntheticLatents, type SyntheticOptions,
} from './synthetic.js';
export {
  BATCH_DEFAULTS, batchForEntities, batchFromSlices, batchToTensors, COLES_SLICE_DEFAULTS, colesSlices, lengthBuckets,
  type ColesSliceOptions,
  type BatchOptions, type PaddedBatch, type PaddedBatchTensors, type SequenceSlice,
} from './batch.js';
export {
  AGE_GROUP_SCHEMA, ALPHA_BATTLE_SCHEMA, loadAgeGroup, loadAlphaBattle, loadPhysioNet2012, loadRosbank,
  PHYSIONET_2012_SCHEMA, PHYSIONET_SERIES, ROSBANK_LABELS, ROSBANK_SCHEMA, type DatasetLoadOptions,
} from './datasets/index.js';
