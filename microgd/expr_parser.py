"""The checker and compiler behind :func:`microgd.expr.parse`: the whitelist, the
limits, and the walk that turns an accepted tree into postfix instructions.

The grammar and the limits are described in :mod:`microgd.expr`.  Nothing here
evaluates anything: :func:`compile_text` returns the variables and a list of
instructions (``var``, ``const``, ``neg``, ``bin``, ``call``) that only name
:class:`microgd.Value` arithmetic and functions of :mod:`microgd.functions`;
:class:`microgd.expr.Expression` runs them.
"""

from __future__ import annotations

import ast
import operator
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from microgd import functions as F
from microgd.value import Value

MAX_LENGTH = 10_000
"""Longest accepted expression, in characters."""

MAX_DEPTH = 100
"""Deepest accepted nesting: of brackets in the text, and of operations in the tree."""

MAX_EXPONENT = 1000
"""Largest accepted absolute value of a constant exponent."""

def _sum_of(*xs: Any) -> Value:
    return F.sum(F.stack(xs))


def _prod_of(*xs: Any) -> Value:
    return F.prod(F.stack(xs))


def _norm_of(*xs: Any) -> Value:
    """The Euclidean norm of the arguments: its gradient at 0 is 0, not NaN."""
    return F.norm(F.stack(xs))


_ONE = [
    "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "square", "reciprocal",
    "sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "arcsinh",
    "arccosh", "arctanh", "sigmoid", "relu", "softplus", "elu", "gelu", "leaky_relu", "abs",
    "sign", "floor", "ceil", "round", "sinc", "deg2rad", "rad2deg"
]
_TWO = {"max": F.maximum, "min": F.minimum, "logaddexp": F.logaddexp,
        "logaddexp2": F.logaddexp2, "arctan2": F.arctan2, "hypot": F.hypot, "fmax": F.fmax,
        "fmin": F.fmin, "mod": F.mod, "fmod": F.fmod}

VARIADIC = -1
"""The arity of a function of one or more arguments (``sum(x, y, z)``)."""

FUNCTIONS: dict[str, tuple[int, Callable[..., Value]]] = {
    **{name: (1, getattr(F, name)) for name in _ONE},
    **{name: (2, fn) for name, fn in _TWO.items()},
    "sum": (VARIADIC, _sum_of),
    "prod": (VARIADIC, _prod_of),
    "norm": (VARIADIC, _norm_of),
}
"""The callable names: ``name -> (number of arguments, microgd function)``."""

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
    ast.Mod: operator.mod,
}

# A left operand continuing a chain of the same precedence (a + b - c, a * b / c)
# does not nest one level deeper: long sums are long, not deep.
_GROUP: dict[type[ast.operator], int] = {ast.Add: 1, ast.Sub: 1, ast.Mult: 2, ast.Div: 2,
                                         ast.Mod: 2}

_OPERATOR_SYMBOLS: dict[type, str] = {
    ast.FloorDiv: "//", ast.MatMult: "@", ast.LShift: "<<", ast.RShift: ">>",
    ast.BitOr: "|", ast.BitXor: "^", ast.BitAnd: "&", ast.Not: "not", ast.Invert: "~",
}

_DESCRIPTIONS: dict[type, str] = {
    ast.Lambda: "lambda is",
    ast.ListComp: "comprehensions are",
    ast.SetComp: "comprehensions are",
    ast.DictComp: "comprehensions are",
    ast.GeneratorExp: "generator expressions are",
    ast.Subscript: "subscripts ('[...]') are",
    ast.Slice: "slices are",
    ast.Starred: "'*' unpacking is",
    ast.Tuple: "tuples (a ',' outside a function call) are",
    ast.List: "lists are",
    ast.Set: "sets are",
    ast.Dict: "dicts are",
    ast.Compare: "comparisons are",
    ast.BoolOp: "'and'/'or' are",
    ast.IfExp: "conditional expressions ('... if ... else ...') are",
    ast.NamedExpr: "assignment expressions (':=') are",
    ast.JoinedStr: "f-strings are",
    ast.FormattedValue: "f-strings are",
    ast.Await: "'await' is",
    ast.Yield: "'yield' is",
    ast.YieldFrom: "'yield' is",
}

_NO = object()  # "this operand is on the stack", in an instruction's constant slots


