/**
 * The triplet margin loss (Schroff et al. 2015, FaceNet) with batch-hard
 * mining (Hermans et al. 2017), as pytorch-metric-learning's
 * `TripletMarginLoss` with `BatchHardMiner` or all triplets: its spec, public
 * types and `tripletMarginLoss` / `tripletMarginLossAsync`.
 */
import type { OutBuffer } from '../out';
import type { Indices, Tensor, TensorLike } from '../tensor';
import type { Gradients, WithGrad, WithoutGrad } from './common';
import { defineLoss, SHARED } from './define';

/** Options of {@link tripletMarginLoss}. Every option has the default shown (pytorch-metric-learning's). */
export interface TripletMarginOptions {
  /** The margin of `relu(d(a, p) − d(a, n) + margin)`; finite, >= 0. Default 0.05 (PML's). */
  margin?: number;
  /**
   * The triplets: `'batch-hard'` (default; PML's `BatchHardMiner`: for each
   * anchor its farthest positive and its nearest negative) or `'all'` (every
   * anchor, positive, negative of the batch: PML's loss with no miner).
   */
  mining?: 'batch-hard' | 'all';
  /**
   * `'euclidean'` (default; PML's default `LpDistance`: L2 between
   * L2-normalised rows) or `'cosine'` (`CosineSimilarity`: the loss is then
   * `relu(s(a, n) − s(a, p) + margin)`). The miner and the loss use the same.
   */
  distance?: 'euclidean' | 'cosine';
  /** Compute `grad`. Default true. */
  grad?: boolean;
  /** NaN or ±Infinity in x is a RangeError naming it (default false). */
  checkFinite?: boolean;
  /**
   * Caller-owned memory for the gradient (PyTorch's `out=`): `grad`, a
   * Float32Array/Float64Array (or a CPU Tensor) of x's shape and dtype; the
   * returned gradient is a Tensor over that memory. CPU only; must not
   * overlap x or labels (RangeError naming it). Default: new memory for each call.
   */
  out?: { grad?: OutBuffer };
  /**
   * Async function only: an AbortSignal that cancels the call (as
   * {@link NpairsOptions.signal}). A sync call given one is a RangeError.
   */
  signal?: AbortSignal;
  /** Where to compute; default: x's device (as {@link NpairsOptions.device}). */
  device?: string;
}

/** The gradient of {@link tripletMarginLoss}. */
export interface TripletMarginGradients {
  /** ∂loss/∂x, `[N, D]`. */
  grad: Tensor<2>;
}

/** Result of {@link tripletMarginLoss}: the loss and its gradient (absent with `grad: false`). */
export type TripletMarginResult<G extends boolean = boolean> = {
  /**
   * The mean of `relu(d(a, p) − d(a, n) + margin)` over the triplets where it
   * is > 0 (PML's `AvgNonZeroReducer`); 0, with a zero gradient, where there
   * is none (no anchor with both a positive and a negative, or every triplet
   * within the margin).
   */
  loss: number;
} & Gradients<TripletMarginGradients, G>;

/** {@link tripletMarginLoss}'s overloads: with, without or maybe with the gradient. */
export interface TripletMarginLoss {
  /**
   * With the gradient: no `grad` option, or `grad: true`.
   * @param x - `[N, D]` embeddings (float32 or float64).
   * @param labels - N class labels (any integers: rows with one label are positives of each other).
   * @param opts - The loss's options.
   */
  (x: TensorLike, labels: Indices, opts?: TripletMarginOptions & WithGrad): TripletMarginResult<true>;
  /**
   * Without the gradient: `grad: false`.
   * @param x - `[N, D]` embeddings (float32 or float64).
   * @param labels - N class labels.
   * @param opts - The loss's options.
   */
  (x: TensorLike, labels: Indices, opts: TripletMarginOptions & WithoutGrad): TripletMarginResult<false>;
  /**
   * With or without the gradient (a `grad` known only at run time).
   * @param x - `[N, D]` embeddings (float32 or float64).
   * @param labels - N class labels.
   * @param opts - The loss's options.
   */
  (x: TensorLike, labels: Indices, opts?: TripletMarginOptions): TripletMarginResult;
}

