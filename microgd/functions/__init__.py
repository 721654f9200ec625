"""The function forms ``microgd.NAME(v, ...)`` and composites built from primitives.

Composites (``softmax``, ``stack``) need no derivative code of their own: they
are written in primitives, in a form that is numerically stable and exact to
every order.  ``logsumexp`` and ``log_softmax`` are primitives themselves (as in
PyTorch; HIPS autograd does the same for logsumexp): one node each instead of
five or six, which is most of the per-step bookkeeping of a classifier's loss.
Each function accepts Values, arrays or numbers and returns a Value.

The functions are grouped by family as the primitives are (``elementwise``,
``reductions``, ``nan_reductions``, ``linalg``, ``shape``); each family module also holds the
tables that send NumPy's own functions to them (``np.exp(v)``, ``np.sum(v)``),
which :mod:`microgd.dispatch` merges.
"""

from __future__ import annotations

from microgd.functions import (
    activations,
    cumulative,
    elementwise,
    indexing,
    joining,
    linalg,
    nan_reductions,
    reductions,
    shape,
    signals,
    statistics,
)
from microgd.functions.activations import *  # noqa: F403
from microgd.functions.cumulative import *  # noqa: F403
from microgd.functions.elementwise import *  # noqa: F403
from microgd.functions.indexing import *  # noqa: F403
from microgd.functions.joining import *  # noqa: F403
from microgd.functions.linalg import *  # noqa: F403
from microgd.functions.nan_reductions import *  # noqa: F403
from microgd.functions.reductions import *  # noqa: F403
from microgd.functions.shape import *  # noqa: F403
from microgd.functions.signals import *  # noqa: F403
from microgd.functions.statistics import *  # noqa: F403

FAMILIES = (elementwise, activations, reductions, cumulative, nan_reductions, statistics,
            signals, linalg, shape, joining, indexing)
"""The function families, one module each, with their NumPy dispatch tables."""

__all__ = sorted({name for family in FAMILIES for name in family.__all__})
