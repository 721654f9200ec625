"""Curvature measured during training: sharpness, spectra, trace and gradient noise.

A monitor is handed to :func:`microgd.fit` (``monitors=[...]``) and measures,
every ``every`` steps (step 0, the start, included), the *full* training loss
at the current parameters: the mean of ``loss_fn`` over all of ``data``, in
batches of ``batch_size`` when ``fit`` has one, so the numbers are exact, not
those of one noisy mini-batch.  Training is not disturbed: the parameters,
their ``.grad``, their versions and the batches drawn are what they would be
without monitors (the final parameters are bit-identical).  Results go to
``hist.monitors[name]``, a dict of lists with a ``'step'`` list (the number of
updates made before the measurement) beside the measured ``'value'``.

- :class:`Sharpness`: the top Hessian eigenvalue, with the optimizer's
  stability threshold (``2/lr`` for plain GD), the quantity of the edge of
  stability (Cohen, Kaur, Li, Kolter and Talwalkar, ICLR 2021).  Lanczos is
  warm-started from the previous measurement's eigenvector, so a measurement
  costs a few Hessian-vector products, not dozens (``'n_hvp'``).
- :class:`Eigenvalues`: the ``k`` extreme eigenvalues at each end.
- :class:`HessianTrace`: Hutchinson's trace estimate, with its standard error.
- :class:`GradientNoise`: the gradient noise scale ``tr(Sigma) / |g|^2``
  (McCandlish, Kaplan, Amodei et al. 2018), the batch size beyond which a
  larger batch stops helping.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from microgd.autodiff import enable_grad
from microgd.backprop import gradients, nodes
from microgd.curvature import _spectrum
from microgd.data import Batches
from microgd.estimators import hutchinson_trace
from microgd.operators import LossHessian
from microgd.tree import flatten
from microgd.value import Value

__all__ = ["CACHE_BYTES", "Eigenvalues", "GradientNoise", "HessianTrace", "Monitor",
           "Sharpness", "TrainingLoss", "stability_threshold"]

CACHE_BYTES = 256 * 2**20
"""Memory the recorded gradient graphs of one measurement may keep (beyond it, each product
recomputes the batches' graphs: slower, never larger)."""


class TrainingLoss:
    """The full training loss at the current parameters, and its exact Hessian products.

    ``L = sum_b (n_b / N) loss_fn(X_b, y_b)`` over the batches of ``data``
    in order (one batch when ``batch_size`` is None): the mean training loss
    when ``loss_fn`` is a batch mean, as the losses in :mod:`microgd.nn` are.
    ``matvec`` is ``H_L v``, the sum of the batches' exact products; the
    batches' gradient graphs are kept for the next product while they fit in
    :data:`CACHE_BYTES`, and rebuilt per product beyond that.  Built and used
    in grad mode whatever the caller's mode; ``.grad`` is never touched.

    Attributes
    ----------
    value : float
        The training loss.
    grad : ndarray
        Its gradient, flat (float64).
    n : int
        The number of parameters.
    n_products : int
        Hessian-vector products of the full loss so far.
    """

    def __init__(self, loss_fn: Callable[[Any, Any], Value], params: Sequence[Value],
                 data: tuple[np.ndarray, np.ndarray], batch_size: int | None = None,
                 cache_bytes: int = CACHE_BYTES) -> None:
        self.loss_fn, self.params, self.data = loss_fn, list(params), data
        X, y = data
        self.batches = [(X, y)] if batch_size is None else list(
            Batches(X, y, batch_size=batch_size, shuffle=False))
        self.weights = [len(xb) / len(X) for xb, _ in self.batches]
        self.x = [np.asarray(p.data) for p in self.params]
        self.n = sum(w.size for w in self.x)
        self.n_products = 0
        self._cache_bytes = cache_bytes
        self._ops: list[LossHessian] | None = None
        self._value: float | None = None
        self._grad = np.zeros(0)

    def _build(self) -> None:
        """Record every batch's gradient graph once (only when a product or the value is
        asked for: a monitor of gradients alone never pays for it)."""
        ops: list[LossHessian] | None = []
        value, grad, kept = 0.0, np.zeros(self.n), 0
        for i, w in enumerate(self.weights):
            op, loss = self._batch(i)
            value += w * loss
            grad += w * op.grad
            if ops is not None:
                kept += _graph_bytes(op)
                if kept <= self._cache_bytes:
                    ops.append(op)
                else:
                    ops = None  # too large to keep: each product rebuilds the graphs
        self._ops, self._value, self._grad = ops, float(value), grad

    @property
    def value(self) -> float:
        if self._value is None:
            self._build()
        return float(self._value)  # type: ignore[arg-type]

    @property
    def grad(self) -> np.ndarray:
        if self._value is None:
            self._build()
        return self._grad

    def _batch(self, i: int) -> tuple[LossHessian, float]:
        xb, yb = self.batches[i]
        with enable_grad():
            loss = self.loss_fn(xb, yb)
            if not isinstance(loss, Value) or loss.ndim != 0:
                shape = getattr(loss, "shape", type(loss).__name__)
                raise ValueError(f"monitors: loss_fn must return a scalar Value, got {shape}")
            return LossHessian(loss, self.params, "monitors"), float(loss.data)

    def matvec(self, vec: np.ndarray) -> np.ndarray:
        """``H_L @ vec`` on flat vectors of length ``n``."""
        if self._value is None:
            self._build()
        self.n_products += 1
        out = np.zeros(self.n)
        for i, w in enumerate(self.weights):
            op = self._ops[i] if self._ops is not None else self._batch(i)[0]
            with enable_grad():
                out += w * op.matvec(vec)
        if not np.isfinite(out).all():
            raise ValueError("monitors: a Hessian-vector product of the training loss is not "
                             "finite")
        return out


def _graph_bytes(op: LossHessian) -> int:
    """Bytes held by the arrays of a recorded gradient graph (a lower bound of its memory)."""
    roots = [g for g in op._grads if g.requires_grad]
    return sum(node._data.nbytes for node in nodes(roots)) if roots else 0


def stability_threshold(optimizer: Any) -> float:
    """The largest curvature the optimizer's step is stable on (NaN when there is no one value).

    On a quadratic of curvature ``lam`` gradient descent with step ``lr``
    converges exactly when ``lam < 2 / lr``; heavy-ball momentum ``mu``
    raises that to ``(2 + 2 mu) / lr``, Nesterov's to
    ``(2 + 2 mu) / ((1 + 2 mu) lr)``; SGD's dampening scales the step by
    ``1 - dampening`` and weight decay adds to every curvature.  Adaptive
    optimizers (Adam, RMSProp, ...) precondition the step, so their
    threshold is not one number: NaN.

    Examples
    --------
    >>> import microgd as mg
    >>> from microgd import optim
    >>> w = [mg.Value(1.0)]
    >>> stability_threshold(optim.GD(w, lr=0.1)), stability_threshold(optim.Momentum(w, 0.5))
    (20.0, 7.6)
    """
    from microgd import optim  # above this layer's imports: looked up, not imported at load

    lr = float(getattr(optimizer, "lr", math.nan))
    if not lr > 0:
        return math.nan
    if isinstance(optimizer, optim.Momentum):
        return (2 + 2 * float(optimizer.beta)) / lr
    if isinstance(optimizer, optim.GD):
        return 2 / lr
    if isinstance(optimizer, optim.SGD):  # Nesterov is an SGD
        if optimizer.maximize:
            return math.nan
        mu, damp = float(optimizer.momentum), float(optimizer.dampening)
        if damp >= 1:
            return math.nan
        step = lr * (1 - damp) if mu else lr  # torch applies dampening only with momentum
        bound = (2 + 2 * mu) / (1 + 2 * mu) if optimizer.nesterov else 2 + 2 * mu
        return bound / step - float(optimizer.weight_decay)
    return math.nan


def _count(owner: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive integer, got {value!r}")
    return int(value)


class Monitor:
    """A measurement taken every ``every`` steps of :func:`microgd.fit`.

    Subclasses set ``name`` (the key in ``hist.monitors``) and ``fields``
    (the lists recorded beside ``'step'``), and implement
    :meth:`measure`, which returns one entry per field.

    Parameters
    ----------
    every : int
        Measure at step 0 and every that many steps (and after the last
        step when it falls on one).
    name : str, optional
        The key in ``hist.monitors`` (default: the monitor's own), to run
        two monitors of one kind.
    """

    name = "monitor"
    fields: tuple[str, ...] = ("value",)
    needs_hessian = True

    def __init__(self, every: int, name: str | None = None) -> None:
        owner = type(self).__name__
        self.every = _count(owner, "every", every)
        if name is not None:
            if not isinstance(name, str) or not name:
                raise ValueError(f"{owner}: name must be a non-empty string, got {name!r}")
            self.name = name

    def start(self, fit_batch_size: int | None, n_samples: int) -> None:
        """Called once by ``fit`` before training (checks that need the data)."""

    def measure(self, loss: TrainingLoss, optimizer: Any) -> dict[str, Any]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(every={self.every}, name={self.name!r})"


def _tol(tol: Any, owner: str) -> float:
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not 0 < tol < 1:
        raise ValueError(f"{owner}: tol must be in (0, 1), got {tol!r}")
    return float(tol)


class Sharpness(Monitor):
    """The top eigenvalue of the training loss's Hessian, through training.

    Records ``'value'`` (the largest eigenvalue), ``'threshold'``
    (:func:`stability_threshold` of the optimizer at that step: ``2/lr`` for
    GD), ``'n_hvp'`` (Hessian-vector products the measurement took) and
    ``'converged'``.  Lanczos starts from the previous measurement's
    eigenvector, mixed with a little of a random vector so that a direction
    that has become the top one is still found.

    Parameters
    ----------
    every : int, default 10
    tol : float, default 1e-6
        Relative accuracy asked of the eigenvalue.
    max_iter : int, default 100
        Most Lanczos steps per measurement.
    warm_start : bool, default True
    seed : int, default 0

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> from microgd import monitors, optim
    >>> w = mg.Value([1.0, 1.0])
    >>> hist = mg.fit(lambda xb, yb: 5 * w[0] ** 2 + w[1] ** 2, [w], (np.zeros(1), np.zeros(1)),
    ...               optim.GD([w], lr=0.1), epochs=20, monitors=[monitors.Sharpness(every=10)])
    >>> record = hist.monitors["sharpness"]
    >>> record["step"], np.round(record["value"], 9).tolist(), record["threshold"]
    ([0, 10, 20], [10.0, 10.0, 10.0], [20.0, 20.0, 20.0])
    """

    name = "sharpness"
    fields: tuple[str, ...] = ("value", "threshold", "n_hvp", "converged")

    def __init__(self, every: int = 10, tol: float = 1e-6, max_iter: int = 100,
                 warm_start: bool = True, seed: int = 0, name: str | None = None) -> None:
        super().__init__(every, name)
        self.tol = _tol(tol, type(self).__name__)
        self.max_iter = _count(type(self).__name__, "max_iter", max_iter)
        self.warm_start = bool(warm_start)
        self._rng = np.random.default_rng(seed)
        self._previous: np.ndarray | None = None

    def _start(self, n: int) -> np.ndarray | None:
        """The warm start: the last eigenvector(s) plus a tenth of a random unit vector."""
        if not self.warm_start or self._previous is None or self._previous.shape[-1] != n:
            return None
        r = self._rng.standard_normal(n)
        q = self._previous.sum(axis=0)
        return q / np.linalg.norm(q) + 0.1 * r / np.linalg.norm(r)

    def _eigs(self, loss: TrainingLoss, k: int, which: str) -> tuple[np.ndarray, int, bool]:
        before = loss.n_products
        k = min(k, loss.n)
        values, rows, _, converged, _ = _spectrum(
            loss, k, which, "lanczos", self.tol, self._rng, self.max_iter, "monitors",
            start=self._start(loss.n))
        self._previous = rows
        return values, loss.n_products - before, converged

    def measure(self, loss: TrainingLoss, optimizer: Any) -> dict[str, Any]:
        values, n_hvp, converged = self._eigs(loss, 1, "largest")
        return {"value": float(values[-1]), "threshold": stability_threshold(optimizer),
                "n_hvp": n_hvp, "converged": converged}


class Eigenvalues(Sharpness):
    """The ``k`` extreme eigenvalues of the training loss's Hessian, through training.

    Records ``'value'`` (a list per measurement, ascending: up to ``2k``
    with ``which='both'``), ``'n_hvp'`` and ``'converged'``; warm-started as
    :class:`Sharpness`.

    Parameters
    ----------
    every : int, default 50
    k : int, default 5
    which : {'both', 'largest', 'smallest'}, default 'both'
    tol, max_iter, warm_start, seed : as :class:`Sharpness` (``max_iter`` 300)
    """

    name = "eigenvalues"
    fields = ("value", "n_hvp", "converged")

    def __init__(self, every: int = 50, k: int = 5, which: str = "both", tol: float = 1e-6,
                 max_iter: int = 300, warm_start: bool = True, seed: int = 0,
                 name: str | None = None) -> None:
        super().__init__(every, tol, max_iter, warm_start, seed, name)
        if which not in ("both", "largest", "smallest"):
            raise ValueError(f"Eigenvalues: which must be 'both', 'largest' or 'smallest', "
                             f"got {which!r}")
        self.k, self.which = _count("Eigenvalues", "k", k), which

    def measure(self, loss: TrainingLoss, optimizer: Any) -> dict[str, Any]:
        values, n_hvp, converged = self._eigs(loss, self.k, self.which)
        return {"value": [float(v) for v in values], "n_hvp": n_hvp, "converged": converged}


class HessianTrace(Monitor):
    """Hutchinson's estimate of the trace of the training loss's Hessian, through training.

    Records ``'value'`` and ``'stderr'`` (its standard error over the
    ``samples`` Rademacher probes, fresh ones at every measurement).

    Parameters
    ----------
    every : int, default 50
    samples : int, default 20
        Probes (Hessian-vector products) per measurement, at least 2.
    seed : int, default 0
    """

    name = "hessian_trace"
    fields = ("value", "stderr")

    def __init__(self, every: int = 50, samples: int = 20, seed: int = 0,
                 name: str | None = None) -> None:
        super().__init__(every, name)
        if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or samples < 2:
            raise ValueError(f"HessianTrace: samples must be an integer of at least 2 (a "
                             f"standard error needs two probes), got {samples!r}")
        self.samples = int(samples)
        self._rng = np.random.default_rng(seed)

    def measure(self, loss: TrainingLoss, optimizer: Any) -> dict[str, Any]:
        estimate, stderr = hutchinson_trace(loss.matvec, loss.n, self.samples, self._rng)
        return {"value": estimate, "stderr": stderr}


class GradientNoise(Monitor):
    """The gradient noise scale ``B_simple = tr(Sigma) / |g|^2`` of the training loss.

    ``g`` is the full gradient and ``Sigma`` the covariance of one sample's
    gradient, estimated from the gradients ``g_b`` of the batches of
    ``batch_size`` (in order, as training would see them unshuffled):
    ``tr(Sigma) ~ sum_b n_b |g_b - g|^2 / (M - 1)`` over the ``M`` batches
    (with one sample per batch, the sample variance of the per-sample
    gradients).  Records ``'value'`` (``B_simple``: the batch size beyond
    which larger batches stop speeding training, McCandlish et al. 2018),
    ``'trace_cov'`` and ``'grad_norm'``.

    Parameters
    ----------
    every : int, default 50
    batch_size : int, optional
        The batches the noise is measured over; default ``fit``'s batch
        size, or 1 (per sample) when ``fit`` is full-batch.
    """

    name = "gradient_noise"
    fields = ("value", "trace_cov", "grad_norm")
    needs_hessian = False

    def __init__(self, every: int = 50, batch_size: int | None = None,
                 name: str | None = None) -> None:
        super().__init__(every, name)
        if batch_size is not None and (isinstance(batch_size, bool) or
                                       not isinstance(batch_size, (int, np.integer))
                                       or batch_size < 1):
            raise ValueError(f"GradientNoise: batch_size must be a positive integer or None, "
                             f"got {batch_size!r}")
        self.batch_size = batch_size
        self._size = 1

    def start(self, fit_batch_size: int | None, n_samples: int) -> None:
        size = self.batch_size or fit_batch_size or 1
        if -(-n_samples // size) < 2:
            raise ValueError(f"GradientNoise: batches of {size} make {-(-n_samples // size)} "
                             f"batch of the {n_samples} samples; the noise needs at least 2 "
                             f"(a smaller batch_size)")
        self._size = size

    def measure(self, loss: TrainingLoss, optimizer: Any) -> dict[str, Any]:
        X, y = loss.data
        parts, sizes = [], []
        for xb, yb in Batches(X, y, batch_size=self._size, shuffle=False):
            with enable_grad():
                value = loss.loss_fn(xb, yb)
                gs = gradients(value, loss.params)
            parts.append(flatten([np.asarray(g.data, dtype=np.float64) for g in gs]))
            sizes.append(len(xb))
        G, n = np.array(parts), np.array(sizes, dtype=np.float64)
        g = (n[:, None] * G).sum(axis=0) / n.sum()
        trace_cov = float((n * ((G - g) ** 2).sum(axis=1)).sum() / (len(n) - 1))
        sq = float(g @ g)
        return {"value": trace_cov / sq if sq > 0 else math.inf, "trace_cov": trace_cov,
                "grad_norm": math.sqrt(sq)}


class Recorder:
    """What :func:`microgd.fit` runs: checks the monitors, measures the due ones, records."""

    def __init__(self, monitors: Sequence[Monitor], loss_fn: Callable[[Any, Any], Value],
                 params: Sequence[Value], data: tuple[np.ndarray, np.ndarray],
                 batch_size: int | None, results: dict[str, dict[str, list]]) -> None:
        if isinstance(monitors, Monitor) or not isinstance(monitors, (list, tuple)):
            raise TypeError(f"fit: monitors must be a list of monitors (microgd.monitors), got "
                            f"{type(monitors).__name__}")
        for i, m in enumerate(monitors):
            if not isinstance(m, Monitor):
                raise TypeError(f"fit: monitors[{i}] is a {type(m).__name__}, not a monitor "
                                "(microgd.monitors.Sharpness, Eigenvalues, HessianTrace, "
                                "GradientNoise)")
        names = [m.name for m in monitors]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"fit: two monitors record as {twice[0]!r}; give one a name= of "
                             "its own")
        for m in monitors:
            m.start(batch_size, len(data[0]))
        self.monitors, self.loss_fn, self.params = list(monitors), loss_fn, list(params)
        self.data, self.batch_size, self.results = data, batch_size, results
        for m in monitors:
            results[m.name] = {"step": [], **{f: [] for f in m.fields}}

    def __call__(self, step: int, optimizer: Any) -> dict[str, Any]:
        """Measure the monitors due at ``step``; returns ``{name: value}`` of those measured."""
        due = [m for m in self.monitors if step % m.every == 0]
        if not due:
            return {}
        loss = TrainingLoss(self.loss_fn, self.params, self.data, self.batch_size)
        shown = {}
        for m in due:
            entry = m.measure(loss, optimizer)
            record = self.results[m.name]
            record["step"].append(step)
            for f in m.fields:
                record[f].append(entry[f])
            shown[m.name] = entry["value"]
        return shown
