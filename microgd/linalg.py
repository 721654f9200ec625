"""``microgd.linalg``: NumPy's ``np.linalg`` for Values, with exact derivatives of any order.

``mg.linalg.NAME(v)`` and ``np.linalg.NAME(v)`` on a Value are the same function.
Stacks of matrices (``(..., m, n)``) work as in NumPy.  The primitives behind them
(``microgd.ops.decompositions`` and ``microgd.ops.spectral``) document their
rules; in short:

- ``inv``, ``solve``, ``slogdet``, ``pinv``: derivatives through solves and the
  output itself (``solve`` on the transposed system for the gradient of ``b``).
- ``det``: the gradient is the cofactor matrix, computed from the SVD, so it is
  exact at singular matrices too, and so is the second derivative.  Third and
  higher derivatives go through the inverse; at an ill-conditioned matrix
  (s_min < 1e-4 s_max) they raise ``LinAlgError``.
- ``cholesky``, ``eigh``: A is symmetrized first, ``(A + A.T) / 2``, as JAX does, so the
  derivatives hold for every A (the gradient is symmetric).  For a symmetric A this
  is NumPy's result; NumPy reads one triangle of a non-symmetric A instead.
- ``eigh``, ``svd``: exact for distinct eigenvalues (singular values); where two
  tie, the 1/(gap) terms are set to 0, which gives the exact first derivative of a
  loss that does not depend on the basis inside the tied space (the only losses
  that have one there); second and higher derivatives at a tie raise
  ``LinAlgError`` (PyTorch and JAX return inf or nan there).  Eigenvectors have
  arbitrary signs: differentiate sign-invariant losses.
- ``svd(full_matrices=True)``: the extra columns of U (rows of Vh) are a basis of
  the complement that NumPy picks; derivatives through them are exact for losses
  that depend only on the complement (``U2 @ U2.T``), not on its basis.
- ``pinv``: the derivative at a fixed rank; pinv jumps where the rank changes.
- ``norm``: ``microgd.norm`` (vector and matrix norms, subgradient 0 at 0).

Examples
--------
>>> import numpy as np
>>> import microgd as mg
>>> S = mg.Value(np.array([[2.0, 0.5], [0.5, 1.0]]))
>>> sign, logdet = mg.linalg.slogdet(S)
>>> logdet.backward()
>>> np.allclose(S.grad, np.linalg.inv(S.data).T)
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from microgd import ops
from microgd.functions._common import reject
from microgd.functions._norms import norm
from microgd.functions.linalg import cross as _cross
from microgd.functions.linalg import diagonal as _diagonal
from microgd.functions.linalg import dot
from microgd.functions.linalg import outer as _outer
from microgd.functions.linalg import tensordot as _tensordot
from microgd.ops.decompositions import qr_parts
from microgd.ops.spectral import eigh_parts, svd_parts
from microgd.value import Value, as_constant

__all__ = ["EighResult", "LinAlgError", "LstsqResult", "QRResult", "SVDResult", "SlogdetResult",
           "cholesky", "cond", "cross", "det", "diagonal", "eigh", "eigvalsh", "inv", "lstsq",
           "matmul", "matrix_power", "matrix_transpose", "multi_dot", "norm", "outer", "pinv",
           "qr", "slogdet", "solve", "svd", "svdvals", "tensordot", "trace", "vecdot"]


LinAlgError = np.linalg.LinAlgError
"""NumPy's error for a singular matrix, one not positive definite, ...: what these raise."""


class SlogdetResult(NamedTuple):
    """``(sign, logabsdet)``; ``sign`` is a constant Value (its derivative is 0)."""

    sign: Value
    logabsdet: Value


class EighResult(NamedTuple):
    """``(eigenvalues, eigenvectors)``: ascending eigenvalues, eigenvectors as columns."""

    eigenvalues: Value
    eigenvectors: Value


class SVDResult(NamedTuple):
    """``(U, S, Vh)`` with ``a = U @ diag(S) @ Vh``, ``S`` descending."""

    U: Value
    S: Value
    Vh: Value


def _swap(x: Value) -> Value:
    nd = x.ndim
    return ops.transpose(x, axes=tuple(range(nd - 2)) + (nd - 1, nd - 2))


def _matrices(name: str, a: Any, square: bool = True) -> Value:
    a = as_constant(a)
    if a.ndim < 2:
        raise np.linalg.LinAlgError(f"{name}: a {a.ndim}-dimensional array was given; it must "
                                    "be at least two-dimensional (a stack of matrices)")
    if square and a.shape[-1] != a.shape[-2]:
        raise np.linalg.LinAlgError(f"{name}: the last 2 dimensions must be square, got "
                                    f"shape {a.shape}")
    return a


