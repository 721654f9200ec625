"""Lesson 1: exhaustive search for the weight of y = x * w, and why it does not scale.

The data are x = [1, 2, 3], y = [2, 4, 6]; the loss is the mean squared error
of the prediction x * w.  With one weight we can simply try every w on a grid
from 0 to 4 in steps of 0.1 (41 values) and keep the best: w = 2, loss 0.

Add a bias, y = x * w + b, and the same resolution needs 41 values of w for
*each* of 41 values of b: 41 ** 2 = 1681 evaluations.  Every further weight
multiplies the cost by 41 again; a network with a few thousand weights is
out of reach of any grid.

The picture: the loss curve MSE(w) with all 41 evaluations of the one-weight
search on it, and the best of them starred.

Run: python examples/exhaustive_search.py [OUT_DIR]   (OUT_DIR gets the picture)
"""

from __future__ import annotations

import importlib.util
import os
import sys

import numpy as np

from microgd import search
from microgd.lessons import mse_w, mse_wb  # the losses of y = x * w and y = x * w + b

NUM = 41  # 0.0, 0.1, ..., 4.0: the course's np.arange(0.0, 4.1, 0.1)


def save_pictures(result: dict, out: str) -> list[str]:
    """The loss curve with the 41 grid points and the best one, as ``out/exhaustive_search.png``."""
    if importlib.util.find_spec("matplotlib") is None:
        print("matplotlib is not installed: no pictures (pip install matplotlib)")
        return []
    from microgd.viz.plots import COLORS, plot_landscape

    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "exhaustive_search.png")
    fig = plot_landscape(mse_w, [(0.0, 4.0)])
    ax = fig.axes[0]
    ax.lines[0].set_label("MSE(w)")  # the curve plot_landscape draws
    # every point the search evaluated: the same grid as search.grid_search's
    ws = np.linspace(0.0, 4.0, NUM)
    ax.scatter(ws, [mse_w(np.array([w])) for w in ws], color=COLORS[0], s=28, zorder=4,
               label=f"{NUM} grid points (step 0.1)")
    ax.scatter([result["w_best"]], [result["loss_best"]], marker="*", s=260, color=COLORS[1],
               edgecolors="white", linewidths=0.8, zorder=5,
               label=f"best: w = {result['w_best']:.1f}, MSE = {result['loss_best']:.3g}")
    ax.set(xlabel="w", ylabel="MSE(w)")
    ax.legend(loc="upper center", frameon=False)
    ax.set_title("Lesson 1: exhaustive search evaluates the loss of y = x*w at every grid "
                 "point\nand keeps the best", fontsize=11)
    fig.savefig(path, dpi=150, facecolor="white")
    return [path]


def main(verbose: bool = True, out: str | None = None) -> dict:
    """Run the lesson; with ``out``, write its picture there.  Returns the numbers."""
    one = search.grid_search(mse_w, [(0.0, 4.0)], num=NUM)
    two = search.grid_search(mse_wb, [(0.0, 4.0), (-2.0, 2.0)], num=NUM)
    # The cost at the same resolution for more weights, without running those grids.
    cost = {d: NUM ** d for d in (1, 2, 3, 5, 10)}
    result = {
        "w_best": float(one.x[0]), "loss_best": float(one.value),
        "evaluations_1d": one.evaluations,
        "wb_best": two.x.tolist(), "loss_best_2d": float(two.value),
        "evaluations_2d": two.evaluations,
        "evaluations_by_dimension": cost,
    }
    if verbose:
        print("Lesson 1: exhaustive search, y = x * w on x = [1, 2, 3], y = [2, 4, 6]")
        print("   w     MSE")
        for w in (0.0, 1.0, 1.9, 2.0, 2.1, 3.0, 4.0):
            print(f"  {w:3.1f}  {mse_w(np.array([w])):6.3f}")
        print(f"best of {one.evaluations} values of w in [0, 4]: w = {one.x[0]:.1f}, "
              f"MSE = {one.value:.3g}")
        print(f"\nAdd a bias, y = x * w + b, same step 0.1 (b in [-2, 2]): "
              f"{two.evaluations} evaluations")
        print(f"best (w, b) = ({two.x[0]:.1f}, {two.x[1]:.1f}), MSE = {two.value:.3g}")
        print(f"\nEvaluations at {NUM} points per weight, by number of weights:")
        for d, n in cost.items():
            print(f"  {d:2d} weight{'s' if d > 1 else ' '}: {n:.3g}")
        print("The grid grows exponentially with the number of weights.")
    if out is not None:
        result["pictures"] = save_pictures(result, out)
    return result


if __name__ == "__main__":
    main(out=sys.argv[1] if len(sys.argv) > 1 else None)
