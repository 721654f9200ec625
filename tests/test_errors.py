"""Bad input: clear errors that name the op and the shapes, and nothing half-changed."""

import numpy as np
import pytest

import microgd as mg
from microgd import Value


@pytest.mark.parametrize(
    ("make", "exc", "message"),
    [
        (lambda: Value(np.ones((3, 4))) @ Value(np.ones(5)), ValueError,
         r"matmul: shapes \(3, 4\) and \(5,\) are not aligned"),
        (lambda: Value(np.ones(3)) + Value(np.ones(4)), ValueError,
         r"add: shapes \(3,\) and \(4,\) cannot be broadcast together"),
        (lambda: Value(np.ones((2, 3))) * np.ones((4, 3)), ValueError,
         r"mul: shapes \(2, 3\) and \(4, 3\) cannot be broadcast"),
        (lambda: Value(np.ones(6)).reshape(4, 2), ValueError,
         r"reshape: cannot reshape shape \(6,\) into \(4, 2\)"),
        (lambda: Value(np.ones(3)).sum(axis=2), ValueError, r"sum: .*\(3,\)"),
        (lambda: Value(np.ones(3))[5], IndexError, r"getitem: .*\(3,\)"),
        (lambda: Value(np.ones((2, 3))).transpose(0, 2), ValueError, r"transpose: .*\(2, 3\)"),
        (lambda: mg.concatenate([Value(np.ones((2, 3))), Value(np.ones((2, 4)))]), ValueError,
         r"concatenate: .*\(2, 3\), \(2, 4\)"),
        (lambda: mg.stack([Value(np.ones(2)), Value(np.ones(3))]), ValueError,
         r"stack: .*same shape"),
        (lambda: Value(1.0) * "a", TypeError, r"mul: unsupported operand of type str"),
        (lambda: Value(1.0) + np.array(["a"]), TypeError,
         r"add: operand of dtype <U1 is not numeric"),
        (lambda: Value(np.ones(2)) * np.array([object(), object()]), TypeError,
         r"mul: operand of dtype object is not numeric"),
        (lambda: Value("abc"), TypeError, r"Value: data of dtype <U3 .* not numeric"),
        (lambda: Value(np.array([{}], dtype=object)), TypeError, r"dtype object"),
        (lambda: Value([[1.0, 2.0], [3.0]]), ValueError, r"Value: cannot make an array"),
        (lambda: Value(1 + 2j), TypeError, r"complex"),
        (lambda: Value(np.ones(3)).clip(2.0, 1.0), ValueError, r"clip: lower bound"),
        (lambda: Value(np.ones(3)).item(), ValueError, r"item: Value of shape \(3,\)"),
        (lambda: len(Value(1.0)), TypeError, r"0-d"),
        (lambda: mg.logsumexp(Value(np.ones((2, 3))), axis=(0, 7)), ValueError,
         r"logsumexp: axis 7 is out of bounds .*\(2, 3\)"),
        (lambda: mg.log_softmax(Value(np.ones((2, 3))), axis=5), ValueError,
         r"log_softmax: axis 5 is out of bounds .*\(2, 3\)"),
        (lambda: mg.softmax(Value(np.ones((2, 3))), axis=3), ValueError,
         r"softmax: axis 3 is out of bounds .*\(2, 3\)"),
        (lambda: mg.logsumexp(Value(np.ones((0, 3))), axis=0), ValueError,
         r"logsumexp: zero-size array .*\(0, 3\)"),
    ],
)
def test_bad_input_messages(make, exc, message):
    with pytest.raises(exc, match=message):
        make()


def test_unsupported_numpy_functions_are_named():
    v = Value(np.ones(3))
    with pytest.raises(TypeError, match=r"numpy\.histogram is not supported"):
        np.histogram(v)  # (np.nanmedian is supported now)
    with pytest.raises(TypeError, match=r"numpy\.spacing is not supported"):
        np.spacing(v)
    with pytest.raises(TypeError, match=r"numpy\.add\.reduceat is not supported"):
        np.add.reduceat(v, [0])  # (np.add.reduce is np.sum's twin, and supported)
    with pytest.raises(TypeError, match=r"numpy\.exp with out= is not supported"):
        np.exp(v, out=np.empty(3))
    with pytest.raises(TypeError, match=r"numpy\.sum with out= is not supported"):
        np.sum(v, out=np.empty(()))


def test_gradient_shape_mismatch_leaves_grads_untouched():
    x = Value(np.ones(3))
    y = x * 2
    with pytest.raises(ValueError, match=r"gradient has shape \(2,\) but the output has shape"):
        y.backward(gradient=np.ones(2))
    assert x.grad is None
    y.backward(gradient=np.ones(3))  # the graph was not freed by the failed call
    assert x.grad.tolist() == [2.0, 2.0, 2.0]


@pytest.mark.parametrize("create_graph", [False, True])
def test_gradient_given_as_a_value_of_the_wrong_shape_is_named(create_graph):
    x = Value(np.ones(3))
    y = x * 2
    with pytest.raises(ValueError, match=r"backward: gradient has shape \(2,\) but the "
                                         r"output has shape \(3,\)"):
        y.backward(gradient=Value(np.ones(2)), create_graph=create_graph)
    with pytest.raises(ValueError, match=r"gradients: gradient has shape \(2,\)"):
        mg.gradients(y, x, grad_outputs=Value(np.ones(2)), create_graph=create_graph)
    assert x.grad is None


def test_failed_backward_writes_no_partial_grads():
    # Two leaves; the anomaly is raised in the middle of the backward pass, after
    # one leaf's gradient is already known: neither .grad may be written.
    a = Value(np.array([1.0, 2.0]))
    b = Value(np.array([0.0, 1.0]))
    a.grad = np.array([10.0, 10.0])
    y = (a * 3).sum() + b.sqrt().sum()  # d sqrt(b)/db is inf at b = 0
    with mg.detect_anomaly(), np.errstate(divide="ignore"), \
            pytest.raises(mg.AnomalyError, match="sqrt: backward"):
        y.backward(retain_graph=True)
    assert a.grad.tolist() == [10.0, 10.0] and b.grad is None
    with np.errstate(divide="ignore"):
        y.backward()  # still usable: the failed pass freed nothing
    assert a.grad.tolist() == [13.0, 13.0]


def test_second_backward_error_mentions_retain_graph_and_changes_nothing():
    x = Value(np.ones(2))
    y = (x * x).sum()
    y.backward()
    before = x.grad.copy()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()
    assert np.array_equal(x.grad, before)


def test_anomaly_forward_names_first_bad_op():
    x = Value(np.array([1.0, -1.0]))
    with mg.detect_anomaly(), np.errstate(invalid="ignore"):
        with pytest.raises(mg.AnomalyError, match=r"^log: forward produced nan/inf$"):
            (x * 2).log().exp()
        with pytest.raises(mg.AnomalyError, match="inputs already contained"):
            Value(np.array([np.nan])) * 2
    # outside the block nothing is checked
    with np.errstate(invalid="ignore"):
        assert np.isnan(x.log().data[1])
    assert isinstance(mg.AnomalyError("x"), FloatingPointError)


def test_anomaly_backward_names_op():
    x = Value(0.0)
    y = x.sqrt()  # finite forward, infinite derivative at 0
    with mg.detect_anomaly(), np.errstate(divide="ignore"), \
            pytest.raises(mg.AnomalyError, match=r"sqrt: backward"):
        y.backward()
    assert x.grad is None
