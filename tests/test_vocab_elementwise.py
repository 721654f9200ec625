"""The elementwise NumPy vocabulary: derivatives, the three spellings, peers, hard numerics.

Every name of DESIGN's "Elementwise" line is differentiated to first and second
order, in forward and reverse mode, in float64 and float32 (``check``), under
broadcasting for the functions of two arrays; ``mg.NAME(v)``, ``np.NAME(v)``
and (for ``round``) ``v.round()`` must agree in value and gradient; values and
first derivatives are compared with PyTorch on random inputs and at extremes;
and the numerics that are easy to get wrong (log1p, expm1, logaddexp,
softplus at +-1000, hypot and arctan2 at 1e+-300, sinc at 0, the zero
derivative of sign/floor/ceil/round, mod's and fmod's derivatives, fmax/fmin with NaN and
ties, the domains of arccosh and arctanh) are checked against explicit values.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from primitive_checks import arrays, check, covers, dtypes

import microgd as mg
from microgd import Value
from microgd.testing import check_grads
from microgd.testing import strategies as mst

INTEGERS = tuple(float(k) for k in range(-3, 4))  # floor and ceil jump there
HALVES = tuple(k + 0.5 for k in range(-4, 4))  # round (decimals=0) jumps there

# ---- functions of one array ------------------------------------------------------

UNARY: dict[str, tuple[Callable[..., Any], Any, list[str], dict]] = {
    # name: (mg function, NumPy spelling or None, primitives it uses, arrays() keywords)
    "tan": (mg.tan, np.tan, ["tan"], {"min_value": -1.2, "max_value": 1.2}),
    "arcsin": (mg.arcsin, np.arcsin, ["arcsin"], {"min_value": -0.9, "max_value": 0.9}),
    "arccos": (mg.arccos, np.arccos, ["arccos"], {"min_value": -0.9, "max_value": 0.9}),
    "arctan": (mg.arctan, np.arctan, ["arctan"], {}),
    "sinh": (mg.sinh, np.sinh, ["sinh", "cosh"], {}),
    "cosh": (mg.cosh, np.cosh, ["cosh", "sinh"], {}),
    "arcsinh": (mg.arcsinh, np.arcsinh, ["arcsinh", "hypot"], {}),
    "arccosh": (mg.arccosh, np.arccosh, ["arccosh"], {"min_value": 1.2, "max_value": 4.0}),
    "arctanh": (mg.arctanh, np.arctanh, ["arctanh"], {"min_value": -0.9, "max_value": 0.9}),
    "exp2": (mg.exp2, np.exp2, ["exp2"], {}),
    "expm1": (mg.expm1, np.expm1, ["expm1", "exp"], {}),
    "log2": (mg.log2, np.log2, ["log2"], {"min_value": 0.2}),
    "log10": (mg.log10, np.log10, ["log10"], {"min_value": 0.2}),
    "log1p": (mg.log1p, np.log1p, ["log1p"], {"min_value": -0.8}),
    "square": (mg.square, np.square, ["mul"], {}),
    "reciprocal": (mg.reciprocal, np.reciprocal, ["div"], {"away_from": (0.0,), "margin": 0.5}),
    "fabs": (mg.fabs, np.fabs, ["abs"], {"away_from": (0.0,)}),
    # Piecewise constant: finite differences must not straddle a jump.
    "sign": (mg.sign, np.sign, ["sign"], {"away_from": (0.0,)}),
    "floor": (mg.floor, np.floor, ["floor"], {"away_from": INTEGERS}),
    "ceil": (mg.ceil, np.ceil, ["ceil"], {"away_from": INTEGERS}),
    "round": (mg.round, np.round, ["round"], {"away_from": HALVES}),
    "trunc": (mg.trunc, np.trunc, ["trunc"], {"away_from": INTEGERS}),
    "fix": (mg.fix, np.fix, ["trunc"], {"away_from": INTEGERS}),
    "rint": (mg.rint, np.rint, ["rint"], {"away_from": HALVES}),
    # cbrt's derivative is inf at 0
    "cbrt": (mg.cbrt, np.cbrt, ["cbrt"], {"away_from": (0.0,), "margin": 0.3}),
    "positive": (mg.positive, np.positive, ["astype"], {}),
    # Through 0 too: the derivative rules have no 0/0 there.
    "sinc": (mg.sinc, np.sinc, ["sinc"], {}),
    "deg2rad": (mg.deg2rad, np.deg2rad, ["mul"], {}),
    "rad2deg": (mg.rad2deg, np.rad2deg, ["mul"], {}),
    "softplus": (mg.softplus, None, ["softplus", "sigmoid"], {}),
    "leaky_relu": (mg.leaky_relu, None, ["leaky_relu"], {"away_from": (0.0,)}),
    # elu's second derivative jumps at 0 (alpha vs 0).
    "elu": (mg.elu, None, ["expm1", "where"], {"away_from": (0.0,)}),
    "gelu": (mg.gelu, None, ["sigmoid", "clip"], {"min_value": -4.0, "max_value": 4.0}),
}

# The NumPy names that are other spellings of the ones above.
ALIASES = {"radians": "deg2rad", "degrees": "rad2deg", "around": "round", "absolute": "fabs"}


@covers(*UNARY, "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "arcsinh", "arccosh",
        "arctanh", "exp2", "expm1", "log2", "log10", "log1p", "sign", "floor", "ceil", "round",
        "trunc", "rint", "cbrt", "sinc", "softplus", "leaky_relu")
@pytest.mark.parametrize("name", sorted(UNARY))
@dtypes
@given(data=st.data())
def test_unary(name: str, dtype: Any, data: Any) -> None:
    fn, _, uses, kw = UNARY[name]
    x = data.draw(arrays(mst.shapes(), dtype, **kw), label="x")
    check(fn, (x,), uses=uses)
    # Composed with itself, so the second derivative goes through the rule twice
    # (inputs kept inside the domain for the functions that have one).
    if name in ("arcsin", "arccos", "arctanh"):
        check(lambda v: fn(fn(v) * 0.3), (x,), uses=uses)
    elif name not in ("arccosh", "log2", "log10", "log1p", "tan"):
        check(lambda v: fn(v) * fn(v), (x,), uses=uses)


@covers("leaky_relu", "elu", "round")
@dtypes
@given(data=st.data())
def test_unary_parameters(dtype: Any, data: Any) -> None:
    shape = data.draw(mst.shapes(), label="shape")
    slope = data.draw(st.sampled_from([0.01, 0.2, -0.5, 1.5]), label="slope")
    x = data.draw(arrays(shape, dtype, away_from=(0.0,)), label="x")
    check(lambda v: mg.leaky_relu(v, slope=slope), (x,), uses=["leaky_relu"])
    alpha = data.draw(st.sampled_from([0.5, 1.0, 2.0]), label="alpha")
    check(lambda v: mg.elu(v, alpha=alpha) * v, (x,), uses=["expm1"])
    # round to one decimal jumps at odd multiples of 0.05
    jumps = tuple(0.05 * k for k in range(-61, 62, 2))
    y = data.draw(arrays(shape, dtype, away_from=jumps, margin=0.01), label="y")
    check(lambda v: v.round(1) * v + mg.round(v, decimals=-1), (y,), uses=["round"])


def _spellings(name: str, fn: Callable[..., Any], np_fn: Any, x: np.ndarray) -> list[Value]:
    """The value of ``name`` at ``x`` with each spelling, gradients in ``.grad``."""
    spellings: list[Callable[[Value], Value]] = [fn]
    if np_fn is not None:
        spellings.append(np_fn)
    spellings += [getattr(np, a) for a, target in ALIASES.items() if target == name]
    if name == "round":
        spellings.append(lambda v: v.round())
    outs = []
    u = np.linspace(-1.0, 2.0, x.size).reshape(x.shape).astype(x.dtype)
    for spell in spellings:
        v = mg.Value(x)
        y = spell(v)
        assert isinstance(y, Value), (name, spell)
        (y * u).sum().backward()
        outs.append((y, v.grad))
    return outs


@covers(*UNARY)
@pytest.mark.parametrize("name", sorted(UNARY))
@dtypes
def test_unary_spellings_agree_with_numpy(name: str, dtype: Any) -> None:
    fn, np_fn, _, kw = UNARY[name]
    lo, hi = kw.get("min_value", -3.0), kw.get("max_value", 3.0)
    x = np.linspace(lo, hi, 12).reshape(3, 4).astype(dtype)
    x[x == 0] = 0.25  # sign and fabs at 0 are checked elsewhere
    outs = _spellings(name, fn, np_fn, x)
    (y0, g0), rest = outs[0], outs[1:]
    assert y0.dtype == dtype and g0.dtype == dtype
    if np_fn is not None:  # NumPy's own numbers, to the last bits
        expected = np_fn(x)
        np.testing.assert_allclose(y0.data, expected, rtol=4 * np.finfo(dtype).eps, atol=0)
    for y, g in rest:
        np.testing.assert_array_equal(y.data, y0.data)
        np.testing.assert_array_equal(g, g0)


# ---- functions of two arrays, under broadcasting ------------------------------------

BINARY: dict[str, tuple[Callable[..., Any], Any, dict, dict]] = {
    # name: (mg function, NumPy spelling, arrays() keywords for a, for b)
    "logaddexp": (mg.logaddexp, np.logaddexp, {}, {}),
    "logaddexp2": (mg.logaddexp2, np.logaddexp2, {}, {}),
    # a away from 0: arctan2 jumps by 2 pi across the negative b axis; and the
    # point stays 0.3 from the origin, where hypot has its kink.
    "arctan2": (mg.arctan2, np.arctan2, {"away_from": (0.0,), "margin": 0.3}, {}),
    "hypot": (mg.hypot, np.hypot, {"away_from": (0.0,), "margin": 0.3}, {}),
}


@covers(*BINARY)
@pytest.mark.parametrize("name", sorted(BINARY))
@dtypes
@given(data=st.data())
def test_binary(name: str, dtype: Any, data: Any) -> None:
    fn, np_fn, kw_a, kw_b = BINARY[name]
    shape_a, shape_b = data.draw(mst.broadcastable_shapes(), label="shapes")
    a = data.draw(arrays(shape_a, dtype, **kw_a), label="a")
    b = data.draw(arrays(shape_b, dtype, **kw_b), label="b")
    check(fn, (a, b), uses=[name])
    # One side a constant (an ndarray through NumPy's dispatch, or a number).
    check(lambda x: np_fn(x, b), (a,), uses=[name])
    check(lambda y: np_fn(a, y), (b,), uses=[name])
    sa = float(data.draw(arrays((), np.float64, **kw_a), label="scalar a"))
    check(lambda y: fn(sa, y) * y, (b,), uses=[name])


@covers("fmax", "fmin")
@pytest.mark.parametrize("name", ["fmax", "fmin"])
@dtypes
@given(data=st.data())
def test_fmax_fmin(name: str, dtype: Any, data: Any) -> None:
    fn = getattr(mg, name)
    shape_a, shape_b = data.draw(mst.broadcastable_shapes(max_dims=2), label="shapes")
    na, nb = int(np.prod(shape_a)), int(np.prod(shape_b))
    # pairwise apart (no ties), and away from the constant operand 0.25
    both = data.draw(arrays((na + nb,), dtype, unique=True, away_from=(0.25,)), label="a, b")
    a, b = both[:na].reshape(shape_a), both[na:].reshape(shape_b)
    check(fn, (a, b), uses=[name])
    check(lambda x: getattr(np, name)(x, 0.25) * x, (a,), uses=[name])
    # NaN on one side: the other side is chosen, value and gradient.
    nan_b = np.where(np.arange(nb).reshape(shape_b) % 2 == 0, np.nan, b).astype(dtype)
    check(lambda x: fn(x, nan_b), (a,), uses=[name])


@st.composite
def _mod_operands(draw: Any, dtype: Any) -> tuple[np.ndarray, np.ndarray]:
    """a, b with b away from 0 and a / b away from integers (where a mod b jumps)."""
    shape_a, shape_b = draw(mst.broadcastable_shapes())
    full = np.broadcast_shapes(shape_a, shape_b)
    k = draw(arrays(full, np.float64, min_value=-2, max_value=2)).round()
    frac = draw(arrays(full, np.float64, min_value=0.15, max_value=0.85))
    q = k + frac
    if draw(st.booleans()):  # b broadcast, a full
        b = draw(arrays(shape_b, dtype, min_value=0.5, max_value=3.0))
        b = b * draw(st.sampled_from([1.0, -1.0]))
        a = q * b
    else:  # a broadcast, b full
        a = draw(arrays(shape_a, dtype, away_from=(0.0,), margin=0.5))
        b = a / q
    return a.astype(dtype), b.astype(dtype)


@covers("mod", "remainder")
@dtypes
@given(data=st.data())
def test_mod(dtype: Any, data: Any) -> None:
    a, b = data.draw(_mod_operands(dtype), label="a, b")
    check(mg.mod, (a, b), uses=["mod"])
    check(lambda x, y: mg.remainder(x, y) * x, (a, b), uses=["mod"])
    check(lambda x, y: x % y, (a, b), uses=["mod"])
    check(lambda x: np.remainder(x, b), (a,), uses=["mod"])  # also np.mod: the same ufunc
    check(lambda y: a % y, (b,), uses=["mod"])  # ndarray % Value: NumPy's dispatch


@covers("fmod")
@dtypes
@given(data=st.data())
def test_fmod(dtype: Any, data: Any) -> None:
    # The operands keep a / b away from integers, where fmod jumps as mod does.
    a, b = data.draw(_mod_operands(dtype), label="a, b")
    check(mg.fmod, (a, b), uses=["fmod"])
    check(lambda x, y: mg.fmod(x, y) * x, (a, b), uses=["fmod"])
    check(lambda x: np.fmod(x, b), (a,), uses=["fmod"])
    check(lambda y: np.fmod(a, y), (b,), uses=["fmod"])  # ndarray and Value: NumPy's dispatch


@covers("fmod")
@dtypes
def test_fmod_has_the_sign_of_a_and_the_truncated_quotient(dtype: Any) -> None:
    # fmod(a, b) = a - trunc(a / b) b (C's fmod): d/da = 1, d/db = -trunc(a / b),
    # as in PyTorch and JAX. Where a and b differ in sign it is not mod.
    for a, b, r, db in [(5.5, 2.0, 1.5, -2.0), (-5.5, 2.0, -1.5, 2.0),
                        (5.5, -2.0, 1.5, 2.0), (-5.5, -2.0, -1.5, -2.0),
                        (0.5, -2.0, 0.5, 0.0), (-4.0, 2.0, -0.0, 2.0)]:
        y = mg.fmod(mg.Value(np.array(a, dtype)), b)
        assert y.dtype == dtype and y.item() == r == math.fmod(a, b)
        assert math.copysign(1.0, y.item()) == math.copysign(1.0, math.fmod(a, b))
        assert _grad_at(mg.fmod, a, b, dtype=dtype) == [1.0, db]
    # Large quotients (below 2**53, so each is a float64): exact, to the last unit.
    a = np.array([1e15 + 1.0, -1e15 - 1.0, 12345.678, -7.25e9], dtype=np.float64)
    b = np.array([3.0, 7.0, -0.001, 0.37], dtype=np.float64)
    vb = mg.Value(b)
    mg.fmod(a, vb).sum().backward()
    exact = [-int(Fraction(x) / Fraction(y)) for x, y in zip(a, b, strict=True)]  # trunc
    np.testing.assert_array_equal(vb.grad, np.array(exact, dtype=np.float64))
    np.testing.assert_array_equal(mg.fmod(a, b).data, np.fmod(a, b))
    # b = 0: NaN, as NumPy (and no exception).
    with np.errstate(invalid="ignore"):
        assert np.isnan(mg.fmod(1.0, mg.Value(0.0)).item())


@covers("mod")
@dtypes
@given(data=st.data())
def test_mod_operator_with_numbers(dtype: Any, data: Any) -> None:
    x = data.draw(arrays(mst.shapes(), dtype, min_value=0.1, max_value=2.9,
                         away_from=(1.0, 2.0), margin=0.1), label="x")
    check(lambda v: v % 1.0, (x,), uses=["mod"])
    y = data.draw(arrays(mst.shapes(), dtype, min_value=2.5, max_value=3.5, away_from=(3.5,)),
                  label="y")
    check(lambda v: 7.0 % v, (y,), uses=["mod"])  # 7 / y in (2, 2.8): no jump


@pytest.mark.parametrize("name", [*sorted(BINARY), "fmax", "fmin", "mod", "fmod"])
@dtypes
def test_binary_spellings_agree_with_numpy(name: str, dtype: Any) -> None:
    fn = getattr(mg, name)
    np_fn = getattr(np, name)
    a = np.array([[0.5, -1.5, 2.25]], dtype=dtype)
    b = np.array([[1.25], [-0.75]], dtype=dtype)
    grads = []
    for spell in (fn, np_fn) + ((lambda u, v: u % v,) if name == "mod" else ()):
        u, v = mg.Value(a), mg.Value(b)
        y = spell(u, v)
        assert isinstance(y, Value) and y.dtype == dtype
        np.testing.assert_array_equal(y.data, np_fn(a, b))
        y.sum().backward()
        assert u.grad.dtype == dtype and v.grad.dtype == dtype
        grads.append((u.grad, v.grad))
    for ga, gb in grads[1:]:
        np.testing.assert_array_equal(ga, grads[0][0])
        np.testing.assert_array_equal(gb, grads[0][1])


# ---- float32 stays float32 -----------------------------------------------------------

ALL_NAMES = sorted([*UNARY, *BINARY, "fmax", "fmin", "mod", "remainder", "fmod"])


@pytest.mark.parametrize("name", ALL_NAMES)
def test_float32_stays_float32(name: str) -> None:
    x = np.array([[0.3, 0.6, 0.9], [0.45, 0.7, 0.4]], dtype=np.float32)  # in every domain
    fn = getattr(mg, name)
    if name in BINARY or name in ("fmax", "fmin", "mod", "remainder", "fmod"):
        def f(v: Value) -> Value:
            return fn(v, v[::-1] * 0.5 + 1.5)
    elif name == "arccosh":
        def f(v: Value) -> Value:
            return fn(v + 2.0)
    else:
        f = fn
    for create_graph in (False, True):
        w = mg.Value(x)
        y = f(w)
        assert y.dtype == np.float32, f"{name}: output dtype {y.dtype}"
        (g,) = mg.gradients(y, w, grad_outputs=np.ones(y.shape, np.float32),
                            create_graph=create_graph)
        assert g.dtype == np.float32, f"{name}: gradient dtype {g.dtype}"
        if create_graph and g.requires_grad:
            (h,) = mg.gradients((g * g).sum(), w)
            assert h.dtype == np.float32, f"{name}: second derivative dtype {h.dtype}"
    _, t = mg.jvp(f, (x,), (np.ones_like(x),))
    assert t.dtype == np.float32, f"{name}: tangent dtype {t.dtype}"


# ---- parity with PyTorch ---------------------------------------------------------------

def _torch_fns() -> dict[str, tuple[Callable[..., Any], int]]:
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    return {  # name: (torch function, number of inputs)
        "tan": (torch.tan, 1), "arcsin": (torch.asin, 1), "arccos": (torch.acos, 1),
        "arctan": (torch.atan, 1), "sinh": (torch.sinh, 1), "cosh": (torch.cosh, 1),
        "arcsinh": (torch.asinh, 1), "arccosh": (torch.acosh, 1), "arctanh": (torch.atanh, 1),
        "exp2": (torch.exp2, 1), "expm1": (torch.expm1, 1), "log2": (torch.log2, 1),
        "log10": (torch.log10, 1), "log1p": (torch.log1p, 1), "square": (torch.square, 1),
        "reciprocal": (torch.reciprocal, 1), "fabs": (torch.abs, 1), "sign": (torch.sign, 1),
        "floor": (torch.floor, 1), "ceil": (torch.ceil, 1), "round": (torch.round, 1),
        "sinc": (torch.sinc, 1), "deg2rad": (torch.deg2rad, 1), "rad2deg": (torch.rad2deg, 1),
        "softplus": (F.softplus, 1), "leaky_relu": (F.leaky_relu, 1), "elu": (F.elu, 1),
        "gelu": (lambda t: F.gelu(t, approximate="tanh"), 1),
        "trunc": (torch.trunc, 1), "fix": (torch.fix, 1), "rint": (torch.round, 1),
        "cbrt": (lambda t: torch.sign(t) * t.abs() ** (1 / 3), 1),
        "positive": (torch.positive, 1),
        "logaddexp": (torch.logaddexp, 2), "logaddexp2": (torch.logaddexp2, 2),
        "arctan2": (torch.atan2, 2), "hypot": (torch.hypot, 2), "fmax": (torch.fmax, 2),
        "fmin": (torch.fmin, 2), "mod": (torch.remainder, 2), "remainder": (torch.remainder, 2),
        "fmod": (torch.fmod, 2),
    }


# Where the inputs come from: (low, high) of the random draws, and extreme points
# (each also with its sign flipped where the function is defined there).
DOMAINS: dict[str, tuple[float, float, list[float]]] = {
    "tan": (-1.5, 1.5, [1e-300, 1.5707]),
    "arcsin": (-0.999, 0.999, [1e-300, 1 - 1e-12]),
    "arccos": (-0.999, 0.999, [1e-300, 1 - 1e-12]),
    "arctan": (-50.0, 50.0, [1e-300, 1e10, 1e150]),
    "sinh": (-30.0, 30.0, [1e-300, 700.0]),
    "cosh": (-30.0, 30.0, [1e-300, 700.0]),
    "arcsinh": (-50.0, 50.0, [1e-300, 1e10, 1e100]),
    "arccosh": (1.001, 50.0, [1 + 1e-12, 1e10, 1e100]),
    "arctanh": (-0.999, 0.999, [1e-300, 1 - 1e-12]),
    "exp2": (-50.0, 50.0, [-1000.0, 1000.0, 1e-300]),
    "expm1": (-3.0, 50.0, [-1000.0, 700.0, 1e-300]),
    "log2": (1e-3, 50.0, [1e-300, 1e300]),
    "log10": (1e-3, 50.0, [1e-300, 1e300]),
    "log1p": (-0.999, 50.0, [1e-300, -1 + 1e-12, 1e300]),
    "square": (-50.0, 50.0, [1e-300, 1e150]),
    "reciprocal": (0.01, 50.0, [1e-300, 1e300]),
    "fabs": (-50.0, 50.0, [1e-300, 1e300]),
    "sign": (-50.0, 50.0, [1e-300, 1e300]),
    "floor": (-50.0, 50.0, [1e-300, 1e300, 2.5]),
    "ceil": (-50.0, 50.0, [1e-300, 1e300, 2.5]),
    "round": (-50.0, 50.0, [1e-300, 1e300, 2.5, 3.5]),
    "trunc": (-50.0, 50.0, [1e-300, 1e300, 2.5]),
    "fix": (-50.0, 50.0, [1e-300, 1e300, 2.5]),
    "rint": (-50.0, 50.0, [1e-300, 1e300, 2.5, 3.5]),
    "cbrt": (-50.0, 50.0, [1e-300, 1e300, 8.0]),
    "positive": (-50.0, 50.0, [1e-300, 1e300]),
    "sinc": (-10.0, 10.0, [1e-300, 1e-8, 1e-3, 1e5]),
    "deg2rad": (-1e3, 1e3, [1e-300, 1e300]),
    "rad2deg": (-10.0, 10.0, [1e-300, 1e300]),
    "softplus": (-50.0, 50.0, [-700.0, -1000.0, 1000.0, 1e-300]),
    "leaky_relu": (-50.0, 50.0, [1e-300, 1e300]),
    "elu": (-50.0, 50.0, [-1000.0, 1000.0, 1e-300]),
    "gelu": (-1.0, 8.0, [1e-300, 1e300]),
    "logaddexp": (-50.0, 50.0, [-1000.0, 1000.0, 1e300]),
    "logaddexp2": (-50.0, 50.0, [-1000.0, 1000.0, 1e300]),
    "arctan2": (-50.0, 50.0, [1e-300, 1e150]),
    "hypot": (-50.0, 50.0, [1e-300, 1e150, 1e300]),
    "fmax": (-50.0, 50.0, [1e300]),
    "fmin": (-50.0, 50.0, [1e300]),
    "mod": (0.5, 50.0, [1e5]),
    "remainder": (0.5, 50.0, [1e5]),
    "fmod": (0.5, 50.0, [1e5, 2.5]),  # with the signs flipped: a and b of both signs
}
# domains on one side of 0
POSITIVE = {"arccosh", "log2", "log10", "reciprocal", "mod", "remainder"}
HALF_OPEN = {"log1p"}  # (-1, inf): the extremes as given


def _torch_value_and_grad(tfn: Callable[..., Any], args: list[np.ndarray],
                          u: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    import torch
    ts = [torch.tensor(a, requires_grad=True) for a in args]
    y = tfn(*ts)
    (y * torch.tensor(u)).sum().backward()
    return y.detach().numpy(), [t.grad.numpy() for t in ts]


def _ours(fn: Callable[..., Any], args: list[np.ndarray],
          u: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    vs = [mg.Value(a) for a in args]
    y = fn(*vs)
    (y * u).sum().backward()
    return np.asarray(y.data), [v.grad for v in vs]


@pytest.mark.parametrize("name", ALL_NAMES)
@dtypes
def test_matches_torch(name: str, dtype: Any) -> None:
    tfn, arity = _torch_fns()[name]
    lo, hi, extremes = DOMAINS[name]
    rng = np.random.default_rng(sum(map(ord, name)))
    n = 40
    xs = [rng.uniform(lo, hi, n) for _ in range(arity)]
    ext = np.array(extremes, dtype=np.float64)
    if name not in POSITIVE | HALF_OPEN:
        ext = np.concatenate([ext, -ext])
    if dtype == np.float32:  # the extremes a float32 holds
        ext = ext[(np.abs(ext) < 3e38) & ((np.abs(ext) > 1e-37) | (ext == 0))]
        ext = ext[np.abs(ext) != 700.0] if name in ("sinh", "cosh", "expm1") else ext
        if name in ("arcsin", "arccos", "arctanh", "arccosh", "log1p"):
            ext = ext[np.abs(np.abs(ext) - 1) > 1e-6]
    xs[0] = np.concatenate([xs[0], ext])
    for i in range(1, arity):  # the other operand: random, then the extremes again
        xs[i] = np.concatenate([xs[i], ext[::-1]])
    args = [x.astype(dtype) for x in xs]
    u = rng.uniform(0.5, 1.5, args[0].size).astype(dtype)
    with np.errstate(all="ignore"):
        y, gs = _ours(getattr(mg, name), args, u)
    ty, tgs = _torch_value_and_grad(tfn, args, u)
    tiny = np.finfo(dtype).tiny
    rtol = 1e-12 if dtype == np.float64 else 2e-6
    # Where torch's formula loses digits that ours keeps (KNOWN_BETTER; each such
    # place is checked against exact values in the tests below), skip the comparison.
    skip = KNOWN_BETTER.get(name)
    wide = [a.astype(np.float64) for a in args]  # (1e100 is not a float32)
    keep = ~skip(*wide) if skip is not None else np.ones(args[0].shape, bool)
    assert keep.sum() > 30, "compare most of the points"
    np.testing.assert_allclose(y[keep], ty[keep], rtol=rtol, atol=tiny * 10,
                               err_msg=f"{name} value")
    for i, (g, tg) in enumerate(zip(gs, tgs, strict=True)):
        np.testing.assert_allclose(g[keep], tg[keep], rtol=100 * rtol, atol=tiny * 10,
                                   err_msg=f"{name} gradient {i}")


def _big(limit: float) -> Callable[..., np.ndarray]:
    return lambda x, *rest: np.abs(x) > limit


# Inputs where torch's formula is less accurate than ours, left out of the
# comparison; the tests below check ours there against exact values.
KNOWN_BETTER: dict[str, Callable[..., np.ndarray]] = {
    # torch: 1 / sqrt(x*x + 1) underflows to 0 beyond 1e154; ours 1 / hypot(x, 1)
    "arcsinh": _big(1e99),
    # torch: 1 / sqrt(x*x - 1) cancels near 1 and underflows beyond 1e154
    "arccosh": lambda x: (x > 1e99) | (x < 1 + 1e-6),
    # torch: 1 / sqrt(1 - x*x) and 1 / (1 - x*x) cancel near +-1; ours (1 - x)(1 + x)
    "arcsin": lambda x: np.abs(x) > 1 - 1e-6,
    "arccos": lambda x: np.abs(x) > 1 - 1e-6,
    "arctanh": lambda x: np.abs(x) > 1 - 1e-6,
    # torch: (result + 1) for x << 0 loses the digits of exp(x); ours exp(x)
    "expm1": lambda x: x < -3,
    # torch: 0.5 x (1 + tanh(u)) cancels for x < 0, to 0 below -10; ours x sigmoid(2u).
    # And torch's derivative is nan at 1e300 (x**3 overflows), ours 1.
    "gelu": lambda x: (x < -1) | (x > 1e100),
    # torch's sinc derivative (cos(u) u - sin(u)) / (u x) cancels near 0; ours is a series
    "sinc": lambda x: np.abs(x) < 1e-2,
    # torch's atan2 derivative has 1 / (a^2 + b^2), which overflows at 1e150
    "arctan2": lambda a, b: (np.abs(a) > 1e100) | (np.abs(b) > 1e100),
    # torch's softplus returns x beyond 20 (off by exp(-x), 1e-9 at 20)
    "softplus": lambda x: (x > 20) & (x < 40),
}


# ---- explicit values: the hard numerics ------------------------------------------------


def _grad_at(fn: Callable[..., Value], *xs: float, dtype: Any = np.float64) -> list[float]:
    vs = [mg.Value(np.array(x, dtype=dtype)) for x in xs]
    fn(*vs).backward()
    return [float(v.grad) for v in vs]


@covers("log1p", "expm1")
def test_log1p_expm1_at_extremes() -> None:
    assert mg.log1p(1e-20).item() == 1e-20
    assert _grad_at(mg.log1p, 1e-20) == [1.0]
    x = -1 + 2.0 ** -40  # 1 + x is exact
    np.testing.assert_allclose(mg.log1p(x).item(), -40 * math.log(2), rtol=1e-15)
    np.testing.assert_allclose(_grad_at(mg.log1p, x), [2.0 ** 40], rtol=1e-15)
    assert mg.expm1(1e-20).item() == 1e-20
    assert _grad_at(mg.expm1, 1e-20) == [1.0]
    assert mg.expm1(-1000.0).item() == -1.0
    assert _grad_at(mg.expm1, -1000.0) == [0.0]
    # The derivative exp(x) keeps full relative accuracy where expm1(x) + 1 has none.
    np.testing.assert_allclose(_grad_at(mg.expm1, -40.0), [math.exp(-40.0)], rtol=1e-15)
    np.testing.assert_allclose(_grad_at(mg.expm1, -700.0), [math.exp(-700.0)], rtol=1e-15)
    # Second derivatives are finite and right, too.
    np.testing.assert_allclose(mg.grad(mg.grad(mg.expm1))(-700.0), math.exp(-700.0),
                               rtol=1e-15)
    np.testing.assert_allclose(mg.grad(mg.grad(mg.log1p))(1e-20), -1.0, rtol=1e-15)


@covers("softplus")
@dtypes
def test_softplus_at_extremes(dtype: Any) -> None:
    v = mg.Value(np.array([1000.0, -1000.0, 0.0, -80.0], dtype=dtype))
    y = mg.softplus(v)
    np.testing.assert_array_equal(y.data[:2], [1000.0, 0.0])
    np.testing.assert_allclose(y.data[2:], [math.log(2.0), math.exp(-80.0)],
                               rtol=1e-15 if dtype == np.float64 else 1e-6)
    (g,) = mg.gradients(y.sum(), v, create_graph=True)
    np.testing.assert_allclose(g.data, [1.0, 0.0, 0.5, math.exp(-80.0)],
                               rtol=1e-15 if dtype == np.float64 else 1e-6)
    (h,) = mg.gradients(g.sum(), v)
    assert np.all(np.isfinite(h.data))
    np.testing.assert_allclose(h.data[:3], [0.0, 0.0, 0.25], atol=1e-30)
    if dtype == np.float64:
        # exp(-700) is representable: softplus keeps every digit of it (not 0).
        assert mg.softplus(-700.0).item() == pytest.approx(math.exp(-700.0), rel=1e-15)
        assert mg.grad(mg.softplus)(-700.0) == pytest.approx(math.exp(-700.0), rel=1e-15)
        # exp(-1000) is not: 0, as the exact value rounds.
        assert mg.softplus(-1000.0).item() == 0.0


@covers("logaddexp", "logaddexp2")
@dtypes
def test_logaddexp_at_extremes(dtype: Any) -> None:
    rtol = 1e-15 if dtype == np.float64 else 1e-6
    tiny = np.finfo(dtype).tiny
    for fn, ln, tail in ((mg.logaddexp, math.log(2.0), 0.0),  # exp(-1000) underflows
                         (mg.logaddexp2, 1.0, 2.0 ** -1000)):  # 2**-1000 does not (in f64)
        tail = tail if dtype == np.float64 else 0.0
        a = mg.Value(np.array([1000.0, 1000.0, -1000.0, 0.0], dtype=dtype))
        b = mg.Value(np.array([1000.0, -1000.0, -1000.0, -1000.0], dtype=dtype))
        y = fn(a, b)
        # log2(1 + 2**-1000) = 2**-1000 / ln 2: full relative accuracy in the tail
        np.testing.assert_allclose(y.data, [1000.0 + ln, 1000.0, -1000.0 + ln,
                                            tail / math.log(2.0)], rtol=rtol, atol=tiny)
        y.sum().backward()
        np.testing.assert_array_equal(a.grad, [0.5, 1.0, 0.5, 1.0])
        # sigmoid((b - a) ln 2): the rounding of (b - a) ln 2 costs |b - a| eps relative
        np.testing.assert_allclose(b.grad, [0.5, 0.0, 0.5, tail], rtol=1000 * rtol, atol=0)
    # The Hessian of logaddexp is s (1 - s) [[1, -1], [-1, 1]], s = sigmoid(a - b).
    for a0, b0, s in ((1000.0, 1000.0, 0.5), (1000.0, -1000.0, 1.0), (3.0, 1.0, None)):
        s = 1 / (1 + math.exp(b0 - a0)) if s is None else s
        H = mg.hessian(lambda v: mg.logaddexp(v[0], v[1]))(np.array([a0, b0], dtype=dtype))
        np.testing.assert_allclose(H, s * (1 - s) * np.array([[1, -1], [-1, 1]]),
                                   rtol=1e-12 if dtype == np.float64 else 1e-5, atol=1e-30)


def test_logaddexp_gradient_is_exact_at_large_magnitude() -> None:
    # The rule exp(a - ans) would carry ans's rounding: 2e-6 relative error here.
    g = _grad_at(mg.logaddexp, 1e10, 1e10 - 1)
    s = 1 / (1 + math.exp(-1.0))
    np.testing.assert_allclose(g, [s, 1 - s], rtol=1e-15)


@covers("hypot", "arctan2")
def test_hypot_and_arctan2_never_overflow() -> None:
    for scale in (1e300, 1e-300, 1.0):
        a, b = 4 * scale, 3 * scale
        np.testing.assert_allclose(mg.hypot(a, b).item(), 5 * scale, rtol=1e-15)
        np.testing.assert_allclose(_grad_at(mg.hypot, a, b), [0.8, 0.6], rtol=1e-15)
        np.testing.assert_allclose(mg.arctan2(a, b).item(), math.atan2(4, 3), rtol=1e-15)
        # d/da = b / r^2, d/db = -a / r^2: 1e-301 and 1e299 are representable
        np.testing.assert_allclose(_grad_at(mg.arctan2, a, b),
                                   [0.12 / scale, -0.16 / scale], rtol=1e-14)
    # The Hessian of hypot far from 0, at a large scale.
    H = mg.hessian(lambda v: mg.hypot(v[0], v[1]))(np.array([4e150, 3e150]))
    np.testing.assert_allclose(H, np.array([[9, -12], [-12, 16]]) / 125 / 1e150, rtol=1e-13)


@covers("hypot", "arctan2")
@pytest.mark.parametrize("mode", ["rev", "fwd"])
def test_hypot_and_arctan2_at_the_origin(mode: str) -> None:
    # 0 (the subgradient of the norm at 0, PyTorch's for linalg.norm and atan2), never nan.
    for fn in (mg.hypot, mg.arctan2):
        assert fn(0.0, 0.0).item() == 0.0
        if mode == "rev":
            assert _grad_at(fn, 0.0, 0.0) == [0.0, 0.0]
        else:
            _, t = mg.jvp(fn, (0.0, 0.0), (1.0, 1.0))
            assert float(t) == 0.0
        a, b = mg.Value(0.0), mg.Value(np.zeros(3))
        with np.errstate(all="raise"):  # no 0/0 on the way, also at second order
            ga, gb = mg.gradients(fn(a, b).sum(), [a, b], create_graph=True)
            assert float(ga) == 0.0 and not gb.data.any()
            mg.gradients((ga + gb.sum()) ** 2, [a, b])


@covers("sinc")
@pytest.mark.parametrize("mode", ["rev", "fwd"])
def test_sinc_at_zero(mode: str) -> None:
    d = mg.grad if mode == "rev" else mg.jacfwd
    assert mg.sinc(0.0).item() == 1.0
    assert float(d(mg.sinc)(0.0)) == 0.0
    np.testing.assert_allclose(d(d(mg.sinc))(0.0), -math.pi ** 2 / 3, rtol=1e-15)
    assert float(d(d(d(mg.sinc)))(0.0)) == 0.0
    np.testing.assert_allclose(d(d(d(d(mg.sinc))))(0.0), math.pi ** 4 / 5, rtol=1e-14)
    # and float32
    x = mg.Value(np.float32(0.0))
    (g,) = mg.gradients(mg.sinc(x), x, create_graph=True)
    (h,) = mg.gradients(g, x)
    assert g.dtype == np.float32 and float(g) == 0.0
    np.testing.assert_allclose(float(h), -math.pi ** 2 / 3, rtol=1e-6)


@covers("sinc")
def test_sinc_derivatives_match_high_precision() -> None:
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 40

    def exact(x: float, k: int) -> float:
        return float(mp.diff(lambda t: mp.sin(mp.pi * t) / (mp.pi * t), mp.mpf(x), k))

    d1 = mg.grad(mg.sinc)
    d2 = mg.grad(d1)
    d3 = mg.grad(d2)
    # Near 0 the closed forms cancel; at 0.6 to 4 the series hands over to them.
    for x in (1e-8, 1e-5, 1e-3, 0.1, 0.63, 0.99, 1.3, 1.9, 2.5, 3.7, -0.45, 7.3):
        for k, d in ((1, d1), (2, d2), (3, d3)):
            np.testing.assert_allclose(float(d(x)), exact(x, k), rtol=1e-13, atol=1e-300,
                                       err_msg=f"sinc derivative {k} at {x}")


@covers("sign", "floor", "ceil", "round", "trunc", "rint")
@pytest.mark.parametrize("name", ["sign", "floor", "ceil", "round", "trunc", "rint", "fix"])
@pytest.mark.parametrize("mode", ["rev", "fwd"])
def test_piecewise_constant_derivative_is_zero_even_at_jumps(name: str, mode: str) -> None:
    fn = getattr(mg, name)
    x = np.array([-2.5, -1.0, 0.0, 0.5, 1.0, 2.5, 3.7])  # jumps included
    if mode == "rev":
        v = mg.Value(x)
        # an infinite upstream gradient: 0 * inf would be nan
        fn(v).backward(np.full(x.shape, np.inf))
        np.testing.assert_array_equal(v.grad, np.zeros_like(x))
        np.testing.assert_array_equal(mg.hessian(lambda w: (fn(w) * w).sum())(x),
                                      np.zeros((x.size, x.size)))
    else:
        _, t = mg.jvp(fn, (x,), (np.ones_like(x),))
        np.testing.assert_array_equal(t, np.zeros_like(x))


@covers("mod", "remainder")
def test_mod_values_and_derivatives_as_python_and_torch() -> None:
    cases = [(5.5, 2.0), (5.5, -2.0), (-5.5, 2.0), (-5.5, -2.0), (7.0, 2.5), (0.25, 3.0)]
    for a, b in cases:
        va, vb = mg.Value(a), mg.Value(b)
        y = va % vb
        assert y.item() == a % b  # Python's %: the sign of b
        assert mg.mod(a, b).item() == mg.remainder(a, b).item() == a % b
        y.backward()
        assert float(va.grad) == 1.0
        assert float(vb.grad) == -math.floor(a / b)  # as torch.remainder
    v = mg.Value(np.array([1.5, -3.0]))
    assert isinstance(np.array([4.0, 4.0]) % v, Value)  # ndarray % Value
    np.testing.assert_array_equal((4.0 % v).data, [1.0, -2.0])


@covers("fmax", "fmin")
@pytest.mark.parametrize("name", ["fmax", "fmin"])
def test_fmax_fmin_nan_and_ties(name: str) -> None:
    fn = getattr(mg, name)
    nan = np.nan
    a = mg.Value(np.array([nan, 1.0, nan, 2.0, 3.0, -1.0]))
    b = mg.Value(np.array([1.0, nan, nan, 2.0, -1.0, 3.0]))
    y = fn(a, b)
    np.testing.assert_array_equal(y.data, getattr(np, name)(a.data, b.data))
    y.sum().backward()
    big = [1.0, 0.0] if name == "fmax" else [0.0, 1.0]
    # NaN on one side: the other gets all; both NaN: the first (NumPy returns it);
    # ties split evenly, as maximum/minimum do (torch gives a tie all to a, JAX to b).
    np.testing.assert_array_equal(a.grad, [0.0, 1.0, 1.0, 0.5, big[0], big[1]])
    np.testing.assert_array_equal(b.grad, [1.0, 0.0, 0.0, 0.5, big[1], big[0]])


@covers("fmax", "fmin")
@pytest.mark.parametrize("name", ["fmax", "fmin"])
def test_fmax_fmin_nan_gradients_match_torch(name: str) -> None:
    torch = pytest.importorskip("torch")
    nan = np.nan
    a = np.array([nan, 1.0, nan, 3.0, -1.0])
    b = np.array([1.0, nan, nan, -1.0, 3.0])
    y, (ga, gb) = _ours(getattr(mg, name), [a, b], np.ones(5))
    ty, (ta, tb) = _torch_value_and_grad(getattr(torch, name), [a, b], np.ones(5))
    np.testing.assert_array_equal(y, ty)
    np.testing.assert_array_equal(ga, ta)
    np.testing.assert_array_equal(gb, tb)


def _inv_sqrt(q: Fraction) -> float:
    """1 / sqrt(q) for an exact positive rational, to float accuracy, at any magnitude."""
    k = (q.numerator.bit_length() - q.denominator.bit_length()) // 2
    return 2.0 ** -k / math.sqrt(float(q / Fraction(4) ** k))


@covers("arccosh", "arctanh", "arcsin", "arccos", "arcsinh")
def test_inverse_functions_near_their_domain_edges() -> None:
    # Exact reference values from rational arithmetic on the float inputs.
    for x in (1 - 2.0 ** -30, -(1 - 2.0 ** -40), 0.999):
        one_minus_sq = 1 - Fraction(x) ** 2
        np.testing.assert_allclose(_grad_at(mg.arctanh, x), [float(1 / one_minus_sq)],
                                   rtol=1e-15)
        np.testing.assert_allclose(_grad_at(mg.arcsin, x),
                                   [1 / math.sqrt(float(one_minus_sq))], rtol=1e-15)
        np.testing.assert_allclose(_grad_at(mg.arccos, x),
                                   [-1 / math.sqrt(float(one_minus_sq))], rtol=1e-15)
    for x in (1 + 2.0 ** -30, 1.001, 1e10, 1e300):
        np.testing.assert_allclose(_grad_at(mg.arccosh, x),
                                   [_inv_sqrt(Fraction(x) ** 2 - 1)], rtol=1e-15)
    for x in (1e200, -1e300, 1e-300, 3.0):
        np.testing.assert_allclose(_grad_at(mg.arcsinh, x),
                                   [_inv_sqrt(Fraction(x) ** 2 + 1)], rtol=1e-15)
    # At the edges: NumPy's values (0 and +-inf), derivatives inf as PyTorch's.
    with np.errstate(divide="ignore"):
        assert mg.arccosh(1.0).item() == 0.0
        assert _grad_at(mg.arccosh, 1.0) == [math.inf]
        assert mg.arctanh(1.0).item() == math.inf
        assert _grad_at(mg.arctanh, -1.0) == [math.inf]
    # Outside: NaN with NumPy's RuntimeWarning, never a number.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert math.isnan(mg.arccosh(0.5).item())
        assert math.isnan(mg.arctanh(1.5).item())
    assert any("invalid value" in str(w.message) for w in caught)
    with pytest.raises(mg.AnomalyError, match="arctanh"), mg.detect_anomaly(), \
            np.errstate(invalid="ignore"):
        mg.arctanh(mg.Value(2.0))


@covers("expm1")
def test_expm1_gradient_exact_where_torch_loses_it() -> None:
    np.testing.assert_allclose(_grad_at(mg.expm1, -35.0), [math.exp(-35.0)], rtol=1e-15)


@covers("gelu", "elu", "leaky_relu")
@dtypes
def test_activations_at_extremes(dtype: Any) -> None:
    big = 1e300 if dtype == np.float64 else 1e30
    x = mg.Value(np.array([big, -big, 0.0, -20.0, 2.0], dtype=dtype))
    y = mg.gelu(x)
    assert np.all(np.isfinite(y.data))
    assert y.data[0] == big and y.data[1] == 0.0 and y.data[2] == 0.0
    # x sigmoid(2u) keeps relative accuracy in the left tail, where 0.5 x (1 + tanh u)
    # (PyTorch's form) is 0.
    u = math.sqrt(2 / math.pi) * (-20.0 + 0.044715 * -8000.0)
    expected_tail = -20.0 * math.exp(2 * u) / (1 + math.exp(2 * u))
    if dtype == np.float64:
        np.testing.assert_allclose(y.data[3], expected_tail, rtol=1e-13)
    (g,) = mg.gradients(y.sum(), x, create_graph=True)
    assert np.all(np.isfinite(g.data))
    np.testing.assert_allclose(g.data[:3], [1.0, 0.0, 0.5], atol=1e-30)
    (h,) = mg.gradients(g.sum(), x)
    assert np.all(np.isfinite(h.data))
    # elu: no inf from exp(1e300) in the branch that is not taken
    e = mg.elu(x, alpha=2.0)
    np.testing.assert_allclose(e.data[:3], [big, -2.0, 0.0])
    (g,) = mg.gradients(e.sum(), x, create_graph=True)
    np.testing.assert_allclose(g.data[:3], [1.0, 0.0, 2.0])  # alpha at 0, as PyTorch
    (h,) = mg.gradients(g.sum(), x)
    assert np.all(np.isfinite(h.data))
    np.testing.assert_allclose(h.data[:3], [0.0, 0.0, 2.0])
    # leaky_relu: the slope at 0, as PyTorch (relu is slope 0: its derivative at 0 is 0)
    assert _grad_at(lambda v: mg.leaky_relu(v, slope=0.1), 0.0, dtype=dtype) == \
        [pytest.approx(0.1)]


def test_exact_where_numpy_is_exact() -> None:
    # log2, log10 and exp2 are primitives, so powers of the base come out exact
    # (log(x) / log(10) gives 2.9999999999999996 at 1000).
    assert mg.log10(1000.0).item() == 3.0
    assert mg.log2(8.0).item() == 3.0
    assert mg.exp2(10.0).item() == 1024.0
    assert _grad_at(mg.exp2, 3.0) == [pytest.approx(8 * math.log(2), rel=1e-15)]


def test_bad_arguments_are_refused() -> None:
    v = mg.Value(np.array([0.5, 1.5]))
    with pytest.raises(TypeError, match="round"):
        np.round(v, out=np.zeros(2))
    with pytest.raises(TypeError, match="decimals"):
        mg.round(v, 1.5)
    with pytest.raises(TypeError, match="slope"):
        mg.leaky_relu(v, slope=mg.Value(0.1))
    with pytest.raises(ValueError, match="hypot: shapes"):
        mg.hypot(v, np.ones(3))
    with pytest.raises(TypeError, match="numpy.nextafter"):  # a ufunc Values do not take
        np.nextafter(v, 2.0)
    assert round(mg.Value(2.6)) == 3  # Python's round still gives a number
    np.testing.assert_array_equal(np.round(v, decimals=0).data, [0.0, 2.0])
    np.testing.assert_array_equal(np.around(v).data, [0.0, 2.0])


def test_check_grads_catches_a_wrong_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    # The tests above can fail: a derivative off by a factor is caught (hypot's with
    # a / ans replaced by b / ans, sinc's next order shifted).
    from microgd import ops
    monkeypatch.setattr(ops.hypot, "vjps", (ops.hypot.vjps[1], ops.hypot.vjps[1]))
    with pytest.raises(AssertionError):
        check_grads(mg.hypot, (np.array([1.0, 2.0]), np.array([3.0, 0.5])), order=1)
    monkeypatch.undo()
    wrong = ops.Primitive("sinc", ops.sinc.forward,
                          lambda g, ans, x, n=0: g * x * ops.sinc(x, n=n) * -(math.pi ** 2),
                          elementwise=True)
    monkeypatch.setattr(ops, "sinc", wrong)
    with pytest.raises(AssertionError):
        check_grads(mg.sinc, (np.array([0.3, 1.2]),), order=1)


# ---- floor_divide, nan_to_num, polyval -------------------------------------------------


@covers("floor_divide")
@pytest.mark.parametrize("mode", ["rev", "fwd"])
@dtypes
def test_floor_divide_is_numpys_with_derivative_zero(mode: str, dtype: Any) -> None:
    a = np.array([[-7.0, -0.5, 0.0, 2.5, 9.0]], dtype=dtype)
    b = np.array([[2.0], [-3.0]], dtype=dtype)  # broadcast: (1, 5) // (2, 1)
    spellings = [lambda u, w: mg.floor_divide(u, w), lambda u, w: np.floor_divide(u, w),
                 lambda u, w: u // w]
    for spell in spellings:
        y = spell(Value(a), Value(b))
        assert isinstance(y, Value) and y.dtype == dtype
        np.testing.assert_array_equal(y.data, np.floor_divide(a, b))
    assert (7.0 // Value(np.array([2.0, -2.0], dtype))).data.tolist() == [3.0, -4.0]
    if mode == "rev":
        u, w = Value(a), Value(b)
        (u // w).backward(np.full((2, 5), np.inf, dtype))  # never 0 * inf
        assert u.grad.shape == a.shape and w.grad.shape == b.shape
        assert not u.grad.any() and not w.grad.any() and u.grad.dtype == dtype
        h = mg.hessian(lambda v: ((v // 2.0) * v).sum())(a[0].astype(np.float64))
        np.testing.assert_array_equal(h, np.zeros((5, 5)))  # d/dv (v // 2) = 0
    else:
        _, t = mg.jvp(lambda u, w: u // w, (a, b), (np.ones_like(a), np.ones_like(b)))
        np.testing.assert_array_equal(t, np.zeros((2, 5)))
    # between the jumps the finite differences agree: 0
    check(lambda u, w: (u // w) * u, (np.array([0.6, 2.3, -1.4]), np.array([2.0, 0.7, 0.9])),
          uses=["floor_divide"])


@covers("nan_to_num")
@dtypes
@given(data=st.data())
def test_nan_to_num(dtype: Any, data: Any) -> None:
    shape = data.draw(mst.shapes(min_dims=1, max_side=3), label="shape")
    x = data.draw(arrays(shape, dtype), label="x")
    # NaN and the infinities put in inside the function (a transform refuses them at the point)
    holes = np.array(data.draw(st.lists(st.sampled_from([0.0, np.nan, np.inf, -np.inf]),
                                        min_size=x.size, max_size=x.size)),
                     dtype=dtype).reshape(shape)
    kw = data.draw(st.sampled_from([{}, {"nan": -1.0, "posinf": 5.0, "neginf": -5.0}]),
                   label="kw")
    with np.errstate(invalid="ignore"):
        # finite differences beside the default 1.8e308 would lose every digit: 5 and -5
        check(lambda v: mg.nan_to_num(v + holes, posinf=5.0, neginf=-5.0) * v, (x,))
        y = np.nan_to_num(Value(x + holes), **kw)
        assert isinstance(y, Value) and y.dtype == dtype
        np.testing.assert_array_equal(y.data, np.nan_to_num(x + holes, **kw))
        v = Value(x + holes)
        mg.nan_to_num(v, **kw).backward(np.ones(shape, dtype))
    np.testing.assert_array_equal(v.grad, np.isfinite(x + holes).astype(dtype))


@covers("polyval")
@dtypes
@given(data=st.data())
def test_polyval(dtype: Any, data: Any) -> None:
    n = data.draw(st.integers(1, 4), label="degree + 1")
    c = data.draw(arrays(n, dtype, min_value=-2.0, max_value=2.0), label="coefficients")
    x = data.draw(arrays(mst.shapes(max_side=3), dtype, min_value=-1.5, max_value=1.5),
                  label="x")
    check(lambda p, u: mg.polyval(p, u), (c, x), uses=["mul", "add"])
    check(lambda p: np.polyval(p, x) ** 2, (c,))
    check(lambda u: np.polyval(list(c), u), (x,))
    y = np.polyval(Value(c), Value(x))
    assert y.dtype == dtype and y.shape == np.shape(x)
    np.testing.assert_array_equal(y.data, np.polyval(c, x))  # Horner's, as NumPy's own


def test_polyval_with_a_list_of_values_and_errors() -> None:
    a, b = Value(2.0), Value(-1.0)
    y = mg.polyval([a, 0.5, b], 3.0)  # 2 x**2 + 0.5 x - 1 at 3
    y.backward()
    assert y.item() == 18.5 and (a.grad, b.grad) == (9.0, 1.0)
    with pytest.raises(ValueError, match="polyval: p must be a 1-D"):
        mg.polyval(np.ones((2, 2)), 1.0)
    assert mg.polyval([], 2.0).item() == np.polyval([], 2.0) == 0.0


@covers("heaviside")
@dtypes
def test_heaviside(dtype: Any) -> None:
    x = np.array([-1.5, 0.0, 2.0, 0.0, np.nan], dtype=dtype)
    for h in (0.5, np.array([0.1, 0.2, 0.3, 0.4, 0.5], dtype=dtype)):
        y = np.heaviside(Value(x), h)
        assert isinstance(y, Value) and y.dtype == dtype
        np.testing.assert_array_equal(y.data, np.heaviside(x, h))
    h = Value(np.array([0.1, 0.2, 0.3, 0.4, 0.5], dtype=dtype))
    mg.heaviside(x, h).backward(np.ones(5, dtype))
    np.testing.assert_array_equal(h.grad, [0.0, 1.0, 0.0, 1.0, 0.0])  # where x is 0
    # in x1 the derivative is 0, as sign's (x1 stays on the graph), also through finite
    # differences off 0
    v = Value(np.array([-0.7, 0.0, 1.3], dtype))
    mg.heaviside(v, 0.5).sum().backward()
    np.testing.assert_array_equal(v.grad, [0.0, 0.0, 0.0])
    check(lambda v, w: mg.heaviside(v, w) * v, (np.array([-0.7, 1.3]), np.array([0.2, 0.6])),
          uses=["sign", "where"])


@covers("copysign")
@dtypes
@given(data=st.data())
def test_copysign(dtype: Any, data: Any) -> None:
    a = data.draw(arrays(mst.shapes(max_side=3), dtype, away_from=(0.0,)), label="a")
    b = data.draw(arrays(np.shape(a), dtype, away_from=(0.0,)), label="b")
    check(lambda v: mg.copysign(v, b), (a,), uses=["abs"])
    y = np.copysign(Value(a), Value(b))
    assert y.dtype == dtype
    np.testing.assert_array_equal(y.data, np.copysign(a, b))
    signed = np.array([0.0, -0.0, 2.0, -3.0], dtype=dtype)
    np.testing.assert_array_equal(np.signbit(mg.copysign(signed, signed[::-1]).data),
                                  np.signbit(np.copysign(signed, signed[::-1])))
    v = Value(np.array([-2.0, 3.0, 0.0], dtype))
    w = Value(np.array([1.0, -1.0, -1.0], dtype))
    mg.copysign(v, w).backward(np.ones(3, dtype))
    np.testing.assert_array_equal(v.grad, [-1.0, -1.0, 0.0])  # sign(a) * sign(b); 0 at 0
    assert w.grad is None  # only x2's sign is read: x2 is not on the graph (derivative 0)


@covers("float_power", "real", "imag")
@dtypes
def test_float_power_real_imag_conj_divmod(dtype: Any) -> None:
    x = np.array([0.5, 1.5, 2.0], dtype=dtype)
    y = np.float_power(Value(x), 3)
    assert y.dtype == np.float64  # as NumPy's: float64 whatever the inputs
    np.testing.assert_array_equal(y.data, np.float_power(x, 3))
    check(lambda v, w: mg.float_power(v, w), (x, np.array([2.0, 0.5, -1.0], dtype)),
          uses=["pow", "astype"] if dtype == np.float32 else ["pow"])
    for fn in (np.real, np.conj, np.conjugate, mg.real):
        r = fn(Value(x))
        assert isinstance(r, Value) and r.dtype == dtype
        np.testing.assert_array_equal(r.data, x)
    check(lambda v: mg.real(v) * v, (x,))
    im = np.imag(Value(x))
    assert not isinstance(im, Value) and im.tolist() == [0.0, 0.0, 0.0] and im.dtype == dtype
    for q, r in (divmod(Value(x), 0.75), np.divmod(Value(x), 0.75), divmod(2.5, Value(x))):
        assert isinstance(q, Value) and isinstance(r, Value)
    q, r = divmod(Value(x), 0.75)
    np.testing.assert_array_equal(q.data, np.floor_divide(x, dtype(0.75)))
    np.testing.assert_array_equal(r.data, np.mod(x, dtype(0.75)))


def test_nan_to_num_refuses_a_value_as_a_fill() -> None:
    for kw in ({"nan": Value(7.0)}, {"posinf": Value(1.0)}, {"neginf": Value(-1.0)}):
        with pytest.raises(TypeError, match=f"nan_to_num: {next(iter(kw))}= must be a number"):
            mg.nan_to_num(Value([np.nan, np.inf, -np.inf]), **kw)
