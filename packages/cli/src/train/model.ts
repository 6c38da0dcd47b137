/**
 * The two towers of the training job: each maps a view's sparse n-gram
 * features to an embedding, `z = x W` (linear) or `z = relu(x W1 + b1) W2`
 * (two layers). Forward and backward products run through pairloss's
 * `matmul`; the chain rule from the loss's gradient down to the weights is
 * written out here, and Adam updates the weights.
 */
import { matmul, Tensor } from 'pairloss';
import { release, take } from './host';
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

/** `b`'s transpose as a new `[cols, rows]` array (`b` is `[rows, cols]`). */
export function transpose(b: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    const base = i * cols;
    for (let j = 0; j < cols; j++) out[j * rows + i] = b[base + j];
  }
  return out;
}

function param(name: string, shape: number[]): Param {
  const n = shape.reduce((a, b) => a * b, 1);
  return { name, shape, value: new Float32Array(n), grad: new Float32Array(n) };
}

/** One encoder: linear (`hidden = 0`) or two layers with a ReLU. */
export class Tower {
  readonly shape: TowerShape;
  readonly params: Param[];
  readonly device: string;
  private readonly w1: Param;
  private readonly b1: Param | null;
  private readonly w2: Param | null;
  // forward values kept for backward
  private hidden: Float32Array | null = null;
  private rows = 0;

  /**
   * @param shape - sizes; weights start as N(0, 1/fanIn) (He for the ReLU layer), biases at 0.
   * @param rng - the seeded generator the weights are drawn from.
   * @param device - where the products run (`'cpu'`, `'cuda'`...).
   */
  constructor(shape: TowerShape, rng: Rng, device = 'cpu') {
    this.shape = { ...shape };
    this.device = device;
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

  private tensor(data: Float32Array, shape: number[]): Tensor {
    return Tensor.from(data, shape, { device: this.device });
  }

  /**
   * `a @ b` (`a`: `[m, k]`, `b`: `[k, n]`, row-major) in host memory, computed
   * on this tower's device; the device copies of the inputs and the result
   * are freed before this returns.
   */
  private product(a: Float32Array, aShape: number[], b: Float32Array, bShape: number[]): Float32Array {
    const x = this.tensor(a, aShape);
    const y = this.tensor(b, bShape);
    const out = take(matmul(x, y));
    release(x, y);
    return out;
  }

  /**
   * The embeddings `[rows, outDim]` of a dense batch `x` (`[rows, inDim]`, row-major).
   * Keeps what {@link Tower.backward} needs.
   */
  forward(x: Float32Array, rows: number): Float32Array {
    const { inDim, hidden, outDim } = this.shape;
    this.rows = rows;
    const a = this.product(x, [rows, inDim], this.w1.value, [inDim, hidden || outDim]);
    if (!this.w2 || !this.b1) return a;
    // h = relu(x W1 + b1)
    const b1 = this.b1.value;
    for (let i = 0; i < rows; i++) {
      const base = i * hidden;
      for (let j = 0; j < hidden; j++) {
        const v = a[base + j] + b1[j];
        a[base + j] = v > 0 ? v : 0;
      }
    }
    this.hidden = a;
    return this.product(a, [rows, hidden], this.w2.value, [hidden, outDim]);
  }

  /**
   * Gradients of the weights from `gz = ∂loss/∂z` (`[rows, outDim]`) and the batch's transpose
   * `xT` (`[inDim, rows]`), after {@link Tower.forward} of the same batch. Overwrites each `grad`.
   */
  backward(xT: Float32Array, gz: Float32Array): void {
    const { inDim, hidden, outDim } = this.shape;
    const rows = this.rows;
    if (!this.w2 || !this.b1 || !this.hidden) {
      // z = x W: dW = xᵀ gz
      this.w1.grad.set(this.product(xT, [inDim, rows], gz, [rows, outDim]));
      return;
    }
    const h = this.hidden;
    // z = h W2: dW2 = hᵀ gz, dh = gz W2ᵀ
    this.w2.grad.set(this.product(transpose(h, rows, hidden), [hidden, rows], gz, [rows, outDim]));
    const w2T = transpose(this.w2.value, hidden, outDim);
    const gh = this.product(gz, [rows, outDim], w2T, [outDim, hidden]);
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
    this.w1.grad.set(this.product(xT, [inDim, rows], gh, [rows, hidden]));
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

/** Adam (Kingma & Ba), as `torch.optim.Adam` without weight decay. */
export class Adam {
  readonly lr: number;
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly eps: number;
  private readonly params: Param[];
  private readonly m: Float32Array[];
  private readonly v: Float32Array[];
  private t = 0;

  constructor(params: Param[], opts: AdamOptions = {}) {
    this.params = params;
    this.lr = opts.lr ?? 1e-3;
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.m = params.map((p) => new Float32Array(p.value.length));
    this.v = params.map((p) => new Float32Array(p.value.length));
  }

  /** One update of every parameter from its current `grad`. */
  step(): void {
    this.t++;
    const { beta1, beta2, eps } = this;
    const c1 = 1 - beta1 ** this.t;
    const c2 = 1 - beta2 ** this.t;
    const stepSize = this.lr / c1;
    const sqrtC2 = Math.sqrt(c2);
    for (let k = 0; k < this.params.length; k++) {
      const { value, grad } = this.params[k];
      const m = this.m[k];
      const v = this.v[k];
      for (let i = 0; i < value.length; i++) {
        const g = grad[i];
        const mi = beta1 * m[i] + (1 - beta1) * g;
        const vi = beta2 * v[i] + (1 - beta2) * g * g;
        m[i] = mi;
        v[i] = vi;
        value[i] -= (stepSize * mi) / (Math.sqrt(vi) / sqrtC2 + eps);
      }
    }
  }
}
