/**
 * The negative cosine similarity of SimSiam (Chen & He 2021) and BYOL (Grill
 * et al. 2020), as lightly's `NegativeCosineSimilarity`: its spec, public
 * types and `negativeCosineLoss` / `negativeCosineLossAsync`.
 */
import type { GradOut } from '../out';
import type { Tensor } from '../tensor';
import type { Gradients, ViewsLoss, ViewsLossAsync } from './common';
import { defineLoss, SHARED } from './define';

/** Options of {@link negativeCosineLoss}. Every option has the default shown (lightly's). */
export interface NegativeCosineOptions {
  /** cosine_similarity's eps: each row's norm is clamped to it; > 0. Default 1e-8. */
  eps?: number;
  /** Compute grad1 and grad2. Default true. */
  grad?: boolean;
  /** NaN or ±Infinity in x1/x2 is a RangeError (default false). */
  checkFinite?: boolean;
  /** Caller-owned memory for grad1 and/or grad2, as {@link VicregOptions.out}. */
  out?: GradOut;
  /** Async functions only: an AbortSignal that cancels the call, as {@link VicregOptions.signal}. */
  signal?: AbortSignal;
  /** Where to compute; default: the inputs' device (as {@link NpairsOptions.device}). */
  device?: string;
}

/** The gradients of {@link negativeCosineLoss}. */
export interface NegativeCosineGradients {
  /** ∂loss/∂x1, `[N, D]`. */
  grad1: Tensor<2>;
  /** ∂loss/∂x2, `[N, D]` (SimSiam/BYOL's stop-gradient: ignore it). */
  grad2: Tensor<2>;
}

/** Result of {@link negativeCosineLoss}. */
export type NegativeCosineResult<G extends boolean = boolean> = {
  /** −mean_i cos(x1_i, x2_i), in [−1, 1]. */
  loss: number;
} & Gradients<NegativeCosineGradients, G>;

const options = {
  eps: SHARED.eps(1e-8), grad: SHARED.grad, checkFinite: SHARED.checkFinite, device: SHARED.device, out: SHARED.out, signal: SHARED.signal,
} as const;

/** Negative cosine, declared once. @internal */
export const negativeCosine = defineLoss({
  name: 'negativeCosineLoss',
  inputs: [{ name: 'x1', grad: 'grad1' }, { name: 'x2', grad: 'grad2' }],
  sameRows: true,
  options,
  results: { loss: 'scalar', grad1: 'tensor', grad2: 'tensor' },
  overflow: ['x1', 'values this large overflow the norms'],
  work: ({ n, d }) => 3 * n * d,
});

const functions = negativeCosine.functions<NegativeCosineOptions, NegativeCosineResult<true>, NegativeCosineResult<false>, NegativeCosineResult>(true);

/**
 * The negative cosine similarity of SimSiam and BYOL as lightly's
 * `NegativeCosineSimilarity` computes it: −mean over rows of
 * `cosine_similarity(x1, x2, dim = 1, eps)`, with its gradients w.r.t. both
 * inputs. The stop-gradient of SimSiam/BYOL is the caller's (ignore grad2);
 * SimSiam's symmetric form is two calls, `(L(p1, z2) + L(p2, z1)) / 2`.
 * Matches PyTorch autograd (float32: rtol 1e-5 / atol 1e-6; float64: 1e-10).
 *
 * @function
 * @param x1 - `[N, D]` predictions p (float32 or float64), N >= 1.
 * @param x2 - `[N, D]` targets z (same dtype).
 * @throws TypeError for a wrong type or mixed dtypes; RangeError for mismatched shapes, an empty batch or a bad option value.
 * @example
 * const { loss, grad1 } = negativeCosineLoss(p1, z2);
 */
export const negativeCosineLoss: ViewsLoss<NegativeCosineOptions, NegativeCosineResult<true>, NegativeCosineResult<false>, NegativeCosineResult> = functions.sync;

/**
 * {@link negativeCosineLoss} off the event loop, as {@link npairsLossAsync}.
 * @function
 * @example
 * const { loss } = await negativeCosineLossAsync(p1, z2);
 */
export const negativeCosineLossAsync: ViewsLossAsync<NegativeCosineOptions, NegativeCosineResult<true>, NegativeCosineResult<false>, NegativeCosineResult> = functions.async;
