"""The edge of stability (Cohen, Kaur, Li, Kolter and Talwalkar, ICLR 2021).

On a quadratic, gradient descent with step ``lr`` converges only where the
curvature is below ``2 / lr``.  A neural network is not a quadratic: trained
by full-batch GD, its sharpness (the top eigenvalue of the training loss's
Hessian) *rises* while the loss falls (progressive sharpening), reaches
``2 / lr``, and then hovers there while the loss keeps falling, non-monotonically.

Here: scikit-learn's ``load_digits`` (1,797 images of 8x8 pixels, bundled with
scikit-learn, no download), pixels scaled to [0, 1], one-hot targets, an MLP
64-64-64-10 with tanh, the squared error ``0.5 * sum over classes, mean over
samples``, full-batch GD at ``lr = 0.1`` and ``lr = 0.4`` for 2,000 steps,
the last layer's weights started 20x smaller than Xavier's (so that the
sharpness starts low).  ``monitors.Sharpness`` measures the top eigenvalue
of the full training loss every 10 steps.

Measured here: at ``lr = 0.1`` the sharpness starts at 0.40 x 2/lr, rises,
and from step ~800 stays within 1.00-1.08 x 2/lr.  At ``lr = 0.4`` it starts
above 2/lr (1.6 x: the step is unstable at first, the loss jumps, the
network moves to flatter ground, a "catapult") and settles at 1.04-1.10 x.

Run: python examples/edge_of_stability.py [OUT_DIR]   (OUT_DIR gets the picture)
"""

from __future__ import annotations

import importlib.util
import os
import sys

import numpy as np

import microgd as mg
from microgd import monitors, nn, optim

RATES = (0.1, 0.4)
STEPS = 2000
EVERY = 10
HIDDEN = (64, 64)
LAST_LAYER_SCALE = 0.05


def digits(n=None):
    """``load_digits`` as (X in [0, 1], one-hot Y); the first ``n`` samples when given."""
    from sklearn.datasets import load_digits  # the optional extra microgd[data]

    X, labels = load_digits(return_X_y=True)
    X, Y = X / 16.0, np.eye(10)[labels]
    return (X, Y) if n is None else (X[:n], Y[:n])


def train(lr, steps=STEPS, data=None, every=EVERY, seed=0):
    """Full-batch GD on the digits MLP with the sharpness monitored; returns the History."""
    X, Y = digits() if data is None else data
    model = nn.MLP(X.shape[1], [*HIDDEN, Y.shape[1]], activation="tanh", seed=seed)
    ps = model.parameters()
    W_last = ps[-2]
    W_last.assign(W_last.data * LAST_LAYER_SCALE)

    def loss(xb, yb):
        return 0.5 * ((model(xb) - yb) ** 2).sum(axis=1).mean()

    return mg.fit(loss, ps, (X, Y), optim.GD(ps, lr=lr), epochs=steps,
                  monitors=[monitors.Sharpness(every=every)])


def edge_ratio(hist, lr, after=0.5):
    """``sharpness * lr / 2`` over the measurements from ``after`` (a fraction of the run) on:
    (min, median, max); and the first one."""
    rec = hist.monitors["sharpness"]
    ratio = np.array(rec["value"]) * lr / 2
    late = ratio[int(after * len(ratio)):]
    return {"first": float(ratio[0]), "min": float(late.min()),
            "median": float(np.median(late)), "max": float(late.max()),
            "mean_hvp": float(np.mean(rec["n_hvp"][1:]))}


def save_picture(runs, out):
    """``edge_of_stability.png``: sharpness against 2/lr, and the loss, for both rates."""
    if importlib.util.find_spec("matplotlib") is None:
        print("matplotlib is not installed: no picture (pip install matplotlib)")
        return []
    from microgd.viz.style import COLORS, new_figure, style_axes

    os.makedirs(out, exist_ok=True)
    fig = new_figure((11.0, 4.4))
    left, right = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    for i, (lr, hist) in enumerate(runs.items()):
        rec, color = hist.monitors["sharpness"], COLORS[i]
        left.plot(rec["step"], rec["value"], color=color, linewidth=1.6, label=f"lr = {lr:g}")
        left.axhline(2 / lr, color=color, linestyle="--", linewidth=1.0,
                     label=f"2 / lr = {2 / lr:g}")
        right.plot(np.arange(1, len(hist.step_loss) + 1), hist.step_loss, color=color,
                   linewidth=1.2, label=f"lr = {lr:g}")
    left.set(xlabel="step", ylabel="sharpness (top Hessian eigenvalue)")
    left.set_title("Sharpness rises to 2/lr, then hovers there", fontsize=11)
    right.set(xlabel="step", ylabel="training loss", yscale="log")
    right.set_title("The loss keeps falling, not monotonically", fontsize=11)
    for ax in (left, right):
        style_axes(ax)
        ax.legend(frameon=False, fontsize=9)
    path = os.path.join(out, "edge_of_stability.png")
    fig.savefig(path, dpi=130, facecolor="white")
    return [path]


def main(verbose=True, out=None, steps=STEPS, data=None):
    """Train at both rates; with ``out``, write the picture there.  Returns the numbers."""
    runs = {lr: train(lr, steps, data) for lr in RATES}
    result = {"runs": runs, "ratio": {lr: edge_ratio(h, lr) for lr, h in runs.items()}}
    if verbose:
        print("full-batch GD on load_digits, MLP 64-64-64-10 tanh, squared error")
        for lr, r in result["ratio"].items():
            print(f"   lr {lr:g}: sharpness x lr/2 starts at {r['first']:.2f}; over the second "
                  f"half {r['min']:.2f}-{r['max']:.2f} (median {r['median']:.3f}); "
                  f"{r['mean_hvp']:.1f} Hessian-vector products per measurement")
    if out is not None:
        result["pictures"] = save_picture(runs, out)
    return result


if __name__ == "__main__":
    main(out=sys.argv[1] if len(sys.argv) > 1 else None)
