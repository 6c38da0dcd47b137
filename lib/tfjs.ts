/**
 * pairloss for TensorFlow.js (`require('pairloss/tfjs')`): the losses take
 * `tf.Tensor2D` inputs and return a `tf.Scalar` whose gradient (through
 * `tf.customGrad`) is pairloss's own, so a tfjs model trains on them with
 * `optimizer.minimize` / `tf.variableGrads` as on any tfjs loss.
 *
 * `@tensorflow/tfjs-core` (which `@tensorflow/tfjs` and `@tensorflow/tfjs-node`
 * bring) is an optional peer dependency: it is loaded here, when this subpath
 * is, and never by `require('pairloss')`.
 * @packageDocumentation
 */
import type * as TF from '@tensorflow/tfjs-core';
import { describe, invalidType, rangeError } from './errors';
import {
  correlationLoss as correlationLossCore, npairsLoss as npairsLossCore, CorrelationOptions, NpairsOptions,
} from './losses';
import { Indices, TensorLike } from './tensor';

const tf: typeof TF = (() => {
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    return require('@tensorflow/tfjs-core') as typeof TF;
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    if (e.code !== 'MODULE_NOT_FOUND' || !String(e.message).includes('@tensorflow/tfjs-core')) throw error;
    throw new Error(
      "pairloss/tfjs needs TensorFlow.js: install it in your project (npm install @tensorflow/tfjs, or @tensorflow/tfjs-node); " +
        "require('pairloss') itself works without it",
    );
  }
})();

/**
 * Options of {@link npairsLoss}: those of pairloss's `npairsLoss`, except that
 * `temperature` may be a `tf.Scalar` (a `tf.Variable`, or computed from one)
 * that then gets its gradient, and `target` may be a tf tensor (int32 class
 * indices `[N]` or a float32 probability matrix `[N, M]`; no gradient flows to
 * it). `grad` and `returnSimilarity` are not options here: the gradient is
 * always computed, with the value, in one native call.
 */
export interface TfNpairsOptions extends Omit<NpairsOptions, 'temperature' | 'target' | 'grad' | 'returnSimilarity'> {
  /** logits = similarity / temperature; > 0. A number, or a `tf.Scalar` to learn it. Default 1. */
  temperature?: number | TF.Scalar;
  /** Row i's class: default `i`. Class indices, a probability matrix, or a tf tensor of either. */
  target?: Indices | TensorLike | TF.Tensor;
}

/**
 * Options of {@link correlationLoss}: those of pairloss's `correlationLoss`
 * except `grad` (always computed, with the value, in one native call).
 */
export type TfCorrelationOptions = Omit<CorrelationOptions, 'grad'>;

/** The `tf.Tensor` argument `name`, checked to be a live float32 matrix: its data (no copy on the cpu backend) and shape. */
function matrix(x: unknown, name: string): { data: Float32Array; shape: [number, number] } {
  if (!(x instanceof tf.Tensor)) throw invalidType(name, 'a tf.Tensor2D (float32)', x);
  if (x.isDisposed) throw rangeError(name, 'the tf.Tensor has been disposed');
  if (x.rank !== 2) throw rangeError(name, `expected a 2-D tf.Tensor [rows, cols], got shape [${x.shape.join(', ')}]`);
  if (x.dtype !== 'float32') throw new TypeError(`Expected a float32 tf.Tensor for ${name} but received dtype ${describe(x.dtype)}`);
  return { data: x.dataSync() as Float32Array, shape: [x.shape[0], x.shape[1]] };
}

/** A tf tensor target as pairloss takes it: int32 class indices, or a float32 probability matrix. */
function target(t: TfNpairsOptions['target']): Indices | TensorLike | undefined {
  if (!(t instanceof tf.Tensor)) return t;
  if (t.isDisposed) throw rangeError('target', 'the tf.Tensor has been disposed');
  if (t.dtype === 'int32' && t.rank === 1) return t.dataSync() as Int32Array;
  if (t.dtype === 'float32' && t.rank === 2) return matrix(t, 'target');
  throw new TypeError(
    `Expected an int32 tf.Tensor1D (class indices) or a float32 tf.Tensor2D (probabilities) for target but received a ${t.dtype} tensor of shape [${t.shape.join(', ')}]`,
  );
}

