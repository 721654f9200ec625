"""Exact and safe: nested transforms, in-place safety, no silent gradient drops.

Each test here reproduces a case where microgd once returned a wrong number
without an error (issue "Exact and safe"), and asserts the right number or a
clear error.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import microgd as mg
from microgd import Value, nn, optim

finite = st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False)


# ---- 1. nested transforms: no perturbation confusion, any depth ----------------


def test_mixed_partial_through_another_argument():
    f = lambda x, y: mg.sin(mg.sin(x) + mg.sin(y))  # noqa: E731
    x, y = 0.3, -1.2
    expected = -math.sin(math.sin(x) + math.sin(y)) * math.cos(x) * math.cos(y)
    assert float(mg.grad(mg.grad(f, 1))(x, y)) == pytest.approx(expected, rel=1e-12)
    assert float(mg.grad(mg.grad(f, 0), 1)(x, y)) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(0.2058, abs=1e-4)


def test_closure_over_the_outer_variable():
    # d/dx [x * d/dy (x * y)] = d/dx [x * x] = 2x
    g = mg.grad(lambda x: x * mg.grad(lambda y: x * y)(2.0))
    assert float(g(3.0)) == 6.0


def test_classic_perturbation_confusion():
    # d/dx [ d/dy (x + y) at y = x ] = d/dx 1 = 0 (Siskind & Pearlmutter)
    g = mg.grad(lambda x: x * mg.grad(lambda y: x + y)(x))
    assert float(g(2.0)) == 1.0
    # d/dx [ x * d/dy (x * y) at y = x ] = d/dx x**2 = 2x
    h = mg.grad(lambda x: x * mg.grad(lambda y: x * y)(x))
    assert float(h(3.0)) == 6.0


@given(finite, finite)
def test_third_derivatives_with_another_argument(x, y):
    f = lambda a, b: a ** 3 * mg.exp(b) + a * b ** 2  # noqa: E731
    d3 = mg.grad(mg.grad(mg.grad(f, 0), 0), 0)(x, y)  # 6 e^b
    assert float(d3) == pytest.approx(6 * math.exp(y), rel=1e-12)
    dxdyy = mg.grad(mg.grad(mg.grad(f, 1), 1), 0)(x, y)  # d/dx d2/dy2 = 3x^2 e^y + 2
    assert float(dxdyy) == pytest.approx(3 * x * x * math.exp(y) + 2, rel=1e-12, abs=1e-12)
    dyxx = mg.grad(mg.grad(mg.grad(f, 0), 0), 1)(x, y)  # 6x e^y
    assert float(dyxx) == pytest.approx(6 * x * math.exp(y), rel=1e-12, abs=1e-12)


def test_grad_of_a_function_calling_hessian():
    # f(x) = sum(x**3); H = diag(6x); trace(H) = 6 sum(x); grad of the trace = 6
    f = lambda v: (v ** 3).sum()  # noqa: E731
    x = np.array([0.5, -1.0, 2.0])
    g = mg.grad(lambda v: _trace(mg.hessian(f)(v)))(x)
    np.testing.assert_allclose(g, [6.0, 6.0, 6.0], rtol=1e-12)


def _trace(H: Value) -> Value:
    n = H.shape[0]
    return (H * np.eye(n)).sum()


def test_grad_of_a_function_calling_hvp_and_jacobian():
    f = lambda v: (v ** 4).sum()  # noqa: E731
    x = np.array([1.0, 2.0])
    u = np.array([1.0, 1.0])
    # hvp = 12 x**2 * u; d/dx sum(hvp) = 24 x
    g = mg.grad(lambda v: mg.hvp(f, v, u).sum())(x)
    np.testing.assert_allclose(g, 24 * x, rtol=1e-12)
    # jacobian of x**2 is diag(2x); d/dx sum(J) = 2
    g2 = mg.grad(lambda v: mg.jacobian(lambda w: w ** 2)(v).sum())(x)
    np.testing.assert_allclose(g2, [2.0, 2.0], rtol=1e-12)


def test_nested_four_deep():
    d4 = mg.grad(mg.grad(mg.grad(mg.grad(lambda x: mg.sin(x) * x))))
    # (x sin x)'''' = x sin x - 4 cos x
    x = 0.7
    assert float(d4(x)) == pytest.approx(x * math.sin(x) - 4 * math.cos(x), rel=1e-12)


def test_constant_function_has_zero_gradient_and_hvp():
    x = np.array([1.0, 2.0])
    np.testing.assert_array_equal(mg.grad(lambda v: 3.0)(x), [0.0, 0.0])
    np.testing.assert_array_equal(mg.hvp(lambda v: 3.0, x, np.ones(2)), [0.0, 0.0])
    np.testing.assert_array_equal(mg.hvp(lambda v: v.sum(), x, np.ones(2)), [0.0, 0.0])
    np.testing.assert_array_equal(mg.hessian(lambda v: 3.0)(x), np.zeros((2, 2)))
    np.testing.assert_array_equal(mg.jacobian(lambda v: np.ones(3))(x), np.zeros((3, 2)))
    # nested: the inner gradient is a constant, so the outer one is zero
    assert float(mg.grad(lambda v: mg.grad(lambda w: 2.0 * w)(v))(1.0)) == 0.0


# ---- 2. in-place safety: versions ------------------------------------------------


def test_assign_after_recording_is_detected_in_both_modes():
    w = Value(3.0)
    y = w * w
    w.assign(5.0)
    with pytest.raises(RuntimeError, match=r"mul.*modified in place"):
        y.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match=r"mul.*modified in place"):
        mg.gradients(y, w, create_graph=True)
    assert w.grad is None


def test_optimizer_step_bumps_the_version():
    w = Value(np.array([1.0, 2.0]))
    loss = (w * w).sum()
    loss.backward(retain_graph=True)
    v0 = w._version
    optim.SGD([w], lr=0.1).step()
    assert w._version > v0
    with pytest.raises(RuntimeError, match="modified in place"):
        loss.backward()


@pytest.mark.parametrize("make", [
    lambda ps: optim.GD(ps, lr=0.1), lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
    lambda ps: optim.Momentum(ps, lr=0.1), lambda ps: optim.Nesterov(ps, lr=0.1),
    lambda ps: optim.Adam(ps), lambda ps: optim.AdamW(ps), lambda ps: optim.RMSProp(ps),
    lambda ps: optim.AdaGrad(ps),
])
def test_every_optimizer_bumps_versions(make):
    model = nn.MLP(2, [3, 1], seed=0)
    ps = model.parameters()
    loss = (model(np.ones((4, 2))) ** 2).mean()
    loss.backward(retain_graph=True)
    before = [p._version for p in ps]
    make(ps).step()
    assert all(p._version > b for p, b in zip(ps, before, strict=True))
    with pytest.raises(RuntimeError, match="modified in place"):
        mg.gradients(loss, ps)


def test_setting_data_bumps_the_version_and_converts():
    w = Value(np.array([1.0, 2.0]))
    y = (w * 2).sum()
    w.data = [3, 4]  # ints become float64, as Value() converts
    assert w.data.dtype == np.float64 and w.data.tolist() == [3.0, 4.0]
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()
    v = Value(np.ones(2, np.float32))
    v.data = np.array([1, 2])
    assert v.dtype == np.float64  # converted as Value() would
    with pytest.raises(TypeError, match="not numeric"):
        v.data = np.array(["a"])
    assert v.data.tolist() == [1.0, 2.0]  # nothing half-changed


def test_in_place_data_update_is_detected():
    w = Value(np.array([1.0, 2.0]))
    y = (w * w).sum()
    w.data -= 0.5  # the graph saw the old numbers
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()


def test_assign_on_an_intermediate_output_is_detected():
    x = Value(np.array([0.1, 0.2]))
    e = x.exp()  # exp's VJP uses its own output
    y = e.sum()
    e.assign(np.zeros(2))
    # sum is the first op (walking back from y) that used e before the change
    with pytest.raises(RuntimeError, match=r"^sum: .*input 0 \(shape \(2,\), version 1\)"):
        y.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match=r"^exp: .*its own output"):
        mg.gradients(e, x, grad_outputs=np.ones(2))


def test_fresh_graph_after_assign_works():
    w = Value(3.0)
    w.assign(5.0)
    y = w * w
    y.backward()
    assert float(w.grad) == 10.0


def test_hessian_operator_notices_assign():
    x = Value(np.array([1.0, 2.0]))
    (g,) = mg.gradients((x ** 3).sum(), x, create_graph=True)
    x.assign([2.0, 2.0])
    with pytest.raises(RuntimeError, match="modified in place"):
        mg.gradients(g.sum(), x)


# ---- 3. nothing drops a gradient silently ---------------------------------------


def test_asarray_of_a_value_that_requires_grad_raises():
    v = Value(np.array([1.0, 2.0]))
    for convert in (np.asarray, np.array):
        with pytest.raises(TypeError, match=r"v\.data.*detach.*mg\.stack"):
            convert(v)
    # constants and detached Values convert as before
    np.testing.assert_array_equal(np.asarray(v.detach()), [1.0, 2.0])
    np.testing.assert_array_equal(np.asarray(Value([1.0], requires_grad=False)), [1.0])


def test_ndarray_dot_value_raises_instead_of_a_zero_gradient():
    X = np.ones((4, 3))
    w = Value(np.ones(3))
    with pytest.raises(TypeError, match="requires grad"):
        X.dot(w)
    with pytest.raises(TypeError, match="requires grad"):
        np.array([w[0], w[1]])
    with pytest.raises(TypeError):
        np.mean([w, w + 2])


def test_mg_array_builds_a_differentiable_value():
    a, b = Value(2.0), Value(3.0)
    v = mg.array([[a, 1.0], [b * a, 4]])
    assert v.shape == (2, 2) and v.dtype == np.float64
    assert v.data.tolist() == [[2.0, 1.0], [6.0, 4.0]]
    ga, gb = mg.gradients((v * np.array([[1.0, 0.0], [1.0, 0.0]])).sum(), [a, b])
    assert float(ga.data) == 1.0 + 3.0 and float(gb.data) == 2.0
    # numbers only: a constant; float32 Values stay float32
    assert not mg.array([1.0, 2.0]).requires_grad
    assert mg.array([Value(np.float32(1)), Value(np.float32(2))]).dtype == np.float32
    with pytest.raises(ValueError, match="array"):
        mg.array([[a, 1.0], [2.0]])  # ragged
    # Values of any shape at the leaves
    m = mg.array([Value(np.ones(2)), Value(np.zeros(2))])
    assert m.shape == (2, 2)


def test_missing_numpy_function_names_itself_fully():
    v = Value(np.ones(3))
    with pytest.raises(TypeError, match=r"numpy\.linalg\.eig\b"):
        np.linalg.eig(v.reshape(3, 1) * v.reshape(1, 3))  # (lstsq and qr are supported now)
    with pytest.raises(TypeError, match=r"numpy\.fft\.fft\b"):
        np.fft.fft(v)
    with pytest.raises(TypeError, match=r"numpy\.partition\b"):
        np.partition(v, 1)


def test_least_squares_written_with_ndarray_dot_is_refused_not_zero():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 3))
    y = X @ np.array([1.0, -2.0, 0.5])
    with pytest.raises(TypeError, match="requires grad"):
        mg.grad(lambda w: ((X.dot(w) - y) ** 2).mean())(np.zeros(3))
    g = mg.grad(lambda w: ((X @ w - y) ** 2).mean())(np.zeros(3))
    np.testing.assert_allclose(g, 2 * X.T @ (X @ np.zeros(3) - y) / 20)


# ---- 4. comparisons, conversions, one-element outputs --------------------------


def test_eq_and_ne_are_elementwise():
    v = Value(np.array([1.0, 3.0, 3.0]))
    np.testing.assert_array_equal(v == 3.0, [False, True, True])
    np.testing.assert_array_equal(v != 3.0, [True, False, False])
    assert v[v == 3.0].shape == (2,)
    assert bool(Value(2.0) == Value(2.0))
    np.testing.assert_array_equal(np.equal(v, 1.0), [True, False, False])
    np.testing.assert_array_equal(3.0 == v, [False, True, True])  # noqa: SIM300  (reflected)
    # hashing stays by identity: Values still work as dict keys
    a, b = Value(1.0), Value(1.0)
    assert len({a: 1, b: 2}) == 2


def test_boolean_ufuncs_and_array_facts_work_on_values():
    v = Value(np.array([1.0, np.inf, np.nan]))
    np.testing.assert_array_equal(np.isfinite(v), [True, False, False])
    np.testing.assert_array_equal(np.isnan(v), [False, False, True])
    assert np.shape(v) == (3,) and np.ndim(v) == 1 and np.size(v) == 3


def test_python_number_conversions():
    for v in (Value(2.6), Value([2.6]), Value([[2.6]])):
        assert float(v) == 2.6
        assert int(v) == 2
        assert round(v) == 3 and round(v, 1) == 2.6
        assert format(v, ".3f") == "2.600"
    with pytest.raises(TypeError, match="3 elements"):
        float(Value(np.ones(3)))
    with pytest.raises(TypeError, match="3 elements"):
        int(Value(np.ones(3)))


@pytest.mark.parametrize("shape", [(), (1,), (1, 1)])
def test_backward_and_grad_accept_one_element_outputs(shape):
    x = Value(np.array([1.0, 2.0]))
    y = (x * x).sum().reshape(shape)
    y.backward()
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])
    g = mg.grad(lambda v: (v * v).sum().reshape(shape))(np.array([1.0, 2.0]))
    np.testing.assert_array_equal(g, [2.0, 4.0])
    val, _ = mg.value_and_grad(lambda v: (v * v).sum().reshape(shape))(np.array([1.0, 2.0]))
    assert val == 5.0


def test_gradients_with_lists_of_one_like_torch():
    x = Value(np.array([1.0, 2.0]))
    y = x * x
    (g,) = mg.gradients([y], [x], grad_outputs=[np.array([1.0, 10.0])], retain_graph=True)
    np.testing.assert_array_equal(g.data, [2.0, 40.0])
    (g,) = mg.gradients(y, x, grad_outputs=[np.array([1.0, 1.0])], retain_graph=True)
    np.testing.assert_array_equal(g.data, [2.0, 4.0])
    (g,) = mg.gradients([y], [x], grad_outputs=(np.array([1.0, 1.0]),))
    np.testing.assert_array_equal(g.data, [2.0, 4.0])


def test_softmax_family_methods():
    v = Value(np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]))
    np.testing.assert_allclose(v.logsumexp(axis=1).data, mg.logsumexp(v, axis=1).data)
    np.testing.assert_allclose(v.softmax(axis=-1).data, mg.softmax(v, axis=-1).data)
    np.testing.assert_allclose(v.log_softmax(axis=0).data, mg.log_softmax(v, axis=0).data)
    np.testing.assert_allclose(v.logsumexp().data, mg.logsumexp(v).data)


# ---- 6. jacobian and hessian of a list of arrays -----------------------------------


def test_jacobian_of_a_list_of_arrays():
    a, b = np.array([1.0, 2.0]), np.array([[3.0]])
    J = mg.jacobian(lambda ps: ps[0] * ps[1][0, 0])([a, b])
    assert isinstance(J, list) and len(J) == 2
    np.testing.assert_array_equal(J[0], 3.0 * np.eye(2))
    assert J[1].shape == (2, 1, 1)
    np.testing.assert_array_equal(J[1][:, 0, 0], a)


def test_hessian_of_a_list_of_arrays_gives_blocks():
    a, b = np.array([1.0, 2.0]), np.array(3.0)

    def f(ps):
        return (ps[0] ** 2).sum() * ps[1] + ps[1] ** 3

    H = mg.hessian(f)([a, b])
    assert isinstance(H, list) and all(isinstance(r, list) and len(r) == 2 for r in H)
    np.testing.assert_array_equal(H[0][0], 2 * 3.0 * np.eye(2))
    np.testing.assert_array_equal(H[0][1], 2 * a)
    assert H[0][1].shape == (2,) and H[1][0].shape == (2,) and H[1][1].shape == ()
    np.testing.assert_array_equal(H[1][0], 2 * a)
    assert float(H[1][1]) == 6 * 3.0
    # the blocks agree with the Hessian of the flattened function
    flat = mg.hessian(lambda v: f([v[:2], v[2]]))(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(flat[:2, :2], H[0][0])
    np.testing.assert_allclose(flat[:2, 2], H[0][1])


def test_jacobian_of_a_function_returning_a_list():
    x = np.array([1.0, 2.0])
    J = mg.jacobian(lambda v: [v ** 2, v.sum()])(x)
    assert isinstance(J, list) and len(J) == 2
    np.testing.assert_array_equal(J[0], np.diag(2 * x))
    np.testing.assert_array_equal(J[1], [1.0, 1.0])
