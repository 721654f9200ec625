"""Order statistics and covariances: median quantile percentile cov corrcoef.

Derivatives against finite differences to second order in both modes (entries
kept apart: an order statistic is not differentiable where entries tie), values
against NumPy's (bit for bit in float64 where the arithmetic is NumPy's), NaN
slices as NumPy's, and the errors.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from primitive_checks import arrays, axes_for, check, covers, dtypes, holes, present

import microgd as mg
from microgd import Value
from microgd.testing import strategies as mst

QUANTILES = st.one_of(st.floats(0, 1), st.lists(st.floats(0, 1), min_size=1, max_size=3)
                      .map(np.array))
"""``q``: a Python number or a 1-D array of them."""


def _close(got: Any, expected: Any, dtype: Any) -> None:
    if np.dtype(dtype) == np.float64:
        np.testing.assert_array_equal(got, expected)
    else:
        np.testing.assert_allclose(got, expected, rtol=2e-6, atol=2e-6)


@covers("median", "sort")
@dtypes
@given(data=st.data())
def test_median(dtype: Any, data: Any) -> None:
    shape = data.draw(mst.shapes(min_dims=1, max_side=4), label="shape")
    axis = data.draw(axes_for(len(shape)).filter(lambda a: a != ()), label="axis")
    keepdims = data.draw(st.booleans(), label="keepdims")
    x = data.draw(arrays(shape, dtype, unique=True, margin=0.05), label="x")
    check(lambda v: mg.median(v, axis=axis, keepdims=keepdims), (x,), uses=["sort"])
    got = np.median(Value(x), axis=axis, keepdims=keepdims)
    expected = np.median(x, axis=axis, keepdims=keepdims)
    assert isinstance(got, Value) and got.dtype == dtype and got.shape == np.shape(expected)
    np.testing.assert_array_equal(got.data, expected)  # NumPy's numbers, also in float32


@covers("quantile", "percentile", "sort")
@pytest.mark.parametrize("method", ["linear", "lower", "higher"])
@dtypes
@given(data=st.data())
def test_quantile_and_percentile(method: str, dtype: Any, data: Any) -> None:
    shape = data.draw(mst.shapes(min_dims=1, max_side=4), label="shape")
    axis = data.draw(axes_for(len(shape)).filter(lambda a: a != ()), label="axis")
    keepdims = data.draw(st.booleans(), label="keepdims")
    x = data.draw(arrays(shape, dtype, unique=True, margin=0.05), label="x")
    q = data.draw(QUANTILES, label="q")
    check(lambda v: mg.quantile(v, q, axis=axis, method=method, keepdims=keepdims), (x,),
          uses=["sort"])
    got = np.quantile(Value(x), q, axis=axis, method=method, keepdims=keepdims)
    expected = np.quantile(x, q, axis=axis, method=method, keepdims=keepdims)
    assert got.dtype == expected.dtype and got.shape == np.shape(expected)
    _close(got.data, expected, expected.dtype)
    p = q * 100 if isinstance(q, np.ndarray) else float(q) * 100
    got = np.percentile(Value(x), p, axis=axis, method=method, keepdims=keepdims)
    expected = np.percentile(x, p, axis=axis, method=method, keepdims=keepdims)
    assert got.dtype == expected.dtype and got.shape == np.shape(expected)
    _close(got.data, expected, expected.dtype)


@covers("median", "quantile")
def test_gradients_go_to_the_order_statistics() -> None:
    x = Value([3.0, 1.0, 4.0, 1.5, 9.0])
    mg.median(x).backward()  # the middle of 1, 1.5, 3, 4, 9
    np.testing.assert_array_equal(x.grad, [1.0, 0.0, 0.0, 0.0, 0.0])
    x = Value([3.0, 1.0, 4.0, 1.5])
    mg.quantile(x, 0.25).backward()  # 3/4 of the way from 1 to 1.5
    np.testing.assert_allclose(x.grad, [0.0, 0.25, 0.0, 0.75], rtol=1e-15)
    x = Value([[2.0, 1.0], [0.0, 5.0]])
    mg.quantile(x, [0.0, 1.0], axis=1).backward(np.array([[1.0, 2.0], [10.0, 20.0]]))
    np.testing.assert_array_equal(x.grad, [[10.0, 1.0], [2.0, 20.0]])


@covers("median", "quantile", "percentile")
def test_a_slice_with_nan_gives_nan_as_numpy() -> None:
    x = np.array([[1.0, np.nan, 3.0], [4.0, 0.5, 2.0]])
    for ours, theirs in ((lambda v: mg.median(v, axis=1), lambda a: np.median(a, axis=1)),
                         (lambda v: mg.quantile(v, [0.2, 0.9], axis=1),
                          lambda a: np.quantile(a, [0.2, 0.9], axis=1)),
                         (lambda v: mg.percentile(v, 50, axis=1),
                          lambda a: np.percentile(a, 50, axis=1))):
        v = Value(x)
        out = ours(v)
        np.testing.assert_array_equal(out.data, theirs(x))
        out.backward(np.ones(out.shape))
        np.testing.assert_array_equal(v.grad[0], 0.0)
        assert v.grad[1].sum() == pytest.approx(out.size / 2)


def test_order_statistic_errors() -> None:
    v = Value([1.0, 2.0])
    with pytest.raises(ValueError, match=r"quantile: Quantiles must be in the range \[0, 1\]"):
        mg.quantile(v, 1.5)
    with pytest.raises(ValueError, match=r"percentile: Percentiles must be in the range"):
        np.percentile(v, -1)
    with pytest.raises(TypeError, match="quantile: method='nearest' is not supported"):
        np.quantile(v, 0.5, method="nearest")
    with pytest.raises(TypeError, match="quantile: q must be constant"):
        mg.quantile(v, Value(0.5))
    with pytest.raises(TypeError, match="numpy.median with out="):
        np.median(v, out=np.empty(()))
    with pytest.raises(ValueError, match="median: of an empty slice"):
        mg.median(np.zeros((2, 0)), axis=1)


@covers("cov", "corrcoef")
@dtypes
@given(data=st.data())
def test_cov_and_corrcoef(dtype: Any, data: Any) -> None:
    k = data.draw(st.integers(1, 3), label="variables")
    n = data.draw(st.integers(3, 5), label="observations")
    rowvar = data.draw(st.booleans(), label="rowvar")
    m = data.draw(arrays((k, n) if rowvar else (n, k), dtype, unique=True, margin=0.05),
                  label="m")
    bias = data.draw(st.booleans(), label="bias")
    check(lambda v: mg.cov(v, rowvar=rowvar, bias=bias), (m,), uses=["matmul"])
    r = np.atleast_2d(np.corrcoef(m.astype(np.float64), rowvar=rowvar))
    if np.all(np.abs(r[~np.eye(k, dtype=bool)]) < 0.95):  # not near +-1, where the clip is
        check(lambda v: mg.corrcoef(v, rowvar=rowvar) * 2.0, (m,))
    for ours, theirs in ((np.cov(Value(m), rowvar=rowvar, bias=bias),
                          np.cov(m, rowvar=rowvar, bias=bias)),
                         (np.corrcoef(Value(m), rowvar=rowvar), np.corrcoef(m, rowvar=rowvar))):
        assert ours.dtype == dtype and ours.shape == np.shape(theirs)
        np.testing.assert_allclose(ours.data, theirs,
                                   rtol=1e-12 if dtype == np.float64 else 1e-5, atol=1e-6)


@covers("cov", "corrcoef")
def test_cov_of_two_arguments_and_ddof() -> None:
    x, y = np.array([1.0, 2.0, 4.0, 7.0]), np.array([0.5, 0.1, 0.9, 2.0])
    np.testing.assert_allclose(np.cov(Value(x), y).data, np.cov(x, y), rtol=1e-14)
    np.testing.assert_allclose(mg.cov(x, Value(y), ddof=0).data, np.cov(x, y, ddof=0),
                               rtol=1e-14)
    np.testing.assert_allclose(mg.corrcoef(Value(x), y).data, np.corrcoef(x, y), rtol=1e-14)
    assert mg.cov(x).shape == () and mg.corrcoef(x).item() == 1.0
    three = np.array([x, y, [3.0, -1.0, 0.0, 1.0]])  # correlations well inside (-1, 1)
    check(lambda v: mg.corrcoef(v), (three,), uses=["clip", "sqrt"])
    check(lambda v: mg.corrcoef(v[:2], v[2]) ** 2, (three,))
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        c = mg.cov(x, ddof=4)
    assert np.isinf(c.item()) and "Degrees of freedom <= 0" in str(seen[0].message)
    with pytest.raises(TypeError, match="numpy.cov with fweights="):
        np.cov(Value(x), fweights=[1, 1, 1, 1])
    with pytest.raises(ValueError, match="cov: m has more than 2 dimensions"):
        mg.cov(np.zeros((2, 2, 2)))


# ---- the nan-forms ---------------------------------------------------------------------


@covers("nanmedian", "nanquantile", "nanpercentile")
@pytest.mark.parametrize("name", ["nanmedian", "nanquantile", "nanpercentile"])
@dtypes
@given(data=st.data())
def test_nan_forms(name: str, dtype: Any, data: Any) -> None:
    shape = data.draw(mst.shapes(min_dims=1, max_side=4), label="shape")
    axis = data.draw(axes_for(len(shape)).filter(lambda a: a != ()), label="axis")
    keepdims = data.draw(st.booleans(), label="keepdims")
    hole = holes(data.draw(present(shape, axis), label="present")).astype(dtype)
    x = data.draw(arrays(shape, dtype, unique=True, margin=0.05), label="x")
    args: tuple = ()
    if name != "nanmedian":
        q = data.draw(QUANTILES, label="q")
        args = (q if name == "nanquantile" else q * 100,)
    fn = getattr(mg, name)
    check(lambda v: fn(v + hole, *args, axis=axis, keepdims=keepdims), (x,), uses=["sort"])
    with_holes = x + hole
    got = getattr(np, name)(Value(with_holes), *args, axis=axis, keepdims=keepdims)
    expected = getattr(np, name)(with_holes, *args, axis=axis, keepdims=keepdims)
    assert got.dtype == expected.dtype and got.shape == np.shape(expected)
    _close(got.data, expected, expected.dtype)
    v = Value(with_holes)
    out = fn(v, *args, axis=axis, keepdims=keepdims)
    out.backward(np.ones(out.shape, out.dtype))
    np.testing.assert_array_equal(v.grad[np.isnan(with_holes)], 0.0)


@covers("nanmedian", "nanquantile", "nanpercentile")
def test_nan_forms_of_a_slice_of_nans_alone() -> None:
    x = np.array([[3.0, np.nan, 1.0, 2.0], [np.nan] * 4])
    for name, args in (("nanmedian", ()), ("nanquantile", ([0.25, 0.75],)),
                       ("nanpercentile", (40,))):
        with pytest.warns(RuntimeWarning, match="All-NaN slice encountered"):
            expected = getattr(np, name)(x, *args, axis=1)
        v = Value(x)
        with pytest.warns(RuntimeWarning, match="All-NaN slice encountered"):
            out = getattr(mg, name)(v, *args, axis=1)
        np.testing.assert_array_equal(out.data, expected)
        out.backward(np.ones(out.shape))
        np.testing.assert_array_equal(v.grad[1], 0.0)
        assert v.grad[0, 1] == 0.0 and v.grad[0].sum() == pytest.approx(out.size / 2)


def test_a_value_where_a_count_belongs_is_refused_not_dropped() -> None:
    # ddof is a count: a Value there would lose its gradient without a word
    x = Value([1.0, 2.0, 4.0])
    for fn in (mg.var, mg.std, mg.nanvar, mg.nanstd, mg.cov):
        with pytest.raises(TypeError, match=f"{fn.__name__}: ddof must be a number, not a Value"):
            fn(x, ddof=Value(1.0))
