"""Critical points with known answers: the deep linear autoencoder (Baldi & Hornik 1989).

Instance: ``examples/linear_autoencoder.py`` (n = 4, p = 2, 16 parameters, eigenvalues of
X X^T 8, 4, 2, 1: 11 critical sets I, 11 distinct analytic losses, one minimum).
Measured in one run:

- accuracy: classify at every analytic critical point (random gauge); find_critical_points
  from random starts drawn in [-1.5, 1.5]^16 (as x0, no box: the critical sets are
  unbounded orbits) and from starts 0.1 away from each analytic point:
  the largest |loss - analytic|, wrong kinds, sets found; target error <= 1e-8;
- the same random starts through scipy.optimize.root (MINPACK Levenberg-Marquardt, with
  microgd's exact gradient and Hessian as the Jacobian), the peer a user would reach for;
- per Newton iteration, microgd's gradient + dense Hessian (16 Hessian-vector products)
  beside the floor, the same from closed-form NumPy formulas; medians of interleaved
  repeats, and their ratio.

Run: python benchmarks/critical.py [--quick] [--json PATH]
"""

from __future__ import annotations

import os

# Before NumPy is imported: idle OpenBLAS threads busy-wait after each call otherwise.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

import argparse  # noqa: E402
import gc  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

# Benchmark the working tree this file lives in, installed or not (as core.py does).
_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

import microgd as mg  # noqa: E402
from microgd.critical import _local  # noqa: E402

try:
    import scipy.optimize  # noqa: E402
except ImportError:
    scipy = None


