"""Tools to test derivatives: :func:`check_grads` and Hypothesis strategies.

``check_grads`` needs only NumPy.  ``microgd.testing.strategies`` needs
Hypothesis (the ``test`` extra), so it is imported only when asked for::

    from microgd.testing import check_grads, strategies as mst

Examples
--------
>>> import numpy as np
>>> from microgd.testing import check_grads
>>> check_grads(lambda v: (v.sin() * v).sum(), (np.array([0.5, -1.0]),), order=2)
"""

from __future__ import annotations

from typing import Any

from microgd.testing.gradcheck import TABLE_HEADER, check_grads

__all__ = ["TABLE_HEADER", "check_grads", "strategies"]


def __getattr__(name: str) -> Any:
    # Lazy, so that importing check_grads never requires Hypothesis.
    if name == "strategies":
        import importlib

        return importlib.import_module("microgd.testing.strategies")
    raise AttributeError(f"module 'microgd.testing' has no attribute {name!r}")
