import { SiftError } from '@sift/tensor-core';
import type { DuckDbOptions } from '../duckdb.js';
import type { EventEncoder } from '../encoder.js';
import type { IngestPlan } from '../ingest.js';
import type { IngestPolicy, IngestProgress } from '../report.js';

/** Options shared by the dataset loaders. */
export interface DatasetLoadOptions extends DuckDbOptions {
  /** The folder holding the dataset's files, in the layout its publisher distributes. */
  dir: string;
  /** A fitted encoder to apply (e.g. the training split's). Default: fit one. */
  encoder?: EventEncoder;
  /** See `INGEST_POLICY_DEFAULTS`. */
  policy?: Partial<IngestPolicy>;
  onProgress?: (p: IngestProgress) => void;
}

/** Throws `E_IO` naming the missing file and the layout the loader expects. */
export async function requireFile(path: string, dataset: string, layout: string): Promise<void> {
  const { stat } = await import('node:fs/promises');
  try {
    await stat(path);
  } catch {
    throw new SiftError('E_IO', `${dataset}: "${path}" not found. Expected the dataset's own layout: ${layout}. ` +
      'Download it from the publisher and point `dir` at the folder that holds these files.');
  }
}

/** Copies the optional loader options into a plan. */
export function withCommon(plan: IngestPlan, o: DatasetLoadOptions): IngestPlan {
  if (o.encoder !== undefined) plan.encoder = o.encoder;
  if (o.policy !== undefined) plan.policy = o.policy;
  if (o.onProgress !== undefined) plan.onProgress = o.onProgress;
  return plan;
}

/** The DuckDB settings among the loader options. */
export function dbOptions(o: DatasetLoadOptions): DuckDbOptions {
  const out: DuckDbOptions = {};
  if (o.memoryLimit !== undefined) out.memoryLimit = o.memoryLimit;
  if (o.threads !== undefined) out.threads = o.threads;
  if (o.tempDirectory !== undefined) out.tempDirectory = o.tempDirectory;
  return out;
}
