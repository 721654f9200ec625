"""Every critical point of a low-dimensional function in a box, each reported once.

Newton's method on the gradient from seeded random starts finds the points;
:func:`microgd.classify` labels them.  Two things make the raw results
misleading, and both are handled here: starts or steps where f is not finite
(``x * log(x)`` for x < 0), which are skipped; and flat critical points
(``x**4 + y**4`` at 0, a ring of minima), where Newton converges slowly or
not to one point at all, so every start ends somewhere else.  Results are
merged when a chain of critical points joins them at the classification's
resolution (see :func:`find_critical_points`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from microgd.classification import GRAD_ZERO_RTOL, SCALE_FLOOR, CriticalPoint, classify
from microgd.curvature import _dense
from microgd.parallel import ExecutorLike, map_cells
from microgd.transforms import HessianOperator, flatten, value_and_grad

NEWTON_RTOL = GRAD_ZERO_RTOL  # Newton stops at |g| <= NEWTON_RTOL * scale * max(1, |x|_inf)
LINK_DEPTH = 2         # levels of midpoint projection that join two flat points
SAGITTA = 1 / 8        # a projected midpoint may move at most this fraction of the chord
COS_TANGENT = np.cos(np.radians(30))  # a chord must lie within 30 degrees of the flat space
# Where a segment is checked for being critical: midpoint first, then eighths.
SEGMENT_T = (1 / 2, 1 / 4, 3 / 4, 1 / 8, 3 / 8, 5 / 8, 7 / 8)


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


def _check_starts(x0: Any, bounds: np.ndarray | None, where: str) -> np.ndarray:
    """``x0`` as a float array of shape (m, d), d matching ``bounds`` when given."""
    try:
        a = np.array(x0, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: x0 must be an array of starting points of shape (m, d), "
                         f"got {type(x0).__name__}") from None
    if a.ndim == 1:
        a = a[None]
    if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"{where}: x0 must be an array of starting points of shape (m, d), "
                         f"got shape {np.shape(x0)}")
    if not np.isfinite(a).all():
        raise ValueError(f"{where}: x0 holds NaN or infinite values")
    if bounds is not None and a.shape[1] != len(bounds):
        raise ValueError(f"{where}: x0 has points of {a.shape[1]} coordinates but bounds has "
                         f"{len(bounds)} pairs")
    return a


def _local(f: Callable[[Any], Any], x: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray] | None:
    """Gradient and dense Hessian at ``x``, or None where f, g or H is not finite."""
    op = HessianOperator(f, x)
    g = flatten(op.grad)
    if not (np.isfinite(op.value.item()) and np.isfinite(g).all()):
        return None
    H = _dense(op)
    return (g, H) if np.isfinite(H).all() else None


def _newton_on_gradient(f: Callable[[Any], Any], x0: np.ndarray, max_iter: int,
                        scale: float) -> np.ndarray | None:
    """Drive the gradient to zero: Newton steps, safeguarded as Levenberg-Marquardt.

    Minimizes ``|g(x)|^2 / 2`` whose Jacobian is H: the step solves
    ``(H^T H + mu I) p = -H^T g``.  With ``mu -> 0`` this is Newton's step
    ``-H^{-1} g``, which converges quadratically to minima, maxima and saddles
    alike; ``mu`` grows whenever a step fails to shrink ``|g|`` or lands where
    f, g or H is not finite.  Returns None when ``x0`` itself is such a point.
    """
    here = _local(f, x0)
    if here is None:
        return None
    x, (g, H) = x0.copy(), here
    gn = np.linalg.norm(g)
    mu = 1e-8
    for _ in range(max_iter):
        if gn <= NEWTON_RTOL * scale * max(1.0, np.abs(x).max()):
            break
        A = H.T @ H
        lam_scale = max(np.abs(np.diag(A)).max(), 1e-300)
        while True:
            try:
                p = -np.linalg.solve(A + mu * lam_scale * np.eye(len(x)), H.T @ g)
            except np.linalg.LinAlgError:
                p = np.zeros_like(x)
            x_new = x + p
            there = _local(f, x_new) if np.isfinite(x_new).all() else None
            if there is not None and np.linalg.norm(there[0]) < gn:
                x, (g, H) = x_new, there
                gn = np.linalg.norm(g)
                mu = max(mu / 10, 1e-12)
                break
            mu *= 10
            if mu > 1e12:
                return x
    return x


def _reference_scale(f: Callable[[Any], Any], x0s: np.ndarray) -> float:
    """The function's typical curvature in the box: the median ``max |eigenvalue|``.

    The reference that lets :func:`classify` call a nearly flat point
    degenerate (e.g. x**3 near 0, where the local spectrum alone is tiny).
    """
    sample = []
    for x0 in x0s:
        here = _local(f, x0)
        if here is not None:
            sample.append(np.abs(np.linalg.eigvalsh(here[1])).max())
    return float(np.median(sample)) if sample else 0.0


# ---- merging: one report per critical point or connected flat set ---------


def _flat(p: CriticalPoint) -> bool:
    return bool(np.abs(p.eigenvalues).min() <= p.tol_eig)


def _along_flat(p: CriticalPoint, d: np.ndarray) -> bool:
    """Whether ``d`` lies within 30 degrees of the span of p's near-zero eigenvectors."""
    null = np.asarray(p.eigenvectors)[np.abs(p.eigenvalues) <= p.tol_eig]
    return bool(np.linalg.norm(null @ d) >= COS_TANGENT * np.linalg.norm(d))


