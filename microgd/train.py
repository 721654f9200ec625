"""The training loop: ``fit`` and ``DivergenceError`` (the ``History`` it fills is in
:mod:`microgd.history`).

``fit`` is gradient descent in all its course variants, chosen by
``batch_size``: ``None`` is full-batch GD, ``1`` is SGD (one sample per
step), ``k`` is mini-batch SGD; batches are reshuffled every epoch from a
seeded generator.  Every step records the batch loss *before* its update, the
gradient norm and the learning rate, so loss curves can be drawn raw and
smoothed.  A loss that blows up stops training with a :class:`DivergenceError`
that says what to try and keeps the last good parameters.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from microgd.data import Batches
from microgd.history import SERIES, History
from microgd.transforms import flatten
from microgd.value import Value

__all__ = ["PATH_MAX_BYTES", "PATH_ROWS", "SERIES", "DivergenceError", "History", "fit"]

PATH_ROWS = 10_000
"""Rows ``record_path=True`` keeps at most (before the memory limit)."""
PATH_MAX_BYTES = 256 * 2**20
"""Default memory limit of a recorded path: 256 MiB of float64 rows."""


class DivergenceError(FloatingPointError):
    """Training diverged: a loss that is NaN/inf or far above the first one.

    Attributes
    ----------
    history : History
        Everything recorded up to (not including) the step that diverged.
    params : list of ndarray
        The parameter values before that step; the parameters are left there.
    epoch, step : int or None
        The epoch and step (counted from 1) that diverged; step 1 means the
        loss or gradient was not finite at the start, before any update.
    """

    def __init__(self, message: str, history: History, params: list[np.ndarray],
                 epoch: int | None = None, step: int | None = None) -> None:
        super().__init__(message)
        self.history = history
        self.params = params
        self.epoch = epoch
        self.step = step


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


def _progress_bar(enabled: bool | None, total: int, unit: str = "step") -> Any:
    if enabled is False:
        return None
    try:
        from tqdm import tqdm  # optional extra
    except ImportError:
        return None
    if enabled is None and not (sys.stderr.isatty() and total >= 200):
        return None
    return tqdm(total=total, unit=unit, leave=False)


def _path_cap(record_path: Any, path_max_bytes: Any, n_params: int) -> int:
    """How many rows of the path to keep (0: none), from the count and the memory limits."""
    if isinstance(record_path, bool):
        count = PATH_ROWS if record_path else 0
    elif isinstance(record_path, (int, np.integer)) and record_path >= 0:
        count = int(record_path)
    else:
        raise ValueError(f"fit: record_path must be True, False or a number of rows to keep, "
                         f"got {record_path!r}")
    if path_max_bytes is None or count == 0:
        return count
    if (isinstance(path_max_bytes, bool) or not isinstance(path_max_bytes, (int, np.integer))
            or path_max_bytes <= 0):
        raise ValueError(f"fit: path_max_bytes must be a positive number of bytes or None, "
                         f"got {path_max_bytes!r}")
    row = 8 * n_params
    cap = min(count, int(path_max_bytes) // row)
    if cap < min(count, 2):
        raise ValueError(
            f"fit: record_path: one row of the path is {row:,} bytes ({n_params:,} "
            f"parameters), so path_max_bytes={int(path_max_bytes):,} holds fewer than 2 rows; "
            "raise path_max_bytes (None for no limit) or record no path")
    return cap


def fit(loss_fn: Callable[[np.ndarray, np.ndarray], Value], params: Sequence[Value],
        data: tuple[Any, Any], optimizer: Any, epochs: int, batch_size: int | None = None,
        shuffle: bool = True, seed: int = 0, callbacks: Sequence[Callable] = (),
        progress: bool | None = None, record_path: bool | int = False,
        divergence_factor: float = 1e6, path_max_bytes: int | None = PATH_MAX_BYTES,
        monitors: Sequence[Any] = ()) -> History:
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
        Each is called as ``cb(history, epoch)`` after every epoch; when one
        returns True, training stops after that epoch (the others still run).
    progress : bool, optional
        A tqdm progress bar (when installed); by default only on a terminal
        and for runs of at least 200 steps.
    record_path : bool or int
        Record the flat parameter vector (float64) at the start and after
        every step, for trajectory plots.  True keeps at most 10,000 rows, an
        int at most that many; when the cap is reached every other row is
        dropped and recording goes on at half the rate (``path_steps`` says
        which step each row is).
    divergence_factor : float, default 1e6
        A step loss above this many times the first loss (or NaN/inf) raises
        :class:`DivergenceError`.
    path_max_bytes : int or None, default 256 MiB
        A memory limit of the recorded path: at most
        ``path_max_bytes // (8 * parameters)`` rows are kept, whatever
        ``record_path`` says.  None: no limit but the count.
    monitors : list of microgd.monitors.Monitor
        Curvature measured on the full training loss every ``every`` steps
        (:mod:`microgd.monitors`), into ``hist.monitors``; training is not
        disturbed (the final parameters are bit-identical).

    Second-order optimizers (``optim.Newton``, ``optim.SaddleFreeNewton``)
    are given the step's loss as their closure: one forward pass per step
    serves the history and the step.

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
    # Full batch: the loader would give this one batch every epoch, in the original order
    # and drawing no random number; iterating it as a tuple saves a generator per step.
    epoch_batches: Any = ((X, y),) if loader.batch_size is None else loader
    cap = _path_cap(record_path, path_max_bytes, sum(p.size for p in params))
    stride = 1
    hist = History()
    recorder = None
    if monitors:
        from microgd.monitors import Recorder  # monitors sit above training's own imports
        recorder = Recorder(monitors, loss_fn, params, (X, y), loader.batch_size, hist.monitors)
    measured = -1
    shown_values: dict[str, Any] = {}
    # A second-order step needs the loss itself: the graph is kept for it.
    closure_step = bool(getattr(optimizer, "needs_closure", False))
    # Bound once: the loop below runs per step, and must cost next to nothing beside it.
    add_loss, add_norm, add_lr = hist.step_loss.append, hist.grad_norm.append, hist.lr.append
    vdot = np.vdot
    if cap:
        hist.path.append(_flat(params))
        hist.path_steps.append(0)
    total_steps = epochs * len(loader)
    bar = _progress_bar(progress, total_steps)
    # The bar is redrawn at most about a thousand times, not once per step.
    tick, shown = max(1, total_steps // 1000), 0
    first = limit = math.inf
    step = 0
    try:
        for epoch in range(epochs):
            total, count = 0.0, 0
            for xb, yb in epoch_batches:
                if recorder is not None and measured != step:
                    shown_values = recorder(step, optimizer) or shown_values
                    measured = step
                for p in params:
                    p.zero_grad()
                loss = loss_fn(xb, yb)
                if not isinstance(loss, Value) or loss.ndim != 0:
                    shape = getattr(loss, "shape", type(loss).__name__)
                    raise ValueError(f"fit: loss_fn must return a scalar Value, got {shape}")
                value = float(loss.data)
                if step == 0:
                    first = value
                    limit = divergence_factor * abs(first) if first != 0 else math.inf
                if value > limit or not math.isfinite(value):
                    why = (f"{value:.3g}, above {divergence_factor:g} x the first loss "
                           f"{first:.3g}" if value > limit else f"{value}")
                    _diverged(hist, params, optimizer, epoch, step, f"loss is {why}")
                loss.backward(retain_graph=closure_step)
                squares = 0.0
                # Last to first: the first parameters' gradients, which the step
                # reads first, are then still in cache.
                for p in reversed(params):
                    g = p.grad
                    if g is not None:
                        # vdot flattens and, unlike dot, raises no overflow warning:
                        # an overflow is checked below.
                        squares += vdot(g, g)
                gnorm = math.sqrt(squares)
                if not math.isfinite(gnorm):
                    gnorm = _careful_norm(params)
                    if not math.isfinite(gnorm):
                        _diverged(hist, params, optimizer, epoch, step,
                                  f"gradient norm is {gnorm}")
                add_loss(value)
                add_norm(gnorm)
                add_lr(float(optimizer.lr))
                if closure_step:
                    optimizer.step(lambda: loss)  # noqa: B023 (called right here)
                else:
                    optimizer.step()
                step += 1
                n = len(xb)
                total += value * n
                count += n
                if cap and step % stride == 0:
                    hist.path.append(_flat(params))
                    hist.path_steps.append(step)
                    if len(hist.path) > cap:
                        # In place, so a callback holding these lists sees the change.
                        del hist.path[1::2], hist.path_steps[1::2]
                        stride *= 2
                if bar is not None and step - shown >= tick:
                    bar.set_postfix(loss=f"{value:.4g}", refresh=False,
                                    **{k: _short(v) for k, v in shown_values.items()})
                    bar.update(step - shown)
                    shown = step
            hist.epoch_loss.append(total / count)
            if callbacks:
                stop = False
                for cb in callbacks:
                    stop = (cb(hist, epoch) is True) or stop
                if stop:
                    break
        if recorder is not None and measured != step:
            recorder(step, optimizer)  # the end, when it falls on a measuring step
    finally:
        if bar is not None:
            bar.update(step - shown)
            bar.close()
    return hist


def _short(value: Any) -> str:
    """A monitor's value for the progress bar."""
    if isinstance(value, list):
        return "[" + ", ".join(f"{v:.3g}" for v in value[:2]) + (", ...]" if len(value) > 2
                                                                    else "]")
    return f"{value:.4g}"


