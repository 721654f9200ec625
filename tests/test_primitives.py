"""Every primitive and public function, differentiated to first and second order.

Each property test draws inputs with ``microgd.testing.strategies`` and checks
derivatives with ``check_grads(order=2, modes=("fwd", "rev"))`` (first order,
then the derivative of the gradient, in reverse and in forward mode) in float64
and float32, under broadcasting where the op broadcasts.  ``check`` also
asserts that the primitive a test claims to cover really appears in the
forward or backward graph, and
``test_every_primitive_has_a_test`` fails when a primitive of
``microgd.ops.ALL`` (or a public function) has no test: a new primitive cannot
go untested.
"""

from __future__ import annotations

import importlib
import operator
import pathlib
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from primitive_checks import (
    COVERAGE,
    PUBLIC_FUNCTIONS,
    arrays,
    axes_for,
    check,
    covers,
    dtypes,
)

import microgd as mg
from microgd import Value, functions, ops
from microgd.testing import check_grads
from microgd.testing import strategies as mst

# ---- elementwise binary ops, under broadcasting -----------------------------

BINARY: dict[str, tuple[Callable[[Any, Any], Any], dict, dict]] = {
    # name: (op, keyword arguments of arrays() for a, for b)
    "add": (operator.add, {}, {}),
    "sub": (operator.sub, {}, {}),
    "mul": (operator.mul, {}, {}),
    # Denominators stay 0.5 from 0, where 1/b and its derivatives blow up.
    "div": (operator.truediv, {}, {"away_from": (0.0,), "margin": 0.5}),
    # A Value exponent: positive bases only (log(a) appears in d/db).
    "pow": (operator.pow, {"min_value": 0.2}, {"min_value": -2.0, "max_value": 2.0}),
}


@covers(*BINARY)
@pytest.mark.parametrize("name", sorted(BINARY))
@dtypes
@given(data=st.data())
def test_binary(name: str, dtype: Any, data: Any) -> None:
    op, kw_a, kw_b = BINARY[name]
    shape_a, shape_b = data.draw(mst.broadcastable_shapes(), label="shapes")
    a = data.draw(arrays(shape_a, dtype, **kw_a), label="a")
    b = data.draw(arrays(shape_b, dtype, **kw_b), label="b")
    check(op, (a, b), uses=[name])


@covers(*BINARY)
@pytest.mark.parametrize("name", sorted(BINARY))
@dtypes
@given(data=st.data())
def test_binary_with_a_constant_operand(name: str, dtype: Any, data: Any) -> None:
    # One side an ndarray constant (also the reflected form, through NumPy's
    # __array_ufunc__): the VJPs then see one Value and one raw array.
    op, kw_a, kw_b = BINARY[name]
    shape_a, shape_b = data.draw(mst.broadcastable_shapes(), label="shapes")
    a = data.draw(arrays(shape_a, dtype, **kw_a), label="a")
    b = data.draw(arrays(shape_b, dtype, **kw_b), label="b")
    check(lambda x: op(x, b), (a,), uses=[name])
    check(lambda y: op(a, y), (b,), uses=[name])


@covers(*BINARY)
@pytest.mark.parametrize("name", sorted(BINARY))
@dtypes
@given(data=st.data())
def test_binary_with_a_python_scalar(name: str, dtype: Any, data: Any) -> None:
    op, kw_a, kw_b = BINARY[name]
    shape = data.draw(mst.shapes(), label="shape")
    a = data.draw(arrays(shape, dtype, **kw_a), label="a")
    b = data.draw(arrays(shape, dtype, **kw_b), label="b")
    sa = float(data.draw(arrays((), np.float64, **kw_a), label="scalar a"))
    sb = float(data.draw(arrays((), np.float64, **kw_b), label="scalar b"))
    check(lambda x: op(x, sb), (a,), uses=[name])
    check(lambda y: op(sa, y), (b,), uses=[name])


@covers("neg")
@dtypes
@given(data=st.data())
def test_neg(dtype: Any, data: Any) -> None:
    x = data.draw(arrays(mst.shapes(), dtype))
    check(lambda v: -v, (x,), uses=["neg"])


@covers("pow")
@pytest.mark.parametrize("exponent", [2, 3, 2.0, 0, 1, -1])
@dtypes
@given(data=st.data())
def test_pow_constant_exponent_any_base(exponent: float, dtype: Any, data: Any) -> None:
    # Integer powers are defined for every base; -1 needs the base away from 0.
    away = (0.0,) if exponent == -1 else ()
    x = data.draw(arrays(mst.shapes(), dtype, away_from=away, margin=0.5))
    check(lambda v: v ** exponent, (x,), uses=["pow"])


