#!/usr/bin/env python3
"""PyTorch peer for the `flows` suite: the same three 2-D flows as apps/bench/src/suites/flows.ts
(RealNVP affine couplings, MAF on MADE, rational-quadratic spline couplings), each ending with a
data-initialised ActNorm, trained with the same recipe (Adam, cosine decay, batch 512 of fresh
checkerboard samples) on one CPU thread. Prints one JSON line: median ms per training step and
the checkerboard test NLL after the given number of steps.

usage: torch_flows.py --profile quick|full --steps '{"realnvp": 600, "maf": 800, "nsf": 2000}'
"""
import json
import math
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from peer_common import median_ms

torch.set_num_threads(1)
torch.manual_seed(0)
args = sys.argv[1:]
profile = args[args.index("--profile") + 1] if "--profile" in args else "quick"
steps = json.loads(args[args.index("--steps") + 1]) if "--steps" in args else {"realnvp": 600, "maf": 800, "nsf": 2000}
quick = profile == "quick"

HIDDEN = [64, 64]
BATCH = 512
LR = 3e-3
TEST_N = 20000
NSF_BINS = 16
NSF_BOUND = 3.5


def checkerboard(n, rng):
    """FFJORD's checkerboard: uniform on the 8 dark squares of a 4x4 board on [-4, 4]^2."""
    x1 = rng.random(n) * 4 - 2
    x2_ = rng.random(n) - rng.integers(0, 2, n) * 2
    x2 = x2_ + (np.floor(x1) % 2)
    return torch.tensor(np.stack([x1, x2], 1) * 2, dtype=torch.float32)


def mlp(i, o):
    sizes = [i] + HIDDEN
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    last = nn.Linear(sizes[-1], o)
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)
    return nn.Sequential(*layers, last)


class ActNorm(nn.Module):
    """x -> (x - loc) exp(-log_scale) in the density direction, initialised from the first batch."""

    def __init__(self, d):
        super().__init__()
        self.loc = nn.Parameter(torch.zeros(d))
        self.log_scale = nn.Parameter(torch.zeros(d))
        self.initialized = False

    def inverse(self, y):
        if not self.initialized:
            with torch.no_grad():
                self.loc.copy_(y.mean(0))
                self.log_scale.copy_(torch.log(y.std(0, unbiased=False) + 1e-6))
            self.initialized = True
        return (y - self.loc) * torch.exp(-self.log_scale), -self.log_scale.sum().expand(y.shape[0])


class AffineCoupling(nn.Module):
    def __init__(self, mask):
        super().__init__()
        self.register_buffer("mask", torch.tensor(mask, dtype=torch.float32))
        self.net = mlp(2, 4)

    def inverse(self, y):
        out = self.net(y * self.mask)
        inv = 1 - self.mask
        s = 3 * torch.tanh(out[:, :2] / 3) * inv
        t = out[:, 2:] * inv
        return (y - t) * torch.exp(-s), -s.sum(1)


class MADE(nn.Module):
    """MADE for D dims, 2 outputs per dim, natural ordering, hidden degrees cycled over 1..D-1."""

    def __init__(self, d):
        super().__init__()
        deg_in = torch.arange(1, d + 1)
        degs = [deg_in]
        for h in HIDDEN:
            degs.append(torch.arange(h) % max(1, d - 1) + 1)
        self.layers = nn.ModuleList()
        masks = []
        for a, b in zip(degs[:-1], degs[1:]):
            self.layers.append(nn.Linear(len(a), len(b)))
            masks.append((b[:, None] >= a[None, :]).float())
        deg_out = deg_in.repeat_interleave(2)
        self.out = nn.Linear(len(degs[-1]), 2 * d)
        masks.append((deg_out[:, None] > degs[-1][None, :]).float())
        for i, m in enumerate(masks):
            self.register_buffer(f"m{i}", m)
        self.d = d

    def forward(self, x):
        h = x
        for i, l in enumerate(self.layers):
            h = F.relu(F.linear(h, l.weight * getattr(self, f"m{i}"), l.bias))
        o = F.linear(h, self.out.weight * getattr(self, f"m{len(self.layers)}"), self.out.bias)
        o = o.view(-1, self.d, 2)
        return o[..., 0], o[..., 1]


