"""Second-order steps: Newton's method, and the saddle-free Newton method (Dauphin et al. 2014).

Newton's step ``-H^-1 g`` jumps to the critical point of the local quadratic
model, whatever its kind: started near a saddle, Newton converges to the
saddle.  The saddle-free Newton method of Dauphin, Pascanu, Gulcehre, Cho,
Ganguli and Bengio ("Identifying and attacking the saddle point problem in
high-dimensional non-convex optimization", NeurIPS 2014) rescales by
``|H|^-1`` instead, ``|H|`` having H's eigenvectors and the absolute values of
its eigenvalues: it descends along positive curvature as Newton does, and
along negative curvature it moves *downhill* too, away from the saddle.

Both need the loss itself, not only its gradient, so ``step`` takes a
closure that re-evaluates the loss, as ``torch.optim.LBFGS.step(closure)``
does, in a loop of your own::

    for _ in range(steps):
        opt.step(lambda: loss_fn(X, y))

or in :func:`microgd.fit`, which hands each step's loss to ``step`` as the
closure (they say so with ``needs_closure = True``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from microgd.autodiff import enable_grad
from microgd.curvature import DENSE_MAX, _dense, _resolve_method, _spectrum
from microgd.operators import LossHessian
from microgd.optim.base import Optimizer, _integer, _real
from microgd.tree import unflatten
from microgd.value import Value

__all__ = ["Newton", "SaddleFreeNewton"]

LANCZOS_TOL = 1e-8  # relative accuracy asked of the Ritz values of a large saddle-free step


class _SecondOrder(Optimizer):
    """Optimizers whose step needs the loss: ``step(closure)``; ``_direction`` gives d in
    ``w <- w - lr * d`` from the loss's Hessian operator and flat gradient."""

    needs_closure = True  # mg.fit passes the step's loss as the closure

    def _update(self, w: np.ndarray, g: np.ndarray, state: dict[str, Any]) -> np.ndarray:
        raise TypeError(f"{type(self).__name__} updates all parameters at once in step(closure)")

    def _direction(self, op: Any, g: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def step(self, closure: Callable[[], Value] | None = None) -> Value:  # type: ignore[override]
        """One step from the loss that ``closure()`` evaluates at the current parameters.

        Returns the loss (the closure's Value, before the step).  Nothing is
        updated when the loss, its gradient, its Hessian or the step is not
        finite (a ValueError says which).  The parameters' ``.grad`` is not
        touched.
        """
        owner = type(self).__name__
        if closure is None:
            raise TypeError(
                f"{owner}.step needs a closure that re-evaluates the loss, as "
                f"opt.step(lambda: loss_fn(X, y)): a second-order step needs the loss, not "
                f"only .grad (mg.fit passes one)")
        if not callable(closure):
            raise TypeError(f"{owner}.step: closure must be a callable returning the loss, got "
                            f"{type(closure).__name__}")
        with enable_grad():
            loss = closure()
        if not isinstance(loss, Value) or loss.size != 1:
            shape = getattr(loss, "shape", type(loss).__name__)
            raise ValueError(f"{owner}.step: the closure must return the loss as a scalar "
                             f"Value computed from the parameters, got {shape}")
        value = float(np.asarray(loss.data).item())
        if not np.isfinite(value):
            raise ValueError(f"{owner}.step: the loss is {value}; no parameter was updated")
        op = LossHessian(loss, self.params, f"{owner}.step (the closure's loss)")
        if not np.isfinite(op.grad).all():
            raise ValueError(f"{owner}.step: the gradient is not finite; no parameter was "
                             "updated")
        d = self._direction(op, op.grad)
        if not np.isfinite(d).all():
            raise ValueError(f"{owner}.step: the step is not finite (the Hessian is singular "
                             "or too close to it); no parameter was updated")
        for st, p, di in zip(self.state, self.params, unflatten(d, op.x), strict=True):
            st["step"] += 1
            p.assign(np.asarray(p.data) - self.lr * di)
        return loss


class Newton(_SecondOrder):
    r"""Newton's method: ``w <- w - lr * (H + damping I)^-1 g``, on all parameters at once.

    It converges (quadratically) to the nearest critical point of any kind,
    saddles included: the foil of :class:`SaddleFreeNewton`.  H is assembled
    from n exact Hessian-vector products, so n <= 2000 parameters.

    Parameters
    ----------
    params : iterable of Value
    lr : float, default 1.0
        Step size, > 0 (1 is the full Newton step).
    damping : float, default 0
        Added to H's diagonal (Levenberg-Marquardt), >= 0.

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> from microgd import optim
    >>> w = mg.Value(np.array([1.0, 1.0]))
    >>> opt = optim.Newton([w])
    >>> loss = opt.step(lambda: 5 * w[0] ** 2 - w[1] ** 2)   # a quadratic: one step
    >>> w.data.tolist(), loss.item()                        # onto the saddle at 0
    ([0.0, 0.0], 4.0)
    """

    def __init__(self, params: Any, lr: float = 1.0, damping: float = 0.0) -> None:
        super().__init__(params, lr, damping=damping)

    def _check_hyper(self, hyper: dict[str, Any]) -> dict[str, Any]:
        return {"damping": _real(type(self).__name__, "damping", hyper["damping"], lo=0)}

    def _direction(self, op: Any, g: np.ndarray) -> np.ndarray:
        owner = type(self).__name__
        if op.n > DENSE_MAX:
            raise ValueError(f"{owner}.step: Newton assembles the n x n Hessian and is limited "
                             f"to n <= {DENSE_MAX} parameters (n={op.n}); use "
                             "SaddleFreeNewton, which uses Lanczos beyond that")
        H = _dense(op)
        if not np.isfinite(H).all():
            raise ValueError(f"{owner}.step: the Hessian is not finite; no parameter was "
                             "updated")
        try:
            return np.linalg.solve(H + self._hp["damping"] * np.eye(op.n), g)
        except np.linalg.LinAlgError:
            raise ValueError(f"{owner}.step: the Hessian is singular at the current "
                             "parameters; pass damping > 0; no parameter was updated") from None


class SaddleFreeNewton(_SecondOrder):
    r"""Saddle-free Newton (Dauphin et al. 2014): ``w <- w - lr * |H|_damped^-1 g``.

    With ``H = sum_i lambda_i v_i v_i^T``, ``|H|_damped = sum_i (|lambda_i| +
    damping) v_i v_i^T``: Newton's step along positive curvature, and along
    negative curvature the same length *downhill*, so a saddle repels
    instead of attracting.

    - ``method='dense'`` (``'auto'`` for n <= 2000, as
      :func:`microgd.hessian_eigs`): H assembled from n Hessian-vector
      products, every eigenpair from a symmetric eigensolver.
    - ``method='lanczos'`` (``'auto'`` beyond): the ``k`` eigenpairs at each
      end of the spectrum by Lanczos (the most negative and the largest
      curvatures, where the step matters most), at a few dozen products.  On
      the rest of the space, where the eigenvalues are not known, the
      curvature is taken to be ``damping``: there the step is gradient
      descent with step size ``lr / damping``.  So ``damping`` doubles as
      the curvature assumed outside the top-k subspace: choose it of the
      order of the bulk of the spectrum.  Lanczos starts from a vector
      seeded by ``(seed, step)``.

    The last step's details are in ``opt.info`` (``'eigenvalues'`` used,
    ``'method'``, ``'n_hvp'``, ``'loss'``, ``'grad_norm'``).

    Parameters
    ----------
    params : iterable of Value
    lr : float, default 1.0
        Step size, > 0.
    damping : float, default 1e-3
        Added to every ``|lambda|``, > 0: it bounds the step along flat
        directions (and is the curvature assumed off the Lanczos subspace).
    k : int, default 10
        Eigenpairs from each end of the spectrum under Lanczos, >= 1.
    method : {'auto', 'dense', 'lanczos'}
    seed : int, default 0

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> from microgd import optim
    >>> w = mg.Value(np.array([1.0, 1.0]))
    >>> opt = optim.SaddleFreeNewton([w], damping=1e-6)
    >>> for _ in range(3):
    ...     _ = opt.step(lambda: 5 * w[0] ** 2 - w[1] ** 2)
    >>> w.data.round(4).tolist()        # x jumps to 0 at once; y doubles each step
    [0.0, 8.0]
    """

    def __init__(self, params: Any, lr: float = 1.0, damping: float = 1e-3, k: int = 10,
                 method: str = "auto", seed: int = 0) -> None:
        super().__init__(params, lr, damping=damping, k=k, method=method, seed=seed)
        self.info: dict[str, Any] = {}

    def _check_hyper(self, hyper: dict[str, Any]) -> dict[str, Any]:
        o = type(self).__name__
        method = hyper["method"]
        if isinstance(method, np.ndarray) and method.ndim == 0 and method.dtype.kind == "U":
            method = str(method)  # as read back from .npz
        if method not in ("auto", "dense", "lanczos"):
            raise ValueError(f"{o}: method must be 'auto', 'dense' or 'lanczos', got "
                             f"{method!r}")
        return {
            "damping": _real(o, "damping", hyper["damping"], lo=0, lo_open=True),
            "k": _integer(o, "k", hyper["k"], lo=1),
            "method": method,
            "seed": _integer(o, "seed", hyper["seed"], lo=0),
        }

    def _direction(self, op: Any, g: np.ndarray) -> np.ndarray:
        hp = self._hp
        owner = type(self).__name__
        method = _resolve_method(hp["method"], op.n, owner)
        if method == "dense":
            H = _dense(op)
            if not np.isfinite(H).all():
                raise ValueError(f"{owner}.step: the Hessian is not finite; no parameter was "
                                 "updated")
            lam, V = np.linalg.eigh(H)
            d = V @ ((V.T @ g) / (np.abs(lam) + hp["damping"]))
        else:
            rng = np.random.default_rng([hp["seed"], self.state[0]["step"]])
            lam, rows, _, _, _ = _spectrum(op, min(hp["k"], op.n), "both", "lanczos",
                                           LANCZOS_TOL, rng, where=owner)
            c = rows @ g
            rest = g - rows.T @ c  # the part of g off the computed eigenvectors
            d = rows.T @ (c / (np.abs(lam) + hp["damping"])) + rest / hp["damping"]
        self.info = {"eigenvalues": lam, "method": method, "n_hvp": op.n_products,
                     "grad_norm": float(np.linalg.norm(g))}
        return d

    def step(self, closure: Callable[[], Value] | None = None) -> Value:  # type: ignore[override]
        loss = super().step(closure)
        self.info["loss"] = float(np.asarray(loss.data).item())
        return loss

    step.__doc__ = _SecondOrder.step.__doc__
