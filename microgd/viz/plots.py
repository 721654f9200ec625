"""Matplotlib pictures of optimization, under one name: loss curves, landscapes, spectra.

The pictures live in modules by subject; this module gathers them (and the
colours), so ``from microgd.viz.plots import plot_landscape`` keeps working.

- :mod:`microgd.viz.curves`: :func:`plot_history`, loss curves of one or several
  runs, raw and EMA-smoothed.
- :mod:`microgd.viz.landscapes`: :func:`plot_landscape` (a function of a point
  with paths and critical points, a grid from :func:`microgd.landscape` with
  several optimizers' paths, a random slice through a model) and
  :func:`plot_interpolation`.
- :mod:`microgd.viz.spectra`: :func:`plot_spectrum`, Hessian eigenvalues or
  the spectral density.
- :mod:`microgd.directions`: the directions of a slice (random
  filter-normalized, PCA of paths, Hessian eigenvectors).
- :mod:`microgd.viz.style`: colours, figures, saving.

Every function returns a :class:`matplotlib.figure.Figure` (made with the
object API, never ``pyplot``'s global state, so it works headless and in
threads) and writes it to ``path`` when one is given (the format follows the
extension: ``.png``, ``.svg`` or ``.pdf``).  In Jupyter a returned Figure shows
as a picture, once, with any matplotlib backend (:mod:`microgd.viz.notebook`).
Matplotlib is imported only when a plot is made: ``pip install microgd[plot]``.
"""

from microgd.directions import (
    Directions,
    directions,
    filter_normalized_direction,
    random_directions,
)
from microgd.viz.curves import plot_history
from microgd.viz.landscapes import plot_interpolation, plot_landscape
from microgd.viz.spectra import plot_spectrum
from microgd.viz.style import COLORS, PATH_COLORS

__all__ = ["COLORS", "PATH_COLORS", "Directions", "directions", "filter_normalized_direction",
           "plot_history", "plot_interpolation", "plot_landscape", "plot_spectrum",
           "random_directions"]
