"""Escaping saddles: perturbed gradient descent (Jin et al. 2017), saddle-free Newton (Dauphin et
al. 2014), and Newton's method, which is attracted to saddles.

1. The double well ``f(x, y) = x**2 + (y**2 - 1)**2 / 4 - 1/4``: a strict saddle at the
   origin (value 0, Hessian eigenvalues -1 and 2) between two minima at ``y = +-1``
   (value -1/4).  Gradient descent started exactly at the saddle never moves: the
   gradient is zero.  Started 1e-8 away it leaves, after about log(1e8) / log(1.1)
   steps.  ``optim.PerturbedGD`` adds a kick of radius 1e-2 when the gradient is small
   and escapes from the saddle itself, sooner than GD from 1e-8 away.
2. ``5 x**2 - y**2`` (the saddle of the issue) from (1, 1): Newton's step jumps onto the
   saddle in one step and stays; saddle-free Newton rescales by ``|H|^-1`` and runs away
   from it, y doubling every step and the loss falling without bound.  With a quartic
   wall, ``5 x**2 - y**2 + y**4 / 4``, Newton still converges to the saddle (value 0)
   and saddle-free Newton to a minimum, ``(0, sqrt 2)`` (value -1).
3. A model: the deep linear autoencoder (``examples/linear_autoencoder.py``) at all-zero
   weights, a saddle whose gradient is exactly zero.  GD stays at loss 7.5; perturbed
   GD reaches the global minimum, loss 1.5 (the top two principal components).

The picture: both landscapes with each optimizer's path.

Run: python examples/escaping_saddles.py [OUT_DIR]   (OUT_DIR gets the picture)
"""

from __future__ import annotations

import importlib.util
import os
import pathlib
import sys
from typing import Any

import numpy as np

import microgd as mg
from microgd import optim


def double_well(w: Any) -> Any:
    """``x**2 + (y**2 - 1)**2 / 4 - 1/4``: saddle at 0 (value 0), minima at y = +-1 (-1/4)."""
    return w[0] ** 2 + (w[1] ** 2 - 1) ** 2 / 4 - 0.25


def steep_saddle(w: Any) -> Any:
    """``5 x**2 - y**2``: a saddle at 0, unbounded below along y."""
    return 5 * w[0] ** 2 - w[1] ** 2


def walled_saddle(w: Any) -> Any:
    """``5 x**2 - y**2 + y**4 / 4``: the same saddle, with minima at (0, +-sqrt 2), value -1."""
    return 5 * w[0] ** 2 - w[1] ** 2 + w[1] ** 4 / 4


def first_order(make: Any, f: Any, start: Any, steps: int) -> dict[str, Any]:
    """Run a first-order optimizer the usual way (zero_grad, backward, step)."""
    w = mg.Value(np.array(start, dtype=float))
    opt = make([w])
    path, losses = [w.data.copy()], []
    for _ in range(steps):
        opt.zero_grad()
        loss = f(w)
        loss.backward()
        losses.append(loss.item())
        opt.step()
        path.append(w.data.copy())
    losses.append(f(w).item())
    return {"path": np.array(path), "losses": np.array(losses), "opt": opt}


def second_order(make: Any, f: Any, start: Any, steps: int) -> dict[str, Any]:
    """Run Newton or saddle-free Newton: each step re-evaluates the loss in a closure."""
    w = mg.Value(np.array(start, dtype=float))
    opt = make([w])
    path, losses = [w.data.copy()], []
    for _ in range(steps):
        losses.append(opt.step(lambda: f(w)).item())
        path.append(w.data.copy())
    losses.append(f(w).item())
    return {"path": np.array(path), "losses": np.array(losses), "opt": opt}


def first_below(losses: np.ndarray, level: float) -> int | None:
    """The first step whose loss is below ``level`` (None if none is)."""
    hits = np.nonzero(losses < level)[0]
    return int(hits[0]) if len(hits) else None


