"""The NumPy vocabulary's reductions: prod var std cumsum cumprod diff average norm logsumexp(b=).

Each name is differentiated to first and second order in forward and reverse
mode (``check``) in float64 and float32, with its axis/keepdims/ddof/ord/n
arguments drawn by hypothesis; the spellings ``mg.NAME(v)``, ``np.NAME(v)``
(``np.linalg.norm``) and ``v.NAME()`` agree; values and gradients match
PyTorch (and scipy for ``logsumexp(b=)``); and the hard numerics have
explicit-value tests: products with 0, 1 and 2 zeros (exact Hessians), norms
and ``std`` at 0 (gradient and Hessian 0, never NaN), repeated singular values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from primitive_checks import arrays, axes_for, check, covers, dtypes

import microgd as mg
from microgd import Value, ops
from microgd.testing import strategies as mst

INF = np.inf


def _grad_and_hessian(f: Callable[[Value], Value], x: np.ndarray) -> tuple[Any, Any, Any]:
    """Gradient, reverse-mode Hessian and forward-over-reverse Hessian of a scalar ``f``."""
    g = mg.grad(f)(x)
    h_rev = mg.hessian(f)(x)
    h_fwd = mg.jacfwd(mg.grad(f))(x)
    return g, h_rev, h_fwd


def _value_and_grad(f: Callable[[Any], Any], x: np.ndarray, u: np.ndarray) -> tuple[Any, Any]:
    """``f(x)`` and the gradient of ``sum(u * f(x))``, in microgd."""
    v = Value(x)
    out = f(v)
    (out * u).sum().backward()
    return out.data, v.grad


# ---- prod ------------------------------------------------------------------------------


@covers("prod", "cumprod")
@dtypes
@given(data=st.data())
def test_prod(dtype: Any, data: Any) -> None:
    shape = data.draw(mst.shapes(max_side=3), label="shape")
    axis = data.draw(axes_for(len(shape)), label="axis")
    keepdims = data.draw(st.booleans(), label="keepdims")
    # Entries may be exactly 0 (arrays() draws zeros): the rules are exact there too.
    x = data.draw(arrays(shape, dtype, min_value=-2.0, max_value=2.0), label="x")
    # The gradient (other entries' products) is made of cumulative products.
    reduces = bool(ops.shape._axes(axis, len(shape)))
    check(lambda v: mg.prod(v, axis=axis, keepdims=keepdims), (x,),
          uses=["prod", "cumprod"] if reduces else ["prod"])
    check(lambda v: v.prod(axis=axis, keepdims=keepdims) ** 2, (x,), uses=["prod"])


def _exact_prod_hessian(x: np.ndarray) -> np.ndarray:
    n = len(x)
    h = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            if i != j:
                h[i, j] = np.prod([x[k] for k in range(n) if k not in (i, j)])
    return h


@covers("prod")
@pytest.mark.parametrize("x", [[2.0, 3.0, 4.0, 5.0], [0.0, 3.0, 4.0, 5.0],
                               [2.0, 0.0, 4.0, 0.0], [0.0, 0.0, 0.0, 5.0]],
                         ids=["no zero", "one zero", "two zeros", "three zeros"])
def test_prod_with_zeros_exact(x: list[float]) -> None:
    a = np.array(x)
    g, h_rev, h_fwd = _grad_and_hessian(lambda v: mg.prod(v), a)
    grad = [np.prod(np.delete(a, i)) for i in range(len(a))]
    np.testing.assert_array_equal(g, grad)  # exact: no division by x
    np.testing.assert_array_equal(h_rev, _exact_prod_hessian(a))
    np.testing.assert_array_equal(h_fwd, _exact_prod_hessian(a))


@covers("prod")
def test_prod_over_several_axes_with_zeros() -> None:
    x = np.array([[[1.0, 0.0], [2.0, 3.0]], [[0.0, 0.0], [4.0, 5.0]], [[2.0, 1.0], [1.0, 3.0]]])
    check(lambda v: mg.prod(v, axis=(0, 2)), (x,), uses=["prod"])
    check(lambda v: mg.prod(v, axis=(-1, 0), keepdims=True), (x,), uses=["prod"])
    v = Value(x)
    mg.prod(v, axis=(0, 2)).sum().backward()
    for j in range(2):
        block = x[:, j, :].ravel()
        expected = [np.prod(np.delete(block, i)) for i in range(block.size)]
        np.testing.assert_array_equal(v.grad[:, j, :].ravel(), expected)


@covers("prod", "cumprod", "cumsum")
@pytest.mark.parametrize("shape", [(0,), (0, 3), (3, 0), (2, 0, 2)], ids=str)
def test_empty_inputs(shape: tuple[int, ...]) -> None:
    # An empty axis: products are 1 (NumPy's), and every derivative has the input's shape.
    x = np.zeros(shape)
    for f in (lambda v: mg.prod(v), lambda v: mg.prod(v, axis=0).sum(),
              lambda v: mg.cumprod(v, axis=-1).sum(), lambda v: mg.cumsum(v).sum(),
              lambda v: mg.norm(v)):
        assert mg.grad(f)(x).shape == shape
        assert mg.hessian(f)(x).shape == shape * 2
    assert mg.prod(x).item() == 1.0


# ---- cumsum, cumprod ---------------------------------------------------------------------


@st.composite
def one_axis(draw: Any, ndim: int) -> int | None:
    """``axis`` of a cumulative op: None (flatten) or an int, maybe negative."""
    choices = [st.none()] + ([st.integers(-ndim, ndim - 1)] if ndim else [])
    return draw(st.one_of(*choices))


@covers("cumsum", "cumprod")
@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
@dtypes
@given(data=st.data())
def test_cumulative(name: str, dtype: Any, data: Any) -> None:
    shape = data.draw(mst.shapes(), label="shape")
    axis = data.draw(one_axis(len(shape)), label="axis")
    x = data.draw(arrays(shape, dtype, min_value=-2.0, max_value=2.0), label="x")
    fn = getattr(mg, name)
    check(lambda v: fn(v, axis=axis), (x,), uses=[name])
    check(lambda v: getattr(v, name)(axis=axis) * fn(v, axis=axis), (x,), uses=[name])
    expected = getattr(np, name)(x, axis=axis)
    out = fn(x, axis=axis)
    assert out.shape == expected.shape and out.dtype == dtype
    np.testing.assert_allclose(out.data, expected, rtol=1e-6)


@covers("cumprod")
@pytest.mark.parametrize("x", [[2.0, 3.0, 4.0, 5.0], [2.0, 0.0, 4.0, 5.0],
                               [2.0, 0.0, 4.0, 0.0], [0.0, 0.0, 0.0, 5.0]],
                         ids=["no zero", "one zero", "two zeros", "three zeros"])
def test_cumprod_with_zeros_exact(x: list[float]) -> None:
    a = np.array(x)
    w = np.array([1.0, 2.0, 3.0, 4.0])
    n = len(a)
    # sum_j w_j prod_{i<=j} x_i: its exact gradient and Hessian, term by term
    grad = [sum(w[j] * np.prod([a[i] for i in range(j + 1) if i != k]) for j in range(k, n))
            for k in range(n)]
    hess = np.array([[0.0 if k == m else sum(
        w[j] * np.prod([a[i] for i in range(j + 1) if i not in (k, m)])
        for j in range(max(k, m), n)) for m in range(n)] for k in range(n)])
    g, h_rev, h_fwd = _grad_and_hessian(lambda v: (mg.cumprod(v) * w).sum(), a)
    np.testing.assert_array_equal(g, grad)
    np.testing.assert_allclose(h_rev, hess, rtol=1e-15, atol=0)
    np.testing.assert_allclose(h_fwd, hess, rtol=1e-15, atol=0)
    np.testing.assert_array_equal(mg.jacfwd(mg.cumprod)(a), mg.jacobian(mg.cumprod)(a))


# ---- diff ---------------------------------------------------------------------------------


@covers("diff")
@dtypes
@given(data=st.data())
def test_diff(dtype: Any, data: Any) -> None:
    shape = data.draw(mst.shapes(min_dims=1), label="shape")
    nd = len(shape)
    axis = data.draw(st.integers(-nd, nd - 1), label="axis")
    n = data.draw(st.integers(0, 3), label="n")
    x = data.draw(arrays(shape, dtype), label="x")
    out = mg.diff(x, n=n, axis=axis)
    np.testing.assert_allclose(out.data, np.diff(x, n=n, axis=axis), rtol=1e-6, atol=1e-6)
    assert out.dtype == dtype
    if out.size:
        check(lambda v: mg.diff(v, n=n, axis=axis) ** 2, (x,), uses=["sub"] if n else [])
    # prepend/append: a number (broadcast to a slice) or a Value of matching shape
    edge_shape = list(shape)
    edge_shape[axis] = 2
    e = data.draw(arrays(tuple(edge_shape), dtype), label="edge")
    check(lambda v, w: mg.diff(v, n=max(n, 1), axis=axis, prepend=1.5, append=w) ** 2,
          (x, e), uses=["concatenate"])
    np.testing.assert_allclose(
        mg.diff(x, n=n, axis=axis, prepend=1.5, append=e).data,
        np.diff(x, n=n, axis=axis, prepend=1.5, append=e), rtol=1e-6, atol=1e-6)


# ---- average, var, std ------------------------------------------------------------------------


@covers("average")
@dtypes
@given(data=st.data())
def test_average(dtype: Any, data: Any) -> None:
    shape = data.draw(mst.shapes(min_dims=1), label="shape")
    # Not axis=(): averaging over no axes is x * w / w, whose float32 rounding the
    # finite differences of d/dw (exactly 0) magnify past any tolerance.
    axis = data.draw(axes_for(len(shape)).filter(lambda a: a != ()), label="axis")
    keepdims = data.draw(st.booleans(), label="keepdims")
    full = data.draw(st.booleans(), label="weights of a's shape")
    if axis is None or full:
        w_shape = shape
    else:
        axes = (axis,) if isinstance(axis, int) else axis
        w_shape = tuple(shape[a] for a in axes)
    x = data.draw(arrays(shape, dtype), label="x")
    w = data.draw(arrays(w_shape, dtype, min_value=0.2, max_value=2.0), label="weights")
    expected = np.average(x, axis=axis, weights=w, keepdims=keepdims)
    out = mg.average(x, axis=axis, weights=w, keepdims=keepdims)
    assert out.shape == expected.shape and out.dtype == dtype
    np.testing.assert_allclose(out.data, expected, rtol=1e-5, atol=1e-6)
    check(lambda v: mg.average(v, axis=axis, weights=w, keepdims=keepdims), (x,),
          uses=["sum", "div"])
    # The weights are differentiated too (a Value), and np.average dispatches.  Over one
    # element the average is x * w / w, whose d/dw is exactly 0: float32's finite
    # differences of it are rounding noise over eps (see axis=() above), so that case
    # is checked in float64, where they are not.
    reduced = x.size // max(expected.size, 1)
    xw = (x, w) if reduced > 1 or dtype != np.float32 else (x.astype(np.float64),
                                                             w.astype(np.float64))
    check(lambda v, u: np.average(v, axis=axis, weights=u, keepdims=keepdims) ** 2, xw,
          uses=["sum", "div"])
    check(lambda v: mg.average(v, axis=axis) ** 2, (x,), uses=["mean"])


@covers("var", "std", "vector_norm")
@pytest.mark.parametrize("name", ["var", "std"])
@dtypes
@given(data=st.data())
def test_var_std(name: str, dtype: Any, data: Any) -> None:
    shape = data.draw(mst.shapes(), label="shape")
    axis = data.draw(axes_for(len(shape)), label="axis")
    keepdims = data.draw(st.booleans(), label="keepdims")
    count = int(np.prod([shape[a] for a in ops.shape._axes(axis, len(shape))]))
    ddof = data.draw(st.integers(0, max(count - 1, 0)), label="ddof")
    # Distinct entries: the variance is not 0 (where std has a kink) unless count == 1.
    x = data.draw(arrays(shape, dtype, unique=name == "std", margin=0.05), label="x")
    fn = getattr(mg, name)
    check(lambda v: fn(v, axis=axis, ddof=ddof, keepdims=keepdims), (x,),
          uses=["vector_norm"] if name == "std" else ["sum"])
    check(lambda v: getattr(v, name)(axis=axis, ddof=ddof, keepdims=keepdims) ** 2, (x,))
    out = fn(x, axis=axis, ddof=ddof, keepdims=keepdims)
    expected = getattr(np, name)(x, axis=axis, ddof=ddof, keepdims=keepdims)
    assert out.shape == expected.shape and out.dtype == dtype
    np.testing.assert_allclose(out.data, expected, rtol=1e-5, atol=1e-6)


@covers("std", "var")
@pytest.mark.parametrize("create_graph", [False, True])
def test_std_at_zero_variance_is_zero_not_nan(create_graph: bool) -> None:
    # std has a kink where the variance is 0 (a cone, like |x|): PyTorch gives the
    # subgradient 0; microgd too, and 0 for the second derivative, in both modes.
    for x in (np.zeros(4), np.full((2, 3), 2.5)):
        with np.errstate(all="raise"):
            g, h_rev, h_fwd = _grad_and_hessian(lambda v: mg.std(v, ddof=1), x)
            assert mg.std(x).item() == 0.0
        np.testing.assert_array_equal(g, np.zeros_like(x))
        np.testing.assert_array_equal(h_rev, np.zeros(x.shape * 2))
        np.testing.assert_array_equal(h_fwd, np.zeros(x.shape * 2))
        v = Value(x)
        (gv,) = mg.gradients(mg.std(v, axis=0).sum(), v, create_graph=create_graph)
        np.testing.assert_array_equal(gv.data, np.zeros_like(x))
        # var is smooth there: its gradient 0 and Hessian 2/(n - ddof) I - 2/(n(n - ddof))
        n = x.size
        h = mg.hessian(lambda v: mg.var(v, ddof=1))(x).reshape(n, n)
        np.testing.assert_allclose(h, 2 / (n - 1) * (np.eye(n) - 1.0 / n), rtol=1e-14)


# ---- norm ---------------------------------------------------------------------------------------

VECTOR_ORDS = [None, 2, 1, INF, -INF, 3, 1.5, 0.5, -1, -2.5]
MATRIX_ORDS = [None, "fro", "nuc", 2, -2, 1, -1, INF, -INF]


@covers("norm", "vector_norm")
@pytest.mark.parametrize("ord", VECTOR_ORDS, ids=str)
@dtypes
@given(data=st.data())
def test_vector_norm(ord: Any, dtype: Any, data: Any) -> None:
    shape = data.draw(mst.shapes(min_dims=1, max_side=3), label="shape")
    nd = len(shape)
    axis = data.draw(st.one_of(st.none(), st.integers(-nd, nd - 1)) if nd == 1
                     else st.integers(-nd, nd - 1), label="axis")
    keepdims = data.draw(st.booleans(), label="keepdims")
    # Away from 0 (a kink of |x|) and, for the max/min of |x|, from ties.
    if ord in (INF, -INF):
        size = int(np.prod(shape))
        mags = data.draw(arrays(shape, dtype, min_value=0.2, max_value=3.0, unique=True,
                                margin=0.05), label="|x|")
        signs = data.draw(st.lists(st.sampled_from([-1.0, 1.0]), min_size=size,
                                   max_size=size), label="signs")
        x = mags * np.array(signs, dtype=dtype).reshape(shape)
    else:
        x = data.draw(arrays(shape, dtype, away_from=(0.0,), margin=0.2, min_value=-2.0,
                             max_value=2.0), label="x")
    check(lambda v: mg.norm(v, ord=ord, axis=axis, keepdims=keepdims), (x,))
    out = mg.norm(x, ord, axis, keepdims)
    expected = np.linalg.norm(x, ord, axis, keepdims)
    assert out.shape == expected.shape and out.dtype == dtype
    np.testing.assert_allclose(out.data, expected, rtol=1e-5)


@covers("norm", "vector_norm")
@dtypes
@given(data=st.data())
def test_norm_over_all_axes(dtype: Any, data: Any) -> None:
    # ord=None, axis=None: the 2-norm of every entry, any number of axes; and 0 entries
    # (which arrays() draws) are fine for the 2-norm away from x == 0.
    shape = data.draw(mst.shapes(), label="shape")
    keepdims = data.draw(st.booleans(), label="keepdims")
    x = data.draw(arrays(shape, dtype), label="x")
    assume(np.abs(x).max() > 0.5)
    check(lambda v: np.linalg.norm(v, keepdims=keepdims), (x,), uses=["vector_norm"])
    np.testing.assert_allclose(mg.norm(x, keepdims=keepdims).data,
                               np.linalg.norm(x, keepdims=keepdims), rtol=1e-6)


@st.composite
def well_conditioned(draw: Any, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """Matrices ``U diag(s) V^T`` in the last two axes, singular values apart and away from 0."""
    *batch, m, n = shape
    k = min(m, n)
    seed = draw(st.integers(0, 2**16), label="seed")
    rng = np.random.default_rng(seed)
    count = int(np.prod(batch, dtype=int))
    s = [draw(arrays((k,), np.float64, min_value=0.5, max_value=3.0, unique=True, margin=0.3),
              label="singular values") for _ in range(count)]
    mats = []
    for si in s:
        u, _ = np.linalg.qr(rng.standard_normal((m, k)))
        v, _ = np.linalg.qr(rng.standard_normal((n, k)))
        mats.append(u @ np.diag(si) @ v.T)
    return np.array(mats).reshape(shape).astype(dtype)


@covers("norm", "singular_values", "left_singular", "right_singular", "spectral_extreme")
@pytest.mark.parametrize("ord", ["nuc", 2, -2], ids=str)
@dtypes
@given(data=st.data())
def test_matrix_norm_singular_values(ord: Any, dtype: Any, data: Any) -> None:
    m, n = data.draw(st.tuples(st.integers(1, 3), st.integers(1, 3)), label="m, n")
    batch = data.draw(st.sampled_from([(), (2,)]), label="batch")
    x = data.draw(well_conditioned(batch + (m, n), dtype), label="x")
    # The matrices in axes (0, -1) when batched: the others are moved to the front.
    axis = (-2, -1) if not batch else (1, 2)
    if batch and data.draw(st.booleans(), label="moved axes"):
        x = np.moveaxis(x, 0, -1)  # matrices in axes (0, 1)
        axis = (0, 1)
    keepdims = data.draw(st.booleans(), label="keepdims")
    uses = ["singular_values", "left_singular", "right_singular"]
    if ord != "nuc":
        uses.append("spectral_extreme")
    check(lambda v: mg.norm(v, ord=ord, axis=axis, keepdims=keepdims), (x,), uses=uses)
    out = mg.norm(x, ord, axis, keepdims)
    expected = np.linalg.norm(x, ord, axis, keepdims)
    assert out.shape == expected.shape and out.dtype == dtype
    np.testing.assert_allclose(out.data, expected, rtol=1e-5)


@covers("norm")
@pytest.mark.parametrize("ord", [None, "fro", 1, -1, INF, -INF], ids=str)
@dtypes
@given(data=st.data())
def test_matrix_norm_sums(ord: Any, dtype: Any, data: Any) -> None:
    shape = data.draw(mst.shapes(min_dims=2, max_dims=3), label="shape")
    nd = len(shape)
    axis = tuple(data.draw(st.lists(st.integers(-nd, nd - 1), min_size=2, max_size=2,
                                    unique_by=lambda a: a % nd), label="axis"))
    keepdims = data.draw(st.booleans(), label="keepdims")
    x = data.draw(arrays(shape, dtype, away_from=(0.0,), margin=0.2), label="x")
    if ord not in (None, "fro"):  # the max/min of the column (or row) sums: no ties
        r, c = (a % nd for a in axis)
        inner, outer = (r, c) if ord in (1, -1) else (c, r)
        sums = np.abs(x.astype(np.float64)).sum(axis=inner)
        lines = np.sort(np.moveaxis(sums, outer - (outer > inner), -1), axis=-1)
        assume(np.all(np.diff(lines, axis=-1) > 0.05))
    check(lambda v: mg.norm(v, ord=ord, axis=axis, keepdims=keepdims), (x,))
    out = mg.norm(x, ord, axis, keepdims)
    expected = np.linalg.norm(x, ord, axis, keepdims)
    assert out.shape == expected.shape and out.dtype == dtype
    np.testing.assert_allclose(out.data, expected, rtol=1e-5)


@covers("left_singular", "right_singular")
@dtypes
@given(data=st.data())
def test_singular_vectors(dtype: Any, data: Any) -> None:
    # The vectors are defined up to a sign per pair: their squares and u_i v_i^T are not.
    m, n = data.draw(st.tuples(st.integers(1, 3), st.integers(1, 3)), label="m, n")
    x = data.draw(well_conditioned((m, n), dtype), label="x")
    check(lambda v: ops.left_singular(v) ** 2, (x,), uses=["left_singular"])
    check(lambda v: ops.right_singular(v) ** 2, (x,), uses=["right_singular"])
    w = np.linspace(1.0, 2.0, min(m, n), dtype=dtype)
    check(lambda v: ops.left_singular(v) @ (w[:, None] * ops.right_singular(v)), (x,),
          uses=["left_singular", "right_singular"])


@pytest.mark.parametrize("ord", [None, 2, 1, INF, -INF, 3, 1.5, 0.5, -1, 0], ids=str)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_vector_norm_at_zero_is_zero_not_nan(ord: Any, dtype: Any) -> None:
    # PyTorch's subgradient 0 at 0; microgd takes the second derivative there as 0
    # too (PyTorch gives NaN for ord=2), in reverse and forward mode.
    x = np.zeros(4, dtype=dtype)
    with np.errstate(invalid="raise"):
        g, h_rev, h_fwd = _grad_and_hessian(lambda v: mg.norm(v, ord), x)
    for a in (g, h_rev, h_fwd):
        assert a.dtype == dtype
        np.testing.assert_array_equal(a, 0.0)
    assert mg.norm(x, ord).item() == 0.0


@pytest.mark.parametrize("ord", [0.5, -1, 1.5, 3], ids=str)
def test_vector_norm_with_one_zero_entry_matches_torch(ord: float) -> None:
    # A zero entry gets 0 (|x|**(p-1) there is 0 for p > 1; for p < 1 it is
    # unbounded and PyTorch masks it to 0), the others their usual gradient.
    torch = pytest.importorskip("torch")
    x = np.array([0.0, 1.0, -2.0, 3.0])
    g = mg.grad(lambda v: mg.norm(v, ord))(x)
    t = torch.tensor(x, requires_grad=True)
    (tg,) = torch.autograd.grad(torch.linalg.vector_norm(t, ord=ord), t)
    np.testing.assert_allclose(g, tg.numpy(), rtol=1e-12, atol=1e-15)
    h = mg.hessian(lambda v: mg.norm(v, ord))(x)
    assert np.all(np.isfinite(h))
    th = torch.autograd.functional.hessian(lambda t: torch.linalg.vector_norm(t, ord=ord),
                                           torch.tensor(x)).numpy()
    # Where PyTorch's Hessian is finite it agrees; in the zero entry's row and column
    # it is NaN for p < 2 (where |x|**p has unbounded curvature), and microgd's is 0.
    finite = np.isfinite(th)
    assert finite.all() or ord < 2
    np.testing.assert_allclose(h[finite], th[finite], rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(h[~finite], 0.0)


@pytest.mark.parametrize("ord", MATRIX_ORDS, ids=str)
@pytest.mark.parametrize("shape", [(3, 3), (2, 4), (2, 3, 2)], ids=str)
def test_matrix_norm_at_zero_is_zero_not_nan(ord: Any, shape: tuple[int, ...]) -> None:
    x = np.zeros(shape)
    with np.errstate(invalid="raise", divide="raise"):
        g, h_rev, h_fwd = _grad_and_hessian(lambda v: mg.norm(v, ord, axis=(-2, -1)).sum(), x)
    for a in (g, h_rev, h_fwd):
        np.testing.assert_array_equal(a, 0.0)


@covers("norm")
def test_matrix_norm_of_a_rank_deficient_matrix() -> None:
    # A zero singular value gets the subgradient 0: nuc's gradient is U_r V_r^T (the
    # minimal one), not the LAPACK-dependent U V^T; the 2-norm stays smooth.
    u, _ = np.linalg.qr(np.random.default_rng(1).standard_normal((3, 3)))
    x = u @ np.diag([3.0, 1.0, 0.0]) @ u.T
    g = mg.grad(lambda v: mg.norm(v, "nuc"))(x)
    np.testing.assert_allclose(g, u[:, :2] @ u[:, :2].T, atol=1e-12)
    g2, h_rev, h_fwd = _grad_and_hessian(lambda v: mg.norm(v, 2), x)
    np.testing.assert_allclose(g2, np.outer(u[:, 0], u[:, 0]), atol=1e-12)
    np.testing.assert_allclose(h_rev, h_fwd, atol=1e-12)
    check(lambda v: mg.norm(v, 2), (x,))


@covers("spectral_extreme")
@pytest.mark.parametrize("largest", [True, False])
def test_spectral_extreme_splits_ties_within_an_svds_accuracy(largest: bool) -> None:
    # LAPACK returns a repeated singular value as values a few ulps apart (which ones
    # depends on the CPU's kernels): those share the gradient evenly; a value farther
    # off than max(m, n) * eps * max(s) gets none.
    eps = np.finfo(np.float64).eps
    s = np.array([[2.0 + 2 * eps, 2.0, 1.0, 2.0 - 1e-12],
                  [1.0, 1.0 + 4 * eps, 1.0 - 2 * eps, 3.0]])
    if not largest:
        s = np.array([[1.0 + 2 * eps, 1.0, 2.0, 1.0 + 1e-12], [3.0, 3.0, 3.0, 1.0]])
    g = mg.grad(lambda v: ops.spectral_extreme(v, largest=largest, size=4).sum())(s)
    np.testing.assert_array_equal(g, [[0.5, 0.5, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]])
    assert ops.spectral_extreme(s, largest=largest, size=4).data.tolist() == (
        s.max(axis=-1) if largest else s.min(axis=-1)).tolist()


@covers("norm")
def test_matrix_norm_repeated_singular_values() -> None:
    # Gradients of nuc and of the 2-norm (ties share it evenly) are right with repeated
    # singular values; second derivatives there are not finite (as in PyTorch and JAX).
    u, _ = np.linalg.qr(np.random.default_rng(2).standard_normal((3, 3)))
    x = u @ np.diag([2.0, 2.0, 1.0]) @ u.T
    g = mg.grad(lambda v: mg.norm(v, "nuc"))(x)
    np.testing.assert_allclose(g, np.eye(3), atol=1e-12)  # the polar factor of an SPD matrix
    g2 = mg.grad(lambda v: mg.norm(v, 2))(x)
    np.testing.assert_allclose(g2, u[:, :2] @ u[:, :2].T / 2, atol=1e-12)
    with np.errstate(all="ignore"):
        h = mg.hessian(lambda v: mg.norm(v, "nuc"))(x)
    assert not np.all(np.isfinite(h))


# ---- logsumexp with weights ------------------------------------------------------------------


@covers("logsumexp", "weighted_logsumexp")
@dtypes
@given(data=st.data())
def test_logsumexp_weighted(dtype: Any, data: Any) -> None:
    shape_x, shape_b = data.draw(mst.broadcastable_shapes(), label="shapes")
    full = np.broadcast_shapes(shape_x, shape_b)
    axis = data.draw(axes_for(len(full)), label="axis")
    keepdims = data.draw(st.booleans(), label="keepdims")
    x = data.draw(arrays(shape_x, dtype), label="x")
    b = data.draw(arrays(shape_b, dtype, min_value=0.2, max_value=3.0), label="b")
    check(lambda v, w: mg.logsumexp(v, axis=axis, keepdims=keepdims, b=w), (x, b),
          uses=["weighted_logsumexp"])
    check(lambda v: v.logsumexp(axis=axis, keepdims=keepdims, b=b) ** 2, (x,))
    special = pytest.importorskip("scipy.special")
    out = mg.logsumexp(x, axis=axis, keepdims=keepdims, b=b)
    expected = special.logsumexp(x, axis=axis, b=b, keepdims=keepdims)
    # NumPy's shape rule (scipy makes a 0-d result with keepdims 1-d)
    assert out.shape == np.sum(np.ones(full), axis=axis, keepdims=keepdims).shape
    assert out.dtype == dtype
    np.testing.assert_allclose(out.data, np.reshape(expected, out.shape), rtol=1e-5)


@covers("weighted_logsumexp")
@dtypes
def test_logsumexp_weighted_extremes(dtype: Any) -> None:
    special = pytest.importorskip("scipy.special")
    # Negative weights while the sum stays positive, large magnitudes, a weight 0 on the
    # largest entry (left out of the shift, as scipy), and the gradients in closed form.
    x = np.array([[1000.0, 999.0, -5.0], [3.0, 2000.0, 1.0]], dtype=dtype)
    b = np.array([[2.0, -1.0, 0.5], [1.0, 0.0, 1.0]], dtype=dtype)
    v, w = Value(x), Value(b)
    out = mg.logsumexp(v, axis=1, b=w)
    assert out.dtype == dtype
    x64, b64 = x.astype(np.float64), b.astype(np.float64)
    lse = special.logsumexp(x64, axis=1, b=b64)
    np.testing.assert_allclose(out.data, lse, rtol=1e-6)
    with np.errstate(over="ignore", invalid="ignore"):
        out.sum().backward()
        e = np.exp(x64 - lse[:, None])
        expected = np.where(b != 0, b64 * e, 0.0)
    # d/dx = b * exp(x - lse): 0 where b == 0, even where exp(x - lse) overflows;
    # d/db = exp(x - lse): there honestly inf.
    np.testing.assert_allclose(v.grad, expected, rtol=1e-5, atol=1e-30)
    np.testing.assert_allclose(w.grad, e, rtol=1e-5)
    assert w.grad[1, 1] == np.inf
    check(lambda v: mg.logsumexp(v, b=np.array([2.0, -1.0, 0.5])), (np.array([1.0, 0.5, -1.0]),))
    with pytest.raises(ValueError, match="weighted_logsumexp: .*negative"):
        mg.logsumexp(np.zeros(2), b=[1.0, -2.0])


# ---- the three spellings, dtypes, errors -------------------------------------------------------

SPELLINGS: dict[str, tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any] | None]] = {
    # name: (mg form, np form, method form or None), each taking (v) with the same arguments
    "prod": (lambda v: mg.prod(v, axis=1), lambda v: np.prod(v, axis=1),
             lambda v: v.prod(axis=1)),
    "var": (lambda v: mg.var(v, axis=0, ddof=1), lambda v: np.var(v, axis=0, ddof=1),
            lambda v: v.var(axis=0, ddof=1)),
    "std": (lambda v: mg.std(v, ddof=1, keepdims=True),
            lambda v: np.std(v, ddof=1, keepdims=True), lambda v: v.std(ddof=1, keepdims=True)),
    "cumsum": (lambda v: mg.cumsum(v), lambda v: np.cumsum(v), lambda v: v.cumsum()),
    "cumprod": (lambda v: mg.cumprod(v, axis=-1), lambda v: np.cumprod(v, axis=-1),
                lambda v: v.cumprod(axis=-1)),
    "diff": (lambda v: mg.diff(v, n=2, axis=1), lambda v: np.diff(v, n=2, axis=1), None),
    "average": (lambda v: mg.average(v, axis=1, weights=[1.0, 2.0, 3.0, 4.0]),
                lambda v: np.average(v, axis=1, weights=[1.0, 2.0, 3.0, 4.0]), None),
    "norm": (lambda v: mg.norm(v, "nuc"), lambda v: np.linalg.norm(v, "nuc"), None),
    "logsumexp": (lambda v: mg.logsumexp(v, axis=0, b=[[1.0], [2.0], [0.5]]), None,
                  lambda v: v.logsumexp(axis=0, b=[[1.0], [2.0], [0.5]])),
}


@pytest.mark.parametrize("name", sorted(SPELLINGS))
@dtypes
def test_three_spellings_agree(name: str, dtype: Any) -> None:
    x = np.random.default_rng(3).uniform(0.5, 2.0, (3, 4)).astype(dtype)
    u = np.random.default_rng(4).standard_normal(np.shape(SPELLINGS[name][0](x).data))
    results = [_value_and_grad(f, x, u) for f in SPELLINGS[name] if f is not None]
    expected = getattr(np, name, None) if name != "norm" else np.linalg.norm
    for value, grad in results:
        assert value.dtype == dtype and grad.dtype == dtype
        np.testing.assert_array_equal(value, results[0][0])
        np.testing.assert_array_equal(grad, results[0][1])
    if expected is not None and name != "logsumexp":  # the value is NumPy's
        np.testing.assert_allclose(results[0][0], SPELLINGS[name][1](x), rtol=1e-6)


@dtypes
def test_float32_stays_float32_with_python_numbers(dtype: Any) -> None:
    x = Value(np.array([[1.0, 2.0], [3.0, 4.5]], dtype=dtype))
    outs = [mg.average(x, axis=0, weights=[1, 2]), mg.diff(x, prepend=0, append=[[1.0], [2.0]]),
            mg.logsumexp(x, b=2), mg.norm(x, 3, axis=0), mg.norm(x, 0, axis=1), mg.var(x, ddof=1),
            mg.norm(x, -2)]
    for out in outs:
        assert out.dtype == dtype, out
        (g,) = mg.gradients(out.sum(), x, create_graph=True)
        assert g.dtype == dtype, out


@pytest.mark.parametrize("call, error, match", [
    (lambda x: mg.var(x, ddof=4), ValueError, r"var: ddof=4 leaves no degrees of freedom.*4"),
    (lambda x: mg.std(x, axis=1, ddof=2), ValueError, r"std: ddof=2 .* 2 element"),
    (lambda x: np.var(x, ddof=1, correction=1), ValueError, "simultaneously"),
    (lambda x: np.prod(x, dtype=np.float32), TypeError, r"numpy.prod with dtype="),
    (lambda x: np.cumsum(x, out=np.zeros(4)), TypeError, r"numpy.cumsum with out="),
    (lambda x: mg.cumsum(x, axis=2), np.exceptions.AxisError, "cumsum: axis 2 is out of bounds"),
    (lambda x: mg.cumprod(x, axis=(0,)), TypeError, "cumprod: axis must be an integer"),
    (lambda x: mg.diff(x, n=-1), ValueError, "diff: order must be non-negative"),
    (lambda x: mg.diff(x[0, 0]), ValueError, "at least one dimensional"),
    (lambda x: mg.average(x, weights=[0.0, 0.0], axis=1), ZeroDivisionError, "sum to zero"),
    (lambda x: mg.average(x, weights=[1.0, 2.0]), TypeError, "axis must be given"),
    (lambda x: mg.average(x, weights=[1.0, 2.0, 3.0], axis=1), ValueError, r"shape \(3,\)"),
    (lambda x: np.average(x, weights=[1.0, 2.0], axis=1, returned=True), TypeError,
     "returned=True"),
    (lambda x: mg.norm(x, "fro", axis=0), ValueError, "invalid norm order 'fro' for vectors"),
    (lambda x: mg.norm(x, 3), ValueError, "invalid norm order 3 for matrices"),
    (lambda x: mg.norm(x, "nuc", axis=(0, 0)), ValueError, "duplicate axes"),
    (lambda x: mg.norm(x, axis=(0, 1, 1)), ValueError, "improper number of dimensions"),
    (lambda x: mg.norm(x[None], 2), ValueError, "improper number of dimensions"),
    (lambda x: mg.norm(x, 2, axis=[0, 1]), TypeError, "'axis' must be None, an integer or a"),
    (lambda x: mg.logsumexp(x, b=-np.ones(2)), ValueError, "negative"),
])
def test_bad_input_errors(call: Any, error: type, match: str) -> None:
    x = Value(np.arange(1.0, 5.0).reshape(2, 2))
    with pytest.raises(error, match=match):
        call(x)


# ---- parity with PyTorch ----------------------------------------------------------------------

TORCH_CASES: dict[str, tuple[Callable[[Any], Any], Callable[[Any, Any], Any]]] = {
    # name: (microgd form, torch form (tensor, torch module))
    "prod": (lambda v: mg.prod(v, axis=1), lambda t, torch: torch.prod(t, dim=1)),
    "prod all": (lambda v: v.prod(), lambda t, torch: torch.prod(t)),
    "cumprod": (lambda v: mg.cumprod(v, axis=0), lambda t, torch: torch.cumprod(t, dim=0)),
    "cumsum": (lambda v: mg.cumsum(v, axis=1), lambda t, torch: torch.cumsum(t, dim=1)),
    "var": (lambda v: mg.var(v, axis=1, ddof=1),
            lambda t, torch: torch.var(t, dim=1, correction=1)),
    "var ddof 0": (lambda v: v.var(axis=0), lambda t, torch: torch.var(t, dim=0, correction=0)),
    "std": (lambda v: mg.std(v, axis=0, ddof=1),
            lambda t, torch: torch.std(t, dim=0, correction=1)),
    "diff": (lambda v: mg.diff(v, n=2, axis=1), lambda t, torch: torch.diff(t, n=2, dim=1)),
    "logsumexp": (lambda v: mg.logsumexp(v, axis=1), lambda t, torch: torch.logsumexp(t, 1)),
    "norm": (lambda v: mg.norm(v), lambda t, torch: torch.linalg.norm(t)),
    "vector 1": (lambda v: mg.norm(v, 1, axis=1),
                 lambda t, torch: torch.linalg.vector_norm(t, ord=1, dim=1)),
    "vector inf": (lambda v: mg.norm(v, INF, axis=0),
                   lambda t, torch: torch.linalg.vector_norm(t, ord=INF, dim=0)),
    "vector -inf": (lambda v: mg.norm(v, -INF, axis=0),
                    lambda t, torch: torch.linalg.vector_norm(t, ord=-INF, dim=0)),
    "vector 3": (lambda v: mg.norm(v, 3, axis=1),
                 lambda t, torch: torch.linalg.vector_norm(t, ord=3, dim=1)),
    "vector 0.5": (lambda v: mg.norm(v, 0.5, axis=1),
                   lambda t, torch: torch.linalg.vector_norm(t, ord=0.5, dim=1)),
    "vector -1": (lambda v: mg.norm(v, -1, axis=1),
                  lambda t, torch: torch.linalg.vector_norm(t, ord=-1, dim=1)),
    "vector 0": (lambda v: mg.norm(v, 0, axis=1),
                 lambda t, torch: torch.linalg.vector_norm(t, ord=0, dim=1)),
    **{f"matrix {o}": (lambda v, o=o: mg.norm(v, o),
                       lambda t, torch, o=o: torch.linalg.matrix_norm(t, ord=o))
       for o in ["fro", "nuc", 2, -2, 1, -1, INF, -INF]},
}

TORCH_INPUTS = {
    "generic": np.array([[0.7, -1.3, 2.1, 0.4], [1.6, 0.9, -0.5, -2.2], [-0.8, 1.1, 0.3, 1.9]]),
    "one zero": np.array([[0.7, -1.3, 0.0, 0.4], [1.6, 0.9, -0.5, -2.2], [-0.8, 1.1, 0.3, 1.9]]),
    "two zeros": np.array([[0.7, 0.0, 0.0, 0.4], [1.6, 0.9, -0.5, -2.2], [0.0, 1.1, 0.3, 1.9]]),
}


@pytest.mark.parametrize("inputs", sorted(TORCH_INPUTS))
@pytest.mark.parametrize("name", sorted(TORCH_CASES))
def test_matches_torch(name: str, inputs: str) -> None:
    torch = pytest.importorskip("torch")
    x = TORCH_INPUTS[inputs]
    ours, theirs = TORCH_CASES[name]
    u = np.random.default_rng(5).standard_normal(np.shape(ours(x).data))
    value, grad = _value_and_grad(ours, x, u)
    t = torch.tensor(x, requires_grad=True)
    out = theirs(t, torch)
    (tg,) = torch.autograd.grad((out * torch.tensor(u)).sum(), t, create_graph=True,
                                allow_unused=True, materialize_grads=True)
    np.testing.assert_allclose(value, out.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(grad, tg.detach().numpy(force=True), rtol=1e-10, atol=1e-12)
    # Second order: the Hessian-vector product of sum(u * f(x)) along w.
    w = np.random.default_rng(6).standard_normal(x.shape)
    hv = mg.hvp(lambda v: (ours(v) * u).sum(), x, w)
    assert np.all(np.isfinite(hv))
    if tg.requires_grad:
        (th,) = torch.autograd.grad((tg * torch.tensor(w)).sum(), t, allow_unused=True,
                                    materialize_grads=True)
        th = th.numpy(force=True)
    else:  # torch's gradient is constant in x (sums of |x|, a step function)
        th = np.zeros_like(x)
    # Where PyTorch's second derivative is NaN (p < 1 at a zero entry), microgd's is 0.
    finite = np.isfinite(th)
    np.testing.assert_allclose(hv[finite], th[finite], rtol=1e-9, atol=1e-11)
