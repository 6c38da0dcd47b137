/**
 * ArcFace (Deng et al. 2019, additive angular margin) as
 * pytorch-metric-learning's `ArcFaceLoss`: its spec, public types and
 * `arcFaceLoss` / `arcFaceLossAsync`.
 */
import { invalidValue } from '../errors';
import type { OutBuffer } from '../out';
import type { RawIndices } from '../raw';
import type { Indices, Operand, Tensor, TensorLike } from '../tensor';
import type { Gradients, WithGrad, WithoutGrad } from './common';
import { Checked, defineLoss, SHARED } from './define';

/** Options of {@link arcFaceLoss}. Every option has the default shown (pytorch-metric-learning's `ArcFaceLoss`). */
export interface ArcFaceOptions {
  /** The additive angular margin, in degrees (PML's unit), in [0, 180). Default 28.6 (0.5 rad). */
  margin?: number;
  /** The logits' scale; finite, > 0. Default 64. */
  scale?: number;
  /** Compute `grad` and `gradCenters`. Default true. */
  grad?: boolean;
  /** NaN or ±Infinity in x or centers is a RangeError naming it (default false). */
  checkFinite?: boolean;
  /**
   * Caller-owned memory for the gradients (PyTorch's `out=`): `grad` (x's
   * shape) and/or `gradCenters` (centers' shape), each a
   * Float32Array/Float64Array (or a CPU Tensor) of the inputs' dtype; the
   * returned gradient is a Tensor over that memory. CPU only; must not
   * overlap an input or each other (RangeError naming it). Default: new memory for each call.
   */
  out?: { grad?: OutBuffer; gradCenters?: OutBuffer };
  /**
   * Async function only: an AbortSignal that cancels the call (as
   * {@link NpairsOptions.signal}). A sync call given one is a RangeError.
   */
  signal?: AbortSignal;
  /** Where to compute; default: the inputs' device (as {@link NpairsOptions.device}). */
  device?: string;
}

/** The gradients of {@link arcFaceLoss}. */
export interface ArcFaceGradients {
  /** ∂loss/∂x, `[N, D]`. */
  grad: Tensor<2>;
  /** ∂loss/∂centers, `[C, D]`: the class centres are learned (PML's `W`, transposed). */
  gradCenters: Tensor<2>;
}

/** Result of {@link arcFaceLoss}: the loss and its gradients (absent with `grad: false`). */
export type ArcFaceResult<G extends boolean = boolean> = {
  /**
   * The mean over the rows of the cross entropy of `scale · logits` against
   * the row's label, the target's logit `cos(θ + m)` (where θ > π − m, PML's
   * continuation `cos θ − m sin m`), the others `cos θ`, θ the angle between
   * the row and its class centre.
   */
  loss: number;
} & Gradients<ArcFaceGradients, G>;

/** {@link arcFaceLoss}'s overloads: with, without or maybe with the gradients. */
export interface ArcFaceLoss {
  /**
   * With the gradients: no `grad` option, or `grad: true`.
   * @param x - `[N, D]` embeddings (float32 or float64).
   * @param labels - N class indices in [0, C).
   * @param centers - `[C, D]` class centres of x's dtype.
   * @param opts - The loss's options.
   */
  (x: TensorLike, labels: Indices, centers: TensorLike, opts?: ArcFaceOptions & WithGrad): ArcFaceResult<true>;
  /**
   * Without the gradients: `grad: false`.
   * @param x - `[N, D]` embeddings (float32 or float64).
   * @param labels - N class indices in [0, C).
   * @param centers - `[C, D]` class centres of x's dtype.
   * @param opts - The loss's options.
   */
  (x: TensorLike, labels: Indices, centers: TensorLike, opts: ArcFaceOptions & WithoutGrad): ArcFaceResult<false>;
  /**
   * With or without the gradients (a `grad` known only at run time).
   * @param x - `[N, D]` embeddings (float32 or float64).
   * @param labels - N class indices in [0, C).
   * @param centers - `[C, D]` class centres of x's dtype.
   * @param opts - The loss's options.
   */
  (x: TensorLike, labels: Indices, centers: TensorLike, opts?: ArcFaceOptions): ArcFaceResult;
}

