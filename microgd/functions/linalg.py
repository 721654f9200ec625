"""Linear algebra: products, diagonals and triangles (``np.linalg`` is in :mod:`microgd.linalg`).

Every product is ``matmul`` (the common 1-D and 2-D cases, fast) or one
``einsum`` node, whose gradient is another einsum; diagonals are indexing and
triangles a mask, so none needs derivative code of its own.

``UFUNCS``/``FUNCTIONS``/``METHODS`` as in :mod:`microgd.functions.elementwise`;
``FUNCTIONS`` also holds NumPy's ``np.linalg`` functions, which
:mod:`microgd.linalg` implements.
"""

from __future__ import annotations

import builtins
import functools
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from microgd import ops
from microgd.functions._common import reject
from microgd.functions._subscripts import explicit, sublists
from microgd.ops.linalg import LETTERS
from microgd.value import Value, as_array, as_constant

__all__ = ["cross", "diag", "diagflat", "diagonal", "dot", "einsum", "inner", "kron", "outer",
           "tensordot", "trace", "tril", "triu", "vdot"]


def _values(*xs: Any) -> list[Any]:
    """The operands, with the first made a constant Value when none is a Value."""
    items = [x if isinstance(x, Value) else np.asarray(x) for x in xs]
    if items and not builtins.any(isinstance(x, Value) for x in items):
        items[0] = as_constant(items[0])
    return items


def _shape(x: Any) -> tuple[int, ...]:
    return tuple(np.shape(as_array(x)))


def _axis(name: str, axis: Any, ndim: int, what: str = "axis") -> int:
    ax = int(axis)
    if not -ndim <= ax < ndim:
        raise np.exceptions.AxisError(f"{name}: {what} {ax} is out of bounds for an array of "
                                      f"dimension {ndim}")
    return ax % ndim


def _contract(name: str, terms: Sequence[str], out: str, xs: Sequence[Any]) -> Value:
    """``einsum`` of explicit subscripts, every letter of one size (products never broadcast)."""
    sizes: dict[str, int] = {}
    for k, (term, x) in enumerate(zip(terms, xs, strict=True)):
        for d, (letter, n) in enumerate(zip(term, _shape(x), strict=True)):
            if sizes.setdefault(letter, n) != n:
                shapes = " and ".join(str(_shape(y)) for y in xs)
                raise ValueError(f"{name}: shapes {shapes} are not aligned: dimension {d} of "
                                 f"operand {k} has size {n}, the dimension it is summed with "
                                 f"has size {sizes[letter]}")
    return ops.einsum(*xs, subscripts=",".join(terms) + "->" + out)


# ---- einsum ------------------------------------------------------------------------


def einsum(*operands: Any, optimize: Any = False) -> Value:
    """Einstein summation, as ``numpy.einsum``: explicit or implicit output, '...', any
    number of operands, and the sublist form ``einsum(a, [0, 1], b, [1, 2])``.

    One primitive node; its gradient for each operand is another einsum.  Letters
    of size 1 broadcast, as in NumPy.  ``optimize`` is accepted and ignored: the
    contraction order is chosen by the size of the problem.

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> a = mg.Value(np.arange(6.0).reshape(2, 3))
    >>> mg.einsum('ij,ij->i', a, a).data.tolist()    # row-wise squared norms
    [5.0, 50.0]
    >>> mg.einsum('ii', mg.Value(np.eye(3))).item()  # trace
    3.0
    """
    if not operands:
        raise ValueError("einsum: no operands given")
    if isinstance(operands[0], str):
        subscripts, xs = operands[0], list(operands[1:])
    else:
        subscripts, xs = sublists(operands)
    if not xs:
        raise ValueError(f"einsum: subscripts {subscripts!r} but no operands")
    items = _values(*xs)
    shapes = tuple(_shape(x) for x in items)
    return ops.einsum(*items, subscripts=explicit(subscripts, shapes))