@covers("pow")
@pytest.mark.parametrize("exponent", [0.5, -0.5, 1.5, 2.5, -2.0])
@dtypes
@given(data=st.data())
def test_pow_constant_exponent_positive_base(exponent: float, dtype: Any, data: Any) -> None:
    x = data.draw(arrays(mst.shapes(), dtype, min_value=0.2))
    check(lambda v: v ** exponent, (x,), uses=["pow"])


@covers("pow")
@dtypes
@given(data=st.data())
def test_pow_constant_base_value_exponent(dtype: Any, data: Any) -> None:
    base = data.draw(st.sampled_from([0.5, 2.0, np.e]), label="base")
    x = data.draw(arrays(mst.shapes(), dtype, min_value=-2.0, max_value=2.0))
    check(lambda v: base ** v, (x,), uses=["pow"])


@covers("pow")
def test_pow_mixed_second_derivative_at_zero_exponent_regression() -> None:
    # Once an engine bug: the base's VJP replaced the exponent b - 1 by the
    # constant 1 where b == 0, so d2(a**b)/da db came out as a instead of 1/a.
    a, b = mg.Value(0.5), mg.Value(0.0)
    (da,) = mg.gradients(a ** b, a, create_graph=True)
    (dadb,) = mg.gradients(da, b)
    # d/db [b * a**(b-1)] = a**(b-1) * (1 + b*log(a)) = 1/a at b = 0
    assert dadb.item() == pytest.approx(2.0)
    check_grads(lambda x, y: x ** y, (np.array([0.5, 2.0]), np.array([0.0, 0.0])), order=2)


@covers("pow")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pow_constant_exponents_two_and_zero(dtype: Any) -> None:
    # The slope of a square is exactly 2a (and of a**0 exactly 0, also at a == 0,
    # infinities and nan's aside), in both passes, in the dtype of a; second order too.
    a = np.array([-3.0, -0.5, 0.0, 0.25, 7.0], dtype=dtype)
    for exponent, slope in ((2, 2 * a), (2.0, 2.0 * a), (0, 0 * a), (0.0, 0.0 * a)):
        for create_graph in (False, True):
            x = mg.Value(a)
            (g,) = mg.gradients((x ** exponent).sum(), x, create_graph=create_graph)
            assert g.dtype == dtype
            np.testing.assert_array_equal(g.data, slope)
        x = mg.Value(a)
        (g,) = mg.gradients((x ** exponent).sum(), x, create_graph=True)
        (h,) = mg.gradients(g.sum(), x)
        np.testing.assert_array_equal(h.data, np.full_like(a, 2.0 if exponent == 2 else 0.0))
    check_grads(lambda x: x ** 2, (a,), order=2)


@covers("pow")
def test_pow_number_base_float32_gradient_dtype_regression() -> None:
    # Once an engine bug: log of a Python-number base became a float64 0-d
    # array and promoted the create_graph gradient of a float32 exponent.
    v = mg.Value(np.array([0.5, 1.0], dtype=np.float32))
    assert (2.0 ** v).dtype == np.float32
    (g,) = mg.gradients((2.0 ** v).sum(), v, create_graph=True)
    assert g.dtype == np.float32


@covers("pow")
@pytest.mark.parametrize("constant", [False, True], ids=["traced", "constant"])
def test_pow_zero_base_value_exponent_zero_regression(constant: bool) -> None:
    # Once an engine bug: with b a Value (traced, or a constant Value), the
    # create_graph VJP for the base computed b * a**(b - 1) as is, so at
    # a == b == 0 it gave 0 * inf = nan, while the plain backward gave 0 (a**0
    # is 1 for every a, so 0 is right).  Both modes must agree.
    grads = []
    for create_graph in (False, True):
        a = mg.Value(np.array([0.0, 2.0]))
        b = mg.Value(0.0, requires_grad=not constant)
        with np.errstate(divide="raise", invalid="raise"):
            (g,) = mg.gradients((a ** b).sum(), a, create_graph=create_graph)
        grads.append(g.data)
    np.testing.assert_array_equal(grads[0], [0.0, 0.0])
    np.testing.assert_array_equal(grads[1], [0.0, 0.0])


@covers("maximum", "minimum")
@pytest.mark.parametrize("fn", [mg.maximum, mg.minimum], ids=["maximum", "minimum"])
@dtypes
@given(data=st.data())
def test_maximum_minimum(fn: Any, dtype: Any, data: Any) -> None:
    shape_a, shape_b = data.draw(mst.broadcastable_shapes(max_dims=2), label="shapes")
    # One array of all elements, pairwise apart: no ties between a and b.
    na, nb = int(np.prod(shape_a)), int(np.prod(shape_b))
    # Away from 0.25 too: it is the constant operand below.
    both = data.draw(arrays((na + nb,), dtype, unique=True, away_from=(0.25,)),
                     label="a and b")
    a, b = both[:na].reshape(shape_a), both[na:].reshape(shape_b)
    check(fn, (a, b), uses=[fn.__name__])
    check(lambda x: fn(x, 0.25), (a,), uses=[fn.__name__])


