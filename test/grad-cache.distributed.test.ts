// GradCache and EmbeddingQueue across W = 2 Node.js processes: each rank
// feeds its batch in micro-batches to a cache whose loss has the group (global
// negatives); its micro-batches' gradients equal those of its rows in one
// process computing the loss on the concatenated batch (float64, 1e-10), and
// enqueueGathered leaves every rank's queue with the gathered keys in rank order.
import { ChildProcess, fork } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as pl from '../lib';
import { excess, freePort, randn } from './helpers/distributed';

jest.setTimeout(180000);

const RANK = path.join(__dirname, 'helpers', 'grad-cache-rank.js');
const REGISTER = path.join(__dirname, 'helpers', 'register-ts.js');
const [W, N, D] = [2, 6, 4];
const SPLITS = [2, 1, 3];

const cases = [
  { loss: 'npairs', options: { symmetric: true, temperature: 0.2 } },
  { loss: 'npairs', options: { temperature: 0.3 }, labels: true },
  { loss: 'ntXent', options: { temperature: 0.5 } },
  { loss: 'sigmoid', options: {} },
  { loss: 'vicreg', options: {} },
  { loss: 'correlation', options: { mode: 'features', syncBatchNorm: true } },
] as const;

interface RankResult { results: { loss: number; g1: number[]; g2: number[] }[]; bank: { rows: number[]; labels: number[] } }

async function runRanks(job: Record<string, unknown>): Promise<RankResult[]> {
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pairloss-gc-'));
    const file = path.join(dir, 'job.json');
    fs.writeFileSync(file, JSON.stringify({ ...job, port, worldSize: W, timeoutMs: 30000, hardTimeoutMs: 150000 }));
    const children: ChildProcess[] = [];
    const errors: string[] = [];
    const results = await Promise.all([...Array(W).keys()].map((rank) => new Promise<RankResult | undefined>((resolve) => {
      const child = fork(RANK, [file, String(rank)], { execArgv: ['-r', REGISTER], stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
      children.push(child);
      let result: RankResult | undefined;
      let stderr = '';
      child.stderr!.on('data', (d) => { stderr += d; });
      child.stdout!.resume();
      child.on('message', (m: { type: string; result?: RankResult; message?: string }) => {
        if (m.type === 'result') result = m.result;
        else errors.push(`rank ${rank}: ${m.message}`);
      });
      child.on('exit', (code) => {
        if (!result) errors.push(`rank ${rank} exited ${code}: ${stderr.slice(-1000)}`);
        resolve(result);
      });
    })));
    fs.rmSync(dir, { recursive: true, force: true });
    if (errors.length === 0) return results as RankResult[];
    if (attempt < 2 && /address already in use|EADDRINUSE/i.test(errors.join())) continue;
    throw new Error(errors.join('\n'));
  }
}

const direct: Record<string, (a: pl.TensorLike, b: pl.TensorLike, o: Record<string, unknown>) => { loss: number; grad1?: pl.Tensor; grad2?: pl.Tensor }> = {
  npairs: pl.npairsLoss, ntXent: pl.ntXentLoss, sigmoid: pl.sigmoidLoss, vicreg: pl.vicregLoss, correlation: pl.correlationLoss,
};

test(`W = ${W}: every loss through the cache equals one process on the concatenated batch; enqueueGathered`, async () => {
  const inputs = [...Array(W).keys()].map((r) => {
    const a = randn(40 + r, N * D);
    const noise = randn(50 + r, N * D);
    return { a, b: a.map((v, i) => v + 0.5 * noise[i]), labels: [0, 1, 2, r, 1, 0] };
  });
  const ranks = await runRanks({ dtype: 'float64', n: N, d: D, splits: SPLITS, cases, inputs, queueSize: 16 });
  const all = (key: 'a' | 'b') => ({ data: Float64Array.from(inputs.flatMap((x) => x[key])), shape: [W * N, D] });
  cases.forEach((c, i) => {
    const labels = 'labels' in c ? { labels: inputs.flatMap((x) => x.labels) } : {};
    const ref = direct[c.loss](all('a'), all('b'), { ...c.options, ...labels });
    ranks.forEach((r, rank) => {
      const what = `${c.loss} ${JSON.stringify(c.options)} rank ${rank}`;
      const rows = (t: pl.Tensor | undefined) => t!.data().subarray(rank * N * D, (rank + 1) * N * D);
      expect(excess([r.results[i].loss], [ref.loss], 1e-10, 1e-10)).toBeLessThanOrEqual(0);
      const e1 = excess(r.results[i].g1, rows(ref.grad1), 1e-10, 1e-10);
      const e2 = excess(r.results[i].g2, rows(ref.grad2), 1e-10, 1e-10);
      if (!(e1 <= 0 && e2 <= 0)) throw new Error(`${what}: gradients beyond tolerance (${e1}, ${e2})`);
    });
  });
  // the gathered keys in rank order, the same queue on every rank
  const keys = inputs.flatMap((x) => x.b);
  const keyLabels = inputs.flatMap((x) => x.labels);
  for (const r of ranks) {
    expect(r.bank.rows).toEqual(keys);
    expect(r.bank.labels).toEqual(keyLabels);
  }
});
