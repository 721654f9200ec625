"""The checker itself: check_grads must pass right derivatives and catch wrong ones,
and the strategies must draw what they promise."""

from __future__ import annotations

import operator
from typing import Any

import numpy as np
import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

import microgd as mg
from microgd import Primitive, Value
from microgd.ops.shape import _expand
from microgd.testing import TABLE_HEADER, check_grads
from microgd.testing import gradcheck as gc
from microgd.testing import strategies as mst
from microgd.value import as_array as _raw

DTYPES = [np.float64, np.float32]
dtypes = pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])

RNG = np.random.default_rng(1234)
X = RNG.uniform(-2.0, 2.0, size=(3, 4))
W = RNG.uniform(-2.0, 2.0, size=(4,))

# ---- deliberately wrong primitives -------------------------------------------------

# d(x**2)/dx is 2x: this VJP forgets the 2.
bad_square = Primitive("bad_square", lambda x: x ** 2, lambda g, ans, x: g * x)

# d(x**3)/dx = 3x**2 is right in value, but written with _raw(x), a constant:
# under create_graph it does not depend on x, so the second derivative is 0.
frozen_cube = Primitive("frozen_cube", lambda x: x ** 3,
                        lambda g, ans, x: g * 3 * _raw(x) ** 2)

# Right in both arguments except that b's gradient has the wrong sign.
bad_mul = Primitive("bad_mul", operator.mul,
                    lambda g, ans, a, b: g * b, lambda g, ans, a, b: -(g * a))

# An add that forgets to sum broadcast gradients back to the inputs' shapes.
unbroadcast_add = Primitive("unbroadcast_add", operator.add,
                            lambda g, ans, a, b: g, lambda g, ans, a, b: g)


def _off_at(index: tuple[int, ...]) -> Primitive:
    """x**2 whose VJP is wrong (by +1) at a single element."""
    def vjp(g: Any, ans: Any, x: Any) -> Any:
        bump = np.zeros(np.shape(_raw(x)))
        bump[index] = 1.0
        return g * 2 * x + g * bump
    return Primitive("off_at", lambda x: x ** 2, vjp)


def _scaled_square(factor: float) -> Primitive:
    return Primitive("scaled_square", lambda x: x ** 2, lambda g, ans, x: g * 2 * x * factor)


def _mode_dependent_square() -> Primitive:
    """x**2 whose VJP is right in a plain backward but doubled under create_graph."""
    def vjp(g: Any, ans: Any, x: Any) -> Any:
        return g * 4 * x if isinstance(g, Value) else g * 2 * x
    return Primitive("mode_square", lambda x: x ** 2, vjp)


# ---- check_grads passes right derivatives -------------------------------------------


def logistic_loss(x: Value, w: Value) -> Value:
    return mg.log(1 + mg.exp(-(x @ w))).mean()


@dtypes
@pytest.mark.parametrize("order", [1, 2])
def test_passes_on_correct_functions(dtype: Any, order: int) -> None:
    x, w = X.astype(dtype), W.astype(dtype)
    assert check_grads(logistic_loss, (x, w), order=order) is None
    assert check_grads(lambda v: mg.tanh(v) * v.sin(), (x,), order=order) is None
    assert check_grads(lambda a, b: (a @ b).exp(), (x, w), order=order) is None
    assert check_grads(lambda v: mg.softmax(v, axis=0), (x,), order=order) is None
    # A 0-d argument and a scalar output.
    assert check_grads(lambda s, v: (s * v).sum() ** 2, (dtype(0.7), x), order=order) is None


def test_accepts_numbers_ints_lists_and_values() -> None:
    check_grads(lambda a, b: a * b ** 2, (3, [1.0, -2.0]))
    v = Value(np.array([0.5, 1.5]))
    check_grads(lambda a: a ** 3, (v,))
    assert v.grad is None  # check_grads never touches .grad


def test_passes_on_the_docs_mixed_precision_and_integer_arguments() -> None:
    # Mixed dtypes: the float32 defaults apply (the least precise dtype wins).
    check_grads(lambda a, b: a * b, (X.astype(np.float32), W.astype(np.float64)[None, :]))
    check_grads(lambda a: a * a, (np.arange(3),))


def test_works_inside_no_grad() -> None:
    with mg.no_grad():
        check_grads(lambda v: v.exp().sum(), (W,))
    with mg.no_grad(), pytest.raises(AssertionError, match="order 1"):
        check_grads(bad_square, (W,))


