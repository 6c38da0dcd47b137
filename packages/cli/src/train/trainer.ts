/**
 * The training loop: two towers (spelling, pronunciation) trained on the CMU
 * Pronouncing Dictionary with one of pairloss's losses ({@link TRAIN_LOSSES}:
 * N-pairs, SigLIP, SupCon, NT-Xent, VICReg, Barlow Twins' correlation
 * loss, DCL or the triplet margin loss), in one process or as one rank of a process group, evaluated by
 * held-out retrieval after every epoch.
 */
import { correlationLossAsync, cosineSimilarity, dclLossAsync, npairsLossAsync, ntXentLossAsync, sigmoidLossAsync, Tensor, tripletMarginLossAsync, vicregLossAsync } from 'pairloss';
import type { CsrTensor, ProcessGroup } from 'pairloss';
import { PairDataset } from './data';
import { recallAtK, Recall, retrievalTask, RetrievalTask } from './metrics';
import { Adam, CsrRows, Tower } from './model';
import { release, take } from './host';
import { createRng, shuffleInPlace } from './rng';

/** The losses `pairloss-demo train` can train with. */
export const TRAIN_LOSSES = ['npairs', 'siglip', 'supcon', 'ntxent', 'vicreg', 'correlation', 'dcl', 'triplet'] as const;
export type TrainLoss = (typeof TRAIN_LOSSES)[number];

/** What a run's loss is, in words (the console and the loss plot's title). */
export function describeLoss(c: Pick<TrainConfig, 'loss' | 'temperature'>): string {
  switch (c.loss) {
    case 'npairs': return `symmetric N-pairs loss (temperature ${c.temperature})`;
    case 'supcon': return `SupCon over both views, homophones as positives too (temperature ${c.temperature})`;
    case 'ntxent': return `NT-Xent, SimCLR over both views (temperature ${c.temperature})`;
    case 'siglip': return 'SigLIP sigmoid loss (scale and bias learned from 10 and -10)';
    case 'vicreg': return 'VICReg loss (weights 25 / 25 / 1)';
    case 'dcl': return `DCL, decoupled contrastive loss over both views (temperature ${c.temperature})`;
    case 'triplet': return 'triplet margin loss, batch-hard over both views, homophones as positives too (margin 0.05)';
    default: return "Barlow Twins correlation loss (mode 'features')";
  }
}

/** Settings of a training run. Every field has the default shown in {@link DEFAULT_TRAIN_CONFIG}. */
export interface TrainConfig {
  /**
   * `'npairs'`: symmetric N-pairs (CLIP) loss; `'supcon'`: SupCon over both views (a view's positives:
   * the other view of its pair and both views of words that sound alike); `'ntxent'`: SimCLR's NT-Xent over both
   * views; `'siglip'`: SigLIP's sigmoid loss with its scale and bias learned; `'vicreg'`: VICReg;
   * `'correlation'`: Barlow Twins loss (`mode: 'features'`); `'dcl'`: DCL (decoupled contrastive learning, unweighted);
   * `'triplet'`: the triplet margin loss with
   * batch-hard mining over both views, labelled as SupCon's (one process only).
   */
  loss: TrainLoss;
  /** Passes over the training pairs. */
  epochs: number;
  /** Pairs per step (each step's other pairs are the negatives of N-pairs). */
  batchSize: number;
  /** Embedding size. */
  dim: number;
  /** Hidden units of each tower; 0 = linear towers. */
  hidden: number;
  /** N-pairs temperature (logits = cosine / temperature). */
  temperature: number;
  /** Adam's learning rate. */
  lr: number;
  /** Seed of the weights and the batch order (the split does not depend on it). */
  seed: number;
  /** Where the loss runs: `'cpu'`, `'cuda'`, `'cuda:N'` (the towers' sparse products run on the CPU). */
  device: string;
}

