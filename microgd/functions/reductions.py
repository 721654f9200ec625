"""Reductions: functions that sum, multiply, average or pick over axes, norms, the softmax
family, and NumPy's where= (the helpers the nan-functions share).

``UFUNCS``/``FUNCTIONS``/``METHODS`` as in :mod:`microgd.functions.elementwise`.
Products are exact where entries are 0 (see :mod:`microgd.ops.reductions`;
running sums and products are in :mod:`microgd.functions.cumulative`); norms (``norm``, written in
:mod:`microgd.functions._norms` and registered here) take the subgradient 0
where they are 0 (see :mod:`microgd.ops.norms`), and so does ``std`` where the
variance is 0, as in PyTorch.
"""

from __future__ import annotations

import math
import operator
import warnings
from typing import Any

import numpy as np

from microgd import ops
from microgd.functions._common import Axis, axes_of, reject
from microgd.functions._norms import norm
from microgd.ops.shape import _reduced_size
from microgd.value import Value, as_constant, normalize_axis

__all__ = ["average", "log_softmax", "logsumexp", "max", "mean", "min", "norm", "prod", "ptp",
           "softmax", "std", "sum", "var"]


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


def ptp(x: Any, axis: Axis = None, keepdims: bool = False) -> Value:
    """The range ``max - min`` over ``axis``, as ``numpy.ptp``; ties share each
    extreme's gradient evenly."""
    v = as_constant(x)
    return max(v, axis=axis, keepdims=keepdims) - min(v, axis=axis, keepdims=keepdims)


def logsumexp(x: Any, axis: Axis = None, keepdims: bool = False, b: Any = None) -> Value:
    """``log(sum(b * exp(x)))`` over ``axis``, computed without overflow.

    A primitive (``ops.logsumexp``): one node, whose gradient is the softmax.
    ``b`` (broadcast against ``x``) weighs the terms, as in
    ``scipy.special.logsumexp``; it may be a Value (its gradient is
    ``exp(x) / sum(b * exp(x))``) and may have negative entries as long as every
    weighted sum stays positive (else ``ValueError``; a sum of exactly 0 gives
    ``-inf``, as scipy).

    Examples
    --------
    >>> import microgd as mg
    >>> round(float(mg.logsumexp([1000.0, 1000.0]).data), 6)
    1000.693147
    >>> round(float(mg.logsumexp([0.0, 0.0], b=[3.0, -1.0]).data), 6)   # log(3 - 1)
    0.693147
    """
    ax = normalize_axis(axis)
    if b is None:
        return ops.logsumexp(as_constant(x), axis=ax, keepdims=keepdims)
    x = as_constant(x)
    return ops.weighted_logsumexp(x, _like(b, x), axis=ax, keepdims=keepdims)


def _like(w: Any, x: Value) -> Any:
    """An operand as a Value or array; numbers and lists take ``x``'s dtype (float32 stays)."""
    if isinstance(w, (Value, np.ndarray)):
        return w
    return np.asarray(w, dtype=x.dtype)


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


# ---- products ------------------------------------------------------------------------------


def prod(x: Any, axis: Axis = None, keepdims: bool = False) -> Value:
    """Product over ``axis`` (all axes by default), as ``numpy.prod``.

    The gradient is the product of the other entries, computed without
    dividing, so it is exact where entries are 0 (to every order).

    Examples
    --------
    >>> import microgd as mg
    >>> x = mg.Value([2.0, 0.0, 3.0])
    >>> mg.prod(x).backward()
    >>> x.grad.tolist()
    [0.0, 6.0, 0.0]
    """
    return ops.prod(as_constant(x), axis=normalize_axis(axis), keepdims=keepdims)


# ---- averages, variances -------------------------------------------------------------


def average(a: Any, axis: Axis = None, weights: Any = None, returned: bool = False, *,
            keepdims: bool = False) -> Value:
    """The weighted mean ``sum(a * w) / sum(w)`` over ``axis``, as ``numpy.average``.

    ``weights`` has ``a``'s shape, or the shape of ``a`` along ``axis``; it may
    be a Value (differentiated too).  ``returned=True`` is not supported.

    Examples
    --------
    >>> import microgd as mg
    >>> float(mg.average([1.0, 2.0, 4.0], weights=[1.0, 1.0, 2.0]).data)
    2.75
    """
    if returned:
        raise TypeError("average: returned=True is not supported on microgd Values; "
                        "compute the sum of the weights separately")
    x = as_constant(a)
    if weights is None:
        return mean(x, axis=axis, keepdims=keepdims)
    w = weights if isinstance(weights, Value) else as_constant(_like(weights, x))
    axes = None if axis is None else axes_of("average", axis, x.ndim)
    if w.shape != x.shape:
        if axes is None:
            raise TypeError(f"average: axis must be given when the shapes of a {x.shape} "
                            f"and weights {w.shape} differ")
        along = tuple(x.shape[ax] for ax in axes)
        if w.shape != along:
            raise ValueError(f"average: weights of shape {w.shape} must have the shape of a "
                             f"{x.shape} along axis {axis}, {along}")
        # NumPy's rule: the weights' axes follow axis, sorted, and broadcast over the rest.
        w = ops.transpose(w, axes=tuple(int(i) for i in np.argsort(axes)))
        w = ops.reshape(w, shape=tuple(n if i in axes else 1 for i, n in enumerate(x.shape)))
    total = ops.sum(w, axis=axes, keepdims=keepdims)
    if np.any(total.data == 0):
        raise ZeroDivisionError("average: weights sum to zero, can't be normalized")
    return ops.sum(x * w, axis=axes, keepdims=keepdims) / total


