"""pytorch-metric-learning's TripletMarginLoss (with BatchHardMiner or all
triplets) and ArcFaceLoss, written as PML's own code computes them, for
scripts/oracle.py (pytorch-metric-learning is not installed here).

Written from KevinMusgrave/pytorch-metric-learning at 216a792c (v2.8.1),
src/pytorch_metric_learning/; each step cites its file and lines. What is
left out is what the defaults leave out: collect_stats, ref_emb, the
embedding and weight regularizers (None by default), swap and smooth_loss
(False), a miner for ArcFace (every miner weight 1: convert_to_weights
returns ones for indices_tuple None).
"""
import numpy as np
import torch
import torch.nn.functional as F


# ---- distances --------------------------------------------------------------
# distances/base_distance.py 26-42 (forward: maybe_normalize then compute_mat;
# power 1), 66-67 (normalize: F.normalize(p=2, dim=1), default eps).
# distances/lp_distance.py 12-24 (compute_mat: torch.cdist(q, r, p=2) for
# float32/float64); distances/dot_product_similarity.py 11-12 (q @ r.T) with
# cosine_similarity.py 4-8 (normalize_embeddings=True, is_inverted).
class Distance:
    def __init__(self, kind):
        assert kind in ("euclidean", "cosine")
        self.is_inverted = kind == "cosine"

    def __call__(self, query_emb, ref_emb=None):
        q = F.normalize(query_emb, p=2, dim=1)
        r = q if ref_emb is None else F.normalize(ref_emb, p=2, dim=1)
        if self.is_inverted:
            return torch.matmul(q, r.t())
        return torch.cdist(q, r, p=2)

    # base_distance.py 60-64
    def margin(self, x, y):
        if self.is_inverted:
            return y - x
        return x - y


# ---- utils/loss_and_miner_utils.py ------------------------------------------
def get_matches_and_diffs(labels, ref_labels=None):  # 31-40
    if ref_labels is None:
        ref_labels = labels
    labels1 = labels.unsqueeze(1)
    labels2 = ref_labels.unsqueeze(0)
    matches = (labels1 == labels2).byte()
    diffs = matches ^ 1
    if ref_labels is labels:
        matches.fill_diagonal_(0)
    return matches, diffs


def get_all_pairs_indices(labels, ref_labels=None):  # 43-52
    matches, diffs = get_matches_and_diffs(labels, ref_labels)
    a1_idx, p_idx = torch.where(matches)
    a2_idx, n_idx = torch.where(diffs)
    return a1_idx, p_idx, a2_idx, n_idx


def get_all_triplets_indices(labels, ref_labels=None):  # 87-102 (the vectorized method; the loop method
    # for N^3 >= 2^31 gives the same triplets in the same order)
    all_matches, all_diffs = get_matches_and_diffs(labels, ref_labels)
    triplets = all_matches.unsqueeze(2) * all_diffs.unsqueeze(1)
    return torch.where(triplets)


# ---- miners/batch_easy_hard_miner.py with batch_hard_miner.py 4-14 ------------
# (pos_strategy HARD, neg_strategy HARD; base_miner.py 39-56: under no_grad)
def get_x_per_row(xtype, mat, anchor_idx, other_idx):  # 143-169 (no val_range, no semihard thresholds)
    inf = torch.finfo(mat.dtype).max if xtype == "min" else torch.finfo(mat.dtype).min  # common_functions.py 38-43
    mask = torch.ones_like(mat) * inf
    mask[anchor_idx, other_idx] = 1
    non_inf_rows = torch.any(mask != inf, dim=1)
    mat = mat.clone()
    mat[mask == inf] = inf
    dist_fn = torch.min if xtype == "min" else torch.max
    return dist_fn(mat, dim=1), non_inf_rows


def batch_hard_mine(embeddings, labels, distance):  # 59-94
    with torch.no_grad():
        mat = distance(embeddings)
        a1_idx, p_idx, a2_idx, n_idx = get_all_pairs_indices(labels)
        a = torch.arange(mat.size(0), device=mat.device)
        # get_positives: HARD -> get_max_per_row (min when inverted), 109-111, 119-135
        (positive_dists, positive_indices), a1p_keep = get_x_per_row(
            "min" if distance.is_inverted else "max", mat, a1_idx, p_idx)
        # get_negatives: HARD -> the EASY function -> get_min_per_row (max when inverted), 113-117
        (negative_dists, negative_indices), a2n_keep = get_x_per_row(
            "max" if distance.is_inverted else "min", mat, a2_idx, n_idx)
        a_keep_idx = torch.where(a1p_keep & a2n_keep)
        a = a[a_keep_idx]
        p = positive_indices[a_keep_idx]
        n = negative_indices[a_keep_idx]
        return a, p, n  # batch_hard_miner.py 12-14: (a1, p, n)


