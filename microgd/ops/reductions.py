"""Reductions over axes: sums, means, log-sum-exp, log-softmax, max and min."""

from __future__ import annotations

from typing import Any

import numpy as np

from microgd.autodiff import Primitive
from microgd.ops.elementwise import exp
from microgd.ops.shape import _axes, _expand, _kept, _reduced_size, reshape
from microgd.value import as_array


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

mean: Primitive = Primitive(
    "mean", lambda x, axis, keepdims: np.mean(x, axis=axis, keepdims=keepdims),
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


def _arg_extreme(x: Any, ans: Any, axis: Any, keepdims: bool) -> Any:
    """1 at the arg-extreme entries of ``x`` over ``axis``, split evenly between ties."""
    rx, rans = as_array(x), as_array(ans)
    if not keepdims:
        rans = np.expand_dims(rans, _axes(axis, np.ndim(rx)))
    hit = (rx == rans).astype(np.result_type(rx))
    hit /= hit.sum(axis=axis, keepdims=True)
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

__all__ = [
    "sum", "mean", "logsumexp", "log_softmax", "max", "min", "max_shift",
]
