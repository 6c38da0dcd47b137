/**
 * The types every loss shares: the gradients' presence by the `grad` option,
 * the sync and async function shapes the loss definer (./define.ts) gives
 * every loss, and the deprecated `GroupLike`.
 */
import type { ProcessGroup } from '../distributed';
import type { TensorLike } from '../tensor';

/**
 * A process group as the losses take it: a {@link ProcessGroup}.
 * @deprecated The `group` option is typed `ProcessGroup`; use that type.
 */
export type GroupLike = ProcessGroup;

/**
 * The gradients a loss returns with `grad: true` (the default), present or
 * absent by `G`: `true` present (no `grad` option, or `grad: true`), `false`
 * absent (`grad: false`), `boolean` possibly absent (a `grad` known only at
 * run time).
 */
export type Gradients<T, G extends boolean> = boolean extends G ? Partial<T> : G extends true ? T : { [K in keyof T]?: undefined };

/** Options that make a loss return its gradients (no `grad`, or `grad: true`). */
export type WithGrad = { grad?: true };
/** Options that make a loss skip its gradients. */
export type WithoutGrad = { grad: false };

/**
 * A loss of two embedding batches `x1` `[N, D]` and `x2` `[M, D]`, computed on
 * the calling thread, as {@link npairsLoss} and {@link sigmoidLoss} are: `R1`
 * its result with the gradients (no `grad` option, or `grad: true`), `R0`
 * without (`grad: false`), `R` either.
 */
export interface PairLoss<O, R1, R0, R> {
  /**
   * With the gradients: no `grad` option, or `grad: true`.
   * @param x1 - `[N, D]` embeddings (float32 or float64).
   * @param x2 - `[M, D]` embeddings of the same dtype.
   * @param opts - The loss's options.
   */
  (x1: TensorLike, x2: TensorLike, opts?: O & WithGrad): R1;
  /**
   * Without the gradients: `grad: false`.
   * @param x1 - `[N, D]` embeddings (float32 or float64).
   * @param x2 - `[M, D]` embeddings of the same dtype.
   * @param opts - The loss's options.
   */
  (x1: TensorLike, x2: TensorLike, opts: O & WithoutGrad): R0;
  /**
   * With or without the gradients (a `grad` known only at run time).
   * @param x1 - `[N, D]` embeddings (float32 or float64).
   * @param x2 - `[M, D]` embeddings of the same dtype.
   * @param opts - The loss's options.
   */
  (x1: TensorLike, x2: TensorLike, opts?: O): R;
}

/** A {@link PairLoss} computed off the event loop, as {@link npairsLossAsync} is. */
export interface PairLossAsync<O, R1, R0, R> {
  /**
   * With the gradients: no `grad` option, or `grad: true`.
   * @param x1 - `[N, D]` embeddings (float32 or float64).
   * @param x2 - `[M, D]` embeddings of the same dtype.
   * @param opts - The loss's options.
   */
  (x1: TensorLike, x2: TensorLike, opts?: O & WithGrad): Promise<R1>;
  /**
   * Without the gradients: `grad: false`.
   * @param x1 - `[N, D]` embeddings (float32 or float64).
   * @param x2 - `[M, D]` embeddings of the same dtype.
   * @param opts - The loss's options.
   */
  (x1: TensorLike, x2: TensorLike, opts: O & WithoutGrad): Promise<R0>;
  /**
   * With or without the gradients (a `grad` known only at run time).
   * @param x1 - `[N, D]` embeddings (float32 or float64).
   * @param x2 - `[M, D]` embeddings of the same dtype.
   * @param opts - The loss's options.
   */
  (x1: TensorLike, x2: TensorLike, opts?: O): Promise<R>;
}

/**
 * A loss of two views `z1` and `z2` `[N, D]` of one batch, computed on the
 * calling thread, as {@link vicregLoss} is: `R1` its result with the
 * gradients, `R0` without (`grad: false`), `R` either.
 */
export interface ViewsLoss<O, R1, R0, R> {
  /**
   * With the gradients: no `grad` option, or `grad: true`.
   * @param z1 - `[N, D]` projections of view 1 (float32 or float64).
   * @param z2 - `[N, D]` projections of view 2 (same dtype).
   * @param opts - The loss's options.
   */
  (z1: TensorLike, z2: TensorLike, opts?: O & WithGrad): R1;
  /**
   * Without the gradients: `grad: false`.
   * @param z1 - `[N, D]` projections of view 1 (float32 or float64).
   * @param z2 - `[N, D]` projections of view 2 (same dtype).
   * @param opts - The loss's options.
   */
  (z1: TensorLike, z2: TensorLike, opts: O & WithoutGrad): R0;
  /**
   * With or without the gradients (a `grad` known only at run time).
   * @param z1 - `[N, D]` projections of view 1 (float32 or float64).
   * @param z2 - `[N, D]` projections of view 2 (same dtype).
   * @param opts - The loss's options.
   */
  (z1: TensorLike, z2: TensorLike, opts?: O): R;
}

/** A {@link ViewsLoss} computed off the event loop, as {@link vicregLossAsync} is. */
export interface ViewsLossAsync<O, R1, R0, R> {
  /**
   * With the gradients: no `grad` option, or `grad: true`.
   * @param z1 - `[N, D]` projections of view 1 (float32 or float64).
   * @param z2 - `[N, D]` projections of view 2 (same dtype).
   * @param opts - The loss's options.
   */
  (z1: TensorLike, z2: TensorLike, opts?: O & WithGrad): Promise<R1>;
  /**
   * Without the gradients: `grad: false`.
   * @param z1 - `[N, D]` projections of view 1 (float32 or float64).
   * @param z2 - `[N, D]` projections of view 2 (same dtype).
   * @param opts - The loss's options.
   */
  (z1: TensorLike, z2: TensorLike, opts: O & WithoutGrad): Promise<R0>;
  /**
   * With or without the gradients (a `grad` known only at run time).
   * @param z1 - `[N, D]` projections of view 1 (float32 or float64).
   * @param z2 - `[N, D]` projections of view 2 (same dtype).
   * @param opts - The loss's options.
   */
  (z1: TensorLike, z2: TensorLike, opts?: O): Promise<R>;
}
