/**
 * Tensor ops mirroring `torch.nn.functional`, on LibTorch. Each op computes on
 * its inputs' device and returns its result there (on CUDA the result stays in
 * device memory until `data()` / `to('cpu')`).
 */
import { binding, RawInput, RawResult } from './binding';
import { callNative, invalidType, invalidValue, rangeError, withCallerStack } from './errors';
import { boolOption, enumOption, NativeOptions, numberOption, optionsObject } from './options';
import { indices, isIndices } from './indices';
import { CheckedOut, checkOut, hostView, OutBuffer, runOp, snapshot } from './out';
import {
  checkMatrix, checkResultSize, checkSameKind, operand, partnerDType, rawInput, Indices, Tensor, tensorFromRaw, TensorLike,
} from './tensor';

/** The largest float32: eps must fit the tensors' dtype. */
const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * `x / max(‖x‖_p, eps)` along `dim` (`torch.nn.functional.normalize`).
 * @param x - a tensor of any rank >= 1.
 * @param opts.p - the norm's exponent, > 0 (default 2; `Infinity` allowed).
 * @param opts.dim - the dimension to normalise (default 1; negative counts from the end).
 * @param opts.eps - lower bound of the norm (default 1e-12).
 * @returns a new tensor of `x`'s shape, dtype and device.
 * @throws TypeError / RangeError for a bad tensor or option.
 * @example
 * normalize([[3, 4]]).data(); // Float32Array [0.6, 0.8]
 */
export function normalize(x: TensorLike, opts?: { p?: number; dim?: number; eps?: number }): Tensor {
  const o = optionsObject(opts, ['p', 'dim', 'eps']);
  const t = operand(x, 'x');
  if (t.shape.length === 0) throw rangeError('x', 'expected a tensor with at least one dimension');
  const p = o.p === undefined ? 2 : o.p;
  if (typeof p !== 'number') throw invalidType('p', 'a number', p);
  if (!(p > 0)) throw invalidValue('p', 'a number > 0', p);
  const dim = numberOption(o, 'dim', 1, { integer: true, min: -t.shape.length, max: t.shape.length - 1 });
  const eps = numberOption(o, 'eps', 1e-12, { min: 0, above: true, max: FLOAT32_MAX });
  return tensorFromRaw(callNative(() => binding().normalize(rawInput(t), { p, dim, eps, device: t.device })), t.device);
}

/** Options of {@link matmul} and {@link matmulAsync}. */
export interface MatmulOptions {
  /** Multiply by `a`'s transpose: `a` is stored `[K, N]` (torch's `a.T @ b`; a BLAS flag, no copy). Default false. */
  transposeA?: boolean;
  /** Multiply by `b`'s transpose: `b` is stored `[M, K]` (torch's `a @ b.T`). Default false. */
  transposeB?: boolean;
  /**
   * Where to write the `[N, M]` result (PyTorch's `out=`): a CPU Tensor, a
   * Float32Array or a Float64Array with exactly N·M elements of the inputs'
   * dtype, sharing no memory with them. The result is then a tensor over it.
   */
  out?: OutBuffer;
}

/** The checked arguments of a matmul call. */
interface MatmulCall {
  inputs: [RawInput, RawInput];
  options: NativeOptions['matmul'];
  out: CheckedOut | undefined;
  device: string;
  work: number;
}

function prepareMatmul(a: TensorLike, b: TensorLike, opts: MatmulOptions | undefined): MatmulCall {
  const o = optionsObject(opts, ['transposeA', 'transposeB', 'out']);
  const transposeA = boolOption(o, 'transposeA', false);
  const transposeB = boolOption(o, 'transposeB', false);
  const dtype = partnerDType(a, b);
  const ta = operand(a, 'a', dtype);
  const tb = operand(b, 'b', dtype);
  checkMatrix(ta, 'a');
  checkMatrix(tb, 'b');
  checkSameKind(ta, tb, 'a', 'b');
  const [n, k] = transposeA ? [ta.shape[1], ta.shape[0]] : ta.shape;
  const [kb, m] = transposeB ? [tb.shape[1], tb.shape[0]] : tb.shape;
  if (k !== kb) {
    const want = transposeB ? `${k} columns` : `${k} rows`;
    throw rangeError('b', `matmul needs b to have ${want} (a${transposeA ? '.T' : ''} is [${n}, ${k}]), got [${tb.shape}]${transposeB ? ' (transposeB)' : ''}`);
  }
  checkResultSize([n, m], 'b');
  const out = o.out === undefined ? undefined : checkOut(o.out, [n, m], ta.dtype, ta.device, [['a', hostView(ta)], ['b', hostView(tb)]]);
  return {
    inputs: [rawInput(ta), rawInput(tb)],
    options: { transposeA, transposeB, out: out?.raw ?? null, device: ta.device },
    out,
    device: ta.device,
    work: n * k * m,
  };
}

