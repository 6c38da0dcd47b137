#!/usr/bin/python3
"""The ops of bench/train_ops.js in PyTorch at the same shape: median per-call times.

    /usr/bin/python3 bench/train_ops_torch.py [--threads N]
"""
import os
import sys
import time

import torch
import torch.nn.functional as F

if "--threads" in sys.argv:
    torch.set_num_threads(int(sys.argv[sys.argv.index("--threads") + 1]))
N, FEAT, D, PER_ROW = 512, 4096, 64, 30


def median(fn, reps=200):
    for _ in range(5):
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[reps // 2]


g = torch.Generator().manual_seed(0)
indptr, cols = [0], []
for i in range(N):
    count = PER_ROW - 5 + int(torch.randint(0, 11, (1,), generator=g))
    row = sorted(torch.randperm(FEAT, generator=g)[:count].tolist())
    cols += row
    indptr.append(len(cols))
indptr = torch.tensor(indptr)
indices = torch.tensor(cols)
values = torch.randn(len(cols), generator=g)
csr = torch.sparse_csr_tensor(indptr, indices, values, size=(N, FEAT))
csr_t = csr.t()
w = torch.randn(FEAT, D, generator=g)
grad_h = torch.randn(N, D, generator=g)
x = csr.to_dense()
h, gw = torch.empty(N, D), torch.empty(FEAT, D)
rows = [
    ("torch.sparse.mm(csr, W)", median(lambda: torch.sparse.mm(csr, w))),
    ("torch.sparse.mm(csr.t(), g)", median(lambda: torch.sparse.mm(csr_t, grad_h))),
    ("F.embedding_bag(sum, per_sample_weights)", median(lambda: F.embedding_bag(indices, w, indptr[:-1], mode="sum", per_sample_weights=values))),
    ("dense torch.mm(x, W, out=)", median(lambda: torch.mm(x, w, out=h), 50)),
    ("dense torch.mm(x.t(), g, out=)", median(lambda: torch.mm(x.t(), grad_h, out=gw), 50)),
]
p = torch.nn.Parameter(torch.randn(FEAT * D, generator=g))
p.grad = torch.randn(FEAT * D, generator=g)
opt = torch.optim.Adam([p], lr=1e-3)
rows.append(("torch.optim.Adam.step (262144 float32, foreach=False)", median(lambda: opt.step())))
opt2 = torch.optim.Adam([p], lr=1e-3, foreach=True)
rows.append(("torch.optim.Adam.step (foreach=True)", median(lambda: opt2.step())))
print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); load average {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
for name, s in rows:
    print(f"{name:58} {s * 1e6:9.1f} µs")