# ---- products ----------------------------------------------------------------------


def dot(a: Any, b: Any) -> Value:
    """Dot product, as ``numpy.dot``: sums over the last axis of ``a`` and the
    second-to-last of ``b`` (the only one when ``b`` is 1-D); scalars multiply.

    Examples
    --------
    >>> import microgd as mg
    >>> w = mg.Value([1.0, 2.0])
    >>> mg.dot([[1.0, 0.0], [1.0, 1.0]], w).data.tolist()
    [1.0, 3.0]
    >>> w.dot(w).item()
    5.0
    """
    a, b = _values(a, b)
    sa, sb = _shape(a), _shape(b)
    if not sa or not sb:
        return ops.mul(a, b)
    kb = 0 if len(sb) == 1 else len(sb) - 2
    if sa[-1] != sb[kb]:
        raise ValueError(f"dot: shapes {sa} and {sb} are not aligned: {sa[-1]} (dim "
                         f"{len(sa) - 1}) != {sb[kb]} (dim {kb})")
    if len(sa) <= 2 and len(sb) <= 2:
        return ops.matmul(a, b)
    ta = LETTERS[:len(sa)]
    tb = LETTERS[len(sa):len(sa) + len(sb)]
    tb = tb[:kb] + ta[-1] + tb[kb + 1:]
    return _contract("dot", [ta, tb], ta[:-1] + tb[:kb] + tb[kb + 1:], [a, b])


def vdot(a: Any, b: Any) -> Value:
    """``sum(a.ravel() * b.ravel())``, as ``numpy.vdot`` on real arrays."""
    a, b = _values(a, b)
    if _size(a) != _size(b):
        raise ValueError(f"vdot: shapes {_shape(a)} and {_shape(b)} have different sizes "
                         f"({_size(a)} and {_size(b)})")
    return ops.matmul(ops.reshape(a, shape=(-1,)), ops.reshape(b, shape=(-1,)))


def _size(x: Any) -> int:
    return int(np.prod(_shape(x), dtype=np.int64))


def inner(a: Any, b: Any) -> Value:
    """Sum over the last axes of ``a`` and ``b``, as ``numpy.inner``: shape
    ``a.shape[:-1] + b.shape[:-1]``; scalars multiply."""
    a, b = _values(a, b)
    sa, sb = _shape(a), _shape(b)
    if not sa or not sb:
        return ops.mul(a, b)
    if len(sa) == 1 == len(sb) and sa == sb:
        return ops.matmul(a, b)
    ta = LETTERS[:len(sa)]
    tb = LETTERS[len(sa):len(sa) + len(sb) - 1] + ta[-1]
    return _contract("inner", [ta, tb], ta[:-1] + tb[:-1], [a, b])


def outer(a: Any, b: Any) -> Value:
    """``a.ravel()[:, None] * b.ravel()[None, :]``, as ``numpy.outer``."""
    a, b = _values(a, b)
    return ops.reshape(a, shape=(-1, 1)) * ops.reshape(b, shape=(1, -1))


