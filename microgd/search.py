"""Derivative-free search: exhaustive grid search and coarse-to-fine (divide and conquer).

The first two lessons of the course, before any gradient: to fit ``w`` in
``y = x * w``, try many values of ``w`` and keep the one with the smallest
loss (:func:`grid_search`).  That costs ``num ** d`` evaluations for ``d``
weights, which explodes with ``d``.  Zooming in (a coarse grid, then a finer
grid in the cell around the best point, and so on; :func:`coarse_to_fine`)
reaches the same accuracy with far fewer evaluations, but it only looks near
the best *coarse* point and can miss a better minimum elsewhere.

``f`` takes a point, an ndarray of shape ``(d,)``, and returns a float, a
NumPy scalar or a 0-d :class:`microgd.Value`.  NaN values are never the best.
The points of a grid are independent: ``executor=`` spreads them over worker
processes or any :class:`concurrent.futures.Executor`
(:mod:`microgd.parallel`), with the serial results.

Examples
--------
>>> import numpy as np
>>> from microgd import search
>>> x, y = np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 6.0])
>>> mse = lambda p: np.mean((x * p[0] - y) ** 2)
>>> r = search.grid_search(mse, [(0, 4)], num=41)
>>> float(r.x[0]), float(r.value), r.evaluations
(2.0, 0.0, 41)
>>> r = search.coarse_to_fine(mse, [(0, 4)], num=11, tol=1e-6)
>>> bool(abs(r.x[0] - 2) < 1e-6), r.evaluations
(True, 83)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from microgd.parallel import ExecutorLike, map_cells

__all__ = ["SearchResult", "coarse_to_fine", "grid_search"]

# Refuse grids this large up front: the Python loop over them would run for hours.
MAX_EVALUATIONS = 10_000_000


@dataclass(eq=False)
class SearchResult:
    """The best point a search found.

    Attributes
    ----------
    x : numpy.ndarray
        The best point, shape ``(d,)``.
    value : float
        ``f(x)``.
    evaluations : int
        How many times ``f`` was called.
    rounds : int
        Grids evaluated: 1 for :func:`grid_search`, the number of zoom
        levels for :func:`coarse_to_fine`.
    """

    x: np.ndarray
    value: float
    evaluations: int
    rounds: int = 1


def _check_bounds(name: str, bounds: Any) -> np.ndarray:
    """``bounds`` as a float array of shape (d, 2), or a ValueError saying what is wrong."""
    if isinstance(bounds, (str, bytes)) or not isinstance(bounds, (Sequence, np.ndarray)):
        raise ValueError(f"{name}: bounds must be a list of (lo, hi) pairs, one per dimension "
                         f"(for 1-D write [(0, 4)]), got {bounds!r}")
    if len(bounds) == 0:
        raise ValueError(f"{name}: bounds is empty; give one (lo, hi) pair per dimension, "
                         "e.g. [(0, 4)]")
    out = np.empty((len(bounds), 2))
    for i, pair in enumerate(bounds):
        try:
            lo, hi = (float(v) for v in pair)
        except (TypeError, ValueError):
            # A bare (0, 4) lands here too: its items are numbers, not pairs.
            raise ValueError(f"{name}: bounds[{i}] must be a (lo, hi) pair of numbers, "
                             f"got {pair!r} (for 1-D write bounds=[(0, 4)])") from None
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise ValueError(f"{name}: bounds[{i}] = ({lo}, {hi}) is not finite")
        if lo > hi:
            raise ValueError(f"{name}: bounds[{i}] = ({lo}, {hi}) has lo > hi")
        out[i] = lo, hi
    return out


def _check_num(name: str, num: Any, d: int, least: int) -> list[int]:
    """Points per dimension as a list of d ints, each at least ``least``."""
    nums = list(num) if isinstance(num, (Sequence, np.ndarray)) else [num] * d
    if len(nums) != d:
        raise ValueError(f"{name}: num has {len(nums)} entries but bounds has {d} dimensions")
    for k in nums:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
            raise ValueError(f"{name}: num must be an integer (points per dimension) or a "
                             f"list of them, got {num!r}")
        if k < least:
            why = ("" if least == 2 else
                   " (with fewer, the cell around an interior best point is the whole box, "
                   "so zooming never narrows it)")
            raise ValueError(f"{name}: num must be at least {least} points per dimension, "
                             f"got {int(k)}{why}")
    return [int(k) for k in nums]


def _scalar(v: Any) -> float:
    """What f returned, as a float: a float, a NumPy scalar or a 0-d Value."""
    arr = np.asarray(getattr(v, "data", v))
    if arr.size != 1:
        raise ValueError(f"f must return a scalar, got an array of shape {arr.shape}")
    return float(arr.reshape(()))


class _At:
    """``f`` at one point, as a float: picklable, for the workers of an executor."""

    def __init__(self, f: Callable[[np.ndarray], Any]) -> None:
        self.f = f

    def __call__(self, point: tuple[float, ...]) -> float:
        # A fresh array per call: f may keep or modify what it is given.
        return _scalar(self.f(np.array(point, dtype=float)))


def _describe(point: tuple[float, ...]) -> str:
    return f"the point {list(point)}"


def _evaluate(name: str, f: Callable[[np.ndarray], Any], axes: list[np.ndarray],
              cache: dict[tuple[float, ...], float] | None = None,
              executor: ExecutorLike = None
              ) -> tuple[list[tuple[float, ...]], list[float], int]:
    """f at every point of the grid ``product(*axes)``, in C order (last axis fastest).

    Points already in ``cache`` are looked up, not evaluated; new values are
    added to it.  The others are computed on ``executor``.  Returns the
    points, their values and the number of calls.
    """
    points = list(itertools.product(*(a.tolist() for a in axes)))
    at = _At(f)
    if cache is None:
        values = map_cells(at, points, executor, name=name, describe=_describe)
        return points, values, len(points)
    new = list(dict.fromkeys(p for p in points if p not in cache))  # each point once
    cache.update(zip(new, map_cells(at, new, executor, name=name, describe=_describe),
                     strict=True))
    return points, [cache[p] for p in points], len(new)


def _best(values: list[float]) -> int | None:
    """Index of the smallest non-NaN value (first one on ties), None if all are NaN."""
    arr = np.asarray(values, dtype=float)
    candidates = np.flatnonzero(~np.isnan(arr))
    if candidates.size == 0:
        return None
    # argmin returns the first of equal minima, which is the tie rule.
    return int(candidates[np.argmin(arr[candidates])])


def _check_f(name: str, f: Any) -> None:
    if not callable(f):
        raise TypeError(f"{name}: f must be callable, got {type(f).__name__}")


def _check_size(name: str, nums: list[int]) -> None:
    total = math.prod(nums)
    if total > MAX_EVALUATIONS:
        raise ValueError(f"{name}: the grid has {' x '.join(map(str, nums))} = {total} points, "
                         f"more than {MAX_EVALUATIONS}; use fewer points per dimension "
                         "or coarse_to_fine")


def grid_search(f: Callable[[np.ndarray], Any], bounds: Sequence[tuple[float, float]],
                num: int | Sequence[int], executor: ExecutorLike = None) -> SearchResult:
    """Exhaustive search: evaluate ``f`` at every point of a grid and keep the best.

    Parameters
    ----------
    f : callable
        ``f(point)`` with ``point`` an ndarray of shape ``(d,)``; returns a
        float, a NumPy scalar or a 0-d ``Value``.
    bounds : list of (lo, hi)
        One pair per dimension, ``[(0, 4)]`` in 1-D.  ``lo == hi`` is allowed.
    num : int or list of int
        Points per dimension (``np.linspace(lo, hi, num)``, ends included),
        the same for all dimensions or one per dimension; at least 2.
    executor : None, int or concurrent.futures.Executor
        Where ``f`` runs: this process, that many local worker processes
        (``pip install microgd[parallel]``), or the Executor given; the
        result is the same.  ``f`` must then be picklable by the executor
        (any function for the local processes and Dask).

    Returns
    -------
    SearchResult
        The grid point with the smallest value; ``evaluations`` is the
        number of grid points, ``num ** d`` (every point is evaluated, even
        repeated ones from a ``lo == hi`` dimension).

    Raises
    ------
    ValueError
        For bad ``bounds`` or ``num`` (before any evaluation), a grid of more
        than ``MAX_EVALUATIONS`` points, ``f`` returning a non-scalar, or
        ``f`` being NaN at every grid point.

    Notes
    -----
    NaN values are skipped: they are never the best.  Ties go to the first
    point in grid order (C order: the last dimension varies fastest).

    Examples
    --------
    >>> import numpy as np
    >>> r = grid_search(lambda p: (p[0] - 1) ** 2 + (p[1] + 0.5) ** 2, [(-2, 2), (-2, 2)], 9)
    >>> r.x.tolist(), float(r.value), r.evaluations
    ([1.0, -0.5], 0.0, 81)
    >>> grid_search(lambda p: p[0], [(1, 0)], 5)
    Traceback (most recent call last):
    ...
    ValueError: grid_search: bounds[0] = (1.0, 0.0) has lo > hi
    """
    _check_f("grid_search", f)
    box = _check_bounds("grid_search", bounds)
    nums = _check_num("grid_search", num, len(box), least=2)
    _check_size("grid_search", nums)
    axes = [np.linspace(lo, hi, k) for (lo, hi), k in zip(box, nums, strict=True)]
    points, values, calls = _evaluate("grid_search", f, axes, executor=executor)
    i = _best(values)
    if i is None:
        raise ValueError(f"grid_search: f is NaN at all {calls} grid points")
    return SearchResult(np.array(points[i]), values[i], calls)


def _snap(new: np.ndarray, old: np.ndarray) -> np.ndarray:
    """Replace coordinates of ``new`` that are an old grid coordinate up to rounding by it.

    The centre of a zoomed grid is, mathematically, the previous best point,
    but linspace can land one ulp away; snapping makes the cache recognise it.
    """
    if len(new) < 2:
        return new
    step = abs(new[-1] - new[0]) / (len(new) - 1)
    dist = np.abs(new[:, None] - old[None, :])
    nearest = dist.argmin(axis=1)
    # Distinct grid points are at least half a step apart, so this cannot merge two.
    close = dist[np.arange(len(new)), nearest] <= 1e-6 * step
    return np.where(close, old[nearest], new)


def coarse_to_fine(f: Callable[[np.ndarray], Any], bounds: Sequence[tuple[float, float]],
                   num: int | Sequence[int] = 11, tol: float = 1e-8,
                   max_rounds: int = 100, executor: ExecutorLike = None) -> SearchResult:
    """Divide and conquer: a coarse grid, then zoom into the cell around its best point.

    Each round evaluates a ``num``-point grid (per dimension) in the current
    box, takes its best point, and makes the next box span that point's
    neighbours on the grid (one grid step either side, clipped to the box,
    so never outside the original bounds).  The box shrinks by about
    ``(num - 1) / 2`` per round; the search stops when the box is at most
    ``tol`` wide in every dimension, or after ``max_rounds`` rounds.

    It is cheap: about ``log(width / tol) / log((num - 1) / 2)`` rounds of
    ``num ** d`` points, where an equally fine grid needs
    ``(width / tol + 1) ** d``.  But it only ever looks inside the cell of the
    best coarse point, so a narrow minimum between coarse grid points is
    missed, even a lower one; see the second example below.

    Parameters
    ----------
    f : callable
        ``f(point)`` with ``point`` an ndarray of shape ``(d,)``; returns a
        float, a NumPy scalar or a 0-d ``Value``.
    bounds : list of (lo, hi)
        One pair per dimension, ``[(0, 4)]`` in 1-D.
    num : int or list of int
        Grid points per dimension in every round; at least 4 (with 3 or
        fewer, the neighbours of the middle point span the whole box).
        Odd ``num`` is cheaper: the previous best point is then the centre
        of the next grid and is not evaluated again.
    tol : float
        Stop when the box is at most this wide in every dimension.
    max_rounds : int
        Stop after this many grids in any case.
    executor : None, int or concurrent.futures.Executor
        Where each round's new points are computed (see :func:`grid_search`).

    Returns
    -------
    SearchResult
        The best point of all evaluated, its value, the number of calls of
        ``f`` and the number of rounds.

    Raises
    ------
    ValueError
        For bad ``bounds``, ``num``, ``tol`` or ``max_rounds`` (before any
        evaluation), ``f`` returning a non-scalar, or ``f`` being NaN at
        every point of the first grid.

    Notes
    -----
    ``evaluations`` counts real calls of ``f``.  Points shared with the
    previous round's grid (the corners and edges of the new box, and with odd
    ``num`` its centre) are looked up instead of evaluated again; in 1-D with
    ``num=11`` a round after the first costs 8 calls, not 11.  The search also
    stops early if a round finds only NaN (it keeps the best point so far) or
    if rounding stops the box from shrinking (``tol`` below the float
    spacing of the coordinates).

    Each zoom assumes the minimum is within one grid step of the best grid
    point.  That holds for unimodal functions in 1-D, and for well-conditioned
    ones in higher dimensions; along a narrow diagonal valley it can fail.

    Examples
    --------
    A smooth bowl, to 1e-6 with far fewer evaluations than a grid that fine:

    >>> import numpy as np
    >>> bowl = lambda p: (p[0] - 0.3) ** 2 + 2 * (p[1] + 0.7) ** 2
    >>> r = coarse_to_fine(bowl, [(-2, 2), (-2, 2)], num=11, tol=1e-6)
    >>> bool(np.allclose(r.x, [0.3, -0.7], atol=1e-6)), r.evaluations < 2000
    (True, True)

    A narrow well at w = 0.7 (value about -0.36) next to a broad basin at
    w = 3 (value 1).  A 5-point coarse grid sees only the basin:

    >>> well = lambda p: 0.5 * (p[0] - 3) ** 2 - 4 * np.exp(-200 * (p[0] - 0.7) ** 2) + 1
    >>> r = coarse_to_fine(well, [(0, 4)], num=5, tol=1e-6)
    >>> round(float(r.x[0]), 6), round(float(r.value), 6)
    (3.0, 1.0)
    >>> r = grid_search(well, [(0, 4)], num=401)
    >>> round(float(r.x[0]), 2), round(float(r.value), 2)
    (0.7, -0.36)
    """
    _check_f("coarse_to_fine", f)
    box = _check_bounds("coarse_to_fine", bounds)
    nums = _check_num("coarse_to_fine", num, len(box), least=4)
    if not (isinstance(tol, (int, float, np.integer, np.floating)) and tol > 0):
        raise ValueError(f"coarse_to_fine: tol must be a positive number, got {tol!r}")
    if isinstance(max_rounds, bool) or not isinstance(max_rounds, (int, np.integer)) \
            or max_rounds < 1:
        raise ValueError(f"coarse_to_fine: max_rounds must be a positive integer, "
                         f"got {max_rounds!r}")
    _check_size("coarse_to_fine", nums)

    best_x: tuple[float, ...] | None = None
    best_value = math.nan
    calls = rounds = 0
    cache: dict[tuple[float, ...], float] = {}
    old_axes: list[np.ndarray] | None = None
    while rounds < max_rounds:
        axes = [np.linspace(lo, hi, k) for (lo, hi), k in zip(box, nums, strict=True)]
        if old_axes is not None:
            axes = [_snap(a, o) for a, o in zip(axes, old_axes, strict=True)]
        points, values, n = _evaluate("coarse_to_fine", f, axes, cache, executor)
        calls += n
        rounds += 1
        i = _best(values)
        if i is None:
            if best_x is None:
                raise ValueError(f"coarse_to_fine: f is NaN at all {n} points of the "
                                 "first grid")
            break
        # Strictly better only: on ties the earlier point (coarser round) is kept.
        if best_x is None or values[i] < best_value:
            best_x, best_value = points[i], values[i]
        # Only the previous grid can share points with the next one (the next box
        # lies inside one of its cells), so older entries are dropped to bound memory.
        cache = dict(zip(points, values, strict=True))
        old_axes = axes
        index = np.unravel_index(i, nums)
        new_box = np.array([
            (a[max(j - 1, 0)], a[min(j + 1, k - 1)])
            for a, j, k in zip(axes, index, nums, strict=True)
        ])
        widths, new_widths = box[:, 1] - box[:, 0], new_box[:, 1] - new_box[:, 0]
        box = new_box
        if np.all(new_widths <= tol) or np.all(new_widths >= widths):
            break
    assert best_x is not None  # the first round either found a value or raised
    return SearchResult(np.array(best_x), best_value, calls, rounds)
