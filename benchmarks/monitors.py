"""Cost of curvature monitors: a Sharpness measurement against Hessian-vector products and peers.

Model: the edge-of-stability lesson's (examples/edge_of_stability.py): MLP
64-64-64-10 tanh on load_digits (1,797 samples, full batch), squared error,
float64, at the point reached after 300 steps of GD at lr 0.1.  Measured side
by side in one run, contenders interleaved round-robin, medians:

- one gradient and one fresh Hessian-vector product (``mg.hvp``: forward,
  gradient graph, second backward), the units;
- a ``monitors.Sharpness`` measurement warm-started from the eigenvector found
  10 GD steps earlier (what ``fit`` pays every ``every`` steps), and a cold one
  (random start); Hessian-vector products counted;
- PyHessian-style power iteration for the top eigenvalue (torch double
  backward per product, relative tolerance 1e-3, as PyHessian's default),
  and one torch double-backward product; 2 threads;
- ``fit`` for 100 steps with ``Sharpness(every=10)`` against without.

Targets (issue 13): a warm Sharpness measurement <= 6 fresh HVPs' time; the
edge-of-stability lesson <= 2 minutes (``--lesson`` runs it once and times it).

Run: python benchmarks/monitors.py [--quick] [--lesson] [--json PATH]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "2")

import argparse  # noqa: E402
import gc  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

from _rounds import interleaved  # noqa: E402  (beside this file)

import microgd as mg  # noqa: E402
from microgd import monitors, optim  # noqa: E402

try:
    import torch  # noqa: E402

    torch.set_num_threads(2)
except ImportError:
    torch = None


def lesson():
    spec = importlib.util.spec_from_file_location("edge_of_stability",
                                                  _ROOT / "examples" / "edge_of_stability.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def trained_point(eos, steps=300):
    """The lesson's model after ``steps`` GD steps, and after 10 more (the warm start's gap)."""
    X, Y = eos.digits()
    model = mg.nn.MLP(64, [*eos.HIDDEN, 10], activation="tanh", seed=0)
    ps = model.parameters()
    ps[-2].assign(ps[-2].data * eos.LAST_LAYER_SCALE)

    def loss(xb, yb):
        return 0.5 * ((model(xb) - yb) ** 2).sum(axis=1).mean()

    opt = optim.GD(ps, lr=0.1)
    mg.fit(loss, ps, (X, Y), opt, epochs=steps)
    before = [p.data.copy() for p in ps]
    mg.fit(loss, ps, (X, Y), opt, epochs=10)
    return X, Y, model, ps, loss, before


def torch_contenders(X, Y, params):
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)
    ps = [torch.from_numpy(np.array(p.data)).requires_grad_(True) for p in params]

    def loss():
        h = Xt
        for i in range(0, len(ps) - 2, 2):
            h = torch.tanh(h @ ps[i] + ps[i + 1])
        z = h @ ps[-2] + ps[-1]
        return 0.5 * ((z - Yt) ** 2).sum(dim=1).mean()

    gen = torch.Generator().manual_seed(0)
    state = {"iters": 0, "value": 0.0}

    def hvp_of(gs, vs):
        dot = sum((g * v).sum() for g, v in zip(gs, vs, strict=True))
        return torch.autograd.grad(dot, ps, retain_graph=True)

    def one_hvp():
        gs = torch.autograd.grad(loss(), ps, create_graph=True)
        vs = [torch.randn(p.shape, generator=gen, dtype=p.dtype) for p in ps]
        return hvp_of(gs, vs)

    def power_iteration(tol=1e-3, max_iter=100):
        # PyHessian's eigenvalues(): normalized power iteration on the Hessian, stopped when
        # the Rayleigh quotient changes by less than tol relative.
        gs = torch.autograd.grad(loss(), ps, create_graph=True)
        vs = [torch.randn(p.shape, generator=gen, dtype=p.dtype) for p in ps]
        norm = torch.sqrt(sum((v * v).sum() for v in vs))
        vs = [v / norm for v in vs]
        value, iters = None, 0
        while iters < max_iter:
            iters += 1
            hv = hvp_of(gs, vs)
            new = float(sum((h * v).sum() for h, v in zip(hv, vs, strict=True)))
            norm = torch.sqrt(sum((h * h).sum() for h in hv))
            vs = [h / norm for h in hv]
            if value is not None and abs(new - value) / (abs(value) + 1e-6) < tol:
                value = new
                break
            value = new
        state["iters"], state["value"] = iters, value

    return one_hvp, power_iteration, state


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--lesson", action="store_true", help="also time the lesson once")
    parser.add_argument("--json", help="write the medians there")
    args = parser.parse_args(argv)
    repeats = 5 if args.quick else 15

    eos = lesson()
    X, Y, model, ps, loss, before = trained_point(eos)
    now = [p.data.copy() for p in ps]

    def arrays_loss(arrays):
        h = X
        for i in range(0, len(arrays) - 2, 2):
            h = mg.tanh(h @ arrays[i] + arrays[i + 1])
        z = h @ arrays[-2] + arrays[-1]
        return 0.5 * ((z - Y) ** 2).sum(axis=1).mean()

    rng = np.random.default_rng(0)
    v = [rng.standard_normal(p.shape) for p in now]
    counts = {}

    def sharpness(warm):
        def run():
            mon = monitors.Sharpness(every=1, warm_start=warm)
            if warm:  # the measurement fit made 10 steps earlier
                for p, a in zip(ps, before, strict=True):
                    p.assign(a)
                mon.measure(monitors.TrainingLoss(loss, ps, (X, Y)), None)
                for p, a in zip(ps, now, strict=True):
                    p.assign(a)
            t0 = time.perf_counter()
            entry = mon.measure(monitors.TrainingLoss(loss, ps, (X, Y)), None)
            counts["warm" if warm else "cold"] = (entry["n_hvp"], entry["value"])
            return time.perf_counter() - t0
        return run

    def fit_steps(with_monitor):
        def run():
            for p, a in zip(ps, now, strict=True):
                p.assign(a)
            mons = [monitors.Sharpness(every=10)] if with_monitor else []
            mg.fit(loss, ps, (X, Y), optim.GD(ps, lr=0.1), epochs=100, monitors=mons)
        return run

    contenders = {
        "microgd grad": lambda: mg.grad(arrays_loss)(now),
        "microgd hvp (fresh)": lambda: mg.hvp(arrays_loss, now, v),
    }
    if torch is not None:
        one_hvp, power, power_state = torch_contenders(X, Y, ps)
        contenders["torch double backward hvp"] = one_hvp
        contenders["PyHessian-style power iteration"] = power
    gc.collect()
    gc.freeze()
    med = interleaved(contenders, repeats)
    # The measurements time only their own part (the warm one first replays the earlier one).
    for name, warm in (("Sharpness, warm start", True), ("Sharpness, cold start", False)):
        med[name] = float(np.median([sharpness(warm)() for _ in range(repeats)]))
    fit_med = interleaved({"fit 100 steps": fit_steps(False),
                           "fit 100 steps + Sharpness(every=10)": fit_steps(True)},
                          max(3, repeats // 3))
    med.update(fit_med)

    unit = med["microgd hvp (fresh)"]
    n = sum(p.size for p in ps)
    print(f"digits MLP 64-64-64-10 tanh, full batch of {len(X)}, float64, {n} parameters; "
          f"medians of {repeats} runs")
    print(f"{'contender':40s} {'ms':>9s} {'x hvp':>8s}  products")
    extra = {"Sharpness, warm start": counts["warm"][0], "Sharpness, cold start":
             counts["cold"][0]}
    if torch is not None:
        extra["PyHessian-style power iteration"] = power_state["iters"]
    for name, t in med.items():
        print(f"{name:40s} {t * 1e3:9.2f} {t / unit:8.2f}  {extra.get(name, '')}")
    overhead = fit_med["fit 100 steps + Sharpness(every=10)"] / fit_med["fit 100 steps"] - 1
    warm = med["Sharpness, warm start"] / unit
    print()
    print(f"warm Sharpness / fresh hvp        {warm:6.2f}  target <= 6   "
          f"{'PASS' if warm <= 6 else 'MISS'}")
    print(f"fit overhead of Sharpness(every=10): {overhead:+.0%}")
    print(f"top eigenvalue: warm {counts['warm'][1]:.6f}, cold {counts['cold'][1]:.6f}"
          + (f", power iteration {power_state['value']:.6f}" if torch is not None else ""))
    result = {"median_s": med, "products": extra, "warm_over_hvp": warm,
              "fit_overhead": overhead}
    if args.lesson:
        t0 = time.perf_counter()
        eos.main(verbose=False)
        result["lesson_s"] = time.perf_counter() - t0
        print(f"edge-of-stability lesson: {result['lesson_s']:.1f} s  target <= 120 s   "
              f"{'PASS' if result['lesson_s'] <= 120 else 'MISS'}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