def inv(a: Any) -> Value:
    """The inverse of a square matrix (or of each in a stack), as ``numpy.linalg.inv``.

    The derivative is ``-A^-1 dA A^-1``, from the output itself.
    """
    return ops.inv(_matrices("inv", a))


def solve(a: Any, b: Any) -> Value:
    """The solution ``x`` of ``a @ x = b``, as ``numpy.linalg.solve`` (NumPy 2's rule: ``b``
    is a vector only when 1-D, else a stack of matrices ``(..., M, K)``; batches broadcast).

    The gradient for ``b`` is ``solve(a.T, g)``, for ``a`` it is ``-solve(a.T, g) x.T``:
    one more solve, never an explicit inverse.

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> A = mg.Value(np.array([[3.0, 1.0], [1.0, 2.0]]))
    >>> mg.linalg.solve(A, np.array([9.0, 8.0])).data.tolist()
    [2.0, 3.0]
    """
    a = _matrices("solve", a)
    b = b if isinstance(b, Value) else np.asarray(b)
    if np.ndim(b.data if isinstance(b, Value) else b) == 1:
        n = b.shape[0]
        if n != a.shape[-1]:
            raise ValueError(f"solve: shapes {a.shape} and {b.shape} are not aligned "
                             f"({a.shape[-1]} != {n})")
        x = ops.solve(a, ops.reshape(b, shape=(n, 1)))
        return ops.reshape(x, shape=x.shape[:-1])
    return ops.solve(a, b)


def det(a: Any) -> Value:
    """The determinant, as ``numpy.linalg.det``.

    Its gradient, the cofactor matrix ``det(A) A^-T``, is computed from the SVD
    without dividing by ``det``, so it is exact at singular matrices too.

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> A = mg.Value(np.array([[1.0, 2.0], [2.0, 4.0]]))   # singular
    >>> mg.linalg.det(A).backward()
    >>> np.round(A.grad, 12).tolist()
    [[4.0, -2.0], [-2.0, 1.0]]
    """
    return ops.det(_matrices("det", a))


def slogdet(a: Any) -> SlogdetResult:
    """``(sign, log|det a|)``, as ``numpy.linalg.slogdet``: stable where ``det`` over- or
    underflows.  ``sign`` is a constant; the gradient of ``logabsdet`` is ``A^-T``."""
    packed = ops.slogdet(_matrices("slogdet", a))
    return SlogdetResult(ops.getitem(packed, index=0).detach(), ops.getitem(packed, index=1))


def cholesky(a: Any, /, *, upper: bool = False) -> Value:
    """The Cholesky factor ``L`` (``a = L @ L.T``, lower triangular), or ``L.T`` with
    ``upper=True``, as ``numpy.linalg.cholesky``.

    ``a`` must be symmetric positive definite (else ``LinAlgError``).  It is
    symmetrized first, ``(a + a.T) / 2`` (as JAX does; NumPy reads the lower triangle
    of a non-symmetric ``a``), so the derivative (Murray 2016) holds for every ``a``.
    """
    low = ops.cholesky(_matrices("cholesky", a))
    return _swap(low) if upper else low


def eigh(a: Any, UPLO: str = "L") -> EighResult:
    """Eigenvalues (ascending) and eigenvectors (columns) of a symmetric matrix, as
    ``numpy.linalg.eigh``.

    ``a`` is symmetrized first, ``(a + a.T) / 2``, as JAX does (NumPy reads one
    triangle, ``UPLO``, of a non-symmetric ``a``): the derivative then holds for every
    ``a`` and the gradient is symmetric.  It is exact for distinct eigenvalues; at
    ties see :mod:`microgd.linalg`.  Eigenvectors have arbitrary
    signs, so differentiate losses that do not depend on them (``v * v``,
    ``v @ diag(c) @ v.T``).

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> A = mg.Value(np.array([[2.0, 1.0], [1.0, 2.0]]))
    >>> w, v = mg.linalg.eigh(A)
    >>> w.data.tolist()
    [1.0, 3.0]
    >>> w[1].backward()          # d lambda_max / dA = v v^T
    >>> np.round(A.grad, 12).tolist()
    [[0.5, 0.5], [0.5, 0.5]]
    """
    if UPLO not in ("L", "U"):
        raise ValueError(f"eigh: UPLO must be 'L' or 'U', got {UPLO!r}")
    return EighResult(*eigh_parts(ops.eigh(_matrices("eigh", a), UPLO=UPLO)))


