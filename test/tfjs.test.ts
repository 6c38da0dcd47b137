// pairloss/tfjs: the losses as differentiable tf.Scalars (tf.customGrad). The
// gradients that reach a tf.sequential model's weights are checked against
// tfjs's own autodiff of the same loss written in tfjs ops, a small model
// trains on them, and bad inputs are TypeErrors/RangeErrors naming the argument.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { correlationLoss, npairsLoss } from '../lib/tfjs';
import { checkDistFresh } from './helpers/child';

const ROOT = path.resolve(__dirname, '..');

/**
 * Tolerance of pairloss's gradients against tfjs's autodiff: both compute in
 * float32, in different orders (pairloss: PyTorch's kernels; tfjs cpu: its own
 * JS kernels), and the gradients pass through the same float32 backprop of
 * the model afterwards: they agree to a few float32 ulps. The bound is
 * |a - b| <= ATOL + RTOL·|b| per element; measured on the cases below, the
 * worst element reaches 0.09 of it (M > N with label smoothing; the others
 * 0.001-0.012: set PAIRLOSS_TFJS_REPORT=1 to print them). A wrong gradient
 * (a lost factor, a missing term) is off by 1e-2 and more, 1000x the bound.
 */
const RTOL = 1e-4;
const ATOL = 1e-5;

let seed = 12345;
function uniform(n: number): Float32Array {
  // A small LCG: the same inputs on every run.
  return Float32Array.from({ length: n }, () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648 - 0.5;
  });
}

function model(f: number, d: number, s: number): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [f], units: 12, activation: 'tanh', kernelInitializer: tf.initializers.glorotNormal({ seed: s }) }),
      tf.layers.dense({ units: d, kernelInitializer: tf.initializers.glorotNormal({ seed: s + 1 }), biasInitializer: tf.initializers.glorotNormal({ seed: s + 2 }) }),
    ],
  });
}

function trainable(m: tf.Sequential): tf.Variable[] {
  return m.trainableWeights.map((w) => w.read() as tf.Variable);
}

const apply = (m: tf.Sequential, x: tf.Tensor): tf.Tensor2D => m.apply(x) as tf.Tensor2D;

/** Compares the value and every variable's gradient of two losses; returns the worst ratio |a - b| / (ATOL + RTOL·|b|). */
function compareGrads(ours: () => tf.Scalar, reference: () => tf.Scalar, vars: tf.Variable[]): number {
  const a = tf.variableGrads(ours, vars);
  const b = tf.variableGrads(reference, vars);
  const va = a.value.dataSync()[0];
  const vb = b.value.dataSync()[0];
  expect(Math.abs(va - vb)).toBeLessThanOrEqual(ATOL + RTOL * Math.abs(vb));
  let worst = 0;
  let norm = 0;
  for (const v of vars) {
    const ga = a.grads[v.name];
    const gb = b.grads[v.name];
    expect(ga.shape).toEqual(gb.shape);
    const x = ga.dataSync();
    const y = gb.dataSync();
    for (let i = 0; i < y.length; i++) {
      worst = Math.max(worst, Math.abs(x[i] - y[i]) / (ATOL + RTOL * Math.abs(y[i])));
      norm += y[i] * y[i];
    }
  }
  // Gradients near zero would compare equal to anything small. (Some are zero
  // by construction: in 'features' mode batch normalisation cancels the last
  // layer's bias.)
  expect(Math.sqrt(norm)).toBeGreaterThan(0.05);
  tf.dispose([a.value, b.value, ...Object.values(a.grads), ...Object.values(b.grads)]);
  if (process.env.PAIRLOSS_TFJS_REPORT) console.log(`worst |a-b|/(ATOL+RTOL|b|) = ${worst.toExponential(2)}, grad norm ${Math.sqrt(norm).toFixed(3)}`);
  return worst;
}

// The same losses in tfjs ops, for tfjs's autodiff.
const unit = (x: tf.Tensor2D): tf.Tensor2D => x.div(x.square().sum(1, true).sqrt().maximum(1e-12));