def perturbed(verbose: bool = True) -> dict[str, Any]:
    """Part 1: GD at and near the saddle of the double well, and perturbed GD."""
    steps, lr = 300, 0.1
    gd_at = first_order(lambda ps: optim.GD(ps, lr=lr), double_well, [0.0, 0.0], steps)
    gd_near = first_order(lambda ps: optim.GD(ps, lr=lr), double_well, [0.0, 1e-8], steps)
    pgd = first_order(lambda ps: optim.PerturbedGD(ps, lr=lr, radius=1e-2, threshold=1e-4,
                                                   wait=50, seed=0),
                      double_well, [0.0, 0.0], steps)
    level = -0.25 + 1e-6  # within 1e-6 of the minimum's value
    r = {"gd_at": gd_at, "gd_near": gd_near, "pgd": pgd, "kicks": pgd["opt"].kicks,
         "gd_at_moved": bool(np.any(gd_at["path"] != 0.0)),
         "steps_gd_near": first_below(gd_near["losses"], level),
         "steps_pgd": first_below(pgd["losses"], level),
         "kind": mg.classify(double_well, np.zeros(2)).kind}
    if verbose:
        print("1) double well x^2 + (y^2 - 1)^2/4 - 1/4: saddle at 0 (value 0), minima -0.25")
        print(f"   the origin is a {r['kind']}; GD from it, {steps} steps: moved = "
              f"{r['gd_at_moved']}, loss {gd_at['losses'][-1]:.3g}")
        print(f"   GD from (0, 1e-8): within 1e-6 of the minimum after {r['steps_gd_near']} "
              f"steps")
        print(f"   PerturbedGD from the saddle (kicks at steps {r['kicks']}): after "
              f"{r['steps_pgd']} steps, loss {pgd['losses'][-1]:.6f}")
    return r


def newton_vs_saddle_free(verbose: bool = True) -> dict[str, Any]:
    """Part 2: Newton converges to the saddle; saddle-free Newton runs away from it."""
    newton = second_order(lambda ps: optim.Newton(ps), steep_saddle, [1.0, 1.0], 6)
    sfn = second_order(lambda ps: optim.SaddleFreeNewton(ps, damping=1e-8), steep_saddle,
                       [1.0, 1.0], 6)
    newton_w = second_order(lambda ps: optim.Newton(ps), walled_saddle, [1.0, 0.5], 10)
    sfn_w = second_order(lambda ps: optim.SaddleFreeNewton(ps, damping=1e-8), walled_saddle,
                         [1.0, 0.5], 10)
    gd_w = first_order(lambda ps: optim.GD(ps, lr=0.05), walled_saddle, [1.0, 0.5], 200)
    r = {"newton": newton, "sfn": sfn, "newton_walled": newton_w, "sfn_walled": sfn_w,
         "gd_walled": gd_w,
         "newton_kind": mg.classify(walled_saddle, newton_w["path"][-1]).kind,
         "sfn_kind": mg.classify(walled_saddle, sfn_w["path"][-1]).kind}
    if verbose:
        print("2) 5x^2 - y^2 from (1, 1)")
        print(f"   Newton:           losses {np.round(newton['losses'], 3).tolist()}: onto "
              f"the saddle in one step")
        print(f"   saddle-free Newton losses {np.round(sfn['losses'], 3).tolist()}: y doubles "
              f"each step")
        print("   5x^2 - y^2 + y^4/4 from (1, 0.5), 10 steps")
        print(f"   Newton ends at {np.round(newton_w['path'][-1], 10).tolist()}, a "
              f"{r['newton_kind']}, loss {newton_w['losses'][-1]:.3g}")
        print(f"   saddle-free Newton ends at {np.round(sfn_w['path'][-1], 10).tolist()}, a "
              f"{r['sfn_kind']}, loss {sfn_w['losses'][-1]:.6f}")
        print(f"   (GD, lr 0.05, needs {first_below(gd_w['losses'], -1 + 1e-10)} steps to come "
              f"within 1e-10 of it)")
    return r


