/**
 * Rosbank churn (Rosbank ML competition 2019; ptls-experiments `scenario_rosbank`). Layout of `train.csv`, one row per
 * transaction with the client's targets repeated on every row:
 * `PERIOD,cl_id,MCC,channel_type,currency,TRDATETIME,amount,trx_category,target_flag,target_sum`, where TRDATETIME
 * looks like `21OCT17:00:00:00` (`%d%b%y:%H:%M:%S`, as competitors parse it) and PERIOD like `01/10/2017`.
 * ptls uses cl_id, TRDATETIME as event time, categories mcc/channel_type/currency/trx_category, log amount, and the
 * targets target_flag and target_sum (`make-datasets-spark.sh`). `test.csv` has the same columns without targets.
 */
import { ident } from '../duckdb.js';
import { relationOf, runIngest, type IngestResult } from '../ingest.js';
import type { EventSchema } from '../schema.js';
import { dbOptions, requireFile, withCommon, type DatasetLoadOptions } from './common.js';

/** The Rosbank schema (times in seconds since 1970). */
export const ROSBANK_SCHEMA: EventSchema = {
  entity: 'cl_id',
  time: { column: 'TRDATETIME', format: '%d%b%y:%H:%M:%S' },
  fields: [
    { kind: 'categorical', name: 'mcc', column: 'MCC' },
    { kind: 'categorical', name: 'channel_type' },
    { kind: 'categorical', name: 'currency' },
    { kind: 'categorical', name: 'trx_category' },
    { kind: 'numeric', name: 'amount', transform: 'log' },
  ],
};

/** The Rosbank targets. */
export const ROSBANK_LABELS: readonly string[] = ['target_flag', 'target_sum'];

const LAYOUT = 'train.csv (PERIOD,cl_id,MCC,channel_type,currency,TRDATETIME,amount,trx_category,target_flag,target_sum)';

/**
 * Loads Rosbank churn from `train.csv` (and `test.csv` with `includeTest`, unlabelled); labels `target_flag`,
 * `target_sum`, taken from the transaction rows (each client's rows must agree).
 * @example
 * const { store } = await loadRosbank({ dir: 'data/rosbank' });
 */
export async function loadRosbank(options: DatasetLoadOptions & { includeTest?: boolean }): Promise<IngestResult> {
  const path = await import('node:path'); // Node only: loaded on call, so the package bundles for browsers
  const train = path.join(options.dir, 'train.csv');
  await requireFile(train, 'Rosbank churn', LAYOUT);
  const files = [train];
  if (options.includeTest === true) {
    files.push(path.join(options.dir, 'test.csv'));
    await requireFile(files[1], 'Rosbank churn', `${LAYOUT}, plus test.csv with includeTest`);
  }
  // union_by_name: test.csv lacks the target columns.
  const events = relationOf({ path: files, format: 'csv' }, 'Rosbank events');
  events.sql = events.sql.replace(/\)$/, ', union_by_name = true)');
  const trainRel = relationOf({ path: train, format: 'csv' }, 'Rosbank labels');
  const cols = ['cl_id', ...ROSBANK_LABELS].map(ident).join(', ');
  return runIngest(withCommon({
    events,
    schema: ROSBANK_SCHEMA,
    labels: {
      // One row per (client, targets): repeated rows collapse, disagreeing ones stay and are reported as conflicts.
      relation: { sql: `(SELECT DISTINCT ${cols} FROM ${trainRel.sql})`, describe: `Rosbank labels (targets in "${train}")` },
      entity: 'cl_id', columns: ROSBANK_LABELS,
    },
  }, options), dbOptions(options));
}
