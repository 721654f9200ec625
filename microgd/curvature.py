"""The Hessian at a point: its spectrum, trace and density, and what kind of point it is.

At a critical point the gradient is zero, and only the signs of the Hessian's
eigenvalues tell what it is: all positive, a minimum; all negative, a maximum;
both signs, a saddle, left by stepping along an eigenvector of a negative
eigenvalue; an eigenvalue near zero, degenerate (second order cannot tell).

Everything here uses exact Hessian-vector products
(:class:`microgd.transforms.HessianOperator`): the Hessian is assembled only
for small problems (``'dense'``, n <= 2000); larger ones use Lanczos.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

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
class TraceResult:
    """Hutchinson's estimate of tr(H) with its standard error."""

    estimate: float
    stderr: float
    samples: int


@dataclass
class DensityResult:
    """Spectral density of the Hessian by stochastic Lanczos quadrature."""

    grid: np.ndarray
    density: np.ndarray
    nodes: np.ndarray = field(repr=False)    # Ritz values, one row per run
    weights: np.ndarray = field(repr=False)  # their quadrature weights


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

    def __repr__(self) -> str:
        x = np.round(flatten(self.x), 6).tolist()
        eig = np.array2string(np.asarray(self.eigenvalues), precision=4, threshold=8)
        return (f"CriticalPoint(kind={self.kind!r}, x={x}, value={self.value:.6g}, "
                f"grad_norm={self.grad_norm:.2e}, eigenvalues={eig})")


# ---- the eigensolvers ------------------------------------------------------


def _check_k(k: int, n: int, which: str, method: str) -> None:
    if which not in ("both", "largest", "smallest"):
        raise ValueError(f"hessian_eigs: which must be 'both', 'largest' or 'smallest', "
                         f"got {which!r}")
    if method not in ("auto", "dense", "lanczos"):
        raise ValueError(f"hessian_eigs: method must be 'auto', 'dense' or 'lanczos', "
                         f"got {method!r}")
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


def hessian_eigs(f: Callable[[Any], Any], x: Tree, k: int = 6, which: str = "both",
                 method: str = "auto", tol: float = 1e-10, seed: int = 0,
                 max_iter: int = 300) -> EigResult:
    """Extreme eigenvalues and eigenvectors of the Hessian of ``f`` at ``x``.

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

    Returns
    -------
    EigResult
        ``eigenvalues`` ascending, ``eigenvectors`` one row per eigenvalue in
        x's shape, ``residuals`` ``||Hv - lambda v||``, ``converged``,
        ``n_hvp`` and the ``method`` used.

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> r = mg.hessian_eigs(lambda v: v[0] ** 2 - 3 * v[1] ** 2, np.zeros(2), k=1)
    >>> r.eigenvalues.tolist(), r.method
    ([-6.0, 2.0], 'dense')
    """
    op = HessianOperator(f, x)
    _check_k(k, op.n, which, method)
    use_dense = method == "dense" or (method == "auto" and op.n <= DENSE_MAX)
    if method == "dense" and op.n > DENSE_MAX:
        raise ValueError(f"hessian_eigs: method='dense' assembles an n x n Hessian and is "
                         f"limited to n <= {DENSE_MAX} (n={op.n}); use method='lanczos'")
    if use_dense:
        H = _dense(op)
        values, vecs = np.linalg.eigh(H)
        idx = _pick(values, k, which)
        values, vecs = values[idx], vecs[:, idx].T
        residuals = np.linalg.norm(vecs @ H - values[:, None] * vecs, axis=1)
        converged, name = True, "dense"
    else:
        rng = np.random.default_rng(seed)
        values, vecs, residuals, converged = _lanczos(op.matvec, op.n, k, which, tol, rng,
                                                      max_iter)
        name = "lanczos"
    return EigResult(values, _shape_rows(vecs, x), residuals, bool(converged), op.n_products,
                     name)


