"""One-dimensional signals: convolve, correlate, interp.

Both inputs of ``convolve``/``correlate`` and both ``x`` and ``fp`` of
``interp`` are differentiated against finite differences to second order in
both modes; values, shapes and dtypes are NumPy's for every mode and every
pair of lengths (either the longer); errors name the function.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from primitive_checks import arrays, check, covers, dtypes

import microgd as mg
from microgd import Value


@covers("convolve", "correlate")
@pytest.mark.parametrize("name", ["convolve", "correlate"])
@pytest.mark.parametrize("mode", ["valid", "same", "full"])
@dtypes
@given(data=st.data())
def test_convolve_correlate(name: str, mode: str, dtype: Any, data: Any) -> None:
    n = data.draw(st.integers(1, 5), label="len(a)")
    m = data.draw(st.integers(1, 5), label="len(v)")
    a = data.draw(arrays(n, dtype), label="a")
    v = data.draw(arrays(m, dtype), label="v")
    fn = getattr(mg, name)
    check(lambda p, q: fn(p, q, mode=mode), (a, v), uses=["matmul"])
    check(lambda p: fn(p, v, mode) ** 2, (a,))
    got = getattr(np, name)(Value(a), Value(v), mode)
    expected = getattr(np, name)(a, v, mode)
    assert isinstance(got, Value) and got.dtype == expected.dtype == dtype
    assert got.shape == expected.shape
    np.testing.assert_allclose(got.data, expected, rtol=4 * np.finfo(dtype).eps,
                               atol=8 * np.finfo(dtype).eps)


def test_convolve_learns_a_kernel() -> None:
    # a kernel fitted by gradient descent to blur a spike the way a known one does
    signal = np.zeros(9)
    signal[4] = 1.0
    target = np.convolve(signal, [0.2, 0.6, 0.2], mode="same")
    k = mg.Value(np.zeros(3))
    opt = mg.optim.GD([k], lr=0.5)
    for _ in range(100):
        opt.zero_grad()
        ((np.convolve(signal, k, mode="same") - target) ** 2).sum().backward()
        opt.step()
    np.testing.assert_allclose(k.data, [0.2, 0.6, 0.2], atol=1e-12)


@covers("interp")
@dtypes
@given(data=st.data())
def test_interp(dtype: Any, data: Any) -> None:
    k = data.draw(st.integers(2, 5), label="sample points")
    xp = np.sort(data.draw(arrays(k, np.float64, unique=True, margin=0.3), label="xp"))
    fp = data.draw(arrays(k, dtype), label="fp")
    # points away from the sample points (where the slope jumps), some beyond the ends
    x = data.draw(arrays(data.draw(st.integers(1, 4), label="n"), dtype, min_value=-4.0,
                         max_value=4.0, away_from=tuple(xp), margin=0.05), label="x")
    check(lambda u, w: mg.interp(u, xp, w), (x, fp))
    check(lambda w: np.interp(x, xp, w, left=-1.0, right=2.0) ** 2, (fp,))
    got = np.interp(Value(x), xp, Value(fp))
    expected = np.interp(x, xp, fp)
    assert got.dtype == expected.dtype == np.float64  # NumPy's interp computes in float64
    np.testing.assert_array_equal(got.data, expected)


@covers("interp")
def test_interp_at_and_beyond_the_sample_points() -> None:
    xp, fp = [0.0, 1.0, 3.0], [0.0, 2.0, 3.0]
    x = Value([-1.0, 0.0, 1.0, 3.0, 5.0, np.nan])
    y = mg.interp(x, xp, fp)
    np.testing.assert_array_equal(y.data, np.interp(x.data, xp, fp))
    y[:5].sum().backward()
    # beyond the ends: flat; at a sample point: the slope of the segment on its right
    np.testing.assert_array_equal(x.grad, [0.0, 2.0, 0.5, 0.0, 0.0, 0.0])
    f = Value(fp)
    mg.interp(1.5, xp, f).backward()  # a quarter of the way from 2 to 3
    np.testing.assert_array_equal(f.grad, [0.0, 0.75, 0.25])
    assert mg.interp(2.0, [1.0], [5.0]).item() == 5.0


@pytest.mark.parametrize(("call", "error", "match"), [
    (lambda: mg.convolve([], [1.0]), ValueError, "convolve: a cannot be empty"),
    (lambda: mg.correlate([1.0], np.ones((2, 2))), ValueError, r"correlate: v must be 1-D"),
    (lambda: mg.correlate([1.0], [1.0], mode="middle"), ValueError, "correlate: mode must be"),
    (lambda: mg.interp(0.5, Value([0.0, 1.0]), [0.0, 1.0]), TypeError, "interp: xp .* constant"),
    (lambda: mg.interp(0.5, [0.0, 1.0], [0.0]), ValueError, "interp: fp and xp are not of the"),
    (lambda: mg.interp(0.5, [], []), ValueError, "interp: array of sample points is empty"),
    (lambda: np.interp(Value(0.5), [0.0, 1.0], [0.0, 1.0], period=1.0), TypeError,
     "interp: period= is not supported"),
])
def test_errors(call: Any, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        call()


@covers("interp")
def test_interp_ends_given_as_values_keep_their_gradient() -> None:
    low, high = Value(-2.0), Value(5.0)
    y = mg.interp(np.array([-1.0, 0.5, 9.0, -3.0]), [0.0, 1.0], [0.0, 1.0], left=low, right=high)
    np.testing.assert_array_equal(y.data, [-2.0, 0.5, 5.0, -2.0])
    y.sum().backward()
    assert (low.grad, high.grad) == (2.0, 1.0)
