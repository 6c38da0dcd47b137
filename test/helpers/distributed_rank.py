# One Python rank of a multi-process test (test/helpers/distributed.ts):
#   /usr/bin/python3 distributed_rank.py JOB.json RANK
# Joins the group with torch.distributed.init_process_group (tcp://), runs the
# job's scenario and prints "RESULT <json>" on stdout.
import datetime
import json
import sys

import torch
import torch.distributed as dist


# The seed's correlation_loss_func, verbatim (seed/000_55209aa8191e8080.txt).
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
    dist.destroy_process_group()
    print("RESULT " + json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
