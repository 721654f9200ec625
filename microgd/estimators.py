"""Stochastic estimates from Hessian-vector products: trace, diagonal, spectral density.

Each estimate needs only products ``H z`` with random probes ``z``, so it
works at any size: Hutchinson's trace ``E[z^T H z]`` and diagonal
``E[z * H z]`` (Rademacher ``z``, entries +1 or -1, each with its standard
error), and the eigenvalue density by stochastic Lanczos quadrature (as
PyHessian).  The exact spectrum's extremes are :func:`microgd.hessian_eigs`
(:mod:`microgd.curvature`); this module builds on its Lanczos iteration.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from microgd.curvature import _finite_matvec, _lanczos_basis, _ritz, _shape_rows
from microgd.transforms import HessianOperator, Tree

__all__ = ["DensityResult", "DiagonalResult", "TraceResult", "hessian_density",
           "hessian_diagonal", "hessian_trace"]


@dataclass
class TraceResult:
    """Hutchinson's estimate of tr(H) with its standard error."""

    estimate: float
    stderr: float
    samples: int


@dataclass
class DiagonalResult:
    """Hutchinson's estimate of diag(H), entry by entry, with standard errors.

    ``estimate`` and ``stderr`` are shaped like x (an array, or a list of
    arrays like x); ``samples`` is the number of probes.
    """

    estimate: Any
    stderr: Any
    samples: int


@dataclass
class DensityResult:
    """Spectral density of the Hessian by stochastic Lanczos quadrature."""

    grid: np.ndarray
    density: np.ndarray
    nodes: np.ndarray = field(repr=False)    # Ritz values, one row per run
    weights: np.ndarray = field(repr=False)  # their quadrature weights


def _samples(samples: Any, where: str) -> int:
    if (not isinstance(samples, (int, np.integer)) or isinstance(samples, bool)
            or samples < 2):
        raise ValueError(f"{where}: samples must be an integer of at least 2 (a standard "
                         f"error needs two probes), got {samples!r}")
    return int(samples)


def _rademacher(rng: np.random.Generator, n: int) -> np.ndarray:
    """One probe of +1/-1 entries: trace and diagonal draw the same ones for one seed."""
    return rng.integers(0, 2, n) * 2.0 - 1.0


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
    samples = _samples(samples, "hessian_trace")
    op = HessianOperator(f, x)
    estimate, stderr = hutchinson_trace(op.matvec, op.n, samples, np.random.default_rng(seed))
    return TraceResult(estimate, stderr, samples)


def hutchinson_trace(matvec: Callable[[np.ndarray], np.ndarray], n: int, samples: int,
                     rng: np.random.Generator) -> tuple[float, float]:
    """``(estimate, stderr)`` of the trace of the operator ``matvec`` on ``R^n`` from
    ``samples`` Rademacher probes drawn from ``rng`` (what :func:`hessian_trace` and the
    ``HessianTrace`` monitor compute)."""
    vals = np.empty(samples)
    for i in range(samples):
        z = _rademacher(rng, n)
        vals[i] = z @ matvec(z)
    return float(vals.mean()), float(vals.std(ddof=1) / np.sqrt(samples))


def hessian_diagonal(f: Callable[[Any], Any], x: Tree, samples: int = 100,
                     seed: int = 0) -> DiagonalResult:
    """Hutchinson's estimate of the Hessian's diagonal, with a standard error per entry.

    ``E[z * (H z)] = diag(H)`` for Rademacher vectors ``z`` (entries +1 or -1,
    so ``z_i**2 = 1``): entry i of one probe is ``H_ii + sum_{j != i} H_ij z_i
    z_j``, unbiased, with variance ``sum_{j != i} H_ij**2``.  The estimate is
    therefore exact, with standard error 0, when H is diagonal, and its error
    shrinks as ``1/sqrt(samples)`` otherwise (Bekas, Kokiopoulou and Saad
    2007; the diagonal AdaHessian and PyHessian estimate).  The probes are
    those :func:`hessian_trace` draws for the same ``seed``, so the estimate's
    entries sum to its trace estimate.  Each probe costs one Hessian-vector
    product; memory is a few vectors of x's size, whatever ``samples`` is.

    Parameters
    ----------
    f : callable
        Scalar function of one argument (an array, or a list of arrays).
    x : array or list of arrays
        The point.
    samples : int, default 100
        Number of probes, at least 2.
    seed : int
        Seed of the probes.

    Returns
    -------
    DiagonalResult
        ``estimate`` and ``stderr`` (the standard error of the mean, entry by
        entry) shaped like x, and ``samples``.

    Raises
    ------
    ValueError
        For ``samples`` below 2, or where a Hessian-vector product is not finite.

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> d = mg.hessian_diagonal(lambda v: (v ** 2).sum() + v[0] * v[1], np.zeros(3), samples=400)
    >>> d.estimate.round(2).tolist(), d.stderr.round(3).tolist()  # diag(H) = [2, 2, 2]
    ([2.1, 2.1, 2.0], [0.05, 0.05, 0.0])

    ``H_01 = 1`` adds noise to entries 0 and 1 (their error is two standard
    errors here); row 2 of H has no off-diagonal entry, so entry 2 is exact.
    """
    samples = _samples(samples, "hessian_diagonal")
    op = HessianOperator(f, x)
    matvec = _finite_matvec(op, "hessian_diagonal")
    rng = np.random.default_rng(seed)
    mean, m2 = np.zeros(op.n), np.zeros(op.n)
    for i in range(samples):
        z = _rademacher(rng, op.n)
        d = z * matvec(z)
        # Welford's update: the spread of each entry without keeping every probe.
        delta = d - mean
        mean += delta / (i + 1)
        m2 += delta * (d - mean)
    stderr = np.sqrt(np.maximum(m2, 0.0) / (samples - 1) / samples)
    return DiagonalResult(_shape_rows(mean[None], x)[0], _shape_rows(stderr[None], x)[0],
                          samples)



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
        v = _rademacher(rng, op.n)
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

