"""The function forms ``microgd.NAME(v, ...)`` and composites built from primitives.

Composites (``softmax``, ``stack``) need no derivative code of their own: they
are written in primitives, in a form that is numerically stable and exact to
every order.  ``logsumexp`` and ``log_softmax`` are primitives themselves (as in
PyTorch; HIPS autograd does the same for logsumexp): one node each instead of
five or six, which is most of the per-step bookkeeping of a classifier's loss.
Each function accepts Values, arrays or numbers and returns a Value.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from microgd import ops
from microgd.value import Value, _axis

Axis = int | tuple[int, ...] | None


def _value(x: Any) -> Value:
    return x if isinstance(x, Value) else Value(x, requires_grad=False)


def _unary(prim: ops.Primitive, doc: str) -> Any:
    def fn(x: Any) -> Value:
        return prim(_value(x))

    fn.__name__ = fn.__qualname__ = prim.name
    fn.__doc__ = doc
    return fn


exp = _unary(ops.exp, "Elementwise e**x.")
log = _unary(ops.log, "Elementwise natural logarithm.")
sqrt = _unary(ops.sqrt, "Elementwise square root.")
sin = _unary(ops.sin, "Elementwise sine.")
cos = _unary(ops.cos, "Elementwise cosine.")
tanh = _unary(ops.tanh, "Elementwise hyperbolic tangent.")
sigmoid = _unary(ops.sigmoid, "Elementwise logistic function 1 / (1 + exp(-x)), stable for any x.")
relu = _unary(ops.relu, "Elementwise max(x, 0); its derivative at 0 is taken as 0.")
abs = _unary(ops.abs, "Elementwise |x|; its derivative at 0 is taken as 0.")


def sum(x: Any, axis: Axis = None, keepdims: bool = False) -> Value:
    """Sum over ``axis`` (all axes by default), as ``numpy.sum``."""
    return ops.sum(_value(x), axis=_axis(axis), keepdims=keepdims)


def mean(x: Any, axis: Axis = None, keepdims: bool = False) -> Value:
    """Mean over ``axis`` (all axes by default), as ``numpy.mean``."""
    return ops.mean(_value(x), axis=_axis(axis), keepdims=keepdims)


def max(x: Any, axis: Axis = None, keepdims: bool = False) -> Value:
    """Maximum over ``axis``; the gradient is split evenly between tied entries."""
    return ops.max(_value(x), axis=_axis(axis), keepdims=keepdims)


def min(x: Any, axis: Axis = None, keepdims: bool = False) -> Value:
    """Minimum over ``axis``; the gradient is split evenly between tied entries."""
    return ops.min(_value(x), axis=_axis(axis), keepdims=keepdims)


def reshape(x: Any, *shape: Any) -> Value:
    """``x`` with a new shape: ``reshape(x, 2, 3)`` or ``reshape(x, (2, 3))``."""
    return _value(x).reshape(*shape)


def transpose(x: Any, *axes: Any) -> Value:
    """Permute axes (reverse them when none are given), as ``numpy.transpose``."""
    return _value(x).transpose(*axes)


def clip(x: Any, lo: float | None = None, hi: float | None = None) -> Value:
    """Limit values to ``[lo, hi]``; the gradient is 1 inside (bounds included), 0 outside."""
    return ops.clip(_value(x), lo=lo, hi=hi)


def maximum(a: Any, b: Any) -> Value:
    """Elementwise maximum; ties split the gradient evenly."""
    return ops.maximum(a if isinstance(b, Value) else _value(a), b)


def minimum(a: Any, b: Any) -> Value:
    """Elementwise minimum; ties split the gradient evenly."""
    return ops.minimum(a if isinstance(b, Value) else _value(a), b)


def where(cond: Any, a: Any, b: Any) -> Value:
    """``a`` where ``cond`` is true, else ``b`` (broadcast together); ``cond`` is a constant."""
    cond = np.asarray(cond.data if isinstance(cond, Value) else cond, dtype=bool)
    return ops.where(a if isinstance(b, Value) else _value(a), b, cond=cond)


def concatenate(seq: Sequence[Any], axis: int = 0) -> Value:
    """Join Values along an existing axis, as ``numpy.concatenate``."""
    items = list(seq)
    if not items:
        raise ValueError("concatenate: need at least one Value to concatenate")
    if not builtins.any(isinstance(x, Value) for x in items):
        items[0] = _value(items[0])
    return ops.concatenate(*items, axis=int(axis))


def stack(seq: Sequence[Any], axis: int = 0) -> Value:
    """Join same-shaped Values along a new axis, as ``numpy.stack``."""
    items = [x if isinstance(x, Value) else _value(x) for x in seq]
    if not items:
        raise ValueError("stack: need at least one Value to stack")
    shapes = {x.shape for x in items}
    if len(shapes) > 1:
        raise ValueError(f"stack: all inputs must have the same shape, got {sorted(shapes)}")
    shape = items[0].shape
    nd = len(shape) + 1
    if not -nd <= axis < nd:
        raise ValueError(f"stack: axis {axis} is out of bounds for a result with {nd} dims")
    ax = axis % nd
    new = shape[:ax] + (1,) + shape[ax:]
    return ops.concatenate(*[ops.reshape(x, shape=new) for x in items], axis=ax)


def logsumexp(x: Any, axis: Axis = None, keepdims: bool = False) -> Value:
    """``log(sum(exp(x)))`` over ``axis``, computed without overflow.

    A primitive (``ops.logsumexp``): one node, whose gradient is the softmax.

    Examples
    --------
    >>> import microgd as mg
    >>> round(float(mg.logsumexp([1000.0, 1000.0]).data), 6)
    1000.693147
    """
    return ops.logsumexp(_value(x), axis=_axis(axis), keepdims=keepdims)


def softmax(x: Any, axis: Axis = -1) -> Value:
    """``exp(x) / sum(exp(x))`` along ``axis``, stable for any magnitude of ``x``.

    Examples
    --------
    >>> import microgd as mg
    >>> mg.softmax([1000.0, 1000.0]).data.tolist()
    [0.5, 0.5]
    """
    x = _value(x)
    ax = _axis(axis)
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
    return ops.log_softmax(_value(x), axis=_axis(axis))


# ---- NumPy's functions on Values (__array_function__) -------------------------


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
    return reshape(a, shape if shape is not None else newshape)


def _np_transpose(a: Any, axes: Any = None) -> Value:
    return transpose(a, axes)


def _np_concatenate(seq: Any, axis: int = 0, out: Any = None, **rest: Any) -> Value:
    _reject("concatenate", out=out, **rest)
    return concatenate(seq, axis=axis)


def _np_stack(seq: Any, axis: int = 0, out: Any = None, **rest: Any) -> Value:
    _reject("stack", out=out, **rest)
    return stack(seq, axis=axis)


def _np_where(cond: Any, *ab: Any) -> Value:
    if len(ab) != 2:
        raise TypeError("numpy.where needs (cond, a, b) on microgd Values")
    return where(cond, *ab)


def _np_clip(a: Any, a_min: Any = None, a_max: Any = None, out: Any = None, *,
             min: Any = None, max: Any = None, **rest: Any) -> Value:
    _reject("clip", out=out, **rest)
    lo = a_min if a_min is not None else min
    hi = a_max if a_max is not None else max
    return clip(a, _data(lo), _data(hi))


def _data(x: Any) -> Any:
    return x.data if isinstance(x, Value) else x


NUMPY_FUNCTIONS = {
    np.sum: _np_reduction("sum", sum),
    np.mean: _np_reduction("mean", mean),
    np.max: _np_reduction("max", max),
    np.min: _np_reduction("min", min),
    np.amax: _np_reduction("max", max),
    np.amin: _np_reduction("min", min),
    np.reshape: _np_reshape,
    np.transpose: _np_transpose,
    np.concatenate: _np_concatenate,
    np.stack: _np_stack,
    np.where: _np_where,
    np.clip: _np_clip,
}
"""NumPy functions that return a Value when given one."""
