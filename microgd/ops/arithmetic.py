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
from microgd.ops.elementwise import LN2, _zero, log, sigmoid
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
            if b == 2 or b == 0:  # a ** 1 is a, exactly: the slope of a square is 2 a
                return b * a
            exponent = b - 1
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


# ---- smooth functions of two arrays ------------------------------------------------

# d/da log(e^a + e^b) = e^a / (e^a + e^b) = sigmoid(a - b): exact at any magnitude
# (exp(a - ans) would carry the rounding of ans, 1e-6 relative at |ans| ~ 1e10).
logaddexp: Primitive = Primitive(
    "logaddexp", np.logaddexp,
    lambda g, ans, a, b: _unbroadcast(g * sigmoid(a - b), a),
    lambda g, ans, a, b: _unbroadcast(g * sigmoid(b - a), b),
    jvps=(lambda t, ans, a, b: t * sigmoid(a - b), lambda t, ans, a, b: t * sigmoid(b - a)),
)

# log2(2^a + 2^b): d/da = 2^a / (2^a + 2^b) = sigmoid((a - b) ln 2)
logaddexp2: Primitive = Primitive(
    "logaddexp2", np.logaddexp2,
    lambda g, ans, a, b: _unbroadcast(g * sigmoid((a - b) * LN2), a),
    lambda g, ans, a, b: _unbroadcast(g * sigmoid((b - a) * LN2), b),
    jvps=(lambda t, ans, a, b: t * sigmoid((a - b) * LN2),
          lambda t, ans, a, b: t * sigmoid((b - a) * LN2)),
)


def _nonzero(h: Any) -> Any:
    """``h`` (a hypot, >= 0) with its zeros replaced by 1.

    Where ``hypot(a, b) == 0`` both a and b are 0, so ``a / h`` becomes 0: the
    gradient of hypot (and of arctan2) there is taken as 0, the subgradient of
    the norm at 0 that PyTorch gives for ``linalg.norm`` (and for ``atan2``).
    """
    zero = np.asarray(as_array(h)) == 0
    return where(1.0, h, cond=zero) if zero.any() else h


# np.hypot scales internally: no overflow for |a|, |b| up to the largest float.
hypot: Primitive = Primitive(
    "hypot", np.hypot,
    # g * (a / h), not g * a / h: a / h <= 1, while g * a can overflow.
    lambda g, ans, a, b: _unbroadcast(g * (a / _nonzero(ans)), a),
    lambda g, ans, a, b: _unbroadcast(g * (b / _nonzero(ans)), b),
    jvps=(lambda t, ans, a, b: t * (a / _nonzero(ans)),
          lambda t, ans, a, b: t * (b / _nonzero(ans))),
)


def _atan2_slope(num: Any, a: Any, b: Any) -> Any:
    """``num / (a^2 + b^2)`` as ``num / h / h`` (h = hypot(a, b)): no overflow or underflow."""
    h = _nonzero(hypot(a, b))
    return num / h / h


# arctan2(a, b) is the angle of the point (b, a): d/da = b / r^2, d/db = -a / r^2.
arctan2: Primitive = Primitive(
    "arctan2", np.arctan2,
    lambda g, ans, a, b: _unbroadcast(g * _atan2_slope(b, a, b), a),
    lambda g, ans, a, b: _unbroadcast(-g * _atan2_slope(a, a, b), b),
    jvps=(lambda t, ans, a, b: t * _atan2_slope(b, a, b),
          lambda t, ans, a, b: -t * _atan2_slope(a, a, b)),
)

# ---- NaN-ignoring maximum and minimum --------------------------------------------


