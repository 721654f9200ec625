"""The Hessian at a point: its spectrum, trace and density, and what kind of point it is.

At a critical point the gradient is zero, and the Hessian's extreme
eigenvalues tell what it is: both signs, a saddle (left by stepping along an
eigenvector of a negative eigenvalue), whatever other directions are flat;
otherwise an eigenvalue near zero, degenerate (second order cannot tell);
otherwise all positive, a minimum, or all negative, a maximum.

Everything here uses exact Hessian-vector products
(:class:`microgd.transforms.HessianOperator`): the Hessian is assembled only
for small problems (``'dense'``, n <= 2000); larger ones use Lanczos.
Finding every critical point in a box is :mod:`microgd.critical`; the
stochastic estimates (Hutchinson's trace and diagonal, the spectral density)
are :mod:`microgd.estimators`, and both are importable from here too.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, overload

import numpy as np

from microgd.operators import BlockOperator, curvature_operator
from microgd.transforms import HessianOperator, Tree, _leaves, flatten, unflatten

DENSE_MAX = 2000
KINDS = ("minimum", "maximum", "saddle", "degenerate", "not critical")


@dataclass
class EigResult:
    """Eigenpairs of the Hessian at a point (see :func:`hessian_eigs`)."""

    eigenvalues: np.ndarray
    eigenvectors: Any  # one row per eigenvalue, each shaped like x
    residuals: np.ndarray
    converged: bool
    n_hvp: int
    method: str


@dataclass
class CriticalPoint:
    """A point, what kind of point it is, and the evidence (see :func:`classify`)."""

    x: Any
    kind: str
    value: float
    grad_norm: float
    eigenvalues: np.ndarray
    eigenvectors: Any
    tol_grad: float
    tol_eig: float
    escape_direction: Any
    gradient_flat: bool = False  # small g in H's null space: not critical (Frye et al. 2021)

    def __repr__(self) -> str:
        x = np.round(flatten(self.x), 6).tolist()
        eig = np.array2string(np.asarray(self.eigenvalues), precision=4, threshold=8)
        flat = ", gradient_flat=True" if self.gradient_flat else ""
        return (f"CriticalPoint(kind={self.kind!r}, x={x}, value={self.value:.6g}, "
                f"grad_norm={self.grad_norm:.2e}, eigenvalues={eig}{flat})")


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
             tol: float, rng: np.random.Generator, max_iter: int
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """Extreme eigenpairs by Lanczos with full reorthogonalization.

    A Ritz pair is accepted when its residual ``|beta_m * s_m|`` (exact, with
    full reorthogonalization) is at most ``sqrt(tol) * scale``: the eigenvalue
    error is then at most about ``tol * scale**2 / gap``.
    """
    want = min(2 * k if which == "both" else k, n)

    def accepted(theta: np.ndarray, S: np.ndarray, last_beta: float) -> tuple[Any, Any, bool]:
        idx = _pick(theta, k, which)
        scale = max(np.abs(theta).max(), np.finfo(float).tiny)
        res = np.abs(last_beta * S[-1, idx])
        return idx, res, len(idx) >= want and bool(np.all(res <= np.sqrt(tol) * scale))

    def stop(alpha: list, beta: list) -> bool:
        if len(alpha) < min(k, n) or len(alpha) % 2:  # check every other step
            return False
        theta, S = _ritz(np.array(alpha), np.array(beta))
        return accepted(theta, S, beta[-1])[2]

    q = rng.standard_normal(n)
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


def _spectrum(op: HessianOperator, k: int, which: str, method: str, tol: float,
              rng: np.random.Generator, max_iter: int = 300, where: str = "hessian_eigs"
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
                                                  tol, rng, max_iter)
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


# ---- classifying a point ----------------------------------------------------

LANCZOS_K = 6            # eigenvalues from each end that classify asks of Lanczos
FLAT_STEPS = 30          # Krylov steps from g of the gradient-flat test under Lanczos
# A gradient at most this * scale * max(1, |x|_inf) is zero to rounding: where the search
# for critical points stops, and below which no gradient counts as gradient-flat.
GRAD_ZERO_RTOL = 1e-13
SCALE_FLOOR = float(np.finfo(float).eps)  # the curvature scale where the Hessian vanishes


def _where(x: Tree) -> str:
    """``x`` for an error message: its entries, summarized when there are many."""
    return np.array2string(flatten(x), precision=6, threshold=8, separator=", ")


def _kind(grad_norm: float, lam_min: float, lam_max: float, tol_grad: float,
          tol_eig: float) -> str:
    """DESIGN's rule: it needs only the extreme eigenvalues, so dense and Lanczos agree."""
    if grad_norm > tol_grad:
        return "not critical"
    if lam_min < -tol_eig and lam_max > tol_eig:
        return "saddle"  # curvature of both signs, whatever else is flat
    if lam_min > tol_eig:
        return "minimum"
    if lam_max < -tol_eig:
        return "maximum"
    return "degenerate"  # an extreme eigenvalue within tol_eig of 0, the rest one sign


