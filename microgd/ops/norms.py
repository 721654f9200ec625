"""Norms: vector p-norms, and the singular values behind matrix 2-norms and nuclear norms.

Where a norm is 0 it has no derivative; microgd takes the subgradient 0 there,
as PyTorch does for vector norms, and 0 for the second derivative too (the
Hessian of ``||x||`` is ``(I - u u^T) / ||x||``, unbounded near 0; PyTorch
gives NaN).  Entries that are 0 likewise contribute 0 to first and second
derivatives of ``|x|**p`` (exact for ``p > 2``; for ``p <= 2`` the true slope or
curvature there is unbounded, and 0 is the finite choice).

The singular values' rules use the singular vectors, themselves primitives
(``left_singular``, ``right_singular``) with the standard rules (Townsend 2016,
"Differentiating the singular value decomposition"), so every order is exact
for distinct, nonzero singular values.  Where two singular values are equal
and nonzero, the singular vectors are not determined and the factor
``1 / (s_j**2 - s_i**2)`` of their derivatives is infinite: first derivatives of
symmetric functions of the singular values (the nuclear norm; the 2-norm,
whose tied maxima share the gradient evenly) are still right, but second
derivatives are not finite there (NaN or inf, as in PyTorch and JAX).  Two
singular values count as equal within an SVD's accuracy (the tolerance below):
LAPACK returns a repeated one as values a few ulps apart.  A
singular value that is 0 gets the subgradient 0 (PyTorch gives the
LAPACK-dependent ``u v^T`` there), and pairs of zero singular values
contribute 0 to second derivatives, so the norms of the zero matrix have
gradient and Hessian 0.  A singular value counts as 0 below the rank tolerance
of ``numpy.linalg.matrix_rank`` (``max(m, n) * eps * max(s)``): that is how
exactly an SVD computes them.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from microgd.autodiff import Primitive
from microgd.ops.arithmetic import where
from microgd.ops.elementwise import abs
from microgd.ops.linalg import _swap_last
from microgd.ops.reductions import sum
from microgd.ops.shape import _expand, _shape
from microgd.value import Value, as_array

# ---- vector p-norms -------------------------------------------------------------------


def _vector_norm_fwd(x: Any, ord: float, axis: Any, keepdims: bool) -> Any:
    if ord == 2:
        return np.sqrt(np.sum(x * x, axis=axis, keepdims=keepdims))
    if ord == 1:
        return np.sum(np.abs(x), axis=axis, keepdims=keepdims)
    with np.errstate(divide="ignore"):  # 0 ** (p < 0) is inf, and the norm 0, as in NumPy
        return np.sum(np.abs(x) ** ord, axis=axis, keepdims=keepdims) ** (1.0 / ord)


def _scale(g: Any, ans: Any, power: float) -> Any:
    """``g * ans**power`` where ``ans != 0``, and 0 where ``ans == 0`` (subgradient 0 at 0).

    The masked entries read ``ans`` as 1 before the power, so neither the
    result nor any derivative of it sees ``0 ** negative``.
    """
    if power == 0:
        return g
    nonzero = as_array(ans) != 0
    if np.all(nonzero):
        return g / ans if power == -1 else g * ans ** power
    safe = where(ans, 1.0, cond=nonzero)
    return where(g / safe if power == -1 else g * safe ** power, 0.0, cond=nonzero)


def _signed_power(x: Any, ord: float) -> Any:
    """``sign(x) * |x|**(p - 1)`` (d|x|**p / dx divided by p), taken as 0 where ``x == 0``."""
    if ord == 2:
        return x
    rx = as_array(x)
    sign = np.sign(rx)
    if ord == 1:
        return sign
    nonzero = rx != 0
    if np.all(nonzero):
        return sign * abs(x) ** (ord - 1)
    safe = where(x, 1.0, cond=nonzero)
    return where(sign * abs(safe) ** (ord - 1), 0.0, cond=nonzero)


vector_norm: Primitive = Primitive(
    "vector_norm", _vector_norm_fwd,
    # d ||x||_p / dx = sign(x) |x|**(p-1) * ||x||_p**(1-p)
    lambda g, ans, x, ord, axis, keepdims: (
        _expand(_scale(g, ans, 1.0 - ord), x, axis, keepdims) * _signed_power(x, ord)),
    jvps=(lambda t, ans, x, ord, axis, keepdims: _scale(
        sum(t * _signed_power(x, ord), axis=axis, keepdims=keepdims), ans, 1.0 - ord),),
)

# ---- singular values and vectors (of the last two axes) --------------------------------


def _svd(x: Any) -> Any:
    return np.linalg.svd(x, full_matrices=False)


def _factors(x: Any) -> tuple[Any, Any, Any]:
    """``U, s, Vh`` of ``x``: recorded primitives when ``x`` is a Value, else arrays."""
    if isinstance(x, Value):
        return left_singular(x), singular_values(x), right_singular(x)
    u, s, vh = _svd(x)
    return u, s, vh


def _row(s: Any) -> Any:
    return s[..., None, :]  # (..., 1, k): scales columns


def _col(s: Any) -> Any:
    return s[..., :, None]  # (..., k, 1): scales rows


def _accuracy(rs: Any, size: int) -> Any:
    """How exactly an SVD computes the singular values ``rs`` (an array, the values in
    its last axis) of matrices whose larger side is ``size``: ``size * eps * max(s)``
    per matrix (kept axis), the tolerance of ``numpy.linalg.matrix_rank``."""
    return np.max(rs, axis=-1, keepdims=True) * (size * np.finfo(rs.dtype).eps)


def _zero(s: Any, x: Any) -> Any:
    """Where singular values count as 0: at most :func:`_accuracy`.

    An SVD computes singular values to about that absolute accuracy, so a
    rank-deficient matrix made in floating point has "zeros" of about 1e-16 that
    must get the subgradient of zeros, not the noise directions LAPACK returns
    for them.
    """
    rs = as_array(s)
    if rs.shape[-1] == 0:
        return np.zeros(rs.shape, dtype=bool)
    return rs <= _accuracy(rs, builtins.max(_shape(x)[-2:]))


def _mask_zero(v: Any, zero: Any) -> Any:
    """``v`` with the entries at zero singular values set to 0 (their subgradient)."""
    return where(v, 0.0, cond=~zero) if np.any(zero) else v


def _pair_terms(s: Any, x: Any) -> tuple[Any, Any]:
    """``F`` with ``F[i, j] = 1 / (s_j**2 - s_i**2)`` off the diagonal, and ``1 / s``.

    ``F`` is 0 on the diagonal and where both singular values are 0, and
    infinite where two equal nonzero singular values make the singular vectors
    undetermined (see the module docstring); ``1 / s`` is 0 where ``s`` is 0.
    "Equal" is within an SVD's :func:`_accuracy`: LAPACK returns
    a repeated singular value as values a few ulps apart, whose ``1 / (s_j**2 -
    s_i**2)`` would be rounding noise, not a derivative.
    """
    zero = _zero(s, x)
    k = zero.shape[-1]
    diff = (_row(s) - _col(s)) * (_row(s) + _col(s))  # s_j**2 - s_i**2, accurately
    off = ~np.eye(k, dtype=bool)
    both_zero = zero[..., :, None] & zero[..., None, :]
    rs = as_array(s)
    tol = _accuracy(rs, builtins.max(_shape(x)[-2:]))[..., None] if k else 0.0
    good = off & ~both_zero & (np.abs(rs[..., None, :] - rs[..., :, None]) > tol)
    fill = np.where(off & ~both_zero, np.inf, 0.0).astype(np.result_type(rs))
    f = where(1.0 / where(diff, 1.0, cond=good), fill, cond=good)
    inv = 1.0 / s if not np.any(zero) else where(
        1.0 / where(s, 1.0, cond=~zero), 0.0, cond=~zero)
    return f, inv


def _singular_values_vjp(g: Any, ans: Any, x: Any) -> Any:
    # d s_i = u_i^T dA v_i: the gradient is U diag(g) Vh.
    u, _, vh = _factors(x)
    return u @ (_col(_mask_zero(g, _zero(ans, x))) * vh)


def _singular_values_jvp(t: Any, ans: Any, x: Any) -> Any:
    u, _, vh = _factors(x)
    return _mask_zero(sum(u * (t @ _swap_last(vh)), axis=-2, keepdims=False), _zero(ans, x))


# ---- the 2-norm and its inverse: the largest and smallest singular value ----------------


def _spectral_ties(s: Any, ans: Any, size: int) -> Any:
    """1 at the singular values ``s`` that equal the extreme ``ans`` up to an SVD's
    :func:`_accuracy` (``size = max(m, n)``), split evenly between them.

    Repeated singular values come out of LAPACK a few ulps apart, differently from one
    CPU's kernels to another's: exact ties (``max``'s rule) would give all of the
    gradient to whichever the rounding put first.
    """
    rs, ra = as_array(s), as_array(ans)
    hit = (np.abs(rs - np.expand_dims(ra, -1)) <= _accuracy(rs, size)).astype(rs.dtype)
    hit /= hit.sum(axis=-1, keepdims=True)
    return hit


def _spectral_extreme_fwd(s: Any, largest: bool, size: int) -> Any:
    return np.max(s, axis=-1) if largest else np.min(s, axis=-1)


spectral_extreme: Primitive = Primitive(
    "spectral_extreme", _spectral_extreme_fwd,
    lambda g, ans, s, largest, size: _expand(g, s, -1, False) * _spectral_ties(s, ans, size),
    jvps=(lambda t, ans, s, largest, size:
          sum(t * _spectral_ties(s, ans, size), axis=-1, keepdims=False),),
)
"""The largest (``largest=True``) or smallest of the singular values ``s`` in the last
axis, of matrices whose larger side is ``size``: the 2-norm (or -2) of the matrices,
with ties within an SVD's accuracy sharing the derivative evenly."""


def _left_vjp(gu: Any, ans: Any, x: Any) -> Any:
    u, s, vh = _factors(x)
    f, inv = _pair_terms(s, x)
    xu = _swap_last(u) @ gu
    out = u @ ((f * (xu - _swap_last(xu))) * _row(s)) @ vh
    if _shape(x)[-2] > _shape(s)[-1]:  # U is not square: the part outside its columns
        out = out + ((gu - u @ xu) * _row(inv)) @ vh
    return out


def _left_jvp(t: Any, ans: Any, x: Any) -> Any:
    u, s, vh = _factors(x)
    f, inv = _pair_terms(s, x)
    tv = t @ _swap_last(vh)
    p = _swap_last(u) @ tv  # U^T t V
    du = u @ (f * (p * _row(s) + _col(s) * _swap_last(p)))
    if _shape(x)[-2] > _shape(s)[-1]:
        du = du + (tv - u @ p) * _row(inv)
    return du


def _right_vjp(gvh: Any, ans: Any, x: Any) -> Any:
    u, s, vh = _factors(x)
    f, inv = _pair_terms(s, x)
    y = vh @ _swap_last(gvh)  # V^T (dL/dV)
    out = u @ ((_col(s) * (f * (y - _swap_last(y)))) @ vh)
    if _shape(x)[-1] > _shape(s)[-1]:  # V is not square
        out = out + u @ (_col(inv) * (gvh - _swap_last(y) @ vh))
    return out


def _right_jvp(t: Any, ans: Any, x: Any) -> Any:
    u, s, vh = _factors(x)
    f, inv = _pair_terms(s, x)
    v = _swap_last(vh)
    tu = _swap_last(t) @ u
    p = _swap_last(tu) @ v  # U^T t V
    dv = v @ (f * (_col(s) * p + _swap_last(p) * _row(s)))
    if _shape(x)[-1] > _shape(s)[-1]:
        dv = dv + (tu - v @ _swap_last(p)) * _row(inv)
    return _swap_last(dv)


singular_values: Primitive = Primitive(
    "singular_values", lambda x: np.linalg.svd(x, compute_uv=False),
    _singular_values_vjp, jvps=(_singular_values_jvp,),
)
left_singular: Primitive = Primitive(
    "left_singular", lambda x: _svd(x)[0], _left_vjp, jvps=(_left_jvp,),
)
right_singular: Primitive = Primitive(
    "right_singular", lambda x: _svd(x)[2], _right_vjp, jvps=(_right_jvp,),
)

__all__ = [
    "vector_norm", "singular_values", "left_singular", "right_singular", "spectral_extreme",
]
