/**
 * The Barlow Twins correlation loss (Zbontar et al. 2021): its spec, public
 * types, `correlationLoss` / `correlationLossAsync` (the seed's defaults:
 * sample-wise, scale 0.025) and the paper-named preset `barlowTwinsLoss` /
 * `barlowTwinsLossAsync` (the paper's and lightly's defaults: feature-wise,
 * lambda 5e-3, scale 1).
 */
import type { ProcessGroup } from '../distributed';
import { rangeError } from '../errors';
import { optionsObject, SameKeys } from '../options';
import type { GradOut } from '../out';
import type { Tensor, TensorLike } from '../tensor';
import type { Gradients, ViewsLoss, ViewsLossAsync } from './common';
import { Checked, defineLoss, SHARED } from './define';

/** Options of {@link correlationLoss}. Every option has the default shown. */
export interface CorrelationOptions {
  /** Weight of the off-diagonal term. Default 5e-3. */
  lambda?: number;
  /** Final scale of the loss. Default 0.025. */
  scale?: number;
  /** eps of the batch normalisation. Default 1e-5. */
  eps?: number;
  /**
   * `'samples'` (default, the seed exactly: BatchNorm1d(N) on z.T, corr `[N, N]`;
   * the diagonal only reaches 1 when D = N) or `'features'` (Barlow Twins:
   * BatchNorm1d(D) on z, corr `[D, D]`).
   */
  mode?: 'samples' | 'features';
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
  /**
   * Where to compute; default: the inputs' device. Results are on this device:
   * on CUDA, grad1/grad2/similarity stay in device memory until `data()` or
   * `to('cpu')` (host inputs are copied there for the call).
   */
  device?: string;
  /**
   * A process group: corr is all-reduced (sum) and divided by the world size,
   * as the seed does. `loss` is the global loss (the same on every rank) and
   * grad1/grad2 its exact gradients with respect to this rank's inputs
   * (multiply by W for DDP-style averaging). Sync calls with a group block
   * until the collectives finish.
   */
  group?: ProcessGroup;
  /**
   * `'features'` mode under a group: batch statistics over the global batch
   * (SyncBatchNorm, as the original Barlow Twins trains), which equals one
   * process on the concatenated batch. Default false.
   */
  syncBatchNorm?: boolean;
}

/** The gradients of {@link correlationLoss}. */
export interface CorrelationGradients {
  /** ∂loss/∂z1, `[N, D]`. */
  grad1: Tensor<2>;
  /** ∂loss/∂z2, `[N, D]`. */
  grad2: Tensor<2>;
}

/**
 * Result of {@link correlationLoss}: the loss, its two terms and the
 * gradients (typed as present unless `grad: false` is passed; `G` says which).
 */
export type CorrelationResult<G extends boolean = boolean> = {
  /** `scale · (onDiagonal + lambda · offDiagonal)`. */
  loss: number;
  /** Σ_i (C_ii − 1)², before lambda and scale. */
  onDiagonal: number;
  /** Σ_{i≠j} C_ij², before lambda and scale. */
  offDiagonal: number;
} & Gradients<CorrelationGradients, G>;

const options = {
  lambda: { kind: 'number', default: 5e-3, rule: { min: 0 } },
  scale: { kind: 'number', default: 0.025, rule: { min: 0, above: true } },
  eps: SHARED.eps(1e-5),
  mode: { kind: 'enum', values: ['samples', 'features'], default: 'samples' },
  grad: SHARED.grad,
  checkFinite: SHARED.checkFinite,
  device: SHARED.device,
  group: SHARED.group,
  syncBatchNorm: { kind: 'bool', default: false },
  out: SHARED.out,
  signal: SHARED.signal,
} as const;

/** Each mode standardises over an axis of two or more: D in 'samples', N in 'features' (one rank). */
function check(c: Checked<typeof options>): void {
  const { mode } = c.options;
  if (mode === 'samples' && c.d < 2) {
    throw rangeError('z1', `mode 'samples' standardises each sample over its D features and needs D >= 2, got D = ${c.d}`);
  }
  if (mode === 'features' && c.n < 2 && !c.grouped) {
    throw rangeError('z1', `mode 'features' standardises each feature over the batch and needs N >= 2, got N = ${c.n}`);
  }
}

/** The correlation loss, declared once. @internal */
export const correlation = defineLoss({
  name: 'correlationLoss',
  inputs: [{ name: 'z1', grad: 'grad1' }, { name: 'z2', grad: 'grad2' }],
  sameRows: true,
  options,
  results: { loss: 'scalar', onDiagonal: 'scalar', offDiagonal: 'scalar', grad1: 'tensor', grad2: 'tensor' },
  overflow: ['z1', 'values this large overflow the batch statistics'],
  // the correlation matrix: [N, N] over D ('samples') or [D, D] over N ('features')
  work: ({ n, d, options: o }: Checked<typeof options>) => (o.mode === 'samples' ? n * n * d : d * d * n),
  check,
});

const functions = correlation.functions<CorrelationOptions, CorrelationResult<true>, CorrelationResult<false>, CorrelationResult>(true);

/**
 * The Barlow Twins correlation loss of two views and its gradients:
 * `scale · Σ_ij w_ij (C_ij − δ_ij)²` with `w_ii = 1`, `w_ij = lambda`, where C is
 * the correlation matrix of the batch-normalised views (the seed's
 * `correlation_loss_func` in `'samples'` mode).
 *
 * @function
 * @param z1 - `[N, D]` projections of view 1.
 * @param z2 - `[N, D]` projections of view 2 (same dtype).
 * @throws TypeError for a wrong type or mixed dtypes; RangeError for mismatched shapes, an empty batch,
 *   D < 2 in 'samples' mode, N < 2 in 'features' mode, or a bad option value.
 * @example
 * const { loss, onDiagonal, offDiagonal, grad1 } = correlationLoss(z1, z2, { mode: 'features' });
 */