function refNpairs(
  x1: tf.Tensor2D, x2: tf.Tensor2D, o: { temperature: tf.Scalar | number; symmetric?: boolean; labelSmoothing?: number; target?: number[] },
): tf.Scalar {
  const [n, m] = [x1.shape[0], x2.shape[0]];
  const classes = tf.tensor1d(o.target ?? Array.from({ length: n }, (_, i) => i), 'int32');
  const onehot = tf.oneHot(classes, m).toFloat();
  const logits = tf.matMul(unit(x1), unit(x2), false, true).div(o.temperature) as tf.Tensor2D;
  const rows = tf.losses.softmaxCrossEntropy(onehot, logits, undefined, o.labelSmoothing ?? 0) as tf.Scalar;
  if (!o.symmetric) return rows;
  const cols = tf.losses.softmaxCrossEntropy(onehot.transpose(), logits.transpose(), undefined, o.labelSmoothing ?? 0);
  return rows.add(cols).div(2);
}

function refCorrelation(z1: tf.Tensor2D, z2: tf.Tensor2D, mode: 'samples' | 'features', lambda = 5e-3, scale = 0.025, eps = 1e-5): tf.Scalar {
  const n = z1.shape[0];
  // BatchNorm1d in training mode, affine=false: biased variance over the batch ('features') or over each sample's features ('samples').
  const axis = mode === 'features' ? 0 : 1;
  const standardize = (z: tf.Tensor2D): tf.Tensor2D => {
    const { mean, variance } = tf.moments(z, axis, true);
    return z.sub(mean).div(variance.add(eps).sqrt());
  };
  const [a, b] = [standardize(z1), standardize(z2)];
  const corr = (mode === 'features' ? tf.matMul(a, b, true, false) : tf.matMul(a, b, false, true)).div(n);
  const eye = tf.eye(corr.shape[0]);
  const weight = eye.mul(1 - lambda).add(lambda);
  return corr.sub(eye).square().mul(weight).sum().mul(scale) as tf.Scalar;
}

// tfjs's pure-JS 'cpu' backend (set now: the describe blocks below make their
// inputs at collection time). It prints a banner (install tfjs-node) on its first tensor.
{
  const warn = console.warn;
  console.warn = () => {};
  try {
    void tf.setBackend('cpu');
    tf.tidy(() => tf.scalar(0).dataSync());
  } finally {
    console.warn = warn;
  }
}

beforeAll(async () => {
  await tf.ready();
  expect(tf.getBackend()).toBe('cpu');
});

describe('gradients reaching the weights equal tfjs autodiff of the same loss', () => {
  const N = 8, F = 6, D = 5;
  const a = tf.tensor2d(uniform(N * F), [N, F]);
  const b = tf.tensor2d(uniform(N * F), [N, F]);
  const extra = tf.tensor2d(uniform((N + 3) * F), [N + 3, F]);

  test('npairsLoss, symmetric, learnable temperature (a tf.Variable through tf.exp)', () => {
    const m = model(F, D, 1);
    const logT = tf.variable(tf.scalar(Math.log(0.3)), true, 'logT_sym');
    const worst = compareGrads(
      () => npairsLoss(apply(m, a), apply(m, b), { temperature: tf.exp(logT) as tf.Scalar, symmetric: true }),
      () => refNpairs(apply(m, a), apply(m, b), { temperature: tf.exp(logT) as tf.Scalar, symmetric: true }),
      [...trainable(m), logT],
    );
    expect(worst).toBeLessThanOrEqual(1);
  });

  test('npairsLoss, the temperature a tf.Variable itself, has its gradient', () => {
    const m = model(F, D, 3);
    const temperature = tf.variable(tf.scalar(0.2), true, 'logT_plain');
    const { grads } = tf.variableGrads(() => npairsLoss(apply(m, a), apply(m, b), { temperature }), [temperature]);
    const ref = tf.variableGrads(() => refNpairs(apply(m, a), apply(m, b), { temperature }), [temperature]);
    const [g, r] = [grads[temperature.name].dataSync()[0], ref.grads[temperature.name].dataSync()[0]];
    expect(Math.abs(r)).toBeGreaterThan(1e-2);
    expect(Math.abs(g - r)).toBeLessThanOrEqual(ATOL + RTOL * Math.abs(r));
  });

  test('npairsLoss, defaults (temperature 1)', () => {
    const m = model(F, D, 5);
    const worst = compareGrads(
      () => npairsLoss(apply(m, a), apply(m, b)),
      () => refNpairs(apply(m, a), apply(m, b), { temperature: 1 }),
      trainable(m),
    );
    expect(worst).toBeLessThanOrEqual(1);
  });

  test('npairsLoss, M > N extra negatives, label smoothing, a tf.Tensor target', () => {
    const m = model(F, D, 7);
    const classes = [3, 0, 5, 1, 9, 2, 10, 4];
    const target = tf.tensor1d(classes, 'int32');
    const worst = compareGrads(
      () => npairsLoss(apply(m, a), apply(m, extra), { temperature: 0.25, labelSmoothing: 0.1, target }),
      () => refNpairs(apply(m, a), apply(m, extra), { temperature: 0.25, labelSmoothing: 0.1, target: classes }),
      trainable(m),
    );
    expect(worst).toBeLessThanOrEqual(1);
  });

  test.each(['features', 'samples'] as const)('correlationLoss, mode %s', (mode) => {
    const m = model(F, D, 11);
    const worst = compareGrads(
      () => correlationLoss(apply(m, a), apply(m, b), { mode, lambda: 0.01, scale: 0.5 }),
      () => refCorrelation(apply(m, a), apply(m, b), mode, 0.01, 0.5),
      trainable(m),
    );
    expect(worst).toBeLessThanOrEqual(1);
  });

  test('the same tensor as both inputs: the two gradients add up', () => {
    const m = model(F, D, 13);
    const worst = compareGrads(
      () => { const e = apply(m, a); return npairsLoss(e, e, { temperature: 0.5 }); },
      () => { const e = apply(m, a); return refNpairs(e, e, { temperature: 0.5 }); },
      trainable(m),
    );
    expect(worst).toBeLessThanOrEqual(1);
  });
});

