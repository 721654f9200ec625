"""Trees of arrays: an array, a Value, or nested lists/tuples of them (model parameters).

Transforms take and return trees; these helpers walk them in a fixed order
(depth first, left to right), as JAX's ``tree_util`` and autograd's
``misc.flatten`` do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from microgd.value import as_array

Tree = Any  # an array, a Value, or a (nested) list/tuple of them


def leaves(tree: Tree) -> list[Any]:
    """The leaves of ``tree`` in order."""
    if isinstance(tree, (list, tuple)):
        return [leaf for item in tree for leaf in leaves(item)]
    return [tree]


def rebuild(tree: Tree, new_leaves: Sequence[Any]) -> Tree:
    """``tree``'s structure filled with ``new_leaves`` in order."""
    it = iter(new_leaves)

    def build(t: Tree) -> Tree:
        if isinstance(t, (list, tuple)):
            return type(t)(build(item) for item in t)
        return next(it)

    return build(tree)


def flatten(tree: Tree, dtype: Any = None) -> np.ndarray:
    """All leaves of ``tree`` as one flat float vector (Values give their data).

    A new array, never a view of a leaf; ``dtype`` casts in the same pass
    (the leaves' common type by default).

    Examples
    --------
    >>> import numpy as np
    >>> from microgd.tree import flatten
    >>> flatten([np.ones((2, 2)), np.array(3.0)]).tolist()
    [1.0, 1.0, 1.0, 1.0, 3.0]
    """
    return np.concatenate([np.ravel(as_array(t)) for t in leaves(tree)], dtype=dtype)


def unflatten(vec: np.ndarray, like: Tree) -> Tree:
    """``vec`` cut and shaped like the leaves of ``like``."""
    out, start = [], 0
    for leaf in leaves(like):
        shape = np.shape(as_array(leaf))
        size = int(np.prod(shape, dtype=np.int64))
        out.append(np.asarray(vec[start:start + size]).reshape(shape))
        start += size
    return rebuild(like, out)