def test_constant_and_linear_functions() -> None:
    # Gradients that are constants (no graph) and outputs that ignore an input.
    check_grads(lambda a, b: a * 3.0 + 1.0, (X, W))
    check_grads(lambda a: Value(np.ones(3), requires_grad=False) + 0 * a.sum(), (W,))


# ---- check_grads catches wrong derivatives --------------------------------------------


@dtypes
def test_catches_a_wrong_first_derivative(dtype: Any) -> None:
    with pytest.raises(AssertionError) as info:
        check_grads(bad_square, (X.astype(dtype),), order=1)
    msg = str(info.value)
    assert TABLE_HEADER in msg
    assert "order 1: 12 of 12 entries disagree" in msg
    assert f"dtype {np.dtype(dtype)}" in msg
    # The table's numbers are right: analytic is half the numeric derivative.
    rows = _rows(msg)
    assert len(rows) == 10  # capped at MAX_ROWS, the rest summarized
    assert "... and 2 more" in msg
    for arg, _, analytic, numeric, err, _tol in rows:
        assert arg == 0
        assert numeric == pytest.approx(2 * analytic, rel=1e-2)
        assert err == pytest.approx(abs(analytic - numeric), rel=1e-2)
    # Worst first: ordered by how many tolerances each entry is off.
    # (The table prints 3 digits, so allow for that rounding.)
    ratios = [r[4] / r[5] for r in rows]
    assert all(a >= 0.98 * b for a, b in zip(ratios, ratios[1:], strict=False))


@dtypes
def test_catches_a_wrong_second_derivative(dtype: Any) -> None:
    x = X.astype(dtype)
    assert check_grads(frozen_cube, (x,), order=1) is None
    with pytest.raises(AssertionError) as info:
        check_grads(frozen_cube, (x,), order=2)
    msg = str(info.value)
    assert TABLE_HEADER in msg
    assert "order 2" in msg and "order 1:" not in msg
    rows = _rows(msg)
    assert rows and all(r[2] == 0.0 for r in rows)  # the analytic second derivative is lost


def test_names_the_wrong_argument_and_element() -> None:
    with pytest.raises(AssertionError) as info:
        check_grads(bad_mul, (X, X[::-1]), order=1)
    rows = _rows(str(info.value))
    assert rows and {r[0] for r in rows} == {1}  # only argument 1 is wrong
    with pytest.raises(AssertionError) as info:
        check_grads(_off_at((1, 2)), (X,), order=1)
    msg = str(info.value)
    assert "order 1: 1 of 12 entries disagree" in msg
    (row,) = _rows(msg)
    assert row[:2] == (0, "(1, 2)")


def test_catches_a_gradient_of_the_wrong_shape() -> None:
    with pytest.raises(AssertionError, match=r"has shape \(3, 4\).*shape \(4,\)"):
        check_grads(unbroadcast_add, (X, W), order=1)


def test_catches_create_graph_disagreeing_with_plain_backward() -> None:
    with pytest.raises(AssertionError, match="create_graph=True vs create_graph=False"):
        check_grads(_mode_dependent_square(), (W,), order=2)


def test_tolerances_are_honoured() -> None:
    slightly_off = _scaled_square(1 + 1e-3)
    with pytest.raises(AssertionError, match="rtol=1e-05"):
        check_grads(slightly_off, (X,), order=1)
    check_grads(slightly_off, (X,), order=1, rtol=1e-2)
    with pytest.raises(AssertionError, match="rtol=0.0001"):
        check_grads(slightly_off, (X,), order=1, rtol=1e-4, atol=0.0)
    # float32 defaults are coarser, as documented; an explicit rtol tightens them.
    x32 = X.astype(np.float32)
    check_grads(slightly_off, (x32,), order=1)
    with pytest.raises(AssertionError, match="rtol=0.0001"):
        check_grads(_scaled_square(1.01), (x32,), order=1, rtol=1e-4)


def test_default_tolerances_per_dtype() -> None:
    with pytest.raises(AssertionError, match=r"dtype float64, eps=1e-06, rtol=1e-05, atol=1e-08"):
        check_grads(bad_square, (X,), order=1)
    with pytest.raises(AssertionError, match=r"dtype float32, eps=0.001, rtol=0.02, atol=0.001"):
        check_grads(bad_square, (X.astype(np.float32),), order=1)


