// Data-parallel training with pairloss on W processes: a two-tower linear
// model learns to match paired vectors with the CLIP loss over the *global*
// batch (every rank's rows against every rank's columns).
//
//   node examples/distributed-train.js                 # launches 2 local ranks
//   node examples/distributed-train.js --world-size 4  # launches 4
//   # or start each rank yourself, with torchrun's variables:
//   RANK=0 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=29500 node examples/distributed-train.js &
//   RANK=1 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=29500 node examples/distributed-train.js
//
// Each rank: its own share of the batch -> embeddings -> npairsLoss({ group })
// -> the global loss and its exact gradients for this rank's rows -> weight
// gradients, summed over ranks with allReduce -> the same SGD step everywhere.
'use strict';
const { spawn } = require('child_process');
const { ProcessGroup, Tensor, npairsLossAsync } = require('pairloss');

const D_IN = 16; // input features
const D_OUT = 8; // embedding size
const N = 32; // rows per rank per step
const STEPS = 60;
const LR = 0.5;

// A small seeded generator, so each rank draws its own data and rank 0 the weights.
function rng(seed) {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(uniform() + 1e-12)) * Math.cos(2 * Math.PI * uniform());
}

// out[n, k] = sum_i x[n, i] * w[i, k]
function project(x, w, n) {
  const out = new Float32Array(n * D_OUT);
  for (let r = 0; r < n; r++) {
    for (let i = 0; i < D_IN; i++) {
      const v = x[r * D_IN + i];
      for (let k = 0; k < D_OUT; k++) out[r * D_OUT + k] += v * w[i * D_OUT + k];
    }
  }
  return out;
}

// dw[i, k] += sum_n x[n, i] * g[n, k]  (the gradient of a linear layer)
function accumulate(dw, offset, x, g, n) {
  for (let r = 0; r < n; r++) {
    for (let i = 0; i < D_IN; i++) {
      const v = x[r * D_IN + i];
      for (let k = 0; k < D_OUT; k++) dw[offset + i * D_OUT + k] += v * g[r * D_OUT + k];
    }
  }
}

async function rank() {
  const pg = await ProcessGroup.fromEnv({ timeoutMs: 60000 });
  const lead = pg.rank === 0;
  try {
    // Both towers' weights in one buffer; rank 0's draw is broadcast so every rank starts equal.
    const initial = new Float32Array(2 * D_IN * D_OUT);
    const gauss = rng(12345);
    for (let i = 0; i < initial.length; i++) initial[i] = 0.3 * gauss();
    const weights = (await pg.broadcast(Tensor.from(initial, [initial.length]), 0)).data().slice();
    const w1 = weights.subarray(0, D_IN * D_OUT);
    const w2 = weights.subarray(D_IN * D_OUT);

    // This rank's data: pairs (x, y) where y is a fixed mixing of x plus noise.
    const data = rng(1000 + pg.rank);
    const mix = rng(7); // the same mixing matrix on every rank
    const m = Float32Array.from({ length: D_IN * D_IN }, () => mix() / Math.sqrt(D_IN));

    for (let step = 0; step < STEPS; step++) {
      const x = Float32Array.from({ length: N * D_IN }, () => data());
      const y = new Float32Array(N * D_IN);
      for (let r = 0; r < N; r++) {
        for (let j = 0; j < D_IN; j++) {
          let s = 0.1 * data();
          for (let i = 0; i < D_IN; i++) s += x[r * D_IN + i] * m[i * D_IN + j];
          y[r * D_IN + j] = s;
        }
      }
      const e1 = Tensor.from(project(x, w1, N), [N, D_OUT]);
      const e2 = Tensor.from(project(y, w2, N), [N, D_OUT]);
      // The loss over the global batch of W*N pairs; grad1/grad2 are its
      // exact gradients with respect to this rank's rows.
      const { loss, grad1, grad2 } = await npairsLossAsync(e1, e2, { group: pg, symmetric: true, temperature: 0.1 });
      const grads = new Float32Array(weights.length);
      accumulate(grads, 0, x, grad1.data(), N);
      accumulate(grads, D_IN * D_OUT, y, grad2.data(), N);
      // Sum over ranks: the gradient of the global loss with respect to the shared weights.
      const total = (await pg.allReduce(Tensor.from(grads, [grads.length]), 'sum')).data();
      for (let i = 0; i < weights.length; i++) weights[i] -= LR * total[i];
      if (lead && (step % 10 === 0 || step === STEPS - 1)) {
        console.log(`step ${String(step).padStart(3)}  global loss ${loss.toFixed(4)}  (chance: ${Math.log(N * pg.worldSize).toFixed(4)})`);
      }
    }
    // Every rank holds the same weights: check it with a max and a min.
    const w = Tensor.from(weights, [weights.length]);
    const [hi, lo] = [await pg.allReduce(w, 'max'), await pg.allReduce(w, 'min')];
    const spread = hi.data().reduce((s, v, i) => Math.max(s, v - lo.data()[i]), 0);
    if (lead) console.log(`ranks agree on the weights: max spread ${spread}`);
  } finally {
    await pg.destroy();
  }
}

async function launch(worldSize) {
  const port = 20000 + Math.floor(Math.random() * 20000);
  console.log(`launching ${worldSize} ranks (MASTER_ADDR=127.0.0.1 MASTER_PORT=${port})`);
  const codes = await Promise.all(Array.from({ length: worldSize }, (_, r) => new Promise((resolve) => {
    const env = { ...process.env, RANK: String(r), WORLD_SIZE: String(worldSize), MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port) };
    spawn(process.execPath, [__filename], { env, stdio: 'inherit' }).on('exit', (code) => resolve(code));
  })));
  process.exitCode = codes.every((c) => c === 0) ? 0 : 1;
}

if (process.env.RANK !== undefined) {
  rank().catch((e) => {
    console.error(`rank ${process.env.RANK}: ${e.message}`);
    process.exit(1);
  });
} else {
  const i = process.argv.indexOf('--world-size');
  launch(i > 0 ? Number(process.argv[i + 1]) : 2);
}
