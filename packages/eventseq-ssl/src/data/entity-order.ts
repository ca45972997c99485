import { compareCodePoints } from './encoder.js';

/**
 * Entity ids that look like integers (`-?[0-9]{1,38}`, what fits DuckDB's HUGEINT) are ordered numerically when every
 * id of a store does; otherwise all ids are ordered by code point (DuckDB's binary VARCHAR order). The same rule is
 * applied in SQL (`ingestEvents`) and in JavaScript (`storeFromTable`), so both paths give the same store.
 */
export const INTEGER_ID_PATTERN = '-?[0-9]{1,38}';
const INTEGER_ID_RE = new RegExp(`^${INTEGER_ID_PATTERN}$`);

/** Whether every id is integer-like. */
export function allIntegerIds(ids: Iterable<string>): boolean {
  for (const id of ids) if (!INTEGER_ID_RE.test(id)) return false;
  return true;
}

/** The comparator of the store order (numeric, ties by text; or by code point). */
export function entityComparator(numeric: boolean): (a: string, b: string) => number {
  if (!numeric) return compareCodePoints;
  return (a, b) => {
    const x = BigInt(a);
    const y = BigInt(b);
    return x < y ? -1 : x > y ? 1 : compareCodePoints(a, b);
  };
}

/** SQL `ORDER BY` keys for an entity column holding VARCHAR ids. */
export function entityOrderSql(column: string, numeric: boolean): string {
  return numeric ? `CAST(${column} AS HUGEINT), ${column}` : column;
}
