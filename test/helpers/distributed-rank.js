// One Node.js rank of a multi-process test, forked by test/helpers/distributed.ts
// with register-ts.js preloaded:  node distributed-rank.js JOB.json RANK
// It joins the group the job describes, runs the job's scenario and reports
// to the parent over IPC: { type: 'result', rank, result } or
// { type: 'error', rank, name, message }, and { type: 'event', name, time }.
'use strict';
const fs = require('fs');
const pl = require('../../lib');

const job = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const rank = Number(process.argv[3]);
const send = (message) => new Promise((resolve) => process.send({ rank, ...message }, resolve));
const event = (name, extra = {}) => send({ type: 'event', name, time: Date.now(), ...extra });

function tensorOf(spec, dtype) {
  const data = dtype === 'float64' ? Float64Array.from(spec.data) : Float32Array.from(spec.data);
  return pl.Tensor.from(data, spec.shape);
}
const plain = (t) => (t ? { data: Array.from(t.data()), shape: [...t.shape] } : undefined);
const errorOf = (e) => ({ name: e && e.constructor ? e.constructor.name : typeof e, message: String(e && e.message) });

async function init(port = job.port, worldSize = job.worldSize, r = rank, extra = {}) {
  return pl.ProcessGroup.init({ rank: r, worldSize, host: '127.0.0.1', port, timeoutMs: job.timeoutMs, ...extra });
}