def _segment_critical(f: Callable[[Any], Any], a: np.ndarray, b: np.ndarray,
                      tol_eig: float) -> bool:
    """Whether ``|g| <= tol_grad`` (classify's rule) all along the segment from a to b."""
    for t in SEGMENT_T:
        y = a + t * (b - a)
        value, g = value_and_grad(f)(y)
        if not (np.isfinite(value) and np.isfinite(g).all()):
            return False
        if np.linalg.norm(g) > tol_eig * max(1.0, float(np.abs(y).max())):
            return False
    return True


class _Linker:
    """The test that two found points belong to one critical point or one flat set."""

    def __init__(self, f: Callable[[Any], Any], tol: float | None, scale: float,
                 max_iter: int) -> None:
        self.f, self.tol, self.scale, self.max_iter = f, tol, scale, max_iter

    def linked(self, a: CriticalPoint, b: CriticalPoint, depth: int = LINK_DEPTH) -> bool:
        d = b.x - a.x
        length = float(np.linalg.norm(d))
        if length == 0:
            return True
        tol_eig = min(a.tol_eig, b.tol_eig)
        isolated = [p for p in (a, b) if not _flat(p)]
        if isolated:
            # A nondegenerate critical point is isolated (Morse): another result is
            # the same point only inside the ball where |H dx| <= tol_grad.
            return (length <= min(_radius(p) for p in isolated)
                    and _segment_critical(self.f, a.x, b.x, tol_eig))
        if not (_along_flat(a, d) and _along_flat(b, d)):
            return False
        if depth == 0:
            return True  # a chord along the flat directions, under verified midpoints
        if _segment_critical(self.f, a.x, b.x, tol_eig):
            return True
        # A curved flat set (a ring): the chord leaves it, but its midpoint, pushed
        # back by Newton, must land near the chord on a flat critical point.
        mid = 0.5 * (a.x + b.x)
        x = _newton_on_gradient(self.f, mid, self.max_iter, max(self.scale, SCALE_FLOOR))
        if x is None or np.linalg.norm(x - mid) > SAGITTA * length:
            return False
        m = classify(self.f, x, self.tol, scale=self.scale)
        if m.kind == "not critical" or not _flat(m):
            return False
        return self.linked(a, m, depth - 1) and self.linked(m, b, depth - 1)


def _radius(p: CriticalPoint) -> float:
    """A nondegenerate point's resolution ball: the x where ``|H (x - p)| <= tol_grad``,
    with room for curvature (the factor 4)."""
    return float(4 * p.tol_grad / np.abs(p.eigenvalues).min())


