"""Elementwise functions: one array in, one array of the same shape out (or two, broadcast).

Each is a primitive of ``microgd.ops`` (``elementwise``, ``arithmetic``) or an
exact composite of them.  ``UFUNCS`` and ``FUNCTIONS`` map NumPy's own objects
to these, so ``np.exp(v)`` on a Value is ``mg.exp(v)``; ``METHODS`` are also
``v.NAME(...)``.
"""

from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np

from microgd import ops
from microgd.functions._common import as_float64, numpy_dtype, reject, unary
from microgd.functions.shape import array as _array
from microgd.functions.shape import copy as _copy
from microgd.value import Value, as_array, as_constant

__all__ = ["abs", "clip", "cos", "exp", "log", "maximum", "minimum", "relu", "sigmoid", "sin",
           "sqrt", "tanh", "where",
           "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "arcsinh", "arccosh", "arctanh",
           "exp2", "expm1", "log2", "log10", "log1p", "logaddexp", "logaddexp2", "square",
           "reciprocal", "fabs", "sign", "floor", "ceil", "round", "arctan2", "hypot", "fmax",
           "fmin", "mod", "remainder", "fmod", "sinc", "deg2rad", "rad2deg",
           "trunc", "rint", "fix", "cbrt", "positive", "floor_divide", "nan_to_num", "polyval",
           "heaviside", "copysign", "float_power", "real", "imag"]

exp = unary(ops.exp, "Elementwise e**x.")
log = unary(ops.log, "Elementwise natural logarithm.")
sqrt = unary(ops.sqrt, "Elementwise square root.")
sin = unary(ops.sin, "Elementwise sine.")
cos = unary(ops.cos, "Elementwise cosine.")
tanh = unary(ops.tanh, "Elementwise hyperbolic tangent.")
sigmoid = unary(ops.sigmoid, "Elementwise logistic function 1 / (1 + exp(-x)), stable for any x.")
relu = unary(ops.relu, "Elementwise max(x, 0); its derivative at 0 is taken as 0.")
abs = unary(ops.abs, "Elementwise |x|; its derivative at 0 is taken as 0.")


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


# ---- the NumPy vocabulary: functions of one array ------------------------------------

tan = unary(ops.tan, "Elementwise tangent.")
arcsin = unary(ops.arcsin, "Elementwise inverse sine, for x in [-1, 1].")
arccos = unary(ops.arccos, "Elementwise inverse cosine, for x in [-1, 1].")
arctan = unary(ops.arctan, "Elementwise inverse tangent.")
sinh = unary(ops.sinh, "Elementwise hyperbolic sine.")
cosh = unary(ops.cosh, "Elementwise hyperbolic cosine.")
arcsinh = unary(ops.arcsinh, "Elementwise inverse hyperbolic sine (its derivative "
                             "1 / hypot(x, 1) never overflows).")
arccosh = unary(ops.arccosh, "Elementwise inverse hyperbolic cosine, for x >= 1 (NaN below, "
                             "as NumPy; the derivative is inf at 1).")
arctanh = unary(ops.arctanh, "Elementwise inverse hyperbolic tangent, for |x| < 1 "
                             "(+-inf at +-1 and NaN beyond, as NumPy).")
exp2 = unary(ops.exp2, "Elementwise 2**x.")
log2 = unary(ops.log2, "Elementwise base-2 logarithm.")
log10 = unary(ops.log10, "Elementwise base-10 logarithm.")
floor = unary(ops.floor, "Elementwise floor; its derivative is 0 everywhere (as PyTorch, JAX).")
ceil = unary(ops.ceil, "Elementwise ceiling; its derivative is 0 everywhere (as PyTorch, JAX).")
trunc = unary(ops.trunc, "Elementwise rounding toward 0; its derivative is 0 everywhere "
                         "(as PyTorch, JAX).")
fix = trunc  # numpy.fix is trunc for floats
rint = unary(ops.rint, "Elementwise rounding to the nearest integer, halves to even; its "
                       "derivative is 0 everywhere (as PyTorch, JAX).")
cbrt = unary(ops.cbrt, "Elementwise cube root, for any sign; its derivative "
                       "1 / (3 cbrt(x)**2) is inf at 0.")


