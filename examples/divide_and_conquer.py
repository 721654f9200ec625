"""Lesson 2: divide and conquer (coarse grid, then zoom) is cheap, but can miss a minimum.

Part 1, the course toy y = x * w (and y = x * w + b): evaluate a coarse grid,
take its best point, put a finer grid on the cell around it, and repeat.  Each
round shrinks the box by (num - 1) / 2, so 1e-6 accuracy takes a few dozen
evaluations, where a plain grid that fine would need millions (billions of
millions with two weights).

Part 2, the catch: zooming only ever looks near the best *coarse* point.  On

    f(w) = 0.5 (w - 3)^2 - 4 exp(-200 (w - 0.7)^2) + 1,    w in [0, 4],

a broad basin at w = 3 (f = 1) sits next to a narrow, deeper well at
w = 0.7 (f = -0.36).  A 5-point coarse grid (0, 1, 2, 3, 4) never lands in the
well, so the search homes in on w = 3; the full grid with step 0.01 finds the
well.  Whether a coarse grid catches the well is luck of alignment: 7 points
do, 11 do not.

The picture: f with the 5-point coarse grid, the cell the first zoom keeps
(one grid step either side of the best coarse point), where coarse-to-fine
ends, and the minimum the full grid finds.

Run: python examples/divide_and_conquer.py [OUT_DIR]   (OUT_DIR gets the picture)
"""

from __future__ import annotations

import importlib.util
import math
import os
import sys

import numpy as np

from microgd import search
from microgd.lessons import mse_w, mse_wb, well  # the toy's losses; the basin and the well

TOL = 1e-6


def grid_cost(bounds: list[tuple[float, float]], tol: float) -> int:
    """Evaluations of a plain grid with spacing at most ``tol`` on ``bounds``."""
    return math.prod(math.ceil((hi - lo) / tol) + 1 for lo, hi in bounds)


def save_pictures(result: dict, out: str) -> list[str]:
    """f, the coarse grid, its zoom cell and both answers, as ``out/divide_and_conquer.png``."""
    if importlib.util.find_spec("matplotlib") is None:
        print("matplotlib is not installed: no pictures (pip install matplotlib)")
        return []
    from microgd.viz.plots import COLORS, plot_landscape

    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "divide_and_conquer.png")
    lo, hi, num = 0.0, 4.0, 5
    fig = plot_landscape(well, [(lo, hi)])
    ax = fig.axes[0]
    ax.lines[0].set_label("f(w)")  # the curve plot_landscape draws
    # the first round of coarse_to_fine(num=5): 5 grid points, then the next box
    # spans the best one's neighbours, one grid step either side
    grid = np.linspace(lo, hi, num)
    values = [well(np.array([w])) for w in grid]
    best, step = grid[int(np.argmin(values))], (hi - lo) / (num - 1)
    ax.scatter(grid, values, color=COLORS[0], s=70, edgecolors="white", zorder=4,
               label=f"coarse grid, {num} points: best at w = {best:g}")
    ax.axvspan(max(lo, best - step), min(hi, best + step), color=COLORS[0], alpha=0.09,
               label="the cell it zooms into")
    ax.scatter([result["coarse_w"]], [result["coarse_value"]], marker="*", s=320,
               color=COLORS[0], edgecolors="white", linewidths=0.8, zorder=5,
               label=f"coarse-to-fine ends at w = {result['coarse_w']:.2f}, "
                     f"f = {result['coarse_value']:.2f}")
    ax.scatter([result["fine_w"]], [result["fine_value"]], marker="*", s=320,
               color=COLORS[4], edgecolors="white", linewidths=0.8, zorder=5,
               label=f"full grid ({result['fine_evaluations']} points): "
                     f"w = {result['fine_w']:.2f}, f = {result['fine_value']:.2f}")
    ax.set(xlabel="w", ylabel="f(w)")
    ax.legend(loc="upper right", fontsize=9, frameon=False)
    ax.set_title("Lesson 2: divide and conquer zooms in where the coarse grid was best,\n"
                 "and misses the narrow, deeper well", fontsize=11)
    fig.savefig(path, dpi=150, facecolor="white")
    return [path]


def main(verbose: bool = True, out: str | None = None) -> dict:
    """Run the lesson; with ``out``, write its picture there.  Returns the numbers."""
    b1, b2 = [(0.0, 4.0)], [(0.0, 4.0), (-2.0, 2.0)]
    one = search.coarse_to_fine(mse_w, b1, num=11, tol=TOL)
    two = search.coarse_to_fine(mse_wb, b2, num=11, tol=TOL)
    coarse = search.coarse_to_fine(well, b1, num=5, tol=TOL)
    fine = search.grid_search(well, b1, num=401)
    by_num = {n: search.coarse_to_fine(well, b1, num=n, tol=TOL) for n in (5, 7, 11, 41)}
    result = {
        "w_best": float(one.x[0]), "loss_best": float(one.value),
        "evaluations_1d": one.evaluations, "grid_evaluations_1d": grid_cost(b1, TOL),
        "wb_best": two.x.tolist(), "loss_best_2d": float(two.value),
        "evaluations_2d": two.evaluations, "grid_evaluations_2d": grid_cost(b2, TOL),
        "coarse_w": float(coarse.x[0]), "coarse_value": float(coarse.value),
        "coarse_evaluations": coarse.evaluations,
        "fine_w": float(fine.x[0]), "fine_value": float(fine.value),
        "fine_evaluations": fine.evaluations,
        "well_by_num": {n: float(r.x[0]) for n, r in by_num.items()},
    }
    if verbose:
        print("Lesson 2: divide and conquer, y = x * w on x = [1, 2, 3], y = [2, 4, 6]")
        print(f"coarse-to-fine, 11 points per round, to {TOL:g}: w = {one.x[0]:.7f}, "
              f"MSE = {one.value:.2g}, {one.evaluations} evaluations in {one.rounds} rounds")
        print(f"  a plain grid that fine: {result['grid_evaluations_1d']:,} evaluations")
        print(f"y = x * w + b: (w, b) = ({two.x[0]:.7f}, {two.x[1]:.7f}), "
              f"{two.evaluations} evaluations (plain grid: {result['grid_evaluations_2d']:.2g})")
        print("\nThe catch: f(w) = 0.5 (w - 3)^2 - 4 exp(-200 (w - 0.7)^2) + 1 on [0, 4]")
        print(f"coarse-to-fine from 5 points: w = {coarse.x[0]:.6f}, f = {coarse.value:.4f} "
              f"({coarse.evaluations} evaluations): stuck in the broad basin")
        print(f"full grid, 401 points:        w = {fine.x[0]:.6f}, f = {fine.value:.4f} "
              f"({fine.evaluations} evaluations): the narrow well is lower")
        print("which minimum coarse-to-fine reaches depends on the coarse grid:")
        for n, r in by_num.items():
            print(f"  num = {n:2d}: w = {r.x[0]:.6f}, f = {r.value:.4f}")
    if out is not None:
        result["pictures"] = save_pictures(result, out)
    return result


if __name__ == "__main__":
    main(out=sys.argv[1] if len(sys.argv) > 1 else None)
