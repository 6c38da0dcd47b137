/**
 * A gradient cache (GradCache, Gao et al. 2021): a contrastive batch larger
 * than the model's activations fit, embedded micro-batch by micro-batch
 * without keeping activations, one loss over the whole batch, then each
 * micro-batch's embedding gradients for a second forward with backprop.
 */
import { invalidType, invalidValue, rangeError } from './errors';
import {
  correlationLoss, correlationLossAsync, npairsLoss, npairsLossAsync, ntXentLoss, ntXentLossAsync, sigmoidLoss, sigmoidLossAsync,
  vicregLoss, vicregLossAsync, CorrelationOptions, CorrelationResult, NpairsOptions, NpairsResult, NtXentOptions, SigmoidOptions,
  SigmoidResult, VicregOptions, VicregResult,
} from './losses';
import { optionsObject } from './options';
import { labelList } from './indices';
import { checkMatrix, DType, FloatArray, Indices, operand, Tensor, TensorLike } from './tensor';

/** The losses a {@link GradCache} computes, and the options and result of each. */
export interface GradCacheLosses {
  /** {@link npairsLoss}: InfoNCE, CLIP (`symmetric`), SupCon (`labels`). */
  npairs: { options: NpairsOptions; result: NpairsResult<true> };
  /** {@link ntXentLoss}: SimCLR's NT-Xent (also with `negatives`). */
  ntXent: { options: NtXentOptions; result: NpairsResult<true> };
  /** {@link sigmoidLoss}: SigLIP. */
  sigmoid: { options: SigmoidOptions; result: SigmoidResult<true> };
  /** {@link vicregLoss}: VICReg. */
  vicreg: { options: VicregOptions; result: VicregResult<true> };
  /** {@link correlationLoss}: Barlow Twins. */
  correlation: { options: CorrelationOptions; result: CorrelationResult<true> };
}

/** The name of a loss a {@link GradCache} computes. */
export type GradCacheLoss = keyof GradCacheLosses;

/** A loss's options as a {@link GradCache} takes them: the cache owns the gradients' memory (`out`, `grad`) and the call (`signal`). */
export type GradCacheLossOptions<L extends GradCacheLoss> = Omit<GradCacheLosses[L]['options'], 'out' | 'grad' | 'signal' | 'returnSimilarity'>;

/** Options of {@link GradCache}'s constructor. */
export interface GradCacheOptions<L extends GradCacheLoss> {
  /** The loss over the whole batch: `'npairs'`, `'ntXent'`, `'sigmoid'`, `'vicreg'` or `'correlation'`. */
  loss: L;
  /** Rows of each view in the whole batch (this rank's, under a group), over all micro-batches; >= 1. */
  batchSize: number;
  /** Width D of the embeddings; >= 1. */
  dim: number;
  /** `'float32'` (default) or `'float64'`: the embeddings' dtype. */
  dtype?: DType;
  /** The loss's options (its `group` for global negatives, `temperature`, `labels`…), except `out`, `grad`, `signal`, `returnSimilarity`. */
  lossOptions?: GradCacheLossOptions<L>;
}

/** One micro-batch's embedding gradients: views of the cache's gradient memory (no copy). */
export interface MicroBatchGradients {
  /** ∂loss/∂x1 for this micro-batch's rows, `[rows, D]`. */
  grad1: Tensor<2>;
  /** ∂loss/∂x2 for this micro-batch's rows, `[rows, D]`. */
  grad2: Tensor<2>;
}

const LOSSES = {
  npairs: [npairsLoss, npairsLossAsync, 'x1', 'x2'],
  ntXent: [ntXentLoss, ntXentLossAsync, 'z1', 'z2'],
  sigmoid: [sigmoidLoss, sigmoidLossAsync, 'x1', 'x2'],
  vicreg: [vicregLoss, vicregLossAsync, 'z1', 'z2'],
  correlation: [correlationLoss, correlationLossAsync, 'z1', 'z2'],
} as const;

const OWNED = ['out', 'grad', 'signal', 'returnSimilarity'] as const;

interface MicroBatch {
  start: number;
  rows: number;
  handedOut: boolean;
}

function positiveInteger(value: unknown, name: string): number {
  if (typeof value !== 'number') throw invalidType(name, 'a positive integer', value);
  if (!Number.isInteger(value) || value < 1 || value > 2 ** 31) throw invalidValue(name, 'an integer >= 1', value);
  return value;
}

