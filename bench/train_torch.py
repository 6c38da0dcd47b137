#!/usr/bin/env python3
"""The training job of `pairloss-demo train`, written in PyTorch.

The same CMU-dictionary pairs, the same hashed n-gram features, the same
split, the same initial weights and the same batch order as pairloss's
trainer (packages/cli/src/train/), trained with the same loss (symmetric
N-pairs, temperature 0.05) and Adam (lr 0.01), so that `npm run bench:train`
compares two implementations of one job.

    /usr/bin/python3 bench/train_torch.py JOB_DIR --variant dense|embbag [--threads N] [--summary S]

JOB_DIR comes from `node bench/train_job.js JOB_DIR`. This script rebuilds the
features, the split and the batch order itself and stops unless their
SHA-256 digests equal those the Node side wrote (bit-identical data). The
initial weights are read from JOB_DIR (see bench/train_job.js for why);
how many of this script's own Box-Muller draws differ from them is printed.

Variants: `dense` is what most PyTorch users write: each batch scattered
into a dense [B, F] matrix and `nn.Linear` without bias. `embbag` is the
sparse-aware form: `F.embedding_bag(mode='sum', per_sample_weights=...)`.
OMP_WAIT_POLICY is read by OpenMP at start-up: set it in the environment.

Prints one JSON line: training time (the steps only, as the trainer's
`trainSeconds`), pairs/s, held-out recall@1/@10 and, with --summary (a
pairloss summary.json of the same job), the largest step-loss difference.
"""
import argparse
import hashlib
import json
import math
import os
import re
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

M32 = 0xFFFFFFFF


def imul(a, b):
    return (a * b) & M32


# ---------- the features (packages/cli/src/train/data.ts) ----------

def fnv1a(s, salt=0):
    h = (0x811C9DC5 ^ salt) & M32
    for ch in s:
        h ^= ord(ch)
        h = imul(h, 0x01000193)
    h ^= h >> 16
    h = imul(h, 0x85EBCA6B)
    h ^= h >> 13
    return h


def hash_grams(seq, n_min, n_max, salt, dim, out):
    for n in range(n_min, n_max + 1):
        for i in range(0, len(seq) - n + 1):
            h = (0x811C9DC5 ^ imul(salt, 31) ^ n) & M32
            for j in range(n):
                h ^= seq[i + j]
                h = imul(h, 0x01000193)
            h ^= h >> 16
            h = imul(h, 0x85EBCA6B)
            h ^= h >> 13
            out.append(h % dim)


def spelling_buckets(word, dim, salt=0x51):
    codes = [0x5E] + [ord(c) for c in word] + [0x24]
    out = []
    hash_grams(codes, 1, 4, salt, dim, out)
    return out


_phoneme_ids = {}


def phoneme_id(p):
    if p not in _phoneme_ids:
        _phoneme_ids[p] = fnv1a(p, 0x9)
    return _phoneme_ids[p]


def pronunciation_buckets(pron, dim, salt=0x52):
    stressed = [p for p in pron.split(' ') if p]
    plain = [phoneme_id('^')] + [phoneme_id(re.sub(r'[0-9]', '', p)) for p in stressed] + [phoneme_id('$')]
    with_stress = [phoneme_id(p) for p in stressed]
    out = []
    hash_grams(plain, 1, 3, salt, dim, out)
    hash_grams(with_stress, 1, 1, salt + 7, dim, out)
    return out


def count_rows(buckets):
    """L2-normalised count rows as CSR (ptr int32, idx int32, val float32), as countRows."""
    ptr = [0]
    idx = []
    val = []
    for row in buckets:
        counts = {}
        for b in row:
            counts[b] = counts.get(b, 0) + 1
        cols = sorted(counts)
        norm = float(sum(counts[c] * counts[c] for c in cols))
        inv = 1.0 / math.sqrt(norm) if norm > 0 else 0.0
        for c in cols:
            idx.append(c)
            # a float32 count times a double, rounded to float32 (Float32Array *=)
            val.append(np.float32(float(counts[c]) * inv))
        ptr.append(len(idx))
    return (np.asarray(ptr, dtype=np.int32), np.asarray(idx, dtype=np.int32), np.asarray(val, dtype=np.float32))


def read_pairs(path):
    with open(path, encoding='utf-8') as f:
        d = json.load(f)
    pairs = []
    for key, pron in d.items():
        if not re.fullmatch(r"[A-Z][A-Z'.-]*", key):
            continue
        pron = re.sub(r'\s+', ' ', str(pron).strip())
        if not pron:
            continue
        pairs.append((key.lower(), pron))
    return pairs


