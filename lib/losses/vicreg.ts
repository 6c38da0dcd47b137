/**
 * VICReg (Bardes et al. 2022), as lightly's `VICRegLoss`: its spec, public
 * types and `vicregLoss` / `vicregLossAsync`.
 */
import type { ProcessGroup } from '../distributed';
import { rangeError } from '../errors';
import type { GradOut } from '../out';
import type { Tensor, TensorLike } from '../tensor';
import type { Gradients, ViewsLoss, ViewsLossAsync } from './common';
import { Checked, defineLoss, SHARED } from './define';

/** Options of {@link vicregLoss}. Every option has the default shown (lightly's `VICRegLoss`). */
export interface VicregOptions {
  /** Weight of the invariance term (lightly's `lambda_param`). Default 25. */
  invarianceWeight?: number;
  /** Weight of the variance term (`mu_param`). Default 25. */
  varianceWeight?: number;
  /** Weight of the covariance term (`nu_param`). Default 1. */
  covarianceWeight?: number;
  /** The std each feature is held above (the hinge's target). Default 1. */
  gamma?: number;
  /** Added to the variance under the square root. Default 1e-4. */
  eps?: number;
  /** Compute grad1 and grad2. Default true. */
  grad?: boolean;
  /** NaN or ±Infinity in z1/z2 is a RangeError (default false). */
  checkFinite?: boolean;
  /**
   * Caller-owned memory for the gradients (PyTorch's `out=`): `grad1` and/or
   * `grad2` as a Float32Array/Float64Array (or a CPU Tensor) of the input's
   * shape and dtype; the returned gradient is a Tensor over that memory, so a
   * training step that passes the same arrays every time allocates nothing
   * for them. CPU only; must not overlap an input or each other (RangeError
   * naming it). Async calls write into it before they settle: leave it alone
   * until then. Default: new memory for each call.
   */
  out?: GradOut;
  /**
   * Async functions only: an AbortSignal that cancels the call. A call still
   * waiting for a slot leaves the queue and rejects at once with an AbortError
   * DOMException; one already computing rejects with it when it ends, its
   * result discarded. Under a group the collectives still run (every rank
   * must issue them); only the result is discarded. A sync call given one is a RangeError.
   */
  signal?: AbortSignal;
  /** Where to compute; default: the inputs' device (as {@link NpairsOptions.device}). */
  device?: string;
  /**
   * A process group: every term over the global batch of W·N rows (the views
   * are all-gathered): `loss` is that of one process on the concatenated
   * batch, the same on every rank, and grad1/grad2 its exact gradients for
   * this rank's inputs (multiply by W for DDP-style averaging). N and D must
   * be the same on every rank.
   */
  group?: ProcessGroup;
}

/** The gradients of {@link vicregLoss}. */
export interface VicregGradients {
  /** ∂loss/∂z1, `[N, D]`. */
  grad1: Tensor<2>;
  /** ∂loss/∂z2, `[N, D]`. */
  grad2: Tensor<2>;
}

/** Result of {@link vicregLoss}: the loss, its three terms (before the weights) and the gradients. */
export type VicregResult<G extends boolean = boolean> = {
  /** `invarianceWeight · invariance + varianceWeight · variance + covarianceWeight · covariance`. */
  loss: number;
  /** mse(z1, z2), the mean over N·D. */
  invariance: number;
  /** (hinge(z1) + hinge(z2)) / 2, hinge(z) = mean_j relu(gamma − sqrt(Var_j(z) + eps)) (unbiased Var). */
  variance: number;
  /** cov(z1) + cov(z2), cov(z) = Σ_{i≠j} C_ij² / D, C the unbiased covariance matrix. */
  covariance: number;
} & Gradients<VicregGradients, G>;

const options = {
  invarianceWeight: { kind: 'number', default: 25, rule: { min: 0 } },
  varianceWeight: { kind: 'number', default: 25, rule: { min: 0 } },
  covarianceWeight: { kind: 'number', default: 1, rule: { min: 0 } },
  gamma: { kind: 'number', default: 1, rule: { min: 0 } },
  eps: SHARED.eps(1e-4),
  grad: SHARED.grad,
  checkFinite: SHARED.checkFinite,
  device: SHARED.device,
  group: SHARED.group,
  out: SHARED.out,
  signal: SHARED.signal,
} as const;

/** The variance over the batch needs N >= 2 (one rank); the three weights must not all be 0. */
function check(c: Checked<typeof options>): void {
  const opts = c.options;
  if (c.n < 2 && !c.grouped) throw rangeError('z1', `VICReg's variance over the batch needs N >= 2, got N = ${c.n}`);
  if (opts.invarianceWeight === 0 && opts.varianceWeight === 0 && opts.covarianceWeight === 0) {
    throw rangeError('invarianceWeight', 'invarianceWeight, varianceWeight and covarianceWeight are all 0: the loss would be 0 whatever the inputs');
  }
}

/** VICReg, declared once. @internal */
export const vicreg = defineLoss({
  name: 'vicregLoss',
  inputs: [{ name: 'z1', grad: 'grad1' }, { name: 'z2', grad: 'grad2' }],
  sameRows: true,
  options,
  results: { loss: 'scalar', invariance: 'scalar', variance: 'scalar', covariance: 'scalar', grad1: 'tensor', grad2: 'tensor' },
  overflow: ['z1', 'values this large overflow the batch statistics'],
  // the two covariance matrices: D·D·N each
  work: ({ n, d }) => 2 * d * d * n,
  check,
});

const functions = vicreg.functions<VicregOptions, VicregResult<true>, VicregResult<false>, VicregResult>(true);

/**
 * VICReg (Bardes et al. 2022) as lightly's `VICRegLoss` computes it:
 * invariance = mse(z1, z2); variance = the mean over the two views of
 * mean_j relu(gamma − sqrt(Var_j + eps)) (unbiased variance of each feature over
 * the batch); covariance = Σ_{i≠j} C_ij² / D summed over the two views (C the
 * unbiased covariance matrix); loss = 25·invariance + 25·variance + 1·covariance
 * by default. The terms come back before their weights.
 * Matches PyTorch autograd (float32: rtol 1e-5 / atol 1e-6; float64: 1e-10).
 *
 * @function
 * @param z1 - `[N, D]` projections of view 1 (float32 or float64), N >= 2.
 * @param z2 - `[N, D]` projections of view 2 (same dtype).
 * @throws TypeError for a wrong type or mixed dtypes; RangeError for mismatched shapes, N < 2
 *   (without a group), an empty batch or a bad option value.
 * @example
 * const { loss, invariance, variance, covariance, grad1, grad2 } = vicregLoss(z1, z2);
 */
export const vicregLoss: ViewsLoss<VicregOptions, VicregResult<true>, VicregResult<false>, VicregResult> = functions.sync;

/**
 * {@link vicregLoss} on a worker thread, off the event loop (inputs copied at
 * the call, small calls computed on the calling thread, as in {@link npairsLossAsync};
 * the work is 2·D·D·N).
 * @function
 * @example
 * const { loss } = await vicregLossAsync(z1, z2);
 */
export const vicregLossAsync: ViewsLossAsync<VicregOptions, VicregResult<true>, VicregResult<false>, VicregResult> = functions.async;
