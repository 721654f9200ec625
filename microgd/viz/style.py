"""The shared look of microgd's pictures: colours, figures, saving, axes.

Every picture module builds its figures with :func:`new_figure` (matplotlib's
object API, never ``pyplot``'s global state, so plots work headless and in
threads, and show once in Jupyter through :mod:`microgd.viz.notebook`) and
writes them with :func:`save_figure`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from microgd.viz.notebook import enable_figure_display

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["CMAP", "COLORS", "KIND_STYLE", "PATH_COLORS", "SAVE_FORMATS", "named",
           "new_figure", "save_figure", "style_axes", "with_gaps"]

# trajectories drawn over the viridis contours: colours that stand out on it
PATH_COLORS = ("#e03131", "#212529", "#ff922b", "#d6336c", "#4dabf7", "#f8f9fa")
COLORS = ("#1c7ed6", "#e8590c", "#2b8a3e", "#862e9c", "#c92a2a", "#1098ad", "#f08c00",
          "#5c940d", "#d6336c", "#495057")
# critical point kind -> (marker, colour, size)
KIND_STYLE = {"minimum": ("o", "#2b8a3e", 90), "maximum": ("^", "#c92a2a", 100),
              "saddle": ("X", "#f08c00", 110), "degenerate": ("D", "#862e9c", 70),
              "not critical": ("s", "#868e96", 50)}
SAVE_FORMATS = (".png", ".svg", ".pdf")
CMAP = "viridis"


def new_figure(size: tuple[float, float]) -> Figure:
    """A matplotlib Figure (constrained layout), or ImportError saying how to install it."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(
            "microgd's plots need matplotlib, which is not installed: "
            "pip install microgd[plot]  (or: pip install matplotlib)"
        ) from None
    enable_figure_display()  # in Jupyter, a returned Figure shows as a picture
    return Figure(figsize=size, layout="constrained")


def save_figure(fig: Figure, path: str | os.PathLike | None) -> None:
    """Write ``fig`` to ``path`` (``.png``, ``.svg`` or ``.pdf``); nothing when path is None."""
    if path is None:
        return
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext not in SAVE_FORMATS:
        raise ValueError(f"cannot save a figure as {os.fspath(path)!r}: use a "
                         f"{', '.join(SAVE_FORMATS)} extension")
    fig.savefig(path, dpi=150 if ext == ".png" else None, facecolor="white")


def style_axes(ax: Axes) -> None:
    """A light grid behind the data, no top and right spines."""
    ax.grid(True, color="#dee2e6", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def with_gaps(values: Any) -> np.ndarray:
    """As a float array, with +-inf turned into NaN (a gap in a line)."""
    arr = np.array(values, dtype=np.float64)
    arr[np.isinf(arr)] = np.nan
    return arr


def named(items: Any, default: str) -> list[tuple[str, Any]]:
    """``(label, item)`` pairs from a dict, a list, or a single item."""
    if isinstance(items, Mapping):
        return [(str(k), v) for k, v in items.items()]
    return [(f"{default} {i + 1}", v) for i, v in enumerate(items)]
