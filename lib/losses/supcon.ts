/**
 * SupCon, the supervised contrastive loss (Khosla et al. 2020), as the
 * paper-named preset of N-pairs: `supConLoss` / `supConLossAsync` on two
 * views with the paper's defaults (HobbitLong/SupContrast's `SupConLoss`).
 * No native entry of its own: one N-pairs call over the 2N views.
 */
import { rangeError } from '../errors';
import { optionsObject } from '../options';
import { labelList } from '../indices';
import { checkMatrix, checkSameKind, operand, partnerDType, typedArrayName, Indices, Operand, Tensor, TensorLike } from '../tensor';
import type { WithGrad, WithoutGrad } from './common';
import { npairsLoss, npairsLossAsync, NpairsOptions, NpairsResult } from './npairs';

/** Options of {@link supConLoss}. Every option has the default shown (the paper's). */
export interface SupConOptions {
  /** logits = cosine similarity / temperature; > 0. Default 0.07 (the paper's). The loss carries no factor temperature / base temperature: SupContrast's at its defaults (both 0.07). */
  temperature?: number;
  /** Lower bound of the norms in normalize. Default 1e-12. */
  eps?: number;
  /** Compute grad1, grad2 and gradTemperature. Default true. */
  grad?: boolean;
  /** NaN or ±Infinity in z1/z2, or a loss that comes out NaN or infinite (a tiny temperature), is a RangeError (default false). */
  checkFinite?: boolean;
  /**
   * Async functions only: an AbortSignal that cancels the call (as
   * {@link NpairsOptions.signal}). A sync call given one is a RangeError.
   */
  signal?: AbortSignal;
  /** Where to compute; default: the inputs' device (as {@link NpairsOptions.device}). */
  device?: string;
}

const KEYS = ['temperature', 'eps', 'grad', 'checkFinite', 'signal', 'device'] as const;

/** N-pairs' arguments for SupCon over the views [z1; z2] with the labels repeated. */
function views(z1: unknown, z2: unknown, labels: unknown, opts: unknown): { z: Tensor; options: NpairsOptions; n: number; d: number } {
  const o = optionsObject(opts, KEYS);
  const dtype = partnerDType(z1, z2);
  const a = operand(z1, 'z1', dtype);
  const b = operand(z2, 'z2', dtype);
  checkMatrix(a, 'z1');
  checkMatrix(b, 'z2');
  checkSameKind(a, b, 'z1', 'z2');
  const [n, d] = a.shape;
  if (b.shape[1] !== d) throw rangeError('z2', `must have D = ${d} columns like z1, got ${b.shape[1]}`);
  if (b.shape[0] !== n) throw rangeError('z2', `must have N = ${n} rows like z1, got ${b.shape[0]}`);
  if (n === 0) throw rangeError('z1', 'an empty batch (N = 0); expected at least one row');
  if (d === 0) throw rangeError('z1', 'has D = 0 features; expected at least one column');
  const once = labelList(labels, 'labels', n);
  const twice = typedArrayName(once) === 'BigInt64Array' ? new BigInt64Array(2 * n) : new Int32Array(2 * n);
  twice.set(once as never);
  twice.set(once as never, n);
  // the views, in host memory (a view held natively is copied there once; `device` computes where the inputs are)
  const host = (x: Operand): ArrayLike<number> => x.data;
  const data = dtype === 'float64' ? new Float64Array(2 * n * d) : new Float32Array(2 * n * d);
  data.set(host(a));
  data.set(host(b), n * d);
  const options: Record<string, unknown> = { temperature: 0.07, labels: twice, excludeSelf: true, device: a.device };
  for (const key of KEYS) if (o[key] !== undefined) options[key] = o[key];
  return { z: Tensor.from(data, [2 * n, d]), options: options as NpairsOptions, n, d };
}

/**
 * The gradients of the views: z is both x1 and x2 of the N-pairs call, so its
 * gradient is grad1 + grad2, rows [0, N) for z1 and [N, 2N) for z2.
 */
