"""Activations of neural networks beyond ``sigmoid``, ``tanh`` and ``relu``: ``softplus
leaky_relu elu gelu`` (``mg.NAME`` only: NumPy has no such names).

``UFUNCS``/``FUNCTIONS``/``METHODS`` as in :mod:`microgd.functions.elementwise`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from microgd import ops
from microgd.value import Value, as_constant

__all__ = ["elu", "gelu", "leaky_relu", "softplus"]


def softplus(x: Any) -> Value:
    """``log(1 + exp(x))`` elementwise, stable for any ``x``; its derivative is ``sigmoid(x)``.

    ``x`` for large ``x`` and ``exp(x)`` (to full relative accuracy) for very
    negative ``x``; first and second derivatives stay finite and exact.

    Examples
    --------
    >>> import microgd as mg
    >>> mg.softplus([1000.0, -700.0]).data.tolist()
    [1000.0, 9.85967654375977e-305]
    """
    return ops.softplus(as_constant(x))


def leaky_relu(x: Any, slope: float = 0.01) -> Value:
    """``x`` where ``x > 0``, else ``slope * x``; the derivative at 0 is ``slope`` (as PyTorch).

    Examples
    --------
    >>> import microgd as mg
    >>> mg.leaky_relu([-2.0, 3.0], slope=0.1).data.tolist()
    [-0.2, 3.0]
    """
    if isinstance(slope, Value):
        raise TypeError("leaky_relu: slope must be a number (it is not differentiated), "
                        "got a Value")
    return ops.leaky_relu(as_constant(x), slope=float(slope))


def elu(x: Any, alpha: float = 1.0) -> Value:
    """``x`` where ``x > 0``, else ``alpha * (exp(x) - 1)``; derivative ``alpha`` at 0 (as PyTorch).

    Built from ``where`` and ``expm1`` (exact, no overflow for large ``x``).
    """
    x = as_constant(x)
    pos = np.asarray(x.data) > 0
    # expm1 only sees the non-positive part: exp of a large x would overflow, and
    # its inf would turn the masked-out gradient into nan.
    neg = ops.where(0.0, x, cond=pos)
    return ops.where(x, alpha * ops.expm1(neg), cond=pos)


_GELU_C = 2.0 * math.sqrt(2.0 / math.pi)  # 2 sqrt(2/pi): the tanh form as a sigmoid
_GELU_CUT = 100.0  # |x| beyond which sigmoid(...) is exactly 0 or 1, in both dtypes


def gelu(x: Any) -> Value:
    """GELU, tanh form: ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x**3)))``.

    The same function as PyTorch's ``gelu(x, approximate='tanh')``, computed
    as ``x * sigmoid(2 sqrt(2/pi) (x + 0.044715 x**3))`` (an identity), which
    keeps full relative accuracy for negative ``x``.  The cubic is evaluated at
    ``x`` clipped to +-100, where the sigmoid is already exactly 0 or 1, so
    neither it nor its derivatives overflow for huge ``x``.

    Examples
    --------
    >>> import microgd as mg
    >>> [f"{v:.6f}" for v in mg.gelu([-1.0, 0.0, 1.0]).data.tolist()]
    ['-0.158808', '0.000000', '0.841192']
    """
    x = as_constant(x)
    xc = ops.clip(x, lo=-_GELU_CUT, hi=_GELU_CUT)
    return x * ops.sigmoid(_GELU_C * (xc * (1.0 + 0.044715 * (xc * xc))))


UFUNCS: dict[Any, Any] = {}
"""NumPy ufuncs of this family (none)."""

FUNCTIONS: dict[Any, Any] = {}
"""NumPy functions of this family (none)."""

METHODS: tuple[str, ...] = ()
"""The functions of this family that are also methods (none)."""
