#!/usr/bin/env python3
"""Reference values for the distributions of @dgm-js/core-tensors, from torch.distributions.

Writes packages/core-tensors/src/distributions/fixtures/*.json. Everything is computed in float64
by an implementation independent of ours (torch.distributions, torch autograd, torch.optim), so
the TypeScript tests compare against values they did not produce.

Run from anywhere:  /usr/bin/python3 packages/core-tensors/scripts/make_distribution_fixtures.py
Non-finite numbers are written as the strings "inf", "-inf", "nan" (JSON has no Infinity).
"""

import json
import math
import os

import torch
import torch.distributions as D
from torch.distributions.relaxed_bernoulli import LogitRelaxedBernoulli
from torch.distributions.relaxed_categorical import ExpRelaxedCategorical

torch.set_default_dtype(torch.float64)
# Scoring out-of-support values (x = 0.3 under a Bernoulli, x outside a Uniform) is part of the spec.
D.Distribution.set_default_validate_args(False)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "distributions", "fixtures")


def enc(x):
    """Tensor / number / nested list -> JSON-able nested lists with non-finite numbers as strings."""
    if isinstance(x, torch.Tensor):
        x = x.detach().tolist()
    if isinstance(x, (list, tuple)):
        return [enc(v) for v in x]
    if isinstance(x, float):
        if math.isnan(x):
            return "nan"
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        return x
    return x


def write(name, obj):
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, name)
    with open(path, "w") as f:
        json.dump(enc_tree(obj), f, indent=1)
        f.write("\n")
    print("wrote", os.path.relpath(path))


def enc_tree(o):
    if isinstance(o, dict):
        return {k: enc_tree(v) for k, v in o.items()}
    if isinstance(o, list) and o and isinstance(o[0], dict):
        return [enc_tree(v) for v in o]
    return enc(o)


def t(v):
    return torch.tensor(v, dtype=torch.float64)


def grads(fn, *params):
    """Gradients of sum(fn(*params)) with respect to each parameter."""
    ps = [p.clone().requires_grad_(True) for p in params]
    out = fn(*ps).sum()
    gs = torch.autograd.grad(out, ps)
    return [g for g in gs]


# --------------------------------------------------------------------------------------------
# Location-scale families


def loc_scale_cases(make, with_icdf=True, with_cdf=True, entropy=None):
    cases = []
    specs = [
        # loc [3], scale [3], x [4, 3]
        ([0.0, 1.5, -2.0], [1.0, 0.5, 3.0], [[0.1, 1.0, -1.0], [2.0, 1.4, -8.0], [-1.0, 2.5, 0.0], [0.0, 1.5, -2.0]]),
        # scalar loc, scale [2, 1] broadcast against x [2, 3]
        (0.7, [[0.2], [4.0]], [[0.0, 0.7, 1.1], [-5.0, 3.0, 9.0]]),
        # extreme scales
        ([0.0, 100.0], [1e-3, 1e3], [[1e-3, 50.0], [-2e-3, 2000.0]]),
    ]
    for loc, scale, x in specs:
        L, S, X = t(loc), t(scale), t(x)
        d = make(L, S)
        case = {
            "loc": loc,
            "scale": scale,
            "x": x,
            "logProb": d.log_prob(X),
            "mean": d.mean.expand(d.batch_shape),
            "variance": d.variance.expand(d.batch_shape),
            "entropy": (entropy(L, S) if entropy else d.entropy()).expand(d.batch_shape),
        }
        gl, gs = grads(lambda a, b: make(a, b).log_prob(X), L, S)
        case["gradLoc"] = gl
        case["gradScale"] = gs
        if with_cdf:
            case["cdf"] = d.cdf(X)
        if with_icdf:
            p = t([0.01, 0.5, 0.99])
            case["p"] = [0.01, 0.5, 0.99]
            d1 = make(L.reshape(-1)[0], S.reshape(-1)[0])
            case["icdf"] = d1.icdf(p)
        cases.append(case)
    return cases


def logistic(loc, scale):
    return D.TransformedDistribution(
        D.Uniform(torch.zeros_like(loc + scale), torch.ones_like(loc + scale)),
        [D.transforms.SigmoidTransform().inv, D.transforms.AffineTransform(loc, scale)],
    )