def _shape_rows(vecs: np.ndarray, x: Tree) -> Any:
    """Flat eigenvector rows, each shaped like ``x`` (an array, or a list of arrays)."""
    if len(_leaves(x)) == 1 and not isinstance(x, (list, tuple)):
        # With x typed Any, mypy picks getattr's default=None overload (Any | None).
        data: Any = getattr(x, "data", x)
        return vecs.reshape((len(vecs),) + np.shape(data))
    return [unflatten(v, x) for v in vecs]


def hessian_trace(f: Callable[[Any], Any], x: Tree, samples: int = 100,
                  seed: int = 0) -> TraceResult:
    """Hutchinson's estimate of the trace of the Hessian, with its standard error.

    ``E[z^T H z] = tr(H)`` for Rademacher vectors ``z`` (entries +1 or -1).

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> t = mg.hessian_trace(lambda v: (v ** 2).sum(), np.ones(5), samples=10)
    >>> t.estimate, t.stderr
    (10.0, 0.0)
    """
    if samples < 2:
        raise ValueError(f"hessian_trace: samples must be at least 2, got {samples}")
    op = HessianOperator(f, x)
    rng = np.random.default_rng(seed)
    vals = np.empty(samples)
    for i in range(samples):
        z = rng.integers(0, 2, op.n) * 2.0 - 1.0
        vals[i] = z @ op.matvec(z)
    return TraceResult(float(vals.mean()), float(vals.std(ddof=1) / np.sqrt(samples)), samples)


def hessian_density(f: Callable[[Any], Any], x: Tree, steps: int = 80, runs: int = 1,
                    grid: int = 1000, seed: int = 0, sigma_squared: float = 1e-5
                    ) -> DensityResult:
    """The Hessian's eigenvalue density by stochastic Lanczos quadrature (as PyHessian).

    Each run starts Lanczos from a normalized Rademacher vector; the Ritz
    values of ``steps`` steps are quadrature nodes weighted by the squared
    first components of their eigenvectors.  Nodes are smoothed by Gaussians
    of variance ``sigma_squared * max(1, spread)`` on a grid padded by 0.01,
    averaged over runs and normalized to unit area.

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> d = mg.hessian_density(lambda v: (v ** 2).sum(), np.ones(4), grid=201)
    >>> d.grid[np.argmax(d.density)].round(3)
    np.float64(2.0)
    """
    op = HessianOperator(f, x)
    steps = min(steps, op.n)
    rng = np.random.default_rng(seed)
    nodes, weights = [], []
    for _ in range(runs):
        v = rng.integers(0, 2, op.n) * 2.0 - 1.0
        alpha, beta, _, _ = _lanczos_basis(op.matvec, v / np.linalg.norm(v), steps)
        theta, S = _ritz(alpha, beta)
        nodes.append(theta)
        weights.append(S[0] ** 2)
    lo = np.mean([t.min() for t in nodes]) - 0.01
    hi = np.mean([t.max() for t in nodes]) + 0.01
    xs = np.linspace(lo, hi, grid)
    var = sigma_squared * max(1.0, hi - lo)
    dens = np.zeros(grid)
    for t, w in zip(nodes, weights, strict=True):
        g = np.exp(-((xs[:, None] - t[None, :]) ** 2) / (2 * var)) / np.sqrt(2 * np.pi * var)
        dens += g @ w
    dens /= runs
    dens /= dens.sum() * (xs[1] - xs[0])
    width = max(len(t) for t in nodes)
    pad = [np.pad(a, (0, width - len(a)), constant_values=np.nan) for a in nodes]
    padw = [np.pad(a, (0, width - len(a))) for a in weights]
    return DensityResult(xs, dens, np.array(pad), np.array(padw))


# ---- classifying and finding critical points -----------------------------


