#!/usr/bin/python3
"""PyTorch oracle for pairloss's parity tests.

Reads a JSON list of cases on stdin (or a file given as argv[1]) and writes
the reference results as JSON: losses, gradients and matrices computed by
PyTorch itself (Debian's python3-torch), with the seed's code for the
defaults (the seed: the PyTorch answer pairloss grew from, docs/DESIGN.md#the-seed;
F.normalize instead of its F.normalise, no plt.show()).

A case: {"op": "npairs" | "correlation" | "supcon_views" | "lightly_barlow_twins" | "normalize" | "matmul" | "sparse_mm" | "csr_index_select" | "adam" |
"cross_entropy" | "batch_norm1d" | "cosine_similarity" | the ops of oracle_lightly.py
("negative_cosine" | "koleo" | "alignment_uniformity" | "dcl") | "triplet" | "arcface"
(scripts/oracle_pml.py), "dtype":
"float32" | "float64", "inputs": {name: {"data": [...], "shape": [...]}},
"options": {...}}. Numbers travel as JSON with Python's repr (exact).
"""
import json
import math
import sys

import torch
from torch import nn
import torch.nn.functional as F

import oracle_pml


def tensor(spec, dtype, requires_grad=False):
    t = torch.tensor(spec["data"], dtype=dtype).reshape(spec["shape"])
    return t.requires_grad_(requires_grad)


def out(t):
    t = t.detach().contiguous()
    return {"data": [float(v) for v in t.reshape(-1).tolist()], "shape": list(t.shape)}


# ---- the seed (fixed: F.normalize) -------------------------------------
class NPairsLoss(nn.Module):
    def __init__(self, **ce_args):
        super().__init__()
        self.ce = nn.CrossEntropyLoss(**ce_args)

    def similarities(self, x1, x2):
        x1 = F.normalize(x1, dim=1)
        x2 = F.normalize(x2, dim=1)
        return torch.matmul(x1, x2.t())

    def forward(self, predict, target):
        x1, x2 = predict
        predict = self.similarities(x1, x2)
        return self.ce(predict, target)


def correlation_loss_func(z1, z2, lamb=5e-3, scale_loss=0.025, eps=1e-5):
    N, D = z1.size()
    bn = torch.nn.BatchNorm1d(N, affine=False, eps=eps).to(z1.device, z1.dtype)
    z1 = bn(z1.T).T
    z2 = bn(z2.T).T
    corr = (z1 @ z2.T) / N
    diag = torch.eye(N, device=corr.device)
    cdif = (corr - diag).pow(2)
    cdif[~diag.bool()] *= lamb
    loss = scale_loss * cdif.sum()
    return loss, corr


def barlow_twins_loss(z1, z2, lamb=5e-3, scale_loss=0.025, eps=1e-5):
    N, D = z1.size()
    bn = torch.nn.BatchNorm1d(D, affine=False, eps=eps).to(z1.device, z1.dtype)
    corr = bn(z1).T @ bn(z2) / N
    diag = torch.eye(D, device=corr.device)
    cdif = (corr - diag).pow(2)
    cdif[~diag.bool()] *= lamb
    loss = scale_loss * cdif.sum()
    return loss, corr


# ---- cases ----------------------------------------------------------------
def npairs(case, dtype):
    o = case.get("options", {})
    x1 = tensor(case["inputs"]["x1"], dtype, True)
    x2 = tensor(case["inputs"]["x2"], dtype, True)
    n, m = x1.shape[0], x2.shape[0]
    temperature = torch.tensor(o.get("temperature", 1.0), dtype=dtype, requires_grad=True)
    reduction = o.get("reduction", "mean")
    ls = o.get("labelSmoothing", 0.0)
    if "target" in case["inputs"]:
        target = tensor(case["inputs"]["target"], dtype)
    elif "targetIndices" in o:
        target = torch.tensor(o["targetIndices"], dtype=torch.long)
    else:
        target = torch.eye(n, m, dtype=dtype)  # the seed's identity target
    if o.get("similarity", "cosine") == "dot":
        sim = x1 @ x2.t()
    else:
        sim = NPairsLoss().similarities(x1, x2)
    logits = sim / temperature
    ce = nn.CrossEntropyLoss(reduction=reduction, label_smoothing=ls)
    loss = ce(logits, target)
    if o.get("symmetric", False):
        if target.dtype == torch.long:
            inv = torch.empty_like(target)
            inv[target] = torch.arange(n)
            target_t = inv
        else:
            target_t = target.t()
        loss = (loss + ce(logits.t(), target_t)) / 2
    l2 = o.get("l2Reg", 0.0)
    if l2 > 0:
        loss = loss + 0.25 * l2 * (x1.pow(2).sum(1).mean() + x2.pow(2).sum(1).mean())
    loss.backward()
    return {"loss": loss.item(), "grad1": out(x1.grad), "grad2": out(x2.grad),
            "gradTemperature": temperature.grad.item(), "similarity": out(sim)}