/** {@link tripletMarginLossAsync}'s overloads: {@link TripletMarginLoss}'s, as Promises. */
export interface TripletMarginLossAsync {
  /**
   * With the gradient: no `grad` option, or `grad: true`.
   * @param x - `[N, D]` embeddings (float32 or float64).
   * @param labels - N class labels.
   * @param opts - The loss's options.
   */
  (x: TensorLike, labels: Indices, opts?: TripletMarginOptions & WithGrad): Promise<TripletMarginResult<true>>;
  /**
   * Without the gradient: `grad: false`.
   * @param x - `[N, D]` embeddings (float32 or float64).
   * @param labels - N class labels.
   * @param opts - The loss's options.
   */
  (x: TensorLike, labels: Indices, opts: TripletMarginOptions & WithoutGrad): Promise<TripletMarginResult<false>>;
  /**
   * With or without the gradient (a `grad` known only at run time).
   * @param x - `[N, D]` embeddings (float32 or float64).
   * @param labels - N class labels.
   * @param opts - The loss's options.
   */
  (x: TensorLike, labels: Indices, opts?: TripletMarginOptions): Promise<TripletMarginResult>;
}

const options = {
  margin: { kind: 'number', default: 0.05, rule: { min: 0 } },
  mining: { kind: 'enum', values: ['batch-hard', 'all'], default: 'batch-hard' },
  distance: { kind: 'enum', values: ['euclidean', 'cosine'], default: 'euclidean' },
  grad: SHARED.grad,
  checkFinite: SHARED.checkFinite,
  device: SHARED.device,
  out: SHARED.out,
  signal: SHARED.signal,
} as const;

/** The triplet margin loss, declared once. @internal */
export const tripletMargin = defineLoss({
  name: 'tripletMarginLoss',
  inputs: [{ name: 'x', grad: 'grad' }, { name: 'labels', kind: 'indices' }],
  options,
  results: { loss: 'scalar', grad: 'tensor' },
  overflow: ['x', 'values this large overflow the distances'],
  // the distance matrix: N·N·D
  work: ({ n, d }) => n * n * d,
});

const functions = tripletMargin.functions<TripletMarginOptions, TripletMarginResult<true>, TripletMarginResult<false>, TripletMarginResult>(true);

/**
 * The triplet margin loss (Schroff et al. 2015) of a batch of embeddings and
 * its gradient, as pytorch-metric-learning's `TripletMarginLoss` computes it:
 * the mean of `relu(d(a, p) − d(a, n) + margin)` over the triplets with a
 * positive loss (its `AvgNonZeroReducer`), the triplets those of
 * `BatchHardMiner` (Hermans et al. 2017: each anchor's farthest positive and
 * nearest negative; default) or all triplets of the batch, `d` PML's default
 * `LpDistance` (L2 between L2-normalised rows) or, with `distance: 'cosine'`,
 * its `CosineSimilarity`. No valid triplet: loss 0 and a zero gradient.
 * Matches PML run by PyTorch (float32: rtol 1e-5 / atol 1e-6; float64: 1e-10).
 *
 * @function
 * @param x - `[N, D]` embeddings (float32 or float64).
 * @param labels - N class labels (number[], Int32Array or BigInt64Array; any integers).
 * @throws TypeError for a wrong type; RangeError for a shape, a label count other than N,
 *   a label that is not an integer, or a bad option value.
 * @example
 * const { loss, grad } = tripletMarginLoss(x, labels, { margin: 0.2 });
 */
export const tripletMarginLoss: TripletMarginLoss = functions.sync;

/**
 * {@link tripletMarginLoss} on a worker thread, off the event loop (inputs
 * copied at the call, small calls computed on the calling thread, as in
 * {@link npairsLossAsync}; the work is N·N·D).
 * @function
 * @example
 * const { loss } = await tripletMarginLossAsync(x, labels);
 */
export const tripletMarginLossAsync: TripletMarginLossAsync = functions.async;
