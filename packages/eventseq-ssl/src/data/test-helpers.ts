/**
 * Helpers for this package's tests (not exported from the package): temporary folders under `os.tmpdir()`, CSV
 * writing, and Parquet files written by DuckDB's `COPY ... TO ... (FORMAT PARQUET)`.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Db, lit } from './duckdb.js';

/** Runs `fn` with a fresh temporary folder, removed afterwards whatever happens. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'sift-eventseq-test-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A CSV cell: quoted when it holds a comma, a quote or a newline; empty for null. */
function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean' ? String(v) : JSON.stringify(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Writes rows as CSV with a header line. */
export async function writeCsv(path: string, header: readonly string[], rows: readonly (readonly unknown[])[]): Promise<void> {
  const lines = [header.map(cell).join(','), ...rows.map((r) => r.map(cell).join(','))];
  await writeFile(path, `${lines.join('\n')}\n`);
}

/**
 * Writes a Parquet file from a SELECT (run by DuckDB), e.g. `SELECT * FROM read_csv('x.csv')` with casts, through
 * `COPY (query) TO path (FORMAT PARQUET)`.
 */
export async function writeParquet(path: string, query: string): Promise<void> {
  const db = await Db.open({ threads: 1 });
  try {
    await db.run(`COPY (${query}) TO ${lit(path)} (FORMAT PARQUET)`, `writing ${path}`);
  } finally {
    await db.close();
  }
}