def eigvalsh(a: Any, UPLO: str = "L") -> Value:
    """The eigenvalues (ascending) of a symmetric matrix, as ``numpy.linalg.eigvalsh``."""
    return eigh(a, UPLO).eigenvalues


def svd(a: Any, full_matrices: bool = True, compute_uv: bool = True,
        hermitian: bool = False) -> SVDResult | Value:
    """Singular value decomposition ``a = U @ diag(S) @ Vh``, as ``numpy.linalg.svd``.

    ``compute_uv=False`` returns ``S`` alone.  ``hermitian=True`` is accepted and
    computes the general SVD (the same values; vectors may differ in sign from
    NumPy's, which are arbitrary anyway).  Derivatives: exact for distinct
    nonzero singular values; ties as for ``eigh``; with ``full_matrices=True`` see
    :mod:`microgd.linalg` for the extra columns.

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> A = mg.Value(np.array([[3.0, 0.0], [0.0, -2.0], [0.0, 0.0]]))
    >>> mg.linalg.svd(A, compute_uv=False).data.tolist()
    [3.0, 2.0]
    >>> U, S, Vh = mg.linalg.svd(A, full_matrices=False)
    >>> U.shape, S.shape, Vh.shape
    ((3, 2), (2,), (2, 2))
    """
    a = _matrices("svd", a, square=False)
    full = bool(full_matrices) and bool(compute_uv)
    u, s, vh = svd_parts(ops.svd(a, full_matrices=full), a.shape, full)
    return SVDResult(u, s, vh) if compute_uv else s


def svdvals(x: Any, /) -> Value:
    """The singular values, descending, as ``numpy.linalg.svdvals``."""
    out = svd(x, compute_uv=False)
    assert isinstance(out, Value)
    return out


def pinv(a: Any, rcond: Any = None, hermitian: bool = False, *,
         rtol: Any = np._NoValue) -> Value:
    """The Moore-Penrose pseudo-inverse, as ``numpy.linalg.pinv`` (the same cutoffs:
    singular values at most ``rcond`` (or ``rtol``) times the largest count as 0).

    The derivative is the one at a fixed rank (Golub & Pereyra 1973); where a
    singular value crosses the cutoff the rank changes and pinv jumps.

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> mg.linalg.pinv(mg.Value(np.array([[2.0], [0.0]]))).data.tolist()
    [[0.5, 0.0]]
    """
    a = _matrices("pinv", a, square=False)
    if rcond is None:
        if rtol is np._NoValue:
            rcond = 1e-15
        elif rtol is None:
            rcond = max(a.shape[-2:]) * np.finfo(a.dtype).eps
        else:
            rcond = rtol
    elif rtol is not np._NoValue:
        raise ValueError("pinv: rtol and rcond cannot both be given")
    return ops.pinv(a, rcond=np.asarray(rcond), hermitian=bool(hermitian))


class QRResult(NamedTuple):
    """``(Q, R)`` with ``a = Q @ R``: ``Q`` with orthonormal columns, ``R`` upper triangular."""

    Q: Value
    R: Value


def qr(a: Any, mode: str = "reduced") -> Any:
    """The QR factorization, as ``numpy.linalg.qr``, of matrices with at least as many
    rows as columns (``mode`` ``"reduced"``, NumPy's default, or ``"r"``).

    Differentiable where ``a`` has full column rank, with LAPACK's signs of ``R``'s
    diagonal (as PyTorch and JAX).  Those signs jump where a column is exactly 0 below
    the diagonal (an upper triangular ``a``: LAPACK's Householder step is then the
    identity), so there the derivative is one-sided.  ``"complete"`` and wide
    matrices are refused: the
    extra columns of ``Q`` (the factorization of a wide ``a``) are not determined by
    ``a`` smoothly.

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> A = mg.Value(np.array([[3.0, 1.0], [4.0, 2.0], [0.0, 1.0]]))
    >>> Q, R = mg.linalg.qr(A)
    >>> bool(np.allclose((Q @ R).data, A.data)), Q.shape, R.shape
    (True, (3, 2), (2, 2))
    """
    if mode not in ("reduced", "r"):
        raise ValueError(f"qr: mode={mode!r} is not supported on microgd Values; "
                         "'reduced' or 'r'")
    x = _matrices("qr", a, square=False)
    m, n = x.shape[-2:]
    if m < n:
        raise ValueError(f"qr: differentiable for matrices with at least as many rows as "
                         f"columns; got shape {x.shape} (factor its transpose, or use svd)")
    q, r = qr_parts(ops.qr(x), m)
    return r if mode == "r" else QRResult(q, r)


