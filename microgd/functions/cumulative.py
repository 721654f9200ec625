"""Along one axis: running sums and products, differences, the trapezoidal integral.

``UFUNCS``/``FUNCTIONS``/``METHODS`` as in :mod:`microgd.functions.elementwise`.
Cumulative products are exact where entries are 0 (see
:mod:`microgd.ops.reductions`); ``diff`` and ``trapezoid`` are linear, written
as NumPy writes them, so their numbers are NumPy's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from microgd import ops
from microgd.functions._common import axes_of, reject
from microgd.functions.reductions import _like, sum
from microgd.value import Value, as_array, as_constant

__all__ = ["cumprod", "cumsum", "diff", "trapezoid"]


def _flat_or_axis(name: str, x: Value, axis: Any) -> tuple[Value, int]:
    """``x`` and the axis a cumulative op runs along (``axis=None``: ``x`` flattened)."""
    if axis is None:
        return ops.reshape(x, shape=(-1,)), 0
    if x.ndim == 0:
        raise np.exceptions.AxisError(f"{name}: axis {axis} is out of bounds for a 0-d array")
    if not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{name}: axis must be an integer or None, got {axis!r}")
    if not -x.ndim <= axis < x.ndim:
        raise np.exceptions.AxisError(int(axis), x.ndim, msg_prefix=name)
    return x, int(axis) % x.ndim


def cumsum(x: Any, axis: int | None = None) -> Value:
    """Cumulative sum along ``axis``; ``axis=None`` flattens first, as ``numpy.cumsum``.

    Examples
    --------
    >>> import microgd as mg
    >>> mg.cumsum([[1.0, 2.0], [3.0, 4.0]]).data.tolist()
    [1.0, 3.0, 6.0, 10.0]
    """
    v, ax = _flat_or_axis("cumsum", as_constant(x), axis)
    return ops.cumsum(v, axis=ax, reverse=False)


def cumprod(x: Any, axis: int | None = None) -> Value:
    """Cumulative product along ``axis``; ``axis=None`` flattens first, as ``numpy.cumprod``.

    Exact where entries are 0, to every order (no division by ``x``).

    Examples
    --------
    >>> import microgd as mg
    >>> x = mg.Value([2.0, 0.0, 3.0])
    >>> y = mg.cumprod(x)
    >>> y.data.tolist()
    [2.0, 0.0, 0.0]
    >>> y.sum().backward()
    >>> x.grad.tolist()       # d/dx (x0 + x0 x1 + x0 x1 x2) at (2, 0, 3)
    [1.0, 8.0, 0.0]
    """
    v, ax = _flat_or_axis("cumprod", as_constant(x), axis)
    return ops.cumprod(v, axis=ax)


def _edge(name: str, value: Any, x: Value, axis: int) -> Any:
    """``prepend``/``append`` of ``diff``: a scalar becomes a slice of length 1 along ``axis``."""
    value = _like(value, x)
    if np.ndim(as_array(value)) == 0:
        shape = list(x.shape)
        shape[axis] = 1
        return ops.broadcast_to(value if isinstance(value, Value) else as_constant(value),
                                shape=tuple(shape))
    return value


def diff(a: Any, n: int = 1, axis: int = -1, prepend: Any = None, append: Any = None) -> Value:
    """The ``n``-th difference ``a[1:] - a[:-1]`` along ``axis``, as ``numpy.diff``.

    ``prepend``/``append`` (numbers, arrays or Values) are joined to ``a`` along
    ``axis`` first; a number stands for a slice of length 1.

    Examples
    --------
    >>> import microgd as mg
    >>> mg.diff([1.0, 4.0, 9.0, 16.0]).data.tolist()
    [3.0, 5.0, 7.0]
    >>> mg.diff([1.0, 4.0, 9.0, 16.0], n=2).data.tolist()
    [2.0, 2.0]
    """
    x = as_constant(a)
    if int(n) != n:
        raise TypeError(f"diff: n must be an integer, got {n!r}")
    if n == 0:  # as NumPy: a itself, prepend and append ignored
        return x
    if n < 0:
        raise ValueError(f"diff: order must be non-negative but got {n}")
    if x.ndim == 0:
        raise ValueError("diff: requires input that is at least one dimensional")
    if not -x.ndim <= axis < x.ndim:
        raise np.exceptions.AxisError(int(axis), x.ndim, msg_prefix="diff")
    ax = int(axis) % x.ndim
    if prepend is not None or append is not None:
        parts = [_edge("diff", prepend, x, ax)] if prepend is not None else []
        parts.append(x)
        if append is not None:
            parts.append(_edge("diff", append, x, ax))
        x = ops.concatenate(*parts, axis=ax)
    lead = (slice(None),) * ax
    for _ in range(int(n)):
        x = x[lead + (slice(1, None),)] - x[lead + (slice(None, -1),)]
    return x


def trapezoid(y: Any, x: Any = None, dx: float = 1.0, axis: int = -1) -> Value:
    """The integral of ``y`` along ``axis`` by the trapezoidal rule, as ``numpy.trapezoid``.

    ``x`` (the sample points: 1-D along ``axis``, or ``y``'s shape) or the
    spacing ``dx``; both ``y`` and ``x`` may be Values.  The numbers are
    NumPy's: ``sum(d * (y[1:] + y[:-1]) / 2)``.

    Examples
    --------
    >>> import microgd as mg
    >>> y = mg.Value([0.0, 1.0, 4.0])
    >>> area = mg.trapezoid(y, dx=0.5)
    >>> area.backward()
    >>> float(area.data), y.grad.tolist()
    (1.5, [0.25, 0.5, 0.25])
    """
    v = as_constant(y)
    ax = axes_of("trapezoid", axis, v.ndim)[0]
    if x is None:
        d: Any = dx
    else:
        xs = x if isinstance(x, Value) else as_constant(x)
        if xs.ndim == 1:
            if xs.shape[0] != v.shape[ax]:
                raise ValueError(f"trapezoid: x has {xs.shape[0]} points but y has "
                                 f"{v.shape[ax]} along axis {axis}")
            d = ops.reshape(diff(xs), shape=tuple(-1 if i == ax else 1
                                                   for i in range(v.ndim)))
        else:
            d = diff(xs, axis=ax)
    upper = tuple(slice(1, None) if i == ax else slice(None) for i in range(v.ndim))
    lower = tuple(slice(None, -1) if i == ax else slice(None) for i in range(v.ndim))
    return sum(d * (v[upper] + v[lower]) / 2.0, axis=ax)


def _np_cumulative(name: str, fn: Any) -> Any:
    def impl(a: Any, axis: int | None = None, dtype: Any = None, out: Any = None) -> Value:
        reject(name, dtype=dtype, out=out)
        return fn(a, axis=axis)
    return impl


def _np_diff(a: Any, n: int = 1, axis: int = -1, prepend: Any = np._NoValue,
             append: Any = np._NoValue) -> Value:
    return diff(a, n=n, axis=axis, prepend=None if prepend is np._NoValue else prepend,
                append=None if append is np._NoValue else append)


UFUNCS: dict[Any, Any] = {}
"""NumPy ufuncs of this family that return a Value when given one."""

FUNCTIONS: dict[Any, Any] = {
    np.cumsum: _np_cumulative("cumsum", cumsum),
    np.cumprod: _np_cumulative("cumprod", cumprod),
    np.diff: _np_diff,
    # trapezoid is NumPy 2's name, trapz NumPy 1's (still there, deprecated, in NumPy 2)
    **{fn: trapezoid for fn in (getattr(np, "trapezoid", None), getattr(np, "trapz", None))
       if fn is not None},
}
"""NumPy functions of this family that return a Value when given one."""

METHODS = ("cumsum", "cumprod")
"""The functions of this family that are also methods ``v.NAME(...)``."""