def classify(f: Callable[[Any], Any], x: Tree, tol: float | None = None,
             scale: float | None = None, method: str = "auto", seed: int = 0
             ) -> CriticalPoint:
    """What kind of point ``x`` is for ``f``: minimum, maximum, saddle, degenerate or not critical.

    The rule (DESIGN, Curvature) uses only the extreme eigenvalues
    ``lambda_min`` and ``lambda_max``, so dense and Lanczos agree:
    ``grad_norm > tol_grad`` is ``'not critical'``; ``lambda_min < -tol_eig``
    and ``lambda_max > tol_eig`` is ``'saddle'``, however many other
    directions are flat (x**2 - y**2 + z**4 at 0); otherwise an eigenvalue
    within ``tol_eig`` of 0 is ``'degenerate'`` (second order cannot decide:
    x**4, x**2 + y**4, y**4 - x**2); otherwise the common sign decides.

    Tolerances are relative to the spectrum's scale and reported back:
    ``s = max(|lambda_min|, |lambda_max|, scale, eps)``, ``tol_eig = tol * s``,
    ``tol_grad = tol_eig * max(1, |x|_inf)`` (``tol`` defaults to 1e-6).
    ``eps`` (machine epsilon, :data:`SCALE_FLOOR`) is the floor where the
    Hessian vanishes, so neither tolerance is ever zero.  ``scale``, when
    given, is a reference curvature of ``f`` (e.g. its typical
    ``max |eigenvalue|`` over a region): near a degenerate point the local
    spectrum alone is tiny, and only a reference scale can tell that it is.

    A small gradient is not always a critical point nearby.  Where f flattens
    out towards a plateau or an asymptote (``tanh`` saturating, ``x**2 +
    1e-9 y``), the gradient is tiny but lies in the Hessian's null space, so no
    step of second order removes it: a gradient-flat region (Frye et al. 2021),
    where critical-point finders stall.  ``cp.gradient_flat`` is True, and
    ``kind`` is ``'not critical'`` even when ``grad_norm <= tol_grad``, when
    the gradient along the curved eigenvectors (``|lambda| > sqrt(tol) s``) is
    within ``tol_grad``, its part along the flat ones is above rounding
    (:data:`GRAD_ZERO_RTOL` ``* s * max(1, |x|_inf)``), and the
    Newton step that part asks for, ``|sum_i (v_i^T g / lambda_i) v_i|`` over
    the flat eigenpairs, is longer than ``sqrt(tol) max(1, |x|_inf)``: no
    critical point that near explains the gradient.  (Near a degenerate
    critical point the step points at it: x**4 at 1e-4 steps a third of the
    way, and the point stays critical.)  Dense classification uses the exact
    eigenpairs; Lanczos the Ritz pairs of up to :data:`FLAT_STEPS` Krylov
    steps from g (exact when g mixes that few eigenvectors).

    Parameters
    ----------
    method : {'auto', 'dense', 'lanczos'}
        As in :func:`hessian_eigs`.  Dense reports every eigenpair; Lanczos
        the :data:`LANCZOS_K` at each end of the spectrum.
    seed : int
        Seed of Lanczos's random start vector.

    Raises
    ------
    ValueError
        Where f, its gradient or its Hessian is not finite (the message says
        which), or for a bad ``tol``, ``scale`` or ``method``.

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> cp = mg.classify(lambda v: v[0] ** 2 - v[1] ** 2 + v[2] ** 4, np.zeros(3))
    >>> cp.kind, cp.eigenvalues.tolist(), cp.escape_direction.tolist()
    ('saddle', [-2.0, 0.0, 2.0], [0.0, 1.0, 0.0])
    >>> cp = mg.classify(lambda v: v[0] ** 2 + 1e-9 * v[1], np.zeros(2))
    >>> cp.kind, cp.gradient_flat, cp.grad_norm <= cp.tol_grad
    ('not critical', True, True)
    """
    rel = 1e-6 if tol is None else float(tol)
    if not 0 < rel < np.inf:
        raise ValueError(f"classify: tol must be positive and finite, got {tol}")
    ref = 0.0 if scale is None else float(scale)
    if not 0 <= ref < np.inf:
        raise ValueError(f"classify: scale must be non-negative and finite, got {scale}")
    op = HessianOperator(f, x)
    if op.n == 0:
        raise ValueError("classify: x has no entries")
    method = _resolve_method(method, op.n, "classify")
    value = float(op.value.item())
    if not np.isfinite(value):
        raise ValueError(f"classify: f is {value} at x = {_where(x)}")
    g = flatten(op.grad)
    bad = ~np.isfinite(g)
    if bad.any():
        what = " and ".join(sorted({str(v) for v in g[bad]}))
        raise ValueError(f"classify: the gradient of f is not finite at x = {_where(x)} "
                         f"({what} in {int(bad.sum())} of {g.size} entries)")
    k = op.n if method == "dense" else min(LANCZOS_K, op.n)
    values, rows, residuals, converged, method = _spectrum(
        op, k, "both", method, 1e-10, np.random.default_rng(seed), where="classify")
    if not converged:
        warnings.warn(f"classify: Lanczos did not converge (largest residual "
                      f"{residuals.max():.3g}); the extreme eigenvalues, and so the kind, "
                      f"are uncertain by about that much", RuntimeWarning, stacklevel=2)
    lam_min, lam_max = float(values[0]), float(values[-1])
    s = max(abs(lam_min), abs(lam_max), ref, SCALE_FLOOR)
    tol_eig = rel * s
    tol_grad = tol_eig * max(1.0, float(np.abs(flatten(x)).max()))
    grad_norm = float(np.linalg.norm(g))
    escape = None
    if lam_min < -tol_eig:
        e = rows[0] / np.linalg.norm(rows[0])
        e = e if e[np.argmax(np.abs(e))] > 0 else -e  # a fixed sign, for reproducible output
        escape = _shape_rows(e[None], x)[0]
    flat = False
    if grad_norm > 0:
        if method == "dense":  # every eigenpair is known: g's exact coordinates
            lam, coords = values, rows @ g
        else:
            lam, coords = _krylov_coordinates(_finite_matvec(op, "classify"), g)
        flat = _gradient_flat(lam, coords, s, rel, tol_grad,
                              max(1.0, float(np.abs(flatten(x)).max())))
    kind = "not critical" if flat else _kind(grad_norm, lam_min, lam_max, tol_grad, tol_eig)
    return CriticalPoint(
        x=x, kind=kind, value=value,
        grad_norm=grad_norm, eigenvalues=values, eigenvectors=_shape_rows(rows, x),
        tol_grad=tol_grad, tol_eig=tol_eig, escape_direction=escape, gradient_flat=flat,
    )


