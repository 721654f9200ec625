"""Lesson 8: the starting point decides which minimum gradient descent reaches.

1. The bumpy loss of the momentum lesson, ``f(w) = w**4 - 4 w**2 + 2 w``: a
   global minimum at w = -1.53 (f = -6.94), a local one at w = 1.27
   (f = -1.31), and between them a maximum at w = 0.26.  Gradient descent
   only ever goes downhill, so it ends in the minimum of the basin it starts
   in: every start left of 0.26 reaches the global minimum, every start right
   of it the local one, however close the two starts are (0.2 and 0.4).
2. A small network, ``MLP(1, [3, 1], tanh)``, fitting ``y = sin(2 x)`` on 64
   points with Adam (lr 0.05, 400 epochs): the same model, data and
   optimizer, only the seed of the random initial weights differs, and so
   does the final loss: most seeds find a good fit, seed 2 sits on a plateau
   for 300 epochs before it escapes, and seed 0 is still on it after 400,
   with a loss about 27 times the best seed's.

Run: python examples/initialization.py [OUT_DIR]   (OUT_DIR gets the pictures)
"""

from __future__ import annotations

import importlib.util
import os
import sys

import numpy as np

import microgd as mg
from microgd import nn, optim
from microgd.lessons import BUMPY_GLOBAL_MIN, BUMPY_LOCAL_MIN, BUMPY_MAX, bumpy

MINIMA = {"global": BUMPY_GLOBAL_MIN, "local": BUMPY_LOCAL_MIN}  # of bumpy(w) = w^4 - 4w^2 + 2w
BARRIER = BUMPY_MAX  # the maximum between them
STARTS = (-2.0, -1.0, -0.3, 0.2, 0.4, 1.0, 2.0)
SEEDS = tuple(range(6))


def gradient_descent(w0, lr=0.01, steps=500):
    """Plain GD on ``bumpy`` from ``w0``; returns the path, shape (steps + 1, 1)."""
    w = np.array([w0], dtype=float)
    grad = mg.grad(bumpy)
    path = [w]
    for _ in range(steps):
        w = w - lr * grad(w)
        path.append(w)
    return np.array(path)


def which_minimum(w):
    """'global', 'local' or None (not at a minimum)."""
    for name, m in MINIMA.items():
        if abs(w - m) < 1e-4:
            return name
    return None


def from_starts(starts=STARTS, verbose=True):
    """GD from each start; returns ``{"table": [(start, end, f, minimum)], "paths": {...}}``."""
    table, paths = [], {}
    for s in starts:
        path = gradient_descent(s)
        end = float(path[-1, 0])
        f_end = float(bumpy(mg.Value(path[-1], requires_grad=False)).item())
        table.append((s, end, f_end, which_minimum(end)))
        paths[f"start {s:g}"] = path
    if verbose:
        print(f"1) f(w) = w^4 - 4w^2 + 2w, GD lr 0.01, 500 steps; the barrier (a maximum) is "
              f"at w = {BARRIER:.3f}")
        print(f"{'start':>8} {'end':>9} {'f(end)':>8}  minimum reached")
        for s, end, f_end, name in table:
            print(f"{s:8.2f} {end:9.4f} {f_end:8.4f}  {name}")
    return {"table": table, "paths": paths}


def sine_data(n=64):
    x = np.linspace(-3.0, 3.0, n)[:, None]
    return x, np.sin(2 * x)


def mlp_seeds(seeds=SEEDS, epochs=400, verbose=True):
    """Train the same small MLP from each seed; returns final losses and histories."""
    x, y = sine_data()
    losses, histories = {}, {}
    for seed in seeds:
        model = nn.MLP(1, [3, 1], activation="tanh", seed=seed)
        params = model.parameters()
        hist = mg.fit(lambda xb, yb, model=model: nn.mse(model(xb), yb), params, (x, y),
                      optim.Adam(params, lr=0.05), epochs=epochs)
        with mg.no_grad():
            losses[seed] = float(nn.mse(model(x), y).item())
        histories[f"seed {seed}"] = hist
    if verbose:
        print(f"2) MLP(1, [3, 1], tanh) fitting sin(2x), Adam lr 0.05, {epochs} epochs; "
              "only the seed differs")
        print("   final loss by seed: " + ", ".join(f"{s}: {v:.4f}" for s, v in losses.items()))
        worst, best = max(losses.values()), min(losses.values())
        print(f"   the worst seed ends {worst / best:.0f} times higher than the best")
    return {"losses": losses, "histories": histories}


def save_pictures(result, out):
    """``initialization.png`` (paths from each start) and ``initialization_seeds.png``."""
    if importlib.util.find_spec("matplotlib") is None:
        print("matplotlib is not installed: no pictures (pip install matplotlib)")
        return []
    from microgd.viz.plots import plot_history, plot_landscape

    os.makedirs(out, exist_ok=True)
    starts = os.path.join(out, "initialization.png")
    paths = result["starts"]["paths"]
    shown = {k: paths[k] for k in ("start -2", "start -0.3", "start 0.2", "start 0.4",
                                   "start 2")}
    fig = plot_landscape(bumpy, [(-2.3, 2.3)], paths=shown)
    ax = fig.axes[0]
    ax.axvline(BARRIER, color="#868e96", linestyle=":", linewidth=1.2)
    ax.set(xlabel="w", ylabel="f(w)", ylim=(-8, 6))
    ax.set_title("Lesson 8: GD from different starts (\u25cb) ends (\u2605) in the minimum "
                 "of its basin\n(dotted: the barrier between the basins)", fontsize=11)
    fig.savefig(starts, dpi=150, facecolor="white")

    seeds = os.path.join(out, "initialization_seeds.png")
    fig = plot_history(result["mlp"]["histories"], beta=0.0, log=True, x="epoch")
    fig.axes[0].set_title("The same MLP and data, six random initializations: six final "
                          "losses", fontsize=11)
    fig.savefig(seeds, dpi=150, facecolor="white")
    return [starts, seeds]


def main(verbose=True, out=None):
    """Run both parts; with ``out``, write the pictures there.  Returns the numbers."""
    result = {"starts": from_starts(verbose=verbose), "mlp": mlp_seeds(verbose=verbose)}
    if out is not None:
        result["pictures"] = save_pictures(result, out)
    return result


if __name__ == "__main__":
    main(out=sys.argv[1] if len(sys.argv) > 1 else None)
