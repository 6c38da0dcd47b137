"""References for pairloss's losses anchored on lightly (lightly/loss/): the
anchors' own code, copied from lightly-ai/lightly (MIT License, Copyright (c)
2020 Lightly AG) with the docstrings left out and, for DCL, lightly.utils.dist
(rank, world size, the gather) passed in as arguments, and the way oracle.py
runs them on a case. scripts/oracle.py hands the ops below to run_case here.

  negative_cosine       NegativeCosineSimilarity (lightly/loss/negative_cosine_similarity.py)
  koleo                 KoLeoLoss (lightly/loss/koleo_loss.py)
  alignment_uniformity  HypersphereLoss (lightly/loss/hypersphere_loss.py)
  dcl                   DCLLoss / DCLWLoss (lightly/loss/dcl_loss.py); with
                        options.worldSize W > 1 the inputs are the W ranks' batches
                        concatenated and the reference is lightly's
                        gather_distributed run by W simulated ranks (GatherLayer:
                        each rank's loss from its rows against every rank's, the
                        gradients summed over the ranks), as pairloss reports it:
                        the mean of the ranks' losses and its gradients.
"""
from functools import partial

import warnings

import torch
from torch import Tensor, nn
from torch.nn import Module, PairwiseDistance, functional
import torch.nn.functional as F
from torch.nn.functional import cosine_similarity


