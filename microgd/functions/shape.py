"""Shape: reshaping, adding and removing axes, permuting, flipping, rolling, casting.

Each function is NumPy's, written exactly with the primitives ``reshape``,
``transpose``, ``getitem`` (basic slices: a view forward, an assignment
backward), ``roll`` and ``astype``, so derivatives of every order and both
modes need no code here.  Joining and splitting are in
:mod:`microgd.functions.joining`, picking and sorting in
:mod:`microgd.functions.indexing`.  ``UFUNCS``/``FUNCTIONS``/``METHODS`` as in
:mod:`microgd.functions.elementwise`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from microgd import ops
from microgd.functions._common import axes_of, reject
from microgd.value import Value, as_array, as_constant

__all__ = ["array", "astype", "atleast_1d", "atleast_2d", "atleast_3d", "broadcast_to", "copy",
           "expand_dims",
           "flatten", "flip", "fliplr", "flipud", "moveaxis", "ravel", "reshape", "roll",
           "rot90", "squeeze", "swapaxes", "transpose"]


# ---- axes, as the shape families check them ---------------------------------------------


def _axes(name: str, axis: Any, ndim: int) -> tuple[int, ...]:
    """``_common.axes_of``, with a repeated axis also named by the function."""
    try:
        return axes_of(name, axis, ndim)
    except np.exceptions.AxisError:
        raise
    except ValueError as exc:  # NumPy's "repeated axis"
        raise ValueError(f"{name}: {exc} in {axis!r}") from None


def _axis(name: str, axis: Any, ndim: int) -> int:
    """One ``axis`` (an int) as a non-negative int; errors name the function."""
    if not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{name}: axis must be an int, got {axis!r}")
    return axes_of(name, int(axis), ndim)[0]


def _order(name: str, order: str) -> None:
    # Memory layout is not something a Value shows (its data may be a view of
    # any layout), so only the layout-free orders are accepted.
    if order not in ("C", "F"):
        raise TypeError(f"{name}: order={order!r} is not supported on microgd Values "
                        "(only 'C' and 'F'; 'A' and 'K' depend on the memory layout)")


# ---- reshaping ----------------------------------------------------------------------


def reshape(x: Any, *shape: Any) -> Value:
    """``x`` with a new shape: ``reshape(x, 2, 3)`` or ``reshape(x, (2, 3))``."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return ops.reshape(as_constant(x), shape=tuple(int(s) for s in shape))


def ravel(a: Any, order: str = "C") -> Value:
    """The elements of ``a`` as a 1-d Value, as ``numpy.ravel`` (also ``v.ravel()``).

    Examples
    --------
    >>> import microgd as mg
    >>> mg.ravel([[1.0, 2.0], [3.0, 4.0]], order="F").data.tolist()
    [1.0, 3.0, 2.0, 4.0]
    """
    _order("ravel", order)
    x = as_constant(a)
    if order == "F" and x.ndim > 1:
        x = ops.transpose(x, axes=None)
    return ops.reshape(x, shape=(-1,))


def flatten(a: Any, order: str = "C") -> Value:
    """``ndarray.flatten``: the elements as a 1-d Value (``v.flatten()``; same as ravel).

    A Value's numbers are never changed in place through the graph, so the copy
    ``flatten`` makes in NumPy and the view ``ravel`` may make are the same here.
    """
    _order("flatten", order)
    return ravel(a, order)


def squeeze(a: Any, axis: Any = None) -> Value:
    """Drop axes of length 1 (all of them, or those in ``axis``), as ``numpy.squeeze``.

    Examples
    --------
    >>> import microgd as mg
    >>> import numpy as np
    >>> mg.squeeze(np.ones((1, 3, 1)), axis=0).shape
    (3, 1)
    """
    x = as_constant(a)
    if axis is None:
        drop: tuple[int, ...] = tuple(i for i, n in enumerate(x.shape) if n == 1)
    else:
        drop = _axes("squeeze", axis, x.ndim)
        wide = [i for i in drop if x.shape[i] != 1]
        if wide:
            raise ValueError(f"squeeze: cannot squeeze axis {wide[0]} of a Value of shape "
                             f"{x.shape}: its length is {x.shape[wide[0]]}, not 1")
    return ops.reshape(x, shape=tuple(n for i, n in enumerate(x.shape) if i not in drop))