class ExpressionError(ValueError):
    """An expression that is not allowed or not well formed.

    The message is one line: what is wrong and where (a 1-based column, and
    the line when the text has several).

    Attributes
    ----------
    line, column : int or None
        Where the problem is (1-based), when it has a place.
    """

    __module__ = "microgd.expr"  # where it is public (and how tracebacks name it)

    def __init__(self, message: str, line: int | None = None,
                 column: int | None = None) -> None:
        super().__init__(message)
        self.line = line
        self.column = column


def compile_text(text: str) -> tuple[tuple[str, ...], list[tuple]]:
    """Check ``text`` (see :func:`microgd.expr.parse`): its variables, sorted, and
    its postfix instructions; :class:`ExpressionError` on anything not allowed."""
    if not isinstance(text, str):
        raise ExpressionError(f"an expression must be a string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"the expression is too long: {len(text):,} characters "
                              f"(at most {MAX_LENGTH:,})")
    src = text.replace("\r\n", "\n").replace("\r", "\n")
    if not src.strip():
        raise ExpressionError("the expression is empty")
    lines = src.split("\n")
    where = _Locator(lines)
    _check_brackets(src, where)
    # Wrapping in parentheses lets the text span lines and start with blanks; the
    # brackets were just checked to balance, so the wrapper cannot change its meaning.
    try:
        with warnings.catch_warnings():  # e.g. SyntaxWarning for "1 is x": an error follows
            warnings.simplefilter("ignore")
            tree = ast.parse("(" + src + "\n)", mode="eval")
    except SyntaxError as exc:
        msg = exc.msg or "invalid syntax"
        if "Exceeds the limit" in msg:
            msg = "an integer literal is too long"
        lineno = exc.lineno or 1
        col = (exc.offset or 1) - (1 if lineno == 1 else 0)
        raise ExpressionError(f"{msg} {where.chars(lineno, col)}", *where.place(lineno, col)
                              ) from None
    except (RecursionError, MemoryError):
        raise ExpressionError(f"the expression is nested too deeply or has too long a chain "
                              f"of operators (at most {MAX_DEPTH} levels)") from None
    except ValueError as exc:  # e.g. null bytes, on some Python versions
        raise ExpressionError(f"the expression cannot be parsed: {exc}") from None
    return _compile(tree.body, where)


