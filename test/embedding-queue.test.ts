// EmbeddingQueue: a few MoCo / XBM steps (loss against [keys; queue], then
// enqueue) equal a PyTorch reference written from lightly's MemoryBankModule
// (the bank cloned before the update, `_dequeue_and_enqueue` after, torch.cat
// of keys and bank, then the loss) for npairsLoss (InfoNCE), SupCon (labels)
// and ntXentLoss (`negatives`); the queue is read in place; a ring whose K is
// not a multiple of the batch keeps the newest K rows (any order: the loss is
// the same); bad input is a RangeError/TypeError naming it.
import { spawnSync } from 'child_process';
import * as pl from '../lib';
import { EmbeddingQueue } from '../lib';
import { excess, hasPythonTorch, PYTHON, randn, freePort } from './helpers/distributed';

type DType = 'float32' | 'float64';
type Mode = 'npairs' | 'supcon' | 'ntxent';
const TOL = { float32: { rtol: 1e-5, atol: 1e-6 }, float64: { rtol: 1e-10, atol: 1e-10 } };
const [B, K, D, STEPS, T] = [4, 8, 5, 4, 0.2];

function arr(dtype: DType, values: ArrayLike<number>): Float32Array | Float64Array {
  return dtype === 'float64' ? Float64Array.from(values) : Float32Array.from(values);
}

function expectClose(ours: ArrayLike<number>, ref: ArrayLike<number>, dtype: DType, what: string): void {
  const e = excess(ours, ref, TOL[dtype].rtol, TOL[dtype].atol);
  if (!(e <= 0)) throw new Error(`${what}: beyond tolerance by ${e} (${Array.from(ours).slice(0, 4)} vs ${Array.from(ref).slice(0, 4)})`);
}

const unit = (dtype: DType, x: ArrayLike<number>, rows: number): Float32Array | Float64Array =>
  pl.normalize(pl.Tensor.from(arr(dtype, x), [rows, D])).data();

interface Step { q: number[]; k: number[]; labels: number[] }

function stepsFor(seed: number, dtype: DType): Step[] {
  return Array.from({ length: STEPS }, (_, s) => {
    const q = randn(seed + 10 * s, B * D);
    const noise = randn(seed + 10 * s + 1, B * D);
    const r = (v: number[]) => Array.from(arr(dtype, v));
    return { q: r(q), k: r(q.map((v, i) => v + 0.7 * noise[i])), labels: [s % 3, (s + 1) % 3, 2, s % 2] };
  });
}

const REFERENCE = `
import json, sys, torch
import torch.nn.functional as F
j = json.load(sys.stdin)
dt = torch.float64 if j['dtype'] == 'float64' else torch.float32
D, T, mode = j['D'], j['T'], j['mode']

class MemoryBank:
    # lightly.loss.memory_bank.MemoryBankModule (feature_dim_first=False): forward
    # returns the bank as it was, then (update=True) _dequeue_and_enqueue(batch)
    def __init__(self, bank, labels):
        self.bank, self.labels, self.size, self.ptr = bank.clone(), labels.clone(), bank.shape[0], 0
    def _dequeue_and_enqueue(self, batch, labels):
        b, ptr = batch.shape[0], self.ptr
        if ptr + b >= self.size:
            self.bank[ptr:] = batch[: self.size - ptr].detach()
            self.labels[ptr:] = labels[: self.size - ptr]
            self.ptr = 0
        else:
            self.bank[ptr:ptr + b] = batch.detach()
            self.labels[ptr:ptr + b] = labels
            self.ptr = ptr + b
    def forward(self, output, labels, update=True):
        bank, bank_labels = self.bank.clone().detach(), self.labels.clone()
        if update:
            self._dequeue_and_enqueue(output, labels)
        return output, bank, bank_labels

mb = MemoryBank(torch.tensor(j['init'], dtype=dt).reshape(-1, D), torch.tensor(j['initLabels']))
out = []
for s in j['steps']:
    q = torch.tensor(s['q'], dtype=dt).reshape(-1, D).requires_grad_()
    k = torch.tensor(s['k'], dtype=dt).reshape(-1, D).requires_grad_()
    labels = torch.tensor(s['labels'])
    if mode == 'ntxent':
        # lightly's NTXentLoss with memory_bank_size: out1 normalised, then banked
        out0, out1 = F.normalize(q, dim=1), F.normalize(k, dim=1)
        out1, negatives, _ = mb.forward(out1, labels)
        sim_pos = torch.einsum('nc,nc->n', out0, out1).unsqueeze(-1)
        sim_neg = torch.einsum('nc,kc->nk', out0, negatives)
        logits = torch.cat([sim_pos, sim_neg], dim=1) / T
        loss = F.cross_entropy(logits, torch.zeros(logits.shape[0], dtype=torch.long))
    else:
        _, bank, bank_labels = mb.forward(k, labels)
        x2 = torch.cat([k, bank])
        logits = F.normalize(q, dim=1) @ F.normalize(x2, dim=1).T / T
        if mode == 'npairs':
            loss = F.cross_entropy(logits, torch.arange(q.shape[0]))
        else:
            # SupCon against the bank: uniform over the columns with the row's label
            mask = (labels[:, None] == torch.cat([labels, bank_labels])[None, :]).to(dt)
            loss = -((mask / mask.sum(1, keepdim=True)) * F.log_softmax(logits, dim=1)).sum(1).mean()
    loss.backward()
    out.append({'loss': loss.item(), 'g1': q.grad.flatten().tolist(), 'g2': k.grad.flatten().tolist()})
print(json.dumps(out))
`;

