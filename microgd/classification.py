"""What kind of point: minimum, maximum, saddle, degenerate, or not critical, with evidence.

At a critical point the gradient is zero, and the Hessian's extreme
eigenvalues tell what it is: both signs, a saddle (left by stepping along an
eigenvector of a negative eigenvalue), whatever other directions are flat;
otherwise an eigenvalue near zero, degenerate (second order cannot tell);
otherwise all positive, a minimum, or all negative, a maximum.  A small
gradient that lies in the Hessian's null space and that no nearby critical
point explains is a gradient-flat point (Frye et al. 2021), not critical.

The eigenvalues come from :mod:`microgd.curvature`'s eigensolver, the one
behind :func:`microgd.hessian_eigs`; every name here is importable from
:mod:`microgd.curvature` too.  Finding every critical point in a box is
:mod:`microgd.critical`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from microgd.curvature import (
    _finite_matvec,
    _lanczos_basis,
    _resolve_method,
    _ritz,
    _shape_rows,
    _spectrum,
    _where,
)
from microgd.transforms import HessianOperator, Tree, flatten

__all__ = ["KINDS", "CriticalPoint", "classify"]

KINDS = ("minimum", "maximum", "saddle", "degenerate", "not critical")


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


LANCZOS_K = 6            # eigenvalues from each end that classify asks of Lanczos
FLAT_STEPS = 30          # Krylov steps from g of the gradient-flat test under Lanczos
# A gradient at most this * scale * max(1, |x|_inf) is zero to rounding: where the search
# for critical points stops, and below which no gradient counts as gradient-flat.
GRAD_ZERO_RTOL = 1e-13
SCALE_FLOOR = float(np.finfo(float).eps)  # the curvature scale where the Hessian vanishes


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