@covers("where")
@dtypes
@given(data=st.data())
def test_where(dtype: Any, data: Any) -> None:
    shape_a, shape_b = data.draw(mst.broadcastable_shapes(), label="shapes")
    full = np.broadcast_shapes(shape_a, shape_b)
    # cond broadcasts too, and may even add a leading axis to the result.
    cond_shape = data.draw(st.sampled_from([full, shape_a, shape_b, (2, *full)]),
                           label="cond shape")
    cond = data.draw(st.lists(st.booleans(), min_size=int(np.prod(cond_shape)),
                              max_size=int(np.prod(cond_shape))), label="cond")
    cond = np.array(cond, dtype=bool).reshape(cond_shape)
    a = data.draw(arrays(shape_a, dtype), label="a")
    b = data.draw(arrays(shape_b, dtype), label="b")
    check(lambda x, y: mg.where(cond, x, y), (a, b), uses=["where"])
    check(lambda x: mg.where(cond, x * x, 0.0), (a,), uses=["where"])


# ---- matmul ----------------------------------------------------------------------

MATMUL_CASES = {
    # name: shapes of a and b in terms of the sizes n, k, m and a batch size B
    "2d@2d": lambda n, k, m, B: ((n, k), (k, m)),
    "1d@2d": lambda n, k, m, B: ((k,), (k, m)),
    "2d@1d": lambda n, k, m, B: ((n, k), (k,)),
    "1d@1d": lambda n, k, m, B: ((k,), (k,)),
    "3d@2d": lambda n, k, m, B: ((B, n, k), (k, m)),
    "2d@3d": lambda n, k, m, B: ((n, k), (B, k, m)),
    "3d@3d": lambda n, k, m, B: ((B, n, k), (B, k, m)),
    "batch-broadcast": lambda n, k, m, B: ((1, n, k), (B, 1, k, m)),
    "1d@3d": lambda n, k, m, B: ((k,), (B, k, m)),
    "3d@1d": lambda n, k, m, B: ((B, n, k), (k,)),
}


@covers("matmul")
@pytest.mark.parametrize("case", sorted(MATMUL_CASES))
@dtypes
@given(data=st.data())
def test_matmul(case: str, dtype: Any, data: Any) -> None:
    n, k, m, batch = data.draw(st.tuples(*[st.integers(1, 3)] * 4), label="n, k, m, B")
    shape_a, shape_b = MATMUL_CASES[case](n, k, m, batch)
    a = data.draw(arrays(shape_a, dtype), label="a")
    b = data.draw(arrays(shape_b, dtype), label="b")
    check(operator.matmul, (a, b), uses=["matmul"])
    # An ndarray on the left goes through NumPy's __array_ufunc__ (reflected form).
    check(lambda y: a @ y, (b,), uses=["matmul"])


# ---- elementwise unary ------------------------------------------------------------

UNARY: dict[str, tuple[Callable[[Any], Any], dict]] = {
    "exp": (mg.exp, {}),
    "log": (mg.log, {"min_value": 0.2}),
    "sqrt": (mg.sqrt, {"min_value": 0.2}),
    "sin": (mg.sin, {}),
    "cos": (mg.cos, {}),
    "tanh": (mg.tanh, {}),
    "sigmoid": (mg.sigmoid, {"min_value": -6.0, "max_value": 6.0}),
    # Kinks at 0: finite differences must not straddle them.
    "relu": (mg.relu, {"away_from": (0.0,)}),
    "abs": (mg.abs, {"away_from": (0.0,)}),
}


@covers(*UNARY)
@pytest.mark.parametrize("name", sorted(UNARY))
@dtypes
@given(data=st.data())
def test_unary(name: str, dtype: Any, data: Any) -> None:
    fn, kw = UNARY[name]
    x = data.draw(arrays(mst.shapes(), dtype, **kw))
    check(fn, (x,), uses=[name])
    # The method form, and composed with itself (the chain rule at second order).
    method = getattr(Value, name)
    check(lambda v: method(v) * method(v), (x,), uses=[name])


@covers("clip")
@dtypes
@given(data=st.data())
def test_clip(dtype: Any, data: Any) -> None:
    lo = data.draw(st.one_of(st.none(), st.sampled_from([-2.0, -1.0, -0.5, 0.0])), label="lo")
    hi = data.draw(st.one_of(st.none(), st.sampled_from([0.5, 1.0, 2.5])), label="hi")
    bounds = tuple(b for b in (lo, hi) if b is not None)
    x = data.draw(arrays(mst.shapes(), dtype, away_from=bounds))
    check(lambda v: mg.clip(v, lo, hi), (x,), uses=["clip"])
    check(lambda v: v.clip(lo, hi) * v, (x,), uses=["clip"])


