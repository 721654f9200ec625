"""Optimizer races: several optimizers from one start on one function.

:func:`race` runs each optimizer from its own copy of the same start and
records where it goes: the position after every step (the start first) and
the loss there.  A racer that diverges (a loss or gradient that is NaN or
infinite, or a loss far above the start's) stops and is marked with the step
that diverged; the others run on.  The :class:`Race` it returns answers the
usual questions (who reached a tolerance first, where each one ended) and is
what :func:`microgd.viz.animate` draws.

Two kinds of race:

- a function of a point: ``f(x)`` with ``x`` a Value of shape ``(d,)``
  (a 2-D toy such as Rosenbrock), ``start`` a point;
- a model: ``f(params)`` with ``params`` a list of Values (a loss of the
  model's weights), ``start`` a list of arrays (or a Module, or its
  ``parameters()``).  Paths are then flat parameter vectors, which
  :meth:`Race.project` puts on a plane spanned by two directions.

Examples
--------
>>> import microgd as mg
>>> from microgd import optim
>>> bowl = lambda p: (p ** 2).sum()
>>> r = mg.race(bowl, {"GD": lambda ps: optim.GD(ps, lr=0.25),
...                    "too fast": lambda ps: optim.GD(ps, lr=1.5)}, [1.0, -2.0], steps=50)
>>> r.paths["GD"][:3].tolist()
[[1.0, -2.0], [0.5, -1.0], [0.25, -0.5]]
>>> r.diverged
{'GD': None, 'too fast': 10}
>>> r.steps_to(1e-6)
{'GD': 12, 'too fast': None}
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from microgd.autodiff import enable_grad, no_grad
from microgd.optim import Optimizer
from microgd.value import Value

__all__ = ["Race", "race"]

_BY = ("loss", "distance")


# ---- reading the start ------------------------------------------------------------------

def _array(x: Any) -> np.ndarray:
    """A copy of ``x`` (a Value or array-like) as a float ndarray (ints become float64)."""
    a = np.array(x.data if isinstance(x, Value) else x, copy=True)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"race: start holds {a.dtype} values, not numbers")
    return a if a.dtype.kind == "f" else a.astype(np.float64)


def _is_param_list(start: Any) -> bool:
    return (isinstance(start, (list, tuple)) and len(start) > 0
            and all(isinstance(s, (np.ndarray, Value)) for s in start))


def _read_start(start: Any) -> tuple[list[np.ndarray], bool]:
    """``(arrays, is_point)``: the start as arrays, and whether ``f`` takes one point."""
    if callable(getattr(start, "parameters", None)):  # a Module
        start = list(start.parameters())
    if _is_param_list(start):
        arrays = [_array(s) for s in start]
        if any(a.size == 0 for a in arrays):
            raise ValueError("race: a start array is empty; every parameter needs a value")
        is_point = False
    else:
        try:
            point = _array(start)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"race: start must be a point (a 1-D array of shape (d,)) or a "
                            f"list of parameter arrays, got {start!r} ({exc})") from None
        if point.ndim != 1 or point.size == 0:
            raise ValueError(
                f"race: start must be a point of shape (d,) (f takes one point), or a list "
                f"of parameter arrays (f takes a list); got an array of shape {point.shape}"
                + (" (a number: give a function of one variable the start [x])"
                   if point.ndim == 0 else ""))
        arrays, is_point = [point], True
    bad = [i for i, a in enumerate(arrays) if not np.all(np.isfinite(a))]
    if bad:
        where = "the start" if is_point else f"start arrays {bad}"
        raise ValueError(f"race: {where} holds NaN or infinite values")
    return arrays, is_point


def _check_optimizers(optimizers: Any) -> list[tuple[str, Callable[[list[Value]], Any]]]:
    if not isinstance(optimizers, Mapping):
        raise TypeError("race: optimizers must be a dict of name to factory, e.g. "
                        "{'GD': lambda ps: optim.GD(ps, lr=0.1)}; got "
                        f"{type(optimizers).__name__}")
    if not optimizers:
        raise ValueError("race: optimizers is empty; give at least one name: factory pair, "
                         "e.g. {'GD': lambda ps: optim.GD(ps, lr=0.1)}")
    out = []
    for name, factory in optimizers.items():
        if not isinstance(name, str):
            raise TypeError(f"race: optimizer names must be strings, got {name!r}")
        if isinstance(factory, Optimizer) or not callable(factory):
            raise TypeError(
                f"race: optimizers[{name!r}] must be a factory that builds an optimizer from "
                f"the parameters (lambda ps: optim.GD(ps, lr=0.1)), got "
                f"{type(factory).__name__}" + (": an optimizer already built on other "
                                                "Values" if isinstance(factory, Optimizer)
                                                else ""))
        out.append((name, factory))
    return out


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"race: {name} must be an integer >= 1, got {value!r}")
    return int(value)


# ---- one racer ---------------------------------------------------------------------------

def _flat(values: Sequence[Value]) -> np.ndarray:
    return np.concatenate([np.ravel(v.data) for v in values]).astype(np.float64)


def _loss(f: Callable[[Any], Any], arg: Any, name: str, step: int) -> Value:
    out = f(arg)
    if not isinstance(out, Value) or out.size != 1:
        what = (f"a Value of shape {out.shape}" if isinstance(out, Value)
                else f"a {type(out).__name__}")
        hint = (" (a plain number has no gradient: build it from the Values f is given)"
                if not isinstance(out, Value) else "")
        raise ValueError(f"race: f must return a Value with one element, got {what} "
                         f"(racer {name!r}, step {step}){hint}")
    return out if out.ndim == 0 else out.sum()


def _grad_finite(params: Sequence[Value]) -> bool:
    return all(p.grad is None or bool(np.all(np.isfinite(p.grad))) for p in params)


def _run(f: Callable[[Any], Any], name: str, factory: Callable[[list[Value]], Any],
         start: list[np.ndarray], is_point: bool, steps: int,
         divergence_factor: float) -> tuple[np.ndarray, np.ndarray, int | None]:
    """One racer: (path, losses, diverged step or None)."""
    params = [Value(a.copy()) for a in start]
    opt = factory(params)
    if not isinstance(opt, Optimizer):
        raise TypeError(f"race: the factory for {name!r} returned a {type(opt).__name__}, not "
                        "an optimizer (microgd.optim.Optimizer); it should build one from its "
                        "argument: lambda ps: optim.GD(ps, lr=0.1)")
    if {id(p) for p in opt.params} != {id(p) for p in params}:
        raise ValueError(f"race: the optimizer built for {name!r} does not update the Values "
                         "it was given; build it from the factory's argument "
                         "(lambda ps: optim.GD(ps, lr=0.1)), not from other Values")
    arg = params[0] if is_point else params
    path, losses = [_flat(params)], []
    diverged = None
    limit = math.inf
    with enable_grad(), np.errstate(all="ignore"):
        loss = _loss(f, arg, name, 0)
        for k in range(steps + 1):
            value = float(loss.data)
            losses.append(value)
            if k == 0:
                if not math.isfinite(value):
                    raise ValueError(f"race: f at the start is {value}; start where f is "
                                     "finite")
                limit = divergence_factor * max(abs(value), 1.0)
            elif not math.isfinite(value) or value > limit:
                diverged = k
                break
            if k == steps:
                break
            opt.zero_grad()
            loss.backward()
            if not _grad_finite(params):
                if k == 0:
                    raise ValueError("race: the gradient of f at the start is not finite; "
                                     "start where f is differentiable")
                diverged = k
                break
            opt.step()
            row = _flat(params)
            if not np.all(np.isfinite(row)):
                diverged = k + 1  # the step left the floats: no point to record
                break
            path.append(row)
            loss = _loss(f, arg, name, k + 1)
    return np.array(path), np.array(losses), diverged


# ---- the result ----------------------------------------------------------------------------

@dataclass(eq=False)
class Race:
    """Where each optimizer of a :func:`race` went.

    Attributes
    ----------
    f : callable
        The function raced on.
    names : list of str
        The racers, in the order given.
    start : numpy.ndarray
        The common start as a flat float64 vector.
    shapes : list of tuple or None
        The parameter shapes of a model race (None when ``f`` takes one point).
    steps : int
        The number of steps asked for.
    paths : dict of str to numpy.ndarray
        Each racer's positions, shape ``(n + 1, d)`` (flat vectors, float64):
        the start, then the position after each of its ``n`` steps (``n`` is
        ``steps`` unless it diverged).
    losses : dict of str to numpy.ndarray
        ``f`` at each row of the path, shape ``(n + 1,)``; the last one is
        above the divergence limit or not finite when the racer diverged.
    diverged : dict of str to int or None
        None, or the step ``k`` that diverged: it led to a point where the
        loss or gradient is not finite or the loss is too large (the path's
        last row; a point that is not finite itself is not recorded).
    minimum : numpy.ndarray or None
        A known minimizer (flat), if the race was given one; ``f_star`` is
        ``f`` there, used by :meth:`errors` and :meth:`steps_to`.
    """

    f: Callable[[Any], Any]
    names: list[str]
    start: np.ndarray
    shapes: list[tuple[int, ...]] | None
    steps: int
    paths: dict[str, np.ndarray] = field(default_factory=dict)
    losses: dict[str, np.ndarray] = field(default_factory=dict)
    diverged: dict[str, int | None] = field(default_factory=dict)
    minimum: np.ndarray | None = None
    f_star: float | None = None

    def __repr__(self) -> str:
        return (f"Race({', '.join(self.names)}; {self.steps} steps, "
                f"{self.dim} {'parameters' if self.shapes is not None else 'dimensions'})")

    @property
    def dim(self) -> int:
        """The number of coordinates of a position (the length of a path's rows)."""
        return int(self.start.size)

    @property
    def final_loss(self) -> dict[str, float]:
        """Each racer's last loss (at the end of its path)."""
        return {n: float(self.losses[n][-1]) for n in self.names}

    def point(self, name: str, step: int = -1) -> Any:
        """A racer's position at ``step`` (default: its last): an array of shape ``(d,)``,
        or for a model race the list of parameter arrays."""
        if name not in self.paths:
            raise KeyError(f"Race.point: no racer {name!r}; the racers are {self.names}")
        row = self.paths[name][step]
        return row.copy() if self.shapes is None else _unflatten(row, self.shapes)

    def errors(self, by: str = "loss", relative: bool = False) -> dict[str, np.ndarray]:
        """How far each racer is from done, at every row of its path.

        Parameters
        ----------
        by : {'loss', 'distance'}, default 'loss'
            ``'loss'``: the loss minus ``f_star`` (the loss itself when the race
            was given no ``minimum``).  ``'distance'``: the Euclidean distance
            to ``minimum`` (which the race must have been given).
        relative : bool, default False
            Divide by the error at the start.
        """
        if by not in _BY:
            raise ValueError(f"Race.errors: by must be one of {_BY}, got {by!r}")
        out = {}
        for n in self.names:
            if by == "loss":
                e = self.losses[n] - (self.f_star or 0.0)
            else:
                if self.minimum is None:
                    raise ValueError("Race.errors: by='distance' needs the race's minimum; "
                                     "pass minimum= to mg.race")
                e = np.linalg.norm(self.paths[n] - self.minimum, axis=1)
            if relative:
                if e[0] == 0:
                    raise ValueError(f"Race.errors: the start's error by {by!r} is 0; "
                                     "relative errors are undefined")
                e = e / abs(e[0])
            out[n] = e
        return out

    def steps_to(self, tol: float, by: str = "loss",
                 relative: bool = False) -> dict[str, int | None]:
        """The first step at which each racer's error is at most ``tol`` (None if never).

        The error is :meth:`errors` ``(by, relative)``: with ``by='loss'`` the
        loss minus ``f_star`` (or the loss), with ``by='distance'`` the
        distance to the minimum; step 0 is the start.  A racer that diverged
        before reaching ``tol`` gets None.
        """
        if not (isinstance(tol, numbers.Real) and math.isfinite(tol)):
            raise ValueError(f"Race.steps_to: tol must be a finite number, got {tol!r}")
        out: dict[str, int | None] = {}
        for n, e in self.errors(by, relative).items():
            hit = np.flatnonzero(e <= tol)
            out[n] = int(hit[0]) if len(hit) else None
        return out

    def summary(self, tol: float | None = None, by: str = "loss",
                relative: bool = False) -> str:
        """A table, one line per racer: steps taken, final loss, divergence, and the steps
        to ``tol`` when given."""
        reached = self.steps_to(tol, by, relative) if tol is not None else {}
        width = max(len(n) for n in self.names)
        lines = []
        for n in self.names:
            line = (f"{n:<{width}}  {len(self.paths[n]) - 1:>5} steps  "
                    f"final loss {self.losses[n][-1]:.4g}")
            if tol is not None:
                k = reached[n]
                line += f"  steps to {tol:g}: {'-' if k is None else k}"
            if self.diverged[n] is not None:
                line += f"  diverged at step {self.diverged[n]}"
            lines.append(line)
        return "\n".join(lines)

    # -- the plane pictures are drawn on -----------------------------------------------
    def _flat_like(self, d: Any, what: str) -> np.ndarray:
        if (isinstance(d, (list, tuple)) and self.shapes is not None
                and len(d) == len(self.shapes)
                and not any(isinstance(x, numbers.Number) for x in d)):
            arrays = [np.asarray(x.data if isinstance(x, Value) else x, dtype=np.float64)
                      for x in d]
            got = [a.shape for a in arrays]
            if got != [tuple(s) for s in self.shapes]:
                raise ValueError(f"race: {what} has shapes {got}, the parameters "
                                 f"{[tuple(s) for s in self.shapes]}")
            return np.concatenate([a.ravel() for a in arrays])
        v = np.asarray(d.data if isinstance(d, Value) else d, dtype=np.float64)
        if v.size != self.dim or (self.shapes is None and v.shape != (self.dim,)):
            want = (f"a list of arrays shaped {[tuple(s) for s in self.shapes]} or a flat "
                    f"vector of {self.dim}" if self.shapes is not None
                    else f"an array of shape ({self.dim},)")
            raise ValueError(f"race: {what} has shape {v.shape}; it must be {want}")
        return v.ravel()

    def plane(self, directions: Any, center: Any = None) -> tuple[np.ndarray, np.ndarray,
                                                                  np.ndarray]:
        """``(center, d1, d2)`` as flat vectors, checked (default center: the start)."""
        try:
            d1, d2 = directions
        except (TypeError, ValueError):
            raise ValueError("Race: directions must be a pair (d1, d2)") from None
        u, v = self._flat_like(d1, "direction d1"), self._flat_like(d2, "direction d2")
        nu, nv = np.linalg.norm(u), np.linalg.norm(v)
        if not (np.isfinite(nu) and np.isfinite(nv)) or nu == 0 or nv == 0:
            raise ValueError("Race: a direction is zero or not finite")
        if abs(u @ v) > (1 - 1e-9) * nu * nv:
            raise ValueError("Race: the two directions are parallel; they must span a plane")
        c = self.start.copy() if center is None else self._flat_like(center, "center")
        return c, u, v

    def project(self, directions: Any = None, center: Any = None) -> dict[str, np.ndarray]:
        """Each path's coordinates ``(alpha, beta)`` in the plane ``center + alpha*d1 + beta*d2``.

        The least-squares coordinates (the orthogonal projection onto the
        plane), so the directions need not be orthogonal or normalized.
        Without ``directions`` a race in two dimensions gives its paths as they are.

        Returns
        -------
        dict of str to numpy.ndarray
            Shape ``(n + 1, 2)`` per racer.
        """
        return {n: self._coordinates(self.paths[n], directions, center) for n in self.names}

    def _coordinates(self, rows: np.ndarray, directions: Any, center: Any) -> np.ndarray:
        if directions is None:
            if self.dim != 2:
                raise ValueError(f"Race.project: the race has {self.dim} coordinates; pass "
                                 "directions=(d1, d2) to project its paths on a plane")
            return rows.copy()
        c, u, v = self.plane(directions, center)
        coords, *_ = np.linalg.lstsq(np.stack([u, v], axis=1), (rows - c).T, rcond=None)
        return coords.T

    def bounds(self, margin: float = 0.1, directions: Any = None,
               center: Any = None) -> list[tuple[float, float]]:
        """A plotting box ``[(xlo, xhi), (ylo, yhi)]`` around the paths (projected when
        ``directions`` are given), widened by ``margin`` times its size on each side.

        A racer that diverged counts only its points with a loss no higher
        than at the start, so one runaway does not shrink the others to a dot.
        """
        coords = self.project(directions, center)
        keep = []
        for n in self.names:
            c = coords[n]
            if self.diverged[n] is not None:
                c = c[self.losses[n][: len(c)] <= self.losses[n][0]]
            keep.append(c[np.all(np.isfinite(c), axis=1)])
        pts = np.concatenate(keep)
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        size = np.maximum(hi - lo, 1e-3 * np.maximum(1.0, np.abs(pts).max(axis=0)))
        size = np.maximum(size, size.max() * 0.05)  # a straight-line race still gets a box
        lo, hi = lo - margin * size, hi + margin * size
        flat = hi - lo <= 0
        lo[flat], hi[flat] = lo[flat] - 1, hi[flat] + 1
        return [(float(lo[i]), float(hi[i])) for i in range(2)]

    def loss_at(self, points: Any) -> np.ndarray:
        """``f`` at each row of ``points`` (flat positions, shape ``(M, d)``), under no_grad."""
        pts = np.asarray(points, dtype=np.float64)
        if pts.ndim != 2 or pts.shape[1] != self.dim:
            raise ValueError(f"Race.loss_at: points must have shape (M, {self.dim}), got "
                             f"{pts.shape}")
        out = np.empty(len(pts))
        with no_grad(), np.errstate(all="ignore"):
            for i, row in enumerate(pts):
                if self.shapes is None:
                    arg: Any = Value(row, requires_grad=False)
                else:
                    arg = [Value(a, requires_grad=False) for a in _unflatten(row, self.shapes)]
                y = self.f(arg)
                out[i] = float(np.asarray(y.data if isinstance(y, Value) else y).reshape(()))
        return out


def _unflatten(row: np.ndarray, shapes: Sequence[tuple[int, ...]]) -> list[np.ndarray]:
    out, i = [], 0
    for s in shapes:
        n = int(np.prod(s, dtype=np.int64))
        out.append(row[i:i + n].reshape(s).copy())
        i += n
    return out


# ---- the race ------------------------------------------------------------------------------

def race(f: Callable[[Any], Any], optimizers: Mapping[str, Callable[[list[Value]], Any]],
         start: Any, steps: int = 200, minimum: Any = None,
         divergence_factor: float = 1e6) -> Race:
    """Race several optimizers from one start on one function.

    Each racer gets fresh Values holding a copy of ``start``, builds its
    optimizer from them and takes ``steps`` steps (zero_grad, loss,
    backward, step), recording its position after each step and ``f`` there.
    ``start`` itself is never changed.

    Parameters
    ----------
    f : callable
        The function to minimize: ``f(x)`` for a point ``x`` (a Value of
        shape ``(d,)``) when ``start`` is a point; ``f(params)`` for a list
        of Values when ``start`` is a list of arrays.  Returns a Value with
        one element.
    optimizers : dict of str to callable
        Name to factory: ``factory(params)`` gets the racer's list of Values
        and returns a :class:`microgd.optim.Optimizer` on them, e.g.
        ``{'GD': lambda ps: optim.GD(ps, lr=0.1)}``.
    start : array-like of shape (d,), or list of arrays, or Module
        The common start: a point, or parameter arrays (a Module or a list
        of Values is read through ``.data``).
    steps : int, default 200
        Steps per racer, >= 1.
    minimum : array-like, optional
        A known minimizer (a point, or a list of arrays like ``start``), for
        :meth:`Race.errors` and :meth:`Race.steps_to`: distances to it, and the
        loss minus ``f(minimum)``.
    divergence_factor : float, default 1e6
        A racer stops (``race.diverged[name] = k``) at the first step ``k``
        whose loss or gradient is NaN or infinite, or whose loss is above
        ``divergence_factor * max(|f(start)|, 1)``.

    Returns
    -------
    Race

    Raises
    ------
    ValueError, TypeError
        For an empty or malformed ``optimizers``, a factory that does not
        build an optimizer on its argument, ``steps < 1``, a start that is
        not a point or a list of arrays, ``f`` not returning one number, or a
        loss or gradient that is not finite at the start.

    Examples
    --------
    >>> import microgd as mg
    >>> from microgd import optim
    >>> quad = lambda p: 0.5 * (p[0] ** 2 + 10 * p[1] ** 2)
    >>> r = mg.race(quad, {"GD": lambda ps: optim.GD(ps, lr=0.1),
    ...                    "Adam": lambda ps: optim.Adam(ps, lr=0.1)},
    ...             start=[1.0, 1.0], steps=100, minimum=[0.0, 0.0])
    >>> r.steps_to(1e-3, by="distance")
    {'GD': 66, 'Adam': 82}
    >>> print(r.summary())
    GD      100 steps  final loss 3.528e-10
    Adam    100 steps  final loss 4.743e-05
    """
    if not callable(f):
        raise TypeError(f"race: f must be a function, got {type(f).__name__}")
    racers = _check_optimizers(optimizers)
    steps = _positive_int("steps", steps)
    if not (isinstance(divergence_factor, numbers.Real) and divergence_factor > 0):
        raise ValueError(f"race: divergence_factor must be a positive number, got "
                         f"{divergence_factor!r}")
    arrays, is_point = _read_start(start)
    shapes = None if is_point else [a.shape for a in arrays]
    flat_start = np.concatenate([a.ravel() for a in arrays]).astype(np.float64)
    result = Race(f=f, names=[n for n, _ in racers], start=flat_start, shapes=shapes,
                  steps=steps)
    if minimum is not None:
        result.minimum = result._flat_like(minimum, "minimum")
        result.f_star = float(result.loss_at(result.minimum[None, :])[0])
        if not math.isfinite(result.f_star):
            raise ValueError(f"race: f at the minimum is {result.f_star}")
    for name, factory in racers:
        path, losses, div = _run(f, name, factory, arrays, is_point, steps,
                                 float(divergence_factor))
        result.paths[name], result.losses[name], result.diverged[name] = path, losses, div
    return result
