"""Picking and sorting: take, take_along_axis, sort, select.

``take`` and ``take_along_axis`` are integer-array indexing (``getitem``, whose
gradient ``index_add`` adds up repeated picks); ``sort`` is a primitive whose
gradient goes back through the stable sorting permutation; ``select`` is a
chain of ``where``.  ``UFUNCS``/``FUNCTIONS``/``METHODS`` as in
:mod:`microgd.functions.elementwise`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from microgd import ops
from microgd.functions._common import reject
from microgd.functions.shape import _axis, ravel
from microgd.ops.shape import along_axis_index
from microgd.value import Value, as_array, as_constant

__all__ = ["select", "sort", "take", "take_along_axis"]


def _indices(name: str, indices: Any) -> np.ndarray:
    """Integer indices as an array; floats and bools are refused (NumPy would cast them)."""
    idx = np.asarray(as_array(indices))
    if idx.size == 0 and idx.dtype.kind == "f":
        return idx.astype(np.intp)  # `[]` is a float64 array
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{name}: indices must be integers, got an array of dtype {idx.dtype}")
    return idx


def _check_bounds(name: str, idx: np.ndarray, n: int, shape: tuple[int, ...], ax: Any) -> None:
    if idx.size and (idx.min() < -n or idx.max() >= n):
        bad = idx[(idx < -n) | (idx >= n)].flat[0]
        where = "the flattened Value" if ax is None else f"axis {ax}"
        raise IndexError(f"{name}: index {bad} is out of bounds for {where} with size {n} "
                         f"(Value of shape {shape})")


def take(a: Any, indices: Any, axis: int | None = None, out: Any = None,
         mode: str = "raise") -> Value:
    """Elements of ``a`` at integer ``indices`` along ``axis`` (of the flattened ``a`` when None).

    As ``numpy.take`` (also ``v.take(...)``): negative indices count from the
    end; ``mode='wrap'`` wraps out-of-range indices around and ``'clip'``
    clips them (negative ones to 0).  An element picked several times gets
    the sum of those gradients.

    Examples
    --------
    >>> import microgd as mg
    >>> x = mg.Value([1.0, 2.0, 3.0])
    >>> y = mg.take(x, [0, -1, 0])
    >>> y.data.tolist()
    [1.0, 3.0, 1.0]
    >>> y.sum().backward()
    >>> x.grad.tolist()
    [2.0, 0.0, 1.0]
    """
    reject("take", out=out)
    x = as_constant(a)
    idx = _indices("take", indices)
    if axis is None:
        x, ax = ravel(x), 0
    else:
        ax = _axis("take", axis, x.ndim)
    n = x.shape[ax]
    if mode == "wrap":
        if n == 0 and idx.size:
            raise IndexError("take: cannot wrap indices around an empty axis")
        idx = np.mod(idx, n) if n else idx
    elif mode == "clip":
        if n == 0 and idx.size:
            raise IndexError("take: cannot clip indices to an empty axis")
        idx = np.clip(idx, 0, n - 1) if n else idx
    elif mode == "raise":
        _check_bounds("take", idx, n, as_constant(a).shape, axis)
    else:
        raise ValueError(f"take: mode must be 'raise', 'wrap' or 'clip', got {mode!r}")
    return ops.getitem(x, index=(slice(None),) * ax + (idx,))


def take_along_axis(arr: Any, indices: Any, axis: int | None = -1) -> Value:
    """Pick along ``axis`` with ``indices`` of as many dims, as ``numpy.take_along_axis``.

    The natural partner of ``np.argsort``/``np.argmax(..., keepdims=True)``
    on the data; repeated indices add up their gradients.

    Examples
    --------
    >>> import microgd as mg
    >>> import numpy as np
    >>> x = mg.Value([[3.0, 1.0], [0.0, 5.0]])
    >>> mg.take_along_axis(x, np.argmax(x.data, axis=1, keepdims=True), axis=1).data.tolist()
    [[3.0], [5.0]]
    """
    x = as_constant(arr)
    idx = _indices("take_along_axis", indices)
    if axis is None:
        if idx.ndim != 1:
            raise ValueError(f"take_along_axis: with axis=None the indices must be 1-d, got "
                             f"shape {idx.shape}")
        x, ax = ravel(x), 0
    else:
        ax = _axis("take_along_axis", axis, x.ndim)
    _check_bounds("take_along_axis", idx, x.shape[ax], x.shape, ax)
    try:
        index = along_axis_index(idx, ax, x.shape)
    except ValueError as exc:
        raise ValueError(f"take_along_axis: {exc} (Value of shape {x.shape}, indices of "
                         f"shape {idx.shape})") from None
    return ops.getitem(x, index=index)


def sort(a: Any, axis: int | None = -1, kind: str | None = None, order: Any = None, *,
         stable: bool | None = None) -> Value:
    """A sorted copy of ``a`` along ``axis`` (of the flattened ``a`` when None), as ``numpy.sort``.

    The sort is always stable, whatever ``kind`` or ``stable`` say (a stable
    order is one an unstable sort may give too): tied elements keep
    their order, so each output position takes its gradient from one input
    (the first of the ties goes first), as ``torch.sort(stable=True)`` and
    ``jax.numpy.sort``.  The gradient goes back through the permutation.

    ``v.sort()`` sorts in place, as ``ndarray.sort``: it returns None and
    ``v`` becomes the sorted Value (see ``Value.sort``).

    Examples
    --------
    >>> import microgd as mg
    >>> x = mg.Value([3.0, 1.0, 2.0])
    >>> y = mg.sort(x)
    >>> y.data.tolist()
    [1.0, 2.0, 3.0]
    >>> (y * mg.Value([1.0, 10.0, 100.0], requires_grad=False)).sum().backward()
    >>> x.grad.tolist()
    [100.0, 1.0, 10.0]
    """
    if order is not None:
        raise TypeError("sort: order= (fields of structured arrays) is not supported on "
                        "microgd Values")
    x = as_constant(a)
    if axis is None:
        x, axis = ravel(x), 0
    return ops.sort(x, axis=_axis("sort", axis, x.ndim))


def select(condlist: Sequence[Any], choicelist: Sequence[Any], default: Any = 0) -> Value:
    """Elementwise, the choice of the first true condition (else ``default``), as ``numpy.select``.

    Conditions are boolean arrays (constants); choices and ``default`` may be
    Values, and all broadcast together.  Written as a chain of ``where``.

    Examples
    --------
    >>> import microgd as mg
    >>> import numpy as np
    >>> x = mg.Value(np.array([-2.0, 0.5, 3.0]))
    >>> mg.select([x.data < 0, x.data < 1], [-x, x * x], default=1.0).data.tolist()
    [2.0, 0.25, 1.0]
    """
    conds, choices = list(condlist), list(choicelist)
    if len(conds) != len(choices):
        raise ValueError(f"select: {len(conds)} conditions given for {len(choices)} choices "
                         "(the lists must have the same length)")
    if not conds:
        raise ValueError("select: needs at least one condition")
    masks = []
    for i, c in enumerate(conds):
        mask = np.asarray(as_array(c))
        if mask.dtype != np.bool_:
            raise TypeError(f"select: condition {i} must be a boolean array, got dtype "
                            f"{mask.dtype}")
        masks.append(mask)
    out = default
    # The last condition first, so the first true one has the last word.
    for mask, choice in zip(reversed(masks), reversed(choices), strict=True):
        if not isinstance(out, Value) and not isinstance(choice, Value):
            choice = as_constant(choice)
        out = ops.where(choice, out, cond=mask)
    return out


# ---- NumPy's signatures -------------------------------------------------------------------


def _np_take_along_axis(arr: Any, indices: Any, axis: int | None = -1) -> Value:
    return take_along_axis(arr, indices, axis)


UFUNCS: dict[Any, Any] = {}
"""NumPy ufuncs of this family that return a Value when given one."""

FUNCTIONS: dict[Any, Any] = {
    np.take: take,
    np.take_along_axis: _np_take_along_axis,
    np.sort: sort,
    np.select: select,
}
"""NumPy functions of this family that return a Value when given one."""

METHODS = ("take",)
"""The functions of this family that are also methods ``v.NAME(...)``; ``v.sort()`` is
``Value``'s own method, because it sorts in place as ``ndarray.sort`` does."""