class LogisticRef:
    """torch has no Logistic class: logProb, cdf, icdf from a transformed uniform; moments analytic."""

    def __init__(self, loc, scale):
        self.d = logistic(loc, scale)
        self.loc, self.scale = loc, scale
        self.batch_shape = torch.broadcast_shapes(loc.shape, scale.shape)

    def log_prob(self, x):
        return self.d.log_prob(x)

    def cdf(self, x):
        return self.d.cdf(x)

    def icdf(self, p):
        return self.d.icdf(p)

    @property
    def mean(self):
        return self.loc + 0 * self.scale

    @property
    def variance(self):
        return self.scale**2 * math.pi**2 / 3 + 0 * self.loc


def logistic_entropy(loc, scale):
    # Not in torch: by numerical integration of -p log p on a fine grid (independent of the formula).
    out = []
    for l, s in zip(*[v.reshape(-1).tolist() for v in torch.broadcast_tensors(loc, scale)]):
        z = torch.linspace(-60, 60, 600001)
        lp = -z - 2 * torch.nn.functional.softplus(-z)  # standard logistic
        h = -(torch.exp(lp) * lp).sum() * (z[1] - z[0])
        out.append(h.item() + math.log(s))
    return t(out).reshape(torch.broadcast_shapes(loc.shape, scale.shape))


def normal_fixtures():
    write("normal.json", {"cases": loc_scale_cases(D.Normal, with_icdf=False)})


def gumbel_fixtures():
    write("gumbel.json", {"cases": loc_scale_cases(D.Gumbel)})


def logistic_fixtures():
    write("logistic.json", {"cases": loc_scale_cases(LogisticRef, entropy=logistic_entropy)})


def uniform_fixtures():
    cases = []
    for low, high, x in [
        ([0.0, -1.0, 2.0], [1.0, 3.0, 2.5], [[0.5, -1.0, 2.4], [1.0, 3.5, 1.9], [0.0, 0.0, 2.0]]),
        (-2.0, [[1.0], [10.0]], [[-3.0, -2.0, 0.9], [9.99, 10.0, 5.0]]),
    ]:
        L, H, X = t(low), t(high), t(x)
        d = D.Uniform(L, H)
        p = t([0.0, 0.25, 1.0])
        d1 = D.Uniform(L.reshape(-1)[0], H.reshape(-1)[0])
        cases.append(
            {
                "low": low,
                "high": high,
                "x": x,
                "logProb": d.log_prob(X),
                "cdf": d.cdf(X),
                "p": [0.0, 0.25, 1.0],
                "icdf": d1.icdf(p),
                "entropy": d.entropy().expand(d.batch_shape),
                "mean": d.mean.expand(d.batch_shape),
                "variance": d.variance.expand(d.batch_shape),
            }
        )
    write("uniform.json", {"cases": cases})


# --------------------------------------------------------------------------------------------
# Discrete


def bernoulli_fixtures():
    cases = []
    x = [[0.0, 1.0, 1.0, 0.0], [1.0, 0.0, 0.3, 1.0]]
    for kind, v in [
        ("logits", [-2.0, 0.0, 3.5, 0.7]),
        # (probabilities of exactly 0 or 1 are clamped at the dtype's eps, float64 in torch here and
        # float32 in dgm.js, so they are tested analytically in the TypeScript tests instead)
        ("probs", [0.1, 0.5, 0.95, 1e-6]),
        ("probs", [0.9999, 0.999, 1e-3, 0.42]),
        ("logits", [1e4, -1e4, 30.0, -30.0]),
    ]:
        P, X = t(v), t(x)
        d = D.Bernoulli(**{kind: P})
        c = {
            kind: v,
            "x": x,
            "logProb": d.log_prob(X),
            "entropy": d.entropy(),
            "mean": d.mean,
            "variance": d.variance,
        }
        (g,) = grads(lambda a: D.Bernoulli(**{kind: a}).log_prob(X), P)
        c["grad"] = g
        cases.append(c)
    write("bernoulli.json", {"cases": cases})


