"""Lessons 4 and 8: the learning rate, from too small to too large.

The course's toy, ``y_hat = x * w`` on x = [1, 2, 3], y = [2, 4, 6], from
w = 1.0, trained by full-batch gradient descent for 100 epochs with different
learning rates.  The cost is a parabola in w with curvature
``L = 2 * mean(x**2) = 28/3``, so each step multiplies the error ``w - 2`` by
the same factor ``r = 1 - lr * L``:

- lr = 0.001: r = 0.991, too small: after 100 epochs w is still far from 2;
- lr = 0.01 (the lesson's): r = 0.907, smooth and fast enough;
- lr = 0.21: r = -0.96, negative but above -1: w jumps across the minimum
  every step (oscillates) and still converges, slowly;
- lr = 0.21 decayed by 0.9 per epoch (lesson 8: decay the learning rate near
  the minimum): the oscillation dies out much sooner;
- lr = 0.25: r = -1.333, every jump overshoots further: training diverges.
  ``mg.fit`` stops it with a ``DivergenceError``, whose message says what to
  try and whose ``.params`` holds the last finite w.

Run: python examples/learning_rate.py [OUT_DIR]   (OUT_DIR gets the pictures)
"""

from __future__ import annotations

import importlib.util
import os
import sys
import textwrap

import numpy as np

import microgd as mg
from microgd import optim
from microgd.lessons import X_DATA, Y_DATA, cost  # cost = mean((x * w - y)**2)
from microgd.optim import schedules

CURVATURE = 2 * float(np.mean(X_DATA ** 2))  # d^2 cost / dw^2
# label -> (lr, per-epoch decay factor or None)
RUNS = {
    "too small (lr 0.001)": (0.001, None),
    "good (lr 0.01)": (0.01, None),
    "oscillating (lr 0.21)": (0.21, None),
    "lr 0.21, decayed x0.9 per epoch": (0.21, 0.9),
    "too large (lr 0.25)": (0.25, None),
}


def train(lr, decay=None, epochs=100, w0=1.0):
    """Full-batch GD on the toy; returns ``(history, w, error)``, error None or the exception."""
    w = mg.Value(w0)
    opt = optim.GD([w], lr=lr)
    callbacks = ()
    if decay is not None:
        sched = schedules.Exponential(opt, gamma=decay)
        callbacks = (lambda hist, epoch: sched.step(),)
    try:
        hist = mg.fit(lambda xb, yb: cost(w, xb, yb), [w], (X_DATA, Y_DATA), opt,
                      epochs=epochs, record_path=True, callbacks=callbacks)
    except mg.DivergenceError as err:
        return err.history, float(err.params[0]), err
    return hist, w.item(), None


def sweep(epochs=100, verbose=True):
    """Train with every learning rate of ``RUNS``.

    Returns
    -------
    dict
        Per label: ``lr``, ``factor`` (``1 - lr * L``), ``w`` (final, or the
        last finite one), ``final_loss``, ``sign_changes`` (how often
        ``w - 2`` changed sign: oscillation), ``diverged``, ``steps`` and,
        when it diverged, ``message``; and ``histories``, label to History.
    """
    result, histories = {"curvature": CURVATURE}, {}
    if verbose:
        print(f"cost(w) = mean((x*w - y)^2) is a parabola with curvature L = {CURVATURE:.4f}; "
              f"each GD step\nmultiplies w - 2 by r = 1 - lr*L (converges iff |r| < 1, "
              f"oscillates if r < 0)")
        print(f"{'run':>31} {'r':>7} {'steps':>6} {'w':>12} {'loss':>10} {'sign changes':>13}")
    for label, (lr, decay) in RUNS.items():
        hist, w, err = train(lr, decay, epochs)
        histories[label] = hist
        errors = np.array(hist.path)[:, 0] - 2.0
        r = {"lr": lr, "factor": 1 - lr * CURVATURE, "w": w,
             "final_loss": float(cost(w)),
             "sign_changes": int(np.sum(np.diff(np.sign(errors)) != 0)),
             "diverged": err is not None, "steps": len(hist.step_loss)}
        if err is not None:
            r["message"] = str(err)
        result[label] = r
        if verbose:
            print(f"{label:>31} {r['factor']:7.3f} {r['steps']:6d} {w:12.6g} "
                  f"{r['final_loss']:10.3g} {r['sign_changes']:13d}")
    if verbose:
        bad = result["too large (lr 0.25)"]
        print("lr 0.25 diverged; the DivergenceError, caught, says:")
        print(textwrap.fill(bad["message"], 96, initial_indent="  ", subsequent_indent="  "))
        print(f"  last finite w = {bad['w']:.6g} (err.params), reached after {bad['steps']} "
              "steps")
    result["histories"] = histories
    return result


def save_pictures(result, out):
    """Loss curves (``learning_rate.png``) and w's jumps on the cost (``_paths.png``)."""
    if importlib.util.find_spec("matplotlib") is None:
        print("matplotlib is not installed: no pictures (pip install matplotlib)")
        return []
    from microgd.viz.plots import plot_history, plot_landscape

    os.makedirs(out, exist_ok=True)
    curves = os.path.join(out, "learning_rate.png")
    # beta=0: full-batch curves are not noisy, and an EMA would hide the zigzags
    fig = plot_history(result["histories"], beta=0.0, log=True, x="epoch")
    fig.axes[0].set_title("Lessons 4 and 8: the same model, five learning rates "
                          "(the last one diverges)", fontsize=11)
    fig.savefig(curves, dpi=150, facecolor="white")

    paths = os.path.join(out, "learning_rate_paths.png")
    hists = result["histories"]
    fig = plot_landscape(lambda p: cost(p[0]), [(-2.0, 6.0)], paths={
        "lr 0.01": np.array(hists["good (lr 0.01)"].path[:30]),
        "lr 0.21 (oscillates)": np.array(hists["oscillating (lr 0.21)"].path[:6]),
        "lr 0.25 (diverges)": np.array(hists["too large (lr 0.25)"].path[:5]),
    })
    ax = fig.axes[0]
    ax.set(xlabel="w", ylabel="cost(w)", ylim=(-1, 50))
    ax.set_title("Where w goes: small steps slide down, large ones jump across the valley",
                 fontsize=11)
    fig.savefig(paths, dpi=150, facecolor="white")
    return [curves, paths]


def main(verbose=True, out=None):
    """Run the sweep; with ``out``, write its pictures there.  Returns the numbers."""
    result = sweep(verbose=verbose)
    if out is not None:
        result["pictures"] = save_pictures(result, out)
    return result


if __name__ == "__main__":
    main(out=sys.argv[1] if len(sys.argv) > 1 else None)
