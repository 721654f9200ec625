"""What the function families share: the axis type and NumPy-argument checks."""

from __future__ import annotations

from typing import Any

import numpy as np

from microgd import ops
from microgd.value import Value, as_constant

Axis = int | tuple[int, ...] | None


def unary(prim: ops.Primitive, doc: str) -> Any:
    """The function ``NAME(x)`` of a one-input primitive, accepting arrays and numbers."""
    def fn(x: Any) -> Value:
        return prim(as_constant(x))

    fn.__name__ = fn.__qualname__ = prim.name
    fn.__doc__ = doc
    return fn


def reject(name: str, **given: Any) -> None:
    """Refuse NumPy arguments microgd does not implement (``out=``, ``dtype=``, ...)."""
    bad = [k for k, v in given.items() if v is not None and v is not np._NoValue]
    if bad:
        raise TypeError(f"numpy.{name} with {', '.join(bad)}= is not supported on microgd Values")
