"""Lesson 4: smoothing a noisy loss curve with an exponential weighted average.

SGD's loss curve is noisy: each step sees a different small batch.  The
exponential weighted (moving) average

    v_t = beta * v_{t-1} + (1 - beta) * x_t,    v_0 = 0

averages roughly the last ``1 / (1 - beta)`` values: beta = 0.5 keeps about 2,
0.9 about 10, 0.98 about 50.  A larger beta gives a smoother curve that lags
further behind the trend.

Because ``v_0 = 0``, the first values are pulled towards zero: ``v_1`` is only
``(1 - beta) * x_1``, 2% of the first loss for beta = 0.98.  Dividing by
``1 - beta**t`` (bias correction) fixes the start and fades out as ``t`` grows;
``History.smoothed(beta)`` returns the corrected average.

The noisy curve here: mini-batch SGD (batches of 4, shuffled) on a linear
regression ``y = 2 x + 1 + noise`` (200 seeded points), 300 steps.

Run: python examples/ema_smoothing.py [OUT_DIR]   (OUT_DIR gets the picture)
"""

from __future__ import annotations

import importlib.util
import os
import sys

import numpy as np

import microgd as mg
from microgd import optim

BETAS = (0.5, 0.9, 0.98)


def noisy_history(seed=0):
    """A noisy loss curve: mini-batch SGD (batch 4, lr 0.01, 6 epochs) on 200 points."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2.0, 2.0, 200)
    y = 2.0 * x + 1.0 + rng.normal(0.0, 0.5, 200)
    w, b = mg.Value(0.0), mg.Value(0.0)
    return mg.fit(lambda xb, yb: ((xb * w + b - yb) ** 2).mean(), [w, b], (x, y),
                  optim.GD([w, b], lr=0.01), epochs=6, batch_size=4, seed=seed)


def ema(values, beta, correct=True):
    """Exponential weighted average of ``values``, bias-corrected unless ``correct=False``."""
    out, v = [], 0.0
    for t, x in enumerate(values, start=1):
        v = beta * v + (1 - beta) * x
        out.append(v / (1 - beta ** t) if correct else v)
    return np.array(out)


def roughness(values):
    """Mean absolute step-to-step change: how jagged a curve is."""
    return float(np.mean(np.abs(np.diff(values))))


def smooth(seed=0, verbose=True):
    """Smooth one noisy SGD curve with each beta, with and without bias correction.

    Returns
    -------
    dict
        ``raw`` (the step losses), ``raw_roughness``, and per beta:
        ``corrected`` / ``uncorrected`` (the curves), ``first_corrected``,
        ``first_uncorrected`` (their first values), ``start_error`` (mean
        relative error of the uncorrected curve against the corrected one over
        the first 10 steps) and ``roughness``.
    """
    hist = noisy_history(seed)
    raw = np.array(hist.step_loss)
    result = {"raw": raw, "raw_roughness": roughness(raw), "history": hist}
    if verbose:
        print(f"noisy curve: {len(raw)} mini-batch SGD steps, first loss {raw[0]:.3f}, "
              f"roughness (mean |change| per step) {result['raw_roughness']:.3f}")
        print(f"{'beta':>5} {'~window':>8} {'roughness':>10} {'v_1 uncorrected':>16} "
              f"{'v_1 corrected':>14} {'start error':>12}")
    for beta in BETAS:
        corrected = np.array(hist.smoothed(beta))
        uncorrected = ema(raw, beta, correct=False)
        # the library's curve and this file's formula must be the same thing
        assert np.allclose(corrected, ema(raw, beta)), "History.smoothed disagrees"
        start_error = float(np.mean(np.abs(uncorrected[:10] - corrected[:10]) / corrected[:10]))
        r = {"corrected": corrected, "uncorrected": uncorrected,
             "first_corrected": float(corrected[0]), "first_uncorrected": float(uncorrected[0]),
             "start_error": start_error, "roughness": roughness(corrected)}
        result[beta] = r
        if verbose:
            print(f"{beta:5g} {1 / (1 - beta):8.0f} {r['roughness']:10.4f} "
                  f"{r['first_uncorrected']:16.4f} {r['first_corrected']:14.4f} "
                  f"{start_error:11.0%}")
    if verbose:
        print("Larger beta: smoother (and later). Without the correction the first values "
              "are\n(1 - beta**t) times too small: the curve starts near 0 instead of at the "
              "first loss.")
    return result


def save_pictures(result, out):
    """Raw curve, the three corrected EMAs and one uncorrected as ``out/ema_smoothing.png``."""
    if importlib.util.find_spec("matplotlib") is None:
        print("matplotlib is not installed: no pictures (pip install matplotlib)")
        return []
    from microgd.viz.plots import COLORS, plot_history

    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "ema_smoothing.png")
    # plot_history draws the raw curve and one corrected EMA; the other betas
    # and the uncorrected curve are added on the same axes.
    fig = plot_history({"EMA \u03b2=0.98, bias-corrected": result["history"]}, beta=0.98)
    ax = fig.axes[0]
    steps = np.arange(1, len(result["raw"]) + 1)
    for i, beta in enumerate(BETAS[:-1], start=1):
        ax.plot(steps, result[beta]["corrected"], color=COLORS[i], linewidth=1.4,
                label=f"EMA \u03b2={beta:g}, bias-corrected")
    ax.plot(steps, result[0.98]["uncorrected"], color=COLORS[0], linewidth=1.8,
            linestyle="--", label="EMA \u03b2=0.98, no bias correction")
    ax.set_ylim(0, 1.05 * float(np.max(result["raw"])))
    handles, labels = ax.get_legend_handles_labels()
    order = [1, 2, 0, 3]  # the betas in ascending order, the uncorrected curve last
    ax.legend([handles[i] for i in order], [labels[i] for i in order], frameon=False)
    ax.set_title("Lesson 4: a noisy SGD loss curve (thin) and its exponential averages",
                 fontsize=11)
    fig.savefig(path, dpi=150, facecolor="white")
    return [path]


def main(verbose=True, out=None):
    """Run the lesson; with ``out``, write its picture there.  Returns the numbers."""
    result = smooth(verbose=verbose)
    if out is not None:
        result["pictures"] = save_pictures(result, out)
    return result


if __name__ == "__main__":
    main(out=sys.argv[1] if len(sys.argv) > 1 else None)
