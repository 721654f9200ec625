"""NumPy's own functions on Values, and the methods ``v.NAME(...)``.

NumPy hands a ufunc call on a Value to ``Value.__array_ufunc__`` and a function
call (``np.sum(v)``, ``np.concatenate([v, w])``) to ``Value.__array_function__``;
both look the NumPy object up in the tables filled here.  The methods
``v.exp()``, ``v.sum(axis=0)``, ... are the functions ``microgd.NAME``
themselves, set on the class: each operation is written once, in ``functions``.

Importing this module registers everything; ``microgd/__init__.py`` does it,
as the pictures layer registers the SVG renderer.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from microgd import functions as F
from microgd import ops
from microgd.value import Value, as_array

Axis = int | tuple[int, ...] | None


def _reject(name: str, **given: Any) -> None:
    bad = [k for k, v in given.items() if v is not None and v is not np._NoValue]
    if bad:
        raise TypeError(f"numpy.{name} with {', '.join(bad)}= is not supported on microgd Values")


def _np_reduction(name: str, fn: Any) -> Any:
    def impl(a: Any, axis: Axis = None, dtype: Any = None, out: Any = None,
             keepdims: bool = False, **rest: Any) -> Value:
        _reject(name, dtype=dtype, out=out, **rest)
        return fn(a, axis=axis, keepdims=bool(keepdims))
    return impl


def _np_reshape(a: Any, shape: Any = None, order: str = "C", *, newshape: Any = None,
                copy: Any = None) -> Value:
    if order != "C":
        raise TypeError("numpy.reshape with order= is not supported on microgd Values")
    return F.reshape(a, shape if shape is not None else newshape)


def _np_transpose(a: Any, axes: Any = None) -> Value:
    return F.transpose(a, axes)


def _np_concatenate(seq: Any, axis: int = 0, out: Any = None, **rest: Any) -> Value:
    _reject("concatenate", out=out, **rest)
    return F.concatenate(seq, axis=axis)


def _np_stack(seq: Any, axis: int = 0, out: Any = None, **rest: Any) -> Value:
    _reject("stack", out=out, **rest)
    return F.stack(seq, axis=axis)


def _np_where(cond: Any, *ab: Any) -> Value:
    if len(ab) != 2:
        raise TypeError("numpy.where needs (cond, a, b) on microgd Values")
    return F.where(cond, *ab)


def _np_clip(a: Any, a_min: Any = None, a_max: Any = None, out: Any = None, *,
             min: Any = None, max: Any = None, **rest: Any) -> Value:
    _reject("clip", out=out, **rest)
    lo = a_min if a_min is not None else min
    hi = a_max if a_max is not None else max
    return F.clip(a, as_array(lo), as_array(hi))


UFUNCS: dict[Any, Any] = {
    np.add: ops.add, np.subtract: ops.sub, np.multiply: ops.mul, np.divide: ops.div,
    np.negative: ops.neg, np.power: ops.pow, np.matmul: ops.matmul, np.exp: ops.exp,
    np.log: ops.log, np.sqrt: ops.sqrt, np.sin: ops.sin, np.cos: ops.cos,
    np.tanh: ops.tanh, np.absolute: ops.abs, np.maximum: ops.maximum,
    np.minimum: ops.minimum,
}
"""NumPy ufuncs that return a Value when given one."""

FUNCTIONS: dict[Any, Any] = {
    np.sum: _np_reduction("sum", F.sum),
    np.mean: _np_reduction("mean", F.mean),
    np.max: _np_reduction("max", F.max),
    np.min: _np_reduction("min", F.min),
    np.amax: _np_reduction("max", F.max),
    np.amin: _np_reduction("min", F.min),
    np.reshape: _np_reshape,
    np.transpose: _np_transpose,
    np.concatenate: _np_concatenate,
    np.stack: _np_stack,
    np.where: _np_where,
    np.clip: _np_clip,
    # facts about the array, not differentiable functions of it
    np.shape: lambda a: a.shape,
    np.ndim: lambda a: a.ndim,
    np.size: lambda a, axis=None: a.size if axis is None else a.shape[axis],
}
"""NumPy functions that return a Value when given one."""

METHODS = ("exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu", "abs", "sum",
           "mean", "max", "min", "reshape", "transpose", "clip", "logsumexp", "softmax",
           "log_softmax")
"""The functions ``microgd.NAME`` that are also methods ``v.NAME(...)``."""


def register() -> None:
    """Fill ``Value``'s dispatch tables and set its methods (idempotent)."""
    Value._ufuncs.update(UFUNCS)
    Value._functions.update(FUNCTIONS)
    for name in METHODS:
        setattr(Value, name, getattr(F, name))


register()
