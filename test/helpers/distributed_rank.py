# One Python rank of a multi-process test (test/helpers/distributed.ts):
#   /usr/bin/python3 distributed_rank.py JOB.json RANK
# Joins the group with torch.distributed.init_process_group (tcp://), runs the
# job's scenario and prints "RESULT <json>" on stdout.
import datetime
import json
import os
import sys

import torch
import torch.distributed as dist
import torch.distributed.nn  # all_gather with autograd (open_clip's gather_with_grad)

# The seed's correlation_loss_func, verbatim (the seed: the PyTorch answer pairloss
# grew from, docs/DESIGN.md#the-seed, https://datascience.stackexchange.com/a/114587).
def correlation_loss_func(
    z1: torch.Tensor, z2: torch.Tensor, lamb: float = 5e-3, scale_loss: float = 0.025
) -> torch.Tensor:
    N, D = z1.size()

    # to match the original code
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


# The seed's function in 'features' mode (Barlow Twins: BatchNorm1d(D) on z,
# corr [D, D]), everything else as the seed, all_reduce included.
def correlation_loss_func_features(z1, z2, lamb=5e-3, scale_loss=0.025):
    N, D = z1.size()
    bn = torch.nn.BatchNorm1d(D, affine=False).to(z1.device)
    z1 = bn(z1)
    z2 = bn(z2)
    corr = (z1.T @ z2) / N
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(corr)
        world_size = dist.get_world_size()
        corr /= world_size
    diag = torch.eye(D, device=corr.device)
    cdif = (corr - diag).pow(2)
    cdif[~diag.bool()] *= lamb
    loss = scale_loss * cdif.sum()
    return loss


# open_clip's gather_features and ClipLoss.forward (src/open_clip/loss.py),
# as open_clip writes them for one process among many; `symmetric` False
# keeps only the image-to-text term (pairloss's row-wise N-pairs). The
# features are normalised first, as open_clip's model does, and the logit
# scale is 1 / temperature.
def gather_features(image_features, text_features, local_loss=False, gather_with_grad=False, rank=0, world_size=1):
    if gather_with_grad:
        all_image_features = torch.cat(torch.distributed.nn.all_gather(image_features), dim=0)
        all_text_features = torch.cat(torch.distributed.nn.all_gather(text_features), dim=0)
    else:
        gathered_image_features = [torch.zeros_like(image_features) for _ in range(world_size)]
        gathered_text_features = [torch.zeros_like(text_features) for _ in range(world_size)]
        dist.all_gather(gathered_image_features, image_features)
        dist.all_gather(gathered_text_features, text_features)
        if not local_loss:
            # ensure grads for local rank when all_* features don't have a gradient
            gathered_image_features[rank] = image_features
            gathered_text_features[rank] = text_features
        all_image_features = torch.cat(gathered_image_features, dim=0)
        all_text_features = torch.cat(gathered_text_features, dim=0)
    return all_image_features, all_text_features


def clip_loss(image_features, text_features, logit_scale, local_loss, gather_with_grad, rank, world_size, symmetric):
    all_image_features, all_text_features = gather_features(
        image_features, text_features, local_loss, gather_with_grad, rank, world_size)
    if local_loss:
        logits_per_image = logit_scale * image_features @ all_text_features.T
        logits_per_text = logit_scale * text_features @ all_image_features.T
    else:
        logits_per_image = logit_scale * all_image_features @ all_text_features.T
        logits_per_text = logits_per_image.T
    num_logits = logits_per_image.shape[0]
    labels = torch.arange(num_logits, dtype=torch.long)
    if world_size > 1 and local_loss:
        labels = labels + num_logits * rank
    if not symmetric:
        return torch.nn.functional.cross_entropy(logits_per_image, labels)
    return (torch.nn.functional.cross_entropy(logits_per_image, labels) +
            torch.nn.functional.cross_entropy(logits_per_text, labels)) / 2


# lightly's GatherLayer (lightly/utils/dist.py): all_gather whose backward
# all-reduces the gradients and keeps this rank's slice.
class GatherLayer(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input):
        output = [torch.empty_like(input) for _ in range(dist.get_world_size())]
        dist.all_gather(output, input)
        return tuple(output)

    @staticmethod
    def backward(ctx, *grads):
        all_gradients = torch.stack(grads)
        dist.all_reduce(all_gradients)
        return all_gradients[dist.get_rank()]


