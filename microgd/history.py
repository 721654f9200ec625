"""What training records: :class:`History`, step by step and epoch by epoch.

The loss of every step (before its update), each epoch's mean loss, the
gradient's norm and the learning rate, the parameters' path when asked for,
and what the monitors measured; saved as JSON with NaN and the infinities kept.
:func:`microgd.fit` fills one; ``hist.smoothed()`` gives the EMA-smoothed
curve the lessons draw.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from microgd._files import atomic_write, json_ready, number_from_json

SERIES = ("step_loss", "epoch_loss", "grad_norm", "lr")
"""The per-step and per-epoch series of a :class:`History` (lists of floats)."""


@dataclass
class History:
    """What happened during :func:`fit`, step by step and epoch by epoch.

    Attributes
    ----------
    step_loss : list of float
        The batch loss of each step, before that step's update.
    epoch_loss : list of float
        Each epoch's mean batch loss, weighted by batch size.
    grad_norm : list of float
        The gradient's Euclidean norm (over all parameters) at each step.
    lr : list of float
        The learning rate used at each step.
    path : list of ndarray
        The flat parameter vector (float64, one 1-D array per row) at the
        start and after each recorded step (``record_path``);
        ``np.array(hist.path)`` is the path as a ``(rows, parameters)`` array.
    path_steps : list of int
        The step of each row of ``path``: 0 is the start, ``k`` is after the
        ``k``-th update.
    monitors : dict of str to dict of lists
        What the monitors of :mod:`microgd.monitors` measured:
        ``monitors['sharpness'] == {'step': [...], 'value': [...], ...}``,
        ``'step'`` being the number of updates made before each measurement.

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> from microgd import optim
    >>> w = mg.Value([1.0, -1.0])
    >>> hist = mg.fit(lambda xb, yb: (w ** 2).sum(), [w], (np.zeros(1), np.zeros(1)),
    ...               optim.GD([w], lr=0.25), epochs=2, record_path=True)
    >>> np.array(hist.path).tolist(), hist.path_steps
    ([[1.0, -1.0], [0.5, -0.5], [0.25, -0.25]], [0, 1, 2])
    """

    step_loss: list[float] = field(default_factory=list)
    epoch_loss: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    path: list[np.ndarray] = field(default_factory=list)
    path_steps: list[int] = field(default_factory=list)
    monitors: dict[str, dict[str, list]] = field(default_factory=dict)

    def __eq__(self, other: object) -> bool:
        # The generated __eq__ would compare the path's rows with ==, an array, not a bool.
        if not isinstance(other, History):
            return NotImplemented
        # Monitors may hold NaN (no stability threshold), which == never matches: compare
        # their JSON text.
        same = json.dumps(json_ready(self.monitors)) == json.dumps(json_ready(other.monitors))
        return (same and all(getattr(self, k) == getattr(other, k)
                             for k in (*SERIES, "path_steps"))
                and len(self.path) == len(other.path)
                and all(np.array_equal(a, b) for a, b in zip(self.path, other.path,
                                                              strict=True)))

    def __repr__(self) -> str:
        last = f", last loss {self.step_loss[-1]:.6g}" if self.step_loss else ""
        return f"History({len(self.step_loss)} steps, {len(self.epoch_loss)} epochs{last})"

    def smoothed(self, beta: float = 0.9, series: str = "step_loss") -> list[float]:
        """The bias-corrected exponential moving average of a series.

        ``v_t = beta * v_{t-1} + (1 - beta) * x_t`` from ``v_0 = 0``, divided
        by ``1 - beta**t`` so the first values are not pulled towards zero.

        Examples
        --------
        >>> from microgd import History
        >>> History(step_loss=[4.0, 2.0]).smoothed(beta=0.5)
        [4.0, 2.6666666666666665]
        """
        if not 0 <= beta < 1:
            raise ValueError(f"smoothed: beta must be in [0, 1), got {beta}")
        if series not in SERIES:
            raise ValueError(f"smoothed: series must be one of {SERIES}, got {series!r}")
        out, v = [], 0.0
        for t, x in enumerate(getattr(self, series), start=1):
            v = beta * v + (1 - beta) * x
            out.append(v / (1 - beta ** t))
        return out

    def to_dict(self) -> dict[str, Any]:
        """Every field as plain Python lists (the rows of ``path`` as lists of floats)."""
        out: dict[str, Any] = {k: [float(x) for x in getattr(self, k)] for k in SERIES}
        out["path"] = [np.asarray(row, dtype=np.float64).tolist() for row in self.path]
        out["path_steps"] = [int(s) for s in self.path_steps]
        out["monitors"] = {name: {k: _plain(v) for k, v in record.items()}
                           for name, record in self.monitors.items()}
        return out

    def save(self, path: str | os.PathLike) -> None:
        """Write the history as JSON, atomically.

        NaN is written as ``null`` and the infinities as ``"Infinity"`` and
        ``"-Infinity"`` (JSON has no such numbers); :meth:`load` reads them back.
        """
        text = json.dumps(json_ready(self.to_dict()), allow_nan=False)
        with atomic_write(path, "w") as fh:
            fh.write(text)

    @classmethod
    def load(cls, path: str | os.PathLike) -> History:
        """Read a history written by :meth:`save`.

        Raises
        ------
        ValueError
            When the file does not hold a history (naming the field that is wrong).
        """
        name = os.fspath(path)
        with open(name, encoding="utf-8") as fh:
            try:
                raw = json.load(fh)
            except json.JSONDecodeError as exc:
                raise ValueError(f"History.load: {name!r} is not JSON ({exc})") from None
        if not isinstance(raw, dict):
            raise ValueError(f"History.load: {name!r} does not hold a history")

        def field_list(key: str) -> list:
            value = raw.get(key, [])
            if not isinstance(value, list):
                raise ValueError(f"History.load: {name!r}: {key!r} is not a list")
            return value

        def numbers(key: str, values: list) -> list[float]:
            try:
                return [number_from_json(x) for x in values]
            except ValueError as exc:
                raise ValueError(f"History.load: {name!r}: {key!r}: {exc}") from None

        known: dict[str, Any] = {k: numbers(k, field_list(k)) for k in SERIES}
        rows = []
        for i, row in enumerate(field_list("path")):
            if not isinstance(row, list):
                raise ValueError(f"History.load: {name!r}: path row {i} is not a list")
            rows.append(np.array(numbers(f"path row {i}", row), dtype=np.float64))
        if len({len(r) for r in rows}) > 1:
            raise ValueError(f"History.load: {name!r}: the rows of 'path' differ in length")
        steps = field_list("path_steps")
        if not all(isinstance(s, int) and not isinstance(s, bool) for s in steps):
            raise ValueError(f"History.load: {name!r}: 'path_steps' must hold integers")
        if len(steps) != len(rows):
            raise ValueError(f"History.load: {name!r}: {len(rows)} path rows but "
                             f"{len(steps)} path_steps")
        return cls(**known, path=rows, path_steps=list(steps),
                   monitors=_monitors_from_json(raw.get("monitors", {}), name))


def _plain(values: list) -> list:
    """A monitor's list as JSON-ready Python numbers (lists of them for spectra)."""
    out: list = []
    for v in values:
        if isinstance(v, (list, tuple, np.ndarray)):
            out.append([float(x) for x in v])
        elif isinstance(v, (bool, np.bool_)):
            out.append(bool(v))
        elif isinstance(v, (int, np.integer)):
            out.append(int(v))
        else:
            out.append(float(v))
    return out


def _monitors_from_json(raw: Any, name: str) -> dict[str, dict[str, list]]:
    where = f"History.load: {name!r}: 'monitors'"
    if not isinstance(raw, dict):
        raise ValueError(f"{where} is not a mapping")
    out: dict[str, dict[str, list]] = {}
    for key, record in raw.items():
        if not isinstance(record, dict) or not all(isinstance(v, list) for v in record.values()):
            raise ValueError(f"{where}: {key!r} is not a mapping of lists")
        steps = record.get("step", [])
        if not all(isinstance(s, int) and not isinstance(s, bool) for s in steps):
            raise ValueError(f"{where}: {key!r}: 'step' must hold integers")
        fields: dict[str, list] = {}
        for f, values in record.items():
            if len(values) != len(steps):
                raise ValueError(f"{where}: {key!r}: {len(values)} values of {f!r} for "
                                 f"{len(steps)} steps")
            try:
                fields[f] = [v if isinstance(v, (bool, int)) else
                             [number_from_json(x) for x in v] if isinstance(v, list) else
                             number_from_json(v) for v in values]
            except (ValueError, TypeError) as exc:
                raise ValueError(f"{where}: {key!r}: {f!r}: {exc}") from None
        out[str(key)] = fields
    return out
