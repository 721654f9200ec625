"""Optimizers: the classic update rules, each a few readable lines of NumPy.

Every optimizer updates a list of :class:`~microgd.Value` parameters in place
from their ``.grad``, the way ``torch.optim`` does: ``zero_grad()``, compute a
loss, ``backward()``, ``step()``.  ``SGD``, ``Nesterov``, ``Adam``, ``AdamW``,
``RMSProp`` and ``AdaGrad`` follow the update rules of the ``torch.optim``
classes of the same name step for step; ``GD`` and ``Momentum`` are the
textbook rules.  Learning-rate schedules live in :mod:`microgd.optim.schedules`.

Examples
--------
>>> import numpy as np
>>> import microgd as mg
>>> from microgd import optim
>>> w = mg.Value(np.array([3.0, -1.0]))
>>> opt = optim.SGD([w], lr=0.1, momentum=0.9)
>>> for _ in range(300):
...     opt.zero_grad()
...     loss = (w * w).sum()
...     loss.backward()
...     opt.step()
>>> bool(np.allclose(w.data, 0.0, atol=1e-6))
True
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from microgd.value import Value

__all__ = [
    "GD", "SGD", "AdaGrad", "Adam", "AdamW", "Momentum", "Nesterov", "Optimizer", "RMSProp",
    "schedules",
]


# ---- argument checking ------------------------------------------------------------------

def _real(owner: str, name: str, value: Any, *, lo: float | None = None,
          hi: float | None = None, lo_open: bool = False, hi_open: bool = False) -> float:
    """``value`` as a Python float, checked to be finite and inside the given bounds.

    Python floats, not NumPy scalars, because ``np.float64 * float32 array`` is
    float64 in NumPy 2 and would silently promote float32 parameters.
    """
    is_num = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
    is_0d = (isinstance(value, np.ndarray) and value.ndim == 0
             and value.dtype.kind in "iuf")  # what a value read back from .npz looks like
    if not (is_num or is_0d):
        raise TypeError(f"{owner}: {name} must be a real number, got {value!r} "
                        f"({type(value).__name__})")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{owner}: {name} must be a finite number, got {v}")
    too_low = lo is not None and (v <= lo if lo_open else v < lo)
    too_high = hi is not None and (v >= hi if hi_open else v > hi)
    if too_low or too_high:
        if lo is not None and hi is not None:
            want = f"in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
        elif lo is not None:
            want = f"{'>' if lo_open else '>='} {lo:g}"
        else:
            want = f"{'<' if hi_open else '<='} {hi:g}"
        raise ValueError(f"{owner}: {name} must be {want}, got {v!r}")
    return v


def _flag(owner: str, name: str, value: Any) -> bool:
    ok = isinstance(value, (bool, np.bool_)) or (
        isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype == bool)
    if not ok:
        raise TypeError(f"{owner}: {name} must be True or False, got {value!r}")
    return bool(value)


def _betas(owner: str, value: Any) -> tuple[float, float]:
    if isinstance(value, (str, bytes)) or np.shape(value) != (2,):
        raise ValueError(f"{owner}: betas must be a pair (beta1, beta2), got {value!r}")
    b1, b2 = (np.asarray(value)[k] for k in range(2))
    return (_real(owner, "betas[0]", b1, lo=0, hi=1, hi_open=True),
            _real(owner, "betas[1]", b2, lo=0, hi=1, hi_open=True))


def _check_params(params: Any, owner: str) -> list[Value]:
    if isinstance(params, Value):
        params = [params]
    elif callable(getattr(params, "parameters", None)):  # a Module
        params = params.parameters()
    if isinstance(params, (str, bytes, Mapping)) or not isinstance(params, Iterable):
        raise TypeError(f"{owner}: params must be a list of Values (e.g. model.parameters()), "
                        f"got {type(params).__name__}")
    params = list(params)
    if not params:
        raise ValueError(f"{owner}: params is empty; pass the list of Values to optimize "
                         "(e.g. model.parameters())")
    first: dict[int, int] = {}
    for i, p in enumerate(params):
        if not isinstance(p, Value):
            raise TypeError(f"{owner}: params[{i}] is a {type(p).__name__}, not a microgd "
                            "Value; wrap arrays as mg.Value(array)")
        if not p.requires_grad:
            raise ValueError(f"{owner}: params[{i}] is a Value of shape {p.shape} with "
                             "requires_grad=False (a constant); only Values that require "
                             "grad can be optimized")
        if not p.is_leaf:
            raise ValueError(f"{owner}: params[{i}] was computed by op {p.op!r}; optimize the "
                             "leaf Values it was computed from")
        j = first.setdefault(id(p), i)
        if j != i:
            raise ValueError(f"{owner}: params[{i}] is the same Value as params[{j}]; each "
                             "parameter may appear only once")
    return params


# ---- the base class -----------------------------------------------------------------

def _fresh(new: Any, w: np.ndarray, g: np.ndarray, state: dict[str, Any], p: Any) -> bool:
    """Whether ``new`` is an array of ``p``'s shape and dtype that nothing else holds."""
    return (type(new) is np.ndarray and new.base is None and new.dtype == p.dtype
            and new.shape == p.shape and new is not w and new is not g
            and not any(new is v for v in state.values()))


