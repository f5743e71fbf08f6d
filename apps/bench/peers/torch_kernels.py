#!/usr/bin/env python3
"""PyTorch peer for the `kernels` suite: the same GEMM, MLP step and conv-net step as
apps/bench/src/suites/kernels.ts, on one CPU thread. Prints one JSON line."""
import json
import sys
import time

import torch
from peer_common import median_ms, openblas_core

torch.set_num_threads(1)
torch.manual_seed(0)
profile = sys.argv[sys.argv.index("--profile") + 1] if "--profile" in sys.argv else "quick"
quick = profile == "quick"


out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "blas_core": openblas_core()}
a = torch.randn(512, 512)
b = torch.randn(512, 512)
flops = 2 * 512**3
for key, fn in [("gemm512", lambda: a @ b), ("gemm512_tn", lambda: a.t() @ b), ("gemm512_nt", lambda: a @ b.t())]:
    # A long warm-up: the first GEMMs after import run at half speed (OpenBLAS buffer set-up).
    ms = median_ms(lambda: fn().contiguous(), 30, 10 if quick else 30)
    out[key] = flops / (ms * 1e6)
print("[peer] gemm done", file=sys.stderr)

# MLP step: batch 128, 784-512-784, sigmoid cross-entropy, Adam.
mlp = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Linear(512, 784))
opt = torch.optim.Adam(mlp.parameters(), lr=1e-3)
x = (torch.rand(128, 784) < 0.5).float()
lossf = torch.nn.BCEWithLogitsLoss()


def mlp_step():
    opt.zero_grad(set_to_none=True)
    loss = lossf(mlp(x), x)
    loss.backward()
    opt.step()
    loss.item()


out["mlp_step_ms"] = median_ms(mlp_step, 5, 20 if quick else 100)
print("[peer] mlp step done", file=sys.stderr)

# Conv-net step: batch 64, 28x28x1, three 3x3 convs of 32 channels (same padding, ReLU),
# dense to 10, softmax cross-entropy, Adam.
conv = torch.nn.Sequential(
    torch.nn.Conv2d(1, 32, 3, padding=1), torch.nn.ReLU(),
    torch.nn.Conv2d(32, 32, 3, padding=1), torch.nn.ReLU(),
    torch.nn.Conv2d(32, 32, 3, padding=1), torch.nn.ReLU(),
    torch.nn.Flatten(), torch.nn.Linear(32 * 28 * 28, 10),
)
copt = torch.optim.Adam(conv.parameters(), lr=1e-3)
cx = torch.rand(64, 1, 28, 28)
cy = torch.randint(0, 10, (64,))
ce = torch.nn.CrossEntropyLoss()


def conv_step():
    copt.zero_grad(set_to_none=True)
    loss = ce(conv(cx), cy)
    loss.backward()
    copt.step()
    loss.item()


out["conv_step_ms"] = median_ms(conv_step, 2, 5 if quick else 30)
print("[peer] conv step done", file=sys.stderr)
print(json.dumps(out))
