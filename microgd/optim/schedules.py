"""Learning-rate schedules: change an optimizer's ``lr`` once per epoch.

Each schedule wraps an optimizer and remembers its learning rate at that
moment as ``base_lr``.  Call ``sched.step()`` once at the end of every epoch
(``sched.step(metric)`` for :class:`ReduceOnPlateau`); it sets ``opt.lr``.
The values follow ``torch.optim.lr_scheduler`` (``StepLR``, ``ExponentialLR``,
``CosineAnnealingLR``, ``ReduceLROnPlateau``); the closed-form schedules
compute the learning rate of epoch ``e`` directly from ``base_lr`` and ``e``,
so they do not drift by rounding and ignore manual changes of ``opt.lr``.

Examples
--------
>>> import microgd as mg
>>> from microgd import optim
>>> from microgd.optim import schedules
>>> opt = optim.SGD([mg.Value(1.0)], lr=0.1)
>>> sched = schedules.StepLR(opt, step_size=2, gamma=0.5)
>>> lrs = []
>>> for epoch in range(5):
...     # ... one epoch of opt.step() calls ...
...     sched.step()
...     lrs.append(opt.lr)
>>> lrs
[0.1, 0.05, 0.05, 0.025, 0.025]
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np

from microgd._state import state_mismatches
from microgd.optim.base import Optimizer, _real

__all__ = ["Constant", "Cosine", "Exponential", "ReduceOnPlateau", "Schedule", "StepLR"]


def _count(owner: str, name: str, value: Any, lo: int) -> int:
    """An integer >= lo (also a 0-d integer array, as read back from ``.npz``)."""
    ok = (isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))) or (
        isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iu")
    if not ok or int(value) < lo:
        raise ValueError(f"{owner}: {name} must be an integer >= {lo}, got {value!r}")
    return int(value)


class Schedule:
    """Base class: wraps an optimizer; ``step()`` once per epoch sets ``optimizer.lr``.

    Subclasses define ``_lr_at(epoch)``, the learning rate of an epoch
    (epoch 0 is before the first ``step()``).

    Parameters
    ----------
    optimizer : microgd.optim.Optimizer
        Its current ``lr`` becomes ``base_lr``.

    Attributes
    ----------
    optimizer : Optimizer
    base_lr : float
    last_epoch : int
        How many times ``step()`` has been called.
    """

    def __init__(self, optimizer: Optimizer) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: expected a microgd.optim optimizer, got "
                            f"{type(optimizer).__name__}")
        self.optimizer = optimizer
        self.base_lr = float(optimizer.lr)
        self.last_epoch = 0

    def _lr_at(self, epoch: int) -> float:
        raise NotImplementedError(f"{type(self).__name__} does not define _lr_at")

    def step(self) -> None:
        """End an epoch: advance the epoch counter and set the optimizer's ``lr``."""
        self.last_epoch += 1
        self.optimizer.lr = self._lr_at(self.last_epoch)

    def get_lr(self) -> float:
        """The learning rate this schedule gives the current epoch."""
        return self._lr_at(self.last_epoch)

    def _state_keys(self) -> dict[str, Any]:
        return {"last_epoch": self.last_epoch, "base_lr": self.base_lr}

    def state_dict(self) -> dict[str, Any]:
        """The schedule's progress as plain numbers under flat keys (``.npz``-safe).

        The optimizer's own ``state_dict`` holds its current ``lr``; this holds
        what the schedule needs to continue (``last_epoch``, ``base_lr``, ...).
        """
        return self._state_keys()

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore a :meth:`state_dict`; everything is checked first, nothing changes on error."""
        owner = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"{owner}: expected a dict, got {type(state_dict).__name__}")
        problems = state_mismatches(dict.fromkeys(self._state_keys()), state_dict)
        if problems:
            raise ValueError(f"{owner}: " + "; ".join(problems) + "; nothing was loaded")
        try:
            values = self._check_state(dict(state_dict), owner)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{exc}; nothing was loaded") from None
        for k, v in values.items():
            setattr(self, k, v)

    def _check_state(self, d: dict[str, Any], owner: str) -> dict[str, Any]:
        return {"last_epoch": _count(owner, "last_epoch", d["last_epoch"], 0),
                "base_lr": _real(owner, "base_lr", d["base_lr"], lo=0)}

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(base_lr={self.base_lr!r}, "
                f"last_epoch={self.last_epoch})")


class Constant(Schedule):
    """The learning rate stays ``base_lr``: ``lr_e = base_lr`` (a baseline to compare with).

    Examples
    --------
    >>> import microgd as mg
    >>> from microgd import optim
    >>> from microgd.optim import schedules
    >>> opt = optim.GD([mg.Value(1.0)], lr=0.1)
    >>> sched = schedules.Constant(opt)
    >>> sched.step(); sched.step()
    >>> opt.lr
    0.1
    """

    def _lr_at(self, epoch: int) -> float:
        return self.base_lr


class StepLR(Schedule):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs (``torch``'s ``StepLR``).

    ``lr_e = base_lr * gamma ** (e // step_size)``

    Parameters
    ----------
    optimizer : Optimizer
    step_size : int
        Epochs between decays, >= 1.
    gamma : float, default 0.1
        Decay factor, > 0.

    Examples
    --------
    >>> import microgd as mg
    >>> from microgd import optim
    >>> from microgd.optim import schedules
    >>> opt = optim.GD([mg.Value(1.0)], lr=1.0)
    >>> sched = schedules.StepLR(opt, step_size=3, gamma=0.5)
    >>> for _ in range(6):
    ...     sched.step()
    >>> opt.lr, sched.get_lr()
    (0.25, 0.25)
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        super().__init__(optimizer)
        o = type(self).__name__
        self.step_size = _count(o, "step_size", step_size, 1)
        self.gamma = _real(o, "gamma", gamma, lo=0, lo_open=True)

    def _lr_at(self, epoch: int) -> float:
        return self.base_lr * self.gamma ** (epoch // self.step_size)


class Exponential(Schedule):
    """Multiply the learning rate by ``gamma`` every epoch (``torch``'s ``ExponentialLR``).

    ``lr_e = base_lr * gamma ** e``

    Parameters
    ----------
    optimizer : Optimizer
    gamma : float
        Decay factor, > 0.

    Examples
    --------
    >>> import microgd as mg
    >>> from microgd import optim
    >>> from microgd.optim import schedules
    >>> opt = optim.GD([mg.Value(1.0)], lr=1.0)
    >>> sched = schedules.Exponential(opt, gamma=0.5)
    >>> sched.step(); sched.step()
    >>> opt.lr
    0.25
    """

    def __init__(self, optimizer: Optimizer, gamma: float) -> None:
        super().__init__(optimizer)
        self.gamma = _real(type(self).__name__, "gamma", gamma, lo=0, lo_open=True)

    def _lr_at(self, epoch: int) -> float:
        return self.base_lr * self.gamma ** epoch


class Cosine(Schedule):
    """Cosine annealing from ``base_lr`` down to ``eta_min`` over ``T_max`` epochs.

    The closed form of ``torch``'s ``CosineAnnealingLR`` (past ``T_max`` it
    climbs back up, with period ``2 * T_max``, as torch's does)::

        lr_e = eta_min + (base_lr - eta_min) * (1 + cos(pi * e / T_max)) / 2

    Parameters
    ----------
    optimizer : Optimizer
    T_max : int
        Epochs of the half period, >= 1.
    eta_min : float, default 0
        The smallest learning rate, >= 0.

    Examples
    --------
    >>> import microgd as mg
    >>> from microgd import optim
    >>> from microgd.optim import schedules
    >>> opt = optim.GD([mg.Value(1.0)], lr=1.0)
    >>> sched = schedules.Cosine(opt, T_max=4, eta_min=0.0)
    >>> lrs = []
    >>> for _ in range(4):
    ...     sched.step()
    ...     lrs.append(round(opt.lr, 6))
    >>> lrs
    [0.853553, 0.5, 0.146447, 0.0]
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0) -> None:
        super().__init__(optimizer)
        o = type(self).__name__
        self.T_max = _count(o, "T_max", T_max, 1)
        self.eta_min = _real(o, "eta_min", eta_min, lo=0)

    def _lr_at(self, epoch: int) -> float:
        lo = self.eta_min
        return lo + (self.base_lr - lo) * (1 + math.cos(math.pi * epoch / self.T_max)) / 2


