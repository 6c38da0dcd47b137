/**
 * Reading and writing NumPy `.npy` files for the CLI: parsing by the npm
 * package `npyjs`, with the strict checks it leaves out (float32/float64
 * only, little-endian, the data's length matching the shape, Fortran order
 * turned into row-major).
 */
import * as fs from 'fs';
import { dump, parse } from 'npyjs';
import { CliError } from './args';

/** A float matrix read from a `.npy` file, row-major. */
export interface NpyMatrix {
  data: Float32Array | Float64Array;
  shape: number[];
  dtype: 'float32' | 'float64';
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

const SAVE_HINT = "save it with numpy: np.save(path, arr.astype(np.float32))";

/**
 * Reads the header's `descr`, `shape` and `fortran_order` first, to say precisely what is wrong with a
 * file that npyjs would reject with a generic message (big-endian data, a truncated file).
 */
function headerInfo(bytes: Uint8Array): { descr: string; shape: number[]; fortran: boolean; dataOffset: number } | null {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) return null;
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lenBytes = major <= 1 ? 2 : 4;
  if (bytes.length < 8 + lenBytes) return null;
  const headerLen = major <= 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = 8 + lenBytes;
  if (bytes.length < start + headerLen) return null;
  const header = Buffer.from(bytes.buffer, bytes.byteOffset + start, headerLen).toString('latin1');
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  if (descr === undefined) return null;
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (shapeText === undefined) return null;
  const shape = shapeText.split(',').map((x) => x.trim()).filter((x) => x.length > 0).map(Number);
  if (shape.some((n) => !Number.isSafeInteger(n) || n < 0)) return null;
  return { descr, shape, fortran: /'fortran_order'\s*:\s*True/.test(header), dataOffset: start + headerLen };
}

/**
 * Reads a 2-D float32 or float64 `.npy` file.
 *
 * @param path - the file.
 * @param what - how to name the file in errors (e.g. `'x1'`).
 * @throws CliError (one line with what to do) when the file is missing, not a `.npy` file, not float32/float64,
 *   big-endian, not 2-D, or its data does not match its shape.
 */
export function readNpyMatrix(path: string, what: string): NpyMatrix {
  let file: Buffer;
  try {
    file = fs.readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CliError(`${what}: cannot read ${JSON.stringify(path)} (${code ?? String(e)})`, 'check the path');
  }
  const info = headerInfo(file);
  if (!info) throw new CliError(`${what}: ${JSON.stringify(path)} is not a .npy file (no valid NUMPY header)`, SAVE_HINT);
  const descr = info.descr;
  const code = descr.replace(/^[<>|=]/, '');
  if (code !== 'f4' && code !== 'f8') {
    throw new CliError(`${what}: ${JSON.stringify(path)} has dtype '${descr}', expected float32 or float64`, SAVE_HINT);
  }
  if (descr.startsWith('>')) {
    throw new CliError(`${what}: ${JSON.stringify(path)} is big-endian ('${descr}'), expected little-endian`, "convert it with arr.astype('<f4') or '<f8'");
  }
  const itemBytes = code === 'f4' ? 4 : 8;
  const count = info.shape.reduce((a, b) => a * b, 1);
  const dataBytes = file.byteLength - info.dataOffset;
  if (dataBytes !== count * itemBytes) {
    throw new CliError(
      `${what}: ${JSON.stringify(path)} holds ${dataBytes} data bytes but shape (${info.shape.join(', ')}) needs ${count * itemBytes}`,
      'the file is truncated or corrupt: save it again',
    );
  }
  // npyjs views the ArrayBuffer from the header's end: give it an exact copy of the file
  const buffer = file.buffer.slice(file.byteOffset, file.byteOffset + file.byteLength) as ArrayBuffer;
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(buffer);
  } catch (e) {
    throw new CliError(`${what}: ${JSON.stringify(path)} could not be parsed (${e instanceof Error ? e.message : String(e)})`, SAVE_HINT);
  }
  const shape = parsed.shape;
  if (shape.length !== 2) {
    throw new CliError(
      `${what}: ${JSON.stringify(path)} has shape (${shape.join(', ')}), expected a 2-D array`,
      shape.length === 1 ? 'reshape it, e.g. arr.reshape(1, -1) for one row' : 'save one 2-D array per file',
    );
  }
  const data = parsed.data as Float32Array | Float64Array;
  if (data.length !== count || shape.some((n, i) => n !== info.shape[i])) {
    throw new CliError(`${what}: ${JSON.stringify(path)} has an inconsistent header`, SAVE_HINT);
  }
  let out: Float32Array | Float64Array = data;
  if (info.fortran) {
    // column-major on disk: make it row-major
    const [rows, cols] = shape;
    out = code === 'f4' ? new Float32Array(count) : new Float64Array(count);
    for (let j = 0; j < cols; j++) for (let i = 0; i < rows; i++) out[i * cols + j] = data[j * rows + i];
  }
  return { data: out, shape: [shape[0], shape[1]], dtype: code === 'f4' ? 'float32' : 'float64' };
}

/** Writes a float32/float64 matrix as a `.npy` file (C order, little-endian). */
export function writeNpy(path: string, data: Float32Array | Float64Array, shape: number[]): void {
  fs.writeFileSync(path, Buffer.from(dump(data, shape)));
}