describe('training a tf.sequential model', () => {
  test.each([
    ['npairsLoss', (x: tf.Tensor2D, y: tf.Tensor2D, t: tf.Scalar) => npairsLoss(x, y, { temperature: t, symmetric: true })],
    ['correlationLoss', (x: tf.Tensor2D, y: tf.Tensor2D) => correlationLoss(x, y, { mode: 'features' })],
  ])('%s: the loss goes down, and no tfjs tensor leaks per step', (_, loss) => {
    const N = 16, F = 10;
    const m = model(F, 8, 17);
    const view1 = tf.tensor2d(uniform(N * F), [N, F]);
    const view2 = tf.tidy(() => view1.add(tf.tensor2d(uniform(N * F), [N, F]).mul(0.1)));
    const logT = tf.variable(tf.scalar(Math.log(0.5)), true);
    const optimizer = tf.train.adam(0.01);
    const losses: number[] = [];
    const live: number[] = [];
    for (let step = 0; step < 30; step++) {
      const cost = optimizer.minimize(() => loss(apply(m, view1), apply(m, view2), tf.exp(logT) as tf.Scalar), true)!;
      losses.push(cost.dataSync()[0]);
      cost.dispose();
      live.push(tf.memory().numTensors);
    }
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[29]).toBeLessThan(0.9 * losses[0]);
    // After the optimizer's first step has made its slots, the number of live tensors stays put.
    expect(new Set(live.slice(2)).size).toBe(1);
  });
});