def tensordot(a: Any, b: Any, axes: Any = 2) -> Value:
    """Sum over ``axes``, as ``numpy.tensordot``: an int N (the last N axes of ``a`` with
    the first N of ``b``) or a pair of axis sequences; the result has ``a``'s remaining
    axes, then ``b``'s.

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> a = mg.Value(np.ones((2, 3, 4)))
    >>> mg.tensordot(a, np.ones((3, 4, 5))).shape
    (2, 5)
    >>> mg.tensordot(a, np.ones((4, 2)), axes=([0, 2], [1, 0])).shape
    (3,)
    """
    a, b = _values(a, b)
    sa, sb = _shape(a), _shape(b)
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        if n < 0 or n > len(sa) or n > len(sb):
            raise ValueError(f"tensordot: axes={n} for shapes {sa} and {sb}")
        axes_a, axes_b = list(range(len(sa) - n, len(sa))), list(range(n))
    else:
        try:
            first, second = axes
        except (TypeError, ValueError):
            raise ValueError(f"tensordot: axes must be an int or a pair of axis sequences, "
                             f"got {axes!r}") from None
        axes_a = [int(first)] if isinstance(first, (int, np.integer)) else list(first)
        axes_b = [int(second)] if isinstance(second, (int, np.integer)) else list(second)
        if len(axes_a) != len(axes_b):
            raise ValueError(f"tensordot: axes {axes!r} pair {len(axes_a)} axes of a with "
                             f"{len(axes_b)} of b")
        axes_a = [_axis("tensordot", x, len(sa)) for x in axes_a]
        axes_b = [_axis("tensordot", x, len(sb)) for x in axes_b]
    if len(set(axes_a)) < len(axes_a) or len(set(axes_b)) < len(axes_b):
        raise ValueError(f"tensordot: repeated axes in {axes!r}")
    ta = LETTERS[:len(sa)]
    tb = list(LETTERS[len(sa):len(sa) + len(sb)])
    for i, j in zip(axes_a, axes_b, strict=True):
        tb[j] = ta[i]
    out = "".join(c for i, c in enumerate(ta) if i not in axes_a) + "".join(
        c for j, c in enumerate(tb) if j not in axes_b)
    return _contract("tensordot", [ta, "".join(tb)], out, [a, b])


def kron(a: Any, b: Any) -> Value:
    """Kronecker product, as ``numpy.kron`` (the shorter shape is padded with 1s in front).

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> mg.kron(mg.Value(np.eye(2)), np.ones((1, 2))).data.tolist()
    [[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]]
    """
    a, b = _values(a, b)
    sa, sb = _shape(a), _shape(b)
    nd = builtins.max(len(sa), len(sb))
    sa, sb = (1,) * (nd - len(sa)) + sa, (1,) * (nd - len(sb)) + sb
    # a[i0, 1, i1, 1, ...] * b[1, j0, 1, j1, ...] has the blocks in order; merge the pairs.
    wide_a = ops.reshape(a, shape=tuple(x for n in sa for x in (n, 1)))
    wide_b = ops.reshape(b, shape=tuple(x for n in sb for x in (1, n)))
    return ops.reshape(wide_a * wide_b, shape=tuple(m * n for m, n in zip(sa, sb, strict=True)))


_LEVI_CIVITA = np.zeros((3, 3, 3))
for _i, _j, _k in ((0, 1, 2), (1, 2, 0), (2, 0, 1)):
    _LEVI_CIVITA[_i, _j, _k], _LEVI_CIVITA[_j, _i, _k] = 1.0, -1.0


def _to_end(x: Any, axis: int) -> Any:
    nd = len(_shape(x))
    if axis == nd - 1:
        return x
    return ops.transpose(x, axes=tuple(i for i in range(nd) if i != axis) + (axis,))


