/**
 * N-pairs / InfoNCE (Sohn 2016; CLIP's symmetric form, Radford et al. 2021;
 * SupCon's multiple positives, Khosla et al. 2020): the loss's spec, its
 * public types and `npairsLoss` / `npairsLossAsync`. The paper-named SupCon
 * preset is ./supcon.ts.
 */
import type { ProcessGroup } from '../distributed';
import { invalidValue, rangeError } from '../errors';
import type { GradOut } from '../out';
import { indices, isIndices, labelList } from '../indices';
import { checkSameKind, operand, rawInput, Indices, Tensor, TensorLike } from '../tensor';
import type { Gradients, PairLoss, PairLossAsync } from './common';
import { checkEntries, Checked, defineLoss, SHARED } from './define';

/** Options of {@link npairsLoss}. Every option has the default shown. */
export interface NpairsOptions {
  /** Row i's class: default `i` (the identity target). Class indices (N values in [0, M)) or an `[N, M]` probability matrix. */
  target?: Indices | TensorLike;
  /** logits = similarity / temperature; > 0. Default 1. */
  temperature?: number;
  /** Mean of the row-wise and column-wise cross entropies, as CLIP (needs M = N). Default false. */
  symmetric?: boolean;
  /** Label smoothing of the cross entropy, in [0, 1]. Default 0. */
  labelSmoothing?: number;
  /** `'mean'` (default) or `'sum'` over rows. */
  reduction?: 'mean' | 'sum';
  /** `'cosine'` (default; normalised rows) or `'dot'` (Sohn's unnormalised inner products). */
  similarity?: 'cosine' | 'dot';
  /** Sohn's L2 penalty `0.25·l2Reg·(mean‖x1_i‖² + mean‖x2_j‖²)`; default 0 (the paper: 0.002). */
  l2Reg?: number;
  /** Lower bound of the norms in normalize. Default 1e-12. */
  eps?: number;
  /** Compute grad1, grad2 and gradTemperature. Default true. */
  grad?: boolean;
  /** Also return the `[N, M]` similarity matrix. Default false. */
  returnSimilarity?: boolean;
  /** NaN or ±Infinity in x1/x2 or a probability target, or a loss that comes out NaN or infinite (a tiny temperature), is a RangeError (default false: PyTorch's NaN result). */
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
  /**
   * Where to compute; default: the inputs' device. Results are on this device:
   * on CUDA, grad1/grad2/similarity stay in device memory until `data()` or
   * `to('cpu')` (host inputs are copied there for the call).
   */
  device?: string;
  /**
   * A process group: embeddings are gathered across ranks (open_clip's ClipLoss).
   * `loss` is then the global loss (the mean over all W·N rows, the same on
   * every rank) and grad1/grad2 its exact gradients with respect to this
   * rank's inputs; a trainer that averages gradients across ranks as DDP does
   * multiplies them by W. `target` stays per rank. A sync call with a group
   * blocks until its collectives finish; prefer the async version.
   */
  group?: ProcessGroup;
  /** Under a group: each rank's logits are its rows against all columns (true), or the full global matrix (false). Default true. */
  localLoss?: boolean;
  /**
   * Under a group: gradients flow through the gathered embeddings. Default true.
   * `localLoss: true` with `gatherWithGrad: false` is open_clip's approximate
   * gradient (other ranks' use of this rank's rows as negatives is dropped).
   */
  gatherWithGrad?: boolean;
  /**
   * SupCon's multiple positives (Khosla et al. 2020, L_out): the class label
   * of each row (N integers; x2's rows carry the same labels, so M = N). Row
   * i's target is then uniform over the columns with its label (under a
   * group: over every rank's columns with its label), which is the
   * cross entropy against that probability target. Excludes `target`.
   * A row with no positive contributes 0 and still counts in the mean.
   */
  labels?: Indices;
  /**
   * Row i leaves out column i, its own view, from its softmax (as SupCon and
   * lightly's NT-Xent drop the self-similarities): for x1 and x2 the same
   * views, e.g. `npairsLoss(z, z, { labels, excludeSelf: true })` is SupCon
   * over all views `z`. Needs M = N (N >= 2 without a group), and no
   * `symmetric` or `labelSmoothing`; the target must not be column i
   * (so not the default one). Default false.
   */
  excludeSelf?: boolean;
}

