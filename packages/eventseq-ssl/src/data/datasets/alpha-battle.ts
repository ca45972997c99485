/**
 * Alpha Battle (Alfa-Bank "Alfa Battle 2.0" credit default; ptls `scenario_alpha_battle`, MLEM "ABank"). Layout:
 * - `train_transactions_contest/part_*.parquet` with columns `app_id, amnt, currency, operation_kind, card_type,
 *   operation_type, operation_type_group, ecommerce_flag, payment_system, income_flag, mcc, country, city,
 *   mcc_category, day_of_week, hour, days_before, weekofyear, hour_diff, transaction_number`
 *   (ptls `scenario_alpha_battle/make_dataset.py`: `COL_EVENT_TIME = 'transaction_number'`; categories and
 *   log-normalised columns from `bin/make-datasets-spark.sh`);
 * - `train_target.csv` with `app_id,product,flag`.
 */
import { relationOf, runIngest, type IngestResult } from '../ingest.js';
import type { EventSchema, FieldSpec } from '../schema.js';
import { dbOptions, requireFile, withCommon, type DatasetLoadOptions } from './common.js';

const CATEGORIES = ['currency', 'operation_kind', 'card_type', 'operation_type', 'operation_type_group', 'ecommerce_flag',
  'payment_system', 'income_flag', 'mcc', 'country', 'city', 'mcc_category', 'day_of_week', 'hour', 'weekofyear'];
const NUMBERS = ['amnt', 'hour_diff', 'days_before'];

/** The Alpha Battle schema: 15 categorical and 3 numeric fields, ordered by `transaction_number`. */
export const ALPHA_BATTLE_SCHEMA: EventSchema = {
  entity: 'app_id',
  time: { column: 'transaction_number', format: 'number' },
  fields: [
    ...CATEGORIES.map((name): FieldSpec => ({ kind: 'categorical', name })),
    ...NUMBERS.map((name): FieldSpec => ({ kind: 'numeric', name, transform: 'log' })),
  ],
};

const LAYOUT = 'train_transactions_contest/part_*.parquet (app_id, amnt, currency, ..., transaction_number) and train_target.csv (app_id,product,flag)';

/**
 * Loads Alpha Battle; labels `flag` (default) and `product`.
 * @example
 * const { store } = await loadAlphaBattle({ dir: 'data/alpha-battle' });
 */
export async function loadAlphaBattle(options: DatasetLoadOptions): Promise<IngestResult> {
  const path = await import('node:path'); // Node only: loaded on call, so the package bundles for browsers
  const parts = path.join(options.dir, 'train_transactions_contest');
  const target = path.join(options.dir, 'train_target.csv');
  await requireFile(parts, 'Alpha Battle', LAYOUT);
  await requireFile(target, 'Alpha Battle', LAYOUT);
  return runIngest(withCommon({
    events: relationOf({ path: path.join(parts, 'part_*.parquet'), format: 'parquet' }, 'Alpha Battle events'),
    schema: ALPHA_BATTLE_SCHEMA,
    labels: { relation: relationOf({ path: target, format: 'csv' }, 'Alpha Battle labels'), entity: 'app_id', columns: ['flag', 'product'] },
  }, options), dbOptions(options));
}
