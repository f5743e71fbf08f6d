#!/usr/bin/env python3
"""PyTorch peer for the `estimators` suite: the lecture example d/dtheta E_{x~N(theta,1)}[x^2]
at theta = 2 with REINFORCE and the reparameterization estimator, written as in
apps/bench/src/suites/estimators.ts (R independent estimates of N samples in one vectorised
call, surrogate + autograd). Reports the mean and variance over the repeats for each N and the
throughput (estimates per second). One CPU thread. Prints one JSON line."""
import json
import sys
import time

import torch

torch.set_num_threads(1)
torch.manual_seed(0)
argv = sys.argv
profile = argv[argv.index("--profile") + 1] if "--profile" in argv else "quick"
repeats = int(argv[argv.index("--repeats") + 1]) if "--repeats" in argv else 100
quick = profile == "quick"


def estimate(kind, theta, n):
    """R estimates (theta has R entries) of d/dtheta E[x^2] from n samples each."""
    eps = torch.randn(theta.shape[0], n)
    if kind == "reparam":
        x = theta[:, None] + eps
        surrogate = (x * x).mean(1)
    else:
        x = (theta[:, None] + eps).detach()
        f = x * x
        logq = -0.5 * (x - theta[:, None]) ** 2
        surrogate = (f + f.detach() * (logq - logq.detach())).mean(1)
    (g,) = torch.autograd.grad(surrogate.sum(), theta)
    return g


def median_s(fn, warmup, iters):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    ts.sort()
    return ts[len(ts) // 2]


out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "lecture": {}, "throughput": {}}
for kind in ("reinforce", "reparam"):
    out["lecture"][kind] = {}
    for n in (10, 100, 1000, 10000, 100000):
        chunk = max(1, min(repeats, 2_000_000 // n))
        gs = []
        for start in range(0, repeats, chunk):
            r = min(chunk, repeats - start)
            theta = torch.full((r,), 2.0, requires_grad=True)
            gs.append(estimate(kind, theta, n))
        g = torch.cat(gs).double()
        out["lecture"][kind][str(n)] = {"mean": g.mean().item(), "var": g.var(unbiased=True).item()}
    print(f"[peer] lecture {kind} done", file=sys.stderr)
    th100 = torch.full((100,), 2.0, requires_grad=True)
    th1 = torch.full((1,), 2.0, requires_grad=True)
    out["throughput"][kind] = {
        "batched": 100 / median_s(lambda: estimate(kind, th100, 1000), 3, 10 if quick else 40),
        "single": 1 / median_s(lambda: estimate(kind, th1, 1000), 3, 30 if quick else 200),
    }
print(json.dumps(out))
