/**
 * Option readers shared by the public functions: each checks one option's
 * type and range and returns its value or default. @internal
 */
import { invalidType, invalidValue } from './errors';
import type { NativeCsr } from './binding';
import type { RawTensor } from './raw';

/** The edit distance of two short strings, a swap of neighbours counting one (for "did you mean"). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The allowed key closest to `key` (case aside, or within two edits), if any. */
export function closestKey(key: string, allowed: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const a of allowed) {
    const d = a.toLowerCase() === lower ? 0 : editDistance(lower, a.toLowerCase());
    if (d < bestDistance) {
      best = a;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(1, Math.min(2, Math.floor(key.length / 3))) ? best : undefined;
}

/**
 * The options object (undefined -> {}), refusing what would be ignored: an
 * object that is not a plain one (a Map, a class instance: its entries are
 * not options), and keys not in `allowed` (typos), whether own or inherited
 * from a plain prototype, enumerable or not, strings or Symbols. A misspelt
 * key's error names the key it probably meant.
 */
export function optionsObject(opts: unknown, allowed: readonly string[], name = 'options'): Record<string, unknown> {
  if (opts === undefined) return {};
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) throw invalidType(name, 'an object', opts);
  // every object of the prototype chain up to Object.prototype (or null) must be plain: no constructor of its own
  const chain: object[] = [];
  for (let o: object | null = opts; o !== null && o !== Object.prototype; o = Object.getPrototypeOf(o) as object | null) {
    if (chain.length > 0 && Object.prototype.hasOwnProperty.call(o, 'constructor')) {
      throw invalidType(name, 'a plain object ({ key: value })', opts);
    }
    chain.push(o);
    if (chain.length > 64) throw invalidType(name, 'a plain object ({ key: value })', opts);
  }
  for (const o of chain) {
    for (const key of Reflect.ownKeys(o)) {
      if (typeof key === 'string' && allowed.includes(key)) continue;
      const shown = typeof key === 'symbol' ? key.toString() : `'${key}'`;
      const where = o === opts ? '' : ' (inherited from its prototype)';
      const guess = typeof key === 'string' ? closestKey(key, allowed) : undefined;
      const hint = guess !== undefined ? `. Did you mean '${guess}'?` : '';
      throw new RangeError(`Unknown option ${shown} in ${name}${where}; expected one of: ${allowed.join(', ')}${hint}`);
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

// ---------- the lib ↔ binding contract ----------

/**
 * The keys of the options object of each native function other than the
 * losses (whose keys their specs declare: lib/losses/, collected with these
 * in lib/contract.ts): lib sends every one of them on every call, checked
 * (null where a value is absent), and the binding reads exactly these
 * (its field lists, binding/fields.h), rejecting a missing or a left-over key with an
 * Error. scripts/gen-native-keys.js writes them to
 * binding/generated/native_keys.h, which the binding static_asserts its
 * field lists against; test/options.test.ts sends each key across and back.
 */
export const NATIVE_OPTION_KEYS = {
  normalize: ['p', 'dim', 'eps', 'device'],
  matmul: ['transposeA', 'transposeB', 'out', 'device'],
  sparseMatmul: ['transposeA', 'out'],
  csrIndexSelect: ['out'],
  adam: ['step', 'lr', 'beta1', 'beta2', 'eps', 'weightDecay', 'decoupledWeightDecay', 'amsgrad', 'maximize'],
  crossEntropy: ['reduction', 'labelSmoothing', 'device'],
  batchNorm1d: ['eps', 'device'],
  cosineSimilarity: ['eps', 'device'],
  processGroupConnect: [
    'backend', 'rank', 'worldSize', 'host', 'port', 'agentStore', 'restartCount', 'timeoutMs', 'storePrefix', 'checkShapes', 'cudaDevice',
  ],
} as const;

/** A native function other than a loss that takes an options object. */
export type NativeKind = keyof typeof NATIVE_OPTION_KEYS;

/** The options object of each of those native functions, every key required (null: none). */
export interface NativeOptions {
  normalize: { p: number; dim: number; eps: number; device: string };
  matmul: {
    transposeA: boolean;
    transposeB: boolean;
    /** The caller's memory for the result ({ data, shape: [N, M] }), or null. */
    out: RawTensor | null;
    device: string;
  };
  sparseMatmul: {
    transposeA: boolean;
    out: RawTensor | null;
  };
  csrIndexSelect: {
    /** A CsrTensor's native matrix to refill, or null (a new one). */
    out: NativeCsr | null;
  };
  adam: {
    step: number;
    lr: number;
    beta1: number;
    beta2: number;
    eps: number;
    weightDecay: number;
    decoupledWeightDecay: boolean;
    amsgrad: boolean;
    maximize: boolean;
  };
  crossEntropy: { reduction: 'mean' | 'sum' | 'none'; labelSmoothing: number; device: string };
  batchNorm1d: { eps: number; device: string };
  cosineSimilarity: { eps: number; device: string };
  processGroupConnect: {
    backend: 'gloo' | 'nccl';
    rank: number;
    worldSize: number;
    host: string;
    port: number;
    agentStore: boolean;
    restartCount: number;
    timeoutMs: number;
    storePrefix: string;
    checkShapes: boolean;
    /** NCCL only: this rank's CUDA device index, or null (rank % device count). */
    cudaDevice: number | null;
  };
}

/** True when A and B are the same set of keys. @internal */
export type SameKeys<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

// The interfaces above and the key lists name the same keys (a compile error otherwise).
const keysAgree: { [K in NativeKind]: SameKeys<keyof NativeOptions[K], (typeof NATIVE_OPTION_KEYS)[K][number]> } = {
  normalize: true, matmul: true, sparseMatmul: true, csrIndexSelect: true, adam: true, crossEntropy: true, batchNorm1d: true, cosineSimilarity: true,
  processGroupConnect: true,
};
void keysAgree;
