"""The optimizer base class and the argument checks every optimizer and schedule shares.

:class:`Optimizer` holds the parameters, the learning rate, the fixed
hyperparameters and the per-parameter state; a subclass adds one update rule
(:mod:`microgd.optim.sgd`, :mod:`microgd.optim.adaptive`).  ``_real``,
``_flag`` and ``_betas`` check numbers the way every optimizer and schedule
reports them: the owner's name, the argument's name, what was wanted and what
was given.
"""

from __future__ import annotations

import math
import numbers
import sys
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from microgd._state import state_mismatches
from microgd.backprop import _getrefcount  # (its one home: 0 where there is no count)
from microgd.value import Value

__all__ = ["Optimizer"]


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


def _integer(owner: str, name: str, value: Any, *, lo: int | None = None) -> int:
    """``value`` as a Python int (a 0-d integer array read back from ``.npz`` too), ``>= lo``."""
    is_int = isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))
    is_0d = isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iu"
    if not (is_int or is_0d):
        raise TypeError(f"{owner}: {name} must be an integer, got {value!r} "
                        f"({type(value).__name__})")
    v = int(value)
    if lo is not None and v < lo:
        raise ValueError(f"{owner}: {name} must be >= {lo}, got {v}")
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
    """Whether ``new`` is an array of ``p``'s shape and dtype that nothing else holds.

    A NumPy scalar of ``p``'s dtype qualifies for a 0-d parameter: it is immutable, so
    holding it shares nothing (0-d arithmetic returns scalars).
    """
    t = type(new)
    if t is np.float64 or t is np.float32:
        return new.dtype == p.dtype and p.ndim == 0
    return (t is np.ndarray and new.base is None and new.dtype == p.dtype
            and new.shape == p.shape and new is not w and new is not g
            and not any(new is v for v in state.values()))


def _probe_refs() -> int:
    """What ``sys.getrefcount`` reads in :meth:`Optimizer.step` for a parameter's array
    that nothing else references (the Value's slot, the local name ``w`` and the call's
    own argument in CPython), measured in code of the same shape rather than assumed.
    -1 where the count cannot be read: then every in-place update writes into a copy."""
    if not hasattr(sys, "getrefcount"):
        return -1
    p = Value(np.zeros(2))
    w = p._data
    return sys.getrefcount(w)


_ALONE = _probe_refs()