def test_float32_catches_small_factors_and_signs() -> None:
    # float32 is coarse, but not blind: a 10% error is caught.
    with pytest.raises(AssertionError):
        check_grads(_scaled_square(1.1), (X.astype(np.float32),), order=1)
    with pytest.raises(AssertionError):
        check_grads(_scaled_square(-1.0), (X.astype(np.float32),), order=1)


def test_seed_changes_the_cotangents() -> None:
    # The same wrong rule is caught with any seed, and the seed is reported.
    for seed in (0, 1, 2):
        with pytest.raises(AssertionError, match=f"seed={seed}"):
            check_grads(bad_square, (W,), order=1, seed=seed)


@pytest.mark.parametrize("case", ["tanh-first", "tanh-second", "mul-b", "sum-broadcast"])
def test_catches_a_broken_engine_primitive(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Break a real primitive's VJP in place: the checks used by
    # tests/test_primitives.py must notice, at the order where it is wrong.
    ops = mg.ops
    if case == "tanh-first":   # a sign error
        monkeypatch.setattr(ops.tanh, "vjps", (lambda g, ans, x: g * (ans * ans - 1),))
        f, args, order = mg.tanh, (X,), 1
    elif case == "tanh-second":  # right values from a frozen ans: no second derivative
        monkeypatch.setattr(ops.tanh, "vjps", (lambda g, ans, x: g * (1 - _raw(ans) ** 2),))
        f, args, order = mg.tanh, (X,), 2
    elif case == "mul-b":      # b's gradient not summed over the broadcast axis
        mul_a, _ = ops.mul.vjps
        monkeypatch.setattr(ops.mul, "vjps", (mul_a, lambda g, ans, a, b: (g * a)[:1]))
        f, args, order = operator.mul, (X, X[:1]), 1
    else:                      # sum's VJP scaled by the size, like mean's in reverse
        monkeypatch.setattr(ops.sum, "vjps", (
            lambda g, ans, x, axis, keepdims: _expand(g, x, axis, keepdims) * 2.0,))
        f, args, order = (lambda v: v.sum(axis=0)), (X,), 1
    if order == 2:
        assert check_grads(f, args, order=1) is None  # its first derivative is right
    with pytest.raises(AssertionError, match=f"order {order}"):
        check_grads(f, args, order=order)


# ---- check_grads leaves the caller's data alone and validates its input ---------------


def test_does_not_touch_the_callers_arrays() -> None:
    a = X.copy()
    v = Value(W.copy())
    seen: list[np.ndarray] = []

    def f(p: Value, q: Value) -> Value:
        seen.append(p.data)
        return (p * p) @ q

    check_grads(f, (a, v), order=2)
    np.testing.assert_array_equal(a, X)
    np.testing.assert_array_equal(v.data, W)
    assert v.grad is None
    assert not any(np.shares_memory(s, a) for s in seen)
    # A function that scribbles on its inputs cannot reach the caller either.
    b = X.copy()

    def scribble(p: Value) -> Value:
        p.data[...] = 0.0
        return p * p

    check_grads(scribble, (b,), order=1)  # a constant function, as far as check_grads sees
    np.testing.assert_array_equal(b, X)


@pytest.mark.parametrize("order", [0, 3, -1, 1.5, True])
def test_rejects_other_orders(order: Any) -> None:
    with pytest.raises(ValueError, match="order must be 1 or 2"):
        check_grads(lambda v: v * v, (W,), order=order)


def test_rejects_bad_arguments() -> None:
    with pytest.raises(TypeError, match="tuple"):
        check_grads(lambda v: v * v, W)
    with pytest.raises(TypeError, match="must return a Value"):
        check_grads(lambda v: np.sum(v.data), (W,))
    with pytest.raises(TypeError, match="dtype"):
        check_grads(lambda v: v, (np.array(["a"]),))
    with pytest.raises(ValueError, match="not finite"), np.errstate(invalid="ignore"):
        check_grads(lambda v: v.log(), (np.array([-1.0, 1.0]),))
    with pytest.raises(ValueError, match="eps"):
        check_grads(lambda v: v * v, (W,), eps=0.0)
    with pytest.raises(ValueError, match="larger eps"):
        check_grads(lambda v: v * v, (np.array([1e8], dtype=np.float32),))


def test_a_nan_gradient_is_a_mismatch() -> None:
    nan_vjp = Primitive("nan_vjp", lambda x: x * 1.0, lambda g, ans, x: g * np.nan)
    with pytest.raises(AssertionError, match="nan"):
        check_grads(nan_vjp, (W,), order=1)


def _rows(msg: str) -> list[tuple[int, str, float, float, float, float]]:
    """(arg, index, analytic, numeric, abs error, tolerance) of each table row in a report."""
    rows = []
    lines = msg.splitlines()
    for i, line in enumerate(lines):
        if line != TABLE_HEADER:
            continue
        for row in lines[i + 1:]:
            if row[:1] != " ":
                break
            arg, rest = row.split(None, 1)
            index = rest[:rest.index(")") + 1]
            analytic, numeric, err, tol = rest[len(index):].split()
            rows.append((int(arg), index.strip(), float(analytic), float(numeric), float(err),
                         float(tol)))
    return rows


def test_module_constants() -> None:
    assert gc.MAX_ROWS == 10
    assert set(gc.DEFAULTS) == {np.dtype(np.float32), np.dtype(np.float64)}
    assert TABLE_HEADER.split() == ["arg", "index", "analytic", "numeric", "abs", "error",
                                    "tolerance"]


# ---- strategies draw what they promise ------------------------------------------------


@given(mst.shapes())
def test_shapes_default_bounds(shape: tuple[int, ...]) -> None:
    assert isinstance(shape, tuple)
    assert 0 <= len(shape) <= 3
    assert all(isinstance(n, int) and 1 <= n <= 4 for n in shape)


@given(mst.shapes(min_dims=2, max_dims=4, min_side=2, max_side=3))
def test_shapes_custom_bounds(shape: tuple[int, ...]) -> None:
    assert 2 <= len(shape) <= 4 and all(2 <= n <= 3 for n in shape)


def test_shapes_reach_the_edges() -> None:
    assert find(mst.shapes(), lambda s: s == ()) == ()
    assert len(find(mst.shapes(), lambda s: len(s) == 3 and 4 in s)) == 3


@given(mst.broadcastable_shapes())
def test_broadcastable_shapes_broadcast(pair: tuple[tuple[int, ...], tuple[int, ...]]) -> None:
    a, b = pair
    full = np.broadcast_shapes(a, b)  # raises if they do not broadcast
    assert len(full) <= 3 and all(1 <= n <= 4 for n in a + b)
    # Each side equals the result, or is 1 there (after aligning on the right).
    for s in (a, b):
        aligned = (1,) * (len(full) - len(s)) + s
        assert all(n in (1, m) for n, m in zip(aligned, full, strict=True))


@given(mst.broadcastable_shapes(min_dims=2, max_dims=3))
def test_broadcastable_shapes_respect_min_dims(pair: Any) -> None:
    assert all(2 <= len(s) <= 3 for s in pair)


def test_broadcastable_shapes_include_the_interesting_cases() -> None:
    pairs = mst.broadcastable_shapes()
    # Missing leading axes on either side.
    a, b = find(pairs, lambda p: len(p[0]) < len(p[1]) and len(p[0]) > 0)
    assert len(a) < len(b)
    # A size-1 axis stretched against a longer one, on each side.
    find(pairs, lambda p: len(p[0]) == len(p[1]) and any(
        x == 1 and y > 1 for x, y in zip(p[0], p[1], strict=True)))
    find(pairs, lambda p: len(p[0]) == len(p[1]) and any(
        x > 1 and y == 1 for x, y in zip(p[0], p[1], strict=True)))
    # Scalars against arrays.
    find(pairs, lambda p: p[0] == () and len(p[1]) >= 1)


@given(mst.arrays(shape=mst.shapes(), dtype=mst.dtypes()))
def test_arrays_are_finite_well_scaled_and_in_range(x: np.ndarray) -> None:
    assert isinstance(x, np.ndarray)
    assert x.dtype in (np.float32, np.float64)
    assert np.all(np.isfinite(x))
    assert np.all((x >= -3.0) & (x <= 3.0))
    nonzero = x[x != 0]
    assert np.all(np.abs(nonzero) >= mst.TINY)


@dtypes
@given(data=st.data())
def test_arrays_respect_shape_and_dtype(dtype: Any, data: Any) -> None:
    shape = data.draw(mst.shapes(), label="shape")
    x = data.draw(mst.arrays(shape=shape, dtype=dtype), label="x")
    assert x.shape == shape and x.dtype == dtype
    y = data.draw(mst.arrays(shape=3, dtype=dtype), label="y")
    assert y.shape == (3,) and y.dtype == dtype
    z = data.draw(mst.arrays(shape=mst.shapes(min_dims=2, max_dims=2), dtype=dtype), label="z")
    assert z.ndim == 2 and z.dtype == dtype


@dtypes
@given(data=st.data())
def test_arrays_custom_range(dtype: Any, data: Any) -> None:
    x = data.draw(mst.arrays(shape=mst.shapes(), dtype=dtype, min_value=0.2, max_value=0.7))
    assert np.all((x >= dtype(0.2)) & (x <= dtype(0.7)))


@dtypes
@given(data=st.data())
def test_arrays_keep_away_from_points(dtype: Any, data: Any) -> None:
    points = data.draw(st.lists(st.sampled_from([-2.0, -1.0, 0.0, 0.5, 1.0, 2.5]), max_size=3,
                                unique=True), label="points")
    margin = data.draw(st.sampled_from([0.1, 0.25]), label="margin")
    x = data.draw(mst.arrays(shape=mst.shapes(), dtype=dtype, away_from=points, margin=margin),
                  label="x")
    for p in points:
        assert np.all(np.abs(x.astype(np.float64) - p) >= margin)


@given(mst.arrays(shape=(4, 4, 4), away_from=(-1.0, 0.0, 1.0), margin=0.25))
def test_arrays_large_and_partly_excluded(x: np.ndarray) -> None:
    # A quarter of the range excluded, 64 elements: no whole-array rejections
    # (Hypothesis' health check would fail the test if there were many).
    assert x.shape == (4, 4, 4)
    for p in (-1.0, 0.0, 1.0):
        assert np.all(np.abs(x - p) >= 0.25)


@dtypes
@given(data=st.data())
def test_arrays_mostly_excluded_range(dtype: Any, data: Any) -> None:
    # Most of [-3, 3] is excluded: the strategy must still deliver, not filter forever.
    points = [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5]
    x = data.draw(mst.arrays(shape=mst.shapes(), dtype=dtype, away_from=points, margin=0.45))
    for p in points:
        assert np.all(np.abs(x.astype(np.float64) - p) >= 0.45)


@dtypes
@given(data=st.data())
def test_arrays_unique_keeps_elements_apart(dtype: Any, data: Any) -> None:
    margin = data.draw(st.sampled_from([0.05, 0.1]), label="margin")
    x = data.draw(mst.arrays(shape=mst.shapes(max_dims=2), dtype=dtype, unique=True,
                             margin=margin), label="x")
    gaps = np.diff(np.sort(x.astype(np.float64).ravel()))
    assert np.all(gaps >= margin)
    # Together with away_from, both promises hold.
    y = data.draw(mst.arrays(shape=(3, 4), dtype=dtype, unique=True, away_from=(0.0, 1.0)),
                  label="y")
    y64 = y.astype(np.float64)
    assert np.all(np.diff(np.sort(y64.ravel())) >= 0.1)
    assert np.all(np.abs(y64) >= 0.1) and np.all(np.abs(y64 - 1.0) >= 0.1)


def test_arrays_unique_fills_the_range_when_it_must() -> None:
    # 59 elements 0.1 apart need 5.8 of the 6 in [-3, 3]: tight, but possible.
    @settings(max_examples=10, deadline=None)
    @given(mst.arrays(shape=(59,), unique=True))
    def tight(x: np.ndarray) -> None:
        assert np.all(np.diff(np.sort(x)) >= 0.1)

    tight()


def test_arrays_reject_impossible_requests() -> None:
    def draw(strategy: st.SearchStrategy[Any]) -> Any:
        return find(strategy, lambda _: True)

    with pytest.raises(InvalidArgument, match="cannot keep"):
        draw(mst.arrays(shape=(70,), unique=True))
    with pytest.raises(InvalidArgument, match="no room"):
        draw(mst.arrays(shape=(2,), min_value=-0.05, max_value=0.05, away_from=(0.0,)))
    with pytest.raises(InvalidArgument, match="float32 or float64"):
        draw(mst.arrays(shape=(2,), dtype=np.int64))
    with pytest.raises(InvalidArgument, match="min_value <= max_value"):
        mst.arrays(min_value=1.0, max_value=-1.0)
    with pytest.raises(InvalidArgument):
        mst.shapes(min_dims=3, max_dims=1)


def test_dtypes_gives_both_floats() -> None:
    assert find(mst.dtypes(), lambda d: d == np.float32) == np.float32
    assert find(mst.dtypes(), lambda d: d == np.float64) == np.float64
