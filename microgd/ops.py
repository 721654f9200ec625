"""Every primitive of microgd: its NumPy forward and its VJPs, side by side.

A VJP ``vjp_i(g, ans, *inputs, **params)`` maps the gradient ``g`` of the
output ``ans`` to the gradient of input ``i``.  VJPs are written with Python
operators and the primitives below, never with raw ``np.*`` calls on ``g``:
in a first-order backward they receive arrays and run as plain NumPy, and under
``create_graph=True`` they receive Values and are themselves recorded, so
derivatives of any order come from this one table.

Where a VJP needs a constant (a mask, a sign, an index), it reads the input's
data with ``as_array``: such constants have zero derivative almost everywhere.
"""

from __future__ import annotations

import builtins
import math
import operator
from typing import Any

import numpy as np

from microgd.autodiff import Primitive
from microgd.value import Value, as_array


def _shape(x: Any) -> tuple[int, ...]:
    return getattr(x, "shape", ())


def _unbroadcast(g: Any, x: Any) -> Any:
    """Sum ``g`` back down to the shape of input ``x`` (undoing NumPy broadcasting)."""
    shape = x.shape  # x is an input that requires grad: an array or a Value
    return g if g.shape == shape else sum_to(g, shape=shape)


def _axes(axis: Any, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else axis
    return tuple(a % ndim if ndim else a for a in axes)


def _kept(x: Any, axis: Any) -> tuple[int, ...]:
    """The shape of ``x`` reduced over ``axis`` with ``keepdims=True``."""
    shape = _shape(x)
    reduced = _axes(axis, len(shape))
    return tuple(1 if i in reduced else n for i, n in enumerate(shape))


def _expand(g: Any, x: Any, axis: Any, keepdims: bool) -> Any:
    """Broadcast a reduction's gradient back over the reduced axes of ``x``."""
    if not keepdims and axis is not None:  # a 0-d g (axis=None) broadcasts as it is
        g = reshape(g, shape=_kept(x, axis))
    return broadcast_to(g, shape=_shape(x))


def _count(x: Any, axis: Any) -> int:
    shape = _shape(x)
    return int(np.prod([shape[a] for a in _axes(axis, len(shape))], dtype=np.int64))


# ---- shape plumbing (each the other's VJP) -------------------------------


def _sum_to_fwd(x: Any, shape: tuple[int, ...]) -> Any:
    lead = x.ndim - len(shape)
    kept = tuple(i for i, n in enumerate(shape, lead) if n == 1 and x.shape[i] != 1)
    # np.add.reduce is what x.sum() calls, without the Python-level wrapper.
    if kept:
        x = np.add.reduce(x, axis=kept, keepdims=True)
    return np.add.reduce(x, axis=tuple(range(lead))) if lead else x


sum_to: Primitive = Primitive(
    "sum_to", _sum_to_fwd,
    lambda g, ans, x, shape: broadcast_to(g, shape=_shape(x)),
)


def _broadcast_to_fwd(x: Any, shape: tuple[int, ...]) -> Any:
    if not isinstance(x, (np.ndarray, np.generic)):
        x = np.asarray(x)
    if x.size == 1 and math.prod(shape) <= 4096:
        # Small results from one element (the VJP of a full sum): a filled array
        # costs less than np.broadcast_to building a read-only view.
        out = np.empty(shape, dtype=x.dtype)
        out[...] = x
        return out
    return np.broadcast_to(x, shape)


broadcast_to: Primitive = Primitive(
    "broadcast_to", _broadcast_to_fwd,
    lambda g, ans, x, shape: sum_to(g, shape=_shape(x)),
    error="cannot broadcast shape {0} to {shape}",
)

reshape: Primitive = Primitive(
    "reshape", lambda x, shape: np.reshape(x, shape),
    lambda g, ans, x, shape: reshape(g, shape=_shape(x)),
    error="cannot reshape shape {0} into {shape}",
)


def _inverse(axes: Any, ndim: int) -> Any:
    # Axes may count from the end (as NumPy allows): normalize before inverting.
    return None if axes is None else tuple(int(i) for i in np.argsort([a % ndim for a in axes]))


transpose: Primitive = Primitive(
    "transpose", lambda x, axes: np.transpose(x, axes),
    lambda g, ans, x, axes: transpose(g, axes=_inverse(axes, len(_shape(x)))),
    error="axes {axes} do not match shape {0}",
)


def _is_basic(index: Any) -> bool:
    """Basic indexing (ints, slices, None, ...) never repeats an element."""
    items = index if isinstance(index, tuple) else (index,)
    return all(
        i is None or i is Ellipsis or isinstance(i, (int, np.integer, slice)) for i in items
    )


def _index_add_fwd(g: Any, index: Any, shape: tuple[int, ...]) -> Any:
    out = np.zeros(shape, dtype=np.result_type(g))
    if _is_basic(index):
        out[index] = g
    else:
        np.add.at(out, index, g)  # repeated indices accumulate
    return out


getitem: Primitive = Primitive(
    "getitem", lambda x, index: x[index],
    lambda g, ans, x, index: index_add(g, index=index, shape=_shape(x)),
)

index_add: Primitive = Primitive(
    "index_add", _index_add_fwd,
    lambda g, ans, x, index, shape: getitem(g, index=index),
)


def _concat_vjp(i: int, g: Any, ans: Any, *xs: Any, axis: int) -> Any:
    ax = axis % len(_shape(ans))
    start = builtins.sum(_shape(x)[ax] for x in xs[:i])
    sl = (slice(None),) * ax + (slice(start, start + _shape(xs[i])[ax]),)
    return getitem(g, index=sl)


concatenate: Primitive = Primitive(
    "concatenate", lambda *xs, axis: np.concatenate(xs, axis=axis),
    vjp_any=_concat_vjp,
)

# ---- elementwise arithmetic -------------------------------------------------

add: Primitive = Primitive(
    "add", operator.add,
    lambda g, ans, a, b: _unbroadcast(g, a),
    lambda g, ans, a, b: _unbroadcast(g, b),
)

sub: Primitive = Primitive(
    "sub", operator.sub,
    lambda g, ans, a, b: _unbroadcast(g, a),
    lambda g, ans, a, b: _unbroadcast(-g, b),
)

mul: Primitive = Primitive(
    "mul", operator.mul,
    lambda g, ans, a, b: _unbroadcast(g * b, a),
    lambda g, ans, a, b: _unbroadcast(g * a, b),
)

div: Primitive = Primitive(
    "div", operator.truediv,
    lambda g, ans, a, b: _unbroadcast(g / b, a),
    lambda g, ans, a, b: _unbroadcast(-g * ans / b, b),
)

neg: Primitive = Primitive("neg", operator.neg, lambda g, ans, x: -g)


def _pow_base_vjp(g: Any, ans: Any, a: Any, b: Any) -> Any:
    """d/da a**b = b * a**(b-1), without 0 * 0**-1 = nan where a == b == 0."""
    if not isinstance(b, Value):
        # A constant exponent: where b == 0 use a**1 instead of a**-1 (the
        # product is 0 either way).
        if isinstance(b, (int, float)):
            exponent = b - 1 if b != 0 else 1
        else:
            exponent = where(b - 1, 1.0, cond=np.asarray(b) != 0)
        return _unbroadcast(g * b * a ** exponent, a)
    # A traced exponent keeps b - 1 exactly, so derivatives in b stay right;
    # only where a == b == 0 (a**b is 1 along b = 0) is the base read as 1.
    keep = (np.asarray(as_array(a)) != 0) | (np.asarray(as_array(b)) != 0)
    safe_a = a if keep.all() else where(a, 1.0, cond=keep)
    return _unbroadcast(g * b * safe_a ** (b - 1), a)


def _safe_log(a: Any) -> Any:
    # log(a), with a == 0 (where d/db a**b = a**b log a = 0 for b > 0) read as log(1).
    if type(a) in (int, float):
        return math.log(a) if a != 0 else 0.0  # a Python float stays weakly typed
    ra = as_array(a)
    return log(where(a, 1.0, cond=np.asarray(ra) != 0))


pow: Primitive = Primitive(
    "pow", operator.pow,
    _pow_base_vjp,
    lambda g, ans, a, b: _unbroadcast(g * _safe_log(a) * ans, b),
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
)

minimum: Primitive = Primitive(
    "minimum", np.minimum,
    lambda g, ans, a, b: _unbroadcast(g * _tie_mask(b, a, ans), a),
    lambda g, ans, a, b: _unbroadcast(g * _tie_mask(a, b, ans), b),
)


def _where_fwd(a: Any, b: Any, cond: Any) -> Any:
    return np.where(cond, a, b)


where: Primitive = Primitive(
    "where", _where_fwd,
    lambda g, ans, a, b, cond: _unbroadcast(where(g, 0.0, cond=cond), a),
    lambda g, ans, a, b, cond: _unbroadcast(where(0.0, g, cond=cond), b),
)

def _matmul_vjp(g: Any, a: Any, b: Any, first: bool) -> Any:
    """Gradient of ``a @ b`` for ``a`` (first) or ``b``, for NumPy's 1-D and batched rules."""
    sa, sb = _shape(a), _shape(b)
    if len(sa) == 1 and len(sb) == 1:
        return g * (b if first else a)
    # Promote 1-D operands to matrices as NumPy does, and put the dropped axis back into g.
    a2 = reshape(a, shape=(1, sa[0])) if len(sa) == 1 else a
    b2 = reshape(b, shape=(sb[0], 1)) if len(sb) == 1 else b
    g2 = g
    if len(sa) == 1:
        g2 = reshape(g2, shape=_shape(g2)[:-1] + (1, _shape(g2)[-1]))
    if len(sb) == 1:
        g2 = reshape(g2, shape=_shape(g2) + (1,))
    if first:
        out = matmul(g2, _swap_last(b2))
        target = _shape(a2)
    else:
        out = matmul(_swap_last(a2), g2)
        target = _shape(b2)
    if _shape(out) != target:
        out = sum_to(out, shape=target)
    x = a if first else b
    return reshape(out, shape=_shape(x)) if _shape(out) != _shape(x) else out


def _swap_last(x: Any) -> Any:
    n = len(_shape(x))
    return transpose(x, axes=None if n == 2 else tuple(range(n - 2)) + (n - 1, n - 2))


matmul: Primitive = Primitive(
    "matmul", operator.matmul,
    # The common case first: 2-D @ 2-D, nothing promoted or broadcast.
    lambda g, ans, a, b: g @ b.T if a.ndim == 2 == b.ndim else _matmul_vjp(g, a, b, True),
    lambda g, ans, a, b: a.T @ g if a.ndim == 2 == b.ndim else _matmul_vjp(g, a, b, False),
    error="shapes {0} and {1} are not aligned",
)

# ---- elementwise functions --------------------------------------------------

exp: Primitive = Primitive("exp", np.exp, lambda g, ans, x: g * ans)
log: Primitive = Primitive("log", np.log, lambda g, ans, x: g / x)
sqrt: Primitive = Primitive("sqrt", np.sqrt, lambda g, ans, x: g * 0.5 / ans)
sin: Primitive = Primitive("sin", np.sin, lambda g, ans, x: g * cos(x))
cos: Primitive = Primitive("cos", np.cos, lambda g, ans, x: -(g * sin(x)))
tanh: Primitive = Primitive("tanh", np.tanh, lambda g, ans, x: g * (1 - ans * ans))


def _sigmoid_fwd(x: Any) -> Any:
    # exp(-log(1 + exp(-x))): no overflow at +-1000 and full relative accuracy
    # in both tails (1/(1+exp(-x)) overflows; 0.5*(1+tanh(x/2)) cancels).
    return np.exp(-np.logaddexp(0, -x))


sigmoid: Primitive = Primitive("sigmoid", _sigmoid_fwd, lambda g, ans, x: g * ans * (1 - ans))
relu: Primitive = Primitive("relu", lambda x: np.maximum(x, 0), lambda g, ans, x: g * (x > 0))
abs: Primitive = Primitive("abs", np.abs, lambda g, ans, x: g * np.sign(as_array(x)))


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


clip: Primitive = Primitive("clip", _clip_fwd, lambda g, ans, x, lo, hi: g * _inside(x, lo, hi))

# ---- reductions -------------------------------------------------------------------

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
)

