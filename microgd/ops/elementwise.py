"""Elementwise functions of one array.

Their Jacobians are diagonal, so each JVP is its VJP (``elementwise=True``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from microgd.autodiff import Primitive
from microgd.value import as_array

exp: Primitive = Primitive("exp", np.exp, lambda g, ans, x: g * ans, elementwise=True)
log: Primitive = Primitive("log", np.log, lambda g, ans, x: g / x, elementwise=True)
sqrt: Primitive = Primitive("sqrt", np.sqrt, lambda g, ans, x: g * 0.5 / ans, elementwise=True)
sin: Primitive = Primitive("sin", np.sin, lambda g, ans, x: g * cos(x), elementwise=True)
cos: Primitive = Primitive("cos", np.cos, lambda g, ans, x: -(g * sin(x)), elementwise=True)
tanh: Primitive = Primitive("tanh", np.tanh, lambda g, ans, x: g * (1 - ans * ans),
                            elementwise=True)


def _sigmoid_fwd(x: Any) -> Any:
    # exp(-log(1 + exp(-x))): no overflow at +-1000 and full relative accuracy
    # in both tails (1/(1+exp(-x)) overflows; 0.5*(1+tanh(x/2)) cancels).
    return np.exp(-np.logaddexp(0, -x))


sigmoid: Primitive = Primitive("sigmoid", _sigmoid_fwd, lambda g, ans, x: g * ans * (1 - ans),
                               elementwise=True)
relu: Primitive = Primitive("relu", lambda x: np.maximum(x, 0), lambda g, ans, x: g * (x > 0),
                            elementwise=True)
abs: Primitive = Primitive("abs", np.abs, lambda g, ans, x: g * np.sign(as_array(x)),
                           elementwise=True)


def _clip_fwd(x: Any, lo: Any, hi: Any) -> Any:
    if lo is not None and hi is not None and np.any(np.asarray(lo) > np.asarray(hi)):
        raise ValueError(f"lower bound {lo} is above upper bound {hi}")
    return np.clip(x, lo, hi)


def _inside(x: Any, lo: Any, hi: Any) -> Any:
    rx = as_array(x)
    inside = np.ones(np.shape(rx), dtype=bool)
    if lo is not None:
        inside &= rx >= lo
    if hi is not None:
        inside &= rx <= hi
    return inside


clip: Primitive = Primitive("clip", _clip_fwd, lambda g, ans, x, lo, hi: g * _inside(x, lo, hi),
                            elementwise=True)

__all__ = [
    "exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu", "abs", "clip",
]
