"""Spectral decompositions, ``eigh`` (symmetric eigenproblem) and ``svd``, and ``det``.

``det`` is here because its gradient, the cofactor matrix, is computed from the
SVD, which keeps it exact at singular matrices.

A primitive has one output, so each packs its results into one array (``eigh``:
the eigenvalues as a first row above the eigenvectors; ``svd``: U, S and Vh
flattened side by side) and ``microgd.linalg`` unpacks them with indexing,
which is differentiable like everything else.

The rules are exact for distinct eigenvalues (singular values).  They contain
the factors F_ij = 1 / (w_j - w_i) (for the SVD 1 / (s_j^2 - s_i^2)); where two
values tie (their gap at most ``n * eps * max|w|``) the factor is set to 0.  That
is the exact first derivative when the loss does not depend on the choice of
basis inside the tied eigenspace (a function of the eigenvalues, of the
eigenspace's projector, of |v|^2 summed over the space); otherwise the derivative
does not exist, and the returned value is the one with that basis moving least.
Differentiating the rule again at a tie would need the limits of the zeroed
terms, so there the rule's output is wrapped in ``first_order``, whose own
derivative raises ``LinAlgError``.  PyTorch and JAX give inf or nan at ties.
Eigenvectors are defined up to sign: only losses that do not depend on the signs
have a derivative.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from microgd.autodiff import Primitive
from microgd.ops.arithmetic import where
from microgd.ops.decompositions import _diag_embed, _diag_part, _is_plain, inv
from microgd.ops.linalg import _swap_last as _T
from microgd.ops.reductions import sum
from microgd.ops.shape import _shape, concatenate, getitem, reshape
from microgd.value import Value, as_array


def _apart(w: Any) -> Any:
    """Where ``w_i`` and ``w_j`` differ by more than ``n * eps * max|w|`` (not on the diagonal)."""
    rw = np.asarray(as_array(w))
    n = rw.shape[-1]
    scale = np.max(np.abs(rw), axis=-1, keepdims=True)[..., None] if n else 0.0
    gap = rw[..., None, :] - rw[..., :, None]
    return np.abs(gap) > n * np.finfo(rw.dtype).eps * scale


def _tied(w: Any) -> bool:
    apart = _apart(w)
    n = apart.shape[-1]
    return bool(n > 1 and not (apart | np.eye(n, dtype=bool)).all())


def _gap_inverse(w: Any, squared: bool = False) -> Any:
    """``F[..., i, j] = 1 / (w_j - w_i)`` (``1 / (w_j**2 - w_i**2)`` if ``squared``), 0 at ties."""
    n = _shape(w)[-1]
    apart = _apart(w)
    row = reshape(w, shape=_shape(w)[:-1] + (1, n))
    col = reshape(w, shape=_shape(w)[:-1] + (n, 1))
    diff = row * row - col * col if squared else row - col
    return where(1.0 / where(diff, 1.0, cond=apart), 0.0, cond=apart)


def _safe_reciprocal(s: Any) -> Any:
    """``1 / s``, with 0 where ``s`` is 0 (a rank-deficient matrix's missing directions)."""
    nonzero = np.asarray(as_array(s)) != 0
    return where(1.0 / where(s, 1.0, cond=nonzero), 0.0, cond=nonzero)


def _refuse(*_: Any, message: str) -> Any:
    raise np.linalg.LinAlgError(message)


first_order: Primitive = Primitive(
    "first_order", lambda x, message: x,
    lambda g, ans, x, message: _refuse(message=message),
    jvps=(lambda t, ans, x, message: _refuse(message=message),),
)
"""``x`` itself, whose derivative raises ``LinAlgError(message)``: marks a first
derivative that is exact while its own derivative would not be."""


def _first_order_at_ties(out: Any, op: str, tied: bool, *xs: Any) -> Any:
    """``out``, refusing to be differentiated further when values tie (traced rules only).

    At a tie the first derivative is exact for the losses that have one (see the module
    docstring), but differentiating the rule again would need the limits of the
    1/(gap) terms, which zeroing them does not give.
    """
    if tied and not _is_plain(*xs):
        return first_order(out, message=(
            f"{op}: second and higher derivatives where eigenvalues or singular values tie "
            "(or, for a non-square svd, one is 0) are not supported; the first derivative "
            "is exact for losses that do not depend on the basis of the tied space"))
    return out


def _row(v: Any) -> Any:
    """``(..., k)`` as ``(..., 1, k)``: multiplies column j of a matrix by v_j."""
    return reshape(v, shape=_shape(v)[:-1] + (1, _shape(v)[-1]))


def _col(v: Any) -> Any:
    """``(..., k)`` as ``(..., k, 1)``: multiplies row i of a matrix by v_i."""
    return reshape(v, shape=_shape(v) + (1,))


# ---- eigh: A = V diag(w) V^T, w ascending ------------------------------------------
# A is symmetrized first, (A + A^T) / 2, as JAX does: the rules then hold for every A (a
# tangent counts by its symmetric part, the gradient is symmetric), and for a symmetric A,
# what eigh is for, nothing changes.  (NumPy reads one triangle of a non-symmetric A.)
#   dw = diag(V^T dA V),  dV = V (F o (V^T dA V)),
#   grad_A = V (diag(grad_w) + F o skew(V^T grad_V)) V^T.


def symmetric_part(a: Any) -> Any:
    """``(a + a^T) / 2`` of NumPy arrays: ``a`` itself (exactly) when it is symmetric."""
    return (a + np.swapaxes(a, -1, -2)) * np.asarray(0.5, dtype=a.dtype)


def _eigh_fwd(a: Any, UPLO: str) -> Any:
    w, v = np.linalg.eigh(symmetric_part(a), UPLO=UPLO)  # type: ignore[call-overload]
    return np.concatenate([w[..., None, :], v], axis=-2)


def eigh_parts(x: Any) -> tuple[Any, Any]:
    """The eigenvalues ``(..., n)`` and eigenvectors ``(..., n, n)`` packed in ``x``."""
    return (getitem(x, index=(Ellipsis, 0, slice(None))),
            getitem(x, index=(Ellipsis, slice(1, None), slice(None))))


def _eigh_vjp(g: Any, ans: Any, a: Any, UPLO: str) -> Any:
    w, v = eigh_parts(ans)
    gw, gv = eigh_parts(g)
    inner = _diag_embed(gw)
    if not (_is_plain(gv) and not np.any(gv)):  # skipped for losses of the eigenvalues
        x = _T(v) @ gv
        inner = inner + _gap_inverse(w) * ((x - _T(x)) * 0.5)
    return _first_order_at_ties(v @ inner @ _T(v), "eigh", _tied(w), g, ans)


def _eigh_jvp(t: Any, ans: Any, a: Any, UPLO: str) -> Any:
    w, v = eigh_parts(ans)
    m = _T(v) @ ((t + _T(t)) * 0.5) @ v
    dv = v @ (_gap_inverse(w) * m)
    return _first_order_at_ties(concatenate(_row(_diag_part(m)), dv, axis=-2), "eigh",
                                _tied(w), t, ans)


eigh: Primitive = Primitive("eigh", _eigh_fwd, _eigh_vjp, jvps=(_eigh_jvp,))

# ---- svd: A = U diag(S) Vh, S descending -----------------------------------------
# For the reduced SVD (k = min(m, n) columns), with F_ij = 1 / (s_j^2 - s_i^2) and V = Vh^T
# (Townsend 2016):
#   grad_A = U [ (F o (U^T gU - gU^T U)) S + diag(gS) + S (F o (V^T gV - gV^T V)) ] V^T
#            + (I - U U^T) gU S^-1 V^T + U S^-1 gV^T (I - V V^T).
# With full_matrices=True the columns U2 beyond k span the complement of U1's, in a
# basis NumPy picks; they move as little as possible (U2^T dU2 = 0), so dU2 =
# -U1 dU1^T U2 and their gradient gU2 adds -U2 gU2^T U1 to gU1 (the same for V).  That is
# exact for losses that do not depend on the basis of the complement (U2 U2^T).


def svd_shapes(shape: tuple[int, ...], full_matrices: bool) -> tuple[tuple[int, ...], ...]:
    """The shapes of U, S and Vh for matrices of ``shape``."""
    *batch, m, n = shape
    k = min(m, n)
    b = tuple(batch)
    return (b + (m, m if full_matrices else k), b + (k,), b + (n if full_matrices else k, n))


def _svd_fwd(a: Any, full_matrices: bool) -> Any:
    u, s, vh = np.linalg.svd(a, full_matrices=full_matrices)
    batch = a.shape[:-2]
    return np.concatenate([u.reshape(batch + (-1,) if u.size else batch + (0,)), s,
                           vh.reshape(batch + (-1,) if vh.size else batch + (0,))], axis=-1)


def svd_parts(x: Any, shape: tuple[int, ...], full_matrices: bool) -> tuple[Any, Any, Any]:
    """U, S and Vh packed in ``x``, for matrices of ``shape``."""
    su, ss, sv = svd_shapes(shape, full_matrices)
    nu, nk = su[-2] * su[-1], ss[-1]
    return (reshape(getitem(x, index=(Ellipsis, slice(0, nu))), shape=su),
            getitem(x, index=(Ellipsis, slice(nu, nu + nk))),
            reshape(getitem(x, index=(Ellipsis, slice(nu + nk, None))), shape=sv))


def _svd_vjp(g: Any, ans: Any, a: Any, full_matrices: bool) -> Any:
    shape = _shape(a)
    m, n = shape[-2:]
    k = min(m, n)
    u, s, vh = svd_parts(ans, shape, full_matrices)
    gu, gs, gvh = svd_parts(g, shape, full_matrices)
    v, gv = _T(vh), _T(gvh)
    if full_matrices:
        if m > k:
            u, u2, gu, gu2 = u[..., :k], u[..., k:], gu[..., :k], gu[..., k:]
            gu = gu - u2 @ (_T(gu2) @ u)
        if n > k:
            v, v2, gv, gv2 = v[..., :k], v[..., k:], gv[..., :k], gv[..., k:]
            gv = gv - v2 @ (_T(gv2) @ v)
    if _is_plain(gu, gv) and not (np.any(gu) or np.any(gv)):
        return (u * _row(gs)) @ _T(v)  # a loss of the singular values only
    f = _gap_inverse(s, squared=True)
    utgu, vtgv = _T(u) @ gu, _T(v) @ gv
    inner = ((f * (utgu - _T(utgu))) * _row(s) + _diag_embed(gs)
             + _col(s) * (f * (vtgv - _T(vtgv))))
    out = u @ inner @ _T(v)
    if m > k:
        out = out + ((gu - u @ utgu) * _row(_safe_reciprocal(s))) @ _T(v)
    if n > k:
        out = out + (u * _row(_safe_reciprocal(s))) @ (_T(gv) - _T(vtgv) @ _T(v))
    return _first_order_at_ties(out, "svd", _svd_tied(s, m, n), g, ans)


def _svd_jvp(t: Any, ans: Any, a: Any, full_matrices: bool) -> Any:
    shape = _shape(a)
    m, n = shape[-2:]
    k = min(m, n)
    u, s, vh = svd_parts(ans, shape, full_matrices)
    v = _T(vh)
    u1, v1 = (u[..., :k], v[..., :k]) if full_matrices else (u, v)
    dp = _T(u1) @ t @ v1
    f = _gap_inverse(s, squared=True)
    du = u1 @ (f * (dp * _row(s) + _col(s) * _T(dp)))
    dv = v1 @ (f * (_col(s) * dp + _T(dp) * _row(s)))
    if m > k:
        du = du + (t @ v1 - u1 @ dp) * _row(_safe_reciprocal(s))
    if n > k:
        dv = dv + (_T(t) @ u1 - v1 @ _T(dp)) * _row(_safe_reciprocal(s))
    if full_matrices:
        if m > k:
            du = concatenate(du, -(u1 @ (_T(du) @ u[..., k:])), axis=-1)
        if n > k:
            dv = concatenate(dv, -(v1 @ (_T(dv) @ v[..., k:])), axis=-1)
    batch = shape[:-2]
    flat_u = reshape(du, shape=batch + (_shape(du)[-2] * _shape(du)[-1],))
    flat_vh = reshape(_T(dv), shape=batch + (_shape(dv)[-2] * _shape(dv)[-1],))
    return _first_order_at_ties(concatenate(flat_u, _diag_part(dp), flat_vh, axis=-1), "svd",
                                _svd_tied(s, m, n), t, ans)


def _svd_tied(s: Any, m: int, n: int) -> bool:
    return _tied(s) or (m != n and not np.all(np.asarray(as_array(s))))


svd: Primitive = Primitive("svd", _svd_fwd, _svd_vjp, jvps=(_svd_jvp,))

# ---- determinant -------------------------------------------------------------------
# The gradient of det is the cofactor matrix C = det(A) A^-T, which exists for every A
# (its entries are minors).  Computed as det(A) A^-T it fails at singular matrices, so it
# is computed from the SVD A = U S V^T instead: C = det(U) det(V) U diag(prod_{j!=i} s_j)
# V^T, products without division, exact at any rank.  Its derivative likewise: with
# E = U^T X V and P_ij = prod_{m not in {i,j}} s_m (0 on the diagonal), the derivative of C
# along X is det(U) det(V) U K V^T, K_ii = sum_k P_ik E_kk, K_ij = -P_ij E_ji.  That map
# is its own adjoint (the Hessian of det is symmetric): the cofactor's VJP and JVP.


def _svd_frame(a: Any) -> tuple[Any, Any, Any, Any]:
    u, s, vh = np.linalg.svd(a)
    sign = np.sign(np.linalg.det(u)) * np.sign(np.linalg.det(vh))
    return u, s, vh, sign


def _products_leaving_out(s: Any) -> tuple[Any, Any]:
    """``prod_{m != i} s_m`` (``(..., n)``) and ``prod_{m not in {i, j}} s_m`` (``(..., n, n)``,
    0 on the diagonal), from prefix and suffix products (no division: zeros are fine)."""
    n = s.shape[-1]
    one = np.ones(s.shape[:-1] + (1,), dtype=s.dtype)
    prefix = np.concatenate([one, np.cumprod(s, axis=-1)], axis=-1)  # prefix[k] = prod s[:k]
    suffix = np.concatenate([np.cumprod(s[..., ::-1], axis=-1)[..., ::-1], one], axis=-1)
    but_one = prefix[..., :-1] * suffix[..., 1:]
    but_two = np.zeros(s.shape + (n,), dtype=s.dtype)
    for i in range(n - 1):
        # j > i: prod s[:i] * prod s[i+1:j] * prod s[j+1:]
        between = np.concatenate([one, np.cumprod(s[..., i + 1:-1], axis=-1)], axis=-1)
        but_two[..., i, i + 1:] = prefix[..., i:i + 1] * between * suffix[..., i + 2:]
    return but_one, but_two + np.swapaxes(but_two, -1, -2)


def _cofactor_fwd(a: Any) -> Any:
    if a.shape[-1] == 0:
        return np.zeros_like(a)
    u, s, vh, sign = _svd_frame(a)
    but_one, _ = _products_leaving_out(s)
    return sign[..., None, None] * ((u * but_one[..., None, :]) @ vh)


def _cofactor_derivative_fwd(x: Any, a: Any) -> Any:
    """The derivative of the cofactor matrix of ``a`` along ``x``, in the SVD basis."""
    if a.shape[-1] == 0:
        return np.zeros(np.broadcast_shapes(np.shape(x), a.shape), dtype=np.result_type(x, a))
    u, s, vh, sign = _svd_frame(a)
    _, but_two = _products_leaving_out(s)
    e = np.swapaxes(u, -1, -2) @ x @ np.swapaxes(vh, -1, -2)
    spread = np.sum(_col(np.diagonal(e, 0, -2, -1)) * but_two, axis=-2)  # sum_k P_ik E_kk
    k = _diag_embed(spread) - but_two * np.swapaxes(e, -1, -2)
    return (u @ k @ vh) * sign[..., None, None]


def _third_derivative(*_: Any, **__: Any) -> Any:
    raise np.linalg.LinAlgError(
        "det: derivatives of order 3 and higher at an ill-conditioned matrix (smallest "
        "singular value below 1e-4 times the largest) are not supported")


cofactor_derivative: Primitive = Primitive(
    "cofactor_derivative", _cofactor_derivative_fwd,
    # Linear in x and its own adjoint; its derivative in a is the third derivative of det.
    lambda g, ans, x, a: cofactor_derivative(g, a),
    _third_derivative,
    jvps=(lambda t, ans, x, a: cofactor_derivative(t, a), _third_derivative),
)
"""The second derivative of det along ``x`` (exact at any rank), not differentiable in ``a``."""


def _cofactor_rule(x: Any, ans: Any, a: Any) -> Any:
    """The cofactor's VJP and JVP: the map is its own adjoint (the Hessian of det is
    symmetric).  Computed in the SVD basis (exact at any rank) unless ``a`` is itself
    being differentiated (third derivatives of det): then it is written with ``inv``
    and ``det`` where ``a`` is well conditioned; where it is not, the third derivative
    raises ``LinAlgError``.
    """
    if isinstance(a, Value):
        shape = _shape(a)
        raw_s = np.linalg.svd(as_array(a), compute_uv=False)
        if shape[-1] and np.all(raw_s[..., -1] > _WELL_CONDITIONED * raw_s[..., 0]):
            # C = det(A) A^-T, so dC = <C, x> A^-T - det(A) A^-T x^T A^-T.
            inv_t = _T(inv(a))
            lead = shape[:-2] + (1, 1)
            return (reshape(sum(ans * x, axis=(-2, -1), keepdims=False), shape=lead) * inv_t
                    - reshape(det(a), shape=lead) * (inv_t @ _T(x) @ inv_t))
    return cofactor_derivative(x, a)


# Smallest s_min / s_max at which the third derivative of det goes through the inverse
# (its cancellation then costs at most about eps / 1e-4 relative).
_WELL_CONDITIONED = 1e-4


cofactor: Primitive = Primitive(
    "cofactor", _cofactor_fwd, _cofactor_rule, jvps=(_cofactor_rule,),
)
"""The cofactor matrix det(A) A^-T (the gradient of det), at singular matrices too."""

det: Primitive = Primitive(
    "det", np.linalg.det,
    lambda g, ans, a: reshape(g, shape=_shape(g) + (1, 1)) * cofactor(a),
    jvps=(lambda t, ans, a: sum(cofactor(a) * t, axis=(-2, -1), keepdims=False),),
)

__all__ = [
    "eigh", "svd", "first_order", "cofactor", "cofactor_derivative", "det",
]
