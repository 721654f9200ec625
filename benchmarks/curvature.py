"""Cost of curvature: Hessian-vector products against gradients and against peers.

Model: MLP 100-64-64-10, tanh, batch 256, softmax cross-entropy, float64.
Measured side by side in one run, contenders interleaved round-robin, medians:

- microgd grad, microgd hvp (fresh: forward + gradient graph + second backward),
  microgd hvp with the gradient graph reused (what Lanczos and Hutchinson pay
  per product); target hvp / grad <= 3;
- PyTorch double backward (torch.autograd.grad twice, create_graph=True),
  2 threads; target: microgd hvp no slower;
- JAX jvp-of-grad, eager (no jit);
- the top Hessian eigenvalue by Lanczos, in units of one hvp; target < 25;
- forward mode (issue 12): the plain forward pass (loss value, no graph),
  mg.jvp of the loss along a random tangent (target <= 3x the forward pass,
  and ahead of HIPS autograd's forward mode), mg.linearize then k=8 tangents
  against 8 separate mg.jvp calls (target: fewer), mg.jacfwd against
  mg.jacobian on x -> tanh(A @ x), R^4 -> R^1000 (target: 20x faster),
  mg.ggn_vp (model = the logits, loss = softmax cross-entropy; target <= 3x a
  gradient) and mg.hvp with mode='rev', 'fwd', 'auto' (target: 'auto' no
  slower than the faster of the two, and no slower than torch double backward);
- peers where installed (skipped otherwise): JAX eager and jax.jit (jvp,
  linearize, jacfwd, jvp-of-grad), torch.func.jvp, HIPS autograd (make_jvp,
  its forward mode, and make_hvp).

Run: python benchmarks/curvature.py [--quick] [--json PATH] [--monitors]   (--monitors: then
benchmarks/monitors.py in the same run, the issue-13 Sharpness rows)
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

from _rounds import interleaved  # noqa: E402  (beside this file)

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
try:
    import autograd  # noqa: E402
    import autograd.numpy as anp  # noqa: E402
    from autograd.scipy.special import logsumexp as a_logsumexp  # noqa: E402
except ImportError:
    autograd = None

SIZES = (100, 64, 64, 10)
BATCH = 256
K_TANGENTS = 8
JAC_SHAPE = (1000, 4)  # A in x -> tanh(A @ x), R^4 -> R^1000


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


def microgd_model(X):
    def model(ps):
        h = X
        for i in range(0, len(ps) - 2, 2):
            h = (h @ ps[i] + ps[i + 1]).tanh()
        return h @ ps[-2] + ps[-1]
    return model


def microgd_ce(Y):
    def ce(z):
        return -(mg.log_softmax(z, axis=1) * Y).sum() / len(Y)
    return ce


def torch_loss(Xt, Yt):
    """The benchmark's loss in torch, of the parameter tensors as arguments."""
    def loss(*ps):
        h = Xt
        for i in range(0, len(ps) - 2, 2):
            h = torch.tanh(h @ ps[i] + ps[i + 1])
        z = h @ ps[-2] + ps[-1]
        return -(torch.log_softmax(z, dim=1) * Yt).sum() / len(Yt)
    return loss


def torch_contender(X, Y, params, v):
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)
    ps = [torch.from_numpy(p.copy()).requires_grad_(True) for p in params]
    vs = [torch.from_numpy(a) for a in v]

    loss = torch_loss(Xt, Yt)

    def hvp():
        gs = torch.autograd.grad(loss(*ps), ps, create_graph=True)
        dot = sum((g * a).sum() for g, a in zip(gs, vs, strict=True))
        return [h.numpy() for h in torch.autograd.grad(dot, ps)]

    return hvp


def jax_loss(Xj, Yj):
    """The benchmark's loss in JAX, of a list of parameter arrays."""
    def loss(ps):
        h = Xj
        for i in range(0, len(ps) - 2, 2):
            h = jnp.tanh(h @ ps[i] + ps[i + 1])
        z = h @ ps[-2] + ps[-1]
        return -(jax.nn.log_softmax(z, axis=1) * Yj).sum() / len(Yj)
    return loss


def jax_contender(X, Y, params, v):
    Xj, Yj = jnp.asarray(X), jnp.asarray(Y)
    ps, vs = [jnp.asarray(p) for p in params], [jnp.asarray(a) for a in v]

    loss = jax_loss(Xj, Yj)

    def hvp():
        out = jax.jvp(jax.grad(loss), (ps,), (vs,))[1]
        return [np.asarray(jax.block_until_ready(h)) for h in out]

    return hvp


