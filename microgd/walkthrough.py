"""The course walk-through behind ``microgd demo``: from exhaustive search to momentum.

One run goes through the course's lessons in order, on its smallest model
``y_hat = x * w`` with x = [1, 2, 3], y = [2, 4, 6] (the best weight is
w = 2), and then on the two small functions that show why plain gradient
descent is not the end of the story:

1. exhaustive search: try 41 values of w in [0, 4] (and see why a grid
   explodes with more weights);
2. divide and conquer: a coarse grid, then zoom in around the best point:
   far fewer evaluations for the same precision, but it can miss a narrow
   better minimum;
3. gradient descent with the derivative from autodiff: w -> 2, prediction 8;
4. SGD: one sample per update, reshuffled every epoch;
5. mini-batch SGD: the compromise;
6. a learning rate too large: training diverges and ``fit`` stops it with a
   :class:`~microgd.DivergenceError`;
7. a saddle point of ``x**2 - y**2``: GD stalls at zero gradient, the
   Hessian's eigenvalues show it is a saddle and its eigenvector shows the
   way down;
8. momentum carries the search past a shallow local minimum where GD stops.

Each step prints a heading and its key numbers (``verbose``), returns them in
the result, and the pictures (loss curves, landscapes with paths, the
saddle's Hessian spectrum) are written to ``out`` when matplotlib is
installed.  The whole run takes a few seconds.

Examples
--------
>>> from microgd import walkthrough
>>> r = walkthrough.run(out=None, verbose=False)
>>> round(r["gd"]["w"], 3), round(r["gd"]["prediction"], 3)
(2.0, 8.0)
>>> r["saddle"]["kind"], r["momentum"]["momentum_global"], r["momentum"]["gd_global"]
('saddle', True, False)
"""

from __future__ import annotations

import importlib.util
import os
import textwrap
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from microgd import optim
from microgd.classification import classify
from microgd.lessons import (
    BUMPY_GLOBAL_MIN,
    BUMPY_LOCAL_MIN,
    X_DATA,
    Y_DATA,
    bumpy,
    cost,
    mse_w,
    saddle,
    well,
)
from microgd.search import coarse_to_fine, grid_search
from microgd.train import DivergenceError, History, fit
from microgd.value import Value

# The lesson data and functions live in microgd.lessons; they stay importable from here too.
__all__ = ["BUMPY_GLOBAL_MIN", "BUMPY_LOCAL_MIN", "X_DATA", "Y_DATA", "bumpy", "cost", "run",
           "saddle"]


def _descend(f: Callable[[Any], Any], x0: Any, optimizer: type, steps: int,
             **hyper: Any) -> np.ndarray:
    """Minimize ``f`` from ``x0`` with ``optimizer``; returns the path, shape (steps + 1, d)."""
    x = Value(np.array(x0, dtype=float).reshape(-1))
    opt = optimizer([x], **hyper)
    path = [x.data.copy()]
    for _ in range(steps):
        opt.zero_grad()
        f(x).backward()
        opt.step()
        path.append(x.data.copy())
    return np.array(path)


def _cost_after(hist: History, epochs: int) -> float:
    """The full-data cost after ``epochs`` epochs of a run recorded with ``record_path``."""
    steps_per_epoch = len(hist.step_loss) // len(hist.epoch_loss)
    return float(cost(hist.path[epochs * steps_per_epoch][0]))


def _fit_toy(lr: float, epochs: int, batch_size: int | None, seed: int) -> tuple[History, float]:
    """Train ``y_hat = x * w`` from w = 1 with plain gradient steps; returns (history, w)."""
    w = Value(1.0)
    hist = fit(lambda xb, yb: cost(w, xb, yb), [w], (X_DATA, Y_DATA), optim.GD([w], lr=lr),
               epochs=epochs, batch_size=batch_size, seed=seed, record_path=True)
    return hist, w.item()


# ---- the steps: each says what it shows and returns its numbers ----------------------


def _search(say: Callable[[str], None]) -> dict[str, Any]:
    say("1. Exhaustive search: try every w on a grid, keep the best")
    r = grid_search(mse_w, [(0.0, 4.0)], num=41)
    out = {"w": float(r.x[0]), "cost": float(r.value), "evaluations": r.evaluations,
           "evaluations_2d": r.evaluations ** 2, "evaluations_3d": r.evaluations ** 3}
    say(f"   41 values of w in [0, 4] (step 0.1): best w = {out['w']:g}, cost "
        f"{out['cost']:.3g}, {out['evaluations']} evaluations")
    say(f"   the same grid for 2 weights needs {out['evaluations_2d']:,} evaluations, for 3 "
        f"{out['evaluations_3d']:,}:")
    say("   it explodes with the number of weights")
    return out