def build_dataset(pairs, feature_dim, test_size):
    hashes = [fnv1a(w, 0x5EED) for w, _ in pairs]
    order = sorted(range(len(pairs)), key=lambda i: (hashes[i], i))
    rest = sorted(order[test_size:])
    chosen = order[:test_size] + rest
    words = [pairs[i][0] for i in chosen]
    prons = [pairs[i][1] for i in chosen]
    return {
        'words': words,
        'prons': prons,
        'spelling': count_rows([spelling_buckets(w, feature_dim) for w in words]),
        'pronunciation': count_rows([pronunciation_buckets(p, feature_dim) for p in prons]),
        'train': np.arange(test_size, len(words), dtype=np.int32),
        'test': np.arange(0, test_size, dtype=np.int32),
    }


# ---------- the generator (packages/cli/src/train/rng.ts) ----------

class Rng:
    def __init__(self, seed):
        s = [int(seed) & M32]

        def mix():
            s[0] = (s[0] + 0x9E3779B9) & M32
            z = s[0]
            z = imul(z ^ (z >> 16), 0x85EBCA6B)
            z = imul(z ^ (z >> 13), 0xC2B2AE35)
            return (z ^ (z >> 16)) & M32

        self.a, self.b, self.c, self.d = mix(), mix(), mix(), mix()
        self.spare = None
        for _ in range(12):
            self.u32()

    def u32(self):
        t = (self.a + self.b + self.d) & M32
        self.d = (self.d + 1) & M32
        self.a = self.b ^ (self.b >> 9)
        self.b = (self.c + (self.c << 3)) & M32
        self.c = ((self.c << 21) | (self.c >> 11)) & M32
        self.c = (self.c + t) & M32
        return t

    def next(self):
        return self.u32() / 4294967296

    def int(self, n):
        return math.floor(self.next() * n)

    def normal(self):
        if self.spare is not None:
            v, self.spare = self.spare, None
            return v
        u = 0.0
        while u == 0.0:
            u = self.next()
        v = self.next()
        r = math.sqrt(-2 * math.log(u))
        self.spare = r * math.sin(2 * math.pi * v)
        return r * math.cos(2 * math.pi * v)


def shuffle_in_place(a, rng):
    for i in range(len(a) - 1, 0, -1):
        j = rng.int(i + 1)
        a[i], a[j] = a[j], a[i]


def sha(*arrays):
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


# ---------- the job ----------

def npairs_symmetric(z1, z2, temperature):
    """npairsLoss(z1, z2, { temperature, symmetric: true }): CLIP's mean of both cross entropies."""
    logits = F.normalize(z1, dim=1) @ F.normalize(z2, dim=1).T / temperature
    target = torch.arange(z1.shape[0])
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


def recall(w_spell, w_pron, ds, rows):
    """Held-out recall@1/@10 of spelling -> pronunciation, as metrics.ts (a tie counts against the query)."""
    position = {}
    gallery = []
    target = []
    for r in rows:
        p = ds['prons'][r]
        if p not in position:
            position[p] = len(gallery)
            gallery.append(r)
        target.append(position[p])
    with torch.no_grad():
        q = F.normalize(embed_dense(ds['spelling'], rows, w_spell), dim=1)
        g = F.normalize(embed_dense(ds['pronunciation'], np.asarray(gallery), w_pron), dim=1)
        s = q @ g.T
        t = torch.tensor(target)
        own = s[torch.arange(len(rows)), t]
        better = (s >= own[:, None]).sum(1) - 1
    return float((better < 1).double().mean()), float((better < 10).double().mean())


def batch_csr(view, rows):
    """The rows' CSR slices as (offsets, indices, values, row of each entry), torch tensors."""
    ptr, idx, val = view
    starts = ptr[rows]
    counts = ptr[rows + 1] - starts
    total = int(counts.sum())
    offsets = np.zeros(len(rows), dtype=np.int64)
    np.cumsum(counts[:-1], out=offsets[1:])
    pos = np.repeat(starts - offsets, counts) + np.arange(total)
    return (torch.from_numpy(offsets), torch.from_numpy(idx[pos].astype(np.int64)), torch.from_numpy(val[pos]),
            torch.from_numpy(np.repeat(np.arange(len(rows)), counts)))