def jax_forward_contenders(X, Y, params, v, tangents, A, x0):
    """JAX's forward transforms, eager and under jax.jit (compiled before timing)."""
    Xj, Yj = jnp.asarray(X), jnp.asarray(Y)
    ps, vs = [jnp.asarray(p) for p in params], [jnp.asarray(a) for a in v]
    ts = [[jnp.asarray(a) for a in t] for t in tangents]
    Aj, xj = jnp.asarray(A), jnp.asarray(x0)

    loss = jax_loss(Xj, Yj)

    def feats(x):
        return jnp.tanh(Aj @ x)

    def jvp(ps, vs):
        return jax.jvp(loss, (ps,), (vs,))

    def lin_k(ps, ts):
        _, f_jvp = jax.linearize(loss, ps)
        return [f_jvp(t) for t in ts]

    def hvp(ps, vs):
        return jax.jvp(jax.grad(loss), (ps,), (vs,))[1]

    jac = jax.jacfwd(feats)
    done = jax.block_until_ready
    out = {
        "jax jvp, eager": lambda: done(jvp(ps, vs)),
        f"jax linearize + {len(ts)} tangents, eager": lambda: done(lin_k(ps, ts)),
        "jax jacfwd R^4->R^1000, eager": lambda: done(jac(xj)),
    }
    jits = {"jax jvp, jit": (jax.jit(jvp), (ps, vs)),
            f"jax linearize + {len(ts)} tangents, jit": (jax.jit(lin_k), (ps, ts)),
            "jax jacfwd R^4->R^1000, jit": (jax.jit(jac), (xj,)),
            "jax jvp(grad), jit": (jax.jit(hvp), (ps, vs))}
    for name, (fn, fargs) in jits.items():
        done(fn(*fargs))  # compile outside the timing
        out[name] = (lambda fn=fn, fargs=fargs: done(fn(*fargs)))
    return out


def torch_forward_contender(X, Y, params, v):
    """torch.func.jvp of the loss along v (forward-mode AD with dual tensors)."""
    from torch.func import jvp

    Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)
    ps = tuple(torch.from_numpy(p.copy()) for p in params)
    vs = tuple(torch.from_numpy(a) for a in v)

    loss = torch_loss(Xt, Yt)
    return lambda: float(jvp(loss, ps, vs)[1])