function matmulResult(call: MatmulCall, raw: RawResult | undefined): Tensor {
  return call.out !== undefined ? call.out.result() : tensorFromRaw(raw as RawResult, call.device);
}

/**
 * The matrix product `a @ b` of `[N, K]` and `[K, M]` matrices, or with the
 * transpose flags `a.T @ b` (`a` stored `[K, N]`) and `a @ b.T` (`b` stored
 * `[M, K]`): at::mm on a transposed view, which BLAS reads through its
 * transpose flag (no transposed copy is made). The numbers are PyTorch's
 * `a.T @ b` / `a @ b.T` on the same inputs.
 * @param opts.transposeA - `a` is stored `[K, N]` (default false).
 * @param opts.transposeB - `b` is stored `[M, K]` (default false).
 * @param opts.out - where to write the `[N, M]` result (see {@link MatmulOptions.out}); the result is a tensor over it.
 * @returns a `[N, M]` tensor of the inputs' dtype, on their device.
 * @throws TypeError for mixed dtypes or a bad option type; RangeError when the inner sizes differ, or `out` has the
 *   wrong element count or dtype, is not on the CPU, or overlaps `a` or `b`.
 * @example
 * matmul([[1, 2]], [[3], [4]]).data(); // Float32Array [11]
 * @example
 * // the weight gradient xᵀ·g of a dense layer, into a buffer reused every step
 * const gradW = new Float32Array(inFeatures * outFeatures);
 * matmul(x, g, { transposeA: true, out: gradW });
 */
export function matmul(a: TensorLike, b: TensorLike, opts?: MatmulOptions): Tensor {
  const call = prepareMatmul(a, b, opts);
  const raw = callNative(() => binding().matmul(call.inputs[0], call.inputs[1], call.options, false));
  return matmulResult(call, raw);
}

/**
 * {@link matmul} off the event loop: on the libuv pool, its inputs copied
 * when the call is made; `out` is written when the computation is done (do
 * not read or reuse it before the Promise settles). A product of at most
 * 2^17 multiply-adds (`PAIRLOSS_ASYNC_INLINE_MADDS`) computes at once on the
 * calling thread instead and returns a settled Promise. Bad arguments reject
 * with the same errors.
 * @example
 * const logits = await matmulAsync(h, w, { transposeB: true });
 */
export async function matmulAsync(a: TensorLike, b: TensorLike, opts?: MatmulOptions): Promise<Tensor> {
  let call: MatmulCall;
  try {
    call = prepareMatmul(a, b, opts);
  } catch (error) {
    throw withCallerStack(error);
  }
  const raw = await runOp(call.work, call.device,
    () => binding().matmul(call.inputs[0], call.inputs[1], call.options, false),
    () => binding().matmul(call.inputs[0], call.inputs[1], call.options, true),
    () => { call.inputs = [snapshot(call.inputs[0]), snapshot(call.inputs[1])]; });
  return matmulResult(call, raw);
}

/** Options of {@link crossEntropy}. */
export interface CrossEntropyOptions {
  /** `'mean'` (default), `'sum'`, or `'none'` (a tensor of N losses). */
  reduction?: 'mean' | 'sum' | 'none';
  /** In [0, 1]; default 0. */
  labelSmoothing?: number;
}

/**
 * Cross entropy of `[N, C]` logits against class indices or class
 * probabilities (`torch.nn.functional.cross_entropy`).
 * @param target - `N` class indices in `[0, C)` (Int32Array, BigInt64Array, number[]) or an `[N, C]` probability tensor.
 * @returns the loss as a number, or a tensor of `N` losses with `reduction: 'none'`.
 * @throws TypeError / RangeError for bad logits, targets out of range or of the wrong length, or bad options.
 * @example
 * crossEntropy([[2, 0], [0, 2]], [0, 1]); // 0.1269...
 */
