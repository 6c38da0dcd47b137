/**
 * NT-Xent, SimCLR's loss (Chen et al. 2020), as lightly's `NTXentLoss`: its
 * spec, options and `ntXentLoss` / `ntXentLossAsync` (natively on the
 * N-pairs graph; its result is N-pairs').
 */
import type { ProcessGroup } from '../distributed';
import { rangeError } from '../errors';
import type { GradOut } from '../out';
import { checkMatrix, checkSameKind, operand, rawInput, TensorLike } from '../tensor';
import type { ViewsLoss, ViewsLossAsync } from './common';
import { Checked, defineLoss, SHARED } from './define';
import type { NpairsResult } from './npairs';

/** Options of {@link ntXentLoss}. Every option has the default shown. */
export interface NtXentOptions {
  /** logits = cosine similarity / temperature; > 0. Default 0.5 (lightly's). */
  temperature?: number;
  /** Lower bound of the norms in normalize. Default 1e-12. */
  eps?: number;
  /**
   * A memory bank `[K, D]` of negatives (MoCo style, lightly's
   * `memory_bank_size`): each row of z1 then has one positive, its z2 row,
   * and the K negatives (normalised as z1 and z2 are); the loss is the mean
   * over the N rows of z1. Default: none (SimCLR's 2N views).
   */
  negatives?: TensorLike;
  /** Compute grad1, grad2 and gradTemperature. Default true. */
  grad?: boolean;
  /** NaN or ±Infinity in z1/z2/negatives is a RangeError (default false). */
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
   * A process group (lightly's `gather_distributed: true`): each rank's 2N
   * views against the 2WN views of every rank. `loss` is the mean over all
   * 2WN rows (the same on every rank) and grad1/grad2 its exact gradients
   * for this rank's inputs (multiply by W for DDP-style averaging). With
   * `negatives`: the mean of the ranks' losses.
   */
  group?: ProcessGroup;
}

const options = {
  temperature: { kind: 'number', default: 0.5, rule: { min: 0, above: true } },
  eps: SHARED.eps(1e-12),
  negatives: { kind: 'tensor' },
  grad: SHARED.grad,
  checkFinite: SHARED.checkFinite,
  device: SHARED.device,
  group: SHARED.group,
  out: SHARED.out,
  signal: SHARED.signal,
} as const;

/** The memory bank: a [K, D] matrix of z1's dtype and kind, K >= 1. */
function check(c: Checked<typeof options>): void {
  const { o, a, d } = c;
  if (o.negatives === undefined) return;
  const neg = operand(o.negatives, 'negatives', a.dtype);
  checkMatrix(neg, 'negatives');
  checkSameKind(a, neg, 'z1', 'negatives');
  if (neg.shape[0] === 0) throw rangeError('negatives', 'an empty memory bank (K = 0); expected at least one row');
  if (neg.shape[1] !== d) throw rangeError('negatives', `must have D = ${d} columns like z1, got ${neg.shape[1]}`);
  (c.options).negatives = rawInput(neg);
}

/** NT-Xent, declared once. @internal */
export const ntXent = defineLoss({
  name: 'ntXentLoss',
  inputs: [{ name: 'z1', grad: 'grad1' }, { name: 'z2', grad: 'grad2' }],
  sameRows: true,
  options,
  results: { loss: 'scalar', grad1: 'tensor', grad2: 'tensor', gradTemperature: 'scalar', similarity: 'tensor' },
  overflow: ['temperature', 'a temperature this small overflows the logits'],
  // the [2N, 2N] similarities over D, or z1 against the K rows of the bank
  work: ({ n, d, options: o }: Checked<typeof options>) => {
    const neg = o.negatives;
    return neg === null ? 4 * n * n * d : n * neg.shape[0] * d;
  },
  check,
});

const functions = ntXent.functions<NtXentOptions, NpairsResult<true>, NpairsResult<false>, NpairsResult>(true);

/**
 * NT-Xent, SimCLR's loss (Chen et al. 2020), as lightly's `NTXentLoss`
 * computes it: the 2N views `[z1; z2]` normalised, logits = their cosine
 * similarities / temperature without the self-similarities, and the cross
 * entropy of each row against its other view (row i of z1 against row i of
 * z2 and back), the mean over the 2N rows. It runs on the N-pairs graph:
 * `npairsLoss(z, z, { target: i -> (i + N) mod 2N, excludeSelf: true })`,
 * the fused kernels on CPU. With `negatives` (a memory bank): lightly's
 * one-positive form, each row of z1 against its z2 row and the bank.
 * Matches PyTorch autograd (float32: rtol 1e-5 / atol 1e-6; float64: 1e-10).
 *
 * @function
 * @param z1 - `[N, D]` projections of view 1 (float32 or float64).
 * @param z2 - `[N, D]` projections of view 2 (same dtype).
 * @returns `loss`, `grad1` (∂loss/∂z1), `grad2` (∂loss/∂z2), `gradTemperature`.
 * @throws TypeError for a wrong type or mixed dtypes; RangeError for mismatched shapes, an empty batch
 *   or a bad option value.
 * @example
 * const { loss, grad1, grad2 } = ntXentLoss(z1, z2, { temperature: 0.5 });
 */
export const ntXentLoss: ViewsLoss<NtXentOptions, NpairsResult<true>, NpairsResult<false>, NpairsResult> = functions.sync;

/**
 * {@link ntXentLoss} on a worker thread, off the event loop (inputs copied at
 * the call, small calls computed on the calling thread, as in {@link npairsLossAsync}).
 * @function
 * @example
 * const { loss } = await ntXentLossAsync(z1, z2);
 */
export const ntXentLossAsync: ViewsLossAsync<NtXentOptions, NpairsResult<true>, NpairsResult<false>, NpairsResult> = functions.async;
