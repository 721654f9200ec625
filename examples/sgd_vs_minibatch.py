"""Lesson 6: full-batch gradient descent, SGD and mini-batch SGD side by side.

One small linear regression, ``y = 2 x + 1 + noise`` on 200 generated points
(seeded), fitted three ways for the same number of epochs and the same
learning rate:

- full-batch GD (``batch_size=None``): one update per epoch from the gradient
  of all 200 samples: a smooth loss curve, but few updates;
- SGD (``batch_size=1``): one update per sample, 200 per epoch, in a new random
  order each epoch.  Each gradient is a one-sample guess, so the loss curve
  is very noisy (that noise is also what can shake it off a saddle point), and
  the updates are strictly one after another: nothing to compute in parallel;
- mini-batch SGD (``batch_size=16``, reshuffled every epoch): the compromise,
  13 updates per epoch, each averaging 16 samples (vectorized), with a far
  less noisy curve.

The "noise" of a curve is the mean jump between consecutive step losses
relative to the mean loss, over the second half of training.

Run: python examples/sgd_vs_minibatch.py [OUT_DIR]   (OUT_DIR gets the loss curves)
"""

from __future__ import annotations

import importlib.util
import os
import sys

import numpy as np

import microgd as mg
from microgd import optim

TRUE_W, TRUE_B = 2.0, 1.0
RUNS = {"GD (full batch)": None, "SGD (batch 1)": 1, "mini-batch (16)": 16}


def make_data(n=200, noise=0.5, seed=0):
    """``n`` points ``y = 2 x + 1 + N(0, noise^2)`` with ``x`` uniform on [-2, 2]."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2.0, 2.0, n)
    return x, TRUE_W * x + TRUE_B + rng.normal(0.0, noise, n)


def full_loss(w, b, x, y):
    """Mean squared error over all the data, for comparing runs fairly."""
    return float(np.mean((w * x + b - y) ** 2))


def noise_level(losses):
    """The typical jump between consecutive step losses, relative to the loss level.

    ``mean(|diff(loss)|) / mean(loss)`` over the second half of training:
    small for a smooth curve (GD's only moves by its steady decrease), near 1
    when each step's loss is a random draw (one sample's squared error).
    """
    tail = np.asarray(losses[len(losses) // 2:], dtype=float)
    if len(tail) < 2:
        return 0.0
    return float(np.mean(np.abs(np.diff(tail))) / np.mean(tail))


def train(batch_size, data, lr=0.05, epochs=20, seed=0):
    """Fit ``y = w x + b`` from w = b = 0 with plain SGD steps; returns ``(w, b, history)``."""
    x, y = data
    w, b = mg.Value(0.0), mg.Value(0.0)
    hist = mg.fit(lambda xb, yb: ((xb * w + b - yb) ** 2).mean(), [w, b], (x, y),
                  optim.GD([w, b], lr=lr), epochs=epochs, batch_size=batch_size,
                  shuffle=True, seed=seed)
    return w.item(), b.item(), hist


def compare(lr=0.05, epochs=20, seed=0, verbose=True):
    """Train the three variants; returns their numbers and Histories.

    Returns
    -------
    dict
        One entry per run label with ``w``, ``b``, ``steps``, ``final_loss``
        (over all the data), ``noise``; and ``histories``, label to History.
    """
    data = make_data(seed=seed)
    best = np.polyfit(data[0], data[1], 1)  # least squares: the floor no run can beat
    floor = full_loss(best[0], best[1], *data)
    result, histories = {"lr": lr, "epochs": epochs, "best_loss": floor}, {}
    if verbose:
        print(f"y = {TRUE_W:g} x + {TRUE_B:g} + noise, {len(data[0])} points; lr {lr}, "
              f"{epochs} epochs; least-squares loss {floor:.4f}")
        print(f"{'run':>18} {'steps':>6} {'w':>7} {'b':>7} {'final loss':>11} {'noise':>7}")
    for label, batch_size in RUNS.items():
        w, b, hist = train(batch_size, data, lr=lr, epochs=epochs, seed=seed)
        histories[label] = hist
        result[label] = {"w": w, "b": b, "steps": len(hist.step_loss),
                         "final_loss": full_loss(w, b, *data),
                         "noise": noise_level(hist.step_loss)}
        if verbose:
            r = result[label]
            print(f"{label:>18} {r['steps']:6d} {w:7.4f} {b:7.4f} {r['final_loss']:11.4f} "
                  f"{r['noise']:7.3f}")
    if verbose:
        print("GD takes one smooth step per epoch; SGD 200 noisy, sequential ones (it gets "
              "close\nin the first epoch but then jitters around the minimum); mini-batches "
              "sit between.")
    result["histories"] = histories
    return result


def save_pictures(result, out):
    """Overlaid loss curves against epochs as ``out/sgd_vs_minibatch.png``."""
    if importlib.util.find_spec("matplotlib") is None:
        print("matplotlib is not installed: no pictures (pip install matplotlib)")
        return []
    from microgd.viz.plots import COLORS, plot_history

    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "sgd_vs_minibatch.png")
    hists = result["histories"]
    noisy = {k: h for k, h in hists.items() if k != "GD (full batch)"}
    fig = plot_history(noisy, beta=0.9, x="epoch")
    ax = fig.axes[0]
    # GD has one loss per epoch and no noise: an EMA over 20 points would only
    # add lag, so it is drawn raw, one marker per update.
    gd = hists["GD (full batch)"].step_loss
    ax.plot(np.arange(1, len(gd) + 1), gd, "o-", color=COLORS[len(noisy)], markersize=4,
            linewidth=2, label="GD (full batch), 1 step per epoch")
    ax.set_ylim(0, 1.05 * max(gd))
    ax.legend(frameon=False)
    ax.set_title("Lesson 6: 20 epochs at lr 0.05: GD 20 steps, SGD 4000, mini-batch 260\n"
                 "(thin = raw step losses, thick = EMA \u03b2=0.9)", fontsize=11)
    fig.savefig(path, dpi=150, facecolor="white")
    return [path]


def main(verbose=True, out=None):
    """Run the comparison; with ``out``, write its picture there.  Returns the numbers."""
    result = compare(verbose=verbose)
    if out is not None:
        result["pictures"] = save_pictures(result, out)
    return result


if __name__ == "__main__":
    main(out=sys.argv[1] if len(sys.argv) > 1 else None)
