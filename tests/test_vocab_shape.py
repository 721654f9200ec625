"""The shape and construction vocabulary: derivatives, spellings, peers, hard cases.

Every name of DESIGN's "Shape and construction" line is differentiated to first
and second order, in forward and reverse mode, in float64 and float32
(``check``), with its axis/shift/reps/width/index arguments drawn by
hypothesis.  ``mg.NAME(v)``, ``np.NAME(v)`` and the method ``v.NAME()`` must
agree in value and gradient; values and gradients are compared with PyTorch and
HIPS autograd; and the cases that are easy to get wrong are checked against
explicit values: ties in ``sort`` (stable, as ``torch.sort(stable=True)`` and
JAX), repeated indices in ``take``/``take_along_axis`` (they add up),
``pad``'s corners, ``astype``'s gradient dtype, the in-place ``v.sort()`` and
the errors for bad arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from primitive_checks import arrays, check, covers, dtypes

import microgd as mg
from microgd import Value
from microgd.testing import check_grads
from microgd.testing import strategies as mst

SMALL = mst.shapes(max_dims=3, max_side=3)


def _axis_tuple(draw: Any, ndim: int, label: str) -> tuple[int, ...]:
    """Distinct axes of an ``ndim``-d array, maybe counted from the end."""
    axes = draw(st.lists(st.integers(0, ndim - 1), unique=True, max_size=ndim), label=label)
    return tuple(a - ndim if draw(st.booleans()) else a for a in axes)


# ---- reshaping ----------------------------------------------------------------------


@covers("ravel", "flatten", "squeeze", "expand_dims", "reshape")
@dtypes
@given(data=st.data())
def test_ravel_flatten_squeeze_expand_dims(dtype: Any, data: Any) -> None:
    shape = data.draw(mst.shapes(max_dims=3, min_side=1, max_side=2), label="shape")
    x = data.draw(arrays(shape, dtype), label="x")
    order = data.draw(st.sampled_from(["C", "F"]), label="order")
    check(lambda v: mg.ravel(v, order) ** 2, (x,), uses=["reshape"])
    check(lambda v: v.flatten(order) * v.ravel(), (x,), uses=["reshape"])
    ones = tuple(i for i, n in enumerate(shape) if n == 1)
    axis = data.draw(st.one_of(st.none(), st.sampled_from([ones] if ones else [()])),
                     label="squeeze axes")
    check(lambda v: v.squeeze(axis) ** 2, (x,), uses=["reshape"])
    out_nd = len(shape) + data.draw(st.integers(1, 2), label="new axes count")
    new = _axis_tuple(data.draw, out_nd, "new axes")[:out_nd - len(shape)]
    if len(new) == out_nd - len(shape):
        assert mg.expand_dims(x, new).shape == np.expand_dims(x, new).shape
        check(lambda v: mg.expand_dims(v, new) ** 2, (x,), uses=["reshape"])
    one = data.draw(st.integers(-len(shape) - 1, len(shape)), label="new axis")
    check(lambda v: mg.expand_dims(v, one) * 2.0, (x,), uses=["reshape"])


@covers("atleast_1d", "atleast_2d", "atleast_3d")
@dtypes
@given(data=st.data())
def test_atleast(dtype: Any, data: Any) -> None:
    shape = data.draw(mst.shapes(max_dims=4, max_side=2), label="shape")
    x = data.draw(arrays(shape, dtype), label="x")
    for fn, nd in ((mg.atleast_1d, 1), (mg.atleast_2d, 2), (mg.atleast_3d, 3)):
        assert fn(x).ndim == max(nd, x.ndim)
        check(lambda v, fn=fn: fn(v) ** 2, (x,))
        check(lambda v, fn=fn: fn(v, v * v)[1] * fn(v)[0], (x,))


# ---- permuting, flipping, rolling -------------------------------------------------------


@covers("moveaxis", "swapaxes", "transpose")
@dtypes
@given(data=st.data())
def test_moveaxis_swapaxes(dtype: Any, data: Any) -> None:
    shape = data.draw(mst.shapes(min_dims=1, max_side=3), label="shape")
    nd = len(shape)
    x = data.draw(arrays(shape, dtype), label="x")
    src = _axis_tuple(data.draw, nd, "source")
    dst = tuple(data.draw(st.permutations(range(nd)), label="destination")[:len(src)])
    assert mg.moveaxis(x, src, dst).shape == np.moveaxis(x, src, dst).shape
    check(lambda v: mg.moveaxis(v, src, dst) ** 2, (x,), uses=["transpose"] if src else [])
    i, j = (data.draw(st.integers(-nd, nd - 1), label=n) for n in "ij")
    check(lambda v: v.swapaxes(i, j) ** 2, (x,), uses=["transpose"])


@covers("flip", "fliplr", "flipud", "getitem", "index_add")
@dtypes
@given(data=st.data())
def test_flip(dtype: Any, data: Any) -> None:
    shape = data.draw(SMALL, label="shape")
    x = data.draw(arrays(shape, dtype), label="x")
    axis = data.draw(st.one_of(st.none(), st.just(_axis_tuple(data.draw, len(shape), "axes"))),
                     label="axis") if shape else None
    check(lambda v: mg.flip(v, axis) ** 2, (x,), uses=["getitem", "index_add"])
    if len(shape) >= 1:
        check(lambda v: mg.flipud(v) * v, (x,), uses=["getitem"])
    if len(shape) >= 2:
        check(lambda v: mg.fliplr(v) ** 2, (x,), uses=["getitem", "index_add"])


@covers("rot90")
@dtypes
@given(data=st.data())
def test_rot90(dtype: Any, data: Any) -> None:
    shape = data.draw(mst.shapes(min_dims=2, max_side=3), label="shape")
    nd = len(shape)
    x = data.draw(arrays(shape, dtype), label="x")
    k = data.draw(st.integers(-5, 5), label="k")
    a, b = data.draw(st.lists(st.integers(0, nd - 1), min_size=2, max_size=2, unique=True),
                     label="axes")
    b -= nd * data.draw(st.booleans(), label="b from the end")
    np.testing.assert_array_equal(mg.rot90(x, k, (a, b)).data, np.rot90(x, k, (a, b)))
    check(lambda v: mg.rot90(v, k, (a, b)) ** 2, (x,))


@covers("roll")
@dtypes
@given(data=st.data())
def test_roll(dtype: Any, data: Any) -> None:
    shape = data.draw(SMALL, label="shape")
    x = data.draw(arrays(shape, dtype), label="x")
    shift = data.draw(st.integers(-7, 7), label="shift")
    check(lambda v: mg.roll(v, shift) ** 2, (x,), uses=["roll"])
    if shape:
        axes = _axis_tuple(data.draw, len(shape), "axes")
        shifts = tuple(data.draw(st.integers(-4, 4), label="shifts") for _ in axes)
        check(lambda v: mg.roll(v * v, shifts, axes) * v, (x,), uses=["roll"])


# ---- joining and splitting ------------------------------------------------------------


@covers("hstack", "vstack", "dstack", "column_stack", "append", "concatenate")
@dtypes
@given(data=st.data())
def test_joining(dtype: Any, data: Any) -> None:
    shape = data.draw(mst.shapes(max_dims=3, max_side=3), label="shape")
    x, y = (data.draw(arrays(shape, dtype), label=n) for n in "xy")

    def each(fn: Callable[..., Value]) -> None:
        assert fn([x, y]).shape == getattr(np, fn.__name__)([x, y]).shape
        check(lambda u, w: fn([u, w * u]) ** 2, (x, y), uses=["concatenate"])
        check(lambda u: fn([u, y]) * 3.0, (x,), uses=["concatenate"])  # a constant part

    each(mg.hstack)
    each(mg.vstack)
    each(mg.dstack)
    if len(shape) <= 2:
        each(mg.column_stack)
    axis = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1))
                     if shape else st.none(), label="axis")
    check(lambda u, w: mg.append(u, w * u, axis=axis) ** 2, (x, y), uses=["concatenate"])
    check(lambda u: mg.concatenate([u, y], axis=None) ** 2, (x,), uses=["concatenate"])


@st.composite
def split_points(draw: Any, n: int) -> Any:
    """An int number of sections or a list of split points (maybe out of range, unsorted)."""
    if draw(st.booleans()):
        return draw(st.integers(1, n + 2))
    return draw(st.lists(st.integers(-n - 1, n + 1), max_size=3))


@covers("split", "array_split", "hsplit", "vsplit", "dsplit")
@dtypes
@given(data=st.data())
def test_splitting(dtype: Any, data: Any) -> None:
    shape = data.draw(mst.shapes(min_dims=1, max_side=4), label="shape")
    nd = len(shape)
    x = data.draw(arrays(shape, dtype), label="x")
    axis = data.draw(st.integers(-nd, nd - 1), label="axis")
    n = shape[axis]
    points = data.draw(split_points(n), label="points")

    def weighted(parts: list[Value]) -> Value:
        # Each part weighted differently, so a part's gradient landing in the wrong
        # slice shows up.
        return sum(((p * p).sum() * (i + 1.0) for i, p in enumerate(parts)), start=x[()] * 0)

    def both(fn: Callable[..., list[Value]], np_fn: Any, *args: Any) -> None:
        ours, theirs = fn(x, *args), np_fn(x, *args)
        assert [p.shape for p in ours] == [p.shape for p in theirs]
        for p, q in zip(ours, theirs, strict=True):
            np.testing.assert_array_equal(p.data, q)
        check(lambda v: weighted(fn(v, *args)), (x,), uses=["getitem"])

    both(mg.array_split, np.array_split, points, axis)
    if isinstance(points, list) or n % points == 0:
        both(mg.split, np.split, points, axis)
        if nd >= 2 and (isinstance(points, list) or shape[0] % points == 0):
            both(mg.vsplit, np.vsplit, points)
        h = shape[1] if nd >= 2 else shape[0]
        if isinstance(points, list) or h % points == 0:
            both(mg.hsplit, np.hsplit, points)
        if nd >= 3 and (isinstance(points, list) or shape[2] % points == 0):
            both(mg.dsplit, np.dsplit, points)


# ---- repeating and padding ---------------------------------------------------------------


@covers("repeat", "broadcast_to", "sum_to")
@dtypes
@given(data=st.data())
def test_repeat(dtype: Any, data: Any) -> None:
    shape = data.draw(SMALL, label="shape")
    x = data.draw(arrays(shape, dtype), label="x")
    r = data.draw(st.integers(1, 3), label="repeats")
    check(lambda v: mg.repeat(v, r) ** 2, (x,), uses=["broadcast_to", "sum_to"])
    if shape:
        axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
        counts = data.draw(st.lists(st.integers(0, 3), min_size=shape[axis],
                                    max_size=shape[axis]), label="counts")
        np.testing.assert_array_equal(mg.repeat(x, counts, axis).data,
                                      np.repeat(x, counts, axis))
        # The per-element form gathers (getitem; one count broadcasts as an int does):
        # zero counts drop an element.
        check(lambda v: v.repeat(counts, axis=axis).sum() + (v.repeat(r, axis) ** 2).sum(),
              (x,), uses=["getitem" if len(counts) > 1 else "broadcast_to"])


@covers("tile")
@dtypes
@given(data=st.data())
def test_tile(dtype: Any, data: Any) -> None:
    shape = data.draw(SMALL, label="shape")
    x = data.draw(arrays(shape, dtype), label="x")
    reps = data.draw(st.one_of(st.integers(1, 3), st.lists(st.integers(1, 3), max_size=4)
                               .map(tuple)), label="reps")
    np.testing.assert_array_equal(mg.tile(x, reps).data, np.tile(x, reps))
    check(lambda v: mg.tile(v, reps) ** 2, (x,), uses=["broadcast_to", "reshape"])


@covers("pad", "index_add")
@dtypes
@given(data=st.data())
def test_pad(dtype: Any, data: Any) -> None:
    shape = data.draw(SMALL, label="shape")
    x = data.draw(arrays(shape, dtype), label="x")
    widths = data.draw(st.one_of(
        st.integers(0, 2),
        st.tuples(st.integers(0, 2), st.integers(0, 2)),
        st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2)), min_size=len(shape),
                 max_size=len(shape)).map(tuple).filter(len)), label="pad_width")
    value = data.draw(st.sampled_from([0, 1.5, -2.0]), label="constant_values")
    np.testing.assert_array_equal(mg.pad(x, widths, constant_values=value).data,
                                  np.pad(x, widths, constant_values=value))
    check(lambda v: mg.pad(v, widths, constant_values=value) ** 2, (x,), uses=["index_add"])
    mode = data.draw(st.sampled_from(["edge", "wrap", "reflect", "symmetric"]), label="mode")
    if mode != "reflect" or all(n > 1 for n in shape):  # reflect needs 2 elements to mirror
        np.testing.assert_array_equal(mg.pad(x, widths, mode).data, np.pad(x, widths, mode))
        check(lambda v: mg.pad(v, widths, mode) ** 2, (x,), uses=["getitem"])


# ---- picking, sorting, selecting -----------------------------------------------------------


@covers("take", "getitem", "index_add")
@dtypes
@given(data=st.data())
def test_take(dtype: Any, data: Any) -> None:
    shape = data.draw(mst.shapes(min_dims=1, max_side=3), label="shape")
    x = data.draw(arrays(shape, dtype), label="x")
    axis = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)),
                     label="axis")
    n = x.size if axis is None else shape[axis]
    # Negative and repeated indices (up to 5 picks from at most 3 positions), any shape.
    idx = np.array(data.draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=5),
                             label="indices"))
    idx = idx.reshape(data.draw(st.sampled_from([idx.shape, (1, idx.size), (idx.size, 1)]),
                                label="index shape"))
    np.testing.assert_array_equal(mg.take(x, idx, axis).data, np.take(x, idx, axis))
    check(lambda v: mg.take(v, idx, axis) ** 2, (x,), uses=["getitem", "index_add"])
    wide = idx * 3 + 1  # out of range for wrap and clip
    mode = data.draw(st.sampled_from(["wrap", "clip"]), label="mode")
    np.testing.assert_array_equal(mg.take(x, wide, axis, mode=mode).data,
                                  np.take(x, wide, axis, mode=mode))
    check(lambda v: v.take(wide, axis, mode=mode) * v.take(idx[..., :1], axis), (x,))


@covers("take_along_axis", "getitem", "index_add")
@dtypes
@given(data=st.data())
def test_take_along_axis(dtype: Any, data: Any) -> None:
    shape = data.draw(mst.shapes(min_dims=1, max_side=3), label="shape")
    nd = len(shape)
    x = data.draw(arrays(shape, dtype), label="x")
    axis = data.draw(st.integers(-nd, nd - 1), label="axis")
    ax = axis % nd
    # The other axes broadcast: the indices' side is the array's, or 1, or any length
    # where the array's is 1; along axis any length.
    ishape = tuple(data.draw(st.integers(1, 4), label="picks") if i == ax else
                   data.draw(st.sampled_from([1, n] if n > 1 else [1, 2, 3]), label=f"side {i}")
                   for i, n in enumerate(shape))
    idx = np.array(data.draw(st.lists(st.integers(-shape[ax], shape[ax] - 1),
                                      min_size=int(np.prod(ishape)),
                                      max_size=int(np.prod(ishape))), label="indices"))
    idx = idx.reshape(ishape)
    np.testing.assert_array_equal(mg.take_along_axis(x, idx, axis).data,
                                  np.take_along_axis(x, idx, axis))
    check(lambda v: mg.take_along_axis(v, idx, axis) ** 2, (x,), uses=["getitem", "index_add"])
    flat = idx.reshape(-1)
    check(lambda v: np.take_along_axis(v, flat, None) * 2.0, (x,), uses=["getitem"])


@covers("sort")
@dtypes
@given(data=st.data())
def test_sort(dtype: Any, data: Any) -> None:
    shape = data.draw(mst.shapes(min_dims=1, max_side=3), label="shape")
    # No ties: the finite differences would straddle a swap.
    x = data.draw(arrays(shape, dtype, unique=True), label="x")
    axis = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)),
                     label="axis")
    np.testing.assert_array_equal(mg.sort(x, axis).data, np.sort(x, axis))
    w = np.linspace(-1.0, 2.0, x.size).astype(dtype)
    w = w.reshape(np.sort(x, axis).shape)
    check(lambda v: mg.sort(v, axis) * w, (x,), uses=["sort"])
    check(lambda v: mg.sort(v * 2.0, axis) ** 2, (x,), uses=["sort", "getitem"])
    check(lambda v: np.sort(v, axis, kind="quicksort") * mg.sort(v, axis), (x,), uses=["sort"])


@covers("select", "where")
@dtypes
@given(data=st.data())
def test_select(dtype: Any, data: Any) -> None:
    shape_a, shape_b = data.draw(mst.broadcastable_shapes(max_dims=2, max_side=3),
                                 label="shapes")
    a = data.draw(arrays(shape_a, dtype), label="a")
    b = data.draw(arrays(shape_b, dtype), label="b")
    full = np.broadcast_shapes(shape_a, shape_b)
    k = data.draw(st.integers(1, 3), label="conditions")
    conds = [np.array(data.draw(st.lists(st.booleans(), min_size=int(np.prod(full)),
                                         max_size=int(np.prod(full)))),
                      dtype=bool).reshape(full) for _ in range(k)]

    def choices(u: Any, w: Any) -> list[Any]:
        return [u * w, u, w * w][:k]

    expected = np.select(conds, choices(a, b), default=-1.0)
    got = mg.select(conds, choices(Value(a), Value(b)), default=-1.0)
    np.testing.assert_array_equal(got.data, expected)
    assert got.dtype == dtype
    check(lambda u, w: mg.select(conds, choices(u, w), default=-1.0) ** 2, (a, b),
          uses=["where"])
    # default a Value too
    check(lambda u, w: mg.select(conds, choices(u, u), default=w) * u, (a, b),
          uses=["where"])


@covers("astype")
@dtypes
@given(data=st.data())
def test_astype(dtype: Any, data: Any) -> None:
    x = data.draw(arrays(SMALL, dtype), label="x")
    other = np.float32 if dtype == np.float64 else np.float64
    assert mg.astype(x, other).dtype == other
    # Into the other dtype and back, so the values stay x's (no float32 rounding to
    # confuse the float64 finite differences), and the gradient is x's dtype.
    check(lambda v: mg.astype(v * v, dtype) * v, (x,), uses=["astype"])  # a copy
    if dtype == np.float32:  # float32 numbers are float64 numbers: exact both ways
        check(lambda v: v.astype(other) ** 2, (x,), uses=["astype"])
        check(lambda v: (v * v).astype(other).astype(dtype) * v, (x,), uses=["astype"])
    else:
        # Rounding to float32 on the way: finite differences with a step that rounding
        # does not swamp, and tolerances for float32's precision.
        check_grads(lambda v: v.astype(other) * v, (x,), order=2, eps=1e-2, rtol=1e-3,
                    atol=1e-4, modes=("fwd", "rev"))


@covers("copy")
@dtypes
@given(data=st.data())
def test_copy(dtype: Any, data: Any) -> None:
    shape = data.draw(mst.shapes(max_side=3), label="shape")
    x = data.draw(arrays(shape, dtype), label="x")
    check(lambda v: mg.copy(v) * v, (x,), uses=["astype"])
    check(lambda v: np.copy(v * v) * v.copy(), (x,), uses=["astype"])
    v = Value(x)
    for c in (mg.copy(v), np.copy(v), v.copy(), np.copy(v, order="C", subok=True)):
        assert isinstance(c, Value) and c.dtype == dtype and c.shape == x.shape
        np.testing.assert_array_equal(c.data, x)
        assert not np.shares_memory(c.data, v.data)  # a copy: v changing leaves it alone


def test_copy_is_a_new_array_that_an_update_of_the_original_leaves_alone() -> None:
    w = Value([1.0, 2.0])
    c = np.copy(w)
    w.assign(np.array([5.0, 6.0]))
    assert c.data.tolist() == [1.0, 2.0]
    c = Value([3.0, 4.0]).copy()
    (c * c).sum().backward()  # a copy of a leaf is not a leaf: it gets no .grad
    assert c.grad is None and c.op == "astype"


# ---- the three spellings -----------------------------------------------------------------

X = np.linspace(-1.5, 2.0, 24).reshape(2, 3, 4)
IDX = np.array([[0, 2], [-1, 0]])

SPELLINGS: dict[str, list[Callable[[Value], Any]]] = {
    # name: [mg.NAME, np.NAME, v.NAME] forms with the same arguments
    "ravel": [mg.ravel, np.ravel, lambda v: v.ravel(), lambda v: v.flatten()],
    "squeeze": [lambda v: mg.squeeze(v[:1], 0), lambda v: np.squeeze(v[:1], 0),
                lambda v: v[:1].squeeze(0)],
    "expand_dims": [lambda v: mg.expand_dims(v, (0, 2)), lambda v: np.expand_dims(v, (0, 2))],
    "flip": [lambda v: mg.flip(v, (0, 2)), lambda v: np.flip(v, (0, 2))],
    "fliplr": [mg.fliplr, np.fliplr], "flipud": [mg.flipud, np.flipud],
    "rot90": [lambda v: mg.rot90(v, 3, (2, 0)), lambda v: np.rot90(v, 3, (2, 0))],
    "roll": [lambda v: mg.roll(v, (1, 5), (0, -1)), lambda v: np.roll(v, (1, 5), (0, -1))],
    "moveaxis": [lambda v: mg.moveaxis(v, 0, -1), lambda v: np.moveaxis(v, 0, -1)],
    "swapaxes": [lambda v: mg.swapaxes(v, 0, 2), lambda v: np.swapaxes(v, 0, 2),
                 lambda v: v.swapaxes(0, 2)],
    "repeat": [lambda v: mg.repeat(v, [2, 0, 1], axis=1),
               lambda v: np.repeat(v, [2, 0, 1], axis=1), lambda v: v.repeat([2, 0, 1], 1)],
    "tile": [lambda v: mg.tile(v, (2, 1, 1, 2)), lambda v: np.tile(v, (2, 1, 1, 2))],
    "pad": [lambda v: mg.pad(v, ((1, 0), (0, 0), (2, 1)), constant_values=3.0),
            lambda v: np.pad(v, ((1, 0), (0, 0), (2, 1)), constant_values=3.0)],
    "atleast_3d": [lambda v: mg.atleast_3d(v[0, 0]), lambda v: np.atleast_3d(v[0, 0])],
    "hstack": [lambda v: mg.hstack([v, v[:, :1]]), lambda v: np.hstack([v, v[:, :1]])],
    "vstack": [lambda v: mg.vstack([v[0], v[1]]), lambda v: np.vstack([v[0], v[1]])],
    "dstack": [lambda v: mg.dstack([v[0], v[1]]), lambda v: np.dstack([v[0], v[1]])],
    "column_stack": [lambda v: mg.column_stack([v[0, :, 0], v[1]]),
                     lambda v: np.column_stack([v[0, :, 0], v[1]])],
    "append": [lambda v: mg.append(v, v[0]), lambda v: np.append(v, v[0])],
    "split": [lambda v: mg.concatenate(mg.split(v, [1, 3], 2), 2) * v,
              lambda v: np.concatenate(np.split(v, [1, 3], 2), 2) * v],
    "array_split": [lambda v: mg.array_split(v, 3, 2)[0], lambda v: np.array_split(v, 3, 2)[0]],
    "hsplit": [lambda v: mg.hsplit(v, 3)[2], lambda v: np.hsplit(v, 3)[2]],
    "vsplit": [lambda v: mg.vsplit(v, 2)[1], lambda v: np.vsplit(v, 2)[1]],
    "take": [lambda v: mg.take(v, IDX, 1), lambda v: np.take(v, IDX, 1),
             lambda v: v.take(IDX, 1)],
    "take_along_axis": [lambda v: mg.take_along_axis(v, np.argsort(-X, 2), 2),
                        lambda v: np.take_along_axis(v, np.argsort(-X, 2), 2)],
    "sort": [lambda v: mg.sort(v * v, 1), lambda v: np.sort(v * v, 1), lambda v: _sorted(v * v, 1)],
    "select": [lambda v: mg.select([X > 1, X < 0], [v, v * v], 7.0),
               lambda v: np.select([X > 1, X < 0], [v, v * v], 7.0)],
    "astype": [lambda v: mg.astype(v, np.float32), lambda v: v.astype(np.float32)],
}


def _sorted(v: Value, axis: int) -> Value:
    assert v.sort(axis) is None  # in place, as ndarray.sort
    return v


@pytest.mark.parametrize("name", sorted(SPELLINGS))
@dtypes
def test_spellings_agree(name: str, dtype: Any) -> None:
    x = X.astype(dtype)
    results = []
    for spell in SPELLINGS[name]:
        v = Value(x)
        y = spell(v)
        assert isinstance(y, Value), (name, spell)
        u = np.linspace(-1.0, 2.0, y.size).reshape(y.shape).astype(y.dtype)
        (y * u).sum().backward()
        assert v.grad is not None and v.grad.dtype == dtype
        results.append((y.data, v.grad))
    assert len(results) >= 2
    (y0, g0), rest = results[0], results[1:]
    assert y0.dtype == (np.float32 if name == "astype" else dtype)
    for y, g in rest:
        np.testing.assert_array_equal(y, y0)
        np.testing.assert_array_equal(g, g0)


def test_methods_are_the_functions() -> None:
    for name in ("ravel", "flatten", "squeeze", "astype", "swapaxes", "repeat", "take"):
        assert getattr(Value, name) is getattr(mg, name), name


# ---- float32 stays float32 ------------------------------------------------------------------

FLOAT32: dict[str, Callable[[Value], Value]] = {
    name: forms[0] for name, forms in SPELLINGS.items() if name != "astype"
}
FLOAT32["pad_edge"] = lambda v: mg.pad(v, 1, mode="edge")
FLOAT32["repeat_int"] = lambda v: mg.repeat(v, 2)


@pytest.mark.parametrize("name", sorted(FLOAT32))
def test_float32_stays_float32(name: str) -> None:
    x = X.astype(np.float32)
    w = Value(x)
    y = FLOAT32[name](w)
    assert y.dtype == np.float32, name
    (g,) = mg.gradients((y * y).sum(), w, create_graph=True)
    assert g.dtype == np.float32, name
    (h,) = mg.gradients((g * g).sum(), w)
    assert h.dtype == np.float32, name
    _, t = mg.jvp(FLOAT32[name], (x,), (np.ones_like(x),))
    assert t.dtype == np.float32, name


# ---- peers: PyTorch and HIPS autograd -------------------------------------------------------


def _torch_cases() -> dict[str, tuple[Callable[[Value], Value], Callable[[Any], Any]]]:
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    tidx = torch.tensor([0, 2, 2, 1])
    order = torch.tensor(np.argsort(-X, axis=2, kind="stable"))
    return {  # name: (ours, torch's)
        "ravel": (mg.ravel, torch.ravel),
        "squeeze": (lambda v: mg.squeeze(v[:1]), lambda t: torch.squeeze(t[:1])),
        "expand_dims": (lambda v: mg.expand_dims(v, 1), lambda t: torch.unsqueeze(t, 1)),
        "flip": (lambda v: mg.flip(v, (0, 2)), lambda t: torch.flip(t, (0, 2))),
        "fliplr": (mg.fliplr, torch.fliplr), "flipud": (mg.flipud, torch.flipud),
        "rot90": (lambda v: mg.rot90(v, -1, (1, 2)), lambda t: torch.rot90(t, -1, (1, 2))),
        "roll": (lambda v: mg.roll(v, (1, -5), (0, 2)), lambda t: torch.roll(t, (1, -5), (0, 2))),
        "roll_flat": (lambda v: mg.roll(v, 7), lambda t: torch.roll(t, 7)),
        "moveaxis": (lambda v: mg.moveaxis(v, (0, 1), (2, 0)),
                     lambda t: torch.moveaxis(t, (0, 1), (2, 0))),
        "swapaxes": (lambda v: mg.swapaxes(v, 0, -1), lambda t: torch.swapaxes(t, 0, -1)),
        "repeat": (lambda v: mg.repeat(v, [2, 0, 3], axis=1),
                   lambda t: torch.repeat_interleave(t, torch.tensor([2, 0, 3]), dim=1)),
        "repeat_int": (lambda v: mg.repeat(v, 2, axis=2),
                       lambda t: torch.repeat_interleave(t, 2, dim=2)),
        "tile": (lambda v: mg.tile(v, (2, 1, 3)), lambda t: torch.tile(t, (2, 1, 3))),
        "pad": (lambda v: mg.pad(v, ((0, 0), (1, 2), (2, 0)), constant_values=1.5),
                lambda t: F.pad(t, (2, 0, 1, 2), value=1.5)),
        "pad_edge": (lambda v: mg.pad(v, ((0, 0), (0, 0), (2, 3)), mode="edge"),
                     lambda t: F.pad(t, (2, 3), mode="replicate")),
        "pad_wrap": (lambda v: mg.pad(v, ((0, 0), (0, 0), (3, 1)), mode="wrap"),
                     lambda t: F.pad(t, (3, 1), mode="circular")),
        "pad_reflect": (lambda v: mg.pad(v, ((0, 0), (0, 0), (3, 2)), mode="reflect"),
                        lambda t: F.pad(t, (3, 2), mode="reflect")),
        "atleast_2d": (lambda v: mg.atleast_2d(v[0, 0]), lambda t: torch.atleast_2d(t[0, 0])),
        "atleast_3d": (lambda v: mg.atleast_3d(v[0]), lambda t: torch.atleast_3d(t[0])),
        "hstack": (lambda v: mg.hstack([v, v * v]), lambda t: torch.hstack([t, t * t])),
        "vstack": (lambda v: mg.vstack([v[0, 0], v[1, 2]]),
                   lambda t: torch.vstack([t[0, 0], t[1, 2]])),
        "dstack": (lambda v: mg.dstack([v[0], v[1] * 2]), lambda t: torch.dstack([t[0], t[1] * 2])),
        "column_stack": (lambda v: mg.column_stack([v[0, :, 0], v[1]]),
                         lambda t: torch.column_stack([t[0, :, 0], t[1]])),
        "array_split": (lambda v: mg.array_split(v, 3, axis=2)[0] * 2,
                        lambda t: torch.tensor_split(t, 3, dim=2)[0] * 2),
        "split": (lambda v: mg.split(v, [1, 3], axis=2)[1], lambda t: t.tensor_split([1, 3], 2)[1]),
        "hsplit": (lambda v: mg.hsplit(v, [2])[1], lambda t: torch.hsplit(t, [2])[1]),
        "vsplit": (lambda v: mg.vsplit(v, 2)[0], lambda t: torch.vsplit(t, 2)[0]),
        "append": (lambda v: mg.append(v, v[1:], axis=0),
                   lambda t: torch.cat([t, t[1:]], dim=0)),
        "take": (lambda v: mg.take(v, [0, 2, -2, 1], axis=2),
                 lambda t: torch.index_select(t, 2, tidx)),
        "take_flat": (lambda v: mg.take(v, [[23, 0], [0, 5]]),
                      lambda t: torch.take(t, torch.tensor([[23, 0], [0, 5]]))),
        "take_along_axis": (lambda v: mg.take_along_axis(v, order.numpy(), axis=2),
                            lambda t: torch.take_along_dim(t, order, dim=2)),
        "sort": (lambda v: mg.sort(v * v, axis=1),
                 lambda t: torch.sort(t * t, dim=1, stable=True).values),
        "sort_flat": (lambda v: mg.sort(v, axis=None),
                      lambda t: torch.sort(t.ravel(), stable=True).values),
        "select": (lambda v: mg.select([X > 1, X < 0], [v, v * v], default=7.0),
                   lambda t: torch.where(torch.tensor(X > 1), t,
                                         torch.where(torch.tensor(X < 0), t * t, 7.0))),
        "astype": (lambda v: mg.astype(v, np.float32) ** 2,
                   lambda t: t.to(torch.float32) ** 2),
    }


TORCH_NAMES = sorted(["ravel", "squeeze", "expand_dims", "flip", "fliplr", "flipud", "rot90",
                      "roll", "roll_flat", "moveaxis", "swapaxes", "repeat", "repeat_int",
                      "tile", "pad", "pad_edge", "pad_wrap", "pad_reflect", "atleast_2d",
                      "atleast_3d", "hstack", "vstack", "dstack", "column_stack",
                      "array_split", "split", "hsplit", "vsplit", "append", "take",
                      "take_flat", "take_along_axis", "sort", "sort_flat", "select", "astype"])


@pytest.mark.parametrize("name", TORCH_NAMES)
@dtypes
def test_values_and_gradients_match_torch(name: str, dtype: Any) -> None:
    torch = pytest.importorskip("torch")
    ours, theirs = _torch_cases()[name]
    x = (X * np.array([1.0, -0.7, 1.3, 0.4])).astype(dtype)  # no ties
    v = Value(x)
    y = ours(v)
    t = torch.tensor(x, requires_grad=True)
    ty = theirs(t)
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-6)
    u = np.cos(np.arange(y.size)).reshape(y.shape).astype(y.dtype)
    (y * u).sum().backward()
    (ty * torch.tensor(u)).sum().backward()
    np.testing.assert_allclose(v.grad, t.grad.numpy(), rtol=1e-6, atol=1e-6)


AUTOGRAD_CASES: dict[str, Callable[[Any, Any], Any]] = {
    # The same NumPy code run by HIPS autograd (xp = autograd.numpy) and by microgd
    # through NumPy's dispatch (xp = numpy, a a Value).
    "ravel": lambda xp, a: xp.ravel(a) ** 2,
    "expand_dims": lambda xp, a: xp.expand_dims(a, 1) * a[:, None],
    "roll": lambda xp, a: xp.roll(a * a, -2, axis=1),
    "rot90": lambda xp, a: xp.rot90(a * a, 3),  # autograd's VJP takes no axes=
    "moveaxis": lambda xp, a: xp.moveaxis(a, 0, -1) ** 2,
    "swapaxes": lambda xp, a: xp.swapaxes(a, 1, 2) ** 3,
    "tile": lambda xp, a: xp.tile(a, (2, 1, 2)) ** 2,
    "pad": lambda xp, a: xp.pad(a * a, ((1, 1), (0, 2), (1, 0)), mode="constant"),
    "atleast_3d": lambda xp, a: xp.atleast_3d(a[0, 0]) ** 2,
    "hstack": lambda xp, a: xp.hstack([a, a * a]),
    "vstack": lambda xp, a: xp.vstack([a[0], a[1] ** 2]),
    "dstack": lambda xp, a: xp.dstack([a[0], a[1] ** 2]),
    "column_stack": lambda xp, a: xp.column_stack([a[0, :, 0], a[1] ** 2]),
    "split": lambda xp, a: xp.split(a * a, [1, 3], axis=2)[1],
    "array_split": lambda xp, a: xp.array_split(a ** 2, 3, axis=2)[2],
    "hsplit": lambda xp, a: xp.hsplit(a ** 2, 3)[1],
    "append": lambda xp, a: xp.append(a, a * a),
    "fliplr": lambda xp, a: xp.fliplr(a) ** 2,
    "sort_1d": lambda xp, a: xp.sort(xp.ravel(a) * 2.0) ** 2,
    "select": lambda xp, a: xp.select([X > 1, X < 0], [a, a * a], 7.0),
    "squeeze": lambda xp, a: xp.squeeze(a[:1]) ** 2,
}


@pytest.mark.parametrize("name", sorted(AUTOGRAD_CASES))
def test_values_and_gradients_match_autograd(name: str) -> None:
    autograd = pytest.importorskip("autograd")
    anp = pytest.importorskip("autograd.numpy")
    f = AUTOGRAD_CASES[name]
    x = X * np.array([1.0, -0.7, 1.3, 0.4])
    y = f(np, Value(x))
    u = np.cos(np.arange(y.size)).reshape(y.shape)
    np.testing.assert_allclose(y.data, f(anp, x), rtol=1e-12)
    ours = mg.grad(lambda v: (f(np, v) * u).sum())(x)
    theirs = autograd.grad(lambda a: anp.sum(f(anp, a) * u))(x)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)
    # And the Hessian-vector product: the derivative of the gradient.
    d = np.sin(np.arange(x.size)).reshape(x.shape)
    hv = mg.hvp(lambda v: (f(np, v) * u).sum(), x, d)
    ref = autograd.grad(lambda a: anp.sum(autograd.grad(
        lambda b: anp.sum(f(anp, b) * u))(a) * d))(x)
    np.testing.assert_allclose(hv, ref, rtol=1e-10, atol=1e-12)


# ---- sort: ties, the in-place method, peers on ties --------------------------------------


def test_sort_ties_are_stable() -> None:
    # Tied inputs keep their order: the first 1.0 (index 0) takes sorted position 1,
    # the second (index 3) position 2; the gradient follows exactly that.
    x = Value(np.array([1.0, 2.0, 0.0, 1.0]))
    y = mg.sort(x)
    np.testing.assert_array_equal(y.data, [0.0, 1.0, 1.0, 2.0])
    (y * np.array([10.0, 20.0, 30.0, 40.0])).sum().backward()
    np.testing.assert_array_equal(x.grad, [20.0, 40.0, 10.0, 30.0])
    # forward mode routes tangents the same way
    _, t = mg.jvp(mg.sort, (x.data,), (np.array([1.0, 2.0, 3.0, 4.0]),))
    np.testing.assert_array_equal(t, [3.0, 1.0, 4.0, 2.0])


def test_sort_many_ties_follow_the_stable_order() -> None:
    # 200 elements of 3 values: NumPy's default (quick)sort would order the ties
    # differently; the gradient must follow the stable order.
    x = np.random.default_rng(0).integers(0, 3, 200).astype(float)
    u = np.arange(200.0)
    v = Value(x)
    (mg.sort(v) * u).sum().backward()
    expected = np.empty(200)
    expected[np.argsort(x, kind="stable")] = u
    np.testing.assert_array_equal(v.grad, expected)
    torch = pytest.importorskip("torch")
    t = torch.tensor(x, requires_grad=True)
    (torch.sort(t, stable=True).values * torch.tensor(u)).sum().backward()
    np.testing.assert_array_equal(v.grad, t.grad.numpy())


def test_sort_ties_match_torch_and_jax() -> None:
    torch = pytest.importorskip("torch")
    x = np.array([[2.0, 1.0, 2.0, 1.0, 2.0], [0.0, 0.0, 0.0, -1.0, 0.0]])
    u = np.arange(10.0).reshape(2, 5) + 1.0
    v = Value(x)
    (mg.sort(v, axis=1) * u).sum().backward()
    t = torch.tensor(x, requires_grad=True)
    (torch.sort(t, dim=1, stable=True).values * torch.tensor(u)).sum().backward()
    np.testing.assert_array_equal(v.grad, t.grad.numpy())
    jax = pytest.importorskip("jax")
    g = jax.grad(lambda a: (jax.numpy.sort(a, axis=1) * u).sum())(x)
    np.testing.assert_array_equal(v.grad, np.asarray(g))


def test_sort_method_sorts_in_place() -> None:
    w = Value(np.array([[3.0, 1.0, 2.0], [0.0, -1.0, 5.0]]))
    v = w * 2.0
    assert v.sort() is None
    np.testing.assert_array_equal(v.data, [[2.0, 4.0, 6.0], [-2.0, 0.0, 10.0]])
    assert v.op == "sort"
    (v * np.array([1.0, 10.0, 100.0])).sum().backward()
    np.testing.assert_array_equal(w.grad, [[200.0, 2.0, 20.0], [20.0, 2.0, 200.0]])
    # along another axis, and twice in a row (the graph grows one sort each time)
    u = w * 1.0
    u.sort(axis=0)
    u.sort(axis=-1)
    np.testing.assert_array_equal(u.data, np.sort(np.sort(w.data, axis=0), axis=-1))
    check(lambda a: _sorted(_sorted(a * a, 0), 1) ** 2, (np.array([[3.0, 1.0], [0.5, 2.0]]),),
          uses=["sort"])


def test_sort_method_refuses_what_would_go_wrong() -> None:
    w = Value(np.array([3.0, 1.0, 2.0]))
    with pytest.raises(RuntimeError, match="leaf Value that requires grad"):
        w.sort()
    np.testing.assert_array_equal(w.data, [3.0, 1.0, 2.0])  # unchanged
    # A graph that used v before the sort saw other numbers: refused, as in PyTorch.
    v = w * 1.0
    before = (v * np.array([1.0, 2.0, 3.0])).sum()
    v.sort()
    with pytest.raises(RuntimeError, match="modified in place"):
        before.backward()
    # A failed sort changes nothing.
    z = w * 1.0
    with pytest.raises(ValueError, match="sort: axis 1 is out of bounds"):
        z.sort(axis=1)
    np.testing.assert_array_equal(z.data, [3.0, 1.0, 2.0])
    assert z.op == "mul"
    with pytest.raises(TypeError, match="axis=None"):
        z.sort(axis=None)
    # Constants sort in place like arrays (no graph to protect).
    c = Value(np.array([2.0, 1.0]), requires_grad=False)
    c.sort()
    np.testing.assert_array_equal(c.data, [1.0, 2.0])
    # mg.sort and np.sort copy
    y = w * 1.0
    s = np.sort(y)
    np.testing.assert_array_equal(y.data, [3.0, 1.0, 2.0])
    np.testing.assert_array_equal(s.data, [1.0, 2.0, 3.0])


def test_sort_method_under_forward_mode() -> None:
    def f(x: Value) -> Value:
        y = x * x
        y.sort()
        return y

    out, t = mg.jvp(f, (np.array([3.0, -1.0, 2.0]),), (np.array([1.0, 1.0, 1.0]),))
    np.testing.assert_array_equal(out, [1.0, 4.0, 9.0])
    np.testing.assert_array_equal(t, [-2.0, 4.0, 6.0])


def test_sort_with_nan_goes_last_as_numpy() -> None:
    x = Value(np.array([np.nan, 1.0, -1.0]))
    y = mg.sort(x)
    np.testing.assert_array_equal(y.data, [-1.0, 1.0, np.nan])
    (y * np.array([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 2.0, 1.0])


# ---- explicit values: repeated indices, pad corners, astype -----------------------------


def test_take_repeated_and_negative_indices_accumulate() -> None:
    x = Value(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))
    y = mg.take(x, [2, -1, 0, 2], axis=1)
    np.testing.assert_array_equal(y.data, [[3.0, 3.0, 1.0, 3.0], [6.0, 6.0, 4.0, 6.0]])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [[1.0, 0.0, 3.0], [1.0, 0.0, 3.0]])
    z = Value(np.array([1.0, 2.0, 3.0]))
    mg.take_along_axis(z, np.array([0, 0, -1, 0]), axis=0).sum().backward()
    np.testing.assert_array_equal(z.grad, [3.0, 0.0, 1.0])


def test_pad_constant_corners_as_numpy() -> None:
    # Per-axis constants: NumPy fills the corners from the later axis.
    x = Value(np.ones((2, 2)))
    values = ((1.0, 2.0), (3.0, 4.0))
    y = mg.pad(x, 1, constant_values=values)
    np.testing.assert_array_equal(y.data, np.pad(np.ones((2, 2)), 1, constant_values=values))
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, np.ones((2, 2)))
    e = Value(np.arange(3.0))
    mg.pad(e, (2, 4), mode="wrap").sum().backward()
    np.testing.assert_array_equal(e.grad, np.bincount(np.pad(np.arange(3), (2, 4), "wrap")))


@dtypes
def test_astype_gradient_is_cast_back(dtype: Any) -> None:
    other = np.float32 if dtype == np.float64 else np.float64
    x = Value(np.array([1.0, 1.0 + 2.0 ** -30, -3.0], dtype=dtype))
    y = x.astype(other)
    assert y.dtype == other
    (y * y).sum().backward()
    assert x.grad.dtype == dtype
    np.testing.assert_allclose(x.grad, 2 * x.data.astype(other), rtol=1e-6)
    (g,) = mg.gradients((x.astype(other) ** 3).sum(), x, create_graph=True)
    assert g.dtype == dtype
    (h,) = mg.gradients(g.sum(), x)
    assert h.dtype == dtype
    np.testing.assert_allclose(h.data, 6 * x.data, rtol=1e-6)
    # The same dtype is a copy (a new node), unless copy=False.
    assert mg.astype(x, dtype) is not x
    assert mg.astype(x, dtype, copy=False) is x


def test_astype_to_int_or_bool_is_a_constant_array() -> None:
    # As PyTorch's .to(int): no gradient (a Value holds floats only, so an ndarray).
    x = Value(np.array([1.7, -2.5, 0.0]))
    i = x.astype(int)
    assert type(i) is np.ndarray and i.dtype.kind == "i"
    np.testing.assert_array_equal(i, [1, -2, 0])
    np.testing.assert_array_equal(x.astype(bool), [True, True, False])
    np.testing.assert_array_equal(np.astype(x, np.int32), [1, -2, 0])
    np.testing.assert_array_equal(x[x.astype(bool)].data, [1.7, -2.5])
    with pytest.raises(TypeError, match="float16"):
        x.astype(np.float16)
    with pytest.raises(TypeError, match="complex128"):
        x.astype(complex)
    with pytest.raises(TypeError, match="casting='safe'"):
        x.astype(np.float32, casting="safe")


def test_array_dtype() -> None:
    a = Value(np.float32(2.0))
    m = mg.array([[a, 1.0], [a * a, 0.0]], dtype=np.float64)
    assert m.dtype == np.float64
    (g,) = mg.gradients(m.sum(), a)
    assert g.dtype == np.float32 and g.item() == 5.0


# ---- bad input: a clear error naming the function, nothing computed ------------------------

ERRORS: list[tuple[Callable[[Value], Any], type[Exception], str]] = [
    (lambda v: mg.squeeze(v, 0), ValueError, r"squeeze: cannot squeeze axis 0 .* \(2, 3\)"),
    (lambda v: mg.squeeze(v, 5), ValueError, "squeeze: axis 5 is out of bounds"),
    (lambda v: mg.expand_dims(v, (0, 0)), ValueError, "expand_dims: repeated axis"),
    (lambda v: mg.flip(v, 2), ValueError, "flip: axis 2 is out of bounds"),
    (lambda v: mg.fliplr(v[0]), ValueError, r"fliplr: needs .* 2 dims, got shape \(3,\)"),
    (lambda v: mg.flipud(v[0, 0]), ValueError, "flipud: needs"),
    (lambda v: mg.rot90(v, 1, (0, 0)), ValueError, "rot90: repeated axis"),
    (lambda v: mg.rot90(v, 1, (0,)), ValueError, "rot90: axes must name 2 axes"),
    (lambda v: mg.roll(v, 1.5), TypeError, "roll: shift must be an int"),
    (lambda v: mg.roll(v, 1, 3), ValueError, "roll: axis 3 is out of bounds"),
    (lambda v: mg.moveaxis(v, (0, 1), 0), ValueError, "moveaxis: source"),
    (lambda v: mg.swapaxes(v, 0, 2), ValueError, "swapaxes: axis 2 is out of bounds"),
    (lambda v: mg.ravel(v, "K"), TypeError, "ravel: order='K' is not supported"),
    (lambda v: mg.repeat(v, -1), ValueError, "repeat: repeats may not be negative"),
    (lambda v: mg.repeat(v, [1, 2], axis=1), ValueError, r"repeat: 2 repeats .* length 3"),
    (lambda v: mg.repeat(v, 1.5), TypeError, "repeat: repeats must be integers"),
    (lambda v: mg.tile(v, -1), ValueError, "tile: reps may not be negative"),
    (lambda v: mg.pad(v, -1), ValueError, "pad: pad_width may not be negative"),
    (lambda v: mg.pad(v, 1.5), TypeError, "pad: pad_width must be integers"),
    (lambda v: mg.pad(v, ((1, 1),) * 3), ValueError, r"pad: pad_width .* shape \(2, 3\)"),
    (lambda v: mg.pad(v, 1, mode="mean"), ValueError, "pad: mode 'mean' is not supported"),
    (lambda v: mg.pad(v, 1, mode="reflect", reflect_type="odd"), ValueError, "reflect_type"),
    (lambda v: mg.pad(v, 1, constant_values=v), TypeError, "constant_values must be numbers"),
    (lambda v: mg.pad(v, 1, stat_length=2), TypeError, "unexpected arguments"),
    (lambda v: mg.split(v, 2, axis=1), ValueError, "split: an axis of length 3"),
    (lambda v: mg.split(v, 0), ValueError, "split: number of sections must be larger than 0"),
    (lambda v: mg.vsplit(v[0], 1), ValueError, "vsplit: needs"),
    (lambda v: mg.hstack(v), TypeError, "hstack: expected a list or tuple"),
    (lambda v: mg.vstack([]), ValueError, "vstack: need at least one"),
    (lambda v: mg.take(v, [3], axis=1), IndexError, r"take: index 3 is out of bounds .* size 3"),
    (lambda v: mg.take(v, [6]), IndexError, "take: index 6 is out of bounds for the flattened"),
    (lambda v: mg.take(v, [1.0]), TypeError, "take: indices must be integers"),
    (lambda v: mg.take(v, [True]), TypeError, "take: indices must be integers"),
    (lambda v: mg.take(v, [0], mode="nearest"), ValueError, "take: mode must be"),
    (lambda v: np.take(v, [0], out=np.zeros(1)), TypeError, "numpy.take with out="),
    (lambda v: mg.take_along_axis(v, np.array([0]), 0), ValueError,
     "take_along_axis: indices of 1 dims given for an array of 2 dims"),
    (lambda v: mg.take_along_axis(v, np.array([[0, 3]]), 1), IndexError,
     "take_along_axis: index 3 is out of bounds"),
    (lambda v: mg.take_along_axis(v, np.zeros((3, 1), int), 1), ValueError,
     "take_along_axis: .* shape"),
    (lambda v: mg.sort(v, 2), ValueError, "sort: axis 2 is out of bounds"),
    (lambda v: mg.sort(v, order="x"), TypeError, "sort: order="),
    (lambda v: mg.select([v.data > 0], [v, v]), ValueError, "select: 1 conditions given for 2"),
    (lambda v: mg.select([v.data], [v]), TypeError, "select: condition 0 must be a boolean"),
    (lambda v: mg.select([], []), ValueError, "select: needs at least one condition"),
    (lambda v: np.hstack([v, v], dtype=np.float32), TypeError, "numpy.hstack with dtype="),
]


@pytest.mark.parametrize("case", range(len(ERRORS)))
def test_bad_arguments_raise_clear_errors(case: int) -> None:
    fn, kind, match = ERRORS[case]
    v = Value(np.arange(6.0).reshape(2, 3))
    with pytest.raises(kind, match=match):
        fn(v)


def test_axis_errors_are_numpy_axis_errors() -> None:
    # numpy.exceptions.AxisError is a ValueError and an IndexError, as NumPy raises.
    with pytest.raises(np.exceptions.AxisError):
        mg.flip(Value(np.ones(3)), 1)



# ---- arrays shaped like a Value ---------------------------------------------------------


@dtypes
def test_like_constructors_give_constants_shaped_like_a_value(dtype: Any) -> None:
    # np.zeros_like(v) and its kin read only v's shape and dtype: their result is a
    # constant (a plain array), the derivative of which is exactly 0 (as HIPS autograd).
    v = Value(np.arange(-2.5, 3.0).reshape(2, 3).astype(dtype), requires_grad=True)  # no 0
    for fn, fill in ((np.zeros_like, 0.0), (np.ones_like, 1.0), (np.empty_like, None)):
        r = fn(v)
        assert type(r) is np.ndarray and r.shape == (2, 3) and r.dtype == dtype, fn.__name__
        if fill is not None:
            np.testing.assert_array_equal(r, np.full((2, 3), fill, dtype))
    r = np.full_like(v, 2.5)
    assert type(r) is np.ndarray and r.dtype == dtype
    np.testing.assert_array_equal(r, np.full((2, 3), 2.5, dtype))
    r = np.zeros_like(v, dtype=np.float64, shape=(4,))
    assert r.shape == (4,) and r.dtype == np.float64 and not r.any()
    # The idiom of a hand-written relu differentiates as relu.
    y = np.maximum(np.zeros_like(v), v)
    assert isinstance(y, Value)
    y.sum().backward()
    np.testing.assert_array_equal(v.grad, (v.data > 0).astype(dtype))


def test_full_like_refuses_a_value_as_its_fill() -> None:
    # Its gradient would be lost: the result would not depend on it.
    c = Value(2.0, requires_grad=True)
    with pytest.raises(TypeError, match="numpy.full_like: fill_value is a Value"):
        np.full_like(Value(np.zeros(3)), c)
    with pytest.raises(TypeError, match="numpy.full_like: fill_value is a Value"):
        np.full_like(Value(np.zeros(3)), fill_value=c)
    # NumPy dispatches full_like on its first argument only; then the copy of the
    # fill into the new array refuses the Value.
    with pytest.raises(TypeError, match="numpy.copyto is not supported"):
        np.full_like(np.zeros(3), c)
    with pytest.raises(TypeError, match="numpy.ones_like: an argument besides the first"):
        np.ones_like(Value(np.zeros(3)), c)  # a Value as the dtype


def test_integer_and_boolean_answers_are_numpys_on_the_data() -> None:
    # Indices, counts and yes-or-no answers have no derivative: plain arrays, as
    # np.argmax on an autograd box or a JAX tracer gives (nothing to lose).
    x = np.array([[1.0, 3.0, 2.0], [5.0, 4.0, np.nan]])
    v, w = Value(x), Value(x[0] + 1e-12)
    cases = [
        (np.argmax, (v,), {"axis": 1}), (np.argmin, (v,), {}),
        (np.nanargmax, (v,), {"axis": 1}), (np.nanargmin, (v,), {"axis": 1}),
        (np.argsort, (v,), {"axis": 0}), (np.argpartition, (v[0], 1), {}),
        (np.argwhere, (v > 2,), {}), (np.nonzero, (v[0],), {}), (np.flatnonzero, (v,), {}),
        (np.count_nonzero, (v,), {"axis": 0}), (np.any, (v,), {}), (np.all, (v,), {"axis": 1}),
        (np.isclose, (v[0], w), {}), (np.allclose, (v, v), {"equal_nan": True}),
        (np.array_equal, (v, x), {"equal_nan": True}), (np.array_equiv, (v[0], w), {}),
        (np.isin, (v, [3.0, 4.0]), {}), (np.linalg.matrix_rank, (v[:, :2],), {}),
    ]
    for fn, args, kwargs in cases:
        got = fn(*args, **kwargs)
        raw = [a.data if isinstance(a, Value) else a for a in args]
        expected = fn(*raw, **kwargs)
        for g, e in zip(np.atleast_1d(got) if not isinstance(got, tuple) else got,
                        np.atleast_1d(expected) if not isinstance(expected, tuple) else expected,
                        strict=True):
            assert not isinstance(g, Value), fn.__name__
            np.testing.assert_array_equal(g, e)
    assert np.searchsorted(Value([1.0, 2.0, 3.0]), Value(2.5)) == 2
    assert np.searchsorted(Value([1.0, 2.0, 3.0]), 2.0, side="right") == 2
    assert np.isclose(v[0], w).tolist() == [True, True, True]


def test_the_answers_are_methods_too_as_on_ndarrays() -> None:
    x = np.array([[1.0, 3.0, 2.0], [5.0, 4.0, 0.0]])
    v = Value(x)
    assert v.argmax(axis=1).tolist() == x.argmax(axis=1).tolist() == [1, 0]
    assert v.argmin() == x.argmin() and isinstance(v.argmin(), np.integer)
    np.testing.assert_array_equal(v.argsort(axis=0), x.argsort(axis=0))
    np.testing.assert_array_equal(v[0].argpartition(1), x[0].argpartition(1))
    for got, expected in zip(v.nonzero(), x.nonzero(), strict=True):
        np.testing.assert_array_equal(got, expected)
    assert v.any() and not v.all() and v.all(axis=1).tolist() == [True, False]
    assert Value([1.0, 2.0, 3.0]).searchsorted(Value(2.5)) == 2
    assert not isinstance(v.argmax(), Value)


@covers("meshgrid")
@pytest.mark.parametrize("indexing", ["xy", "ij"])
@pytest.mark.parametrize("sparse", [False, True])
def test_meshgrid(indexing: str, sparse: bool) -> None:
    x, y, z = np.array([1.0, 2.0, 3.0]), np.array([-1.0, 0.5]), np.array([0.2, 0.4, 0.6, 0.8])
    for vectors in ((x,), (x, y), (x, y, z)):
        ours = np.meshgrid(*[Value(v) for v in vectors], indexing=indexing, sparse=sparse)
        theirs = np.meshgrid(*vectors, indexing=indexing, sparse=sparse)
        assert len(ours) == len(theirs)
        for o, t in zip(ours, theirs, strict=True):
            assert isinstance(o, Value) and o.shape == t.shape
            np.testing.assert_array_equal(np.broadcast_to(o.data, t.shape), t)
    check(lambda u, w: (lambda g: g[0] * g[1] ** 2)(mg.meshgrid(u, w, indexing=indexing)),
          (x, y), uses=["broadcast_to"])
    with pytest.raises(ValueError, match="meshgrid: indexing must be"):
        mg.meshgrid(x, indexing="yx")


@covers("vander")
@dtypes
@given(data=st.data())
def test_vander(dtype: Any, data: Any) -> None:
    x = data.draw(arrays(data.draw(st.integers(1, 4), label="n"), dtype), label="x")
    N = data.draw(st.one_of(st.none(), st.integers(0, 5)), label="N")
    increasing = data.draw(st.booleans(), label="increasing")
    got = np.vander(Value(x), N, increasing)
    expected = np.vander(x, N, increasing)  # (float64 for float32 x: NumPy promotes)
    assert got.dtype == dtype and got.shape == expected.shape
    if dtype == np.float64:
        np.testing.assert_array_equal(got.data, expected)  # running products, as NumPy's
    else:
        np.testing.assert_allclose(got.data, expected, rtol=1e-6)
    if expected.shape[1] > 1:  # a column of x's powers: running products
        check(lambda v: mg.vander(v, N, increasing=increasing), (x,), uses=["cumprod"])
    with pytest.raises(ValueError, match="vander: x must be a one-dimensional"):
        mg.vander(np.ones((2, 2)))


@covers("diagflat")
def test_diagflat() -> None:
    m = np.array([[1.0, 2.0], [3.0, 4.0]])
    for k in (0, 1, -2):
        np.testing.assert_array_equal(np.diagflat(Value(m), k).data, np.diagflat(m, k))
    check(lambda v: mg.diagflat(v, 1) @ mg.diagflat(v, -1), (m,), uses=["index_add"])