/**
 * A gradient cache (GradCache, Gao et al. 2021) over one of the losses: the
 * caller embeds its batch micro-batch by micro-batch without keeping the
 * activations (tfjs: outside the tape; PyTorch: `no_grad`) and hands each
 * micro-batch's embeddings to {@link GradCache.add}; {@link GradCache.loss}
 * computes the loss once over the whole batch (under the loss's `group`:
 * with every rank's negatives); {@link GradCache.gradients} then gives each
 * micro-batch's embedding gradients, which the caller backpropagates
 * through the model by embedding that micro-batch again, this time on the
 * tape (the surrogate `Σ embeddings · grad`: pairloss/tfjs's
 * `cachedGradient`). The summed weight gradients equal those of the whole
 * batch at once; the loss and the embedding gradients are those of one
 * call on the whole batch, to the bit (it is that call).
 *
 * Memory: two `[batchSize, D]` buffers for the embeddings (each micro-batch
 * copied in once, as it arrives) and two for the gradients (the loss writes
 * them through its `out` option); a micro-batch's gradients are views of
 * them. The cache allocates nothing else per step (the loss itself works as
 * it always does: a `lossAsync` sent to the libuv pool copies its inputs
 * there, as every async loss). A gradient view stays valid
 * until the next batch's loss overwrites it.
 *
 * A cache is reused: {@link GradCache.reset} starts the next batch.
 * @example
 * const cache = new GradCache({ loss: 'npairs', batchSize: 1024, dim: 128, lossOptions: { symmetric: true, temperature: 0.07 } });
 * for (const [a, b] of microBatches) cache.add(embedNoGrad(a), embedNoGrad(b));
 * const { loss } = cache.loss();
 * microBatches.forEach(([a, b], i) => { const { grad1, grad2 } = cache.gradients(i); backprop(a, grad1); backprop(b, grad2); });
 * cache.reset();
 */
export class GradCache<L extends GradCacheLoss = GradCacheLoss> {
  /** The loss this cache computes. */
  readonly lossName: L;
  /** Rows of each view in the whole batch. */
  readonly batchSize: number;
  /** Width of the embeddings. */
  readonly dim: number;
  /** The embeddings' dtype. */
  readonly dtype: DType;
  readonly #options: Record<string, unknown>;
  readonly #x1: FloatArray;
  readonly #x2: FloatArray;
  readonly #g1: FloatArray;
  readonly #g2: FloatArray;
  /** Labels given with the micro-batches (npairs, SupCon), or undefined. */
  #labels: Int32Array | undefined;
  #labelled: boolean | undefined;
  #rows = 0;
  #batches: MicroBatch[] = [];
  #computed = false;
  #computing = false;
  /** True after a reset that followed a computed loss, until the next loss: gradients() then names the reset. */
  #wasReset = false;

  /**
   * @param opts - see {@link GradCacheOptions}.
   * @throws TypeError for a wrong type; RangeError for a batchSize or dim below 1, an unknown loss, or
   *   an option the cache owns (`out`, `grad`, `signal`, `returnSimilarity`) in lossOptions.
   */
  constructor(opts: GradCacheOptions<L>) {
    const o = optionsObject(opts, ['loss', 'batchSize', 'dim', 'dtype', 'lossOptions'], 'opts');
    if (typeof o.loss !== 'string') throw invalidType('loss', `one of ${Object.keys(LOSSES).join(', ')}`, o.loss);
    if (!Object.prototype.hasOwnProperty.call(LOSSES, o.loss)) throw invalidValue('loss', `one of ${Object.keys(LOSSES).join(', ')}`, o.loss);
    this.lossName = o.loss as L;
    this.batchSize = positiveInteger(o.batchSize, 'batchSize');
    this.dim = positiveInteger(o.dim, 'dim');
    const dtype = o.dtype ?? 'float32';
    if (dtype !== 'float32' && dtype !== 'float64') throw invalidValue('dtype', "'float32' or 'float64'", dtype);
    this.dtype = dtype;
    const lossOptions = o.lossOptions ?? {};
    if (lossOptions === null || typeof lossOptions !== 'object' || Array.isArray(lossOptions)) {
      throw invalidType('lossOptions', 'an options object', lossOptions);
    }
    for (const key of OWNED) {
      if (key in lossOptions) throw rangeError(`lossOptions.${key}`, 'is the cache\'s own (it computes the gradients into its buffers); leave it out');
    }
    this.#options = { ...(lossOptions as Record<string, unknown>) };
    const size = this.batchSize * this.dim;
    const Array_ = dtype === 'float64' ? Float64Array : Float32Array;
    this.#x1 = new Array_(size);
    this.#x2 = new Array_(size);
    this.#g1 = new Array_(size);
    this.#g2 = new Array_(size);
  }

  /** Rows of each view received so far for the current batch. */
  get rows(): number {
    return this.#rows;
  }

  /** Micro-batches received so far for the current batch. */
  get microBatches(): number {
    return this.#batches.length;
  }

  /** True once every row of the batch has arrived. */
  get complete(): boolean {
    return this.#rows === this.batchSize;
  }

