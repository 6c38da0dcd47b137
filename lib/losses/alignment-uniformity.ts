/**
 * Alignment and uniformity on the hypersphere (Wang & Isola 2020), as
 * lightly's `HypersphereLoss`: its spec, public types and
 * `alignmentUniformityLoss` / `alignmentUniformityLossAsync`.
 */
import { rangeError } from '../errors';
import type { GradOut } from '../out';
import type { Tensor } from '../tensor';
import type { Gradients, ViewsLoss, ViewsLossAsync } from './common';
import { Checked, defineLoss, SHARED } from './define';

/** Options of {@link alignmentUniformityLoss}. Every option has the default shown (lightly's `HypersphereLoss`). */
export interface AlignmentUniformityOptions {
  /** Uniformity's temperature t; > 0. Default 1. */
  t?: number;
  /** Uniformity's weight (lightly's `lam`); >= 0. Default 1. */
  lambda?: number;
  /** The power of the alignment's distances; > 0, finite. Default 2. */
  alpha?: number;
  /** Compute grad1 and grad2. Default true. */
  grad?: boolean;
  /** NaN or ±Infinity in z1/z2 is a RangeError (default false). */
  checkFinite?: boolean;
  /** Caller-owned memory for grad1 and/or grad2, as {@link VicregOptions.out}. */
  out?: GradOut;
  /** Async functions only: an AbortSignal that cancels the call, as {@link VicregOptions.signal}. */
  signal?: AbortSignal;
  /** Where to compute; default: the inputs' device (as {@link NpairsOptions.device}). */
  device?: string;
}

/** The gradients of {@link alignmentUniformityLoss}. */
export interface AlignmentUniformityGradients {
  /** ∂loss/∂z1, `[N, D]`. */
  grad1: Tensor<2>;
  /** ∂loss/∂z2, `[N, D]`. */
  grad2: Tensor<2>;
}

/** Result of {@link alignmentUniformityLoss}: the loss, its two terms (before lambda) and the gradients. */
export type AlignmentUniformityResult<G extends boolean = boolean> = {
  /** `alignment + lambda · uniformity`. */
  loss: number;
  /** mean_i ‖x_i − y_i‖^alpha, x, y the normalised z1, z2. */
  alignment: number;
  /** (lunif(x) + lunif(y)) / 2, lunif(u) = log mean_{i<j} exp(−t ‖u_i − u_j‖²). */
  uniformity: number;
} & Gradients<AlignmentUniformityGradients, G>;

const options = {
  t: { kind: 'number', default: 1, rule: { min: 0, above: true } },
  lambda: { kind: 'number', default: 1, rule: { min: 0 } },
  alpha: { kind: 'number', default: 2, rule: { min: 0, above: true } },
  grad: SHARED.grad,
  checkFinite: SHARED.checkFinite,
  device: SHARED.device,
  out: SHARED.out,
  signal: SHARED.signal,
} as const;

/** Alignment–uniformity, declared once. @internal */
export const alignmentUniformity = defineLoss({
  name: 'alignmentUniformityLoss',
  inputs: [{ name: 'z1', grad: 'grad1' }, { name: 'z2', grad: 'grad2' }],
  sameRows: true,
  options,
  results: { loss: 'scalar', alignment: 'scalar', uniformity: 'scalar', grad1: 'tensor', grad2: 'tensor' },
  overflow: ['t', 'a temperature this large underflows every pair of the uniformity'],
  // the two Gram matrices: N·N·D each (half of it with syrk)
  work: ({ n, d }) => n * n * d,
  check: (c: Checked<typeof options>) => {
    if (c.n < 2) throw rangeError('z1', `has no pair of rows for the uniformity: it needs N >= 2, got N = ${c.n}`);
  },
});

const functions = alignmentUniformity.functions<AlignmentUniformityOptions, AlignmentUniformityResult<true>, AlignmentUniformityResult<false>,
  AlignmentUniformityResult>(true);

/**
 * Alignment and uniformity on the hypersphere (Wang & Isola 2020) as
 * lightly's `HypersphereLoss` computes it: x, y = normalize(z1), normalize(z2);
 * alignment = mean_i ‖x_i − y_i‖^alpha; uniformity = (lunif(x) + lunif(y)) / 2
 * with lunif(u) = log mean_{i<j} exp(−t ‖u_i − u_j‖²); loss = alignment +
 * lambda · uniformity. The two terms come back too (`alignment`,
 * `uniformity`, before lambda), with the gradients w.r.t. both inputs.
 * Matches PyTorch autograd (float32: rtol 1e-5 / atol 1e-6; float64: 1e-10).
 *
 * @function
 * @param z1 - `[N, D]` embeddings of view 1 (float32 or float64), N >= 2.
 * @param z2 - `[N, D]` embeddings of view 2 (same dtype).
 * @throws TypeError for a wrong type or mixed dtypes; RangeError for mismatched shapes, N < 2 or a bad option value.
 * @example
 * const { loss, alignment, uniformity, grad1, grad2 } = alignmentUniformityLoss(z1, z2);
 */
export const alignmentUniformityLoss: ViewsLoss<AlignmentUniformityOptions, AlignmentUniformityResult<true>, AlignmentUniformityResult<false>,
  AlignmentUniformityResult> = functions.sync;

/**
 * {@link alignmentUniformityLoss} off the event loop, as {@link npairsLossAsync}.
 * @function
 * @example
 * const { loss } = await alignmentUniformityLossAsync(z1, z2);
 */
export const alignmentUniformityLossAsync: ViewsLossAsync<AlignmentUniformityOptions, AlignmentUniformityResult<true>,
  AlignmentUniformityResult<false>, AlignmentUniformityResult> = functions.async;