# Parameters from this many elements get their temporaries in a reused work array
# (Optimizer._work); below it a fresh temporary costs less than the bookkeeping.
_SCRATCH_FROM = 16384


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
    A rule that sets the class attribute ``_in_place = True`` writes the
    new weights into ``w`` and returns it, as the built-in rules do (no new
    array per step): ``w`` is then the parameter's own array when nothing
    else references it, and a copy when something does (a ``p.data`` kept
    by the caller, a graph kept with ``retain_graph``), so what others hold
    never changes under them.  For a 0-d parameter ``w`` is a NumPy scalar,
    which ``w -= ...`` rebinds.

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

    _in_place = False  # see the class notes

    def __init__(self, params: Any, lr: float, **hyper: Any) -> None:
        owner = type(self).__name__
        if type(self)._update is Optimizer._update:
            raise TypeError(f"{owner} defines no update rule: Optimizer is a base class; "
                            "subclass it and define _update(w, g, state)")
        checked_params = _check_params(params, owner)
        lr = _real(owner, "lr", lr, lo=0, lo_open=True)
        hp = self._check_hyper(dict(hyper))
        self._use_hyper(hp)
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

    def _use_hyper(self, hp: dict[str, Any]) -> None:
        """Take the checked ``hp`` as the hyperparameters (when built, and when a state
        dict is loaded); a rule that derives settings from them extends this."""
        object.__setattr__(self, "_hp", hp)

    def _update(self, w: np.ndarray, g: np.ndarray, state: dict[str, Any]) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} does not define _update")

    def _work(self, w: Any) -> np.ndarray | None:
        """A work array of ``w``'s shape and dtype for a rule's temporaries, or None.

        Large parameters get a view of a buffer the optimizer keeps (one per
        dtype, the size of the largest parameter), reused by every parameter
        and step: fresh arrays of megabytes cost page faults that the in-place
        update would otherwise save.  Small ones (and 0-d scalars) get None,
        and ``out=None`` lets NumPy allocate, which is then cheaper.
        """
        if type(w) is not np.ndarray or w.size < _SCRATCH_FROM:
            return None
        # One view per shape, made once (dtypes of NumPy's own types are singletons).
        views = self.__dict__.get("_work_views")
        if views is None:
            views = self.__dict__["_work_views"] = {}
        view = views.get(w.shape)
        if view is not None and view.dtype is w.dtype:
            return view
        bufs = self.__dict__.setdefault("_work_buffers", {})
        buf = bufs.get(w.dtype)
        if buf is None or buf.size < w.size:
            buf = bufs[w.dtype] = np.empty(w.size, w.dtype)
            views.clear()  # views of the smaller buffer would keep it alive
        view = views[w.shape] = buf[:w.size].reshape(w.shape)
        return view

    def _descend(self, w: Any, lr: float, d: Any) -> Any:
        """``w -= lr * d``, the step every first-order rule ends with; returns ``w``
        (``lr * d`` computed in :meth:`_work`'s array for a large ``w``)."""
        if type(w) is np.ndarray and w.size >= _SCRATCH_FROM:
            w -= np.multiply(d, lr, out=self._work(w))
        else:  # (a ufunc call with out= costs 15x the operator on a scalar)
            w -= lr * d
        return w

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
        in_place, update, state = self._in_place, self._update, self.state
        for i, p, g in self._grads_to_apply():
            st = state[i]
            st["step"] += 1
            w = p._data
            if type(w) is not np.ndarray:  # 0-d: NumPy scalars, 5x faster arithmetic
                new = update(w, g[()], st)
                if type(new) is type(w):  # a scalar of p's dtype: immutable, shared by none
                    p._data = new  # Value._set for a scalar, spelled out: a call per step
                    p._version += 1
                    continue
            else:
                if in_place:
                    # An in-place rule may write into p's own array only when nothing else
                    # can see it: it owns its memory, is writeable, and p holds the only
                    # reference (a view of it, a graph kept with retain_graph, a
                    # `v = p.data` kept by the caller would each hold one). The test on
                    # the count is the one NumPy's own temporary elision makes.
                    if not (_getrefcount(w) <= _ALONE and w.base is None
                            and w.flags.writeable):
                        w = w.copy()
                    new = update(w, g, st)
                    if new is w:
                        p._data = w  # Value._set for an array of p's shape and dtype
                        p._version += 1
                        continue
                else:
                    new = update(w, g, st)
            if _fresh(new, w, g, st, p):
                p._set(new)  # the update built a new array: take it without a second copy
            else:
                p.assign(new)  # it may alias w, g or the state: copy, cast and check

    def _grads_to_apply(self) -> list[tuple[int, Value, np.ndarray]]:
        """``(index, parameter, gradient in its dtype)`` of every parameter with a gradient,
        all checked before any is used (the check :meth:`step` documents)."""
        todo = []
        for i, p in enumerate(self.params):
            g = p.grad
            if g is None:
                continue
            w = p._data
            if (type(g) is np.ndarray and (g.dtype is w.dtype or g.dtype == w.dtype)
                    and g.shape == w.shape):
                todo.append((i, p, g))  # what backward leaves: nothing to convert
                continue
            g = np.asarray(g)
            owner = type(self).__name__
            if g.shape != p.shape:
                raise ValueError(f"{owner}.step: params[{i}].grad has shape {g.shape} but the "
                                 f"parameter has shape {p.shape}; no parameter was updated")
            if g.dtype.kind not in "biuf":
                raise TypeError(f"{owner}.step: params[{i}].grad has dtype {g.dtype}, not a "
                                "number type; no parameter was updated")
            todo.append((i, p, g.astype(p.dtype, copy=False)))
        return todo

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
        # Keys only: each state value's shape is checked below, against its parameter.
        expected = dict.fromkeys([*hyper_keys, *(f"state.{i}.{n}" for i in range(len(self.params))
                                                 for n in names)])
        problems = state_mismatches(expected, d)
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
        self._use_hyper(hp)
        self._lr = lr
        self.state = new_state
