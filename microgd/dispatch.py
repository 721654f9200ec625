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

from typing import Any

import numpy as np

from microgd import functions as F
from microgd.value import Value

UFUNCS: dict[Any, Any] = {u: f for family in F.FAMILIES for u, f in family.UFUNCS.items()}
"""NumPy ufuncs that return a Value when given one."""

FUNCTIONS: dict[Any, Any] = {
    **{fn: f for family in F.FAMILIES for fn, f in family.FUNCTIONS.items()},
    # facts about the array, not differentiable functions of it
    np.shape: lambda a: a.shape,
    np.ndim: lambda a: a.ndim,
    np.size: lambda a, axis=None: a.size if axis is None else a.shape[axis],
}
"""NumPy functions that return a Value when given one."""

METHODS: tuple[str, ...] = tuple(name for family in F.FAMILIES for name in family.METHODS)
"""The functions ``microgd.NAME`` that are also methods ``v.NAME(...)``."""


def register() -> None:
    """Fill ``Value``'s dispatch tables and set its methods (idempotent)."""
    Value._ufuncs.update(UFUNCS)
    Value._functions.update(FUNCTIONS)
    for name in METHODS:
        setattr(Value, name, getattr(F, name))


register()
