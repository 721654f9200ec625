"""``autodiff.record2`` and ``record1``, the operators' direct paths, build ``record``'s node.

Every operator ``a + b``, ``a * b``, ``-a``, ... (and a primitive called with one
or two inputs and no parameters) goes through ``record1`` or ``record2``, which
build the node themselves when the inputs are Values, numbers or numeric arrays
and no mode is set, and hand everything else to ``record``.  Both paths are run
here on the same inputs and their nodes compared slot by slot, in every mode.
"""

from __future__ import annotations

import numpy as np
import pytest

import microgd as mg
from microgd import autodiff
from microgd.value import Value

SLOTS = [s for s in Value.__slots__ if s != "__weakref__"]


def _operands():
    rng = np.random.default_rng(0)
    m = rng.normal(size=(2, 3))
    return {
        "Value f64": lambda: mg.Value(m + 2.0),
        "Value f32": lambda: mg.Value((m + 2.0).astype(np.float32)),
        "0-d Value": lambda: mg.Value(1.5),
        "constant Value": lambda: mg.Value(m + 3.0, requires_grad=False),
        "float": lambda: 0.75,
        "int": lambda: 3,
        "np.float64": lambda: np.float64(1.25),
        "np.float32": lambda: np.float32(1.25),
        "float array": lambda: m + 4.0,
        "int array": lambda: np.arange(6).reshape(2, 3) + 1,
        "bool array": lambda: m > 0,
        "f32 row": lambda: np.ones(3, np.float32),
        "list": lambda: [1.0, 2.0, 3.0],
        "bool": lambda: True,
        "np.int64": lambda: np.int64(2),
    }


OPERANDS = _operands()
PRIMS = ["add", "sub", "mul", "div", "pow", "mod"]
PAIRS = [(a, b) for a in OPERANDS for b in OPERANDS
         if "Value" in a or "Value" in b]


def _same_node(n1: Value, n2: Value, a: object, b: object) -> None:
    for slot in SLOTS:
        v1, v2 = getattr(n1, slot), getattr(n2, slot)
        if slot == "_data":
            assert type(v1) is type(v2)
            assert v1.dtype == v2.dtype
            np.testing.assert_array_equal(v1, v2)
        elif slot in ("_in0", "_in1") and isinstance(v1, (np.ndarray, np.generic)):
            # record keeps a converted constant as the array the forward saw
            assert type(v1) is type(v2) and v1.dtype == v2.dtype
            np.testing.assert_array_equal(v1, v2)
        elif slot == "_tangent" and v1 is not None:
            assert set(v1) == set(v2)
            for level in v1:
                np.testing.assert_array_equal(autodiff_array(v1[level]),
                                              autodiff_array(v2[level]))
        else:
            assert v1 is v2 or v1 == v2, f"slot {slot}: {v1!r} != {v2!r}"
    if n1._prim is not None:  # the inputs kept are the operands themselves where not converted
        for got, given in ((n2._in0, a), (n2._in1, b)) if b is not None else ((n2._in0, a),):
            if isinstance(given, (Value, np.ndarray, float, int)) and not isinstance(given, bool):
                assert got is given


def autodiff_array(x: object) -> np.ndarray:
    return np.asarray(x._data if isinstance(x, Value) else x)


def _both(prim_name: str, a_name: str, b_name: str):
    prim = getattr(mg.ops, prim_name)
    a, b = OPERANDS[a_name](), OPERANDS[b_name]()
    with np.errstate(all="ignore"):
        n1 = autodiff.record(prim, (a, b))
        n2 = autodiff.record2(prim, a, b)
    return n1, n2, a, b


@pytest.mark.parametrize("prim_name", PRIMS)
@pytest.mark.parametrize(("a_name", "b_name"), PAIRS)
def test_record2_builds_records_node(prim_name, a_name, b_name):
    n1, n2, a, b = _both(prim_name, a_name, b_name)
    _same_node(n1, n2, a, b)


@pytest.mark.parametrize("mode", ["no_grad", "anomaly", "jvp"])
@pytest.mark.parametrize(("a_name", "b_name"),
                         [("Value f64", "float"), ("Value f64", "Value f64"),
                          ("float array", "Value f32"), ("0-d Value", "int")])
