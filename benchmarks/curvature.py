"""Cost of curvature: Hessian-vector products against gradients and against peers.

Model: MLP 100-64-64-10, tanh, batch 256, softmax cross-entropy, float64.
Measured side by side in one run, contenders interleaved round-robin, medians:

- microgd grad, microgd hvp (fresh: forward + gradient graph + second backward),
  microgd hvp with the gradient graph reused (what Lanczos and Hutchinson pay
  per product); target hvp / grad <= 3;
- PyTorch double backward (torch.autograd.grad twice, create_graph=True),
  2 threads; target: microgd hvp no slower;
- JAX jvp-of-grad, eager (no jit);
- the top Hessian eigenvalue by Lanczos, in units of one hvp; target < 25.

Run: python benchmarks/curvature.py [--quick] [--json PATH]
"""

from __future__ import annotations

import os

# Before NumPy is imported: idle OpenBLAS threads busy-wait after each call
# otherwise, stealing the core the next contender runs on.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "2")

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

# Benchmark the working tree this file lives in, installed or not (as core.py does).
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import microgd as mg  # noqa: E402

try:
    import torch  # noqa: E402

    torch.set_num_threads(2)
except ImportError:
    torch = None
try:
    import jax  # noqa: E402

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp  # noqa: E402
except ImportError:
    jax = None

SIZES = (100, 64, 64, 10)
BATCH = 256


def make_problem(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((BATCH, SIZES[0]))
    labels = rng.integers(0, SIZES[-1], BATCH)
    Y = np.eye(SIZES[-1])[labels]
    params = []
    for a, b in zip(SIZES[:-1], SIZES[1:], strict=True):
        params += [rng.standard_normal((a, b)) * np.sqrt(1.0 / a), rng.standard_normal(b) * 0.1]
    v = [rng.standard_normal(p.shape) for p in params]
    return X, Y, params, v


def microgd_loss(X, Y):
    def loss(ps):
        h = X
        for i in range(0, len(ps) - 2, 2):
            h = (h @ ps[i] + ps[i + 1]).tanh()
        z = h @ ps[-2] + ps[-1]
        return -(mg.log_softmax(z, axis=1) * Y).sum() / len(X)
    return loss


def torch_contender(X, Y, params, v):
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)
    ps = [torch.from_numpy(p.copy()).requires_grad_(True) for p in params]
    vs = [torch.from_numpy(a) for a in v]

    def loss():
        h = Xt
        for i in range(0, len(ps) - 2, 2):
            h = torch.tanh(h @ ps[i] + ps[i + 1])
        z = h @ ps[-2] + ps[-1]
        return -(torch.log_softmax(z, dim=1) * Yt).sum() / len(X)

    def hvp():
        gs = torch.autograd.grad(loss(), ps, create_graph=True)
        dot = sum((g * a).sum() for g, a in zip(gs, vs, strict=True))
        return [h.numpy() for h in torch.autograd.grad(dot, ps)]

    return hvp


def jax_contender(X, Y, params, v):
    Xj, Yj = jnp.asarray(X), jnp.asarray(Y)
    ps, vs = [jnp.asarray(p) for p in params], [jnp.asarray(a) for a in v]

    def loss(ps):
        h = Xj
        for i in range(0, len(ps) - 2, 2):
            h = jnp.tanh(h @ ps[i] + ps[i + 1])
        z = h @ ps[-2] + ps[-1]
        return -(jax.nn.log_softmax(z, axis=1) * Yj).sum() / len(X)

    def hvp():
        out = jax.jvp(jax.grad(loss), (ps,), (vs,))[1]
        return [np.asarray(jax.block_until_ready(h)) for h in out]

    return hvp


def interleaved(contenders, repeats):
    times = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: float(np.median(t)) for name, t in times.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--json", metavar="PATH", help="also write the numbers as JSON")
    args = parser.parse_args(argv)
    repeats = 15 if args.quick else 60

    X, Y, params, v = make_problem()
    loss = microgd_loss(X, Y)
    grad = mg.grad(loss)
    op = mg.transforms.HessianOperator(loss, params)
    contenders = {
        "microgd grad": lambda: grad(params),
        "microgd hvp": lambda: mg.hvp(loss, params, v),
        "microgd hvp, graph reused": lambda: op(v),
    }
    reference = mg.hvp(loss, params, v)
    notes = []
    if torch is not None:
        contenders["torch double backward"] = torch_contender(X, Y, params, v)
        for a, b in zip(contenders["torch double backward"](), reference, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    else:
        notes.append("torch not installed: skipped")
    if jax is not None:
        contenders["jax jvp(grad), eager"] = jax_contender(X, Y, params, v)
        for a, b in zip(contenders["jax jvp(grad), eager"](), reference, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    else:
        notes.append("jax not installed: skipped")

    gc.collect()
    gc.freeze()  # full GC passes over the peers' objects would distort the timings
    for fn in contenders.values():  # warm up
        fn()
    med = interleaved(contenders, repeats)

    # The top eigenvalue by Lanczos, timed as a whole, in units of one fresh hvp.
    t_top = []
    for _ in range(3 if args.quick else 5):
        t0 = time.perf_counter()
        top = mg.hessian_eigs(loss, params, k=1, which="largest", method="lanczos", tol=1e-6)
        t_top.append(time.perf_counter() - t0)
    top_time = float(np.median(t_top))

    g, h = med["microgd grad"], med["microgd hvp"]
    rows = [(name, t * 1e3, t / g) for name, t in med.items()]
    rows.append((f"top eigenvalue ({top.n_hvp} products)", top_time * 1e3, top_time / g))
    print(f"MLP {'-'.join(map(str, SIZES))} tanh, batch {BATCH}, float64, "
          f"{sum(p.size for p in params)} parameters; median of {repeats} interleaved runs")
    print(f"{'contender':34s} {'ms':>9s} {'x grad':>8s}")
    for name, ms, ratio in rows:
        print(f"{name:34s} {ms:9.3f} {ratio:8.2f}")
    checks = [("hvp / grad", h / g, 3.0)]
    if torch is not None:
        checks.append(("hvp / torch double backward", h / med["torch double backward"], 1.0))
    if jax is not None:
        checks.append(("hvp / jax jvp(grad) eager", h / med["jax jvp(grad), eager"], None))
    checks.append(("top eigenvalue / hvp", top_time / h, 25.0))
    print()
    for name, ratio, target in checks:
        verdict = "" if target is None else ("PASS" if ratio <= target else "MISS")
        tgt = "" if target is None else f"target <= {target:g}"
        print(f"{name:34s} {ratio:8.2f}  {tgt:16s} {verdict}")
    print(f"top eigenvalue {top.eigenvalues[-1]:.6g} (converged: {top.converged})")
    for note in notes:
        print(note)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"median_seconds": med, "top_eigenvalue_seconds": top_time,
                       "top_eigenvalue_products": top.n_hvp,
                       "ratios": {n: r for n, r, _ in checks}}, fh, indent=2)


if __name__ == "__main__":
    main()