class MAF(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.made = MADE(d)

    def inverse(self, x):
        mu, raw = self.made(x)
        a = 5 * torch.tanh(raw / 5)
        return (x - mu) * torch.exp(-a), -a.sum(1)


class Reverse(nn.Module):
    def inverse(self, y):
        return y.flip(1), torch.zeros(y.shape[0])


def rq_spline_inverse(y, uw, uh, ud, bound, min_w=1e-3, min_h=1e-3, min_d=1e-3):
    """Inverse of the rational-quadratic spline with linear tails (Durkan et al. 2019), as nflows."""
    inside = (y >= -bound) & (y <= bound)
    out = y.clone()
    lad = torch.zeros_like(y)
    k = uw.shape[-1]
    yi = y[inside]
    w = min_w + (1 - min_w * k) * F.softmax(uw[inside], -1)
    cw = F.pad(torch.cumsum(w, -1), (1, 0))
    cw = 2 * bound * cw - bound
    cw[..., 0], cw[..., -1] = -bound, bound
    w = cw[..., 1:] - cw[..., :-1]
    h = min_h + (1 - min_h * k) * F.softmax(uh[inside], -1)
    ch = F.pad(torch.cumsum(h, -1), (1, 0))
    ch = 2 * bound * ch - bound
    ch[..., 0], ch[..., -1] = -bound, bound
    h = ch[..., 1:] - ch[..., :-1]
    off = math.log(math.expm1(1 - min_d))
    d = F.pad(min_d + F.softplus(ud[inside] + off), (1, 1), value=1.0)
    b = (torch.searchsorted(ch[..., 1:-1].contiguous(), yi[..., None].contiguous(), right=True)).squeeze(-1)
    g = lambda t: t.gather(-1, b[..., None]).squeeze(-1)
    xk, wk, yk, hk, dk, dk1 = g(cw[..., :-1]), g(w), g(ch[..., :-1]), g(h), g(d[..., :-1]), g(d[..., 1:])
    s = hk / wk
    dy = yi - yk
    delta = dk1 + dk - 2 * s
    a = hk * (s - dk) + dy * delta
    bq = hk * dk - dy * delta
    c = -s * dy
    disc = (bq * bq - 4 * a * c).clamp(min=0)
    theta = 2 * c / (-bq - torch.sqrt(disc))
    out[inside] = theta * wk + xk
    t1 = theta * (1 - theta)
    den = s + delta * t1
    dnum = dk1 * theta**2 + 2 * s * t1 + dk * (1 - theta) ** 2
    lad[inside] = -(2 * torch.log(s) + torch.log(dnum) - 2 * torch.log(den))
    return out, lad


class SplineCoupling(nn.Module):
    def __init__(self, mask):
        super().__init__()
        self.register_buffer("mask", torch.tensor(mask, dtype=torch.float32))
        self.net = mlp(2, 2 * (3 * NSF_BINS - 1))

    def inverse(self, y):
        k = NSF_BINS
        p = self.net(y * self.mask).view(-1, 2, 3 * k - 1)
        x, lad = rq_spline_inverse(y, p[..., :k], p[..., k : 2 * k], p[..., 2 * k :], NSF_BOUND)
        keep = 1 - self.mask
        return y * self.mask + x * keep, (lad * keep).sum(1)


class Flow(nn.Module):
    def __init__(self, layers):
        super().__init__()
        # forward order (base -> data); the density direction runs them backwards
        self.layers = nn.ModuleList(layers)

    def log_prob(self, x):
        ld = torch.zeros(x.shape[0])
        for l in reversed(self.layers):
            x, l_ = l.inverse(x)
            ld = ld + l_
        return -0.5 * (x**2).sum(1) - math.log(2 * math.pi) + ld


def make(family):
    if family == "realnvp":
        layers = [AffineCoupling([1, 0] if i % 2 == 0 else [0, 1]) for i in range(8)]
    elif family == "maf":
        layers = []
        for i in range(5):
            if i > 0:
                layers.append(Reverse())
            layers.append(MAF(2))
    else:
        layers = [SplineCoupling([1, 0] if i % 2 == 0 else [0, 1]) for i in range(4)]
    return Flow(layers + [ActNorm(2)])


out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "step_ms": {}, "checkerboard_nll": {}, "checkerboard_steps": {}}
test = checkerboard(TEST_N, np.random.default_rng(12345))
for fam in ["realnvp", "maf", "nsf"]:
    torch.manual_seed(1)
    flow = make(fam)
    rng = np.random.default_rng(7)
    n_steps = int(steps.get(fam, 0))
    opt = torch.optim.Adam(flow.parameters(), lr=LR)
    for s in range(n_steps):
        for g in opt.param_groups:
            g["lr"] = 0.5 * LR * (1 + math.cos(math.pi * s / n_steps))
        x = checkerboard(BATCH, rng)
        opt.zero_grad(set_to_none=True)
        loss = -flow.log_prob(x).mean()
        loss.backward()
        opt.step()
    with torch.no_grad():
        out["checkerboard_nll"][fam] = float(-flow.log_prob(test).mean())
    out["checkerboard_steps"][fam] = n_steps
    print(f"[peer] {fam}: {n_steps} steps, test nll {out['checkerboard_nll'][fam]:.4f}", file=sys.stderr)

    # throughput: a fresh model, one fixed batch, as ours
    torch.manual_seed(99)
    flow = make(fam)
    opt = torch.optim.Adam(flow.parameters(), lr=1e-3)
    xb = checkerboard(BATCH, np.random.default_rng(99))

    def step():
        opt.zero_grad(set_to_none=True)
        loss = -flow.log_prob(xb).mean()
        loss.backward()
        opt.step()
        loss.item()

    out["step_ms"][fam] = median_ms(step, 5, 20 if quick else 100)
    print(f"[peer] {fam}: {out['step_ms'][fam]:.2f} ms/step", file=sys.stderr)

print(json.dumps(out))
