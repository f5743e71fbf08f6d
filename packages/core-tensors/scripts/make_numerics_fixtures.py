#!/usr/bin/env python3
"""Reference values for core-tensors' numerics, computed independently with PyTorch in float64.

Run: /usr/bin/python3 packages/core-tensors/scripts/make_numerics_fixtures.py
Writes packages/core-tensors/src/fixtures/numerics.json.
"""
import json
import math
import os

import torch

torch.set_default_dtype(torch.float64)


def f64(t):
    return [float(v) for v in t.flatten().tolist()]


def grad_of(fn, x):
    x = x.clone().requires_grad_(True)
    fn(x).sum().backward()
    return f64(x.grad)


out = {}

special_x = torch.tensor([0.01, 0.1, 0.3, 0.5, 0.9, 1.0, 1.5, 2.0, 3.7, 10.0, 57.3, 1000.0,
                          -0.3, -1.5, -2.7])
out["special"] = {
    "x": f64(special_x),
    "lgamma": f64(torch.lgamma(special_x)),
    "digamma": f64(torch.digamma(special_x)),
    "trigamma": f64(torch.polygamma(1, special_x)),
}

lse_x = torch.tensor([[1.0, 2.0, 3.0, -1.0], [1e4, 1e4, -1e4, 0.0], [-1e4, -1e4, -1e4, -1e4],
                      [-50.0, 0.5, 20.0, 19.0]])
out["logsumexp"] = {
    "x": [f64(r) for r in lse_x],
    "value": f64(torch.logsumexp(lse_x, dim=-1)),
    "grad": [f64(r) for r in torch.tensor(grad_of(lambda t: torch.logsumexp(t, -1), lse_x)).reshape(4, 4)],
    "log_softmax": [f64(r) for r in torch.log_softmax(lse_x, -1)],
}

sp_x = torch.tensor([-1e4, -80.0, -20.0, -1.0, -1e-3, 0.0, 1e-3, 1.0, 20.0, 80.0, 1e4])
out["softplus"] = {
    "x": f64(sp_x),
    "value": f64(torch.nn.functional.softplus(sp_x)),
    "grad": grad_of(lambda t: torch.nn.functional.softplus(t), sp_x),
    "log_sigmoid": f64(torch.nn.functional.logsigmoid(sp_x)),
}

l1_x = torch.tensor([-1e-7, -1e-4, -0.1, -0.5, -math.log(2), -1.0, -5.0, -30.0, -100.0])
out["log1mexp"] = {
    "x": f64(l1_x),
    "value": f64(torch.log(-torch.expm1(l1_x))),
    "grad": grad_of(lambda t: torch.log(-torch.expm1(t)), l1_x),
}

em_x = torch.tensor([-20.0, -1.0, -1e-3, -1e-7, 0.0, 1e-9, 1e-5, 1e-3, 0.5, 10.0])
out["expm1"] = {"x": f64(em_x), "value": f64(torch.expm1(em_x))}

path = os.path.join(os.path.dirname(__file__), "..", "src", "fixtures", "numerics.json")
with open(path, "w") as fh:
    json.dump(out, fh, indent=1)
print("wrote", os.path.normpath(path))
