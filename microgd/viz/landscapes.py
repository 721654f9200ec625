"""Loss landscapes: a function of a point, a grid over directions, a line between two points.

- :func:`plot_landscape`: a 1-D curve or 2-D contour of a function with
  optimizer paths and critical points; a grid from :func:`microgd.landscape`
  (loss or ``|lambda_min / lambda_max|``) with several optimizers' paths
  projected onto its directions; or a random slice through a model's
  parameters along filter-normalized directions (Li et al., 2018).
- :func:`plot_interpolation`: the loss along the line between two sets of
  parameters (:func:`microgd.interpolate`; Goodfellow et al., 2015).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from microgd.autodiff import no_grad
from microgd.directions import directions
from microgd.landscape import landscape
from microgd.value import Value
from microgd.viz.drawing import contour, draw_critical, draw_path, paths_of
from microgd.viz.style import (
    COLORS,
    PATH_COLORS,
    named,
    new_figure,
    save_figure,
    style_axes,
    with_gaps,
)

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = ["plot_interpolation", "plot_landscape"]


def _scalar(out: Any) -> float:
    data = out.data if isinstance(out, Value) else out
    return float(np.asarray(data, dtype=np.float64).reshape(()))


# ---- a function of a point --------------------------------------------------------------


def _pointwise(f: Callable[[Any], Any], points: np.ndarray) -> np.ndarray:
    return np.array([_scalar(f(Value(p, requires_grad=False))) for p in points.T])


def _evaluate(f: Callable[[Any], Any], points: np.ndarray) -> np.ndarray:
    """``f`` at each column of ``points`` (shape (d, M)), under no_grad.

    ``f`` is first tried once on all points together (``x[0]`` is then a
    vector of first coordinates); the result is used only if it has the right
    shape and agrees with pointwise calls on a few columns.  Otherwise ``f``
    is called once per point.
    """
    m = points.shape[1]
    with no_grad(), np.errstate(all="ignore"):
        try:
            out = f(Value(points, requires_grad=False))
            vals = np.asarray(out.data if isinstance(out, Value) else out, dtype=np.float64)
        except Exception:  # noqa: BLE001 - f may not vectorize: use the pointwise path
            vals = None
        if vals is not None and vals.shape == (m,):
            check = np.unique(np.linspace(0, m - 1, 5).astype(int))
            if np.allclose(vals[check], _pointwise(f, points[:, check]), rtol=1e-9,
                           atol=1e-12, equal_nan=True):
                return vals
        return _pointwise(f, points)



def _landscape_1d(f: Callable[[Any], Any], bounds: np.ndarray, paths: Any,
                  critical_points: Any, resolution: int) -> Figure:
    fig = new_figure((7.5, 4.6))
    ax = fig.add_subplot()
    xs = np.linspace(bounds[0, 0], bounds[0, 1], resolution)
    ax.plot(xs, _evaluate(f, xs[None, :]), color="#343a40", linewidth=2, label="f",
            gid="landscape")
    for i, (label, p) in enumerate(paths_of(paths, 1)):
        draw_path(ax, p[:, 0], _evaluate(f, p.T), label, COLORS[i % len(COLORS)])
    if critical_points:
        draw_critical(ax, critical_points, lambda x: _evaluate(f, x[:, None])[0], 1)
    ax.set(xlabel="x", ylabel="f(x)", xlim=tuple(bounds[0]))
    ax.set_title("Loss curve" + (" with optimizer paths" if paths is not None else ""),
                 fontsize=12)
    style_axes(ax)
    ax.legend(frameon=False)
    return fig


def _landscape_2d(f: Callable[[Any], Any], bounds: np.ndarray, paths: Any,
                  critical_points: Any, resolution: int) -> Figure:
    fig = new_figure((6.8, 5.6))
    ax = fig.add_subplot()
    xs = np.linspace(bounds[0, 0], bounds[0, 1], resolution)
    ys = np.linspace(bounds[1, 0], bounds[1, 1], resolution)
    gx, gy = np.meshgrid(xs, ys)
    z = _evaluate(f, np.stack([gx.ravel(), gy.ravel()])).reshape(gx.shape)
    contour(fig, ax, xs, ys, z, "f(x, y)")
    path_list = paths_of(paths, 2)
    for i, (label, p) in enumerate(path_list):
        draw_path(ax, p[:, 0], p[:, 1], label, PATH_COLORS[i % len(PATH_COLORS)])
    if critical_points:
        draw_critical(ax, critical_points, lambda x: x[1], 2)
    ax.set(xlabel="x", ylabel="y", xlim=tuple(bounds[0]), ylim=tuple(bounds[1]))
    title = "Loss landscape"
    if path_list:
        title += " with optimizer paths (\u25cb start, \u2605 end)"
    ax.set_title(title, fontsize=12)
    if path_list or critical_points:
        ax.legend(loc="upper right", fontsize=9, framealpha=0.85)
    return fig


# ---- a grid over directions (mg.landscape) ----------------------------------------------


def _axis_label(d: Any, i: int) -> str:
    name = "\u03b1" if i == 0 else "\u03b2"
    if d.kind == "pca" and d.explained_variance is not None:
        return (f"{name}: PC{i + 1}, {100 * d.explained_variance[i]:.1f}% of the paths' "
                f"variance (random walk: {100 * d.random_walk_variance[i]:.0f}%)")
    if d.kind == "hessian" and d.eigenvalues is not None:
        which = "largest" if i == 0 else "smallest"
        return f"{name}: eigenvector of the {which} eigenvalue ({d.eigenvalues[i]:.4g})"
    return f"{name} (direction {i + 1})"


def _title(g: Any, show: str) -> str:
    d = g.directions
    what = "|\u03bb_min / \u03bb_max|" if show == "ratio" else "Loss"
    kinds = {"random": f"random {'filter-normalized ' * bool(d.filter_normalize)}",
             "pca": "PCA ", "hessian": "Hessian eigen", "given": ""}
    count = "two " if len(d) == 2 and d.kind == "random" else ""
    title = f"{what} along {count}{kinds.get(d.kind, '')}directions"
    if d.kind == "random":
        title += f" (seed {d.seed})"
    if g.n_nan:
        title += f"\n{g.n_nan} of {g.values.size} cells NaN (blank)"
    return title


def _grid_values(g: Any, show: str) -> np.ndarray:
    if show == "values":
        z = g.values
    elif show == "ratio":
        if g.ratio is None:
            raise ValueError("plot_landscape: show='ratio' needs a grid computed with "
                             "curvature=True")
        z = g.ratio
    else:
        raise ValueError(f"plot_landscape: show must be 'values' or 'ratio', got {show!r}")
    z = with_gaps(z)
    if not np.any(np.isfinite(z)):
        raise ValueError(f"plot_landscape: every cell of the grid is NaN ({z.size} cells); "
                         "nothing to draw")
    return z


def _grid_1d(g: Any, paths: Any, z: np.ndarray, show: str) -> Figure:
    if paths is not None:
        raise ValueError("plot_landscape: paths are drawn on a 2-D grid (two directions); "
                         "this grid has one")
    fig = new_figure((7.5, 4.6))
    ax = fig.add_subplot()
    ax.plot(g.alpha, z, color="#343a40", linewidth=2, label="loss" if show == "values"
            else "ratio", gid="landscape")
    if g.alpha[0] <= 0 <= g.alpha[-1]:
        ax.axvline(0.0, color="#868e96", linewidth=0.9, linestyle=":", gid="center")
    ax.set(xlabel=_axis_label(g.directions, 0), xlim=(g.alpha[0], g.alpha[-1]),
           ylabel="loss" if show == "values" else "|\u03bb_min / \u03bb_max|")
    ax.set_title(_title(g, show), fontsize=12)
    style_axes(ax)
    return fig


def _grid_2d(g: Any, paths: Any, z: np.ndarray, show: str) -> Figure:
    fig = new_figure((6.8, 5.6))
    ax = fig.add_subplot()
    levels = None
    if show == "ratio":
        top = float(np.nanmax(z))
        levels = np.linspace(0.0, top if top > 0 else 1.0, 21)
    contour(fig, ax, g.alpha, g.beta, z, "loss" if show == "values" else
            "|\u03bb_min / \u03bb_max|", levels)
    (a0, a1), (b0, b1) = g.bounds
    if a0 <= 0 <= a1 and b0 <= 0 <= b1:
        ax.scatter([0], [0], marker="*", s=180, color="white", edgecolors="#212529",
                   zorder=5, label="parameters (\u03b1=\u03b2=0)", gid="center")
    n = g.directions.basis.shape[1]
    for i, (label, rows) in enumerate(paths_of(paths, n)):
        xy = g.directions.coordinates(rows)
        draw_path(ax, xy[:, 0], xy[:, 1], label + " (projected)",
                  PATH_COLORS[i % len(PATH_COLORS)])
    ax.set(xlabel=_axis_label(g.directions, 0), ylabel=_axis_label(g.directions, 1),
           xlim=(a0, a1), ylim=(b0, b1))
    ax.set_title(_title(g, show), fontsize=12)
    ax.legend(loc="upper right", fontsize=9, framealpha=0.85)
    return fig


def _draw_grid(g: Any, paths: Any, show: str) -> Figure:
    z = _grid_values(g, show)
    return _grid_1d(g, paths, z, show) if g.beta is None else _grid_2d(g, paths, z, show)


def _bounds(bounds: Any, default: Any) -> np.ndarray:
    b = np.asarray(default if bounds is None else bounds, dtype=np.float64)
    if b.ndim != 2 or b.shape[1] != 2 or not np.all(b[:, 1] > b[:, 0]):
        raise ValueError(f"plot_landscape: bounds must be (lo, hi) pairs with lo < hi, "
                         f"got {bounds!r}")
    return b


def plot_landscape(f: Callable[[Any], Any] | None = None, bounds: Any = None, paths: Any = None,
                   critical_points: Sequence[Any] | None = None,
                   params: Sequence[Any] | None = None,
                   loss: Callable[[list[np.ndarray]], Any] | None = None,
                   resolution: int | None = None, seed: int = 0,
                   filter_normalize: bool = True,
                   path: str | os.PathLike | None = None, grid: Any = None,
                   show: str = "values") -> Figure:
    """A loss landscape with optimizer paths and critical points.

    Four kinds of picture:

    1. ``f`` and one-dimensional ``bounds=[(lo, hi)]``: the curve ``f(x)``
       (``x`` of shape (1,)), with paths as markers along it.
    2. ``f`` and ``bounds=[(xlo, xhi), (ylo, yhi)]``: filled contours of
       ``f(x)`` (``x`` of shape (2,)) with contour lines (log-spaced levels when
       most of the grid is far below the maximum), optimizer trajectories
       (circle: start, star: end) and critical points by kind.
    3. ``grid``, a :class:`microgd.landscape.Landscape` from
       :func:`microgd.landscape`: its loss (or, with ``show='ratio'``, its
       ``|lambda_min / lambda_max|`` map) as contours, or a curve for one
       direction.  ``paths`` (flat parameter rows, e.g. Histories recorded
       with ``record_path=True``, one per optimizer) are projected onto the
       grid's directions, all on the same basis.  NaN cells are left blank
       and counted in the title.
    4. ``params`` and ``loss``: a random 2-D slice through a model's
       parameters, ``loss(theta + alpha * d1 + beta * d2)`` over ``bounds``
       (default ``[(-1, 1), (-1, 1)]``), with ``d1, d2`` seeded Gaussian
       directions, filter-normalized as in Li et al. (2018): the grid of
       ``mg.landscape(loss, params, mg.viz.directions(params, seed=seed))``
       drawn as in 3.

    ``f`` and ``loss`` are evaluated under :class:`microgd.no_grad`.  ``f``
    receives a constant Value; it is tried once on all grid points at once
    (``x[0]`` then holds every first coordinate) and called point by point
    when that does not give the same numbers.

    Parameters
    ----------
    f : callable, optional
        ``f(x) -> Value or float`` for a point ``x`` of shape (1,) or (2,).
    bounds : list of (lo, hi)
        One pair per dimension (required with ``f``).
    paths : array (T, d), History, or a list / dict of label to those, optional
        Optimizer paths: rows are points (a History's ``.path`` is used).
    critical_points : list, optional
        Objects with ``.x`` and ``.kind`` (``'minimum'``, ``'maximum'``,
        ``'saddle'``, ``'degenerate'``), e.g. from
        :func:`microgd.find_critical_points`.
    params : list of Values or arrays, optional
        The model's parameters: the centre of the slice.
    loss : callable, optional
        ``loss(list of arrays) -> Value or float``, with ``params``.
    resolution : int, optional
        Grid points per axis (default 400 in 1-D, 121 in 2-D, 31 for a slice).
    seed : int, default 0
        Seed of the random directions of a slice.
    filter_normalize : bool, default True
        Filter-normalize the random directions of a slice.
    path : str or os.PathLike, optional
        Write the figure there (``.png``, ``.svg`` or ``.pdf``).
    grid : Landscape, optional
        A grid from :func:`microgd.landscape` (form 3).
    show : {'values', 'ratio'}, default 'values'
        With ``grid``: the loss, or ``|lambda_min / lambda_max|`` (a grid
        computed with ``curvature=True``).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> f = lambda p: p[0] ** 2 - p[1] ** 2
    >>> trajectory = np.array([[1.0, 0.01], [0.5, 0.02], [0.25, 0.08], [0.1, 0.3]])
    >>> fig = plot_landscape(f, [(-1, 1), (-1, 1)], paths={"GD": trajectory}, resolution=21)
    >>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    ['GD']
    """
    if grid is not None:
        if f is not None or params is not None or loss is not None:
            raise ValueError("plot_landscape: give grid= alone (with paths=), not with f=, "
                             "params= or loss=")
        if not hasattr(grid, "values") or not hasattr(grid, "directions"):
            raise TypeError(f"plot_landscape: grid must come from mg.landscape, got "
                            f"{type(grid).__name__}")
        fig = _draw_grid(grid, paths, show)
    elif params is not None or loss is not None:
        if params is None or loss is None:
            raise ValueError("plot_landscape: a slice through a model needs both params= "
                             "and loss=")
        b = _bounds(bounds, [(-1.0, 1.0), (-1.0, 1.0)])
        if b.shape[0] != 2:
            raise ValueError("plot_landscape: a slice through a model has 2-D bounds")
        center = [np.array(getattr(p, "data", p), dtype=np.float64) for p in params]
        d = directions(center, kind="random", seed=seed, filter_normalize=filter_normalize)
        g = landscape(loss, center, directions=d, bounds=[(lo, hi) for lo, hi in b.tolist()],
                      resolution=resolution or 31)
        fig = _draw_grid(g, paths, "values")
    elif f is None or bounds is None:
        raise ValueError("plot_landscape: give f= and bounds=, grid=, or params= and loss=")
    else:
        b = _bounds(bounds, None)
        if b.shape[0] == 1:
            fig = _landscape_1d(f, b, paths, critical_points, resolution or 400)
        elif b.shape[0] == 2:
            fig = _landscape_2d(f, b, paths, critical_points, resolution or 121)
        else:
            raise ValueError(f"plot_landscape: f can be drawn in 1 or 2 dimensions, got "
                             f"{b.shape[0]} bounds (use mg.landscape for a model)")
    save_figure(fig, path)
    return fig


# ---- the line between two points (mg.interpolate) ---------------------------------------


def _lines(lines: Any) -> list[tuple[str, Any]]:
    if hasattr(lines, "alpha") and hasattr(lines, "value_a"):
        return [("loss", lines)]
    out = named(lines, "line")
    if not out:
        raise ValueError("plot_interpolation: no lines given")
    for label, line in out:
        if not (hasattr(line, "alpha") and hasattr(line, "value_a")):
            raise TypeError(f"plot_interpolation: {label!r} is a {type(line).__name__}, not "
                            "a result of mg.interpolate")
    return out


def plot_interpolation(lines: Any, log: bool = False,
                       path: str | os.PathLike | None = None) -> Figure:
    """The loss along the line between two sets of parameters (:func:`microgd.interpolate`).

    The curve of ``loss((1 - alpha) a + alpha b)`` with its two ends marked
    (``a`` at alpha = 0, ``b`` at alpha = 1) and dotted lines there, as in
    Goodfellow, Vinyals & Saxe (2015).  NaN points are gaps.

    Parameters
    ----------
    lines : Interpolation, or a list / dict of label to Interpolation
        Several lines (say, one per optimizer, from the same start) share
        the axes.
    log : bool, default False
        Logarithmic y axis (symmetric-log when a value is not positive).
    path : str or os.PathLike, optional
        Write the figure there (``.png``, ``.svg`` or ``.pdf``).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> line = mg.interpolate(lambda w: ((w - 1.0) ** 2).sum(), np.zeros(2), np.ones(2), num=9)
    >>> ax = plot_interpolation(line).axes[0]
    >>> ax.get_lines()[0].get_ydata().tolist()[2:7:2]   # alpha = 0, 0.5, 1
    [2.0, 0.5, 0.0]
    """
    runs = _lines(lines)
    fig = new_figure((7.5, 4.6))
    ax = fig.add_subplot()
    positive = True
    for i, (label, line) in enumerate(runs):
        color = COLORS[i % len(COLORS)]
        ys = with_gaps(line.values)
        ax.plot(line.alpha, ys, color=color, linewidth=2, label=label, gid=f"line:{label}")
        ax.plot([0.0, 1.0], [line.value_a, line.value_b], "o", color=color,
                markerfacecolor="white", markeredgewidth=2, markersize=7, label="_ends",
                gid=f"ends:{label}")
        positive = positive and not np.any(ys[np.isfinite(ys)] <= 0)
    for x, name in ((0.0, "a"), (1.0, "b")):
        ax.axvline(x, color="#868e96", linewidth=0.9, linestyle=":")
        ax.annotate(name, (x, 1.0), xycoords=("data", "axes fraction"), ha="center",
                    va="bottom", fontsize=10)
    if log:
        ax.set_yscale("log" if positive else "symlog")
    ax.set(xlabel="\u03b1  (0: a, 1: b)", ylabel="loss" + (" (log scale)" if log else ""))
    title = "Loss along the line from a to b"
    missing = sum(line.n_nan for _, line in runs)
    if missing:
        title += f" ({missing} points NaN: gaps)"
    ax.set_title(title, fontsize=12, pad=16)
    style_axes(ax)
    if len(runs) > 1:
        ax.legend(frameon=False)
    save_figure(fig, path)
    return fig