def _fmask(mine: Any, other: Any, ans: Any, bigger: bool, first: bool) -> Any:
    """How much of the gradient of ``fmax`` (``bigger``) or ``fmin`` goes to ``mine``.

    As ``maximum``/``minimum`` (1 where chosen, 0.5 on ties), and where one input
    is NaN, all of it to the other (the one NumPy returns); where both are NaN,
    to the first input (NumPy returns the first NaN).
    """
    rm, ro = as_array(mine), as_array(other)
    m = _tie_mask(mine, other, ans) if bigger else _tie_mask(other, mine, ans)
    other_nan = np.isnan(ro)
    takes = other_nan if first else other_nan & ~np.isnan(rm)
    return m + takes.astype(m.dtype)


fmax: Primitive = Primitive(
    "fmax", np.fmax,
    lambda g, ans, a, b: _unbroadcast(g * _fmask(a, b, ans, True, True), a),
    lambda g, ans, a, b: _unbroadcast(g * _fmask(b, a, ans, True, False), b),
    jvps=(lambda t, ans, a, b: t * _fmask(a, b, ans, True, True),
          lambda t, ans, a, b: t * _fmask(b, a, ans, True, False)),
)

fmin: Primitive = Primitive(
    "fmin", np.fmin,
    lambda g, ans, a, b: _unbroadcast(g * _fmask(a, b, ans, False, True), a),
    lambda g, ans, a, b: _unbroadcast(g * _fmask(b, a, ans, False, False), b),
    jvps=(lambda t, ans, a, b: t * _fmask(a, b, ans, False, True),
          lambda t, ans, a, b: t * _fmask(b, a, ans, False, False)),
)

# ---- remainder -------------------------------------------------------------------


def _quotient(a: Any, b: Any) -> Any:
    """floor(a / b) as NumPy computes it alongside the remainder: a constant."""
    return np.floor_divide(as_array(a), as_array(b))


# a mod b = a - floor(a/b) * b (the sign of b, as Python's %): d/da = 1 and
# d/db = -floor(a/b), as in PyTorch and JAX (the jumps, where floor(a/b)
# changes, have measure zero).
mod: Primitive = Primitive(
    "mod", np.remainder,
    lambda g, ans, a, b: _unbroadcast(g, a),
    lambda g, ans, a, b: _unbroadcast(-g * _quotient(a, b), b),
    jvps=(lambda t, ans, a, b: t, lambda t, ans, a, b: -t * _quotient(a, b)),
)


def _truncated_quotient(a: Any, b: Any) -> Any:
    """trunc(a / b) as NumPy's division makes it (``floor_divide``, then one back
    toward zero where the remainder is nonzero and a and b differ in sign): a constant."""
    r, rb = np.fmod(as_array(a), as_array(b)), as_array(b)
    return _quotient(a, b) + ((r != 0) & ((r < 0) != (rb < 0)))


# fmod(a, b) = a - trunc(a/b) * b (the sign of a, as C's fmod): d/da = 1 and
# d/db = -trunc(a/b), as in PyTorch and JAX (the jumps have measure zero).
fmod: Primitive = Primitive(
    "fmod", np.fmod,
    lambda g, ans, a, b: _unbroadcast(g, a),
    lambda g, ans, a, b: _unbroadcast(-g * _truncated_quotient(a, b), b),
    jvps=(lambda t, ans, a, b: t, lambda t, ans, a, b: -t * _truncated_quotient(a, b)),
)

# floor(a / b): piecewise constant in both, so derivative 0 (as PyTorch and JAX).
floor_divide: Primitive = Primitive(
    "floor_divide", np.floor_divide,
    lambda g, ans, a, b: _unbroadcast(_zero(g, ans, a), a),
    lambda g, ans, a, b: _unbroadcast(_zero(g, ans, b), b),
    jvps=(lambda t, ans, a, b: _zero(t, ans, a), lambda t, ans, a, b: _zero(t, ans, b)),
)

__all__ = [
    "add", "sub", "mul", "div", "neg", "pow", "maximum", "minimum", "where",
    "logaddexp", "logaddexp2", "hypot", "arctan2", "fmax", "fmin", "mod", "fmod",
    "floor_divide",
]
