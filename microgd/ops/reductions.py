"""Reductions over axes: sums, means, products, cumulative sums and products,
log-sum-exp (also weighted), log-softmax, max and min (also ignoring NaN).

Products are differentiated without dividing by the input: the gradient of a
product is the product of the *other* entries, made from two cumulative
products (from the left and from the right), so it is exact where entries are
0; the derivatives of a cumulative product are linear recurrences, computed by
a doubling scan of multiplications and additions (``_scan``).  Both are
polynomials in the input, so every order of derivative is exact, with any
number of zeros.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from microgd.autodiff import Primitive
from microgd.ops.arithmetic import where
from microgd.ops.elementwise import exp
from microgd.ops.shape import (
    _axes,
    _expand,
    _inverse,
    _kept,
    _reduced_size,
    _shape,
    _unbroadcast,
    broadcast_to,
    concatenate,
    getitem,
    reshape,
    transpose,
)
from microgd.value import _FLOATS, as_array


def _sum_fwd(x: Any, axis: Any, keepdims: bool) -> Any:
    # np.add.reduce skips np.sum's Python-level dispatch (a few microseconds per
    # call when the caches are cold).
    if isinstance(x, (np.ndarray, np.generic)):
        # NumPy's stubs overload reduce on keepdims=Literal[True]/[False] only, not bool.
        return np.add.reduce(x, axis=axis, keepdims=keepdims)  # type: ignore[call-overload]
    return np.sum(x, axis=axis, keepdims=keepdims)


sum: Primitive = Primitive(
    "sum", _sum_fwd,
    lambda g, ans, x, axis, keepdims: _expand(g, x, axis, keepdims),
    linear=True,
)


def _mean_fwd(x: Any, axis: Any, keepdims: bool) -> Any:
    # np.mean without its Python-level wrapper (most of its time on small arrays),
    # for the float arrays it would sum and divide as written here: the sum, then a
    # division by the count as an intp, so in float64 and rounded once.
    if type(x) is np.ndarray and x.dtype in _FLOATS:
        n = _reduced_size(x, axis)
        if n:  # (np.mean warns of an empty slice)
            s = np.add.reduce(x, axis=axis, keepdims=keepdims)  # type: ignore[call-overload]
            if type(s) is np.ndarray:
                return np.true_divide(s, np.intp(n), out=s, casting="unsafe")
            return s.dtype.type(s / np.intp(n))
    return np.mean(x, axis=axis, keepdims=keepdims)


mean: Primitive = Primitive(
    "mean", _mean_fwd,
    lambda g, ans, x, axis, keepdims: _expand(g, x, axis, keepdims) / _reduced_size(x, axis),
    linear=True,
)

# ---- log-sum-exp and log-softmax (stable, one node each) ---------------------------


def max_shift(x: Any, axis: Any) -> Any:
    """The max of ``x``'s data over ``axis`` (kept), 0 where not finite: a constant.

    ``exp(x - max_shift(x, axis))`` cannot overflow, and log-sum-exp and softmax
    do not depend on the shift, so subtracting it keeps every derivative exact.
    """
    m = np.maximum.reduce(as_array(x), axis=axis, keepdims=True)
    # One sum tells whether every max is finite (a nan or inf makes it non-finite; an
    # overflow only sends the few such cases the longer way).
    if np.isfinite(np.add.reduce(m, axis=None)):
        return m
    return np.where(np.isfinite(m), m, 0)  # stays float32 for float32 x


def _logsumexp_fwd(x: Any, axis: Any, keepdims: bool) -> Any:
    m = max_shift(x, axis)
    out = np.log(np.add.reduce(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


def _softmax_of(x: Any, axis: Any) -> Any:
    # d lse / dx.  Recomputed from the shifted x rather than as exp(x - ans): at
    # |x| ~ 1000, ans carries float32 rounding of 6e-5.
    e = exp(x - max_shift(x, axis))
    return e / sum(e, axis=axis, keepdims=True)


def _logsumexp_vjp(g: Any, ans: Any, x: Any, axis: Any, keepdims: bool) -> Any:
    if not keepdims and axis is not None:
        g = reshape(g, shape=_kept(x, axis))
    return g * _softmax_of(x, axis)


logsumexp: Primitive = Primitive(
    "logsumexp", _logsumexp_fwd, _logsumexp_vjp,
    jvps=(lambda t, ans, x, axis, keepdims:
          sum(t * _softmax_of(x, axis), axis=axis, keepdims=keepdims),),
)


def _log_softmax_fwd(x: Any, axis: int) -> Any:
    shifted = x - max_shift(x, axis)
    return shifted - np.log(np.add.reduce(np.exp(shifted), axis=axis, keepdims=True))


log_softmax: Primitive = Primitive(
    "log_softmax", _log_softmax_fwd,
    # exp(ans) is the softmax, accurate because ans was computed from the shifted x.
    lambda g, ans, x, axis: g - exp(ans) * sum(g, axis=axis, keepdims=True),
    jvps=(lambda t, ans, x, axis: t - sum(exp(ans) * t, axis=axis, keepdims=True),),
)

# ---- max and min ------------------------------------------------------------------


def _arg_extreme(x: Any, ans: Any, axis: Any, keepdims: bool, skip_nan: bool = False) -> Any:
    """1 at the arg-extreme entries of ``x`` over ``axis``, split evenly between ties.

    NaN equals nothing, so a NaN entry is never hit.  With ``skip_nan`` (``nanmax``)
    a slice of NaNs alone, whose extreme is NaN, gets 0 everywhere (its entries are
    ignored, as ``nansum`` ignores them); without it (``max``), NaN everywhere.
    """
    rx, rans = as_array(x), as_array(ans)
    if not keepdims:
        rans = np.expand_dims(rans, _axes(axis, np.ndim(rx)))
    hit = (rx == rans).astype(np.result_type(rx))
    count = hit.sum(axis=axis, keepdims=True)
    if skip_nan:
        return np.divide(hit, count, out=np.zeros_like(hit), where=count > 0)
    hit /= count
    return hit


def _extreme_vjp(g: Any, ans: Any, x: Any, axis: Any, keepdims: bool) -> Any:
    return _expand(g, x, axis, keepdims) * _arg_extreme(x, ans, axis, keepdims)


def _extreme_jvp(t: Any, ans: Any, x: Any, axis: Any, keepdims: bool) -> Any:
    return sum(t * _arg_extreme(x, ans, axis, keepdims), axis=axis, keepdims=keepdims)


max: Primitive = Primitive(
    "max", lambda x, axis, keepdims: np.max(x, axis=axis, keepdims=keepdims), _extreme_vjp,
    jvps=(_extreme_jvp,),
)
min: Primitive = Primitive(
    "min", lambda x, axis, keepdims: np.min(x, axis=axis, keepdims=keepdims), _extreme_vjp,
    jvps=(_extreme_jvp,),
)


def _nan_extreme_vjp(g: Any, ans: Any, x: Any, axis: Any, keepdims: bool) -> Any:
    return _expand(g, x, axis, keepdims) * _arg_extreme(x, ans, axis, keepdims, skip_nan=True)


def _nan_extreme_jvp(t: Any, ans: Any, x: Any, axis: Any, keepdims: bool) -> Any:
    return sum(t * _arg_extreme(x, ans, axis, keepdims, skip_nan=True), axis=axis,
               keepdims=keepdims)


# max and min ignoring NaN: a primitive, not max(where(isnan, -inf, x)), whose tie
# rule would count a NaN entry as tied with a -inf one and give it half the gradient.
nanmax: Primitive = Primitive(
    "nanmax", lambda x, axis, keepdims: np.nanmax(x, axis=axis, keepdims=keepdims),
    _nan_extreme_vjp, jvps=(_nan_extreme_jvp,),
)
nanmin: Primitive = Primitive(
    "nanmin", lambda x, axis, keepdims: np.nanmin(x, axis=axis, keepdims=keepdims),
    _nan_extreme_vjp, jvps=(_nan_extreme_jvp,),
)

# ---- weighted log-sum-exp ----------------------------------------------------------


def _weighted_shift(x: Any, b: Any, axis: Any) -> Any:
    """The max of ``x`` over ``axis`` where ``b != 0`` (kept), 0 where not finite: a constant.

    Entries with weight 0 are left out, as scipy does: a large ``x`` there must
    not make the others' ``exp(x - shift)`` underflow.
    """
    rx, rb = as_array(x), as_array(b)
    m = np.max(np.where(rb != 0, rx, -np.inf), axis=axis, keepdims=True)
    return np.where(np.isfinite(m), m, 0).astype(np.result_type(rx))


def _weighted_lse_fwd(x: Any, b: Any, axis: Any, keepdims: bool) -> Any:
    m = _weighted_shift(x, b, axis)
    with np.errstate(over="ignore", invalid="ignore"):
        terms = b * np.exp(x - m)
    # A weight 0 on an entry far above the others: 0 * inf there, a term that is 0.
    s = np.sum(np.where(b != 0, terms, 0), axis=axis, keepdims=True)
    if np.any(s < 0):
        raise ValueError("sum(b * exp(x)) is negative, so its log is not real; "
                         "logsumexp(b=) needs weights whose weighted sum stays positive")
    with np.errstate(divide="ignore"):  # a zero sum: log 0 = -inf, as scipy
        out = np.log(s) + m
    return out if keepdims else np.squeeze(out, axis=axis)


def _weighted_softmax(x: Any, b: Any, axis: Any) -> tuple[Any, Any]:
    """``(exp(x) / s, b * exp(x) / s)`` with ``s = sum(b * exp(x))``: d lse / db and d lse / dx."""
    e = exp(x - _weighted_shift(x, b, axis))
    full = np.broadcast_shapes(_shape(x), _shape(b))
    if _shape(e) != full:  # b adds axes or sides: d lse / db has the broadcast shape
        e = broadcast_to(e, shape=full)
    # Where b == 0 and exp overflows (x far above the others), b * e would be 0 * inf:
    # that term is 0 (its x-gradient 0), while d lse / db = e / s stays honestly inf.
    overflow = (as_array(b) == 0) & ~np.isfinite(as_array(e))
    be = b * (where(e, 0.0, cond=~overflow) if overflow.any() else e)
    s = sum(be, axis=axis, keepdims=True)
    return e / s, be / s


def _weighted_lse_vjp(i: int, g: Any, ans: Any, x: Any, b: Any, axis: Any,
                      keepdims: bool) -> Any:
    if not keepdims and axis is not None:
        g = reshape(g, shape=_kept_shape(np.broadcast_shapes(_shape(x), _shape(b)), axis))
    return _unbroadcast(g * _weighted_softmax(x, b, axis)[1 - i], (x, b)[i])


def _kept_shape(shape: tuple[int, ...], axis: Any) -> tuple[int, ...]:
    """``shape`` reduced over ``axis`` with ``keepdims=True``."""
    reduced = _axes(axis, len(shape))
    return tuple(1 if i in reduced else n for i, n in enumerate(shape))


weighted_logsumexp: Primitive = Primitive(
    "weighted_logsumexp", _weighted_lse_fwd,
    vjp_any=_weighted_lse_vjp,
    jvp_any=lambda i, t, ans, x, b, axis, keepdims: sum(
        t * _weighted_softmax(x, b, axis)[1 - i], axis=axis, keepdims=keepdims),
)

# ---- products ------------------------------------------------------------------------


def _along(axis: int, index: slice) -> tuple[slice, ...]:
    """A basic index applying ``index`` along ``axis`` (and taking everything else)."""
    return (slice(None),) * axis + (index,)


def _part(x: Any, axis: int, start: int | None = None, stop: int | None = None) -> Any:
    return getitem(x, index=_along(axis, slice(start, stop)))


def _flip(x: Any, axis: int) -> Any:
    return getitem(x, index=_along(axis, slice(None, None, -1)))


def _dtype(x: Any) -> Any:
    return np.result_type(as_array(x))


def _shift_in(x: Any, axis: int) -> Any:
    """``x`` moved one step along ``axis``: a 1 comes in first, the last entry drops out."""
    shape = list(_shape(x))
    if shape[axis] == 0:  # nothing to move
        return x
    shape[axis] = 1
    return concatenate(np.ones(shape, dtype=_dtype(x)), _part(x, axis, stop=-1), axis=axis)


def _exclusive_cumprod(x: Any, axis: int) -> Any:
    """``prod(x[:k])`` at each ``k`` along ``axis`` (1 at ``k = 0``), without dividing."""
    return cumprod(_shift_in(x, axis), axis=axis)


def _others_along(x: Any, axis: int) -> Any:
    """The product of the other entries along ``axis``: left times right exclusive products."""
    right = _flip(_exclusive_cumprod(_flip(x, axis), axis), axis)
    return _exclusive_cumprod(x, axis) * right


def _others(x: Any, axis: Any) -> Any:
    """At each entry, the product of the other entries of its reduction over ``axis``."""
    shape = _shape(x)
    nd = len(shape)
    reduced = tuple(sorted(set(_axes(axis, nd))))
    if not reduced:  # nothing multiplied: each entry is its own product
        return np.ones(shape, dtype=_dtype(x))
    if len(reduced) == 1:
        return _others_along(x, reduced[0])
    # Several axes: move them to the end, flatten them into one, and come back.
    kept = tuple(i for i in range(nd) if i not in reduced)
    perm = kept + reduced
    flat = reshape(transpose(x, axes=perm), shape=tuple(shape[i] for i in kept) + (-1,))
    out = reshape(_others_along(flat, len(kept)), shape=tuple(shape[i] for i in perm))
    return transpose(out, axes=_inverse(perm, nd))


prod: Primitive = Primitive(
    "prod", lambda x, axis, keepdims: np.prod(x, axis=axis, keepdims=keepdims),
    lambda g, ans, x, axis, keepdims: _expand(g, x, axis, keepdims) * _others(x, axis),
    jvps=(lambda t, ans, x, axis, keepdims:
          sum(t * _others(x, axis), axis=axis, keepdims=keepdims),),
)

# ---- cumulative sums and products (along one axis) -----------------------------------


def _cumsum_fwd(x: Any, axis: int, reverse: bool = False) -> Any:
    if reverse:  # sums from the end: the VJP of a cumulative sum
        return np.flip(np.cumsum(np.flip(x, axis), axis=axis), axis)
    return np.cumsum(x, axis=axis)


cumsum: Primitive = Primitive(
    "cumsum", _cumsum_fwd,
    lambda g, ans, x, axis, reverse=False: cumsum(g, axis=axis, reverse=not reverse),
    linear=True,
)


def _scan(b: Any, a: Any, axis: int) -> Any:
    """``r`` with ``r[k] = b[k] + a[k] * r[k - 1]`` along ``axis`` (``r[-1] = 0``).

    A doubling (Hillis-Steele) scan: after the step of offset ``d``, each
    ``r[k]`` is ``b[k] + a[k] * r[k - 2d]``, so ``log2(n)`` steps of slices,
    products and sums finish it, with no division (exact with zeros in ``a``)
    and in operations that differentiate again.
    """
    n = _shape(b)[axis]
    d = 1
    while d < n:
        tail = _part(b, axis, start=d) + _part(a, axis, start=d) * _part(b, axis, stop=-d)
        b = concatenate(_part(b, axis, stop=d), tail, axis=axis)
        if 2 * d < n:
            a = concatenate(_part(a, axis, stop=d),
                            _part(a, axis, start=d) * _part(a, axis, stop=-d), axis=axis)
        d *= 2
    return b


def _cumprod_vjp(g: Any, ans: Any, x: Any, axis: int) -> Any:
    # d cumprod(x)[j] / d x[k] = prod(x[:k]) * prod(x[k+1:j+1]) for j >= k, so the
    # gradient is prod(x[:k]) * s[k] with s[k] = g[k] + x[k+1] * s[k+1]: a scan from
    # the end, written as a scan of the flipped arrays.
    s = _flip(_scan(_flip(g, axis), _shift_in(_flip(x, axis), axis), axis), axis)
    return _exclusive_cumprod(x, axis) * s


cumprod: Primitive = Primitive(
    "cumprod", lambda x, axis: np.cumprod(x, axis=axis), _cumprod_vjp,
    # d y[j] = x[j] * d y[j-1] + t[j] * prod(x[:j]): a scan from the start.
    jvps=(lambda t, ans, x, axis: _scan(t * _exclusive_cumprod(x, axis), x, axis),),
)

__all__ = [
    "sum", "mean", "logsumexp", "log_softmax", "max", "min", "nanmax", "nanmin", "max_shift",
    "weighted_logsumexp", "prod", "cumsum", "cumprod",
]
