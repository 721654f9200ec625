"""Arithmetic and other elementwise functions of two arrays, under broadcasting.

Each VJP sums its gradient back to its input's shape (``_unbroadcast``); each
JVP broadcasts naturally, as the forward does.
"""

from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np

from microgd.autodiff import Primitive
from microgd.ops.elementwise import log
from microgd.ops.shape import _unbroadcast
from microgd.value import Value, as_array

add: Primitive = Primitive(
    "add", operator.add,
    lambda g, ans, a, b: _unbroadcast(g, a),
    lambda g, ans, a, b: _unbroadcast(g, b),
    linear=True,
)

sub: Primitive = Primitive(
    "sub", operator.sub,
    lambda g, ans, a, b: _unbroadcast(g, a),
    lambda g, ans, a, b: _unbroadcast(-g, b),
    linear=True,
)

mul: Primitive = Primitive(
    "mul", operator.mul,
    lambda g, ans, a, b: _unbroadcast(g * b, a),
    lambda g, ans, a, b: _unbroadcast(g * a, b),
    jvps=(lambda t, ans, a, b: t * b, lambda t, ans, a, b: a * t),
)

div: Primitive = Primitive(
    "div", operator.truediv,
    lambda g, ans, a, b: _unbroadcast(g / b, a),
    lambda g, ans, a, b: _unbroadcast(-g * ans / b, b),
    jvps=(lambda t, ans, a, b: t / b, lambda t, ans, a, b: -t * ans / b),
)

neg: Primitive = Primitive("neg", operator.neg, lambda g, ans, x: -g, linear=True)


def _pow_base_slope(a: Any, b: Any) -> Any:
    """d/da a**b = b * a**(b-1), without 0 * 0**-1 = nan where a == b == 0."""
    if not isinstance(b, Value):
        # A constant exponent: where b == 0 use a**1 instead of a**-1 (the
        # product is 0 either way).
        if isinstance(b, (int, float)):
            exponent = b - 1 if b != 0 else 1
        else:
            exponent = where(b - 1, 1.0, cond=np.asarray(b) != 0)
        return b * a ** exponent
    # A traced exponent keeps b - 1 exactly, so derivatives in b stay right;
    # only where a == b == 0 (a**b is 1 along b = 0) is the base read as 1.
    keep = (np.asarray(as_array(a)) != 0) | (np.asarray(as_array(b)) != 0)
    safe_a = a if keep.all() else where(a, 1.0, cond=keep)
    return b * safe_a ** (b - 1)


def _safe_log(a: Any) -> Any:
    # log(a), with a == 0 (where d/db a**b = a**b log a = 0 for b > 0) read as log(1).
    if type(a) in (int, float):
        return math.log(a) if a != 0 else 0.0  # a Python float stays weakly typed
    ra = as_array(a)
    return log(where(a, 1.0, cond=np.asarray(ra) != 0))


pow: Primitive = Primitive(
    "pow", operator.pow,
    lambda g, ans, a, b: _unbroadcast(g * _pow_base_slope(a, b), a),
    lambda g, ans, a, b: _unbroadcast(g * _safe_log(a) * ans, b),
    jvps=(lambda t, ans, a, b: t * _pow_base_slope(a, b),
          lambda t, ans, a, b: t * _safe_log(a) * ans),
)


def _tie_mask(a: Any, b: Any, ans: Any) -> Any:
    """1 where ``a`` was chosen, 0.5 on ties (the subgradient JAX and PyTorch use)."""
    ra, rb = as_array(a), as_array(b)
    dtype = np.result_type(as_array(ans))
    return ((ra > rb) + 0.5 * (ra == rb)).astype(dtype)


maximum: Primitive = Primitive(
    "maximum", np.maximum,
    lambda g, ans, a, b: _unbroadcast(g * _tie_mask(a, b, ans), a),
    lambda g, ans, a, b: _unbroadcast(g * _tie_mask(b, a, ans), b),
    jvps=(lambda t, ans, a, b: t * _tie_mask(a, b, ans),
          lambda t, ans, a, b: t * _tie_mask(b, a, ans)),
)

minimum: Primitive = Primitive(
    "minimum", np.minimum,
    lambda g, ans, a, b: _unbroadcast(g * _tie_mask(b, a, ans), a),
    lambda g, ans, a, b: _unbroadcast(g * _tie_mask(a, b, ans), b),
    jvps=(lambda t, ans, a, b: t * _tie_mask(b, a, ans),
          lambda t, ans, a, b: t * _tie_mask(a, b, ans)),
)


def _where_fwd(a: Any, b: Any, cond: Any) -> Any:
    return np.where(cond, a, b)


where: Primitive = Primitive(
    "where", _where_fwd,
    lambda g, ans, a, b, cond: _unbroadcast(where(g, 0.0, cond=cond), a),
    lambda g, ans, a, b, cond: _unbroadcast(where(0.0, g, cond=cond), b),
    linear=True,
)

__all__ = [
    "add", "sub", "mul", "div", "neg", "pow", "maximum", "minimum", "where",
]
