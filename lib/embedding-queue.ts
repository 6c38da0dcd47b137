/**
 * An embedding queue: MoCo's FIFO of past keys (He et al. 2020; lightly's
 * `MemoryBankModule`), with labels XBM's cross-batch memory (Wang et al.
 * 2020), laid out so that the losses read it in place.
 */
import type { ProcessGroup } from './distributed';
import { invalidType, invalidValue, rangeError } from './errors';
import { npairsLoss, npairsLossAsync, NpairsOptions, NpairsResult } from './losses';
import { optionsObject } from './options';
import { labelList } from './indices';
import { checkMatrix, DType, FloatArray, Indices, operand, Tensor, TensorLike } from './tensor';

/** Options of {@link EmbeddingQueue}'s constructor. */
export interface EmbeddingQueueOptions {
  /** K: rows the queue holds (the newest K enqueued); >= 1. */
  size: number;
  /** D: width of the embeddings; >= 1. */
  dim: number;
  /** `'float32'` (default) or `'float64'`. */
  dtype?: DType;
  /**
   * B: rows kept in front of the queue for the current step's keys, so that
   * `[keys; queue]` is one tensor over the queue's memory
   * ({@link EmbeddingQueue.withKeys}, {@link EmbeddingQueue.npairsLoss}). Default 0 (negatives only).
   */
  keyRows?: number;
  /** Keep a class label per row (XBM; SupCon against the queue). Default false. */
  labels?: boolean;
}

/** Options of {@link EmbeddingQueue.npairsLoss}: those of `npairsLoss` that apply to `[keys; queue]` columns. */
export type QueueNpairsOptions = Omit<NpairsOptions, 'target' | 'labels' | 'symmetric' | 'excludeSelf' | 'group' | 'returnSimilarity' | 'out' | 'grad'> & {
  /**
   * SupCon against the queue: the class labels of this step's rows (query i
   * and key i share label i; a queue built with `labels: true`). Row i's target
   * is then uniform over the columns (keys and queue) with its label; a row
   * with none contributes 0 and still counts in the mean, as `npairsLoss`'s labels.
   * Default: none (MoCo / InfoNCE: query i's positive is key i, every other column a negative).
   */
  labels?: Indices;
  /** Caller memory for `grad1` (the queries' gradient), as `npairsLoss`'s `out.grad1`. */
  out?: { grad1?: Tensor | Float32Array | Float64Array };
};

function integer(value: unknown, name: string, min: number): number {
  if (typeof value !== 'number') throw invalidType(name, `an integer >= ${min}`, value);
  if (!Number.isInteger(value) || value < min || value > 2 ** 31) throw invalidValue(name, `an integer >= ${min}`, value);
  return value;
}

/**
 * A FIFO of the last K embeddings (and labels), MoCo's queue of keys: each
 * step's keys are enqueued after its loss (lightly's `MemoryBankModule`
 * order), the newest overwriting the oldest.
 *
 * **Layout, no copy per step.** One buffer of `[keyRows + K, D]`: the first
 * `keyRows` rows take the current step's keys, the last K are the ring. The
 * ring is read in its storage order, not its age order: a loss that sums
 * over its columns (the N-pairs and NT-Xent softmaxes) is the same for any
 * order of its negatives, so the only thing the order changes is the column
 * index of each negative in a similarity matrix. Until the ring is full its
 * filled rows are its first rows, so `[keys; queue]` is always one
 * contiguous view: {@link EmbeddingQueue.negatives} (the ring, for
 * `ntXentLoss`'s `negatives`), {@link EmbeddingQueue.withKeys} (x2 of
 * `npairsLoss`: M = keys + queue > N) and {@link EmbeddingQueue.npairsLoss}
 * (that call, with SupCon targets from the labels and the gradient of the
 * keys written into the queue's own memory). Enqueueing copies the batch
 * into the ring once; nothing else is allocated per step.
 *
 * Differences from the anchors: lightly's bank starts as random unit rows
 * (MoCo's too), this one empty (XBM's way; only filled rows are used): to
 * start as they do, enqueue K random rows first. MoCo asserts K % B == 0;
 * lightly, when a batch does not fit before the end, keeps only its first
 * rows and starts over at row 0; this ring wraps around (the same rows when
 * K % B == 0). A batch of more than K rows keeps its last K.
 *
 * Under a process group, lightly (`gather_distributed`) and MoCo enqueue the
 * gathered keys of every rank, in rank order, and compute each rank's loss
 * on its own rows against that shared queue: {@link EmbeddingQueue.enqueueGathered}.
 * @example
 * const queue = new EmbeddingQueue({ size: 4096, dim: 128, keyRows: 256 });
 * const { loss, grad1 } = queue.npairsLoss(queries, keys, { temperature: 0.2 });  // MoCo's InfoNCE
 * queue.enqueue(keys);
 */
