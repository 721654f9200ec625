"""The safe expression parser: its grammar, its limits, and everything it refuses."""

from __future__ import annotations

import ast
import builtins
import math
import time
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import microgd as mg
from microgd.expr import (
    FUNCTIONS,
    MAX_DEPTH,
    MAX_EXPONENT,
    MAX_LENGTH,
    VARIADIC,
    Expression,
    ExpressionError,
    parse,
)

# ---- the grammar: values and gradients match NumPy -------------------------------------

P = {"x": 0.7, "y": 1.9}  # a point where every function below is smooth


def _sig(v: float) -> float:
    return 1.0 / (1.0 + np.exp(-v))


# (text, value(x, y), (d/dx, d/dy)) written directly in NumPy.
CASES: list[tuple[str, Callable[[float, float], float],
                  Callable[[float, float], tuple[float, float]]]] = [
    ("x + y", lambda x, y: x + y, lambda x, y: (1.0, 1.0)),
    ("x - y", lambda x, y: x - y, lambda x, y: (1.0, -1.0)),
    ("x * y", lambda x, y: x * y, lambda x, y: (y, x)),
    ("x / y", lambda x, y: x / y, lambda x, y: (1 / y, -x / y**2)),
    ("x ** 3 * y", lambda x, y: x**3 * y, lambda x, y: (3 * x**2 * y, x**3)),
    ("x ** y", lambda x, y: x**y, lambda x, y: (y * x ** (y - 1), np.log(x) * x**y)),
    ("2 ** x + y ** -2", lambda x, y: 2**x + y**-2.0,
     lambda x, y: (np.log(2) * 2**x, -2 * y**-3.0)),
    ("-x + +y", lambda x, y: -x + y, lambda x, y: (-1.0, 1.0)),
    ("-x ** 2", lambda x, y: -(x**2), lambda x, y: (-2 * x, 0.0)),
    ("(x + y) * (x - y)", lambda x, y: x * x - y * y, lambda x, y: (2 * x, -2 * y)),
    ("exp(x) * y", lambda x, y: np.exp(x) * y, lambda x, y: (np.exp(x) * y, np.exp(x))),
    ("log(x * y)", lambda x, y: np.log(x * y), lambda x, y: (1 / x, 1 / y)),
    ("sqrt(x + y)", lambda x, y: np.sqrt(x + y),
     lambda x, y: (0.5 / np.sqrt(x + y), 0.5 / np.sqrt(x + y))),
    ("sin(x) * cos(y)", lambda x, y: np.sin(x) * np.cos(y),
     lambda x, y: (np.cos(x) * np.cos(y), -np.sin(x) * np.sin(y))),
    ("tanh(x - y)", lambda x, y: np.tanh(x - y),
     lambda x, y: (1 - np.tanh(x - y) ** 2, -(1 - np.tanh(x - y) ** 2))),
    ("sigmoid(x * y)", lambda x, y: _sig(x * y),
     lambda x, y: (_sig(x * y) * (1 - _sig(x * y)) * y, _sig(x * y) * (1 - _sig(x * y)) * x)),
    ("relu(x - y) + relu(y - x)", lambda x, y: abs(x - y), lambda x, y: (-1.0, 1.0)),
    ("abs(x - y)", lambda x, y: abs(x - y), lambda x, y: (-1.0, 1.0)),
    ("max(x, y) + 2 * min(x, y)", lambda x, y: y + 2 * x, lambda x, y: (2.0, 1.0)),
    ("(x**2 + y - 11)**2 + (x + y**2 - 7)**2",
     lambda x, y: (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2,
     lambda x, y: (4 * x * (x**2 + y - 11) + 2 * (x + y**2 - 7),
                   2 * (x**2 + y - 11) + 4 * y * (x + y**2 - 7))),
    ("1.5e0 * x + 2 * 3 - y / 4", lambda x, y: 1.5 * x + 6 - y / 4, lambda x, y: (1.5, -0.25)),
]


@pytest.mark.parametrize(("text", "value", "grad"), CASES, ids=[c[0] for c in CASES])
def test_values_and_gradients_match_numpy(
    text: str,
    value: Callable[[float, float], float],
    grad: Callable[[float, float], tuple[float, float]],
) -> None:
    e = parse(text)
    x, y = mg.Value(P["x"]), mg.Value(P["y"])
    out = e({"x": x, "y": y} if e.variables == ("x", "y") else {"x": x})
    assert out.item() == pytest.approx(value(P["x"], P["y"]), rel=1e-12, abs=1e-12)
    out.backward()
    gx, gy = grad(P["x"], P["y"])
    assert float(x.grad) == pytest.approx(gx, rel=1e-12, abs=1e-12)
    if e.variables == ("x", "y"):
        assert float(y.grad) == pytest.approx(gy, rel=1e-12, abs=1e-12)


def test_to_function_gives_gradient_and_hessian_in_variable_order() -> None:
    f = parse("y**3 + x*y").to_function()      # variables (x, y)
    v = np.array([2.0, 3.0])
    assert mg.grad(f)(v).tolist() == [3.0, 27.0 + 2.0]
    assert mg.hessian(f)(v).tolist() == [[0.0, 1.0], [1.0, 18.0]]


def test_to_function_works_with_classify_and_find_critical_points() -> None:
    f = parse("x**2 - y**2").to_function()
    cp = mg.classify(f, np.zeros(2))
    assert cp.kind == "saddle"
    assert np.allclose(np.abs(cp.escape_direction), [0.0, 1.0])
    pts = mg.find_critical_points(parse("(x - 1)**2 + (y + 2)**2").to_function(),
                                  [(-5, 5), (-5, 5)], starts=3)
    assert [p.kind for p in pts] == ["minimum"]
    assert np.allclose(pts[0].x, [1.0, -2.0])


def test_to_function_rejects_a_point_of_the_wrong_shape() -> None:
    f = parse("x + y").to_function()
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        f(np.zeros(3))


def test_evaluates_elementwise_on_arrays() -> None:
    e = parse("x * y + 1")
    out = e({"x": np.array([1.0, 2.0]), "y": np.array([3.0, 4.0])})
    assert out.data.tolist() == [4.0, 9.0]
    assert parse("x**2")(np.array([1.0, 2.0, 3.0])).data.tolist() == [1.0, 4.0, 9.0]


def test_constants_are_folded_and_a_constant_expression_is_a_value() -> None:
    e = parse("2 * 3 + exp(0)")
    assert e.variables == ()
    out = e({})
    assert isinstance(out, mg.Value) and out.item() == 7.0 and not out.requires_grad


# ---- variables -----------------------------------------------------------------------


def test_variables_are_sorted_and_unique() -> None:
    e = parse("z * b + a - b + z")
    assert e.variables == ("a", "b", "z")
    assert e.text == "z * b + a - b + z"


def test_point_as_mapping_sequence_array_or_value() -> None:
    e = parse("a - 10 * b")   # variables (a, b)
    assert e({"b": 1.0, "a": 5.0}).item() == -5.0
    assert e([5.0, 1.0]).item() == -5.0
    assert e((5.0, 1.0)).item() == -5.0
    assert e(np.array([5.0, 1.0])).item() == -5.0
    v = mg.Value(np.array([5.0, 1.0]))
    e(v).backward()
    assert v.grad.tolist() == [1.0, -10.0]


def test_given_values_keep_their_gradients() -> None:
    w = mg.Value(3.0)
    out = parse("w**2")({"w": w})
    out.backward()
    assert float(w.grad) == 6.0


@pytest.mark.parametrize(
    ("point", "message"),
    [
        ({"x": 1.0}, "no value for y"),
        ({"x": 1.0, "y": 2.0, "q": 3.0}, "unknown variable"),
        ([1.0], "2 variable"),
        (np.zeros(3), "2 variable"),
        (1.0, "mapping"),
    ],
)
def test_a_point_that_does_not_fit_is_an_error(point: object, message: str) -> None:
    with pytest.raises(ExpressionError, match=message):
        parse("x + y")(point)


def test_identifiers_may_be_long_and_non_ascii() -> None:
    assert parse("theta_1 + θ + x2").variables == ("theta_1", "x2", "θ")


# ---- what is refused, and where -------------------------------------------------------

REJECTED = [
    # (text, message fragment, column)
    ("__import__('os').system('touch PWNED')", "attribute access ('.system')", 17),
    ("__import__('os')", "'__import__' is not allowed", 1),
    ("().__class__.__bases__[0].__subclasses__()", "attribute access ('.__subclasses__')", 26),
    ("x.real", "attribute access ('.real')", 2),
    ("x[0]", "subscripts", 1),
    ("x[0:1]", "subscripts", 1),
    ("lambda: 1", "lambda", 1),
    ("lambda x: x", "lambda", 1),
    ("[x for x in y]", "comprehensions", 1),
    ("{x: 1 for x in y}", "comprehensions", 1),
    ("x * (y for y in z)", "generator expressions", 5),
    ("exp(x=1)", "keyword arguments ('x=')", 5),
    ("max(x, **y)", "'**' unpacking", 8),
    ("exp(*x)", "'*' unpacking", 5),
    ("'abc'", "strings", 1),
    ("x + b'abc'", "strings", 5),
    ("f'{x}'", "f-strings", 1),
    ("foo(x)", "unknown function 'foo'", 1),
    ("eval(x)", "unknown function 'eval'", 1),
    ("exp(x)(y)", "calls are allowed only of a function by its name", 1),
    ("exp + 1", "'exp' is a function", 1),
    ("2 * max", "'max' is a function", 5),
    ("exp(x, y)", "exp() takes 1 argument, got 2", 1),
    ("max(x)", "max() takes 2 arguments, got 1", 1),
    ("__x + 1", "names may not start with '__'", 1),
    ("x + __builtins__", "'__builtins__' is not allowed", 5),
    ("sum()", "sum() takes at least 1 argument, got 0", 1),
    ("sum(*x)", "'*' unpacking is not allowed", 5),
    ("x // 2", "the operator '//'", 3),
    ("x @ y", "the operator '@'", 3),
    ("x ^ y", "the operator '^'", 3),
    ("~x", "the operator '~'", 1),
    ("not x", "the operator 'not'", 1),
    ("x and y", "'and'/'or'", 1),
    ("x < y", "comparisons", 1),
    ("x if y else z", "conditional expressions", 1),
    ("(y := 2)", "assignment expressions", 2),
    ("x, y", "tuples", 1),
    ("[x]", "lists", 1),
    ("{x}", "sets", 1),
    ("{x: y}", "dicts", 1),
    ("True", "the constant True", 1),
    ("None", "the constant None", 1),
    ("1j * x", "the constant 1j", 1),
    ("...", "the constant Ellipsis", 1),
    ("x +", "invalid syntax", None),
    ("x y", "invalid syntax", 1),
    ("import os", "invalid syntax", 1),
    ("x; y", "invalid syntax", 2),
    ("x = 1", "", None),
    ("(x", "'(' is never closed", 1),
    ("x)", "unmatched ')'", 2),
    ("x + )(", "unmatched ')'", 5),
    ("", "empty", None),
    ("   \n  ", "empty", None),
    ("x\0", "null bytes", None),
    ("1" * 5000, "integer literal is too long", 1),
    ("x ** 1001", "the exponent 1001 is too large", 6),
    ("x ** -1001", "the exponent -1001 is too large", 6),
    ("x ** 1000.5", "the exponent 1000.5 is too large", 6),
    ("x ** (10 * 100 + 1)", "the exponent 1001 is too large", 7),
    ("9**9**9**9", "the exponent 387420489 is too large", 7),
    ("x ** 1e400", "the exponent infinite is too large", 6),
]


@pytest.mark.parametrize(("text", "message", "column"), REJECTED,
                         ids=[repr(r[0])[:40] for r in REJECTED])
def test_rejected_with_a_one_line_message_naming_what_and_where(
    text: str, message: str, column: int | None
) -> None:
    with pytest.raises(ExpressionError) as info:
        parse(text)
    text_of = str(info.value)
    assert message in text_of
    assert "\n" not in text_of
    assert isinstance(info.value, ValueError)
    if column is not None:
        assert info.value.column == column
        assert f"column {column}" in text_of


def test_positions_on_later_lines_name_the_line() -> None:
    with pytest.raises(ExpressionError, match=r"line 3, column 3") as info:
        parse("(x +\n y +\n y.z)")
    assert (info.value.line, info.value.column) == (3, 3)


def test_multi_line_text_and_leading_blanks_are_fine() -> None:
    assert parse("  x +\n  y").variables == ("x", "y")
    assert parse("(x +\n y)\n").variables == ("x", "y")
    assert parse("   -x").variables == ("x",)


def test_a_non_string_is_refused() -> None:
    with pytest.raises(ExpressionError, match="must be a string"):
        parse(b"x")  # type: ignore[arg-type]


def test_refused_expressions_execute_nothing(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    for text in ["__import__('os').system('touch PWNED')",
                 "exp(__import__('os').system('touch PWNED'))",
                 "[__import__('os').system('touch PWNED') for _ in (1,)]"]:
        with pytest.raises(ExpressionError):
            parse(text)
    assert list(tmp_path.iterdir()) == []


def test_never_eval_exec_or_compile_to_code(monkeypatch) -> None:
    real_compile = builtins.compile

    def only_ast(source, filename, mode, flags=0, *args, **kwargs):  # type: ignore[no-untyped-def]
        assert flags & ast.PyCF_ONLY_AST, "compile() was asked for code, not an AST"
        return real_compile(source, filename, mode, flags, *args, **kwargs)

    def forbidden(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("eval/exec must never be called")

    monkeypatch.setattr(builtins, "compile", only_ast)
    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    e = parse("sin(x) ** 2 + max(x, y) / 3")
    assert e({"x": 0.0, "y": 3.0}).item() == 1.0
    with pytest.raises(ExpressionError):
        parse("().__class__")


# ---- the limits, exactly at and just over ---------------------------------------------


def test_length_limit_is_10000_characters() -> None:
    term = "x*1.00000+"                          # 10 characters
    at_limit = term * 999 + "x" + " " * 9       # 10,000 characters
    assert len(at_limit) == MAX_LENGTH == 10_000
    assert parse(at_limit)({"x": 2.0}).item() == pytest.approx(2.0 * 1000)
    with pytest.raises(ExpressionError, match="too long: 10,001 characters"):
        parse(at_limit + " ")


def test_length_is_checked_before_anything_else() -> None:
    huge = "(" * 1_000_000                      # would be a depth error if scanned
    start = time.perf_counter()
    with pytest.raises(ExpressionError, match="too long: 1,000,000 characters"):
        parse(huge)
    assert time.perf_counter() - start < 0.5


def test_bracket_depth_limit_is_100() -> None:
    assert MAX_DEPTH == 100
    assert parse("(" * 100 + "x" + ")" * 100).variables == ("x",)
    with pytest.raises(ExpressionError, match="nested more than 100 deep") as info:
        parse("(" * 101 + "x" + ")" * 101)
    assert info.value.column == 101
    assert parse("sin(" * 100 + "x" + ")" * 100)({"x": 0.0}).item() == 0.0
    with pytest.raises(ExpressionError, match="nested more than 100 deep"):
        parse("sin(" * 101 + "x" + ")" * 101)


def test_operation_depth_limit_is_100() -> None:
    assert parse("-" * 100 + "x")({"x": 3.0}).item() == 3.0
    with pytest.raises(ExpressionError, match="operations are nested more than 100 deep") as e:
        parse("-" * 101 + "x")
    assert e.value.column == 101
    chain = "x" + "**x" * 100                   # right-associative: 100 nested powers
    assert parse(chain).variables == ("x",)
    with pytest.raises(ExpressionError, match="nested more than 100 deep"):
        parse(chain + "**x")


def test_a_long_sum_is_long_not_deep() -> None:
    text = " + ".join(f"{i} * x" for i in range(1, 1001))
    assert parse(text)({"x": 1.0}).item() == 1000 * 1001 / 2
    text = " * ".join(["x"] * 500) + " / x"
    assert parse(text)({"x": 1.0}).item() == 1.0


def test_deep_trees_that_python_cannot_build_are_refused_cleanly() -> None:
    for text in ["-" * 9999 + "x", "+" * 9999 + "x", "x" + "**x" * 3000, "+".join(["x"] * 5000)]:
        with pytest.raises(ExpressionError):
            parse(text)


def test_exponent_limit_is_1000() -> None:
    assert MAX_EXPONENT == 1000
    assert parse("x ** 1000")({"x": 1.0}).item() == 1.0
    assert parse("x ** -1000")({"x": 1.0}).item() == 1.0
    assert parse("x ** (10 * 100)")({"x": 1.0}).item() == 1.0
    assert parse("x ** 2.5")({"x": 4.0}).item() == 32.0
    for text in ["x ** 1001", "x ** -1001", "x ** (2 ** 10)"]:
        with pytest.raises(ExpressionError, match="at most 1000 in absolute value"):
            parse(text)


def test_power_towers_are_refused_without_computing_them() -> None:
    start = time.perf_counter()
    for text in ["9**9**9**9", "9**9**9**9**9**9**9", "x * 9**9**9**9", "x**(10**1000)",
                 "2**3**4**5**6"]:
        with pytest.raises(ExpressionError, match="exponent"):
            parse(text)
    assert time.perf_counter() - start < 0.5


def test_constants_never_use_python_big_integers() -> None:
    # 10**1000 is folded in float64 (inf), not as a 1001-digit integer.
    assert parse("10 ** 1000 * x")({"x": 1.0}).item() == math.inf
    assert parse("99999999999999999999999 * x")({"x": 1.0}).item() == pytest.approx(1e23)


def test_variable_exponents_are_allowed() -> None:
    assert parse("x ** y")({"x": 2.0, "y": 10.0}).item() == 1024.0


def test_the_function_table() -> None:
    # every name is microgd's own function (or a sum of several), none is Python's
    import microgd as mg

    one = {name for name, (n, _) in FUNCTIONS.items() if n == 1}
    assert {"exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu", "abs", "log1p",
            "expm1", "arctanh", "softplus", "sinc", "round"} <= one
    for name in one:
        assert FUNCTIONS[name][1] is getattr(mg, name), name
    assert {name for name, (n, _) in FUNCTIONS.items() if n == 2} == {
        "max", "min", "logaddexp", "logaddexp2", "arctan2", "hypot", "fmax", "fmin", "mod",
        "fmod"}
    assert {name for name, (n, _) in FUNCTIONS.items() if n == VARIADIC} == {"sum", "prod",
                                                                              "norm"}


def test_the_elementwise_names_sum_and_mod_evaluate_and_differentiate() -> None:
    e = parse("sum(x, y ** 2, 3) + hypot(x, y) + x % 2 + log1p(x) - logaddexp(x, y)")
    x, y = 0.5, 2.0
    want = (x + y ** 2 + 3 + math.hypot(x, y) + x % 2 + math.log1p(x)
            - math.log(math.exp(x) + math.exp(y)))
    assert e({"x": x, "y": y}).item() == pytest.approx(want, rel=1e-14)
    gx, gy = mg.grad(e.to_function())(np.array([x, y]))
    sx = 1 / (1 + math.exp(y - x))
    assert gx == pytest.approx(1 + x / math.hypot(x, y) + 1 + 1 / (1 + x) - sx, rel=1e-12)
    assert gy == pytest.approx(2 * y + y / math.hypot(x, y) - (1 - sx), rel=1e-12)
    assert parse("7 % 3 + 0 * x")({"x": 0.0}).item() == 1.0        # folded as a constant
    assert parse("x % y")({"x": -7.0, "y": 3.0}).item() == 2.0      # the sign of y, as NumPy
    e = parse("fmod(x, y)")                                           # the sign of x, as C
    assert e({"x": -7.0, "y": 3.0}).item() == -1.0
    np.testing.assert_array_equal(mg.grad(e.to_function())(np.array([-7.0, 3.0])), [1.0, 2.0])
    assert parse("sum(x)")({"x": 4.0}).item() == 4.0


def test_prod_and_norm_of_several_arguments() -> None:
    e = parse("prod(x, y, 2) + norm(x, y)")
    assert e({"x": 3.0, "y": 4.0}).item() == pytest.approx(24.0 + 5.0, rel=1e-15)
    g = mg.grad(e.to_function())(np.array([3.0, 4.0]))
    np.testing.assert_allclose(g, [8.0 + 0.6, 6.0 + 0.8], rtol=1e-14)
    # the norm's subgradient at 0 is 0, so `critical` can classify its minimum
    g0 = mg.grad(parse("norm(x, y)").to_function())(np.zeros(2))
    assert np.array_equal(g0, [0.0, 0.0])


def test_repr() -> None:
    assert repr(parse("x + y")) == "Expression('x + y', variables=('x', 'y'))"
    assert isinstance(parse("x"), Expression)


# ---- property tests -------------------------------------------------------------------

_PY_FUNCTIONS: dict[str, Callable[..., float]] = {
    "exp": math.exp, "log": math.log, "sqrt": math.sqrt, "sin": math.sin, "cos": math.cos,
    "tanh": math.tanh, "sigmoid": lambda v: 1.0 / (1.0 + math.exp(-v)),
    "relu": lambda v: max(v, 0.0), "abs": abs, "max": max, "min": min,
    "tan": math.tan, "sinh": math.sinh, "cosh": math.cosh, "arctan": math.atan,
    "arcsinh": math.asinh, "log1p": math.log1p, "expm1": math.expm1, "exp2": lambda v: 2.0 ** v,
    "log2": math.log2, "log10": math.log10, "square": lambda v: v * v, "floor": math.floor,
    "ceil": math.ceil,
}
# the one-argument names that Python's math module can check
_UNARY = [name for name, (n, _) in FUNCTIONS.items() if n == 1 and name in _PY_FUNCTIONS]
_OPS = ["+", "-", "*", "/"]


def _grammar() -> st.SearchStrategy[str]:
    leaves = st.one_of(
        st.sampled_from(["x", "y", "z"]),
        st.integers(0, 20).map(str),
        st.sampled_from(["0.5", "1.25", "3.0", "2e0", "1e-1"]),
    )

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.tuples(inner, st.sampled_from(_OPS), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            st.tuples(inner, st.sampled_from(_OPS), inner).map(lambda t: f"{t[0]}{t[1]}{t[2]}"),
            st.tuples(inner, st.integers(-2, 3)).map(lambda t: f"({t[0]})**{t[1]}"),
            inner.map(lambda s: f"-{s}"),
            inner.map(lambda s: f"+({s})"),
            st.tuples(st.sampled_from(_UNARY), inner).map(lambda t: f"{t[0]}({t[1]})"),
            st.tuples(st.sampled_from(["max", "min"]), inner, inner).map(
                lambda t: f"{t[0]}({t[1]}, {t[2]})"),
        )

    return st.recursive(leaves, extend, max_leaves=12)


class _FloatLiterals(ast.NodeTransformer):
    """Integer literals as floats: Python then computes in float64, as the parser does."""

    def visit_Constant(self, node: ast.Constant) -> ast.Constant:
        if isinstance(node.value, int):
            return ast.copy_location(ast.Constant(float(node.value)), node)
        return node


_POINT = st.fixed_dictionaries({k: st.integers(-12, 12).map(lambda i: i / 4) for k in "xyz"})


@given(text=_grammar(), point=_POINT)
def test_random_expressions_evaluate_like_python(text: str, point: dict[str, float]) -> None:
    # Python's own evaluation of the same (generated, known-safe) text is the reference.
    tree = _FloatLiterals().visit(ast.parse(text, mode="eval"))
    code = compile(tree, "<generated>", "eval")
    try:
        expected = eval(code, {"__builtins__": {}}, {**_PY_FUNCTIONS, **point})  # noqa: S307
    except (ZeroDivisionError, OverflowError, ValueError):
        assume(False)
    assume(isinstance(expected, (int, float)) and math.isfinite(expected))
    assume(abs(expected) < 1e12)
    e = parse(text)
    assert set(e.variables) <= {"x", "y", "z"}
    with np.errstate(all="ignore"):
        got = e({k: point[k] for k in e.variables}).item()
    assert got == pytest.approx(float(expected), rel=1e-7, abs=1e-7)


@given(text=_grammar())
def test_random_expressions_give_the_same_value_through_to_function(text: str) -> None:
    e = parse(text)
    point = np.linspace(0.3, 0.9, len(e.variables))
    with np.errstate(all="ignore"):
        a = e(point).item() if e.variables else e({}).item()
        b = e.to_function()(point).item()
    assert a == b or (math.isnan(a) and math.isnan(b))


_CHARS = list("xyz019.e+-*/()[]{},:;=%@'\"_ #\\\nlambdaexpor<>!~&|")
_TOKENS = ["x", "y", "2", "1e3", "0.5", "+", "-", "*", "/", "**", "(", ")", ",", ".", "[", "]",
           "exp", "max", "lambda", ":", "__import__", "'os'", "__class__", " ", "if", "else",
           "for", "in", "=", "9", "not", "and", "\n", "{", "}", "*", "@", "%"]
_FUZZ = st.one_of(st.text(alphabet=st.sampled_from(_CHARS), max_size=40),
                  st.lists(st.sampled_from(_TOKENS), max_size=25).map("".join))


@given(text=_FUZZ)
def test_any_text_parses_or_raises_expression_error(text: str) -> None:
    try:
        e = parse(text)
    except ExpressionError as exc:
        assert "\n" not in str(exc)
    else:
        assert all(n.isidentifier() and not n.startswith("__") for n in e.variables)