describe("a few steps equal PyTorch on lightly's memory bank", () => {
  const torch = hasPythonTorch();
  for (const dtype of ['float64', 'float32'] as const) {
    for (const mode of ['npairs', 'supcon', 'ntxent'] as Mode[]) {
      (torch ? test : test.skip)(`${mode}, ${dtype}: ${STEPS} steps of B = ${B} through a queue of K = ${K}`, () => {
        const steps = stepsFor(300 + mode.length, dtype);
        // the bank's starting rows (lightly: random unit rows): enqueued first, as K rows
        const init = Array.from(unit(dtype, randn(77, K * D), K));
        const initLabels = Array.from({ length: K }, (_, i) => i % 3);
        const out = spawnSync(PYTHON, ['-c', REFERENCE], {
          input: JSON.stringify({ dtype, D, T, mode, init, initLabels, steps }), encoding: 'utf8', timeout: 120000,
        });
        expect(out.stderr).toBe('');
        const ref = JSON.parse(out.stdout) as { loss: number; g1: number[]; g2: number[] }[];

        const queue = new EmbeddingQueue({ size: K, dim: D, dtype, keyRows: B, labels: true });
        queue.enqueue({ data: arr(dtype, init), shape: [K, D] }, initLabels);
        expect(queue.count).toBe(K);
        expect(queue.position).toBe(0);
        steps.forEach((s, i) => {
          const q = { data: arr(dtype, s.q), shape: [B, D] };
          const k = { data: arr(dtype, s.k), shape: [B, D] };
          let r: { loss: number; grad1: pl.Tensor; grad2: pl.Tensor };
          if (mode === 'ntxent') {
            r = pl.ntXentLoss(q, k, { temperature: T, negatives: queue.negatives() });
            queue.enqueue({ data: unit(dtype, s.k, B), shape: [B, D] }, s.labels);
          } else {
            r = queue.npairsLoss(q, k, { temperature: T, ...(mode === 'supcon' ? { labels: s.labels } : {}) });
            queue.enqueue(k, s.labels);
          }
          expectClose([r.loss], [ref[i].loss], dtype, `step ${i} loss`);
          expectClose(r.grad1.data(), ref[i].g1, dtype, `step ${i} grad1`);
          expect(r.grad2.shape).toEqual([B, D]);
          expectClose(r.grad2.data(), ref[i].g2, dtype, `step ${i} grad2`);
        });
        // K = 2B: the ring came round twice
        expect(queue.position).toBe((STEPS * B) % K);
      });
    }
  }
});