def eye_rank(n, device=None):
    # lightly.utils.dist.eye_rank: ones where a row meets its own sample among the gathered columns
    rows = torch.arange(n, device=device, dtype=torch.long)
    cols = rows + dist.get_rank() * n
    diag_mask = torch.zeros((n, n * dist.get_world_size()), dtype=torch.bool)
    diag_mask[(rows, cols)] = True
    return diag_mask


# lightly's NTXentLoss.forward with gather_distributed=True (lightly/loss/ntx_ent_loss.py).
def nt_xent_loss_distributed(out0, out1, temperature, negatives=None):
    out0 = torch.nn.functional.normalize(out0, dim=1)
    out1 = torch.nn.functional.normalize(out1, dim=1)
    if negatives is not None:
        # the memory bank: one positive and the bank's negatives, this rank's rows only
        negatives = torch.nn.functional.normalize(negatives, dim=1).T
        sim_pos = torch.einsum("nc,nc->n", out0, out1).unsqueeze(-1)
        sim_neg = torch.einsum("nc,ck->nk", out0, negatives)
        logits = torch.cat([sim_pos, sim_neg], dim=1) / temperature
        labels = torch.zeros(logits.shape[0], dtype=torch.long)
        return torch.nn.functional.cross_entropy(logits, labels)
    batch_size = out0.shape[0]
    out0_large = torch.cat(GatherLayer.apply(out0), 0)
    out1_large = torch.cat(GatherLayer.apply(out1), 0)
    diag_mask = eye_rank(batch_size)
    logits_00 = torch.einsum("nc,mc->nm", out0, out0_large) / temperature
    logits_01 = torch.einsum("nc,mc->nm", out0, out1_large) / temperature
    logits_10 = torch.einsum("nc,mc->nm", out1, out0_large) / temperature
    logits_11 = torch.einsum("nc,mc->nm", out1, out1_large) / temperature
    logits_00 = logits_00[~diag_mask].view(batch_size, -1)
    logits_11 = logits_11[~diag_mask].view(batch_size, -1)
    logits_0100 = torch.cat([logits_01, logits_00], dim=1)
    logits_1011 = torch.cat([logits_10, logits_11], dim=1)
    logits = torch.cat([logits_0100, logits_1011], dim=0)
    labels = torch.arange(batch_size, dtype=torch.long) + dist.get_rank() * batch_size
    labels = labels.repeat(2)
    return torch.nn.functional.cross_entropy(logits, labels)


# open_clip's SigLipLoss (src/open_clip/loss.py) with its neighbour exchange
# (bidir=False: world_size - 1 exchanges to the right, with gradients).
def neighbour_exchange(from_rank, to_rank, tensor, group=None):
    tensor_recv = torch.zeros_like(tensor)
    send_op = dist.P2POp(dist.isend, tensor, to_rank, group=group)
    recv_op = dist.P2POp(dist.irecv, tensor_recv, from_rank, group=group)
    reqs = dist.batch_isend_irecv([send_op, recv_op])
    for req in reqs:
        req.wait()
    return tensor_recv


class NeighbourExchange(torch.autograd.Function):
    @staticmethod
    def forward(ctx, from_rank, to_rank, group, tensor):
        ctx.group = group
        ctx.from_rank = from_rank
        ctx.to_rank = to_rank
        return neighbour_exchange(from_rank, to_rank, tensor, group=group)

    @staticmethod
    def backward(ctx, grad_output):
        return (None, None, None) + (NeighbourExchange.apply(ctx.to_rank, ctx.from_rank, ctx.group, grad_output),)


def neighbour_exchange_with_grad(from_rank, to_rank, tensor, group=None):
    return NeighbourExchange.apply(from_rank, to_rank, group, tensor)


class SigLipLoss:
    def __init__(self, rank=0, world_size=1):
        self.rank = rank
        self.world_size = world_size

    def get_ground_truth(self, device, dtype, num_logits, negative_only=False):
        labels = -torch.ones((num_logits, num_logits), device=device, dtype=dtype)
        if not negative_only:
            labels = 2 * torch.eye(num_logits, device=device, dtype=dtype) + labels
        return labels

    def get_logits(self, image_features, text_features, logit_scale, logit_bias=None):
        logits = logit_scale * image_features @ text_features.T
        if logit_bias is not None:
            logits += logit_bias
        return logits

    def _loss(self, image_features, text_features, logit_scale, logit_bias=None, negative_only=False):
        logits = self.get_logits(image_features, text_features, logit_scale, logit_bias)
        labels = self.get_ground_truth(image_features.device, image_features.dtype, image_features.shape[0],
                                       negative_only=negative_only)
        loss = -torch.nn.functional.logsigmoid(labels * logits).sum() / image_features.shape[0]
        return loss

    def forward(self, image_features, text_features, logit_scale, logit_bias):
        loss = self._loss(image_features, text_features, logit_scale, logit_bias)
        if self.world_size > 1:
            # exchange text features w/ neighbour world_size - 1 times
            right_rank = (self.rank + 1) % self.world_size
            left_rank = (self.rank - 1 + self.world_size) % self.world_size
            text_features_to_right = text_features
            for i in range(self.world_size - 1):
                text_features_from_left = neighbour_exchange_with_grad(left_rank, right_rank, text_features_to_right)
                loss += self._loss(image_features, text_features_from_left, logit_scale, logit_bias, negative_only=True)
                text_features_to_right = text_features_from_left
        return loss


