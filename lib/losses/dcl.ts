/**
 * Decoupled contrastive learning (Yeh et al. 2022), as lightly's `DCLLoss`
 * and, `weighted`, `DCLWLoss`: its spec, public types and `dclLoss` / `dclLossAsync`.
 */
import type { ProcessGroup } from '../distributed';
import { rangeError } from '../errors';
import type { GradOut } from '../out';
import type { Tensor } from '../tensor';
import type { Gradients, ViewsLoss, ViewsLossAsync } from './common';
import { Checked, defineLoss, SHARED } from './define';

/** Options of {@link dclLoss}. Every option has the default shown (lightly's `DCLLoss` / `DCLWLoss`). */
export interface DclOptions {
  /** The similarities of the normalised rows are divided by it; > 0, finite. Default 0.1. */
  temperature?: number;
  /** DCLW: the positive term of row i weighted by w_i = 2 − N·softmax_i(⟨z1_i, z2_i⟩ / sigma) (lightly's `negative_mises_fisher_weights`). Default false. */
  weighted?: boolean;
  /** DCLW's sigma; > 0. Default 0.5 (used with `weighted`). */
  sigma?: number;
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
  /**
   * A process group: lightly's `gather_distributed`. Each rank's rows are
   * contrasted with the negatives of every rank (the views all-gathered);
   * `loss` is the mean over all W·N rows, the same on every rank, and
   * grad1/grad2 its exact gradients for this rank's inputs. Unweighted, that
   * is one process on the concatenated batch. With `weighted`, as in lightly,
   * each rank weighs its own rows over its own N rows (the softmax of DCLW's
   * weights is per rank), which is not one process on the concatenated
   * batch. N and D must be the same on every rank; N = 1 is allowed (the
   * other ranks' rows are the negatives).
   */
  group?: ProcessGroup;
}

/** The gradients of {@link dclLoss}. */
export interface DclGradients {
  /** ∂loss/∂z1, `[N, D]`. */
  grad1: Tensor<2>;
  /** ∂loss/∂z2, `[N, D]`. */
  grad2: Tensor<2>;
}

/** Result of {@link dclLoss}. */
export type DclResult<G extends boolean = boolean> = {
  /** (loss(z1, z2) + loss(z2, z1)) / 2, each the mean over rows of −w_i s_ii / T + logsumexp over the row's negatives. */
  loss: number;
} & Gradients<DclGradients, G>;

const options = {
  temperature: { kind: 'number', default: 0.1, rule: { min: 0, above: true } },
  weighted: { kind: 'bool', default: false },
  sigma: { kind: 'number', default: 0.5, rule: { min: 0, above: true } },
  grad: SHARED.grad,
  checkFinite: SHARED.checkFinite,
  device: SHARED.device,
  group: SHARED.group,
  out: SHARED.out,
  signal: SHARED.signal,
} as const;

/** DCL and DCLW, declared once. @internal */
export const dcl = defineLoss({
  name: 'dclLoss',
  inputs: [{ name: 'z1', grad: 'grad1' }, { name: 'z2', grad: 'grad2' }],
  sameRows: true,
  options,
  results: { loss: 'scalar', grad1: 'tensor', grad2: 'tensor' },
  overflow: ['temperature', 'a temperature this small overflows the logits'],
  // the similarity blocks: 2N·2N·D (half of it with syrk)
  work: ({ n, d }) => 4 * n * n * d,
  check: (c: Checked<typeof options>) => {
    if (c.n < 2 && !c.grouped) throw rangeError('z1', `leaves row 0 no negative: DCL needs N >= 2 (or a group), got N = ${c.n}`);
  },
});

const functions = dcl.functions<DclOptions, DclResult<true>, DclResult<false>, DclResult>(true);

/**
 * Decoupled contrastive learning as lightly's `DCLLoss` computes it and, with
 * `weighted`, its `DCLWLoss`: out0, out1 = normalize(z1), normalize(z2); the
 * loss is (loss(out0, out1) + loss(out1, out0)) / 2 with loss(a, b) = mean_i
 * [−w_i ⟨a_i, b_i⟩ / T + logsumexp_{j≠i}(⟨a_i, a_j⟩ / T, ⟨a_i, b_j⟩ / T)]:
 * the positive pair decoupled from the denominator. w_i = 1 (DCL), or DCLW's
 * w_i = 2 − N·softmax_i(⟨out0_i, out1_i⟩ / sigma), constants of the gradient
 * as lightly's. Under a `group`, lightly's `gather_distributed` (see
 * {@link DclOptions.group}: DCLW weighs each rank's rows over its own batch).
 * Matches PyTorch autograd (float32: rtol 1e-5 / atol 1e-6; float64: 1e-10).
 *
 * @function
 * @param z1 - `[N, D]` projections of view 1 (float32 or float64), N >= 2 (N >= 1 under a group).
 * @param z2 - `[N, D]` projections of view 2 (same dtype).
 * @throws TypeError for a wrong type or mixed dtypes; RangeError for mismatched shapes, N < 2 or a bad option value.
 * @example
 * const { loss, grad1, grad2 } = dclLoss(z1, z2, { weighted: true });
 */
export const dclLoss: ViewsLoss<DclOptions, DclResult<true>, DclResult<false>, DclResult> = functions.sync;

/**
 * {@link dclLoss} off the event loop, as {@link npairsLossAsync}.
 * @function
 * @example
 * const { loss } = await dclLossAsync(z1, z2);
 */
export const dclLossAsync: ViewsLossAsync<DclOptions, DclResult<true>, DclResult<false>, DclResult> = functions.async;
