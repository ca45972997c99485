import { SiftError } from '../errors.js';

/**
 * A name pattern for parameters and modules (dotted paths such as `h.3.mlp.c_fc.weight`). A `RegExp` is tested as
 * is (use anchors for a full match). A string is a glob matched against the WHOLE name:
 * - `*` matches within one segment (no dots): `h.*.mlp.c_fc` matches `h.3.mlp.c_fc`;
 * - `**` matches any number of segments: `**.bias` matches `bias` and `h.3.attn.c_attn.bias`; `h.**` matches all of `h`;
 * - `?` one character other than a dot; every other character is literal.
 */
export type NamePattern = string | RegExp;

const cache = new Map<string, RegExp>();

/** Compiles a glob (see `NamePattern`) to an anchored RegExp. */
export function globToRegExp(glob: string): RegExp {
  const hit = cache.get(glob);
  if (hit !== undefined) return hit;
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*' && glob[i + 1] === '*') {
      const before = i === 0 || glob[i - 1] === '.';
      const after = i + 2 < glob.length ? glob[i + 2] : '';
      if (before && after === '.') {
        re += '(?:.*\\.)?'; // `**.` : zero or more leading segments
        i += 2;
      } else if (before && after === '' && i > 0) {
        re = re.slice(0, -2) + '(?:\\..*)?'; // `.**` at the end: the prefix itself or anything below it
        i += 1;
      } else {
        re += '.*';
        i += 1;
      }
    } else if (c === '*') {
      re += '[^.]*';
    } else if (c === '?') {
      re += '[^.]';
    } else {
      re += c.replace(/[\\^$.|+()[\]{}]/g, '\\$&');
    }
  }
  const compiled = new RegExp(`^${re}$`);
  cache.set(glob, compiled);
  return compiled;
}

/** True when `name` matches `pattern` (a glob over the whole name, or a RegExp). */
export function matchName(name: string, pattern: NamePattern): boolean {
  if (pattern instanceof RegExp) {
    pattern.lastIndex = 0; // a /g or /y RegExp keeps state between test() calls
    return pattern.test(name);
  }
  return globToRegExp(pattern).test(name);
}

/** True when `name` matches any pattern of `patterns` (a single pattern or a list). */
export function matchAny(name: string, patterns: NamePattern | readonly NamePattern[]): boolean {
  const list = Array.isArray(patterns) ? (patterns as readonly NamePattern[]) : [patterns as NamePattern];
  return list.some((p) => matchName(name, p));
}

/** Include/exclude filter used by `findLinears`, `freeze`, `noDecay` and friends. */
export interface NameFilter {
  /** Keep only names matching one of these (default: all). */
  include?: NamePattern | readonly NamePattern[];
  /** Then drop names matching one of these (default: none). */
  exclude?: NamePattern | readonly NamePattern[];
}

/** Applies a `NameFilter` to one name. */
export function passesFilter(name: string, filter: NameFilter = {}): boolean {
  if (filter.include !== undefined && !matchAny(name, filter.include)) return false;
  if (filter.exclude !== undefined && matchAny(name, filter.exclude)) return false;
  return true;
}

/** Throws a clear error for a pattern that is neither a string nor a RegExp (plain-JS callers). */
export function checkPatterns(where: string, patterns: unknown): void {
  const list: unknown[] = Array.isArray(patterns) ? patterns : [patterns];
  for (const p of list) {
    if (typeof p !== 'string' && !(p instanceof RegExp)) {
      throw new SiftError('E_CONFIG', `${where}: a name pattern must be a glob string or a RegExp, got ${typeof p}. ` +
        `Example: '**.bias' or /\\.bias$/.`);
    }
  }
}
