"""Lesson 5: minima, saddles and maxima all have a zero gradient; the Hessian tells them apart.

Himmelblau's function ``f(x, y) = (x**2 + y - 11)**2 + (x + y**2 - 7)**2`` has
nine critical points in the square [-5, 5]^2: four minima (all with f = 0),
four saddle points and one maximum.  Gradient descent cannot tell them apart
by the gradient (it is zero at every one of them), but the Hessian's
eigenvalues can:

- mixed signs: a saddle point, even if other directions are flat.  Along
  the eigenvector of a negative eigenvalue the loss goes *down*, which is
  how to leave the saddle;
- otherwise an eigenvalue (nearly) zero: degenerate, second order cannot tell;
- otherwise all positive: a minimum (the loss curves up in every direction);
  all negative: a maximum.

``mg.find_critical_points`` finds all nine (Newton's method on the gradient
from seeded random starts) and ``mg.classify`` labels each by the signs of
its exact Hessian's eigenvalues.  For each saddle the script also steps
along the escape direction and checks that f decreases.

Run: python examples/minima_vs_saddles.py [OUT_DIR]   (OUT_DIR gets the landscape)
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections import Counter

import numpy as np

import microgd as mg

BOUNDS = [(-5.0, 5.0), (-5.0, 5.0)]
PLURAL = {"minimum": "minima", "maximum": "maxima", "saddle": "saddles",
          "degenerate": "degenerate points"}


def himmelblau(p):
    """Himmelblau's function of a point ``p = (x, y)``."""
    x, y = p[0], p[1]
    return (x ** 2 + y - 11) ** 2 + (x + y ** 2 - 7) ** 2


def value(p):
    return float(himmelblau(mg.Value(np.asarray(p, dtype=float), requires_grad=False)).item())


def critical_points(starts=100, seed=0, step=0.1, verbose=True):
    """Find, classify and tabulate every critical point of Himmelblau's function.

    Returns
    -------
    dict
        ``points`` (the CriticalPoints, sorted by value), ``counts`` (kind to
        number), ``max_grad_norm`` (largest gradient norm among them) and
        ``escape_drops`` (for each saddle, f at the saddle minus f one
        ``step`` along its escape direction: positive means f went down).
    """
    points = mg.find_critical_points(himmelblau, BOUNDS, starts=starts, seed=seed)
    counts = Counter(p.kind for p in points)
    drops = [p.value - value(p.x + step * p.escape_direction)
             for p in points if p.kind == "saddle"]
    if verbose:
        print(f"Himmelblau's function on [-5, 5]^2: {len(points)} critical points "
              f"from {starts} Newton starts")
        print(f"{'x':>8} {'y':>8} {'f':>9} {'|grad|':>8} {'Hessian eigenvalues':>21}  kind")
        for p in points:
            ev = ", ".join(f"{e:8.2f}" for e in p.eigenvalues)
            print(f"{p.x[0]:8.4f} {p.x[1]:8.4f} {p.value:9.4f} {p.grad_norm:8.1e} "
                  f"  [{ev}]  {p.kind}")
        print(", ".join(f"{n} {PLURAL[kind] if n > 1 else kind}" for kind, n in counts.items())
              + "; the gradient is zero at all of them.")
        print(f"one step of {step} along each saddle's escape direction lowers f by "
              + ", ".join(f"{d:.3f}" for d in drops))
    return {"points": points, "counts": dict(counts),
            "max_grad_norm": max(p.grad_norm for p in points), "escape_drops": drops}


def save_pictures(result, out):
    """The landscape with every critical point marked, as ``out/minima_vs_saddles.png``."""
    if importlib.util.find_spec("matplotlib") is None:
        print("matplotlib is not installed: no pictures (pip install matplotlib)")
        return []
    from microgd.viz.plots import plot_landscape

    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "minima_vs_saddles.png")
    fig = plot_landscape(himmelblau, BOUNDS, critical_points=result["points"])
    ax = fig.axes[0]
    for p in result["points"]:
        if p.kind != "saddle":
            continue
        for sign in (1, -1):  # f decreases both ways along the escape direction
            ax.annotate("", xy=p.x + sign * 0.8 * p.escape_direction, xytext=p.x,
                        arrowprops={"arrowstyle": "->", "color": "white", "lw": 1.6})
    ax.set_title("Lesson 5: Himmelblau's function: 4 minima, 4 saddles, 1 maximum\n"
                 "(arrows: each saddle's escape direction, where f goes down)", fontsize=11)
    fig.savefig(path, dpi=150, facecolor="white")
    return [path]


def main(verbose=True, out=None):
    """Run the lesson; with ``out``, write its picture there.  Returns the numbers."""
    result = critical_points(verbose=verbose)
    if out is not None:
        result["pictures"] = save_pictures(result, out)
    return result


if __name__ == "__main__":
    main(out=sys.argv[1] if len(sys.argv) > 1 else None)