def _flat(params: Sequence[Value]) -> np.ndarray:
    # One pass: concatenate copies and casts together, where astype would copy again.
    return flatten(list(params), dtype=np.float64)


def _careful_norm(params: Sequence[Value]) -> float:
    """The gradient norm when the plain sum of squares overflowed: NaN or inf only if the
    gradient holds NaN or inf (or its norm is beyond the float range)."""
    grads = [np.asarray(p.grad, dtype=np.float64) for p in params if p.grad is not None]
    if any(np.isnan(g).any() for g in grads):
        return math.nan
    if any(np.isinf(g).any() for g in grads):
        return math.inf
    scale = max(float(np.max(np.abs(g), initial=0.0)) for g in grads)
    if scale == 0:
        return 0.0
    with np.errstate(over="ignore"):
        return scale * math.sqrt(sum(float(np.sum(np.square(g / scale))) for g in grads))


def _diverged(hist: History, params: Sequence[Value], optimizer: Any, epoch: int, step: int,
              what: str) -> None:
    lr = float(optimizer.lr)
    kept = [np.array(p.data) for p in params]
    if step == 0:
        raise DivergenceError(
            f"training cannot start: the {what} at the start, before any update. The data "
            "or the starting parameters give a loss or gradient that is not finite: check "
            "the data for NaN, inf or huge values and the loss for log(0) or a division by "
            "zero (the learning rate is not the cause); the parameters are unchanged "
            "(also in .params)",
            hist, kept, epoch=epoch + 1, step=1,
        )
    raise DivergenceError(
        f"training diverged at epoch {epoch + 1}, step {step + 1}: the {what}. "
        f"Try a smaller learning rate (now lr={lr:g}, e.g. lr={lr / 10:g}); the parameters "
        "are left at their values before this step (also in .params)",
        hist, kept, epoch=epoch + 1, step=step + 1,
    )