class LstsqResult(NamedTuple):
    """``(x, residuals, rank, s)``, as ``numpy.linalg.lstsq`` returns them."""

    x: Value
    residuals: Value
    rank: int
    s: Value


def lstsq(a: Any, b: Any, rcond: Any = None) -> LstsqResult:
    """The least-squares solution of ``a @ x = b``, as ``numpy.linalg.lstsq``.

    ``x = pinv(a) @ b`` with NumPy's cutoff (``rcond``; by default the machine
    epsilon times ``max(M, N)``, relative to the largest singular value): the
    minimum-norm solution, differentiable in ``a`` and ``b`` wherever the rank
    does not change.  ``residuals`` are the squared 2-norms of the columns of
    ``b - a @ x`` when ``a`` has full column rank and more rows than columns
    (else empty), ``rank`` is an int, ``s`` the singular values of ``a``.

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> A = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]])
    >>> x, res, rank, s = mg.linalg.lstsq(A, mg.Value([1.0, 2.0, 2.0]))
    >>> np.round(x.data, 6).tolist(), rank
    ([1.166667, 0.5], 2)
    """
    av = _matrices("lstsq", a, square=False)
    if av.ndim != 2:
        raise LinAlgError(f"lstsq: {av.ndim}-dimensional array given. Array must be "
                          "two-dimensional")
    bv = as_constant(b)
    column = bv.ndim == 1
    B = ops.reshape(bv, shape=(-1, 1)) if column else bv
    m, n = av.shape
    if B.ndim != 2 or B.shape[0] != m:
        raise LinAlgError(f"lstsq: incompatible dimensions: a {av.shape}, b {bv.shape}")
    if rcond is None:
        rcond = np.finfo(np.result_type(av.dtype, B.dtype)).eps * max(m, n)
    x = pinv(av, rcond=rcond) @ B
    s = svdvals(av)
    big = s.data.max() if s.data.size else 0.0
    rank = int(np.sum(s.data > rcond * big))
    if rank == n and m > n:
        r = av @ x - B
        residuals = ops.sum(r * r, axis=0, keepdims=False)
    else:
        residuals = as_constant(np.empty((0,), dtype=x.dtype))
    return LstsqResult(ops.reshape(x, shape=(n,)) if column else x, residuals, rank, s)


def cond(x: Any, p: Any = None) -> Value:
    """The condition number of ``x``, as ``numpy.linalg.cond``: the ratio of the largest
    to the smallest singular value for ``p`` None, 2 (and its inverse for -2); for
    ``p`` 'fro', 'nuc', 1, -1, inf, -inf, ``norm(x, p) * norm(inv(x), p)``.
    Differentiable where the singular values involved are distinct and nonzero."""
    a = _matrices("cond", x, square=p not in (None, 2, -2))
    if p in (None, 2, -2):
        s = svdvals(a)
        big, small = s[..., 0], s[..., -1]
        return big / small if p != -2 else small / big
    return norm(a, p, axis=(-2, -1)) * norm(inv(a), p, axis=(-2, -1))


def matrix_power(a: Any, n: int) -> Value:
    """``a @ a @ ... @ a`` (``n`` times), as ``numpy.linalg.matrix_power``: ``n = 0`` gives
    the identity (with derivative 0), ``n < 0`` powers of the inverse.  Repeated squaring.

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> mg.linalg.matrix_power(mg.Value(np.array([[1.0, 1.0], [0.0, 1.0]])), 3).data.tolist()
    [[1.0, 3.0], [0.0, 1.0]]
    """
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool):
        raise TypeError(f"matrix_power: the exponent must be an integer, got {n!r}")
    a = _matrices("matrix_power", a)
    n = int(n)
    if n == 0:
        eye = np.broadcast_to(np.eye(a.shape[-1], dtype=a.dtype), a.shape)
        # a itself, every entry replaced: in the graph, with derivative 0.
        return ops.where(a, eye, cond=np.zeros(a.shape, dtype=bool))
    base = ops.inv(a) if n < 0 else a
    n = abs(n)
    result: Value | None = None
    while True:
        if n & 1:
            result = base if result is None else ops.matmul(result, base)
        n >>= 1
        if not n:
            assert result is not None
            return result
        base = ops.matmul(base, base)


