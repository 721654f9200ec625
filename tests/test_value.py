"""The Value contract: construction, dtypes, .grad semantics, backward and gradients()."""

import numpy as np
import pytest

import microgd as mg
from microgd import Value


def test_construction_dtypes_and_copy():
    assert Value(1.0).dtype == np.float64 and Value(1.0).shape == ()
    assert Value(3).dtype == np.float64  # ints become float64
    assert Value(np.array([1, 2], dtype=np.int32)).dtype == np.float64
    assert Value([True, False]).dtype == np.float64
    assert Value(np.ones(2, np.float16)).dtype == np.float64
    assert Value(np.ones(2, np.float32)).dtype == np.float32
    src = np.zeros(3)
    v = Value(src)
    v.data += 1  # the Value owns a copy: the caller's array is untouched
    assert src.tolist() == [0.0, 0.0, 0.0]
    assert Value(1.0).requires_grad and not Value(1.0, requires_grad=False).requires_grad


def test_array_facts():
    x = Value(np.arange(12.0).reshape(3, 4))
    assert (x.shape, x.ndim, x.size, len(x)) == ((3, 4), 2, 12, 3)
    assert x.T.shape == (4, 3)
    assert Value(2.5).item() == 2.5 and isinstance(Value(2.5).item(), float)
    assert [r.shape for r in x] == [(4,), (4,), (4,)]
    assert np.asarray(x.detach()).tolist() == x.data.tolist()


def test_scalar_data_is_numpy_scalar_and_grad_is_ndarray():
    w = Value(2.0)
    y = w * w
    assert isinstance(y.data, np.float64) and y.data.shape == ()
    y.backward()
    assert isinstance(w.grad, np.ndarray) and w.grad.shape == () and w.grad == 4.0


def test_float32_stays_float32():
    x = Value(np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3))
    y = (x * 2.0 + 1).tanh().exp().sum(axis=0).mean()
    assert y.dtype == np.float32
    y.backward()
    assert x.grad.dtype == np.float32


def test_grad_accumulates_and_zero_grad():
    x = Value(np.array([1.0, 2.0]))
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad, [3 + 2, 3 + 4])
    x.zero_grad()
    assert x.grad is None


def test_grad_none_before_backward_and_constants_get_none():
    x = Value(np.ones(3))
    c = Value(np.ones(3), requires_grad=False)
    assert x.grad is None
    (x * c).sum().backward()
    assert c.grad is None and x.grad is not None


def test_contract_example():
    x = Value(np.random.default_rng(0).standard_normal((32, 3)))
    c = Value(np.ones(3), requires_grad=False)
    y = ((x @ np.eye(3) + c) ** 2).mean()
    y.backward()
    np.testing.assert_allclose(x.grad, 2 * (x.data + 1) / x.size)
    assert x.grad.shape == x.shape and x.grad.dtype == x.dtype


def test_broadcast_grads_sum_back_to_input_shape():
    a = Value(np.ones((3, 1, 4)))
    b = Value(np.full((2, 1), 2.0))
    (a * b).sum().backward()
    np.testing.assert_allclose(a.grad, np.full((3, 1, 4), 2.0 * 2))  # b summed over its 2 rows
    np.testing.assert_allclose(b.grad, np.full((2, 1), 12.0))


def test_backward_with_gradient_and_nonscalar_error():
    x = Value(np.array([1.0, 2.0, 3.0]))
    y = x * x
    with pytest.raises(RuntimeError, match="one element"):
        y.backward()
    assert x.grad is None
    y.backward(gradient=np.array([1.0, 0.0, 2.0]))
    np.testing.assert_allclose(x.grad, [2.0, 0.0, 12.0])


def test_leaves_do_not_share_grad_buffers():
    a, b = Value(np.ones(3)), Value(np.ones(3))
    (a + b).sum().backward()
    a.grad *= 5  # an in-place update of one .grad must not leak into the other
    assert b.grad.tolist() == [1.0, 1.0, 1.0]


def test_seed_is_not_aliased():
    g = np.array([1.0, 1.0])
    x = Value(np.zeros(2))
    x.backward(gradient=g)
    x.grad += 1
    assert g.tolist() == [1.0, 1.0]


def test_retain_graph_and_freed_graph_error():
    x = Value(2.0)
    y = (x * x).exp()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad, 2 * 4 * np.exp(4.0))
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_no_pending_gradient_survives_a_pass():
    # gradients() with respect to one input skips the branch of the other; neither
    # pass may leave a partial sum behind that a later pass would add in.
    x, y = Value(np.array([1.0, 2.0])), Value(3.0)
    out = (x * x).sum() * y + y * y
    (gx,) = mg.gradients(out, x, retain_graph=True)
    np.testing.assert_allclose(gx.data, [6.0, 12.0])
    out.backward(retain_graph=True)
    out.backward()
    np.testing.assert_allclose(x.grad, [12.0, 24.0])
    np.testing.assert_allclose(y.grad, 2 * (5.0 + 6.0))


def test_backward_of_constant_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        Value(1.0, requires_grad=False).backward()
    with mg.no_grad():
        y = Value(1.0) * 2
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


def test_detach_cuts_the_graph():
    x = Value(3.0)
    y = x * x.detach()  # d/dx = x.detach() only
    y.backward()
    assert x.grad == 3.0
    assert x.detach().data is x.data and not x.detach().requires_grad


