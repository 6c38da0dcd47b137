'use strict';
/**
 * Both losses, forward and backward, in plain JavaScript (no dependencies):
 * the baseline a Node.js server has without any library. Written to be
 * reasonably fast (row-major, contiguous inner loops, no allocations inside
 * loops) but with no SIMD or threads, which JavaScript does not offer.
 * Inputs and outputs are row-major Float32Arrays; matrices are float32, sums
 * are taken in JavaScript doubles.
 */

/** u = x / max(‖x‖, eps) per row; returns u and the clamped norms. */
function normalizeRows(x, rows, d, eps) {
  const u = new Float32Array(rows * d);
  const norms = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    const o = i * d;
    let s = 0;
    for (let k = 0; k < d; k++) s += x[o + k] * x[o + k];
    const n = Math.max(Math.sqrt(s), eps);
    norms[i] = n;
    const inv = 1 / n;
    for (let k = 0; k < d; k++) u[o + k] = x[o + k] * inv;
  }
  return { u, norms };
}

/** Backward of normalize: dx = (du − u·(u·du)) / n, or du / eps where the norm was clamped. */
function normalizeBackward(du, u, norms, rows, d, eps) {
  const dx = new Float32Array(rows * d);
  for (let i = 0; i < rows; i++) {
    const o = i * d;
    const n = norms[i];
    if (n <= eps) {
      for (let k = 0; k < d; k++) dx[o + k] = du[o + k] / n;
      continue;
    }
    let dot = 0;
    for (let k = 0; k < d; k++) dot += u[o + k] * du[o + k];
    const inv = 1 / n;
    for (let k = 0; k < d; k++) dx[o + k] = (du[o + k] - u[o + k] * dot) * inv;
  }
  return dx;
}

/** out[i, j] = scale · a[i, :] · b[j, :] (a: [R, D], b: [C, D]). */
function gemmNT(a, b, rows, cols, d, scale) {
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    const oa = i * d;
    for (let j = 0; j < cols; j++) {
      const ob = j * d;
      let s = 0;
      for (let k = 0; k < d; k++) s += a[oa + k] * b[ob + k];
      out[i * cols + j] = s * scale;
    }
  }
  return out;
}

/** dA = g @ b · scale and dB = gᵀ @ a · scale, g: [R, C], a: [R, D], b: [C, D]. */
function gemmBackward(g, a, b, rows, cols, d, scale) {
  const da = new Float64Array(rows * d);
  const db = new Float64Array(cols * d);
  for (let i = 0; i < rows; i++) {
    const oa = i * d;
    for (let j = 0; j < cols; j++) {
      const gij = g[i * cols + j] * scale;
      if (gij === 0) continue;
      const ob = j * d;
      for (let k = 0; k < d; k++) {
        da[oa + k] += gij * b[ob + k];
        db[ob + k] += gij * a[oa + k];
      }
    }
  }
  return { da, db };
}

/**
 * The seed's N-pairs loss (its `NPairsLoss`, docs/DESIGN.md#the-seed: cosine similarities,
 * cross entropy against the identity, mean over rows) with its gradients.
 */
function npairsLoss(x1, x2, n, m, d, eps = 1e-12) {
  const { u: u1, norms: n1 } = normalizeRows(x1, n, d, eps);
  const { u: u2, norms: n2 } = normalizeRows(x2, m, d, eps);
  const s = gemmNT(u1, u2, n, m, d, 1);
  let loss = 0;
  for (let i = 0; i < n; i++) {
    const o = i * m;
    let max = -Infinity;
    for (let j = 0; j < m; j++) if (s[o + j] > max) max = s[o + j];
    let sum = 0;
    for (let j = 0; j < m; j++) sum += Math.exp(s[o + j] - max);
    loss += Math.log(sum) + max - s[o + i];
    const inv = 1 / (sum * n);
    for (let j = 0; j < m; j++) s[o + j] = Math.exp(s[o + j] - max) * inv; // softmax / N
    s[o + i] -= 1 / n; // − target / N
  }
  loss /= n;
  const { da, db } = gemmBackward(s, u1, u2, n, m, d, 1);
  return {
    loss,
    grad1: normalizeBackward(da, u1, n1, n, d, eps),
    grad2: normalizeBackward(db, u2, n2, m, d, eps),
  };
}

/** BatchNorm (training mode, no affine) of each row over its d values. */
function standardizeRows(z, rows, d, eps) {
  const zn = new Float32Array(rows * d);
  const invstd = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    const o = i * d;
    let mean = 0;
    for (let k = 0; k < d; k++) mean += z[o + k];
    mean /= d;
    let v = 0;
    for (let k = 0; k < d; k++) v += (z[o + k] - mean) * (z[o + k] - mean);
    const r = 1 / Math.sqrt(v / d + eps);
    invstd[i] = r;
    for (let k = 0; k < d; k++) zn[o + k] = (z[o + k] - mean) * r;
  }
  return { zn, invstd };
}

/** Backward of standardizeRows: dz = r·(dẑ − mean(dẑ) − ẑ·mean(dẑ·ẑ)). */
function standardizeBackward(dzn, zn, invstd, rows, d) {
  const dz = new Float32Array(rows * d);
  for (let i = 0; i < rows; i++) {
    const o = i * d;
    let m1 = 0;
    let m2 = 0;
    for (let k = 0; k < d; k++) {
      m1 += dzn[o + k];
      m2 += dzn[o + k] * zn[o + k];
    }
    m1 /= d;
    m2 /= d;
    const r = invstd[i];
    for (let k = 0; k < d; k++) dz[o + k] = r * (dzn[o + k] - m1 - zn[o + k] * m2);
  }
  return dz;
}

/**
 * The seed's correlation_loss_func ('samples' mode: each sample standardised
 * over its D features, C = z1n @ z2nᵀ / N) with its gradients.
 */
function correlationLoss(z1, z2, n, d, lambda = 5e-3, scale = 0.025, eps = 1e-5) {
  const a = standardizeRows(z1, n, d, eps);
  const b = standardizeRows(z2, n, d, eps);
  const c = gemmNT(a.zn, b.zn, n, n, d, 1 / n);
  let on = 0;
  let off = 0;
  for (let i = 0; i < n; i++) {
    const o = i * n;
    for (let j = 0; j < n; j++) {
      const diag = i === j;
      const diff = c[o + j] - (diag ? 1 : 0);
      if (diag) on += diff * diff;
      else off += diff * diff;
      c[o + j] = 2 * scale * (diag ? 1 : lambda) * diff; // dloss/dC
    }
  }
  const { da, db } = gemmBackward(c, a.zn, b.zn, n, n, d, 1 / n);
  return {
    loss: scale * (on + lambda * off),
    onDiagonal: on,
    offDiagonal: off,
    grad1: standardizeBackward(da, a.zn, a.invstd, n, d),
    grad2: standardizeBackward(db, b.zn, b.invstd, n, d),
  };
}

module.exports = { npairsLoss, correlationLoss };
