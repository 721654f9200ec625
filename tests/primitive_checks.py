"""What the derivative tests of every primitive share: ``check``, ``covers``, strategies.

The tests of the primitives live in ``tests/test_primitives.py`` and, for the
NumPy vocabulary, one ``tests/test_vocab_<family>.py`` per family.  Each marks
what it checks with ``@covers(NAME)``; ``test_every_primitive_has_a_test``
(in ``test_primitives.py``) imports every one of those modules and fails when a
primitive of ``microgd.ops.ALL`` or a public function of ``microgd.functions``
has no test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pytest
from hypothesis import strategies as st

import microgd as mg
from microgd import Value, functions, ops
from microgd.testing import check_grads
from microgd.testing import strategies as mst

DTYPES = [np.float64, np.float32]
dtypes = pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])

# The differentiable public functions of microgd (mg.NAME); each needs a test too.
PUBLIC_FUNCTIONS = set(functions.__all__)

# name (a primitive of ops.ALL or a public function) -> (test module, test name) pairs
# of the tests that check its derivatives.
COVERAGE: dict[str, set[tuple[str, str]]] = {}


def covers(*names: str) -> Callable[[Any], Any]:
    """Record that the decorated test checks the derivatives of ``names``."""
    unknown = [n for n in names if n not in ops.ALL and n not in PUBLIC_FUNCTIONS]
    if unknown:
        raise ValueError(f"covers: no primitive or public function named {unknown}")

    def mark(test: Any) -> Any:
        for n in names:
            COVERAGE.setdefault(n, set()).add((test.__module__, test.__name__))
        return test

    return mark


def graph_ops(roots: Iterable[Value]) -> set[str]:
    """Names of the primitives in the graphs behind ``roots``."""
    names: set[str] = set()
    seen: set[int] = set()
    stack = list(roots)
    while stack:
        v = stack.pop()
        if id(v) in seen:
            continue
        seen.add(id(v))
        if v.op is not None:
            names.add(v.op)
        stack.extend(v.parents)
    return names


def ops_used(f: Callable[..., Value], args: tuple) -> set[str]:
    """Primitives used by ``f`` at ``args`` and by its gradient (a create_graph backward)."""
    xs = [Value(np.array(a)) for a in args]
    out = f(*xs)
    found = graph_ops([out])
    if out.requires_grad:
        gs = mg.gradients(out, xs, grad_outputs=np.ones(out.shape, out.dtype),
                          create_graph=True)
        found |= graph_ops(gs)
    return found


def check(f: Callable[..., Value], args: tuple, uses: Iterable[str] = ()) -> None:
    """First and second derivatives of ``f`` at ``args``; ``uses`` must be in its graph."""
    check_grads(f, args, order=2, modes=("fwd", "rev"))
    missing = set(uses) - ops_used(f, args)
    assert not missing, f"the test claims to cover {sorted(missing)} but never uses it"


def arrays(shape: Any, dtype: Any, **kw: Any) -> st.SearchStrategy[np.ndarray]:
    return mst.arrays(shape=shape, dtype=dtype, **kw)


@st.composite
def axes_for(draw: Any, ndim: int) -> int | tuple[int, ...] | None:
    """An ``axis`` argument: None, an int (maybe negative) or a tuple (maybe empty)."""
    choices = [st.none(), st.lists(st.integers(0, max(ndim - 1, 0)), unique=True,
                                   max_size=ndim).map(tuple)]
    if ndim:
        choices.append(st.integers(-ndim, ndim - 1))
    axis = draw(st.one_of(*choices))
    if isinstance(axis, tuple) and axis and draw(st.booleans()):
        axis = tuple(a - ndim for a in axis)  # the same axes, counted from the end
    return axis


@st.composite
def present(draw: Any, shape: tuple[int, ...], axis: Any = None,
            every_slice: bool = True) -> np.ndarray:
    """A boolean mask of ``shape``: which entries are there (not NaN, inside a
    ``where=``), drawn per entry; with ``every_slice``, entry 0 of every slice over
    ``axis`` is there, so that every slice has one."""
    size = int(np.prod(shape))
    mask = np.array(draw(st.lists(st.booleans(), min_size=size, max_size=size)),
                    dtype=bool).reshape(shape)
    if not every_slice:
        return mask
    reduced = ops.shape._axes(axis, len(shape))
    mask[tuple(slice(0, 1) if i in reduced else slice(None) for i in range(len(shape)))] = True
    return mask


def holes(mask: np.ndarray) -> np.ndarray:
    """0 where ``mask`` is true, NaN elsewhere: added to finite numbers, NaN holes."""
    return np.where(mask, 0.0, np.nan)