describe('the ring', () => {
  test('read in place: negatives and [keys; queue] are views of one buffer', () => {
    const queue = new EmbeddingQueue({ size: 6, dim: D, keyRows: 3 });
    queue.enqueue({ data: Float32Array.from(randn(1, 4 * D)), shape: [4, D] });
    const neg = queue.negatives();
    expect(neg.shape).toEqual([4, D]);
    const keys = Float32Array.from(randn(2, 2 * D));
    const x2 = queue.withKeys({ data: keys, shape: [2, D] });
    expect(x2.shape).toEqual([6, D]);
    const [a, b] = [neg.data(), x2.data()];
    expect(a.buffer).toBe(b.buffer);
    // the keys right in front of the ring, the ring's rows after them
    expect(b.byteOffset + 2 * D * 4).toBe(a.byteOffset);
    expect(Array.from(b.subarray(0, 2 * D))).toEqual(Array.from(keys));
  });

  test('K not a multiple of B: the newest K rows, in storage order, and the same loss as in age order', () => {
    const [k, b] = [6, 4];
    const queue = new EmbeddingQueue({ size: k, dim: D, dtype: 'float64', keyRows: b });
    const history: number[][] = [];
    for (let s = 0; s < 5; s++) {
      const q = randn(500 + s, b * D);
      const keys = randn(600 + s, b * D);
      // the reference: [keys; the last K enqueued rows, oldest first], torch.cat's way
      const last = history.slice(-k).flat();
      const x2 = Float64Array.from([...keys, ...last]);
      if (history.length > 0) {
        const ours = queue.npairsLoss({ data: Float64Array.from(q), shape: [b, D] }, { data: Float64Array.from(keys), shape: [b, D] }, { temperature: 0.3 });
        const ref = pl.npairsLoss({ data: Float64Array.from(q), shape: [b, D] }, { data: x2, shape: [x2.length / D, D] }, { temperature: 0.3 });
        expectClose([ours.loss], [ref.loss], 'float64', `step ${s} loss`);
        expectClose(ours.grad1.data(), ref.grad1.data(), 'float64', `step ${s} grad1`);
        expectClose(ours.grad2.data(), ref.grad2.data().subarray(0, b * D), 'float64', `step ${s} grad2`);
      }
      queue.enqueue({ data: Float64Array.from(keys), shape: [b, D] });
      for (let i = 0; i < b; i++) history.push(keys.slice(i * D, (i + 1) * D));
      expect(queue.count).toBe(Math.min(k, history.length));
      // the ring holds exactly the newest K rows
      const rows = new Set(history.slice(-k).map((r) => r.join()));
      const neg = queue.negatives().data();
      for (let i = 0; i < queue.count; i++) expect(rows.has(Array.from(neg.subarray(i * D, (i + 1) * D)).join())).toBe(true);
    }
    // a batch of more than K rows keeps its last K
    const big = randn(900, 9 * D);
    queue.enqueue({ data: Float64Array.from(big), shape: [9, D] });
    const kept = new Set(Array.from({ length: k }, (_, i) => big.slice((3 + i) * D, (4 + i) * D).join()));
    const neg = queue.negatives().data();
    for (let i = 0; i < k; i++) expect(kept.has(Array.from(neg.subarray(i * D, (i + 1) * D)).join())).toBe(true);
  });

  test('npairsLossAsync equals npairsLoss (MoCo and SupCon)', async () => {
    const queue = new EmbeddingQueue({ size: 8, dim: D, dtype: 'float64', keyRows: 4, labels: true });
    queue.enqueue({ data: Float64Array.from(randn(3, 8 * D)), shape: [8, D] }, [0, 1, 2, 0, 1, 2, 0, 1]);
    const q = { data: Float64Array.from(randn(4, 4 * D)), shape: [4, D] };
    const k = { data: Float64Array.from(randn(5, 4 * D)), shape: [4, D] };
    for (const opts of [{ temperature: 0.1 }, { temperature: 0.1, labels: [0, 1, 2, 3] }]) {
      const sync = queue.npairsLoss(q, k, opts);
      const [loss, g1, g2] = [sync.loss, Array.from(sync.grad1.data()), Array.from(sync.grad2.data())];
      const r = await queue.npairsLossAsync(q, k, { ...opts, signal: new AbortController().signal });
      expect(r.loss).toBe(loss);
      expect(Array.from(r.grad1.data())).toEqual(g1);
      expect(Array.from(r.grad2.data())).toEqual(g2);
    }
  });

  test('labels follow their rows', () => {
    const queue = new EmbeddingQueue({ size: 3, dim: 1, labels: true });
    queue.enqueue([[1], [2]], [10, 20]);
    queue.enqueue([[3], [4]], [30, 40]);
    expect(Array.from(queue.negatives().data())).toEqual([4, 2, 3]);
    expect(Array.from(queue.negativeLabels())).toEqual([40, 20, 30]);
  });
});

