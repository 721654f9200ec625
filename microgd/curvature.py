"""The Hessian at a point: its extreme eigenpairs, dense or by Lanczos.

:func:`hessian_eigs` finds the extreme eigenvalues and eigenvectors of the
Hessian (also of its diagonal blocks, per parameter array, and of the
Gauss-Newton matrix: :mod:`microgd.operators`) from exact Hessian-vector
products (:class:`microgd.transforms.HessianOperator`): the matrix is
assembled only for small problems (``'dense'``, n <= 2000); larger ones use
Lanczos with full reorthogonalization.  The modules built on this
eigensolver: what kind of point x is, :mod:`microgd.classification`
(``classify``, ``CriticalPoint``); every critical point in a box,
:mod:`microgd.critical`; the stochastic estimates (Hutchinson's trace and
diagonal, the spectral density), :mod:`microgd.estimators`.  Their names are
importable from here too.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, overload

import numpy as np

from microgd.operators import BlockOperator, curvature_operator
from microgd.transforms import HessianOperator, Tree, _leaves, flatten, unflatten

DENSE_MAX = 2000


@dataclass
class EigResult:
    """Eigenpairs of the Hessian at a point (see :func:`hessian_eigs`)."""

    eigenvalues: np.ndarray
    eigenvectors: Any  # one row per eigenvalue, each shaped like x
    residuals: np.ndarray
    converged: bool
    n_hvp: int
    method: str


# ---- the eigensolvers ------------------------------------------------------


def _check_k(k: int, n: int, which: str, method: str) -> None:
    if which not in ("both", "largest", "smallest"):
        raise ValueError(f"hessian_eigs: which must be 'both', 'largest' or 'smallest', "
                         f"got {which!r}")
    _resolve_method(method, n, "hessian_eigs")
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"hessian_eigs: k must be a positive integer, got {k!r}")
    if k > n:
        raise ValueError(f"hessian_eigs: k={k} is larger than the number of parameters n={n}")


def _pick(values: np.ndarray, k: int, which: str) -> np.ndarray:
    """Indices (ascending by value) of the wanted eigenvalues among sorted ``values``."""
    m = len(values)
    if which == "smallest":
        return np.arange(min(k, m))
    if which == "largest":
        return np.arange(max(m - k, 0), m)
    return np.unique(np.concatenate([np.arange(min(k, m)), np.arange(max(m - k, 0), m)]))


def _dense(op: HessianOperator) -> np.ndarray:
    n = op.n
    eye = np.eye(n)
    H = np.stack([op.matvec(eye[i]) for i in range(n)])
    return 0.5 * (H + H.T)  # exact up to rounding; symmetrize for eigh


def _lanczos_basis(matvec: Callable[[np.ndarray], np.ndarray], q0: np.ndarray, m_max: int,
                   stop: Callable[[list, list], bool] | None = None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """Up to ``m_max`` Lanczos steps from the unit vector ``q0``, fully reorthogonalized.

    Returns ``(alpha, beta, Q, exhausted)``: the tridiagonal's diagonal and
    off-diagonal (``beta[-1]`` is the last step's residual norm), the basis
    rows, and whether the Krylov space ran out (then the Ritz values are
    exact).  ``stop(alpha, beta)``, called after each step, ends early when
    it returns True.
    """
    n = len(q0)
    # The basis grows by doubling: most runs stop after a few dozen steps, and
    # zeroing room for m_max vectors of a large model up front costs more.
    Q = np.zeros((min(m_max + 1, 32), n))
    Q[0] = q0
    alpha: list[float] = []
    beta: list[float] = []
    exhausted = False
    for j in range(m_max):
        w = matvec(Q[j])
        alpha.append(float(Q[j] @ w))
        w -= alpha[j] * Q[j]
        if j > 0:
            w -= beta[j - 1] * Q[j - 1]
        for _ in range(2):  # twice is enough (Kahan-Parlett)
            w -= Q[: j + 1].T @ (Q[: j + 1] @ w)
        beta.append(float(np.linalg.norm(w)))
        exhausted = j + 1 == n or beta[j] <= 1e-14 * max(1.0, max(map(abs, alpha)))
        if exhausted or (stop is not None and stop(alpha, beta)):
            break
        if j + 1 == len(Q):
            Q = np.concatenate([Q, np.zeros((min(len(Q), m_max + 1 - len(Q)), n))])
        Q[j + 1] = w / beta[j]
    return np.array(alpha), np.array(beta), Q[: len(alpha)], exhausted


def _ritz(alpha: np.ndarray, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigen-decomposition of the Lanczos tridiagonal matrix."""
    off = beta[: len(alpha) - 1]
    return np.linalg.eigh(np.diag(alpha) + np.diag(off, 1) + np.diag(off, -1))


def _lanczos(matvec: Callable[[np.ndarray], np.ndarray], n: int, k: int, which: str,
             tol: float, rng: np.random.Generator, max_iter: int,
             start: np.ndarray | None = None
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """Extreme eigenpairs by Lanczos with full reorthogonalization.

    A Ritz pair is accepted when its residual ``|beta_m * s_m|`` (exact, with
    full reorthogonalization) is at most ``sqrt(tol) * scale``: the eigenvalue
    error is then at most about ``tol * scale**2 / gap``.  ``start`` (a flat
    vector, e.g. the eigenvector found at a nearby point) replaces the random
    start vector: a warm start; convergence is then checked after every step,
    since it may come after one or two.
    """
    want = min(2 * k if which == "both" else k, n)

    def accepted(theta: np.ndarray, S: np.ndarray, last_beta: float) -> tuple[Any, Any, bool]:
        idx = _pick(theta, k, which)
        scale = max(np.abs(theta).max(), np.finfo(float).tiny)
        res = np.abs(last_beta * S[-1, idx])
        return idx, res, len(idx) >= want and bool(np.all(res <= np.sqrt(tol) * scale))

    def stop(alpha: list, beta: list) -> bool:
        if len(alpha) < min(k, n) or (start is None and len(alpha) % 2):
            return False  # cold: check every other step
        theta, S = _ritz(np.array(alpha), np.array(beta))
        return accepted(theta, S, beta[-1])[2]

    q = rng.standard_normal(n) if start is None else np.array(start, dtype=np.float64)
    if not np.linalg.norm(q) > 0:
        raise ValueError("hessian_eigs: the start vector of Lanczos is zero")
    alpha, beta, Q, exhausted = _lanczos_basis(matvec, q / np.linalg.norm(q),
                                               min(n, max_iter), stop)
    theta, S = _ritz(alpha, beta)
    idx, res, ok = accepted(theta, S, 0.0 if exhausted else beta[-1])
    vectors = (Q.T @ S[:, idx]).T
    return theta[idx], vectors, res, exhausted or ok


def _resolve_method(method: str, n: int, where: str) -> str:
    """``'dense'`` or ``'lanczos'`` for ``method`` at ``n`` parameters (``'auto'``: dense up to
    :data:`DENSE_MAX`)."""
    if method not in ("auto", "dense", "lanczos"):
        raise ValueError(f"{where}: method must be 'auto', 'dense' or 'lanczos', "
                         f"got {method!r}")
    if method == "dense" and n > DENSE_MAX:
        raise ValueError(f"{where}: method='dense' assembles an n x n Hessian and is "
                         f"limited to n <= {DENSE_MAX} (n={n}); use method='lanczos'")
    if method == "auto":
        return "dense" if n <= DENSE_MAX else "lanczos"
    return method


def _finite_matvec(op: HessianOperator, where: str) -> Callable[[np.ndarray], np.ndarray]:
    """``op.matvec`` that raises ``ValueError`` on a non-finite product (rather than let
    Lanczos iterate on NaNs)."""
    def matvec(vec: np.ndarray) -> np.ndarray:
        out = op.matvec(vec)
        if not np.isfinite(out).all():
            raise ValueError(f"{where}: the Hessian of f is not finite at x = {_where(op.x)}")
        return out
    return matvec


def _spectrum(op: Any, k: int, which: str, method: str, tol: float,
              rng: np.random.Generator, max_iter: int = 300, where: str = "hessian_eigs",
              start: np.ndarray | None = None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool, str]:
    """Eigenpairs of ``op`` on flat vectors: ``(values, rows, residuals, converged, method)``.

    ``values`` ascending; ``rows`` one unit eigenvector per value.  The one
    eigensolver behind :func:`hessian_eigs` and :func:`classify`, so both see
    the same numbers from the same operator; shaping like x is left to them.
    """
    method = _resolve_method(method, op.n, where)
    if method == "dense":
        H = _dense(op)
        if not np.isfinite(H).all():
            raise ValueError(f"{where}: the Hessian of f is not finite at x = {_where(op.x)}")
        values, vecs = np.linalg.eigh(H)
        idx = _pick(values, k, which)
        values, rows = values[idx], vecs[:, idx].T
        residuals = np.linalg.norm(rows @ H - values[:, None] * rows, axis=1)
        return values, rows, residuals, True, "dense"
    values, rows, residuals, converged = _lanczos(_finite_matvec(op, where), op.n, k, which,
                                                  tol, rng, max_iter, start)
    return values, rows, residuals, bool(converged), "lanczos"


@overload
def hessian_eigs(f: Callable[[Any], Any] | None, x: Tree, k: int = ..., which: str = ...,
                 method: str = ..., tol: float = ..., seed: int = ..., max_iter: int = ..., *,
                 blocks: Literal[False] = ..., operator: str = ...,
                 model: Callable[[Any], Any] | None = ...,
                 loss: Callable[[Any], Any] | None = ...) -> EigResult: ...
@overload
def hessian_eigs(f: Callable[[Any], Any] | None, x: Tree, k: int = ..., which: str = ...,
                 method: str = ..., tol: float = ..., seed: int = ..., max_iter: int = ..., *,
                 blocks: Literal[True], operator: str = ...,
                 model: Callable[[Any], Any] | None = ...,
                 loss: Callable[[Any], Any] | None = ...) -> list[EigResult]: ...
def hessian_eigs(f: Callable[[Any], Any] | None, x: Tree, k: int = 6, which: str = "both",
                 method: str = "auto", tol: float = 1e-10, seed: int = 0,
                 max_iter: int = 300, *, blocks: bool = False, operator: str = "hessian",
                 model: Callable[[Any], Any] | None = None,
                 loss: Callable[[Any], Any] | None = None) -> EigResult | list[EigResult]:
    """Extreme eigenvalues and eigenvectors of the Hessian of ``f`` at ``x``.

    Also of two relatives of the Hessian: with ``blocks=True`` each diagonal
    block ``H_ii`` of a list of parameter arrays (a layer's own curvature, as
    PyHessian's users ask), and with ``operator='ggn'`` the generalized
    Gauss-Newton matrix ``J^T H_loss J`` of ``loss(model(x))``
    (:func:`microgd.ggn_vp`, :class:`microgd.operators.GGNOperator`).  Both
    combine: ``blocks=True, operator='ggn'`` gives the blocks of the GGN.

    Parameters
    ----------
    f : callable
        Scalar function of one argument (an array, or a list of arrays).
    x : array or list of arrays
        The point.
    k : int, default 6
        How many eigenvalues from each wanted end.
    which : {'both', 'largest', 'smallest'}
        ``'both'`` gives up to ``2k`` (k from each end).
    method : {'auto', 'dense', 'lanczos'}
        ``'dense'`` assembles H from n exact Hessian-vector products and
        uses a symmetric eigensolver; ``'lanczos'`` is matrix-free; ``'auto'``
        is dense for n <= 2000.
    tol : float, default 1e-10
        Relative accuracy asked of the eigenvalues (Lanczos).
    seed : int
        Seed of Lanczos's random start vector.
    max_iter : int, default 300
        Most Lanczos steps.
    blocks : bool, default False
        With ``x`` a list of parameter arrays, the spectrum of each diagonal
        block ``H_ii`` (the curvature of array i with the others held fixed;
        the coupling blocks ``H_ij`` are left out), one :class:`EigResult`
        per array in a list, in x's order.  Each block asks for
        ``min(k, size of the array)`` eigenvalues from each end, and its
        ``method`` is chosen by the block's size; every block product is one
        full Hessian-vector product (counted in its ``n_hvp``).
    operator : {'hessian', 'ggn'}
        ``'ggn'``: the Gauss-Newton matrix of ``loss(model(x))`` instead of
        the Hessian of ``f``; needs ``model`` and ``loss``.  ``f`` may then
        be None; when given, it must equal ``loss(model(x))`` at x (checked,
        to 1e-8 relative), so that the spectrum is that of the function meant.
    model, loss : callable
        With ``operator='ggn'``: ``model(x)`` gives the output,
        ``loss(output)`` a scalar.

    Returns
    -------
    EigResult, or list of EigResult (``blocks=True``)
        ``eigenvalues`` ascending, ``eigenvectors`` one row per eigenvalue in
        x's shape (a block's in its array's shape), ``residuals``
        ``||Hv - lambda v||``, ``converged``, ``n_hvp`` (products of the
        operator) and the ``method`` used.

    Raises
    ------
    ValueError
        For bad arguments (``blocks=True`` on a single array, ``model`` or
        ``loss`` missing for ``'ggn'`` or given without it, ``f`` not
        ``loss(model(x))``), or where a product is not finite.

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> r = mg.hessian_eigs(lambda v: v[0] ** 2 - 3 * v[1] ** 2, np.zeros(2), k=1)
    >>> r.eigenvalues.tolist(), r.method
    ([-6.0, 2.0], 'dense')
    >>> f = lambda ps: (ps[0] ** 2).sum() + 4 * (ps[0] * ps[1]).sum() - ps[1] ** 2
    >>> [b.eigenvalues.tolist() for b in mg.hessian_eigs(f, [np.zeros(2), 0.0], blocks=True)]
    [[2.0, 2.0], [-2.0]]
    >>> X = np.array([[1.0, 1.0], [0.0, 1.0]])
    >>> mg.hessian_eigs(None, np.ones(2), k=1, operator='ggn', model=lambda w: mg.tanh(X @ w),
    ...                 loss=lambda z: 0.5 * (z ** 2).sum()).eigenvalues.round(4).tolist()
    [0.0049, 0.1815]
    """
    if blocks is not True and blocks is not False:
        raise TypeError(f"hessian_eigs: blocks must be True or False, got {blocks!r}")
    if blocks and not isinstance(x, (list, tuple)):
        data: Any = getattr(x, "data", x)
        raise ValueError(f"hessian_eigs: blocks=True needs x to be a list of parameter arrays "
                         f"(one block each), got a single array of shape "
                         f"{np.shape(data)}; drop blocks=True for its "
                         f"whole spectrum")
    op = curvature_operator(f, x, operator, model, loss)
    if not blocks:
        _check_k(k, op.n, which, method)
        values, rows, residuals, converged, name = _spectrum(
            op, k, which, method, tol, np.random.default_rng(seed), max_iter)
        return EigResult(values, _shape_rows(rows, x), residuals, converged, op.n_products,
                         name)
    results = []
    for i in range(len(_leaves(x))):
        block: Any = BlockOperator(op, i)  # has the attributes _spectrum uses
        kb = min(k, block.n) if isinstance(k, (int, np.integer)) and k >= 1 else k
        _check_k(kb, block.n, which, method)
        values, rows, residuals, converged, name = _spectrum(
            block, kb, which, method, tol, np.random.default_rng(seed), max_iter)
        results.append(EigResult(values, _shape_rows(rows, block.x), residuals, converged,
                                 block.n_products, name))
    return results


def _shape_rows(vecs: np.ndarray, x: Tree) -> Any:
    """Flat eigenvector rows, each shaped like ``x`` (an array, or a list of arrays)."""
    if len(_leaves(x)) == 1 and not isinstance(x, (list, tuple)):
        # With x typed Any, mypy picks getattr's default=None overload (Any | None).
        data: Any = getattr(x, "data", x)
        return vecs.reshape((len(vecs),) + np.shape(data))
    return [unflatten(v, x) for v in vecs]


def _where(x: Tree) -> str:
    """``x`` for an error message: its entries, summarized when there are many."""
    return np.array2string(flatten(x), precision=6, threshold=8, separator=", ")


# Names that live in modules built on this one, importable from here as before.
_MOVED = {"find_critical_points": "microgd.critical", "hessian_trace": "microgd.estimators",
          **dict.fromkeys(["CriticalPoint", "classify", "KINDS", "LANCZOS_K", "FLAT_STEPS",
                           "GRAD_ZERO_RTOL", "SCALE_FLOOR"], "microgd.classification"),
          "hessian_density": "microgd.estimators", "hessian_diagonal": "microgd.estimators",
          "TraceResult": "microgd.estimators", "DensityResult": "microgd.estimators",
          "DiagonalResult": "microgd.estimators"}


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        import importlib
        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
