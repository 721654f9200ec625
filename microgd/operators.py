"""Matrix-free curvature operators beside the Hessian: Gauss-Newton, and diagonal blocks.

:func:`microgd.hessian_eigs` runs one eigensolver on any operator with the
attributes of :class:`microgd.transforms.HessianOperator` (``n``, ``x``,
``matvec``, ``n_products``).  Two more are here:

- :class:`GGNOperator`, the generalized Gauss-Newton matrix ``J^T H_loss J``
  of ``loss(model(params))``: the products of :func:`microgd.ggn_vp`, with
  the model's graph and its linearization recorded once and reused for every
  product (``ggn_vp`` rebuilds them per call);
- :class:`LossHessian`, the Hessian of a loss already evaluated on the
  parameter Values themselves (not on copies): what a second-order
  optimizer's step and a training monitor need, where the loss is a closure
  over the model's parameters;
- :class:`BlockOperator`, the diagonal block ``H_ii`` of an operator for one
  parameter array (a layer's weights): the full product of a vector that is
  zero outside that block, restricted to it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from microgd.autodiff import no_grad
from microgd.backprop import gradients
from microgd.forward import linearize, vjp
from microgd.transforms import (
    HessianOperator,
    Tree,
    _variables,
    flatten,
    second_backward,
    unflatten,
)
from microgd.tree import leaves
from microgd.value import Value, as_array

__all__ = ["BlockOperator", "GGNOperator", "LossHessian", "curvature_operator"]


class LossHessian:
    """``v -> H v`` of an evaluated loss Value with respect to the parameter Values it used.

    The gradient is built once with ``create_graph``; each product is one
    backward pass through it, and nothing touches the parameters' ``.grad``.
    Flat vectors, as every operator here (``n``, ``x``, ``matvec``,
    ``n_products``).

    Parameters
    ----------
    loss : Value
        A scalar computed from ``params`` with grad mode on, not yet
        differentiated by ``backward()`` (or differentiated with
        ``retain_graph=True``).
    params : list of Value
    owner : str
        Who asks, for error messages.

    Examples
    --------
    >>> import microgd as mg
    >>> w = mg.Value([1.0, 2.0])
    >>> H = LossHessian((w ** 3).sum(), [w])
    >>> H.grad.tolist(), H.matvec(np.array([1.0, 0.0])).tolist()
    ([3.0, 12.0], [6.0, 0.0])
    """

    def __init__(self, loss: Value, params: list[Value], owner: str = "LossHessian") -> None:
        self.params = params
        self.x = [np.asarray(p.data) for p in params]
        try:
            self._grads = gradients(loss, params, create_graph=True)
        except RuntimeError as exc:
            raise RuntimeError(
                f"{owner}: {exc}. The loss must be given without calling backward() on it "
                "(it is differentiated twice), or after loss.backward(retain_graph=True)"
            ) from None
        self.grad = flatten([np.asarray(g.data) for g in self._grads])
        self.n = self.grad.size
        self.n_products = 0

    def matvec(self, vec: np.ndarray) -> np.ndarray:
        """``H @ vec`` on flat vectors of length ``n``."""
        self.n_products += 1
        pieces = unflatten(vec, self.x)
        live = [(g, v) for g, v in zip(self._grads, pieces, strict=True) if g.requires_grad]
        if not live:
            return np.zeros(self.n)
        return flatten([np.asarray(h.data) for h in second_backward(live, self.params)])


class GGNOperator:
    """``v -> J^T H_loss J v`` at fixed parameters, on flat vectors.

    ``J`` is the Jacobian of ``model(params)`` with respect to ``params``,
    ``H_loss`` the Hessian of ``loss`` at the model's output.  For a loss
    convex in the output (MSE, cross-entropy) the matrix is positive
    semi-definite: the part of the Hessian that ignores the model's own
    curvature.  Each product is one replay of the recorded linearization (J v),
    one loss Hessian-vector product and one backward pass (J^T u), the same
    numbers as :func:`microgd.ggn_vp`.

    Parameters
    ----------
    model : callable
        ``model(params)`` returns the output (an array, or a list of arrays).
    loss : callable
        ``loss(output)`` returns a scalar.
    params : array or list of arrays
        The point.

    Examples
    --------
    >>> import numpy as np
    >>> from microgd.operators import GGNOperator
    >>> X = np.array([[1.0, 0.0], [1.0, 2.0]])
    >>> G = GGNOperator(lambda w: X @ w, lambda z: 0.5 * (z ** 2).sum(), np.zeros(2))
    >>> G.matvec(np.array([1.0, 0.0])).tolist(), G.value    # X^T X e_1; loss at the point
    ([2.0, 2.0], 0.0)
    """

    def __init__(self, model: Callable[[Any], Any], loss: Callable[[Any], Any],
                 params: Tree, where: str = "GGNOperator") -> None:
        for name, fn in (("model", model), ("loss", loss)):
            if not callable(fn):
                raise TypeError(f"{where}: {name} must be a callable, got "
                                f"{type(fn).__name__}")
        self.x = params
        out, self._jvp = linearize(model, params)
        _, self._vjp = vjp(model, params)
        try:
            self._loss = HessianOperator(loss, out)
        except ValueError as exc:
            raise ValueError(f"{where}: loss(model(x)) must be a scalar: "
                             f"{str(exc).split(': ', 1)[-1]}") from None
        self.value = float(np.asarray(as_array(self._loss.value)).item())
        self.n = sum(int(np.size(as_array(p))) for p in leaves(params))
        self.n_products = 0

    def __call__(self, v: Tree) -> Tree:
        self.n_products += 1
        return self._vjp(self._loss(self._jvp(v)))[0]

    def matvec(self, vec: np.ndarray) -> np.ndarray:
        """``G @ vec`` on flat vectors of length ``n``."""
        return flatten(self(unflatten(vec, self.x)))


class BlockOperator:
    """The diagonal block of ``op`` for its ``index``-th parameter array.

    ``matvec(v)`` embeds ``v`` (that array's entries) in a vector that is zero
    elsewhere, applies ``op`` and keeps the block's entries: ``H_ii v``.  Each
    product is one full product of ``op``.

    Examples
    --------
    >>> import numpy as np
    >>> from microgd.operators import BlockOperator
    >>> from microgd.transforms import HessianOperator
    >>> f = lambda ps: (ps[0] ** 2).sum() * 3 + (ps[0] * ps[1]).sum()
    >>> B = BlockOperator(HessianOperator(f, [np.ones(2), np.ones(2)]), 0)
    >>> B.n, B.matvec(np.array([1.0, 0.0])).tolist()   # H_00 = 6 I: the coupling is left out
    (2, [6.0, 0.0])
    """

    def __init__(self, op: Any, index: int) -> None:
        sizes = [int(np.size(as_array(p))) for p in leaves(op.x)]
        self.op, self.index = op, index
        self.x = leaves(op.x)[index]
        self.n = sizes[index]
        self._start = sum(sizes[:index])
        self.n_products = 0

    def matvec(self, vec: np.ndarray) -> np.ndarray:
        """``H_ii @ vec`` on flat vectors of the block's length."""
        full = np.zeros(self.op.n)
        full[self._start:self._start + self.n] = vec
        self.n_products += 1
        return self.op.matvec(full)[self._start:self._start + self.n]


def curvature_operator(f: Callable[[Any], Any] | None, x: Tree, operator: str = "hessian",
                       model: Callable[[Any], Any] | None = None,
                       loss: Callable[[Any], Any] | None = None) -> Any:
    """The operator :func:`microgd.hessian_eigs` is asked for, checked.

    ``operator='hessian'``: :class:`~microgd.transforms.HessianOperator` of
    ``f``; ``'ggn'``: :class:`GGNOperator` of ``loss(model(x))``, after
    checking that ``f`` (when given) is that function at x.
    """
    if operator == "hessian":
        if model is not None or loss is not None:
            raise ValueError("hessian_eigs: model and loss are used only with "
                             "operator='ggn'; the Hessian is that of f")
        if not callable(f):
            raise TypeError(f"hessian_eigs: f must be a callable, got {type(f).__name__}")
        return HessianOperator(f, x)
    if operator != "ggn":
        raise ValueError(f"hessian_eigs: operator must be 'hessian' or 'ggn', got {operator!r}")
    if model is None or loss is None:
        raise ValueError("hessian_eigs: operator='ggn' needs model= and loss= (the Gauss-Newton "
                         "matrix of loss(model(x)))")
    op = GGNOperator(model, loss, x, where="hessian_eigs")
    if f is not None:
        with no_grad():
            value = float(np.asarray(as_array(f(_variables(x, traced=False)))).item())
        if not abs(value - op.value) <= 1e-8 * max(1.0, abs(op.value)):
            raise ValueError(f"hessian_eigs: f(x) = {value!r} but loss(model(x)) = "
                             f"{op.value!r}; with operator='ggn' f must be loss(model(x)) "
                             f"(or None)")
    return op
