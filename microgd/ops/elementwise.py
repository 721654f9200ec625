"""Elementwise functions of one array.

Their Jacobians are diagonal, so each JVP is its VJP (``elementwise=True``).
Derivative rules are written for accuracy where the textbook form loses it:
``(1 - x) * (1 + x)`` instead of ``1 - x*x`` near +-1, ``sqrt(x - 1) * sqrt(x +
1)`` instead of ``sqrt(x*x - 1)`` (no overflow for large x), ``exp(x)`` rather
than ``expm1(x) + 1``.  Functions whose derivative is zero almost everywhere
(``sign``, ``floor``, ``ceil``, ``round``, ``trunc``, ``rint``) get exactly zero, as in
PyTorch and JAX.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from microgd.autodiff import Primitive
from microgd.value import as_array

LN2 = math.log(2.0)
LN10 = math.log(10.0)

exp: Primitive = Primitive("exp", np.exp, lambda g, ans, x: g * ans, elementwise=True)
log: Primitive = Primitive("log", np.log, lambda g, ans, x: g / x, elementwise=True)
sqrt: Primitive = Primitive("sqrt", np.sqrt, lambda g, ans, x: g * 0.5 / ans, elementwise=True)
sin: Primitive = Primitive("sin", np.sin, lambda g, ans, x: g * cos(x), elementwise=True)
cos: Primitive = Primitive("cos", np.cos, lambda g, ans, x: -(g * sin(x)), elementwise=True)
tanh: Primitive = Primitive("tanh", np.tanh, lambda g, ans, x: g * (1 - ans * ans),
                            elementwise=True)


def _sigmoid_fwd(x: Any) -> Any:
    # exp(-log(1 + exp(-x))): no overflow at +-1000 and full relative accuracy
    # in both tails (1/(1+exp(-x)) overflows; 0.5*(1+tanh(x/2)) cancels).
    return np.exp(-np.logaddexp(0, -x))


sigmoid: Primitive = Primitive("sigmoid", _sigmoid_fwd, lambda g, ans, x: g * ans * (1 - ans),
                               elementwise=True)
# The mask as floats: NumPy multiplies two float arrays faster than floats by booleans
# (a quarter less time in float64); the numbers are the same.
relu: Primitive = Primitive("relu", lambda x: np.maximum(x, 0),
                            lambda g, ans, x: g * (x > 0).astype(g.dtype),
                            # g owned by the pass: masked in place, one array fewer
                            vjp_into=lambda g, ans, x: np.multiply(g, x > 0, out=g),
                            elementwise=True)
abs: Primitive = Primitive("abs", np.abs, lambda g, ans, x: g * np.sign(as_array(x)),
                           elementwise=True)


def _clip_fwd(x: Any, lo: Any, hi: Any) -> Any:
    if lo is not None and hi is not None and np.any(np.asarray(lo) > np.asarray(hi)):
        raise ValueError(f"lower bound {lo} is above upper bound {hi}")
    return np.clip(x, lo, hi)


def _inside(x: Any, lo: Any, hi: Any) -> Any:
    rx = as_array(x)
    inside = np.ones(np.shape(rx), dtype=bool)
    if lo is not None:
        inside &= rx >= lo
    if hi is not None:
        inside &= rx <= hi
    return inside


clip: Primitive = Primitive("clip", _clip_fwd, lambda g, ans, x, lo, hi: g * _inside(x, lo, hi),
                            elementwise=True)


# ---- trigonometric and hyperbolic functions, and their inverses ------------------

tan: Primitive = Primitive("tan", np.tan, lambda g, ans, x: g * (1 + ans * ans),
                           elementwise=True)
# (1 - x) * (1 + x) is exact near +-1, where 1 - x*x cancels.
arcsin: Primitive = Primitive("arcsin", np.arcsin,
                              lambda g, ans, x: g / sqrt((1 - x) * (1 + x)), elementwise=True)
arccos: Primitive = Primitive("arccos", np.arccos,
                              lambda g, ans, x: -(g / sqrt((1 - x) * (1 + x))),
                              elementwise=True)
arctan: Primitive = Primitive("arctan", np.arctan, lambda g, ans, x: g / (1 + x * x),
                              elementwise=True)
sinh: Primitive = Primitive("sinh", np.sinh, lambda g, ans, x: g * cosh(x), elementwise=True)
cosh: Primitive = Primitive("cosh", np.cosh, lambda g, ans, x: g * sinh(x), elementwise=True)
# 1 / hypot(x, 1), not 1 / sqrt(x*x + 1): x*x overflows beyond 1e154, the derivative does not.
arcsinh: Primitive = Primitive("arcsinh", np.arcsinh,
                               lambda g, ans, x: g / _arithmetic.hypot(x, 1.0),
                               elementwise=True)
# Defined for x >= 1; sqrt(x - 1) * sqrt(x + 1) neither cancels near 1 nor overflows.
arccosh: Primitive = Primitive("arccosh", np.arccosh,
                               lambda g, ans, x: g / (sqrt(x - 1) * sqrt(x + 1)),
                               elementwise=True)
# Defined for |x| < 1 (+-inf at +-1).
arctanh: Primitive = Primitive("arctanh", np.arctanh,
                               lambda g, ans, x: g / ((1 - x) * (1 + x)), elementwise=True)

# ---- exponentials and logarithms ------------------------------------------------------

exp2: Primitive = Primitive("exp2", np.exp2, lambda g, ans, x: g * ans * LN2, elementwise=True)
# exp(x), not ans + 1: for x << 0, ans + 1 keeps no correct digit of exp(x).
expm1: Primitive = Primitive("expm1", np.expm1, lambda g, ans, x: g * exp(x), elementwise=True)
log2: Primitive = Primitive("log2", np.log2, lambda g, ans, x: g / (x * LN2), elementwise=True)
log10: Primitive = Primitive("log10", np.log10, lambda g, ans, x: g / (x * LN10),
                             elementwise=True)
log1p: Primitive = Primitive("log1p", np.log1p, lambda g, ans, x: g / (1 + x),
                             elementwise=True)


def _softplus_fwd(x: Any) -> Any:
    # log(1 + exp(x)) without overflow (x for large x) and with full relative
    # accuracy in the left tail (exp(x) where that is representable).
    return np.logaddexp(0, x)


softplus: Primitive = Primitive("softplus", _softplus_fwd, lambda g, ans, x: g * sigmoid(x),
                                elementwise=True)


def _leaky_relu_fwd(x: Any, slope: float) -> Any:
    return np.where(x > 0, x, x * slope)


def _leaky_slope(x: Any, slope: float) -> Any:
    # 1 where x > 0, else slope (also at 0, as PyTorch: relu is slope 0).
    rx = as_array(x)
    return np.where(rx > 0, 1.0, slope).astype(np.result_type(rx))


leaky_relu: Primitive = Primitive("leaky_relu", _leaky_relu_fwd,
                                  lambda g, ans, x, slope: g * _leaky_slope(x, slope),
                                  elementwise=True)

# ---- piecewise constant: sign, floor, ceil, round, trunc, rint ------------------------


def _zero(g: Any, ans: Any, x: Any, **params: Any) -> Any:
    # The derivative PyTorch and JAX use: zero everywhere, also at the jumps (and
    # never 0 * g, which is nan where g is inf).
    return np.zeros(np.shape(as_array(ans)), dtype=np.result_type(as_array(ans)))


sign: Primitive = Primitive("sign", np.sign, _zero, elementwise=True)
floor: Primitive = Primitive("floor", np.floor, _zero, elementwise=True)
ceil: Primitive = Primitive("ceil", np.ceil, _zero, elementwise=True)
round: Primitive = Primitive("round", lambda x, decimals=0: np.round(x, decimals), _zero,
                             elementwise=True)
trunc: Primitive = Primitive("trunc", np.trunc, _zero, elementwise=True)
rint: Primitive = Primitive("rint", np.rint, _zero, elementwise=True)

# d/dx x**(1/3) = 1 / (3 cbrt(x)**2), from the answer: inf at 0, as sqrt's there.
cbrt: Primitive = Primitive("cbrt", np.cbrt, lambda g, ans, x: g / (3 * (ans * ans)),
                            elementwise=True)

# ---- sinc -----------------------------------------------------------------------------
#
# sinc(x) = f_0(pi x) with f_n(u) = j_n(u) / u**n (j_n the spherical Bessel
# functions).  Each f_n is smooth and even, f_n(0) = 1 / (1 * 3 * ... * (2n+1)),
# and f_n'(u) = -u f_{n+1}(u).  So the primitive takes n as a parameter and its
# derivative is the same primitive at n + 1: derivatives of every order, with no
# 0/0 at x = 0 and no cancellation near it (sin(u)/u**2 - cos(u)/u loses every
# digit as u -> 0; a Taylor series there keeps them all).


def _sinc_series(u: np.ndarray, n: int) -> np.ndarray:
    """f_n(u) = sum_k (-u^2/2)^k / (k! (2n+2k+1)!!), for |u| < n + 2."""
    term = np.full(u.shape, 1.0 / math.prod(range(1, 2 * n + 2, 2)))
    total = term.copy()
    half = -0.5 * u * u
    # |u| < n + 2 bounds the terms by (n+2)^(2k) / (2^k k! (2n+2k+1)!!): below
    # 1e-18 of the first one after 30 + 2n terms.
    for k in range(1, 30 + 2 * n):
        term *= half / (k * (2 * n + 2 * k + 1))
        total += term
    return total


def _sinc_closed(u: np.ndarray, n: int) -> np.ndarray:
    """f_n(u) from j_0, j_1 and j_{m+1} = (2m+1)/u j_m - j_{m-1}, for |u| >= n + 2."""
    j_prev = np.sin(u) / u
    if n == 0:
        return j_prev
    j = (j_prev - np.cos(u)) / u
    for m in range(1, n):
        j_prev, j = j, (2 * m + 1) / u * j - j_prev
    for _ in range(n):  # j / u**n, where u**n alone could overflow
        j = j / u
    return j


def _sinc_fwd(x: Any, n: int = 0) -> Any:
    if n == 0:
        return np.sinc(x)  # NumPy's own value, bit for bit
    arr = np.asarray(x)
    u = np.pi * arr.astype(np.float64)
    near = np.abs(u) < n + 2  # where the upward recurrence would cancel
    out = np.empty(u.shape)
    out[near] = _sinc_series(u[near], n)
    out[~near] = _sinc_closed(u[~near], n)
    return out.astype(arr.dtype if arr.dtype in (np.float32, np.float64) else np.float64)


sinc: Primitive = Primitive(
    "sinc", _sinc_fwd,
    # d/dx f_n(pi x) = -pi^2 x f_{n+1}(pi x)
    lambda g, ans, x, n=0: g * (x * sinc(x, n=n + 1)) * -(math.pi ** 2),
    elementwise=True,
)

__all__ = [
    "exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu", "abs", "clip",
    "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "arcsinh", "arccosh", "arctanh",
    "exp2", "expm1", "log2", "log10", "log1p", "softplus", "leaky_relu",
    "sign", "floor", "ceil", "round", "trunc", "rint", "cbrt", "sinc",
]

# hypot (arcsinh's derivative) lives with the two-input functions, whose module
# imports this one; the module is looked up when the rule runs, after both loaded.
from microgd.ops import arithmetic as _arithmetic  # noqa: E402