describe('under a process group of one rank', () => {
  test('enqueueGathered enqueues the gathered batch (and labels)', async () => {
    const pg = await pl.ProcessGroup.init({ rank: 0, worldSize: 1, port: await freePort(), timeoutMs: 10000 });
    try {
      const queue = new EmbeddingQueue({ size: 4, dim: 2, labels: true });
      await queue.enqueueGathered(pg, [[1, 2], [3, 4]], [7, 8]);
      expect(queue.count).toBe(2);
      expect(Array.from(queue.negatives().data())).toEqual([1, 2, 3, 4]);
      expect(Array.from(queue.negativeLabels())).toEqual([7, 8]);
      await expect(queue.enqueueGathered(pg, [[1, 2, 3]], [7])).rejects.toThrow(/batch: must have the queue's width D = 2/);
      await expect(queue.enqueueGathered({} as never, [[1, 2]], [7])).rejects.toThrow(TypeError);
    } finally {
      await pg.destroy();
    }
  });
});

describe('bad input', () => {
  test('construction: K < 1, a bad dim or keyRows', () => {
    expect(() => new EmbeddingQueue({ size: 0, dim: 4 })).toThrow(RangeError);
    expect(() => new EmbeddingQueue({ size: 0, dim: 4 })).toThrow(/for size but received 0/);
    expect(() => new EmbeddingQueue({ size: 1.5, dim: 4 })).toThrow(/for size/);
    expect(() => new EmbeddingQueue({ size: '4' as never, dim: 4 })).toThrow(TypeError);
    expect(() => new EmbeddingQueue({ size: 4, dim: 0 })).toThrow(/for dim/);
    expect(() => new EmbeddingQueue({ size: 4, dim: 4, keyRows: -1 })).toThrow(/for keyRows/);
    expect(() => new EmbeddingQueue({ size: 4, dim: 4, dtype: 'int8' as never })).toThrow(/for dtype/);
    expect(() => new EmbeddingQueue({ size: 4, dim: 4, bogus: 1 } as never)).toThrow(RangeError);
  });

  test('a width or dtype that does not match', () => {
    const queue = new EmbeddingQueue({ size: 4, dim: 3, keyRows: 2 });
    expect(() => queue.enqueue([[1, 2]])).toThrow(RangeError);
    expect(() => queue.enqueue([[1, 2]])).toThrow(/batch: must have the queue's width D = 3, got 2 columns/);
    expect(() => queue.enqueue({ data: new Float64Array(3), shape: [1, 3] })).toThrow(TypeError);
    expect(() => queue.enqueue({ data: new Float64Array(3), shape: [1, 3] })).toThrow(/batch must have the queue's dtype \(float32\)/);
    expect(() => queue.withKeys([[1, 2]])).toThrow(/keys: must have the queue's width/);
    expect(() => queue.withKeys([[1, 2, 3], [1, 2, 3], [1, 2, 3]])).toThrow(/keys: 3 rows, beyond the queue's keyRows \(2\)/);
    expect(() => queue.enqueue({ data: new Float32Array(0), shape: [0, 3] })).toThrow(/batch: an empty batch/);
    expect(() => queue.negatives()).toThrow(/queue: is empty/);
    queue.enqueue([[1, 2, 3]]);
    expect(() => queue.npairsLoss([[1, 2]], [[1, 2, 3]])).toThrow(/queries: must have the queue's width/);
    expect(() => queue.npairsLoss([[1, 2, 3], [1, 0, 0]], [[1, 2, 3]])).toThrow(/keys: must have the 2 rows of queries/);
    expect(() => queue.npairsLoss([[1, 2, 3]], [[1, 2, 3]], { group: {} } as never)).toThrow(/group: the queue's loss is each rank's own/);
    expect(() => queue.npairsLoss([[1, 2, 3]], [[1, 2, 3]], { symmetric: true } as never)).toThrow(/symmetric: is not an option/);
    expect(() => queue.npairsLoss([[1, 2, 3]], [[1, 2, 3]], { labels: [1] })).toThrow(/labels: this queue keeps none/);
  });

  test('labels of the wrong length, missing or unexpected', () => {
    const queue = new EmbeddingQueue({ size: 4, dim: 1, labels: true, keyRows: 2 });
    expect(() => queue.enqueue([[1], [2]], [1])).toThrow(RangeError);
    expect(() => queue.enqueue([[1], [2]], [1])).toThrow(/labels: expected 2 labels/);
    expect(() => queue.enqueue([[1], [2]])).toThrow(/labels: this queue keeps a label per row: expected 2 labels/);
    expect(() => queue.enqueue([[1]], ['a'] as never)).toThrow(TypeError);
    expect(() => queue.withKeys([[1], [2]], [1, 2, 3])).toThrow(/labels: expected 2 labels/);
    expect(queue.count).toBe(0);
    const plain = new EmbeddingQueue({ size: 4, dim: 1 });
    expect(() => plain.enqueue([[1]], [1])).toThrow(/labels: this queue keeps none/);
    expect(() => plain.negativeLabels()).toThrow(/labels: this queue keeps none/);
  });
});