def _krylov_coordinates(matvec: Callable[[np.ndarray], np.ndarray], g: np.ndarray,
                        steps: int = FLAT_STEPS) -> tuple[np.ndarray, np.ndarray]:
    """Ritz values of H on the Krylov space of g, and g's coordinates along their vectors.

    g lies in that space, so the coordinates are exact; the Ritz values are
    H's eigenvalues there (exactly when the space runs out before ``steps``,
    as when g mixes few eigenvectors).
    """
    alpha, beta, _, _ = _lanczos_basis(matvec, g / np.linalg.norm(g), min(steps, len(g)))
    theta, S = _ritz(alpha, beta)
    return theta, np.linalg.norm(g) * S[0]


def _gradient_flat(lam: np.ndarray, coords: np.ndarray, s: float, rel: float,
                   tol_grad: float, size: float) -> bool:
    """Frye et al.'s gradient-flat test, certified by the Newton distance.

    ``lam``: eigenvalues (or Ritz values) of H; ``coords``: g's coordinates
    along their unit vectors.  Directions with ``|lam| <= sqrt(tol) s`` are
    flat.  The point is gradient-flat when the gradient in the curved
    directions is within ``tol_grad`` (converged there), the flat part is
    above :data:`GRAD_ZERO_RTOL` ``* s * max(1, |x|_inf)`` (below it, where
    the search for critical points stops, a gradient is rounding: the exact
    critical points of a loss with a symmetry have such noise along their
    flat orbits), and that part is not explained by a nearby critical point:
    its Newton step ``sqrt(sum (c_i / lam_i)**2)`` reaches beyond ``sqrt(tol)
    max(1, |x|_inf)`` (eigenvalues floored at ``eps s``, their rounding level).
    """
    root = float(np.sqrt(rel))
    flat = np.abs(lam) <= root * s
    if (np.linalg.norm(coords[~flat]) > tol_grad
            or np.linalg.norm(coords[flat]) <= GRAD_ZERO_RTOL * s * size):
        return False
    floor = SCALE_FLOOR * s
    step2 = float(np.sum(coords[flat] ** 2 / np.maximum(lam[flat] ** 2, floor ** 2)))
    return step2 > (root * size) ** 2


# Names that live in modules built on this one, importable from here as before.
_MOVED = {"find_critical_points": "microgd.critical", "hessian_trace": "microgd.estimators",
          "hessian_density": "microgd.estimators", "hessian_diagonal": "microgd.estimators",
          "TraceResult": "microgd.estimators", "DensityResult": "microgd.estimators",
          "DiagonalResult": "microgd.estimators"}


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        import importlib
        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