export function crossEntropy(logits: TensorLike, target: Indices | TensorLike, opts?: CrossEntropyOptions & { reduction?: 'mean' | 'sum' }): number;
export function crossEntropy(logits: TensorLike, target: Indices | TensorLike, opts: CrossEntropyOptions & { reduction: 'none' }): Tensor;
export function crossEntropy(logits: TensorLike, target: Indices | TensorLike, opts?: CrossEntropyOptions): number | Tensor;
export function crossEntropy(logits: TensorLike, target: Indices | TensorLike, opts?: CrossEntropyOptions): number | Tensor {
  const o = optionsObject(opts, ['reduction', 'labelSmoothing']);
  const reduction = enumOption(o, 'reduction', ['mean', 'sum', 'none'] as const, 'mean');
  const labelSmoothing = numberOption(o, 'labelSmoothing', 0, { min: 0, max: 1 });
  const l = operand(logits, 'logits', partnerDType(logits, target));
  checkMatrix(l, 'logits');
  const [n, c] = l.shape;
  if (n === 0) throw rangeError('logits', 'an empty batch (0 rows)');
  if (c === 0) throw rangeError('logits', 'expected at least one class (column)');
  if (ArrayBuffer.isView(target) && !isIndices(target)) {
    throw invalidType('target', 'class indices (Int32Array, BigInt64Array or number[]) or a probability tensor', target);
  }
  let t;
  if (isIndices(target)) {
    t = indices(target, 'target', n, c);
  } else {
    const p = operand(target, 'target', l.dtype);
    checkSameKind(l, p, 'logits', 'target');
    if (p.shape.length !== 2 || p.shape[0] !== n || p.shape[1] !== c) {
      throw rangeError('target', `probabilities must have the shape of logits [${n}, ${c}], got [${p.shape}]`);
    }
    t = rawInput(p);
  }
  const out = tensorFromRaw(callNative(() => binding().crossEntropy(rawInput(l), t, { reduction, labelSmoothing, device: l.device })), l.device);
  if (reduction === 'none') return out;
  const value = out.data()[0];
  out.dispose(); // a one-element tensor on the device (CUDA): freed now, not at GC
  return value;
}

/**
 * Batch normalisation in training mode without affine parameters
 * (`BatchNorm1d(C, affine=False)` on `[N, C]`): each column standardised by
 * its batch mean and biased variance.
 * @param opts.eps - added to the variance (default 1e-5).
 * @throws RangeError for N < 2 (PyTorch: "Expected more than 1 value per channel when training").
 * @example
 * batchNorm1d([[1, 2], [3, 6]]).data(); // ≈ [-1, -1, 1, 1]
 */
export function batchNorm1d(x: TensorLike, opts?: { eps?: number }): Tensor {
  const o = optionsObject(opts, ['eps']);
  const eps = numberOption(o, 'eps', 1e-5, { min: 0, above: true, max: FLOAT32_MAX });
  const t = operand(x, 'x');
  checkMatrix(t, 'x');
  if (t.shape[0] < 2) throw rangeError('x', `expected more than 1 value per channel when training, got shape [${t.shape}]`);
  return tensorFromRaw(callNative(() => binding().batchNorm1d(rawInput(t), { eps, device: t.device })), t.device);
}

/**
 * The `[N, M]` cosine-similarity matrix `normalize(x1) @ normalize(x2).T` of
 * `x1: [N, D]` and `x2: [M, D]` (`NPairsLoss.similarities` of the PyTorch
 * answer pairloss grew from, "the seed" of docs/DESIGN.md).
 * @param opts.eps - lower bound of the norms (default 1e-12).
 * @throws TypeError for mixed dtypes; RangeError when D differs.
 * @example
 * cosineSimilarity([[1, 0]], [[1, 0], [0, 1]]).data(); // [1, 0]
 */
export function cosineSimilarity(x1: TensorLike, x2: TensorLike, opts?: { eps?: number }): Tensor {
  const o = optionsObject(opts, ['eps']);
  const eps = numberOption(o, 'eps', 1e-12, { min: 0, above: true, max: FLOAT32_MAX });
  const dtype = partnerDType(x1, x2);
  const a = operand(x1, 'x1', dtype);
  const b = operand(x2, 'x2', dtype);
  checkMatrix(a, 'x1');
  checkMatrix(b, 'x2');
  checkSameKind(a, b, 'x1', 'x2');
  if (a.shape[1] !== b.shape[1]) throw rangeError('x2', `must have D = ${a.shape[1]} columns like x1, got ${b.shape[1]}`);
  checkResultSize([a.shape[0], b.shape[0]], 'x2');
  return tensorFromRaw(callNative(() => binding().cosineSimilarity(rawInput(a), rawInput(b), { eps, device: a.device })), a.device);
}