# ---- reductions -----------------------------------------------------------------

REDUCTIONS = {"sum": mg.sum, "mean": mg.mean, "max": mg.max, "min": mg.min}


@covers(*REDUCTIONS)
@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@dtypes
@given(data=st.data())
def test_reduction(name: str, dtype: Any, data: Any) -> None:
    fn = REDUCTIONS[name]
    shape = data.draw(mst.shapes(), label="shape")
    axis = data.draw(axes_for(len(shape)), label="axis")
    keepdims = data.draw(st.booleans(), label="keepdims")
    # No ties for max and min (their gradient there is a subgradient).
    x = data.draw(arrays(shape, dtype, unique=name in ("max", "min"), margin=0.05), label="x")
    check(lambda v: fn(v, axis=axis, keepdims=keepdims), (x,), uses=[name])
    # Squared afterwards, so the second derivative flows through the reduction's VJP.
    check(lambda v: getattr(v, name)(axis=axis, keepdims=keepdims) ** 2, (x,), uses=[name])


@covers("mean")
@dtypes
@given(data=st.data())
def test_mean_is_numpys_mean_bit_for_bit(dtype: Any, data: Any) -> None:
    # mean skips np.mean's Python-level wrapper for float arrays: the same sum,
    # divided by the count as NumPy divides it (in float64, rounded once).
    shape = data.draw(mst.shapes(max_side=40), label="shape")
    axis = data.draw(axes_for(len(shape)), label="axis")
    keepdims = data.draw(st.booleans(), label="keepdims")
    x = data.draw(arrays(shape, dtype, min_value=-1e30, max_value=1e30), label="x")
    got, want = mg.mean(x, axis=axis, keepdims=keepdims).data, np.mean(
        x, axis=axis, keepdims=keepdims)
    assert type(got) is type(want) and np.shape(got) == np.shape(want)
    assert np.asarray(got).dtype == dtype
    np.testing.assert_array_equal(got, want, strict=True)
    np.testing.assert_array_equal(mg.Value(x).mean(axis=axis, keepdims=keepdims).data, want)


def test_mean_of_nothing_is_numpys() -> None:
    # NumPy's warning, and not its 0/0 (which np.mean also divides).
    with pytest.warns(RuntimeWarning, match="Mean of empty slice"), np.errstate(invalid="ignore"):
        y = mg.mean(mg.Value(np.zeros((0, 3))))
    assert np.isnan(y.item())
    with pytest.warns(RuntimeWarning, match="Mean of empty slice"), np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(mg.mean(np.zeros((0, 3)), axis=0).data, [np.nan] * 3)
    np.testing.assert_array_equal(mg.mean(np.zeros((0, 3)), axis=1).data, np.zeros(0))


# ---- shape ops ---------------------------------------------------------------------


@covers("reshape")
@dtypes
@given(data=st.data())
def test_reshape(dtype: Any, data: Any) -> None:
    shape = data.draw(mst.shapes(), label="shape")
    n = int(np.prod(shape))
    new = data.draw(st.sampled_from([(n,), (1, n), (n, 1), shape[::-1], (-1,), (1, -1, 1)]),
                    label="new shape")
    x = data.draw(arrays(shape, dtype), label="x")
    check(lambda v: v.reshape(new) ** 2, (x,), uses=["reshape"])
    check(lambda v: mg.reshape(v, *new) * v.reshape(new), (x,), uses=["reshape"])


@covers("transpose")
@dtypes
@given(data=st.data())
def test_transpose(dtype: Any, data: Any) -> None:
    shape = data.draw(mst.shapes(), label="shape")
    nd = len(shape)
    perm = data.draw(st.permutations(range(nd)), label="axes")
    # NumPy also takes axes counted from the end: (-1, 0, 1) is (2, 0, 1).
    negative = data.draw(st.lists(st.booleans(), min_size=nd, max_size=nd), label="negative")
    perm = tuple(a - nd if neg else a for a, neg in zip(perm, negative, strict=True))
    x = data.draw(arrays(shape, dtype), label="x")
    check(lambda v: v.T ** 2, (x,), uses=["transpose"])
    check(lambda v: v.transpose() * v.T, (x,), uses=["transpose"])
    check(lambda v: mg.transpose(v, perm) ** 2, (x,), uses=["transpose"])
    check(lambda v: v.transpose(*perm) * 1.5, (x,), uses=["transpose"])


