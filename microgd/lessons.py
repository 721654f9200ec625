"""The course's running examples, defined once: its data, its losses and their minima.

The walk-through (``microgd demo``, :mod:`microgd.walkthrough`) and the
scripts in ``examples/`` import these; a function that only one script uses
stays in that script.  The lesson pages in ``docs/lessons/`` and the
notebooks write the same few lines out, so that a reader sees them.

- The toy model ``y_hat = x * w`` on ``X_DATA = [1, 2, 3]``, ``Y_DATA = [2, 4, 6]``
  (best weight w = 2): :func:`cost`, and the forms that grid search and
  divide and conquer take, :func:`mse_w` and :func:`mse_wb` (with a bias b).
- :func:`well`: a broad basin beside a narrow, deeper well, which a coarse
  grid misses (divide and conquer).
- :func:`saddle`: ``x**2 - y**2``, a saddle at the origin (minima and saddles).
- :func:`bumpy`: ``w**4 - 4 w**2 + 2 w``, a shallow local minimum on the way
  to the global one (momentum, initialization).

This module imports nothing from microgd: the losses are written with
operators and methods that Values and NumPy arrays share.

Examples
--------
>>> import microgd as mg
>>> w = mg.Value(1.0)
>>> cost(w).backward()                 # d/dw mean((x w - y)^2) = 2 (w - 2) mean(x^2)
>>> round(float(w.grad), 6)
-9.333333
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["BUMPY_GLOBAL_MIN", "BUMPY_LOCAL_MIN", "BUMPY_MAX", "X_DATA", "Y_DATA", "bumpy",
           "cost", "mse_w", "mse_wb", "saddle", "well"]

X_DATA = np.array([1.0, 2.0, 3.0])
Y_DATA = np.array([2.0, 4.0, 6.0])
# the roots of bumpy'(w) = 4 w^3 - 8 w + 2: two minima and the maximum between their basins
BUMPY_GLOBAL_MIN, BUMPY_MAX, BUMPY_LOCAL_MIN = -1.5256871, 0.2586520, 1.2670351


def cost(w: Any, x: np.ndarray = X_DATA, y: np.ndarray = Y_DATA) -> Any:
    """Mean squared error of ``y_hat = x * w`` (a Value when ``w`` is one).

    Examples
    --------
    >>> float(cost(1.0)), float(cost(2.0))
    (4.666666666666667, 0.0)
    """
    return ((x * w - y) ** 2).mean()


def mse_w(p: np.ndarray) -> float:
    """:func:`cost` at the point ``p = [w]``, as a float (the form the searches take).

    Examples
    --------
    >>> mse_w(np.array([1.0]))
    4.666666666666667
    """
    return float(cost(p[0]))


def mse_wb(p: np.ndarray) -> float:
    """Mean squared error of ``y_hat = x * w + b`` at the point ``p = [w, b]``, as a float.

    Examples
    --------
    >>> mse_wb(np.array([2.0, 0.0])), mse_wb(np.array([2.0, 1.0]))
    (0.0, 1.0)
    """
    return float(np.mean((X_DATA * p[0] + p[1] - Y_DATA) ** 2))


def well(p: np.ndarray) -> float:
    """``f(w) = 0.5 (w - 3)**2 - 4 exp(-200 (w - 0.7)**2) + 1`` at ``p = [w]``.

    A broad basin at w = 3 (f = 1) and a narrow, deeper well at w = 0.7
    (f = -0.36) that a coarse grid can step over.

    Examples
    --------
    >>> round(well(np.array([3.0])), 6), round(well(np.array([0.7])), 2)
    (1.0, -0.36)
    """
    w = p[0]
    return float(0.5 * (w - 3) ** 2 - 4 * np.exp(-200 * (w - 0.7) ** 2) + 1)


def saddle(p: Any) -> Any:
    """``f(x, y) = x**2 - y**2`` at ``p = (x, y)``: a saddle point at the origin."""
    return p[0] ** 2 - p[1] ** 2


def bumpy(w: Any) -> Any:
    """``f(w) = w**4 - 4 w**2 + 2 w``: a shallow local minimum at 1.27, the global at -1.53.

    ``w`` has shape (1,); the maximum between the two basins is at 0.26.

    Examples
    --------
    >>> round(float(bumpy(np.array([BUMPY_LOCAL_MIN]))), 4)
    -1.3102
    """
    return (w ** 4 - 4 * w ** 2 + 2 * w).sum()
