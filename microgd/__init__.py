"""microgd: reverse-mode autodiff on NumPy, made to study optimization.

Examples
--------
>>> import microgd as mg
>>> x = mg.Value(3.0)
>>> y = x ** 2 + 2 * x
>>> y.backward()
>>> float(x.grad)
8.0
"""

from microgd.value import Value  # noqa: I001  (Value first: the core modules build on it)
from microgd import ops, transforms
from microgd.autodiff import (
    AnomalyError,
    Primitive,
    detect_anomaly,
    enable_grad,
    is_grad_enabled,
    no_grad,
)
from microgd.backprop import gradients
from microgd import dispatch  # noqa: F401  (registers NumPy dispatch and the methods)
from microgd import functions
from microgd.functions import *  # noqa: F403  (mg.NAME: every function of every family)
from microgd import linalg  # noqa: F401  (mg.linalg.NAME: np.linalg for Values)

from microgd.transforms import grad, hessian, hvp, jacobian, value_and_grad
from microgd.forward import ggn_vp, jacfwd, jacrev, jvp, linearize, vjp
from microgd.curvature import hessian_eigs
from microgd.classification import CriticalPoint, classify
from microgd.estimators import hessian_density, hessian_diagonal, hessian_trace
from microgd.critical import find_critical_points

from microgd import data, nn, optim  # noqa: E402  (after the core they build on)
from microgd.train import DivergenceError, History, fit  # noqa: E402
from microgd.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402
from microgd.search import SearchResult, coarse_to_fine, grid_search  # noqa: E402
from microgd.landscape import Interpolation, Landscape, interpolate, landscape  # noqa: E402
from microgd.race import Race, race  # noqa: E402
from microgd import viz  # noqa: E402  (also registers the Jupyter SVG renderer)
from microgd.viz import draw_graph  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "AnomalyError", "Primitive", "Value", "detect_anomaly", "enable_grad", "gradients",
    "is_grad_enabled", "no_grad", "ops", "grad", "value_and_grad", "jacobian", "hvp", "hessian",
    "transforms", "jvp", "vjp", "linearize", "jacfwd", "jacrev", "ggn_vp", "CriticalPoint",
    "classify", "find_critical_points", "hessian_density", "hessian_diagonal", "hessian_eigs",
    "hessian_trace",
    "data", "nn", "optim", "DivergenceError", "History", "fit", "load_checkpoint",
    "save_checkpoint", "SearchResult", "coarse_to_fine", "grid_search", "Interpolation",
    "Landscape", "interpolate", "landscape", "Race", "race", "draw_graph", "viz", "linalg",
    *functions.__all__,
]
