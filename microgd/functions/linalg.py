"""Linear algebra: products, decompositions and solves (``np.linalg`` included).

``UFUNCS``/``FUNCTIONS``/``METHODS`` as in :mod:`microgd.functions.elementwise`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from microgd import ops

__all__: list[str] = []

UFUNCS: dict[Any, Any] = {np.matmul: ops.matmul}
"""NumPy ufuncs of this family that return a Value when given one."""

FUNCTIONS: dict[Any, Any] = {}
"""NumPy functions of this family that return a Value when given one."""

METHODS: tuple[str, ...] = ()
"""The functions of this family that are also methods ``v.NAME(...)``."""
