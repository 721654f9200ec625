"""Matplotlib Figures shown as pictures in IPython and Jupyter, whatever the backend.

microgd's plots are made with matplotlib's object API, never ``pyplot``.  The
inline backend only shows figures that pyplot manages, and IPython learns how
to turn a :class:`~matplotlib.figure.Figure` into a picture only when the
inline backend is activated, which happens when pyplot is imported; with a
non-interactive backend (``MPLBACKEND=Agg``) it never does.  A plot returned
as a cell's last value would then print as ``<Figure size 800x460 with 1 Axes>``.

:func:`enable_figure_display` gives IPython the PNG formatter for Figures that
``%matplotlib inline`` would give it.  microgd's plot functions call it, so
their Figures show as pictures with no magic command, and each exactly once:
the figures are not pyplot's, so the inline backend does not show them again at
the end of the cell.  A formatter already in place for Figures (from
``%matplotlib inline`` or ``%config InlineBackend.figure_formats``) is left
alone, and activating the inline backend later replaces this one, so the
user's settings always win.
"""

from __future__ import annotations

import io
import sys
from typing import Any

__all__ = ["enable_figure_display"]

# the formatters a matplotlib Figure may already have, one per picture format
_IMAGE_TYPES = ("image/png", "image/svg+xml", "image/jpeg", "application/pdf")


def _figure_png(fig: Any) -> bytes | None:
    """The figure as PNG bytes; None for a figure with nothing drawn (nothing to show)."""
    if not fig.axes and not fig.lines and not fig.images:
        return None
    buf = io.BytesIO()
    fig.savefig(buf, format="png", facecolor="white", bbox_inches="tight")
    return buf.getvalue()


def _shell() -> Any:
    """The running IPython shell, or None (IPython is never imported here)."""
    ipython = sys.modules.get("IPython")
    get = getattr(ipython, "get_ipython", None)
    return get() if get is not None else None


def enable_figure_display(shell: Any = None) -> bool:
    """Have IPython show matplotlib Figures as PNG pictures (as ``%matplotlib inline`` does).

    Nothing happens outside IPython, or when the shell can already show
    Figures in some picture format (PNG, SVG, JPEG or PDF).

    Parameters
    ----------
    shell : IPython InteractiveShell, optional
        Default: the running one (``IPython.get_ipython()``).

    Returns
    -------
    bool
        True when this call registered the formatter, else False.

    Examples
    --------
    >>> enable_figure_display()  # a plain Python session: nothing to do
    False
    """
    if shell is None:
        shell = _shell()
    formatters = getattr(getattr(shell, "display_formatter", None), "formatters", None)
    if not formatters or "image/png" not in formatters:
        return False
    from matplotlib.figure import Figure

    for mime in _IMAGE_TYPES:
        if mime in formatters:
            try:
                formatters[mime].lookup_by_type(Figure)
            except KeyError:
                continue
            return False  # the user's (or the inline backend's) choice stands
    formatters["image/png"].for_type(Figure, _figure_png)
    return True