/** The defaults of `pairloss-demo train` (about a minute on two CPU cores). */
export const DEFAULT_TRAIN_CONFIG: Readonly<TrainConfig> = Object.freeze({
  loss: 'npairs',
  epochs: 4,
  batchSize: 512,
  dim: 64,
  hidden: 0,
  temperature: 0.05,
  lr: 0.01,
  seed: 1,
  device: 'cpu',
});

/** Metrics of one epoch (epoch 0: before training). */
export interface EpochRecord extends Recall {
  epoch: number;
  /** Mean training loss over the epoch's steps (null for epoch 0). */
  loss: number | null;
  /** Training pairs per second over the epoch (null for epoch 0). */
  pairsPerSecond: number | null;
  /** Wall time of the epoch's training steps, in seconds. */
  seconds: number;
}

/** Callbacks of {@link train}. */
export interface TrainHooks {
  /** Before an epoch's first step. */
  onEpochStart?(epoch: number, steps: number): void;
  /** After each step, with its loss. */
  onStep?(epoch: number, step: number, steps: number, loss: number): void;
  /** After each evaluation (epoch 0 is before training). */
  onEpoch?(record: EpochRecord): void;
}

/** What {@link train} returns. */
export interface TrainResult {
  config: TrainConfig;
  epochs: EpochRecord[];
  /** Loss of every step, in order. */
  stepLosses: number[];
  /** Cosine similarity `[k, k]` of the fixed held-out batch before training (row-major). */
  heatmapBefore: Float32Array;
  /** The same after training. */
  heatmapAfter: Float32Array;
  /** Spellings and pronunciations of the fixed held-out batch. */
  heatmapWords: string[];
  heatmapProns: string[];
  /** Sizes of the split. */
  trainPairs: number;
  testPairs: number;
  galleryItems: number;
  /** Total wall time of the training steps, in seconds. */
  trainSeconds: number;
}

/** Options of {@link train} besides the config. */
export interface TrainOptions {
  hooks?: TrainHooks;
  /** Number of held-out pairs in the heatmaps. Default 16. */
  heatmapPairs?: number;
  /**
   * A process group: each rank trains on its share of every global batch, the loss is the global
   * one (gathered embeddings), and the weight gradients are averaged across ranks.
   */
  group?: ProcessGroup;
  /** Evaluate (recall, heatmaps) on this process. Default true; other ranks than 0 may skip it. */
  evaluate?: boolean;
}

/** Each view's sparse features held natively once, its batches gathered from them. */
interface Views {
  spelling: CsrRows;
  pronunciation: CsrRows;
}

/** Encodes the `rows` of one view with `tower` in chunks; returns `[rows.length, dim]`. */
function encode(tower: Tower, features: CsrRows, rows: Int32Array): Float32Array {
  const dim = tower.shape.outDim;
  const out = new Float32Array(rows.length * dim);
  const chunk = 512;
  for (let start = 0; start < rows.length; start += chunk) {
    const n = Math.min(chunk, rows.length - start);
    out.set(tower.forward(features.of(rows.subarray(start, start + n))), start * dim);
  }
  return out;
}

function evaluate(spell: Tower, pron: Tower, views: Views, task: RetrievalTask, device: string): Recall {
  const q = encode(spell, views.spelling, task.queries);
  const g = encode(pron, views.pronunciation, task.gallery);
  return recallAtK(q, g, spell.shape.outDim, task.target, device);
}

function similarityOf(spell: Tower, pron: Tower, views: Views, rows: Int32Array, device: string): Float32Array {
  const d = spell.shape.outDim;
  const a = Tensor.from(encode(spell, views.spelling, rows), [rows.length, d], { device });
  const b = Tensor.from(encode(pron, views.pronunciation, rows), [rows.length, d], { device });
  const s = Float32Array.from(take(cosineSimilarity(a, b)));
  release(a, b);
  return s;
}

