"""The training loop: ``fit``, its ``History``, and ``DivergenceError``.

``fit`` is gradient descent in all its course variants, chosen by
``batch_size``: ``None`` is full-batch GD, ``1`` is SGD (one sample per
step), ``k`` is mini-batch SGD; batches are reshuffled every epoch from a
seeded generator.  Every step records the batch loss *before* its update, the
gradient norm and the learning rate, so loss curves can be drawn raw and
smoothed.  A loss that blows up stops training with a :class:`DivergenceError`
that says what to try and keeps the last good parameters.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from microgd.data import Batches
from microgd.value import Value

SERIES = ("step_loss", "epoch_loss", "grad_norm", "lr")


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
    path : list of list of float
        The flat parameter vector after each recorded step (``record_path``),
        with ``path_steps`` the step numbers (1-based; 0 is the start).
    """

    step_loss: list[float] = field(default_factory=list)
    epoch_loss: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    path: list[list[float]] = field(default_factory=list)
    path_steps: list[int] = field(default_factory=list)

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

    def to_dict(self) -> dict[str, list]:
        return {k: list(getattr(self, k)) for k in (*SERIES, "path", "path_steps")}

    def save(self, path: str | os.PathLike) -> None:
        """Write the history as JSON (non-finite numbers as null)."""
        def clean(x: Any) -> Any:
            if isinstance(x, list):
                return [clean(i) for i in x]
            return x if math.isfinite(x) else None

        _atomic_write_text(path, json.dumps({k: clean(v) for k, v in self.to_dict().items()}))

    @classmethod
    def load(cls, path: str | os.PathLike) -> History:
        """Read a history written by :meth:`save`."""
        with open(path, encoding="utf-8") as fh:
            raw = json.load(fh)
        if not isinstance(raw, dict):
            raise ValueError(f"History.load: {os.fspath(path)!r} does not hold a history")

        def unclean(x: Any) -> Any:
            if isinstance(x, list):
                return [unclean(i) for i in x]
            return float("nan") if x is None else x

        known = {k: unclean(raw.get(k, [])) for k in (*SERIES, "path", "path_steps")}
        known["path_steps"] = [int(s) for s in known["path_steps"]]
        return cls(**known)


def _atomic_write_text(path: str | os.PathLike, text: str) -> None:
    tmp = f"{os.fspath(path)}.tmp-{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


class DivergenceError(FloatingPointError):
    """Training diverged: a loss that is NaN/inf or far above the first one.

    Attributes
    ----------
    history : History
        Everything recorded up to (not including) the step that diverged.
    params : list of ndarray
        The parameter values before that step; the parameters are left there.
    """

    def __init__(self, message: str, history: History, params: list[np.ndarray]) -> None:
        super().__init__(message)
        self.history = history
        self.params = params


def _check_params(params: Any, optimizer: Any) -> list[Value]:
    if isinstance(params, Value) or not isinstance(params, Sequence):
        params = [params] if isinstance(params, Value) else params
        if hasattr(params, "parameters"):
            params = params.parameters()
    params = list(params)
    if not params:
        raise ValueError("fit: params is empty; pass the list of Values to train")
    for i, p in enumerate(params):
        if not isinstance(p, Value) or not p.requires_grad:
            kind = type(p).__name__ if not isinstance(p, Value) else "Value without requires_grad"
            raise ValueError(f"fit: params[{i}] is a {kind}; every parameter must be a Value "
                             "that requires grad")
    owned = {id(p) for p in getattr(optimizer, "params", [])}
    stray = [i for i, p in enumerate(params) if id(p) not in owned]
    if stray:
        raise ValueError(f"fit: params {stray} are not updated by the optimizer; build the "
                         "optimizer from the same parameters")
    return params


def _progress_bar(enabled: bool | None, total: int) -> Any:
    if enabled is False:
        return None
    try:
        from tqdm import tqdm  # optional extra
    except ImportError:
        return None
    if enabled is None and not (sys.stderr.isatty() and total >= 200):
        return None
    return tqdm(total=total, unit="step", leave=False)


