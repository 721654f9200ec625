"""Perturbed gradient descent (Jin et al. 2017): GD that cannot stall at a strict saddle.

At a saddle point the gradient is zero, so gradient descent started exactly
there never moves, and started near one it crawls.  Jin, Ge, Netrapalli,
Kakade and Jordan ("How to escape saddle points efficiently", ICML 2017)
add a small random kick whenever the gradient is small: near a strict
saddle the kick has a component along a negative-curvature direction, which
gradient descent then amplifies, so the iterates leave.  Near a minimum the
kick is undone by the next steps.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from microgd.optim.base import Optimizer, _integer, _real

__all__ = ["PerturbedGD"]


class PerturbedGD(Optimizer):
    r"""Gradient descent plus a random kick of radius r when the gradient is small (Jin et al.).

    Update rule at step t (counted from 0), with g the gradient of every
    parameter that has one, taken together::

        if |g| <= threshold and (no kick yet, or t - t_kick >= wait):
            xi  ~ uniform in the ball of radius r     (in all those parameters at once)
            t_kick <- t
        else:
            xi = 0
        w <- w - lr * g + xi

    The gradient step is taken as well as the kick: ``g`` was measured before
    it, and is small when a kick happens.  At most one kick per ``wait``
    steps, as in the paper, so the dynamics between kicks can carry the
    iterate away from the saddle (or back to a minimum).

    Kick number k is drawn from ``np.random.default_rng([seed, k])``, so a run
    is reproducible, and resumable from :meth:`state_dict` without pickling a
    generator: the state is the number of steps and the steps of the kicks.

    Parameters
    ----------
    params : iterable of Value
    lr : float
        Step size, > 0.
    radius : float, default 0.1
        r > 0, the radius of the ball the kick is drawn from.
    threshold : float, default 1e-3
        The gradient norm at or below which a kick is due, >= 0.
    wait : int, default 10
        At least this many steps between two kicks, >= 0 (0: a kick every
        step the gradient is small).
    seed : int, default 0

    Attributes
    ----------
    kicks : list of int
        The steps (counted from 0) at which a kick was added.

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> from microgd import optim
    >>> w = mg.Value(np.zeros(2))                  # exactly at the saddle of x**2 - y**2
    >>> opt = optim.PerturbedGD([w], lr=0.1, radius=1e-3, threshold=1e-6, wait=20)
    >>> for _ in range(60):
    ...     opt.zero_grad()
    ...     (w[0] ** 2 - w[1] ** 2).backward()
    ...     opt.step()
    >>> opt.kicks, bool(abs(w.data[1]) > 1.0), bool(abs(w.data[0]) < 1e-6)
    ([0], True, True)
    """

    def __init__(self, params: Any, lr: float, radius: float = 0.1, threshold: float = 1e-3,
                 wait: int = 10, seed: int = 0) -> None:
        super().__init__(params, lr, radius=radius, threshold=threshold, wait=wait, seed=seed)
        self.steps = 0
        self.kicks: list[int] = []

    def _check_hyper(self, hyper: dict[str, Any]) -> dict[str, Any]:
        o = type(self).__name__
        return {
            "radius": _real(o, "radius", hyper["radius"], lo=0, lo_open=True),
            "threshold": _real(o, "threshold", hyper["threshold"], lo=0),
            "wait": _integer(o, "wait", hyper["wait"], lo=0),
            "seed": _integer(o, "seed", hyper["seed"], lo=0),
        }

    def _update(self, w: np.ndarray, g: np.ndarray, state: dict[str, Any]) -> np.ndarray:
        return w - self.lr * g  # the step without a kick; step() adds the kick

    def _kick_due(self, gnorm: float) -> bool:
        hp = self._hp
        return gnorm <= hp["threshold"] and (
            not self.kicks or self.steps - self.kicks[-1] >= hp["wait"])

    def _ball(self, n: int) -> np.ndarray:
        """A uniform sample from the ball of radius r in n dimensions (kick number len(kicks))."""
        rng = np.random.default_rng([self._hp["seed"], len(self.kicks)])
        z = rng.standard_normal(n)
        u = rng.random()
        return self._hp["radius"] * u ** (1.0 / n) * z / np.linalg.norm(z)

    def step(self) -> None:
        """One update: every parameter with a gradient, checked first (nothing half-changed)."""
        todo = self._grads_to_apply()
        gnorm = float(np.sqrt(sum(np.vdot(g, g).real for _, _, g in todo)))
        kick = None
        if todo and self._kick_due(gnorm):
            kick = self._ball(sum(g.size for _, _, g in todo))
        start = 0
        for i, p, g in todo:
            st = self.state[i]
            st["step"] += 1
            new = self._update(np.asarray(p.data), g, st)
            if kick is not None:
                new = new + kick[start:start + g.size].reshape(g.shape).astype(p.dtype)
                start += g.size
            p.assign(new)
        if kick is not None:
            self.kicks.append(self.steps)
        self.steps += 1

    # -- the kicks are part of the state -------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The base class's keys, plus ``"steps"`` (an int) and ``"kicks"`` (an int array).

        Examples
        --------
        >>> import microgd as mg
        >>> from microgd import optim
        >>> sorted(optim.PerturbedGD([mg.Value(1.0)], lr=0.1).state_dict())
        ['kicks', 'lr', 'radius', 'seed', 'state.0.step', 'steps', 'threshold', 'wait']
        """
        out = super().state_dict()
        out["steps"] = self.steps
        out["kicks"] = np.array(self.kicks, dtype=np.int64)
        return out

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore a :meth:`state_dict`; every key is checked first, nothing half-loaded."""
        where = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"{where}: expected a dict, got {type(state_dict).__name__}")
        d = dict(state_dict)
        problems = [f"missing keys {[k for k in ('steps', 'kicks') if k not in d]}"] \
            if "steps" not in d or "kicks" not in d else []
        steps = d.pop("steps", 0)
        kicks = np.asarray(d.pop("kicks", np.zeros(0, dtype=np.int64)))
        try:
            steps = _integer(type(self).__name__, "steps", steps, lo=0)
        except (TypeError, ValueError) as exc:
            problems.append(str(exc).split(": ", 1)[-1])
        ok = (kicks.ndim == 1 and (kicks.size == 0 or kicks.dtype.kind in "iu")
              and bool(np.all(np.diff(kicks) > 0)) and bool(np.all(kicks >= 0))
              and (kicks.size == 0 or int(kicks[-1]) < steps))
        if not ok:
            problems.append(f"'kicks' must be increasing step numbers below steps={steps}, "
                            f"got {kicks!r}")
        if problems:
            raise ValueError(f"{where}: " + "; ".join(problems) + "; nothing was loaded")
        super().load_state_dict(d)
        self.steps = steps
        self.kicks = [int(k) for k in kicks]