@covers("transpose")
def test_transpose_negative_axes_regression() -> None:
    # Once an engine bug: the VJP inverted (-1, 0, 1) with argsort as if it were
    # (0, 1, 2), and the gradient came back with the output's shape.
    x = mg.Value(np.zeros((2, 3, 4)))
    y = x.transpose(-1, 0, 1)
    assert y.shape == (4, 2, 3)
    g = np.arange(24.0).reshape(4, 2, 3)
    y.backward(g)
    assert x.grad.shape == (2, 3, 4)
    np.testing.assert_array_equal(x.grad, g.transpose(1, 2, 0))


@st.composite
def basic_indices(draw: Any, shape: tuple[int, ...]) -> tuple:
    """A basic index for ``shape``: ints, slices (any step), None and Ellipsis."""
    index: list[Any] = []
    for n in shape:
        kind = draw(st.sampled_from(["int", "slice", "all"]))
        if kind == "int":
            index.append(draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            start = draw(st.one_of(st.none(), st.integers(-n, n)))
            stop = draw(st.one_of(st.none(), st.integers(-n, n)))
            step = draw(st.one_of(st.none(), st.sampled_from([1, 2, -1, -2])))
            index.append(slice(start, stop, step))
        else:
            index.append(slice(None))
    if index and draw(st.booleans()):
        index[0] = Ellipsis
    if draw(st.booleans()):
        index.insert(draw(st.integers(0, len(index))), None)
    return tuple(index)


@covers("getitem", "index_add")
@dtypes
@given(data=st.data())
def test_getitem_basic(dtype: Any, data: Any) -> None:
    shape = data.draw(mst.shapes(min_dims=1), label="shape")
    index = data.draw(basic_indices(shape), label="index")
    x = data.draw(arrays(shape, dtype), label="x")
    if x[index].size == 0:
        check(lambda v: v[index].sum() + (v * v).sum(), (x,), uses=["getitem"])
    else:
        check(lambda v: v[index] ** 2, (x,), uses=["getitem", "index_add"])


@covers("getitem", "index_add")
@dtypes
@given(data=st.data())
def test_getitem_integer_arrays_with_repeats(dtype: Any, data: Any) -> None:
    shape = data.draw(mst.shapes(min_dims=1), label="shape")
    n0 = shape[0]
    # Repeats are likely with at most 4 distinct values and up to 6 picks.
    rows = data.draw(st.lists(st.integers(-n0, n0 - 1), min_size=1, max_size=6), label="rows")
    x = data.draw(arrays(shape, dtype), label="x")
    check(lambda v: v[rows] ** 2, (x,), uses=["getitem", "index_add"])
    check(lambda v: v[np.array(rows)] * v[np.array(rows)], (x,), uses=["getitem"])
    if len(shape) >= 2:
        cols = data.draw(st.lists(st.integers(0, shape[1] - 1), min_size=len(rows),
                                  max_size=len(rows)), label="cols")
        idx = (np.array(rows), np.array(cols))
        check(lambda v: v[idx] ** 2, (x,), uses=["getitem", "index_add"])
        check(lambda v: v[:, np.array(cols)] ** 2, (x,), uses=["getitem", "index_add"])


def test_getitem_repeated_index_accumulates() -> None:
    x = mg.Value(np.array([1.0, 2.0, 3.0]))
    x[[0, 0, 2, 0]].sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 0.0, 1.0])


@covers("concatenate")
@dtypes
@given(data=st.data())
def test_concatenate(dtype: Any, data: Any) -> None:
    shape = data.draw(mst.shapes(min_dims=1), label="shape")
    nd = len(shape)
    axis = data.draw(st.integers(-nd, nd - 1), label="axis")
    sizes = data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=3), label="sizes")
    parts = []
    for i, s in enumerate(sizes):
        part_shape = list(shape)
        part_shape[axis] = s
        parts.append(data.draw(arrays(tuple(part_shape), dtype), label=f"part {i}"))
    check(lambda *vs: mg.concatenate(vs, axis=axis) ** 2, tuple(parts), uses=["concatenate"])
    # A constant among the Values: only the Values get gradients.
    check(lambda v: mg.concatenate([parts[0], v * v], axis=axis), (parts[-1],),
          uses=["concatenate"])


@covers("stack")
@dtypes
@given(data=st.data())
def test_stack(dtype: Any, data: Any) -> None:
    shape = data.draw(mst.shapes(), label="shape")
    nd = len(shape) + 1
    axis = data.draw(st.integers(-nd, nd - 1), label="axis")
    count = data.draw(st.integers(1, 3), label="count")
    parts = tuple(data.draw(arrays(shape, dtype), label=f"part {i}") for i in range(count))
    check(lambda *vs: mg.stack(vs, axis=axis) ** 2, parts, uses=["concatenate", "reshape"])