def broadcast_to(array: Any, shape: Any, subok: bool = False) -> Value:
    """``array`` broadcast to ``shape``, as ``numpy.broadcast_to``; the gradient is
    summed back over the broadcast axes."""
    v = as_constant(array)
    target = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(n) for n in shape)
    return ops.broadcast_to(v, shape=target)


def expand_dims(a: Any, axis: Any) -> Value:
    """Insert axes of length 1 at ``axis`` (an int or a tuple), as ``numpy.expand_dims``."""
    x = as_constant(a)
    n = 1 if isinstance(axis, (int, np.integer)) else len(axis)
    new = _axes("expand_dims", axis, x.ndim + n)
    sides = iter(x.shape)
    return ops.reshape(x, shape=tuple(1 if i in new else next(sides)
                                      for i in range(x.ndim + n)))


def _atleast(name: str, arys: tuple, shape_for: Any) -> Any:
    out = []
    for a in arys:
        x = as_constant(a)
        new = shape_for(x.shape)
        out.append(x if new == x.shape else ops.reshape(x, shape=new))
    if not out:
        raise TypeError(f"{name}: needs at least one array")
    return out[0] if len(out) == 1 else tuple(out)


def atleast_1d(*arys: Any) -> Any:
    """Each input as a Value of at least 1 dim (one Value, or a tuple for several)."""
    return _atleast("atleast_1d", arys, lambda s: s or (1,))


def atleast_2d(*arys: Any) -> Any:
    """Each input with at least 2 dims: ``()`` -> ``(1, 1)``, ``(n,)`` -> ``(1, n)``."""
    return _atleast("atleast_2d", arys, lambda s: (1,) * (2 - len(s)) + s if len(s) < 2 else s)


def atleast_3d(*arys: Any) -> Any:
    """Each input with at least 3 dims: ``(n,)`` -> ``(1, n, 1)``, ``(m, n)`` -> ``(m, n, 1)``."""
    def shape_for(s: tuple[int, ...]) -> tuple[int, ...]:
        return {0: (1, 1, 1), 1: (1, *s, 1), 2: (*s, 1)}.get(len(s), s)
    return _atleast("atleast_3d", arys, shape_for)


# ---- permuting and flipping -------------------------------------------------------------


def transpose(x: Any, *axes: Any) -> Value:
    """Permute axes (reverse them when none are given), as ``numpy.transpose``."""
    order: tuple[Any, ...] | list[Any] | None = axes
    if len(axes) == 1 and (axes[0] is None or isinstance(axes[0], (tuple, list))):
        order = axes[0]
    return ops.transpose(as_constant(x), axes=tuple(order) if order else None)


def moveaxis(a: Any, source: Any, destination: Any) -> Value:
    """Move axes to new positions, the others keeping their order, as ``numpy.moveaxis``."""
    x = as_constant(a)
    src = _axes("moveaxis", source, x.ndim)
    dst = _axes("moveaxis", destination, x.ndim)
    if len(src) != len(dst):
        raise ValueError(f"moveaxis: source {source} and destination {destination} must "
                         "name the same number of axes")
    perm = [i for i in range(x.ndim) if i not in src]
    for d, s in sorted(zip(dst, src, strict=True)):
        perm.insert(d, s)
    return ops.transpose(x, axes=tuple(perm))


def swapaxes(a: Any, axis1: int, axis2: int) -> Value:
    """Exchange two axes, as ``numpy.swapaxes`` (also ``v.swapaxes(i, j)``)."""
    x = as_constant(a)
    i, j = _axis("swapaxes", axis1, x.ndim), _axis("swapaxes", axis2, x.ndim)
    perm = list(range(x.ndim))
    perm[i], perm[j] = j, i
    return ops.transpose(x, axes=tuple(perm))


def flip(m: Any, axis: Any = None) -> Value:
    """Reverse the order of elements along ``axis`` (all axes by default), as ``numpy.flip``.

    Examples
    --------
    >>> import microgd as mg
    >>> mg.flip([[1.0, 2.0], [3.0, 4.0]], axis=1).data.tolist()
    [[2.0, 1.0], [4.0, 3.0]]
    """
    x = as_constant(m)
    flipped = range(x.ndim) if axis is None else _axes("flip", axis, x.ndim)
    index = tuple(slice(None, None, -1) if i in flipped else slice(None) for i in range(x.ndim))
    return ops.getitem(x, index=index)


