/**
 * A thin wrapper over `@duckdb/node-api` for ingestion: one in-memory database per ingestion, spilling to its own
 * temporary folder (so inputs larger than memory sort and group on disk), removed on close.
 */
import { SiftError } from '@sift/tensor-core';
import type { DuckDBConnection, DuckDBDataChunk, DuckDBInstance, JS } from '@duckdb/node-api';

/** DuckDB settings of an ingestion. */
export interface DuckDbOptions {
  /** DuckDB `memory_limit`, e.g. `'2GB'`; beyond it DuckDB spills to `tempDirectory`. Default: DuckDB's (80% of RAM). */
  memoryLimit?: string;
  /** DuckDB worker threads. Default: DuckDB's (all cores). */
  threads?: number;
  /** Where DuckDB spills. Default: a fresh folder under `os.tmpdir()`, removed afterwards. */
  tempDirectory?: string;
}

/** SQL identifier quoting: `"name"` with inner quotes doubled. */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** SQL string literal quoting: `'text'` with inner quotes doubled. */
export function lit(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/** An open DuckDB database and connection. */
export class Db {
  private constructor(
    private readonly instance: DuckDBInstance,
    readonly con: DuckDBConnection,
    private readonly ownedTemp: string | undefined,
  ) {}

  /** Opens an in-memory database. `@duckdb/node-api` is loaded here, so importing Sift never loads the native module. */
  static async open(options: DuckDbOptions = {}): Promise<Db> {
    let api: typeof import('@duckdb/node-api');
    try {
      api = await import('@duckdb/node-api');
    } catch (err) {
      throw new SiftError('E_UNSUPPORTED', 'ingestion needs @duckdb/node-api (Node only), which could not be loaded: ' +
        `${(err as Error).message}. Install it with \`pnpm add @duckdb/node-api\`; its native binary comes as an optional ` +
        'platform package, so make sure optional dependencies are not disabled.', { cause: err });
    }
    const { mkdtemp, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    const ownedTemp = options.tempDirectory === undefined ? await mkdtemp(path.join(tmpdir(), 'sift-duckdb-')) : undefined;
    const config: Record<string, string> = { temp_directory: options.tempDirectory ?? ownedTemp ?? '' };
    if (options.memoryLimit !== undefined) config.memory_limit = options.memoryLimit;
    if (options.threads !== undefined) config.threads = String(options.threads);
    try {
      const instance = await api.DuckDBInstance.create(':memory:', config);
      const con = await instance.connect();
      return new Db(instance, con, ownedTemp);
    } catch (err) {
      if (ownedTemp !== undefined) await rm(ownedTemp, { recursive: true, force: true });
      throw new SiftError('E_CONFIG', `DuckDB could not start with ${JSON.stringify(config)}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Runs a statement. DuckDB errors become `E_DATA` with `what` saying which step failed. */
  async run(sql: string, what: string): Promise<void> {
    try {
      await this.con.run(sql);
    } catch (err) {
      throw wrapError(err, what);
    }
  }

  /** All rows of a (small) query as JS values (BIGINT comes back as bigint). */
  async rows(sql: string, what: string): Promise<JS[][]> {
    try {
      const reader = await this.con.runAndReadAll(sql);
      return reader.getRowsJS();
    } catch (err) {
      throw wrapError(err, what);
    }
  }

  /** Column names and DuckDB types of a relation (a table, a view or a table function call). */
  async describe(relation: string, what: string): Promise<{ name: string; type: string }[]> {
    const rows = await this.rows(`DESCRIBE SELECT * FROM ${relation}`, what);
    return rows.map((r) => ({ name: str(r[0]), type: str(r[1]) }));
  }

  /**
   * Streams a query's result chunk by chunk (DuckDB's vectors of up to 2048 rows), so the result is never held in
   * memory as a whole; `onChunk` copies what it needs into typed arrays.
   */
  async stream(sql: string, what: string, onChunk: (chunk: DuckDBDataChunk) => void): Promise<number> {
    let rows = 0;
    try {
      const result = await this.con.stream(sql);
      for (;;) {
        const chunk = await result.fetchChunk();
        if (chunk === null || chunk.rowCount === 0) break;
        onChunk(chunk);
        rows += chunk.rowCount;
      }
    } catch (err) {
      if (err instanceof SiftError) throw err;
      throw wrapError(err, what);
    }
    return rows;
  }

  /** Creates `table (k VARCHAR, code INTEGER)` holding `keys[i] -> i + 2` (a fitted vocabulary). */
  async vocabTable(table: string, keys: readonly string[]): Promise<void> {
    await this.run(`CREATE OR REPLACE TABLE ${ident(table)} (k VARCHAR, code INTEGER)`, `create ${table}`);
    const appender = await this.con.createAppender(table);
    try {
      keys.forEach((k, i) => {
        appender.appendVarchar(k);
        appender.appendInteger(i + 2);
        appender.endRow();
      });
      appender.flushSync();
    } finally {
      appender.closeSync();
    }
  }

  /** Closes the database and removes the temporary folder it owned. */
  async close(): Promise<void> {
    try {
      this.con.closeSync();
      this.instance.closeSync();
    } finally {
      if (this.ownedTemp !== undefined) {
        const { rm } = await import('node:fs/promises');
        await rm(this.ownedTemp, { recursive: true, force: true });
      }
    }
  }
}

/** A DuckDB error as a `SiftError`: missing files become `E_IO`, the rest `E_DATA`. */
function wrapError(err: unknown, what: string): SiftError {
  if (err instanceof SiftError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  const first = msg.split('\n')[0] ?? msg;
  if (/No files found|Cannot open file|No such file/i.test(msg)) {
    return new SiftError('E_IO', `${what}: ${first}. Check the path (globs like part_*.parquet are allowed).`, { cause: err });
  }
  return new SiftError('E_DATA', `${what}: DuckDB reported: ${first}`, { cause: err });
}

/** A JS value from DuckDB as a number (BIGINT comes back as bigint; NULL as NaN). */
export function num(v: JS | undefined): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (v === null || v === undefined) return Number.NaN;
  return Number(v);
}

/** A JS value from DuckDB as text (NULL as ""); for ids, keys and names, which DuckDB returns as VARCHAR. */
export function str(v: JS | undefined): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  if (v === null || v === undefined) return '';
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));
}
