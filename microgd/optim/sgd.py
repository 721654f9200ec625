"""Gradient descent and its momentum variants: ``GD``, ``SGD``, ``Nesterov`` and ``Momentum``."""

from __future__ import annotations

from typing import Any

import numpy as np

from microgd.optim.base import Optimizer, _flag, _real

__all__ = ["GD", "SGD", "Momentum", "Nesterov"]


class GD(Optimizer):
    r"""Plain gradient descent (meant full-batch; on mini-batches it is SGD without momentum).

    Update rule, for every parameter with a gradient :math:`g`::

        w <- w - lr * g

    Parameters
    ----------
    params : iterable of Value
    lr : float
        Step size, > 0.

    Examples
    --------
    >>> import microgd as mg
    >>> from microgd import optim
    >>> w = mg.Value([1.0, -2.0])
    >>> opt = optim.GD([w], lr=0.1)
    >>> (w * w).sum().backward()        # g = 2 w = [2, -4]
    >>> opt.step()
    >>> w.data.tolist()
    [0.8, -1.6]
    """

    _in_place = True  # _update writes into w (see Optimizer)

    def __init__(self, params: Any, lr: float) -> None:
        super().__init__(params, lr)

    def _update(self, w: np.ndarray, g: np.ndarray, state: dict[str, Any]) -> np.ndarray:
        return self._descend(w, self._lr, g)


class SGD(Optimizer):
    r"""Stochastic gradient descent with optional momentum: ``torch.optim.SGD`` step for step.

    Update rule at step t (mu = momentum, tau = dampening, lambda = weight_decay)::

        g <- -g                     if maximize
        g <- g + lambda * w         if lambda != 0
        if mu != 0:
            b <- g                  at the first step (no dampening)
            b <- mu * b + (1 - tau) * g     afterwards
            g <- g + mu * b         if nesterov, else  g <- b
        w <- w - lr * g

    Parameters
    ----------
    params : iterable of Value
    lr : float
        Step size, > 0.
    momentum : float, default 0
        mu >= 0.
    dampening : float, default 0
        tau in [0, 1]: the new gradient enters the buffer with weight 1 - tau.
    nesterov : bool, default False
        Nesterov momentum; needs momentum > 0 and dampening 0.
    weight_decay : float, default 0
        L2 penalty lambda >= 0, added to the gradient.
    maximize : bool, default False
        Ascend instead of descend.

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> from microgd import optim
    >>> w = mg.Value(1.0)
    >>> opt = optim.SGD([w], lr=0.1, momentum=0.5)
    >>> for _ in range(2):
    ...     opt.zero_grad()
    ...     w.grad = np.array(1.0)      # a constant gradient, to follow the arithmetic
    ...     opt.step()
    >>> round(w.item(), 10)             # 1 - 0.1*1 - 0.1*(0.5*1 + 1)
    0.75
    """

    _in_place = True  # _update writes into w (see Optimizer)

    def __init__(self, params: Any, lr: float, momentum: float = 0, dampening: float = 0,
                 nesterov: bool = False, weight_decay: float = 0,
                 maximize: bool = False) -> None:
        super().__init__(params, lr, momentum=momentum, dampening=dampening, nesterov=nesterov,
                         weight_decay=weight_decay, maximize=maximize)

    def _check_hyper(self, hyper: dict[str, Any]) -> dict[str, Any]:
        o = type(self).__name__
        hp = {
            "momentum": _real(o, "momentum", hyper["momentum"], lo=0),
            "dampening": _real(o, "dampening", hyper["dampening"], lo=0, hi=1),
            "nesterov": _flag(o, "nesterov", hyper["nesterov"]),
            "weight_decay": _real(o, "weight_decay", hyper["weight_decay"], lo=0),
            "maximize": _flag(o, "maximize", hyper["maximize"]),
        }
        if hp["nesterov"] and (hp["momentum"] <= 0 or hp["dampening"] != 0):
            raise ValueError(f"{o}: nesterov=True needs momentum > 0 and dampening = 0, got "
                             f"momentum={hp['momentum']!r}, dampening={hp['dampening']!r}")
        return hp

    def _state_names(self, hyper: dict[str, Any]) -> tuple[str, ...]:
        return ("momentum_buffer",) if hyper["momentum"] != 0 else ()

    def _use_hyper(self, hp: dict[str, Any]) -> None:
        super()._use_hyper(hp)
        self._plain = not (hp["maximize"] or hp["weight_decay"] or hp["momentum"])

    def _update(self, w: np.ndarray, g: np.ndarray, state: dict[str, Any]) -> np.ndarray:
        if not self._plain:  # plain (most steps): w <- w - lr * g, nothing to look up
            hp = self._hp
            if hp["maximize"]:
                g = -g
            if hp["weight_decay"] != 0:
                g = g + hp["weight_decay"] * w
            mu = hp["momentum"]
            if mu != 0:
                buf = state["momentum_buffer"]
                if state["step"] == 1:
                    buf[...] = g
                else:
                    buf *= mu
                    buf += (1 - hp["dampening"]) * g
                g = g + mu * buf if hp["nesterov"] else buf
        if type(w) is not np.ndarray:  # 0-d: _descend's scalar step, without its call
            return w - self._lr * g
        return self._descend(w, self._lr, g)