describe('bad inputs', () => {
  const x = tf.tensor2d(uniform(12), [4, 3]);

  test('a non-tensor is a TypeError naming the argument', () => {
    expect(() => npairsLoss(new Float32Array(12) as unknown as tf.Tensor2D, x)).toThrow(TypeError);
    expect(() => npairsLoss(new Float32Array(12) as unknown as tf.Tensor2D, x)).toThrow(/x1/);
    expect(() => npairsLoss(x, [[1, 2, 3]] as unknown as tf.Tensor2D)).toThrow(/tf\.Tensor2D.*for x2/);
    expect(() => correlationLoss(x, null as unknown as tf.Tensor2D)).toThrow(TypeError);
    expect(() => correlationLoss(undefined as unknown as tf.Tensor2D, x)).toThrow(/z1/);
  });

  test('a rank other than 2 is a RangeError naming the argument', () => {
    const v = tf.tensor1d(uniform(4));
    const c = tf.tensor3d(uniform(24), [2, 4, 3]);
    expect(() => npairsLoss(v, x)).toThrow(RangeError);
    expect(() => npairsLoss(v, x)).toThrow(/x1: expected a 2-D/);
    expect(() => npairsLoss(x, c)).toThrow(/x2: expected a 2-D.*\[2, 4, 3\]/);
    expect(() => correlationLoss(x, v)).toThrow(/z2: expected a 2-D/);
  });

  test('another dtype is a TypeError; a disposed tensor a RangeError', () => {
    const ints = tf.tensor2d([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [4, 3], 'int32');
    expect(() => npairsLoss(ints, x)).toThrow(TypeError);
    expect(() => npairsLoss(ints, x)).toThrow(/x1.*int32/);
    const gone = tf.tensor2d(uniform(12), [4, 3]);
    gone.dispose();
    expect(() => correlationLoss(x, gone)).toThrow(/z2: the tf.Tensor has been disposed/);
  });

  test("pairloss's own checks still name the argument", () => {
    const wide = tf.tensor2d(uniform(16), [4, 4]);
    expect(() => npairsLoss(x, wide)).toThrow(/x2: must have D = 3/);
    expect(() => npairsLoss(x, x, { temperature: -1 })).toThrow(RangeError);
    expect(() => npairsLoss(x, x, { temperature: tf.tensor1d([0.1, 0.2]) as unknown as tf.Scalar })).toThrow(/temperature: expected a tf.Scalar/);
    expect(() => npairsLoss(x, x, { target: tf.tensor1d([0, 1, 2, 7], 'int32') })).toThrow(/target\[3\]/);
    expect(() => npairsLoss(x, x, { nonsense: 1 } as never)).toThrow(/nonsense/);
    expect(() => correlationLoss(x, x, { mode: 'rows' as 'samples' })).toThrow(/mode/);
  });
});

describe('the package', () => {
  beforeAll(checkDistFresh);
  const run = (code: string): { status: number | null; out: string } => {
    // From the package root: 'pairloss' and 'pairloss/tfjs' resolve to dist/lib through package.json's "exports".
    const r = spawnSync(process.execPath, ['-'], { cwd: ROOT, input: code, encoding: 'utf8', timeout: 120_000 });
    return { status: r.status, out: `${r.stdout}${r.stderr}` };
  };

  test("require('pairloss') loads no TensorFlow.js", () => {
    const r = run("require('pairloss'); console.log(JSON.stringify(Object.keys(require.cache).filter((k) => k.includes('@tensorflow'))));");
    expect(r.status).toBe(0);
    expect(JSON.parse(r.out.trim().split('\n').pop()!)).toEqual([]);
  });

  test("without TensorFlow.js installed, require('pairloss/tfjs') says what to install and require('pairloss') works", () => {
    // Resolution of @tensorflow/tfjs-core fails as it does where it is not installed.
    const r = run(`
      const Module = require('module');
      const resolve = Module._resolveFilename;
      Module._resolveFilename = function (request, ...rest) {
        if (request.startsWith('@tensorflow/')) {
          const e = new Error("Cannot find module '" + request + "'");
          e.code = 'MODULE_NOT_FOUND';
          throw e;
        }
        return resolve.call(this, request, ...rest);
      };
      let message = null;
      try { require('pairloss/tfjs'); } catch (e) { message = e.message; }
      const { npairsLoss } = require('pairloss');
      console.log(JSON.stringify({ message, loss: npairsLoss([[1, 0], [0, 1]], [[1, 0], [0, 1]]).loss }));
    `);
    expect(r.status).toBe(0);
    const out = JSON.parse(r.out.trim().split('\n').pop()!);
    expect(out.message).toMatch(/pairloss\/tfjs needs TensorFlow\.js.*npm install @tensorflow\/tfjs/);
    // the identity against itself at temperature 1: each row's cross entropy is log(1 + e^-1)
    expect(Math.abs(out.loss - Math.log1p(Math.exp(-1)))).toBeLessThanOrEqual(1e-6 + 1e-5 * Math.log1p(Math.exp(-1)));
  });

  test("README's TensorFlow.js example runs and its loss goes down", () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('\n## TensorFlow.js'));
    const code = /```js\n([\s\S]*?)```/.exec(section)![1];
    expect(code).toContain("require('pairloss/tfjs')");
    const r = run(code);
    expect(r.status).toBe(0);
    const losses = [...r.out.matchAll(/^\d+ (\d+\.\d+)$/gm)].map((m) => Number(m[1]));
    expect(losses.length).toBe(5);
    expect(losses[4]).toBeLessThan(losses[0]);
  });
});