def correlation(case, dtype):
    o = case.get("options", {})
    z1 = tensor(case["inputs"]["z1"], dtype, True)
    z2 = tensor(case["inputs"]["z2"], dtype, True)
    fn = barlow_twins_loss if o.get("mode", "samples") == "features" else correlation_loss_func
    loss, corr = fn(z1, z2, lamb=o.get("lambda", 5e-3), scale_loss=o.get("scale", 0.025), eps=o.get("eps", 1e-5))
    loss.backward()
    eye = torch.eye(corr.shape[0], dtype=torch.bool)
    c = (corr.detach() - eye.to(dtype)).pow(2)
    on = c[eye].sum().item()
    off = c[~eye].sum().item()
    return {"loss": loss.item(), "onDiagonal": on, "offDiagonal": off,
            "grad1": out(z1.grad), "grad2": out(z2.grad)}


# ---- SupCon (Khosla et al. 2020), from HobbitLong/SupContrast's SupConLoss
# (contrast_mode 'all', base_temperature = temperature, the mask_pos_pairs
# guard) on the flattened views: anchors x1, contrast x2; with x2 None the
# views are x1 itself and each row's own view is masked out. bench/torch_bench.py
# times this same function.
def supcon_loss(x1, x2, labels, temperature):
    same = x2 is None
    anchor = F.normalize(x1, dim=1)
    contrast = anchor if same else F.normalize(x2, dim=1)
    mask = torch.eq(labels.view(-1, 1), labels.view(1, -1)).to(x1.dtype)
    anchor_dot_contrast = torch.div(torch.matmul(anchor, contrast.T), temperature)
    logits_max, _ = torch.max(anchor_dot_contrast, dim=1, keepdim=True)
    logits = anchor_dot_contrast - logits_max.detach()
    logits_mask = torch.ones_like(mask)
    if same:
        logits_mask = torch.scatter(logits_mask, 1, torch.arange(mask.shape[0], device=x1.device).view(-1, 1), 0)
    mask = mask * logits_mask
    exp_logits = torch.exp(logits) * logits_mask
    log_prob = logits - torch.log(exp_logits.sum(1, keepdim=True))
    mask_pos_pairs = mask.sum(1)
    mask_pos_pairs = torch.where(mask_pos_pairs < 1e-6, torch.ones_like(mask_pos_pairs), mask_pos_pairs)
    mean_log_prob_pos = (mask * log_prob).sum(1) / mask_pos_pairs
    return -mean_log_prob_pos.mean()


# ---- NT-Xent, lightly's NTXentLoss.forward (one process); `negatives` [K, D]
# rows (normalised here as lightly's memory bank holds them) or None.
def nt_xent_loss(z1, z2, temperature, negatives=None):
    out0, out1 = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
    if negatives is not None:
        negatives = F.normalize(negatives, dim=1).T
        sim_pos = torch.einsum("nc,nc->n", out0, out1).unsqueeze(-1)
        sim_neg = torch.einsum("nc,ck->nk", out0, negatives)
        logits = torch.cat([sim_pos, sim_neg], dim=1) / temperature
        labels = torch.zeros(logits.shape[0], device=z1.device, dtype=torch.long)
    else:
        batch_size = out0.shape[0]
        diag_mask = torch.eye(batch_size, device=z1.device, dtype=torch.bool)
        logits_00 = torch.einsum("nc,mc->nm", out0, out0) / temperature
        logits_01 = torch.einsum("nc,mc->nm", out0, out1) / temperature
        logits_10 = torch.einsum("nc,mc->nm", out1, out0) / temperature
        logits_11 = torch.einsum("nc,mc->nm", out1, out1) / temperature
        logits_00 = logits_00[~diag_mask].view(batch_size, -1)
        logits_11 = logits_11[~diag_mask].view(batch_size, -1)
        logits_0100 = torch.cat([logits_01, logits_00], dim=1)
        logits_1011 = torch.cat([logits_10, logits_11], dim=1)
        logits = torch.cat([logits_0100, logits_1011], dim=0)
        labels = torch.arange(batch_size, device=z1.device, dtype=torch.long).repeat(2)
    return F.cross_entropy(logits, labels)


