"""One-dimensional signals: ``convolve``, ``correlate`` and ``interp``.

``UFUNCS``/``FUNCTIONS``/``METHODS`` as in :mod:`microgd.functions.elementwise`.
Composites of indexing, ``matmul`` and arithmetic, so exact to every order:
``convolve`` and ``correlate`` are bilinear (each output a dot product of a
window of one input with the other), ``interp`` is piecewise linear in ``x``
and linear in ``fp``.  Modes, lengths and edge rules are NumPy's.

Examples
--------
>>> import microgd as mg
>>> k = mg.Value([0.25, 0.5, 0.25])          # a smoothing kernel, learned
>>> y = mg.convolve([0.0, 4.0, 0.0], k, mode="same")
>>> y.sum().backward()
>>> y.data.tolist(), k.grad.tolist()
([1.0, 2.0, 1.0], [4.0, 4.0, 4.0])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from microgd import ops
from microgd.functions._common import as_float64
from microgd.functions.joining import concatenate
from microgd.value import Value, as_constant

__all__ = ["convolve", "correlate", "interp"]

_MODES = {"valid": "valid", "same": "same", "full": "full", 0: "valid", 1: "same", 2: "full"}


def _vector(name: str, which: str, x: Any) -> Value:
    v = as_constant(x)
    if v.ndim == 0:
        v = ops.reshape(v, shape=(1,))
    if v.ndim != 1:
        raise ValueError(f"{name}: {which} must be 1-D, got shape {v.shape}")
    if v.shape[0] == 0:
        raise ValueError(f"{name}: {which} cannot be empty")
    return v


def _mode(name: str, mode: Any) -> str:
    try:
        return _MODES[mode]
    except (KeyError, TypeError):
        raise ValueError(f"{name}: mode must be 'valid', 'same' or 'full', got {mode!r}") from None


def _sliding(a: Value, v: Value, mode: str) -> Value:
    """``c[k] = sum_n a[n + k] v[n]`` for ``len(a) >= len(v)``, NumPy's correlation."""
    n, m = a.shape[0], v.shape[0]
    if mode != "valid" and m > 1:
        pad = np.zeros(m - 1, dtype=np.result_type(a.dtype, v.dtype))
        a = concatenate([pad, a, pad])
    windows = np.arange(a.shape[0] - m + 1)[:, None] + np.arange(m)[None, :]
    full = a[windows] @ v
    if mode == "same":
        start = (m - 1) // 2
        return full[start:start + n]
    return full


def correlate(a: Any, v: Any, mode: Any = "valid") -> Value:
    """The cross-correlation ``c[k] = sum_n a[n + k] v[n]``, as ``numpy.correlate``
    (``mode`` ``"valid"``, ``"same"`` or ``"full"``); ``a`` and ``v`` may be Values."""
    av, vv = _vector("correlate", "a", a), _vector("correlate", "v", v)
    how = _mode("correlate", mode)
    if vv.shape[0] > av.shape[0]:  # NumPy's rule: swapped, and the result reversed
        return _sliding(vv, av, how)[::-1]
    return _sliding(av, vv, how)


def convolve(a: Any, v: Any, mode: Any = "full") -> Value:
    """The discrete convolution ``(a * v)[n] = sum_m a[m] v[n - m]``, as
    ``numpy.convolve`` (``mode`` ``"full"``, ``"same"`` or ``"valid"``); ``a`` and
    ``v`` may be Values."""
    av, vv = _vector("convolve", "a", a), _vector("convolve", "v", v)
    how = _mode("convolve", mode)
    if vv.shape[0] > av.shape[0]:
        av, vv = vv, av
    return _sliding(av, vv[::-1], how)


def interp(x: Any, xp: Any, fp: Any, left: Any = None, right: Any = None,
           period: Any = None) -> Value:
    """The piecewise-linear interpolant through ``(xp, fp)`` at ``x``, as ``numpy.interp``.

    ``xp`` (increasing) is constant; ``x`` and ``fp`` may be Values.  Beyond the
    ends the value is ``left``/``right`` (``fp[0]``/``fp[-1]`` by default), with
    derivative 0 in ``x``; at a sample point the slope is the segment's on the
    right, as NumPy picks the segment.  ``left`` and ``right`` may be Values too.
    Computed in float64, as NumPy's.

    Examples
    --------
    >>> import microgd as mg
    >>> x = mg.Value([0.5, 2.5])
    >>> y = mg.interp(x, [0.0, 1.0, 3.0], [0.0, 2.0, 3.0])
    >>> y.sum().backward()
    >>> y.data.tolist(), x.grad.tolist()
    ([1.0, 2.75], [2.0, 0.5])
    """
    if period is not None:
        raise TypeError("interp: period= is not supported on microgd Values")
    if isinstance(xp, Value):
        raise TypeError("interp: xp (the sample points) must be constant, not a Value")
    xs = np.asarray(xp, dtype=np.float64)
    f = as_constant(fp)
    if xs.ndim != 1 or f.ndim != 1:
        raise ValueError(f"interp: xp and fp must be 1-D, got shapes {xs.shape} and {f.shape}")
    if xs.shape != f.shape:
        raise ValueError(f"interp: fp and xp are not of the same length ({f.shape[0]} and "
                         f"{xs.shape[0]})")
    if xs.size == 0:
        raise ValueError("interp: array of sample points is empty")
    f, v = as_float64(f), as_float64(x)
    at = np.asarray(v.data)
    n = xs.size
    if n == 1:
        inside: Value = ops.broadcast_to(f, shape=at.shape) if at.ndim else f[0]
    else:
        # xp[j] <= x < xp[j + 1], as NumPy's search picks the segment
        j = np.clip(np.searchsorted(xs, at, side="right") - 1, 0, n - 2)
        slope = (f[j + 1] - f[j]) / (xs[j + 1] - xs[j])
        inside = slope * (v - xs[j]) + f[j]
        inside = ops.where(f[n - 1], inside, cond=at == xs[-1])
    # the ends may be Values (learned): on the graph, never numbers taken out of them
    low = f[0] if left is None else as_float64(left)
    high = f[n - 1] if right is None else as_float64(right)
    out = ops.where(high, inside, cond=at > xs[-1])
    return ops.where(low, out, cond=at < xs[0])


def _np_interp(x: Any, xp: Any, fp: Any, left: Any = None, right: Any = None,
               period: Any = None) -> Value:
    return interp(x, xp, fp, left=left, right=right, period=period)


UFUNCS: dict[Any, Any] = {}
"""NumPy ufuncs of this family that return a Value when given one."""

FUNCTIONS: dict[Any, Any] = {np.convolve: convolve, np.correlate: correlate, np.interp: _np_interp}
"""NumPy functions of this family that return a Value when given one."""

METHODS: tuple[str, ...] = ()
"""NumPy has no methods of these on arrays."""
