/**
 * Age group (ODS / Sber "Predict a client's age group" competition; ptls `scenario_age_pred`, MLEM "Age").
 * Layout, as ptls-experiments `scenario_age_pred/bin/make-datasets-spark.sh` reads it:
 * - `transactions_train.csv`: `client_id,trans_date,small_group,amount_rur` (trans_date: day number, a float in ptls
 *   `"#float" "trans_date"`; small_group: category; amount_rur: amount, log-normalised in ptls `cols_log_norm`);
 * - `train_target.csv`: `client_id,bins` (4 age groups, 0..3);
 * - optionally `transactions_test.csv` (same columns, clients without labels).
 */
import { runIngest, relationOf, type IngestResult } from '../ingest.js';
import type { EventSchema } from '../schema.js';
import { dbOptions, requireFile, withCommon, type DatasetLoadOptions } from './common.js';

/** The Age group schema: `small_group` codes and log `amount_rur` per day-numbered event (MLEM brief §4). */
export const AGE_GROUP_SCHEMA: EventSchema = {
  entity: 'client_id',
  time: { column: 'trans_date', format: 'number' },
  fields: [
    { kind: 'categorical', name: 'small_group' },
    { kind: 'numeric', name: 'amount_rur', transform: 'log' },
  ],
};

const LAYOUT = 'transactions_train.csv (client_id,trans_date,small_group,amount_rur) and train_target.csv (client_id,bins)';

/**
 * Loads Age group from its competition files; labels: `bins`.
 * @example
 * const { store, report } = await loadAgeGroup({ dir: 'data/age-pred' });
 */
export async function loadAgeGroup(options: DatasetLoadOptions & { includeTest?: boolean }): Promise<IngestResult> {
  const path = await import('node:path'); // Node only: loaded on call, so the package bundles for browsers
  const events = [path.join(options.dir, 'transactions_train.csv')];
  const target = path.join(options.dir, 'train_target.csv');
  await requireFile(events[0], 'Age group', LAYOUT);
  await requireFile(target, 'Age group', LAYOUT);
  if (options.includeTest === true) {
    events.push(path.join(options.dir, 'transactions_test.csv'));
    await requireFile(events[1], 'Age group', `${LAYOUT}, plus transactions_test.csv with includeTest`);
  }
  return runIngest(withCommon({
    events: relationOf({ path: events, format: 'csv' }, 'Age group events'),
    schema: AGE_GROUP_SCHEMA,
    labels: { relation: relationOf({ path: target, format: 'csv' }, 'Age group labels'), entity: 'client_id', columns: ['bins'] },
  }, options), dbOptions(options));
}
