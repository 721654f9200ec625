"""Hypothesis strategies for testing derivatives.

Import as ``from microgd.testing import strategies as mst``.  Everything here
draws what autodiff tests need: small shapes (``shapes``), pairs of shapes that
broadcast together (``broadcastable_shapes``), the float dtypes microgd
computes in (``dtypes``), and finite, well-scaled float arrays that can be kept
away from an op's non-differentiable points and free of ties (``arrays``).

Examples
--------
>>> from hypothesis import given, settings
>>> import microgd as mg
>>> from microgd.testing import check_grads, strategies as mst
>>> @settings(max_examples=10, deadline=None)
... @given(mst.arrays(shape=mst.shapes(), away_from=(0.0,)))
... def test_abs(x):
...     check_grads(lambda v: abs(v), (x,), order=2)
>>> test_abs()
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis.extra import numpy as hnp

__all__ = ["TINY", "arrays", "broadcastable_shapes", "dtypes", "shapes"]

TINY = 1e-6
"""Nonzero elements drawn by :func:`arrays` are at least this large in magnitude.

Hypothesis likes values such as 1e-300; they are valid floats but not
well-scaled (their squares underflow, their inverses overflow), and an
autodiff test learns nothing from them that 0 does not teach.  They become 0.
"""

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))

Shape = tuple[int, ...]


def shapes(
    min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4
) -> st.SearchStrategy[Shape]:
    """Array shapes with ``min_dims`` to ``max_dims`` axes, each ``min_side`` to ``max_side`` long.

    The default includes the 0-d shape ``()`` (a scalar) and stays small, so
    that finite differences over every element remain fast.

    Examples
    --------
    >>> from hypothesis import given
    >>> from microgd.testing import strategies as mst
    >>> @given(mst.shapes(min_dims=1, max_dims=2))
    ... def test_shape(shape):
    ...     assert 1 <= len(shape) <= 2 and all(1 <= n <= 4 for n in shape)
    >>> test_shape()
    """
    _check_dims(min_dims, max_dims, min_side, max_side)
    return hnp.array_shapes(
        min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    )


def broadcastable_shapes(
    min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4
) -> st.SearchStrategy[tuple[Shape, Shape]]:
    """Pairs of shapes that broadcast together under NumPy's rules.

    A result shape is drawn from :func:`shapes`; each shape of the pair then
    drops some leading axes and turns some of the remaining sides into 1, so
    the pairs include missing leading axes, size-1 axes on either side, and
    equal shapes.  Each shape has at least ``min_dims`` axes.

    Examples
    --------
    >>> import numpy as np
    >>> from hypothesis import given
    >>> from microgd.testing import strategies as mst
    >>> @given(mst.broadcastable_shapes())
    ... def test_pair(pair):
    ...     a, b = pair
    ...     np.broadcast_shapes(a, b)          # never raises
    >>> test_pair()
    """
    _check_dims(min_dims, max_dims, min_side, max_side)

    return _draw_pair(min_dims, max_dims, min_side, max_side)


def dtypes() -> st.SearchStrategy[np.dtype]:
    """The float dtypes microgd computes in: ``float64`` and ``float32``.

    Shrinks towards float64, whose failures are the easiest to read.

    Examples
    --------
    >>> import numpy as np
    >>> from hypothesis import given
    >>> from microgd.testing import strategies as mst
    >>> @given(mst.dtypes())
    ... def test_dtype(dtype):
    ...     assert dtype in (np.float32, np.float64)
    >>> test_dtype()
    """
    return st.sampled_from([np.dtype(np.float64), np.dtype(np.float32)])


def arrays(
    shape: Shape | int | st.SearchStrategy[Shape] = (),
    dtype: Any = np.float64,
    min_value: float = -3.0,
    max_value: float = 3.0,
    away_from: Iterable[float] = (),
    margin: float = 0.1,
    unique: bool = False,
) -> st.SearchStrategy[np.ndarray]:
    """Finite, well-scaled float arrays, optionally away from points and free of ties.

    Parameters
    ----------
    shape : tuple, int or strategy, default ()
        The array's shape, or a strategy for it such as :func:`shapes`.
    dtype : dtype or strategy, default float64
        ``float32`` or ``float64`` (or a strategy such as :func:`dtypes`).
    min_value, max_value : float
        Every element lies in ``[min_value, max_value]``.  Elements are never
        NaN, inf or subnormal, and nonzero ones are at least :data:`TINY` in
        magnitude.
    away_from : iterable of float
        Points every element stays at least ``margin`` from: an op's
        non-differentiable set (0 for ``abs`` and ``relu``, the bounds of
        ``clip``), where finite differences straddle a kink.
    margin : float, default 0.1
        The distance kept from ``away_from`` and, with ``unique``, between
        elements.  Keep it well above the finite-difference step.
    unique : bool, default False
        Keep every pair of elements at least ``margin`` apart (no ties, for
        ``max``, ``min`` and ``maximum``).  The elements must fit: an array of
        ``n`` elements needs a little more than ``(n - 1) * margin`` of room
        in the allowed range, else the draw raises ``InvalidArgument``.

    Examples
    --------
    >>> import numpy as np
    >>> from hypothesis import given
    >>> from microgd.testing import strategies as mst
    >>> @given(mst.arrays(shape=(3, 2), dtype=np.float32, away_from=(0.0,)))
    ... def test_relu_input(x):
    ...     assert x.shape == (3, 2) and x.dtype == np.float32
    ...     assert np.all(np.abs(x) >= 0.1)
    >>> test_relu_input()
    >>> @given(mst.arrays(shape=mst.shapes(max_dims=2), unique=True))
    ... def test_no_ties(x):
    ...     gaps = np.diff(np.sort(x.ravel()))
    ...     assert np.all(gaps >= 0.1)
    >>> test_no_ties()
    """
    lo, hi, margin = float(min_value), float(max_value), float(margin)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
        raise InvalidArgument(f"arrays: need finite min_value <= max_value, got {lo}, {hi}")
    if not (math.isfinite(margin) and margin >= 0):
        raise InvalidArgument(f"arrays: margin must be finite and >= 0, got {margin}")
    points = sorted(float(p) for p in away_from)
    if any(not math.isfinite(p) for p in points):
        raise InvalidArgument(f"arrays: away_from must hold finite numbers, got {points}")
    shape_st = _as_strategy(shape, _as_shape)
    dtype_st = _as_strategy(dtype, _as_dtype)

    return _draw_array(shape_st, dtype_st, lo, hi, tuple(points), margin, unique)


# ---- helpers -----------------------------------------------------------------------


# Composites are defined once, at import: building one per call costs more
# than drawing from it.
@st.composite
def _draw_array(
    draw: Any,
    shape_st: st.SearchStrategy[Shape],
    dtype_st: st.SearchStrategy[np.dtype],
    lo: float,
    hi: float,
    points: tuple[float, ...],
    margin: float,
    unique: bool,
) -> np.ndarray:
    shp = draw(shape_st)
    dt = draw(dtype_st)
    allowed = _allowed(lo, hi, points, margin, dt)
    if not allowed:
        raise InvalidArgument(
            f"arrays: no room in [{lo}, {hi}] at least {margin} away from {points}"
        )
    n = int(np.prod(shp, dtype=np.int64))
    zero_ok = lo <= 0.0 <= hi and _is_allowed(0.0, points, margin)
    if unique:
        length = sum(b - a for a, b in allowed)
        # 2 * TINY of extra gap: snapping tiny values to 0 cannot create a tie.
        gap = _widen(margin, lo, hi, dt) + 2 * TINY
        virtual = _spread(draw, n, length, gap)
        values = np.array([_place(t, allowed) for t in virtual], dtype=np.float64)
    else:
        elements = _elements(lo, hi, points, margin, dt)
        # hnp.arrays draws faster than a list of floats, and sometimes fills
        # most of the array with one value, which finds broadcasting bugs.
        values = draw(hnp.arrays(np.float64, (n,), elements=elements))
    if zero_ok:
        values[np.abs(values) < TINY] = 0.0
    values = np.clip(values, lo, hi)
    return values.astype(dt).reshape(shp)


def _check_dims(min_dims: int, max_dims: int, min_side: int, max_side: int) -> None:
    if not 0 <= min_dims <= max_dims:
        raise InvalidArgument(f"need 0 <= min_dims <= max_dims, got {min_dims}, {max_dims}")
    if not 1 <= min_side <= max_side:
        raise InvalidArgument(f"need 1 <= min_side <= max_side, got {min_side}, {max_side}")


@st.composite
def _draw_pair(
    draw: Any, min_dims: int, max_dims: int, min_side: int, max_side: int
) -> tuple[Shape, Shape]:
    full = draw(shapes(min_dims, max_dims, min_side, max_side))
    return _operand(draw, full, min_dims), _operand(draw, full, min_dims)


def _operand(draw: Any, full: Shape, min_dims: int) -> Shape:
    drop = draw(st.integers(0, max(0, len(full) - min_dims)))
    kept = full[drop:]
    ones = draw(st.lists(st.booleans(), min_size=len(kept), max_size=len(kept)))
    return tuple(1 if one else n for n, one in zip(kept, ones, strict=True))


def _as_strategy(x: Any, convert: Any) -> st.SearchStrategy[Any]:
    if isinstance(x, st.SearchStrategy):
        return x.map(convert)
    return st.just(convert(x))


def _as_shape(shape: Any) -> Shape:
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    shape = tuple(int(n) for n in shape)
    if any(n < 0 for n in shape):
        raise InvalidArgument(f"arrays: negative side in shape {shape}")
    return shape


def _as_dtype(dtype: Any) -> np.dtype:
    dt = np.dtype(dtype)
    if dt not in _FLOATS:
        raise InvalidArgument(f"arrays: dtype must be float32 or float64, got {dt}")
    return dt


def _widen(distance: float, lo: float, hi: float, dtype: np.dtype) -> float:
    # Values are placed in float64 and then rounded to dtype; a few ulps of
    # slack keep every distance at least the promised one after rounding.
    if distance == 0:
        return 0.0
    big = max(abs(lo), abs(hi), 1.0)
    return distance + 4 * float(np.spacing(dtype.type(big)))


def _is_allowed(x: float, points: Sequence[float], margin: float) -> bool:
    return all(abs(x - p) >= margin for p in points)


def _allowed(
    lo: float, hi: float, points: Sequence[float], margin: float, dtype: np.dtype
) -> list[tuple[float, float]]:
    """``[lo, hi]`` minus the open ``margin``-neighbourhoods of ``points``, as closed intervals."""
    m = _widen(margin, lo, hi, dtype)
    intervals = [(lo, hi)]
    for p in points:
        cut = []
        for a, b in intervals:
            if p + m <= a or p - m >= b or m == 0:
                cut.append((a, b))
                continue
            if a <= p - m:
                cut.append((a, p - m))
            if p + m <= b:
                cut.append((p + m, b))
        intervals = cut
    return intervals


def _place(t: float, allowed: list[tuple[float, float]]) -> float:
    """Map ``t`` in ``[0, total length]`` onto the allowed intervals, in order.

    Cutting out the excluded neighbourhoods only lengthens distances, so
    points ``margin`` apart before the mapping stay at least that far apart.
    """
    for a, b in allowed:
        if t <= b - a:
            return a + t
        t -= b - a
    return allowed[-1][1]


@functools.lru_cache(maxsize=256)
def _elements(
    lo: float, hi: float, points: tuple[float, ...], margin: float, dtype: np.dtype,
) -> st.SearchStrategy[float]:
    # Cached: tests draw from the same few element strategies over and over.
    allowed = _allowed(lo, hi, points, margin, dtype)
    length = sum(b - a for a, b in allowed)
    if length >= 0.5 * (hi - lo):
        # Mostly allowed: plain floats, so Hypothesis' favourite values (0,
        # integers, the bounds) and its shrinking towards 0 are kept; the few
        # that fall in an excluded neighbourhood move to its nearest edge.
        # (Filtering instead would reject whole arrays too often.)
        return st.floats(lo, hi, allow_nan=False, allow_infinity=False,
                         allow_subnormal=False).map(functools.partial(_nearest, allowed=allowed))
    # Mostly excluded: edges would get most of the mass, so map [0, length]
    # onto the allowed intervals instead.
    return _unit_floats(length).map(functools.partial(_place, allowed=allowed))


def _nearest(x: float, allowed: list[tuple[float, float]]) -> float:
    """The point of the allowed intervals nearest to ``x`` (``x`` itself if allowed)."""
    best, dist = x, math.inf
    for a, b in allowed:
        if a <= x <= b:
            return x
        edge = a if x < a else b
        if abs(x - edge) < dist:
            best, dist = edge, abs(x - edge)
    return best


def _unit_floats(length: float) -> st.SearchStrategy[float]:
    return st.floats(0.0, length, allow_nan=False, allow_infinity=False,
                     allow_subnormal=False)


def _spread(draw: Any, n: int, length: float, gap: float) -> list[float]:
    """``n`` positions in ``[0, length]``, each pair at least ``gap`` apart, in random order.

    Sorted positions ``z_(k) + k * gap`` with ``z`` drawn in
    ``[0, length - (n - 1) * gap]`` are exactly the arrangements with those gaps.
    """
    if n <= 1:
        return draw(st.lists(_unit_floats(length), min_size=n, max_size=n))
    room = length - (n - 1) * gap
    if room < 0:
        raise InvalidArgument(
            f"arrays: cannot keep {n} elements {gap:g} apart in a range of total length "
            f"{length:g}; use a smaller shape or margin, or a wider range"
        )
    z = sorted(draw(st.lists(_unit_floats(room), min_size=n, max_size=n)))
    spread = [min(zk + k * gap, length) for k, zk in enumerate(z)]
    order = draw(st.permutations(range(n)))
    return [spread[k] for k in order]
