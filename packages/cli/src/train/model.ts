/**
 * The two towers of the training job: each maps a view's sparse n-gram
 * features (a CSR batch) to an embedding, `z = x W` (linear) or
 * `z = relu(x W1 + b1) W2` (two layers). The products run through
 * pairloss's `sparseMatmul` (the first layer, forward and its weight
 * gradient `xᵀ·g`) and `matmul` with its transpose flags (the second layer);
 * every result lands in memory the tower allocated once, so a step
 * allocates nothing. The chain rule from the loss's gradient down to the
 * weights is written out here; {@link Adam} (pairloss's fused `adam`)
 * updates them.
 */
import { adam, csrIndexSelect, csrTensor, CsrTensor, matmul, sparseMatmul } from 'pairloss';
import type { SparseRows } from './data';
import type { Rng } from './rng';

/** A trainable array and its gradient. */
export interface Param {
  readonly name: string;
  readonly shape: readonly number[];
  readonly value: Float32Array;
  readonly grad: Float32Array;
}

/** Shape of a {@link Tower}. */
export interface TowerShape {
  /** Input features (hash buckets). */
  inDim: number;
  /** Hidden units of the two-layer tower; 0 for a linear tower. */
  hidden: number;
  /** Embedding size. */
  outDim: number;
}

function param(name: string, shape: number[]): Param {
  const n = shape.reduce((a, b) => a * b, 1);
  return { name, shape, value: new Float32Array(n), grad: new Float32Array(n) };
}

/**
 * One view's sparse matrix held natively once (pairloss's `csrTensor`: checked
 * and copied when made), and its batches gathered from it by pairloss's
 * `csrIndexSelect` into two CsrTensors refilled in turn: a batch stays valid
 * while the next one is made (the next step's batch is gathered while the
 * current one still serves backward), and a step allocates nothing.
 */
export class CsrRows {
  /** The whole matrix `[rows, dim]`. */
  readonly all: CsrTensor;
  private readonly batches: (CsrTensor | undefined)[] = [undefined, undefined];
  private turn = 0;

  constructor(m: SparseRows) {
    this.all = csrTensor({ indptr: m.ptr, indices: m.idx, values: m.val, shape: [m.rows, m.dim] });
  }

  /**
   * The rows `rows` of the matrix, in the next of the two batch CsrTensors
   * (valid until the call after next, which refills it).
   */
  of(rows: Int32Array | readonly number[]): CsrTensor {
    const i = this.turn;
    this.turn ^= 1;
    const out = this.batches[i];
    if (out === undefined) return (this.batches[i] = csrIndexSelect(this.all, rows));
    return csrIndexSelect(this.all, rows, { out });
  }
}

/** One encoder: linear (`hidden = 0`) or two layers with a ReLU. */
export class Tower {
  readonly shape: TowerShape;
  readonly params: Param[];
  private readonly w1: Param;
  private readonly b1: Param | null;
  private readonly w2: Param | null;
  // activations and gradients, reused while the batch size stays the same
  private rows = 0;
  private hidden: Float32Array = new Float32Array(0);
  private gradHidden: Float32Array = new Float32Array(0);
  private z: Float32Array = new Float32Array(0);

  /**
   * @param shape - sizes; weights start as N(0, 1/fanIn) (He for the ReLU layer), biases at 0.
   * @param rng - the seeded generator the weights are drawn from.
   */
  constructor(shape: TowerShape, rng: Rng) {
    this.shape = { ...shape };
    const { inDim, hidden, outDim } = shape;
    // inputs are L2-normalised rows: N(0, 1) weights give outputs of unit variance
    if (hidden > 0) {
      this.w1 = param('w1', [inDim, hidden]);
      this.b1 = param('b1', [hidden]);
      this.w2 = param('w2', [hidden, outDim]);
      fillNormal(this.w1.value, rng, 1);
      fillNormal(this.w2.value, rng, Math.sqrt(2 / hidden));
      this.params = [this.w1, this.b1, this.w2];
    } else {
      this.w1 = param('w', [inDim, outDim]);
      this.b1 = null;
      this.w2 = null;
      fillNormal(this.w1.value, rng, 1);
      this.params = [this.w1];
    }
  }