def _divide_and_conquer(say: Callable[[str], None]) -> dict[str, Any]:
    say("2. Divide and conquer: a coarse grid, then zoom in around the best point")
    tol = 1e-6
    r = coarse_to_fine(mse_w, [(0.0, 4.0)], num=11, tol=tol)
    out: dict[str, Any] = {"w": float(r.x[0]), "cost": float(r.value),
                           "evaluations": r.evaluations, "rounds": r.rounds,
                           "grid_evaluations": int(4.0 / tol) + 1}
    say(f"   11 points per round, {out['rounds']} rounds down to width {tol:g}: w = "
        f"{out['w']:.7f} after {out['evaluations']} evaluations")
    say(f"   (a plain grid that fine would need {out['grid_evaluations']:,})")

    # The coarse grid never lands in the narrow well, so zooming refines the wrong minimum.
    coarse = coarse_to_fine(well, [(0.0, 4.0)], num=5, tol=1e-6)
    fine = grid_search(well, [(0.0, 4.0)], num=401)
    out["missed"] = {"zoom_w": float(coarse.x[0]), "zoom_value": float(coarse.value),
                     "grid_w": float(fine.x[0]), "grid_value": float(fine.value)}
    say("   but it can miss: on a loss with a narrow, deeper well, zooming in from 5 points")
    say(f"   ends at w = {coarse.x[0]:.3f} (f = {coarse.value:.3f}); a 401-point grid finds "
        f"the well at w = {fine.x[0]:.2f} (f = {fine.value:.3f})")
    return out


def _gd(say: Callable[[str], None]) -> tuple[dict[str, Any], History]:
    say("3. Gradient descent: w <- w - lr * dcost/dw, the derivative by autodiff")
    hist, w = _fit_toy(lr=0.01, epochs=100, batch_size=None, seed=0)
    out = {"w": w, "prediction": 4.0 * w, "steps": len(hist.step_loss),
           "first_cost": hist.step_loss[0], "final_cost": float(cost(w)),
           "cost_after_10_epochs": _cost_after(hist, 10)}
    for epoch in (0, 9, 49, 99):
        say(f"   epoch {epoch:3d}: w = {hist.path[epoch + 1][0]:.6f}, cost "
            f"{hist.step_loss[epoch]:.3e}")
    say(f"   w = 1 -> {w:.5f} in {out['steps']} steps (lr 0.01); prediction at x = 4: "
        f"{out['prediction']:.4f}")
    return out, hist


def _sgd(say: Callable[[str], None], seed: int, batch_size: int, title: str,
         gd_cost_10: float) -> tuple[dict[str, Any], History]:
    say(title)
    hist, w = _fit_toy(lr=0.01, epochs=100, batch_size=batch_size, seed=seed)
    out = {"w": w, "prediction": 4.0 * w, "steps": len(hist.step_loss),
           "batch_size": batch_size, "final_cost": float(cost(w)),
           "cost_after_10_epochs": _cost_after(hist, 10)}
    per_epoch = out["steps"] // 100
    say(f"   batches of {batch_size}, reshuffled every epoch (seed {seed}): {per_epoch} "
        f"updates per epoch, {out['steps']} in 100 epochs")
    say(f"   cost after 10 epochs {out['cost_after_10_epochs']:.2e} (GD: {gd_cost_10:.2e}); "
        f"w = {w:.6f}, prediction at x = 4: {out['prediction']:.4f}")
    return out, hist


