"""PyTorch side of `npm run bench`: the seed's code (the PyTorch answer pairloss
grew from, docs/DESIGN.md#the-seed), timed inside Python.

Run by bench/run.js with /usr/bin/python3 (Debian's python3-torch). It speaks
one JSON object per line on stdin/stdout so that one Python process serves the
whole run (torch is imported once) and each size is timed right next to the
Node.js implementations, on the very same inputs (a float32 .bin file that
run.js writes: x1 then x2, row-major).

  python3 bench/torch_bench.py serve          # the line protocol (see handle())
  python3 bench/torch_bench.py rss LOSS FILE N D THREADS [float64]   # peak RSS of one call, in a fresh process
    (LOSS as make_call's, plus clip: open_clip's ClipLoss, symmetric, world size 1;
    barlow: lightly's BarlowTwinsLoss; supcon-views: HobbitLong's SupConLoss on [N, 2, D])
"""
import json
import math
import resource
import sys
import time

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F
import torch.distributed as dist


# ---- The seed (the PyTorch answer the project grew from, see docs/DESIGN.md#the-seed), with F.normalize for F.normalise and without show() ----
class NPairsLoss(nn.Module):
    def __init__(self):
        super(NPairsLoss, self).__init__()
        self.ce = nn.CrossEntropyLoss()

    def similarities(self, x1, x2):
        x1 = F.normalize(x1, dim=1)
        x2 = F.normalize(x2, dim=1)
        return torch.matmul(x1, x2.t())

    def forward(self, predict, target):
        x1, x2 = predict
        predict = self.similarities(x1, x2)
        return self.ce(predict, target)


def correlation_loss_func(z1, z2, lamb=5e-3, scale_loss=0.025):
    N, D = z1.size()
    bn = torch.nn.BatchNorm1d(N, affine=False).to(z1.device)
    z1 = bn(z1.T).T
    z2 = bn(z2.T).T
    corr = (z1 @ z2.T) / N
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(corr)
        world_size = dist.get_world_size()
        corr /= world_size
    diag = torch.eye(N, device=corr.device)
    cdif = (corr - diag).pow(2)
    cdif[~diag.bool()] *= lamb
    loss = scale_loss * cdif.sum()
    return loss
# ---- end of the seed ----

# The contrastive family's references, the ones the parity tests check against
# (scripts/oracle.py: HobbitLong's SupConLoss, lightly's NTXentLoss, open_clip's
# SigLipLoss, lightly's VICRegLoss).
sys.path.insert(0, __import__("os").path.join(__import__("os").path.dirname(__file__), "..", "scripts"))
from oracle import nt_xent_loss, sigmoid_loss, supcon_contrast, supcon_loss, vicreg_loss  # noqa: E402
# lightly's own modules for the losses of issue 25 (scripts/oracle_lightly.py, copied from lightly/loss/)
from oracle_lightly import DCLLoss, HypersphereLoss, KoLeoLoss, NegativeCosineSimilarity  # noqa: E402
# pytorch-metric-learning's TripletMarginLoss (BatchHardMiner) and ArcFaceLoss as
# scripts/oracle_pml.py writes them from PML's code (PML itself is not installed here).
from oracle_pml import arcface_loss, triplet_margin_loss  # noqa: E402


def clip_loss(image_features, text_features, logit_scale):
    """open_clip's ClipLoss.forward (src/open_clip/loss.py) at world size 1: both logit matrices, cross-entropy each way."""
    logits_per_image = logit_scale * image_features @ text_features.T
    logits_per_text = logit_scale * text_features @ image_features.T
    labels = torch.arange(logits_per_image.shape[0], device=image_features.device, dtype=torch.long)
    return (F.cross_entropy(logits_per_image, labels) + F.cross_entropy(logits_per_text, labels)) / 2


def barlow_twins_loss(z_a, z_b, lambda_param=5e-3):
    """lightly's BarlowTwinsLoss.forward (lightly/loss/barlow_twins_loss.py, one process; scripts/oracle.py's lightly_barlow_twins)."""
    def norm(z):
        return F.batch_norm(z, running_mean=None, running_var=None, weight=None, bias=None, training=True)
    z_a_norm, z_b_norm = norm(z_a), norm(z_b)
    n = z_a.size(0)
    c = z_a_norm.T @ z_b_norm
    c = c / n
    invariance_loss = torch.diagonal(c).add(-1).pow(2).sum()
    d = c.shape[0]
    off_diagonal = c.flatten()[:-1].view(d - 1, d + 1)[:, 1:].flatten()
    return invariance_loss + lambda_param * off_diagonal.pow(2).sum()


