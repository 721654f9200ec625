"""The reverse pass's two loops give the same gradients.

``Value.backward`` runs the plain first-order loop (``backprop._first_order``),
unrolled for nodes of one or two inputs without parameters; ``mg.gradients``
(``wrt=``), ``create_graph`` and anomaly mode run the general loop
(``backprop._general``), which the finite-difference checks of every primitive
go through.  Each expression below mixes the kinds of node the plain loop
treats apart: one and two inputs, constants on either side, parameters
(``axis=``, ``shape=``), rules for any input (``einsum``, ``concatenate``,
weighted ``logsumexp``), three or more inputs, a Value used twice and a Value
that does not require grad.
"""

from __future__ import annotations

import numpy as np
import pytest

import microgd as mg

RNG = np.random.default_rng(0)
A = RNG.normal(size=(2, 3))
B = RNG.normal(size=3)
W = RNG.normal(size=(2, 3))


def _exprs():
    return {
        "scalar chain with constants": lambda x, y: ((2.0 * x - 4.0) ** 2).sum() / 3.0,
        "x used twice": lambda x, y: (x * x + x).sum(),
        "broadcast and reductions with axis": lambda x, y: ((x + y) ** 2).sum(axis=1).mean(),
        "reshape, transpose, matmul": lambda x, y: (x.reshape((3, 2)).T @ x.T).sum(),
        "einsum": lambda x, y: mg.einsum("ij,j->i", x, y).sum(),
        "concatenate of three": lambda x, y: (mg.concatenate([x, x * 2, y[None]], axis=0)
                                              ** 2).sum(),
        "weighted logsumexp": lambda x, y: mg.logsumexp(x, axis=1, b=np.abs(W) + 0.1).sum(),
        "where with a constant condition": lambda x, y: mg.where(A > 0, x, y).sum(),
        "a constant Value": lambda x, y: (x * mg.Value(W, requires_grad=False)).sum() + y.sum(),
        "tanh, exp, log_softmax": lambda x, y: (mg.log_softmax(mg.tanh(x) * mg.exp(y), axis=1)
                                                * W).sum(),
        # relu's in-place VJP (plain loop only) beside gradients that are shared
        "relu of a sum also used as is": lambda x, y: (((x + y).relu() + (x + y)) * W).sum(),
        "relu of a Value used twice": lambda x, y: (lambda h: (h * h + h * W).sum())(
            (x * y).relu()),
        "relu in an MLP layer": lambda x, y: (((x.T @ x + y).relu() @ y) ** 2).sum(),
    }


EXPRS = _exprs()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", list(EXPRS))
def test_plain_backward_equals_the_general_pass(name, dtype):
    f = EXPRS[name]
    x, y = mg.Value(A.astype(dtype)), mg.Value(B.astype(dtype))
    f(x, y).backward()
    plain = [x.grad, y.grad]

    x2, y2 = mg.Value(A.astype(dtype)), mg.Value(B.astype(dtype))
    general = [g.data for g in mg.gradients(f(x2, y2), [x2, y2])]

    x3, y3 = mg.Value(A.astype(dtype)), mg.Value(B.astype(dtype))
    created = [g.data for g in mg.gradients(f(x3, y3), [x3, y3], create_graph=True)]

    with mg.detect_anomaly():
        x4, y4 = mg.Value(A.astype(dtype)), mg.Value(B.astype(dtype))
        f(x4, y4).backward()
        anomaly = [x4.grad, y4.grad]

    for p, g, c, a, v in zip(plain, general, created, anomaly, (x, y), strict=True):
        if p is None:  # the expression does not use this input
            assert not np.any(g) and a is None
            continue
        assert p.dtype == np.dtype(dtype) and p.shape == v.shape
        np.testing.assert_array_equal(p, g)  # the same rules in the same order: bit for bit
        np.testing.assert_array_equal(p, a)
        np.testing.assert_allclose(p, c, rtol=1e-5 if dtype == np.float32 else 1e-12)


def test_a_failing_plain_pass_leaves_nothing_half_changed():
    x = mg.Value(np.ones(3))
    x.grad = np.full(3, 7.0)
    bad = mg.Primitive("bad", lambda a: a * 2.0, lambda g, ans, a: 1 / 0)
    y = (bad(x * 3.0) + x).sum()
    graph = mg.backprop.nodes([y])
    saved = [n._saved for n in graph]
    for retain in (False, True):
        with pytest.raises(ZeroDivisionError):
            y.backward(retain_graph=retain)
        np.testing.assert_array_equal(x.grad, [7.0, 7.0, 7.0])  # not touched
        # No pending sums or visit marks (looked at before nodes() walks the graph again):
        assert all(n._g is None for n in graph)
        # Not freed (the sum and the add were passed before the failure):
        order = mg.backprop.nodes([y])
        assert order == graph
        assert [n._saved for n in order] == saved


def test_a_list_constant_is_kept_as_the_array_the_forward_saw():
    x = mg.Value(np.array([1.0, 2.0]))
    c = [3.0, 4.0]
    y = (x * c).sum()
    c[0] = 100.0  # the caller's list changes after recording
    y.backward()
    np.testing.assert_array_equal(x.grad, [3.0, 4.0])