/** A class per pair: the index of its pronunciation among the distinct ones (SupCon's labels). */
function pronunciationClasses(ds: PairDataset): Int32Array {
  const ids = new Map<string, number>();
  return Int32Array.from(ds.prons, (p) => {
    let id = ids.get(p);
    if (id === undefined) ids.set(p, (id = ids.size));
    return id;
  });
}

/** Picks `k` held-out pairs with distinct pronunciations (the first ones in the split's fixed order). */
function heatmapRows(ds: PairDataset, k: number): Int32Array {
  const seen = new Set<string>();
  const rows: number[] = [];
  for (const i of ds.test) {
    if (rows.length === k) break;
    if (seen.has(ds.prons[i])) continue;
    seen.add(ds.prons[i]);
    rows.push(i);
  }
  return Int32Array.from(rows);
}

/**
 * Trains the two towers and evaluates them before training and after every epoch.
 *
 * @param ds - the featurised data set ({@link loadCmudict}).
 * @param config - the run's settings (see {@link DEFAULT_TRAIN_CONFIG}).
 * @throws RangeError when the batch size exceeds the number of training pairs (per rank).
 * @example
 * ```ts
 * const result = await train(loadCmudict(), { ...DEFAULT_TRAIN_CONFIG, epochs: 1 });
 * result.epochs.at(-1)?.recall1;
 * ```
 */
