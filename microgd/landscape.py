"""Loss landscapes: the loss on a grid over one or two directions, and along a segment.

:func:`landscape` evaluates ``loss(theta + alpha * d1 + beta * d2)`` on a grid
of ``(alpha, beta)`` around the parameters ``theta`` (Li et al. 2018), for
directions from :func:`microgd.viz.directions` (random filter-normalized, PCA
of recorded paths, Hessian eigenvectors) or given.  With ``curvature=True`` each
cell also gets the extreme Hessian eigenvalues and ``|lambda_min / lambda_max|``,
the map of non-convexity of Li et al. (near 0: locally convex).
:func:`interpolate` is the 1-D line from one set of parameters to another
(Goodfellow, Vinyals & Saxe 2015), a little beyond both ends.

Grids are independent cells, so they spread over processes or machines:
``executor=2`` runs two local worker processes, and any
:class:`concurrent.futures.Executor` is used as given (see
:mod:`microgd.parallel`); the numbers are the serial ones, bit for bit.
``checkpoint=FILE`` saves the cells as they are done, so a killed run resumes
where it stopped.

Examples
--------
>>> import numpy as np
>>> import microgd as mg
>>> g = mg.landscape(lambda p: (p ** 2).sum(), np.zeros(2), directions=np.eye(2),
...                  bounds=[(-1, 1), (-1, 1)], resolution=3)
>>> g.values.tolist()
[[2.0, 1.0, 2.0], [1.0, 0.0, 1.0], [2.0, 1.0, 2.0]]
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from microgd._files import atomic_write
from microgd.autodiff import no_grad
from microgd.curvature import hessian_eigs
from microgd.directions import Directions, as_directions, directions
from microgd.parallel import ExecutorLike, map_cells
from microgd.train import _progress_bar

__all__ = ["Interpolation", "Landscape", "interpolate", "landscape"]

_FORMAT = "microgd.landscape"
_VERSION = 1
# The recomputed cell of a resumed grid must agree with the checkpoint this closely.
_RESUME_RTOL = 1e-9


@dataclass(eq=False, repr=False)
class Landscape:
    """The loss on a grid of one or two directions (see :func:`landscape`).

    Attributes
    ----------
    alpha, beta : ndarray
        The coordinates along the first and second direction (``beta`` is
        None for a line).
    values : ndarray
        ``values[i, j]`` is the loss at ``(alpha[j], beta[i])`` (rows are
        beta, as ``np.meshgrid`` and matplotlib's contours have them); shape
        ``(len(alpha),)`` for a line.  NaN where the loss was NaN.
    directions : Directions
        The directions and the centre of the grid.
    ratio, eig_min, eig_max : ndarray or None
        With ``curvature=True``: ``|eig_min / eig_max|`` and the smallest and
        largest Hessian eigenvalue at each cell, shaped like ``values``.
    evaluations : int
        Cells computed by this call (the others came from the checkpoint).
    resumed : int
        Cells taken from the checkpoint.
    """

    alpha: np.ndarray
    beta: np.ndarray | None
    values: np.ndarray
    directions: Directions
    ratio: np.ndarray | None = None
    eig_min: np.ndarray | None = None
    eig_max: np.ndarray | None = None
    evaluations: int = 0
    resumed: int = 0

    @property
    def n_nan(self) -> int:
        """Cells where the loss is NaN or infinite (drawn as gaps)."""
        return int(np.sum(~np.isfinite(self.values)))

    @property
    def bounds(self) -> list[tuple[float, float]]:
        axes = [self.alpha] if self.beta is None else [self.alpha, self.beta]
        return [(float(a[0]), float(a[-1])) for a in axes]

    def __repr__(self) -> str:
        shape = "x".join(str(n) for n in self.values.shape[::-1])
        finite = self.values[np.isfinite(self.values)]
        span = (f", loss {finite.min():.6g} to {finite.max():.6g}" if finite.size else "")
        extra = ", curvature" if self.ratio is not None else ""
        return (f"Landscape({shape} cells over {self.bounds}, {self.directions.kind} "
                f"directions{span}, {self.n_nan} NaN{extra})")


@dataclass(eq=False, repr=False)
class Interpolation:
    """The loss along the line through two sets of parameters (see :func:`interpolate`).

    Attributes
    ----------
    alpha : ndarray
        Positions on the line: 0 is ``params_a``, 1 is ``params_b``.
    values : ndarray
        The loss at each ``alpha`` (NaN where it was NaN).
    value_a, value_b : float
        The loss at ``params_a`` and at ``params_b``.
    distance : float
        ``||params_b - params_a||`` (all parameters as one vector).
    """

    alpha: np.ndarray
    values: np.ndarray
    value_a: float
    value_b: float
    distance: float

    @property
    def n_nan(self) -> int:
        """Points where the loss is NaN or infinite."""
        return int(np.sum(~np.isfinite(self.values)))

    def __repr__(self) -> str:
        return (f"Interpolation({len(self.alpha)} points, alpha {self.alpha[0]:g} to "
                f"{self.alpha[-1]:g}, loss {self.value_a:.6g} at a, {self.value_b:.6g} at b, "
                f"distance {self.distance:.6g}, {self.n_nan} NaN)")


# ---- arguments ----------------------------------------------------------------------


def _scalar(out: Any, where: str) -> float:
    arr = np.asarray(getattr(out, "data", out), dtype=np.float64)
    if arr.size != 1:
        raise ValueError(f"{where}: the loss must return a scalar, got shape {arr.shape}")
    return float(arr.reshape(()))


def _bounds(bounds: Any, k: int, where: str) -> np.ndarray:
    try:
        b = np.asarray(bounds, dtype=np.float64)
    except (TypeError, ValueError):
        b = np.zeros(0)
    if b.shape == (2,) and k == 1:
        b = b[None, :]
    if b.shape != (k, 2):
        raise ValueError(f"{where}: bounds must be {k} (lo, hi) pair{'s' * (k > 1)}, one per "
                         f"direction, got {bounds!r}")
    if not np.all(np.isfinite(b)) or not np.all(b[:, 1] > b[:, 0]):
        raise ValueError(f"{where}: bounds must be finite (lo, hi) pairs with lo < hi, "
                         f"got {bounds!r}")
    return b


def _resolution(resolution: Any, k: int, where: str) -> list[int]:
    nums = list(resolution) if isinstance(resolution, (list, tuple, np.ndarray)) \
        else [resolution] * k
    if len(nums) != k:
        raise ValueError(f"{where}: resolution has {len(nums)} entries for {k} directions")
    for n in nums:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
            raise ValueError(f"{where}: resolution must be an integer of at least 2 (points "
                             f"per direction, ends included), got {resolution!r}")
    return [int(n) for n in nums]


# ---- one cell ------------------------------------------------------------------------


class _Cell:
    """The loss (and curvature) at one cell: a picklable callable sent to the workers."""

    def __init__(self, loss: Callable[[Any], Any], d: Directions, axes: list[np.ndarray],
                 curvature: bool, where: str) -> None:
        self.loss, self.d, self.axes = loss, d, axes
        self.curvature, self.where = curvature, where

    def coords(self, cell: int) -> tuple[float, ...]:
        if len(self.axes) == 1:
            return (float(self.axes[0][cell]),)
        i, j = divmod(cell, len(self.axes[0]))
        return float(self.axes[0][j]), float(self.axes[1][i])

    def describe(self, cell: int) -> str:
        names = ("alpha", "beta")
        at = ", ".join(f"{n}={c:.6g}" for n, c in zip(names, self.coords(cell), strict=False))
        if len(self.axes) == 1:
            return f"cell {cell} ({at})"
        i, j = divmod(cell, len(self.axes[0]))
        return f"cell (row {i}, column {j}) ({at})"

    def __call__(self, cell: int) -> tuple[float, float, float]:
        point = self.d.point(*self.coords(cell))
        with no_grad(), np.errstate(all="ignore"):
            value = _scalar(self.loss(point), self.where)
        if not self.curvature or not math.isfinite(value):
            return value, math.nan, math.nan
        # Lanczos (for n > 2000) starts from a random vector: seeded by the cell.
        r = hessian_eigs(self.loss, point, k=1, which="both", seed=cell)
        ev = np.asarray(r.eigenvalues, dtype=np.float64)
        return value, float(ev[0]), float(ev[-1])


# ---- checkpoints -----------------------------------------------------------------------


def _digest(arr: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(arr, dtype=np.float64).tobytes()).hexdigest()


def _fingerprint(d: Directions, axes: list[np.ndarray], curvature: bool) -> dict[str, Any]:
    center = d.center if isinstance(d.center, list) else [d.center]
    return {"format": _FORMAT, "version": _VERSION,
            "shapes": [list(c.shape) for c in center],
            "bounds": [[float(a[0]), float(a[-1])] for a in axes],
            "resolution": [len(a) for a in axes], "curvature": bool(curvature),
            "directions": _digest(d.basis), "center": _digest(d.flat_center)}


class _Checkpoint:
    """The grid's cells in an .npz file (no pickles), saved atomically as they arrive."""

    def __init__(self, path: str | os.PathLike, fingerprint: dict[str, Any], n: int,
                 where: str) -> None:
        self.path, self.fingerprint, self.where = os.fspath(path), fingerprint, where
        self.done = np.zeros(n, dtype=bool)
        self.results = np.full((n, 3), np.nan)

    def _refuse(self, why: str) -> ValueError:
        return ValueError(f"{self.where}: refusing checkpoint {self.path!r}: {why}; delete it "
                          "or give another file to start afresh")

    def load(self) -> bool:
        """Read the file when there is one; False when there is none."""
        try:
            npz = np.load(self.path, allow_pickle=False)
        except FileNotFoundError:
            return False
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise self._refuse(f"it is not a landscape checkpoint, or it is damaged "
                               f"({type(exc).__name__}: {exc})") from None
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise self._refuse("it is a single array, not a landscape checkpoint")
        try:
            with npz:
                stored = {k: npz[k] for k in npz.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise self._refuse(f"it is damaged ({type(exc).__name__}: {exc})") from None
        missing = [k for k in ("fingerprint", "done", "results") if k not in stored]
        if missing:
            raise self._refuse(f"it is not a landscape checkpoint (no {', '.join(missing)})")
        try:
            theirs = json.loads(str(stored["fingerprint"]))
        except ValueError:
            raise self._refuse("its fingerprint is not readable") from None
        if not isinstance(theirs, dict) or theirs.get("format") != _FORMAT:
            raise self._refuse("it is not a landscape checkpoint")
        hashed = {"directions": "the directions differ", "center": "the center differs"}
        differ = [hashed.get(k, f"{k} {theirs.get(k)!r} there, {v!r} here")
                  for k, v in self.fingerprint.items() if theirs.get(k) != v]
        if differ:
            raise self._refuse("it was written for another grid: " + "; ".join(differ))
        done, results = stored["done"], stored["results"]
        if (done.dtype != bool or done.shape != self.done.shape
                or results.dtype != np.float64 or results.shape != self.results.shape):
            raise self._refuse("its arrays have the wrong shapes or types")
        self.done, self.results = done.copy(), results.copy()
        return True

    def save(self) -> None:
        with atomic_write(self.path, "wb") as fh:
            np.savez(fh, fingerprint=np.array(json.dumps(self.fingerprint, sort_keys=True)),
                     done=self.done, results=self.results)


# ---- landscape ---------------------------------------------------------------------------


def _verify_resume(cell_fn: _Cell, ckpt: _Checkpoint, where: str) -> None:
    """Recompute one saved cell: a checkpoint of another loss (or data) is refused."""
    cell = int(np.flatnonzero(ckpt.done)[0])
    value = cell_fn(cell)[0]
    saved = float(ckpt.results[cell, 0])
    same = (math.isnan(value) and math.isnan(saved)) or value == saved or (
        math.isfinite(value) and math.isfinite(saved)
        and abs(value - saved) <= _RESUME_RTOL * max(abs(value), abs(saved)))
    if not same:
        raise ckpt._refuse(f"the loss at {cell_fn.describe(cell)} is {value!r} now but "
                           f"{saved!r} in the file: it was written for another loss or "
                           "other data")


def landscape(loss: Callable[[Any], Any], params: Any, directions: Any = None,
              bounds: Sequence[tuple[float, float]] | None = None, resolution: Any = 21,
              curvature: bool = False, executor: ExecutorLike = None,
              checkpoint: str | os.PathLike | None = None, progress: bool | None = None,
              ) -> Landscape:
    """The loss on a grid over one or two directions through ``params``.

    Each cell is ``loss(params + alpha * d1 + beta * d2)``, evaluated under
    :class:`microgd.no_grad` (the parameters are never changed).

    Parameters
    ----------
    loss : callable
        ``loss(point) -> Value or float``; ``point`` has the structure of
        ``params`` (a list of ndarrays, or one ndarray).  With
        ``curvature=True`` it is also differentiated twice, so it must be
        written in microgd operations.  Sent to the workers by the
        executor's pickler (see :mod:`microgd.parallel`).
    params : list of Values or arrays, or one array
        The centre of the grid (``alpha = beta = 0``).
    directions : Directions, or one or two directions shaped like params
        From :func:`microgd.viz.directions`, or arrays; default: two random
        filter-normalized directions (seed 0), one when ``bounds`` has one pair.
    bounds : list of (lo, hi)
        One pair per direction; default ``(-1, 1)`` for each.
    resolution : int or pair of int, default 21
        Points per direction, ends included; at least 2.
    curvature : bool, default False
        Also the extreme Hessian eigenvalues at each cell and
        ``ratio = |eig_min / eig_max|`` (:func:`microgd.hessian_eigs`; costly:
        for small models).
    executor : None, int or concurrent.futures.Executor
        Where the cells are computed: this process, that many local worker
        processes (``pip install microgd[parallel]``), or the Executor given
        (a Dask ``Client(...).get_executor()``, an ``MPIPoolExecutor``).
        The values are the same, bit for bit.
    checkpoint : str or os.PathLike, optional
        An ``.npz`` file keeping the cells done.  When it exists, only the
        missing cells are computed (and one saved cell is recomputed to check
        that the file belongs to this loss); a damaged file, or one written
        for another grid, centre, directions or loss, is refused with a
        ValueError.  It is written atomically after each chunk of cells, and
        kept when the grid is complete.
    progress : bool, optional
        A tqdm progress bar over the cells (when installed); by default only
        on a terminal, for grids of 200 cells or more.

    Returns
    -------
    Landscape
        ``alpha``, ``beta``, ``values`` (rows are beta), ``n_nan``; with
        ``curvature=True`` also ``ratio``, ``eig_min`` and ``eig_max``.

    Raises
    ------
    ValueError
        For directions whose shapes do not match ``params`` (or that are zero
        or parallel), bad bounds or a resolution below 2, a loss that does
        not return a scalar, or a checkpoint that does not belong to this grid.
    Exception
        When the loss fails at a cell (or the executor fails), the error of
        that cell, naming it; the checkpoint keeps the cells done before.

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> W = np.array([[1.0, 2.0], [0.5, -1.0]])
    >>> loss = lambda ps: ((ps[0] - 1.0) ** 2).sum()
    >>> d = mg.viz.directions([W], seed=0)
    >>> g = mg.landscape(loss, [W], directions=d, resolution=5)
    >>> g.values.shape, g.n_nan, bool(g.values[2, 2] == loss([W]))
    ((5, 5), 0, True)
    """
    where = "landscape"
    if not callable(loss):
        raise TypeError(f"{where}: loss must be callable, got {type(loss).__name__}")
    if not isinstance(curvature, (bool, np.bool_)):
        raise ValueError(f"{where}: curvature must be True or False, got {curvature!r}")
    if directions is None:
        k = 1 if bounds is not None and np.shape(bounds) in ((1, 2), (2,)) else 2
        d = as_directions(_default_directions(params, k), params, where)
    else:
        d = as_directions(directions, params, where)
    k = len(d)
    box = _bounds([(-1.0, 1.0)] * k if bounds is None else bounds, k, where)
    nums = _resolution(resolution, k, where)
    axes = [np.linspace(lo, hi, n) for (lo, hi), n in zip(box, nums, strict=True)]
    return _run(loss, d, axes, bool(curvature), executor, checkpoint, progress, where)


def _run(loss: Callable[[Any], Any], d: Directions, axes: list[np.ndarray], curvature: bool,
         executor: ExecutorLike, checkpoint: str | os.PathLike | None,
         progress: bool | None, where: str) -> Landscape:
    """The grid's cells, resumed from and saved to ``checkpoint``, computed on ``executor``."""
    cell_fn = _Cell(loss, d, axes, curvature, where)
    nums = [len(a) for a in axes]
    n = math.prod(nums)
    ckpt = None
    if checkpoint is not None:
        ckpt = _Checkpoint(checkpoint, _fingerprint(d, axes, curvature), n, where)
        if ckpt.load() and ckpt.done.any():
            _verify_resume(cell_fn, ckpt, where)
    done = ckpt.done if ckpt is not None else np.zeros(n, dtype=bool)
    results = ckpt.results if ckpt is not None else np.full((n, 3), np.nan)
    resumed = int(done.sum())
    todo = np.flatnonzero(~done).tolist()
    bar = _progress_bar(progress, len(todo), unit="cell") if todo else None

    def arrived(positions: range, chunk: list[tuple[float, float, float]]) -> None:
        cells = [todo[p] for p in positions]
        results[cells] = chunk
        done[cells] = True
        if ckpt is not None:
            ckpt.save()
        if bar is not None:
            bar.update(len(cells))

    try:
        map_cells(cell_fn, todo, executor, name=where, describe=cell_fn.describe,
                  on_chunk=arrived)
    finally:
        if bar is not None:
            bar.close()
    shape = tuple(nums[::-1])
    grid = Landscape(axes[0], axes[1] if len(axes) == 2 else None,
                     results[:, 0].reshape(shape), d, evaluations=len(todo), resumed=resumed)
    if curvature:
        lo, hi = results[:, 1].reshape(shape), results[:, 2].reshape(shape)
        with np.errstate(all="ignore"):
            grid.ratio = np.abs(lo / hi)
        grid.eig_min, grid.eig_max = lo, hi
    return grid


def _default_directions(params: Any, k: int) -> Directions:
    return directions(params, kind="random", seed=0, k=k)


def interpolate(loss: Callable[[Any], Any], params_a: Any, params_b: Any, num: int = 51,
                bounds: tuple[float, float] = (-0.5, 1.5), executor: ExecutorLike = None,
                ) -> Interpolation:
    """The loss along the straight line from ``params_a`` to ``params_b``, and beyond.

    Goodfellow, Vinyals & Saxe (2015), "Qualitatively characterizing neural
    network optimization problems": ``loss((1 - alpha) * a + alpha * b)``
    for ``alpha`` in ``bounds``; 0 is ``a`` (e.g. the initialization), 1 is
    ``b`` (the trained parameters).  A loss that falls monotonically from 0
    to 1, without a bump, says that nothing stood in the way.

    Parameters
    ----------
    loss : callable
        ``loss(point) -> Value or float``, ``point`` shaped like the params.
    params_a, params_b : list of Values or arrays, or one array each
        The two ends, with the same shapes.
    num : int, default 51
        Points along the line (at least 2).
    bounds : (lo, hi), default (-0.5, 1.5)
        The range of ``alpha``: beyond [0, 1] shows the loss past both ends.
    executor : None, int or concurrent.futures.Executor
        As for :func:`landscape`.

    Returns
    -------
    Interpolation
        ``alpha``, ``values``, ``value_a``, ``value_b``, ``distance``, ``n_nan``.

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> line = mg.interpolate(lambda w: ((w - 1.0) ** 2).sum(), np.zeros(3), np.ones(3),
    ...                       num=5, bounds=(0, 1))
    >>> line.alpha.tolist(), line.values.tolist()
    ([0.0, 0.25, 0.5, 0.75, 1.0], [3.0, 1.6875, 0.75, 0.1875, 0.0])
    """
    where = "interpolate"
    if not callable(loss):
        raise TypeError(f"{where}: loss must be callable, got {type(loss).__name__}")
    one = not isinstance(params_a, (list, tuple))
    start, end = _as_list(params_a), _as_list(params_b)
    if len(start) != len(end) or any(x.shape != y.shape
                                      for x, y in zip(start, end, strict=True)):
        raise ValueError(f"{where}: params_a and params_b differ in shapes: "
                         f"{[x.shape for x in start]} and {[y.shape for y in end]}")
    delta = [y - x for x, y in zip(start, end, strict=True)]
    if not any(np.any(x != 0) for x in delta):
        raise ValueError(f"{where}: params_a and params_b are the same point")
    center = start[0] if one else start
    d = as_directions(delta[0] if one else [delta], center, where)
    box = _bounds(bounds, 1, where)
    axes = [np.linspace(box[0, 0], box[0, 1], _resolution(num, 1, where)[0])]
    g = _run(loss, d, axes, False, executor, None, False, where)
    with no_grad(), np.errstate(all="ignore"):
        value_a = _scalar(loss(center), where)
        value_b = _scalar(loss(end[0] if one else end), where)
    distance = float(np.sqrt(sum(float(np.sum(x * x)) for x in delta)))
    return Interpolation(g.alpha, g.values, value_a, value_b, distance)


def _as_list(params: Any) -> list[np.ndarray]:
    items = params if isinstance(params, (list, tuple)) else [params]
    return [np.array(getattr(p, "data", p), dtype=np.float64) for p in items]