def embed_dense(view, rows, w):
    offsets, cols, vals, r = batch_csr(view, rows)
    x = torch.zeros(len(rows), w.shape[0])
    x[r, cols] = vals
    return x @ w


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('job')
    ap.add_argument('--variant', choices=['dense', 'embbag'], required=True)
    ap.add_argument('--threads', type=int, default=0, help="intra-op threads (0: LibTorch's default)")
    ap.add_argument('--summary', help="a pairloss summary.json of the same job: compare the step losses")
    ap.add_argument('--no-eval', action='store_true')
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    with open(os.path.join(a.job, 'job.json')) as f:
        job = json.load(f)

    t0 = time.perf_counter()
    cache = os.path.join(a.job, 'torch_dataset.npz')
    if os.path.exists(cache):
        # the features this script built in an earlier run on the same job (checked again below)
        z = np.load(cache, allow_pickle=False)
        ds = {'spelling': (z['sp'], z['si'], z['sv']), 'pronunciation': (z['pp'], z['pi'], z['pv']),
              'train': z['train'], 'test': z['test'], 'prons': list(z['prons'])}
    else:
        ds = build_dataset(read_pairs(job['dictionary']), job['featureDim'], job['testSize'])
        np.savez(cache, sp=ds['spelling'][0], si=ds['spelling'][1], sv=ds['spelling'][2], pp=ds['pronunciation'][0],
                 pi=ds['pronunciation'][1], pv=ds['pronunciation'][2], train=ds['train'], test=ds['test'],
                 prons=np.array(ds['prons']))
    dig = job['digests']
    for name in ('spelling', 'pronunciation'):
        if sha(*ds[name]) != dig[name]:
            sys.exit(f'train_torch.py: the {name} features differ from the Node side\'s (digest mismatch)')
    if sha(ds['train'], ds['test']) != dig['split']:
        sys.exit('train_torch.py: the split differs from the Node side\'s')

    # the trainer's draws: spelling tower, pronunciation tower (N(0, 1)), then a shuffle per epoch
    dim, fdim = job['dim'], job['featureDim']
    rng = Rng(job['seed'])
    own = [np.array([rng.normal() for _ in range(fdim * dim)], dtype=np.float32) for _ in range(2)]
    given = [np.fromfile(os.path.join(a.job, n), dtype=np.float32) for n in ('w_spell.f32', 'w_pron.f32')]
    differing = int(sum((o != g).sum() for o, g in zip(own, given)))
    order = ds['train'].copy()
    orders = []
    for e in range(job['epochs']):
        shuffle_in_place(order, rng)
        if sha(order) != dig['orders'][e]:
            sys.exit(f'train_torch.py: the batch order of epoch {e + 1} differs from the Node side\'s')
        orders.append(order.copy())
    load_seconds = time.perf_counter() - t0

    w_spell = torch.nn.Parameter(torch.from_numpy(given[0].reshape(fdim, dim).copy()))
    w_pron = torch.nn.Parameter(torch.from_numpy(given[1].reshape(fdim, dim).copy()))
    opt = torch.optim.Adam([w_spell, w_pron], lr=job['lr'])
    batch = job['batchSize']
    steps = len(ds['train']) // batch
    temperature = job['temperature']
    losses = []

    if a.variant == 'dense':
        # nn.Linear(F, D, bias=False) holds W.T; x @ W is the same product
        lin_s = torch.nn.Linear(fdim, dim, bias=False)
        lin_p = torch.nn.Linear(fdim, dim, bias=False)
        del lin_s.weight, lin_p.weight
        xs = torch.zeros(batch, fdim)
        xp = torch.zeros(batch, fdim)

        def forward(rows):
            for view, x in ((ds['spelling'], xs), (ds['pronunciation'], xp)):
                _, cols, vals, r = batch_csr(view, rows)
                x.zero_()
                x[r, cols] = vals
            lin_s.weight = w_spell.T
            lin_p.weight = w_pron.T
            return lin_s(xs), lin_p(xp)
    else:
        def forward(rows):
            out = []
            for view, w in ((ds['spelling'], w_spell), (ds['pronunciation'], w_pron)):
                offsets, cols, vals, _ = batch_csr(view, rows)
                out.append(F.embedding_bag(cols, w, offsets, mode='sum', per_sample_weights=vals))
            return out

    train_seconds = 0.0
    for e in range(job['epochs']):
        started = time.perf_counter()
        for s in range(steps):
            rows = orders[e][s * batch:(s + 1) * batch]
            z1, z2 = forward(rows)
            loss = npairs_symmetric(z1, z2, temperature)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        train_seconds += time.perf_counter() - started

    result = {
        'variant': a.variant,
        'threads': torch.get_num_threads(),
        'ompWaitPolicy': os.environ.get('OMP_WAIT_POLICY', 'default'),
        'torch': torch.__version__,
        'trainSeconds': train_seconds,
        'pairsPerSecond': steps * batch * job['epochs'] / train_seconds,
        'steps': len(losses),
        'loadSeconds': load_seconds,
        'ownInitialWeightsDiffering': differing,
        'finalLoss': losses[-1] if losses else None,
    }
    if not a.no_eval:
        r1, r10 = recall(w_spell.detach(), w_pron.detach(), ds, ds['test'])
        result['recall1'], result['recall10'] = r1, r10
    if a.summary:
        with open(a.summary) as f:
            theirs = json.load(f)['stepLosses']
        if len(theirs) != len(losses):
            sys.exit(f'train_torch.py: {len(theirs)} step losses in {a.summary}, {len(losses)} here')
        result['stepLossMaxDiff'] = max(abs(x - y) for x, y in zip(losses, theirs)) if losses else 0.0
    print(json.dumps(result))


if __name__ == '__main__':
    main()
