"""Optimizers with per-weight step sizes: ``Adam``, ``AdamW``, ``RMSProp`` and ``AdaGrad``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from microgd.optim.base import Optimizer, _betas, _flag, _real

__all__ = ["AdaGrad", "Adam", "AdamW", "RMSProp"]


class Adam(Optimizer):
    r"""Adam: ``torch.optim.Adam``, step for step.

    Update rule at step t (lambda = weight_decay; m, v, v_max start at 0)::

        g <- g + lambda * w                     if lambda != 0 (L2 penalty)
        m <- beta1 * m + (1 - beta1) * g
        v <- beta2 * v + (1 - beta2) * g**2
        v_max <- max(v_max, v); use v_max for v  if amsgrad
        w <- w - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    Like torch, amsgrad keeps the running maximum of the raw second moment v
    (not of its bias-corrected value).

    Parameters
    ----------
    params : iterable of Value
    lr : float, default 1e-3
    betas : (float, float), default (0.9, 0.999)
        Decay rates of the first and second moments, each in [0, 1).
    eps : float, default 1e-8
        Added to the denominator, > 0.
    weight_decay : float, default 0
        L2 penalty >= 0 added to the gradient (see :class:`AdamW` for the decoupled kind).
    amsgrad : bool, default False

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> from microgd import optim
    >>> w = mg.Value([1.0, 1.0])
    >>> opt = optim.Adam([w], lr=0.1)
    >>> w.grad = np.array([2.0, -0.5])
    >>> opt.step()                      # the first step moves each weight by ~lr * sign(g)
    >>> np.round(w.data, 6).tolist()
    [0.9, 1.1]
    """

    _decoupled = False

    _in_place = True  # _update writes into w (see Optimizer)

    def __init__(self, params: Any, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, amsgrad: bool = False) -> None:
        super().__init__(params, lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad)

    def _check_hyper(self, hyper: dict[str, Any]) -> dict[str, Any]:
        o = type(self).__name__
        return {
            "betas": _betas(o, hyper["betas"]),
            "eps": _real(o, "eps", hyper["eps"], lo=0, lo_open=True),
            "weight_decay": _real(o, "weight_decay", hyper["weight_decay"], lo=0),
            "amsgrad": _flag(o, "amsgrad", hyper["amsgrad"]),
        }

    def _state_names(self, hyper: dict[str, Any]) -> tuple[str, ...]:
        return ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if hyper["amsgrad"] else ())

    def _update(self, w: np.ndarray, g: np.ndarray, state: dict[str, Any]) -> np.ndarray:
        hp = self._hp
        b1, b2 = hp["betas"]
        wd = hp["weight_decay"]
        t = state["step"]
        if wd != 0:
            if self._decoupled:
                w *= 1 - self.lr * wd
            else:
                g = g + wd * w
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m *= b1
        v *= b2
        work = self._work(w)
        if work is None:  # small or 0-d: operators (a ufunc call with out= costs more)
            m += (1 - b1) * g
            v += (g * g) * (1 - b2)
        else:  # large: every temporary in the one reused work array, same operations
            m += np.multiply(g, 1 - b1, out=work)
            sq = np.multiply(g, g, out=work)
            sq *= 1 - b2
            v += sq
        if hp["amsgrad"]:
            np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
            v = state["max_exp_avg_sq"]
        c2, step_size, eps = math.sqrt(1 - b2 ** t), self.lr / (1 - b1 ** t), hp["eps"]
        if work is None:
            w -= (m / (np.sqrt(v) / c2 + eps)) * step_size
            return w
        denom = np.sqrt(v, out=work)
        denom /= c2
        denom += eps
        step = np.divide(m, denom, out=work)
        step *= step_size
        w -= step
        return w


class AdamW(Adam):
    r"""AdamW, Adam with decoupled weight decay: ``torch.optim.AdamW``, step for step.

    Update rule at step t: first shrink the weights, then an Adam step without
    the L2 term (lambda = weight_decay)::

        w <- w * (1 - lr * lambda)
        m <- beta1 * m + (1 - beta1) * g
        v <- beta2 * v + (1 - beta2) * g**2
        v_max <- max(v_max, v); use v_max for v  if amsgrad
        w <- w - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    Parameters
    ----------
    params : iterable of Value
    lr : float, default 1e-3
    betas : (float, float), default (0.9, 0.999)
    eps : float, default 1e-8
    weight_decay : float, default 1e-2
        Decoupled decay rate lambda >= 0.
    amsgrad : bool, default False

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> from microgd import optim
    >>> w = mg.Value(1.0)
    >>> opt = optim.AdamW([w], lr=0.1, weight_decay=0.5)
    >>> w.grad = np.array(0.0)          # no gradient signal: only the decay acts
    >>> opt.step()
    >>> round(w.item(), 10)             # 1 * (1 - 0.1 * 0.5)
    0.95
    """

    _decoupled = True

    def __init__(self, params: Any, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False) -> None:
        super().__init__(params, lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad)


class RMSProp(Optimizer):
    r"""RMSProp: ``torch.optim.RMSprop``, step for step.

    Update rule (alpha = smoothing, mu = momentum; v, g_avg, b start at 0)::

        v <- alpha * v + (1 - alpha) * g**2
        if centered:
            g_avg <- alpha * g_avg + (1 - alpha) * g
            d <- sqrt(v - g_avg**2) + eps
        else:
            d <- sqrt(v) + eps
        if mu > 0:
            b <- mu * b + g / d
            w <- w - lr * b
        else:
            w <- w - lr * g / d

    Parameters
    ----------
    params : iterable of Value
    lr : float, default 1e-2
    alpha : float, default 0.99
        Smoothing constant of the squared-gradient average, in [0, 1).
    eps : float, default 1e-8
        Added to the denominator, > 0.
    momentum : float, default 0
        mu >= 0.
    centered : bool, default False
        Divide by an estimate of the gradient's variance instead of its second moment.

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> from microgd import optim
    >>> w = mg.Value(1.0)
    >>> opt = optim.RMSProp([w], lr=0.01, alpha=0.75)
    >>> w.grad = np.array(4.0)
    >>> opt.step()                      # v = 0.25 * 16 = 4; w = 1 - 0.01 * 4 / 2
    >>> round(w.item(), 6)
    0.98
    """

    _in_place = True  # _update writes into w (see Optimizer)

    def __init__(self, params: Any, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 momentum: float = 0, centered: bool = False) -> None:
        super().__init__(params, lr, alpha=alpha, eps=eps, momentum=momentum, centered=centered)

    def _check_hyper(self, hyper: dict[str, Any]) -> dict[str, Any]:
        o = type(self).__name__
        return {
            "alpha": _real(o, "alpha", hyper["alpha"], lo=0, hi=1, hi_open=True),
            "eps": _real(o, "eps", hyper["eps"], lo=0, lo_open=True),
            "momentum": _real(o, "momentum", hyper["momentum"], lo=0),
            "centered": _flag(o, "centered", hyper["centered"]),
        }

    def _state_names(self, hyper: dict[str, Any]) -> tuple[str, ...]:
        return (("square_avg",) + (("momentum_buffer",) if hyper["momentum"] > 0 else ())
                + (("grad_avg",) if hyper["centered"] else ()))

    def _update(self, w: np.ndarray, g: np.ndarray, state: dict[str, Any]) -> np.ndarray:
        hp = self._hp
        a = hp["alpha"]
        v = state["square_avg"]
        v *= a
        v += (1 - a) * (g * g)
        if hp["centered"]:
            g_avg = state["grad_avg"]
            g_avg *= a
            g_avg += (1 - a) * g
            # v - g_avg**2 >= 0 in exact arithmetic; clipping keeps rounding from making a NaN.
            d = np.sqrt(np.maximum(v - g_avg * g_avg, 0)) + hp["eps"]
        else:
            d = np.sqrt(v) + hp["eps"]
        if hp["momentum"] > 0:
            b = state["momentum_buffer"]
            b *= hp["momentum"]
            b += g / d
            w -= self.lr * b
        else:
            w -= self.lr * (g / d)
        return w


class AdaGrad(Optimizer):
    r"""AdaGrad: ``torch.optim.Adagrad`` (initial accumulator 0, no weight decay), step for step.

    Update rule at step t (the sum s starts at 0)::

        clr <- lr / (1 + (t - 1) * lr_decay)
        s <- s + g**2
        w <- w - clr * g / (sqrt(s) + eps)

    Parameters
    ----------
    params : iterable of Value
    lr : float, default 1e-2
    lr_decay : float, default 0
        >= 0.
    eps : float, default 1e-10
        Added to the denominator, > 0.

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> from microgd import optim
    >>> w = mg.Value([1.0, 1.0])
    >>> opt = optim.AdaGrad([w], lr=0.5)
    >>> w.grad = np.array([3.0, -0.5])
    >>> opt.step()                      # the first step is lr * sign(g)
    >>> np.round(w.data, 6).tolist()
    [0.5, 1.5]
    """

    _in_place = True  # _update writes into w (see Optimizer)

    def __init__(self, params: Any, lr: float = 1e-2, lr_decay: float = 0,
                 eps: float = 1e-10) -> None:
        super().__init__(params, lr, lr_decay=lr_decay, eps=eps)

    def _check_hyper(self, hyper: dict[str, Any]) -> dict[str, Any]:
        o = type(self).__name__
        return {"lr_decay": _real(o, "lr_decay", hyper["lr_decay"], lo=0),
                "eps": _real(o, "eps", hyper["eps"], lo=0, lo_open=True)}

    def _state_names(self, hyper: dict[str, Any]) -> tuple[str, ...]:
        return ("sum",)

    def _update(self, w: np.ndarray, g: np.ndarray, state: dict[str, Any]) -> np.ndarray:
        clr = self.lr / (1 + (state["step"] - 1) * self._hp["lr_decay"])
        s = state["sum"]
        s += g * g
        w -= clr * (g / (np.sqrt(s) + self._hp["eps"]))
        return w
