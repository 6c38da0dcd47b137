// The value and gradient of both losses for a small random batch.
//   node node_modules/pairloss/examples/basic.js   (from a project that installed pairloss)
//   node examples/basic.js                         (in the repository, after `npm run build`)
'use strict';
const { Tensor, npairsLoss, correlationLoss } = require('pairloss');
const { writeHeatmap } = require('pairloss/heatmap');

const N = 8, D = 16;
const random = (n) => Float32Array.from({ length: n }, () => Math.random() - 0.5);
const x1 = Tensor.from(random(N * D), [N, D]);
const x2 = Tensor.from(random(N * D), [N, D]);

const np = npairsLoss(x1, x2, { temperature: 0.1, symmetric: true, returnSimilarity: true });
console.log('N-pairs loss', np.loss.toFixed(6), 'dL/dT', np.gradTemperature.toFixed(6));
console.log('grad1 row 0', Array.from(np.grad1.data().subarray(0, 4), (v) => v.toFixed(5)).join(' '), '…');

const bt = correlationLoss(x1, x2, { mode: 'features' });
console.log('Barlow Twins loss', bt.loss.toFixed(6), 'on-diagonal', bt.onDiagonal.toFixed(3), 'off-diagonal', bt.offDiagonal.toFixed(3));

// SVG needs nothing more; a .png file also needs the package @resvg/resvg-js.
writeHeatmap('similarity.svg', np.similarity, { title: 'cosine similarity' });
console.log('wrote similarity.svg');