def cross(a: Any, b: Any, axisa: int = -1, axisb: int = -1, axisc: int = -1,
          axis: int | None = None) -> Value:
    """Cross product of 3-vectors along an axis, as ``numpy.cross`` (batch axes broadcast;
    2-vectors count as having z = 0, and two 2-vectors give the z component, both
    deprecated in NumPy 2 and warned about the same way).

    Examples
    --------
    >>> import microgd as mg
    >>> mg.cross(mg.Value([1.0, 0.0, 0.0]), [0.0, 1.0, 0.0]).data.tolist()
    [0.0, 0.0, 1.0]
    """
    a, b = _values(a, b)
    if axis is not None:
        axisa = axisb = axisc = axis
    for x, ax, nm in ((a, axisa, "axisa"), (b, axisb, "axisb")):
        if not _shape(x):
            raise ValueError("cross: the operands must have at least one dimension")
        _axis("cross", ax, len(_shape(x)), nm)
    a = _to_end(a, _axis("cross", axisa, len(_shape(a))))
    b = _to_end(b, _axis("cross", axisb, len(_shape(b))))
    na, nb = _shape(a)[-1], _shape(b)[-1]
    if na not in (2, 3) or nb not in (2, 3):
        raise ValueError(f"cross: incompatible dimensions for cross product (dimension must "
                         f"be 2 or 3), got {na} and {nb}")
    dtype = np.result_type(as_array(a), as_array(b), np.float32)
    if na == 2 or nb == 2:
        warnings.warn("Arrays of 2-dimensional vectors are deprecated. Use arrays of "
                      "3-dimensional vectors instead. (deprecated in NumPy 2.0)",
                      DeprecationWarning, stacklevel=2)
    if na == nb == 2:
        return einsum("...i,...j,ij->...", a, b, np.array([[0.0, 1.0], [-1.0, 0.0]], dtype))
    if na == 2:
        a = _pad_z(a, dtype)
    if nb == 2:
        b = _pad_z(b, dtype)
    c = einsum("...i,...j,ijk->...k", a, b, _LEVI_CIVITA.astype(dtype))
    nd = len(_shape(c))
    ac = _axis("cross", axisc, nd, "axisc")
    if ac == nd - 1:
        return c
    order = list(range(nd - 1))
    order.insert(ac, nd - 1)
    return ops.transpose(c, axes=tuple(order))


def _pad_z(x: Any, dtype: Any) -> Any:
    return ops.concatenate(x, np.zeros(_shape(x)[:-1] + (1,), dtype), axis=-1)


# ---- diagonals and triangles ---------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _diagonal_index(rows: int, cols: int, offset: int) -> tuple[Any, Any]:
    """The row and column indices of the ``offset`` diagonal (read-only: they are cached)."""
    n = builtins.max(0, builtins.min(rows + builtins.min(offset, 0),
                                     cols - builtins.max(offset, 0)))
    r = np.arange(n)
    index = r + builtins.max(-offset, 0), r + builtins.max(offset, 0)
    for i in index:
        i.flags.writeable = False
    return index


