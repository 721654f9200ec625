"""Directions through parameter space, for loss landscapes: random, PCA of paths, Hessian.

A landscape is the loss on a plane (or a line) through the parameters
``theta``: ``loss(theta + alpha * d1 + beta * d2)``.  What it shows depends on
the directions:

- ``'random'``: seeded Gaussian directions, *filter-normalized* (Li et al.
  2018, "Visualizing the Loss Landscape of Neural Nets"): each filter of a
  direction gets the norm of the same filter of the weights, so that
  networks of different scales are compared on the same footing.
- ``'pca'``: the principal directions of recorded optimizer paths (Li et al.
  2018, section 7), the plane in which the paths move most.  Their explained
  variance is reported beside that of a random walk of the same length and
  dimension (Antognini & Sohl-Dickstein 2018): a random walk puts about 61% of
  its variance on its first component (6 / pi^2), so a path explained at
  60-70% by two components is no evidence of low-dimensional training.
- ``'hessian'``: the eigenvectors of the largest and the smallest Hessian
  eigenvalue (:func:`microgd.hessian_eigs`), the sharpest and the most
  negative (or flattest) curvature.

:func:`directions` returns a :class:`Directions`: the directions in the
shapes of the parameters, and the centre they are taken from.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from microgd.curvature import hessian_eigs
from microgd.transforms import flatten

__all__ = ["Directions", "as_directions", "directions", "filter_normalized_direction",
           "random_directions"]

KINDS = ("random", "pca", "hessian")
# Random walks averaged for the baseline, and the rows they are sampled at.
WALK_RUNS = 5
WALK_ROWS = 1000


def _array(p: Any) -> np.ndarray:
    return np.array(getattr(p, "data", p), dtype=np.float64)


def _arrays(params: Any) -> tuple[list[np.ndarray], bool]:
    """``params`` as a list of float64 copies, and whether it was one array (not a list)."""
    if isinstance(params, (list, tuple)):
        if not params:
            raise ValueError("directions: params is empty")
        return [_array(p) for p in params], False
    return [_array(params)], True


# ---- filter normalization (Li et al., 2018) -----------------------------------------


def filter_normalized_direction(direction: Sequence[Any], weights: Sequence[Any],
                                filter_axis: int = -1,
                                ignore_bias: bool = True) -> list[np.ndarray]:
    """Rescale a random direction filter by filter to the norms of the weights.

    Filter normalization (Li et al., 2018, "Visualizing the Loss Landscape of
    Neural Nets"): for each parameter with two or more dimensions, each
    *filter* ``d_j`` of the direction (the slice that produces one output
    unit) becomes ``d_j / ||d_j|| * ||w_j||``, where ``w_j`` is the same slice
    of the weights.  microgd's ``Linear`` computes ``x @ weight`` with
    ``weight`` of shape ``(in, out)``, so a neuron's filter is a *column*:
    ``filter_axis=-1``.  For PyTorch-style ``(out, in, ...)`` weights and
    convolution kernels use ``filter_axis=0``.

    Parameters with fewer than two dimensions (biases) follow the paper and its
    reference code: their part of the direction is zero (``ignore_bias=True``,
    they stay at their values).  With ``ignore_bias=False`` each such
    parameter is one filter: its part is rescaled to the parameter's norm.

    Parameters
    ----------
    direction, weights : lists of array_like (or Values), with matching shapes
    filter_axis : int, default -1
        The axis of a weight array that indexes its filters (output units).
    ignore_bias : bool, default True

    Returns
    -------
    list of ndarray

    Examples
    --------
    >>> import numpy as np
    >>> w, b = np.array([[3.0, 0.0], [4.0, 1.0]]), np.array([0.5, 0.5])
    >>> d = filter_normalized_direction([np.ones((2, 2)), np.ones(2)], [w, b])
    >>> np.linalg.norm(d[0], axis=0)        # the columns' norms: those of w's columns
    array([5., 1.])
    >>> d[1]
    array([0., 0.])
    """
    out = []
    for d, w in zip(direction, weights, strict=True):
        d, w = _array(d), _array(w)
        if d.shape != w.shape:
            raise ValueError(f"filter_normalized_direction: direction of shape {d.shape} "
                             f"for weights of shape {w.shape}")
        if w.ndim >= 2:
            axes = tuple(a for a in range(w.ndim) if a != filter_axis % w.ndim)
            scale = np.sqrt(np.sum(w * w, axis=axes, keepdims=True)) / (
                np.sqrt(np.sum(d * d, axis=axes, keepdims=True)) + 1e-12)
            out.append(d * scale)
        elif ignore_bias:
            out.append(np.zeros_like(d))
        else:
            out.append(d * (np.linalg.norm(w) / (np.linalg.norm(d) + 1e-12)))
    return out


def random_directions(params: Sequence[Any], seed: int = 0, filter_normalize: bool = True,
                      filter_axis: int = -1) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Two seeded random directions in parameter space, shaped like ``params``.

    Gaussian directions, filter-normalized by default (see
    :func:`filter_normalized_direction`; biases get a zero component as in
    Li et al., 2018).  When no parameter has two or more dimensions (a model
    of scalar weights) the filter rule does not apply, and each direction is
    instead rescaled as a whole to the norm of all the parameters.

    Examples
    --------
    >>> import numpy as np
    >>> w = np.array([[1.0, 2.0], [2.0, 0.0]])
    >>> d1, d2 = random_directions([w, np.zeros(2)], seed=0)
    >>> np.allclose(np.linalg.norm(d1[0], axis=0), [np.sqrt(5), 2.0]), d1[1].tolist()
    (True, [0.0, 0.0])
    """
    rng = np.random.default_rng(seed)
    arrays = [_array(p) for p in params]
    has_filters = any(a.ndim >= 2 for a in arrays)
    result = []
    for _ in range(2):
        d = [rng.standard_normal(a.shape) for a in arrays]
        if not filter_normalize:
            result.append(d)
        elif has_filters:
            result.append(filter_normalized_direction(d, arrays, filter_axis))
        else:
            total = np.sqrt(sum(float(np.sum(a * a)) for a in arrays))
            norm = np.sqrt(sum(float(np.sum(x * x)) for x in d)) + 1e-12
            result.append([x * (total / norm) for x in d])
    return result[0], result[1]


# ---- the Directions object ----------------------------------------------------------


def _fractions(values: np.ndarray | None) -> str:
    return "[" + ", ".join(f"{v:.3f}" for v in values) + "]" if values is not None else ""


@dataclass(eq=False, repr=False)
class Directions:
    """One or two directions through parameter space, and the centre of the slice.

    Attributes
    ----------
    vectors : list
        One or two directions, each shaped like the parameters (a list of
        arrays, or one array when the parameters are one array).
    center : list or ndarray
        The parameters the slice goes through (``alpha = beta = 0``).
    kind : str
        ``'random'``, ``'pca'``, ``'hessian'`` or ``'given'``.
    explained_variance : ndarray or None
        ``'pca'``: the fraction of the paths' variance along each direction.
    random_walk_variance : ndarray or None
        ``'pca'``: the same fractions for random walks of the same lengths
        and dimension (the mean of a few seeded walks), the level of noise.
    eigenvalues : ndarray or None
        ``'hessian'``: the Hessian eigenvalue of each direction.
    """

    vectors: list[Any]
    center: Any
    kind: str = "given"
    seed: int | None = None
    filter_normalize: bool = False
    explained_variance: np.ndarray | None = None
    random_walk_variance: np.ndarray | None = None
    eigenvalues: np.ndarray | None = None
    _basis: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self._basis = np.stack([flatten(v) for v in self.vectors])

    def __len__(self) -> int:
        return len(self.vectors)

    def __getitem__(self, i: int) -> Any:
        return self.vectors[i]

    def __iter__(self) -> Any:
        return iter(self.vectors)

    @property
    def basis(self) -> np.ndarray:
        """The directions as the rows of a ``(k, n)`` array of flat vectors."""
        return self._basis

    @property
    def flat_center(self) -> np.ndarray:
        """The centre as one flat vector (the order of ``flatten`` and ``History.path``)."""
        return flatten(self.center)

    def point(self, *coords: float) -> Any:
        """``center + coords[0] * d1 (+ coords[1] * d2)``, shaped like the parameters."""
        if len(coords) != len(self.vectors):
            raise ValueError(f"Directions.point: {len(coords)} coordinates for "
                             f"{len(self.vectors)} directions")
        one = not isinstance(self.center, list)
        center = [self.center] if one else self.center
        vecs = [[v] if one else v for v in self.vectors]
        out = []
        for i, c in enumerate(center):
            p = c.copy()
            for a, v in zip(coords, vecs, strict=True):
                p += a * v[i]
            out.append(p)
        return out[0] if one else out

    def coordinates(self, rows: Any) -> np.ndarray:
        """Least-squares coordinates, shape ``(T, k)``, of flat parameter vectors in the slice.

        ``rows`` is a ``(T, n)`` array (or a list of flat vectors, such as a
        History's ``path``); each row is projected onto the span of the
        directions through the centre.
        """
        arr = np.asarray(rows, dtype=np.float64)
        if arr.ndim == 1:
            arr = arr[None, :]
        n = self._basis.shape[1]
        if arr.ndim != 2 or arr.shape[1] != n:
            raise ValueError(f"Directions.coordinates: rows must be flat parameter vectors "
                             f"of length {n}, got an array of shape {arr.shape}")
        coords, *_ = np.linalg.lstsq(self._basis.T, (arr - self.flat_center).T, rcond=None)
        return np.asarray(coords.T)

    def __repr__(self) -> str:
        n = self._basis.shape[1]
        text = f"Directions(kind={self.kind!r}, {len(self)} direction{'s' * (len(self) > 1)} "
        text += f"over {n:,} parameters"
        if self.kind == "random":
            text += f", seed={self.seed}, filter_normalize={self.filter_normalize}"
        if self.explained_variance is not None:
            text += (f", explained variance {_fractions(self.explained_variance)} "
                     f"(random walk of the same length: "
                     f"{_fractions(self.random_walk_variance)})")
        if self.eigenvalues is not None:
            text += ", eigenvalues [" + ", ".join(f"{v:.6g}" for v in self.eigenvalues) + "]"
        return text + ")"


def _check_independent(vectors: np.ndarray, where: str) -> None:
    norms = np.linalg.norm(vectors, axis=1)
    for i, nrm in enumerate(norms):
        if not (np.isfinite(nrm) and nrm > 0):
            raise ValueError(f"{where}: direction {i + 1} is zero or not finite (are the "
                             "weights all zero, or are all parameters biases?)")
    if len(vectors) == 2 and abs(vectors[0] @ vectors[1]) > 0.999 * norms[0] * norms[1]:
        raise ValueError(f"{where}: the two directions are parallel (too few parameters?); "
                         "a slice needs two independent directions")


def _dense(d: Any) -> np.ndarray:
    if isinstance(d, (list, tuple)):
        return np.array([_dense(x) for x in d], dtype=np.float64)
    return _array(d)


def _one_direction(d: Any, shapes: list[tuple[int, ...]], index: int, where: str
                   ) -> list[np.ndarray]:
    if not isinstance(d, (list, tuple)) or len(d) != len(shapes):
        got = len(d) if isinstance(d, (list, tuple)) else 1
        raise ValueError(f"{where}: direction {index + 1} has {got} arrays for "
                         f"{len(shapes)} parameters")
    arrays = []
    for j, (p, shape) in enumerate(zip(d, shapes, strict=True)):
        a = _dense(p)
        if a.shape != shape:
            raise ValueError(f"{where}: direction {index + 1}, array {j}, has shape {a.shape}; "
                             f"parameter {j} has shape {shape}")
        arrays.append(a)
    return arrays


def as_directions(d: Any, params: Any, where: str = "landscape") -> Directions:
    """``d`` as a :class:`Directions` through ``params``, or a ValueError saying what is wrong.

    ``d`` is a Directions (its centre becomes ``params``), one direction
    shaped like ``params``, or a list of one or two of them.  When ``params``
    is one array, an array of shape ``(k,) + params.shape`` is k directions.
    """
    center, one = _arrays(params)
    shapes = [c.shape for c in center]
    vectors: list[Any]
    if isinstance(d, Directions):
        vectors = list(d.vectors)
    elif one:
        arr = _dense(d)
        if arr.shape == shapes[0]:
            vectors = [arr]
        elif arr.ndim == len(shapes[0]) + 1 and arr.shape[1:] == shapes[0]:
            vectors = list(arr)
        else:
            dims = ", ".join(map(str, shapes[0]))
            raise ValueError(f"{where}: directions of shape {arr.shape} for parameters of "
                             f"shape {shapes[0]}: give one direction of that shape, or "
                             f"k of them as an array of shape (k, {dims})")
    elif isinstance(d, (list, tuple)) and d and isinstance(d[0], (list, tuple)):
        vectors = list(d)
    else:
        vectors = [d]
    if not 1 <= len(vectors) <= 2:
        raise ValueError(f"{where}: give 1 or 2 directions, got {len(vectors)}")
    if one:
        checked: list[Any] = []
        for i, v in enumerate(vectors):
            a = _dense(v)
            if a.shape != shapes[0]:
                raise ValueError(f"{where}: direction {i + 1} has shape {a.shape}; the "
                                 f"parameters have shape {shapes[0]}")
            checked.append(a)
    else:
        checked = [_one_direction(v, shapes, i, where) for i, v in enumerate(vectors)]
    out = Directions(checked, center[0] if one else center)
    _check_independent(out.basis, where)
    if isinstance(d, Directions):
        for name in ("kind", "seed", "filter_normalize", "explained_variance",
                     "random_walk_variance", "eigenvalues"):
            setattr(out, name, getattr(d, name))
    return out


# ---- PCA of paths, and the random-walk baseline (Antognini & Sohl-Dickstein 2018) ------


def _one_path(p: Any, n: int, label: str) -> tuple[np.ndarray, np.ndarray]:
    """A path's rows ``(T, n)`` and the step of each row."""
    rows = np.asarray(p.path if hasattr(p, "path") else p, dtype=np.float64)
    if rows.ndim != 2 or rows.shape[1] != n:
        raise ValueError(f"directions: {label} must be rows of {n} parameters (a History "
                         f"recorded with record_path=True, or an array (T, {n})), got shape "
                         f"{rows.shape}")
    steps = getattr(p, "path_steps", None)
    if steps is not None and len(steps) == len(rows):
        steps_arr = np.asarray(steps, dtype=np.float64)
    else:
        steps_arr = np.arange(len(rows), dtype=np.float64)
    return rows, steps_arr


def _paths(paths: Any, n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    if isinstance(paths, Mapping):
        paths = list(paths.values())
    if hasattr(paths, "path") or (isinstance(paths, np.ndarray) and paths.ndim == 2):
        paths = [paths]
    elif isinstance(paths, (list, tuple)) and paths and np.ndim(paths[0]) == 1 \
            and not hasattr(paths[0], "path"):
        paths = [paths]  # one path given as a list of flat rows
    if not isinstance(paths, (list, tuple)) or not paths:
        raise ValueError("directions: kind='pca' needs paths=: one or several Histories "
                         "recorded with record_path=True, or arrays of flat parameter rows")
    return [_one_path(p, n, f"path {i + 1}") for i, p in enumerate(paths)]


def _explained(matrix: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean-centred PCA of the rows: (first k axes as rows, their variance fractions)."""
    centred = matrix - matrix.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    total = float(np.sum(s * s))
    return vt[:k], (s[:k] ** 2 / total if total > 0 else np.zeros(k))


def _walk_rows(steps: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The map from Gaussian increments to the walks' rows, and each increment's scale.

    Row ``t`` of a walk is the sum of its increments up to ``steps[t]``; rows
    of different walks start from the same point.  Long paths are sampled at
    at most WALK_ROWS rows in all (the walk at those rows is exact in
    distribution: an increment over g steps has variance g).
    """
    total = sum(len(s) for s in steps)
    if total > WALK_ROWS:
        steps = [s[np.unique(np.linspace(0, len(s) - 1, max(2, len(s) * WALK_ROWS // total))
                             .astype(int))] for s in steps]
    gaps = [np.diff(s) for s in steps]
    rows, cols = sum(len(s) for s in steps), sum(len(g) for g in gaps)
    B = np.zeros((rows, cols))
    r = c = 0
    for s, g in zip(steps, gaps, strict=True):
        B[r + 1:r + len(s), c:c + len(g)] = np.tril(np.ones((len(g), len(g))))
        r, c = r + len(s), c + len(g)
    return B, np.sqrt(np.maximum(np.concatenate(gaps), 0.0))


def _random_walk_variance(steps: list[np.ndarray], n: int, k: int,
                          rng: np.random.Generator) -> np.ndarray:
    B, scale = _walk_rows(steps)
    B = (B - B.mean(axis=0)) * scale  # centred rows, increments scaled to their gaps
    m = B.shape[1]
    out = np.zeros(k)
    for _ in range(WALK_RUNS):
        if n >= m:
            # The increments Z (m x n) enter only through Z Z^T, a Wishart(n, I) matrix:
            # Bartlett's factor L (m x m, L L^T of that law) replaces Z at O(m^2) cost.
            L = np.tril(rng.standard_normal((m, m)), -1)
            L[np.diag_indices(m)] = np.sqrt(rng.chisquare(n - np.arange(m)))
            M = B @ L
        else:
            M = B @ rng.standard_normal((m, n))
        s = np.linalg.svd(M, compute_uv=False)
        out += (s[:k] ** 2) / float(np.sum(s * s))
    return out / WALK_RUNS


def _pca(center: list[np.ndarray], paths: Any, k: int, seed: int
         ) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    n = sum(c.size for c in center)
    parsed = _paths(paths, n)
    matrix = np.concatenate([rows for rows, _ in parsed])
    if len(matrix) <= k:
        raise ValueError(f"directions: kind='pca' with k={k} needs more than {k} rows of "
                         f"path, got {len(matrix)}")
    if not np.all(np.isfinite(matrix)):
        raise ValueError("directions: a path holds NaN or infinite parameters (a diverged "
                         "run?); PCA needs finite rows")
    axes, explained = _explained(matrix, k)
    if np.any(explained <= 0):
        raise ValueError("directions: the paths do not move in enough directions "
                         f"for k={k} (the rows span fewer than {k} dimensions)")
    first = parsed[0][0]
    travel = first[-1] - first[0]
    # Signs: the first path moves towards +alpha and +beta (else as the SVD gives them).
    axes = np.array([-a if a @ travel < 0 else a for a in axes])
    walk = _random_walk_variance([s for _, s in parsed], n, k, np.random.default_rng(seed))
    return list(axes), explained, walk


def _unflatten(vec: np.ndarray, center: list[np.ndarray]) -> list[np.ndarray]:
    out, start = [], 0
    for c in center:
        out.append(vec[start:start + c.size].reshape(c.shape).copy())
        start += c.size
    return out


def directions(params: Any, kind: str = "random", seed: int = 0,
               filter_normalize: bool = True, paths: Any = None,
               f: Callable[[Any], Any] | None = None, k: int = 2,
               filter_axis: int = -1) -> Directions:
    """One or two directions through ``params`` for a loss landscape.

    Parameters
    ----------
    params : list of Values or arrays, or one array
        The centre of the slice (copied).
    kind : {'random', 'pca', 'hessian'}
        ``'random'``: seeded Gaussian directions, filter-normalized (Li et al.
        2018; see :func:`random_directions`).  ``'pca'``: the first principal
        axes (unit vectors) of the rows of ``paths``, mean-centred.
        ``'hessian'``: the unit eigenvectors of the largest and the smallest
        Hessian eigenvalue of ``f`` at ``params``.
    seed : int
        Seed of the random directions, or of the random walks of the PCA
        baseline.
    filter_normalize : bool, default True
        ``'random'`` only.
    paths : History, array (T, n), or a list or dict of them
        ``'pca'``: the recorded paths (``record_path=True``), rows of flat
        parameters in the order of ``params``.
    f : callable
        ``'hessian'``: the loss, ``f(params) -> scalar Value``, written in
        microgd operations (it is differentiated twice).
    k : {1, 2}
        How many directions (1 for a line).
    filter_axis : int, default -1
        ``'random'``: the axis of a weight that indexes its filters.

    Returns
    -------
    Directions
        For ``'pca'`` with ``explained_variance`` and
        ``random_walk_variance``; for ``'hessian'`` with ``eigenvalues``.

    Examples
    --------
    A straight path is explained by one component; a random walk of the same
    length by about 6 / pi^2 of its variance:

    >>> import numpy as np
    >>> import microgd as mg
    >>> start, end = np.zeros(50), np.linspace(-1, 1, 50)
    >>> path = [start + t * (end - start) for t in np.linspace(0, 1, 30)]
    >>> d = mg.viz.directions(end, kind="pca", paths=path, k=1)
    >>> round(float(d.explained_variance[0]), 6), float(d.random_walk_variance[0]) < 0.8
    (1.0, True)
    """
    if kind not in KINDS:
        raise ValueError(f"directions: kind must be one of {KINDS}, got {kind!r}")
    if isinstance(k, bool) or k not in (1, 2):
        raise ValueError(f"directions: k must be 1 or 2 (a line or a plane), got {k!r}")
    center, one = _arrays(params)
    out: list[Any]
    extra: dict[str, Any] = {}
    if kind == "random":
        d1, d2 = random_directions(center, seed=seed, filter_normalize=filter_normalize,
                                   filter_axis=filter_axis)
        out = [d1, d2][:k]
        extra = {"seed": seed, "filter_normalize": filter_normalize}
    elif kind == "pca":
        axes, explained, walk = _pca(center, paths, k, seed)
        out = [_unflatten(a, center) for a in axes]
        extra = {"explained_variance": explained, "random_walk_variance": walk, "seed": seed}
    else:
        if f is None:
            raise ValueError("directions: kind='hessian' needs the loss: f=")
        r = hessian_eigs(f, center[0] if one else center, k=1, which="both")
        vals = np.asarray(r.eigenvalues, dtype=np.float64)
        rows = [np.asarray(flatten(v)) for v in r.eigenvectors]
        if len(vals) < k:
            raise ValueError(f"directions: the Hessian has {len(vals)} eigenvalue, "
                             f"fewer than k={k}")
        order = [len(vals) - 1, 0][:k]  # the largest first, then the smallest
        out = [_unflatten(rows[i] / np.linalg.norm(rows[i]), center) for i in order]
        extra = {"eigenvalues": vals[order]}
    vectors = [v[0] for v in out] if one else out
    result = Directions(vectors, center[0] if one else center, kind=kind, **extra)
    _check_independent(result.basis, "directions")
    return result
