"""Comparing a state dict with what it should hold: the package's one home for it.

Every loader (``Module.load_state_dict``, ``load_checkpoint``,
``Optimizer.load_state_dict``, ``Schedule.load_state_dict``) checks the keys,
and where it knows them the shapes, of what it is given *before* it changes
anything, and names every difference at once.  :func:`state_mismatches` finds
the differences; each loader words them for its reader (``"missing keys"``,
``"parameters missing from the checkpoint"``, ...) through the templates.

This module imports nothing from microgd: every layer may use it.

Examples
--------
>>> import numpy as np
>>> expected = {"w": (2, 3), "b": (3,), "step": None}   # None: any shape
>>> state_mismatches(expected, {"w": np.zeros((3, 2)), "extra": 1.0, "step": 4})
["missing keys ['b']", "unexpected keys ['extra']", "'w' has shape (3, 2), expected (2, 3)"]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["state_mismatches"]


def state_mismatches(
    expected: Mapping[Any, tuple[int, ...] | None],
    given: Mapping[Any, Any],
    *,
    missing: str = "missing keys {keys}",
    unexpected: str = "unexpected keys {keys}",
    misshaped: str = "{key!r} has shape {given}, expected {expected}",
) -> list[str]:
    """Every way ``given`` differs from ``expected``, one sentence each (empty: they match).

    Parameters
    ----------
    expected : mapping
        The keys ``given`` must have, each with the shape its value must have
        (``np.shape`` of it), or None where any value will do.
    given : mapping
        What a loader was handed.
    missing, unexpected : str
        Templates of the sentences naming the keys ``expected`` has and
        ``given`` lacks, and the other way round; ``{keys}`` is the list, in
        the order of ``expected`` and of ``given``.
    misshaped : str
        Template of the sentence for each key whose value has another shape:
        ``{key}``, ``{given}`` (its shape) and ``{expected}``.

    Returns
    -------
    list of str
        The missing keys' sentence, the unexpected keys' sentence, then one
        per mis-shaped value, in the order of ``expected``; each only where
        there is something to say.

    Examples
    --------
    >>> state_mismatches({"a": (2,)}, {"a": [1.0, 2.0]})
    []
    >>> state_mismatches({"a": (2,)}, {}, missing="not in the file: {keys}")
    ["not in the file: ['a']"]
    """
    problems = []
    lacking = [k for k in expected if k not in given]
    extra = [k for k in given if k not in expected]
    if lacking:
        problems.append(missing.format(keys=lacking))
    if extra:
        problems.append(unexpected.format(keys=extra))
    for key, shape in expected.items():
        if shape is not None and key in given and np.shape(given[key]) != tuple(shape):
            problems.append(misshaped.format(key=key, given=np.shape(given[key]),
                                             expected=tuple(shape)))
    return problems