def _ddof(name: str, ddof: Any) -> float:
    """``ddof`` as a number.  A Value is refused: it counts degrees of freedom, and its
    gradient would be lost without a word."""
    if isinstance(ddof, Value):
        raise TypeError(f"{name}: ddof must be a number, not a Value (a count of degrees of "
                        "freedom; its gradient would be lost)")
    try:
        return float(ddof)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: ddof must be a number, got {ddof!r}") from None


def _degrees(name: str, x: Value, axis: Any, ddof: Any) -> float:
    """``n - ddof``: what var and std divide by (the elements per result minus ``ddof``)."""
    n = _reduced_size(x, axis)
    left = n - _ddof(name, ddof)
    if not left > 0:
        raise ValueError(f"{name}: ddof={ddof} leaves no degrees of freedom: each result "
                         f"combines {n} element(s) (input shape {x.shape}, axis={axis})")
    return left


def _centered(x: Value, axis: Any) -> Value:
    return x - ops.mean(x, axis=axis, keepdims=True)


def var(x: Any, axis: Axis = None, *, ddof: float = 0, keepdims: bool = False) -> Value:
    """Variance ``sum((x - mean)**2) / (n - ddof)`` over ``axis``, as ``numpy.var``.

    ``ddof=1`` gives the unbiased estimate (``torch.var``'s default
    ``correction=1``).  ``n - ddof`` must be positive.

    Examples
    --------
    >>> import microgd as mg
    >>> float(mg.var([1.0, 2.0, 3.0, 4.0]).data), float(mg.var([1.0, 2.0, 3.0, 4.0], ddof=1).data)
    (1.25, 1.6666666666666667)
    """
    v = as_constant(x)
    ax = normalize_axis(axis)
    left = _degrees("var", v, ax, ddof)
    d = _centered(v, ax)
    return ops.sum(d * d, axis=ax, keepdims=keepdims) / left


def std(x: Any, axis: Axis = None, *, ddof: float = 0, keepdims: bool = False) -> Value:
    """Standard deviation, the square root of :func:`var`, as ``numpy.std``.

    Computed as ``norm(x - mean) / sqrt(n - ddof)``: where the variance is 0
    the gradient is the subgradient 0 (as PyTorch), and the second derivative
    0 too, never NaN.

    Examples
    --------
    >>> import microgd as mg
    >>> x = mg.Value([2.0, 2.0, 2.0])
    >>> mg.std(x).backward()
    >>> x.grad.tolist()
    [0.0, 0.0, 0.0]
    """
    v = as_constant(x)
    ax = normalize_axis(axis)
    left = _degrees("std", v, ax, ddof)
    return ops.vector_norm(_centered(v, ax), ord=2.0, axis=ax, keepdims=keepdims) / math.sqrt(left)


# ---- reductions over some entries: the nan-functions and NumPy's where= --------------------


def _filled(v: Value, missing: np.ndarray, fill: float) -> Value:
    """``v`` with ``fill`` at its ``missing`` entries (NaN, or outside a ``where=``
    mask), which then get derivative 0: ``where``'s derivative selects, it never
    multiplies by 0."""
    if not missing.any():
        return v
    return ops.where(v.dtype.type(fill), v, cond=missing)


def _present(v: Value, missing: np.ndarray, axis: Any) -> np.ndarray:
    """How many entries of each slice over ``axis`` are not ``missing``, in ``v``'s
    dtype (kept dimensions: it broadcasts against ``v``)."""
    return np.add.reduce(~missing, axis=axis, keepdims=True).astype(v.dtype)


def _nan_where(bad: np.ndarray, n: np.ndarray, warning: str | None) -> np.ndarray:
    """``n`` with NaN where ``bad``: dividing by it gives NaN there, as NumPy's mean
    of nothing and nan-functions do, with their ``warning`` (None: none).  Called two
    levels below ``mg.NAME``: the warning points at its caller."""
    if not bad.any():
        return n
    if warning is not None:
        warnings.warn(warning, RuntimeWarning, stacklevel=4)
    return np.where(bad, np.nan, n).astype(n.dtype)


def _squeezed(n: np.ndarray, axis: Any, keepdims: bool) -> np.ndarray:
    if keepdims:
        return n
    return n.reshape(()) if axis is None else np.squeeze(n, axis=axis)


