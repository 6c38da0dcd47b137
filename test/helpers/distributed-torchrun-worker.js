// A worker that torchrun starts (test/distributed.torchrun.test.ts):
//   torchrun ... --no_python node -r register-ts.js distributed-torchrun-worker.js JOB.json
// It joins with ProcessGroup.fromEnv() as any torchrun worker would, runs the
// job's scenario and writes what it saw to
// <job.out>/rank<RANK>.attempt<TORCHELASTIC_RESTART_COUNT>.json.
'use strict';
const fs = require('fs');
const path = require('path');
const pl = require('../../lib');

const job = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const env = process.env;
const rank = Number(env.RANK);
const attempt = Number(env.TORCHELASTIC_RESTART_COUNT ?? 0);
const write = (result) =>
  fs.writeFileSync(path.join(job.out, `rank${rank}.attempt${attempt}.json`), JSON.stringify(result));
const errorOf = (e) => ({ name: e && e.constructor ? e.constructor.name : typeof e, message: String(e && e.message) });

// The job's inputs of rank r: [n, d] rows of a fixed formula (the test's
// Python reference builds the same ones).
function inputsOf(r, n, d, which) {
  const data = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) data[i * d + j] = Math.sin(1.3 * (r * n + i) + 0.7 * j + which) + 0.1 * j;
  }
  return pl.Tensor.from(data, [n, d]);
}

async function main() {
  const started = Date.now();
  // the restart scenario: what the other ranks of attempt 0 reached, written
  // down before each step (torchrun's agent may stop them at any point)
  const failing = job.failRank !== undefined && attempt === 0;
  if (failing && rank !== job.failRank) write({ rank, stage: 'joining' });
  const pg = await pl.ProcessGroup.fromEnv({ timeoutMs: job.timeoutMs });
  const out = {
    rank: pg.rank,
    worldSize: pg.worldSize,
    pairlossRanks: pg.pairlossRanks,
    launch: pg.launch,
    env: { MASTER_ADDR: env.MASTER_ADDR, TORCHELASTIC_USE_AGENT_STORE: env.TORCHELASTIC_USE_AGENT_STORE },
    joinedMs: Date.now() - started,
  };
  if (job.failRank === rank && attempt === 0) {
    // the restart scenario: this rank leaves attempt 0 once it has joined
    write({ ...out, exiting: true });
    process.exit(3);
  }
  if (failing) write({ ...out, stage: 'allReduce' });
  out.sum = Array.from((await pg.allReduce(pl.Tensor.from(Float64Array.from([rank + 1, 10]), [2]))).data());
  out.gathered = (await pg.allGather(pl.Tensor.from(Float64Array.from([rank]), [1]))).map((t) => t.data()[0]);
  if (job.loss) {
    const { n, d, temperature } = job.loss;
    const r = pl.npairsLoss(inputsOf(rank, n, d, 0), inputsOf(rank, n, d, 1), { group: pg, temperature });
    out.loss = r.loss;
  }
  if (job.rejectRank !== undefined) {
    // one rank passes an op that does not exist; the others a good call
    const t0 = Date.now();
    const op = rank === job.rejectRank ? 'mean' : 'sum';
    out.reject = await pg.allReduce(pl.Tensor.from(Float64Array.from([1]), [1]), op).then(() => null, errorOf);
    out.rejectMs = Date.now() - t0;
    // and the group goes on
    out.after = Array.from((await pg.allReduce(pl.Tensor.from(Float64Array.from([1]), [1]))).data());
  }
  if (job.rejectLossRank !== undefined) {
    // one rank passes a bad temperature to a loss under the group; the others a good call
    const t0 = Date.now();
    const temperature = rank === job.rejectLossRank ? -1 : 0.5;
    out.reject = await pl.npairsLossAsync(inputsOf(rank, 4, 3, 0), inputsOf(rank, 4, 3, 1), { group: pg, temperature })
      .then(() => null, errorOf);
    out.rejectMs = Date.now() - t0;
    out.after = Array.from((await pg.allReduce(pl.Tensor.from(Float64Array.from([1]), [1]))).data());
  }
  await pg.barrier();
  await pg.destroy();
  write(out);
}

main().catch((e) => {
  try {
    write({ rank, error: errorOf(e) });
  } finally {
    process.exit(1);
  }
});
