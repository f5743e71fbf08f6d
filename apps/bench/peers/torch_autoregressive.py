#!/usr/bin/env python3
"""PyTorch peer for the `autoregressive` suite: one training step (forward, backward, Adam) of the
same MADE and PixelCNN as apps/bench/src/suites/autoregressive.ts, on one CPU thread, timed as
the median over steps after warm-up. Prints one JSON line.

usage: torch_autoregressive.py --made-hidden 500 --made-batch 100 --pcnn-hidden 16
       --pcnn-layers 4 --pcnn-out 16 --pcnn-batch 32 --iters 10
"""
import json
import sys
import time

import torch
import torch.nn.functional as F
from peer_common import median_ms, openblas_core

torch.set_num_threads(1)
torch.manual_seed(0)


def arg(name, default):
    return type(default)(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


MADE_H = arg("--made-hidden", 500)
MADE_B = arg("--made-batch", 100)
PC_H = arg("--pcnn-hidden", 16)
PC_L = arg("--pcnn-layers", 4)
PC_OUT = arg("--pcnn-out", 16)
PC_B = arg("--pcnn-batch", 32)
ITERS = arg("--iters", 10)
D = 784


class MaskedLinear(torch.nn.Linear):
    def __init__(self, i, o, mask):
        super().__init__(i, o)
        self.register_buffer("mask", mask)

    def forward(self, x):
        return F.linear(x, self.weight * self.mask, self.bias)


def made_masks(hidden):
    # natural ordering, hidden degrees spread evenly over 1..D-1 (as MadeNet's 'equal' degrees)
    deg_in = torch.arange(1, D + 1)
    deg_h = torch.arange(hidden) * (D - 1) // hidden + 1
    m1 = (deg_h[:, None] >= deg_in[None, :]).float()  # [out, in]
    m2 = (deg_in[:, None] > deg_h[None, :]).float()
    return m1, m2


class Made(torch.nn.Module):
    def __init__(self, hidden):
        super().__init__()
        m1, m2 = made_masks(hidden)
        self.l1 = MaskedLinear(D, hidden, m1)
        self.l2 = MaskedLinear(hidden, D, m2)

    def forward(self, x):
        return self.l2(F.relu(self.l1(x)))


class MaskedConv(torch.nn.Conv2d):
    """PixelCNN mask on a single-channel image (no channel groups)."""

    def __init__(self, i, o, k, mask_type):
        super().__init__(i, o, k, padding=k // 2)
        m = torch.ones_like(self.weight)
        c = k // 2
        m[:, :, c, c + (mask_type == "B"):] = 0
        m[:, :, c + 1:] = 0
        self.register_buffer("mask", m)

    def forward(self, x):
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


class PixelCNN(torch.nn.Module):
    """As dgm.js PixelCNN: 7x7 mask A -> residual blocks (1x1, 3x3 B, 1x1) -> two 1x1 B."""

    def __init__(self, h, layers, out):
        super().__init__()
        self.first = MaskedConv(1, 2 * h, 7, "A")
        self.blocks = torch.nn.ModuleList(
            torch.nn.ModuleList([MaskedConv(2 * h, h, 1, "B"), MaskedConv(h, h, 3, "B"), MaskedConv(h, 2 * h, 1, "B")])
            for _ in range(layers)
        )
        self.head1 = MaskedConv(2 * h, out, 1, "B")
        self.head2 = MaskedConv(out, 1, 1, "B")

    def forward(self, x):
        s = self.first(x)
        for a, b, c in self.blocks:
            s = s + c(F.relu(b(F.relu(a(F.relu(s))))))
        return self.head2(F.relu(self.head1(F.relu(s))))


def bce_nll(logits, x):
    # mean over the batch of the summed Bernoulli NLL (nats per image)
    return F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / x.shape[0]


def step_fn(model, x):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = bce_nll(model(x), x)
        loss.backward()
        opt.step()
        return loss.item()

    return step


out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "blas_core": openblas_core()}
made = Made(MADE_H)
xm = (torch.rand(MADE_B, D) < 0.3).float()
out["made_step_ms"] = median_ms(step_fn(made, xm), 3, ITERS)
print("[peer] made step done", file=sys.stderr)
pc = PixelCNN(PC_H, PC_L, PC_OUT)
xp = (torch.rand(PC_B, 1, 28, 28) < 0.3).float()
out["pixelcnn_step_ms"] = median_ms(step_fn(pc, xp), 2, max(3, ITERS // 2))
print("[peer] pixelcnn step done", file=sys.stderr)
print(json.dumps(out))
