"""The pieces landscape pictures are made of: filled contours, optimizer paths, critical points.

Shared by :func:`microgd.viz.plot_landscape` in all its forms (a function of
a point, a grid from :func:`microgd.landscape`, a slice through a model).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from microgd.viz.style import CMAP, KIND_STYLE, named

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["contour", "draw_critical", "draw_path", "levels_of", "paths_of"]


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


def paths_of(paths: Any, dim: int) -> list[tuple[str, np.ndarray]]:
    """``(label, rows (T, dim))`` for one path or several (arrays, Histories, lists, dicts)."""
    if paths is None:
        return []
    if _single_path(paths, dim):
        paths = [paths]
    return [(label, _path_array(p, dim)) for label, p in named(paths, "path")]


def draw_path(ax: Axes, xs: np.ndarray, ys: np.ndarray, label: str, color: str) -> None:
    """A trajectory with a white outline, a circle at its start and a star at its end."""
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


def draw_critical(ax: Axes, points: Sequence[Any], value_of: Callable[[np.ndarray], Any],
                   dim: int) -> None:
    """Critical points (``.x``, ``.kind``) as markers by kind, one legend entry per kind."""
    seen = set()
    for cp in points:
        kind = str(cp.kind)
        marker, color, size = KIND_STYLE.get(kind, KIND_STYLE["not critical"])
        x = np.asarray(cp.x, dtype=np.float64).ravel()
        y = value_of(x) if dim == 1 else x[1]
        ax.scatter([x[0]], [y], marker=marker, s=size, color=color, edgecolors="white",
                   linewidths=1.0, zorder=5, label=kind if kind not in seen else "_" + kind,
                   gid=f"critical:{kind}")
        seen.add(kind)


def levels_of(z: np.ndarray, n: int = 28) -> np.ndarray:
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


def contour(fig: Figure, ax: Axes, xs: np.ndarray, ys: np.ndarray, z: np.ndarray,
            label: str, levels: np.ndarray | None = None) -> None:
    """Filled contours of ``z`` with thin contour lines and a colour bar; NaN cells are blank."""
    from matplotlib.colors import BoundaryNorm

    z = np.ma.masked_invalid(z)
    if levels is None:
        levels = levels_of(np.asarray(z.filled(np.nan)))
    norm = BoundaryNorm(levels, ncolors=256)
    filled = ax.contourf(xs, ys, z, levels=levels, cmap=CMAP, norm=norm, extend="max")
    ax.contour(xs, ys, z, levels=levels, colors="white", linewidths=0.5, alpha=0.45,
               linestyles="solid")
    bar = fig.colorbar(filled, ax=ax, label=label, format="%.3g", shrink=0.9)
    bar.set_ticks(levels[:: max(1, len(levels) // 7)].tolist())
