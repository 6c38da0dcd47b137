'use strict';
/**
 * Both losses, forward and backward, with TensorFlow.js (npm's
 * @tensorflow/tfjs: the pure-JS 'cpu' backend, and @tensorflow/tfjs-backend-wasm
 * with XNNPACK). Gradients come from tfjs's autodiff (tf.valueAndGrads), the
 * way a tfjs user would write these losses. (@tensorflow/tfjs-node is not a
 * candidate here: its install script downloads libtensorflow from
 * storage.googleapis.com, outside the npm registry.)
 */
let tf = null;
let wasmRegistered = false;

/** Loads tfjs and switches to `name` ('cpu' or 'wasm'); returns a short description of the backend. */
async function useBackend(name) {
  if (!tf) tf = require('@tensorflow/tfjs');
  if (name === 'wasm' && !wasmRegistered) {
    require('@tensorflow/tfjs-backend-wasm');
    wasmRegistered = true;
  }
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`tfjs backend '${name}' failed to initialise`);
  await tf.ready();
  // The cpu backend prints a banner (install tfjs-node) on its first tensor: keep the table clean.
  const warn = console.warn;
  console.warn = () => {};
  try {
    tf.tidy(() => tf.scalar(0).dataSync());
  } finally {
    console.warn = warn;
  }
  let desc = `tfjs ${tf.version.tfjs} ${name}`;
  if (name === 'wasm') {
    const simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT');
    const mt = tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT');
    const w = require('@tensorflow/tfjs-backend-wasm');
    const threads = typeof w.getThreadsCount === 'function' ? w.getThreadsCount() : '?';
    desc += ` (SIMD ${simd ? 'on' : 'off'}, multithread ${mt ? 'on' : 'off'}, ${threads} thread(s))`;
  }
  return desc;
}

/** Turns valueAndGrads into a call returning plain typed arrays, all tensors disposed. */
function runner(f, inputs) {
  const vg = tf.valueAndGrads(f);
  return () => {
    const outs = tf.tidy(() => {
      const { value, grads } = vg(inputs);
      return [value, ...grads];
    });
    const [loss, g1, g2] = outs.map((t) => t.dataSync());
    outs.forEach((t) => t.dispose());
    return { loss: loss[0], grad1: g1, grad2: g2 };
  };
}

/**
 * Prepares both losses for one input pair on the current backend.
 * Returns { npairs(), correlation(), dispose() }; inputs are uploaded once.
 */
function prepare(x1, x2, n, d, { eps = 1e-12, lambda = 5e-3, scale = 0.025, bnEps = 1e-5 } = {}) {
  const a = tf.tensor2d(x1, [n, d]);
  const b = tf.tensor2d(x2, [n, d]);
  const eye = tf.tidy(() => tf.oneHot(tf.range(0, n, 1, 'int32'), n).toFloat());
  const weight = tf.tidy(() => eye.mul(1 - lambda).add(lambda));

  const unit = (x) => x.div(x.square().sum(1, true).sqrt().maximum(eps));
  const npairs = (p, q) => {
    const s = tf.matMul(unit(p), unit(q), false, true);
    return tf.losses.softmaxCrossEntropy(eye, s); // mean over rows
  };
  const standardize = (x) => {
    const { mean, variance } = tf.moments(x, 1, true);
    return x.sub(mean).div(variance.add(bnEps).sqrt());
  };
  const correlation = (p, q) => {
    const c = tf.matMul(standardize(p), standardize(q), false, true).div(n);
    return c.sub(eye).square().mul(weight).sum().mul(scale);
  };
  return {
    npairs: runner(npairs, [a, b]),
    correlation: runner(correlation, [a, b]),
    dispose() {
      [a, b, eye, weight].forEach((t) => t.dispose());
    },
  };
}

module.exports = { useBackend, prepare };
