/**
 * The losses, value and gradient in one call: N-pairs (InfoNCE / CLIP) over a
 * similarity matrix, and the Barlow Twins correlation loss.
 */
import { binding, RawCorrelationResult, RawIndices, RawInput, RawNpairsResult, RawOptions, RawResult, RawSigmoidResult, RawVicregResult } from './binding';
import { checkedUnderGroup, groupHandle } from './distributed';
import { callNative, invalidValue, rangeError, signalOption, withCallerStack } from './errors';
import { inlineTurnSpent, mustWait, nextTurn, runsInline, schedule, throwIfAborted, unlessAborted } from './queue';
import { boolOption, enumOption, numberOption, optionsObject } from './options';
import { gradOut, GradOut } from './out';
import {
  checkDevice, checkMatrix, checkSameKind, indices, isIndices, labelList, operand, partnerDType, rawInput, Indices, Operand, Tensor, tensorFromRaw, TensorLike,
} from './tensor';

/** A process group as the losses take it (see `ProcessGroup`). */
export interface GroupLike {
  readonly rank: number;
  readonly worldSize: number;
}

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
  group?: GroupLike;
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
  group?: GroupLike;
}

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
  group?: GroupLike;
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

/** Options of {@link vicregLoss}. Every option has the default shown (lightly's `VICRegLoss`). */
export interface VicregOptions {
  /** Weight of the invariance term (lightly's `lambda_param`). Default 25. */
  invarianceWeight?: number;
  /** Weight of the variance term (`mu_param`). Default 25. */
  varianceWeight?: number;
  /** Weight of the covariance term (`nu_param`). Default 1. */
  covarianceWeight?: number;
  /** The std each feature is held above (the hinge's target). Default 1. */
  gamma?: number;
  /** Added to the variance under the square root. Default 1e-4. */
  eps?: number;
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
  /** Where to compute; default: the inputs' device (as {@link NpairsOptions.device}). */
  device?: string;
  /**
   * A process group: every term over the global batch of W·N rows (the views
   * are all-gathered): `loss` is that of one process on the concatenated
   * batch, the same on every rank, and grad1/grad2 its exact gradients for
   * this rank's inputs (multiply by W for DDP-style averaging). N and D must
   * be the same on every rank.
   */
  group?: GroupLike;
}

/** The gradients of {@link vicregLoss}. */
export interface VicregGradients {
  /** ∂loss/∂z1, `[N, D]`. */
  grad1: Tensor<2>;
  /** ∂loss/∂z2, `[N, D]`. */
  grad2: Tensor<2>;
}

/** Result of {@link vicregLoss}: the loss, its three terms (before the weights) and the gradients. */
export type VicregResult<G extends boolean = boolean> = {
  /** `invarianceWeight · invariance + varianceWeight · variance + covarianceWeight · covariance`. */
  loss: number;
  /** mse(z1, z2), the mean over N·D. */
  invariance: number;
  /** (hinge(z1) + hinge(z2)) / 2, hinge(z) = mean_j relu(gamma − sqrt(Var_j(z) + eps)) (unbiased Var). */
  variance: number;
  /** cov(z1) + cov(z2), cov(z) = Σ_{i≠j} C_ij² / D, C the unbiased covariance matrix. */
  covariance: number;
} & Gradients<VicregGradients, G>;

/**
 * The gradients a loss returns with `grad: true` (the default), present or
 * absent by `G`: `true` present (no `grad` option, or `grad: true`), `false`
 * absent (`grad: false`), `boolean` possibly absent (a `grad` known only at
 * run time).
 */
export type Gradients<T, G extends boolean> = boolean extends G ? Partial<T> : G extends true ? T : { [K in keyof T]?: undefined };

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
  group?: GroupLike;
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

/** Options that make a loss return its gradients (no `grad`, or `grad: true`). */
export type WithGrad = { grad?: true };
/** Options that make a loss skip its gradients. */
export type WithoutGrad = { grad: false };

const NPAIRS_KEYS = [
  'target', 'temperature', 'symmetric', 'labelSmoothing', 'reduction', 'similarity', 'l2Reg', 'eps', 'grad',
  'returnSimilarity', 'checkFinite', 'device', 'group', 'localLoss', 'gatherWithGrad', 'labels', 'excludeSelf', 'out', 'signal',
] as const;
const SIGMOID_KEYS = ['scale', 'bias', 'target', 'eps', 'grad', 'checkFinite', 'device', 'group', 'out', 'signal'] as const;
const VICREG_KEYS = ['invarianceWeight', 'varianceWeight', 'covarianceWeight', 'gamma', 'eps', 'grad', 'checkFinite', 'device', 'group', 'out', 'signal'] as const;
const NT_XENT_KEYS = ['temperature', 'eps', 'negatives', 'grad', 'checkFinite', 'device', 'group', 'out', 'signal'] as const;
const CORRELATION_KEYS = ['lambda', 'scale', 'eps', 'mode', 'grad', 'checkFinite', 'device', 'group', 'syncBatchNorm', 'out', 'signal'] as const;

