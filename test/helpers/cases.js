// The parity cases: every option of every op and loss, both dtypes, and the
// edge cases (zero rows, N = 1, M > N, D = 1, rectangular and square). Inputs
// come from a seeded generator so the fixture script and the live test can
// make as many fresh ones as they like. Plain CommonJS: used by
// scripts/make-fixtures.js and by the jest tests.
'use strict';

/** mulberry32: a small seeded PRNG. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function normal(r) {
  const u = Math.max(r(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
}

/** A matrix as { data: number[], shape }, exactly representable in dtype. */
function matrix(r, rows, cols, dtype, opts = {}) {
  const round = dtype === 'float32' ? Math.fround : (v) => v;
  const data = Array.from({ length: rows * cols }, () => round((opts.scale || 1) * normal(r)));
  for (const z of opts.zeroRows || []) for (let j = 0; j < cols; j++) data[z * cols + j] = 0;
  for (const c of opts.constantRows || []) for (let j = 0; j < cols; j++) data[c * cols + j] = round(0.75);
  return { data, shape: [rows, cols] };
}

function probabilities(r, rows, cols, dtype) {
  const round = dtype === 'float32' ? Math.fround : (v) => v;
  const data = [];
  for (let i = 0; i < rows; i++) {
    const e = Array.from({ length: cols }, () => Math.exp(2 * normal(r)));
    const s = e.reduce((a, b) => a + b, 0);
    e.forEach((v) => data.push(round(v / s)));
  }
  return { data, shape: [rows, cols] };
}