def _candidate_edges(points: list[CriticalPoint]) -> list[tuple[int, int]]:
    """Pairs that pass the tests of :meth:`_Linker.linked` needing no evaluation of f
    (the ball of a nondegenerate end; the chord along both flat spaces), shortest first."""
    X = np.stack([p.x for p in points])
    flat = np.array([_flat(p) for p in points])
    radius = np.array([np.inf if fl else _radius(p) for p, fl in zip(points, flat, strict=True)])
    ok = np.zeros((len(X), len(X)), dtype=bool)  # ok[i, j]: the test at end i passes
    for i, p in enumerate(points):
        d = X - X[i]
        length = np.linalg.norm(d, axis=1)
        if flat[i]:
            null = np.asarray(p.eigenvectors)[np.abs(p.eigenvalues) <= p.tol_eig]
            along = np.linalg.norm(d @ null.T, axis=1) >= COS_TANGENT * length
            ok[i] = ~flat | along
        else:
            ok[i] = length <= radius[i]
    first, second = np.nonzero(np.triu(ok & ok.T, k=1))
    order = np.lexsort((second, first, np.linalg.norm(X[first] - X[second], axis=1)))
    return [(int(a), int(b)) for a, b in zip(first[order], second[order], strict=True)]


def _merge(points: list[CriticalPoint], linker: _Linker) -> list[list[int]]:
    """Groups (index lists) of points joined by linked pairs, tested shortest first.

    As Kruskal's algorithm: a pair inside one group is not tested, and after a
    failed pair two groups are not tested again until one of them grows.
    """
    parent = list(range(len(points)))
    grown = [0] * len(points)  # bumped by each union, which voids earlier failures
    failed: dict[tuple[int, int], tuple[int, int]] = {}

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    if len(points) > 1:
        for i, j in _candidate_edges(points):
            a, b = sorted((root(i), root(j)))
            if a == b or failed.get((a, b)) == (grown[a], grown[b]):
                continue
            if linker.linked(points[i], points[j]):
                parent[b] = a
                grown[a] += 1
            else:
                failed[(a, b)] = (grown[a], grown[b])
    groups: dict[int, list[int]] = {}
    for i in range(len(points)):
        groups.setdefault(root(i), []).append(i)
    return list(groups.values())


class _FromStart:
    """Newton from one start, then classify: picklable, for the workers of an executor."""

    def __init__(self, f: Callable[[Any], Any], lo: np.ndarray, hi: np.ndarray, slack: float,
                 tol: float | None, reference: float, max_iter: int) -> None:
        self.f, self.lo, self.hi, self.slack = f, lo, hi, slack
        self.tol, self.reference, self.max_iter = tol, reference, max_iter

    def __call__(self, x0: np.ndarray) -> CriticalPoint | None:
        with np.errstate(all="ignore"):
            x = _newton_on_gradient(self.f, x0, self.max_iter,
                                    max(self.reference, SCALE_FLOOR))
            if x is None or np.any(x < self.lo - self.slack) or np.any(x > self.hi + self.slack):
                return None
            return classify(self.f, x, self.tol, scale=self.reference)


def _describe_start(x0: np.ndarray) -> str:
    return f"the start {x0.tolist()}"