/** The value of a temperature given as a tf.Scalar (a RangeError naming it when it is not one value). */
function scalarValue(t: TF.Tensor): number {
  if (t.isDisposed) throw rangeError('temperature', 'the tf.Tensor has been disposed');
  if (t.rank !== 0) throw rangeError('temperature', `expected a tf.Scalar, got shape [${t.shape.join(', ')}]`);
  if (t.dtype !== 'float32') throw new TypeError(`Expected a float32 tf.Scalar for temperature but received dtype ${describe(t.dtype)}`);
  return t.dataSync()[0];
}

/** `dy · g` as a tf tensor of `shape`, from pairloss's gradient (its memory, no copy on the cpu backend). */
function scaled(dy: TF.Tensor, g: Float32Array | Float64Array, shape: readonly number[]): TF.Tensor {
  return tf.mul(dy, tf.tensor(g instanceof Float32Array ? g : Float32Array.from(g), [...shape], 'float32'));
}

/**
 * The N-pairs / InfoNCE / CLIP loss of two batches of embeddings as a
 * differentiable `tf.Scalar`: the value and the gradients with respect to
 * `x1`, `x2` (and a tensor `temperature`) are pairloss's (PyTorch's numbers,
 * computed in one native call), handed to tfjs through `tf.customGrad`.
 * Synchronous, as tfjs's gradient tape requires.
 *
 * @param x1 - `[N, D]` float32 embeddings.
 * @param x2 - `[M, D]` float32 embeddings (M >= N: extra negatives).
 * @param opts - pairloss's `npairsLoss` options; `temperature` may be a `tf.Scalar` (learnable).
 * @returns the loss, a `tf.Scalar` on the tape.
 * @throws TypeError for a non-tensor or a non-float32 tensor; RangeError for a rank other than 2,
 *   a disposed tensor, and every error of pairloss's `npairsLoss` (mismatched D, bad options…).
 * @example
 * const { value, grads } = tf.variableGrads(() => npairsLoss(model.apply(a) as tf.Tensor2D, model.apply(b) as tf.Tensor2D, { temperature: 0.1 }));
 */
export function npairsLoss(x1: TF.Tensor, x2: TF.Tensor, opts: TfNpairsOptions = {}): TF.Scalar {
  const a = matrix(x1, 'x1');
  const b = matrix(x2, 'x2');
  if (opts === null || typeof opts !== 'object') throw invalidType('opts', 'an options object', opts);
  const t = opts.temperature;
  const learnT = t instanceof tf.Tensor;
  const options: NpairsOptions & { grad: true } = { ...opts, target: target(opts.target), temperature: learnT ? scalarValue(t) : t, grad: true };
  if (opts.target === undefined) delete options.target;
  if (t === undefined) delete options.temperature;
  const r = npairsLossCore(a, b, options);
  const g1 = r.grad1.data();
  const g2 = r.grad2.data();
  const gT = r.gradTemperature;
  const inputs: TF.Tensor[] = learnT ? [x1, x2, t] : [x1, x2];
  const f = tf.customGrad(() => ({
    value: tf.scalar(r.loss, 'float32'),
    gradFunc: (dy: TF.Tensor) => {
      const grads = [scaled(dy, g1, a.shape), scaled(dy, g2, b.shape)];
      if (learnT) grads.push(tf.mul(dy, tf.scalar(gT, 'float32')));
      return grads;
    },
  }));
  return f(...inputs) as TF.Scalar;
}