  private size(rows: number): void {
    if (rows === this.rows) return;
    const { hidden, outDim } = this.shape;
    this.rows = rows;
    this.z = new Float32Array(rows * outDim);
    this.hidden = new Float32Array(rows * hidden);
    this.gradHidden = new Float32Array(rows * hidden);
  }

  /**
   * The embeddings `[rows, outDim]` of a CSR batch `x` (`[rows, inDim]`), in
   * memory the tower reuses: read them before the next forward. Keeps what
   * {@link Tower.backward} needs.
   */
  forward(x: CsrTensor): Float32Array {
    const rows = x.shape[0];
    this.size(rows);
    const { hidden, inDim } = this.shape;
    const w1 = [inDim, hidden || this.shape.outDim];
    if (!this.w2 || !this.b1) {
      sparseMatmul(x, { data: this.w1.value, shape: w1 }, { out: this.z });
      return this.z;
    }
    // h = relu(x W1 + b1)
    const h = this.hidden;
    sparseMatmul(x, { data: this.w1.value, shape: w1 }, { out: h });
    const b1 = this.b1.value;
    for (let i = 0; i < rows; i++) {
      const base = i * hidden;
      for (let j = 0; j < hidden; j++) {
        const v = h[base + j] + b1[j];
        h[base + j] = v > 0 ? v : 0;
      }
    }
    matmul({ data: h, shape: [rows, hidden] }, { data: this.w2.value, shape: [hidden, this.shape.outDim] }, { out: this.z });
    return this.z;
  }

  /**
   * Gradients of the weights from `gz = ∂loss/∂z` (`[rows, outDim]`) after
   * {@link Tower.forward} of the same batch `x`. Overwrites each `grad`.
   */
  backward(x: CsrTensor, gz: Float32Array): void {
    const { hidden, outDim } = this.shape;
    const rows = this.rows;
    const g = { data: gz, shape: [rows, outDim] };
    if (!this.w2 || !this.b1) {
      // z = x W: dW = xᵀ gz
      sparseMatmul(x, g, { transposeA: true, out: this.w1.grad });
      return;
    }
    const h = this.hidden;
    // z = h W2: dW2 = hᵀ gz, dh = gz W2ᵀ (BLAS transpose flags, no transposed copies)
    matmul({ data: h, shape: [rows, hidden] }, g, { transposeA: true, out: this.w2.grad });
    const gh = this.gradHidden;
    matmul(g, { data: this.w2.value, shape: [hidden, outDim] }, { transposeB: true, out: gh });
    // h = relu(a): da = dh where a > 0 (h > 0 exactly there); db1 = Σ_rows da
    const gb = this.b1.grad;
    gb.fill(0);
    for (let i = 0; i < rows; i++) {
      const base = i * hidden;
      for (let j = 0; j < hidden; j++) {
        if (h[base + j] <= 0) gh[base + j] = 0;
        else gb[j] += gh[base + j];
      }
    }
    // a = x W1 + b1: dW1 = xᵀ da
    sparseMatmul(x, { data: gh, shape: [rows, hidden] }, { transposeA: true, out: this.w1.grad });
  }
}

function fillNormal(a: Float32Array, rng: Rng, std: number): void {
  for (let i = 0; i < a.length; i++) a[i] = rng.normal() * std;
}

/** Options of {@link Adam}. */
export interface AdamOptions {
  /** Learning rate. Default 1e-3. */
  lr?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
}

/**
 * Adam (Kingma & Ba) as `torch.optim.Adam` without weight decay: the
 * moments of every parameter, and one call of pairloss's fused `adam` per
 * step for all of them.
 */
export class Adam {
  readonly lr: number;
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly eps: number;
  private readonly values: Float32Array[];
  private readonly grads: Float32Array[];
  private readonly m: Float32Array[];
  private readonly v: Float32Array[];
  private t = 0;

  constructor(params: Param[], opts: AdamOptions = {}) {
    this.lr = opts.lr ?? 1e-3;
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.values = params.map((p) => p.value);
    this.grads = params.map((p) => p.grad);
    this.m = params.map((p) => new Float32Array(p.value.length));
    this.v = params.map((p) => new Float32Array(p.value.length));
  }

  /** One update of every parameter from its current `grad`. */
  step(): void {
    this.t++;
    adam(this.values, this.grads, this.m, this.v, { step: this.t, lr: this.lr, beta1: this.beta1, beta2: this.beta2, eps: this.eps });
  }
}