# lightly's VICRegLoss.forward with gather_distributed=True
# (lightly/loss/vicreg_loss.py; gamma 1 there, a parameter here as in scripts/oracle.py).
def vicreg_loss_distributed(z_a, z_b, lambda_param=25.0, mu_param=25.0, nu_param=1.0, eps=1e-4, gamma=1.0):
    def variance_loss(x):
        std = torch.sqrt(x.var(dim=0) + eps)
        return torch.mean(torch.nn.functional.relu(gamma - std))

    def covariance_loss(x):
        x = x - x.mean(dim=0)
        batch_size = x.size(0)
        dim = x.size(-1)
        nondiag_mask = ~torch.eye(dim, device=x.device, dtype=torch.bool)
        cov = torch.einsum("b...c,b...d->...cd", x, x) / (batch_size - 1)
        return (cov[..., nondiag_mask].pow(2).sum(-1) / dim).mean()

    if dist.get_world_size() > 1:
        z_a = torch.cat(GatherLayer.apply(z_a), dim=0)
        z_b = torch.cat(GatherLayer.apply(z_b), dim=0)
    inv_loss = torch.nn.functional.mse_loss(z_a, z_b)
    var_loss = 0.5 * (variance_loss(z_a) + variance_loss(z_b))
    cov_loss = covariance_loss(z_a) + covariance_loss(z_b)
    return lambda_param * inv_loss + mu_param * var_loss + nu_param * cov_loss, inv_loss, var_loss, cov_loss


# SupCon under a group: HobbitLong's SupConLoss (scripts/oracle.py's
# supcon_loss) for this rank's anchors against every rank's contrast
# features, gathered with lightly's GatherLayer, and the labels all-gathered
# (HobbitLong's code has no distributed form of its own); `same`: the
# contrast is the anchors themselves (over all views), each row's own
# column left out.
def supcon_loss_distributed(x1, x2, labels, temperature, same):
    w, rank = dist.get_world_size(), dist.get_rank()
    n = x1.shape[0]
    anchor = torch.nn.functional.normalize(x1, dim=1)
    contrast_local = anchor if same else torch.nn.functional.normalize(x2, dim=1)
    contrast = torch.cat(GatherLayer.apply(contrast_local), 0)
    gathered = [torch.zeros_like(labels) for _ in range(w)]
    dist.all_gather(gathered, labels)
    all_labels = torch.cat(gathered)
    mask = torch.eq(labels.view(-1, 1), all_labels.view(1, -1)).to(x1.dtype)
    anchor_dot_contrast = torch.div(torch.matmul(anchor, contrast.T), temperature)
    logits_max, _ = torch.max(anchor_dot_contrast, dim=1, keepdim=True)
    logits = anchor_dot_contrast - logits_max.detach()
    logits_mask = torch.ones_like(mask)
    if same:
        logits_mask[torch.arange(n), torch.arange(n) + rank * n] = 0
    mask = mask * logits_mask
    exp_logits = torch.exp(logits) * logits_mask
    log_prob = logits - torch.log(exp_logits.sum(1, keepdim=True))
    mask_pos_pairs = mask.sum(1)
    mask_pos_pairs = torch.where(mask_pos_pairs < 1e-6, torch.ones_like(mask_pos_pairs), mask_pos_pairs)
    mean_log_prob_pos = (mask * log_prob).sum(1) / mask_pos_pairs
    return -mean_log_prob_pos.mean()


def plain(t):
    return {"data": t.detach().reshape(-1).tolist(), "shape": list(t.shape)}