# ---- SigLIP, open_clip's SigLipLoss (one process): get_logits, then
# -logsigmoid(labels * logits).sum() / N with labels 2 * eye - 1 (or given).
def sigmoid_loss(image_features, text_features, logit_scale, logit_bias, labels=None):
    image_features = F.normalize(image_features, dim=-1)
    text_features = F.normalize(text_features, dim=-1)
    logits = logit_scale * image_features @ text_features.T + logit_bias
    if labels is None:
        n, m = logits.shape
        labels = -torch.ones((n, m), device=logits.device, dtype=logits.dtype)
        labels[torch.arange(min(n, m)), torch.arange(min(n, m))] = 1
    return -F.logsigmoid(labels * logits).sum() / image_features.shape[0]


def siglip(case, dtype):
    i, o = case["inputs"], case.get("options", {})
    x1, x2 = tensor(i["x1"], dtype, True), tensor(i["x2"], dtype, True)
    scale = torch.tensor(o.get("scale", 10.0), dtype=dtype, requires_grad=True)
    bias = torch.tensor(o.get("bias", -10.0), dtype=dtype, requires_grad=True)
    labels = tensor(i["target"], dtype) if "target" in i else None
    loss = sigmoid_loss(x1, x2, scale, bias, labels)
    loss.backward()
    return {"loss": loss.item(), "grad1": out(x1.grad), "grad2": out(x2.grad),
            "gradScale": scale.grad.item(), "gradBias": bias.grad.item()}


# ---- VICReg, lightly's VICRegLoss (one process): invariance_loss,
# variance_loss, covariance_loss as lightly writes them (gamma 1 there).
def vicreg_loss(z_a, z_b, lambda_param=25.0, mu_param=25.0, nu_param=1.0, eps=1e-4, gamma=1.0):
    def variance_loss(x):
        std = torch.sqrt(x.var(dim=0) + eps)
        return torch.mean(F.relu(gamma - std))

    def covariance_loss(x):
        x = x - x.mean(dim=0)
        batch_size = x.size(0)
        dim = x.size(-1)
        nondiag_mask = ~torch.eye(dim, device=x.device, dtype=torch.bool)
        cov = torch.einsum("b...c,b...d->...cd", x, x) / (batch_size - 1)
        return (cov[..., nondiag_mask].pow(2).sum(-1) / dim).mean()

    inv_loss = F.mse_loss(z_a, z_b)
    var_loss = 0.5 * (variance_loss(z_a) + variance_loss(z_b))
    cov_loss = covariance_loss(z_a) + covariance_loss(z_b)
    return lambda_param * inv_loss + mu_param * var_loss + nu_param * cov_loss, inv_loss, var_loss, cov_loss


def vicreg(case, dtype):
    i, o = case["inputs"], case.get("options", {})
    z1, z2 = tensor(i["z1"], dtype, True), tensor(i["z2"], dtype, True)
    loss, inv, var, cov = vicreg_loss(z1, z2, o.get("invarianceWeight", 25.0), o.get("varianceWeight", 25.0),
                                      o.get("covarianceWeight", 1.0), o.get("eps", 1e-4), o.get("gamma", 1.0))
    loss.backward()
    return {"loss": loss.item(), "invariance": inv.item(), "variance": var.item(), "covariance": cov.item(),
            "grad1": out(z1.grad), "grad2": out(z2.grad)}


def supcon(case, dtype):
    i, o = case["inputs"], case.get("options", {})
    temperature = torch.tensor(o.get("temperature", 1.0), dtype=dtype, requires_grad=True)
    labels = torch.tensor(o["labels"], dtype=torch.long)
    same = o.get("excludeSelf", False)
    x1 = tensor(i["x1"], dtype, True)
    x2 = None if same else tensor(i["x2"], dtype, True)
    loss = supcon_loss(x1, x2, labels, temperature)
    loss.backward()
    r = {"loss": loss.item(), "gradTemperature": temperature.grad.item(), "grad1": out(x1.grad)}
    if not same:  # (over the views: z is x1 and x2, pairloss's grad1 + grad2)
        r["grad2"] = out(x2.grad)
    return r


