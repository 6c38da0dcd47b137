# A Python worker of the same torchrun job as distributed-torchrun-worker.js
# (test/distributed.torchrun.test.ts): joins with init_process_group("gloo")
# from torchrun's environment, makes the same collectives as the Node.js
# worker's default scenario and writes <out>/rank<RANK>.attempt<N>.json.
import datetime
import json
import os
import sys

import torch
import torch.distributed as dist

job = json.load(open(sys.argv[1]))
rank = int(os.environ["RANK"])
attempt = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))
dist.init_process_group("gloo", timeout=datetime.timedelta(milliseconds=job["timeoutMs"]))
w = dist.get_world_size()
t = torch.tensor([rank + 1.0, 10.0], dtype=torch.float64)
dist.all_reduce(t)
g = [torch.zeros(1, dtype=torch.float64) for _ in range(w)]
dist.all_gather(g, torch.tensor([float(rank)], dtype=torch.float64))
dist.barrier()
dist.destroy_process_group()
out = {"rank": rank, "worldSize": w, "python": True, "sum": t.tolist(), "gathered": [x.item() for x in g]}
with open(os.path.join(job["out"], f"rank{rank}.attempt{attempt}.json"), "w") as f:
    json.dump(out, f)