/**
 * The Barlow Twins correlation loss of two views as a differentiable
 * `tf.Scalar` (see {@link npairsLoss}): value and gradients are pairloss's,
 * handed to tfjs through `tf.customGrad`.
 *
 * @param z1 - `[N, D]` float32 projections of view 1.
 * @param z2 - `[N, D]` float32 projections of view 2.
 * @param opts - pairloss's `correlationLoss` options (`mode`, `lambda`, `scale`, …).
 * @throws TypeError for a non-tensor or a non-float32 tensor; RangeError for a rank other than 2,
 *   a disposed tensor, and every error of pairloss's `correlationLoss`.
 * @example
 * optimizer.minimize(() => correlationLoss(model.apply(v1) as tf.Tensor2D, model.apply(v2) as tf.Tensor2D, { mode: 'features' }));
 */
export function correlationLoss(z1: TF.Tensor, z2: TF.Tensor, opts: TfCorrelationOptions = {}): TF.Scalar {
  const a = matrix(z1, 'z1');
  const b = matrix(z2, 'z2');
  if (opts === null || typeof opts !== 'object') throw invalidType('opts', 'an options object', opts);
  const r = correlationLossCore(a, b, { ...opts, grad: true });
  const g1 = r.grad1.data();
  const g2 = r.grad2.data();
  const f = tf.customGrad(() => ({
    value: tf.scalar(r.loss, 'float32'),
    gradFunc: (dy: TF.Tensor) => [scaled(dy, g1, a.shape), scaled(dy, g2, b.shape)],
  }));
  return f(z1, z2) as TF.Scalar;
}

/**
 * The second forward of a gradient cache (pairloss's `GradCache`): a
 * `tf.Scalar`, `Σ embeddings · grad`, whose gradient with respect to
 * `embeddings` is exactly `grad` (a micro-batch's embedding gradients from
 * `cache.gradients(i)`), so that `tf.variableGrads` over it gives that
 * micro-batch's share of the weights' gradients of the whole batch's loss.
 * Summed over the micro-batches, they are the whole batch's gradients.
 *
 * @param embeddings - `[rows, D]` float32: the micro-batch embedded again, this time on the tape.
 * @param grad - its gradients `[rows, D]`: a pairloss `Tensor`, `{ data, shape }` or a Float32Array/Float64Array of rows·D.
 * @throws TypeError for a non-tensor or a non-float32 tensor; RangeError for a rank other than 2,
 *   a disposed tensor, or a `grad` of another size.
 * @example
 * const { grads } = tf.variableGrads(() => cachedGradient(model.apply(microBatch) as tf.Tensor2D, cache.gradients(i).grad1));
 */
export function cachedGradient(embeddings: TF.Tensor, grad: TensorLike | Float32Array | Float64Array): TF.Scalar {
  const e = matrix(embeddings, 'embeddings');
  let g: unknown;
  if (grad instanceof Float32Array || grad instanceof Float64Array) g = grad;
  else if (grad !== null && typeof grad === 'object' && typeof (grad as { data?: unknown }).data === 'function') g = (grad as { data(): unknown }).data();
  else if (grad !== null && typeof grad === 'object' && ArrayBuffer.isView((grad as { data?: unknown }).data)) g = (grad as { data: unknown }).data;
  else throw invalidType('grad', 'a Tensor, { data, shape }, Float32Array or Float64Array', grad);
  if (!(g instanceof Float32Array || g instanceof Float64Array)) throw invalidType('grad', 'float32 or float64 data', g);
  const count = e.shape[0] * e.shape[1];
  if (g.length !== count) throw rangeError('grad', `must have the ${count} elements of embeddings [${e.shape.join(', ')}], got ${g.length}`);
  const data = g instanceof Float32Array ? g : Float32Array.from(g);
  // made where it is used: tfjs disposes the forward's tensors before the backward runs
  const f = tf.customGrad((x) => ({
    value: tf.sum(tf.mul(x as TF.Tensor, tf.tensor(data, [...e.shape], 'float32'))) as TF.Scalar,
    gradFunc: (dy: TF.Tensor) => scaled(dy, data, e.shape),
  }));
  return f(embeddings) as TF.Scalar;
}
