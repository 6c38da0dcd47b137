/**
 * Heatmap input: a 2-D matrix in any of its accepted forms, read into one
 * row-major view.
 */
import { invalidType, rangeError } from '../errors';

/**
 * What the heatmap functions accept as a matrix: a rectangular `number[][]`,
 * a `{ data, shape }` pair of a float typed array (row-major) and its
 * `[rows, cols]` shape, or an object with `shape` and a `data()` method
 * returning such a typed array (pairloss's `Tensor`).
 *
 * @example
 * ```ts
 * heatmapSvg([[1, 0], [0, 1]]);
 * heatmapSvg({ data: new Float32Array([1, 0, 0, 1]), shape: [2, 2] });
 * heatmapSvg(cosineSimilarity(x1, x2)); // a Tensor
 * ```
 */
export type HeatmapMatrix =
  | ReadonlyArray<ReadonlyArray<number>>
  | { readonly data: Float32Array | Float64Array; readonly shape: ReadonlyArray<number> }
  | { readonly shape: ReadonlyArray<number>; data(): Float32Array | Float64Array };

/**
 * A matrix read by {@link readMatrix}: `rows` x `cols` values, row-major.
 *
 * @example
 * ```ts
 * const { rows, cols, data } = readMatrix([[1, 2], [3, 4]]);
 * data[1 * cols + 0]; // 3, row 1 column 0
 * ```
 */
export interface MatrixView {
  readonly rows: number;
  readonly cols: number;
  /** Row-major values; the caller's typed array itself when one was given (no copy). */
  readonly data: ArrayLike<number>;
}

function formatShape(shape: ReadonlyArray<unknown>): string {
  return `[${shape.map((d) => String(d)).join(', ')}]`;
}

/**
 * Reads a 2-D matrix from any of the accepted forms ({@link HeatmapMatrix}).
 *
 * @param matrix - `number[][]` (rectangular), `{ data: Float32Array | Float64Array, shape: [rows, cols] }`,
 *   or an object with `shape` and a `data()` method returning such a typed array.
 * @param name - the argument's name used in error messages (default `'matrix'`).
 * @returns `{ rows, cols, data }`, `data` row-major (the caller's typed array, not a copy, when one was given).
 * @throws TypeError when `matrix` is none of the accepted forms, a cell of a `number[][]` is not
 *   a number, or `data` is not a Float32Array/Float64Array.
 * @throws RangeError when the matrix is not 2-D, is ragged, is empty (0 rows or 0 columns), or
 *   `data`'s length differs from `rows * cols`.
 * @example
 * ```ts
 * readMatrix([[1, 2], [3, 4]]);                                   // { rows: 2, cols: 2, data: Float64Array [1, 2, 3, 4] }
 * readMatrix({ data: new Float32Array(6), shape: [2, 3] });       // { rows: 2, cols: 3, data: <the same Float32Array> }
 * ```
 */
export function readMatrix(matrix: unknown, name = 'matrix'): MatrixView {
  if (typeof name !== 'string') throw invalidType('name', 'a string', name);
  if (Array.isArray(matrix)) return readNestedArray(matrix, name);
  if (typeof matrix !== 'object' || matrix === null || ArrayBuffer.isView(matrix)) {
    throw invalidType(
      name,
      'a number[][], a { data: Float32Array | Float64Array, shape: [rows, cols] } object or a Tensor',
      matrix,
    );
  }
  return readShaped(matrix as { shape?: unknown; data?: unknown }, name);
}

/** A rectangular `number[][]`, copied into a Float64Array. */
function readNestedArray(matrix: unknown[], name: string): MatrixView {
  const rows = matrix.length;
  if (rows === 0) throw rangeError(name, `expected at least one row and one column, got an empty array`);
  const first: unknown = matrix[0];
  if (!Array.isArray(first)) {
    if (typeof first === 'number') {
      throw rangeError(name, `expected 2-D (an array of rows), got a 1-D array of numbers`);
    }
    throw invalidType(`${name}[0]`, 'an array of numbers (a row)', first);
  }
  const cols = first.length;
  if (cols === 0) throw rangeError(name, `expected at least one row and one column, got ${rows} empty row(s)`);
  const data = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    const row: unknown = matrix[i];
    if (!Array.isArray(row)) throw invalidType(`${name}[${i}]`, 'an array of numbers (a row)', row);
    if (row.length !== cols) {
      throw rangeError(name, `expected a rectangular matrix: row ${i} has ${row.length} value(s) but row 0 has ${cols}`,
      );
    }
    for (let j = 0; j < cols; j++) {
      const v: unknown = row[j];
      if (typeof v !== 'number') throw invalidType(`${name}[${i}][${j}]`, 'a number', v);
      data[i * cols + j] = v;
    }
  }
  return { rows, cols, data };
}

/** A `{ data, shape }` object, or one whose `data()` returns the values (a Tensor): no copy. */
function readShaped(obj: { shape?: unknown; data?: unknown }, name: string): MatrixView {
  const shape = obj.shape;
  if (!Array.isArray(shape)) throw invalidType(`${name}.shape`, 'an array of 2 integers [rows, cols]', shape);
  for (const d of shape) {
    if (typeof d !== 'number') throw invalidType(`${name}.shape`, 'an array of integers', shape);
    if (!Number.isInteger(d) || d < 0) {
      throw rangeError(`${name}.shape`, `expected non-negative integers, got ${formatShape(shape)}`);
    }
  }
  if (shape.length !== 2) {
    throw rangeError(name, `expected 2-D (shape [rows, cols]), got shape ${formatShape(shape)}`);
  }
  const [rows, cols] = shape as number[];
  const data: unknown = typeof obj.data === 'function' ? (obj.data as () => unknown).call(obj) : obj.data;
  if (!(data instanceof Float32Array) && !(data instanceof Float64Array)) {
    throw invalidType(`${name}.data`, 'a Float32Array or a Float64Array', data);
  }
  if (data.length !== rows * cols) {
    throw rangeError(`${name}.data`, `has ${data.length} value(s) but shape ${formatShape(shape)} needs ${rows * cols}`,
    );
  }
  if (rows === 0 || cols === 0) {
    throw rangeError(name, `expected at least one row and one column, got shape ${formatShape(shape)}`);
  }
  return { rows, cols, data };
}
