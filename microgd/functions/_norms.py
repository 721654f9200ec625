"""Vector and matrix norms (``mg.norm``, ``np.linalg.norm``), in NumPy's rules.

:mod:`microgd.functions.reductions` exports and registers them; the primitives
and their numerics (subgradient 0 at 0, singular values) are in
:mod:`microgd.ops.norms`.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from microgd import ops
from microgd.functions._common import axes_of
from microgd.value import Value, as_array, as_constant


def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Value:
    """Vector and matrix norms, as ``numpy.linalg.norm`` (``mg.linalg.norm`` too).

    ``axis`` an int (or ``x`` 1-D): vector norms, ``ord`` None or 2 (Euclidean),
    1, ``inf``, ``-inf``, 0 (the count of nonzero entries, gradient 0) or any
    other number ``p`` (``sum(|x|**p)**(1/p)``, negative ``p`` included).  ``axis`` a
    pair (or ``x`` 2-D): matrix norms, ``ord`` None or ``'fro'``, ``'nuc'``
    (sum of singular values), 2 and -2 (largest and smallest singular value),
    1 and -1 (largest and smallest column sum of ``|x|``), ``inf`` and
    ``-inf`` (row sums).  ``axis=None`` with ``ord=None`` is the 2-norm of all
    entries, whatever ``x``'s shape.

    Where a norm is 0 its gradient and second derivative are taken as 0 (the
    subgradient PyTorch gives for vector norms), and entries equal to 0 get 0;
    the singular-value norms are exact for distinct singular values (see
    :mod:`microgd.ops.norms` for repeated ones).

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> w = mg.Value([3.0, 4.0])
    >>> float(np.linalg.norm(w).data)
    5.0
    >>> mg.norm(w).backward()
    >>> [round(g, 12) for g in w.grad.tolist()]
    [0.6, 0.8]
    >>> float(mg.norm([[1.0, 2.0], [3.0, 4.0]], ord=1).data)   # the largest column sum
    6.0
    """
    v = as_constant(x)
    nd = v.ndim
    if axis is None:
        if ord is None:  # every entry, as one vector
            return ops.vector_norm(v, ord=2.0, axis=None, keepdims=keepdims)
        if nd not in (1, 2):
            raise ValueError(f"norm: improper number of dimensions to norm: ord={ord!r} "
                             f"needs a 1-D or 2-D input or an axis, got shape {v.shape}")
        axes: tuple[int, ...] = tuple(range(nd))
    else:
        if not isinstance(axis, (int, np.integer, tuple)):
            raise TypeError(f"norm: 'axis' must be None, an integer or a tuple of integers, "
                            f"got {axis!r}")
        axes = axes_of("norm", axis, nd, allow_duplicate=True)
    if len(axes) == 1:
        return _vector_norm(v, ord, axes[0], keepdims)
    if len(axes) == 2:
        if axes[0] == axes[1]:
            raise ValueError(f"norm: duplicate axes given: {axis}")
        return _matrix_norm(v, ord, axes, keepdims)
    raise ValueError(f"norm: improper number of dimensions to norm: axis={axis} "
                     f"(an int for vectors, a pair for matrices)")


def _vector_norm(v: Value, ord: Any, axis: int, keepdims: bool) -> Value:
    try:
        p = 2.0 if ord is None else float(ord)
        if isinstance(ord, str) or np.isnan(p):
            raise ValueError
    except (TypeError, ValueError):
        raise ValueError(f"norm: invalid norm order {ord!r} for vectors") from None
    if p == np.inf:
        return ops.max(ops.abs(v), axis=axis, keepdims=keepdims)
    if p == -np.inf:
        return ops.min(ops.abs(v), axis=axis, keepdims=keepdims)
    if p == 0:  # how many entries are nonzero: a step function, gradient 0
        rv = as_array(v)
        count = (rv != 0).astype(rv.dtype)
        flat = ops.where(v * 0.0, 0.0, cond=np.isfinite(rv))  # 0, linked to v
        return ops.sum(flat + count, axis=axis, keepdims=keepdims)
    return ops.vector_norm(v, ord=p, axis=axis, keepdims=keepdims)


def _matrix_norm(v: Value, ord: Any, axes: tuple[int, ...], keepdims: bool) -> Value:
    row, col = axes
    if ord is None or (isinstance(ord, str) and ord in ("fro", "f")):
        return ops.vector_norm(v, ord=2.0, axis=axes, keepdims=keepdims)
    if isinstance(ord, str) and ord == "nuc" or not isinstance(ord, str) and ord in (2, -2):
        # The singular values of the matrices in the last two axes.
        kept = tuple(i for i in range(v.ndim) if i not in axes)
        s = ops.singular_values(ops.transpose(v, axes=kept + (row, col)))
        if ord == "nuc":
            out = ops.sum(s, axis=-1, keepdims=False)
        else:  # ties within the SVD's rounding share the gradient evenly
            out = ops.spectral_extreme(s, largest=ord == 2,
                                       size=builtins.max(v.shape[row], v.shape[col]))
    elif not isinstance(ord, str) and ord in (1, -1, np.inf, -np.inf):
        inner, outer = (row, col) if ord in (1, -1) else (col, row)
        if outer > inner:
            outer -= 1
        sums = ops.sum(ops.abs(v), axis=inner, keepdims=False)
        reduce = ops.max if ord > 0 else ops.min
        out = reduce(sums, axis=outer, keepdims=False)
    else:
        raise ValueError(f"norm: invalid norm order {ord!r} for matrices")
    if keepdims:
        shape = list(v.shape)
        shape[row] = shape[col] = 1
        out = ops.reshape(out, shape=tuple(shape))
    return out
