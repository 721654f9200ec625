"""A small neural network classifier on the two-moons data, trained with microgd.

Two interleaving half circles (generated here with NumPy, seeded, with
Gaussian noise) cannot be split by a straight line.  A multilayer perceptron
``MLP(2, [16, 16, 1], tanh)`` outputs one logit per point; the loss is the
binary cross-entropy of those logits, minimized with Adam (lr 0.02,
full batch, 300 epochs).  Training accuracy reaches 99.5%; a fresh sample
from the same generator (another seed) checks that the boundary generalizes.

The picture shows the network's logit (log-odds of class 1) over the plane,
the decision boundary (logit 0, probability 0.5) and the training points.

Run: python examples/mlp_classifier.py [OUT_DIR]   (OUT_DIR gets the picture)
"""

from __future__ import annotations

import importlib.util
import os
import sys

import numpy as np

import microgd as mg
from microgd import nn, optim

BOUNDS = [(-1.6, 2.6), (-1.1, 1.6)]


def two_moons(n=200, noise=0.15, seed=0):
    """``n`` points on two interleaving half circles; labels 0 (upper) and 1 (lower).

    The upper moon is the half circle of radius 1 around (0, 0), the lower
    one the same shape flipped and shifted to (1, 0.5); each point gets
    Gaussian noise of standard deviation ``noise``.
    """
    rng = np.random.default_rng(seed)
    n_upper = n // 2
    t = rng.uniform(0.0, np.pi, n)
    upper = np.stack([np.cos(t[:n_upper]), np.sin(t[:n_upper])], axis=1)
    lower = np.stack([1.0 - np.cos(t[n_upper:]), 0.5 - np.sin(t[n_upper:])], axis=1)
    X = np.concatenate([upper, lower]) + rng.normal(0.0, noise, (n, 2))
    y = np.concatenate([np.zeros(n_upper), np.ones(n - n_upper)])
    return X, y


def accuracy(model, X, y):
    """Fraction of points on the right side of the boundary (logit > 0 means class 1)."""
    with mg.no_grad():
        logits = model(X).data[:, 0]
    return float(np.mean((logits > 0) == (y == 1)))


def train(epochs=300, lr=0.02, seed=0, verbose=True):
    """Fit the classifier.

    Returns
    -------
    dict
        ``train_accuracy``, ``test_accuracy`` (fresh points from another
        seed), ``final_loss``, ``first_loss``, and ``model``, ``X``, ``y``,
        ``history`` for the picture.
    """
    X, y = two_moons(seed=seed)
    X_test, y_test = two_moons(seed=seed + 1)
    model = nn.MLP(2, [16, 16, 1], activation="tanh", seed=seed)
    params = model.parameters()
    hist = mg.fit(lambda xb, yb: nn.binary_cross_entropy(model(xb)[:, 0], yb), params, (X, y),
                  optim.Adam(params, lr=lr), epochs=epochs)
    r = {"train_accuracy": accuracy(model, X, y), "test_accuracy": accuracy(model, X_test, y_test),
         "first_loss": hist.step_loss[0], "final_loss": hist.step_loss[-1],
         "parameters": sum(p.size for p in params),
         "model": model, "X": X, "y": y, "history": hist}
    if verbose:
        print(f"two moons, {len(X)} points; MLP(2, [16, 16, 1], tanh), {r['parameters']} "
              f"parameters;\nbinary cross-entropy, Adam lr {lr}, {epochs} full-batch epochs")
        for e in (0, 49, 99, 199, epochs - 1):
            print(f"   epoch {e + 1:4d}: loss {hist.step_loss[e]:.4f}")
        print(f"training accuracy {r['train_accuracy']:.1%}, on {len(X_test)} fresh points "
              f"{r['test_accuracy']:.1%}")
    return r


def save_pictures(result, out):
    """The decision boundary over the data, as ``out/mlp_classifier.png``."""
    if importlib.util.find_spec("matplotlib") is None:
        print("matplotlib is not installed: no pictures (pip install matplotlib)")
        return []
    from microgd.viz.plots import plot_landscape

    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "mlp_classifier.png")
    model = result["model"]

    def logit(p):
        # p is one point (2,) or, on plot_landscape's grid, all points as (2, M).
        # Clipped so that a few very confident corners do not squash the colour scale.
        return model(p.T)[..., 0].clip(-8.0, 8.0)

    fig = plot_landscape(logit, BOUNDS, resolution=151)
    ax = fig.axes[0]
    fig.axes[1].set_ylabel("logit (log-odds of class 1, clipped to \u00b18)")
    xs = np.linspace(*BOUNDS[0], 151)
    ys = np.linspace(*BOUNDS[1], 151)
    gx, gy = np.meshgrid(xs, ys)
    with mg.no_grad():
        z = logit(mg.Value(np.stack([gx.ravel(), gy.ravel()]))).data
    ax.contour(xs, ys, z.reshape(gx.shape), levels=[0.0], colors="#e03131", linewidths=2.5)
    X, y = result["X"], result["y"]
    for label, marker, color in ((0, "o", "white"), (1, "s", "#212529")):
        pts = X[y == label]
        ax.scatter(pts[:, 0], pts[:, 1], marker=marker, s=22, color=color,
                   edgecolors="#495057", linewidths=0.6, label=f"class {label}")
    ax.plot([], [], color="#e03131", linewidth=2.5, label="decision boundary (logit 0)")
    ax.legend(loc="upper right", fontsize=9, framealpha=0.85)
    ax.set_title(f"Two moons: MLP(2, [16, 16, 1]) boundary, training accuracy "
                 f"{result['train_accuracy']:.1%}", fontsize=11)
    fig.savefig(path, dpi=150, facecolor="white")
    return [path]


def main(verbose=True, out=None):
    """Train the classifier; with ``out``, write its picture there.  Returns the numbers."""
    result = train(verbose=verbose)
    if out is not None:
        result["pictures"] = save_pictures(result, out)
    return result


if __name__ == "__main__":
    main(out=sys.argv[1] if len(sys.argv) > 1 else None)