def categorical_fixtures():
    cases = []
    for kind, v, x in [
        ("logits", [[1.0, -0.5, 2.0, 0.0], [0.3, 0.3, -4.0, 1.2]], [[0, 3], [2, 2], [1, 0], [3, 1], [2, 3]]),
        ("probs", [[0.1, 0.2, 0.3, 0.4], [5.0, 1.0, 1.0, 3.0]], [[0, 3], [3, 0], [1, 2]]),
        ("logits", [1e4, -1e4, 0.0], [[0], [1], [2]]),
    ]:
        P = t(v)
        X = torch.tensor(x, dtype=torch.long).reshape(-1, *P.shape[:-1])
        d = D.Categorical(**{kind: P})
        oh = D.OneHotCategorical(**{kind: P})
        Xoh = torch.nn.functional.one_hot(X, P.shape[-1]).double()
        c = {
            kind: v,
            "x": X.tolist(),
            "logProb": d.log_prob(X),
            "oneHotLogProb": oh.log_prob(Xoh),
            "entropy": d.entropy(),
            "normalizedProbs": d.probs,
        }
        (g,) = grads(lambda a: D.Categorical(**{kind: a}).log_prob(X), P)
        c["grad"] = g
        cases.append(c)
    # A category of probability 0: its entropy term is 0 (torch clamps, we use exact -inf logits).
    P = t([[0.0, 0.5, 0.5], [0.2, 0.0, 0.8]])
    ent = {"probs": P.tolist(), "entropy": D.Categorical(probs=P).entropy()}
    write("categorical.json", {"cases": cases, "zeroProb": ent})


# --------------------------------------------------------------------------------------------
# Relaxed


def relaxed_fixtures():
    torch.manual_seed(0)
    out = {"expRelaxed": [], "relaxedOneHot": [], "logitRelaxedBernoulli": [], "relaxedBernoulli": []}
    logits = t([[1.0, -0.5, 2.0, 0.0], [0.3, 0.3, -2.0, 1.2]])
    for temp in [0.1, 0.5, 2.0]:
        T = t(temp)
        er = ExpRelaxedCategorical(T, logits=logits)
        y = er.rsample((3,))
        gl, gt = grads(lambda a, b: ExpRelaxedCategorical(b, logits=a).log_prob(y), logits, T)
        out["expRelaxed"].append(
            {"temperature": temp, "logits": logits, "y": y, "logProb": er.log_prob(y), "gradLogits": gl, "gradTemperature": gt}
        )
        ro = D.RelaxedOneHotCategorical(T, logits=logits)
        x = ro.rsample((3,))
        gl, gt = grads(lambda a, b: D.RelaxedOneHotCategorical(b, logits=a).log_prob(x), logits, T)
        out["relaxedOneHot"].append(
            {"temperature": temp, "logits": logits, "x": x, "logProb": ro.log_prob(x), "gradLogits": gl, "gradTemperature": gt}
        )
    bl = t([-1.0, 0.0, 2.5])
    for temp in [0.1, 0.5, 2.0]:
        T = t(temp)
        lr = LogitRelaxedBernoulli(T, logits=bl)
        y = lr.rsample((4,))
        gl, gt = grads(lambda a, b: LogitRelaxedBernoulli(b, logits=a).log_prob(y), bl, T)
        out["logitRelaxedBernoulli"].append(
            {"temperature": temp, "logits": bl, "y": y, "logProb": lr.log_prob(y), "gradLogits": gl, "gradTemperature": gt}
        )
        rb = D.RelaxedBernoulli(T, logits=bl)
        x = rb.rsample((4,)).clamp(1e-4, 1 - 1e-4)  # keep float32 round trips well-conditioned
        gl, gt = grads(lambda a, b: D.RelaxedBernoulli(b, logits=a).log_prob(x), bl, T)
        out["relaxedBernoulli"].append(
            {"temperature": temp, "logits": bl, "x": x, "logProb": rb.log_prob(x), "gradLogits": gl, "gradTemperature": gt}
        )
    write("relaxed.json", out)


# --------------------------------------------------------------------------------------------
# Composites