# ---- lightly/loss/negative_cosine_similarity.py ----------------------------
class NegativeCosineSimilarity(torch.nn.Module):
    def __init__(self, dim: int = 1, eps: float = 1e-8) -> None:
        super().__init__()
        self.dim = dim
        self.eps = eps

    def forward(self, x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
        return -cosine_similarity(x0, x1, self.dim, self.eps).mean()


# ---- lightly/loss/koleo_loss.py --------------------------------------------
class KoLeoLoss(Module):
    def __init__(self, p: float = 2, eps: float = 1e-8):
        super().__init__()
        self.p = p
        self.eps = eps
        self.pairwise_distance = PairwiseDistance(p=p, eps=eps)

    def forward(self, x: Tensor) -> Tensor:
        # Normalize the input tensor
        x = functional.normalize(x, p=2, dim=-1, eps=self.eps)

        # Calculate cosine similarity.
        cos_sim = torch.mm(x, x.t())
        cos_sim.fill_diagonal_(-2)

        # Get nearest neighbors.
        nn_idx = cos_sim.argmax(dim=1)
        nn_dist: Tensor = self.pairwise_distance(x, x[nn_idx])

        # Compute the loss
        loss = -(nn_dist + self.eps).log().mean()

        return loss


# ---- lightly/loss/hypersphere_loss.py --------------------------------------
class HypersphereLoss(Module):
    def __init__(self, t: float = 1.0, lam: float = 1.0, alpha: float = 2.0):
        super(HypersphereLoss, self).__init__()
        self.t = t
        self.lam = lam
        self.alpha = alpha

    def forward(self, z_a: Tensor, z_b: Tensor) -> Tensor:
        # Normalize the input embeddings
        x = F.normalize(z_a)
        y = F.normalize(z_b)

        # Calculate alignment loss
        def lalign(x: Tensor, y: Tensor) -> Tensor:
            lalign_: Tensor = (x - y).norm(dim=1).pow(self.alpha).mean()
            return lalign_

        # Calculate uniformity loss
        def lunif(x: Tensor) -> Tensor:
            sq_pdist = torch.pdist(x, p=2).pow(2)
            return sq_pdist.mul(-self.t).exp().mean().log()

        # Combine alignment and uniformity loss terms
        return lalign(x, y) + self.lam * (lunif(x) + lunif(y)) / 2.0


# ---- lightly/loss/dcl_loss.py (lightly.utils.dist as a parameter: the ------
# ---- simulated ranks below; world size 1 is lightly's undistributed code) --
def negative_mises_fisher_weights(out0: Tensor, out1: Tensor, sigma: float = 0.5) -> Tensor:
    similarity = torch.einsum("nm,nm->n", out0.detach(), out1.detach()) / sigma

    # Return negative Mises-Fisher weights
    return torch.tensor(2 - out0.shape[0] * nn.functional.softmax(similarity, dim=0))


def eye_rank(n, rank, world_size, device=None):
    rows = torch.arange(n, device=device, dtype=torch.long)
    cols = rows + rank * n
    diag_mask = torch.zeros((n, n * world_size), dtype=torch.bool)
    diag_mask[(rows, cols)] = True
    return diag_mask


class DCLLoss(nn.Module):
    def __init__(self, temperature: float = 0.1, weight_fn=None, gather_distributed: bool = False):
        super().__init__()
        self.temperature = temperature
        self.weight_fn = weight_fn
        self.gather_distributed = gather_distributed

    def forward(self, out0: Tensor, out1: Tensor, rank: int = 0, world_size: int = 1, gathered=None) -> Tensor:
        # Normalize the output to length 1
        out0 = nn.functional.normalize(out0, dim=1)
        out1 = nn.functional.normalize(out1, dim=1)

        if self.gather_distributed and world_size > 1:
            # Gather representations from other processes if necessary
            out0_all, out1_all = gathered(out0, out1)
        else:
            out0_all = out0
            out1_all = out1

        # Calculate symmetric loss
        loss0: Tensor = self._loss(out0, out1, out0_all, out1_all, rank, world_size)
        loss1: Tensor = self._loss(out1, out0, out1_all, out0_all, rank, world_size)

        # Return the mean loss over the mini-batch
        return 0.5 * (loss0 + loss1)

    def _loss(self, out0, out1, out0_all, out1_all, rank, world_size):
        batch_size = out0.shape[0]
        if self.gather_distributed and world_size > 1:
            diag_mask = eye_rank(batch_size, rank, world_size, device=out0.device)
        else:
            diag_mask = torch.eye(batch_size, device=out0.device, dtype=torch.bool)

        # Calculate similarities (n = batch_size, m = batch_size * world_size)
        sim_00 = torch.einsum("nc,mc->nm", out0, out0_all) / self.temperature
        sim_01 = torch.einsum("nc,mc->nm", out0, out1_all) / self.temperature

        positive_loss = -sim_01[diag_mask]
        if self.weight_fn:
            positive_loss = positive_loss * self.weight_fn(out0, out1)

        # Remove simliarities between same views of the same image
        sim_00 = sim_00[~diag_mask].view(batch_size, -1)

        # Remove similarities between different views of the same images
        # This is the key difference compared to NTXentLoss
        sim_01 = sim_01[~diag_mask].view(batch_size, -1)

        all_negs = torch.cat([sim_00, sim_01], dim=1)
        negative_loss = torch.logsumexp(all_negs, dim=1)  # log(sum exp over *all* negs)
        return (positive_loss + negative_loss).mean()


class DCLWLoss(DCLLoss):
    def __init__(self, temperature: float = 0.1, sigma: float = 0.5, gather_distributed: bool = False):
        super().__init__(
            temperature=temperature,
            weight_fn=partial(negative_mises_fisher_weights, sigma=sigma),
            gather_distributed=gather_distributed,
        )


def dcl_simulated_ranks(loss_fn, z1, z2, world_size):
    """lightly's gather_distributed over `world_size` ranks in one process: rank
    r's loss from its rows of z1, z2 with out*_all every rank's normalised rows
    (the values GatherLayer's all_gather gives, and the graph its backward
    gives: every rank's gradient with respect to every gathered row, summed);
    the mean of the ranks' losses."""
    n = z1.shape[0] // world_size
    outs = [(nn.functional.normalize(z1[r * n:(r + 1) * n], dim=1), nn.functional.normalize(z2[r * n:(r + 1) * n], dim=1))
            for r in range(world_size)]
    all0 = torch.cat([o[0] for o in outs])
    all1 = torch.cat([o[1] for o in outs])
    losses = [loss_fn(z1[r * n:(r + 1) * n], z2[r * n:(r + 1) * n], rank=r, world_size=world_size,
                      gathered=lambda a, b: (all0, all1)) for r in range(world_size)]
    return sum(losses) / world_size


# ---- running a case --------------------------------------------------------
def _tensor(spec, dtype, requires_grad=False):
    return torch.tensor(spec["data"], dtype=dtype).reshape(spec["shape"]).requires_grad_(requires_grad)


def _out(t):
    t = t.detach().contiguous()
    return {"data": [float(v) for v in t.reshape(-1).tolist()], "shape": list(t.shape)}


def run_case(case, dtype):
    warnings.filterwarnings("ignore", message="To copy construct from a tensor")
    """The reference result of a case of one of the ops above, or None for another op."""
    op, i, o = case["op"], case.get("inputs", {}), case.get("options", {})
    if op == "negative_cosine":
        x1, x2 = _tensor(i["x1"], dtype, True), _tensor(i["x2"], dtype, True)
        loss = NegativeCosineSimilarity(eps=o.get("eps", 1e-8))(x1, x2)
        loss.backward()
        return {"loss": loss.item(), "grad1": _out(x1.grad), "grad2": _out(x2.grad)}
    if op == "koleo":
        x = _tensor(i["x"], dtype, True)
        loss = KoLeoLoss(eps=o.get("eps", 1e-8))(x)
        loss.backward()
        return {"loss": loss.item(), "grad": _out(x.grad)}
    if op == "alignment_uniformity":
        z1, z2 = _tensor(i["z1"], dtype, True), _tensor(i["z2"], dtype, True)
        fn = HypersphereLoss(t=o.get("t", 1.0), lam=o.get("lambda", 1.0), alpha=o.get("alpha", 2.0))
        loss = fn(z1, z2)
        loss.backward()
        with torch.no_grad():
            x, y = F.normalize(z1), F.normalize(z2)
            alignment = (x - y).norm(dim=1).pow(fn.alpha).mean()
            lunif = lambda v: torch.pdist(v, p=2).pow(2).mul(-fn.t).exp().mean().log()
            uniformity = (lunif(x) + lunif(y)) / 2.0
        return {"loss": loss.item(), "alignment": alignment.item(), "uniformity": uniformity.item(),
                "grad1": _out(z1.grad), "grad2": _out(z2.grad)}
    if op == "dcl":
        z1, z2 = _tensor(i["z1"], dtype, True), _tensor(i["z2"], dtype, True)
        w = o.get("worldSize", 1)
        temperature = o.get("temperature", 0.1)
        if o.get("weighted", False):
            fn = DCLWLoss(temperature=temperature, sigma=o.get("sigma", 0.5), gather_distributed=w > 1)
        else:
            fn = DCLLoss(temperature=temperature, gather_distributed=w > 1)
        loss = fn(z1, z2) if w == 1 else dcl_simulated_ranks(fn, z1, z2, w)
        loss.backward()
        return {"loss": loss.item(), "grad1": _out(z1.grad), "grad2": _out(z2.grad)}
    return None