/** {@link arcFaceLossAsync}'s overloads: {@link ArcFaceLoss}'s, as Promises. */
export interface ArcFaceLossAsync {
  /**
   * With the gradients: no `grad` option, or `grad: true`.
   * @param x - `[N, D]` embeddings (float32 or float64).
   * @param labels - N class indices in [0, C).
   * @param centers - `[C, D]` class centres of x's dtype.
   * @param opts - The loss's options.
   */
  (x: TensorLike, labels: Indices, centers: TensorLike, opts?: ArcFaceOptions & WithGrad): Promise<ArcFaceResult<true>>;
  /**
   * Without the gradients: `grad: false`.
   * @param x - `[N, D]` embeddings (float32 or float64).
   * @param labels - N class indices in [0, C).
   * @param centers - `[C, D]` class centres of x's dtype.
   * @param opts - The loss's options.
   */
  (x: TensorLike, labels: Indices, centers: TensorLike, opts: ArcFaceOptions & WithoutGrad): Promise<ArcFaceResult<false>>;
  /**
   * With or without the gradients (a `grad` known only at run time).
   * @param x - `[N, D]` embeddings (float32 or float64).
   * @param labels - N class indices in [0, C).
   * @param centers - `[C, D]` class centres of x's dtype.
   * @param opts - The loss's options.
   */
  (x: TensorLike, labels: Indices, centers: TensorLike, opts?: ArcFaceOptions): Promise<ArcFaceResult>;
}

const options = {
  margin: { kind: 'number', default: 28.6, rule: { min: 0 } },
  scale: { kind: 'number', default: 64, rule: { min: 0, above: true } },
  grad: SHARED.grad,
  checkFinite: SHARED.checkFinite,
  device: SHARED.device,
  out: SHARED.out,
  signal: SHARED.signal,
} as const;

/** ArcFace's own rules: the margin below 180 degrees, each label a row of centers. */
function check(c: Checked<typeof options>): void {
  if (c.options.margin >= 180) throw invalidValue('margin', 'an angle in degrees in [0, 180)', c.options.margin);
  const labels = c.inputs[1] as RawIndices;
  const classes = (c.inputs[2] as Operand).shape[0];
  for (let i = 0; i < labels.length; i++) {
    const v = Number(labels[i]);
    if (v < 0 || v >= classes) throw invalidValue(`labels[${i}]`, `a class index in [0, ${classes}) (a row of centers)`, labels[i]);
  }
}

/** ArcFace, declared once. @internal */
export const arcFace = defineLoss({
  name: 'arcFaceLoss',
  inputs: [{ name: 'x', grad: 'grad' }, { name: 'labels', kind: 'indices' }, { name: 'centers', grad: 'gradCenters' }],
  options,
  results: { loss: 'scalar', grad: 'tensor', gradCenters: 'tensor' },
  overflow: ['scale', 'a scale this large overflows the logits'],
  // the cosines of every row with every centre: N·C·D
  work: ({ n, m, d }) => n * m * d,
  check,
});

const functions = arcFace.functions<ArcFaceOptions, ArcFaceResult<true>, ArcFaceResult<false>, ArcFaceResult>(true);

/**
 * ArcFace (Deng et al. 2019) of a batch of embeddings against learned class
 * centres, and its gradients with respect to both, as pytorch-metric-learning's
 * `ArcFaceLoss` computes it: `cross_entropy(scale · logits, labels)`, the
 * logits the cosines of each row with each centre, the target's `cos(θ + m)`
 * with `m` the margin in radians (where θ > π − m: `cos θ − m sin m`, PML's
 * continuation). `centers` is PML's weight `W` transposed: one row per class.
 * Matches PML run by PyTorch (float32: rtol 1e-5 / atol 1e-6; float64: 1e-10).
 *
 * @function
 * @param x - `[N, D]` embeddings (float32 or float64).
 * @param labels - N class indices in [0, C) (number[], Int32Array or BigInt64Array).
 * @param centers - `[C, D]` class centres of x's dtype.
 * @throws TypeError for a wrong type or mixed dtypes; RangeError for a shape, a label count
 *   other than N, a label outside [0, C), or a bad option value.
 * @example
 * const { loss, grad, gradCenters } = arcFaceLoss(x, labels, centers);
 */
export const arcFaceLoss: ArcFaceLoss = functions.sync;

/**
 * {@link arcFaceLoss} on a worker thread, off the event loop (inputs copied
 * at the call, small calls computed on the calling thread, as in
 * {@link npairsLossAsync}; the work is N·C·D).
 * @function
 * @example
 * const { loss } = await arcFaceLossAsync(x, labels, centers);
 */
export const arcFaceLossAsync: ArcFaceLossAsync = functions.async;
