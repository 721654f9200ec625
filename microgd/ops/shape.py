"""Shape plumbing: broadcasting and its undoing, reshaping, indexing, joining, sorting.

Also the helpers every family uses to undo NumPy broadcasting and to expand a
reduction's gradient back over the reduced axes.  Most of NumPy's shape
vocabulary (``ravel``, ``flip``, ``tile``, ``pad``, ``take``, ``split``, ...)
needs no primitive of its own: ``microgd.functions`` writes it exactly with
these (reshape, transpose, getitem, index_add, concatenate, broadcast_to).
"""

from __future__ import annotations

import builtins
import math
from typing import Any

import numpy as np

from microgd.autodiff import Primitive
from microgd.value import as_array


def _shape(x: Any) -> tuple[int, ...]:
    return getattr(x, "shape", ())


def _unbroadcast(g: Any, x: Any) -> Any:
    """Sum ``g`` back down to the shape of input ``x`` (undoing NumPy broadcasting)."""
    shape = x.shape  # x is an input that requires grad: an array or a Value
    if g.shape == shape:
        return g
    # An array g (a first-order pass): sum_to's forward without the primitive's call.
    return _sum_to_fwd(g, shape) if type(g) is np.ndarray else sum_to(g, shape=shape)


def _axes(axis: Any, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else axis
    return tuple(a % ndim if ndim else a for a in axes)


def _kept(x: Any, axis: Any) -> tuple[int, ...]:
    """The shape of ``x`` reduced over ``axis`` with ``keepdims=True``."""
    shape = _shape(x)
    reduced = _axes(axis, len(shape))
    return tuple(1 if i in reduced else n for i, n in enumerate(shape))


def _expand(g: Any, x: Any, axis: Any, keepdims: bool) -> Any:
    """Broadcast a reduction's gradient back over the reduced axes of ``x``."""
    if not keepdims and axis is not None:  # a 0-d g (axis=None) broadcasts as it is
        g = reshape(g, shape=_kept(x, axis))
    if isinstance(g, (np.ndarray, np.generic)):  # a first-order pass: no primitive's call
        return _broadcast_to_fwd(g, _shape(x))
    return broadcast_to(g, shape=_shape(x))


def _reduced_size(x: Any, axis: Any) -> int:
    """How many elements of ``x`` each result of a reduction over ``axis`` combines."""
    shape = _shape(x)
    return math.prod([shape[a] for a in _axes(axis, len(shape))])


# ---- broadcasting and its undoing (each the other's VJP) ------------------------


def _sum_to_fwd(x: Any, shape: tuple[int, ...]) -> Any:
    lead = x.ndim - len(shape)
    if lead == 1 and x.shape[1:] == shape:  # one axis in front, as a bias over a batch
        return np.add.reduce(x, axis=0)
    kept = tuple(i for i, n in enumerate(shape, lead) if n == 1 and x.shape[i] != 1)
    # np.add.reduce is what x.sum() calls, without the Python-level wrapper.
    if kept:
        x = np.add.reduce(x, axis=kept, keepdims=True)
    return np.add.reduce(x, axis=tuple(range(lead))) if lead else x


sum_to: Primitive = Primitive(
    "sum_to", _sum_to_fwd,
    lambda g, ans, x, shape: broadcast_to(g, shape=_shape(x)),
    linear=True,
)


def _broadcast_to_fwd(x: Any, shape: tuple[int, ...]) -> Any:
    if not isinstance(x, (np.ndarray, np.generic)):
        x = np.asarray(x)
    if x.size == 1 and math.prod(shape) <= 4096:
        # Small results from one element (the VJP of a full sum): a filled array
        # costs less than np.broadcast_to building a read-only view.
        out = np.empty(shape, dtype=x.dtype)
        out[...] = x
        return out
    return np.broadcast_to(x, shape)


broadcast_to: Primitive = Primitive(
    "broadcast_to", _broadcast_to_fwd,
    lambda g, ans, x, shape: sum_to(g, shape=_shape(x)),
    linear=True,
    error="cannot broadcast shape {0} to {shape}",
)

# ---- reshaping -------------------------------------------------------------------

reshape: Primitive = Primitive(
    "reshape", lambda x, shape: np.reshape(x, shape),
    lambda g, ans, x, shape: reshape(g, shape=_shape(x)),
    linear=True,
    error="cannot reshape shape {0} into {shape}",
)


def _inverse(axes: Any, ndim: int) -> Any:
    # Axes may count from the end (as NumPy allows): normalize before inverting.
    return None if axes is None else tuple(int(i) for i in np.argsort([a % ndim for a in axes]))


transpose: Primitive = Primitive(
    "transpose", lambda x, axes: np.transpose(x, axes),
    lambda g, ans, x, axes: transpose(g, axes=_inverse(axes, len(_shape(x)))),
    linear=True,
    error="axes {axes} do not match shape {0}",
)

# ---- indexing --------------------------------------------------------------------


def _is_basic(index: Any) -> bool:
    """Basic indexing (ints, slices, None, ...) never repeats an element."""
    items = index if isinstance(index, tuple) else (index,)
    return all(
        i is None or i is Ellipsis or isinstance(i, (int, np.integer, slice)) for i in items
    )


def _index_add_fwd(g: Any, index: Any, shape: tuple[int, ...]) -> Any:
    out = np.zeros(shape, dtype=np.result_type(g))
    if _is_basic(index):
        out[index] = g
    else:
        np.add.at(out, index, g)  # repeated indices accumulate
    return out


getitem: Primitive = Primitive(
    "getitem", lambda x, index: x[index],
    lambda g, ans, x, index: index_add(g, index=index, shape=_shape(x)),
    linear=True,
)

index_add: Primitive = Primitive(
    "index_add", _index_add_fwd,
    lambda g, ans, x, index, shape: getitem(g, index=index),
    linear=True,
)

# ---- joining ---------------------------------------------------------------------


def _concat_vjp(i: int, g: Any, ans: Any, *xs: Any, axis: int) -> Any:
    ax = axis % len(_shape(ans))
    start = builtins.sum(_shape(x)[ax] for x in xs[:i])
    sl = (slice(None),) * ax + (slice(start, start + _shape(xs[i])[ax]),)
    return getitem(g, index=sl)


concatenate: Primitive = Primitive(
    "concatenate", lambda *xs, axis: np.concatenate(xs, axis=axis),
    vjp_any=_concat_vjp,
    linear=True,
)

# ---- rolling, sorting, casting ------------------------------------------------------


def _negated(shift: Any) -> Any:
    return tuple(-s for s in shift) if isinstance(shift, tuple) else -shift


roll: Primitive = Primitive(
    "roll", lambda x, shift, axis: np.roll(x, shift, axis=axis),
    lambda g, ans, x, shift, axis: roll(g, shift=_negated(shift), axis=axis),
    linear=True,
)


def along_axis_index(indices: np.ndarray, axis: int, shape: tuple[int, ...]) -> tuple:
    """The index ``ix`` with ``a[ix] == np.take_along_axis(a, indices, axis)``, ``a`` of ``shape``.

    ``indices`` and ``shape`` broadcast together except along ``axis`` (as in
    NumPy); the other axes are indexed by broadcast ``arange``s, so ``a[ix]`` is
    a plain integer-array index whose gradient is ``index_add`` (repeats add up).
    """
    nd = len(shape)
    if indices.ndim != nd:
        raise ValueError(f"indices of {indices.ndim} dims given for an array of {nd} dims "
                         "(they must have the same number of dims)")
    ax = axis % nd
    rest = np.broadcast_shapes(tuple(1 if i == ax else n for i, n in enumerate(shape)),
                               tuple(1 if i == ax else n for i, n in enumerate(indices.shape)))
    full = rest[:ax] + (indices.shape[ax],) + rest[ax + 1:]
    ix: list[Any] = []
    for i, n in enumerate(full):
        if i == ax:
            ix.append(np.broadcast_to(indices, full))
        else:
            # An axis of length 1 in `shape` broadcasts: index 0 of it, n times.
            picks = np.arange(n) if shape[i] == n else np.zeros(n, dtype=np.intp)
            ix.append(picks.reshape((1,) * i + (n,) + (1,) * (nd - i - 1)))
    return tuple(ix)


def _sort_order(x: Any, axis: int) -> np.ndarray:
    # Stable: tied entries keep their order, so each sorted position takes its
    # gradient from one definite input (as torch.sort(stable=True) and jax.numpy.sort).
    return np.argsort(as_array(x), axis=axis, kind="stable")


def _sort_vjp(g: Any, ans: Any, x: Any, axis: int) -> Any:
    order = _sort_order(x, axis)
    inverse = np.empty_like(order)
    np.put_along_axis(inverse, order, np.arange(order.shape[axis]).reshape(
        [-1 if i == axis % order.ndim else 1 for i in range(order.ndim)]), axis=axis)
    return getitem(g, index=along_axis_index(inverse, axis, _shape(x)))


sort: Primitive = Primitive(
    "sort", lambda x, axis: np.sort(x, axis=axis, kind="stable"), _sort_vjp,
    jvps=(lambda t, ans, x, axis:
          getitem(t, index=along_axis_index(_sort_order(x, axis), axis, _shape(x))),),
)


def _astype_fwd(x: Any, dtype: np.dtype) -> Any:
    return np.asarray(x).astype(dtype)


astype: Primitive = Primitive(
    "astype", _astype_fwd,
    # The gradient is cast back to the input's dtype (float32 <-> float64).
    lambda g, ans, x, dtype: astype(g, dtype=np.dtype(getattr(x, "dtype", np.float64))),
    linear=True,
)

__all__ = [
    "sum_to", "broadcast_to", "reshape", "transpose", "getitem", "index_add", "concatenate",
    "roll", "sort", "astype", "along_axis_index",
]
