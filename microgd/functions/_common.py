"""What the function families share: the axis type, axis and NumPy-argument checks."""

from __future__ import annotations

from typing import Any

import numpy as np

from microgd import ops
from microgd.autodiff import record1
from microgd.value import Value, as_constant, normalize_axis

Axis = int | tuple[int, ...] | None


def unary(prim: ops.Primitive, doc: str) -> Any:
    """The function ``NAME(x)`` of a one-input primitive, accepting arrays and numbers."""
    def fn(x: Any) -> Value:
        # A Value goes straight to the node (what prim(x) would call; it is also the
        # method v.NAME(), run per layer of a network), anything else as a constant.
        return record1(prim, x) if type(x) is Value else prim(as_constant(x))

    fn.__name__ = fn.__qualname__ = prim.name
    fn.__doc__ = doc
    return fn


def as_float64(x: Any) -> Value:
    """``x`` as a float64 Value (cast on the graph, so a float32 Value keeps its gradient),
    for the functions NumPy computes in float64 (``float_power``, ``interp``)."""
    v = as_constant(x)
    return v if v.dtype == np.float64 else ops.astype(v, dtype=np.dtype(np.float64))


def numpy_dtype(*xs: Any) -> np.dtype:
    """The dtype NumPy's promotion gives ``xs``: Values and arrays by their dtype, a Python
    number weakly (float32 stays float32), a list or tuple as the array it makes."""
    return np.result_type(*[x.dtype if isinstance(x, Value) else np.asarray(x)
                            if isinstance(x, (list, tuple)) else x for x in xs])


def reject(name: str, **given: Any) -> None:
    """Refuse NumPy arguments microgd does not implement (``out=``, ``dtype=``, ...)."""
    bad = [k for k, v in given.items() if v is not None and v is not np._NoValue]
    if bad:
        raise TypeError(f"numpy.{name} with {', '.join(bad)}= is not supported on microgd Values")


def axes_of(name: str, axis: Any, ndim: int, allow_duplicate: bool = False) -> tuple[int, ...]:
    """``axis`` (an int or a tuple) as a tuple of axes counted from 0; errors name the op."""
    try:
        return tuple(np.lib.array_utils.normalize_axis_tuple(
            normalize_axis(axis), ndim,  # type: ignore[arg-type]
            allow_duplicate=allow_duplicate))
    except np.exceptions.AxisError as exc:
        raise np.exceptions.AxisError(f"{name}: {exc}") from None