def autograd_contenders(X, Y, params, v):
    """HIPS autograd: make_jvp (its forward mode) and make_hvp (reverse over reverse)."""
    def loss(ps):
        h = X
        for i in range(0, len(ps) - 2, 2):
            h = anp.tanh(anp.dot(h, ps[i]) + ps[i + 1])
        z = anp.dot(h, ps[-2]) + ps[-1]
        return -anp.sum((z - a_logsumexp(z, axis=1, keepdims=True)) * Y) / len(X)

    ps, vs = list(params), list(v)
    return {
        "autograd make_jvp (forward)": lambda: autograd.make_jvp(loss)(ps)(vs)[1],
        "autograd make_hvp": lambda: autograd.make_hvp(loss)(ps)[0](vs),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--json", metavar="PATH", help="also write the numbers as JSON")
    parser.add_argument("--monitors", action="store_true",
                        help="then, in the same run, benchmarks/monitors.py: a Sharpness "
                             "measurement beside PyHessian-style power iteration and torch")
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
    # Forward mode (issue 12).
    rng = np.random.default_rng(1)
    tangents = [[rng.standard_normal(p.shape) for p in params] for _ in range(K_TANGENTS)]
    A = rng.standard_normal(JAC_SHAPE) / 2.0
    x0 = rng.standard_normal(JAC_SHAPE[1])

    def feats(x):
        return (A @ x).tanh()

    # The parameters as Values once, outside the timing (jvp gets ndarrays too,
    # but wraps them itself: that wrapping is part of its cost).
    param_values = [mg.Value(p) for p in params]

    def forward_only():
        with mg.no_grad():
            return loss(param_values)

    def linearize_k():
        _, f_jvp = mg.linearize(loss, params)
        return [f_jvp(t) for t in tangents]

    model, ce = microgd_model(X), microgd_ce(Y)
    jac_fwd, jac_rev = mg.jacfwd(feats), mg.jacobian(feats)
    contenders.update({
        "microgd forward pass (no grad)": forward_only,
        "microgd jvp": lambda: mg.jvp(loss, (params,), (v,)),
        f"microgd linearize + {K_TANGENTS} tangents": linearize_k,
        f"microgd {K_TANGENTS} separate jvps":
            lambda: [mg.jvp(loss, (params,), (t,)) for t in tangents],
        "microgd jacfwd R^4->R^1000": lambda: jac_fwd(x0),
        "microgd jacobian R^4->R^1000": lambda: jac_rev(x0),
        "microgd ggn_vp": lambda: mg.ggn_vp(model, ce, params, v),
        "microgd hvp mode='rev'": lambda: mg.hvp(loss, params, v, mode="rev"),
        "microgd hvp mode='fwd'": lambda: mg.hvp(loss, params, v, mode="fwd"),
        "microgd hvp mode='auto'": lambda: mg.hvp(loss, params, v, mode="auto"),
    })
    np.testing.assert_allclose(jac_fwd(x0), jac_rev(x0), rtol=1e-12, atol=1e-12)
    for a, b in zip(linearize_k(), contenders[f"microgd {K_TANGENTS} separate jvps"](),
                    strict=True):
        np.testing.assert_allclose(a, b[1], rtol=1e-10, atol=1e-12)

    reference = mg.hvp(loss, params, v)
    for a, b in zip(mg.hvp(loss, params, v, mode="fwd"), reference, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
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
        contenders.update(jax_forward_contenders(X, Y, params, v, tangents, A, x0))
    else:
        notes.append("jax not installed: skipped")
    if torch is not None:
        try:
            contenders["torch.func.jvp"] = torch_forward_contender(X, Y, params, v)
            np.testing.assert_allclose(contenders["torch.func.jvp"](),
                                       float(mg.jvp(loss, (params,), (v,))[1]), rtol=1e-9)
        except ImportError:
            notes.append("torch.func not available: torch.func.jvp skipped")
    if autograd is not None:
        peers = autograd_contenders(X, Y, params, v)
        np.testing.assert_allclose(peers["autograd make_jvp (forward)"](),
                                   float(mg.jvp(loss, (params,), (v,))[1]), rtol=1e-9)
        for a, b in zip(peers["autograd make_hvp"](), reference, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
        contenders.update(peers)
    else:
        notes.append("autograd (HIPS) not installed: skipped")

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
    print(f"{'contender':40s} {'ms':>9s} {'x grad':>8s}")
    for name, ms, ratio in rows:
        print(f"{name:40s} {ms:9.3f} {ratio:8.2f}")
    checks = [("hvp / grad", h / g, 3.0)]
    if torch is not None:
        checks.append(("hvp / torch double backward", h / med["torch double backward"], 1.0))
    if jax is not None:
        checks.append(("hvp / jax jvp(grad) eager", h / med["jax jvp(grad), eager"], None))
    checks.append(("top eigenvalue / hvp", top_time / h, 25.0))
    fwd, jv = med["microgd forward pass (no grad)"], med["microgd jvp"]
    checks.append(("jvp / forward pass", jv / fwd, 3.0))
    if autograd is not None:
        checks.append(("jvp / autograd make_jvp (forward)",
                       jv / med["autograd make_jvp (forward)"], 1.0))
    checks.append((f"linearize + {K_TANGENTS} / {K_TANGENTS} jvps",
                   med[f"microgd linearize + {K_TANGENTS} tangents"]
                   / med[f"microgd {K_TANGENTS} separate jvps"], 1.0))
    checks.append(("jacfwd / jacobian, R^4->R^1000", med["microgd jacfwd R^4->R^1000"]
                   / med["microgd jacobian R^4->R^1000"], 1 / 20))
    checks.append(("ggn_vp / grad", med["microgd ggn_vp"] / g, 3.0))
    auto = med["microgd hvp mode='auto'"]
    faster = min(med["microgd hvp mode='rev'"], med["microgd hvp mode='fwd'"])
    # 5% slack: 'auto' runs the same code as the mode it picks, so the rest is noise.
    checks.append(("hvp auto / faster of rev, fwd", auto / faster, 1.05))
    if torch is not None:
        # "microgd hvp" is mg.hvp's default, mode='auto', timed in the same rounds as torch
        # (the mode rows are a separate group: across groups the machine's drift shows).
        checks.append(("hvp auto / torch double backward",
                       med["microgd hvp"] / med["torch double backward"], 1.0))
    print()
    for name, ratio, target in checks:
        verdict = "" if target is None else ("PASS" if ratio <= target else "MISS")
        tgt = "" if target is None else f"target <= {target:.3g}"
        print(f"{name:40s} {ratio:8.2f}  {tgt:16s} {verdict}")
    print(f"top eigenvalue {top.eigenvalues[-1]:.6g} (converged: {top.converged})")
    for note in notes:
        print(note)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"median_seconds": med, "top_eigenvalue_seconds": top_time,
                       "top_eigenvalue_products": top.n_hvp,
                       "ratios": {n: r for n, r, _ in checks},
                       "targets": {n: t for n, _, t in checks}}, fh, indent=2)
    if args.monitors:
        import importlib.util
        spec = importlib.util.spec_from_file_location(
            "monitors_benchmark", Path(__file__).resolve().parent / "monitors.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        print()
        module.main(["--quick"] if args.quick else [])


if __name__ == "__main__":
    main()