def ntxent(case, dtype):
    i, o = case["inputs"], case.get("options", {})
    temperature = torch.tensor(o.get("temperature", 0.5), dtype=dtype, requires_grad=True)
    z1, z2 = tensor(i["z1"], dtype, True), tensor(i["z2"], dtype, True)
    negatives = tensor(i["negatives"], dtype) if "negatives" in i else None
    loss = nt_xent_loss(z1, z2, temperature, negatives)
    loss.backward()
    return {"loss": loss.item(), "grad1": out(z1.grad), "grad2": out(z2.grad), "gradTemperature": temperature.grad.item()}


# ---- the paper-named presets (lib/losses/supcon.ts, lib/losses/barlow-twins.ts),
# each against its anchor's forward as written there.

# HobbitLong/SupContrast losses.py SupConLoss.forward, contrast_mode 'all', on
# features [bsz, n_views, D] (the views normalised, as its model does), with
# base_temperature = temperature (the default 0.07 = 0.07: the factor is 1).
def supcon_contrast(features, labels, temperature, base_temperature):
    batch_size = features.shape[0]
    labels = labels.contiguous().view(-1, 1)
    mask = torch.eq(labels, labels.T).to(features.dtype)
    contrast_count = features.shape[1]
    contrast_feature = torch.cat(torch.unbind(features, dim=1), dim=0)
    anchor_feature = contrast_feature
    anchor_count = contrast_count
    anchor_dot_contrast = torch.div(torch.matmul(anchor_feature, contrast_feature.T), temperature)
    logits_max, _ = torch.max(anchor_dot_contrast, dim=1, keepdim=True)
    logits = anchor_dot_contrast - logits_max.detach()
    mask = mask.repeat(anchor_count, contrast_count)
    logits_mask = torch.scatter(torch.ones_like(mask), 1, torch.arange(batch_size * anchor_count).view(-1, 1), 0)
    mask = mask * logits_mask
    exp_logits = torch.exp(logits) * logits_mask
    log_prob = logits - torch.log(exp_logits.sum(1, keepdim=True))
    mean_log_prob_pos = (mask * log_prob).sum(1) / mask.sum(1)
    loss = - (temperature / base_temperature) * mean_log_prob_pos
    return loss.view(anchor_count, batch_size).mean()


def supcon_views(case, dtype):
    i, o = case["inputs"], case.get("options", {})
    temperature = torch.tensor(o.get("temperature", 0.07), dtype=dtype, requires_grad=True)
    z1, z2 = tensor(i["z1"], dtype, True), tensor(i["z2"], dtype, True)
    features = torch.stack([F.normalize(z1, dim=1), F.normalize(z2, dim=1)], dim=1)
    loss = supcon_contrast(features, torch.tensor(o["labels"], dtype=torch.long), temperature, temperature)
    loss.backward()
    return {"loss": loss.item(), "grad1": out(z1.grad), "grad2": out(z2.grad), "gradTemperature": temperature.grad.item()}


# lightly's BarlowTwinsLoss.forward (lightly/loss/barlow_twins_loss.py, one
# process): each view F.batch_norm'ed over the batch, C = z_a^T z_b / N.
def lightly_barlow_twins(case, dtype):
    i, o = case["inputs"], case.get("options", {})
    lambda_param = o.get("lambda", 5e-3)
    z_a, z_b = tensor(i["z1"], dtype, True), tensor(i["z2"], dtype, True)
    norm = lambda z: F.batch_norm(z, running_mean=None, running_var=None, weight=None, bias=None, training=True)
    z_a_norm, z_b_norm = norm(z_a), norm(z_b)
    N = z_a.size(0)
    c = z_a_norm.T @ z_b_norm
    c = c / N
    invariance_loss = torch.diagonal(c).add(-1).pow(2).sum()
    n = c.shape[0]
    off_diagonal = c.flatten()[:-1].view(n - 1, n + 1)[:, 1:].flatten()
    redundancy_reduction_loss = off_diagonal.pow(2).sum()
    loss = invariance_loss + lambda_param * redundancy_reduction_loss
    loss.backward()
    return {"loss": loss.item(), "onDiagonal": invariance_loss.item(), "offDiagonal": redundancy_reduction_loss.item(),
            "grad1": out(z_a.grad), "grad2": out(z_b.grad)}