export async function train(ds: PairDataset, config: TrainConfig, options: TrainOptions = {}): Promise<TrainResult> {
  const hooks = options.hooks ?? {};
  const group = options.group;
  const world = group ? group.worldSize : 1;
  const rank = group ? group.rank : 0;
  const { batchSize, dim, hidden, device } = config;
  if (batchSize % world !== 0) {
    throw new RangeError(`batchSize must be a multiple of the world size ${world}, got ${batchSize}`);
  }
  if (group && config.loss === 'triplet') throw new RangeError("loss 'triplet' runs in one process (tripletMarginLoss has no process group)");
  const local = batchSize / world;
  const steps = Math.floor(ds.train.length / batchSize);
  if (steps < 1) {
    throw new RangeError(`batchSize must be at most the number of training pairs (${ds.train.length}), got ${batchSize}`);
  }
  // the same seed on every rank: the same initial weights and the same global batch order
  const rng = createRng(config.seed);
  const inDim = ds.spelling.dim;
  // the towers run on the CPU (sparse products); the loss on `device`
  const spell = new Tower({ inDim, hidden, outDim: dim }, rng);
  const pron = new Tower({ inDim: ds.pronunciation.dim, hidden, outDim: dim }, rng);
  const params = [...spell.params, ...pron.params];
  const optimizer = new Adam(params, { lr: config.lr });

  // each view's features held natively once (checked and copied once), every batch gathered from them
  const views: Views = { spelling: new CsrRows(ds.spelling), pronunciation: new CsrRows(ds.pronunciation) };
  const task = retrievalTask(ds.test, ds.prons);
  const heat = heatmapRows(ds, options.heatmapPairs ?? 16);
  const evaluating = options.evaluate ?? true;
  const k = heat.length;
  const measure = (): Recall =>
    evaluating
      ? evaluate(spell, pron, views, task, device)
      : { recall1: NaN, recall10: NaN, chance1: 1 / task.gallery.length, chance10: Math.min(10, task.gallery.length) / task.gallery.length, meanRank: NaN };
  const heatmapBefore = evaluating ? similarityOf(spell, pron, views, heat, device) : new Float32Array(k * k);
  const epochs: EpochRecord[] = [];
  const record0: EpochRecord = { epoch: 0, loss: null, pairsPerSecond: null, seconds: 0, ...measure() };
  epochs.push(record0);
  hooks.onEpoch?.(record0);

  const order = Int32Array.from(ds.train);
  const stepLosses: number[] = [];
  const flat = group ? new Float32Array(params.reduce((n, p) => n + p.grad.length, 0)) : null;
  const lossGroup = group ? { group } : {};
  // SupCon's classes: one per pronunciation (homophones are positives of each other)
  const classOf = config.loss === 'supcon' || config.loss === 'triplet' ? pronunciationClasses(ds) : null;
  const labels = new Int32Array(2 * local);
  const both = classOf ? new Float32Array(2 * local * dim) : null;
  // SigLIP's learned logit scale (as t' = log scale) and bias, at the paper's init
  const siglip = { name: 'siglip', shape: [2], value: Float32Array.from([Math.log(10), -10]), grad: new Float32Array(2) };
  const siglipOptimizer = new Adam([siglip], { lr: config.lr });
  // ∂loss/∂z of the two views, written by the loss into these arrays on the CPU (its `out`) and read back
  // from the device otherwise; SupCon's over both views [z1; z2] at once
  const g1 = new Float32Array(local * dim);
  const g2 = new Float32Array(local * dim);
  const gBoth = both ? [new Float32Array(2 * local * dim), new Float32Array(2 * local * dim)] : null;
  const onCpu = device === 'cpu';
  const grads = (r: { grad1?: Tensor; grad2?: Tensor }): void => {
    if (onCpu) return; // already in g1 and g2
    g1.set(take(r.grad1!));
    g2.set(take(r.grad2!));
  };
  const out = onCpu ? { out: { grad1: g1, grad2: g2 } } : {};
  // each view's CSR batch (rows gathered natively into one of two CsrTensors refilled in turn): the next
  // step's is made while the current loss computes, the current one is still read by backward
  const rowsOf = (s: number): Int32Array => order.subarray(s * batchSize + rank * local, s * batchSize + (rank + 1) * local);
  const csrOf = (s: number): [CsrTensor, CsrTensor] => [views.spelling.of(rowsOf(s)), views.pronunciation.of(rowsOf(s))];
  let trainSeconds = 0;
  for (let epoch = 1; epoch <= config.epochs; epoch++) {
    shuffleInPlace(order, rng);
    hooks.onEpochStart?.(epoch, steps);
    const started = process.hrtime.bigint();
    let lossSum = 0;
    let next = csrOf(0);
    for (let s = 0; s < steps; s++) {
      // this rank's share of the global batch
      const rows = rowsOf(s);
      const [xs, xp] = next;
      const e1 = spell.forward(xs);
      const e2 = pron.forward(xp);
      const z1 = Tensor.from(e1, [local, dim], { device });
      const z2 = Tensor.from(e2, [local, dim], { device });
      let pending: Promise<number>;
      if (config.loss === 'npairs') {
        pending = npairsLossAsync(z1, z2, { temperature: config.temperature, symmetric: true, ...lossGroup, ...out }).then((r) => (grads(r), r.loss));
      } else if (config.loss === 'supcon' && classOf && both && gBoth) {
        // SupCon over all views: z = [z1; z2], each view's positives the other view of its pair and
        // every view of a homophone, each row leaving out itself
        for (let i = 0; i < local; i++) labels[i] = labels[local + i] = classOf[rows[i]];
        both.set(e1, 0);
        both.set(e2, local * dim);
        const z = Tensor.from(both, [2 * local, dim], { device });
        const supOut = onCpu ? { out: { grad1: gBoth[0], grad2: gBoth[1] } } : {};
        pending = npairsLossAsync(z, z, { temperature: config.temperature, labels, excludeSelf: true, ...lossGroup, ...supOut }).then((r) => {
          release(z);
          const [ga, gb] = onCpu ? gBoth : [take(r.grad1), take(r.grad2)];
          // z is x1 and x2: its gradient is grad1 + grad2, split back into the two views
          const half = local * dim;
          for (let k = 0; k < half; k++) {
            g1[k] = ga[k] + gb[k];
            g2[k] = ga[half + k] + gb[half + k];
          }
          return r.loss;
        });
      } else if (config.loss === 'triplet' && classOf && both && gBoth) {
        // the triplet margin loss over all views z = [z1; z2], labelled as SupCon's: each view's
        // positives the other view of its pair and every view of a homophone (batch-hard mining)
        for (let i = 0; i < local; i++) labels[i] = labels[local + i] = classOf[rows[i]];
        both.set(e1, 0);
        both.set(e2, local * dim);
        const z = Tensor.from(both, [2 * local, dim], { device });
        pending = tripletMarginLossAsync(z, labels, onCpu ? { out: { grad: gBoth[0] } } : {}).then((r) => {
          release(z);
          const g = onCpu ? gBoth[0] : take(r.grad);
          g1.set(g.subarray(0, local * dim));
          g2.set(g.subarray(local * dim));
          return r.loss;
        });
      } else if (config.loss === 'siglip') {
        const scale = Math.exp(siglip.value[0]);
        pending = sigmoidLossAsync(z1, z2, { scale, bias: siglip.value[1], ...lossGroup, ...out }).then((r) => {
          // gradScale and gradBias are those of the global loss (the same on every rank)
          siglip.grad[0] = r.gradScale * scale;
          siglip.grad[1] = r.gradBias;
          siglipOptimizer.step();
          grads(r);
          return r.loss;
        });
      } else if (config.loss === 'vicreg') {
        pending = vicregLossAsync(z1, z2, { ...lossGroup, ...out }).then((r) => (grads(r), r.loss));
      } else if (config.loss === 'dcl') {
        pending = dclLossAsync(z1, z2, { temperature: config.temperature, ...lossGroup, ...out }).then((r) => (grads(r), r.loss));
      } else if (config.loss === 'ntxent') {
        pending = ntXentLossAsync(z1, z2, { temperature: config.temperature, ...lossGroup, ...out }).then((r) => (grads(r), r.loss));
      } else {
        pending = correlationLossAsync(z1, z2, { mode: 'features', ...(group ? { group, syncBatchNorm: true } : {}), ...out }).then((r) => (grads(r), r.loss));
      }
      // while the loss computes (on the pool, or on the group's thread): the next step's CSR batches
      if (s + 1 < steps) next = csrOf(s + 1);
      const loss = await pending;
      // on a GPU z1 and z2 stay there until disposed: free them now
      release(z1, z2);
      spell.backward(xs, g1);
      pron.backward(xp, g2);
      if (group && flat) {
        // the loss is global and grad1/grad2 are exact for this rank's rows, so the weights' gradient
        // is the sum of every rank's share: one all-reduce of all the gradients
        let at = 0;
        for (const p of params) {
          flat.set(p.grad, at);
          at += p.grad.length;
        }
        const summed = take(await group.allReduce(Tensor.from(flat, [flat.length]), 'sum'));
        at = 0;
        for (const p of params) {
          p.grad.set(summed.subarray(at, at + p.grad.length));
          at += p.grad.length;
        }
      }
      optimizer.step();
      lossSum += loss;
      stepLosses.push(loss);
      hooks.onStep?.(epoch, s + 1, steps, loss);
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    trainSeconds += seconds;
    const record: EpochRecord = {
      epoch,
      loss: lossSum / steps,
      pairsPerSecond: (steps * batchSize) / seconds,
      seconds,
      ...measure(),
    };
    epochs.push(record);
    hooks.onEpoch?.(record);
  }
  return {
    config: { ...config },
    epochs,
    stepLosses,
    heatmapBefore,
    heatmapAfter: evaluating ? similarityOf(spell, pron, views, heat, device) : new Float32Array(k * k),
    heatmapWords: Array.from(heat, (i) => ds.words[i]),
    heatmapProns: Array.from(heat, (i) => ds.prons[i]),
    trainPairs: ds.train.length,
    testPairs: ds.test.length,
    galleryItems: task.gallery.length,
    trainSeconds,
  };
}
