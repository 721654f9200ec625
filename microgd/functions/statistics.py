"""Order statistics and covariances: ``median quantile percentile`` (and their
nan-forms, which leave NaN entries out), ``cov corrcoef``.

``UFUNCS``/``FUNCTIONS``/``METHODS`` as in :mod:`microgd.functions.elementwise`.
Composites of ``sort``, indexing and arithmetic, so exact to every order where
they are differentiable.  An order statistic's gradient goes to the entry that
holds it (between the two neighbours in proportion, for a quantile between
them); where entries tie, to one of them, as ``sort`` orders them (PyTorch's
``median`` and JAX's ``quantile`` pick one too).  A slice holding NaN gives
NaN, as NumPy's, and its entries derivative 0.

Examples
--------
>>> import microgd as mg
>>> x = mg.Value([3.0, 1.0, 4.0, 1.5])
>>> m = mg.median(x)                 # (1.5 + 3) / 2
>>> m.backward()
>>> float(m.data), x.grad.tolist()
(2.25, [0.5, 0.0, 0.0, 0.5])
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from microgd import ops
from microgd.functions._common import Axis, axes_of, numpy_dtype, reject
from microgd.functions.indexing import sort, take_along_axis
from microgd.functions.joining import concatenate
from microgd.functions.linalg import diagonal
from microgd.functions.reductions import _ddof, mean
from microgd.functions.shape import atleast_2d, moveaxis, reshape, squeeze
from microgd.value import Value, as_constant

__all__ = ["corrcoef", "cov", "median", "nanmedian", "nanpercentile", "nanquantile",
           "percentile", "quantile"]

METHODS_OF_QUANTILE = ("linear", "lower", "higher")
"""The ``method=`` of :func:`quantile` supported (NumPy's default is ``"linear"``)."""


def _last(name: str, v: Value, axis: Any) -> tuple[Value, tuple[int, ...]]:
    """``v`` sorted along the reduced axes, flattened into one last axis; and the
    shape ``keepdims`` gives the result (the reduced axes as 1)."""
    axes = tuple(range(v.ndim)) if axis is None else axes_of(name, axis, v.ndim)
    if v.ndim == 0:
        return reshape(v, (1,)), ()
    rest = [i for i in range(v.ndim) if i not in axes]
    moved = moveaxis(v, list(axes), list(range(len(rest), v.ndim)))
    flat = reshape(moved, tuple(v.shape[i] for i in rest) + (-1,))
    kept = tuple(1 if i in axes else n for i, n in enumerate(v.shape))
    return sort(flat, axis=-1), kept


def _counts(s: Value, skip_nan: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per slice of ``s`` (sorted, NaN last): how many entries the order statistics
    choose from (kept last axis), and which slices give NaN: any NaN, or with
    ``skip_nan`` only NaN (then with NumPy's warning)."""
    nan = np.isnan(s.data)
    if not skip_nan:
        return np.full(s.shape[:-1] + (1,), s.shape[-1]), nan[..., -1]
    count = np.add.reduce(~nan, axis=-1, keepdims=True)
    empty = count[..., 0] == 0
    if empty.any():
        warnings.warn("All-NaN slice encountered", RuntimeWarning, stacklevel=4)
    return count, empty


def _nan_at(out: Value, holed: np.ndarray) -> Value:
    """``out`` (the slices' shape, then one axis of quantiles) NaN where ``holed``, with
    derivative 0 there."""
    if not holed.any():
        return out
    cond = np.broadcast_to(holed.reshape(holed.shape + (1,)), out.shape)
    return ops.where(out.dtype.type(np.nan), out, cond=cond)


def median(a: Any, axis: Axis = None, keepdims: bool = False) -> Value:
    """The median over ``axis``, as ``numpy.median``: the middle entry, or the mean of
    the two middle ones (NumPy's numbers)."""
    return _middle("median", a, axis, keepdims, skip_nan=False)


def nanmedian(a: Any, axis: Axis = None, keepdims: bool = False) -> Value:
    """The median over ``axis`` of the entries that are not NaN, as ``numpy.nanmedian``
    (a slice of NaNs alone: NaN, with NumPy's warning; NaN entries get derivative 0)."""
    return _middle("nanmedian", a, axis, keepdims, skip_nan=True)


def _middle(name: str, a: Any, axis: Any, keepdims: bool, skip_nan: bool) -> Value:
    v = as_constant(a)
    s, kept = _last(name, v, axis)
    if s.shape[-1] == 0:
        raise ValueError(f"{name}: of an empty slice (NumPy warns and gives NaN)")
    count, holed = _counts(s, skip_nan)
    hi = count // 2
    lo = np.maximum(count - 1, 0) // 2
    upper = take_along_axis(s, hi, axis=-1)  # count // 2 < count whenever count > 0
    both = (take_along_axis(s, lo, axis=-1) + upper) / 2  # NumPy's mean of the middle two
    out = ops.where(upper, both, cond=np.broadcast_to(count % 2 == 1, upper.shape))
    out = _nan_at(out, holed)[..., 0]
    return reshape(out, kept) if keepdims else out


def _order_statistics(name: str, a: Any, q: Any, axis: Any, method: str,
                      keepdims: bool, q_given: Any = None, skip_nan: bool = False) -> Value:
    if method not in METHODS_OF_QUANTILE:
        raise TypeError(f"{name}: method={method!r} is not supported on microgd Values; "
                        f"one of {', '.join(METHODS_OF_QUANTILE)}")
    v = as_constant(a)
    # The linear method's dtype, as NumPy's: a Python number q is weak (float32 data stay
    # float32), an array is not; lower and higher give an entry, in the data's dtype.
    dtype = numpy_dtype(v, q if q_given is None else q_given)  # percentile's q, as given
    qs = np.asarray(q)  # the index in q's own precision (a Python number: float64)
    if qs.dtype.kind != "f":
        qs = qs.astype(np.float64)
    s, kept = _last(name, v, axis)
    if s.shape[-1] == 0:
        raise ValueError(f"{name}: of an empty slice")
    count, holed = _counts(s, skip_nan)
    top = np.maximum(count - 1, 0)
    # NumPy's virtual index (method "linear"), computed as it is, one column per quantile
    virtual = (count - 1).astype(qs.dtype) * qs.reshape(-1)
    lo = np.clip(np.floor(virtual), 0, top).astype(np.intp)
    if method == "lower":
        out = take_along_axis(s, lo, axis=-1)
    elif method == "higher":
        out = take_along_axis(s, np.clip(np.ceil(virtual), 0, top).astype(np.intp), axis=-1)
    else:
        gamma = (virtual - np.floor(virtual)).astype(dtype)
        below = take_along_axis(s, lo, axis=-1)
        above = take_along_axis(s, np.minimum(lo + 1, top), axis=-1)
        step = above - below  # in the data's dtype, then times gamma in the result's: NumPy's
        # NumPy's lerp: from below for gamma < 0.5, from above otherwise (symmetric rounding)
        out = ops.where(above - step * (1 - gamma), below + step * gamma,
                        cond=np.broadcast_to(gamma >= 0.5, step.shape))
    out = _nan_at(out, holed)
    out = reshape(out, out.shape[:-1] + qs.shape)
    qnd = qs.ndim
    if qnd:  # the quantiles' axes came last: first, as NumPy puts them
        out = moveaxis(out, list(range(out.ndim - qnd, out.ndim)), list(range(qnd)))
    return reshape(out, qs.shape + kept) if keepdims else out


def _check_range(name: str, q: Any, top: float) -> None:
    if isinstance(q, Value):
        raise TypeError(f"{name}: q must be constant (numbers), not a Value")
    qs = np.asarray(q, dtype=np.float64)
    if not np.all((qs >= 0) & (qs <= top)):
        what = "Quantiles must be in the range [0, 1]" if top == 1 else (
            "Percentiles must be in the range [0, 100]")
        raise ValueError(f"{name}: {what}, got {q!r}")


def quantile(a: Any, q: Any, axis: Axis = None, method: str = "linear",
             keepdims: bool = False) -> Value:
    """The ``q``-th quantile over ``axis``, as ``numpy.quantile`` (``q`` in [0, 1], a
    number or an array: its shape leads the result's).

    ``method`` ``"linear"`` (NumPy's default: between the two nearest order
    statistics, in proportion), ``"lower"`` or ``"higher"``.  ``q`` is a
    constant.

    Examples
    --------
    >>> import microgd as mg
    >>> x = mg.Value([1.0, 2.0, 4.0, 8.0])
    >>> y = mg.quantile(x, 0.5)
    >>> y.backward()
    >>> float(y.data), x.grad.tolist()
    (3.0, [0.0, 0.5, 0.5, 0.0])
    """
    _check_range("quantile", q, 1.0)
    return _order_statistics("quantile", a, q, axis, method, keepdims)


def percentile(a: Any, q: Any, axis: Axis = None, method: str = "linear",
               keepdims: bool = False) -> Value:
    """The ``q``-th percentile over ``axis``, as ``numpy.percentile`` (``q`` in [0, 100]):
    :func:`quantile` at ``q / 100``."""
    _check_range("percentile", q, 100.0)
    return _order_statistics("percentile", a, np.true_divide(q, 100), axis, method, keepdims,
                             q_given=q)


def nanquantile(a: Any, q: Any, axis: Axis = None, method: str = "linear",
                keepdims: bool = False) -> Value:
    """:func:`quantile` of the entries that are not NaN, as ``numpy.nanquantile`` (a
    slice of NaNs alone: NaN, with NumPy's warning; NaN entries get derivative 0)."""
    _check_range("nanquantile", q, 1.0)
    return _order_statistics("nanquantile", a, q, axis, method, keepdims, skip_nan=True)


def nanpercentile(a: Any, q: Any, axis: Axis = None, method: str = "linear",
                  keepdims: bool = False) -> Value:
    """:func:`percentile` of the entries that are not NaN, as ``numpy.nanpercentile``."""
    _check_range("nanpercentile", q, 100.0)
    return _order_statistics("nanpercentile", a, np.true_divide(q, 100), axis, method,
                             keepdims, q_given=q, skip_nan=True)


def cov(m: Any, y: Any = None, rowvar: bool = True, bias: bool = False,
        ddof: int | None = None) -> Value:
    """The covariance matrix of the variables in ``m`` (and ``y``), as ``numpy.cov``.

    Each row of ``m`` is a variable (``rowvar=False``: each column), its
    entries observations; divides by ``N - 1`` (``bias=True``: by ``N``;
    ``ddof`` overrides both).  NumPy's numbers: the mean taken off, then
    ``X @ X.T / (N - ddof)``, in the input's dtype (NumPy's own cov computes
    float32 in float64; PyTorch and JAX keep it); a single variable gives a 0-d
    Value.

    Examples
    --------
    >>> import microgd as mg
    >>> float(mg.cov([1.0, 2.0, 4.0]).data)
    2.333333333333333
    """
    if ddof is not None and _ddof("cov", ddof) != int(ddof):
        raise ValueError("cov: ddof must be an integer")
    x = atleast_2d(as_constant(m))
    if x.ndim > 2:
        raise ValueError(f"cov: m has more than 2 dimensions (shape {x.shape})")
    if not rowvar and x.shape[0] != 1:
        x = x.T
    if y is not None:
        yv = atleast_2d(as_constant(y))
        if yv.ndim > 2:
            raise ValueError(f"cov: y has more than 2 dimensions (shape {yv.shape})")
        if not rowvar and yv.shape[0] != 1:
            yv = yv.T
        x = concatenate([x, yv], axis=0)
    if ddof is None:
        ddof = 0 if bias else 1
    fact = float(x.shape[1] - ddof)
    if fact <= 0:
        warnings.warn("Degrees of freedom <= 0 for slice", RuntimeWarning, stacklevel=2)
        fact = 0.0
    d = x - mean(x, axis=1, keepdims=True)
    with np.errstate(divide="ignore"):
        scale = np.true_divide(1, np.asarray(fact, dtype=d.dtype))
    return squeeze((d @ d.T) * scale)


def corrcoef(x: Any, y: Any = None, rowvar: bool = True) -> Value:
    """Pearson's correlation coefficients, as ``numpy.corrcoef``: the covariance
    divided by the standard deviations, clipped to [-1, 1] (NumPy's numbers).

    Examples
    --------
    >>> import microgd as mg
    >>> r = mg.corrcoef([1.0, 2.0, 3.0], [2.0, 4.5, 5.0])
    >>> round(float(r.data[0, 1]), 6)
    0.933257
    """
    c = cov(x, y, rowvar=rowvar)
    if c.ndim == 0:
        return c / c
    std = ops.sqrt(diagonal(c))
    c = c / reshape(std, (-1, 1))
    c = c / reshape(std, (1, -1))
    return ops.clip(c, -1.0, 1.0)


def _np_middle(name: str, fn: Any) -> Any:
    def impl(a: Any, axis: Axis = None, out: Any = None, overwrite_input: bool = False,
             keepdims: Any = False) -> Value:
        reject(name, out=out)
        return fn(a, axis=axis, keepdims=False if keepdims is np._NoValue else bool(keepdims))
    return impl


def _np_order(name: str, fn: Any) -> Any:
    def impl(a: Any, q: Any, axis: Axis = None, out: Any = None, overwrite_input: bool = False,
             method: str = "linear", keepdims: Any = False, *, weights: Any = None,
             interpolation: Any = None) -> Value:
        reject(name, out=out, weights=weights, interpolation=interpolation)
        return fn(a, q, axis=axis, method=method,
                  keepdims=False if keepdims is np._NoValue else bool(keepdims))
    return impl


def _np_cov(m: Any, y: Any = None, rowvar: bool = True, bias: bool = False,
            ddof: int | None = None, fweights: Any = None, aweights: Any = None, *,
            dtype: Any = None) -> Value:
    reject("cov", fweights=fweights, aweights=aweights, dtype=dtype)
    return cov(m, y, rowvar=rowvar, bias=bias, ddof=ddof)


def _np_corrcoef(x: Any, y: Any = None, rowvar: bool = True, bias: Any = np._NoValue,
                 ddof: Any = np._NoValue, *, dtype: Any = None) -> Value:
    reject("corrcoef", bias=bias, ddof=ddof, dtype=dtype)
    return corrcoef(x, y, rowvar=rowvar)


UFUNCS: dict[Any, Any] = {}
"""NumPy ufuncs of this family that return a Value when given one."""

FUNCTIONS: dict[Any, Any] = {
    np.median: _np_middle("median", median),
    np.nanmedian: _np_middle("nanmedian", nanmedian),
    np.quantile: _np_order("quantile", quantile),
    np.percentile: _np_order("percentile", percentile),
    np.nanquantile: _np_order("nanquantile", nanquantile),
    np.nanpercentile: _np_order("nanpercentile", nanpercentile),
    np.cov: _np_cov,
    np.corrcoef: _np_corrcoef,
}
"""NumPy functions of this family that return a Value when given one."""

METHODS: tuple[str, ...] = ()
"""NumPy has no methods of these on arrays."""