export class EmbeddingQueue {
  /** K: the rows the queue holds when full. */
  readonly size: number;
  /** D: the embeddings' width. */
  readonly dim: number;
  /** The embeddings' dtype. */
  readonly dtype: DType;
  /** Rows kept in front of the ring for the current keys. */
  readonly keyRows: number;
  /** Whether the queue keeps a label per row. */
  readonly labelled: boolean;
  readonly #data: FloatArray;
  readonly #labels: Int32Array | undefined;
  #count = 0;
  #next = 0;
  /** Scratch for npairsLoss, made on first use and kept: the gradient of [keys; queue] and the SupCon target. */
  #grad2: FloatArray | undefined;
  #target: FloatArray | undefined;

  /**
   * @param opts - see {@link EmbeddingQueueOptions}.
   * @throws TypeError for a wrong type; RangeError for a size, dim below 1 or keyRows below 0 (naming it).
   */
  constructor(opts: EmbeddingQueueOptions) {
    const o = optionsObject(opts, ['size', 'dim', 'dtype', 'keyRows', 'labels'], 'opts');
    this.size = integer(o.size, 'size', 1);
    this.dim = integer(o.dim, 'dim', 1);
    this.keyRows = o.keyRows === undefined ? 0 : integer(o.keyRows, 'keyRows', 0);
    const dtype = o.dtype ?? 'float32';
    if (dtype !== 'float32' && dtype !== 'float64') throw invalidValue('dtype', "'float32' or 'float64'", dtype);
    this.dtype = dtype;
    if (o.labels !== undefined && typeof o.labels !== 'boolean') throw invalidType('labels', 'a boolean', o.labels);
    this.labelled = o.labels === true;
    const rows = this.keyRows + this.size;
    this.#data = dtype === 'float64' ? new Float64Array(rows * this.dim) : new Float32Array(rows * this.dim);
    this.#labels = this.labelled ? new Int32Array(rows) : undefined;
  }

  /** Rows in the queue: min(K, rows enqueued so far). */
  get count(): number {
    return this.#count;
  }

  /** The ring's row the next enqueued row goes to (the oldest row, once full). */
  get position(): number {
    return this.#next;
  }