  /**
   * Adds one micro-batch: its rows of both views (copied into the cache's
   * buffers, after the rows already there), and with the `'npairs'` loss
   * optionally their SupCon `labels` (then every micro-batch gives them).
   * @param x1 - `[rows, D]` embeddings of view 1 (the cache's dtype).
   * @param x2 - `[rows, D]` embeddings of view 2.
   * @param labels - `rows` class labels (`'npairs'` only; not with lossOptions.labels).
   * @returns the micro-batch's index, for {@link GradCache.gradients}.
   * @throws TypeError for a wrong type or a dtype other than the cache's; RangeError for a width other
   *   than `dim`, views of different row counts, an empty micro-batch, rows beyond `batchSize`, labels of
   *   the wrong length, or a batch whose loss is already computed (reset first).
   */
  add(x1: TensorLike, x2: TensorLike, labels?: Indices): number {
    const [n1, n2] = [LOSSES[this.lossName][2], LOSSES[this.lossName][3]];
    if (this.#computing) throw rangeError(n1, 'this batch\'s loss is computing (lossAsync); once it settles, reset() starts the next batch');
    if (this.#computed) throw rangeError(n1, 'this batch\'s loss is already computed; call reset() to start the next batch');
    const a = this.#view(x1, n1);
    const b = this.#view(x2, n2);
    const rows = a.shape[0];
    if (b.shape[0] !== rows) throw rangeError(n2, `must have the ${rows} rows of ${n1} (one micro-batch of both views), got ${b.shape[0]}`);
    if (rows === 0) throw rangeError(n1, 'an empty micro-batch (0 rows); expected at least one row');
    if (this.#rows + rows > this.batchSize) {
      throw rangeError(n1, `${rows} more rows would make ${this.#rows + rows}, beyond the declared batchSize ${this.batchSize}`);
    }
    const givesLabels = labels !== undefined;
    if (givesLabels) {
      if (this.lossName !== 'npairs') throw rangeError('labels', `are SupCon's, for the 'npairs' loss; this cache computes '${this.lossName}'`);
      if (this.#options.labels !== undefined) throw rangeError('labels', 'were given for the whole batch in lossOptions.labels; give them there or per micro-batch, not both');
    }
    if (this.#labelled !== undefined && this.#labelled !== givesLabels) {
      throw rangeError('labels', `micro-batch ${this.#batches.length} ${givesLabels ? 'gives labels and the earlier ones did not' : 'gives none and the earlier ones did'}`);
    }
    const checkedLabels = givesLabels ? labelList(labels, 'labels', rows) : undefined;
    // every check passed: copy in
    const start = this.#rows;
    this.#x1.set(a.data, start * this.dim);
    this.#x2.set(b.data, start * this.dim);
    if (checkedLabels !== undefined) {
      this.#labels ??= new Int32Array(this.batchSize);
      for (let i = 0; i < rows; i++) this.#labels[start + i] = Number(checkedLabels[i]);
    }
    this.#labelled = givesLabels;
    this.#rows += rows;
    this.#batches.push({ start, rows, handedOut: false });
    return this.#batches.length - 1;
  }

  /**
   * The loss over the whole batch, one call of the loss (its result: the
   * loss, its terms, `gradTemperature`…; `grad1`/`grad2` are the whole
   * batch's gradients, over the cache's memory). Then {@link GradCache.gradients}.
   * @param overrides - options of the loss for this batch only, over `lossOptions` (a temperature
   *   learned step by step, an EmbeddingQueue's `negatives()`); not `out`, `grad`, `signal`, `returnSimilarity`.
   * @throws RangeError before every row has arrived, or when called twice for one batch; the loss's own errors.
   * @example
   * const { loss, gradTemperature } = cache.loss({ temperature: Math.exp(logT) });
   */
  loss(overrides?: GradCacheLossOptions<L>): GradCacheLosses[L]['result'] {
    const [fn] = this.#call();
    const options = this.#lossOptions(overrides, false);
    this.#computing = true;
    try {
      const r = (fn as (a: TensorLike, b: TensorLike, o: unknown) => GradCacheLosses[L]['result'])(this.#input(this.#x1), this.#input(this.#x2), options);
      this.#done();
      return r;
    } finally {
      this.#computing = false;
    }
  }

  /**
   * {@link GradCache.loss} off the event loop (the loss's async form; under a
   * group prefer this). Do not add rows or reset until it settles.
   * @param overrides - as {@link GradCache.loss}'s, and `signal` (an AbortSignal, as the losses'):
   *   an aborted call rejects and leaves the batch without a loss (call it again, or reset).
   */
  async lossAsync(overrides?: GradCacheLossOptions<L> & { signal?: AbortSignal }): Promise<GradCacheLosses[L]['result']> {
    const [, fn] = this.#call();
    const options = this.#lossOptions(overrides, true);
    this.#computing = true;
    try {
      const r = await (fn as (a: TensorLike, b: TensorLike, o: unknown) => Promise<GradCacheLosses[L]['result']>)(this.#input(this.#x1), this.#input(this.#x2), options);
      this.#done();
      return r;
    } finally {
      this.#computing = false;
    }
  }

  /**
   * Micro-batch `microBatch`'s embedding gradients, once per batch: views of
   * the cache's gradient memory (no copy), valid until the next batch's loss.
   * @param microBatch - the index {@link GradCache.add} returned.
   * @throws TypeError for a non-integer; RangeError before the loss is computed (or after a reset), for an
   *   index with no micro-batch, or for a micro-batch whose gradients were already handed out.
   */
  gradients(microBatch: number): MicroBatchGradients {
    if (typeof microBatch !== 'number') throw invalidType('microBatch', 'a micro-batch index', microBatch);
    if (!this.#computed) {
      throw rangeError('microBatch', this.#wasReset
        ? `the cache was reset: micro-batch ${microBatch}'s gradients belonged to the previous batch`
        : 'the loss of this batch is not computed yet: call loss() first');
    }
    if (!Number.isInteger(microBatch) || microBatch < 0 || microBatch >= this.#batches.length) {
      throw invalidValue('microBatch', `a micro-batch index in [0, ${this.#batches.length})`, microBatch);
    }
    const mb = this.#batches[microBatch];
    if (mb.handedOut) throw rangeError('microBatch', `micro-batch ${microBatch}'s gradients were already handed out for this batch`);
    mb.handedOut = true;
    const [from, to] = [mb.start * this.dim, (mb.start + mb.rows) * this.dim];
    return {
      grad1: Tensor.from(this.#g1.subarray(from, to), [mb.rows, this.dim]),
      grad2: Tensor.from(this.#g2.subarray(from, to), [mb.rows, this.dim]),
    };
  }

  /**
   * Starts the next batch: forgets the rows and micro-batches (the memory is
   * kept and reused). Gradients not yet taken can no longer be asked for.
   * @throws RangeError while an async loss is computing.
   */
  reset(): void {
    if (this.#computing) throw rangeError('reset', 'the loss is computing (lossAsync); reset once it has settled');
    this.#wasReset = this.#computed || this.#wasReset;
    this.#rows = 0;
    this.#batches = [];
    this.#computed = false;
    this.#labelled = undefined;
  }

  #view(x: unknown, name: string): { data: FloatArray; shape: number[] } {
    const v = operand(x, name, this.dtype);
    checkMatrix(v, name);
    if (v.dtype !== this.dtype) throw new TypeError(`${name} must have the cache's dtype (${this.dtype}), got ${v.dtype}`);
    if (v.device !== 'cpu') throw rangeError(name, `must be in CPU memory, got a tensor on ${v.device}`);
    if (v.shape[1] !== this.dim) throw rangeError(name, `must have the cache's width D = ${this.dim}, got ${v.shape[1]} columns`);
    return { data: v.data, shape: v.shape };
  }

  #call(): (typeof LOSSES)[GradCacheLoss] {
    if (this.#computing) throw rangeError('loss', 'already computing (lossAsync) for this batch');
    if (this.#computed) throw rangeError('loss', 'already computed for this batch; call reset() to start the next one');
    if (this.#rows < this.batchSize) {
      throw rangeError('loss', `${this.#rows} of the batch's ${this.batchSize} rows have arrived (${this.#batches.length} micro-batches); add the rest first`);
    }
    return LOSSES[this.lossName];
  }

  #input(data: FloatArray): TensorLike {
    return { data, shape: [this.batchSize, this.dim] };
  }

  #lossOptions(overrides: unknown, async: boolean): Record<string, unknown> {
    const options: Record<string, unknown> = { ...this.#options };
    if (overrides !== undefined) {
      if (overrides === null || typeof overrides !== 'object' || Array.isArray(overrides)) throw invalidType('overrides', 'an options object', overrides);
      for (const key of OWNED) {
        if (key in overrides && !(async && key === 'signal')) {
          throw rangeError(`overrides.${key}`, key === 'signal' ? 'applies to lossAsync' : 'is the cache\'s own (it computes the gradients into its buffers); leave it out');
        }
      }
      Object.assign(options, overrides);
    }
    if (this.#labelled) {
      if (options.labels !== undefined) throw rangeError('labels', 'were given with the micro-batches; give them there or in the options, not both');
      options.labels = this.#labels;
    }
    options.out = { grad1: this.#g1, grad2: this.#g2 };
    return options;
  }

  #done(): void {
    this.#computed = true;
    this.#wasReset = false;
  }
}