def _masked_mean(v: Value, missing: np.ndarray, axis: Any, keepdims: bool) -> Value:
    """The mean over ``axis`` of the entries not ``missing`` (``nanmean``, ``np.mean``'s
    ``where=``): NaN for a slice with none, with NumPy's warning."""
    n = _present(v, missing, axis)
    n = _nan_where(n == 0, n, "Mean of empty slice")
    return (ops.sum(_filled(v, missing, 0.0), axis=axis, keepdims=keepdims)
            / _squeezed(n, axis, keepdims))


def _mask(name: str, where: Any, v: Value) -> np.ndarray:
    """A ``where=`` argument as a boolean array of ``v``'s shape."""
    if isinstance(where, Value):
        raise TypeError(f"numpy.{name}: where= must be a constant mask (booleans), not a Value")
    try:
        return np.broadcast_to(np.asarray(where, dtype=bool), v.shape)
    except ValueError:
        raise ValueError(f"numpy.{name}: where= of shape {np.shape(where)} does not broadcast "
                         f"to the input's shape {v.shape}") from None


def _np_total(name: str, fn: Any, identity: float, combine: Any) -> Any:
    """``np.sum`` or ``np.prod``: a ``where=`` mask fills the left-out entries with the
    ``identity``, and ``initial`` is ``combine``-d in."""
    def impl(a: Any, axis: Axis = None, dtype: Any = None, out: Any = None,
             keepdims: bool = False, initial: Any = np._NoValue,
             where: Any = np._NoValue) -> Value:
        reject(name, dtype=dtype, out=out)
        v = as_constant(a)
        if where is not np._NoValue:
            v = _filled(v, ~_mask(name, where, v), identity)
        total = fn(v, axis=axis, keepdims=bool(keepdims))
        return total if initial is np._NoValue else combine(total, initial)
    return impl


def _np_mean(a: Any, axis: Axis = None, dtype: Any = None, out: Any = None,
             keepdims: bool = False, *, where: Any = np._NoValue) -> Value:
    reject("mean", dtype=dtype, out=out)
    if where is np._NoValue:
        return mean(a, axis=axis, keepdims=bool(keepdims))
    v = as_constant(a)
    return _masked_mean(v, ~_mask("mean", where, v), normalize_axis(axis), bool(keepdims))


def _np_reduction(name: str, fn: Any) -> Any:
    def impl(a: Any, axis: Axis = None, dtype: Any = None, out: Any = None,
             keepdims: bool = False, **rest: Any) -> Value:
        reject(name, dtype=dtype, out=out, **rest)
        return fn(a, axis=axis, keepdims=bool(keepdims))
    return impl


def _np_extreme(name: str, fn: Any) -> Any:
    """NumPy's max, min and their nan-forms take no ``dtype``: ``out`` is third."""
    def impl(a: Any, axis: Axis = None, out: Any = None, keepdims: bool = False,
             **rest: Any) -> Value:
        reject(name, out=out, **rest)
        return fn(a, axis=axis, keepdims=bool(keepdims))
    return impl


def _np_moment(name: str, fn: Any) -> Any:
    def impl(a: Any, axis: Axis = None, dtype: Any = None, out: Any = None, ddof: float = 0,
             keepdims: bool = False, *, correction: Any = np._NoValue, **rest: Any) -> Value:
        reject(name, dtype=dtype, out=out, **rest)
        if correction is not np._NoValue:
            if ddof != 0:
                raise ValueError(f"{name}: ddof and correction can't be provided simultaneously")
            ddof = correction
        return fn(a, axis=axis, ddof=ddof, keepdims=bool(keepdims))
    return impl


def _np_average(a: Any, axis: Axis = None, weights: Any = None, returned: bool = False, *,
                keepdims: Any = np._NoValue) -> Value:
    return average(a, axis=axis, weights=weights, returned=returned,
                   keepdims=False if keepdims is np._NoValue else bool(keepdims))


UFUNCS: dict[Any, Any] = {}
"""NumPy ufuncs of this family that return a Value when given one."""

FUNCTIONS: dict[Any, Any] = {
    np.sum: _np_total("sum", sum, 0.0, operator.add),
    np.mean: _np_mean,
    np.max: _np_extreme("max", max),
    np.min: _np_extreme("min", min),
    np.amax: _np_extreme("max", max),
    np.amin: _np_extreme("min", min),
    np.prod: _np_total("prod", prod, 1.0, operator.mul),
    np.average: _np_average,
    np.var: _np_moment("var", var),
    np.std: _np_moment("std", std),
    np.linalg.norm: norm,
    np.ptp: _np_extreme("ptp", ptp),
}
"""NumPy functions of this family that return a Value when given one."""

METHODS = ("sum", "mean", "max", "min", "logsumexp", "softmax", "log_softmax", "prod", "var",
           "std")
"""The functions of this family that are also methods ``v.NAME(...)``."""
