#!/usr/bin/env python3
"""PyTorch peer for the `vae` suite: training throughput (examples/s, one CPU thread) of the same
two models as apps/bench/src/suites/vae.ts, step for step:
- Gaussian VAE 784-400-(2x40) / 40-400-784, ReLU, softplus scales + 1e-5, Bernoulli likelihood,
  one reparameterized sample, analytic KL, Adam 1e-3, batch 100;
- categorical VAE 784-512-256-(20x10) / 200-256-512-784, ReLU, Gumbel-Softmax (tau = 1, one
  relaxed sample), analytic KL to the uniform prior, Adam 1e-3, batch 100.
Inputs are random 0/1 images (throughput does not depend on the data). Prints one JSON line."""
import json
import math
import sys
import time

import torch
import torch.nn.functional as F
from peer_common import median_ms

torch.set_num_threads(1)
torch.manual_seed(0)
profile = sys.argv[sys.argv.index("--profile") + 1] if "--profile" in sys.argv else "quick"
quick = profile == "quick"
B = 100


def mlp(sizes):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i + 2 < len(sizes):
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def bern_ll(logits, x):
    return (x * logits - F.softplus(logits)).sum(-1)


x = (torch.rand(B, 784) < 0.3).float()
out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "batch": B}

# Gaussian VAE
enc = mlp([784, 400, 80])
dec = mlp([40, 400, 784])
opt = torch.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=1e-3)


def gauss_step():
    opt.zero_grad(set_to_none=True)
    h = enc(x)
    loc, raw = h[:, :40], h[:, 40:]
    scale = F.softplus(raw) + 1e-5
    z = loc + scale * torch.randn_like(loc)
    recon = bern_ll(dec(z), x)
    kl = (0.5 * (scale**2 + loc**2 - 1) - torch.log(scale)).sum(-1)
    loss = (kl - recon).mean()
    loss.backward()
    opt.step()
    loss.item()


ms = median_ms(gauss_step, 5, 20 if quick else 100)
out["gaussian_ms"] = ms
out["gaussian_examples_per_s"] = B / ms * 1000
print("[peer] gaussian vae done", file=sys.stderr)

# Categorical VAE, Gumbel-Softmax
N, C = 20, 10
cenc = mlp([784, 512, 256, N * C])
cdec = mlp([N * C, 256, 512, 784])
copt = torch.optim.Adam(list(cenc.parameters()) + list(cdec.parameters()), lr=1e-3)


def cat_step():
    copt.zero_grad(set_to_none=True)
    logits = cenc(x).view(B, N, C)
    u = torch.rand_like(logits).clamp(1e-6, 1 - 1e-6)
    g = -torch.log(-torch.log(u))
    y = F.softmax((logits + g) / 1.0, dim=-1)
    recon = bern_ll(cdec(y.view(B, N * C)), x)
    lq = F.log_softmax(logits, -1)
    kl = (lq.exp() * (lq + math.log(C))).sum((-2, -1))
    loss = (kl - recon).mean()
    loss.backward()
    copt.step()
    loss.item()


ms = median_ms(cat_step, 5, 20 if quick else 100)
out["categorical_ms"] = ms
out["categorical_examples_per_s"] = B / ms * 1000
print("[peer] categorical vae done", file=sys.stderr)
print(json.dumps(out))
