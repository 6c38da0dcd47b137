// GradCache with TensorFlow.js (pairloss/tfjs): a tf.sequential model trained
// one optimizer step over 4 micro-batches (embedded without the tape, the loss
// once, then each micro-batch embedded again on the tape with cachedGradient)
// takes the same step as the whole batch at once through pairloss/tfjs's npairsLoss.
import * as tf from '@tensorflow/tfjs';
import { GradCache } from '../lib';
import { cachedGradient, npairsLoss } from '../lib/tfjs';
import { excess } from './helpers/distributed';

let seed = 2024;
function uniform(n: number): Float32Array {
  return Float32Array.from({ length: n }, () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648 - 0.5;
  });
}

function model(f: number, d: number): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [f], units: 12, activation: 'tanh', kernelInitializer: tf.initializers.glorotNormal({ seed: 5 }) }),
      tf.layers.dense({ units: d, kernelInitializer: tf.initializers.glorotNormal({ seed: 6 }), biasInitializer: tf.initializers.glorotNormal({ seed: 7 }) }),
    ],
  });
}

const weights = (m: tf.Sequential): Float32Array[] => m.trainableWeights.map((w) => w.read().dataSync() as Float32Array);

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
});

test.each([
  ['CLIP (symmetric)', { symmetric: true, temperature: 0.1 }, false],
  ['SupCon (labels)', { temperature: 0.2 }, true],
] as const)('%s: one SGD step over 4 micro-batches equals the step over the whole batch', (_name, options, withLabels) => {
  const [N, F, D] = [16, 6, 5];
  const splits = [4, 3, 5, 4];
  const labels = [0, 1, 2, 3, 0, 1, 2, 3, 4, 4, 0, 1, 2, 3, 4, 0];
  const a = tf.tensor2d(uniform(N * F), [N, F]);
  const b = tf.tensor2d(uniform(N * F), [N, F]);
  const whole = model(F, D);
  const cached = model(F, D);
  const before = weights(whole);
  weights(cached).forEach((w, i) => expect(w).toEqual(before[i]));
  const lossOptions = withLabels ? { ...options, labels } : options;

  // the whole batch at once
  const sgd1 = tf.train.sgd(0.5);
  const wholeLoss = sgd1.minimize(() => npairsLoss(whole.apply(a) as tf.Tensor2D, whole.apply(b) as tf.Tensor2D, lossOptions), true) as tf.Scalar;

  // the same batch through the cache: 1) embed without the tape
  const cache = new GradCache({ loss: 'npairs', batchSize: N, dim: D, lossOptions: options });
  const parts: [tf.Tensor2D, tf.Tensor2D][] = [];
  let start = 0;
  for (const rows of splits) {
    const part: [tf.Tensor2D, tf.Tensor2D] = [a.slice([start, 0], [rows, F]), b.slice([start, 0], [rows, F])];
    parts.push(part);
    const [e1, e2] = part.map((x) => tf.tidy(() => cached.apply(x) as tf.Tensor2D));
    cache.add({ data: e1.dataSync() as Float32Array, shape: [rows, D] }, { data: e2.dataSync() as Float32Array, shape: [rows, D] },
      withLabels ? labels.slice(start, start + rows) : undefined);
    tf.dispose([e1, e2]);
    start += rows;
  }
  // 2) the loss once over the whole batch
  const { loss } = cache.loss();
  expect(Math.abs(loss - wholeLoss.dataSync()[0])).toBeLessThanOrEqual(1e-6 + 1e-5 * Math.abs(loss));
  // 3) each micro-batch again, on the tape, its gradients summed
  const vars = cached.trainableWeights.map((w) => w.read() as tf.Variable);
  const sums = new Map<string, tf.Tensor>();
  parts.forEach(([x1, x2], i) => {
    const g = cache.gradients(i);
    const { value, grads } = tf.variableGrads(
      () => cachedGradient(cached.apply(x1) as tf.Tensor2D, g.grad1).add(cachedGradient(cached.apply(x2) as tf.Tensor2D, g.grad2)) as tf.Scalar,
      vars,
    );
    value.dispose();
    for (const [name, grad] of Object.entries(grads)) {
      const prev = sums.get(name);
      sums.set(name, prev ? prev.add(grad) : grad);
      if (prev) tf.dispose([prev, grad]);
    }
  });
  const sgd2 = tf.train.sgd(0.5);
  sgd2.applyGradients(Object.fromEntries(sums));

  const afterWhole = weights(whole);
  const afterCached = weights(cached);
  let moved = 0;
  afterWhole.forEach((w, i) => {
    // float32 sums in another order: the usual tolerance
    expect(excess(afterCached[i], w, 1e-5, 1e-6)).toBeLessThanOrEqual(0);
    for (let j = 0; j < w.length; j++) moved = Math.max(moved, Math.abs(w[j] - before[i][j]));
  });
  // the step did move the weights (well beyond the tolerance)
  expect(moved).toBeGreaterThan(1e-3);
});

test('cachedGradient: bad input', () => {
  const e = tf.zeros([2, 3]);
  expect(() => cachedGradient(e, new Float32Array(5))).toThrow(RangeError);
  expect(() => cachedGradient(e, new Float32Array(5))).toThrow(/grad: must have the 6 elements of embeddings \[2, 3\], got 5/);
  expect(() => cachedGradient(e, 'x' as never)).toThrow(TypeError);
  expect(() => cachedGradient([1] as never, new Float32Array(6))).toThrow(/for embeddings/);
});