def fliplr(m: Any) -> Value:
    """Reverse the columns (axis 1) of a Value of at least 2 dims, as ``numpy.fliplr``."""
    x = as_constant(m)
    if x.ndim < 2:
        raise ValueError(f"fliplr: needs a Value of at least 2 dims, got shape {x.shape}")
    return flip(x, 1)


def flipud(m: Any) -> Value:
    """Reverse the rows (axis 0) of a Value of at least 1 dim, as ``numpy.flipud``."""
    x = as_constant(m)
    if x.ndim < 1:
        raise ValueError(f"flipud: needs a Value of at least 1 dim, got shape {x.shape}")
    return flip(x, 0)


def rot90(m: Any, k: int = 1, axes: Sequence[int] = (0, 1)) -> Value:
    """Rotate by 90 degrees ``k`` times in the plane of ``axes``, as ``numpy.rot90``.

    Examples
    --------
    >>> import microgd as mg
    >>> mg.rot90([[1.0, 2.0], [3.0, 4.0]]).data.tolist()
    [[2.0, 4.0], [1.0, 3.0]]
    """
    x = as_constant(m)
    if len(axes) != 2:
        raise ValueError(f"rot90: axes must name 2 axes, got {tuple(axes)}")
    a, b = _axes("rot90", tuple(axes), x.ndim)
    k = int(k) % 4
    if k == 0:
        return ops.getitem(x, index=())
    if k == 2:
        return flip(x, (a, b))
    perm = list(range(x.ndim))
    perm[a], perm[b] = b, a
    if k == 1:  # flip along the second axis, then exchange the two
        return ops.transpose(flip(x, b), axes=tuple(perm))
    return flip(ops.transpose(x, axes=tuple(perm)), b)


def _ints(name: str, what: str, value: Any) -> int | tuple[int, ...]:
    arr = np.asarray(as_array(value))
    if arr.shape == (0,):
        return ()  # `()` is an empty float64 array
    if arr.dtype.kind not in "iu" or arr.ndim > 1:
        raise TypeError(f"{name}: {what} must be an int or a sequence of ints, got {value!r}")
    return int(arr) if arr.ndim == 0 else tuple(int(i) for i in arr)


def roll(a: Any, shift: Any, axis: Any = None) -> Value:
    """Shift elements along ``axis`` cyclically (the flattened array when None), as ``numpy.roll``.

    Examples
    --------
    >>> import microgd as mg
    >>> mg.roll([1.0, 2.0, 3.0], 1).data.tolist()
    [3.0, 1.0, 2.0]
    """
    x = as_constant(a)
    axes = None if axis is None else _ints("roll", "axis", axis)
    if axes is not None:
        _axes("roll", axes, x.ndim)  # a clear error for an axis out of bounds
    return ops.roll(x, shift=_ints("roll", "shift", shift), axis=axes)


# ---- casting ----------------------------------------------------------------------------


def astype(x: Any, dtype: Any, order: str = "K", casting: str = "unsafe", subok: bool = True,
           copy: bool = True) -> Any:
    """``x`` cast to ``dtype``, as ``ndarray.astype`` (also ``v.astype(dtype)``).

    Between float32 and float64 the result is a Value and the gradient flows
    back cast to ``x``'s dtype.  A cast to an integer or bool dtype returns a
    plain ndarray, as comparisons do: the cast has no derivative (PyTorch's
    ``.to(int)`` gives a tensor without grad too) and a Value holds floats
    only.  Other dtypes (float16, complex, ...) raise ``TypeError``.  ``order``
    and ``subok`` have no effect on a Value's numbers; ``casting`` is checked
    as NumPy checks it.

    Examples
    --------
    >>> import microgd as mg
    >>> import numpy as np
    >>> w = mg.Value(np.array([1.5, -2.5]))
    >>> w.astype(np.float32).dtype
    dtype('float32')
    >>> w.astype(int)
    array([ 1, -2])
    """
    v = as_constant(x)
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"astype: {exc}") from None
    if not np.can_cast(v.dtype, dt, casting=casting):  # type: ignore[arg-type]
        raise TypeError(f"astype: cannot cast from {v.dtype} to {dt} with casting={casting!r}")
    if dt.kind in "biu":
        return np.asarray(v.data).astype(dt)
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"astype: microgd Values compute in float32 and float64, not {dt} "
                        "(use v.data.astype(...) for the numbers, without a gradient)")
    if not copy and dt == v.dtype:
        return v
    return ops.astype(v, dtype=dt)