export const correlationLoss: ViewsLoss<CorrelationOptions, CorrelationResult<true>, CorrelationResult<false>, CorrelationResult> = functions.sync;

/**
 * {@link correlationLoss} on a worker thread, off the event loop (inputs are
 * copied at the call, and small calls computed on the calling thread, as in
 * {@link npairsLossAsync}; the work is N·N·D in 'samples' mode, D·D·N in 'features').
 * @function
 * @example
 * const { loss } = await correlationLossAsync(z1, z2);
 */
export const correlationLossAsync: ViewsLossAsync<CorrelationOptions, CorrelationResult<true>, CorrelationResult<false>, CorrelationResult> = functions.async;

/** Options of {@link barlowTwinsLoss}. Every option has the default shown (the paper's and lightly's `BarlowTwinsLoss`). */
export interface BarlowTwinsOptions {
  /** Weight of the off-diagonal (redundancy reduction) term (lightly's `lambda_param`). Default 5e-3. */
  lambda?: number;
  /** Final scale of the loss. Default 1 (the paper's sum). */
  scale?: number;
  /** eps of the batch normalisation. Default 1e-5. */
  eps?: number;
  /** Compute grad1 and grad2. Default true. */
  grad?: boolean;
  /** NaN or ±Infinity in z1/z2 is a RangeError (default false). */
  checkFinite?: boolean;
  /** Caller-owned memory for the gradients (as {@link CorrelationOptions.out}). */
  out?: GradOut;
  /** Async functions only: an AbortSignal that cancels the call (as {@link CorrelationOptions.signal}). */
  signal?: AbortSignal;
  /** Where to compute; default: the inputs' device (as {@link CorrelationOptions.device}). */
  device?: string;
  /**
   * A process group (lightly's `gather_distributed: true`): the correlation
   * matrix is all-reduced and divided by the world size; `loss` is the
   * global loss and grad1/grad2 its exact gradients for this rank's inputs
   * (as {@link CorrelationOptions.group}).
   */
  group?: ProcessGroup;
  /** Under a group: batch statistics over the global batch (SyncBatchNorm). Default false. */
  syncBatchNorm?: boolean;
}

const BARLOW_TWINS_KEYS = ['lambda', 'scale', 'eps', 'grad', 'checkFinite', 'out', 'signal', 'device', 'group', 'syncBatchNorm'] as const;
const barlowKeysAgree: SameKeys<keyof BarlowTwinsOptions, (typeof BARLOW_TWINS_KEYS)[number]> = true;
void barlowKeysAgree;

/** correlationLoss's options for the paper's loss: 'features' mode, scale 1, then the caller's. */
function paperOptions(opts: unknown, sync: boolean): CorrelationOptions {
  const o = optionsObject(opts, BARLOW_TWINS_KEYS);
  if (sync && o.signal !== undefined) {
    throw rangeError('signal', 'applies to the async functions (barlowTwinsLossAsync); a sync call runs to its end on this thread');
  }
  const options: Record<string, unknown> = { mode: 'features', lambda: 5e-3, scale: 1 };
  for (const key of BARLOW_TWINS_KEYS) if (o[key] !== undefined) options[key] = o[key];
  return options as CorrelationOptions;
}

/**
 * Barlow Twins (Zbontar et al. 2021) with the paper's defaults, as its code
 * and lightly's `BarlowTwinsLoss` compute it: each view batch-normalised
 * feature by feature over the batch (no affine, eps 1e-5), C = z1ᵀz2 / N the
 * `[D, D]` cross-correlation, loss = Σ_i (1 − C_ii)² + lambda · Σ_{i≠j} C_ij²
 * with lambda 5e-3. It is `correlationLoss(z1, z2, { mode: 'features',
 * scale: 1 })`: the same native call, the same result fields.
 * Matches PyTorch autograd (float32: rtol 1e-5 / atol 1e-6; float64: 1e-10).
 *
 * @function
 * @param z1 - `[N, D]` projections of view 1 (float32 or float64), N >= 2.
 * @param z2 - `[N, D]` projections of view 2 (same dtype).
 * @throws TypeError for a wrong type or mixed dtypes; RangeError for mismatched shapes, N < 2
 *   (without a group), an empty batch or a bad option value.
 * @example
 * const { loss, onDiagonal, offDiagonal, grad1, grad2 } = barlowTwinsLoss(z1, z2);
 */
export const barlowTwinsLoss: ViewsLoss<BarlowTwinsOptions, CorrelationResult<true>, CorrelationResult<false>, CorrelationResult> =
  (z1: TensorLike, z2: TensorLike, opts?: BarlowTwinsOptions) => functions.sync(z1, z2, paperOptions(opts, true));

/**
 * {@link barlowTwinsLoss} on a worker thread, off the event loop (inputs
 * copied at the call, small calls computed on the calling thread, as in
 * {@link correlationLossAsync}).
 * @function
 * @example
 * const { loss } = await barlowTwinsLossAsync(z1, z2);
 */
export const barlowTwinsLossAsync: ViewsLossAsync<BarlowTwinsOptions, CorrelationResult<true>, CorrelationResult<false>, CorrelationResult> =
  async (z1: TensorLike, z2: TensorLike, opts?: BarlowTwinsOptions) => functions.async(z1, z2, paperOptions(opts, false));
