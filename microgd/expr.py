"""A safe parser for formulas like ``"x**2 - y**2"``: a whitelist, never ``eval``.

The text is parsed by :func:`ast.parse` and the tree is walked node by node;
anything that is not on the whitelist is rejected with an
:class:`ExpressionError` naming what is not allowed and where.  Nothing in the
text is ever compiled or executed: the accepted tree is turned into a short
list of instructions that only call :class:`microgd.Value` arithmetic and the
functions of :mod:`microgd.functions`.

The grammar
-----------
- numbers: integer and float literals (``2``, ``0.5``, ``1e-3``);
- variables: identifiers such as ``x``, ``w1`` or ``theta`` (not starting with
  ``__``, not one of the function names);
- ``+  -  *  /  **``, unary ``-`` and ``+``, parentheses;
- ``%`` (``x % y`` is ``mod(x, y)``, the sign of ``y`` as in NumPy and Python);
- calls, by plain name, of the elementwise functions of :mod:`microgd`
  (``exp exp2 expm1 log log2 log10 log1p sqrt square reciprocal``, the
  trigonometric and hyperbolic functions and their inverses, ``sigmoid relu
  softplus elu gelu leaky_relu abs sign floor ceil round sinc deg2rad
  rad2deg``; one argument), ``max min`` (elementwise maximum/minimum),
  ``logaddexp logaddexp2 arctan2 hypot fmax fmin mod fmod`` (two arguments), and
  ``sum prod norm`` of one or more arguments (``norm(x, y)`` is the Euclidean
  norm, with gradient 0 at 0).

Limits
------
- at most :data:`MAX_LENGTH` (10,000) characters, checked before parsing;
- nesting at most :data:`MAX_DEPTH` (100) deep: brackets in the raw text
  (checked before parsing) and operations in the tree (a chain such as
  ``a + b - c + d`` is one level, however long);
- an exponent that is a constant must be at most :data:`MAX_EXPONENT` (1000)
  in absolute value.  Constants are folded in floating point only, so
  ``9**9**9**9`` is rejected at its innermost ``9**9`` without computing
  anything large.

Examples
--------
>>> from microgd.expr import parse
>>> e = parse("x**2 - y**2")
>>> e.variables
('x', 'y')
>>> e({"x": 3.0, "y": 1.0}).item()
8.0
>>> parse("x.__class__")
Traceback (most recent call last):
    ...
microgd.expr.ExpressionError: attribute access ('.__class__') is not allowed (at column 2)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from microgd.expr_parser import (
    _NO,
    FUNCTIONS,
    MAX_DEPTH,
    MAX_EXPONENT,
    MAX_LENGTH,
    VARIADIC,
    ExpressionError,
    compile_text,
)
from microgd.value import Value

__all__ = [
    "FUNCTIONS", "MAX_DEPTH", "MAX_EXPONENT", "MAX_LENGTH", "VARIADIC", "Expression",
    "ExpressionError", "parse",
]


class Expression:
    """A parsed, checked formula; call it to evaluate it with microgd Values.

    Build one with :func:`parse`.

    Attributes
    ----------
    text : str
        The text as given.
    variables : tuple of str
        The variable names, sorted (Python string order): the order of a point
        given as a sequence or an array.

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> e = parse("sin(x) * y")
    >>> e.variables
    ('x', 'y')
    >>> f = e.to_function()                  # f(v) with v = [x, y]
    >>> mg.grad(f)(np.array([0.0, 2.0])).tolist()
    [2.0, 0.0]
    """

    __slots__ = ("text", "variables", "_code", "_index")

    def __init__(self, text: str, variables: tuple[str, ...], code: list[tuple]) -> None:
        self.text = text
        self.variables = variables
        self._code = code
        self._index = {name: i for i, name in enumerate(variables)}

    def __repr__(self) -> str:
        return f"Expression({self.text!r}, variables={self.variables!r})"

    def __call__(self, point: Any) -> Value:
        """Evaluate at ``point``: a mapping ``name -> value`` or values in variable order.

        Parameters
        ----------
        point : mapping, sequence, ndarray, Value or number
            ``{"x": 1.0, "y": 2.0}``; or one value per variable in the order of
            :attr:`variables` (a list, or an array/Value of shape ``(d,)``); or a
            single number when there is one variable.  Values may be arrays
            (the formula applies elementwise, with broadcasting) or
            :class:`microgd.Value` objects, through which gradients flow;
            other values are wrapped as new Values.  With one variable, an
            array (not a list) is that variable's value, whatever its shape.

        Returns
        -------
        Value
            The formula's value, differentiable with ``backward()``.

        Examples
        --------
        >>> e = parse("x * y + 1")
        >>> e({"x": 2.0, "y": 3.0}).item(), e([2.0, 3.0]).item()
        (7.0, 7.0)
        """
        return self._run(self._bind(point))

    def to_function(self) -> Callable[[Any], Value]:
        """The formula as ``f(x)`` of one array ``x`` of shape ``(d,)``, in variable order.

        This is the form :func:`microgd.classify`, :func:`microgd.find_critical_points`
        and the transforms take; ``f`` builds its result from the Values ``x[i]``.

        Examples
        --------
        >>> import numpy as np
        >>> import microgd as mg
        >>> f = parse("x**2 - y**2").to_function()
        >>> mg.classify(f, np.zeros(2)).kind
        'saddle'
        """
        d = len(self.variables)

        def f(x: Any) -> Value:
            v = x if isinstance(x, Value) else Value(np.asarray(x, dtype=float))
            if v.shape != (d,):
                raise ValueError(f"expression {self.text!r}: expects a point of shape ({d},) "
                                 f"(variables {', '.join(self.variables) or 'none'}), "
                                 f"got shape {v.shape}")
            return self._run([v[i] for i in range(d)])

        f.__name__ = f.__qualname__ = "expression"
        f.__doc__ = f"The expression {self.text!r} of x = [{', '.join(self.variables)}]."
        return f

    # ---- evaluation ---------------------------------------------------------

    def _bind(self, point: Any) -> list[Any]:
        names, d = self.variables, len(self.variables)
        if isinstance(point, Mapping):
            missing = [n for n in names if n not in point]
            extra = sorted(str(k) for k in point if k not in self._index)
            if missing or extra:
                parts = []
                if missing:
                    parts.append(f"no value for {', '.join(missing)}")
                if extra:
                    parts.append(f"unknown variable(s) {', '.join(extra)}")
                raise ExpressionError(f"expression {self.text!r}: {'; '.join(parts)} "
                                      f"(variables: {', '.join(names) or 'none'})")
            values = [point[n] for n in names]
        elif d == 1 and not isinstance(point, (list, tuple)):
            values = [point]  # the one variable's value, of any shape
        elif isinstance(point, (Value, np.ndarray)) and point.ndim == 1:
            if len(point) != d:
                raise ExpressionError(f"expression {self.text!r}: {d} variable(s) but a "
                                      f"point of length {len(point)}")
            values = [point[i] for i in range(d)]
        elif isinstance(point, Sequence) and not isinstance(point, str):
            if len(point) != d:
                raise ExpressionError(f"expression {self.text!r}: {d} variable(s) but "
                                      f"{len(point)} value(s)")
            values = list(point)
        else:
            raise ExpressionError(f"expression {self.text!r}: give a mapping name -> value or "
                                  f"{d} value(s) in the order {', '.join(names)}")
        return [v if isinstance(v, Value) else Value(v) for v in values]

    def _run(self, env: list[Any]) -> Value:
        stack: list[Any] = []
        pop, push = stack.pop, stack.append
        for ins in self._code:
            kind = ins[0]
            if kind == "var":
                push(env[ins[1]])
            elif kind == "const":
                push(ins[1])
            elif kind == "neg":
                push(-pop())
            elif kind == "bin":
                _, fn, a, b = ins
                if b is _NO:
                    b = pop()
                if a is _NO:
                    a = pop()
                push(fn(a, b))
            else:  # "call"
                _, fn, consts = ins
                args = list(consts)
                for i in range(len(args) - 1, -1, -1):
                    if args[i] is _NO:
                        args[i] = pop()
                push(fn(*args))
        (out,) = stack
        return out if isinstance(out, Value) else Value(out, requires_grad=False)


# ---- parsing -------------------------------------------------------------------


def parse(text: str) -> Expression:
    """Parse and check a formula; raise :class:`ExpressionError` on anything not allowed.

    Parameters
    ----------
    text : str
        The formula, e.g. ``"(x**2 + y - 11)**2 + (x + y**2 - 7)**2"``.  It may
        span several lines.

    Returns
    -------
    Expression

    Raises
    ------
    ExpressionError
        With a one-line message naming what is not allowed and its column.

    Examples
    --------
    >>> parse("exp(-x) + max(x, 0) * w1").variables
    ('w1', 'x')
    >>> parse("__import__('os')")
    Traceback (most recent call last):
        ...
    microgd.expr.ExpressionError: the name '__import__' is not allowed: names may not start \
with '__' (at column 1)
    >>> parse("x ** 10000")
    Traceback (most recent call last):
        ...
    microgd.expr.ExpressionError: the exponent 10000 is too large: at most 1000 in absolute \
value (at column 6)
    """
    return Expression(text, *compile_text(text))
