"""Why momentum really works (Goh, Distill 2017): GD vs heavy ball on an ill-conditioned quadratic.

The quadratic ``f(w) = (lambda_1 w_1^2 + lambda_2 w_2^2) / 2`` with
eigenvalues 1 and 100 (condition number kappa = 100), minimum at 0, from
``w_0 = (1, 1)``.  Each optimizer runs at its optimal constant parameters:

- GD, ``w <- w - alpha grad``, at ``alpha = 2 / (lambda_min + lambda_max)``:
  every eigencomponent shrinks by ``|1 - alpha lambda| = (kappa - 1) / (kappa + 1)``
  = 99/101 per step;
- heavy-ball momentum, ``m <- beta m - alpha grad; w <- w + m``, at
  ``alpha = (2 / (sqrt(lambda_max) + sqrt(lambda_min)))^2`` and
  ``beta = ((sqrt(kappa) - 1) / (sqrt(kappa) + 1))^2``: rate ``sqrt(beta) =
  (sqrt(kappa) - 1) / (sqrt(kappa) + 1)`` = 9/11.

Counted: the first step k with ``|w_k - w*| <= 1e-6 |w_0 - w*|``.  GD takes
691 steps, momentum 93.  The rate alone predicts 691 and 69: GD's error
shrinks by exactly its rate at every step, while momentum at its optimal
(critically damped) parameters has a repeated eigenvalue, so its error
behaves like ``(1 + c k) r^k``: the same asymptotic rate, and a polynomial
factor that costs 24 extra steps here.  Across condition numbers GD needs
steps in proportion to kappa, momentum to sqrt(kappa).

Run: python examples/why_momentum_works.py [OUT_DIR]   (OUT_DIR gets the pictures)
"""

from __future__ import annotations

import importlib.util
import math
import os
import sys

import numpy as np

import microgd as mg
from microgd import optim

TOL = 1e-6
START = (1.0, 1.0)


def quadratic(kappa):
    """``(w_1^2 + kappa w_2^2) / 2``: eigenvalues 1 and kappa."""
    return lambda w: 0.5 * (w[0] ** 2 + kappa * w[1] ** 2)


def optimal(kappa, lam_min=1.0):
    """The optimal constant parameters and the rates they give (Goh 2017)."""
    lam_max = kappa * lam_min
    root = math.sqrt(kappa)
    return {"gd_lr": 2 / (lam_min + lam_max), "gd_rate": (kappa - 1) / (kappa + 1),
            "momentum_lr": (2 / (math.sqrt(lam_max) + math.sqrt(lam_min))) ** 2,
            "momentum_beta": ((root - 1) / (root + 1)) ** 2,
            "momentum_rate": (root - 1) / (root + 1)}


def race(kappa, steps):
    """GD and momentum at their optimal parameters on the quadratic of condition ``kappa``."""
    p = optimal(kappa)
    return mg.race(quadratic(kappa),
                   {"GD": lambda ps: optim.GD(ps, lr=p["gd_lr"]),
                    "momentum": lambda ps: optim.Momentum(ps, lr=p["momentum_lr"],
                                                          beta=p["momentum_beta"])},
                   START, steps=steps, minimum=[0.0, 0.0])


def predicted_steps(rate, tol=TOL):
    """Steps for ``rate**k <= tol``."""
    return math.ceil(math.log(tol) / math.log(rate))


def condition_100(verbose=True):
    """Steps to 1e-6 (relative distance), the rates measured, and the race itself."""
    r = race(100.0, 800)
    p = optimal(100.0)
    steps = r.steps_to(TOL, by="distance", relative=True)
    e = r.errors("distance", relative=True)
    out = {"race": r, "params": p, "steps": steps,
           "predicted": {"GD": predicted_steps(p["gd_rate"]),
                         "momentum": predicted_steps(p["momentum_rate"])},
           # the mean rate up to the tolerance, and a late local rate (steps 500 to 600)
           "mean_rate": {n: float(e[n][steps[n]] ** (1 / steps[n])) for n in r.names},
           "late_rate": {n: float((e[n][600] / e[n][500]) ** (1 / 100)) for n in r.names}}
    if verbose:
        print("kappa = 100, from (1, 1): steps until |w - w*| <= 1e-6 |w0 - w*|")
        for n, rate in (("GD", p["gd_rate"]), ("momentum", p["momentum_rate"])):
            print(f"   {n:<9} {steps[n]:>4} steps (rate {rate:.4f} predicts "
                  f"{out['predicted'][n]}); measured mean rate {out['mean_rate'][n]:.4f}, "
                  f"late rate {out['late_rate'][n]:.4f}")
    return out


def by_condition(kappas=(10.0, 100.0, 1000.0), verbose=True):
    """Steps to 1e-6 for each condition number: GD grows like kappa, momentum like sqrt."""
    table = {}
    for kappa in kappas:
        p = optimal(kappa)
        r = race(kappa, predicted_steps(p["gd_rate"]) + 10)
        table[kappa] = r.steps_to(TOL, by="distance", relative=True)
    if verbose:
        print("steps to 1e-6 by condition number:")
        for kappa, s in table.items():
            print(f"   kappa {kappa:>6g}: GD {s['GD']:>5}, momentum {s['momentum']:>4}")
    return table


def save_pictures(result, out):
    """``why_momentum_works.png``: both paths, and the distance with the theory's rates."""
    if importlib.util.find_spec("matplotlib") is None:
        print("matplotlib is not installed: no pictures (pip install matplotlib)")
        return []
    os.makedirs(out, exist_ok=True)
    c = result["condition_100"]
    fig = mg.viz.plot_race(c["race"], panel="distance",
                           title="\u03ba = 100, optimal step sizes (\u25cb start)")
    ax = fig.axes[1]
    k = np.arange(801)
    for name, color in (("GD", "#e03131"), ("momentum", "#212529")):
        rate = c["params"]["gd_rate" if name == "GD" else "momentum_rate"]
        ax.plot(k, np.sqrt(2) * rate ** k, "--", color=color, linewidth=1, alpha=0.7,
                label=f"rate {rate:.4f}\u1d4f (theory)")
    ax.axhline(np.sqrt(2) * TOL, color="#868e96", linewidth=0.8, linestyle=":")
    ax.set_ylim(1e-16, 3)
    ax.legend(frameon=False, fontsize=8, loc="upper right")
    ax.set_title(f"Distance to w*: {c['steps']['GD']} vs {c['steps']['momentum']} steps "
                 "to 1e-6 of the start", fontsize=10)
    path = os.path.join(out, "why_momentum_works.png")
    fig.savefig(path, dpi=150, facecolor="white")
    return [path]


def main(verbose=True, out=None):
    """Run both parts; with ``out``, write the picture there.  Returns the numbers."""
    result = {"condition_100": condition_100(verbose), "by_condition": by_condition(
        verbose=verbose)}
    if out is not None:
        result["pictures"] = save_pictures(result, out)
    return result


if __name__ == "__main__":
    main(out=sys.argv[1] if len(sys.argv) > 1 else None)
