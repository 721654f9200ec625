"""Lesson 7: momentum (inertia) carries the search past small local minima.

Heavy-ball momentum keeps a velocity: ``m <- beta * m - lr * g; w <- w + m``.
A ball rolling downhill builds up speed and does not stop at the first dip.

1. A 1-D loss ``f(w) = w**4 - 4 w**2 + 2 w`` with a shallow local minimum at
   w = 1.27 (f = -1.31) on the way from the start w = 2.2 to the deeper global
   minimum at w = -1.53 (f = -6.94).  Plain gradient descent (lr 0.01) stops
   in the first dip; momentum with the same lr and beta = 0.9 rolls over the
   bump at w = 0.26 and settles in the global minimum.  (From w = 1.8 it does
   not: starting lower, the ball has too little speed.  Momentum helps, it
   does not guarantee.)
2. An ill-conditioned valley ``f(x, y) = x**2 / 2 + 50 y**2`` (curvatures 1
   and 100).  The steep direction caps the learning rate (GD diverges above
   2/100); at lr 0.018 GD zigzags across the valley and then crawls along
   its floor (the flat direction shrinks by only 1.8% per step), taking 603
   steps to reach f < 1e-8.  Momentum (beta 0.8, same lr) swings across the
   valley too, but along the floor its steps add up to a speed about
   1 / (1 - beta) = 5 times larger: 105 steps.  Too much momentum (beta 0.9)
   overshoots and circles for longer (214 steps), so beta is a knob like lr.

Run: python examples/momentum.py [OUT_DIR]   (OUT_DIR gets the pictures)
"""

from __future__ import annotations

import importlib.util
import os
import sys

import numpy as np

import microgd as mg
from microgd import optim
from microgd.lessons import BUMPY_GLOBAL_MIN, BUMPY_LOCAL_MIN, bumpy  # w^4 - 4 w^2 + 2 w

VALLEY_START = (-8.0, 1.5)


def valley(p):
    """An ill-conditioned quadratic valley: 100 times steeper across (y) than along (x)."""
    return 0.5 * p[0] ** 2 + 50.0 * p[1] ** 2


def minimize(f, x0, optimizer, steps, **hyper):
    """Run ``optimizer`` on ``f`` from ``x0``; returns the path (steps + 1, d) and the losses."""
    x = mg.Value(np.array(x0, dtype=float).reshape(-1))
    opt = optimizer([x], **hyper)
    path, losses = [x.data.copy()], []
    for _ in range(steps):
        opt.zero_grad()
        loss = f(x)
        losses.append(loss.item())
        loss.backward()
        opt.step()
        path.append(x.data.copy())
    return np.array(path), np.array(losses)


def steps_to(losses, target):
    """The first step whose loss is below ``target`` (None if never)."""
    hit = np.flatnonzero(losses < target)
    return int(hit[0]) if len(hit) else None


def past_local_minimum(start=2.2, lr=0.01, beta=0.9, steps=300, verbose=True):
    """GD and momentum from the same start on the bumpy 1-D loss.

    Returns
    -------
    dict
        ``gd_w``, ``momentum_w`` (final points), ``gd_f``, ``momentum_f``,
        ``gd_global`` / ``momentum_global`` (reached the global minimum?) and
        ``paths`` (label to array of shape (steps + 1, 1)).
    """
    gd, _ = minimize(bumpy, [start], optim.GD, steps, lr=lr)
    mom, _ = minimize(bumpy, [start], optim.Momentum, steps, lr=lr, beta=beta)
    f = lambda w: bumpy(mg.Value(np.array([w]), requires_grad=False)).item()  # noqa: E731
    r = {"gd_w": float(gd[-1, 0]), "momentum_w": float(mom[-1, 0]),
         "gd_f": f(gd[-1, 0]), "momentum_f": f(mom[-1, 0]),
         "gd_global": bool(abs(gd[-1, 0] - BUMPY_GLOBAL_MIN) < 1e-4),
         "momentum_global": bool(abs(mom[-1, 0] - BUMPY_GLOBAL_MIN) < 1e-4),
         "paths": {"GD": gd, f"momentum (\u03b2={beta:g})": mom}}
    if verbose:
        print(f"1) f(w) = w^4 - 4w^2 + 2w from w = {start}, lr {lr}, {steps} steps\n"
              f"   local minimum at w = {BUMPY_LOCAL_MIN:.3f}, global at w = "
              f"{BUMPY_GLOBAL_MIN:.3f}")
        print(f"   GD:                 w = {r['gd_w']:8.4f}, f = {r['gd_f']:.4f}  "
              f"({'global' if r['gd_global'] else 'stuck in the local'} minimum)")
        print(f"   momentum, beta {beta}: w = {r['momentum_w']:8.4f}, f = {r['momentum_f']:.4f}"
              f"  ({'global' if r['momentum_global'] else 'local'} minimum)")
        if r["momentum_global"]:
            print(f"   momentum rolled over the bump at w = 0.26, as far left as "
                  f"w = {mom[:, 0].min():.3f}, and settled")
    return r