def sparse_mm(case, dtype):
    """A CSR [N, F] times b: torch.sparse.mm on torch's CSR layout (built
    without its sorted-and-distinct check, so that repeated columns are summed
    as scipy sums them), and the same product two other ways: the dense
    matrix (repeats accumulated) and, untransposed, F.embedding_bag(mode='sum',
    per_sample_weights)."""
    o = case["options"]
    n, f = o["shape"]
    indptr = torch.tensor(o["indptr"], dtype=torch.int64)
    indices = torch.tensor(o["indices"], dtype=torch.int64)
    values = tensor(case["inputs"]["values"], dtype).reshape(-1)
    b = tensor(case["inputs"]["b"], dtype)
    rows = torch.repeat_interleave(torch.arange(n), indptr[1:] - indptr[:-1])
    dense = torch.zeros(n, f, dtype=dtype).index_put_((rows, indices), values, accumulate=True)
    if o.get("transposeA"):
        result = {"dense": out(dense.T @ b)}
        if n > 0 and f > 0:
            csr = csr_tensor(indptr, indices, values, (n, f))
            result["out"] = out(torch.sparse.mm(csr.t(), b))
        else:
            result["out"] = result["dense"]
        return result
    result = {"dense": out(dense @ b)}
    if n > 0 and f > 0:
        csr = csr_tensor(indptr, indices, values, (n, f))
        result["out"] = out(torch.sparse.mm(csr, b))
        result["bag"] = out(F.embedding_bag(indices, b, indptr[:-1], mode="sum", per_sample_weights=values)
                            if indices.numel() > 0 else torch.zeros(n, b.shape[1], dtype=dtype))
    else:
        result["out"] = result["dense"]
    return result


def csr_index_select(case, dtype):
    """Rows `rows` (in order, repeats allowed) of a CSR [N, F]: the arrays of
    torch's csr.index_select(0, rows) / scipy's csr[rows], built from the
    CSR's crow/col/values by slicing (torch 1.13 has no index_select for
    sparse CSR), and the products of the selection: torch.sparse.mm of the
    selected dense rows made CSR again times w [F, D], and their transpose
    times g [len(rows), D]."""
    o = case["options"]
    n, f = o["shape"]
    indptr = torch.tensor(o["indptr"], dtype=torch.int64)
    indices = torch.tensor(o["indices"], dtype=torch.int64)
    values = tensor(case["inputs"]["values"], dtype).reshape(-1)
    w, g = tensor(case["inputs"]["w"], dtype), tensor(case["inputs"]["g"], dtype)
    crow, col = indptr, indices
    picked = o["rows"]
    parts = [(int(crow[r]), int(crow[r + 1])) for r in picked]
    sel_indptr = torch.tensor([0] + [e - s for s, e in parts], dtype=torch.int64).cumsum(0)
    sel_indices = torch.cat([col[s:e] for s, e in parts]) if parts else torch.zeros(0, dtype=torch.int64)
    sel_values = torch.cat([values[s:e] for s, e in parts]) if parts else torch.zeros(0, dtype=dtype)
    row_of = torch.repeat_interleave(torch.arange(n), crow[1:] - crow[:-1])
    dense = torch.zeros(n, f, dtype=dtype).index_put_((row_of, col), values, accumulate=True)
    selected = dense[torch.tensor(picked, dtype=torch.int64)]
    result = {
        "indptr": out(sel_indptr.to(dtype)),
        "indices": out(sel_indices.to(dtype)),
        "values": out(sel_values),
        "mmT": out(selected.T @ g),
    }
    if len(picked) > 0 and f > 0 and w.shape[1] > 0:
        result["mm"] = out(torch.sparse.mm(selected.to_sparse_csr(), w))
        # the sliced arrays as they are (repeated columns not summed first): each row's sum in entry order
        sliced = csr_tensor(sel_indptr, sel_indices, sel_values, (len(picked), f))
        result["mmEntries"] = out(torch.sparse.mm(sliced, w))
    else:
        result["mm"] = result["mmEntries"] = out(selected @ w)
    return result


def csr_tensor(indptr, indices, values, size):
    """A CSR tensor without torch's invariant checks (repeated and unsorted
    columns are the cases under test): the private constructor of 1.13, the
    public one with check_invariants=False from 2.x on (which drops the former)."""
    make = getattr(torch, "_sparse_csr_tensor_unsafe", None)
    if make is not None:
        return make(indptr, indices, values, size=size)
    return torch.sparse_csr_tensor(indptr, indices, values, size=size, check_invariants=False)