def composite_fixtures():
    mix_p = t([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]])
    loc = t([[-2.0, 0.0, 3.0], [1.0, 1.5, -1.0]])
    scale = t([[0.5, 1.0, 2.0], [0.3, 0.8, 1.1]])
    x = t([[0.1, 1.2], [-2.0, 5.0], [3.5, -1.0], [10.0, -10.0]])
    m = D.MixtureSameFamily(D.Categorical(probs=mix_p), D.Normal(loc, scale))
    gl, gs = grads(lambda a, b: D.MixtureSameFamily(D.Categorical(probs=mix_p), D.Normal(a, b)).log_prob(x), loc, scale)
    scalar_mix = {
        "probs": mix_p, "loc": loc, "scale": scale, "x": x,
        "logProb": m.log_prob(x), "mean": m.mean, "variance": m.variance, "gradLoc": gl, "gradScale": gs,
    }
    # Components with event shape [2]: Independent(Normal([3, 2]), 1)
    mp = t([0.25, 0.25, 0.5])
    loc2 = t([[0.0, 1.0], [-3.0, 2.0], [1.0, -1.0]])
    sc2 = t([[1.0, 0.5], [2.0, 1.0], [0.7, 0.7]])
    x2 = t([[0.0, 0.0], [-3.0, 2.5], [1.0, -1.0], [4.0, 4.0]])
    m2 = D.MixtureSameFamily(D.Categorical(probs=mp), D.Independent(D.Normal(loc2, sc2), 1))
    vector_mix = {
        "probs": mp, "loc": loc2, "scale": sc2, "x": x2,
        "logProb": m2.log_prob(x2), "mean": m2.mean, "variance": m2.variance,
    }
    ind = D.Independent(D.Normal(loc, scale), 1)
    xi = t([[0.0, 0.0, 0.0], [1.0, 2.0, 3.0]])
    independent = {"loc": loc, "scale": scale, "x": xi, "logProb": ind.log_prob(xi), "entropy": ind.entropy()}
    write("composite.json", {"scalarMixture": scalar_mix, "vectorMixture": vector_mix, "independent": independent})


def kl_fixtures():
    cases = []

    def add(name, p, q, pp, qq):
        cases.append({"pair": name, "p": pp, "q": qq, "kl": D.kl_divergence(p, q)})

    pl, ps, ql, qs = t([0.0, 1.0, -2.0]), t([1.0, 0.5, 2.0]), t([0.5, 1.0, 0.0]), t([1.0, 2.0, 0.1])
    add("Normal", D.Normal(pl, ps), D.Normal(ql, qs), {"loc": pl, "scale": ps}, {"loc": ql, "scale": qs})
    a, b = t([-2.0, 0.0, 3.0, 20.0]), t([1.0, 0.5, -3.0, -20.0])
    add("Bernoulli", D.Bernoulli(logits=a), D.Bernoulli(logits=b), {"logits": a}, {"logits": b})
    a, b = t([0.3, 0.0, 1.0, 0.999]), t([0.5, 0.2, 0.9, 0.001])
    add("BernoulliProbs", D.Bernoulli(probs=a), D.Bernoulli(probs=b), {"probs": a}, {"probs": b})
    a, b = t([[1.0, -0.5, 2.0], [0.0, 0.0, 0.0]]), t([[0.0, 1.0, -1.0], [3.0, -3.0, 0.5]])
    add("Categorical", D.Categorical(logits=a), D.Categorical(logits=b), {"logits": a}, {"logits": b})
    add("OneHotCategorical", D.OneHotCategorical(logits=a), D.OneHotCategorical(logits=b), {"logits": a}, {"logits": b})
    a = t([[0.0, 0.5, 0.5], [0.2, 0.3, 0.5]])
    b = t([[0.1, 0.1, 0.8], [0.3, 0.3, 0.4]])
    add("CategoricalZeroP", D.Categorical(probs=a), D.Categorical(probs=b), {"probs": a}, {"probs": b})
    lo1, hi1, lo2, hi2 = t([0.0, 0.0, 1.0]), t([1.0, 2.0, 2.0]), t([-1.0, 0.5, 0.0]), t([2.0, 3.0, 5.0])
    add("Uniform", D.Uniform(lo1, hi1), D.Uniform(lo2, hi2), {"low": lo1, "high": hi1}, {"low": lo2, "high": hi2})
    pl, ps, ql, qs = t([0.0, 1.0, 3.0]), t([1.0, 0.5, 2.0]), t([0.5, 1.0, 0.0]), t([2.0, 0.7, 1.5])
    add("Gumbel", D.Gumbel(pl, ps), D.Gumbel(ql, qs), {"loc": pl, "scale": ps}, {"loc": ql, "scale": qs})
    pl, ps = t([[0.0, 1.0], [2.0, -1.0]]), t([[1.0, 0.5], [0.3, 2.0]])
    ql, qs = t([[0.2, 0.0], [0.0, 0.0]]), t([[1.0, 1.0], [1.0, 3.0]])
    add(
        "IndependentNormal",
        D.Independent(D.Normal(pl, ps), 1),
        D.Independent(D.Normal(ql, qs), 1),
        {"loc": pl, "scale": ps},
        {"loc": ql, "scale": qs},
    )
    write("kl.json", {"cases": cases})