def test_a_refused_backward_leaves_no_visit_marks():
    # The sort marks nodes in _g, the slot the pass then uses for gradients: a sort
    # that stops (an input changed in place, a graph already freed) clears its marks.
    x = mg.Value(np.ones(3))
    h = x * 2.0
    y = (h.exp() + h).sum()
    graph = mg.backprop.nodes([y])
    h.data = np.zeros(3)
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()
    assert all(n._g is None for n in graph)
    z = (x * 3.0).sum()
    z.backward()
    with pytest.raises(RuntimeError):
        z.backward()
    assert all(n._g is None for n in (z, z._in0, x))


@pytest.mark.parametrize("n_inputs", [1, 2, 3, 4])
def test_a_node_keeps_its_inputs_in_order(n_inputs):
    xs = [mg.Value(np.full(2, float(i))) for i in range(n_inputs)]
    c = np.array([5.0, 6.0])
    node = mg.exp(xs[0]) if n_inputs == 1 else mg.concatenate([*xs[:-1], c, xs[-1]])
    expected = (xs[0],) if n_inputs == 1 else (*xs[:-1], c, xs[-1])
    assert len(node._args) == len(expected)
    assert all(a is b for a, b in zip(node._args, expected, strict=True))
    assert node.parents == tuple(xs)
    node.sum().backward()
    for x in xs:
        np.testing.assert_array_equal(x.grad, np.ones(2))


# ---- a VJP that writes into g (ops.relu's vjp_into) ---------------------------------


def _counting_into(monkeypatch):
    """Count the calls of relu's in-place VJP (the rule itself unchanged)."""
    calls = []
    into = mg.ops.relu.vjp_into

    def counted(g, ans, x):
        calls.append(g)
        return into(g, ans, x)

    monkeypatch.setattr(mg.ops.relu, "vjp_into", counted)
    return calls


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_relu_masks_a_gradient_only_the_pass_holds_in_place(monkeypatch, dtype):
    calls = _counting_into(monkeypatch)
    x, w = mg.Value(A.astype(dtype)), mg.Value(W.T.astype(dtype))
    ((x @ w).relu() * 3.0).sum().backward()
    assert len(calls) == 1  # g = 3 * ones, fresh from mul's VJP: masked in place
    mask = (A.astype(dtype) @ W.T.astype(dtype) > 0).astype(dtype)
    np.testing.assert_allclose(x.grad, (3.0 * mask) @ W.astype(dtype), rtol=1e-6)
    np.testing.assert_allclose(w.grad, A.astype(dtype).T @ (3.0 * mask), rtol=1e-6)
    assert x.grad.dtype == dtype and w.grad.dtype == dtype


def test_relu_leaves_a_gradient_that_a_leaf_shares_alone(monkeypatch):
    """add hands one g to both inputs: masking it in place would change w's gradient."""
    calls = _counting_into(monkeypatch)
    x, w = mg.Value(A.copy()), mg.Value(np.zeros_like(A))
    ((x.relu() + w) * 2.0).sum().backward()
    assert calls == []
    np.testing.assert_array_equal(w.grad, np.full_like(A, 2.0))
    np.testing.assert_array_equal(x.grad, 2.0 * (A > 0))


def test_relu_leaves_a_gradient_another_node_still_holds_alone(monkeypatch):
    calls = _counting_into(monkeypatch)
    x = mg.Value(A.copy())
    h = x * 1.0
    out = (h.relu() + h.exp()) * 2.0  # add hands one g to relu and to exp
    out.sum().backward()
    assert calls == []
    np.testing.assert_allclose(x.grad, 2.0 * (A > 0) + 2.0 * np.exp(A))


def test_relu_never_writes_into_the_callers_gradient():
    x = mg.Value(A.copy())
    seed = np.arange(6.0).reshape(2, 3) - 2.5
    kept = seed.copy()
    x.relu().backward(gradient=seed)
    np.testing.assert_array_equal(seed, kept)
    np.testing.assert_array_equal(x.grad, kept * (A > 0))


def test_relu_in_place_gives_the_rules_numbers_at_zero_nan_and_inf():
    x = np.array([[-1.0, 0.0, 2.0], [np.nan, -0.0, 3.0]])
    g = np.array([[np.inf, np.nan, -0.0], [1.0, 5.0, -np.inf]])
    with np.errstate(invalid="ignore"):  # inf * 0
        expected = mg.ops.relu.vjps[0](g.copy(), None, x)
        got = mg.ops.relu.vjp_into(g.copy(), None, x)
    np.testing.assert_array_equal(got, expected)  # nan where nan, and the same zeros
    np.testing.assert_array_equal(np.signbit(got), np.signbit(expected))


def test_vjp_into_is_refused_for_primitives_of_several_inputs():
    with pytest.raises(ValueError, match="vjp_into= is for one-input primitives"):
        mg.ops.Primitive("f", np.add, lambda g, ans, a, b: g, lambda g, ans, a, b: g,
                         vjp_into=lambda g, ans, a: g)
