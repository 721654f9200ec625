"""Reductions: functions that sum, average or pick over axes (and the softmax family).

``UFUNCS``/``FUNCTIONS``/``METHODS`` as in :mod:`microgd.functions.elementwise`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from microgd import ops
from microgd.functions._common import Axis, reject
from microgd.value import Value, as_constant, normalize_axis

__all__ = ["log_softmax", "logsumexp", "max", "mean", "min", "softmax", "sum"]


def sum(x: Any, axis: Axis = None, keepdims: bool = False) -> Value:
    """Sum over ``axis`` (all axes by default), as ``numpy.sum``."""
    return ops.sum(as_constant(x), axis=normalize_axis(axis), keepdims=keepdims)


def mean(x: Any, axis: Axis = None, keepdims: bool = False) -> Value:
    """Mean over ``axis`` (all axes by default), as ``numpy.mean``."""
    return ops.mean(as_constant(x), axis=normalize_axis(axis), keepdims=keepdims)


def max(x: Any, axis: Axis = None, keepdims: bool = False) -> Value:
    """Maximum over ``axis``; the gradient is split evenly between tied entries."""
    return ops.max(as_constant(x), axis=normalize_axis(axis), keepdims=keepdims)


def min(x: Any, axis: Axis = None, keepdims: bool = False) -> Value:
    """Minimum over ``axis``; the gradient is split evenly between tied entries."""
    return ops.min(as_constant(x), axis=normalize_axis(axis), keepdims=keepdims)


def logsumexp(x: Any, axis: Axis = None, keepdims: bool = False) -> Value:
    """``log(sum(exp(x)))`` over ``axis``, computed without overflow.

    A primitive (``ops.logsumexp``): one node, whose gradient is the softmax.

    Examples
    --------
    >>> import microgd as mg
    >>> round(float(mg.logsumexp([1000.0, 1000.0]).data), 6)
    1000.693147
    """
    return ops.logsumexp(as_constant(x), axis=normalize_axis(axis), keepdims=keepdims)


def softmax(x: Any, axis: Axis = -1) -> Value:
    """``exp(x) / sum(exp(x))`` along ``axis``, stable for any magnitude of ``x``.

    Examples
    --------
    >>> import microgd as mg
    >>> mg.softmax([1000.0, 1000.0]).data.tolist()
    [0.5, 0.5]
    """
    x = as_constant(x)
    ax = normalize_axis(axis)
    try:
        shift = ops.max_shift(x, ax)
    except ValueError as exc:  # a bad axis, or an empty array
        raise ValueError(f"softmax: {exc} (input shape {x.shape})") from None
    e = ops.exp(x - shift)
    return e / ops.sum(e, axis=ax, keepdims=True)


def log_softmax(x: Any, axis: Axis = -1) -> Value:
    """``x - logsumexp(x)`` along ``axis``: log-probabilities, stable for any ``x``.

    A primitive (``ops.log_softmax``) whose VJP is ``g - softmax(x) * sum(g)``.

    Examples
    --------
    >>> import microgd as mg
    >>> p = mg.log_softmax([0.0, 0.0])
    >>> [round(v, 6) for v in p.data.tolist()]
    [-0.693147, -0.693147]
    """
    return ops.log_softmax(as_constant(x), axis=normalize_axis(axis))


def _np_reduction(name: str, fn: Any) -> Any:
    def impl(a: Any, axis: Axis = None, dtype: Any = None, out: Any = None,
             keepdims: bool = False, **rest: Any) -> Value:
        reject(name, dtype=dtype, out=out, **rest)
        return fn(a, axis=axis, keepdims=bool(keepdims))
    return impl


UFUNCS: dict[Any, Any] = {}
"""NumPy ufuncs of this family that return a Value when given one."""

FUNCTIONS: dict[Any, Any] = {
    np.sum: _np_reduction("sum", sum),
    np.mean: _np_reduction("mean", mean),
    np.max: _np_reduction("max", max),
    np.min: _np_reduction("min", min),
    np.amax: _np_reduction("max", max),
    np.amin: _np_reduction("min", min),
}
"""NumPy functions of this family that return a Value when given one."""

METHODS = ("sum", "mean", "max", "min", "logsumexp", "softmax", "log_softmax")
"""The functions of this family that are also methods ``v.NAME(...)``."""