const scenarios = {
  // Every collective, then destroy.
  async collectives() {
    const pg = await init();
    const w = pg.worldSize;
    const x = pl.Tensor.from(Float32Array.from([rank + 1, -(rank + 1), 2 * rank + 0.5]), [3]);
    const out = { rank: pg.rank, worldSize: w, backend: pg.backend, pairlossRanks: pg.pairlossRanks };
    for (const op of ['sum', 'avg', 'max', 'min', 'product']) out[op] = plain(await pg.allReduce(x, op));
    // issued back to back, without awaiting: they must still pair up in call order
    const [g, b, s64] = await Promise.all([
      pg.allGather(pl.Tensor.from(Float32Array.from([rank, rank * 10]), [1, 2])),
      pg.broadcast(pl.Tensor.from(Float64Array.from([rank, rank, rank, rank]), [2, 2]), w - 1),
      pg.allReduce(pl.Tensor.from(Float64Array.from([0.1 * (rank + 1)]), [1]), 'sum'),
    ]);
    out.allGather = g.map(plain);
    out.broadcast = plain(b);
    out.sum64 = { ...plain(s64), dtype: s64.dtype };
    out.inputAfter = Array.from(x.data());
    await pg.barrier();
    await pg.destroy();
    out.errorAfterDestroy = pg.error;
    out.callAfterDestroy = await pg.allReduce(x).then(() => null, errorOf);
    return out;
  },

  // The losses under a group, on this rank's inputs.
  async loss() {
    const pg = await init();
    const inputs = job.inputs[rank];
    const a = tensorOf(inputs.a, job.dtype);
    // job.sameViews: x1 and x2 the same tensor (SupCon over all views)
    const b = job.sameViews ? a : tensorOf(inputs.b, job.dtype);
    const options = { ...job.options, group: pg };
    if (inputs.targetIndices) options.target = Int32Array.from(inputs.targetIndices);
    if (inputs.targetProbs) options.target = tensorOf(inputs.targetProbs, job.dtype);
    if (inputs.labels) options.labels = Int32Array.from(inputs.labels);
    if (inputs.negatives) options.negatives = tensorOf(inputs.negatives, job.dtype);
    const losses = {
      npairs: [pl.npairsLoss, pl.npairsLossAsync],
      ntxent: [pl.ntXentLoss, pl.ntXentLossAsync],
      siglip: [pl.sigmoidLoss, pl.sigmoidLossAsync],
      vicreg: [pl.vicregLoss, pl.vicregLossAsync],
      correlation: [pl.correlationLoss, pl.correlationLossAsync],
      dcl: [pl.dclLoss, pl.dclLossAsync],
    };
    const fn = losses[job.loss][job.async ? 1 : 0];
    const results = [];
    for (let i = 0; i < (job.repeat || 1); i++) {
      const r = await fn(a, b, options);
      results.push({ loss: r.loss, grad1: plain(r.grad1), grad2: plain(r.grad2), gradTemperature: r.gradTemperature, gradScale: r.gradScale, gradBias: r.gradBias, terms: [r.invariance, r.variance, r.covariance] });
    }
    await pg.destroy();
    // calls that took the chunked (row-block) N-pairs path in this process
    const chunkedCalls = require('../../lib/binding').binding().chunking().calls;
    return { ...results[results.length - 1], chunkedCalls };
  },

  // A loss whose ranks disagree on the shapes (job.inputs per rank): each rank's
  // call rejects with a RangeError, and the group goes on.
  async lossMismatch() {
    const pg = await init();
    const inputs = job.inputs[rank];
    const fn = { siglip: pl.sigmoidLossAsync, vicreg: pl.vicregLossAsync, ntxent: pl.ntXentLossAsync }[job.loss];
    const out = {};
    out.error = await fn(tensorOf(inputs.a, job.dtype), tensorOf(inputs.b, job.dtype), { group: pg }).then(() => null, errorOf);
    out.after = plain(await pg.allReduce(pl.Tensor.from(Float32Array.from([rank + 1]), [1])));
    await pg.destroy();
    return out;
  },

  // Tensors of different sizes on different ranks: a RangeError, and the group goes on.
  async mismatch() {
    const pg = await init();
    const out = {};
    const shape = job.shapes[rank];
    const n = shape.reduce((p, s) => p * s, 1);
    out.allReduce = await pg.allReduce(pl.Tensor.from(new Float32Array(n).fill(1), shape)).then(() => null, errorOf);
    out.allGather = await pg.allGather(pl.Tensor.from(new Float32Array(n).fill(1), shape)).then(() => null, errorOf);
    const dtype = rank === 0 ? new Float64Array(3) : new Float32Array(3);
    out.dtype = await pg.allReduce(pl.Tensor.from(dtype, [3])).then(() => null, errorOf);
    out.after = plain(await pg.allReduce(pl.Tensor.from(Float32Array.from([rank + 1]), [1])));
    out.error = pg.error;
    await pg.destroy();
    return out;
  },

  // A peer is killed by the parent, or stays silent: the others' pending call
  // rejects; later calls reject at once; a new group of the survivors works.
  async fault() {
    const pg = await init();
    await pg.allReduce(pl.Tensor.from(new Float32Array(1000), [1000]));
    await event('ready');
    if (job.victims.includes(rank)) {
      setInterval(() => {}, 1000); // alive but silent until the parent kills it
      await new Promise(() => {});
    }
    const pending = pg.allReduce(pl.Tensor.from(new Float32Array(1000).fill(1), [1000]));
    await event('pending');
    const out = {};
    const t0 = Date.now();
    out.pending = await pending.then(() => null, (e) => ({ ...errorOf(e), time: Date.now(), elapsed: Date.now() - t0 }));
    const t1 = Date.now();
    out.next = await pg.barrier().then(() => null, (e) => ({ ...errorOf(e), elapsed: Date.now() - t1 }));
    const t2 = Date.now();
    out.loss = await pl.correlationLossAsync([[1, 2], [3, 4]], [[1, 2], [3, 5]], { group: pg })
      .then(() => null, (e) => ({ ...errorOf(e), elapsed: Date.now() - t2 }));
    out.error = pg.error;
    // a new group of the survivors, on another port
    const survivors = [...Array(job.worldSize).keys()].filter((r) => !job.victims.includes(r));
    const pg2 = await init(job.port2, survivors.length, survivors.indexOf(rank));
    out.newGroup = plain(await pg2.allReduce(pl.Tensor.from(Float32Array.from([1]), [1])));
    await pg2.destroy();
    return out;
  },

  // The collectives and the losses on tensors held natively (resident CPU
  // tensors, the GPU-less stand-in for CUDA ones), each beside the same call
  // on the typed-array tensor with the same values.
  async resident() {
    const pg = await init();
    const place = (t) => require('../../lib/tensor').residentCpu(t);
    const held = (t) => ({ ...plain(t), dtype: t.dtype, device: t.device, resident: t.resident });
    const stats = () => pl.memoryStats();
    const out = { ops: {} };
    const x = pl.Tensor.from(Float32Array.from([rank + 1, -(rank + 1), 2 * rank + 0.5, 0.25 * rank]), [2, 2]);
    const xr = place(x);
    for (const op of ['sum', 'avg', 'max', 'min', 'product']) {
      const before = stats();
      const r = await pg.allReduce(xr, op);
      const after = stats();
      out.ops[op] = {
        resident: held(r),
        typed: held(await pg.allReduce(x, op)),
        // no host round trip: no host buffer made (neither a copy of the
        // input nor the result), one handle made for the result
        externalBuffersMade: after.externalBuffers - before.externalBuffers,
        handlesMade: after.handles - before.handles,
      };
      r.dispose();
    }
    const g = pl.Tensor.from(Float32Array.from([rank, rank * 10, rank * 100]), [1, 3]);
    const before = stats();
    const gathered = await pg.allGather(place(g));
    out.allGatherBuffersMade = stats().externalBuffers - before.externalBuffers;
    out.allGather = { resident: gathered.map(held), typed: (await pg.allGather(g)).map(held) };
    const b = pl.Tensor.from(Float64Array.from([rank, 2 * rank, 3 * rank]), [3]);
    out.broadcast = { resident: held(await pg.broadcast(place(b), job.worldSize - 1)), typed: held(await pg.broadcast(b, job.worldSize - 1)) };
    // disposed right after the call is made: the pending call keeps its own reference
    const pendingInput = place(x);
    const pending = pg.allReduce(pendingInput, 'sum');
    pendingInput.dispose();
    out.disposedWhilePending = held(await pending);
    // a disposed tensor: a RangeError naming the argument, and the group goes on
    const gone = place(x);
    gone.dispose();
    out.disposed = {
      allReduce: await pg.allReduce(gone).then(() => null, errorOf),
      allGather: await pg.allGather(gone).then(() => null, errorOf),
      broadcast: await pg.broadcast(gone, 0).then(() => null, errorOf),
    };
    out.after = held(await pg.allReduce(xr, 'sum'));
    out.inputAfter = held(xr);
    // the losses under the group, on resident inputs and on typed arrays
    const inputs = job.inputs[rank];
    const a = tensorOf(inputs.a, 'float32');
    const c = tensorOf(inputs.b, 'float32');
    const loss = (r) => ({ loss: r.loss, grad1: held(r.grad1), grad2: held(r.grad2) });
    out.npairs = {
      resident: loss(pl.npairsLoss(place(a), place(c), { group: pg, symmetric: true, temperature: 0.5 })),
      typed: loss(pl.npairsLoss(a, c, { group: pg, symmetric: true, temperature: 0.5 })),
    };
    out.correlation = {
      resident: loss(await pl.correlationLossAsync(place(a), place(c), { group: pg, mode: 'features', syncBatchNorm: true })),
      typed: loss(await pl.correlationLossAsync(a, c, { group: pg, mode: 'features', syncBatchNorm: true })),
    };
    out.error = pg.error;
    await pg.destroy();
    return out;
  },

  // An all-reduce with Python ranks in the group.
  async interop() {
    const pg = await init();
    const x = pl.Tensor.from(Float32Array.from([rank + 1, 2, 3 * rank]), [3]);
    const out = { pairlossRanks: pg.pairlossRanks };
    out.sum = plain(await pg.allReduce(x, 'sum'));
    out.max = plain(await pg.allReduce(x, 'max'));
    out.broadcast = plain(await pg.broadcast(x, job.worldSize - 1));
    await pg.destroy();
    return out;
  },
};

(async () => {
  const scenario = scenarios[job.scenario];
  if (!scenario) throw new Error(`unknown scenario ${job.scenario}`);
  if (job.startTogether) {
    // LibTorch loaded, then wait for the parent's go: every rank calls init at
    // once, so a short timeoutMs bounds the collective under test, not the
    // ranks' start-up on a busy machine
    pl.getNumThreads();
    const go = new Promise((resolve) => process.on('message', (m) => m === 'go' && resolve()));
    await event('loaded');
    await go;
  }
  const result = await scenario();
  await send({ type: 'result', result });
  process.exit(0);
})().catch(async (e) => {
  await send({ type: 'error', ...errorOf(e) });
  process.exit(1);
});

// the parent's timer is the real bound; this one only catches a lost parent
setTimeout(() => process.exit(3), job.hardTimeoutMs || 60000).unref();
