#!/usr/bin/env python3
"""PyTorch peer for the `gan` suite: one DCGAN training step on 28x28x1 images, the same network,
loss and update as apps/bench/src/suites/gan-mnist.ts times with @dgm-js/gan's GanTrainer, on one
CPU thread. Prints one JSON line.

The step (batch 64, latent 64, non-saturating loss, no penalty, Adam(2e-4, 0.5, 0.999) for both):
  critic update: z ~ N(0, I); fake = G(z) (no graph); loss_D = mean softplus(-D(x)) +
                 mean softplus(D(fake)); backward; Adam step; the loss is read back.
  generator update: z ~ N(0, I); loss_G = mean softplus(-D(G(z))) with D's parameters frozen
                 (requires_grad off: no critic weight gradients, as the TypeScript step computes
                 none); backward; Adam step; the loss is read back.
Networks (the DcganGenerator / DcganCritic defaults, NCHW here, NHWC there):
  G: Linear(64, 7*7*128) -> ReLU -> ConvTranspose2d(128, 64, 4, stride 2, pad 1) -> ReLU ->
     ConvTranspose2d(64, 1, 4, stride 2, pad 1) -> sigmoid
  D: Conv2d(1, 64, 4, stride 2, pad 1) -> LeakyReLU(0.2) -> Conv2d(64, 128, 4, stride 2, pad 1)
     -> LeakyReLU(0.2) -> flatten -> Linear(7*7*128, 1)
(TensorFlow's 'same' padding for kernel 4 / stride 2 pads one pixel per side, as pad 1 does.)

Timing: the CPU time of this process per step (time.process_time), median of the timed steps
after warm-up; with one thread it is the wall time minus the time other processes held the core.
"""
import json
import sys
import time

import torch
import torch.nn.functional as F
from peer_common import openblas_core

torch.set_num_threads(1)
torch.manual_seed(0)
args = sys.argv
profile = args[args.index("--profile") + 1] if "--profile" in args else "quick"
iters = int(args[args.index("--iters") + 1]) if "--iters" in args else (15 if profile == "quick" else 50)
warmup = 3
BATCH, LATENT = 64, 64


class Generator(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(LATENT, 7 * 7 * 128)
        self.up1 = torch.nn.ConvTranspose2d(128, 64, 4, stride=2, padding=1)
        self.up2 = torch.nn.ConvTranspose2d(64, 1, 4, stride=2, padding=1)

    def forward(self, z):
        h = F.relu(self.fc(z)).view(-1, 128, 7, 7)
        return torch.sigmoid(self.up2(F.relu(self.up1(h))))


class Critic(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 64, 4, stride=2, padding=1)
        self.conv2 = torch.nn.Conv2d(64, 128, 4, stride=2, padding=1)
        self.out = torch.nn.Linear(7 * 7 * 128, 1)

    def forward(self, x):
        h = F.leaky_relu(self.conv1(x), 0.2)
        h = F.leaky_relu(self.conv2(h), 0.2)
        return self.out(h.flatten(1)).squeeze(1)


G, D = Generator(), Critic()
opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
x = torch.rand(BATCH, 1, 28, 28)


def step():
    # critic update
    for p in D.parameters():
        p.requires_grad_(True)
    opt_d.zero_grad(set_to_none=True)
    with torch.no_grad():
        fake = G(torch.randn(BATCH, LATENT))
    loss_d = F.softplus(-D(x)).mean() + F.softplus(D(fake)).mean()
    loss_d.backward()
    opt_d.step()
    loss_d.item()
    # generator update
    for p in D.parameters():
        p.requires_grad_(False)
    opt_g.zero_grad(set_to_none=True)
    loss_g = F.softplus(-D(G(torch.randn(BATCH, LATENT)))).mean()
    loss_g.backward()
    opt_g.step()
    loss_g.item()


for _ in range(warmup):
    step()
cpu, wall = [], []
for _ in range(iters):
    c0, w0 = time.process_time(), time.perf_counter()
    step()
    cpu.append((time.process_time() - c0) * 1000)
    wall.append((time.perf_counter() - w0) * 1000)


def median(v):
    v = sorted(v)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


print(f"[peer] dcgan step: cpu median {median(cpu):.1f} ms, min {min(cpu):.1f} ms", file=sys.stderr)
out = {
    "torch": torch.__version__,
    "threads": torch.get_num_threads(),
    "blas_core": openblas_core(),
    "iters": iters,
    "dcgan_step_cpu_ms": median(cpu),
    "dcgan_step_cpu_ms_min": min(cpu),
    "dcgan_step_wall_ms": median(wall),
}
print(json.dumps(out))
