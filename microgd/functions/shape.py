"""Shape and construction: reshaping, permuting, joining, and arrays built from Values.

``UFUNCS``/``FUNCTIONS``/``METHODS`` as in :mod:`microgd.functions.elementwise`.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from microgd import ops
from microgd.functions._common import reject
from microgd.value import Value, as_constant

__all__ = ["array", "concatenate", "reshape", "stack", "transpose"]


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


def _np_reshape(a: Any, shape: Any = None, order: str = "C", *, newshape: Any = None,
                copy: Any = None) -> Value:
    if order != "C":
        raise TypeError("numpy.reshape with order= is not supported on microgd Values")
    return reshape(a, shape if shape is not None else newshape)


def _np_transpose(a: Any, axes: Any = None) -> Value:
    return transpose(a, axes)


def _np_concatenate(seq: Any, axis: int = 0, out: Any = None, **rest: Any) -> Value:
    reject("concatenate", out=out, **rest)
    return concatenate(seq, axis=axis)


def _np_stack(seq: Any, axis: int = 0, out: Any = None, **rest: Any) -> Value:
    reject("stack", out=out, **rest)
    return stack(seq, axis=axis)


UFUNCS: dict[Any, Any] = {}
"""NumPy ufuncs of this family that return a Value when given one."""

FUNCTIONS: dict[Any, Any] = {
    np.reshape: _np_reshape,
    np.transpose: _np_transpose,
    np.concatenate: _np_concatenate,
    np.stack: _np_stack,
}
"""NumPy functions of this family that return a Value when given one."""

METHODS = ("reshape", "transpose")
"""The functions of this family that are also methods ``v.NAME(...)``."""