def through_valley(lr=0.018, betas=(0.5, 0.8, 0.9), target=1e-8, steps=700, verbose=True):
    """Steps to reach ``f < target`` in the ill-conditioned valley, GD vs momentum.

    Returns
    -------
    dict
        ``gd_steps`` and ``momentum_steps`` (beta to steps), ``paths`` (GD and
        beta 0.8, arrays of shape (T, 2)) and ``losses`` (the same runs).
    """
    gd_path, gd_loss = minimize(valley, VALLEY_START, optim.GD, steps, lr=lr)
    r = {"gd_steps": steps_to(gd_loss, target), "momentum_steps": {},
         "paths": {"GD": gd_path}, "losses": {"GD": gd_loss}}
    for beta in betas:
        path, loss = minimize(valley, VALLEY_START, optim.Momentum, steps, lr=lr, beta=beta)
        r["momentum_steps"][beta] = steps_to(loss, target)
        if beta == 0.8:
            r["paths"]["momentum (\u03b2=0.8)"] = path
            r["losses"]["momentum (\u03b2=0.8)"] = loss
    if verbose:
        print(f"2) valley f = x^2/2 + 50 y^2 from {VALLEY_START}, lr {lr}: steps to "
              f"f < {target:g}")
        print(f"   GD: {r['gd_steps']};  momentum: "
              + ", ".join(f"beta {b}: {s}" for b, s in r["momentum_steps"].items()))
    return r


def save_pictures(result, out):
    """``momentum_1d.png`` (paths on the bumpy loss) and ``momentum_valley.png``."""
    if importlib.util.find_spec("matplotlib") is None:
        print("matplotlib is not installed: no pictures (pip install matplotlib)")
        return []
    from microgd.viz.plots import plot_landscape

    os.makedirs(out, exist_ok=True)
    one_d = os.path.join(out, "momentum_1d.png")
    fig = plot_landscape(bumpy, [(-2.3, 2.4)], paths=result["local_minimum"]["paths"])
    ax = fig.axes[0]
    ax.set(xlabel="w", ylabel="f(w)", ylim=(-8, 10))
    ax.set_title("Lesson 7: GD stops in the first dip; momentum rolls on to the deeper "
                 "minimum", fontsize=11)
    fig.savefig(one_d, dpi=150, facecolor="white")

    two_d = os.path.join(out, "momentum_valley.png")
    v = result["valley"]
    # the first 50 steps show both behaviours; later ones are too close to the minimum
    paths = {label: p[:51] for label, p in v["paths"].items()}
    fig = plot_landscape(valley, [(-9.0, 3.0), (-2.0, 2.0)], paths=paths)
    fig.axes[0].set_title(f"A narrow valley, first 50 steps at lr 0.018: GD crawls along the "
                          f"floor\n(f < 1e-8 after {v['gd_steps']} steps); momentum speeds "
                          f"along it ({v['momentum_steps'][0.8]} steps)", fontsize=11)
    fig.savefig(two_d, dpi=150, facecolor="white")
    return [one_d, two_d]


def main(verbose=True, out=None):
    """Run both parts; with ``out``, write the pictures there.  Returns the numbers."""
    result = {"local_minimum": past_local_minimum(verbose=verbose),
              "valley": through_valley(verbose=verbose)}
    if out is not None:
        result["pictures"] = save_pictures(result, out)
    return result


if __name__ == "__main__":
    main(out=sys.argv[1] if len(sys.argv) > 1 else None)
