/**
 * The KoLeo regulariser (Sablayrolles et al. 2019; DINOv2's), as lightly's
 * `KoLeoLoss`: its spec, public types and `koleoLoss` / `koleoLossAsync`.
 */
import { rangeError } from '../errors';
import type { OutBuffer } from '../out';
import type { Tensor, TensorLike } from '../tensor';
import type { Gradients, WithGrad, WithoutGrad } from './common';
import { Checked, defineLoss, SHARED } from './define';

/** Options of {@link koleoLoss}. Every option has the default shown (lightly's). */
export interface KoleoOptions {
  /** lightly's eps: of the row normalisation, of the pairwise distance and under the log; > 0. Default 1e-8. */
  eps?: number;
  /** Compute grad. Default true. */
  grad?: boolean;
  /** NaN or ±Infinity in x is a RangeError (default false). */
  checkFinite?: boolean;
  /** Caller-owned memory for the gradient, `{ grad }` (x's shape and dtype), as {@link VicregOptions.out}. */
  out?: { grad?: OutBuffer };
  /** Async functions only: an AbortSignal that cancels the call, as {@link VicregOptions.signal}. */
  signal?: AbortSignal;
  /** Where to compute; default: x's device (as {@link NpairsOptions.device}). */
  device?: string;
}

/** Result of {@link koleoLoss}: the loss and, with `grad`, ∂loss/∂x `[N, D]`. */
export type KoleoResult<G extends boolean = boolean> = {
  /** −mean_i log(‖x̂_i − x̂_nn(i) + eps‖ + eps), x̂ the normalised rows, nn(i) row i's nearest other row. */
  loss: number;
} & Gradients<{ grad: Tensor<2> }, G>;

const options = {
  eps: SHARED.eps(1e-8), grad: SHARED.grad, checkFinite: SHARED.checkFinite, device: SHARED.device, out: SHARED.out, signal: SHARED.signal,
} as const;

/** KoLeo, declared once. @internal */
export const koleo = defineLoss({
  name: 'koleoLoss',
  inputs: [{ name: 'x', grad: 'grad' }],
  options,
  results: { loss: 'scalar', grad: 'tensor' },
  overflow: ['x', 'values this large overflow the norms'],
  // the similarity matrix: N·N·D
  work: ({ n, d }) => n * n * d,
  check: (c: Checked<typeof options>) => {
    if (c.n < 2) throw rangeError('x', `has no nearest neighbour for one row: KoLeo needs N >= 2, got N = ${c.n}`);
  },
});

const functions = koleo.functions<KoleoOptions, KoleoResult<true>, KoleoResult<false>, KoleoResult>(true);

/**
 * The KoLeo regulariser as lightly's `KoLeoLoss` computes it:
 * x̂ = normalize(x, eps); nn(i) = argmax_{j≠i} x̂_i·x̂_j (the first of ties);
 * loss = −mean_i log(pairwise_distance(x̂_i, x̂_nn(i), eps) + eps), with its
 * gradient (the neighbours are constants of it, as in autograd).
 * Matches PyTorch autograd (float32: rtol 1e-5 / atol 1e-6; float64: 1e-10).
 *
 * @param x - `[N, D]` embeddings (float32 or float64), N >= 2.
 * @param opts - {@link KoleoOptions}.
 * @throws TypeError for a wrong type; RangeError for N < 2, an empty batch or a bad option value.
 * @example
 * const { loss, grad } = koleoLoss(x);
 */
export function koleoLoss(x: TensorLike, opts?: KoleoOptions & WithGrad): KoleoResult<true>;
export function koleoLoss(x: TensorLike, opts: KoleoOptions & WithoutGrad): KoleoResult<false>;
export function koleoLoss(x: TensorLike, opts?: KoleoOptions): KoleoResult;
export function koleoLoss(x: TensorLike, opts?: KoleoOptions): KoleoResult {
  return functions.sync(x, opts);
}

/**
 * {@link koleoLoss} off the event loop, as {@link npairsLossAsync} (the work is N·N·D).
 * @example
 * const { loss, grad } = await koleoLossAsync(x);
 */
export function koleoLossAsync(x: TensorLike, opts?: KoleoOptions & WithGrad): Promise<KoleoResult<true>>;
export function koleoLossAsync(x: TensorLike, opts: KoleoOptions & WithoutGrad): Promise<KoleoResult<false>>;
export function koleoLossAsync(x: TensorLike, opts?: KoleoOptions): Promise<KoleoResult>;
export function koleoLossAsync(x: TensorLike, opts?: KoleoOptions): Promise<KoleoResult> {
  return functions.async(x, opts);
}
