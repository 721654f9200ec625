"""The reductions that ignore NaN: nansum nanmean nanprod nanmax nanmin nanvar nanstd.

The transforms refuse a point holding NaN (``mg.grad`` and ``jvp`` check the
point), so the hypothesis checks put the NaNs inside the function: ``f(v) =
nanX(v + holes)``, ``holes`` 0 or NaN.  Finite differences then see that the
value does not depend on a NaN entry, so its derivative must be 0, to first and
second order in both modes.  Values are NumPy's own (bit for bit where the
arithmetic is the same), slices of NaNs alone give NumPy's values and warnings
and derivative 0, and the gradients match PyTorch's ``nansum``/``nanmean``.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from primitive_checks import arrays, axes_for, check, covers, dtypes, graph_ops, holes, present

import microgd as mg
from microgd import Value
from microgd.testing import strategies as mst

NAN = np.nan
NAMES = ["nansum", "nanmean", "nanprod", "nanmax", "nanmin", "nanvar", "nanstd"]
USES = {"nansum": ["sum", "where"], "nanmean": ["sum", "where", "div"],
        "nanprod": ["prod", "where"], "nanmax": ["nanmax"], "nanmin": ["nanmin"],
        "nanvar": ["sum", "where"], "nanstd": ["vector_norm", "where"]}
EXACT = {"nansum", "nanmean", "nanprod", "nanmax", "nanmin"}  # NumPy's own arithmetic


def _reduce(name: str, v: Any, axis: Any, keepdims: bool, ddof: float = 0) -> Any:
    if name in ("nanvar", "nanstd"):
        return getattr(mg, name)(v, axis=axis, ddof=ddof, keepdims=keepdims)
    return getattr(mg, name)(v, axis=axis, keepdims=keepdims)


@covers(*NAMES)
@pytest.mark.parametrize("name", NAMES)
@dtypes
@given(data=st.data())
def test_nan_reduction(name: str, dtype: Any, data: Any) -> None:
    shape = data.draw(mst.shapes(max_side=3), label="shape")
    axis = data.draw(axes_for(len(shape)), label="axis")
    keepdims = data.draw(st.booleans(), label="keepdims")
    hole = holes(data.draw(present(shape, axis), label="present")).astype(dtype)
    # Ties (max, min) and a zero variance (std's kink) kept away from.
    x = data.draw(arrays(shape, dtype, unique=name in ("nanmax", "nanmin", "nanstd"),
                         margin=0.05, min_value=-2.0, max_value=2.0), label="x")
    ddof = data.draw(st.sampled_from([0, 0.5]), label="ddof")  # each slice has >= 1 entry

    def f(v: Value) -> Value:
        return _reduce(name, v + hole, axis, keepdims, ddof)

    uses = [u for u in USES[name] if u != "where" or np.isnan(hole).any()]
    check(f, (x,), uses=uses)
    check(lambda v: f(v) ** 2, (x,))
    with_holes = x + hole
    out = _reduce(name, with_holes, axis, keepdims, ddof)
    kw = {"ddof": ddof} if name in ("nanvar", "nanstd") else {}
    expected = getattr(np, name)(with_holes, axis=axis, keepdims=keepdims, **kw)
    assert out.shape == np.shape(expected) and out.dtype == dtype
    if name in EXACT:
        np.testing.assert_array_equal(out.data, expected)
    else:
        rtol = 1e-12 if dtype == np.float64 else 2e-6
        np.testing.assert_allclose(out.data, expected, rtol=rtol, atol=10 * rtol)
    # The gradient at a NaN entry is exactly 0.
    v = Value(with_holes)
    out = _reduce(name, v, axis, keepdims, ddof)
    out.backward(np.ones(out.shape, dtype))
    assert v.grad is not None and v.grad.dtype == dtype
    assert np.all(v.grad[np.isnan(with_holes)] == 0)
    assert np.all(np.isfinite(v.grad))


@covers("nanmax", "nanmin")
def test_nanmax_splits_ties_between_entries_that_are_not_nan() -> None:
    # max(where(isnan, -inf, x)) would count the NaN as tied with -inf: half the gradient lost.
    x = Value([-np.inf, NAN])
    mg.nanmax(x).backward()
    np.testing.assert_array_equal(x.grad, [1.0, 0.0])
    x = Value([[2.0, NAN, 2.0, 1.0], [NAN, 3.0, -1.0, 3.0]])
    mg.nanmax(x, axis=1).backward(np.array([1.0, 10.0]))
    np.testing.assert_array_equal(x.grad, [[0.5, 0.0, 0.5, 0.0], [0.0, 5.0, 0.0, 5.0]])
    x = Value([[np.inf, NAN, -1.0], [NAN, -np.inf, -np.inf]])
    mg.nanmin(x, axis=1).backward(np.array([1.0, 2.0]))
    np.testing.assert_array_equal(x.grad, [[0.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    # forward mode: the tangent of the arg-max entries, shared between ties
    t = np.array([[1.0, 7.0, 3.0, 5.0], [9.0, 2.0, 4.0, 6.0]])
    x0 = np.array([[2.0, 0.0, 2.0, 1.0], [0.0, 3.0, -1.0, 3.0]])
    hole = np.array([[0.0, NAN, 0.0, 0.0], [NAN, 0.0, 0.0, 0.0]])
    _, dy = mg.jvp(lambda v: mg.nanmax(v + hole, axis=1), (x0,), (t,))
    np.testing.assert_array_equal(dy.data if isinstance(dy, Value) else dy, [2.0, 4.0])


EMPTY_SLICE = {  # name -> (NumPy's value of an all-NaN slice, its warning or None)
    "nansum": (0.0, None), "nanprod": (1.0, None),
    "nanmean": (NAN, "Mean of empty slice"), "nanmax": (NAN, "All-NaN slice encountered"),
    "nanmin": (NAN, "All-NaN slice encountered"),
    "nanvar": (NAN, "Degrees of freedom <= 0 for slice"),
    "nanstd": (NAN, "Degrees of freedom <= 0 for slice"),
}


@covers(*NAMES)
@pytest.mark.parametrize("name", NAMES)
def test_a_slice_of_nans_alone(name: str) -> None:
    x = np.array([[1.5, NAN, -0.5], [NAN, NAN, NAN]])
    value, warning = EMPTY_SLICE[name]
    for source in ("numpy", "microgd"):
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            if source == "numpy":
                expected = getattr(np, name)(x, axis=1)
            else:
                v = Value(x)
                out = getattr(mg, name)(v, axis=1)
        messages = [str(w.message) for w in seen if w.category is RuntimeWarning]
        if warning is None:
            assert messages == [], source
        else:
            assert any(m.startswith(warning) for m in messages), (source, messages)
    np.testing.assert_array_equal(out.data, expected)
    np.testing.assert_array_equal(out.data[1], value)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        w = Value(x)
        (g,) = mg.gradients(getattr(mg, name)(w, axis=1), w, grad_outputs=np.ones(2),
                            create_graph=True)
        np.testing.assert_array_equal(g.data[1], 0.0)  # nothing there to move
        assert np.all(np.isfinite(g.data[0]))
        # second order: the empty slice's rows of the Hessian are 0 too
        if g.requires_grad:
            (h,) = mg.gradients((g * np.arange(6.0).reshape(2, 3)).sum(), w)
            np.testing.assert_array_equal(h.data[1], 0.0)


@covers("nanvar", "nanstd")
def test_nanvar_ddof_and_a_slice_with_too_few_entries() -> None:
    x = np.array([[1.0, NAN, 3.0, 4.0], [NAN, 2.0, NAN, NAN]])
    for name in ("nanvar", "nanstd"):
        with pytest.warns(RuntimeWarning, match="Degrees of freedom"):
            out = getattr(mg, name)(x, axis=1, ddof=1)
        with pytest.warns(RuntimeWarning, match="Degrees of freedom"):
            expected = getattr(np, name)(x, axis=1, ddof=1)
        np.testing.assert_allclose(out.data, expected, rtol=1e-14)
        assert np.isnan(out.data[1])
        assert mg.nanvar(x[:1], ddof=1).item() == pytest.approx(np.var([1.0, 3.0, 4.0], ddof=1))
    # np's correction= is ddof by another name; both at once is NumPy's error
    np.testing.assert_allclose(np.nanvar(Value(x[0]), correction=1).data,
                               np.nanvar(x[0], ddof=1), rtol=1e-14)
    with pytest.raises(ValueError, match="ddof and correction"):
        np.nanstd(Value(x[0]), ddof=1, correction=1)
    with pytest.raises(TypeError, match="ddof must be a number"):
        mg.nanvar(x, ddof="one")


@covers("nanstd")
def test_nanstd_at_zero_variance_is_zero_not_nan() -> None:
    x = Value([2.5, NAN, 2.5, 2.5])
    with np.errstate(all="raise"):
        out = mg.nanstd(x, ddof=1)
        out.backward()
    assert out.item() == 0.0
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 0.0, 0.0])


@covers(*NAMES)
@pytest.mark.parametrize("name", NAMES)
def test_without_nan_they_are_the_plain_reductions(name: str) -> None:
    x = np.random.default_rng(3).standard_normal((3, 4))
    plain = {"nansum": mg.sum, "nanmean": mg.mean, "nanprod": mg.prod, "nanmax": mg.max,
             "nanmin": mg.min, "nanvar": mg.var, "nanstd": mg.std}[name]
    a, b = Value(x), Value(x)
    ours, theirs = getattr(mg, name)(a, axis=0), plain(b, axis=0)
    np.testing.assert_array_equal(ours.data, theirs.data)
    u = np.arange(4.0)
    (ours * u).sum().backward()
    (theirs * u).sum().backward()
    np.testing.assert_allclose(a.grad, b.grad, rtol=1e-15)
    assert "where" not in graph_ops([ours])  # no NaN, no node to fill it


@covers(*NAMES)
@pytest.mark.parametrize("name", NAMES)
@dtypes
def test_spellings_dtypes_and_refused_arguments(name: str, dtype: Any) -> None:
    x = np.array([[1.0, NAN, 3.0], [0.5, -2.0, NAN]], dtype=dtype)
    via_np = getattr(np, name)(Value(x), axis=1, keepdims=True)
    via_mg = getattr(mg, name)(Value(x), axis=1, keepdims=True)
    assert isinstance(via_np, Value) and via_np.dtype == dtype and via_mg.dtype == dtype
    np.testing.assert_array_equal(via_np.data, via_mg.data)
    assert via_np.shape == (2, 1)
    assert getattr(mg, name)(x.tolist()).dtype == np.float64  # lists: float64 constants
    with pytest.raises(TypeError, match=f"numpy.{name} with out="):
        getattr(np, name)(Value(x), out=np.empty(2))
    if name not in ("nanmax", "nanmin"):
        with pytest.raises(TypeError, match=f"numpy.{name} with dtype="):
            getattr(np, name)(Value(x), dtype=np.float64)


def test_max_and_min_take_numpys_positional_arguments() -> None:
    # np.max(a, axis, out, keepdims): no dtype, so keepdims is the fourth
    x = np.array([[1.0, 4.0], [3.0, 2.0]])
    for fn in (np.max, np.min, np.amax, np.amin, np.nanmax, np.nanmin):
        out = fn(Value(x), 1, None, True)
        np.testing.assert_array_equal(out.data, fn(x, 1, None, True))


TORCH = {"nansum": "nansum", "nanmean": "nanmean"}


@pytest.mark.parametrize("name", sorted(TORCH))
def test_matches_torch(name: str) -> None:
    torch = pytest.importorskip("torch")
    x = np.array([[0.3, NAN, -1.2, 2.0], [NAN, 0.7, 0.1, NAN], [1.0, 2.0, 3.0, 4.0]])
    u = np.array([1.5, -0.5, 2.0])
    v = Value(x)
    out = getattr(mg, name)(v, axis=1)
    (out * u).sum().backward()
    t = torch.tensor(x, requires_grad=True)
    tout = getattr(torch, TORCH[name])(t, dim=1)
    (tout * torch.tensor(u)).sum().backward()
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-15)
    np.testing.assert_allclose(v.grad, t.grad.numpy(), rtol=1e-15)