def fit(loss_fn: Callable[[np.ndarray, np.ndarray], Value], params: Sequence[Value],
        data: tuple[Any, Any], optimizer: Any, epochs: int, batch_size: int | None = None,
        shuffle: bool = True, seed: int = 0, callbacks: Sequence[Callable] = (),
        progress: bool | None = None, record_path: bool | int = False,
        divergence_factor: float = 1e6) -> History:
    """Train ``params`` by minimizing ``loss_fn`` over ``data`` with ``optimizer``.

    Parameters
    ----------
    loss_fn : callable
        ``loss_fn(xb, yb)`` gets one batch (ndarrays) and returns a scalar Value.
    params : list of Value
        The parameters being trained (the ones ``optimizer`` updates).
    data : (X, y)
        Arrays with the same first dimension.
    optimizer : microgd.optim.Optimizer
    epochs : int
    batch_size : int, optional
        None: full batch (GD); 1: SGD; k: mini-batches (the last partial one kept).
    shuffle : bool, default True
        Reshuffle the samples every epoch (seeded by ``seed``).
    callbacks : sequence of callable
        Each is called as ``cb(history, epoch)`` after every epoch; returning
        True stops training.
    progress : bool, optional
        A tqdm progress bar (when installed); by default only on a terminal
        and for runs of at least 200 steps.
    record_path : bool or int
        Record the flat parameter vector after every step, for trajectory
        plots.  An int caps the number of points kept (default cap 10,000):
        past the cap, every other point is dropped and recording continues at
        half the rate.
    divergence_factor : float, default 1e6
        A step loss above this many times the first loss (or NaN/inf) raises
        :class:`DivergenceError`.

    Returns
    -------
    History

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> from microgd import optim
    >>> x, y = np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 6.0])
    >>> w = mg.Value(1.0)
    >>> hist = mg.fit(lambda xb, yb: ((xb * w - yb) ** 2).mean(), [w], (x, y),
    ...               optim.GD([w], lr=0.01), epochs=100)
    >>> round(w.item(), 4), len(hist.step_loss)
    (1.9999, 100)
    """
    params = _check_params(params, optimizer)
    if not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ValueError(f"fit: epochs must be a non-negative integer, got {epochs!r}")
    if not divergence_factor > 0:
        raise ValueError(f"fit: divergence_factor must be positive, got {divergence_factor}")
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise ValueError("fit: data must be a pair (X, y) of arrays with the same first dimension")
    X, y = (np.asarray(getattr(a, "data", a)) for a in data)
    loader = Batches(X, y, batch_size=batch_size, shuffle=shuffle, seed=seed)
    cap = 10_000 if record_path is True else int(record_path)
    stride = 1
    hist = History()
    if cap:
        hist.path.append(_flat(params))
        hist.path_steps.append(0)
    bar = _progress_bar(progress, epochs * len(loader))
    first = None
    step = 0
    try:
        for epoch in range(epochs):
            total, count = 0.0, 0
            for xb, yb in loader:
                for p in params:
                    p.zero_grad()
                loss = loss_fn(xb, yb)
                if not isinstance(loss, Value) or loss.ndim != 0:
                    shape = getattr(loss, "shape", type(loss).__name__)
                    raise ValueError(f"fit: loss_fn must return a scalar Value, got {shape}")
                value = float(loss.data)
                if first is None:
                    first = value
                too_big = first != 0 and value > divergence_factor * abs(first)
                if not math.isfinite(value) or too_big:
                    why = (f"{value:.3g}, above {divergence_factor:g} x the first loss "
                           f"{first:.3g}" if too_big else f"{value}")
                    _diverged(hist, params, optimizer, epoch, step, f"loss is {why}")
                loss.backward()
                gnorm = math.sqrt(sum(float(np.sum(np.square(p.grad)))
                                      for p in params if p.grad is not None))
                if not math.isfinite(gnorm):
                    _diverged(hist, params, optimizer, epoch, step, f"gradient norm is {gnorm}")
                hist.step_loss.append(value)
                hist.grad_norm.append(gnorm)
                hist.lr.append(float(optimizer.lr))
                optimizer.step()
                step += 1
                n = len(xb)
                total, count = total + value * n, count + n
                if cap and step % stride == 0:
                    hist.path.append(_flat(params))
                    hist.path_steps.append(step)
                    if len(hist.path) > cap:
                        hist.path, hist.path_steps = hist.path[::2], hist.path_steps[::2]
                        stride *= 2
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{value:.4g}", refresh=False)
            hist.epoch_loss.append(total / count)
            if any(cb(hist, epoch) is True for cb in callbacks):
                break
    finally:
        if bar is not None:
            bar.close()
    return hist


def _flat(params: Sequence[Value]) -> list[float]:
    return np.concatenate([np.ravel(p.data) for p in params]).astype(float).tolist()


def _diverged(hist: History, params: Sequence[Value], optimizer: Any, epoch: int, step: int,
              what: str) -> None:
    lr = float(optimizer.lr)
    raise DivergenceError(
        f"training diverged at epoch {epoch + 1}, step {step + 1}: the {what}. "
        f"Try a smaller learning rate (now lr={lr:g}, e.g. lr={lr / 10:g}); the parameters "
        "are left at their values before this step (also in .params)",
        hist, [np.array(p.data) for p in params],
    )