function split(r: NpairsResult, n: number, d: number, device: string): NpairsResult {
  const out: NpairsResult = { loss: r.loss };
  if (r.grad1 !== undefined && r.grad2 !== undefined) {
    const g1 = r.grad1.data();
    const g2 = r.grad2.data();
    const sum = r.grad1.dtype === 'float64' ? new Float64Array(g1.length) : new Float32Array(g1.length);
    for (let i = 0; i < sum.length; i++) sum[i] = g1[i] + g2[i];
    out.grad1 = Tensor.from(sum.subarray(0, n * d), [n, d], { device });
    out.grad2 = Tensor.from(sum.subarray(n * d), [n, d], { device });
    if (device !== 'cpu') {
      r.grad1.dispose();
      r.grad2.dispose();
    }
  }
  if (r.gradTemperature !== undefined) out.gradTemperature = r.gradTemperature;
  return out;
}

/**
 * SupCon (Khosla et al. 2020) on two views with the paper's defaults, as
 * HobbitLong/SupContrast's `SupConLoss` computes it (contrast mode 'all',
 * its defaults temperature = base temperature = 0.07) on the views `[z1; z2]` of shape
 * `[2N, D]` (normalised) with `labels` repeated: each of the 2N anchors
 * against the other 2N − 1 views, its positives every other view with its
 * label (always its own other view), loss the mean over the 2N anchors of
 * −mean log softmax over its positives. It is `npairsLoss(z, z, { labels:
 * [labels; labels], excludeSelf: true, temperature: 0.07 })` on the fused
 * N-pairs kernels, with grad1 and grad2 the gradients of z1 and z2.
 * Matches PyTorch autograd (float32: rtol 1e-5 / atol 1e-6; float64: 1e-10).
 *
 * @param z1 - `[N, D]` projections of view 1 (float32 or float64).
 * @param z2 - `[N, D]` projections of view 2 (same dtype).
 * @param labels - the class of each of the N samples (Int32Array, BigInt64Array or number[]).
 * @throws TypeError for a wrong type or mixed dtypes; RangeError for mismatched shapes, an empty batch,
 *   a wrong number of labels or a bad option value.
 * @example
 * const { loss, grad1, grad2 } = supConLoss(z1, z2, labels);
 */
export function supConLoss(z1: TensorLike, z2: TensorLike, labels: Indices, opts?: SupConOptions & WithGrad): NpairsResult<true>;
export function supConLoss(z1: TensorLike, z2: TensorLike, labels: Indices, opts: SupConOptions & WithoutGrad): NpairsResult<false>;
export function supConLoss(z1: TensorLike, z2: TensorLike, labels: Indices, opts?: SupConOptions): NpairsResult;
export function supConLoss(z1: TensorLike, z2: TensorLike, labels: Indices, opts?: SupConOptions): NpairsResult {
  const { z, options, n, d } = views(z1, z2, labels, opts);
  if (options.signal !== undefined) throw rangeError('signal', 'applies to the async functions (supConLossAsync); a sync call runs to its end on this thread');
  return split(npairsLoss(z, z, options), n, d, options.device as string);
}

/**
 * {@link supConLoss} on a worker thread, off the event loop (inputs copied at
 * the call, small calls computed on the calling thread, as in {@link npairsLossAsync}).
 * @example
 * const { loss } = await supConLossAsync(z1, z2, labels);
 */
export function supConLossAsync(z1: TensorLike, z2: TensorLike, labels: Indices, opts?: SupConOptions & WithGrad): Promise<NpairsResult<true>>;
export function supConLossAsync(z1: TensorLike, z2: TensorLike, labels: Indices, opts: SupConOptions & WithoutGrad): Promise<NpairsResult<false>>;
export function supConLossAsync(z1: TensorLike, z2: TensorLike, labels: Indices, opts?: SupConOptions): Promise<NpairsResult>;
export async function supConLossAsync(z1: TensorLike, z2: TensorLike, labels: Indices, opts?: SupConOptions): Promise<NpairsResult> {
  const { z, options, n, d } = views(z1, z2, labels, opts);
  return split(await npairsLossAsync(z, z, options), n, d, options.device as string);
}
