"""NumPy's other ways to reduce: ufunc methods, where= and initial=, ptp, trapezoid, broadcast_to.

``np.add.reduce(v)`` and its kin are the reductions they name (``axis=0`` by
default, as NumPy's), ``np.sum(v, where=mask)`` leaves the masked-out entries
out (derivative 0 there, and NumPy's NaN with its warning for a mean of
nothing), ``ptp`` is ``max - min``, ``trapezoid`` is NumPy's trapezoidal rule
with ``x`` or ``dx``, and ``broadcast_to`` sums its gradient back.  Values are
NumPy's own; derivatives are checked against finite differences to second
order in both modes.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from primitive_checks import arrays, axes_for, check, covers, dtypes, present

import microgd as mg
from microgd import Value
from microgd.testing import strategies as mst

# ---- ufunc methods ------------------------------------------------------------------------

REDUCE = {np.add: "sum", np.multiply: "prod", np.maximum: "max", np.minimum: "min",
          np.logaddexp: "logsumexp"}
ACCUMULATE = {np.add: "cumsum", np.multiply: "cumprod"}


@pytest.mark.parametrize("ufunc", list(REDUCE), ids=lambda u: u.__name__)
@dtypes
@given(data=st.data())
def test_ufunc_reduce(ufunc: Any, dtype: Any, data: Any) -> None:
    shape = data.draw(mst.shapes(min_dims=1, max_side=3), label="shape")
    axis = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1),
                               axes_for(len(shape)).filter(lambda a: isinstance(a, tuple))),
                     label="axis")
    keepdims = data.draw(st.booleans(), label="keepdims")
    x = data.draw(arrays(shape, dtype, unique=ufunc in (np.maximum, np.minimum), margin=0.05,
                         min_value=-2.0, max_value=2.0), label="x")
    check(lambda v: ufunc.reduce(v, axis=axis, keepdims=keepdims), (x,),
          uses=[REDUCE[ufunc]] if ufunc is not np.logaddexp else ["logsumexp"])
    got = ufunc.reduce(Value(x), axis, None, None, keepdims)  # NumPy's positional order
    expected = ufunc.reduce(x, axis=axis, keepdims=keepdims)
    assert isinstance(got, Value) and got.dtype == dtype and got.shape == np.shape(expected)
    if ufunc is np.logaddexp:  # a pairwise fold there, a log-sum-exp here: to rounding,
        eps = np.finfo(dtype).eps  # relative, and absolute near 0 (log of a sum near 1)
        np.testing.assert_allclose(got.data, expected, rtol=8 * eps, atol=8 * eps)
    else:
        np.testing.assert_array_equal(got.data, expected)
    # axis=0 is the default, as NumPy's
    np.testing.assert_array_equal(ufunc.reduce(Value(x)).data, getattr(mg, REDUCE[ufunc])(
        x, axis=0).data)


@covers("cumsum", "cumprod")
@pytest.mark.parametrize("ufunc", list(ACCUMULATE), ids=lambda u: u.__name__)
@dtypes
@given(data=st.data())
def test_ufunc_accumulate(ufunc: Any, dtype: Any, data: Any) -> None:
    shape = data.draw(mst.shapes(min_dims=1, max_side=3), label="shape")
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    x = data.draw(arrays(shape, dtype, min_value=-2.0, max_value=2.0), label="x")
    check(lambda v: ufunc.accumulate(v, axis=axis), (x,), uses=[ACCUMULATE[ufunc]])
    got = ufunc.accumulate(Value(x), axis)
    assert got.dtype == dtype
    np.testing.assert_allclose(got.data, ufunc.accumulate(x, axis=axis),
                               rtol=4 * np.finfo(dtype).eps)
    np.testing.assert_array_equal(ufunc.accumulate(Value(x)).data,
                                  getattr(mg, ACCUMULATE[ufunc])(x, axis=0).data)


@pytest.mark.parametrize(("call", "message"), [
    (lambda v: np.maximum.accumulate(v), "numpy.maximum.accumulate is not supported"),
    (lambda v: np.add.outer(v, v), "numpy.add.outer is not supported"),
    (lambda v: np.add.at(v, [0], 1.0), "numpy.add.at is not supported"),
    (lambda v: np.add.reduceat(v, [0]), "numpy.add.reduceat is not supported"),
    (lambda v: np.add.reduce(v, where=np.ones(3, bool)), "numpy.add.reduce with where="),
    (lambda v: np.add.reduce(v, initial=1.0), "numpy.add.reduce with initial="),
    (lambda v: np.multiply.reduce(v, dtype=np.float32), "numpy.multiply.reduce with dtype="),
    (lambda v: np.add.accumulate(v, out=np.empty(3)), "numpy.add.accumulate with out="),
    (lambda v: np.subtract.reduce(v), "numpy.subtract.reduce is not supported"),
])
def test_other_ufunc_methods_are_refused_by_name(call: Any, message: str) -> None:
    v = Value([1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match=message.replace(".", r"\.")):
        call(v)
    assert v.data.tolist() == [1.0, 2.0, 3.0]  # nothing changed (np.add.at would write)


# ---- where= and initial= ------------------------------------------------------------------


@covers("sum", "mean", "prod")
@pytest.mark.parametrize("name", ["sum", "mean", "prod"])
@dtypes
@given(data=st.data())
def test_where_and_initial(name: str, dtype: Any, data: Any) -> None:
    shape = data.draw(mst.shapes(min_dims=1, max_side=3), label="shape")
    axis = data.draw(axes_for(len(shape)), label="axis")
    keepdims = data.draw(st.booleans(), label="keepdims")
    x = data.draw(arrays(shape, dtype, min_value=-2.0, max_value=2.0), label="x")
    # a mean keeps an entry of every slice (a mean of nothing is NaN: below)
    mask = data.draw(present(shape, axis, every_slice=name == "mean"), label="where")
    fn = getattr(np, name)
    kw: dict[str, Any] = {"where": mask}
    if name != "mean" and data.draw(st.booleans(), label="initial"):
        kw["initial"] = 1.5
    check(lambda v: fn(v, axis=axis, keepdims=keepdims, **kw), (x,))
    got = fn(Value(x), axis=axis, keepdims=keepdims, **kw)
    expected = fn(x, axis=axis, keepdims=keepdims, **kw)
    assert got.dtype == dtype and got.shape == np.shape(expected)
    np.testing.assert_allclose(got.data, expected, rtol=4 * np.finfo(dtype).eps, atol=1e-7)
    v = Value(x)
    fn(v, axis=axis, keepdims=keepdims, **kw).backward(np.ones(np.shape(expected), dtype))
    np.testing.assert_array_equal(v.grad[~mask], 0.0)  # left out: derivative 0


def test_mean_of_nothing_is_nan_with_numpys_warning_and_gradient_0() -> None:
    x = np.arange(1.0, 7.0).reshape(2, 3)
    mask = np.array([[True, True, False], [False, False, False]])
    for src in ("numpy", "microgd"):
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            if src == "numpy":
                expected = np.mean(x, axis=1, where=mask)
            else:
                v = Value(x)
                got = np.mean(v, axis=1, where=mask)
        assert "Mean of empty slice" in [str(w.message) for w in seen], src
    np.testing.assert_array_equal(got.data, expected)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        got.backward(np.ones(2))
    np.testing.assert_array_equal(v.grad, [[0.5, 0.5, 0.0], [0.0, 0.0, 0.0]])


def test_where_errors_name_the_function() -> None:
    v = Value(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"numpy.sum: where= of shape \(2,\) does not broadcast"):
        np.sum(v, where=np.ones(2, bool))
    with pytest.raises(TypeError, match="numpy.mean: where= must be a constant mask"):
        np.mean(v, where=Value(np.ones(3)))
    with pytest.raises(TypeError, match="numpy.max with where, initial= is not supported"):
        np.max(v, where=np.ones(3, bool), initial=0.0)


# ---- ptp, trapezoid, broadcast_to ---------------------------------------------------------


@covers("ptp", "max", "min")
@dtypes
@given(data=st.data())
def test_ptp(dtype: Any, data: Any) -> None:
    shape = data.draw(mst.shapes(min_dims=1, max_side=3), label="shape")
    axis = data.draw(axes_for(len(shape)), label="axis")
    keepdims = data.draw(st.booleans(), label="keepdims")
    x = data.draw(arrays(shape, dtype, unique=True, margin=0.05), label="x")
    check(lambda v: mg.ptp(v, axis=axis, keepdims=keepdims), (x,), uses=["max", "min"])
    got = np.ptp(Value(x), axis=axis, keepdims=keepdims)
    np.testing.assert_array_equal(got.data, np.ptp(x, axis=axis, keepdims=keepdims))
    assert got.dtype == dtype


@covers("trapezoid", "diff")
@dtypes
@given(data=st.data())
def test_trapezoid(dtype: Any, data: Any) -> None:
    shape = data.draw(mst.shapes(min_dims=1, max_side=4), label="shape")
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    y = data.draw(arrays(shape, dtype), label="y")
    n = shape[axis]
    how = data.draw(st.sampled_from(["dx", "x 1-d", "x like y"]), label="spacing")
    if how == "dx":
        dx = data.draw(st.sampled_from([1.0, 0.25, -2.0]), label="dx")
        check(lambda v: mg.trapezoid(v, dx=dx, axis=axis), (y,))
        expected = np.trapezoid(y, dx=dx, axis=axis)
        got = np.trapezoid(Value(y), dx=dx, axis=axis)
    else:
        xs_shape = (n,) if how == "x 1-d" else shape
        xs = data.draw(arrays(xs_shape, dtype), label="x")
        check(lambda v, u: mg.trapezoid(v, u, axis=axis), (y, xs))  # both differentiated
        expected = np.trapezoid(y, xs, axis=axis)
        got = np.trapezoid(Value(y), Value(xs), axis=axis)
    assert got.dtype == dtype and got.shape == np.shape(expected)
    np.testing.assert_array_equal(got.data, expected)  # NumPy's formula, NumPy's numbers


def test_trapezoid_errors() -> None:
    with pytest.raises(ValueError, match="trapezoid: x has 2 points but y has 3 along axis -1"):
        mg.trapezoid(Value([1.0, 2.0, 3.0]), [0.0, 1.0])
    with pytest.raises(np.exceptions.AxisError, match="trapezoid"):
        mg.trapezoid(Value([1.0, 2.0]), axis=1)


@covers("broadcast_to")
@dtypes
@given(data=st.data())
def test_broadcast_to(dtype: Any, data: Any) -> None:
    shape = data.draw(mst.shapes(max_side=3), label="shape")
    lead = data.draw(st.lists(st.integers(1, 3), max_size=2), label="leading axes")
    target = tuple(lead) + tuple(data.draw(st.sampled_from([n, 3]) if n == 1 else st.just(n))
                                 for n in shape)
    x = data.draw(arrays(shape, dtype), label="x")
    check(lambda v: mg.broadcast_to(v, target) * np.linspace(-1.0, 1.0, int(np.prod(target)))
          .reshape(target), (x,), uses=["broadcast_to"])
    got = np.broadcast_to(Value(x), target)
    assert isinstance(got, Value) and got.dtype == dtype
    np.testing.assert_array_equal(got.data, np.broadcast_to(x, target))
    assert mg.broadcast_to(Value(np.ones(2)), 2).shape == (2,)
    with pytest.raises(ValueError, match="broadcast_to: cannot broadcast"):
        np.broadcast_to(Value(np.ones((2, 2))), (3, 2))
