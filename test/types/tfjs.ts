// pairloss/tfjs as a TensorFlow.js user's TypeScript uses it (test/types.test.ts).
import * as tf from '@tensorflow/tfjs';
import { npairsLoss, correlationLoss } from 'pairloss/tfjs';
import type { TfNpairsOptions, TfCorrelationOptions } from 'pairloss/tfjs';

const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [6], units: 4 })] });
const a = tf.randomNormal([8, 6]);
const b = tf.randomNormal([8, 6]);
const optimizer = tf.train.adam(0.01);
const logT = tf.variable(tf.scalar(Math.log(0.1)));

const cost: tf.Scalar | null = optimizer.minimize(
  () => npairsLoss(model.apply(a) as tf.Tensor2D, model.apply(b) as tf.Tensor2D, { temperature: tf.exp(logT) as tf.Scalar, symmetric: true }),
  true,
);
const { value, grads } = tf.variableGrads(() => correlationLoss(model.apply(a) as tf.Tensor2D, model.apply(b) as tf.Tensor2D, { mode: 'features' }));
const v: tf.Scalar = value;
const g: tf.NamedTensorMap = grads;

const o1: TfNpairsOptions = { temperature: 0.07, target: tf.tensor1d([0, 1, 2, 3, 4, 5, 6, 7], 'int32') };
const o2: TfCorrelationOptions = { lambda: 5e-3, mode: 'samples' };
// @ts-expect-error the gradient is always computed: no grad option
const o3: TfNpairsOptions = { grad: false };
// @ts-expect-error nor for the correlation loss
const o4: TfCorrelationOptions = { grad: false };
// @ts-expect-error inputs are tf tensors
npairsLoss([[1, 0], [0, 1]], [[1, 0], [0, 1]]);

export { cost, v, g, o1, o2, o3, o4 };
