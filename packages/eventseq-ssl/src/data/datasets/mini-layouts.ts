/**
 * Test helpers (not exported from the package): tiny generated datasets written in the public datasets' own file
 * layouts (see each loader's header for where the layout comes from). Nothing is downloaded. Each writer returns what
 * a loader should find, for the tests to check.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Rng } from '@sift/tensor-core';
import { lit } from '../duckdb.js';
import { writeCsv, writeParquet } from '../test-helpers.js';

/** What a mini dataset holds: events per entity (store order) and labels by entity. */
export interface MiniExpectation {
  entities: string[];
  eventsPerEntity: number[];
  labels: Record<string, Map<string, number>>;
  rows: number;
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const pad = (n: number): string => String(n).padStart(2, '0');

/** `transactions_train.csv` + `train_target.csv` (Age group). */
export async function writeAgeGroupLayout(dir: string, seed = 1, clients = 12): Promise<MiniExpectation> {
  const rng = new Rng(seed);
  const rows: (string | number)[][] = [];
  const target: number[][] = [];
  const counts: number[] = [];
  const bins = new Map<string, number>();
  for (let c = 0; c < clients; c++) {
    const id = 1000 + c * 7; // client ids are integers, not dense
    const n = 5 + rng.int(20);
    counts.push(n);
    for (let j = 0; j < n; j++) {
      rows.push([id, rng.int(730), rng.int(30), (Math.round(rng.exponential(0.01) * 100) / 100).toFixed(2)]);
    }
    const b = rng.int(4);
    bins.set(String(id), b);
    target.push([id, b]);
  }
  rng.shuffle(rows); // the file is not grouped by client
  await writeCsv(join(dir, 'transactions_train.csv'), ['client_id', 'trans_date', 'small_group', 'amount_rur'], rows);
  await writeCsv(join(dir, 'train_target.csv'), ['client_id', 'bins'], target);
  return { entities: [...bins.keys()], eventsPerEntity: counts, labels: { bins }, rows: rows.length };
}

/** `train.csv` (Rosbank churn): targets repeated on each transaction row; some empty channel_type values. */
export async function writeRosbankLayout(dir: string, seed = 2, clients = 10): Promise<MiniExpectation & { firstTime: Map<string, number> }> {
  const rng = new Rng(seed);
  const rows: (string | number | null)[][] = [];
  const counts: number[] = [];
  const flag = new Map<string, number>();
  const sum = new Map<string, number>();
  const firstTime = new Map<string, number>();
  for (let c = 0; c < clients; c++) {
    const id = c + 1;
    const n = 3 + rng.int(12);
    counts.push(n);
    const f = rng.int(2);
    const s = f === 1 ? Math.round(rng.exponential(1e-4)) / 10 : 0;
    flag.set(String(id), f);
    sum.set(String(id), s);
    let first = Infinity;
    for (let j = 0; j < n; j++) {
      const ms = Date.UTC(2017, 9 + rng.int(3), 1 + rng.int(28), rng.int(24), rng.int(60), 0);
      first = Math.min(first, ms / 1000);
      const d = new Date(ms);
      const when = `${pad(d.getUTCDate())}${MONTHS[d.getUTCMonth()]}${pad(d.getUTCFullYear() % 100)}:${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:00`;
      const period = `01/${pad(d.getUTCMonth() + 1)}/${d.getUTCFullYear()}`;
      rows.push([period, id, [5411, 5812, 6011, 4829][rng.int(4)], rng.float() < 0.2 ? null : `type${1 + rng.int(3)}`,
        rng.float() < 0.9 ? 810 : 978, when, (rng.exponential(0.001)).toFixed(2), ['POS', 'C2C_OUT', 'C2C_IN', 'DEPOSIT'][rng.int(4)], f, s]);
    }
    firstTime.set(String(id), first);
  }
  rng.shuffle(rows);
  await writeCsv(join(dir, 'train.csv'),
    ['PERIOD', 'cl_id', 'MCC', 'channel_type', 'currency', 'TRDATETIME', 'amount', 'trx_category', 'target_flag', 'target_sum'], rows);
  return { entities: [...flag.keys()], eventsPerEntity: counts, labels: { target_flag: flag, target_sum: sum }, rows: rows.length, firstTime };
}

const ALPHA_COLUMNS = ['app_id', 'amnt', 'currency', 'operation_kind', 'card_type', 'operation_type', 'operation_type_group',
  'ecommerce_flag', 'payment_system', 'income_flag', 'mcc', 'country', 'city', 'mcc_category', 'day_of_week', 'hour',
  'days_before', 'weekofyear', 'hour_diff', 'transaction_number'];

/** `train_transactions_contest/part_*.parquet` (two parts split by app_id, as the contest's) + `train_target.csv`. */
export async function writeAlphaBattleLayout(dir: string, seed = 3, apps = 10): Promise<MiniExpectation> {
  const rng = new Rng(seed);
  const rows: number[][] = [];
  const counts: number[] = [];
  const flag = new Map<string, number>();
  const product = new Map<string, number>();
  for (let a = 0; a < apps; a++) {
    const n = 4 + rng.int(10);
    counts.push(n);
    for (let j = 1; j <= n; j++) {
      rows.push([a, Math.round(rng.float() * 1e6) / 1e6, ...Array.from({ length: 14 }, () => rng.int(5)), rng.int(365), rng.int(53), rng.int(100) - 1, j]);
    }
    flag.set(String(a), rng.int(2));
    product.set(String(a), rng.int(5));
  }
  rng.shuffle(rows);
  const csv = join(dir, 'raw.csv');
  await writeCsv(csv, ALPHA_COLUMNS, rows);
  const parts = join(dir, 'train_transactions_contest');
  await mkdir(parts, { recursive: true });
  const typed = `SELECT ${ALPHA_COLUMNS.map((c) => `CAST("${c}" AS ${c === 'amnt' ? 'DOUBLE' : 'INTEGER'}) AS "${c}"`).join(', ')} ` +
    `FROM read_csv(${lit(csv)}, all_varchar = true)`;
  const half = Math.floor(apps / 2);
  await writeParquet(join(parts, `part_000_0_to_${half - 1}.parquet`), `${typed} WHERE CAST(app_id AS INTEGER) < ${half}`);
  await writeParquet(join(parts, `part_001_${half}_to_${apps - 1}.parquet`), `${typed} WHERE CAST(app_id AS INTEGER) >= ${half}`);
  const { rm } = await import('node:fs/promises');
  await rm(csv);
  await writeCsv(join(dir, 'train_target.csv'), ['app_id', 'product', 'flag'], [...flag.keys()].map((k) => [k, product.get(k)!, flag.get(k)!]));
  return { entities: [...flag.keys()], eventsPerEntity: counts, labels: { flag, product }, rows: rows.length };
}

/**
 * `set-a/<RecordID>.txt` + `Outcomes-a.txt` (PhysioNet 2012). The last record has descriptors only (no events);
 * one measurement is repeated at the same time (to be averaged).
 */
export async function writePhysioNetLayout(dir: string, seed = 4, records = 6): Promise<MiniExpectation & { heartRates: Map<string, number[]> }> {
  const rng = new Rng(seed);
  await mkdir(join(dir, 'set-a'), { recursive: true });
  const counts: number[] = [];
  const death = new Map<string, number>();
  const heartRates = new Map<string, number[]>();
  const outcomes: number[][] = [];
  let rowsTotal = 0;
  for (let r = 0; r < records; r++) {
    const id = 132539 + r * 3;
    const lines = ['Time,Parameter,Value', `00:00,RecordID,${id}`, `00:00,Age,${40 + rng.int(50)}`, `00:00,Gender,${rng.int(2)}`,
      `00:00,Height,${r % 2 === 0 ? -1 : 150 + rng.int(40)}`, `00:00,ICUType,${1 + rng.int(4)}`, '00:00,Weight,-1'];
    const hr: number[] = [];
    const times = new Set<number>();
    if (r < records - 1) {
      let minute = 7;
      const n = 3 + rng.int(6);
      for (let j = 0; j < n; j++) {
        const t = `${pad(Math.floor(minute / 60))}:${pad(minute % 60)}`;
        const v = 60 + rng.int(60);
        lines.push(`${t},HR,${v}`, `${t},GCS,${3 + rng.int(13)}`);
        if (j === 0) lines.push(`${t},HR,${v + 2}`); // a repeated measurement, averaged
        hr.push(j === 0 ? v + 1 : v);
        if (j % 2 === 1) lines.push(`${t},MechVent,1`);
        times.add(minute);
        minute += 30 + rng.int(400); // goes past 24:00 as in the real files
      }
    }
    heartRates.set(String(id), hr);
    counts.push(times.size);
    rowsTotal += lines.length - 1;
    await writeFile(join(dir, 'set-a', `${id}.txt`), `${lines.join('\n')}\n`);
    const d = rng.int(2);
    death.set(String(id), d);
    outcomes.push([id, 10 + rng.int(10), rng.int(10), 2 + rng.int(20), d === 1 ? 1 + rng.int(30) : -1, d]);
  }
  await writeCsv(join(dir, 'Outcomes-a.txt'), ['RecordID', 'SAPS-I', 'SOFA', 'Length_of_stay', 'Survival', 'In-hospital_death'], outcomes);
  return { entities: [...death.keys()], eventsPerEntity: counts, labels: { 'In-hospital_death': death }, rows: rowsTotal, heartRates };
}
