"""Write docs/api.md, the API reference, from the package's signatures and docstrings.

Run: python docs/build_api.py.  The test suite checks that docs/api.md is what
this script writes, so the reference cannot drift from the code.
"""

from __future__ import annotations

import importlib
import inspect
import pathlib
import sys

# Document the checkout this script lives in, installed or not (a worktree, a clone).
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import microgd  # noqa: E402
from microgd import (
    checkpoint,
    data,
    directions,
    monitors,
    nn,
    operators,
    optim,
    parallel,
    search,
    train,
    transforms,
    viz,
)
from microgd.optim import schedules
from microgd.testing import gradcheck, strategies
from microgd.viz import graph, plots

# microgd.landscape is both a module and, in the package, the function it holds.
landscape = importlib.import_module("microgd.landscape")

SECTIONS = [
    ("Core", "microgd", ["Value", "gradients", "no_grad", "enable_grad", "is_grad_enabled",
                         "detect_anomaly", "AnomalyError", "exp", "log", "sqrt", "sin", "cos",
                         "tanh", "sigmoid", "relu", "abs", "sum", "mean", "max", "min",
                         "reshape", "transpose", "clip", "maximum", "minimum", "where",
                         "concatenate", "stack", "array", "logsumexp", "softmax", "log_softmax",
                         "Primitive"], microgd),
    ("Shape and construction (NumPy vocabulary)", "microgd",
     ["ravel", "flatten", "squeeze", "expand_dims", "atleast_1d", "atleast_2d", "atleast_3d",
      "moveaxis", "swapaxes", "flip", "fliplr", "flipud", "rot90", "roll", "astype", "hstack",
      "vstack", "dstack", "column_stack", "append", "split", "array_split", "hsplit", "vsplit",
      "dsplit", "repeat", "tile", "pad", "take", "take_along_axis", "sort", "select", "copy",
      "broadcast_to", "meshgrid", "vander"],
     microgd),
    ("", "microgd.Value", ["sort"], microgd.Value),
    ("Elementwise (NumPy vocabulary)", "microgd",
     ["tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "arcsinh", "arccosh", "arctanh",
      "exp2", "expm1", "log2", "log10", "log1p", "logaddexp", "logaddexp2", "square",
      "reciprocal", "fabs", "sign", "floor", "ceil", "round", "arctan2", "hypot", "fmax", "fmin",
      "mod", "remainder", "fmod", "sinc", "deg2rad", "rad2deg", "trunc", "fix", "rint", "cbrt",
      "positive", "floor_divide", "nan_to_num", "polyval", "heaviside", "copysign", "float_power",
      "real", "imag", "softplus",
      "leaky_relu", "elu", "gelu"],
     microgd),
    ("Reductions (NumPy vocabulary)", "microgd", ["prod", "var", "std", "cumsum", "cumprod",
                                                 "diff", "average", "norm", "ptp", "trapezoid"],
     microgd),
    ("", "microgd", ["nansum", "nanmean", "nanprod", "nanmax", "nanmin", "nanvar", "nanstd"],
     microgd),
    ("Statistics (NumPy vocabulary)", "microgd", ["median", "quantile", "percentile", "nanmedian",
                                                 "nanquantile", "nanpercentile", "cov",
                                                 "corrcoef"], microgd),
    ("Signals (NumPy vocabulary)", "microgd", ["convolve", "correlate", "interp"], microgd),
    ("Linear algebra", "microgd", ["dot", "vdot", "inner", "outer", "tensordot", "einsum",
                                   "kron", "cross", "trace", "diag", "diagflat", "diagonal",
                                   "tril", "triu"], microgd),
    ("", "microgd.linalg", ["inv", "pinv", "lstsq", "cond", "qr", "solve", "det", "slogdet",
                            "cholesky", "eigh",
                            "eigvalsh", "svd", "svdvals", "matrix_power", "multi_dot", "matmul",
                            "norm", "outer", "cross", "trace", "diagonal", "tensordot", "vecdot",
                            "matrix_transpose"], microgd.linalg),
    ("Transforms", "microgd", ["grad", "value_and_grad", "jacobian", "hvp", "hessian"], microgd),
    ("Forward mode", "microgd", ["jvp", "vjp", "linearize", "jacfwd", "jacrev", "ggn_vp"],
     microgd),
    ("", "microgd.transforms", ["HessianOperator", "flatten", "unflatten"], transforms),
    ("Curvature", "microgd", ["hessian_eigs", "hessian_trace", "hessian_diagonal",
                              "hessian_density", "classify", "find_critical_points",
                              "CriticalPoint"], microgd),
    ("", "microgd.operators", ["GGNOperator", "BlockOperator", "LossHessian"], operators),
    ("Models", "microgd.nn", ["Module", "Linear", "MLP", "mse", "binary_cross_entropy",
                              "softmax_cross_entropy", "hinge"], nn),
    ("Data", "microgd.data", ["batches", "Batches"], data),
    ("Optimizers", "microgd.optim", ["Optimizer", "GD", "SGD", "Momentum", "Nesterov", "Adam",
                                     "AdamW", "RMSProp", "AdaGrad", "PerturbedGD", "Newton",
                                     "SaddleFreeNewton"], optim),
    ("Schedules", "microgd.optim.schedules", ["Constant", "StepLR", "Exponential", "Cosine",
                                              "ReduceOnPlateau"], schedules),
    ("Training", "microgd", ["fit", "History", "DivergenceError"], train),
    ("Monitors", "microgd.monitors", ["Sharpness", "Eigenvalues", "HessianTrace",
                                      "GradientNoise", "Monitor", "TrainingLoss",
                                      "stability_threshold"], monitors),
    ("Checkpoints", "microgd", ["save_checkpoint", "load_checkpoint"], checkpoint),
    ("Search", "microgd", ["grid_search", "coarse_to_fine", "SearchResult"], search),
    ("Landscapes", "microgd", ["landscape", "interpolate", "Landscape", "Interpolation"],
     landscape),
    ("", "microgd.viz", ["directions", "Directions", "filter_normalized_direction",
                         "random_directions"], directions),
    ("Parallel grids", "microgd.parallel", ["map_cells", "resolve_executor", "CellError"],
     parallel),
    ("Races", "microgd", ["race", "Race"], microgd),
    ("Pictures", "microgd.viz", ["draw_graph", "save_graph"], graph),
    ("", "microgd.viz.plots", ["plot_history", "plot_landscape", "plot_interpolation",
                               "plot_spectrum"], plots),
    ("", "microgd.viz", ["animate", "plot_race", "RaceAnimation"], viz),
    ("Checking", "microgd.testing", ["check_grads"], gradcheck),
    ("", "microgd.testing.strategies", ["shapes", "broadcastable_shapes", "arrays", "dtypes"],
     strategies),
]


def _summary(obj: object) -> str:
    doc = inspect.getdoc(obj) or ""
    paragraphs = doc.split("\n\n")
    return " ".join(paragraphs[0].split()) if paragraphs else ""


def _signature(name: str, obj: object) -> str:
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return f"{name}(...)"
    # Annotations are strings here (postponed evaluation); the docstrings
    # explain the types better than their text would.
    empty = inspect.Parameter.empty
    bare = sig.replace(parameters=[p.replace(annotation=empty) for p in sig.parameters.values()],
                       return_annotation=empty)
    return f"{name}{bare}"


def render() -> str:
    lines = ["# API reference", "",
             "Generated from the docstrings by `docs/build_api.py` (the test suite checks it "
             "is current). Each entry is the signature and the first paragraph of the "
             "docstring; `help(name)` shows the rest, with an example.", ""]
    for title, prefix, names, module in SECTIONS:
        if title:
            lines += [f"## {title}", ""]
        for name in names:
            obj = getattr(module, name)
            lines.append(f"- `{prefix}.{_signature(name, obj)}`  ")
            lines.append(f"  {_summary(obj)}")
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    path = pathlib.Path(__file__).with_name("api.md")
    path.write_text(render(), encoding="utf-8")
    print(f"wrote {path.name}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
