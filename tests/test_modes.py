"""Grad mode (no_grad / enable_grad, thread-local), NumPy interop and the long chain."""

import threading

import numpy as np
import pytest

import microgd as mg
from microgd import Value


def test_no_grad_records_nothing_and_restores():
    x = Value(2.0)
    with mg.no_grad():
        assert not mg.is_grad_enabled()
        y = x * x
        with mg.enable_grad():
            z = x * x
    assert mg.is_grad_enabled()
    assert not y.requires_grad and y.op is None
    assert z.requires_grad and z.op == "mul"


def test_no_grad_as_decorator_and_on_exception():
    @mg.no_grad()
    def f(v):
        return v * 2

    assert not f(Value(1.0)).requires_grad
    with pytest.raises(ZeroDivisionError), mg.no_grad():
        raise ZeroDivisionError
    assert mg.is_grad_enabled()


def test_grad_mode_is_thread_local():
    seen = {}
    started, release = threading.Event(), threading.Event()

    def other():
        started.wait()
        seen["enabled"] = mg.is_grad_enabled()
        seen["records"] = (Value(1.0) * 2).requires_grad
        release.set()

    t = threading.Thread(target=other)
    t.start()
    with mg.no_grad():
        started.set()
        release.wait(5)
    t.join(5)
    assert seen == {"enabled": True, "records": True}


ufuncs = [np.add, np.subtract, np.multiply, np.divide, np.power, np.maximum, np.minimum]


@pytest.mark.parametrize("uf", ufuncs)
def test_binary_ufuncs_return_values_with_grads(uf):
    x = Value(np.array([1.5, 2.0]))
    c = np.array([2.0, 3.0])
    for out, want in ((uf(x, c), uf(x.data, c)), (uf(c, x), uf(c, x.data))):
        assert isinstance(out, Value) and out.requires_grad
        np.testing.assert_allclose(out.data, want)
        out.sum().backward()
    assert x.grad is not None and x.grad.shape == (2,)


@pytest.mark.parametrize("uf", [np.negative, np.exp, np.log, np.sqrt, np.sin, np.cos, np.tanh,
                                np.absolute])
def test_unary_ufuncs(uf):
    x = Value(np.array([0.5, 2.0]))
    out = uf(x)
    assert isinstance(out, Value)
    np.testing.assert_allclose(out.data, uf(x.data))
    out.sum().backward()
    assert x.grad is not None


def test_operators_with_ndarray_on_the_left():
    x = Value(np.eye(2))
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert isinstance(a @ x, Value) and isinstance(a + x, Value) and isinstance(2.0 * x, Value)
    (a @ x).sum().backward()
    np.testing.assert_allclose(x.grad, a.T @ np.ones((2, 2)))


def test_numpy_functions_return_values():
    x = Value(np.arange(6.0).reshape(2, 3))
    checks = {
        "sum": (np.sum(x, axis=0), np.sum(x.data, axis=0)),
        "mean": (np.mean(x), np.mean(x.data)),
        "max": (np.max(x, axis=1), np.max(x.data, axis=1)),
        "min": (np.min(x), np.min(x.data)),
        "reshape": (np.reshape(x, (3, 2)), np.reshape(x.data, (3, 2))),
        "transpose": (np.transpose(x), x.data.T),
        "concatenate": (np.concatenate([x, x], axis=1), np.concatenate([x.data] * 2, axis=1)),
        "stack": (np.stack([x, x]), np.stack([x.data] * 2)),
        "where": (np.where(x.data > 2, x, 0.0), np.where(x.data > 2, x.data, 0.0)),
        "clip": (np.clip(x, 1.0, 4.0), np.clip(x.data, 1.0, 4.0)),
    }
    for name, (got, want) in checks.items():
        assert isinstance(got, Value), name
        np.testing.assert_allclose(got.data, want, err_msg=name)
        assert got.requires_grad, name


def test_long_chain_backward_without_recursion():
    # 1,000,000 ops (500,000 mul + 500,000 add): backward is iterative.
    n = 500_000
    x = Value(0.5)
    y = x
    for _ in range(n):
        y = y * 0.9999 + 0.0001
    y.backward()
    np.testing.assert_allclose(x.grad, 0.9999 ** n, rtol=1e-9)
