/**
 * Tensor ops mirroring `torch.nn.functional`, on LibTorch. Each op computes on
 * its inputs' device and returns its result there (on CUDA the result stays in
 * device memory until `data()` / `to('cpu')`).
 */
import { binding } from './binding';
import { callNative, invalidType, invalidValue, rangeError } from './errors';
import { enumOption, numberOption, optionsObject } from './options';
import {
  checkMatrix, checkResultSize, checkSameKind, indices, isIndices, operand, partnerDType, rawInput, Indices, Tensor, tensorFromRaw, TensorLike,
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

/**
 * The matrix product `a @ b` of `[N, K]` and `[K, M]` matrices.
 * @throws TypeError for mixed dtypes; RangeError when the inner sizes differ.
 * @example
 * matmul([[1, 2]], [[3], [4]]).data(); // Float32Array [11]
 */
export function matmul(a: TensorLike, b: TensorLike): Tensor {
  const dtype = partnerDType(a, b);
  const ta = operand(a, 'a', dtype);
  const tb = operand(b, 'b', dtype);
  checkMatrix(ta, 'a');
  checkMatrix(tb, 'b');
  checkSameKind(ta, tb, 'a', 'b');
  if (ta.shape[1] !== tb.shape[0]) {
    throw rangeError('b', `matmul needs b to have ${ta.shape[1]} rows (a is [${ta.shape}]), got [${tb.shape}]`);
  }
  checkResultSize([ta.shape[0], tb.shape[1]], 'b');
  return tensorFromRaw(callNative(() => binding().matmul(rawInput(ta), rawInput(tb), { device: ta.device })), ta.device);
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
 * `x1: [N, D]` and `x2: [M, D]` (the seed's `similarities`).
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