def positive(x: Any) -> Value:
    """``+x`` elementwise, as ``numpy.positive``: a new Value of the same numbers, its
    derivative the identity (:func:`microgd.copy`)."""
    return _copy(x)


def expm1(x: Any) -> Value:
    """Elementwise ``exp(x) - 1``, accurate for small ``x`` (where ``exp(x) - 1`` cancels).

    Examples
    --------
    >>> import microgd as mg
    >>> float(mg.expm1(1e-20).data)
    1e-20
    """
    return ops.expm1(as_constant(x))


def log1p(x: Any) -> Value:
    """Elementwise ``log(1 + x)``, accurate for small ``x`` (where ``1 + x`` rounds).

    Examples
    --------
    >>> import microgd as mg
    >>> x = mg.Value(1e-20)
    >>> y = mg.log1p(x)
    >>> y.backward()
    >>> float(y.data), float(x.grad)
    (1e-20, 1.0)
    """
    return ops.log1p(as_constant(x))


def square(x: Any) -> Value:
    """Elementwise ``x * x``."""
    x = as_constant(x)
    return x * x


def reciprocal(x: Any) -> Value:
    """Elementwise ``1 / x``."""
    return 1.0 / as_constant(x)


def fabs(x: Any) -> Value:
    """Elementwise ``|x|`` (NumPy's float ``abs``); its derivative at 0 is taken as 0."""
    return ops.abs(as_constant(x))


def sign(x: Any) -> Value:
    """Elementwise sign (-1, 0 or 1); its derivative is 0 everywhere (as PyTorch, JAX).

    Examples
    --------
    >>> import microgd as mg
    >>> x = mg.Value([-2.0, 0.0, 3.0])
    >>> (mg.sign(x) * x).sum().backward()     # |x|, with sign(x) held constant
    >>> x.grad.tolist()
    [-1.0, 0.0, 1.0]
    """
    return ops.sign(as_constant(x))


def round(x: Any, decimals: int = 0) -> Value:
    """Round to ``decimals`` decimals (halves to even), as ``numpy.round``; derivative 0.

    Also ``numpy.round(v)``, ``numpy.around(v)`` and the method ``v.round()``.
    Python's ``round(v)`` on a one-element Value still gives a Python number.

    Examples
    --------
    >>> import microgd as mg
    >>> mg.round([0.5, 1.5, 2.675], 0).data.tolist()
    [0.0, 2.0, 3.0]
    """
    try:
        decimals = operator.index(decimals)
    except TypeError:
        raise TypeError(f"round: decimals must be an integer, got {decimals!r}") from None
    return ops.round(as_constant(x), decimals=decimals)


def sinc(x: Any) -> Value:
    """Elementwise ``sin(pi x) / (pi x)`` and 1 at 0, as ``numpy.sinc``.

    Derivatives of every order are exact and smooth through 0 (first 0,
    second ``-pi**2 / 3`` there), with no 0/0 and no cancellation near it.

    Examples
    --------
    >>> import math
    >>> import microgd as mg
    >>> d2 = mg.grad(mg.grad(mg.sinc))(0.0)
    >>> math.isclose(d2, -math.pi ** 2 / 3, rel_tol=1e-12)
    True
    """
    return ops.sinc(as_constant(x), n=0)


def deg2rad(x: Any) -> Value:
    """Degrees to radians, ``x * pi / 180``."""
    return as_constant(x) * (math.pi / 180.0)


def rad2deg(x: Any) -> Value:
    """Radians to degrees, ``x * 180 / pi``."""
    return as_constant(x) * (180.0 / math.pi)


# ---- functions of two arrays, under broadcasting ------------------------------------


def _pair(a: Any, b: Any) -> tuple[Any, Any]:
    # At least one Value, so the result is one; numbers and arrays stay constants.
    return (a if isinstance(b, Value) else as_constant(a)), b


