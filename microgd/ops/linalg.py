"""Linear algebra: matrix products (NumPy's 1-D, 2-D and batched rules)."""

from __future__ import annotations

import operator
from typing import Any

from microgd.autodiff import Primitive
from microgd.ops.shape import _shape, reshape, sum_to, transpose


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

__all__ = [
    "matmul",
]