/** The gradients of {@link npairsLoss}. */
export interface NpairsGradients {
  /** ∂loss/∂x1, `[N, D]`. */
  grad1: Tensor<2>;
  /** ∂loss/∂x2, `[M, D]`. */
  grad2: Tensor<2>;
  /** ∂loss/∂temperature, to learn the temperature as CLIP learns its logit scale. */
  gradTemperature: number;
}

/**
 * Result of {@link npairsLoss}: `loss`, the gradients (`grad1`, `grad2`,
 * `gradTemperature`: typed as present unless `grad: false` is passed; `G` says
 * which) and, with `returnSimilarity`, the similarity matrix.
 */
export type NpairsResult<G extends boolean = boolean> = {
  /** The loss (under a group: the global loss, the same on every rank). */
  loss: number;
  /** The `[N, M]` similarity matrix (when `returnSimilarity`). */
  similarity?: Tensor<2>;
} & Gradients<NpairsGradients, G>;

const options = {
  target: { kind: 'target' },
  temperature: { kind: 'number', default: 1, rule: { min: 0, above: true } },
  symmetric: { kind: 'bool', default: false },
  labelSmoothing: { kind: 'number', default: 0, rule: { min: 0, max: 1 } },
  reduction: { kind: 'enum', values: ['mean', 'sum'], default: 'mean' },
  similarity: { kind: 'enum', values: ['cosine', 'dot'], default: 'cosine' },
  l2Reg: { kind: 'number', default: 0, rule: { min: 0 } },
  eps: SHARED.eps(1e-12),
  grad: SHARED.grad,
  returnSimilarity: { kind: 'bool', default: false },
  checkFinite: SHARED.checkFinite,
  device: SHARED.device,
  group: SHARED.group,
  localLoss: { kind: 'bool', default: true },
  gatherWithGrad: { kind: 'bool', default: true },
  labels: { kind: 'indices' },
  excludeSelf: { kind: 'bool', default: false },
  out: SHARED.out,
  signal: SHARED.signal,
} as const;

/**
 * N-pairs' own rules: excludeSelf's, labels' and target's (class indices or
 * an [N, M] probability matrix), and symmetric's M = N.
 */
function check(c: Checked<typeof options>): void {
  const { o, a, n, m, grouped } = c;
  const opts = c.options;
  if (opts.excludeSelf) {
    if (m !== n) throw rangeError('excludeSelf', `needs x1 and x2 to be the same views (M = N), got N = ${n}, M = ${m}`);
    if (opts.symmetric) throw rangeError('excludeSelf', 'cannot be combined with symmetric (each row already leaves out its own view)');
    if (opts.labelSmoothing > 0) throw rangeError('excludeSelf', 'cannot be combined with labelSmoothing');
    if (!grouped && n < 2) throw rangeError('excludeSelf', 'leaves no class for N = 1 (the only column is the row\'s own view)');
    if (o.target === undefined && o.labels === undefined) {
      throw rangeError('excludeSelf', 'leaves out column i, the default target of row i: give labels or a target');
    }
  }
  if (o.labels !== undefined) {
    if (o.target !== undefined) throw rangeError('labels', 'and target exclude each other: labels make the target');
    if (m !== n) throw rangeError('labels', `label the rows of x1 and x2 alike and need M = N, got N = ${n}, M = ${m}`);
    opts.labels = labelList(o.labels, 'labels', n);
  } else if (o.target === undefined) {
    if (!grouped && m < n) throw rangeError('x2', `needs at least as many rows as x1 (M >= N) for the default target, got N = ${n}, M = ${m}`);
  } else if (isIndices(o.target)) {
    const t = indices(o.target, 'target', n, m);
    opts.target = t;
    if (opts.excludeSelf) {
      for (let i = 0; i < n; i++) {
        if (Number(t[i]) === i) throw invalidValue(`target[${i}]`, `a class other than ${i} (excludeSelf leaves out column ${i})`, i);
      }
    }
  } else {
    const t = operand(o.target, 'target', a.dtype);
    checkSameKind(a, t, 'x1', 'target');
    if (t.shape.length !== 2 || t.shape[0] !== n || t.shape[1] !== m) {
      throw rangeError('target', `a probability target must be [N, M] = [${n}, ${m}], got [${t.shape}]`);
    }
    checkEntries(t, 'target', 0, Infinity, 'a finite probability >= 0');
    opts.target = rawInput(t);
  }
  if (opts.symmetric && m !== n && !grouped) {
    throw rangeError('symmetric', `needs as many rows in x2 as in x1, got N = ${n}, M = ${m}`);
  }
}