def logaddexp(a: Any, b: Any) -> Value:
    """``log(exp(a) + exp(b))`` elementwise, without overflow or underflow.

    Its gradient is ``sigmoid(a - b)`` for ``a`` (and ``sigmoid(b - a)`` for ``b``).

    Examples
    --------
    >>> import microgd as mg
    >>> a = mg.Value(1000.0)
    >>> y = mg.logaddexp(a, 1000.0)
    >>> y.backward()
    >>> f"{float(y.data):.6f}", float(a.grad)
    ('1000.693147', 0.5)
    """
    return ops.logaddexp(*_pair(a, b))


def logaddexp2(a: Any, b: Any) -> Value:
    """``log2(2**a + 2**b)`` elementwise, without overflow or underflow."""
    return ops.logaddexp2(*_pair(a, b))


def arctan2(a: Any, b: Any) -> Value:
    """The angle of the point ``(b, a)``: ``arctan(a / b)`` in the right quadrant.

    At ``a = b = 0`` the gradient is taken as 0 (as PyTorch).
    """
    return ops.arctan2(*_pair(a, b))


def hypot(a: Any, b: Any) -> Value:
    """``sqrt(a**2 + b**2)`` elementwise, without overflow for large ``a``, ``b``.

    At ``a = b = 0`` the gradient is taken as 0, the subgradient of the norm
    there that PyTorch gives for ``linalg.norm``.

    Examples
    --------
    >>> import microgd as mg
    >>> a = mg.Value(3e300)
    >>> y = mg.hypot(a, 4e300)
    >>> y.backward()
    >>> float(y.data), f"{float(a.grad):.12f}"
    (5e+300, '0.600000000000')
    """
    return ops.hypot(*_pair(a, b))


def fmax(a: Any, b: Any) -> Value:
    """Elementwise maximum ignoring NaN: where one input is NaN, the other.

    The gradient goes to the input chosen (all of it to the non-NaN one);
    ties split it evenly, as :func:`maximum` does (``torch.fmax`` gives a tie
    all to ``a``, ``jax.numpy.fmax`` all to ``b``).

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> a = mg.Value([1.0, np.nan, 2.0])
    >>> mg.fmax(a, [0.0, 5.0, 2.0]).sum().backward()
    >>> a.grad.tolist()
    [1.0, 0.0, 0.5]
    """
    return ops.fmax(*_pair(a, b))


def fmin(a: Any, b: Any) -> Value:
    """Elementwise minimum ignoring NaN: where one input is NaN, the other.

    The gradient as for :func:`fmax`: to the input chosen, ties split evenly.
    """
    return ops.fmin(*_pair(a, b))


def mod(a: Any, b: Any) -> Value:
    """Elementwise remainder with the sign of ``b``, as ``numpy.mod`` and Python's ``%``.

    ``a - floor(a / b) * b``: its derivatives are 1 for ``a`` and
    ``-floor(a / b)`` for ``b``, as in PyTorch and JAX (the jumps, where
    ``floor(a / b)`` changes, are ignored).  Also ``v % b`` and ``a % v``.

    Examples
    --------
    >>> import microgd as mg
    >>> b = mg.Value(-2.0)
    >>> y = mg.mod(5.5, b)
    >>> y.backward()
    >>> float(y.data), float(b.grad)
    (-0.5, 3.0)
    """
    return ops.mod(*_pair(a, b))


remainder = mod  # numpy.remainder is numpy.mod


def fmod(a: Any, b: Any) -> Value:
    """Elementwise remainder with the sign of ``a``, as ``numpy.fmod`` and C's ``fmod``.

    ``a - trunc(a / b) * b``: its derivatives are 1 for ``a`` and
    ``-trunc(a / b)`` for ``b``, as in PyTorch and JAX (the jumps, where
    ``trunc(a / b)`` changes, are ignored).  Where ``a`` and ``b`` have the
    same sign it is :func:`mod`.

    Examples
    --------
    >>> import microgd as mg
    >>> b = mg.Value(2.0)
    >>> y = mg.fmod(-5.5, b)
    >>> y.backward()
    >>> float(y.data), float(b.grad)
    (-1.5, 2.0)
    """
    return ops.fmod(*_pair(a, b))