def _divergence(say: Callable[[str], None]) -> tuple[dict[str, Any], History]:
    lr = 0.25
    factor = 1 - lr * 2 * float(np.mean(X_DATA ** 2))
    say("6. A learning rate too large: every step overshoots further")
    say(f"   lr {lr}: each step multiplies w - 2 by 1 - lr * 2 * mean(x^2) = {factor:.3f}, "
        "more than 1 in size")
    try:
        hist, w = _fit_toy(lr=lr, epochs=100, batch_size=None, seed=0)
    except DivergenceError as err:
        out = {"lr": lr, "factor": factor, "diverged": True, "message": str(err),
               "w": float(err.params[0]), "steps": len(err.history.step_loss)}
        say("   DivergenceError caught:")
        say(textwrap.fill(str(err), 96, initial_indent="     ", subsequent_indent="     "))
        say(f"   the last finite w, after {out['steps']} steps: {out['w']:.6g}")
        return out, err.history
    # not reached with these numbers; kept so that a change of lr cannot crash the demo
    return {"lr": lr, "factor": factor, "diverged": False, "message": "", "w": w,
            "steps": len(hist.step_loss)}, hist


def _saddle(say: Callable[[str], None]) -> tuple[dict[str, Any], Any, dict[str, np.ndarray]]:
    say("7. A saddle point: zero gradient, but not a minimum")
    to_saddle = _descend(saddle, [1.0, 0.0], optim.GD, 100, lr=0.1)
    stuck = to_saddle[-1]
    cp = classify(saddle, stuck)
    f_at = lambda p: float(saddle(np.asarray(p)))  # noqa: E731
    out: dict[str, Any] = {"gd_point": stuck, "grad_norm": cp.grad_norm, "kind": cp.kind,
                           "eigenvalues": np.asarray(cp.eigenvalues),
                           "escape_direction": cp.escape_direction, "f_saddle": f_at(stuck)}
    say(f"   f = x^2 - y^2, GD from (1, 0), lr 0.1, 100 steps: stops at "
        f"({stuck[0]:.1e}, {stuck[1]:.1e}), |grad| = {cp.grad_norm:.1e}")
    say(f"   Hessian eigenvalues {np.round(cp.eigenvalues, 6).tolist()}: one negative -> "
        f"{cp.kind}")
    paths = {"GD (stalls at the saddle)": to_saddle}
    if cp.escape_direction is not None:
        kicked = stuck + 0.5 * np.asarray(cp.escape_direction)
        after = _descend(saddle, kicked, optim.GD, 5, lr=0.1)
        out.update(f_after_step=f_at(kicked), f_after_gd=f_at(after[-1]))
        paths["step along the eigenvector, then GD"] = np.vstack([stuck[None], after])
        say(f"   escape direction {np.round(cp.escape_direction, 6).tolist()}: one step of "
            f"0.5 along it takes f from {out['f_saddle']:.2g} to {out['f_after_step']:.3g},")
        say(f"   and 5 more GD steps on to {out['f_after_gd']:.3g}")
    return out, cp, paths