def copy(a: Any, order: str = "K", subok: bool = False) -> Value:
    """A new Value holding a copy of ``a``'s numbers, as ``numpy.copy`` (also
    ``v.copy()``); its derivative is the identity, so gradients flow through it.

    ``order`` and ``subok`` have no effect on a Value's numbers.

    Examples
    --------
    >>> import microgd as mg
    >>> w = mg.Value([1.0, 2.0])
    >>> c = w.copy()
    >>> c.data is w.data, (c * c).sum().op
    (False, 'sum')
    """
    v = as_constant(a)
    return ops.astype(v, dtype=v.dtype)


# ---- arrays from Values ---------------------------------------------------------------


def array(obj: Any, dtype: Any = None) -> Value:
    """A Value built from nested sequences of Values and numbers (``np.array`` for Values).

    Gradients flow to every Value inside; plain numbers are constants.  The
    result is float64 unless every Value in it is float32, or ``dtype`` (a
    float dtype) says otherwise.

    Examples
    --------
    >>> import microgd as mg
    >>> a = mg.Value(2.0)
    >>> m = mg.array([[a, 1.0], [3.0, a * a]])
    >>> m.shape, m.data.tolist()
    ((2, 2), [[2.0, 1.0], [3.0, 4.0]])
    >>> (g,) = mg.gradients(m.sum(), a)
    >>> float(g.data)    # d/da (a + 1 + 3 + a**2) = 1 + 2a
    5.0
    """
    out = _array(obj)
    if dtype is not None and np.dtype(dtype) != out.dtype:
        out = astype(out, dtype)
    return out


def _array(obj: Any) -> Value:
    if isinstance(obj, Value):
        return obj
    if not isinstance(obj, (list, tuple)) or not _holds_value(obj):
        return Value(obj, requires_grad=False)
    items = [_array(item) for item in obj]
    if not items:
        raise ValueError("array: an empty sequence holds no Values")
    shapes = {x.shape for x in items}
    if len(shapes) > 1:
        raise ValueError(f"array: the items of a sequence must have one shape (a ragged "
                         f"nested sequence cannot make an array), got {sorted(shapes)}")
    new = (1, *items[0].shape)
    return ops.concatenate(*[ops.reshape(x, shape=new) for x in items], axis=0)


def _holds_value(obj: Any) -> bool:
    stack_ = [obj]
    while stack_:
        item = stack_.pop()
        if isinstance(item, Value):
            return True
        if isinstance(item, (list, tuple)):
            stack_.extend(item)
    return False


# ---- NumPy's signatures -------------------------------------------------------------------


def _np_reshape(a: Any, shape: Any = None, order: str = "C", *, newshape: Any = None,
                copy: Any = None) -> Value:
    if order != "C":
        raise TypeError("numpy.reshape with order= is not supported on microgd Values")
    return reshape(a, shape if shape is not None else newshape)


def _np_transpose(a: Any, axes: Any = None) -> Value:
    return transpose(a, axes)


def _np_astype(x: Any, dtype: Any, /, *, copy: bool = True, device: Any = None) -> Any:
    if device not in (None, "cpu"):
        reject("astype", device=device)
    return astype(x, dtype, copy=copy)


UFUNCS: dict[Any, Any] = {}
"""NumPy ufuncs of this family that return a Value when given one."""

FUNCTIONS: dict[Any, Any] = {
    np.reshape: _np_reshape,
    np.copy: copy,
    np.broadcast_to: broadcast_to,
    np.transpose: _np_transpose,
    np.ravel: ravel,
    np.squeeze: squeeze,
    np.expand_dims: expand_dims,
    np.atleast_1d: atleast_1d,
    np.atleast_2d: atleast_2d,
    np.atleast_3d: atleast_3d,
    np.moveaxis: moveaxis,
    np.swapaxes: swapaxes,
    np.flip: flip,
    np.fliplr: fliplr,
    np.flipud: flipud,
    np.rot90: rot90,
    np.roll: roll,
}
"""NumPy functions of this family that return a Value when given one."""
if hasattr(np, "astype"):  # NumPy >= 2.1
    FUNCTIONS[np.astype] = _np_astype

METHODS = ("reshape", "transpose", "ravel", "flatten", "squeeze", "swapaxes", "astype", "copy")
"""The functions of this family that are also methods ``v.NAME(...)``."""
