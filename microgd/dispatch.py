"""NumPy's own functions on Values, and the methods ``v.NAME(...)``.

NumPy hands a ufunc call on a Value to ``Value.__array_ufunc__`` and a function
call (``np.sum(v)``, ``np.concatenate([v, w])``) to ``Value.__array_function__``;
both look the NumPy object up in the tables merged here from the function
families (each family module of :mod:`microgd.functions` holds its own
``UFUNCS``, ``FUNCTIONS`` and ``METHODS``).  The methods ``v.exp()``,
``v.sum(axis=0)``, ... are the functions ``microgd.NAME`` themselves, set on
the class: each operation is written once, in ``functions``.

Importing this module registers everything; ``microgd/__init__.py`` does it,
as the pictures layer registers the SVG renderer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from microgd import functions as F
from microgd.functions._common import reject
from microgd.value import Value, as_array

UFUNCS: dict[Any, Any] = {u: f for family in F.FAMILIES for u, f in family.UFUNCS.items()}
"""NumPy ufuncs that return a Value when given one."""


def _reduce_method(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``ufunc.reduce`` as ``fn`` (``np.add.reduce(v)`` is ``mg.sum(v, axis=0)``)."""
    def reduce(a: Any, axis: Any = 0, dtype: Any = None, out: Any = None,
               keepdims: bool = False, initial: Any = np._NoValue,
               where: Any = True) -> Any:
        reject(name, dtype=dtype, out=out, initial=initial,
               where=None if where is True else where)
        return fn(a, axis=axis, keepdims=bool(keepdims))
    return reduce


def _accumulate_method(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``ufunc.accumulate`` as ``fn`` (``np.add.accumulate(v)`` is ``mg.cumsum(v, axis=0)``)."""
    def accumulate(a: Any, axis: int = 0, dtype: Any = None, out: Any = None) -> Any:
        reject(name, dtype=dtype, out=out)
        return fn(a, axis=axis)
    return accumulate


UFUNC_METHODS: dict[tuple[Any, str], Any] = {
    (np.add, "reduce"): _reduce_method("add.reduce", F.sum),
    (np.multiply, "reduce"): _reduce_method("multiply.reduce", F.prod),
    (np.maximum, "reduce"): _reduce_method("maximum.reduce", F.max),
    (np.minimum, "reduce"): _reduce_method("minimum.reduce", F.min),
    (np.logaddexp, "reduce"): _reduce_method("logaddexp.reduce", F.logsumexp),
    (np.add, "accumulate"): _accumulate_method("add.accumulate", F.cumsum),
    (np.multiply, "accumulate"): _accumulate_method("multiply.accumulate", F.cumprod),
}
"""The ufunc methods that return a Value when given one: reductions and running
sums and products (the other methods, ``outer``, ``at``, ``reduceat``, are refused)."""


def _constant_like(np_fn: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """``np_fn`` (``np.zeros_like`` and its kin) on a Value's data: a plain array, a
    constant, since it reads only the shape and dtype (its derivative is exactly 0)."""
    def like(a: Any, *args: Any, **kwargs: Any) -> np.ndarray:
        if any(isinstance(x, Value) for x in (*args, *kwargs.values())):
            what = "fill_value" if np_fn is np.full_like else "an argument besides the first"
            raise TypeError(
                f"numpy.{np_fn.__name__}: {what} is a Value, and the array would not "
                "depend on it (its gradient would be lost); build it with Value arithmetic, "
                "e.g. v * np.ones(shape)")
        return np_fn(a._data if isinstance(a, Value) else a, *args, **kwargs)
    return like


def _answer(np_fn: Callable[..., Any]) -> Callable[..., Any]:
    """``np_fn`` (``np.argmax`` and its kin) on the Values' data: its answer is made
    of integers or booleans, which have no derivative, so it is a plain array (as
    HIPS autograd and JAX give); nothing is differentiable in it to lose."""
    def answer(*args: Any, **kwargs: Any) -> Any:
        return np_fn(*[as_array(a) for a in args],
                     **{k: as_array(v) for k, v in kwargs.items()})
    return answer


ANSWERS = (np.argmax, np.argmin, np.nanargmax, np.nanargmin, np.argsort, np.argpartition,
           np.argwhere, np.nonzero, np.flatnonzero, np.count_nonzero, np.searchsorted,
           np.any, np.all, np.isclose, np.allclose, np.array_equal, np.array_equiv, np.isin,
           np.linalg.matrix_rank)
"""NumPy functions whose answers are integers (indices, counts) or booleans: on Values
they return what they return on the Values' data."""

ANSWER_METHODS = ("all", "any", "argmax", "argmin", "argpartition", "argsort", "nonzero",
                  "searchsorted")
"""The answers that are also methods of ndarrays, so of Values: ``v.argmax(axis=1)``."""


def _answer_method(name: str) -> Callable[..., Any]:
    answer = _answer(getattr(np, name))

    def method(self: Value, *args: Any, **kwargs: Any) -> Any:
        return answer(self, *args, **kwargs)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = (f"``numpy.{name}`` of the data: integers or booleans, which have no "
                      "derivative, as a plain array.")
    return method


FUNCTIONS: dict[Any, Any] = {
    **{fn: f for family in F.FAMILIES for fn, f in family.FUNCTIONS.items()},
    # facts about the array, not differentiable functions of it
    np.shape: lambda a: a.shape,
    np.ndim: lambda a: a.ndim,
    np.size: lambda a, axis=None: a.size if axis is None else a.shape[axis],
    # indices, counts and yes-or-no answers: integers and booleans, no derivative
    **{fn: _answer(fn) for fn in ANSWERS},
    # arrays shaped like it: constants (plain arrays)
    **{fn: _constant_like(fn) for fn in (np.zeros_like, np.ones_like, np.empty_like,
                                         np.full_like)},
}
"""NumPy functions that return a Value when given one (the facts about a Value, the
integer and boolean answers, and the arrays shaped like it return plain values)."""

METHODS: tuple[str, ...] = tuple(name for family in F.FAMILIES for name in family.METHODS)
"""The functions ``microgd.NAME`` that are also methods ``v.NAME(...)``."""


def register() -> None:
    """Fill ``Value``'s dispatch tables and set its methods (idempotent)."""
    Value._ufuncs.update(UFUNCS)
    Value._ufunc_methods.update(UFUNC_METHODS)
    Value._functions.update(FUNCTIONS)
    for name in METHODS:
        setattr(Value, name, getattr(F, name))
    for name in ANSWER_METHODS:
        setattr(Value, name, _answer_method(name))


register()
