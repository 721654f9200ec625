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
from microgd.value import Value, as_array, as_constant, normalize_axis

Axis = int | tuple[int, ...] | None


def _unary(prim: ops.Primitive, doc: str) -> Any:
    def fn(x: Any) -> Value:
        return prim(as_constant(x))

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


def reshape(x: Any, *shape: Any) -> Value:
    """``x`` with a new shape: ``reshape(x, 2, 3)`` or ``reshape(x, (2, 3))``."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return ops.reshape(as_constant(x), shape=tuple(int(s) for s in shape))


def transpose(x: Any, *axes: Any) -> Value:
    """Permute axes (reverse them when none are given), as ``numpy.transpose``."""
    order: tuple[Any, ...] | list[Any] | None = axes
    if len(axes) == 1 and (axes[0] is None or isinstance(axes[0], (tuple, list))):
        order = axes[0]
    return ops.transpose(as_constant(x), axes=tuple(order) if order else None)


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


def concatenate(seq: Sequence[Any], axis: int = 0) -> Value:
    """Join Values along an existing axis, as ``numpy.concatenate``."""
    items = list(seq)
    if not items:
        raise ValueError("concatenate: need at least one Value to concatenate")
    if not builtins.any(isinstance(x, Value) for x in items):
        items[0] = as_constant(items[0])
    return ops.concatenate(*items, axis=int(axis))


def stack(seq: Sequence[Any], axis: int = 0) -> Value:
    """Join same-shaped Values along a new axis, as ``numpy.stack``."""
    items = [x if isinstance(x, Value) else as_constant(x) for x in seq]
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


def array(obj: Any) -> Value:
    """A Value built from nested sequences of Values and numbers (``np.array`` for Values).

    Gradients flow to every Value inside; plain numbers are constants.  The
    result is float64 unless every Value in it is float32 (or ``dtype`` says).

    Examples
    --------
    >>> import microgd as mg
    >>> a = mg.Value(2.0)
    >>> m = mg.array([[a, 1.0], [3.0, a * a]])
    >>> m.shape, m.data.tolist()
    ((2, 2), [[2.0, 1.0], [3.0, 4.0]])
    >>> (g,) = mg.gradients(m.sum(), a)
    >>> float(g.data)    # d/da (a + 1 + 3 + a**2) = 1 + 2a
    5.0
    """
    if isinstance(obj, Value):
        return obj
    if not isinstance(obj, (list, tuple)) or not _holds_value(obj):
        return Value(obj, requires_grad=False)
    items = [array(item) for item in obj]
    if not items:
        raise ValueError("array: an empty sequence holds no Values")
    shapes = {x.shape for x in items}
    if len(shapes) > 1:
        raise ValueError(f"array: the items of a sequence must have one shape (a ragged "
                         f"nested sequence cannot make an array), got {sorted(shapes)}")
    return stack(items, axis=0)


def _holds_value(obj: Any) -> bool:
    stack_ = [obj]
    while stack_:
        item = stack_.pop()
        if isinstance(item, Value):
            return True
        if isinstance(item, (list, tuple)):
            stack_.extend(item)
    return False
