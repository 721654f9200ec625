"""Every primitive of microgd: its NumPy forward, its VJPs and its JVP, side by side.

A VJP ``vjp_i(g, ans, *inputs, **params)`` maps the gradient ``g`` of the
output ``ans`` to the gradient of input ``i``; a JVP ``jvp_i(t, ans, *inputs,
**params)`` maps the tangent ``t`` of input ``i`` to the output's tangent
(forward mode).  Both are written with Python operators and the primitives,
never with raw ``np.*`` calls on ``g`` or ``t``: in a first-order pass they
receive arrays and run as plain NumPy, and when a derivative must itself be
differentiated they receive Values and are recorded, so derivatives of any
order, in either mode, come from this one table.  (The one exception is a
``vjp_into``, ReLU's: a second spelling of ``vjps[0]`` that only the plain
first-order pass calls, on an array ``g`` it may overwrite.)

Where a rule needs a constant (a mask, a sign, an index), it reads the input's
data with ``as_array``: such constants have zero derivative almost everywhere.

The primitives are grouped by family, one module each: ``shape`` (reshaping,
indexing, joining, and the helpers that undo broadcasting), ``elementwise``
(functions of one array), ``arithmetic`` (operators and other functions of two
arrays), ``reductions``, ``norms`` (vector norms and singular values), ``linalg``
(products), ``decompositions`` (inverse, solve, determinants, Cholesky) and
``spectral`` (eigh, svd).  Like NumPy, this namespace has
``sum``, ``max``, ``min``, ``abs`` and ``pow`` shadowing Python's built-ins.
"""

from __future__ import annotations

from microgd.autodiff import Primitive
from microgd.ops import (
    arithmetic,
    decompositions,
    elementwise,
    linalg,
    norms,
    reductions,
    shape,
    spectral,
)
from microgd.ops.arithmetic import *  # noqa: F403
from microgd.ops.decompositions import *  # noqa: F403
from microgd.ops.elementwise import *  # noqa: F403
from microgd.ops.linalg import *  # noqa: F403
from microgd.ops.norms import *  # noqa: F403
from microgd.ops.reductions import *  # noqa: F403
from microgd.ops.shape import *  # noqa: F403
from microgd.ops.spectral import *  # noqa: F403

FAMILIES = (shape, elementwise, arithmetic, reductions, norms, linalg, decompositions,
            spectral)

ALL: dict[str, Primitive] = {
    p.name: p for family in FAMILIES for p in vars(family).values() if isinstance(p, Primitive)
}
"""Every primitive by name (every Primitive in the family modules)."""
