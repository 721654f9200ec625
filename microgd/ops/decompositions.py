"""Matrix functions and factorizations: inverse, solve, log-determinant, Cholesky, pinv, QR.

Every primitive here takes stacks of matrices (shape ``(..., m, n)``) as NumPy's
``linalg`` gufuncs do, and its rules are written with matrix products and solves
(``solve`` on the transposed system rather than an explicit inverse where the
formula allows), so they differentiate again to any order.  The spectral
decompositions ``eigh`` and ``svd``, and ``det`` (whose gradient is computed from
the SVD), are in ``microgd.ops.spectral``.

A NumPy ``LinAlgError`` (a singular matrix, one that is not positive definite)
reaches the caller as ``LinAlgError``, with the op's name and the shapes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from microgd.autodiff import Primitive
from microgd.ops.linalg import _swap_last as _T
from microgd.ops.reductions import sum
from microgd.ops.shape import _shape, _unbroadcast, concatenate, getitem, reshape
from microgd.value import Value, as_array

# ---- helpers shared with microgd.ops.spectral -------------------------------------


def _dtype(x: Any) -> np.dtype:
    return np.result_type(as_array(x))


def _diag_embed(v: Any) -> Any:
    """``(..., n)`` to the diagonal matrices ``(..., n, n)``."""
    n = _shape(v)[-1]
    return reshape(v, shape=_shape(v) + (1,)) * np.eye(n, dtype=_dtype(v))


def _diag_part(x: Any) -> Any:
    """The diagonals ``(..., n)`` of the matrices ``(..., n, n)``."""
    r = np.arange(_shape(x)[-1])
    return getitem(x, index=(Ellipsis, r, r))


def _per_matrix(g: Any) -> Any:
    """One number per matrix ``(...)`` as ``(..., 1, 1)``, to scale the matrices."""
    return reshape(g, shape=_shape(g) + (1, 1))


def _is_plain(*xs: Any) -> bool:
    """A first-order pass: the rule sees arrays, so it may branch on their numbers."""
    return not any(isinstance(x, Value) for x in xs)


def _right_solve(y: Any, r: Any) -> Any:
    """``y R^-1``, as a solve of the transposed system (no inverse)."""
    return _T(solve(_T(r), _T(y)))


# ---- inverse and solve ---------------------------------------------------------------

inv: Primitive = Primitive(
    "inv", np.linalg.inv,
    # d(A^-1) = -A^-1 dA A^-1; the output is the inverse, so no new factorization.
    lambda g, ans, a: -(_T(ans) @ g @ _T(ans)),
    jvps=(lambda t, ans, a: -(ans @ t @ ans),),
)


def _solve_fwd(a: Any, b: Any) -> Any:
    if np.ndim(b) < 2:
        raise ValueError("b must be a stack of matrices (..., M, K); "
                         "microgd.linalg.solve takes a vector b too")
    return np.linalg.solve(a, b)


def _solve_vjp_a(g: Any, ans: Any, a: Any, b: Any) -> Any:
    # x = A^-1 b: grad_A = -(A^-T g) x^T, grad_b = A^-T g, both from a solve with A^T.
    return _unbroadcast(-(solve(_T(a), g) @ _T(ans)), a)


solve: Primitive = Primitive(
    "solve", _solve_fwd,
    _solve_vjp_a,
    lambda g, ans, a, b: _unbroadcast(solve(_T(a), g), b),
    jvps=(lambda t, ans, a, b: -solve(a, t @ ans), lambda t, ans, a, b: solve(a, t)),
)

# ---- log-determinant (det itself is in microgd.ops.spectral: its gradient uses the SVD) --


def _slogdet_fwd(a: Any) -> Any:
    sign, logabsdet = np.linalg.slogdet(a)
    out = np.empty((2,) + np.shape(sign), dtype=np.result_type(logabsdet))
    out[0], out[1] = sign, logabsdet
    return out


def _inv_transposed(op: str, a: Any) -> Any:
    try:
        return _T(inv(a))
    except np.linalg.LinAlgError:
        raise np.linalg.LinAlgError(
            f"{op}: the derivative of log|det A| is A^-T, which does not exist for this "
            f"singular matrix (shape {_shape(a)}; log|det A| = -inf)") from None


def _slogdet_jvp(t: Any, ans: Any, a: Any) -> Any:
    d = sum(_inv_transposed("slogdet", a) * t, axis=(-2, -1), keepdims=False)
    shape = (1,) + _shape(d)
    zero = np.zeros(shape, dtype=_dtype(d))  # the sign is locally constant
    return concatenate(zero, reshape(d, shape=shape), axis=0)


slogdet: Primitive = Primitive(
    "slogdet", _slogdet_fwd,
    # Output [sign, log|det|] stacked on a first axis; only the second has a derivative.
    lambda g, ans, a: _per_matrix(getitem(g, index=1)) * _inv_transposed("slogdet", a),
    jvps=(_slogdet_jvp,),
)

# ---- Cholesky ----------------------------------------------------------------------
# A = L L^T with L lower triangular.  A is symmetrized first, (A + A^T) / 2, as JAX does:
# the rules then hold for every A (the gradient is symmetric, a tangent counts by its
# symmetric part), and a symmetric A is unchanged.  (NumPy reads A's lower triangle.)  With
# Phi(X) the lower triangle of X with its diagonal halved (Murray 2016):
#   dL = L Phi(L^-1 dA L^-T),   grad_A = sym(L^-T Phi(L^T grad_L) L^-1).


def _phi(x: Any) -> Any:
    n = _shape(x)[-1]
    dtype = _dtype(x)
    return x * (np.tril(np.ones((n, n), dtype=dtype)) - 0.5 * np.eye(n, dtype=dtype))


def _cholesky_vjp(g: Any, low: Any, a: Any) -> Any:
    p = _phi(_T(low) @ g)
    s = _right_solve(solve(_T(low), p), low)  # L^-T P L^-1
    return (s + _T(s)) * 0.5


def _cholesky_jvp(t: Any, low: Any, a: Any) -> Any:
    z = solve(low, (t + _T(t)) * 0.5)  # L^-1 sym(dA)
    m = _T(solve(low, _T(z)))  # L^-1 sym(dA) L^-T
    return low @ _phi(m)


cholesky: Primitive = Primitive(
    "cholesky", lambda a: np.linalg.cholesky((a + np.swapaxes(a, -1, -2)) * 0.5),
    _cholesky_vjp, jvps=(_cholesky_jvp,),
)

# ---- pseudo-inverse ----------------------------------------------------------------
# At a fixed rank (Golub & Pereyra 1973), with P = pinv(A):
#   dP = -P dA P + P P^T dA^T (I - A P) + (I - P A) dA^T P^T P.
# Where a singular value crosses the cutoff (rcond) the rank changes and pinv jumps.


def _pinv_fwd(a: Any, rcond: Any, hermitian: bool) -> Any:
    return np.linalg.pinv(a, rcond=rcond, hermitian=hermitian)


def _pinv_vjp(g: Any, p: Any, a: Any, **_: Any) -> Any:
    pt, gt = _T(p), _T(g)
    x = gt @ (p @ pt)
    y = (pt @ p) @ gt
    return -(pt @ g @ pt) + (x - a @ (p @ x)) + (y - (y @ p) @ a)


def _pinv_jvp(t: Any, p: Any, a: Any, **_: Any) -> Any:
    pt, tt = _T(p), _T(t)
    z = (p @ pt) @ tt
    w = tt @ (pt @ p)
    return -(p @ t @ p) + (z - (z @ a) @ p) + (w - p @ (a @ w))


pinv: Primitive = Primitive("pinv", _pinv_fwd, _pinv_vjp, jvps=(_pinv_jvp,))

# ---- QR ---------------------------------------------------------------------------------
# A = Q R (reduced, m >= n), Q with orthonormal columns, R upper triangular, both packed
# in one array: Q's m rows, then R's n rows.  With X = Q^T dA R^-1 and
# Omega = tril(X, -1) - tril(X, -1)^T (skew: Q^T dQ must be):
#   dQ = dA R^-1 + Q (Omega - X),   dR = (X - Omega) R;
# its adjoint, with B = gR R^T - Q^T gQ and C = triu(B) + tril(B^T, -1):
#   grad_A = (gQ + Q C) R^-T.
# The rules hold where R's diagonal keeps its signs (LAPACK's Householder choice), as
# PyTorch's and JAX's do.


def qr_parts(x: Any, m: int) -> tuple[Any, Any]:
    """Q ``(..., m, n)`` and R ``(..., n, n)`` packed in ``x``."""
    return (getitem(x, index=(Ellipsis, slice(0, m), slice(None))),
            getitem(x, index=(Ellipsis, slice(m, None), slice(None))))


def _qr_fwd(a: Any) -> Any:
    q, r = np.linalg.qr(a, mode="reduced")
    return np.concatenate([q, r], axis=-2)


def _strict_lower(x: Any) -> Any:
    n = _shape(x)[-1]
    return x * np.tril(np.ones((n, n), dtype=_dtype(x)), -1)


def _qr_vjp(g: Any, ans: Any, a: Any) -> Any:
    m = _shape(a)[-2]
    q, r = qr_parts(ans, m)
    gq, gr = qr_parts(g, m)
    b = gr @ _T(r) - _T(q) @ gq
    c = b - _strict_lower(b) + _strict_lower(_T(b))  # triu(B) + tril(B^T, -1)
    return _T(solve(r, _T(gq + q @ c)))  # (gQ + Q C) R^-T


def _qr_jvp(t: Any, ans: Any, a: Any) -> Any:
    m = _shape(a)[-2]
    q, r = qr_parts(ans, m)
    t_rinv = _right_solve(t, r)
    x = _T(q) @ t_rinv
    low = _strict_lower(x)
    omega = low - _T(low)
    return concatenate(t_rinv + q @ (omega - x), (x - omega) @ r, axis=-2)


qr: Primitive = Primitive("qr", _qr_fwd, _qr_vjp, jvps=(_qr_jvp,))

__all__ = [
    "inv", "solve", "slogdet", "cholesky", "pinv", "qr",
]