def floor_divide(a: Any, b: Any) -> Value:
    """``floor(a / b)`` elementwise, as ``numpy.floor_divide`` and Python's ``//``; its
    derivatives are 0 everywhere (it is piecewise constant), as in PyTorch and JAX."""
    return ops.floor_divide(*_pair(a, b))


def float_power(x1: Any, x2: Any) -> Value:
    """``x1 ** x2`` computed in float64, as ``numpy.float_power`` (the result is float64
    whatever the inputs' dtype)."""
    return ops.pow(as_float64(x1), as_float64(x2))


def real(x: Any) -> Value:
    """The real part, as ``numpy.real``: a Value's numbers are real, so a copy of them
    (derivative the identity); ``numpy.conj`` is the same."""
    return positive(x)


def imag(x: Any) -> np.ndarray:
    """The imaginary part, as ``numpy.imag``: zeros shaped like ``x``, a constant (a
    Value's numbers are real)."""
    v = as_constant(x)
    return np.zeros(v.shape, dtype=v.dtype)


def _divmod(x1: Any, x2: Any) -> tuple[Value, Value]:
    """``(x1 // x2, x1 % x2)``, as ``numpy.divmod`` and Python's ``divmod``."""
    return floor_divide(x1, x2), mod(x1, x2)


def heaviside(x1: Any, x2: Any) -> Value:
    """The step function: 0 where ``x1 < 0``, ``x2`` where ``x1 == 0``, 1 where
    ``x1 > 0``, as ``numpy.heaviside``.  Its derivative in ``x1`` is 0 everywhere (as
    ``sign``'s); in ``x2``, 1 where ``x1`` is 0.  NaN in ``x1`` gives NaN."""
    a = as_constant(x1)
    # (sign(x1) + 1) / 2 is 0, 1 (and NaN) exactly, and keeps x1 on the graph with
    # sign's derivative, 0, as sign(x1) itself does; x2 as given, so NumPy promotes it
    step = (ops.sign(a) + 1) * 0.5
    shape = np.broadcast_shapes(a.shape, np.shape(as_array(x2)))
    return ops.where(x2, step, cond=np.broadcast_to(np.asarray(a.data) == 0, shape))


def copysign(x1: Any, x2: Any) -> Value:
    """``|x1|`` with the sign of ``x2``, as ``numpy.copysign``; the derivative in
    ``x1`` is ``sign(x1)`` times that sign (0 at 0, as PyTorch's); in ``x2`` it is 0
    (only its sign is read: ``x2`` is not on the graph)."""
    a = as_constant(x1)
    sign = np.where(np.signbit(np.asarray(as_array(x2))), -1.0, 1.0)
    return ops.abs(a) * sign.astype(numpy_dtype(a, as_array(x2)))


def nan_to_num(x: Any, copy: bool = True, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None) -> Value:
    """``x`` with NaN and the infinities replaced, as ``numpy.nan_to_num``.

    The replaced entries are constants (derivative 0, as in PyTorch); the
    others pass through unchanged (derivative 1).  ``copy`` has no effect: the
    result is always a new Value.

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> v = mg.Value([1.0, np.nan, np.inf])
    >>> y = mg.nan_to_num(v, posinf=9.0)
    >>> y.sum().backward()
    >>> y.data.tolist(), v.grad.tolist()
    ([1.0, 0.0, 9.0], [1.0, 0.0, 0.0])
    """
    for name, fill in (("nan", nan), ("posinf", posinf), ("neginf", neginf)):
        if isinstance(fill, Value):
            raise TypeError(f"nan_to_num: {name}= must be a number, not a Value (the fill is "
                            "a constant: its gradient would be lost)")
    v = as_constant(x)
    bad = ~np.isfinite(v.data)
    if not bad.any():
        return _copy(v)
    fill = np.nan_to_num(v.data, nan=nan, posinf=posinf, neginf=neginf)
    return ops.where(fill, v, cond=bad)