def _autoencoder() -> Any:
    path = pathlib.Path(__file__).with_name("linear_autoencoder.py")
    spec = importlib.util.spec_from_file_location("linear_autoencoder", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def autoencoder(verbose: bool = True) -> dict[str, Any]:
    """Part 3: the linear autoencoder at W = 0, a saddle with zero gradient."""
    ae = _autoencoder()
    X, _ = ae.make_data(0)
    f = ae.make_loss(X)
    zero = np.zeros(2 * ae.HIDDEN * ae.N_IN)
    steps, lr = 400, 0.05
    gd = first_order(lambda ps: optim.GD(ps, lr=lr), f, zero, steps)
    pgd = first_order(lambda ps: optim.PerturbedGD(ps, lr=lr, radius=0.1, threshold=1e-3,
                                                   wait=100, seed=0), f, zero, steps)
    r = {"kind": mg.classify(f, zero).kind, "gd_loss": float(gd["losses"][-1]),
         "start_loss": float(gd["losses"][0]),
         "pgd_loss": float(pgd["losses"][-1]), "pgd_best": float(pgd["losses"].min()),
         "minimum": ae.analytic_loss((0, 1)),
         "saddle_loss": ae.analytic_loss(()), "kicks": pgd["opt"].kicks}
    if verbose:
        print("3) linear autoencoder (n=4, p=2) at W1 = W2 = 0")
        print(f"   a {r['kind']} with loss {r['saddle_loss']}; GD after {steps} steps: "
              f"{r['gd_loss']:.6f}; PerturbedGD (kicks at {r['kicks']}): best "
              f"{r['pgd_best']:.10f}, last {r['pgd_loss']:.6f} (the global minimum is "
              f"{r['minimum']}; each kick there costs a little, and GD undoes it)")
    return r


def save_picture(r1: dict[str, Any], r2: dict[str, Any], out: str) -> list[str]:
    """``escaping_saddles.png``: the double well with GD and PerturbedGD, the walled saddle with
    Newton, saddle-free Newton and GD."""
    if importlib.util.find_spec("matplotlib") is None:
        print("matplotlib is not installed: no pictures (pip install matplotlib)")
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(out, exist_ok=True)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6))
    panels = [
        (axes[0], double_well, (-1.2, 1.2), (-1.5, 1.5), "Double well: GD stays, perturbed GD "
         "escapes", [("GD from the saddle", r1["gd_at"], "#e03131", "o"),
                     ("PerturbedGD", r1["pgd"], "#1971c2", ".")]),
        (axes[1], walled_saddle, (-1.2, 1.2), (-2.0, 2.0), "5x\u00b2 \u2212 y\u00b2 + "
         "y\u2074/4: Newton to the saddle, SFN to the minimum",
         [("Newton", r2["newton_walled"], "#e03131", "o"),
          ("saddle-free Newton", r2["sfn_walled"], "#1971c2", "o"),
          ("GD (lr 0.05)", r2["gd_walled"], "#868e96", ".")]),
    ]
    for ax, f, (x0, x1), (y0, y1), title, runs in panels:
        xs, ys = np.linspace(x0, x1, 241), np.linspace(y0, y1, 241)
        XX, YY = np.meshgrid(xs, ys)
        ZZ = f(np.stack([XX, YY]))
        ax.contour(XX, YY, ZZ, levels=30, cmap="viridis", linewidths=0.7)
        ax.plot([0], [0], "k+", markersize=12, markeredgewidth=2)
        for label, run, color, marker in runs:
            p = run["path"]
            still = bool(np.all(p == p[0]))  # GD at the saddle: one point, drawn large
            ax.plot(p[:, 0], p[:, 1], "-", marker=marker, color=color,
                    markersize=9 if still else 4, linewidth=1.2, label=label,
                    zorder=4 if still else 3)
        ax.set_title(title, fontsize=10)
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        ax.legend(frameon=False, fontsize=8, loc="lower left")
    fig.tight_layout()
    path = os.path.join(out, "escaping_saddles.png")
    fig.savefig(path, dpi=100, facecolor="white")
    plt.close(fig)
    return [path]


def main(verbose: bool = True, out: str | None = None) -> dict[str, Any]:
    """Run the three parts; with ``out``, write the picture there.  Returns the numbers."""
    r = {"perturbed": perturbed(verbose), "newton": newton_vs_saddle_free(verbose),
         "autoencoder": autoencoder(verbose)}
    if out is not None:
        r["pictures"] = save_picture(r["perturbed"], r["newton"], out)
    return r


if __name__ == "__main__":
    main(out=sys.argv[1] if len(sys.argv) > 1 else None)