def test_gradients_higher_order_and_untouched_grad():
    x = Value(np.array([0.3, -1.2]))
    f = (x.sin() * x).sum()
    (g,) = mg.gradients(f, x, create_graph=True)
    np.testing.assert_allclose(g.data, np.cos(x.data) * x.data + np.sin(x.data))
    (h,) = mg.gradients(g.sum(), x, create_graph=True)
    np.testing.assert_allclose(h.data, -np.sin(x.data) * x.data + 2 * np.cos(x.data))
    (t,) = mg.gradients(h.sum(), x)
    np.testing.assert_allclose(t.data, -np.cos(x.data) * x.data - 3 * np.sin(x.data))
    assert x.grad is None


def test_gradients_multiple_inputs_outputs_and_unused():
    a, b, unused = Value(2.0), Value(5.0), Value(1.0)
    ga, gb, gu = mg.gradients([a * b, a + b], [a, b, unused], grad_outputs=[1.0, 2.0])
    assert (ga.item(), gb.item(), gu.item()) == (5.0 + 2.0, 2.0 + 2.0, 0.0)


def test_gradients_wrt_intermediate_value():
    x = Value(3.0)
    h = x * x
    y = h * 4
    gh, gx = mg.gradients(y, [h, x])
    assert (gh.item(), gx.item()) == (4.0, 24.0)


def test_gradients_errors():
    with pytest.raises(RuntimeError, match="does not require grad"):
        mg.gradients(Value(1.0) * 2, Value(1.0, requires_grad=False))
    with pytest.raises(TypeError, match="expected Values"):
        mg.gradients(Value(1.0) * 2, np.ones(1))


def test_backward_create_graph_keeps_graph():
    x = Value(2.0)
    y = x ** 3
    y.backward(create_graph=True)
    assert x.grad == 12.0
    y.backward()  # retained, since retain_graph defaults to create_graph
    assert x.grad == 24.0


def test_repr_mentions_op_and_dtype():
    x = Value(np.ones(2, np.float32))
    assert "dtype=float32" in repr(x) and "requires_grad=True" in repr(x)
    assert "op=mul" in repr(x * 2)
    assert (x * 2).op == "mul" and x.op is None and (x * 2).parents == (x,)


def test_comparisons_return_plain_bool_arrays():
    x = Value(np.array([1.0, 2.0, 3.0]))
    for r in (x < 2, x <= 2, x > 2, x >= 2, np.array([2.0, 2.0, 2.0]) < x):
        assert type(r) is np.ndarray and r.dtype == bool
    assert (x > 2).tolist() == [False, False, True]
    assert type(Value(1.0) < 2) is np.ndarray


def test_getitem_repeated_indices_accumulate():
    x = Value(np.arange(4.0))
    x[np.array([0, 0, 2])].sum().backward()
    assert x.grad.tolist() == [2.0, 0.0, 1.0, 0.0]
    y = Value(np.arange(6.0).reshape(2, 3))
    y[:, 1:].sum().backward()
    assert y.grad.tolist() == [[0, 1, 1], [0, 1, 1]]


def test_max_ties_split_evenly():
    x = Value(np.array([1.0, 3.0, 3.0]))
    x.max().backward()
    assert x.grad.tolist() == [0.0, 0.5, 0.5]


def test_stable_composites_at_extremes():
    x = Value(np.array([1000.0, -1000.0, 0.0]))
    for y in (mg.logsumexp(x), mg.softmax(x)[0], mg.log_softmax(x)[1], mg.sigmoid(x).sum()):
        y.backward()
        assert np.isfinite(y.data)
        assert np.isfinite(x.grad).all()
        x.zero_grad()
    np.testing.assert_allclose(mg.sigmoid(x).data, [1.0, 0.0, 0.5])
    np.testing.assert_allclose(mg.log_softmax(x).data, [0.0, -2000.0, -1000.0])
    mg.log_softmax(x)[1].backward()
    np.testing.assert_allclose(x.grad, [-1.0, 1.0, 0.0])


def test_sigmoid_tail_relative_accuracy():
    x = Value(np.array([-30.0, -700.0]))
    expected = np.array([1 / (1 + np.exp(30.0)), np.exp(-700.0)])
    np.testing.assert_allclose(mg.sigmoid(x).data, expected, rtol=1e-13)


def test_functions_accept_arrays_and_return_values():
    for fn in (mg.exp, mg.log, mg.sqrt, mg.sin, mg.cos, mg.tanh, mg.sigmoid, mg.relu, mg.abs):
        out = fn(np.array([0.5, 1.5]))
        assert isinstance(out, Value) and not out.requires_grad
    assert isinstance(mg.sum([1.0, 2.0]), Value) and mg.sum([1.0, 2.0]).item() == 3.0
    assert mg.stack([np.ones(2), Value(np.zeros(2))], axis=1).shape == (2, 2)
    assert mg.where([True, False], Value([1.0, 2.0]), 0.0).data.tolist() == [1.0, 0.0]


def test_no_recursion_in_wide_and_deep_graphs():
    x = Value(np.ones(3))
    terms = [x * float(i) for i in range(2000)]
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    total.sum().backward()
    np.testing.assert_allclose(x.grad, np.full(3, sum(range(2000))))