type LossKind = 'npairsLoss' | 'ntXentLoss' | 'sigmoidLoss' | 'vicregLoss' | 'correlationLoss';

interface Prepared<K extends LossKind> {
  a: Operand;
  b: Operand;
  /** a and b as native code takes them (typed arrays or handles). */
  inputs: [RawInput, RawInput];
  /** Every key of NATIVE_OPTION_KEYS[K], checked. */
  options: RawOptions<K>;
  device: string;
  /** Multiply-adds of the loss's matrix product, for the inline threshold (lib/queue.ts). */
  work: number;
  /** The caller's AbortSignal (the `signal` option), if any. */
  signal?: AbortSignal;
}

function pair(x1: unknown, x2: unknown, n1: string, n2: string): [Operand, Operand] {
  const dtype = partnerDType(x1, x2);
  const a = operand(x1, n1, dtype);
  const b = operand(x2, n2, dtype);
  checkMatrix(a, n1);
  checkMatrix(b, n2);
  checkSameKind(a, b, n1, n2);
  if (a.shape[1] !== b.shape[1]) throw rangeError(n2, `must have D = ${a.shape[1]} columns like ${n1}, got ${b.shape[1]}`);
  if (a.shape[0] === 0) throw rangeError(n1, 'an empty batch (N = 0); expected at least one row');
  if (b.shape[0] === 0) throw rangeError(n2, 'an empty batch (0 rows); expected at least one row');
  if (a.shape[1] === 0) throw rangeError(n1, 'has D = 0 features; expected at least one column');
  return [a, b];
}

/**
 * A RangeError naming the first entry of a target held in host memory that is
 * outside [lo, hi] or NaN (an entry of a resident tensor is not read here).
 */
function checkEntries(t: Operand, name: string, lo: number, hi: number, expected: string): void {
  if (t.handle !== undefined) return;
  const d = t.data;
  const cols = t.shape[1];
  for (let i = 0; i < d.length; i++) {
    const v = d[i];
    if (!(v >= lo && v <= hi) || v === Infinity) throw invalidValue(`${name}[${Math.floor(i / cols)}][${i % cols}]`, expected, v);
  }
}

/**
 * With checkFinite, a loss that came out NaN or infinite from finite inputs is
 * a RangeError naming the options that scale the logits (a tiny temperature
 * overflows them); without it, the loss is returned as computed (PyTorch's way).
 */
function finiteLoss(loss: number, checkFinite: boolean, name: string): void {
  if (checkFinite && !Number.isFinite(loss)) {
    const why = name === 'temperature' ? 'a temperature this small overflows the logits'
      : name === 'scale' ? 'a scale (or bias) this large overflows the logits'
      : 'values this large overflow the batch statistics';
    throw rangeError(name, `the loss came out ${loss} from finite inputs (checkFinite is on): ${why}`);
  }
}

/** A sync call's prepared arguments: a RangeError where it was given a `signal` (async calls only). */
function syncOnly<K extends LossKind>(p: Prepared<K>, asyncName: string): Prepared<K> {
  if (p.signal !== undefined) throw rangeError('signal', `applies to the async functions (${asyncName}); a sync call runs to its end on this thread`);
  return p;
}

function group(o: Record<string, unknown>): GroupLike | undefined {
  const g = o.group;
  if (g === undefined) return undefined;
  if (g === null || typeof g !== 'object' || typeof (g as GroupLike).worldSize !== 'number') {
    throw new TypeError(`Expected a ProcessGroup for group but received ${g === null ? 'null' : typeof g}`);
  }
  return g as GroupLike;
}

