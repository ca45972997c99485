import { SiftError } from '@sift/tensor-core';

/** Range rules for one numeric option. */
export interface NumberRule {
  /** Smallest allowed value (inclusive unless `minExclusive`). */
  min?: number;
  /** Largest allowed value (inclusive unless `maxExclusive`). */
  max?: number;
  minExclusive?: boolean;
  maxExclusive?: boolean;
  /** The value must be an integer. */
  integer?: boolean;
}

/**
 * Throws `E_CONFIG` naming `where.field` unless `value` is a finite number obeying `rule`. Used by every
 * `parse*Options` so that a bad option fails before any work starts, with the field, the value and the range.
 */
export function checkNumber(where: string, field: string, value: unknown, rule: NumberRule = {}): number {
  const range = describeRule(rule);
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new SiftError('E_CONFIG', `${where}: option "${field}" must be a number${range}, got ${JSON.stringify(value)}.`);
  }
  const bad =
    (rule.integer === true && !Number.isInteger(value)) ||
    (rule.min !== undefined && (rule.minExclusive === true ? value <= rule.min : value < rule.min)) ||
    (rule.max !== undefined && (rule.maxExclusive === true ? value >= rule.max : value > rule.max)) ||
    (!Number.isFinite(value) && rule.max !== undefined);
  if (bad) {
    throw new SiftError('E_CONFIG', `${where}: option "${field}" must be ${rule.integer === true ? 'an integer' : 'a number'}${range}, got ${value}.`);
  }
  return value;
}

function describeRule(rule: NumberRule): string {
  const lo = rule.min === undefined ? '' : `${rule.minExclusive === true ? '>' : '>='} ${rule.min}`;
  const hi = rule.max === undefined ? '' : `${rule.maxExclusive === true ? '<' : '<='} ${rule.max}`;
  if (lo === '' && hi === '') return '';
  return ` ${[lo, hi].filter((s) => s !== '').join(' and ')}`;
}

/** Throws `E_CONFIG` unless `value` is one of `choices`, listing them. */
export function checkChoice<T extends string>(where: string, field: string, value: unknown, choices: readonly T[]): T {
  if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
    throw new SiftError('E_CONFIG', `${where}: option "${field}" must be one of ${choices.map((c) => `'${c}'`).join(', ')}, got ${JSON.stringify(value)}.`);
  }
  return value as T;
}

/** Throws `E_CONFIG` for keys of `input` that `defaults` does not have (catches typos such as `numleaves`). */
export function checkKnownKeys(where: string, input: object, known: readonly string[]): void {
  for (const key of Object.keys(input)) {
    if (!known.includes(key)) {
      throw new SiftError('E_CONFIG', `${where}: unknown option "${key}"; valid options are ${known.join(', ')}.`);
    }
  }
}