def diagonal(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Value:
    """The diagonal ``a[i, i + offset]`` of the matrices on ``axis1``, ``axis2``, as
    ``numpy.diagonal``: those axes are removed and the diagonal is the last axis.

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> a = mg.Value(np.arange(9.0).reshape(3, 3))
    >>> mg.diagonal(a).data.tolist(), a.diagonal(1).data.tolist()
    ([0.0, 4.0, 8.0], [1.0, 5.0])
    """
    a = as_constant(a)
    nd = a.ndim
    if nd < 2:
        raise ValueError(f"diagonal: the array must be at least 2-d, got shape {a.shape}")
    ax1, ax2 = _axis("diagonal", axis1, nd, "axis1"), _axis("diagonal", axis2, nd, "axis2")
    if ax1 == ax2:
        raise ValueError(f"diagonal: axis1 and axis2 cannot be the same ({axis1}, {axis2})")
    rows, cols = _diagonal_index(a.shape[ax1], a.shape[ax2], int(offset))
    rest = tuple(i for i in range(nd) if i not in (ax1, ax2))
    moved = a if rest + (ax1, ax2) == tuple(range(nd)) else ops.transpose(
        a, axes=rest + (ax1, ax2))
    return ops.getitem(moved, index=(Ellipsis, rows, cols))


def trace(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Value:
    """Sum of the diagonal (``offset`` above the main one), as ``numpy.trace``.

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> mg.trace(mg.Value(np.arange(9.0).reshape(3, 3))).item()
    12.0
    """
    return ops.sum(diagonal(a, offset, axis1, axis2), axis=-1, keepdims=False)


def diag(v: Any, k: int = 0) -> Value:
    """As ``numpy.diag``: the ``k``-th diagonal of a 2-D ``v``, or the square matrix with
    the 1-D ``v`` on its ``k``-th diagonal."""
    v = as_constant(v)
    k = int(k)
    if v.ndim == 2:
        return diagonal(v, k)
    if v.ndim != 1:
        raise ValueError(f"diag: input must be 1-d or 2-d, got shape {v.shape}")
    n = v.shape[0] + abs(k)
    rows, cols = _diagonal_index(n, n, k)
    return ops.index_add(v, index=(rows, cols), shape=(n, n))


def diagflat(v: Any, k: int = 0) -> Value:
    """The square matrix with the flattened ``v`` on its ``k``-th diagonal, as
    ``numpy.diagflat``."""
    return diag(ops.reshape(as_constant(v), shape=(-1,)), k)


def _triangle(name: str, m: Any, k: int, lower: bool) -> Value:
    m = as_constant(m)
    if m.ndim < 1:
        raise ValueError(f"{name}: input must be at least 1-d, got shape {m.shape}")
    rows, cols = m.shape[-2:] if m.ndim >= 2 else (m.shape[-1], m.shape[-1])
    keep = np.tri(rows, cols, k=k, dtype=bool) if lower else ~np.tri(rows, cols, k=k - 1,
                                                                      dtype=bool)
    return ops.where(m, 0.0, cond=keep)


def tril(m: Any, k: int = 0) -> Value:
    """The lower triangle (on and below the ``k``-th diagonal) of the last two axes, zeros
    elsewhere, as ``numpy.tril``."""
    return _triangle("tril", m, int(k), True)


def triu(m: Any, k: int = 0) -> Value:
    """The upper triangle (on and above the ``k``-th diagonal) of the last two axes, zeros
    elsewhere, as ``numpy.triu``."""
    return _triangle("triu", m, int(k), False)


# ---- NumPy's signatures --------------------------------------------------------------


# NumPy's signatures; the common call (no out=, dtype=, ...) goes straight through.


def _np_dot(a: Any, b: Any, out: Any = None) -> Value:
    if out is not None:
        reject("dot", out=out)
    return dot(a, b)


def _np_outer(a: Any, b: Any, out: Any = None) -> Value:
    if out is not None:
        reject("outer", out=out)
    return outer(a, b)


def _np_einsum(*operands: Any, out: Any = None, optimize: Any = False, dtype: Any = None,
               order: str = "K", casting: str = "safe") -> Value:
    if out is not None or dtype is not None or order != "K" or casting != "safe":
        reject("einsum", out=out, dtype=dtype, order=None if order == "K" else order,
               casting=None if casting == "safe" else casting)
    return einsum(*operands)


def _np_trace(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1, dtype: Any = None,
              out: Any = None) -> Value:
    if dtype is not None or out is not None:
        reject("trace", dtype=dtype, out=out)
    return trace(a, offset, axis1, axis2)


UFUNCS: dict[Any, Any] = {np.matmul: ops.matmul}
"""NumPy ufuncs of this family that return a Value when given one."""

FUNCTIONS: dict[Any, Any] = {
    np.dot: _np_dot, np.vdot: vdot, np.inner: inner, np.outer: _np_outer,
    np.tensordot: tensordot, np.einsum: _np_einsum, np.kron: kron, np.cross: cross,
    np.trace: _np_trace, np.diag: diag, np.diagflat: diagflat, np.diagonal: diagonal,
    np.tril: tril, np.triu: triu,
}
"""NumPy functions of this family that return a Value when given one."""

METHODS: tuple[str, ...] = ("dot", "trace", "diagonal")
"""The functions of this family that are also methods ``v.NAME(...)``."""

# NumPy's np.linalg functions are microgd.linalg's, which builds on the products above
# (so it is imported here, at the end, and never the other way round at import time).
from microgd import linalg as _linalg  # noqa: E402

FUNCTIONS.update(_linalg.NUMPY)
