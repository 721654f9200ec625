"""Linear algebra: matrix products (NumPy's 1-D, 2-D and batched rules) and ``einsum``.

``einsum`` is the one general product: ``dot``, ``inner``, ``tensordot``,
``cross``, ... are written with it (``microgd.functions.linalg``).  Its VJP for
one operand is another einsum: the output's gradient contracted with the other
operands, back to that operand's subscripts.  The decompositions (``inv``,
``solve``, ``eigh``, ``svd``, ...) are in ``microgd.ops.decompositions``.
"""

from __future__ import annotations

import functools
import math
import operator
import string
from typing import Any

import numpy as np

from microgd.autodiff import Primitive
from microgd.ops.shape import _shape, reshape, sum_to, transpose
from microgd.value import as_array


def _swap_last(x: Any) -> Any:
    n = len(_shape(x))
    return transpose(x, axes=None if n == 2 else tuple(range(n - 2)) + (n - 1, n - 2))


def _matmul_vjp(g: Any, a: Any, b: Any, first: bool) -> Any:
    """Gradient of ``a @ b`` for ``a`` (first) or ``b``, for NumPy's 1-D and batched rules."""
    sa, sb = _shape(a), _shape(b)
    if len(sa) == 1 and len(sb) == 1:
        return g * (b if first else a)
    # Promote 1-D operands to matrices as NumPy does, and put the dropped axis back into g.
    a2 = reshape(a, shape=(1, sa[0])) if len(sa) == 1 else a
    b2 = reshape(b, shape=(sb[0], 1)) if len(sb) == 1 else b
    g2 = g
    if len(sa) == 1:
        g2 = reshape(g2, shape=_shape(g2)[:-1] + (1, _shape(g2)[-1]))
    if len(sb) == 1:
        g2 = reshape(g2, shape=_shape(g2) + (1,))
    if first:
        out = matmul(g2, _swap_last(b2))
        target = _shape(a2)
    else:
        out = matmul(_swap_last(a2), g2)
        target = _shape(b2)
    if _shape(out) != target:
        out = sum_to(out, shape=target)
    x = a if first else b
    return reshape(out, shape=_shape(x)) if _shape(out) != _shape(x) else out


matmul: Primitive = Primitive(
    "matmul", operator.matmul,
    # The common case first: 2-D @ 2-D, nothing promoted or broadcast.
    lambda g, ans, a, b: g @ b.T if a.ndim == 2 == b.ndim else _matmul_vjp(g, a, b, True),
    lambda g, ans, a, b: a.T @ g if a.ndim == 2 == b.ndim else _matmul_vjp(g, a, b, False),
    jvps=(lambda t, ans, a, b: t @ b, lambda t, ans, a, b: a @ t),
    error="shapes {0} and {1} are not aligned",
)

# ---- einsum ------------------------------------------------------------------------
# The primitive takes subscripts in explicit form only: letters, one term per operand,
# '->' and the output's letters (microgd.functions.linalg.einsum turns NumPy's implicit
# form, '...' and the sublist form into it).  Letters of size 1 broadcast, as in NumPy.

LETTERS = string.ascii_letters

# Above this many multiply-adds (the product of all letters' sizes) NumPy's einsum is
# asked to plan the contraction (pairwise, with BLAS through tensordot); below it the
# planning (~10 us) costs more than it saves.  Measured crossover: 30-50 thousand.
_PLAN_ABOVE = 40_000


def split_subscripts(subscripts: str) -> tuple[list[str], str]:
    """``'ij,jk->ik'`` as ``(['ij', 'jk'], 'ik')`` (explicit subscripts only)."""
    ins, out = subscripts.split("->")
    return ins.split(","), out


def _sizes(specs: list[str], shapes: Any) -> dict[str, int]:
    """Each letter's size: the largest among the operands (size 1 broadcasts)."""
    sizes: dict[str, int] = {}
    for spec, shape in zip(specs, shapes, strict=True):
        for letter, n in zip(spec, shape, strict=True):
            sizes[letter] = max(sizes.get(letter, 1), n)
    return sizes


@functools.lru_cache(maxsize=1024)
def _plan(subscripts: str, shapes: tuple[tuple[int, ...], ...]) -> Any:
    if len(shapes) < 2:
        return False
    work = math.prod(_sizes(split_subscripts(subscripts)[0], shapes).values())
    return "greedy" if work > _PLAN_ABOVE else False


def _einsum_fwd(*xs: Any, subscripts: str) -> Any:
    return np.einsum(subscripts, *xs, optimize=_plan(subscripts, tuple(np.shape(x) for x in xs)))


def _einsum_vjp(i: int, g: Any, ans: Any, *xs: Any, subscripts: str) -> Any:
    """The gradient for operand ``i``: ``g`` and the other operands, summed to its subscripts.

    An output letter must appear among the inputs and only once in the output, so
    letters of operand ``i`` that repeat (a diagonal, as in ``'ii->'``) get a fresh
    letter tied to the first by an identity matrix, and letters that appear nowhere
    else (summed away, as ``j`` in ``'ij->i'``) come from a vector of ones.
    """
    specs, out = split_subscripts(subscripts)
    sizes = _sizes(specs, [_shape(x) for x in xs])
    dtype = np.result_type(as_array(g))
    fresh = iter(c for c in LETTERS if c not in subscripts)
    terms = [out] + [s for j, s in enumerate(specs) if j != i]
    operands = [g] + [x for j, x in enumerate(xs) if j != i]
    target = ""
    for letter in specs[i]:
        if letter in target:
            twin = next(fresh)
            terms.append(letter + twin)
            operands.append(np.eye(sizes[letter], dtype=dtype))
            target += twin
        else:
            target += letter
    present = set("".join(terms))
    for letter in dict.fromkeys(specs[i]):
        if letter not in present:
            terms.append(letter)
            operands.append(np.ones(sizes[letter], dtype=dtype))
    grad = einsum(*operands, subscripts=",".join(terms) + "->" + target)
    shape = _shape(xs[i])
    # Where operand i broadcast a letter of size 1, sum the gradient back down.
    return grad if _shape(grad) == shape else sum_to(grad, shape=shape)


def _einsum_jvp(i: int, t: Any, ans: Any, *xs: Any, subscripts: str) -> Any:
    # einsum is linear in each operand: replace operand i by its tangent.
    return einsum(*xs[:i], t, *xs[i + 1:], subscripts=subscripts)


einsum: Primitive = Primitive(
    "einsum", _einsum_fwd,
    vjp_any=_einsum_vjp,
    jvp_any=_einsum_jvp,
)

__all__ = [
    "matmul", "einsum",
]
