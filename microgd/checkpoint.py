"""Checkpoints: parameters and optimizer state in one ``.npz`` file.

The file holds plain arrays only (loaded with ``allow_pickle=False``: a
checkpoint can never run code).  It is written to a temporary file beside the
target (``.NAME.tmp-...``), flushed to disk and renamed over it, so an
interrupted save leaves the previous checkpoint intact, and the next save of
that path removes what a killed one left behind.  Loading checks every name
and shape first and changes nothing unless all of them match.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from microgd._files import atomic_write
from microgd._state import state_mismatches
from microgd.value import Value

_PARAM = "param/"
_OPTIM = "optim/"


def _named(params: Any, where: str) -> dict[str, Value]:
    """Parameters by name: a Module's own names, a dict's keys, or ``0, 1, ...``."""
    if hasattr(params, "named_parameters"):
        named = dict(params.named_parameters())
    elif isinstance(params, dict):
        named = dict(params)
    else:
        if isinstance(params, Value):
            params = [params]
        if not isinstance(params, Sequence):
            raise TypeError(f"{where}: params must be a Module, a dict or a list of Values, "
                            f"got {type(params).__name__}")
        named = {str(i): p for i, p in enumerate(params)}
    for name, p in named.items():
        if not isinstance(p, Value):
            raise TypeError(f"{where}: parameter {name!r} is a {type(p).__name__}, not a Value")
    return named


def save_checkpoint(path: str | os.PathLike, params: Any, optimizer: Any = None) -> None:
    """Save parameters (and the optimizer's state) to ``path`` (an ``.npz`` file), atomically.

    Examples
    --------
    >>> import os, tempfile
    >>> import microgd as mg
    >>> w = mg.Value([1.0, 2.0])
    >>> path = os.path.join(tempfile.mkdtemp(), "ckpt.npz")
    >>> mg.save_checkpoint(path, [w])
    >>> _ = w.assign([0.0, 0.0])
    >>> mg.load_checkpoint(path, [w])
    >>> w.data.tolist()
    [1.0, 2.0]
    """
    arrays = {}
    for name, p in _named(params, "save_checkpoint").items():
        arrays[_PARAM + name] = np.asarray(p.data)
    if optimizer is not None:
        for key, val in optimizer.state_dict().items():
            arrays[_OPTIM + key] = np.asarray(val)
    for key, arr in arrays.items():
        if arr.dtype == object:
            raise TypeError(f"save_checkpoint: {key!r} is not a numeric array")
    with atomic_write(path, "wb") as fh:
        # mypy checks **arrays against savez's allow_pickle: bool too, but every key
        # starts with _PARAM or _OPTIM, so none can bind it.
        np.savez(fh, **arrays)  # type: ignore[arg-type]


def load_checkpoint(path: str | os.PathLike, params: Any, optimizer: Any = None) -> None:
    """Load a checkpoint written by :func:`save_checkpoint` into ``params`` (and ``optimizer``).

    Raises ValueError naming every missing, unexpected or mis-shaped entry;
    nothing is changed unless everything matches.
    """
    with np.load(os.fspath(path), allow_pickle=False) as npz:
        stored = {k: npz[k] for k in npz.files}
    named = _named(params, "load_checkpoint")
    saved = {k[len(_PARAM):]: v for k, v in stored.items() if k.startswith(_PARAM)}
    problems = state_mismatches(
        {n: p.shape for n, p in named.items()}, saved,
        missing="parameters missing from the checkpoint: {keys}",
        unexpected="parameters in the checkpoint but not given: {keys}",
        misshaped="parameter {key!r}: shape {given} in the checkpoint, {expected} given")
    optim_state = {k[len(_OPTIM):]: v for k, v in stored.items() if k.startswith(_OPTIM)}
    if optimizer is not None and not optim_state:
        problems.append("the checkpoint holds no optimizer state")
    if problems:
        raise ValueError(f"load_checkpoint: {os.fspath(path)}: " + "; ".join(problems))
    if optimizer is not None:
        # The optimizer checks its own keys and shapes, changing nothing if they differ,
        # so it goes first: a mismatch there leaves the parameters untouched too.
        optimizer.load_state_dict(optim_state)
    for name, p in named.items():
        p.assign(saved[name])