@covers("array")
@dtypes
@given(data=st.data())
def test_array(dtype: Any, data: Any) -> None:
    # nested lists of Values (of any one shape) and numbers, as np.array builds them
    shape = data.draw(mst.shapes(max_dims=2), label="shape")
    a, b = (data.draw(arrays(shape, dtype), label=n) for n in "ab")
    check(lambda u, v: mg.array([[u * v, u], [v, u - v]]) ** 2, (a, b),
          uses=["concatenate", "reshape"])
    check(lambda u: mg.array([u, 2.0 * u, u * u]), (a,), uses=["concatenate"])


# ---- composites --------------------------------------------------------------------


@covers("logsumexp")
@dtypes
@given(data=st.data())
def test_logsumexp(dtype: Any, data: Any) -> None:
    shape = data.draw(mst.shapes(), label="shape")
    axis = data.draw(axes_for(len(shape)), label="axis")
    keepdims = data.draw(st.booleans(), label="keepdims")
    x = data.draw(arrays(shape, dtype), label="x")
    check(lambda v: mg.logsumexp(v, axis=axis, keepdims=keepdims), (x,))


@covers("softmax", "log_softmax")
@pytest.mark.parametrize("fn", [mg.softmax, mg.log_softmax], ids=["softmax", "log_softmax"])
@dtypes
@given(data=st.data())
def test_softmax(fn: Any, dtype: Any, data: Any) -> None:
    shape = data.draw(mst.shapes(min_dims=1), label="shape")
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    x = data.draw(arrays(shape, dtype), label="x")
    check(lambda v: fn(v, axis=axis), (x,))


@covers("log_softmax")
@dtypes
@given(data=st.data())
def test_log_softmax_over_any_axes(dtype: Any, data: Any) -> None:
    # Like NumPy reductions: an int, a tuple of axes (maybe negative) or None (all).
    shape = data.draw(mst.shapes(), label="shape")
    axis = data.draw(axes_for(len(shape)), label="axis")
    x = data.draw(arrays(shape, dtype), label="x")
    check(lambda v: mg.log_softmax(v, axis=axis) * np.linspace(1.0, 2.0, x.size,
                                                                 dtype=dtype).reshape(shape),
          (x,), uses=["log_softmax"])
    # Its values: log-probabilities that sum to 1 over the axes.
    p = np.exp(mg.log_softmax(x.astype(np.float64), axis=axis).data)
    np.testing.assert_allclose(p.sum(axis=axis), 1.0, rtol=1e-12)


# ---- the internal shape plumbing, directly and through the public ops that use it ----


@covers("sum_to", "broadcast_to")
@dtypes
@given(data=st.data())
def test_sum_to_and_broadcast_to(dtype: Any, data: Any) -> None:
    small, big = data.draw(mst.broadcastable_shapes(), label="shapes")
    full = np.broadcast_shapes(small, big)
    x = data.draw(arrays(small, dtype), label="x")
    y = data.draw(arrays(full, dtype), label="y")
    check(lambda v: ops.broadcast_to(v, shape=full) ** 2, (x,), uses=["broadcast_to"])
    check(lambda v: ops.sum_to(v, shape=small) ** 2, (y,), uses=["sum_to"])
    # Through the public ops: broadcasting add (VJP sum_to) and a reduction (VJP broadcast_to).
    check(lambda u, v: (u + v) ** 2, (x, y), uses=["sum_to"] if small != full else [])
    if x.ndim:
        check(lambda v: v.sum(axis=0) ** 2, (x,), uses=["broadcast_to"])


@covers("index_add")
@dtypes
@given(data=st.data())
def test_index_add(dtype: Any, data: Any) -> None:
    shape = data.draw(mst.shapes(min_dims=1), label="shape")
    rows = data.draw(st.lists(st.integers(0, shape[0] - 1), min_size=1, max_size=5),
                     label="rows")
    index = (np.array(rows),)
    g = data.draw(arrays((len(rows),) + shape[1:], dtype), label="g")
    check(lambda v: ops.index_add(v, index=index, shape=shape) ** 2, (g,),
          uses=["index_add", "getitem"])


# ---- completeness -------------------------------------------------------------------


def test_every_primitive_has_a_test() -> None:
    # The vocabulary's tests live beside this file, one module per family; importing
    # them registers what they cover (pytest would import them too, but this test
    # must hold when run alone).
    for path in sorted(pathlib.Path(__file__).parent.glob("test_vocab_*.py")):
        importlib.import_module(path.stem)
    missing = sorted(set(ops.ALL) - set(COVERAGE))
    assert not missing, (
        f"primitives of microgd.ops.ALL without a gradient test: {missing}; add a property "
        "test to tests/test_primitives.py and mark it with @covers(NAME)"
    )
    untested = sorted(PUBLIC_FUNCTIONS - set(COVERAGE))
    assert not untested, f"public functions without a gradient test: {untested}"
    for name, tests in COVERAGE.items():
        for module, test in tests:
            assert callable(getattr(sys.modules[module], test, None)), (
                f"{name}: covering test {module}.{test} is missing")


