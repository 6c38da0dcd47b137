/**
 * Option readers shared by the public functions: each checks one option's
 * type and range and returns its value or default. @internal
 */
import { invalidType, invalidValue } from './errors';

/** The options object (undefined -> {}), refusing unknown keys (typos). */
export function optionsObject(opts: unknown, allowed: readonly string[], name = 'options'): Record<string, unknown> {
  if (opts === undefined) return {};
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) throw invalidType(name, 'an object', opts);
  for (const key of Object.keys(opts)) {
    if (!allowed.includes(key)) {
      throw new RangeError(`Unknown option '${key}' in ${name}; expected one of: ${allowed.join(', ')}`);
    }
  }
  return opts as Record<string, unknown>;
}

export interface NumberRule {
  min?: number;
  max?: number;
  /** min is exclusive */
  above?: boolean;
  integer?: boolean;
}

/** A finite number option within the rule's bounds. */
export function numberOption(o: Record<string, unknown>, key: string, fallback: number, rule: NumberRule = {}): number {
  const v = o[key];
  if (v === undefined) return fallback;
  if (typeof v !== 'number') throw invalidType(key, 'a number', v);
  const parts: string[] = [];
  if (rule.integer) parts.push('an integer');
  else parts.push('a finite number');
  if (rule.min !== undefined) parts.push(rule.above ? `> ${rule.min}` : `>= ${rule.min}`);
  if (rule.max !== undefined) parts.push(`<= ${rule.max}`);
  const expected = parts.join(' ');
  if (!Number.isFinite(v)) throw invalidValue(key, expected, v);
  if (rule.integer && !Number.isInteger(v)) throw invalidValue(key, expected, v);
  if (rule.min !== undefined && (rule.above ? v <= rule.min : v < rule.min)) throw invalidValue(key, expected, v);
  if (rule.max !== undefined && v > rule.max) throw invalidValue(key, expected, v);
  return v;
}

/** A boolean option. */
export function boolOption(o: Record<string, unknown>, key: string, fallback: boolean): boolean {
  const v = o[key];
  if (v === undefined) return fallback;
  if (typeof v !== 'boolean') throw invalidType(key, 'a boolean', v);
  return v;
}

/** One of a fixed set of strings. */
export function enumOption<T extends string>(o: Record<string, unknown>, key: string, values: readonly T[], fallback: T): T {
  const v = o[key];
  if (v === undefined) return fallback;
  if (typeof v !== 'string') throw invalidType(key, `one of ${values.map((s) => `'${s}'`).join(', ')}`, v);
  if (!(values as readonly string[]).includes(v)) throw invalidValue(key, `one of ${values.map((s) => `'${s}'`).join(', ')}`, v);
  return v as T;
}
