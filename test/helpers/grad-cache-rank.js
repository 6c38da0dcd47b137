// One Node.js rank of test/grad-cache.distributed.test.ts, forked with
// register-ts.js preloaded:  node grad-cache-rank.js JOB.json RANK
// Joins the group, runs every GradCache case of the job on this rank's batch
// (fed in the job's micro-batches, the loss's group option set), enqueues its
// keys into an EmbeddingQueue with enqueueGathered, and reports over IPC.
'use strict';
const fs = require('fs');
const pl = require('../../lib');

const job = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const rank = Number(process.argv[3]);
const Float = job.dtype === 'float64' ? Float64Array : Float32Array;

(async () => {
  const pg = await pl.ProcessGroup.init({ rank, worldSize: job.worldSize, host: '127.0.0.1', port: job.port, timeoutMs: job.timeoutMs });
  const { a, b, labels } = job.inputs[rank];
  const results = [];
  for (const c of job.cases) {
    const cache = new pl.GradCache({ loss: c.loss, batchSize: job.n, dim: job.d, dtype: job.dtype, lossOptions: { ...c.options, group: pg } });
    let start = 0;
    for (const rows of job.splits) {
      const part = (x) => ({ data: Float.from(x.slice(start * job.d, (start + rows) * job.d)), shape: [rows, job.d] });
      cache.add(part(a), part(b), c.labels ? labels.slice(start, start + rows) : undefined);
      start += rows;
    }
    const r = await cache.lossAsync();
    const g1 = [];
    const g2 = [];
    job.splits.forEach((_, i) => {
      const g = cache.gradients(i);
      g1.push(...g.grad1.data());
      g2.push(...g.grad2.data());
    });
    results.push({ loss: r.loss, g1, g2 });
  }
  const queue = new pl.EmbeddingQueue({ size: job.queueSize, dim: job.d, dtype: job.dtype, labels: true });
  await queue.enqueueGathered(pg, { data: Float.from(b), shape: [job.n, job.d] }, labels);
  const bank = { rows: Array.from(queue.negatives().data()), labels: Array.from(queue.negativeLabels()) };
  await pg.destroy();
  process.send({ type: 'result', result: { results, bank } }, () => process.exit(0));
})().catch((e) => {
  process.send({ type: 'error', message: String(e && e.stack) }, () => process.exit(1));
});

setTimeout(() => process.exit(3), job.hardTimeoutMs || 60000).unref();
