"""Stuck on a saddle point, and how the Hessian gets you off it.

Gradient descent stops wherever the gradient is zero.  At a saddle point that
is not a minimum: the Hessian has a negative eigenvalue, and along its
eigenvector the loss goes down.  Two cases:

1. f(x, y) = x**2 - y**2, started on the x axis: GD slides into the saddle at
   (0, 0) and stays there.
2. A tiny neural network y = v1*tanh(w1*x) + v2*tanh(w2*x) started at all-zero
   weights (a symmetric initialization): every gradient is exactly zero, so GD
   never moves, although the loss is far from its minimum.

Run: python examples/saddle_escape.py
"""

from __future__ import annotations

import numpy as np

import microgd as mg


def gradient_descent(f, x0, lr=0.1, steps=100):
    """Plain GD; returns the last point and its gradient norm."""
    x = np.array(x0, dtype=float)
    g = mg.grad(f)
    for _ in range(steps):
        x = x - lr * g(x)
    return x, float(np.linalg.norm(g(x)))


def escape(f, x, step):
    """Classify ``x`` and take one step along the escape direction (if any)."""
    cp = mg.classify(f, x)
    if cp.escape_direction is None:
        return cp, x
    return cp, x + step * cp.escape_direction


def saddle_2d(verbose=True):
    f = lambda v: v[0] ** 2 - v[1] ** 2  # noqa: E731
    x, gnorm = gradient_descent(f, [1.0, 0.0])
    cp, x_out = escape(f, x, step=0.5)
    f_at = lambda p: f(mg.Value(p)).item()  # noqa: E731
    after, _ = gradient_descent(f, x_out, lr=0.1, steps=10)
    result = {
        "gd_point": x, "gd_grad_norm": gnorm, "kind": cp.kind,
        "eigenvalues": cp.eigenvalues, "escape_direction": cp.escape_direction,
        "f_saddle": f_at(x), "f_after_step": f_at(x_out), "f_after_more_gd": f_at(after),
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


def main():
    return saddle_2d(), saddle_network()


if __name__ == "__main__":
    main()
