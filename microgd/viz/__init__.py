"""Pictures: the computation graph of a Value, loss curves, loss landscapes, spectra.

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

from microgd.viz.graph import draw_graph, format_array, save_graph, svg
from microgd.viz.plots import (
    filter_normalized_direction,
    plot_history,
    plot_landscape,
    plot_spectrum,
    random_directions,
)

__all__ = [
    "draw_graph", "filter_normalized_direction", "format_array", "plot_history",
    "plot_landscape", "plot_spectrum", "random_directions", "save_graph", "svg",
]
