/**
 * SigLIP's pairwise sigmoid loss (Zhai et al. 2023), as open_clip's
 * `SigLipLoss`: its spec, public types and `sigmoidLoss` / `sigmoidLossAsync`.
 */
import type { ProcessGroup } from '../distributed';
import { rangeError } from '../errors';
import type { GradOut } from '../out';
import { checkSameKind, operand, rawInput, Tensor, TensorLike } from '../tensor';
import type { Gradients, PairLoss, PairLossAsync } from './common';
import { checkEntries, Checked, defineLoss, SHARED } from './define';

/** Options of {@link sigmoidLoss}. Every option has the default shown. */
export interface SigmoidOptions {
  /** logits = scale · cosine + bias; > 0. Default 10 (SigLIP's init: exp(t') with t' = log 10). */
  scale?: number;
  /** Default −10 (SigLIP's init). */
  bias?: number;
  /**
   * The labels `[N, M]` (+1 a positive pair, −1 a negative; any values are
   * taken as the formula's y). Default: +1 at (i, i), −1 elsewhere. Under a
   * group they label this rank's own block; the other ranks' columns are negatives.
   */
  target?: TensorLike;
  /** Lower bound of the norms in normalize. Default 1e-12. */
  eps?: number;
  /** Compute grad1, grad2, gradScale and gradBias. Default true. */
  grad?: boolean;
  /** NaN or ±Infinity in x1/x2 is a RangeError (default false). */
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
   * A process group: open_clip's neighbour exchange. Each rank passes its x2
   * around the ring (W − 1 exchanges, and one more that brings each block's
   * gradient home; no all-gather, no W·N × W·N matrix). `loss` is the global
   * loss over the W·N rows against the W·M columns (the same on every rank),
   * grad1/grad2 its exact gradients for this rank's inputs, gradScale and
   * gradBias its global ones. N, M and D must be the same on every rank.
   */
  group?: ProcessGroup;
}

/** The gradients of {@link sigmoidLoss}. */
export interface SigmoidGradients {
  /** ∂loss/∂x1, `[N, D]`. */
  grad1: Tensor<2>;
  /** ∂loss/∂x2, `[M, D]`. */
  grad2: Tensor<2>;
  /** ∂loss/∂scale (SigLIP learns t' = log scale: ∂loss/∂t' = gradScale · scale). */
  gradScale: number;
  /** ∂loss/∂bias. */
  gradBias: number;
}

/** Result of {@link sigmoidLoss}: the loss and its gradients (typed as present unless `grad: false`). */
export type SigmoidResult<G extends boolean = boolean> = { loss: number } & Gradients<SigmoidGradients, G>;

const options = {
  scale: { kind: 'number', default: 10, rule: { min: 0, above: true } },
  bias: { kind: 'number', default: -10 },
  target: { kind: 'tensor' },
  eps: SHARED.eps(1e-12),
  grad: SHARED.grad,
  checkFinite: SHARED.checkFinite,
  device: SHARED.device,
  group: SHARED.group,
  out: SHARED.out,
  signal: SHARED.signal,
} as const;

/** The label matrix: [N, M] of x1's dtype and kind, entries in [-1, 1]. */
function check(c: Checked<typeof options>): void {
  const { o, a, n, m } = c;
  if (o.target === undefined) return;
  const t = operand(o.target, 'target', a.dtype);
  checkSameKind(a, t, 'x1', 'target');
  if (t.shape.length !== 2 || t.shape[0] !== n || t.shape[1] !== m) {
    throw rangeError('target', `labels must be [N, M] = [${n}, ${m}], got [${t.shape}]`);
  }
  checkEntries(t, 'target', -1, 1, 'a SigLIP label in [-1, 1] (+1 a positive pair, -1 a negative)');
  (c.options).target = rawInput(t);
}

/** SigLIP, declared once. @internal */
export const siglip = defineLoss({
  name: 'sigmoidLoss',
  inputs: [{ name: 'x1', grad: 'grad1' }, { name: 'x2', grad: 'grad2' }],
  options,
  results: { loss: 'scalar', grad1: 'tensor', grad2: 'tensor', gradScale: 'scalar', gradBias: 'scalar' },
  overflow: ['scale', 'a scale (or bias) this large overflows the logits'],
  // the logits: N·M·D
  work: ({ n, m, d }) => n * m * d,
  check,
});

const functions = siglip.functions<SigmoidOptions, SigmoidResult<true>, SigmoidResult<false>, SigmoidResult>(true);

/**
 * SigLIP's pairwise sigmoid loss (Zhai et al. 2023) as open_clip's
 * `SigLipLoss` computes it: logits = scale · normalize(x1)·normalize(x2)ᵀ + bias,
 * labels y = +1 on the diagonal and −1 elsewhere (or `target`), and
 * loss = −Σᵢⱼ log σ(yᵢⱼ·logitsᵢⱼ) / N. Each pair is its own binary problem: no
 * softmax over the batch. `gradScale` and `gradBias` let a trainer learn the
 * two as SigLIP does (t' = log scale: ∂loss/∂t' = gradScale · scale).
 * Matches PyTorch autograd (float32: rtol 1e-5 / atol 1e-6; float64: 1e-10).
 *
 * @function
 * @param x1 - `[N, D]` embeddings (float32 or float64), e.g. images.
 * @param x2 - `[M, D]` embeddings of the same dtype, e.g. texts.
 * @throws TypeError for a wrong type or mixed dtypes; RangeError for mismatched D, an empty batch,
 *   a bad option value or a target of the wrong shape.
 * @example
 * const { loss, grad1, grad2, gradScale, gradBias } = sigmoidLoss(img, txt, { scale: 10, bias: -10 });
 */
export const sigmoidLoss: PairLoss<SigmoidOptions, SigmoidResult<true>, SigmoidResult<false>, SigmoidResult> = functions.sync;

/**
 * {@link sigmoidLoss} on a worker thread, off the event loop (inputs copied at
 * the call, small calls computed on the calling thread, as in {@link npairsLossAsync}).
 * @function
 * @example
 * const { loss } = await sigmoidLossAsync(img, txt);
 */
export const sigmoidLossAsync: PairLossAsync<SigmoidOptions, SigmoidResult<true>, SigmoidResult<false>, SigmoidResult> = functions.async;