class Nesterov(SGD):
    r"""Nesterov momentum: ``torch.optim.SGD(params, lr, momentum=momentum, nesterov=True)``.

    Update rule (b starts as the first gradient)::

        b <- mu * b + g             (b <- g at the first step)
        w <- w - lr * (g + mu * b)

    Parameters
    ----------
    params : iterable of Value
    lr : float
        Step size, > 0.
    momentum : float, default 0.9
        mu > 0.

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> from microgd import optim
    >>> w = mg.Value(1.0)
    >>> opt = optim.Nesterov([w], lr=0.1, momentum=0.5)
    >>> w.grad = np.array(1.0)
    >>> opt.step()                      # b = 1; w = 1 - 0.1 * (1 + 0.5)
    >>> round(w.item(), 10)
    0.85
    """

    def __init__(self, params: Any, lr: float, momentum: float = 0.9) -> None:
        super().__init__(params, lr, momentum=momentum, nesterov=True)


class Momentum(Optimizer):
    r"""Heavy-ball momentum as taught (Polyak): a velocity that remembers past steps.

    Update rule (m starts at 0)::

        m <- beta * m - lr * g
        w <- w + m

    With a constant learning rate this is ``SGD(momentum=beta)`` with the
    velocity scaled by -lr; unlike it, a changed lr only affects new gradients.

    Parameters
    ----------
    params : iterable of Value
    lr : float
        Step size, > 0.
    beta : float, default 0.9
        Momentum coefficient, >= 0 (below 1 to converge).

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> from microgd import optim
    >>> w = mg.Value(0.0)
    >>> opt = optim.Momentum([w], lr=0.1, beta=0.5)
    >>> for _ in range(3):
    ...     w.grad = np.array(-1.0)
    ...     opt.step()
    >>> round(w.item(), 10)             # m = 0.1, 0.15, 0.175
    0.425
    """

    _in_place = True  # _update writes into w (see Optimizer)

    def __init__(self, params: Any, lr: float, beta: float = 0.9) -> None:
        super().__init__(params, lr, beta=beta)

    def _check_hyper(self, hyper: dict[str, Any]) -> dict[str, Any]:
        return {"beta": _real(type(self).__name__, "beta", hyper["beta"], lo=0)}

    def _state_names(self, hyper: dict[str, Any]) -> tuple[str, ...]:
        return ("velocity",)

    def _update(self, w: np.ndarray, g: np.ndarray, state: dict[str, Any]) -> np.ndarray:
        m = state["velocity"]
        m *= self._hp["beta"]
        m -= self.lr * g
        w += m
        return w