class _Locator:
    """Turns AST positions (of the wrapped source, in UTF-8 bytes) into text positions."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines

    def node(self, node: ast.AST, byte_offset: int | None = None) -> tuple[int, int]:
        lineno = getattr(node, "lineno", 1)
        off = getattr(node, "col_offset", 0) if byte_offset is None else byte_offset
        line = ("(" if lineno == 1 else "") + (self.lines[lineno - 1]
                                                if lineno <= len(self.lines) else "")
        col = len(line.encode("utf-8")[:off].decode("utf-8", errors="ignore"))
        # 1-based, without the wrapper (a node starting at the wrapper is at column 1)
        return lineno, max(col + (0 if lineno == 1 else 1), 1)

    def operator(self, node: ast.BinOp, symbol: str) -> int | None:
        """Byte offset of ``symbol`` between the operands of ``node``, when on one line."""
        left, right = node.left, node.right
        lineno = getattr(left, "end_lineno", None)
        if lineno is None or lineno != getattr(right, "lineno", None):
            return None
        if lineno > len(self.lines):
            return None
        raw = (("(" if lineno == 1 else "") + self.lines[lineno - 1]).encode("utf-8")
        start = getattr(left, "end_col_offset", 0)
        found = raw.find(symbol.encode("utf-8"), start, right.col_offset)
        return None if found < 0 else found

    def place(self, lineno: int, col: int) -> tuple[int | None, int | None]:
        if lineno > len(self.lines):
            return None, None
        return lineno, max(col, 1)

    def chars(self, lineno: int, col: int) -> str:
        if lineno > len(self.lines):
            return "(at the end)"
        if len(self.lines) == 1:
            return f"(at column {max(col, 1)})"
        return f"(at line {lineno}, column {max(col, 1)})"

    def error(self, what: str, node: ast.AST, byte_offset: int | None = None) -> ExpressionError:
        lineno, col = self.node(node, byte_offset)
        return ExpressionError(f"{what} {self.chars(lineno, col)}", lineno, col)


def _check_brackets(src: str, where: _Locator) -> None:
    """Bracket depth of the raw text, before ``ast.parse`` can recurse on it."""
    depth = 0
    opened: list[tuple[int, int]] = []
    lineno, col = 1, 0
    for ch in src:
        if ch == "\n":
            lineno, col = lineno + 1, 0
            continue
        col += 1
        if ch in "([{":
            depth += 1
            opened.append((lineno, col))
            if depth > MAX_DEPTH:
                raise ExpressionError(f"brackets are nested more than {MAX_DEPTH} deep "
                                      f"{where.chars(lineno, col)}", lineno, col)
        elif ch in ")]}":
            depth -= 1
            if depth < 0:
                raise ExpressionError(f"unmatched {ch!r} {where.chars(lineno, col)}",
                                      lineno, col)
            opened.pop()
    if opened:
        lineno, col = opened[-1]
        raise ExpressionError(f"'(' is never closed {where.chars(lineno, col)}", lineno, col)


def _number(node: ast.Constant, where: _Locator) -> int | float:
    value = node.value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if isinstance(value, (str, bytes)):
            raise where.error("strings are not allowed", node)
        raise where.error(f"the constant {value!r} is not allowed: only int and float numbers",
                          node)
    if isinstance(value, int):
        if abs(value) <= 2**53:
            return value
        try:
            return float(value)
        except OverflowError:
            raise where.error("the number is too large", node) from None
    return value


def _fold(fn: Callable[..., Any], *args: Any) -> float:
    """A constant subexpression, in float64 (never Python's exact big-int arithmetic)."""
    with np.errstate(all="ignore"):
        out = fn(*(np.float64(a) for a in args))
    return float(out.item() if isinstance(out, Value) else out)


def _exponent(value: float, node: ast.AST, where: _Locator) -> int | float:
    if not np.isfinite(value) or abs(value) > MAX_EXPONENT:
        shown = f"{value:.6g}" if np.isfinite(value) or np.isnan(value) else "infinite"
        if np.isfinite(value) and value == int(value):
            shown = str(int(value))
        raise where.error(f"the exponent {shown} is too large: at most {MAX_EXPONENT} "
                          "in absolute value", node)
    return int(value) if value == int(value) else value


def _describe(node: ast.AST) -> str:
    """``"<what> is/are not allowed"`` for a node outside the whitelist."""
    if isinstance(node, ast.Attribute):
        return f"attribute access ('.{node.attr}') is not allowed"
    if isinstance(node, (ast.BinOp, ast.UnaryOp)):
        symbol = _OPERATOR_SYMBOLS.get(type(node.op), type(node.op).__name__)
        return f"the operator '{symbol}' is not allowed"
    what = _DESCRIPTIONS.get(type(node), f"{type(node).__name__} expressions are")
    return f"{what} not allowed"


def _compile(root: ast.expr, where: _Locator) -> tuple[tuple[str, ...], list[tuple]]:
    """Check every node against the whitelist and emit postfix instructions.

    Iterative (an explicit stack), so no tree shape can exhaust Python's
    recursion.  Constant subexpressions are folded in float64.
    """
    names: set[str] = set()
    code: list[tuple] = []
    results: list[Any] = []  # per finished node: its constant value, or _NO (code emitted)
    # Entries: (node, nesting level, children done?, chain group of the parent's left operand)
    todo: list[tuple[ast.AST, int, bool, int]] = [(root, 0, False, 0)]
    while todo:
        node, level, done, chain = todo.pop()
        if not done:
            level = _visit(node, level, chain, names, where)
            todo.append((node, level, True, chain))
            children = _children(node)
            for i, child in reversed(list(enumerate(children))):
                group = (_GROUP.get(type(node.op), 0) if isinstance(node, ast.BinOp) and i == 0
                         else 0)
                todo.append((child, level, False, group))
            continue
        _emit(node, code, results, where)
    (top,) = results
    if top is not _NO:
        code = [("const", top)]
    variables = tuple(sorted(names))
    index = {n: i for i, n in enumerate(variables)}
    code = [("var", index[ins[1]]) if ins[0] == "var" else ins for ins in code]
    return variables, code


def _children(node: ast.AST) -> list[ast.AST]:
    if isinstance(node, ast.BinOp):
        return [node.left, node.right]
    if isinstance(node, ast.UnaryOp):
        return [node.operand]
    if isinstance(node, ast.Call):
        return list(node.args)
    return []


def _visit(node: ast.AST, level: int, chain: int, names: set[str], where: _Locator) -> int:
    """Check one node before its children; return the nesting level its children are at."""
    if isinstance(node, ast.Constant):
        _number(node, where)
        return level
    if isinstance(node, ast.Name):
        if node.id.startswith("__"):
            raise where.error(f"the name {node.id!r} is not allowed: names may not start "
                              "with '__'", node)
        if node.id in FUNCTIONS:
            raise where.error(f"{node.id!r} is a function: call it as {node.id}(...); it "
                              "cannot be a variable", node)
        names.add(node.id)
        return level
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _BINARY:
            symbol = _OPERATOR_SYMBOLS.get(type(node.op), "")
            raise where.error(_describe(node), node,
                              where.operator(node, symbol) if symbol else None)
        same_chain = chain != 0 and _GROUP.get(type(node.op), 0) == chain
        level = level if same_chain else level + 1
    elif isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, (ast.USub, ast.UAdd)):
            raise where.error(_describe(node), node)
        level += 1
    elif isinstance(node, ast.Call):
        _check_call(node, where)
        level += 1
    elif isinstance(node, ast.Attribute):
        raise where.error(_describe(node), node, _dot_offset(node))
    else:
        raise where.error(_describe(node), node)
    if level > MAX_DEPTH:
        raise where.error(f"operations are nested more than {MAX_DEPTH} deep", node)
    return level