def classify(f: Callable[[Any], Any], x: Tree, tol: float | None = None,
             scale: float | None = None) -> CriticalPoint:
    """What kind of point ``x`` is for ``f``: minimum, maximum, saddle, degenerate or not critical.

    Tolerances are relative to the spectrum's scale ``s = max |eigenvalue|``
    and reported back: ``tol_eig = tol * s`` and
    ``tol_grad = tol * s * max(1, |x|_inf)`` (``tol`` defaults to 1e-6).
    ``scale``, when given, is a reference curvature of ``f`` (e.g. its typical
    ``max |eigenvalue|`` over a region) and ``s`` is at least that: near a
    degenerate point the local spectrum alone is tiny, and only a reference
    scale can tell that it is tiny.  A
    point whose gradient norm exceeds ``tol_grad`` is not critical; one whose
    smallest ``|eigenvalue|`` is at most ``tol_eig`` is degenerate (second
    order cannot decide).  With Lanczos (n > 2000) only the extreme
    eigenvalues are known: both signs give ``'saddle'``.

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> cp = mg.classify(lambda v: v[0] ** 2 - v[1] ** 2, np.zeros(2))
    >>> cp.kind, cp.eigenvalues.tolist(), cp.escape_direction.tolist()
    ('saddle', [-2.0, 2.0], [0.0, 1.0])
    """
    rel = 1e-6 if tol is None else float(tol)
    if not rel > 0:
        raise ValueError(f"classify: tol must be positive, got {tol}")
    op = HessianOperator(f, x)
    g = flatten(op.grad)
    grad_norm = float(np.linalg.norm(g))
    if op.n <= DENSE_MAX:
        H = _dense(op)
        values, vecs = np.linalg.eigh(H)
        vecs = vecs.T
    else:
        r = hessian_eigs(f, x, k=6, which="both", method="lanczos")
        values = r.eigenvalues
        vecs = np.stack([flatten(v) for v in r.eigenvectors]) if not isinstance(
            r.eigenvectors, np.ndarray) else r.eigenvectors.reshape(len(values), -1)
    local = float(np.abs(values).max()) if len(values) else 0.0
    scale = max(local, 0.0 if scale is None else float(scale))
    tol_eig = rel * scale
    xinf = float(np.abs(flatten(x)).max()) if op.n else 0.0
    tol_grad = rel * scale * max(1.0, xinf)
    if grad_norm > tol_grad:
        kind = "not critical"
    elif op.n <= DENSE_MAX and np.abs(values).min() <= tol_eig:
        kind = "degenerate"
    elif values.min() > tol_eig:
        kind = "minimum"
    elif values.max() < -tol_eig:
        kind = "maximum"
    elif values.min() < -tol_eig and values.max() > tol_eig:
        kind = "saddle"
    else:
        kind = "degenerate"
    escape = None
    if len(values) and values[0] < -tol_eig:
        e = vecs[0] / np.linalg.norm(vecs[0])
        e = e if e[np.argmax(np.abs(e))] > 0 else -e  # a fixed sign, for reproducible output
        escape = _shape_rows(e[None], x)[0]
    return CriticalPoint(
        x=x, kind=kind, value=op.value.item(), grad_norm=grad_norm, eigenvalues=values,
        eigenvectors=_shape_rows(vecs, x) if op.n <= DENSE_MAX else None,
        tol_grad=tol_grad, tol_eig=tol_eig, escape_direction=escape,
    )


def _check_bounds(bounds: Sequence[tuple[float, float]], where: str) -> np.ndarray:
    try:
        b = np.asarray(bounds, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: bounds must be a list of (low, high) pairs, "
                         f"got {bounds!r}") from None
    if b.ndim != 2 or b.shape[1] != 2 or len(b) == 0:
        raise ValueError(f"{where}: bounds must be a list of (low, high) pairs, got {bounds!r}")
    if not np.isfinite(b).all():
        raise ValueError(f"{where}: bounds must be finite, got {bounds!r}")
    bad = np.nonzero(b[:, 0] > b[:, 1])[0]
    if len(bad):
        i = int(bad[0])
        raise ValueError(f"{where}: bounds[{i}] has low {b[i, 0]} > high {b[i, 1]}")
    return b


