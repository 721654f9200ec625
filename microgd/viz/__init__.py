"""Pictures: the computation graph of a Value, loss curves, loss landscapes, spectra, races.

Also the directions a landscape is drawn along (:func:`directions`: random
filter-normalized, PCA of recorded paths, Hessian eigenvectors).

Importing this package registers the SVG renderer behind ``Value._repr_svg_``
(Jupyter shows Values as graphs when Graphviz's ``dot`` is installed).
Matplotlib is imported only when a plot is made (``pip install microgd[plot]``);
in IPython and Jupyter the plot functions' Figures show as pictures, with any
matplotlib backend and no ``%matplotlib`` magic (:mod:`microgd.viz.notebook`).

Examples
--------
>>> import microgd as mg
>>> from microgd.viz import draw_graph
>>> x = mg.Value(3.0)
>>> "mul" in draw_graph(x * x).source
True
"""

from microgd.directions import (
    Directions,
    directions,
    filter_normalized_direction,
    random_directions,
)
from microgd.viz.animate import RaceAnimation, animate, plot_race
from microgd.viz.curves import plot_history
from microgd.viz.graph import draw_graph, format_array, save_graph, svg
from microgd.viz.landscapes import plot_interpolation, plot_landscape
from microgd.viz.spectra import plot_spectrum

__all__ = [
    "Directions", "RaceAnimation", "animate", "directions", "draw_graph",
    "filter_normalized_direction", "format_array", "plot_history", "plot_interpolation",
    "plot_landscape", "plot_race", "plot_spectrum", "random_directions", "save_graph", "svg",
]