# --------------------------------------------------------------------------------------------
# Gumbel maximum likelihood, by direct numerical optimisation (not the likelihood equations)


def gumbel_mle(data):
    x = t(data)
    m, s = x.mean(), x.std()
    params = torch.stack([m, torch.log(s * math.sqrt(6) / math.pi)]).clone().requires_grad_(True)
    opt = torch.optim.LBFGS([params], lr=1, max_iter=500, tolerance_grad=1e-14, tolerance_change=1e-16,
                            line_search_fn="strong_wolfe")

    def nll():
        opt.zero_grad()
        v = -D.Gumbel(params[0], params[1].exp()).log_prob(x).sum()
        v.backward()
        return v

    for _ in range(5):
        opt.step(nll)
    mu, beta = params[0].item(), params[1].exp().item()
    ll = D.Gumbel(t(mu), t(beta)).log_prob(x).sum().item()
    return mu, beta, ll


def gumbel_fit_fixtures():
    g = torch.Generator().manual_seed(1234)
    # 60 "years" of daily water levels (metres): a seasonal mean plus AR-free lognormal noise;
    # the fixture keeps the yearly maxima (block maxima).
    days = torch.arange(365)
    season = 2.0 + 0.6 * torch.sin(2 * math.pi * days / 365)
    daily = season + 0.25 * torch.exp(0.4 * torch.randn(60, 365, generator=g))
    maxima = daily.max(dim=1).values
    datasets = {"waterLevels": maxima.tolist(), "small": [3.1, 3.6, 2.9, 4.2, 3.3, 3.8, 3.0, 3.5, 4.6, 3.2]}
    # large-magnitude data (e.g. levels in mm above a datum): tests the standardisation
    datasets["offset"] = [1e5 + 10 * v for v in datasets["small"]]
    out = {}
    for name, data in datasets.items():
        mu, beta, ll = gumbel_mle(data)
        out[name] = {"data": data, "loc": mu, "scale": beta, "logLikelihood": ll}
    write("gumbel_fit.json", out)


# --------------------------------------------------------------------------------------------
# Chi-square critical values (upper 1e-4 quantiles), for the frequency tests


def chi2_fixtures():
    crit = {}
    for df in range(1, 21):
        lo, hi = 0.0, 200.0
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            cdf = torch.special.gammainc(t(df / 2), t(mid / 2)).item()
            if cdf < 1 - 1e-4:
                lo = mid
            else:
                hi = mid
        crit[str(df)] = 0.5 * (lo + hi)
    write("chi2.json", {"alpha": 1e-4, "critical": crit})


if __name__ == "__main__":
    normal_fixtures()
    gumbel_fixtures()
    logistic_fixtures()
    uniform_fixtures()
    bernoulli_fixtures()
    categorical_fixtures()
    relaxed_fixtures()
    composite_fixtures()
    kl_fixtures()
    gumbel_fit_fixtures()
    chi2_fixtures()