  /**
   * Appends a batch, the newest rows overwriting the oldest (a copy into the ring).
   * @param batch - `[rows, D]` embeddings (the queue's dtype): MoCo's keys of this step.
   * @param labels - `rows` class labels, for a queue made with `labels: true` (and only then).
   * @throws TypeError for a wrong type or another dtype; RangeError for another width, or labels
   *   missing, unexpected or of the wrong length.
   */
  enqueue(batch: TensorLike, labels?: Indices): void {
    const b = this.#matrix(batch, 'batch');
    const rows = b.shape[0];
    const l = this.#labelsOf(labels, rows);
    // a batch of more than K rows keeps its last K
    const skip = Math.max(0, rows - this.size);
    const d = this.dim;
    const ring = this.keyRows;
    for (let from = skip; from < rows;) {
      const run = Math.min(rows - from, this.size - this.#next);
      this.#data.set(b.data.subarray(from * d, (from + run) * d), (ring + this.#next) * d);
      if (l !== undefined) {
        for (let i = 0; i < run; i++) this.#labels![ring + this.#next + i] = Number(l[from + i]);
      }
      from += run;
      this.#next = (this.#next + run) % this.size;
    }
    this.#count = Math.min(this.size, this.#count + rows);
  }

  /**
   * Enqueues every rank's batch, in rank order (lightly's `gather_distributed`,
   * MoCo's `concat_all_gather`): one all-gather (of the labels too, as a
   * second one). Every rank calls it with a batch of the same shape; every
   * rank's queue then holds the same rows.
   * @param group - the process group.
   * @throws as {@link EmbeddingQueue.enqueue}, and the all-gather's errors.
   */
  async enqueueGathered(group: ProcessGroup, batch: TensorLike, labels?: Indices): Promise<void> {
    if (group === null || typeof group !== 'object' || typeof (group as { allGather?: unknown }).allGather !== 'function') {
      throw invalidType('group', 'a ProcessGroup', group);
    }
    const b = this.#matrix(batch, 'batch');
    const l = this.#labelsOf(labels, b.shape[0]);
    const parts = await group.allGather(b);
    const labelParts = l === undefined ? undefined : await group.allGather(Tensor.from(Float64Array.from(l, Number), [l.length]));
    parts.forEach((part, r) => this.enqueue(part, labelParts === undefined ? undefined : Int32Array.from(labelParts[r].data())));
  }

  /**
   * The queue's rows, `[count, D]`, in the ring's storage order: a view of
   * its memory (no copy), for `ntXentLoss`'s `negatives`. Valid until the next enqueue changes it.
   * @throws RangeError while the queue is empty.
   */
  negatives(): Tensor<2> {
    if (this.#count === 0) throw rangeError('queue', 'is empty: enqueue a batch first');
    const d = this.dim;
    return Tensor.from(this.#data.subarray(this.keyRows * d, (this.keyRows + this.#count) * d), [this.#count, d]);
  }

  /** The labels of {@link EmbeddingQueue.negatives}' rows (a view), for a queue with labels. */
  negativeLabels(): Int32Array {
    if (this.#labels === undefined) throw rangeError('labels', 'this queue keeps none (make it with labels: true)');
    return this.#labels.subarray(this.keyRows, this.keyRows + this.#count);
  }

  /**
   * `[keys; queue]` as one tensor over the queue's memory: the keys are
   * copied into the rows in front of the ring (the last `rows` of them, so
   * the view is contiguous), the queue is not copied. x2 of `npairsLoss`:
   * `npairsLoss(queries, queue.withKeys(keys))` is MoCo's InfoNCE with the
   * other keys of the batch as negatives too (M = rows + count > N).
   * @param keys - `[rows, D]`, rows <= keyRows.
   * @param labels - the keys' labels, for a queue with labels (optional there: only SupCon's target reads them).
   * @returns `[rows + count, D]`, valid until the next withKeys or enqueue.
   * @throws TypeError / RangeError as {@link EmbeddingQueue.enqueue}; RangeError for more rows than keyRows.
   */
  withKeys(keys: TensorLike, labels?: Indices): Tensor<2> {
    const k = this.#matrix(keys, 'keys');
    const rows = k.shape[0];
    if (rows > this.keyRows) throw rangeError('keys', `${rows} rows, beyond the queue's keyRows (${this.keyRows}) in front of the ring`);
    // the keys' labels matter only to SupCon's target (npairsLoss with labels)
    const l = labels === undefined && this.labelled ? undefined : this.#labelsOf(labels, rows);
    const first = this.keyRows - rows;
    const d = this.dim;
    this.#data.set(k.data, first * d);
    if (l !== undefined) for (let i = 0; i < rows; i++) this.#labels![first + i] = Number(l[i]);
    return Tensor.from(this.#data.subarray(first * d, (this.keyRows + this.#count) * d), [rows + this.#count, d]);
  }

  /**
   * The N-pairs (InfoNCE) loss of `queries` against `[keys; queue]`:
   * `npairsLoss(queries, withKeys(keys), opts)`, query i's positive key i.
   * With `labels`: SupCon against the queue (a queue with labels), the
   * target of row i uniform over the columns with its label. `grad2` is the
   * keys' gradient (`[rows, D]`, a view of memory the queue keeps: valid
   * until the next call); the queue's rows get none (they are constants, as
   * MoCo's queue). Enqueue the keys after it (lightly's order).
   * @param queries - `[rows, D]`.
   * @param keys - `[rows, D]`, rows <= keyRows.
   * @throws as {@link EmbeddingQueue.withKeys} and `npairsLoss`; RangeError for `group` (the queue's loss is each rank's own).
   */
  npairsLoss(queries: TensorLike, keys: TensorLike, opts: QueueNpairsOptions = {}): NpairsResult<true> {
    const [x2, options, cut] = this.#prepare(queries, keys, opts);
    return cut(npairsLoss(queries, x2, options));
  }

  /** {@link EmbeddingQueue.npairsLoss} off the event loop; `opts.signal` as the losses'. Do not enqueue before it settles. */
  async npairsLossAsync(queries: TensorLike, keys: TensorLike, opts: QueueNpairsOptions = {}): Promise<NpairsResult<true>> {
    const [x2, options, cut] = this.#prepare(queries, keys, opts);
    return cut(await npairsLossAsync(queries, x2, options));
  }

  #prepare(queries: TensorLike, keys: TensorLike, opts: QueueNpairsOptions):
    [Tensor<2>, NpairsOptions & { grad: true }, (r: NpairsResult<true>) => NpairsResult<true>] {
    if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) throw invalidType('opts', 'an options object', opts);
    const { labels, out, ...rest } = opts as QueueNpairsOptions & Record<string, unknown>;
    for (const key of ['target', 'symmetric', 'excludeSelf', 'group', 'returnSimilarity', 'grad']) {
      if (key in rest) {
        throw rangeError(key, key === 'group'
          ? "the queue's loss is each rank's own (MoCo, lightly); share the keys with enqueueGathered"
          : 'is not an option of the queue\'s npairsLoss (its columns are [keys; queue])');
      }
    }
    const q = this.#matrix(queries, 'queries');
    const x2 = this.withKeys(keys, labels);
    const rows = q.shape[0];
    if (rows !== x2.shape[0] - this.#count) throw rangeError('keys', `must have the ${rows} rows of queries (key i is query i's positive), got ${x2.shape[0] - this.#count}`);
    const m = x2.shape[0];
    const d = this.dim;
    this.#grad2 ??= this.dtype === 'float64' ? new Float64Array((this.keyRows + this.size) * d) : new Float32Array((this.keyRows + this.size) * d);
    const grad2 = this.#grad2.subarray(0, m * d);
    const options: NpairsOptions & { grad: true } = { ...rest, grad: true, out: { ...(out ?? {}), grad2 } };
    if (labels !== undefined) options.target = this.#supConTarget(rows, m);
    const cut = (r: NpairsResult<true>): NpairsResult<true> => ({ ...r, grad2: Tensor.from(grad2.subarray(0, rows * d), [rows, d]) });
    return [x2, options, cut];
  }

  /** Row i: 1/count over the columns of [keys; queue] with key i's label (all 0 with none). */
  #supConTarget(rows: number, m: number): Tensor<2> {
    this.#target ??= this.dtype === 'float64' ? new Float64Array(this.keyRows * (this.keyRows + this.size)) : new Float32Array(this.keyRows * (this.keyRows + this.size));
    const t = this.#target.subarray(0, rows * m);
    const labels = this.#labels!.subarray(this.keyRows - rows, this.keyRows + this.#count);
    for (let i = 0; i < rows; i++) {
      const own = labels[i];
      let positives = 0;
      for (let j = 0; j < m; j++) if (labels[j] === own) positives++;
      const p = 1 / positives;
      for (let j = 0; j < m; j++) t[i * m + j] = labels[j] === own ? p : 0;
    }
    return Tensor.from(t, [rows, m]);
  }

  #matrix(x: unknown, name: string): { data: FloatArray; shape: number[] } {
    const v = operand(x, name, this.dtype);
    checkMatrix(v, name);
    if (v.dtype !== this.dtype) throw new TypeError(`${name} must have the queue's dtype (${this.dtype}), got ${v.dtype}`);
    if (v.device !== 'cpu') throw rangeError(name, `must be in CPU memory, got a tensor on ${v.device}`);
    if (v.shape[1] !== this.dim) throw rangeError(name, `must have the queue's width D = ${this.dim}, got ${v.shape[1]} columns`);
    if (v.shape[0] === 0) throw rangeError(name, 'an empty batch (0 rows); expected at least one row');
    return { data: v.data, shape: v.shape };
  }

  #labelsOf(labels: unknown, rows: number): ArrayLike<number | bigint> | undefined {
    if (!this.labelled) {
      if (labels !== undefined) throw rangeError('labels', 'this queue keeps none (make it with labels: true)');
      return undefined;
    }
    if (labels === undefined) throw rangeError('labels', `this queue keeps a label per row: expected ${rows} labels`);
    return labelList(labels, 'labels', rows);
  }
}
