"""Elementwise functions: one array in, one array of the same shape out (or two, broadcast).

Each is a primitive of ``microgd.ops`` (``elementwise``, ``arithmetic``) or an
exact composite of them.  ``UFUNCS`` and ``FUNCTIONS`` map NumPy's own objects
to these, so ``np.exp(v)`` on a Value is ``mg.exp(v)``; ``METHODS`` are also
``v.NAME(...)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from microgd import ops
from microgd.functions._common import reject, unary
from microgd.value import Value, as_array, as_constant

__all__ = ["abs", "clip", "cos", "exp", "log", "maximum", "minimum", "relu", "sigmoid", "sin",
           "sqrt", "tanh", "where"]

exp = unary(ops.exp, "Elementwise e**x.")
log = unary(ops.log, "Elementwise natural logarithm.")
sqrt = unary(ops.sqrt, "Elementwise square root.")
sin = unary(ops.sin, "Elementwise sine.")
cos = unary(ops.cos, "Elementwise cosine.")
tanh = unary(ops.tanh, "Elementwise hyperbolic tangent.")
sigmoid = unary(ops.sigmoid, "Elementwise logistic function 1 / (1 + exp(-x)), stable for any x.")
relu = unary(ops.relu, "Elementwise max(x, 0); its derivative at 0 is taken as 0.")
abs = unary(ops.abs, "Elementwise |x|; its derivative at 0 is taken as 0.")


def clip(x: Any, lo: float | None = None, hi: float | None = None) -> Value:
    """Limit values to ``[lo, hi]``; the gradient is 1 inside (bounds included), 0 outside."""
    return ops.clip(as_constant(x), lo=lo, hi=hi)


def maximum(a: Any, b: Any) -> Value:
    """Elementwise maximum; ties split the gradient evenly."""
    return ops.maximum(a if isinstance(b, Value) else as_constant(a), b)


def minimum(a: Any, b: Any) -> Value:
    """Elementwise minimum; ties split the gradient evenly."""
    return ops.minimum(a if isinstance(b, Value) else as_constant(a), b)


def where(cond: Any, a: Any, b: Any) -> Value:
    """``a`` where ``cond`` is true, else ``b`` (broadcast together); ``cond`` is a constant."""
    cond = np.asarray(as_array(cond), dtype=bool)
    return ops.where(a if isinstance(b, Value) else as_constant(a), b, cond=cond)


def _np_where(cond: Any, *ab: Any) -> Value:
    if len(ab) != 2:
        raise TypeError("numpy.where needs (cond, a, b) on microgd Values")
    return where(cond, *ab)


def _np_clip(a: Any, a_min: Any = None, a_max: Any = None, out: Any = None, *,
             min: Any = None, max: Any = None, **rest: Any) -> Value:
    reject("clip", out=out, **rest)
    lo = a_min if a_min is not None else min
    hi = a_max if a_max is not None else max
    return clip(a, as_array(lo), as_array(hi))


UFUNCS: dict[Any, Any] = {
    np.add: ops.add, np.subtract: ops.sub, np.multiply: ops.mul, np.divide: ops.div,
    np.negative: ops.neg, np.power: ops.pow, np.exp: ops.exp, np.log: ops.log,
    np.sqrt: ops.sqrt, np.sin: ops.sin, np.cos: ops.cos, np.tanh: ops.tanh,
    np.absolute: ops.abs, np.maximum: ops.maximum, np.minimum: ops.minimum,
}
"""NumPy ufuncs of this family that return a Value when given one."""

FUNCTIONS: dict[Any, Any] = {np.where: _np_where, np.clip: _np_clip}
"""NumPy functions of this family that return a Value when given one."""

METHODS = ("exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu", "abs", "clip")
"""The functions of this family that are also methods ``v.NAME(...)``."""