def load_instance():
    spec = importlib.util.spec_from_file_location(
        "linear_autoencoder", _ROOT / "examples" / "linear_autoencoder.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def numpy_grad_hessian(ae, X):
    """The floor: gradient and dense Hessian of 1/2 |X - W2 W1 X|^2 from closed forms."""
    S = X @ X.T
    n, p = ae.N_IN, ae.HIDDEN
    eye = np.eye(2 * n * p)

    def directional(W1, W2, E, d):
        d1, d2 = ae.unpack(d)
        dP = d2 @ W1 + W2 @ d1
        h1 = -d2.T @ E @ S + W2.T @ dP @ S
        h2 = dP @ S @ W1.T - E @ S @ d1.T
        return np.concatenate([h1.ravel(), h2.ravel()])

    def grad_hessian(v):
        W1, W2 = ae.unpack(v)
        E = np.eye(n) - W2 @ W1
        g = np.concatenate([(-W2.T @ E @ S).ravel(), (-E @ S @ W1.T).ravel()])
        H = np.stack([directional(W1, W2, E, eye[i]) for i in range(len(v))])
        return g, 0.5 * (H + H.T)

    return grad_hessian


def match(table, value):
    subset = min(table, key=lambda s: abs(table[s] - value))
    return subset, abs(table[subset] - value)


def accuracy(ae, starts, seed=0):
    X, U = ae.make_data(seed)
    f = ae.make_loss(X)
    table = {s: ae.analytic_loss(s) for s in ae.subsets()}
    out = {}
    rows = ae.check_analytic(seed)
    out["analytic"] = {
        "max_loss_error": max(abs(r["loss"] - r["expected_loss"]) for r in rows),
        "max_grad_norm": max(r["grad_norm"] for r in rows),
        "wrong_kinds": [r["subset"] for r in rows if r["kind"] != r["expected_kind"]]}

    t0 = time.perf_counter()
    r = ae.search(starts=starts, seed=seed)
    out["random"] = {"starts": starts, "seconds": time.perf_counter() - t0,
                     "points": len(r["points"]), "sets_found": len(r["found"]),
                     "max_loss_error": r["max_loss_error"], "wrong_kinds": r["wrong_kinds"],
                     "missing": [list(s) for s in r["missing"]]}

    rng = np.random.default_rng(5)
    x0 = np.array([ae.critical_point(s, U, rng) + 0.1 * rng.standard_normal(16)
                   for s in ae.subsets()])
    t0 = time.perf_counter()
    pts = mg.find_critical_points(f, None, starts=0, x0=x0)
    seconds = time.perf_counter() - t0
    found, worst, wrong = set(), 0.0, []
    for p in pts:
        s, err = match(table, p.value)
        found.add(s)
        worst = max(worst, err)
        if p.kind != ae.analytic_kind(s):
            wrong.append(s)
    out["nearby"] = {"starts": len(x0), "seconds": seconds, "points": len(pts),
                     "sets_found": len(found), "max_loss_error": worst, "wrong_kinds": wrong}

    if scipy is not None:
        g, h = mg.grad(f), mg.hessian(f)
        same = np.random.default_rng(seed).uniform(-1.5, 1.5, (starts, 16))  # as ae.search
        t0 = time.perf_counter()
        values = []
        for start in same:
            sol = scipy.optimize.root(g, start, jac=h, method="lm")
            if sol.success and np.linalg.norm(g(sol.x)) < 1e-8:
                values.append(float(f(mg.Value(sol.x)).data))
        seconds = time.perf_counter() - t0
        found = {match(table, v)[0] for v in values}
        out["scipy_lm"] = {"starts": starts, "seconds": seconds, "converged": len(values),
                           "sets_found": len(found),
                           "max_loss_error": max((match(table, v)[1] for v in values),
                                                 default=None),
                           "kinds": "not classified (root finding only)"}
    return out


def per_iteration(ae, repeats, seed=0):
    """Gradient + dense Hessian at random points: microgd against the closed-form floor."""
    X, _ = ae.make_data(seed)
    f = ae.make_loss(X)
    floor = numpy_grad_hessian(ae, X)
    pts = np.random.default_rng(seed + 7).standard_normal((repeats, 16))
    g0, H0 = _local(f, pts[0])
    g1, H1 = floor(pts[0])
    assert np.allclose(g0, g1, atol=1e-10) and np.allclose(H0, H1, atol=1e-10)
    times = {"microgd": [], "numpy floor": []}
    gc.collect()
    gc.freeze()
    for x in pts:  # interleaved: the two see the same machine load
        t = time.perf_counter()
        _local(f, x)
        times["microgd"].append(time.perf_counter() - t)
        t = time.perf_counter()
        floor(x)
        times["numpy floor"].append(time.perf_counter() - t)
    med = {k: float(np.median(v)) for k, v in times.items()}
    med["ratio"] = med["microgd"] / med["numpy floor"]
    return med


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="30 random starts, 50 repeats")
    ap.add_argument("--json", help="also write the numbers to this file")
    args = ap.parse_args(argv)
    ae = load_instance()
    starts, repeats = (30, 50) if args.quick else (100, 200)
    acc = accuracy(ae, starts)
    it = per_iteration(ae, repeats)
    a, r, nb = acc["analytic"], acc["random"], acc["nearby"]
    print(f"deep linear autoencoder n={ae.N_IN}, p={ae.HIDDEN}: 11 analytic critical sets")
    print(f"  classify at the analytic points: max |loss error| {a['max_loss_error']:.1e}, "
          f"max |g| {a['max_grad_norm']:.1e}, wrong kinds {a['wrong_kinds'] or 'none'}")
    print(f"  find_critical_points, {r['starts']} random starts: {r['points']} points, "
          f"{r['sets_found']}/11 sets, max |loss error| {r['max_loss_error']:.1e}, wrong kinds "
          f"{r['wrong_kinds'] or 'none'}, {r['seconds']:.1f} s; missing {r['missing']}")
    print(f"  find_critical_points, x0 0.1 from each analytic point: {nb['points']} points, "
          f"{nb['sets_found']}/11 sets, max |loss error| {nb['max_loss_error']:.1e}, wrong "
          f"kinds {nb['wrong_kinds'] or 'none'}, {nb['seconds']:.2f} s")
    if "scipy_lm" in acc:
        s = acc["scipy_lm"]
        err = "-" if s["max_loss_error"] is None else f"{s['max_loss_error']:.1e}"
        print(f"  scipy.optimize.root(method='lm'), same {s['starts']} starts: {s['converged']} "
              f"converged, {s['sets_found']}/11 sets, max |loss error| {err}, "
              f"{s['seconds']:.1f} s (no classification, no merging)")
    print(f"  per Newton iteration (gradient + 16x16 Hessian), medians of {repeats}: microgd "
          f"{it['microgd'] * 1e3:.2f} ms, NumPy closed form {it['numpy floor'] * 1e3:.3f} ms, "
          f"ratio {it['ratio']:.0f}x")
    if args.json:
        Path(args.json).write_text(json.dumps({"accuracy": acc, "per_iteration": it},
                                              indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