def test_public_functions_list_is_complete() -> None:
    # Every public function a family module defines is in its __all__ (and so in
    # PUBLIC_FUNCTIONS, which the coverage guard checks).
    for family in functions.FAMILIES:
        defined = {
            name for name, obj in vars(family).items()
            if callable(obj) and not name.startswith("_")
            and getattr(obj, "__module__", None) == family.__name__
        }
        extra = sorted(defined - set(family.__all__))
        assert not extra, (family.__name__, extra)
    assert PUBLIC_FUNCTIONS, "found no public functions in microgd.functions"
    for name in PUBLIC_FUNCTIONS:
        assert getattr(mg, name) is getattr(functions, name), name


# ---- explicit values ----------------------------------------------------------------


def _softmax_reference(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


@dtypes
def test_logsumexp_extreme_values(dtype: Any) -> None:
    x = np.array([1000.0, -1000.0, 999.0], dtype=dtype)
    v = mg.Value(x)
    y = mg.logsumexp(v)
    assert np.isfinite(y.data)
    np.testing.assert_allclose(y.item(), 1000.0 + np.log1p(np.exp(-1.0)), rtol=1e-6)
    y.backward()
    assert np.all(np.isfinite(v.grad))
    np.testing.assert_allclose(v.grad, _softmax_reference(x.astype(np.float64)),
                               rtol=1e-5, atol=1e-7)
    v2 = mg.Value(np.array([-1000.0, -1000.0], dtype=dtype))
    y2 = mg.logsumexp(v2)
    np.testing.assert_allclose(y2.item(), -1000.0 + np.log(2.0), rtol=1e-6)
    y2.backward()
    np.testing.assert_allclose(v2.grad, [0.5, 0.5], rtol=1e-6)


@dtypes
def test_softmax_extreme_values(dtype: Any) -> None:
    x = np.array([1000.0, -1000.0, 999.0], dtype=dtype)
    v = mg.Value(x)
    s = mg.softmax(v)
    expected = _softmax_reference(x.astype(np.float64))
    assert np.all(np.isfinite(s.data))
    np.testing.assert_allclose(s.data, expected, rtol=1e-5, atol=1e-30)
    u = np.array([1.0, 2.0, -1.0])
    (s * u).sum().backward()
    # d/dx sum(u * softmax(x)) = s * (u - sum(s * u))
    assert np.all(np.isfinite(v.grad))
    np.testing.assert_allclose(v.grad, expected * (u - expected @ u), rtol=1e-5, atol=1e-7)


@dtypes
def test_log_softmax_extreme_values(dtype: Any) -> None:
    x = np.array([1000.0, -1000.0], dtype=dtype)
    v = mg.Value(x)
    ls = mg.log_softmax(v)
    np.testing.assert_allclose(ls.data, [0.0, -2000.0], atol=1e-3)
    u = np.array([1.0, 2.0])
    (ls * u).sum().backward()
    # d/dx sum(u * log_softmax(x)) = u - softmax(x) * sum(u)
    assert np.all(np.isfinite(v.grad))
    np.testing.assert_allclose(v.grad, u - np.array([1.0, 0.0]) * u.sum(), atol=1e-6)


@dtypes
def test_log_softmax_and_logsumexp_second_derivatives_at_extreme_values(dtype: Any) -> None:
    # The Hessian of logsumexp is diag(s) - s s^T (s the softmax), also at |x| ~ 1000;
    # log_softmax has the same Hessian for each output up to sign.
    x = np.array([1000.0, -1000.0, 999.0], dtype=dtype)
    s = _softmax_reference(x.astype(np.float64))
    expected = np.diag(s) - np.outer(s, s)
    hl = mg.hessian(lambda v: mg.logsumexp(v))(x)
    np.testing.assert_allclose(hl, expected, rtol=2e-5, atol=1e-7)
    hs = mg.hessian(lambda v: -mg.log_softmax(v)[0])(x)
    np.testing.assert_allclose(hs, expected, rtol=2e-5, atol=1e-7)


@dtypes
def test_sigmoid_extreme_values(dtype: Any) -> None:
    v = mg.Value(np.array([1000.0, -1000.0, 0.0, 40.0], dtype=dtype))
    y = mg.sigmoid(v)
    np.testing.assert_allclose(y.data, [1.0, 0.0, 0.5, 1.0], rtol=1e-7)
    y.sum().backward()
    assert np.all(np.isfinite(v.grad))
    np.testing.assert_allclose(v.grad, [0.0, 0.0, 0.25, 0.0], atol=1e-15)
    # The second derivative is finite too.
    w = mg.Value(np.array([1000.0, -1000.0], dtype=dtype))
    (g,) = mg.gradients(mg.sigmoid(w).sum(), w, create_graph=True)
    (h,) = mg.gradients(g.sum(), w)
    assert np.all(np.isfinite(h.data))
    np.testing.assert_allclose(h.data, [0.0, 0.0], atol=1e-15)


def test_sigmoid_tails_have_full_relative_accuracy() -> None:
    v = mg.Value(np.array([-30.0, -700.0]))
    np.testing.assert_allclose(mg.sigmoid(v).data, np.exp([-30.0, -700.0]) / (1 + np.exp(
        [-30.0, -700.0])), rtol=1e-12)


def test_max_and_maximum_split_ties_evenly() -> None:
    x = mg.Value(np.array([1.0, 3.0, 3.0]))
    x.max().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.5, 0.5])
    a, b = mg.Value(np.array([2.0, 1.0])), mg.Value(np.array([2.0, 5.0]))
    mg.maximum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad, [0.5, 0.0])
    np.testing.assert_array_equal(b.grad, [0.5, 1.0])