def multi_dot(arrays: Sequence[Any], *, out: Any = None) -> Value:
    """``dot`` of a chain of matrices, as ``numpy.linalg.multi_dot`` (the first and last may
    be 1-D); evaluated left to right."""
    reject("linalg.multi_dot", out=out)
    items = list(arrays)
    if len(items) < 2:
        raise ValueError("multi_dot: expecting at least two arrays")
    for i, x in enumerate(items):
        nd = np.ndim(x.data if isinstance(x, Value) else x)
        if not (nd == 2 or (nd == 1 and i in (0, len(items) - 1))):
            raise ValueError(f"multi_dot: array {i} is {nd}-dimensional; the first and last "
                             "may be 1-d, the others must be 2-d")
    result = items[0]
    for x in items[1:]:
        result = dot(result, x)
    return result


# ---- the array API's np.linalg functions (NumPy 2) -----------------------------------


def matmul(x1: Any, x2: Any, /) -> Value:
    """``x1 @ x2``, as ``numpy.linalg.matmul``."""
    return ops.matmul(*(_pair(x1, x2)))


def _pair(x1: Any, x2: Any) -> tuple[Any, Any]:
    return (x1, x2) if isinstance(x1, Value) or isinstance(x2, Value) else (
        as_constant(x1), x2)


def outer(x1: Any, x2: Any, /) -> Value:
    """The outer product of two vectors, as ``numpy.linalg.outer`` (1-D only)."""
    for x in (x1, x2):
        if np.ndim(x.data if isinstance(x, Value) else x) != 1:
            raise ValueError("linalg.outer: the operands must be 1-dimensional")
    return _outer(x1, x2)


def cross(x1: Any, x2: Any, /, *, axis: int = -1) -> Value:
    """The cross product of 3-vectors, as ``numpy.linalg.cross``."""
    for x in (x1, x2):
        shape = np.shape(x.data if isinstance(x, Value) else x)
        if not shape or shape[axis] != 3:
            raise ValueError(f"linalg.cross: both operands must be 3-vectors along axis "
                             f"{axis}, got shape {shape}")
    return _cross(x1, x2, axis=axis)


def trace(x: Any, /, *, offset: int = 0, dtype: Any = None) -> Value:
    """The trace of the matrices on the last two axes, as ``numpy.linalg.trace``."""
    reject("linalg.trace", dtype=dtype)
    return ops.sum(diagonal(x, offset=offset), axis=-1, keepdims=False)


def diagonal(x: Any, /, *, offset: int = 0) -> Value:
    """The diagonals of the matrices on the last two axes, as ``numpy.linalg.diagonal``."""
    return _diagonal(x, offset, -2, -1)


def tensordot(x1: Any, x2: Any, /, *, axes: Any = 2) -> Value:
    """``tensordot``, as ``numpy.linalg.tensordot``."""
    return _tensordot(x1, x2, axes)


def vecdot(x1: Any, x2: Any, /, *, axis: int = -1) -> Value:
    """``sum(x1 * x2, axis)`` under broadcasting, as ``numpy.linalg.vecdot`` (real)."""
    x1, x2 = _pair(x1, x2)
    return ops.sum(x1 * x2, axis=int(axis), keepdims=False)


def matrix_transpose(x: Any, /) -> Value:
    """The last two axes swapped, as ``numpy.linalg.matrix_transpose``."""
    x = as_constant(x)
    if x.ndim < 2:
        raise ValueError(f"linalg.matrix_transpose: the array must be at least 2-d, got "
                         f"shape {x.shape}")
    return _swap(x)


NUMPY: dict[Any, Any] = {
    np.linalg.inv: inv, np.linalg.solve: solve, np.linalg.det: det,
    np.linalg.slogdet: slogdet, np.linalg.cholesky: cholesky, np.linalg.eigh: eigh,
    np.linalg.eigvalsh: eigvalsh, np.linalg.svd: svd, np.linalg.svdvals: svdvals,
    np.linalg.pinv: pinv, np.linalg.lstsq: lstsq, np.linalg.cond: cond, np.linalg.qr: qr,
    np.linalg.matrix_power: matrix_power,
    np.linalg.multi_dot: multi_dot, np.linalg.matmul: matmul, np.linalg.outer: outer,
    np.linalg.cross: cross, np.linalg.trace: trace, np.linalg.diagonal: diagonal,
    np.linalg.tensordot: tensordot, np.linalg.vecdot: vecdot,
    np.linalg.matrix_transpose: matrix_transpose,
}
"""NumPy's ``np.linalg`` functions, as :mod:`microgd.functions.linalg` hands them on."""