function permutation(r, n) {
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

/** All cases for one seed: [{ name, op, dtype, inputs, options }]. */
function makeCases(seed) {
  const r = rng(seed);
  const cases = [];
  for (const dtype of ['float32', 'float64']) {
    const add = (name, op, inputs, options = {}) => cases.push({ name: `${op} ${name} ${dtype}`, op, dtype, inputs, options });
    const np = (name, n, m, d, options = {}, extra = {}) =>
      add(name, 'npairs', { x1: matrix(r, n, d, dtype, extra.x1), x2: matrix(r, m, d, dtype, extra.x2), ...(extra.inputs || {}) }, options);
    // N-pairs: the seed's defaults (the PyTorch answer pairloss grew from, docs/DESIGN.md#the-seed) and every option
    np('default square 8x16', 8, 8, 16);
    np('M > N (extra negatives) 5/9x7', 5, 9, 7);
    np('N = 1, M = 1', 1, 1, 4);
    np('N = 1, M = 3', 1, 3, 5);
    np('D = 1', 6, 6, 1);
    np('zero rows (normalize eps branch)', 6, 6, 8, {}, { x1: { zeroRows: [2] }, x2: { zeroRows: [0, 5] } });
    np('temperature 0.07', 10, 10, 12, { temperature: 0.07 });
    np('symmetric', 9, 9, 6, { symmetric: true, temperature: 0.1 });
    np('symmetric with permutation targets', 7, 7, 5, { symmetric: true, targetIndices: permutation(r, 7) });
    np('class index targets, M > N', 6, 10, 4, { targetIndices: Array.from({ length: 6 }, () => Math.floor(r() * 10)) });
    const pt = probabilities(r, 5, 7, dtype);
    np('probability targets [N, M]', 5, 7, 6, {}, { inputs: { target: pt } });
    np('labelSmoothing 0.1', 8, 8, 8, { labelSmoothing: 0.1 });
    np('labelSmoothing with index targets', 4, 6, 3, { labelSmoothing: 0.2, targetIndices: [5, 0, 2, 2] });
    np('reduction sum', 6, 8, 5, { reduction: 'sum', temperature: 0.5 });
    np("Sohn: similarity 'dot' with l2Reg", 8, 8, 6, { similarity: 'dot', l2Reg: 0.002 });
    np("similarity 'dot', symmetric, sum, temperature", 5, 5, 9, { similarity: 'dot', symmetric: true, reduction: 'sum', temperature: 2 });
    np('larger rectangular 33x64 vs 40', 33, 40, 64, { temperature: 0.2, labelSmoothing: 0.05 });
    // the symmetric kernel: one exp per element shared by rows and columns
    np('symmetric 37x37x24, labelSmoothing, sum', 37, 37, 24, { symmetric: true, temperature: 0.05, labelSmoothing: 0.1, reduction: 'sum' });
    const pts = probabilities(r, 6, 6, dtype);
    np('symmetric with probability targets and labelSmoothing', 6, 6, 5, { symmetric: true, temperature: 0.3, labelSmoothing: 0.15 }, { inputs: { target: pts } });
    // rows far below 1/temperature underflow exp(L - 1/t): the row blocks (per-row and per-column maxima) take over
    np('symmetric, temperature 0.004 (two-pass kernel)', 12, 12, 16, { symmetric: true, temperature: 0.004 });
    // Correlation: the seed's correlation_loss_func ('samples') and Barlow Twins ('features')
    const co = (name, n, d, options = {}, extra = {}) =>
      add(name, 'correlation', { z1: matrix(r, n, d, dtype, extra.z1), z2: matrix(r, n, d, dtype, extra.z2) }, options);
    co('samples default 8x16', 8, 16);
    co('samples 16x8 (N > D)', 16, 8);
    co('samples D = N', 10, 10);
    co('samples N = 1', 1, 6);
    co('samples D = 2', 5, 2);
    co('samples constant row', 6, 9, {}, { z1: { constantRows: [1] } });
    co('samples lambda, scale, eps', 7, 11, { lambda: 0.1, scale: 1, eps: 1e-3 });
    co('features 8x5', 8, 5, { mode: 'features' });
    co('features N = 2', 2, 4, { mode: 'features' });
    co('features 32x24 lambda 0.01', 32, 24, { mode: 'features', lambda: 0.01, scale: 0.5 });
    co('features zero column-free scaled input', 12, 6, { mode: 'features' }, { z1: { scale: 100 }, z2: { scale: 0.01 } });
    // Ops
    add('default', 'normalize', { x: matrix(r, 5, 4, dtype, { zeroRows: [3] }) });
    add('p = 1, dim = 0', 'normalize', { x: matrix(r, 5, 4, dtype) }, { p: 1, dim: 0 });
    add('3x4 @ 4x2', 'matmul', { a: matrix(r, 3, 4, dtype), b: matrix(r, 4, 2, dtype) });
    add('1x1 @ 1x5', 'matmul', { a: matrix(r, 1, 1, dtype), b: matrix(r, 1, 5, dtype) });
    add('rectangular with zero row', 'cosine_similarity', { x1: matrix(r, 4, 6, dtype, { zeroRows: [0] }), x2: matrix(r, 7, 6, dtype) });
    add('default', 'batch_norm1d', { x: matrix(r, 9, 3, dtype) });
    add('eps 0.1, N = 2', 'batch_norm1d', { x: matrix(r, 2, 5, dtype) }, { eps: 0.1 });
    add('indices', 'cross_entropy', { logits: matrix(r, 5, 3, dtype) }, { targetIndices: [0, 2, 1, 1, 0] });
    add('probabilities, label smoothing', 'cross_entropy', { logits: matrix(r, 4, 6, dtype), target: probabilities(r, 4, 6, dtype) }, { labelSmoothing: 0.3 });
    add("indices, reduction 'none'", 'cross_entropy', { logits: matrix(r, 3, 4, dtype) }, { targetIndices: [3, 0, 1], reduction: 'none' });
    add("indices, reduction 'sum'", 'cross_entropy', { logits: matrix(r, 3, 4, dtype) }, { targetIndices: [2, 2, 1], reduction: 'sum' });
    // Products with a dimension of 1 (the BLAS call's leading dimensions)
    co('features D = 1', 5, 1, { mode: 'features' });
    co('features N = 2, D = 1', 2, 1, { mode: 'features' });
    np('N = 3, M = 1, index targets', 3, 1, 4, { targetIndices: [0, 0, 0] });
    np('N = 1, M = 5, D = 2', 1, 5, 2, { temperature: 0.3 });
    np('N = 2, M = 1, D = 2, label smoothing', 2, 1, 2, { targetIndices: [0, 0], labelSmoothing: 0.1 });
  }
  // The contrastive family (after the cases above, which stay as they were for a seed)
  for (const dtype of ['float32', 'float64']) {
    const add = (name, op, inputs, options = {}) => cases.push({ name: `${op} ${name} ${dtype}`, op, dtype, inputs, options });
    const labels = (n, classes) => Array.from({ length: n }, () => Math.floor(r() * classes));
    add('default 8x8x6', 'siglip', { x1: matrix(r, 8, 6, dtype), x2: matrix(r, 8, 6, dtype) });
    add('M > N, scale 4, bias -1', 'siglip', { x1: matrix(r, 3, 5, dtype), x2: matrix(r, 7, 5, dtype) }, { scale: 4, bias: -1 });
    add('N = 1, zero row', 'siglip', { x1: matrix(r, 1, 4, dtype, { zeroRows: [0] }), x2: matrix(r, 2, 4, dtype) });
    add('over all views 10x5, 3 classes', 'supcon', { x1: matrix(r, 10, 5, dtype) }, { labels: labels(10, 3), excludeSelf: true, temperature: 0.1 });
    add('x1 vs x2 6x4, 2 classes', 'supcon', { x1: matrix(r, 6, 4, dtype), x2: matrix(r, 6, 4, dtype) }, { labels: labels(6, 2), temperature: 0.5 });
    add('7x6', 'ntxent', { z1: matrix(r, 7, 6, dtype), z2: matrix(r, 7, 6, dtype) }, { temperature: 0.2 });
    add('N = 1', 'ntxent', { z1: matrix(r, 1, 3, dtype), z2: matrix(r, 1, 3, dtype) });
    add('memory bank N = 4, K = 9', 'ntxent', { z1: matrix(r, 4, 5, dtype), z2: matrix(r, 4, 5, dtype), negatives: matrix(r, 9, 5, dtype) });
    add('default 9x7', 'vicreg', { z1: matrix(r, 9, 7, dtype, { scale: 0.6 }), z2: matrix(r, 9, 7, dtype, { scale: 0.6 }) });
    add('N = 2, D = 1', 'vicreg', { z1: matrix(r, 2, 1, dtype), z2: matrix(r, 2, 1, dtype) });
    add('weights and gamma', 'vicreg', { z1: matrix(r, 6, 4, dtype, { scale: 2 }), z2: matrix(r, 6, 4, dtype) }, { invarianceWeight: 1, varianceWeight: 5, covarianceWeight: 0.1, gamma: 1.5 });
  }
  return cases;
}

module.exports = { makeCases, rng, normal, matrix, probabilities, permutation };