FLOAT32_CASES: dict[str, Callable[[Value], Value]] = {
    "add": lambda v: v + v, "sub": lambda v: v - 1.0, "mul": lambda v: v * 2.0,
    "div": lambda v: v / 3.0, "neg": lambda v: -v, "pow": lambda v: v ** 2,
    "pow_value": lambda v: 2.0 ** v, "pow_values": lambda v: (v * v + 1.0) ** (v * 0.0 + 1.5),
    "matmul": lambda v: v @ v.T, "exp": mg.exp,
    "log": lambda v: mg.log(v * v + 1.0), "sqrt": lambda v: mg.sqrt(v * v + 1.0),
    "sin": mg.sin, "cos": mg.cos, "tanh": mg.tanh, "sigmoid": mg.sigmoid, "relu": mg.relu,
    "abs": mg.abs, "maximum": lambda v: mg.maximum(v, 0.1),
    "minimum": lambda v: mg.minimum(v, 0.1), "where": lambda v: mg.where(v > 0, v, -v),
    "clip": lambda v: mg.clip(v, -0.5, 0.5), "sum": lambda v: v.sum(axis=0),
    "mean": lambda v: v.mean(), "max": lambda v: v.max(axis=1), "min": lambda v: v.min(),
    "reshape": lambda v: v.reshape(-1), "transpose": lambda v: v.transpose(1, 0),
    "getitem": lambda v: v[[0, 0], 1:], "concatenate": lambda v: mg.concatenate([v, v]),
    "stack": lambda v: mg.stack([v, v], axis=1), "logsumexp": lambda v: mg.logsumexp(v, 1),
    "softmax": mg.softmax, "log_softmax": mg.log_softmax,
}


@pytest.mark.parametrize("name", sorted(FLOAT32_CASES))
def test_float32_stays_float32(name: str) -> None:
    x = np.array([[0.3, -1.2, 2.0], [1.5, 0.7, -0.4]], dtype=np.float32)
    v = mg.Value(x)
    y = FLOAT32_CASES[name](v)
    assert y.dtype == np.float32, f"{name}: output dtype {y.dtype}"
    y.backward(np.ones(y.shape, dtype=np.float32))
    assert v.grad is not None and v.grad.dtype == np.float32, f"{name}: grad {v.grad.dtype}"
    assert v.grad.shape == x.shape
    # The create_graph path keeps float32 too, for the gradient and its derivative.
    w = mg.Value(x)
    (g,) = mg.gradients(FLOAT32_CASES[name](w), w,
                        grad_outputs=np.ones(y.shape, dtype=np.float32), create_graph=True)
    assert g.dtype == np.float32, f"{name}: create_graph gradient dtype {g.dtype}"
    if g.requires_grad:
        (h,) = mg.gradients((g * g).sum(), w)
        assert h.dtype == np.float32, f"{name}: second derivative dtype {h.dtype}"


def test_every_family_exports_exactly_its_own_primitives() -> None:
    # ops/__init__ re-exports each family's __all__; a primitive missing from it would
    # be invisible as ops.NAME.  A family's own primitives are the ones it annotates
    # (`name: Primitive = Primitive(...)`), not the ones it imports.
    for family in ops.FAMILIES:
        own = {n for n in vars(family).get("__annotations__", {})
               if isinstance(getattr(family, n), ops.Primitive)}
        declared = {n for n in family.__all__ if isinstance(getattr(family, n), ops.Primitive)}
        assert declared == own, (family.__name__, sorted(declared ^ own))
        for n in declared:
            assert getattr(ops, n) is getattr(family, n)
            assert ops.ALL[getattr(family, n).name] is getattr(family, n)