def _dot_offset(node: ast.Attribute) -> int | None:
    """Byte offset of the '.' before the attribute name (None if it is not just before)."""
    end = getattr(node, "end_col_offset", None)
    if end is None or getattr(node, "end_lineno", None) != getattr(node, "lineno", None):
        return None
    return end - len(node.attr.encode("utf-8")) - 1


def _check_call(node: ast.Call, where: _Locator) -> None:
    func = node.func
    if isinstance(func, ast.Attribute):
        raise where.error(_describe(func), func, _dot_offset(func))
    if not isinstance(func, ast.Name):
        raise where.error("calls are allowed only of a function by its name "
                          f"({', '.join(FUNCTIONS)})", node)
    name = func.id
    if name.startswith("__"):
        raise where.error(f"the name {name!r} is not allowed: names may not start with '__'",
                          func)
    if name not in FUNCTIONS:
        raise where.error(f"unknown function {name!r} (supported: {', '.join(FUNCTIONS)})",
                          func)
    if node.keywords:
        kw = node.keywords[0]
        what = ("'**' unpacking is" if kw.arg is None
                else f"keyword arguments ('{kw.arg}=') are")
        raise where.error(f"{what} not allowed", kw)
    for arg in node.args:
        if isinstance(arg, ast.Starred):
            raise where.error("'*' unpacking is not allowed", arg)
    arity = FUNCTIONS[name][0]
    if arity == VARIADIC:
        if not node.args:
            raise where.error(f"{name}() takes at least 1 argument, got 0", func)
    elif len(node.args) != arity:
        plural = "" if arity == 1 else "s"
        raise where.error(f"{name}() takes {arity} argument{plural}, got {len(node.args)}",
                          func)


def _emit(node: ast.AST, code: list[tuple], results: list[Any], where: _Locator) -> None:
    """After a node's children: fold it if constant, else emit its instruction."""
    if isinstance(node, ast.Constant):
        results.append(_number(node, where))
    elif isinstance(node, ast.Name):
        code.append(("var", node.id))
        results.append(_NO)
    elif isinstance(node, ast.UnaryOp):
        a = results.pop()
        if isinstance(node.op, ast.UAdd):
            results.append(a)
        elif a is _NO:
            code.append(("neg",))
            results.append(_NO)
        else:
            results.append(_fold(operator.neg, a))
    elif isinstance(node, ast.BinOp):
        b = results.pop()
        a = results.pop()
        if isinstance(node.op, ast.Pow) and b is not _NO:
            b = _exponent(float(b), node.right, where)
        fn = _BINARY[type(node.op)]
        if a is _NO or b is _NO:
            code.append(("bin", fn, a, b))
            results.append(_NO)
        else:
            results.append(_fold(fn, a, b))
    else:  # ast.Call, checked by _visit
        assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        fn = FUNCTIONS[node.func.id][1]
        args = results[len(results) - len(node.args):]
        del results[len(results) - len(node.args):]
        if any(a is _NO for a in args):
            code.append(("call", fn, tuple(args)))
            results.append(_NO)
        else:
            results.append(_fold(fn, *args))
