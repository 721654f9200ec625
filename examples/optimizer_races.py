"""Optimizer races: GD, momentum, Nesterov and Adam from one start on three classic functions.

Each race runs the four optimizers from the same point with ``mg.race`` and
counts the steps until the loss is within a tolerance of the minimum.

1. Rosenbrock's banana valley ``(1 - x)^2 + 100 (y - x^2)^2`` from (-1.2, 1),
   2000 steps, lr 1e-3 (momentum 0.9) and Adam lr 0.1: GD reaches the curved
   valley floor at once but then crawls along it (f = 0.078 after 2000
   steps); momentum and Nesterov build up speed along the floor and reach
   f < 1e-6 in about 1400 steps, Adam in 1139.  With lr 4e-3 momentum's
   swings across the valley grow until the race stops it (diverged at step 12).
2. Himmelblau's function ``(x^2 + y - 11)^2 + (x + y^2 - 7)^2`` has four
   minima, all with f = 0.  From (0.5, -0.5), near the hump between them,
   the racers split: GD and momentum end at (3.58, -1.85), Nesterov and
   Adam at (3, 2).  Which minimum you reach depends on the optimizer, not
   only on the start.
3. A saddle between two minima, ``x^2 / 2 + y^4 / 4 - y^2 / 2`` (saddle at
   the origin, minima f = -1/4 at (0, +-1)), from (-1.5, 1e-8): almost on the
   saddle's attracting line.  GD slides into the saddle and lingers there
   (157 steps within 0.2 of it) because the gradient that would push it off
   is tiny; momentum and Nesterov leave sooner; Adam rescales the tiny
   gradient to a full step and never comes near it.

Run: python examples/optimizer_races.py [OUT_DIR] [--gif]
     (OUT_DIR gets the pictures; --gif also writes the animations)
"""

from __future__ import annotations

import importlib.util
import os
import sys

import numpy as np

import microgd as mg
from microgd import optim

HIMMELBLAU_MINIMA = np.array([[3.0, 2.0], [-2.805118, 3.131312], [-3.779310, -3.283186],
                              [3.584428, -1.848126]])


def rosenbrock(p):
    """The banana valley; minimum f = 0 at (1, 1)."""
    return (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2


def himmelblau(p):
    """Four minima with f = 0 and a hump (a local maximum) near (-0.27, -0.92)."""
    return (p[0] ** 2 + p[1] - 11) ** 2 + (p[0] + p[1] ** 2 - 7) ** 2


def saddle_between_wells(p):
    """A saddle at the origin between the minima (0, 1) and (0, -1), where f = -1/4."""
    return 0.5 * p[0] ** 2 + 0.25 * p[1] ** 4 - 0.5 * p[1] ** 2


def racers(lr, beta, adam_lr):
    """The four optimizers of every race: GD, heavy ball, Nesterov (same lr) and Adam."""
    return {"GD": lambda ps: optim.GD(ps, lr=lr),
            "momentum": lambda ps: optim.Momentum(ps, lr=lr, beta=beta),
            "Nesterov": lambda ps: optim.Nesterov(ps, lr=lr, momentum=beta),
            "Adam": lambda ps: optim.Adam(ps, lr=adam_lr)}


def race_rosenbrock(verbose=True):
    """Returns ``race``, ``steps_to`` (f < 1e-6), ``final_loss``, ``diverged`` (lr 4e-3)."""
    race = mg.race(rosenbrock, racers(1e-3, 0.9, 0.1), [-1.2, 1.0], steps=2000,
                   minimum=[1.0, 1.0])
    fast = mg.race(rosenbrock, {"momentum, lr 4e-3":
                                lambda ps: optim.Momentum(ps, lr=4e-3, beta=0.9)},
                   [-1.2, 1.0], steps=2000)
    r = {"race": race, "steps_to": race.steps_to(1e-6), "final_loss": race.final_loss,
         "diverged": fast.diverged["momentum, lr 4e-3"]}
    if verbose:
        print("1) Rosenbrock from (-1.2, 1), 2000 steps: steps to f < 1e-6")
        print("   " + race.summary(1e-6).replace("\n", "\n   "))
        print(f"   momentum with lr 4e-3 diverged at step {r['diverged']}")
    return r


def race_himmelblau(verbose=True):
    """Returns ``race``, ``steps_to`` (f < 1e-6) and ``minimum`` (which one each reached)."""
    race = mg.race(himmelblau, racers(0.01, 0.9, 0.1), [0.5, -0.5], steps=200)
    reached = {n: tuple(HIMMELBLAU_MINIMA[np.argmin(np.linalg.norm(
        HIMMELBLAU_MINIMA - race.point(n), axis=1))].round(2).tolist()) for n in race.names}
    r = {"race": race, "steps_to": race.steps_to(1e-6), "minimum": reached}
    if verbose:
        print("2) Himmelblau from (0.5, -0.5), 200 steps: steps to f < 1e-6, minimum reached")
        for n in race.names:
            print(f"   {n:<9} {r['steps_to'][n]:>4} steps  ends at {reached[n]}")
    return r


def race_saddle(verbose=True):
    """Returns ``race``, ``steps_to`` (f - f* < 1e-3) and ``near_saddle`` (steps within 0.2)."""
    race = mg.race(saddle_between_wells, racers(0.1, 0.9, 0.1), [-1.5, 1e-8], steps=300,
                   minimum=[0.0, 1.0])
    near = {n: int(np.sum(np.linalg.norm(race.paths[n], axis=1) < 0.2)) for n in race.names}
    r = {"race": race, "steps_to": race.steps_to(1e-3), "near_saddle": near}
    if verbose:
        print("3) saddle x^2/2 + y^4/4 - y^2/2 from (-1.5, 1e-8), 300 steps")
        for n in race.names:
            print(f"   {n:<9} {near[n]:>4} steps near the saddle, f - f* < 1e-3 after "
                  f"{r['steps_to'][n]} steps")
    return r


PICTURES = {  # name -> (bounds, title)
    "rosenbrock": ([(-1.6, 1.4), (-0.4, 1.6)], "Rosenbrock from (-1.2, 1), 2000 steps"),
    "himmelblau": ([(-1.0, 4.5), (-2.8, 2.8)], "Himmelblau from (0.5, -0.5)"),
    "saddle": ([(-1.7, 0.7), (-0.3, 1.3)], "A saddle at (0, 0), from (-1.5, 1e-8)"),
}


def save_pictures(result, out, gif=False):
    """``races_<name>.png`` for each race (and ``races_<name>.gif`` with ``gif``)."""
    if importlib.util.find_spec("matplotlib") is None:
        print("matplotlib is not installed: no pictures (pip install matplotlib)")
        return []
    os.makedirs(out, exist_ok=True)
    written = []
    for name, (bounds, title) in PICTURES.items():
        anim = mg.viz.animate(result[name]["race"], bounds=bounds, title=title)
        png = os.path.join(out, f"races_{name}.png")
        anim.save(png)
        written.append(png)
        if gif:
            written.append(os.path.join(out, f"races_{name}.gif"))
            anim.save(written[-1])
    return written


def main(verbose=True, out=None, gif=False):
    """Run the three races; with ``out``, write the pictures there.  Returns the numbers."""
    result = {"rosenbrock": race_rosenbrock(verbose), "himmelblau": race_himmelblau(verbose),
              "saddle": race_saddle(verbose)}
    if out is not None:
        result["pictures"] = save_pictures(result, out, gif=gif)
    return result


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--gif"]
    main(out=args[0] if args else None, gif="--gif" in sys.argv[1:])