class ReduceOnPlateau(Schedule):
    """Cut the learning rate by ``factor`` when a metric stops improving (``ReduceLROnPlateau``).

    Call ``sched.step(metric)`` once per epoch with, e.g., the validation loss.
    With ``threshold`` relative (torch's ``threshold_mode='rel'``, no cooldown)::

        better  <=>  metric < best * (1 - threshold)    (mode 'min')
                     metric > best * (1 + threshold)    (mode 'max')
        if better: best <- metric; bad <- 0   else: bad <- bad + 1
        if bad > patience:
            lr <- max(lr * factor, min_lr)    (unless that changes lr by less than 1e-8)
            bad <- 0

    Parameters
    ----------
    optimizer : Optimizer
    factor : float, default 0.1
        In (0, 1).
    patience : int, default 10
        Epochs without improvement tolerated before a cut, >= 0.
    threshold : float, default 1e-4
        Relative improvement that counts, >= 0.
    mode : {'min', 'max'}, default 'min'
        Whether the metric should go down (a loss) or up (an accuracy).
    min_lr : float, default 0
        The learning rate is never cut below this, >= 0.

    Examples
    --------
    >>> import microgd as mg
    >>> from microgd import optim
    >>> from microgd.optim import schedules
    >>> opt = optim.GD([mg.Value(1.0)], lr=1.0)
    >>> sched = schedules.ReduceOnPlateau(opt, factor=0.5, patience=1)
    >>> lrs = []
    >>> for loss in [3.0, 2.0, 2.0, 2.0, 1.0, 1.0, 1.0]:
    ...     sched.step(loss)
    ...     lrs.append(opt.lr)
    >>> lrs
    [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25]
    """

    _EPS = 1e-8  # torch's default: cuts smaller than this are skipped

    def __init__(self, optimizer: Optimizer, factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, mode: str = "min", min_lr: float = 0) -> None:
        super().__init__(optimizer)
        o = type(self).__name__
        self.factor = _real(o, "factor", factor, lo=0, hi=1, lo_open=True, hi_open=True)
        self.patience = _count(o, "patience", patience, 0)
        self.threshold = _real(o, "threshold", threshold, lo=0)
        if mode not in ("min", "max"):
            raise ValueError(f"{o}: mode must be 'min' or 'max', got {mode!r}")
        self.mode = mode
        self.min_lr = _real(o, "min_lr", min_lr, lo=0)
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0

    def _is_better(self, metric: float) -> bool:
        if self.mode == "min":
            return metric < self.best * (1 - self.threshold)
        return metric > self.best * (1 + self.threshold)

    def step(self, metric: float) -> None:  # type: ignore[override]
        """End an epoch whose monitored quantity was ``metric`` (a number or a scalar Value)."""
        try:
            value = float(metric)
        except (TypeError, ValueError):
            raise TypeError(f"{type(self).__name__}.step: metric must be a number, got "
                            f"{type(metric).__name__}") from None
        self.last_epoch += 1
        if self._is_better(value):
            self.best = value
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.num_bad_epochs > self.patience:
            old = self.optimizer.lr
            new = max(old * self.factor, self.min_lr)
            if old - new > self._EPS:
                self.optimizer.lr = new
            self.num_bad_epochs = 0

    def get_lr(self) -> float:
        """The optimizer's current learning rate (this schedule only ever cuts it)."""
        return self.optimizer.lr

    def _state_keys(self) -> dict[str, Any]:
        return {"last_epoch": self.last_epoch, "base_lr": self.base_lr, "best": self.best,
                "num_bad_epochs": self.num_bad_epochs}

    def _check_state(self, d: dict[str, Any], owner: str) -> dict[str, Any]:
        out = super()._check_state(d, owner)
        best = d["best"]
        ok = (isinstance(best, numbers.Real) and not isinstance(best, (bool, np.bool_))) or (
            isinstance(best, np.ndarray) and best.ndim == 0 and best.dtype.kind in "iuf")
        if not ok or math.isnan(float(best)):
            raise ValueError(f"{owner}: best must be a number, got {best!r}")
        out["best"] = float(best)  # +-inf is legitimate: nothing seen yet
        out["num_bad_epochs"] = _count(owner, "num_bad_epochs", d["num_bad_epochs"], 0)
        return out

    def __repr__(self) -> str:
        return (f"ReduceOnPlateau(factor={self.factor!r}, patience={self.patience}, "
                f"mode={self.mode!r}, best={self.best!r}, lr={self.optimizer.lr!r})")