function prepareNpairs(x1: unknown, x2: unknown, opts: unknown): Prepared<'npairsLoss'> {
  const o = optionsObject(opts, NPAIRS_KEYS);
  const [a, b] = pair(x1, x2, 'x1', 'x2');
  const [n, m] = [a.shape[0], b.shape[0]];
  const g = group(o);
  const device = o.device === undefined ? a.device : checkDevice(o.device);
  const options: RawOptions<'npairsLoss'> = {
    target: null,
    temperature: numberOption(o, 'temperature', 1, { min: 0, above: true }),
    symmetric: boolOption(o, 'symmetric', false),
    labelSmoothing: numberOption(o, 'labelSmoothing', 0, { min: 0, max: 1 }),
    reduction: enumOption(o, 'reduction', ['mean', 'sum'] as const, 'mean'),
    similarity: enumOption(o, 'similarity', ['cosine', 'dot'] as const, 'cosine'),
    l2Reg: numberOption(o, 'l2Reg', 0, { min: 0 }),
    eps: numberOption(o, 'eps', 1e-12, { min: 0, above: true, max: 3.4028234663852886e38 }),
    grad: boolOption(o, 'grad', true),
    returnSimilarity: boolOption(o, 'returnSimilarity', false),
    checkFinite: boolOption(o, 'checkFinite', false),
    device,
    group: g ? (groupHandle(g) as object) : null,
    localLoss: boolOption(o, 'localLoss', true),
    gatherWithGrad: boolOption(o, 'gatherWithGrad', true),
    labels: null,
    excludeSelf: boolOption(o, 'excludeSelf', false),
    out: null,
  };
  if (options.excludeSelf) {
    if (m !== n) throw rangeError('excludeSelf', `needs x1 and x2 to be the same views (M = N), got N = ${n}, M = ${m}`);
    if (options.symmetric) throw rangeError('excludeSelf', 'cannot be combined with symmetric (each row already leaves out its own view)');
    if (options.labelSmoothing > 0) throw rangeError('excludeSelf', 'cannot be combined with labelSmoothing');
    if (!g && n < 2) throw rangeError('excludeSelf', 'leaves no class for N = 1 (the only column is the row\'s own view)');
    if (o.target === undefined && o.labels === undefined) {
      throw rangeError('excludeSelf', 'leaves out column i, the default target of row i: give labels or a target');
    }
  }
  if (o.labels !== undefined) {
    if (o.target !== undefined) throw rangeError('labels', 'and target exclude each other: labels make the target');
    if (m !== n) throw rangeError('labels', `label the rows of x1 and x2 alike and need M = N, got N = ${n}, M = ${m}`);
    options.labels = labelList(o.labels, 'labels', n);
  } else if (o.target === undefined) {
    if (!g && m < n) throw rangeError('x2', `needs at least as many rows as x1 (M >= N) for the default target, got N = ${n}, M = ${m}`);
  } else if (isIndices(o.target)) {
    options.target = indices(o.target, 'target', n, m) as RawIndices;
    if (options.excludeSelf) {
      const t = options.target;
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
    options.target = rawInput(t);
  }
  if (options.symmetric && m !== n && !g) {
    throw rangeError('symmetric', `needs as many rows in x2 as in x1, got N = ${n}, M = ${m}`);
  }
  options.out = gradOut(o.out, a, b, ['x1', 'x2'], device, options.grad, [['target', options.target], ['labels', options.labels]]);
  return { a, b, inputs: [rawInput(a), rawInput(b)], options, device, work: n * m * a.shape[1], signal: signalOption(o.signal) };
}

function prepareSigmoid(x1: unknown, x2: unknown, opts: unknown): Prepared<'sigmoidLoss'> {
  const o = optionsObject(opts, SIGMOID_KEYS);
  const [a, b] = pair(x1, x2, 'x1', 'x2');
  const [n, m] = [a.shape[0], b.shape[0]];
  const g = group(o);
  const device = o.device === undefined ? a.device : checkDevice(o.device);
  const options: RawOptions<'sigmoidLoss'> = {
    scale: numberOption(o, 'scale', 10, { min: 0, above: true }),
    bias: numberOption(o, 'bias', -10),
    target: null,
    eps: numberOption(o, 'eps', 1e-12, { min: 0, above: true, max: 3.4028234663852886e38 }),
    grad: boolOption(o, 'grad', true),
    checkFinite: boolOption(o, 'checkFinite', false),
    device,
    group: g ? (groupHandle(g) as object) : null,
    out: null,
  };
  if (o.target !== undefined) {
    const t = operand(o.target, 'target', a.dtype);
    checkSameKind(a, t, 'x1', 'target');
    if (t.shape.length !== 2 || t.shape[0] !== n || t.shape[1] !== m) {
      throw rangeError('target', `labels must be [N, M] = [${n}, ${m}], got [${t.shape}]`);
    }
    checkEntries(t, 'target', -1, 1, 'a SigLIP label in [-1, 1] (+1 a positive pair, -1 a negative)');
    options.target = rawInput(t);
  }
  options.out = gradOut(o.out, a, b, ['x1', 'x2'], device, options.grad, [['target', options.target]]);
  return { a, b, inputs: [rawInput(a), rawInput(b)], options, device, work: n * m * a.shape[1], signal: signalOption(o.signal) };
}

function prepareVicreg(z1: unknown, z2: unknown, opts: unknown): Prepared<'vicregLoss'> {
  const o = optionsObject(opts, VICREG_KEYS);
  const [a, b] = pair(z1, z2, 'z1', 'z2');
  if (a.shape[0] !== b.shape[0]) throw rangeError('z2', `must have N = ${a.shape[0]} rows like z1, got ${b.shape[0]}`);
  const [n, d] = a.shape;
  const g = group(o);
  if (n < 2 && !g) throw rangeError('z1', `VICReg's variance over the batch needs N >= 2, got N = ${n}`);
  const device = o.device === undefined ? a.device : checkDevice(o.device);
  const options: RawOptions<'vicregLoss'> = {
    invarianceWeight: numberOption(o, 'invarianceWeight', 25, { min: 0 }),
    varianceWeight: numberOption(o, 'varianceWeight', 25, { min: 0 }),
    covarianceWeight: numberOption(o, 'covarianceWeight', 1, { min: 0 }),
    gamma: numberOption(o, 'gamma', 1, { min: 0 }),
    eps: numberOption(o, 'eps', 1e-4, { min: 0, above: true, max: 3.4028234663852886e38 }),
    grad: boolOption(o, 'grad', true),
    checkFinite: boolOption(o, 'checkFinite', false),
    device,
    group: g ? (groupHandle(g) as object) : null,
    out: null,
  };
  if (options.invarianceWeight === 0 && options.varianceWeight === 0 && options.covarianceWeight === 0) {
    throw rangeError('invarianceWeight', 'invarianceWeight, varianceWeight and covarianceWeight are all 0: the loss would be 0 whatever the inputs');
  }
  // the two covariance matrices: D·D·N each
  options.out = gradOut(o.out, a, b, ['z1', 'z2'], device, options.grad);
  return { a, b, inputs: [rawInput(a), rawInput(b)], options, device, work: 2 * d * d * n, signal: signalOption(o.signal) };
}

function prepareNtXent(z1: unknown, z2: unknown, opts: unknown): Prepared<'ntXentLoss'> {
  const o = optionsObject(opts, NT_XENT_KEYS);
  const [a, b] = pair(z1, z2, 'z1', 'z2');
  if (a.shape[0] !== b.shape[0]) throw rangeError('z2', `must have N = ${a.shape[0]} rows like z1, got ${b.shape[0]}`);
  const [n, d] = a.shape;
  const g = group(o);
  const device = o.device === undefined ? a.device : checkDevice(o.device);
  const options: RawOptions<'ntXentLoss'> = {
    temperature: numberOption(o, 'temperature', 0.5, { min: 0, above: true }),
    eps: numberOption(o, 'eps', 1e-12, { min: 0, above: true, max: 3.4028234663852886e38 }),
    negatives: null,
    grad: boolOption(o, 'grad', true),
    checkFinite: boolOption(o, 'checkFinite', false),
    device,
    group: g ? (groupHandle(g) as object) : null,
    out: null,
  };
  let work = 4 * n * n * d;
  if (o.negatives !== undefined) {
    const neg = operand(o.negatives, 'negatives', a.dtype);
    checkMatrix(neg, 'negatives');
    checkSameKind(a, neg, 'z1', 'negatives');
    if (neg.shape[0] === 0) throw rangeError('negatives', 'an empty memory bank (K = 0); expected at least one row');
    if (neg.shape[1] !== d) throw rangeError('negatives', `must have D = ${d} columns like z1, got ${neg.shape[1]}`);
    options.negatives = rawInput(neg);
    work = n * neg.shape[0] * d;
  }
  options.out = gradOut(o.out, a, b, ['z1', 'z2'], device, options.grad, [['negatives', options.negatives]]);
  return { a, b, inputs: [rawInput(a), rawInput(b)], options, device, work, signal: signalOption(o.signal) };
}

function prepareCorrelation(z1: unknown, z2: unknown, opts: unknown): Prepared<'correlationLoss'> {
  const o = optionsObject(opts, CORRELATION_KEYS);
  const [a, b] = pair(z1, z2, 'z1', 'z2');
  if (a.shape[0] !== b.shape[0]) throw rangeError('z2', `must have N = ${a.shape[0]} rows like z1, got ${b.shape[0]}`);
  const mode = enumOption(o, 'mode', ['samples', 'features'] as const, 'samples');
  const [n, d] = a.shape;
  if (mode === 'samples' && d < 2) {
    throw rangeError('z1', `mode 'samples' standardises each sample over its D features and needs D >= 2, got D = ${d}`);
  }
  const g = group(o);
  if (mode === 'features' && n < 2 && !g) {
    throw rangeError('z1', `mode 'features' standardises each feature over the batch and needs N >= 2, got N = ${n}`);
  }
  const device = o.device === undefined ? a.device : checkDevice(o.device);
  const options: RawOptions<'correlationLoss'> = {
    lambda: numberOption(o, 'lambda', 5e-3, { min: 0 }),
    scale: numberOption(o, 'scale', 0.025, { min: 0, above: true }),
    eps: numberOption(o, 'eps', 1e-5, { min: 0, above: true, max: 3.4028234663852886e38 }),
    mode,
    grad: boolOption(o, 'grad', true),
    checkFinite: boolOption(o, 'checkFinite', false),
    device,
    group: g ? (groupHandle(g) as object) : null,
    syncBatchNorm: boolOption(o, 'syncBatchNorm', false),
    out: null,
  };
  // the correlation matrix: [N, N] over D ('samples') or [D, D] over N ('features')
  const work = mode === 'samples' ? n * n * d : d * d * n;
  options.out = gradOut(o.out, a, b, ['z1', 'z2'], device, options.grad);
  return { a, b, inputs: [rawInput(a), rawInput(b)], options, device, work, signal: signalOption(o.signal) };
}

function tensorOf(x: RawResult | undefined, device: string): Tensor<2> | undefined {
  return x === undefined ? undefined : tensorFromRaw(x, device);
}

function npairsResult(r: RawNpairsResult, device: string, checkFinite: boolean): NpairsResult {
  finiteLoss(r.loss, checkFinite, 'temperature');
  const out: NpairsResult = { loss: r.loss };
  if (r.grad1) out.grad1 = tensorOf(r.grad1, device);
  if (r.grad2) out.grad2 = tensorOf(r.grad2, device);
  if (r.gradTemperature !== undefined) out.gradTemperature = r.gradTemperature;
  if (r.similarity) out.similarity = tensorOf(r.similarity, device);
  return out;
}

function sigmoidResult(r: RawSigmoidResult, device: string, checkFinite: boolean): SigmoidResult {
  finiteLoss(r.loss, checkFinite, 'scale');
  const out: SigmoidResult = { loss: r.loss };
  if (r.grad1) out.grad1 = tensorOf(r.grad1, device);
  if (r.grad2) out.grad2 = tensorOf(r.grad2, device);
  if (r.gradScale !== undefined) out.gradScale = r.gradScale;
  if (r.gradBias !== undefined) out.gradBias = r.gradBias;
  return out;
}

function vicregResult(r: RawVicregResult, device: string, checkFinite: boolean): VicregResult {
  finiteLoss(r.loss, checkFinite, 'z1');
  const out: VicregResult = { loss: r.loss, invariance: r.invariance, variance: r.variance, covariance: r.covariance };
  if (r.grad1) out.grad1 = tensorOf(r.grad1, device);
  if (r.grad2) out.grad2 = tensorOf(r.grad2, device);
  return out;
}

function correlationResult(r: RawCorrelationResult, device: string, checkFinite: boolean): CorrelationResult {
  finiteLoss(r.loss, checkFinite, 'z1');
  const out: CorrelationResult = { loss: r.loss, onDiagonal: r.onDiagonal, offDiagonal: r.offDiagonal };
  if (r.grad1) out.grad1 = tensorOf(r.grad1, device);
  if (r.grad2) out.grad2 = tensorOf(r.grad2, device);
  return out;
}

/**
 * Whether an async call runs inline, as the sync call on this thread (its
 * Promise then settles before any other event is handled, unless inline
 * calls have already held this turn of the event loop for INLINE_TURN_MS: it
 * then settles after a turn): a CPU call without a group whose work is at
 * most the inline threshold (lib/queue.ts), where the hop to a libuv thread
 * and back would cost more than the work. Inline calls do not wait for the
 * bound on calls in flight: they hold no libuv thread.
 */
function inline(p: Prepared<LossKind>): boolean {
  return p.options.group === null && p.device === 'cpu' && runsInline(p.work);
}

/**
 * Starts an async native call now, or queues it behind the bound on calls in
 * flight (lib/queue.ts). Native code copies the inputs when it is called, so a
 * queued call copies them here first: the result is always that of the
 * values at the time of the call. Inputs held natively (CUDA) are not
 * copied (nothing can write to them) but shared: a second handle keeps their
 * memory alive if the caller disposes them meanwhile, and is released when
 * the call ends. Calls under a group are never queued (their collectives must
 * be issued in call order on every rank).
 */
function runAsync<T>(p: Prepared<LossKind>, call: () => Promise<T>): Promise<T> {
  if (p.options.group !== null) {
    // never queued, and issued even when the signal has already fired: every
    // rank must issue the loss's collectives in the same order; the result is discarded
    return unlessAborted(call(), p.signal);
  }
  if (!mustWait()) return schedule(call, p.signal);
  const shared: RawInput[] = [];
  const keep = (x: RawInput): RawInput => {
    if (!('handle' in x)) return { data: x.data.slice(), shape: x.shape };
    const s = callNative(() => binding().tensorShare(x));
    shared.push(s);
    return s;
  };
  p.inputs = [keep(p.inputs[0]), keep(p.inputs[1])];
  if ('target' in p.options && p.options.target !== null) {
    const t = p.options.target;
    p.options.target = ArrayBuffer.isView(t) ? t.slice() : keep(t);
  }
  if ('labels' in p.options && p.options.labels !== null) p.options.labels = p.options.labels.slice();
  if ('negatives' in p.options && p.options.negatives !== null) p.options.negatives = keep(p.options.negatives);
  const release = (): void => shared.forEach((s) => binding().tensorDispose(s));
  return schedule(call, p.signal).finally(release);
}

/**
 * An async loss's native call: computed inline (as the sync call) where
 * {@link inline} says so, else started or queued by {@link runAsync}
 * (`async` reads p's inputs and options when it starts: runAsync may have
 * copied them). Errors carry the caller's stack.
 */
async function callAsync<R>(p: Prepared<LossKind>, sync: () => R, async: () => Promise<R>): Promise<R> {
  try {
    if (inline(p)) {
      throwIfAborted(p.signal);
      const spent = inlineTurnSpent();
      const result = sync();
      if (spent) {
        await nextTurn();
        throwIfAborted(p.signal);
      }
      return result;
    }
    return await runAsync(p, async);
  } catch (error) {
    throw withCallerStack(error);
  }
}

/**
 * The N-pairs / InfoNCE loss of two batches of embeddings and its gradients:
 * cross entropy of `similarity(x1, x2) / temperature` against row i -> class i
 * (the seed's `NPairsLoss` with `torch.eye(N)`), or CLIP's symmetric version.
 * Matches PyTorch autograd (float32: rtol 1e-5 / atol 1e-6; float64: 1e-10).
 * Runs on the calling thread; see {@link npairsLossAsync}.
 *
 * @param x1 - `[N, D]` embeddings (float32 or float64).
 * @param x2 - `[M, D]` embeddings of the same dtype (M >= N: extra negatives).
 * @throws TypeError for a wrong type or mixed dtypes; RangeError for mismatched D, an empty batch,
 *   a bad option value or a target out of range.
 * @example
 * const { loss, grad1, grad2 } = npairsLoss(x1, x2, { temperature: 0.07, symmetric: true });
 */
export function npairsLoss(x1: TensorLike, x2: TensorLike, opts?: NpairsOptions & WithGrad): NpairsResult<true>;
export function npairsLoss(x1: TensorLike, x2: TensorLike, opts: NpairsOptions & WithoutGrad): NpairsResult<false>;
export function npairsLoss(x1: TensorLike, x2: TensorLike, opts?: NpairsOptions): NpairsResult;
export function npairsLoss(x1: TensorLike, x2: TensorLike, opts?: NpairsOptions): NpairsResult {
  const p = checkedUnderGroup(opts, 'npairsLoss', () => syncOnly(prepareNpairs(x1, x2, opts), 'npairsLossAsync'));
  return npairsResult(callNative(() => binding().npairsLoss(p.inputs[0], p.inputs[1], p.options, false)), p.device, p.options.checkFinite);
}

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
 * @example
 * const { loss } = await npairsLossAsync(x1, x2, { symmetric: true });
 */
export function npairsLossAsync(x1: TensorLike, x2: TensorLike, opts?: NpairsOptions & WithGrad): Promise<NpairsResult<true>>;
export function npairsLossAsync(x1: TensorLike, x2: TensorLike, opts: NpairsOptions & WithoutGrad): Promise<NpairsResult<false>>;
export function npairsLossAsync(x1: TensorLike, x2: TensorLike, opts?: NpairsOptions): Promise<NpairsResult>;
export async function npairsLossAsync(x1: TensorLike, x2: TensorLike, opts?: NpairsOptions): Promise<NpairsResult> {
  const p = checkedUnderGroup(opts, 'npairsLoss', () => prepareNpairs(x1, x2, opts));
  const raw = await callAsync(p,
    () => binding().npairsLoss(p.inputs[0], p.inputs[1], p.options, false),
    () => binding().npairsLoss(p.inputs[0], p.inputs[1], p.options, true));
  return npairsResult(raw, p.device, p.options.checkFinite);
}

/**
 * The Barlow Twins correlation loss of two views and its gradients:
 * `scale · Σ_ij w_ij (C_ij − δ_ij)²` with `w_ii = 1`, `w_ij = lambda`, where C is
 * the correlation matrix of the batch-normalised views (the seed's
 * `correlation_loss_func` in `'samples'` mode).
 *
 * @param z1 - `[N, D]` projections of view 1.
 * @param z2 - `[N, D]` projections of view 2 (same dtype).
 * @throws TypeError for a wrong type or mixed dtypes; RangeError for mismatched shapes, an empty batch,
 *   D < 2 in 'samples' mode, N < 2 in 'features' mode, or a bad option value.
 * @example
 * const { loss, onDiagonal, offDiagonal, grad1 } = correlationLoss(z1, z2, { mode: 'features' });
 */
export function correlationLoss(z1: TensorLike, z2: TensorLike, opts?: CorrelationOptions & WithGrad): CorrelationResult<true>;
export function correlationLoss(z1: TensorLike, z2: TensorLike, opts: CorrelationOptions & WithoutGrad): CorrelationResult<false>;
export function correlationLoss(z1: TensorLike, z2: TensorLike, opts?: CorrelationOptions): CorrelationResult;
export function correlationLoss(z1: TensorLike, z2: TensorLike, opts?: CorrelationOptions): CorrelationResult {
  const p = checkedUnderGroup(opts, 'correlationLoss', () => syncOnly(prepareCorrelation(z1, z2, opts), 'correlationLossAsync'));
  return correlationResult(callNative(() => binding().correlationLoss(p.inputs[0], p.inputs[1], p.options, false)), p.device, p.options.checkFinite);
}

/**
 * {@link correlationLoss} on a worker thread, off the event loop (inputs are
 * copied at the call, and small calls computed on the calling thread, as in
 * {@link npairsLossAsync}; the work is N·N·D in 'samples' mode, D·D·N in 'features').
 * @example
 * const { loss } = await correlationLossAsync(z1, z2);
 */
export function correlationLossAsync(z1: TensorLike, z2: TensorLike, opts?: CorrelationOptions & WithGrad): Promise<CorrelationResult<true>>;
export function correlationLossAsync(z1: TensorLike, z2: TensorLike, opts: CorrelationOptions & WithoutGrad): Promise<CorrelationResult<false>>;
export function correlationLossAsync(z1: TensorLike, z2: TensorLike, opts?: CorrelationOptions): Promise<CorrelationResult>;
export async function correlationLossAsync(z1: TensorLike, z2: TensorLike, opts?: CorrelationOptions): Promise<CorrelationResult> {
  const p = checkedUnderGroup(opts, 'correlationLoss', () => prepareCorrelation(z1, z2, opts));
  const raw = await callAsync(p,
    () => binding().correlationLoss(p.inputs[0], p.inputs[1], p.options, false),
    () => binding().correlationLoss(p.inputs[0], p.inputs[1], p.options, true));
  return correlationResult(raw, p.device, p.options.checkFinite);
}

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
 * @param z1 - `[N, D]` projections of view 1 (float32 or float64).
 * @param z2 - `[N, D]` projections of view 2 (same dtype).
 * @returns `loss`, `grad1` (∂loss/∂z1), `grad2` (∂loss/∂z2), `gradTemperature`.
 * @throws TypeError for a wrong type or mixed dtypes; RangeError for mismatched shapes, an empty batch
 *   or a bad option value.
 * @example
 * const { loss, grad1, grad2 } = ntXentLoss(z1, z2, { temperature: 0.5 });
 */
export function ntXentLoss(z1: TensorLike, z2: TensorLike, opts?: NtXentOptions & WithGrad): NpairsResult<true>;
export function ntXentLoss(z1: TensorLike, z2: TensorLike, opts: NtXentOptions & WithoutGrad): NpairsResult<false>;
export function ntXentLoss(z1: TensorLike, z2: TensorLike, opts?: NtXentOptions): NpairsResult;
export function ntXentLoss(z1: TensorLike, z2: TensorLike, opts?: NtXentOptions): NpairsResult {
  const p = checkedUnderGroup(opts, 'ntXentLoss', () => syncOnly(prepareNtXent(z1, z2, opts), 'ntXentLossAsync'));
  return npairsResult(callNative(() => binding().ntXentLoss(p.inputs[0], p.inputs[1], p.options, false)), p.device, p.options.checkFinite);
}

/**
 * {@link ntXentLoss} on a worker thread, off the event loop (inputs copied at
 * the call, small calls computed on the calling thread, as in {@link npairsLossAsync}).
 * @example
 * const { loss } = await ntXentLossAsync(z1, z2);
 */
export function ntXentLossAsync(z1: TensorLike, z2: TensorLike, opts?: NtXentOptions & WithGrad): Promise<NpairsResult<true>>;
export function ntXentLossAsync(z1: TensorLike, z2: TensorLike, opts: NtXentOptions & WithoutGrad): Promise<NpairsResult<false>>;
export function ntXentLossAsync(z1: TensorLike, z2: TensorLike, opts?: NtXentOptions): Promise<NpairsResult>;
export async function ntXentLossAsync(z1: TensorLike, z2: TensorLike, opts?: NtXentOptions): Promise<NpairsResult> {
  const p = checkedUnderGroup(opts, 'ntXentLoss', () => prepareNtXent(z1, z2, opts));
  const raw = await callAsync(p,
    () => binding().ntXentLoss(p.inputs[0], p.inputs[1], p.options, false),
    () => binding().ntXentLoss(p.inputs[0], p.inputs[1], p.options, true));
  return npairsResult(raw, p.device, p.options.checkFinite);
}

/**
 * SigLIP's pairwise sigmoid loss (Zhai et al. 2023) as open_clip's
 * `SigLipLoss` computes it: logits = scale · normalize(x1)·normalize(x2)ᵀ + bias,
 * labels y = +1 on the diagonal and −1 elsewhere (or `target`), and
 * loss = −Σᵢⱼ log σ(yᵢⱼ·logitsᵢⱼ) / N. Each pair is its own binary problem: no
 * softmax over the batch. `gradScale` and `gradBias` let a trainer learn the
 * two as SigLIP does (t' = log scale: ∂loss/∂t' = gradScale · scale).
 * Matches PyTorch autograd (float32: rtol 1e-5 / atol 1e-6; float64: 1e-10).
 *
 * @param x1 - `[N, D]` embeddings (float32 or float64), e.g. images.
 * @param x2 - `[M, D]` embeddings of the same dtype, e.g. texts.
 * @throws TypeError for a wrong type or mixed dtypes; RangeError for mismatched D, an empty batch,
 *   a bad option value or a target of the wrong shape.
 * @example
 * const { loss, grad1, grad2, gradScale, gradBias } = sigmoidLoss(img, txt, { scale: 10, bias: -10 });
 */
export function sigmoidLoss(x1: TensorLike, x2: TensorLike, opts?: SigmoidOptions & WithGrad): SigmoidResult<true>;
export function sigmoidLoss(x1: TensorLike, x2: TensorLike, opts: SigmoidOptions & WithoutGrad): SigmoidResult<false>;
export function sigmoidLoss(x1: TensorLike, x2: TensorLike, opts?: SigmoidOptions): SigmoidResult;
export function sigmoidLoss(x1: TensorLike, x2: TensorLike, opts?: SigmoidOptions): SigmoidResult {
  const p = checkedUnderGroup(opts, 'sigmoidLoss', () => syncOnly(prepareSigmoid(x1, x2, opts), 'sigmoidLossAsync'));
  return sigmoidResult(callNative(() => binding().sigmoidLoss(p.inputs[0], p.inputs[1], p.options, false)), p.device, p.options.checkFinite);
}

/**
 * {@link sigmoidLoss} on a worker thread, off the event loop (inputs copied at
 * the call, small calls computed on the calling thread, as in {@link npairsLossAsync}).
 * @example
 * const { loss } = await sigmoidLossAsync(img, txt);
 */
export function sigmoidLossAsync(x1: TensorLike, x2: TensorLike, opts?: SigmoidOptions & WithGrad): Promise<SigmoidResult<true>>;
export function sigmoidLossAsync(x1: TensorLike, x2: TensorLike, opts: SigmoidOptions & WithoutGrad): Promise<SigmoidResult<false>>;
export function sigmoidLossAsync(x1: TensorLike, x2: TensorLike, opts?: SigmoidOptions): Promise<SigmoidResult>;
export async function sigmoidLossAsync(x1: TensorLike, x2: TensorLike, opts?: SigmoidOptions): Promise<SigmoidResult> {
  const p = checkedUnderGroup(opts, 'sigmoidLoss', () => prepareSigmoid(x1, x2, opts));
  const raw = await callAsync(p,
    () => binding().sigmoidLoss(p.inputs[0], p.inputs[1], p.options, false),
    () => binding().sigmoidLoss(p.inputs[0], p.inputs[1], p.options, true));
  return sigmoidResult(raw, p.device, p.options.checkFinite);
}

/**
 * VICReg (Bardes et al. 2022) as lightly's `VICRegLoss` computes it:
 * invariance = mse(z1, z2); variance = the mean over the two views of
 * mean_j relu(gamma − sqrt(Var_j + eps)) (unbiased variance of each feature over
 * the batch); covariance = Σ_{i≠j} C_ij² / D summed over the two views (C the
 * unbiased covariance matrix); loss = 25·invariance + 25·variance + 1·covariance
 * by default. The terms come back before their weights.
 * Matches PyTorch autograd (float32: rtol 1e-5 / atol 1e-6; float64: 1e-10).
 *
 * @param z1 - `[N, D]` projections of view 1 (float32 or float64), N >= 2.
 * @param z2 - `[N, D]` projections of view 2 (same dtype).
 * @throws TypeError for a wrong type or mixed dtypes; RangeError for mismatched shapes, N < 2
 *   (without a group), an empty batch or a bad option value.
 * @example
 * const { loss, invariance, variance, covariance, grad1, grad2 } = vicregLoss(z1, z2);
 */
export function vicregLoss(z1: TensorLike, z2: TensorLike, opts?: VicregOptions & WithGrad): VicregResult<true>;
export function vicregLoss(z1: TensorLike, z2: TensorLike, opts: VicregOptions & WithoutGrad): VicregResult<false>;
export function vicregLoss(z1: TensorLike, z2: TensorLike, opts?: VicregOptions): VicregResult;
export function vicregLoss(z1: TensorLike, z2: TensorLike, opts?: VicregOptions): VicregResult {
  const p = checkedUnderGroup(opts, 'vicregLoss', () => syncOnly(prepareVicreg(z1, z2, opts), 'vicregLossAsync'));
  return vicregResult(callNative(() => binding().vicregLoss(p.inputs[0], p.inputs[1], p.options, false)), p.device, p.options.checkFinite);
}

/**
 * {@link vicregLoss} on a worker thread, off the event loop (inputs copied at
 * the call, small calls computed on the calling thread, as in {@link npairsLossAsync};
 * the work is 2·D·D·N).
 * @example
 * const { loss } = await vicregLossAsync(z1, z2);
 */
export function vicregLossAsync(z1: TensorLike, z2: TensorLike, opts?: VicregOptions & WithGrad): Promise<VicregResult<true>>;
export function vicregLossAsync(z1: TensorLike, z2: TensorLike, opts: VicregOptions & WithoutGrad): Promise<VicregResult<false>>;
export function vicregLossAsync(z1: TensorLike, z2: TensorLike, opts?: VicregOptions): Promise<VicregResult>;
export async function vicregLossAsync(z1: TensorLike, z2: TensorLike, opts?: VicregOptions): Promise<VicregResult> {
  const p = checkedUnderGroup(opts, 'vicregLoss', () => prepareVicreg(z1, z2, opts));
  const raw = await callAsync(p,
    () => binding().vicregLoss(p.inputs[0], p.inputs[1], p.options, false),
    () => binding().vicregLoss(p.inputs[0], p.inputs[1], p.options, true));
  return vicregResult(raw, p.device, p.options.checkFinite);
}
