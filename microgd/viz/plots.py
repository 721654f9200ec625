"""Matplotlib pictures of optimization: loss curves, loss landscapes with paths, spectra.

Every function returns a :class:`matplotlib.figure.Figure` (made with the
object API, never ``pyplot``'s global state, so it works headless and in
threads) and writes it to ``path`` when one is given (the format follows the
extension: ``.png``, ``.svg`` or ``.pdf``).  In Jupyter a returned Figure shows
as a picture, once, with any matplotlib backend (:mod:`microgd.viz.notebook`).
Matplotlib is imported only when a plot is made: ``pip install microgd[plot]``.

- :func:`plot_history`: loss curves of one or several runs, raw and EMA-smoothed.
- :func:`plot_landscape`: a 1-D curve or 2-D contour of a function with optimizer
  paths and critical points, or a random 2-D slice through a model's
  parameters along filter-normalized directions (Li et al., 2018).
- :func:`plot_spectrum`: Hessian eigenvalues, or the Hessian's spectral density.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from microgd.autodiff import no_grad
from microgd.value import Value
from microgd.viz.notebook import enable_figure_display

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_history", "plot_landscape", "plot_spectrum", "random_directions",
           "filter_normalized_direction"]

# trajectories drawn over the viridis contours: colours that stand out on it
PATH_COLORS = ("#e03131", "#212529", "#ff922b", "#d6336c", "#4dabf7", "#f8f9fa")
COLORS = ("#1c7ed6", "#e8590c", "#2b8a3e", "#862e9c", "#c92a2a", "#1098ad", "#f08c00",
          "#5c940d", "#d6336c", "#495057")
_SERIES_LABEL = {"step_loss": "loss (per step)", "epoch_loss": "loss (epoch mean)",
                 "grad_norm": "gradient norm", "lr": "learning rate"}
# kind -> (marker, colour, size)
_KIND_STYLE = {"minimum": ("o", "#2b8a3e", 90), "maximum": ("^", "#c92a2a", 100),
               "saddle": ("X", "#f08c00", 110), "degenerate": ("D", "#862e9c", 70),
               "not critical": ("s", "#868e96", 50)}
_SAVE_FORMATS = (".png", ".svg", ".pdf")
_CMAP = "viridis"


# ---- plumbing ------------------------------------------------------------------


def _figure(size: tuple[float, float]) -> Figure:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(
            "microgd's plots need matplotlib, which is not installed: "
            "pip install microgd[plot]  (or: pip install matplotlib)"
        ) from None
    enable_figure_display()  # in Jupyter, a returned Figure shows as a picture
    return Figure(figsize=size, layout="constrained")


def _save(fig: Figure, path: str | os.PathLike | None) -> None:
    if path is None:
        return
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext not in _SAVE_FORMATS:
        raise ValueError(f"cannot save a figure as {os.fspath(path)!r}: use a "
                         f"{', '.join(_SAVE_FORMATS)} extension")
    fig.savefig(path, dpi=150 if ext == ".png" else None, facecolor="white")


def _style_axes(ax: Axes) -> None:
    ax.grid(True, color="#dee2e6", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _finite(values: Any) -> np.ndarray:
    """As a float array, with +-inf turned into NaN (a gap in the line)."""
    arr = np.array(values, dtype=np.float64)
    arr[np.isinf(arr)] = np.nan
    return arr


def _scalar(out: Any) -> float:
    data = out.data if isinstance(out, Value) else out
    return float(np.asarray(data, dtype=np.float64).reshape(()))


def _named(items: Any, default: str) -> list[tuple[str, Any]]:
    """``(label, item)`` pairs from a dict, a list, or a single item."""
    if isinstance(items, Mapping):
        return [(str(k), v) for k, v in items.items()]
    return [(f"{default} {i + 1}", v) for i, v in enumerate(items)]


# ---- loss curves -----------------------------------------------------------------


def _runs(histories: Any, labels: Sequence[str] | None, series: str) -> list[tuple[str, Any]]:
    if hasattr(histories, series):  # a single History
        histories = [histories]
    runs = _named(histories, "run")
    if labels is not None:
        labels = list(labels)
        if len(labels) != len(runs):
            raise ValueError(f"plot_history: {len(labels)} labels for {len(runs)} histories")
        runs = [(str(lab), h) for lab, (_, h) in zip(labels, runs, strict=True)]
    if not runs:
        raise ValueError("plot_history: no histories given")
    if len(runs) == 1 and labels is None and not isinstance(histories, Mapping):
        runs = [("loss" if "loss" in series else series, runs[0][1])]
    return runs


def _x_values(hist: Any, series: str, x: str, n: int) -> np.ndarray:
    steps = np.arange(1, n + 1, dtype=np.float64)
    n_epochs, n_steps = len(hist.epoch_loss), len(hist.step_loss)
    per_epoch = n_steps / n_epochs if n_epochs and n_steps else 1.0
    if series == "epoch_loss":
        return steps if x == "epoch" else steps * per_epoch
    return steps / per_epoch if x == "epoch" else steps


def plot_history(histories: Any, labels: Sequence[str] | None = None, beta: float = 0.9,
                 log: bool = False, path: str | os.PathLike | None = None,
                 series: str = "step_loss", x: str = "step") -> Figure:
    """Loss curves of one or several training runs, raw and EMA-smoothed.

    Each run is drawn twice in one colour: the raw series as a thin,
    translucent line and its bias-corrected exponential moving average
    (``hist.smoothed(beta, series)``) as a thick line, which is the one in the
    legend.

    Parameters
    ----------
    histories : History, list of History, or dict of label to History
        Anything with the fields ``step_loss``, ``epoch_loss``, ``grad_norm``,
        ``lr`` and a method ``smoothed(beta, series)``.
    labels : list of str, optional
        Legend labels (default: the dict's keys, or "run 1", "run 2", ...).
    beta : float, default 0.9
        Smoothing factor of the EMA, in [0, 1); 0 is no smoothing.
    log : bool, default False
        Logarithmic y axis (symmetric-log when a value is not positive).
    path : str or os.PathLike, optional
        Write the figure there (``.png``, ``.svg`` or ``.pdf``).
    series : {'step_loss', 'epoch_loss', 'grad_norm', 'lr'}, default 'step_loss'
    x : {'step', 'epoch'}, default 'step'
        The x axis.  With ``'epoch'`` per-step series are placed at fractional
        epochs, so full-batch GD, SGD and mini-batch runs line up.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import os, tempfile
    >>> from microgd.train import History
    >>> gd = History(step_loss=[4.0, 2.0, 1.0, 0.5], epoch_loss=[4.0, 2.0, 1.0, 0.5])
    >>> sgd = History(step_loss=[4.0, 3.0, 2.5, 1.0], epoch_loss=[3.5, 1.75])
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     fig = plot_history({"GD": gd, "SGD": sgd}, x="epoch", path=os.path.join(tmp, "l.png"))
    ...     os.path.getsize(os.path.join(tmp, "l.png")) > 0
    True
    >>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    ['GD', 'SGD']
    """
    if x not in ("step", "epoch"):
        raise ValueError(f"plot_history: x must be 'step' or 'epoch', got {x!r}")
    if series not in _SERIES_LABEL:
        raise ValueError(f"plot_history: series must be one of {tuple(_SERIES_LABEL)}, "
                         f"got {series!r}")
    runs = _runs(histories, labels, series)
    fig = _figure((8.0, 4.6))
    ax = fig.add_subplot()
    positive = True
    for i, (label, hist) in enumerate(runs):
        color = COLORS[i % len(COLORS)]
        raw = _finite(getattr(hist, series))
        smooth = _finite(hist.smoothed(beta, series))
        xs = _x_values(hist, series, x, len(raw))
        ax.plot(xs, raw, color=color, linewidth=0.9, alpha=0.3, label=f"_{label} (raw)",
                gid=f"raw:{label}")
        ax.plot(xs, smooth, color=color, linewidth=2.2, label=label, gid=f"ema:{label}")
        positive = positive and not np.any(raw[np.isfinite(raw)] <= 0)
    if log:
        ax.set_yscale("log" if positive else "symlog")
    name = _SERIES_LABEL.get(series, series)
    ax.set(xlabel=x, ylabel=name + (" (log scale)" if log else ""))
    ax.set_title(f"{name[0].upper() + name[1:]}: thin = raw, thick = EMA "
                 f"(\u03b2={beta:g}, bias-corrected)", fontsize=11)
    _style_axes(ax)
    ax.legend(frameon=False)
    _save(fig, path)
    return fig


# ---- evaluating a function on a grid ------------------------------------------------


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


# ---- paths and critical points ---------------------------------------------------------


def _path_array(p: Any, dim: int) -> np.ndarray:
    arr = np.asarray(p.path if hasattr(p, "path") else p, dtype=np.float64)
    if arr.ndim == 1 and dim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[1] != dim:
        raise ValueError(f"plot_landscape: a path must have shape (T, {dim}), "
                         f"got {arr.shape}")
    return arr


def _single_path(paths: Any, dim: int) -> bool:
    """Whether ``paths`` is one path rather than a collection of paths."""
    if hasattr(paths, "path"):
        return True
    if isinstance(paths, np.ndarray):
        return paths.ndim == 2 or (dim == 1 and paths.ndim == 1)
    if isinstance(paths, (list, tuple)) and paths and not hasattr(paths[0], "path"):
        # one path: a list of points (numbers in 1-D, vectors in 2-D)
        return np.ndim(paths[0]) == (0 if dim == 1 else 1)
    return False


def _paths(paths: Any, dim: int) -> list[tuple[str, np.ndarray]]:
    if paths is None:
        return []
    if _single_path(paths, dim):
        paths = [paths]
    return [(label, _path_array(p, dim)) for label, p in _named(paths, "path")]


def _draw_path(ax: Axes, xs: np.ndarray, ys: np.ndarray, label: str, color: str) -> None:
    from matplotlib import patheffects

    outline = [patheffects.Stroke(linewidth=3.6, foreground="white", alpha=0.8),
               patheffects.Normal()]
    ax.plot(xs, ys, "-", color=color, linewidth=1.8, marker=".", markersize=5,
            markevery=max(1, len(xs) // 40), label=label, gid=f"path:{label}",
            path_effects=outline)
    ax.plot(xs[:1], ys[:1], "o", color=color, markersize=8, markerfacecolor="white",
            markeredgewidth=2, label="_start")
    ax.plot(xs[-1:], ys[-1:], "*", color=color, markersize=14, markeredgecolor="white",
            markeredgewidth=0.8, label="_end")


def _draw_critical(ax: Axes, points: Sequence[Any], value_of: Callable[[np.ndarray], Any],
                   dim: int) -> None:
    seen = set()
    for cp in points:
        kind = str(cp.kind)
        marker, color, size = _KIND_STYLE.get(kind, _KIND_STYLE["not critical"])
        x = np.asarray(cp.x, dtype=np.float64).ravel()
        y = value_of(x) if dim == 1 else x[1]
        ax.scatter([x[0]], [y], marker=marker, s=size, color=color, edgecolors="white",
                   linewidths=1.0, zorder=5, label=kind if kind not in seen else "_" + kind,
                   gid=f"critical:{kind}")
        seen.add(kind)


# ---- landscapes ------------------------------------------------------------------------


def _levels(z: np.ndarray, n: int = 28) -> np.ndarray:
    """Contour levels: log-spaced above the minimum when most values are small."""
    finite = z[np.isfinite(z)]
    lo, hi = float(finite.min()), float(finite.max())
    if not hi > lo:
        return np.array([lo - 0.5, lo + 0.5]) if hi == lo else np.array([0.0, 1.0])
    shifted = finite - lo
    if np.median(shifted) < 0.2 * (hi - lo):  # a large range: most of the grid is low
        positive = shifted[shifted > 0]
        base = max(float(np.quantile(positive, 0.005)), (hi - lo) * 1e-9)
        return lo + np.concatenate([[0.0], np.geomspace(base, hi - lo, n - 1)])
    return np.linspace(lo, hi, n)


def _contour(fig: Figure, ax: Axes, xs: np.ndarray, ys: np.ndarray, z: np.ndarray,
             label: str) -> None:
    from matplotlib.colors import BoundaryNorm

    z = np.ma.masked_invalid(z)
    levels = _levels(np.asarray(z.filled(np.nan)))
    norm = BoundaryNorm(levels, ncolors=256)
    filled = ax.contourf(xs, ys, z, levels=levels, cmap=_CMAP, norm=norm, extend="max")
    ax.contour(xs, ys, z, levels=levels, colors="white", linewidths=0.5, alpha=0.45,
               linestyles="solid")
    bar = fig.colorbar(filled, ax=ax, label=label, format="%.3g", shrink=0.9)
    bar.set_ticks(levels[:: max(1, len(levels) // 7)].tolist())


def _landscape_1d(f: Callable[[Any], Any], bounds: np.ndarray, paths: Any,
                  critical_points: Any, resolution: int) -> Figure:
    fig = _figure((7.5, 4.6))
    ax = fig.add_subplot()
    xs = np.linspace(bounds[0, 0], bounds[0, 1], resolution)
    ax.plot(xs, _evaluate(f, xs[None, :]), color="#343a40", linewidth=2, label="f",
            gid="landscape")
    for i, (label, p) in enumerate(_paths(paths, 1)):
        _draw_path(ax, p[:, 0], _evaluate(f, p.T), label, COLORS[i % len(COLORS)])
    if critical_points:
        _draw_critical(ax, critical_points, lambda x: _evaluate(f, x[:, None])[0], 1)
    ax.set(xlabel="x", ylabel="f(x)", xlim=tuple(bounds[0]))
    ax.set_title("Loss curve" + (" with optimizer paths" if paths is not None else ""),
                 fontsize=12)
    _style_axes(ax)
    ax.legend(frameon=False)
    return fig


def _landscape_2d(f: Callable[[Any], Any], bounds: np.ndarray, paths: Any,
                  critical_points: Any, resolution: int) -> Figure:
    fig = _figure((6.8, 5.6))
    ax = fig.add_subplot()
    xs = np.linspace(bounds[0, 0], bounds[0, 1], resolution)
    ys = np.linspace(bounds[1, 0], bounds[1, 1], resolution)
    gx, gy = np.meshgrid(xs, ys)
    z = _evaluate(f, np.stack([gx.ravel(), gy.ravel()])).reshape(gx.shape)
    _contour(fig, ax, xs, ys, z, "f(x, y)")
    path_list = _paths(paths, 2)
    for i, (label, p) in enumerate(path_list):
        _draw_path(ax, p[:, 0], p[:, 1], label, PATH_COLORS[i % len(PATH_COLORS)])
    if critical_points:
        _draw_critical(ax, critical_points, lambda x: x[1], 2)
    ax.set(xlabel="x", ylabel="y", xlim=tuple(bounds[0]), ylim=tuple(bounds[1]))
    title = "Loss landscape"
    if path_list:
        title += " with optimizer paths (\u25cb start, \u2605 end)"
    ax.set_title(title, fontsize=12)
    if path_list or critical_points:
        ax.legend(loc="upper right", fontsize=9, framealpha=0.85)
    return fig


# ---- random slices through a model's parameters (Li et al., 2018) -----------------------


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
        d = np.array(d.data if isinstance(d, Value) else d, dtype=np.float64)
        w = np.asarray(w.data if isinstance(w, Value) else w, dtype=np.float64)
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
    arrays = [np.asarray(p.data if isinstance(p, Value) else p, dtype=np.float64)
              for p in params]
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


def _flat(arrays: Sequence[np.ndarray]) -> np.ndarray:
    return np.concatenate([np.ravel(a) for a in arrays]) if arrays else np.zeros(0)


def _check_directions(d1: list[np.ndarray], d2: list[np.ndarray]) -> None:
    a, b = _flat(d1), _flat(d2)
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        raise ValueError("plot_landscape: a random direction is zero (are the weights all "
                         "zero, or are all parameters biases?)")
    if abs(a @ b) > 0.999 * na * nb:
        raise ValueError("plot_landscape: the two random directions are parallel (too few "
                         "parameters); plot the loss as f of a point with bounds= instead")


def _slice_values(loss: Callable[[list[np.ndarray]], Any], center: list[np.ndarray],
                  d1: list[np.ndarray], d2: list[np.ndarray], alphas: np.ndarray,
                  betas: np.ndarray) -> np.ndarray:
    z = np.empty((len(betas), len(alphas)))
    with no_grad(), np.errstate(all="ignore"):
        for i, b in enumerate(betas):
            for j, a in enumerate(alphas):
                point = [c + a * u + b * v for c, u, v in zip(center, d1, d2, strict=True)]
                z[i, j] = _scalar(loss(point))
    return z


def _project(paths: Any, center: list[np.ndarray], d1: list[np.ndarray],
             d2: list[np.ndarray]) -> list[tuple[str, np.ndarray]]:
    """Least-squares coordinates (alpha, beta) of flat parameter paths in the slice."""
    basis = np.stack([_flat(d1), _flat(d2)], axis=1)
    out = []
    for label, p in _paths(paths, basis.shape[0]):
        coords, *_ = np.linalg.lstsq(basis, (p - _flat(center)).T, rcond=None)
        out.append((label, coords.T))
    return out


def _landscape_slice(loss: Callable[[list[np.ndarray]], Any], params: Sequence[Any],
                     bounds: np.ndarray, paths: Any, resolution: int, seed: int,
                     filter_normalize: bool) -> Figure:
    center = [np.array(p.data if isinstance(p, Value) else p, dtype=np.float64)
              for p in params]
    d1, d2 = random_directions(center, seed=seed, filter_normalize=filter_normalize)
    _check_directions(d1, d2)
    alphas = np.linspace(bounds[0, 0], bounds[0, 1], resolution)
    betas = np.linspace(bounds[1, 0], bounds[1, 1], resolution)
    fig = _figure((6.8, 5.6))
    ax = fig.add_subplot()
    _contour(fig, ax, alphas, betas, _slice_values(loss, center, d1, d2, alphas, betas), "loss")
    ax.scatter([0], [0], marker="*", s=180, color="white", edgecolors="#212529", zorder=5,
               label="parameters (\u03b1=\u03b2=0)", gid="center")
    if paths is not None:
        for i, (label, p) in enumerate(_project(paths, center, d1, d2)):
            _draw_path(ax, p[:, 0], p[:, 1], label + " (projected)",
                           PATH_COLORS[i % len(PATH_COLORS)])
    kind = "filter-normalized " if filter_normalize else ""
    ax.set(xlabel="\u03b1 (direction 1)", ylabel="\u03b2 (direction 2)",
           xlim=tuple(bounds[0]), ylim=tuple(bounds[1]))
    ax.set_title(f"Loss along two random {kind}directions (seed {seed})", fontsize=12)
    ax.legend(loc="upper right", fontsize=9, framealpha=0.85)
    return fig


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
                   path: str | os.PathLike | None = None) -> Figure:
    """A loss landscape with optimizer paths and critical points.

    Three kinds of picture:

    1. ``f`` and one-dimensional ``bounds=[(lo, hi)]``: the curve ``f(x)``
       (``x`` of shape (1,)), with paths as markers along it.
    2. ``f`` and ``bounds=[(xlo, xhi), (ylo, yhi)]``: filled contours of
       ``f(x)`` (``x`` of shape (2,)) with contour lines (log-spaced levels when
       most of the grid is far below the maximum), optimizer trajectories
       (circle: start, star: end) and critical points by kind.
    3. ``params`` and ``loss``: a random 2-D slice through a model's
       parameters, ``loss(theta + alpha * d1 + beta * d2)`` over ``bounds``
       (default ``[(-1, 1), (-1, 1)]``), with ``d1, d2`` seeded Gaussian
       directions, filter-normalized as in Li et al. (2018) (see
       :func:`random_directions`).  Paths (flat parameter vectors, e.g. a
       History recorded with ``record_path=True``) are projected onto the slice.

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
        Seed of the random directions.
    filter_normalize : bool, default True
        Filter-normalize the random directions (else plain Gaussian ones).
    path : str or os.PathLike, optional
        Write the figure there (``.png``, ``.svg`` or ``.pdf``).

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
    if params is not None or loss is not None:
        if params is None or loss is None:
            raise ValueError("plot_landscape: a slice through a model needs both params= "
                             "and loss=")
        b = _bounds(bounds, [(-1.0, 1.0), (-1.0, 1.0)])
        if b.shape[0] != 2:
            raise ValueError("plot_landscape: a slice through a model has 2-D bounds")
        fig = _landscape_slice(loss, params, b, paths, resolution or 31, seed, filter_normalize)
    elif f is None or bounds is None:
        raise ValueError("plot_landscape: give f= and bounds=, or params= and loss=")
    else:
        b = _bounds(bounds, None)
        if b.shape[0] == 1:
            fig = _landscape_1d(f, b, paths, critical_points, resolution or 400)
        elif b.shape[0] == 2:
            fig = _landscape_2d(f, b, paths, critical_points, resolution or 121)
        else:
            raise ValueError(f"plot_landscape: f can be drawn in 1 or 2 dimensions, got "
                             f"{b.shape[0]} bounds (use params= and loss= for a slice)")
    _save(fig, path)
    return fig


# ---- Hessian spectra ------------------------------------------------------------------


def _density(ax: Axes, result: Any, log: bool) -> str:
    grid = np.asarray(result.grid, dtype=np.float64)
    dens = np.asarray(result.density, dtype=np.float64)
    if log:
        floor = max(float(dens.max()) * 1e-12, np.finfo(float).tiny)
        dens = np.maximum(dens, floor)
        ax.set_yscale("log")
    base = float(dens.min()) if log else 0.0
    neg = grid < 0
    for name, mask, color in (("negative eigenvalues", neg, "#c92a2a"),
                              ("positive eigenvalues", ~neg, COLORS[0])):
        if mask.any():
            ax.fill_between(grid[mask], dens[mask], base, color=color, alpha=0.2)
            ax.plot(grid[mask], dens[mask], color=color, linewidth=1.6, label=name,
                    gid=f"density:{name.split()[0]}")
    ax.axvline(0.0, color="#212529", linewidth=0.9, linestyle="--")
    ax.set(xlabel="eigenvalue", ylabel="density" + (" (log scale)" if log else ""))
    return "Hessian spectral density (stochastic Lanczos quadrature)"


def _eigenvalues(ax: Axes, result: Any, log: bool) -> str:
    ev = np.sort(np.asarray(result.eigenvalues, dtype=np.float64).ravel())
    tol = float(getattr(result, "tol_eig", 0.0) or 0.0)
    idx = np.arange(len(ev))
    groups = (("negative", ev < -tol, "#c92a2a"), ("\u2248 0", np.abs(ev) <= tol, "#868e96"),
              ("positive", ev > tol, "#1c7ed6"))
    for name, mask, color in groups:
        if mask.any():
            ax.vlines(idx[mask], 0, ev[mask], colors=color, linewidth=2)
            ax.scatter(idx[mask], ev[mask], color=color, s=36, zorder=3, label=name,
                       gid=f"eig:{name}")
    ax.axhline(0.0, color="#212529", linewidth=0.9)
    if log:
        ax.set_yscale("symlog", linthresh=max(tol, 1e-3 * float(np.max(np.abs(ev), initial=1))))
    ax.set(xlabel="index (ascending)", ylabel="eigenvalue" + (" (symlog)" if log else ""))
    if len(ev) <= 30:
        ax.set_xticks(idx)
    n_neg, n_pos = int(np.sum(ev < -tol)), int(np.sum(ev > tol))
    title = f"Hessian eigenvalues: {n_neg} negative, {n_pos} positive"
    if n_neg + n_pos < len(ev):
        title += f", {len(ev) - n_neg - n_pos} \u2248 0"
    kind = getattr(result, "kind", None)
    return title + (f" ({kind})" if isinstance(kind, str) else "")


def plot_spectrum(result: Any, path: str | os.PathLike | None = None,
                  log: bool = False) -> Figure:
    """Plot a Hessian spectrum: eigenvalues as stems, or a spectral density.

    Parameters
    ----------
    result
        From :func:`microgd.hessian_eigs` or :func:`microgd.classify` (anything
        with ``.eigenvalues``): a stem plot of the eigenvalues in ascending
        order, negative ones in red (a direction of descent: a saddle or a
        maximum), those within ``result.tol_eig`` of zero (when it has one) in
        grey.  From :func:`microgd.hessian_density` (``.grid`` and
        ``.density``): the density curve, its negative part shaded.
    path : str or os.PathLike, optional
        Write the figure there (``.png``, ``.svg`` or ``.pdf``).
    log : bool, default False
        Log y axis for a density; symmetric-log for eigenvalues.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> r = mg.hessian_eigs(lambda x: x[0] ** 2 - 3 * x[1] ** 2, np.zeros(2), k=2)
    >>> fig = plot_spectrum(r)
    >>> fig.axes[0].get_title()
    'Hessian eigenvalues: 1 negative, 1 positive'
    """
    fig = _figure((7.5, 4.4))
    ax = fig.add_subplot()
    if hasattr(result, "density") and hasattr(result, "grid"):
        title = _density(ax, result, log)
    elif hasattr(result, "eigenvalues"):
        title = _eigenvalues(ax, result, log)
    else:
        raise TypeError("plot_spectrum: expected a result with .eigenvalues (hessian_eigs, "
                        "classify) or .grid and .density (hessian_density), got "
                        f"{type(result).__name__}")
    ax.set_title(title, fontsize=12)
    _style_axes(ax)
    ax.legend(frameon=False)
    _save(fig, path)
    return fig