class Optimizer:
    """Base class: holds the parameters, the learning rate and per-parameter state.

    Parameters
    ----------
    params : iterable of Value
        The parameters to update (leaf Values that require grad, each once).
        A single Value, or a Module (its ``parameters()``), is accepted too.
    lr : float
        The learning rate, > 0.  Schedules change ``opt.lr`` between steps
        (to any finite value >= 0; a step with lr 0 changes nothing).
    **hyper
        The optimizer's other hyperparameters, checked by ``_check_hyper``.
        They are fixed once built: they decide which state is kept.

    Attributes
    ----------
    params : list of Value
    lr : float
    state : list of dict
        One dict per parameter: ``"step"`` (how many updates that parameter
        has had) and the optimizer's arrays (momentum buffers, moment
        estimates, ...), each of the parameter's shape and dtype.

    Notes
    -----
    A new optimizer subclasses this and overrides three hooks:
    ``_check_hyper(hyper) -> dict`` (validate and normalize the
    hyperparameters), ``_state_names(hyper) -> tuple of str`` (the arrays
    kept per parameter, created as zeros) and ``_update(w, g, state) ->
    new w`` (one parameter's rule; ``state["step"]`` has already been
    incremented; state arrays may be updated in place).  ``w`` and ``g``
    are ndarrays of the parameter's dtype; the rule should compute in it.

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> from microgd import optim
    >>> class SignGD(optim.Optimizer):
    ...     '''w <- w - lr * sign(g)'''
    ...     def _update(self, w, g, state):
    ...         return w - self.lr * np.sign(g)
    >>> w = mg.Value([1.0, -1.0])
    >>> opt = SignGD([w], lr=0.25)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> w.data.tolist()
    [0.75, -0.75]
    """

    def __init__(self, params: Any, lr: float, **hyper: Any) -> None:
        owner = type(self).__name__
        if type(self)._update is Optimizer._update:
            raise TypeError(f"{owner} defines no update rule: Optimizer is a base class; "
                            "subclass it and define _update(w, g, state)")
        checked_params = _check_params(params, owner)
        lr = _real(owner, "lr", lr, lo=0, lo_open=True)
        hp = self._check_hyper(dict(hyper))
        object.__setattr__(self, "_hp", hp)
        self.params: list[Value] = checked_params
        self._lr = lr
        names = self._state_names(hp)
        self.state: list[dict[str, Any]] = [
            {"step": 0, **{n: np.zeros(p.shape, p.dtype) for n in names}} for p in self.params
        ]

    # -- hooks for subclasses -------------------------------------------------------
    def _check_hyper(self, hyper: dict[str, Any]) -> dict[str, Any]:
        if hyper:
            raise TypeError(f"{type(self).__name__}: unexpected hyperparameters "
                            f"{sorted(hyper)}")
        return {}

    def _state_names(self, hyper: dict[str, Any]) -> tuple[str, ...]:
        return ()

    def _update(self, w: np.ndarray, g: np.ndarray, state: dict[str, Any]) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} does not define _update")

    # -- hyperparameters: lr may change, the others are fixed ---------------------------
    @property
    def lr(self) -> float:
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        # 0 is allowed here (not in the constructor): cosine annealing reaches eta_min=0.
        self._lr = _real(type(self).__name__, "lr", value, lo=0)

    def __getattr__(self, name: str) -> Any:
        hp = self.__dict__.get("_hp")
        if hp is not None and name in hp:
            return hp[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self.__dict__.get("_hp", ()):
            raise AttributeError(
                f"{type(self).__name__}.{name} is fixed when the optimizer is built (it "
                "decides the state kept per parameter); build a new optimizer instead")
        object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        hp = "".join(f", {k}={v!r}" for k, v in self._hp.items())
        return f"{type(self).__name__}({len(self.params)} params, lr={self.lr!r}{hp})"

    # -- the training-loop API -----------------------------------------------------------
    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to None (the next backward starts afresh)."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """Update every parameter that has a gradient (those whose ``.grad`` is None are skipped).

        Every gradient is checked first: a gradient of the wrong shape raises
        ValueError naming the parameter, and nothing is updated.
        """
        owner = type(self).__name__
        todo = []
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            g = np.asarray(p.grad)
            if g.shape != p.shape:
                raise ValueError(f"{owner}.step: params[{i}].grad has shape {g.shape} but the "
                                 f"parameter has shape {p.shape}; no parameter was updated")
            if g.dtype.kind not in "biuf":
                raise TypeError(f"{owner}.step: params[{i}].grad has dtype {g.dtype}, not a "
                                "number type; no parameter was updated")
            todo.append((i, p, g.astype(p.dtype, copy=False)))
        for i, p, g in todo:
            st = self.state[i]
            st["step"] += 1
            w = np.asarray(p.data)
            new = self._update(w, g, st)
            if _fresh(new, w, g, st, p):
                p._set(new)  # the update built a new array: take it without a second copy
            else:
                p.assign(new)  # it may alias w, g or the state: copy, cast and check

    # -- saving and loading --------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: plain numbers and NumPy arrays under flat string keys.

        Keys: ``"lr"``, one per hyperparameter (``"momentum"``, ``"betas"``, ...),
        and ``"state.{i}.{name}"`` for parameter ``i`` (``"state.0.step"``,
        ``"state.0.momentum_buffer"``, ...).  The arrays are copies, so the dict
        can be kept, or saved with ``np.savez`` and read back without pickle.

        Examples
        --------
        >>> import microgd as mg
        >>> from microgd import optim
        >>> opt = optim.SGD([mg.Value([1.0, 2.0])], lr=0.1, momentum=0.9)
        >>> sorted(opt.state_dict())  # doctest: +NORMALIZE_WHITESPACE
        ['dampening', 'lr', 'maximize', 'momentum', 'nesterov', 'state.0.momentum_buffer',
         'state.0.step', 'weight_decay']
        """
        out: dict[str, Any] = {"lr": self.lr}
        for k, v in self._hp.items():
            out[k] = np.array(v) if isinstance(v, tuple) else v
        for i, st in enumerate(self.state):
            for name, val in st.items():
                out[f"state.{i}.{name}"] = val if name == "step" else np.array(val, copy=True)
        return out

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore a :meth:`state_dict` (also one read back from ``.npz``: 0-d arrays are fine).

        The keys, the shapes of the arrays and the hyperparameter values are
        all checked first; on any difference a ValueError names every problem
        and nothing is changed.  Arrays are copied and cast to the parameters'
        dtypes.  Hyperparameters are restored too (as ``torch.optim`` does).
        """
        owner = type(self).__name__
        where = f"{owner}.load_state_dict"
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"{where}: expected a dict, got {type(state_dict).__name__}")
        d = dict(state_dict)
        hp = self._hp
        lr = self.lr
        hyper_keys = ["lr", *hp]
        if all(k in d for k in hyper_keys):
            try:
                lr = _real(owner, "lr", d["lr"], lo=0)
                hp = self._check_hyper({k: d[k] for k in self._hp})
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{where}: {exc}; nothing was loaded") from None
        names = ("step", *self._state_names(hp))
        expected = set(hyper_keys) | {f"state.{i}.{n}" for i in range(len(self.params))
                                      for n in names}
        problems = []
        missing = sorted(expected - d.keys())
        unexpected = sorted(d.keys() - expected, key=str)
        if missing:
            problems.append(f"missing keys {missing}")
        if unexpected:
            problems.append(f"unexpected keys {unexpected}")
        new_state: list[dict[str, Any]] = []
        for i, p in enumerate(self.params):
            st: dict[str, Any] = {}
            for n in names:
                key = f"state.{i}.{n}"
                if key not in d:
                    continue
                arr = np.asarray(d[key])
                if n == "step":
                    if arr.shape != () or arr.dtype.kind not in "iu" or int(arr) < 0:
                        problems.append(f"{key!r} must be a non-negative integer, got "
                                        f"{d[key]!r}")
                    else:
                        st[n] = int(arr)
                elif arr.shape != p.shape:
                    problems.append(f"{key!r} has shape {arr.shape} but params[{i}] has "
                                    f"shape {p.shape}")
                elif arr.dtype.kind not in "iuf":
                    problems.append(f"{key!r} has dtype {arr.dtype}, not a float array")
                else:
                    st[n] = arr.astype(p.dtype, copy=True)
            new_state.append(st)
        if problems:
            raise ValueError(f"{where}: " + "; ".join(problems) + "; nothing was loaded")
        object.__setattr__(self, "_hp", hp)
        self._lr = lr
        self.state = new_state


# ---- the optimizers -------------------------------------------------------------------

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

    def __init__(self, params: Any, lr: float) -> None:
        super().__init__(params, lr)

    def _update(self, w: np.ndarray, g: np.ndarray, state: dict[str, Any]) -> np.ndarray:
        return w - self.lr * g


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

    def _update(self, w: np.ndarray, g: np.ndarray, state: dict[str, Any]) -> np.ndarray:
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
        return w - self.lr * g


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
        return w + m


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
                w = w * (1 - self.lr * wd)
            else:
                g = g + wd * w
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * (g * g)
        if hp["amsgrad"]:
            np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
            v = state["max_exp_avg_sq"]
        denom = np.sqrt(v) / math.sqrt(1 - b2 ** t) + hp["eps"]
        return w - (self.lr / (1 - b1 ** t)) * (m / denom)


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
            return w - self.lr * b
        return w - self.lr * (g / d)


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
        return w - clr * (g / (np.sqrt(s) + self._hp["eps"]))


# Bottom import: schedules wrap the Optimizer class defined above.
from microgd.optim import schedules  # noqa: E402
