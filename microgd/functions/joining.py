"""Joining, splitting, repeating and padding: NumPy's functions that build bigger arrays.

Each is written exactly with the primitives ``concatenate``, ``getitem`` (basic
slices), ``reshape``, ``broadcast_to`` and ``index_add``, so derivatives of
every order and both modes need no code here.  ``UFUNCS``/``FUNCTIONS``/
``METHODS`` as in :mod:`microgd.functions.elementwise`.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from microgd import ops
from microgd.functions._common import reject
from microgd.functions.shape import _axis, atleast_1d, atleast_2d, atleast_3d, ravel
from microgd.value import Value, as_array, as_constant

__all__ = ["append", "array_split", "column_stack", "concatenate", "dsplit", "dstack",
           "hsplit", "hstack", "meshgrid", "pad", "repeat", "split", "stack", "tile", "vander",
           "vsplit", "vstack"]


def _values(name: str, seq: Sequence[Any]) -> list[Value]:
    if isinstance(seq, Value) or not isinstance(seq, (list, tuple)):
        raise TypeError(f"{name}: expected a list or tuple of arrays, got {type(seq).__name__}")
    if not seq:
        raise ValueError(f"{name}: need at least one array to join")
    return [as_constant(x) for x in seq]


# ---- joining ----------------------------------------------------------------------------


def concatenate(seq: Sequence[Any], axis: int | None = 0) -> Value:
    """Join Values along an existing axis (flattened first when ``axis`` is None)."""
    items = list(seq)
    if not items:
        raise ValueError("concatenate: need at least one Value to concatenate")
    if axis is None:
        return ops.concatenate(*[ravel(x) for x in items], axis=0)
    if not builtins.any(isinstance(x, Value) for x in items):
        items[0] = as_constant(items[0])
    return ops.concatenate(*items, axis=int(axis))


def stack(seq: Sequence[Any], axis: int = 0) -> Value:
    """Join same-shaped Values along a new axis, as ``numpy.stack``."""
    items = [x if isinstance(x, Value) else as_constant(x) for x in seq]
    if not items:
        raise ValueError("stack: need at least one Value to stack")
    shapes = {x.shape for x in items}
    if len(shapes) > 1:
        raise ValueError(f"stack: all inputs must have the same shape, got {sorted(shapes)}")
    shape = items[0].shape
    nd = len(shape) + 1
    if not -nd <= axis < nd:
        raise ValueError(f"stack: axis {axis} is out of bounds for a result with {nd} dims")
    ax = axis % nd
    new = shape[:ax] + (1,) + shape[ax:]
    return ops.concatenate(*[ops.reshape(x, shape=new) for x in items], axis=ax)


def _as_list(x: Any) -> list[Value]:
    return list(x) if isinstance(x, tuple) else [x]


def hstack(tup: Sequence[Any]) -> Value:
    """Join along the columns (axis 1; axis 0 for 1-d inputs), as ``numpy.hstack``.

    Examples
    --------
    >>> import microgd as mg
    >>> mg.hstack([[1.0, 2.0], [3.0]]).data.tolist()
    [1.0, 2.0, 3.0]
    """
    items = _as_list(atleast_1d(*_values("hstack", tup)))
    return ops.concatenate(*items, axis=0 if items[0].ndim == 1 else 1)


def vstack(tup: Sequence[Any]) -> Value:
    """Join along the rows (axis 0), 1-d inputs as rows of one, as ``numpy.vstack``."""
    return ops.concatenate(*_as_list(atleast_2d(*_values("vstack", tup))), axis=0)


def dstack(tup: Sequence[Any]) -> Value:
    """Join along the depth (axis 2), inputs made 3-d first, as ``numpy.dstack``."""
    return ops.concatenate(*_as_list(atleast_3d(*_values("dstack", tup))), axis=2)


def column_stack(tup: Sequence[Any]) -> Value:
    """Join 1-d inputs as columns (and 2-d ones as they are), as ``numpy.column_stack``.

    Examples
    --------
    >>> import microgd as mg
    >>> mg.column_stack([[1.0, 2.0], [3.0, 4.0]]).data.tolist()
    [[1.0, 3.0], [2.0, 4.0]]
    """
    items = []
    for x in _values("column_stack", tup):
        items.append(ops.reshape(x, shape=(-1, 1)) if x.ndim < 2 else x)
    return ops.concatenate(*items, axis=1)


def append(arr: Any, values: Any, axis: int | None = None) -> Value:
    """``arr`` then ``values`` along ``axis`` (both flattened when None), as ``numpy.append``."""
    return concatenate([as_constant(arr), as_constant(values)], axis=axis)


# ---- splitting --------------------------------------------------------------------------


def _pieces(name: str, x: Value, sections: Any, axis: int, equal: bool) -> list[Value]:
    ax = _axis(name, axis, x.ndim)
    n = x.shape[ax]
    if isinstance(sections, (int, np.integer)) or np.ndim(sections) == 0:
        k = int(sections)
        if k <= 0:
            raise ValueError(f"{name}: number of sections must be larger than 0, got {k}")
        if equal and n % k:
            raise ValueError(f"{name}: an axis of length {n} (shape {x.shape}, axis {ax}) "
                             f"does not split into {k} equal parts; use array_split")
        each, extra = divmod(n, k)
        sizes = [each + 1] * extra + [each] * (k - extra)
        bounds = np.concatenate([[0], np.cumsum(sizes)]).tolist()
    else:
        points = np.asarray(sections)
        if points.dtype.kind not in "iu" and points.size:
            raise TypeError(f"{name}: split points must be integers, got {sections!r}")
        bounds = [0, *(int(p) for p in points), n]
    lead = (slice(None),) * ax
    return [ops.getitem(x, index=(*lead, slice(a, b))) for a, b in zip(bounds[:-1], bounds[1:],
                                                                       strict=True)]


def split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list[Value]:
    """Split into equal parts (an int) or at the given indices, as ``numpy.split``.

    Returns a list of Values; each part's gradient flows back into its slice.

    Examples
    --------
    >>> import microgd as mg
    >>> [p.data.tolist() for p in mg.split([1.0, 2.0, 3.0, 4.0], [1, 3])]
    [[1.0], [2.0, 3.0], [4.0]]
    """
    return _pieces("split", as_constant(ary), indices_or_sections, axis, equal=True)


def array_split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list[Value]:
    """As :func:`split`, but ``n`` sections need not divide the axis (the first get one more)."""
    return _pieces("array_split", as_constant(ary), indices_or_sections, axis, equal=False)


def hsplit(ary: Any, indices_or_sections: Any) -> list[Value]:
    """Split along axis 1 (axis 0 for 1-d input), as ``numpy.hsplit``."""
    x = as_constant(ary)
    if x.ndim == 0:
        raise ValueError("hsplit: needs a Value of at least 1 dim, got shape ()")
    return _pieces("hsplit", x, indices_or_sections, 1 if x.ndim > 1 else 0, equal=True)


def vsplit(ary: Any, indices_or_sections: Any) -> list[Value]:
    """Split along axis 0 a Value of at least 2 dims, as ``numpy.vsplit``."""
    x = as_constant(ary)
    if x.ndim < 2:
        raise ValueError(f"vsplit: needs a Value of at least 2 dims, got shape {x.shape}")
    return _pieces("vsplit", x, indices_or_sections, 0, equal=True)


def dsplit(ary: Any, indices_or_sections: Any) -> list[Value]:
    """Split along axis 2 a Value of at least 3 dims, as ``numpy.dsplit``."""
    x = as_constant(ary)
    if x.ndim < 3:
        raise ValueError(f"dsplit: needs a Value of at least 3 dims, got shape {x.shape}")
    return _pieces("dsplit", x, indices_or_sections, 2, equal=True)


# ---- repeating ----------------------------------------------------------------------------


def repeat(a: Any, repeats: Any, axis: int | None = None) -> Value:
    """Repeat each element ``repeats`` times along ``axis`` (of the flattened array when None).

    ``repeats`` is an int, or one count per element along ``axis``; the
    gradient of an element is the sum over its copies.  Also ``v.repeat(...)``.

    Examples
    --------
    >>> import microgd as mg
    >>> mg.repeat([1.0, 2.0], [1, 3]).data.tolist()
    [1.0, 2.0, 2.0, 2.0]
    """
    x = as_constant(a)
    if axis is None:
        x, axis = ravel(x), 0
    ax = _axis("repeat", axis, x.ndim)
    counts = np.asarray(as_array(repeats))
    if counts.dtype.kind not in "iu":
        raise TypeError(f"repeat: repeats must be integers, got {repeats!r}")
    if (counts < 0).any():
        raise ValueError(f"repeat: repeats may not be negative, got {repeats!r}")
    n = x.shape[ax]
    if counts.size == 1:  # one count: a broadcast along a new axis, summed back (fast)
        r = int(counts.reshape(()))
        inner = x.shape[:ax + 1] + (1,) + x.shape[ax + 1:]
        wide = ops.broadcast_to(ops.reshape(x, shape=inner),
                                shape=x.shape[:ax + 1] + (r,) + x.shape[ax + 1:])
        return ops.reshape(wide, shape=x.shape[:ax] + (n * r,) + x.shape[ax + 1:])
    if counts.shape != (n,):
        raise ValueError(f"repeat: {counts.size} repeats given for axis {ax} of length {n} "
                         f"(shape {x.shape})")
    picks = np.repeat(np.arange(n), counts)
    return ops.getitem(x, index=(slice(None),) * ax + (picks,))


def tile(A: Any, reps: Any) -> Value:
    """``A`` repeated ``reps`` times along each axis, as ``numpy.tile``.

    Examples
    --------
    >>> import microgd as mg
    >>> mg.tile([1.0, 2.0], (2, 2)).data.tolist()
    [[1.0, 2.0, 1.0, 2.0], [1.0, 2.0, 1.0, 2.0]]
    """
    x = as_constant(A)
    r = np.atleast_1d(np.asarray(reps))
    if r.shape == (0,):
        r = r.astype(np.intp)  # `()` is an empty float64 array
    if r.dtype.kind not in "iu" or r.ndim != 1:
        raise TypeError(f"tile: reps must be an int or a sequence of ints, got {reps!r}")
    if (r < 0).any():
        raise ValueError(f"tile: reps may not be negative, got {reps!r}")
    d = builtins.max(len(r), x.ndim)
    counts = (1,) * (d - len(r)) + tuple(int(i) for i in r)
    sides = (1,) * (d - x.ndim) + x.shape
    # (s1, s2, ...) -> (1, s1, 1, s2, ...) -> broadcast (r1, s1, r2, s2, ...) -> merge pairs
    pairs = tuple(p for s in sides for p in (1, s))
    wide = tuple(p for c, s in zip(counts, sides, strict=True) for p in (c, s))
    out = ops.broadcast_to(ops.reshape(x, shape=pairs), shape=wide)
    return ops.reshape(out, shape=tuple(c * s for c, s in zip(counts, sides, strict=True)))


# ---- padding ------------------------------------------------------------------------------

_GATHER_MODES = ("edge", "wrap", "reflect", "symmetric")


def pad(array: Any, pad_width: Any, mode: str = "constant", **kwargs: Any) -> Value:
    """Pad with a constant (``constant_values``) or copies of edge elements, as ``numpy.pad``.

    Modes: ``'constant'`` (the default, ``constant_values`` numbers as in
    NumPy, 0 by default), and ``'edge'``, ``'wrap'``, ``'reflect'`` and
    ``'symmetric'`` (with the default ``reflect_type='even'``), which copy
    elements of ``array``: the gradient of an element sums over its copies.
    Other modes (statistics, ramps, ``'empty'``, a function) raise ``ValueError``.

    Examples
    --------
    >>> import microgd as mg
    >>> mg.pad([1.0, 2.0], (1, 2), constant_values=9).data.tolist()
    [9.0, 1.0, 2.0, 9.0, 9.0]
    >>> mg.pad([1.0, 2.0, 3.0], 2, mode="reflect").data.tolist()
    [3.0, 2.0, 1.0, 2.0, 3.0, 2.0, 1.0]
    """
    x = as_constant(array)
    widths = np.asarray(pad_width)
    if widths.dtype.kind not in "iu":
        raise TypeError(f"pad: pad_width must be integers, got {pad_width!r}")
    try:
        widths = np.broadcast_to(widths, (x.ndim, 2))
    except ValueError:
        raise ValueError(f"pad: pad_width {pad_width!r} does not fit a Value of shape "
                         f"{x.shape} (give one (before, after) pair, or one per axis)") from None
    if (widths < 0).any():
        raise ValueError(f"pad: pad_width may not be negative, got {pad_width!r}")
    shape = tuple(int(b + n + e) for (b, e), n in zip(widths, x.shape, strict=True))
    if x.ndim == 0 and mode in ("constant", *_GATHER_MODES):
        return ops.getitem(x, index=())  # nothing to pad (np.pad returns a copy)
    if mode == "constant":
        values = kwargs.pop("constant_values", 0)
        if kwargs:
            raise TypeError(f"pad: unexpected arguments for mode 'constant': {sorted(kwargs)}")
        if isinstance(values, Value) and values.requires_grad:
            raise TypeError("pad: constant_values must be numbers (constants), not a Value "
                            "that requires grad")
        inner = tuple(slice(int(b), int(b) + n) for (b, _), n in zip(widths, x.shape,
                                                                       strict=True))
        out = ops.index_add(x, index=inner, shape=shape)
        border = np.pad(np.zeros(x.shape, dtype=x.dtype), widths, mode="constant",
                        constant_values=as_array(values))
        return out + border if border.any() else out
    if mode in _GATHER_MODES:
        reflect = kwargs.pop("reflect_type", "even")
        if kwargs or reflect != "even":
            raise ValueError(f"pad: mode {mode!r} is supported with reflect_type='even' and "
                             f"no other arguments, got {sorted(kwargs) or reflect!r}")
        if 0 in x.shape and widths.any():
            raise ValueError(f"pad: cannot extend an empty axis (shape {x.shape}) with "
                             f"mode {mode!r}")
        # Which element each output position copies, axis by axis: NumPy's own pad
        # of the positions 0..n-1 (these modes treat the axes independently).
        picks = [np.pad(np.arange(n), (int(b), int(e)), mode=mode)  # type: ignore[call-overload]
                 for (b, e), n in zip(widths, x.shape, strict=True)]
        return ops.getitem(x, index=np.ix_(*picks))
    raise ValueError(f"pad: mode {mode!r} is not supported on microgd Values; supported: "
                     f"'constant', {', '.join(repr(m) for m in _GATHER_MODES)}")


# ---- NumPy's signatures -------------------------------------------------------------------


def _np_concatenate(seq: Any, axis: int | None = 0, out: Any = None, **rest: Any) -> Value:
    reject("concatenate", out=out, **rest)
    return concatenate(seq, axis=axis)


def _np_stack(seq: Any, axis: int = 0, out: Any = None, **rest: Any) -> Value:
    reject("stack", out=out, **rest)
    return stack(seq, axis=axis)


def _np_joining(name: str, fn: Any) -> Any:
    def impl(tup: Any, *, dtype: Any = None, casting: str = "same_kind") -> Value:
        reject(name, dtype=dtype, casting=None if casting == "same_kind" else casting)
        return fn(tup)
    return impl


UFUNCS: dict[Any, Any] = {}
"""NumPy ufuncs of this family that return a Value when given one."""

def meshgrid(*xi: Any, copy: bool = True, sparse: bool = False,
             indexing: str = "xy") -> tuple[Value, ...]:
    """Coordinate grids from 1-D coordinate vectors, as ``numpy.meshgrid``
    (``indexing`` ``"xy"`` or ``"ij"``, ``sparse``); each grid's gradient is summed
    back into its vector.

    Examples
    --------
    >>> import microgd as mg
    >>> X, Y = mg.meshgrid(mg.Value([1.0, 2.0, 3.0]), [0.0, 1.0])
    >>> X.shape, Y.data.tolist()
    ((2, 3), [[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    """
    if indexing not in ("xy", "ij"):
        raise ValueError("meshgrid: indexing must be 'xy' or 'ij'")
    vs = [ops.reshape(as_constant(x), shape=(-1,)) for x in xi]
    ndim = len(vs)
    axes = list(range(ndim))
    if indexing == "xy" and ndim > 1:
        axes[0], axes[1] = 1, 0
    grids = [ops.reshape(v, shape=tuple(-1 if axes[i] == j else 1 for j in range(ndim)))
             for i, v in enumerate(vs)]
    if sparse:
        return tuple(grids)
    full = np.broadcast_shapes(*[g.shape for g in grids])
    return tuple(ops.broadcast_to(g, shape=full) for g in grids)


def vander(x: Any, N: int | None = None, increasing: bool = False) -> Value:
    """The Vandermonde matrix of the 1-D ``x``: columns ``x**(N-1), ..., x, 1`` (or
    ``increasing``), as ``numpy.vander``, built by running products as NumPy does (so
    its numbers), with the exact derivatives of ``cumprod``; in ``x``'s dtype (NumPy's
    own vander computes float32 in float64)."""
    v = as_constant(x)
    if v.ndim != 1:
        raise ValueError(f"vander: x must be a one-dimensional array or sequence, got shape "
                         f"{v.shape}")
    n = v.shape[0] if N is None else int(N)
    if n < 0:
        raise ValueError(f"vander: N must be non-negative, got {N}")
    if n == 0:
        return as_constant(np.empty((v.shape[0], 0), v.dtype))
    cols: list[Any] = [np.ones((v.shape[0], 1), v.dtype)]  # x**0, a constant
    if n > 1:
        repeated = ops.broadcast_to(ops.reshape(v, shape=(-1, 1)), shape=(v.shape[0], n - 1))
        cols.append(ops.cumprod(repeated, axis=1))
    out = concatenate(cols, axis=1)
    return out if increasing else out[:, ::-1]


FUNCTIONS: dict[Any, Any] = {
    np.meshgrid: meshgrid,
    np.vander: vander,
    np.concatenate: _np_concatenate,
    np.stack: _np_stack,
    np.hstack: _np_joining("hstack", hstack),
    np.vstack: _np_joining("vstack", vstack),
    np.dstack: dstack,
    np.column_stack: column_stack,
    np.append: append,
    np.split: split,
    np.array_split: array_split,
    np.hsplit: hsplit,
    np.vsplit: vsplit,
    np.dsplit: dsplit,
    np.repeat: repeat,
    np.tile: tile,
    np.pad: pad,
}
"""NumPy functions of this family that return a Value when given one."""

METHODS = ("repeat",)
"""The functions of this family that are also methods ``v.NAME(...)``."""