# ---- losses/triplet_margin_loss.py 34-65 with reducers/threshold_reducer.py ----
def triplet_margin_loss(embeddings, labels, margin=0.05, mining="batch-hard", distance="euclidean"):
    dist = Distance(distance)
    if mining == "batch-hard":
        indices_tuple = batch_hard_mine(embeddings, labels, dist)  # convert_to_triplets: a 3-tuple as is
    else:
        assert mining == "all"
        indices_tuple = get_all_triplets_indices(labels)  # triplets_per_anchor="all", indices_tuple None
    anchor_idx, positive_idx, negative_idx = indices_tuple
    zero_loss = torch.sum(embeddings * 0)  # base_reducer.py 63-64 (zero_losses -> already_reduced 0 -> zero_loss)
    if len(anchor_idx) == 0:
        return zero_loss
    mat = dist(embeddings, embeddings)
    ap_dists = mat[anchor_idx, positive_idx]
    an_dists = mat[anchor_idx, negative_idx]
    current_margins = dist.margin(ap_dists, an_dists)
    violation = current_margins + margin
    loss = torch.nn.functional.relu(violation)
    # AvgNonZeroReducer = ThresholdReducer(low=0): threshold_reducer.py 32-46
    losses = loss[loss > 0]
    if len(losses) >= 1:
        return torch.mean(losses)
    return zero_loss


# ---- losses/arcface_loss.py with large_margin_softmax_loss.py --------------
def arcface_loss(embeddings, labels, W, margin=28.6, scale=64):
    """W is PML's parameter [D, C] (pairloss's centers transposed)."""
    margin = np.radians(margin)  # arcface_loss.py 22-23 (init_margin)
    batch_size, num_classes = labels.size(0), W.size(1)
    # large_margin_softmax_loss.py 66-75 get_target_mask
    mask = torch.zeros(batch_size, num_classes, dtype=embeddings.dtype, device=embeddings.device)
    mask[torch.arange(batch_size), labels] = 1
    cosine = Distance("cosine")(embeddings, W.t())  # 56-57 get_cosine: CosineSimilarity()(x, W.t())
    cosine_of_target_classes = cosine[mask == 1]  # 109
    # arcface_loss.py 28-42 modify_cosine_of_target_classes, with get_angles (lmsl 59-64)
    angles = torch.acos(torch.clamp(cosine_of_target_classes, -1, 1))
    cos_theta_plus_margin = torch.cos(angles + margin)
    cos_theta = torch.cos(angles)
    modified = torch.where(angles <= np.deg2rad(180) - margin, cos_theta_plus_margin,
                           cos_theta - margin * np.sin(margin))
    diff = (modified - cosine_of_target_classes).unsqueeze(1)  # lmsl 113-115
    logits = cosine + (mask * diff)  # 116
    logits = logits * scale  # arcface_loss.py 44-45 scale_logits
    unweighted_loss = torch.nn.CrossEntropyLoss(reduction="none")(logits, labels)  # lmsl 32, 118
    miner_weights = torch.ones(batch_size, dtype=embeddings.dtype)  # loss_and_miner_utils.py 250-253
    return torch.mean(unweighted_loss * miner_weights)  # MeanReducer (reducers/mean_reducer.py 7-8)


# ---- oracle cases -----------------------------------------------------------
def _out(t):
    t = t.detach().contiguous()
    return {"data": [float(v) for v in t.reshape(-1).tolist()], "shape": list(t.shape)}


def _tensor(spec, dtype):
    return torch.tensor(spec["data"], dtype=dtype).reshape(spec["shape"])


def triplet(case, dtype):
    i, o = case["inputs"], case.get("options", {})
    x = _tensor(i["x"], dtype).requires_grad_(True)
    labels = torch.tensor(o["labels"], dtype=torch.long)
    loss = triplet_margin_loss(x, labels, o.get("margin", 0.05), o.get("mining", "batch-hard"),
                               o.get("distance", "euclidean"))
    loss.backward()
    return {"loss": loss.item(), "grad": _out(x.grad)}


def arcface(case, dtype):
    i, o = case["inputs"], case.get("options", {})
    x = _tensor(i["x"], dtype).requires_grad_(True)
    W = _tensor(i["centers"], dtype).t().contiguous().requires_grad_(True)
    labels = torch.tensor(o["labels"], dtype=torch.long)
    loss = arcface_loss(x, labels, W, o.get("margin", 28.6), o.get("scale", 64))
    loss.backward()
    return {"loss": loss.item(), "grad": _out(x.grad), "gradCenters": _out(W.grad.t())}