def test_record2_in_every_mode(mode, a_name, b_name):
    prim = mg.ops.mul
    a, b = OPERANDS[a_name](), OPERANDS[b_name]()
    if mode == "no_grad":
        with mg.no_grad():
            _same_node(autodiff.record(prim, (a, b)), autodiff.record2(prim, a, b), a, b)
    elif mode == "anomaly":
        with mg.detect_anomaly():
            _same_node(autodiff.record(prim, (a, b)), autodiff.record2(prim, a, b), a, b)
            bad = mg.Value(np.array([0.0, 1.0]))
            with pytest.raises(mg.AnomalyError), np.errstate(divide="ignore"):
                autodiff.record2(mg.ops.div, 1.0, bad)
    else:
        v = a if isinstance(a, Value) else b
        seen = {}

        def f(x):
            x2 = x * 1.0
            args = (x2, b) if v is a else (a, x2)
            seen["record"] = autodiff.record(prim, args)
            seen["record2"] = autodiff.record2(prim, *args)
            return seen["record2"]

        mg.jvp(f, (mg.Value(v._data),), (np.ones_like(v._data),))
        assert seen["record2"]._tangent  # the tangent was pushed, as record pushes it
        n1, n2 = seen["record"], seen["record2"]
        _same_node(n1, n2, n2._in0, n2._in1)


def test_record2_reports_shapes_as_record_does():
    a, b = mg.Value(np.ones((2, 3))), mg.Value(np.ones((4,)))
    with pytest.raises(ValueError) as e1:
        autodiff.record(mg.ops.add, (a, b))
    with pytest.raises(ValueError) as e2:
        autodiff.record2(mg.ops.add, a, b)
    assert str(e1.value) == str(e2.value)
    assert "(2, 3)" in str(e2.value) and "(4,)" in str(e2.value)
    with pytest.raises(TypeError, match="not numeric"):
        autodiff.record2(mg.ops.add, a, np.array(["x", "y", "z"]))


def test_operators_take_the_direct_path(monkeypatch):
    # Values, numbers and numeric arrays never reach record(); a list still does.
    def refuse(*args, **kwargs):
        raise AssertionError("record() was called")

    monkeypatch.setattr(autodiff, "record", refuse)
    x = mg.Value(np.array([1.0, 2.0]))
    y = ((x * 2.0 + 1) / np.float64(4.0) - x) ** 2 % 3.0 @ np.ones(2)
    assert float(y.data) == pytest.approx(float(np.sum(((np.array([1.0, 2.0]) * 2 + 1) / 4
                                                        - np.array([1.0, 2.0])) ** 2 % 3.0)))
    assert y.op == "matmul" and y._in0.op == "mod"
    with pytest.raises(AssertionError, match="record"):
        x + [1.0, 2.0]


UNARY = ["neg", "abs", "exp", "tanh", "relu", "sqrt", "log"]


@pytest.mark.parametrize("prim_name", UNARY)
@pytest.mark.parametrize("a_name", [k for k in OPERANDS if "Value" in k])
def test_record1_builds_records_node(prim_name, a_name):
    prim = getattr(mg.ops, prim_name)
    a = OPERANDS[a_name]()
    _same_node(autodiff.record(prim, (a,)), autodiff.record1(prim, a), a, None)


@pytest.mark.parametrize("mode", ["no_grad", "anomaly", "jvp"])
def test_record1_in_every_mode(mode):
    prim = mg.ops.tanh
    a = mg.Value(np.array([0.5, -1.0]))
    if mode == "no_grad":
        with mg.no_grad():
            _same_node(autodiff.record(prim, (a,)), autodiff.record1(prim, a), a, None)
    elif mode == "anomaly":
        with mg.detect_anomaly():
            _same_node(autodiff.record(prim, (a,)), autodiff.record1(prim, a), a, None)
            with pytest.raises(mg.AnomalyError), np.errstate(divide="ignore"):
                autodiff.record1(mg.ops.log, mg.Value(np.array([0.0, 1.0])))
    else:
        seen = {}

        def f(x):
            seen["record"] = autodiff.record(prim, (x,))
            seen["record1"] = autodiff.record1(prim, x)
            return seen["record1"]

        mg.jvp(f, (a,), (np.ones(2),))
        assert seen["record1"]._tangent
        _same_node(seen["record"], seen["record1"], seen["record1"]._in0, None)


def test_unary_operators_and_functions_take_the_direct_path(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("record() was called")

    monkeypatch.setattr(autodiff, "record", refuse)
    x = mg.Value(np.array([-1.0, 2.0]))
    y = mg.exp(abs(-x)).relu().tanh()
    np.testing.assert_array_equal(y.data, np.tanh(np.maximum(np.exp(np.abs(-x.data)), 0)))
    assert y.op == "tanh" and y._in0._in0._in0.op == "abs"
    with pytest.raises(AssertionError, match="record"):
        mg.sum(x, axis=0)  # a parameter: the general path