def main():
    job = json.load(open(sys.argv[1]))
    rank = int(sys.argv[2])
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{job['port']}",
        rank=rank,
        world_size=job["worldSize"],
        timeout=datetime.timedelta(milliseconds=job["timeoutMs"]),
    )
    dtype = torch.float64 if job.get("dtype") == "float64" else torch.float32
    # BatchNorm1d's buffers take the default dtype: float64 inputs need float64 ones
    torch.set_default_dtype(dtype)
    out = {"torch": torch.__version__}
    if job["scenario"] == "interop":
        x = torch.tensor([rank + 1.0, 2.0, 3.0 * rank])
        s = x.clone()
        dist.all_reduce(s, op=dist.ReduceOp.SUM)
        m = x.clone()
        dist.all_reduce(m, op=dist.ReduceOp.MAX)
        b = x.clone()
        dist.broadcast(b, src=job["worldSize"] - 1)
        out.update(sum=plain(s), max=plain(m), broadcast=plain(b))
    elif job["scenario"] == "loss" and job["loss"] == "npairs" and "labels" not in job["inputs"][rank]:
        # open_clip's ClipLoss on this rank's share; pairloss's loss is the
        # global one (the mean of the ranks' losses) and its gradients those
        # of the global loss: each rank's backward through all_gather sums
        # every rank's loss's gradient, so both are divided by W
        o = job["options"]
        w = job["worldSize"]
        spec = job["inputs"][rank]
        x1 = torch.tensor(spec["a"]["data"], dtype=dtype).reshape(spec["a"]["shape"]).requires_grad_()
        x2 = torch.tensor(spec["b"]["data"], dtype=dtype).reshape(spec["b"]["shape"]).requires_grad_()
        temperature = torch.tensor(o.get("temperature", 1.0), dtype=dtype, requires_grad=True)
        f1 = torch.nn.functional.normalize(x1, dim=-1)
        f2 = torch.nn.functional.normalize(x2, dim=-1)
        loss = clip_loss(f1, f2, 1.0 / temperature, o.get("localLoss", True), o.get("gatherWithGrad", True),
                         rank, w, o.get("symmetric", False))
        loss.backward()
        total = torch.tensor([loss.item(), temperature.grad.item()], dtype=torch.float64)
        dist.all_reduce(total)
        # (without localLoss and without gatherWithGrad, every rank's loss is
        # the global one and only this rank's own slot carries a gradient)
        g = 1 if not o.get("localLoss", True) and not o.get("gatherWithGrad", True) else w
        out.update(loss=total[0].item() / w, gradTemperature=total[1].item() / w,
                   grad1=plain(x1.grad / g), grad2=plain(x2.grad / g))
    elif job["scenario"] == "loss" and job["loss"] == "siglip":
        # open_clip's loss on this rank's rows; pairloss's is over all W*N rows
        # (the ranks' mean), its gradients those of that mean: the exchange's
        # backward brings every rank's gradient home, so both / W
        o = job["options"]
        w = job["worldSize"]
        spec = job["inputs"][rank]
        x1 = torch.tensor(spec["a"]["data"], dtype=dtype).reshape(spec["a"]["shape"]).requires_grad_()
        x2 = torch.tensor(spec["b"]["data"], dtype=dtype).reshape(spec["b"]["shape"]).requires_grad_()
        scale = torch.tensor(o.get("scale", 10.0), dtype=dtype, requires_grad=True)
        bias = torch.tensor(o.get("bias", -10.0), dtype=dtype, requires_grad=True)
        f1 = torch.nn.functional.normalize(x1, dim=-1)
        f2 = torch.nn.functional.normalize(x2, dim=-1)
        loss = SigLipLoss(rank, w).forward(f1, f2, scale, bias)
        loss.backward()
        total = torch.tensor([loss.item(), scale.grad.item(), bias.grad.item()], dtype=torch.float64)
        dist.all_reduce(total)
        out.update(loss=total[0].item() / w, gradScale=total[1].item() / w, gradBias=total[2].item() / w,
                   grad1=plain(x1.grad / w), grad2=plain(x2.grad / w))
    elif job["scenario"] == "loss" and job["loss"] == "vicreg":
        # every rank computes the global loss; GatherLayer's backward sums the
        # W ranks' (equal) gradients: / W
        o = job["options"]
        w = job["worldSize"]
        spec = job["inputs"][rank]
        z1 = torch.tensor(spec["a"]["data"], dtype=dtype).reshape(spec["a"]["shape"]).requires_grad_()
        z2 = torch.tensor(spec["b"]["data"], dtype=dtype).reshape(spec["b"]["shape"]).requires_grad_()
        loss, inv, var, cov = vicreg_loss_distributed(z1, z2, o.get("invarianceWeight", 25.0), o.get("varianceWeight", 25.0),
                                                      o.get("covarianceWeight", 1.0), o.get("eps", 1e-4), o.get("gamma", 1.0))
        loss.backward()
        out.update(loss=loss.item(), terms=[inv.item(), var.item(), cov.item()],
                   grad1=plain(z1.grad / w), grad2=plain(z2.grad / w))
    elif job["scenario"] == "loss" and job["loss"] == "npairs" and "labels" in job["inputs"][rank]:
        # SupCon: the mean of the ranks' losses; GatherLayer sums every rank's gradient: / W
        o = job["options"]
        w = job["worldSize"]
        spec = job["inputs"][rank]
        same = bool(job.get("sameViews"))
        x1 = torch.tensor(spec["a"]["data"], dtype=dtype).reshape(spec["a"]["shape"]).requires_grad_()
        x2 = None if same else torch.tensor(spec["b"]["data"], dtype=dtype).reshape(spec["b"]["shape"]).requires_grad_()
        labels = torch.tensor(spec["labels"], dtype=torch.long)
        temperature = torch.tensor(o.get("temperature", 1.0), dtype=dtype, requires_grad=True)
        loss = supcon_loss_distributed(x1, x2, labels, temperature, same)
        loss.backward()
        total = torch.tensor([loss.item(), temperature.grad.item()], dtype=torch.float64)
        dist.all_reduce(total)
        out.update(loss=total[0].item() / w, gradTemperature=total[1].item() / w, grad1=plain(x1.grad / w))
        if not same:
            out.update(grad2=plain(x2.grad / w))
    elif job["scenario"] == "loss" and job["loss"] == "ntxent":
        # lightly's loss on this rank's share; pairloss's is the mean over
        # all 2WN rows (the ranks' mean), its gradients those of that mean:
        # GatherLayer's backward sums every rank's gradient, so both / W
        o = job["options"]
        w = job["worldSize"]
        spec = job["inputs"][rank]
        z1 = torch.tensor(spec["a"]["data"], dtype=dtype).reshape(spec["a"]["shape"]).requires_grad_()
        z2 = torch.tensor(spec["b"]["data"], dtype=dtype).reshape(spec["b"]["shape"]).requires_grad_()
        negatives = None
        if "negatives" in spec:
            negatives = torch.tensor(spec["negatives"]["data"], dtype=dtype).reshape(spec["negatives"]["shape"])
        temperature = torch.tensor(o.get("temperature", 0.5), dtype=dtype, requires_grad=True)
        loss = nt_xent_loss_distributed(z1, z2, temperature, negatives)
        loss.backward()
        total = torch.tensor([loss.item(), temperature.grad.item()], dtype=torch.float64)
        dist.all_reduce(total)
        out.update(loss=total[0].item() / w, gradTemperature=total[1].item() / w,
                   grad1=plain(z1.grad / w), grad2=plain(z2.grad / w))
    elif job["scenario"] == "loss":
        assert job["loss"] == "correlation"
        features = job["options"].get("mode", "samples") == "features"
        spec = job["inputs"][rank]
        z1 = torch.tensor(spec["a"]["data"], dtype=dtype).reshape(spec["a"]["shape"]).requires_grad_()
        z2 = torch.tensor(spec["b"]["data"], dtype=dtype).reshape(spec["b"]["shape"]).requires_grad_()
        kwargs = {}
        if "lambda" in job["options"]:
            kwargs["lamb"] = job["options"]["lambda"]
        if "scale" in job["options"]:
            kwargs["scale_loss"] = job["options"]["scale"]
        loss = (correlation_loss_func_features if features else correlation_loss_func)(z1, z2, **kwargs)
        loss.backward()
        out.update(loss=loss.item(), grad1=plain(z1.grad), grad2=plain(z2.grad))
    else:
        raise ValueError(job["scenario"])
    print("RESULT " + json.dumps(out), flush=True)
    # No destroy_process_group: torch 2.6's hung, now and then, holding the GIL
    # (faulthandler showed the teardown thread in it and the main thread unable
    # to go on; the CI rehearsals' stuck Python ranks). Instead the rank waits
    # for the harness's "exit" (sent once every rank has its result or has
    # exited, so no peer is still in a collective with it; EOF if the harness
    # is gone) and leaves at once.
    sys.stderr.flush()
    sys.stdin.readline()
    os._exit(0)


if __name__ == "__main__":
    main()
