"""Reductions that ignore NaN: ``nansum nanmean nanprod nanmax nanmin nanvar nanstd``.

``UFUNCS``/``FUNCTIONS``/``METHODS`` as in :mod:`microgd.functions.elementwise`.
A NaN entry is treated as missing: it adds nothing to the value and gets a
derivative of exactly 0, to every order (``where`` replaces it by the
reduction's identity, and ``where``'s derivative selects, it never multiplies
by 0).  A NaN computed from the parameters still spoils their gradient
upstream, as in PyTorch and JAX: the chain rule multiplies that 0 by the
derivative that made the NaN, and 0 * NaN is NaN (docs/writing-losses.md shows
the trap and the fix: select the entries first).  ``nanmax`` and
``nanmin`` are primitives (:mod:`microgd.ops.reductions`): ties are split
between the entries that are not NaN.  A slice with nothing left to reduce
gives what NumPy gives, with NumPy's ``RuntimeWarning`` (NaN for the mean, the
variance and the extremes; 0 and 1 for the sum and product), and its entries a
derivative of 0.

Examples
--------
>>> import numpy as np
>>> import microgd as mg
>>> x = mg.Value([1.0, np.nan, 3.0])
>>> y = mg.nanmean(x)
>>> y.backward()
>>> float(y.data), x.grad.tolist()
(2.0, [0.5, 0.0, 0.5])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from microgd import ops
from microgd.functions._common import Axis
from microgd.functions.reductions import (
    _ddof,
    _filled,
    _masked_mean,
    _nan_where,
    _np_extreme,
    _np_moment,
    _np_reduction,
    _present,
    _squeezed,
)
from microgd.value import Value, as_constant, normalize_axis

__all__ = ["nanmax", "nanmean", "nanmin", "nanprod", "nanstd", "nansum", "nanvar"]


def nansum(x: Any, axis: Axis = None, keepdims: bool = False) -> Value:
    """Sum over ``axis`` with NaN counted as 0, as ``numpy.nansum``; NaN entries
    get derivative 0."""
    v = as_constant(x)
    return ops.sum(_filled(v, np.isnan(v.data), 0.0), axis=normalize_axis(axis),
                   keepdims=keepdims)


def nanprod(x: Any, axis: Axis = None, keepdims: bool = False) -> Value:
    """Product over ``axis`` with NaN counted as 1, as ``numpy.nanprod``; NaN
    entries get derivative 0 (and the others the exact rules of ``prod``)."""
    v = as_constant(x)
    return ops.prod(_filled(v, np.isnan(v.data), 1.0), axis=normalize_axis(axis),
                    keepdims=keepdims)


def nanmean(x: Any, axis: Axis = None, keepdims: bool = False) -> Value:
    """Mean over ``axis`` of the entries that are not NaN, as ``numpy.nanmean``.

    A slice of NaNs alone gives NaN and NumPy's warning "Mean of empty slice";
    its entries get derivative 0.
    """
    v = as_constant(x)
    return _masked_mean(v, np.isnan(v.data), normalize_axis(axis), keepdims)


def nanmax(x: Any, axis: Axis = None, keepdims: bool = False) -> Value:
    """Maximum over ``axis`` ignoring NaN, as ``numpy.nanmax``; ties share the
    gradient evenly, NaN entries get 0 (a slice of NaNs alone: NaN, with NumPy's
    warning)."""
    return ops.nanmax(as_constant(x), axis=normalize_axis(axis), keepdims=keepdims)


def nanmin(x: Any, axis: Axis = None, keepdims: bool = False) -> Value:
    """Minimum over ``axis`` ignoring NaN, as ``numpy.nanmin`` (see :func:`nanmax`)."""
    return ops.nanmin(as_constant(x), axis=normalize_axis(axis), keepdims=keepdims)


def _deviations(name: str, v: Value, axis: Any, ddof: Any) -> tuple[Value, np.ndarray]:
    """The deviations from the mean, 0 at NaN entries, and ``n - ddof`` per slice
    (NaN where it is not positive, with NumPy's warning), kept dimensions."""
    ddof = _ddof(name, ddof)
    missing = np.isnan(v.data)
    n = _present(v, missing, axis)
    mean = ops.sum(_filled(v, missing, 0.0), axis=axis, keepdims=True) / _nan_where(
        n == 0, n, None)
    # v - mean is NaN at the missing entries (and a whole empty slice): filled with 0.
    d = _filled(v - mean, missing, 0.0)
    dof = (n - v.dtype.type(ddof)).astype(v.dtype)
    return d, _nan_where(dof <= 0, dof, "Degrees of freedom <= 0 for slice.")


def nanvar(x: Any, axis: Axis = None, *, ddof: float = 0, keepdims: bool = False) -> Value:
    """Variance over ``axis`` of the entries that are not NaN, as ``numpy.nanvar``.

    Divides by ``n - ddof``, ``n`` the entries of the slice that are not NaN;
    where that is not positive the result is NaN, with NumPy's warning.

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> float(mg.nanvar([1.0, np.nan, 3.0]).data)
    1.0
    """
    v = as_constant(x)
    ax = normalize_axis(axis)
    d, dof = _deviations("nanvar", v, ax, ddof)
    return ops.sum(d * d, axis=ax, keepdims=keepdims) / _squeezed(dof, ax, keepdims)


def nanstd(x: Any, axis: Axis = None, *, ddof: float = 0, keepdims: bool = False) -> Value:
    """Standard deviation ignoring NaN, the square root of :func:`nanvar`, as
    ``numpy.nanstd``; computed as ``std`` is, so the gradient where the variance
    is 0 is the subgradient 0, never NaN."""
    v = as_constant(x)
    ax = normalize_axis(axis)
    d, dof = _deviations("nanstd", v, ax, ddof)
    return (ops.vector_norm(d, ord=2.0, axis=ax, keepdims=keepdims)
            / np.sqrt(_squeezed(dof, ax, keepdims)))


UFUNCS: dict[Any, Any] = {}
"""NumPy ufuncs of this family that return a Value when given one."""

FUNCTIONS: dict[Any, Any] = {
    np.nansum: _np_reduction("nansum", nansum),
    np.nanprod: _np_reduction("nanprod", nanprod),
    np.nanmean: _np_reduction("nanmean", nanmean),
    np.nanmax: _np_extreme("nanmax", nanmax),
    np.nanmin: _np_extreme("nanmin", nanmin),
    np.nanvar: _np_moment("nanvar", nanvar),
    np.nanstd: _np_moment("nanstd", nanstd),
}
"""NumPy functions of this family that return a Value when given one."""

METHODS: tuple[str, ...] = ()
"""NumPy has no nan-methods on arrays."""
