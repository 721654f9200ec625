"""grad, value_and_grad, jacobian, hvp, hessian: values, purity, nesting, structures, errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import microgd as mg
from microgd import Value
from microgd.testing import check_grads
from microgd.testing import strategies as mst


def f_mix(x):
    return (x.sin() * x.exp()).sum() + (x ** 3).mean()


def test_grad_matches_closed_form_and_dtype():
    x = np.array([0.3, -1.1, 2.0])
    g = mg.grad(f_mix)(x)
    want = np.cos(x) * np.exp(x) + np.sin(x) * np.exp(x) + 3 * x ** 2 / 3
    np.testing.assert_allclose(g, want, rtol=1e-12)
    assert isinstance(g, np.ndarray) and g.shape == x.shape and g.dtype == np.float64
    g32 = mg.grad(f_mix)(x.astype(np.float32))
    assert g32.dtype == np.float32


def test_grad_is_pure():
    w = Value(np.array([1.0, 2.0]))
    mg.grad(lambda x: (x * w).sum())(np.ones(2))
    assert w.grad is None
    x = np.array([1.0, 2.0])
    mg.grad(lambda v: (v ** 2).sum())(x)
    assert x.tolist() == [1.0, 2.0]


def test_grad_of_grad_to_depth_four():
    f = lambda x: x.sin()  # noqa: E731
    d = f
    for k in range(1, 5):
        d = mg.grad(d)
        want = [np.cos, lambda t: -np.sin(t), lambda t: -np.cos(t), np.sin][k - 1](0.7)
        np.testing.assert_allclose(d(0.7), want, rtol=1e-12)


def test_nested_grad_has_no_perturbation_confusion():
    # d/dx [ x * (d/dy x*y) ] = d/dx [x * x] = 2x
    outer = mg.grad(lambda x: x * mg.grad(lambda y: x * y)(x))
    assert outer(3.0) == 6.0


def test_argnums_and_value_and_grad():
    f = lambda a, b: (a * b ** 2).sum()  # noqa: E731
    a, b = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    ga, gb = mg.grad(f, argnums=(0, 1))(a, b)
    np.testing.assert_allclose(ga, b ** 2)
    np.testing.assert_allclose(gb, 2 * a * b)
    val, gb2 = mg.value_and_grad(f, argnums=1)(a, b)
    assert val == 1 * 9 + 2 * 16 and isinstance(val, float)
    np.testing.assert_allclose(gb2, gb)


def test_list_of_parameter_arrays_round_trips_structure():
    params = [np.ones((2, 3)), np.arange(3.0)]
    X = np.arange(6.0).reshape(3, 2) / 6

    def loss(ps):
        W, b = ps
        return ((X @ W + b) ** 2).mean()

    g = mg.grad(loss)(params)
    assert isinstance(g, list) and [a.shape for a in g] == [(2, 3), (3,)]
    check = mg.grad(lambda W: loss([W, params[1]]))(params[0])
    np.testing.assert_allclose(g[0], check)
    hv = mg.hvp(loss, params, [np.ones((2, 3)), np.zeros(3)])
    assert [a.shape for a in hv] == [(2, 3), (3,)]


def test_jacobian_shapes_and_values():
    A = np.arange(6.0).reshape(2, 3)
    J = mg.jacobian(lambda x: A @ x)(np.ones(3))
    np.testing.assert_allclose(J, A)
    J2 = mg.jacobian(lambda x: x * 2)(np.ones((2, 2)))
    assert J2.shape == (2, 2, 2, 2)
    np.testing.assert_allclose(J2.reshape(4, 4), 2 * np.eye(4))
    assert mg.jacobian(lambda x: x.sum())(np.ones(3)).shape == (3,)


def test_hessian_and_hvp_closed_form():
    A = np.array([[2.0, 1.0], [1.0, 3.0]])
    f = lambda x: 0.5 * (x @ (A @ x)) + (x ** 4).sum()  # noqa: E731
    x = np.array([0.5, -1.0])
    H = mg.hessian(f)(x)
    np.testing.assert_allclose(H, A + np.diag(12 * x ** 2), rtol=1e-12)
    v = np.array([1.0, 2.0])
    np.testing.assert_allclose(mg.hvp(f, x, v), H @ v, rtol=1e-12)


@given(x=mst.arrays(shape=(3,)), v=mst.arrays(shape=(3,)))
def test_hvp_equals_hessian_times_v(x, v):
    def f(t):
        return (t.tanh() * t.sin()).sum() + mg.logsumexp(t * 2.0)

    H = mg.hessian(f)(x)
    np.testing.assert_allclose(mg.hvp(f, x, v), H @ v, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(H, H.T, rtol=1e-9, atol=1e-12)


@given(x=mst.arrays(shape=(3,), min_value=-2, max_value=2))
def test_hessian_and_hvp_against_check_grads_of_grad(x):
    f = lambda t: (t.sin() * t.exp()).sum() + mg.logsumexp(t) * (t ** 2).sum()  # noqa: E731
    # The gradient function, as a function of Values, must itself be differentiable:
    check_grads(mg.grad(f), (x,), order=2)
    # The Hessian from hvp columns matches a finite-difference Jacobian of grad.
    H = np.stack([mg.hvp(f, x, e) for e in np.eye(3)])
    eps = 1e-6
    fd = np.stack([(mg.grad(f)(x + eps * e) - mg.grad(f)(x - eps * e)) / (2 * eps)
                   for e in np.eye(3)])
    np.testing.assert_allclose(H, fd, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mg.hessian(f)(x), H, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("transform", [mg.grad, mg.value_and_grad])
def test_non_scalar_f_is_a_clear_error(transform):
    with pytest.raises(ValueError, match=r"f must return a scalar.*shape \(3,\)"):
        transform(lambda x: x * 2)(np.ones(3))
    with pytest.raises(ValueError, match="scalar"):
        mg.hvp(lambda x: x * 2, np.ones(3), np.ones(3))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_point_is_a_clear_error(bad):
    x = np.array([1.0, bad])
    for call in (lambda: mg.grad(lambda t: t.sum())(x), lambda: mg.hessian(lambda t: t.sum())(x),
                 lambda: mg.hvp(lambda t: t.sum(), x, np.ones(2)),
                 lambda: mg.hessian_eigs(lambda t: t.sum(), x, k=1),
                 lambda: mg.classify(lambda t: t.sum(), x)):
        with pytest.raises(ValueError, match="nan or inf"):
            call()


def test_hvp_shape_mismatch_and_argnums_range():
    with pytest.raises(ValueError, match=r"v has shape \(2,\) but x has shape \(3,\)"):
        mg.hvp(lambda x: x.sum(), np.ones(3), np.ones(2))
    with pytest.raises(ValueError, match="argnums 2 is out of range"):
        mg.grad(lambda a, b: a * b, argnums=2)(1.0, 2.0)


def test_constant_function_gives_zero_gradient_and_hessian():
    assert mg.grad(lambda x: Value(3.0, requires_grad=False))(np.ones(2)).tolist() == [0, 0]
    np.testing.assert_array_equal(mg.hvp(lambda x: (x * 0).sum(), np.ones(2), np.ones(2)),
                                  np.zeros(2))


@given(st.integers(1, 4))
def test_jacobian_of_softmax_rows_sum_to_zero(n):
    x = np.linspace(-1, 1, n)
    J = mg.jacobian(mg.softmax)(x)
    np.testing.assert_allclose(J.sum(axis=0), np.zeros(n), atol=1e-12)
    s = np.exp(x) / np.exp(x).sum()
    np.testing.assert_allclose(J, np.diag(s) - np.outer(s, s), atol=1e-12)