mean: Primitive = Primitive(
    "mean", lambda x, axis, keepdims: np.mean(x, axis=axis, keepdims=keepdims),
    lambda g, ans, x, axis, keepdims: _expand(g, x, axis, keepdims) / _count(x, axis),
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


def _logsumexp_vjp(g: Any, ans: Any, x: Any, axis: Any, keepdims: bool) -> Any:
    # d lse / dx is the softmax of x.  Recomputed from the shifted x rather than as
    # exp(x - ans): at |x| ~ 1000, ans carries float32 rounding of 6e-5.
    if not keepdims and axis is not None:
        g = reshape(g, shape=_kept(x, axis))
    e = exp(x - max_shift(x, axis))
    return g * (e / sum(e, axis=axis, keepdims=True))


logsumexp: Primitive = Primitive("logsumexp", _logsumexp_fwd, _logsumexp_vjp)


def _log_softmax_fwd(x: Any, axis: int) -> Any:
    shifted = x - max_shift(x, axis)
    return shifted - np.log(np.add.reduce(np.exp(shifted), axis=axis, keepdims=True))


log_softmax: Primitive = Primitive(
    "log_softmax", _log_softmax_fwd,
    # exp(ans) is the softmax, accurate because ans was computed from the shifted x.
    lambda g, ans, x, axis: g - exp(ans) * sum(g, axis=axis, keepdims=True),
)

# ---- max and min ------------------------------------------------------------------


def _extreme_vjp(g: Any, ans: Any, x: Any, axis: Any, keepdims: bool) -> Any:
    # The gradient goes to the arg-extreme entries, split evenly between ties.
    rx, rans = as_array(x), as_array(ans)
    if not keepdims:
        rans = np.expand_dims(rans, _axes(axis, np.ndim(rx)))
    hit = (rx == rans).astype(np.result_type(rx))
    hit /= hit.sum(axis=axis, keepdims=True)
    return _expand(g, x, axis, keepdims) * hit


max: Primitive = Primitive(
    "max", lambda x, axis, keepdims: np.max(x, axis=axis, keepdims=keepdims), _extreme_vjp
)
min: Primitive = Primitive(
    "min", lambda x, axis, keepdims: np.min(x, axis=axis, keepdims=keepdims), _extreme_vjp
)

ALL: dict[str, Primitive] = {
    p.name: p for p in list(globals().values()) if isinstance(p, Primitive)
}
"""Every primitive by name (every Primitive defined in this module)."""