def adam(case, dtype):
    """torch.optim.Adam (AdamW with decoupledWeightDecay) over several
    tensors for as many steps as there are gradient lists; returns the params
    and the optimizer's state."""
    o = case["options"]
    params = [torch.nn.Parameter(tensor(s, dtype)) for s in o["params"]]
    # floats throughout: JSON gives 0 for 0.0, and torch 2.x refuses betas of mixed types
    kwargs = dict(lr=float(o.get("lr", 1e-3)), betas=(float(o.get("beta1", 0.9)), float(o.get("beta2", 0.999))),
                  eps=float(o.get("eps", 1e-8)), weight_decay=float(o.get("weightDecay", 0)), amsgrad=o.get("amsgrad", False),
                  maximize=o.get("maximize", False),
                  foreach=False)
    Optimizer = torch.optim.AdamW if o.get("decoupledWeightDecay") else torch.optim.Adam
    opt = Optimizer(params, **kwargs)
    for grads in o["grads"]:
        for p, g in zip(params, grads):
            p.grad = tensor(g, dtype)
        opt.step()
    result = {}
    for k, p in enumerate(params):
        st = opt.state[p]
        result[f"param{k}"] = out(p)
        result[f"expAvg{k}"] = out(st["exp_avg"])
        result[f"expAvgSq{k}"] = out(st["exp_avg_sq"])
        if o.get("amsgrad"):
            result[f"maxExpAvgSq{k}"] = out(st["max_exp_avg_sq"])
    return result


def run_case(case):
    dtype = {"float32": torch.float32, "float64": torch.float64}[case["dtype"]]
    op = case["op"]
    o = case.get("options", {})
    i = case.get("inputs", {})
    if op == "npairs":
        return npairs(case, dtype)
    if op == "correlation":
        return correlation(case, dtype)
    if op == "siglip":
        return siglip(case, dtype)
    if op == "vicreg":
        return vicreg(case, dtype)
    if op == "supcon":
        return supcon(case, dtype)
    if op == "ntxent":
        return ntxent(case, dtype)
    if op == "supcon_views":
        return supcon_views(case, dtype)
    if op == "lightly_barlow_twins":
        return lightly_barlow_twins(case, dtype)
    if op == "triplet":
        return oracle_pml.triplet(case, dtype)
    if op == "arcface":
        return oracle_pml.arcface(case, dtype)
    if op == "normalize":
        return {"out": out(F.normalize(tensor(i["x"], dtype), p=o.get("p", 2.0), dim=o.get("dim", 1), eps=o.get("eps", 1e-12)))}
    if op == "matmul":
        a, b = tensor(i["a"], dtype), tensor(i["b"], dtype)
        a = a.T if o.get("transposeA") else a
        b = b.T if o.get("transposeB") else b
        return {"out": out(a @ b)}
    if op == "sparse_mm":
        return sparse_mm(case, dtype)
    if op == "csr_index_select":
        return csr_index_select(case, dtype)
    if op == "adam":
        return adam(case, dtype)
    if op == "cosine_similarity":
        return {"out": out(NPairsLoss().similarities(tensor(i["x1"], dtype), tensor(i["x2"], dtype)))}
    if op == "batch_norm1d":
        x = tensor(i["x"], dtype)
        bn = nn.BatchNorm1d(x.shape[1], affine=False, eps=o.get("eps", 1e-5)).to(dtype)
        return {"out": out(bn(x))}
    if op == "cross_entropy":
        logits = tensor(i["logits"], dtype)
        target = tensor(i["target"], dtype) if "target" in i else torch.tensor(o["targetIndices"], dtype=torch.long)
        r = F.cross_entropy(logits, target, reduction=o.get("reduction", "mean"), label_smoothing=o.get("labelSmoothing", 0.0))
        return {"out": out(r.reshape(-1))}
    from oracle_lightly import run_case as run_lightly_case  # the losses anchored on lightly
    result = run_lightly_case(case, dtype)
    if result is not None:
        return result
    raise ValueError(f"unknown op {op}")


def main():
    src = open(sys.argv[1]) if len(sys.argv) > 1 else sys.stdin
    cases = json.load(src)
    torch.set_num_threads(1)
    results = [run_case(c) for c in cases]
    json.dump({"torch": torch.__version__, "results": results}, sys.stdout)


if __name__ == "__main__":
    main()