def find_critical_points(f: Callable[[Any], Any],
                         bounds: Sequence[tuple[float, float]] | None,
                         starts: int = 200, seed: int = 0, tol: float | None = None,
                         max_iter: int = 50, executor: ExecutorLike = None, *,
                         x0: Any = None) -> list[CriticalPoint]:
    """Every distinct critical point of a low-dimensional ``f`` found in a box.

    From ``starts`` seeded uniform points, the gradient is driven to zero by
    Newton's method with exact Hessians (safeguarded as Levenberg-Marquardt).
    Starts and steps where f, its gradient or its Hessian is not finite are
    skipped, so every point returned is finite.  Points that converge inside
    the box are classified with :func:`classify` (its ``scale`` is the median
    curvature at the first 20 starts), merged, and returned sorted by value.

    Merging reports each critical point, and each connected flat set of them,
    once.  Two results are one when a chain of critical points (``|g| <=
    tol_grad``, classify's resolution) joins them, testing pairs from the
    closest up (Kruskal's order; a pair already joined is not tested):

    - next to a nondegenerate point, which is isolated, only inside its
      resolution ball (``|x - y| <= 4 tol_grad / min |eigenvalue|``) and when
      the segment between them stays critical;
    - between two flat points (an eigenvalue within ``tol_eig`` of 0), when
      their chord lies within 30 degrees of both points' flat eigenvectors and
      either the chord stays critical (``x**4 + y**4``: Newton converges only
      linearly, and all its results lie in one small critical ball) or, for a
      curved set, the chord's midpoint pushed back by Newton lands within
      1/8 of the chord's length on a flat critical point, recursively for
      two levels.

    A pair is tested only once its two groups differ, and after a failure two
    groups are tried again only when one has grown.  Each group is reported by
    its member with the smallest gradient norm.  So a ring of minima such as
    ``(x**2 + y**2 - 1)**2`` comes back as one degenerate point on the ring
    (more if the starts leave gaps wider than about a 56-degree arc), three
    parallel flat valleys as three, and concentric rings one point each.
    Merging costs memory and time growing as the square of the number of
    distinct results (at most ``starts``).

    Points in gradient-flat regions (:func:`classify`'s ``gradient_flat``:
    a small gradient that no nearby critical point explains, where Newton's
    method on the gradient stalls, as on a plateau or an asymptote) are
    ``'not critical'`` and are not returned.

    Parameters
    ----------
    f : callable
        Takes a point of shape ``(d,)`` and returns a scalar Value.
    bounds : list of (low, high), or None
        One pair per dimension: random starts are drawn in this box and only
        points found inside it are kept.  None (only with ``x0``): no box,
        no random starts; every point found from ``x0`` is kept.
    starts : int, default 200
        Number of random starting points (0 is allowed with ``x0``).
    tol : float, optional
        Relative tolerance of the classification (see :func:`classify`).
    max_iter : int, default 50
        Newton steps per start.
    executor : None, int or concurrent.futures.Executor
        Where the starts run (see :func:`microgd.parallel.map_cells`): None in
        this process, an int that many local worker processes, or any
        Executor as given.  The starts are seeded here and merged here, in
        start order, so the result is the same, bit for bit.  ``f`` must then
        be picklable by the executor (a module-level function for the standard
        library's process pool; any function for loky and Dask).
    x0 : array of shape (m, d), optional
        Starting points of your own (e.g. near points you expect, for a
        problem that is no box), tried before the random ones.

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> pts = mg.find_critical_points(lambda v: v[0] ** 4 + v[1] ** 4, [(-1, 1), (-1, 1)],
    ...                               starts=20)
    >>> [(p.kind, bool(np.abs(p.x).max() < 1e-4)) for p in pts]
    [('degenerate', True)]
    """
    where = "find_critical_points"
    b = None if bounds is None else _check_bounds(bounds, where)
    given = None if x0 is None else _check_starts(x0, b, where)
    if b is None and given is None:
        raise ValueError(f"{where}: bounds is None; give a box of (low, high) pairs, or "
                         "starting points x0")
    least = 0 if given is not None else 1
    if (not isinstance(starts, (int, np.integer)) or isinstance(starts, bool)
            or starts < least):
        raise ValueError(f"{where}: starts must be at least {least}, got {starts}")
    if tol is not None and not 0 < tol < np.inf:
        raise ValueError(f"{where}: tol must be positive and finite, got {tol}")
    if b is None:
        assert given is not None
        d = given.shape[1]
        lo, hi = np.full(d, -np.inf), np.full(d, np.inf)
        slack = 0.0
        x0s = given
    else:
        rng = np.random.default_rng(seed)
        lo, hi = b[:, 0], b[:, 1]
        slack = 1e-9 * max(1.0, float(np.max(hi - lo)))
        x0s = lo + (hi - lo) * rng.random((int(starts), len(b)))
        if given is not None:
            x0s = np.concatenate([given, x0s])
    with np.errstate(all="ignore"):
        reference = _reference_scale(f, x0s[:20])
    results = map_cells(_FromStart(f, lo, hi, slack, tol, reference, max_iter), list(x0s),
                        executor, name="find_critical_points", describe=_describe_start)
    found: dict[bytes, CriticalPoint] = {}
    for p in results:   # in start order, whatever order the workers finished in
        if p is not None:
            found.setdefault(np.asarray(p.x).tobytes(), p)
    points = [p for p in found.values() if p.kind != "not critical"]
    with np.errstate(all="ignore"):
        groups = _merge(points, _Linker(f, tol, reference, max_iter))
    best = [min((points[i] for i in g), key=lambda p: p.grad_norm) for g in groups]
    return sorted(best, key=lambda p: p.value)