def polyval(p: Any, x: Any) -> Value:
    """The polynomial with coefficients ``p`` (highest power first) at ``x``, as
    ``numpy.polyval``, by Horner's rule; ``p`` and ``x`` may both be Values
    (fitting a polynomial's coefficients by gradient descent).

    Examples
    --------
    >>> import microgd as mg
    >>> c = mg.Value([1.0, 0.0, -2.0])      # x**2 - 2
    >>> y = mg.polyval(c, 3.0)
    >>> y.backward()
    >>> float(y.data), c.grad.tolist()
    (7.0, [9.0, 3.0, 1.0])
    """
    if isinstance(p, (list, tuple)) and any(isinstance(q, Value) for q in p):
        c = _array(p)
    else:
        c = as_constant(p)
    if c.ndim != 1:
        raise ValueError(f"polyval: p must be a 1-D sequence of coefficients, got shape "
                         f"{c.shape}")
    v = as_constant(x)
    y: Any = np.zeros(v.shape, dtype=v.dtype)  # as NumPy starts, so the numbers are its own
    for i in range(c.shape[0]):
        y = y * v + c[i]
    return y if isinstance(y, Value) else as_constant(y)


def _np_where(cond: Any, *ab: Any) -> Value:
    if len(ab) != 2:
        raise TypeError("numpy.where needs (cond, a, b) on microgd Values")
    return where(cond, *ab)


def _np_clip(a: Any, a_min: Any = None, a_max: Any = None, out: Any = None, *,
             min: Any = None, max: Any = None, **rest: Any) -> Value:
    reject("clip", out=out, **rest)
    lo = a_min if a_min is not None else min
    hi = a_max if a_max is not None else max
    return clip(a, as_array(lo), as_array(hi))


UFUNCS: dict[Any, Any] = {
    np.add: ops.add, np.subtract: ops.sub, np.multiply: ops.mul, np.divide: ops.div,
    np.negative: ops.neg, np.power: ops.pow, np.exp: ops.exp, np.log: ops.log,
    np.sqrt: ops.sqrt, np.sin: ops.sin, np.cos: ops.cos, np.tanh: ops.tanh,
    np.absolute: ops.abs, np.maximum: ops.maximum, np.minimum: ops.minimum,
    np.tan: ops.tan, np.arcsin: ops.arcsin, np.arccos: ops.arccos, np.arctan: ops.arctan,
    np.sinh: ops.sinh, np.cosh: ops.cosh, np.arcsinh: ops.arcsinh, np.arccosh: ops.arccosh,
    np.arctanh: ops.arctanh, np.exp2: ops.exp2, np.expm1: ops.expm1, np.log2: ops.log2,
    np.log10: ops.log10, np.log1p: ops.log1p, np.logaddexp: ops.logaddexp,
    np.logaddexp2: ops.logaddexp2, np.square: square, np.reciprocal: reciprocal,
    np.fabs: ops.abs, np.sign: ops.sign, np.floor: ops.floor, np.ceil: ops.ceil,
    np.arctan2: ops.arctan2, np.hypot: ops.hypot, np.fmax: ops.fmax, np.fmin: ops.fmin,
    np.remainder: ops.mod, np.fmod: ops.fmod, np.deg2rad: deg2rad, np.rad2deg: rad2deg,
    np.trunc: ops.trunc, np.rint: ops.rint, np.cbrt: ops.cbrt, np.positive: positive,
    np.floor_divide: floor_divide, np.heaviside: heaviside, np.copysign: copysign,
    np.float_power: float_power, np.conjugate: real, np.divmod: _divmod,
    np.radians: deg2rad, np.degrees: rad2deg,
}
"""NumPy ufuncs of this family that return a Value when given one."""

def _np_round(a: Any, decimals: int = 0, out: Any = None) -> Value:
    reject("round", out=out)
    return round(a, decimals)


def _np_fix(x: Any, out: Any = None) -> Value:
    reject("fix", out=out)
    return trunc(x)


FUNCTIONS: dict[Any, Any] = {np.real: real, np.imag: imag,
                             np.where: _np_where, np.clip: _np_clip, np.round: _np_round,
                             np.around: _np_round, np.sinc: sinc, np.fix: _np_fix,
                             np.nan_to_num: nan_to_num, np.polyval: polyval}
"""NumPy functions of this family that return a Value when given one."""

METHODS = ("exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu", "abs", "clip", "round")
"""The functions of this family that are also methods ``v.NAME(...)``."""