def _momentum(say: Callable[[str], None]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    say("8. Momentum: inertia carries the search past a small local minimum")
    start, lr, beta, steps = 2.2, 0.01, 0.9, 300
    gd = _descend(bumpy, [start], optim.GD, steps, lr=lr)
    mom = _descend(bumpy, [start], optim.Momentum, steps, lr=lr, beta=beta)
    gd_w, mom_w = float(gd[-1, 0]), float(mom[-1, 0])
    out = {"gd_w": gd_w, "momentum_w": mom_w,
           "gd_f": float(bumpy(gd[-1])), "momentum_f": float(bumpy(mom[-1])),
           "gd_global": abs(gd_w - BUMPY_GLOBAL_MIN) < 1e-4,
           "momentum_global": abs(mom_w - BUMPY_GLOBAL_MIN) < 1e-4}
    say(f"   f(w) = w^4 - 4w^2 + 2w from w = {start}, lr {lr}, {steps} steps "
        f"(local minimum {BUMPY_LOCAL_MIN:.3f}, global {BUMPY_GLOBAL_MIN:.3f})")
    say(f"   GD:                  w = {gd_w:8.4f}, f = {out['gd_f']:.4f}  "
        f"({'global' if out['gd_global'] else 'stuck in the local'} minimum)")
    say(f"   momentum (beta {beta}): w = {mom_w:8.4f}, f = {out['momentum_f']:.4f}  "
        f"({'global' if out['momentum_global'] else 'local'} minimum)")
    return out, {"GD": gd, f"momentum (\u03b2={beta:g})": mom}


# ---- pictures ------------------------------------------------------------------------------


def _plots(out: str, histories: dict[str, History], saddle_cp: Any,
           saddle_paths: dict[str, np.ndarray],
           momentum_paths: dict[str, np.ndarray]) -> list[str]:
    from microgd.viz.plots import plot_history, plot_landscape, plot_spectrum

    os.makedirs(out, exist_ok=True)
    written = []

    def save(fig: Any, name: str, title: str) -> None:
        fig.axes[0].set_title(title, fontsize=11)
        path = os.path.join(out, name)
        fig.savefig(path, dpi=150, facecolor="white")
        written.append(path)

    # beta=0: on three samples the per-step losses are exact, with nothing to smooth
    save(plot_history(histories, beta=0.0, log=True, x="epoch"), "loss_curves.png",
         "y = x*w: cost per step, full-batch GD vs SGD vs mini-batch (lr 0.01)")
    fig = plot_landscape(saddle, [(-1.2, 1.2), (-1.6, 1.6)], paths=saddle_paths,
                         critical_points=[saddle_cp])
    fig.axes[0].legend(loc="lower right", fontsize=9, framealpha=0.85)  # clear of the paths
    save(fig, "saddle_landscape.png",
         "f = x\u00b2 - y\u00b2: GD stalls at the saddle; the negative eigenvector leads down")
    save(plot_spectrum(saddle_cp), "saddle_spectrum.png",
         "Hessian at the saddle of x\u00b2 - y\u00b2: one negative, one positive eigenvalue")
    fig = plot_landscape(bumpy, [(-2.3, 2.4)], paths=momentum_paths)
    fig.axes[0].set(xlabel="w", ylabel="f(w)", ylim=(-8, 10))
    save(fig, "momentum_landscape.png",
         "GD stops in the first dip; momentum rolls on to the deeper minimum")
    return written


def run(out: str | os.PathLike | None = "microgd-demo", verbose: bool = True,
        seed: int = 0) -> dict[str, Any]:
    """Run the course walk-through, narrating each step, and write its plots.

    Parameters
    ----------
    out : str or os.PathLike, optional
        Folder for the pictures (created if needed): ``loss_curves.png``,
        ``saddle_landscape.png``, ``saddle_spectrum.png`` and
        ``momentum_landscape.png``.  None, or matplotlib not installed:
        no pictures.
    verbose : bool, default True
        Print a heading per step and its key numbers.
    seed : int, default 0
        Seed of the SGD and mini-batch shuffling.

    Returns
    -------
    dict
        The numbers of each step under ``"search"``, ``"divide_and_conquer"``,
        ``"gd"``, ``"sgd"``, ``"minibatch"``, ``"divergence"``, ``"saddle"`` and
        ``"momentum"``; ``"plots"``, the files written; ``"seconds"``, the
        run time.
    """
    started = time.perf_counter()

    def say(line: str = "") -> None:
        if verbose:
            print(line)

    say("microgd walk-through: fit y = x*w to x = [1, 2, 3], y = [2, 4, 6]")
    say("cost = mean((x*w - y)^2), smallest at w = 2")
    say()
    result: dict[str, Any] = {"search": _search(say)}
    say()
    result["divide_and_conquer"] = _divide_and_conquer(say)
    say()
    result["gd"], gd_hist = _gd(say)
    say()
    gd_cost_10 = result["gd"]["cost_after_10_epochs"]
    result["sgd"], sgd_hist = _sgd(say, seed, 1, "4. SGD: one random sample per update "
                                   "(cheap, but strictly sequential)", gd_cost_10)
    say()
    result["minibatch"], mb_hist = _sgd(say, seed, 2, "5. Mini-batch SGD: a few samples "
                                        "per update (the compromise)", gd_cost_10)
    say()
    result["divergence"], _ = _divergence(say)
    say()
    result["saddle"], saddle_cp, saddle_paths = _saddle(say)
    say()
    result["momentum"], momentum_paths = _momentum(say)
    say()

    plots: list[str] = []
    if out is not None:
        if importlib.util.find_spec("matplotlib") is None:
            say("matplotlib is not installed: no pictures (pip install microgd[plot])")
        else:
            histories = {"GD (full batch)": gd_hist, "SGD (batch 1)": sgd_hist,
                         "mini-batch (2)": mb_hist}
            plots = _plots(os.fspath(out), histories, saddle_cp, saddle_paths, momentum_paths)
            say(f"pictures written to {os.fspath(out)}:")
            say("   " + ", ".join(os.path.basename(p) for p in plots))
    result["plots"] = plots
    result["seconds"] = time.perf_counter() - started
    say(f"done in {result['seconds']:.1f} s")
    return result