def _newton_on_gradient(f: Callable[[Any], Any], x0: np.ndarray, max_iter: int
                        ) -> np.ndarray:
    """Drive the gradient to zero: Newton steps, safeguarded as Levenberg-Marquardt.

    Minimizes ``|g(x)|^2 / 2`` whose Jacobian is H: the step solves
    ``(H^T H + mu I) p = -H^T g``.  With ``mu -> 0`` this is Newton's step
    ``-H^{-1} g``, which converges quadratically to minima, maxima and saddles
    alike; ``mu`` grows whenever a step fails to shrink ``|g|``.
    """
    x = x0.copy()
    mu = 1e-8
    op = HessianOperator(f, x)
    g = flatten(op.grad)
    gn = np.linalg.norm(g)
    for _ in range(max_iter):
        if gn <= 1e-13 * max(1.0, np.abs(x).max()):
            break
        H = _dense(op)
        A = H.T @ H
        lam_scale = max(np.abs(np.diag(A)).max(), 1e-300)
        while True:
            try:
                p = -np.linalg.solve(A + mu * lam_scale * np.eye(len(x)), H.T @ g)
            except np.linalg.LinAlgError:
                p = np.zeros_like(x)
            x_new = x + p
            if not np.isfinite(x_new).all():
                return x
            op_new = HessianOperator(f, x_new)
            g_new = flatten(op_new.grad)
            gn_new = np.linalg.norm(g_new)
            if np.isfinite(gn_new) and gn_new < gn:
                x, op, g, gn = x_new, op_new, g_new, gn_new
                mu = max(mu / 10, 1e-12)
                break
            mu *= 10
            if mu > 1e12:
                return x
    return x


def find_critical_points(f: Callable[[Any], Any], bounds: Sequence[tuple[float, float]],
                         starts: int = 200, seed: int = 0, tol: float | None = None,
                         max_iter: int = 50) -> list[CriticalPoint]:
    """Every distinct critical point of a low-dimensional ``f`` found in a box.

    From ``starts`` seeded uniform points, the gradient is driven to zero by
    Newton's method with exact Hessians (safeguarded as Levenberg-Marquardt);
    points that converge inside the box are deduplicated, classified with
    :func:`classify` and returned sorted by value.

    Parameters
    ----------
    f : callable
        Takes a point of shape ``(d,)`` and returns a scalar Value.
    bounds : list of (low, high)
        One pair per dimension.
    starts : int, default 200
        Number of starting points.

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> pts = mg.find_critical_points(lambda v: v[0] ** 2 - v[1] ** 2, [(-1, 1), (-1, 1)],
    ...                               starts=5)
    >>> [(p.kind, bool(np.abs(p.x).max() < 1e-9)) for p in pts]
    [('saddle', True)]
    """
    b = _check_bounds(bounds, "find_critical_points")
    if starts < 1:
        raise ValueError(f"find_critical_points: starts must be at least 1, got {starts}")
    rng = np.random.default_rng(seed)
    lo, hi = b[:, 0], b[:, 1]
    width = float(np.max(hi - lo)) if len(b) else 1.0
    slack = 1e-9 * max(1.0, width)
    same = 1e-6 * max(1.0, width)
    found: list[CriticalPoint] = []
    x0s = lo + (hi - lo) * rng.random((starts, len(b)))
    with np.errstate(all="ignore"):
        # The function's typical curvature in the box: the reference that lets
        # classify call a nearly flat point degenerate (e.g. x**3 near 0).
        sample = [np.abs(np.linalg.eigvalsh(_dense(HessianOperator(f, x0)))).max()
                  for x0 in x0s[:20]]
        sample = [s for s in sample if np.isfinite(s)]
        reference = float(np.median(sample)) if sample else None
        for x0 in x0s:
            x = _newton_on_gradient(f, x0, max_iter)
            if np.any(x < lo - slack) or np.any(x > hi + slack):
                continue
            if any(np.max(np.abs(x - p.x)) <= same for p in found):
                continue
            cp = classify(f, x, tol, scale=reference)
            if cp.kind != "not critical":
                found.append(cp)
    return sorted(found, key=lambda p: p.value)
