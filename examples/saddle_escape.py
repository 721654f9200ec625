"""Stuck on a saddle point, and how the Hessian gets you off it.

Gradient descent stops wherever the gradient is zero.  At a saddle point that
is not a minimum: the Hessian has a negative eigenvalue, and along its
eigenvector the loss goes down.  Two cases:

1. f(x, y) = x**2 - y**2, started on the x axis: GD slides into the saddle at
   (0, 0) and stays there.
2. A tiny neural network y = v1*tanh(w1*x) + v2*tanh(w2*x) started at all-zero
   weights (a symmetric initialization): every gradient is exactly zero, so GD
   never moves, although the loss is far from its minimum.

The picture (case 1): the contours of x**2 - y**2 with GD's path into the
saddle, the one step along the escape direction, and GD running downhill after it.

Run: python examples/saddle_escape.py [OUT_DIR]   (OUT_DIR gets the picture)
"""

from __future__ import annotations

import importlib.util
import os
import sys

import numpy as np

import microgd as mg
from microgd.lessons import saddle  # f(x, y) = x^2 - y^2


def gd_path(f, x0, lr=0.1, steps=100):
    """Plain GD; returns every point it visits, the start included (shape (steps + 1, d))."""
    x = np.array(x0, dtype=float)
    g = mg.grad(f)
    path = [x]
    for _ in range(steps):
        x = x - lr * g(x)
        path.append(x)
    return np.array(path)


def gradient_descent(f, x0, lr=0.1, steps=100):
    """Plain GD; returns the last point and its gradient norm."""
    x = gd_path(f, x0, lr=lr, steps=steps)[-1]
    return x, float(np.linalg.norm(mg.grad(f)(x)))


def escape(f, x, step):
    """Classify ``x`` and take one step along the escape direction (if any)."""
    cp = mg.classify(f, x)
    if cp.escape_direction is None:
        return cp, x
    return cp, x + step * cp.escape_direction


def saddle_2d(verbose=True):
    f = saddle
    path_in = gd_path(f, [1.0, 0.0])
    x = path_in[-1]
    gnorm = float(np.linalg.norm(mg.grad(f)(x)))
    cp, x_out = escape(f, x, step=0.5)
    f_at = lambda p: f(mg.Value(p)).item()  # noqa: E731
    path_after = gd_path(f, x_out, lr=0.1, steps=10)
    after = path_after[-1]
    result = {
        "gd_point": x, "gd_grad_norm": gnorm, "kind": cp.kind,
        "eigenvalues": cp.eigenvalues, "escape_direction": cp.escape_direction,
        "f_saddle": f_at(x), "f_after_step": f_at(x_out), "f_after_more_gd": f_at(after),
        # the three legs of the trip, for the picture
        "paths": {"gd": path_in, "step": np.array([x, x_out]), "gd_after": path_after},
        "critical_point": cp,
    }
    if verbose:
        print("1) f(x, y) = x^2 - y^2, GD from (1, 0), lr 0.1, 100 steps")
        print(f"   GD stops at {np.round(x, 6)} with |grad| = {gnorm:.1e}")
        print(f"   Hessian eigenvalues {cp.eigenvalues}: one negative -> {cp.kind}")
        print(f"   escape direction {cp.escape_direction}: f goes {result['f_saddle']:.3g}"
              f" -> {result['f_after_step']:.3g} after one step of 0.5,"
              f" -> {result['f_after_more_gd']:.3g} after 10 more GD steps")
    return result


def tiny_network_data():
    x = np.linspace(-2, 2, 21)
    return x, np.tanh(1.5 * x)


def network_loss(params):
    x, y = tiny_network_data()
    w1, w2, v1, v2 = params[0], params[1], params[2], params[3]
    pred = v1 * (w1 * x).tanh() + v2 * (w2 * x).tanh()
    return ((pred - y) ** 2).mean()


def saddle_network(verbose=True):
    start = np.zeros(4)  # w1, w2, v1, v2: both hidden units identical
    x, gnorm = gradient_descent(network_loss, start, lr=0.5, steps=200)
    cp, x_out = escape(network_loss, x, step=0.1)
    loss_at = lambda p: network_loss(mg.Value(p)).item()  # noqa: E731
    trained, _ = gradient_descent(network_loss, x_out, lr=0.5, steps=300)
    result = {
        "gd_point": x, "gd_grad_norm": gnorm, "kind": cp.kind,
        "eigenvalues": cp.eigenvalues, "loss_saddle": loss_at(x),
        "loss_after_step": loss_at(x_out), "loss_after_training": loss_at(trained),
    }
    if verbose:
        print("2) y = v1*tanh(w1*x) + v2*tanh(w2*x), all weights 0, GD lr 0.5, 200 steps")
        print(f"   GD never moves: weights {x}, |grad| = {gnorm:.1e},"
              f" loss stuck at {result['loss_saddle']:.4f}")
        print(f"   Hessian eigenvalues {np.round(cp.eigenvalues, 4)} -> {cp.kind}")
        print(f"   one step of 0.1 along the escape direction: loss {result['loss_saddle']:.4f}"
              f" -> {result['loss_after_step']:.4f}; 300 GD steps later:"
              f" {result['loss_after_training']:.5f}")
    return result


def save_pictures(result, out):
    """Case 1: GD into the saddle, the escape step and GD after it: ``out/saddle_escape.png``."""
    if importlib.util.find_spec("matplotlib") is None:
        print("matplotlib is not installed: no pictures (pip install matplotlib)")
        return []
    from microgd.viz.plots import plot_landscape

    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "saddle_escape.png")
    paths, v = result["paths"], result["escape_direction"]
    fig = plot_landscape(saddle, [(-2.0, 2.0), (-3.5, 3.5)], paths={
        "GD from (1, 0): stuck at the saddle": paths["gd"],
        "one step of 0.5 along the escape direction": paths["step"],
        f"10 more GD steps: f falls to {result['f_after_more_gd']:.2f}": paths["gd_after"],
    }, critical_points=[result["critical_point"]])
    ax = fig.axes[0]
    ax.legend(loc="lower right", fontsize=9, framealpha=0.85)
    vx, vy = v + 0.0  # + 0.0 turns a -0.0 into 0.0, so the title never shows "-0"
    ax.set_title(f"Lesson 5: f = x\u00b2 \u2212 y\u00b2: GD slides into the saddle; the "
                 f"Hessian's negative\neigenvector ({vx:.0f}, {vy:.0f}) shows the way "
                 f"down", fontsize=11)
    fig.savefig(path, dpi=150, facecolor="white")
    return [path]


def main(verbose=True, out=None):
    """Run both cases; with ``out``, write the picture of case 1 there.

    Returns the two cases' numbers, ``(saddle_2d, saddle_network)``; with
    ``out`` the first also has ``pictures``.
    """
    result_2d, result_network = saddle_2d(verbose=verbose), saddle_network(verbose=verbose)
    if out is not None:
        result_2d["pictures"] = save_pictures(result_2d, out)
    return result_2d, result_network


if __name__ == "__main__":
    main(out=sys.argv[1] if len(sys.argv) > 1 else None)