/** The N-pairs loss, declared once. @internal */
export const npairs = defineLoss({
  name: 'npairsLoss',
  inputs: [{ name: 'x1', grad: 'grad1' }, { name: 'x2', grad: 'grad2' }],
  options,
  results: { loss: 'scalar', grad1: 'tensor', grad2: 'tensor', gradTemperature: 'scalar', similarity: 'tensor' },
  overflow: ['temperature', 'a temperature this small overflows the logits'],
  // the similarity matrix: N·M·D
  work: ({ n, m, d }) => n * m * d,
  check,
});

const functions = npairs.functions<NpairsOptions, NpairsResult<true>, NpairsResult<false>, NpairsResult>(true);

/**
 * The N-pairs / InfoNCE loss of two batches of embeddings and its gradients:
 * cross entropy of `similarity(x1, x2) / temperature` against row i -> class i
 * (the seed's `NPairsLoss` with `torch.eye(N)`), or CLIP's symmetric version.
 * Matches PyTorch autograd (float32: rtol 1e-5 / atol 1e-6; float64: 1e-10).
 * Runs on the calling thread; see {@link npairsLossAsync}.
 *
 * @function
 * @param x1 - `[N, D]` embeddings (float32 or float64).
 * @param x2 - `[M, D]` embeddings of the same dtype (M >= N: extra negatives).
 * @throws TypeError for a wrong type or mixed dtypes; RangeError for mismatched D, an empty batch,
 *   a bad option value or a target out of range.
 * @example
 * const { loss, grad1, grad2 } = npairsLoss(x1, x2, { temperature: 0.07, symmetric: true });
 */
export const npairsLoss: PairLoss<NpairsOptions, NpairsResult<true>, NpairsResult<false>, NpairsResult> = functions.sync;

/**
 * {@link npairsLoss} computed on a worker thread, off the event loop. The
 * inputs are copied when the call is made (O(N·D)), so later writes to them
 * do not change the result and they may be dropped or transferred at once
 * (CUDA tensors are not copied: nothing can write to them, and disposing one
 * while the call runs frees it only when the call is done). On CUDA the worker
 * thread waits for the device's stream, so the event loop never blocks on the
 * GPU and the Promise resolves with finished results. A small call on the CPU
 * (N·M·D at most `PAIRLOSS_ASYNC_INLINE_MADDS`, default 2^17: 32×128 N-pairs)
 * is computed on the calling thread instead, where a worker thread's hop
 * costs more than the work: the Promise it returns is already settled, with
 * the same numbers (once such calls have held one turn of the event loop for
 * 1 ms, the next ones settle only after the loop has turned).
 * Bad arguments reject the Promise with the same errors.
 * @function
 * @example
 * const { loss } = await npairsLossAsync(x1, x2, { symmetric: true });
 */
export const npairsLossAsync: PairLossAsync<NpairsOptions, NpairsResult<true>, NpairsResult<false>, NpairsResult> = functions.async;