def supcon_labels(n, device):
    """The bench's SupCon classes: i mod max(1, N/4) for sample i (bench/run.js uses the same), both views."""
    return (torch.arange(n, device=device) % max(1, n // 4)).repeat(2)


def load(path, n, d, device):
    data = np.fromfile(path, dtype=np.float32)
    assert data.size == 2 * n * d, f"{path}: expected {2 * n * d} floats, got {data.size}"
    x1 = torch.from_numpy(data[: n * d].reshape(n, d).copy()).to(device)
    x2 = torch.from_numpy(data[n * d:].reshape(n, d).copy()).to(device)
    return x1.requires_grad_(), x2.requires_grad_()


def make_call(loss, x1, x2):
    """One forward + backward, as a training step would run it; returns the loss as a float."""
    sync = torch.cuda.synchronize if x1.is_cuda else (lambda: None)
    if loss == "npairs":
        crit = NPairsLoss()
        # The seed's identity target, built once (cheaper for PyTorch than building it per call).
        target = torch.eye(x1.shape[0], device=x1.device)

        def call():
            x1.grad = None
            x2.grad = None
            out = crit((x1, x2), target)
            out.backward()
            sync()
            return out.item()
    elif loss == "correlation":
        def call():
            x1.grad = None
            x2.grad = None
            out = correlation_loss_func(x1, x2)
            out.backward()
            sync()
            return out.item()
    elif loss == "supcon":
        labels = supcon_labels(x1.shape[0], x1.device)

        def call():
            x1.grad = None
            x2.grad = None
            # SupConLoss's contrast_feature: the views one after the other
            out = supcon_loss(torch.cat([x1, x2]), None, labels, 0.07)
            out.backward()
            sync()
            return out.item()
    elif loss == "siglip":
        # open_clip's learnable logit scale and bias, at SigLIP's init
        scale = torch.tensor(10.0, device=x1.device, requires_grad=True)
        bias = torch.tensor(-10.0, device=x1.device, requires_grad=True)

        def call():
            x1.grad = None
            x2.grad = None
            scale.grad = None
            bias.grad = None
            out = sigmoid_loss(x1, x2, scale, bias)
            out.backward()
            sync()
            return out.item()
    elif loss == "vicreg":
        def call():
            x1.grad = None
            x2.grad = None
            out = vicreg_loss(x1, x2)[0]
            out.backward()
            sync()
            return out.item()
    elif loss == "ntxent":
        def call():
            x1.grad = None
            x2.grad = None
            out = nt_xent_loss(x1, x2, 0.5)
            out.backward()
            sync()
            return out.item()
    elif loss == "triplet":
        # x1 alone, labelled i mod max(1, N/4) (bench/run.js: the same); x2 unused
        labels = torch.arange(x1.shape[0], device=x1.device) % max(1, x1.shape[0] // 4)

        def call():
            x1.grad = None
            x2.grad = None
            out = triplet_margin_loss(x1, labels)
            out.backward()
            sync()
            return out.item()
    elif loss == "arcface":
        # x1 against C = N class centres x2 (PML's W = x2.T), labels i mod max(1, N/4)
        labels = torch.arange(x1.shape[0], device=x1.device) % max(1, x1.shape[0] // 4)

        def call():
            x1.grad = None
            x2.grad = None
            out = arcface_loss(x1, labels, x2.t())
            out.backward()
            sync()
            return out.item()
    elif loss == "clip":
        # open_clip's ClipLoss (world size 1) on the normalised features, its
        # logit scale learnable at 1 / 0.07 (pairloss: symmetric, temperature 0.07)
        logit_scale = torch.tensor(1 / 0.07, device=x1.device, requires_grad=True)

        def call():
            x1.grad = None
            x2.grad = None
            logit_scale.grad = None
            out = clip_loss(F.normalize(x1, dim=-1), F.normalize(x2, dim=-1), logit_scale)
            out.backward()
            sync()
            return out.item()
    elif loss == "barlow":
        def call():
            x1.grad = None
            x2.grad = None
            out = barlow_twins_loss(x1, x2)
            out.backward()
            sync()
            return out.item()
    elif loss == "supcon-views":
        # HobbitLong's SupConLoss on features [N, 2, D] (the views normalised, as its model does), classes i mod max(1, N/4)
        labels = torch.arange(x1.shape[0], device=x1.device) % max(1, x1.shape[0] // 4)

        def call():
            x1.grad = None
            x2.grad = None
            features = torch.stack([F.normalize(x1, dim=1), F.normalize(x2, dim=1)], dim=1)
            out = supcon_contrast(features, labels, 0.07, 0.07)
            out.backward()
            sync()
            return out.item()
    elif loss in LIGHTLY:
        crit = LIGHTLY[loss]()
        one = loss == "koleo"

        def call():
            x1.grad = None
            x2.grad = None
            out = crit(x1) if one else crit(x1, x2)
            out.backward()
            sync()
            return out.item()
    else:
        raise ValueError(f"unknown loss {loss}")
    return call


# lightly's modules with their defaults; KoLeo of x1 only
LIGHTLY = {"negcos": NegativeCosineSimilarity, "koleo": KoLeoLoss, "hypersphere": HypersphereLoss, "dcl": DCLLoss}


def reps_for(first_ms, policy):
    """The same repetition rule as bench/common.js repsFor."""
    mn = policy["minReps"]
    if first_ms > 3000:
        mn = min(mn, 1 if policy.get("quick") else 2)
    elif first_ms > 1000:
        mn = min(mn, 3)
    return max(mn, min(policy["maxReps"], math.ceil(policy["budgetMs"] / max(first_ms, 1e-3))))


def measure(call, policy):
    t0 = time.perf_counter()
    value = call()
    first = (time.perf_counter() - t0) * 1e3
    # a call under 50 ms: repeated for a fifth of the budget (at least twice)
    # before timing, as bench/common.js measure() does
    if first < 50:
        until = time.perf_counter() + policy["budgetMs"] / 5e3
        i = 0
        while i < 2 or time.perf_counter() < until:
            value = call()
            i += 1
    times = []
    for _ in range(reps_for(first, policy)):
        t0 = time.perf_counter()
        value = call()
        times.append((time.perf_counter() - t0) * 1e3)
    return {"times": times, "value": value}


def gemm_rate(n, policy, device):
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    sync = torch.cuda.synchronize if a.is_cuda else (lambda: None)

    def call():
        c = torch.mm(a, b)
        sync()
        return float(c[0, 0])
    r = measure(call, policy)
    med = sorted(r["times"])[len(r["times"]) // 2]
    return {"ms": r["times"], "gflops": 2 * n ** 3 / (med * 1e-3) / 1e9}


def openblas_info():
    """OpenBLAS's own thread pool (torch.set_num_threads does not change it), as the library loaded here reports it."""
    try:
        import ctypes
        lib = ctypes.CDLL("libopenblas.so.0")
        lib.openblas_get_config.restype = ctypes.c_char_p
        return {"config": lib.openblas_get_config().decode(), "threads": lib.openblas_get_num_threads()}
    except (OSError, AttributeError):
        return None


def handle(req):
    cmd = req["cmd"]
    if cmd == "info":
        return {
            "openblas": openblas_info(),
            "torch": torch.__version__,
            "numThreads": torch.get_num_threads(),
            "interopThreads": torch.get_num_interop_threads(),
            "parallel": torch.__config__.parallel_info().splitlines()[:6],
            "cuda": torch.cuda.is_available(),
            "python": sys.version.split()[0],
        }
    if cmd == "threads":
        torch.set_num_threads(int(req["n"]))
        return {"numThreads": torch.get_num_threads()}
    if cmd == "gemm":
        return gemm_rate(int(req["n"]), req["policy"], req.get("device", "cpu"))
    if cmd == "bench":
        n, d = int(req["n"]), int(req["d"])
        x1, x2 = load(req["file"], n, d, req.get("device", "cpu"))
        out = {}
        grads = []
        for loss in req["losses"]:
            call = make_call(loss, x1, x2)
            out[loss] = measure(call, req["policy"])
            grads += [(x.grad if x.grad is not None else torch.zeros_like(x)).detach().cpu().numpy().ravel() for x in (x1, x2)]
        if req.get("gradsOut"):
            np.concatenate(grads).astype(np.float32).tofile(req["gradsOut"])
        return out
    raise ValueError(f"unknown command {cmd}")


def serve():
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        req = json.loads(line)
        if req["cmd"] == "quit":
            break
        try:
            res = {"ok": True, "result": handle(req)}
        except Exception as e:  # reported to run.js, which prints it
            res = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(res) + "\n")
        sys.stdout.flush()


def status_kb(key):
    with open("/proc/self/status") as f:
        return int(f.read().split(key + ":")[1].split()[0])


def rss(loss, path, n, d, threads, dtype="float32"):
    """One forward + backward at N×D; the JSON fields as bench/rss_child.js's (and ms, the call's wall time).
    dtype float64: the inputs (read as float32) and the call in float64, for a reference loss."""
    torch.set_num_threads(threads)
    x1, x2 = load(path, n, d, "cpu")
    if dtype == "float64":
        x1, x2 = x1.detach().double().requires_grad_(), x2.detach().double().requires_grad_()
        torch.set_default_dtype(torch.float64)
    # Warm the code paths on a small problem, so the baseline includes the libraries' own memory.
    s1, s2 = torch.randn(32, d, requires_grad=True), torch.randn(32, d, requires_grad=True)
    make_call(loss, s1, s2)()
    hwm_reset = True
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # VmHWM := VmRSS (Linux 4.0 and later)
    except OSError:
        hwm_reset = False
    rss_before = status_kb("VmRSS")
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    # what make_call builds (the seed's torch.eye(N) target, SigLIP's scale and bias) counts in the growth
    value = make_call(loss, x1, x2)()
    ms = (time.perf_counter() - t0) * 1e3
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    hwm = status_kb("VmHWM")
    print(json.dumps({"baselineKB": base, "peakKB": peak, "rssBeforeKB": rss_before, "hwmKB": hwm, "hwmReset": hwm_reset,
                      "ms": ms, "loss": value}))


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "rss":
        rss(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), *sys.argv[7:8])
    else:
        serve()
