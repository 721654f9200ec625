"""Forward mode: jvp, vjp, linearize, jacfwd/jacrev, ggn_vp, hvp modes, check_grads(modes=)."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import microgd as mg
from microgd import nn, ops
from microgd.testing import check_grads
from microgd.testing import strategies as mst

finite = st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False)


def f_vec(x):
    return mg.tanh(x) * mg.exp(0.3 * x) + (x ** 2).sum()


# ---- jvp -------------------------------------------------------------------------


@given(mst.arrays(shape=mst.shapes(min_dims=1, max_dims=2)), st.data())
def test_jvp_matches_the_jacobian_times_the_tangent(x, data):
    t = data.draw(mst.arrays(shape=x.shape), label="t")
    out, tan = mg.jvp(f_vec, (x,), (t,))
    J = mg.jacobian(f_vec)(x)
    np.testing.assert_allclose(out, f_vec(mg.Value(x)).data, rtol=1e-12)
    np.testing.assert_allclose(tan, np.tensordot(J, t, axes=x.ndim), rtol=1e-9, atol=1e-12)


def test_jvp_several_arguments_and_lists():
    a, b = np.array([1.0, 2.0]), np.array([[0.5], [-1.0]])

    def f(p, q):
        return [p[0] * q, (p[0] ** 2).sum()]

    (o1, o2), (t1, t2) = mg.jvp(f, ([a, b], 3.0), ([np.ones(2), np.zeros((2, 1))], 1.0))
    np.testing.assert_allclose(o1, a * 3.0)
    # d(p0 * q) = dp0 * q + p0 * dq = 1 * 3 + a * 1
    np.testing.assert_allclose(t1, 3.0 + a)
    assert float(t2) == 2 * (1.0 + 2.0)


def test_jvp_keeps_float32():
    x = np.ones(3, np.float32)
    out, t = mg.jvp(lambda v: mg.sin(v) * 2.0, (x,), (np.ones(3, np.float32),))
    assert out.dtype == np.float32 and t.dtype == np.float32


def test_jvp_of_a_constant_function_is_zero():
    out, t = mg.jvp(lambda v: np.ones(2) * 3.0, (np.ones(2),), (np.ones(2),))
    np.testing.assert_array_equal(t, [0.0, 0.0])
    _, t = mg.jvp(lambda v: v * 0.0 + 1.0, (np.ones(2),), (np.ones(2),))
    np.testing.assert_array_equal(t, [0.0, 0.0])


def test_jvp_bad_input():
    with pytest.raises(TypeError, match="tuple"):
        mg.jvp(f_vec, np.ones(2), (np.ones(2),))
    with pytest.raises(ValueError, match="shape"):
        mg.jvp(f_vec, (np.ones(2),), (np.ones(3),))
    with pytest.raises(ValueError, match="1 primals but 2 tangents"):
        mg.jvp(f_vec, (np.ones(2),), (np.ones(2), np.ones(2)))


# ---- composition: any order, either mode ---------------------------------------------


@given(finite)
def test_jvp_of_jvp_is_the_second_derivative(x):
    f = lambda v: mg.sin(v) * v ** 3  # noqa: E731
    d2 = mg.jvp(lambda y: mg.jvp(f, (y,), (1.0,))[1], (x,), (1.0,))[1]
    exact = -math.sin(x) * x ** 3 + 6 * math.cos(x) * x ** 2 + 6 * math.sin(x) * x
    assert float(d2) == pytest.approx(exact, rel=1e-10, abs=1e-12)
    d3 = mg.jvp(lambda z: mg.jvp(lambda y: mg.jvp(f, (y,), (1.0,))[1], (z,), (1.0,))[1],
                (x,), (1.0,))[1]
    assert float(d3) == pytest.approx(float(mg.grad(mg.grad(mg.grad(f)))(x)), rel=1e-9,
                                      abs=1e-10)


def test_mixed_forward_and_reverse_orders_agree():
    f = lambda v: (mg.tanh(v) ** 2).sum() * v[0]  # noqa: E731
    x = np.array([0.3, -0.7, 1.1])
    H = mg.hessian(f)(x)
    np.testing.assert_allclose(mg.jacfwd(mg.jacrev(f))(x), H, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(mg.jacrev(mg.jacfwd(f))(x), H, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(mg.jacfwd(mg.jacfwd(f))(x), H, rtol=1e-10, atol=1e-12)
    v = np.array([1.0, 2.0, -1.0])
    np.testing.assert_allclose(mg.jvp(mg.grad(f), (x,), (v,))[1], H @ v, rtol=1e-10)
    # grad of a jvp: d/dx <grad f(x), v> = H v
    np.testing.assert_allclose(mg.grad(lambda y: mg.jvp(f, (y,), (v,))[1])(x), H @ v,
                               rtol=1e-10)


def test_no_perturbation_confusion_in_forward_mode():
    # d/dx [ x * (d/dy (x + y) at y) ] = 1
    g = lambda x: x * mg.jvp(lambda y: x + y, (1.0,), (1.0,))[1]  # noqa: E731
    assert float(mg.jvp(g, (2.0,), (1.0,))[1]) == 1.0
    # d/dx [ x * (d/dy (x * y) at y = x) ] = 2x
    h = lambda x: x * mg.jvp(lambda y: x * y, (x,), (1.0,))[1]  # noqa: E731
    assert float(mg.jvp(h, (3.0,), (1.0,))[1]) == 6.0
    assert float(mg.grad(h)(3.0)) == 6.0


def test_hvp_modes_agree():
    model = nn.MLP(3, [5, 2], activation="tanh", seed=0)
    X = np.random.default_rng(0).standard_normal((7, 3))
    ps = [p.data for p in model.parameters()]

    def loss(params):
        h = mg.tanh(X @ params[0] + params[1])
        return ((h @ params[2] + params[3]) ** 2).mean()

    v = [np.random.default_rng(1).standard_normal(p.shape) for p in ps]
    rev = mg.hvp(loss, ps, v, mode="rev")
    fwd = mg.hvp(loss, ps, v, mode="fwd")
    auto = mg.hvp(loss, ps, v)
    for a, b, c in zip(rev, fwd, auto, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)
        np.testing.assert_array_equal(a, c)
    with pytest.raises(ValueError, match="mode"):
        mg.hvp(loss, ps, v, mode="both")


# ---- vjp, linearize, jacfwd --------------------------------------------------------------


def test_vjp_gives_one_cotangent_per_primal_and_is_reusable():
    f = lambda a, b: mg.sin(a) * b  # noqa: E731
    a, b = np.array([0.1, 0.2]), np.array([3.0, 4.0])
    out, f_vjp = mg.vjp(f, a, b)
    np.testing.assert_allclose(out, np.sin(a) * b)
    for ct in (np.ones(2), np.array([2.0, -1.0])):
        ga, gb = f_vjp(ct)
        np.testing.assert_allclose(ga, ct * np.cos(a) * b)
        np.testing.assert_allclose(gb, ct * np.sin(a))
    with pytest.raises(ValueError, match="cotangent"):
        f_vjp([np.ones(2), np.ones(2)])


def test_linearize_agrees_with_jvp_and_replays_only_linear_work():
    model = nn.MLP(4, [8, 3], activation="tanh", seed=0)
    X = np.random.default_rng(0).standard_normal((5, 4))
    ps = [p.data for p in model.parameters()]

    def f(params):
        h = mg.tanh(X @ params[0] + params[1])
        return mg.log_softmax(h @ params[2] + params[3], axis=1)

    out, f_jvp = mg.linearize(f, ps)
    rng = np.random.default_rng(2)
    for _ in range(3):
        t = [rng.standard_normal(p.shape) for p in ps]
        np.testing.assert_allclose(f_jvp(t), mg.jvp(f, (ps,), (t,))[1], rtol=1e-12,
                                   atol=1e-14)
    np.testing.assert_allclose(out, mg.jvp(f, (ps,), (ps,))[0])
    # linear in the tangent
    t1 = [rng.standard_normal(p.shape) for p in ps]
    t2 = [rng.standard_normal(p.shape) for p in ps]
    np.testing.assert_allclose(f_jvp([a + 2 * b for a, b in zip(t1, t2, strict=True)]),
                               f_jvp(t1) + 2 * f_jvp(t2), rtol=1e-10, atol=1e-12)


def test_linearize_notices_a_changed_closure():
    w = mg.Value(np.array([1.0, 2.0]))
    _, f_jvp = mg.linearize(lambda x: x * w, np.array([3.0, 4.0]))
    w.assign([5.0, 6.0])
    with pytest.raises(RuntimeError, match="modified in place"):
        f_jvp(np.ones(2))


def test_jacfwd_matches_jacobian_for_wide_outputs_and_lists():
    A = np.random.default_rng(0).standard_normal((50, 4))
    f = lambda x: mg.tanh(A @ x)  # noqa: E731
    x = np.array([0.1, -0.2, 0.3, 0.5])
    np.testing.assert_allclose(mg.jacfwd(f)(x), mg.jacobian(f)(x), rtol=1e-12)
    g = lambda ps: [ps[0] * ps[1].sum(), ps[1] ** 2]  # noqa: E731
    ps = [np.array([1.0, 2.0]), np.array([[3.0, 4.0]])]
    Jf, Jr = mg.jacfwd(g)(ps), mg.jacobian(g)(ps)
    for rf, rr in zip(Jf, Jr, strict=True):
        for bf, br in zip(rf, rr, strict=True):
            assert bf.shape == br.shape
            np.testing.assert_allclose(bf, br)
    assert mg.jacrev is mg.jacobian


# ---- Gauss-Newton ------------------------------------------------------------------


def test_ggn_vp_equals_j_transpose_h_j():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((6, 3))
    Y = np.eye(2)[rng.integers(0, 2, 6)]
    w0 = rng.standard_normal(3 * 2) * 0.5

    def model(w):
        return mg.tanh(X @ w.reshape(3, 2))

    def loss(z):
        return -(mg.log_softmax(z, axis=1) * Y).sum() / 6

    J = mg.jacobian(model)(w0).reshape(12, 6)
    z = model(mg.Value(w0)).data
    Hz = mg.hessian(loss)(z).reshape(12, 12)
    G = J.T @ Hz @ J
    v = rng.standard_normal(6)
    np.testing.assert_allclose(mg.ggn_vp(model, loss, w0, v), G @ v, rtol=1e-10, atol=1e-13)
    # positive semi-definite (softmax cross-entropy is convex in the logits)
    assert np.linalg.eigvalsh(0.5 * (G + G.T)).min() > -1e-12


def test_ggn_vp_on_a_list_of_parameters():
    X = np.array([[1.0, 2.0], [0.5, -1.0]])
    ps = [np.array([[0.3], [0.1]]), np.array([0.2])]
    model = lambda p: X @ p[0] + p[1]  # noqa: E731
    loss = lambda z: 0.5 * (z ** 2).sum()  # noqa: E731
    v = [np.array([[1.0], [0.0]]), np.array([1.0])]
    out = mg.ggn_vp(model, loss, ps, v)
    # H_loss = I, J = [X, 1]: G v = J^T J v
    Jv = X @ v[0] + v[1]
    np.testing.assert_allclose(out[0], X.T @ Jv)
    np.testing.assert_allclose(out[1], Jv.sum(axis=0))


# ---- memory: forward mode keeps no tape ----------------------------------------------


def _peak_jvp(n: int) -> int:
    def chain(x):
        for _ in range(n):
            x = x * 0.9999 + 0.0001
        return x

    tracemalloc.start()
    _, t = mg.jvp(chain, (np.ones(8),), (np.ones(8),))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    np.testing.assert_allclose(t, 0.9999 ** n * np.ones(8), rtol=1e-9)
    return peak


def test_jvp_of_a_long_chain_keeps_no_tape():
    small, large = _peak_jvp(1_000), _peak_jvp(100_000)
    # A tape of 2 * 10^5 nodes would take tens of MB; the peak must not grow with n.
    assert large < 2 * small + 200_000, (small, large)


# ---- check_grads(modes=) and the rules themselves --------------------------------------


def test_check_grads_catches_a_wrong_forward_rule(monkeypatch):
    x = (np.array([0.3, 0.9]),)
    check_grads(mg.tanh, x, order=1, modes=("fwd",))
    # a forward rule off by a factor: reverse mode still right
    monkeypatch.setattr(ops.tanh, "elementwise", False)
    monkeypatch.setattr(ops.tanh, "jvps", (lambda t, ans, x: 2.0 * t * (1 - ans * ans),))
    check_grads(mg.tanh, x, order=1, modes=("rev",))
    with pytest.raises(AssertionError, match=r"forward order 1: 2 of 2 entries disagree"):
        check_grads(mg.tanh, x, order=1, modes=("fwd",))


def test_check_grads_catches_a_forward_rule_that_is_not_differentiable(monkeypatch):
    from microgd.value import as_array

    x = (np.array([0.3, 0.9]),)
    # right in value, but the rule reads the data: second order in forward mode is lost
    monkeypatch.setattr(ops.tanh, "elementwise", False)
    monkeypatch.setattr(ops.tanh, "jvps",
                        (lambda t, ans, x: t * (1 - as_array(ans) ** 2),))
    check_grads(mg.tanh, x, order=1, modes=("fwd",))
    with pytest.raises(AssertionError, match="forward over forward"):
        check_grads(mg.tanh, x, order=2, modes=("fwd",))


def test_check_grads_modes_are_validated():
    with pytest.raises(ValueError, match="modes"):
        check_grads(mg.tanh, (np.ones(2),), modes=("sideways",))


def test_every_primitive_has_a_forward_rule():
    missing = [name for name, p in ops.ALL.items() if not p.has_jvp]
    assert not missing, missing


def test_primitive_refuses_two_forward_rules():
    with pytest.raises(ValueError, match="one of"):
        mg.Primitive("bad", np.negative, lambda g, ans, x: -g, linear=True, elementwise=True)


def test_hvp_auto_is_rev_bit_for_bit_inside_a_transform():
    # The documented rule: 'auto' runs reverse over reverse, traced inputs included.
    f = lambda x: (mg.tanh(x) ** 3).sum() * x[0]  # noqa: E731
    x, v = np.array([0.3, -1.2, 2.0]), np.array([1.0, 0.5, -2.0])
    np.testing.assert_array_equal(mg.hvp(f, x, v), mg.hvp(f, x, v, mode="rev"))
    outer_auto = mg.grad(lambda y: mg.hvp(f, y, v).sum())(x)
    outer_rev = mg.grad(lambda y: mg.hvp(f, y, v, mode="rev").sum())(x)
    np.testing.assert_array_equal(outer_auto, outer_rev)
