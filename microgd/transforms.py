"""Function transforms: ``grad``, ``value_and_grad``, ``jacobian``, ``hvp``, ``hessian``.

They are pure: they take a function of Values and return a function of arrays
(or of Values, when nested inside another transform), and never touch the
``.grad`` of any Value.  An argument may be an array of any shape or a list
(or tuple) of arrays, e.g. a model's parameters; results come back in the
same structure.

Nesting: called at top level, ``grad(f)`` returns arrays.  Called while an
outer transform is evaluating its function (directly, through a closure, or
with the outer variable passed as another argument), it records its own
backward pass (``create_graph``) and returns Values, so ``grad(grad(f))`` and
``grad(lambda x: x * grad(lambda y: x * y)(2.0))`` differentiate exactly, to
any depth.  Each transform differentiates with respect to fresh nodes of its
own (see ``_variables``), so an inner derivative never picks up the outer
variable's other uses (no perturbation confusion).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from microgd import ops
from microgd.autodiff import _mode, _set_mode
from microgd.backprop import gradients
from microgd.tree import Tree, flatten, unflatten
from microgd.tree import leaves as _leaves
from microgd.tree import rebuild as _rebuild
from microgd.value import Value, as_array, as_constant

__all__ = ["HessianOperator", "Tree", "flatten", "grad", "hessian", "hvp", "jacobian",
           "unflatten", "value_and_grad"]

def _is_traced(*trees: Tree) -> bool:
    """Whether derivatives must be recorded: inside another transform, or on traced Values."""
    if _mode.tracing:
        return True
    return any(isinstance(leaf, Value) and leaf.requires_grad
               for tree in trees for leaf in _leaves(tree))


@contextlib.contextmanager
def _evaluating(record: bool = True) -> Iterator[None]:
    """Mark that a transform is calling its function: transforms inside it record.

    ``record`` sets grad mode for the call: reverse transforms need the graph
    even inside a ``no_grad`` block; a forward-mode jvp at top level does not.
    """
    _mode.tracing += 1
    saved = _set_mode("grad_enabled", record)
    try:
        yield
    finally:
        _set_mode("grad_enabled", saved)
        _mode.tracing -= 1


def _variables(tree: Tree, traced: bool) -> Tree:
    """Fresh Values to differentiate with respect to.

    When tracing, each variable is a new node on top of the outer Value, so
    gradients with respect to it ignore any use of the outer Value that ``f``
    makes through a closure (no perturbation confusion).
    """
    def fresh(leaf: Any) -> Value:
        if traced and isinstance(leaf, Value):
            if leaf.requires_grad:
                return ops.add(leaf, 0.0)
            # A constant of the outer computation that may carry forward-mode
            # tangents: a new leaf with the same numbers and tangents.
            v = Value(leaf._data)
            v._tangent = None if leaf._tangent is None else dict(leaf._tangent)
            return v
        return Value(as_array(leaf))

    return _rebuild(tree, [fresh(leaf) for leaf in _leaves(tree)])


def _argnums(argnums: int | Sequence[int], n: int, where: str) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for a in nums:
        if not -n <= a < n:
            raise ValueError(f"{where}: argnums {a} is out of range for {n} argument(s)")
    return tuple(a % n for a in nums)


def _scalar(out: Any, where: str) -> Value:
    out = as_constant(out)
    if out.size != 1:
        raise ValueError(
            f"{where}: f must return a scalar (one element), but it returned shape "
            f"{out.shape} (use jacobian for vector outputs)"
        )
    return out


def _check_finite(tree: Tree, where: str) -> None:
    for leaf in _leaves(tree):
        data = leaf._data if isinstance(leaf, Value) else leaf
        try:
            finite = np.isfinite(np.asarray(data, dtype=float)).all()
        except (TypeError, ValueError):
            kind = type(data).__name__
            raise TypeError(f"{where}: arguments must be numeric arrays, got {kind}") from None
        if not finite:
            raise ValueError(f"{where}: the point contains nan or inf")


def _grads(out: Value, wrt: list[Value], traced: bool) -> list[Any]:
    if not out.requires_grad:  # f does not depend on its arguments
        gs = [Value(np.zeros(w.shape, w.dtype), requires_grad=False) for w in wrt]
    else:
        gs = gradients(out, wrt, create_graph=traced)
    return gs if traced else [np.asarray(g._data) for g in gs]


def value_and_grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0
                   ) -> Callable[..., tuple[Any, Any]]:
    """``f``'s value and its gradient with respect to the argument(s) ``argnums``.

    Parameters
    ----------
    f : callable
        Takes Values (and anything else) and returns a scalar Value.
    argnums : int or tuple of int, default 0
        Which positional argument(s) to differentiate; a tuple gives a tuple
        of gradients.

    Returns
    -------
    callable
        ``(*args) -> (value, gradient)``: value a float, each gradient an
        ndarray (or list of them) shaped like its argument.

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> val, g = mg.value_and_grad(lambda x: (x ** 2).sum())(np.array([1.0, 2.0]))
    >>> val, g.tolist()
    (5.0, [2.0, 4.0])
    """
    def wrapped(*args: Any, **kwargs: Any) -> tuple[Any, Any]:
        nums = _argnums(argnums, len(args), "grad")
        traced = _is_traced(*args)
        call_args = list(args)
        for i in nums:
            if not traced:
                _check_finite(call_args[i], "grad")
            call_args[i] = _variables(call_args[i], traced)
        with _evaluating():
            out = _scalar(f(*call_args, **kwargs), "grad")
        trees = [call_args[i] for i in nums]
        flat = [leaf for t in trees for leaf in _leaves(t)]
        gs = iter(_grads(out, flat, traced))
        results = tuple(_rebuild(t, [next(gs) for _ in _leaves(t)]) for t in trees)
        value = out if traced else out.item()
        return value, results[0] if isinstance(argnums, int) else results

    wrapped.__name__ = f"value_and_grad_{getattr(f, '__name__', 'f')}"
    return wrapped


def grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """The gradient of a scalar function, as a new function.

    Examples
    --------
    >>> import microgd as mg
    >>> df = mg.grad(lambda x: x ** 3)
    >>> float(df(2.0)), float(mg.grad(df)(2.0)), float(mg.grad(mg.grad(df))(2.0))
    (12.0, 12.0, 6.0)
    """
    vg = value_and_grad(f, argnums)

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        return vg(*args, **kwargs)[1]

    wrapped.__name__ = f"grad_{getattr(f, '__name__', 'f')}"
    return wrapped


def jacobian(f: Callable[..., Any], argnums: int = 0) -> Callable[..., Any]:
    """The Jacobian of ``f``: shape ``f(x).shape + x.shape`` (one backward pass per output).

    ``x`` may be a list of arrays, and ``f`` may return a list of Values: the
    result is then a list (one block per input, or per output), or a list of
    lists ``J[i][j]`` of shape ``f(x)[i].shape + x[j].shape`` when both are.

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> J = mg.jacobian(lambda x: x ** 2)(np.array([1.0, 3.0]))
    >>> J.tolist()
    [[2.0, 0.0], [0.0, 6.0]]
    """
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        (i,) = _argnums(argnums, len(args), "jacobian")
        traced = _is_traced(*args)
        call_args = list(args)
        if not traced:
            _check_finite(call_args[i], "jacobian")
        call_args[i] = _variables(call_args[i], traced)
        with _evaluating():
            out = f(*call_args, **kwargs)
        flat = _leaves(call_args[i])
        outs = [as_constant(o) for o in _leaves(out)]
        per_output = [_rebuild(call_args[i], _jacobian_blocks(o, flat, traced)) for o in outs]
        if isinstance(out, (list, tuple)):
            return _rebuild(out, per_output)
        return per_output[0]

    wrapped.__name__ = f"jacobian_{getattr(f, '__name__', 'f')}"
    return wrapped


def _jacobian_blocks(out: Value, flat: list[Value], traced: bool) -> list[Any]:
    """``d out / d w`` for each ``w`` of ``flat``, of shape ``out.shape + w.shape``."""
    rows: list[list[Any]] = [[] for _ in flat]
    for k in range(out.size):
        seed = np.zeros(out.size, dtype=out.dtype)
        seed[k] = 1.0
        if out.requires_grad:
            gs = gradients(out, flat, grad_outputs=seed.reshape(out.shape),
                           retain_graph=True, create_graph=traced)
        else:
            gs = [Value(np.zeros(w.shape, w.dtype), requires_grad=False) for w in flat]
        for r, g in zip(rows, gs, strict=True):
            r.append(g)
    blocks = []
    for w, r in zip(flat, rows, strict=True):
        if traced:
            block = _stack_rows(r) if r else Value(np.zeros((0,) + w.shape, w.dtype),
                                                   requires_grad=False)
            blocks.append(ops.reshape(block, shape=out.shape + w.shape))
        else:
            data = np.stack([np.asarray(g._data) for g in r]) if r else \
                np.zeros((0,) + w.shape, w.dtype)
            blocks.append(data.reshape(out.shape + w.shape))
    return blocks


def _stack_rows(rows: list[Value]) -> Value:
    return ops.concatenate(*[ops.reshape(r, shape=(1,) + r.shape) for r in rows], axis=0)


def hessian(f: Callable[..., Any], argnums: int = 0) -> Callable[..., Any]:
    """The Hessian of a scalar ``f``: shape ``x.shape + x.shape``.

    For a list of arrays ``x`` it is a list of lists of blocks, ``H[i][j]`` of
    shape ``x[i].shape + x[j].shape``.

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> H = mg.hessian(lambda v: v[0] ** 2 * v[1])(np.array([1.0, 2.0]))
    >>> H.tolist()
    [[4.0, 2.0], [2.0, 0.0]]
    """
    return jacobian(grad(f, argnums), argnums)


def hvp(f: Callable[..., Any], x: Tree, v: Tree, mode: str = "auto") -> Tree:
    """The exact Hessian-vector product ``H(x) @ v`` of a scalar ``f``, shaped like ``x``.

    ``mode='rev'`` is reverse-over-reverse: the gradient is computed with its
    graph recorded, then ``<grad f(x), v>`` is differentiated once more.
    ``mode='fwd'`` is forward-over-reverse: a ``jvp`` of ``grad f`` along
    ``v``.  ``'auto'`` is always reverse-over-reverse, the measured rule:
    ``benchmarks/curvature.py`` (MLP 100-64-64-10, batch 256, shared 2-core
    machine) measured reverse-over-reverse 12-23% faster in two quiet runs
    (forward-over-reverse won one heavily loaded run), and it alone reuses
    the recorded gradient graph (:class:`HessianOperator`) when many products
    are taken at one point (see
    ``docs/curvature-ways.md``).  No finite differences, and no Hessian is
    ever formed.  Inside another transform (or on traced Values) the product
    is recorded, so it can be differentiated again.

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> f = lambda x: (x[0] ** 2) * x[1]
    >>> mg.hvp(f, np.array([1.0, 2.0]), np.array([1.0, 0.0])).tolist()
    [4.0, 2.0]
    >>> mg.hvp(f, np.array([1.0, 2.0]), np.array([1.0, 0.0]), mode="fwd").tolist()
    [4.0, 2.0]
    """
    if mode not in ("auto", "rev", "fwd"):
        raise ValueError(f"hvp: mode must be 'auto', 'rev' or 'fwd', got {mode!r}")
    if mode == "fwd":
        from microgd.forward import jvp  # the forward transforms build on this module
        return jvp(grad(f), (x,), (v,))[1]
    if _is_traced(x, v):
        def directional(y: Tree) -> Value:
            return _tree_vdot(grad(f)(y), v)
        return grad(directional)(x)
    return HessianOperator(f, x)(v)


def _tree_vdot(a: Tree, b: Tree) -> Value:
    """``sum_i <a_i, b_i>`` over the leaves of two trees of one structure."""
    total: Any = 0.0
    for x, y in zip(_leaves(a), _leaves(b), strict=True):
        total = total + ops.sum(as_constant(x) * y, axis=None, keepdims=False)
    return as_constant(total)


def second_backward(live: list[tuple[Value, Any]], inputs: list[Value]) -> list[Value]:
    """``d <g, v> / d inputs`` for recorded gradients ``g`` and arrays ``v`` (the pairs in
    ``live``): one backward pass through the gradients' graph, which is kept for the next
    product.  The Hessian-vector product of every operator built on a recorded gradient."""
    total = ops.sum(live[0][0] * live[0][1], axis=None, keepdims=False)
    for g, a in live[1:]:
        total = total + ops.sum(g * a, axis=None, keepdims=False)
    return gradients(total, inputs, retain_graph=True)


class HessianOperator:
    """``v -> H(x) v`` for a fixed point: the gradient's graph is built once and reused.

    Each product after the first costs one backward pass through that graph,
    which is what makes Lanczos and Hutchinson cheap.

    Parameters
    ----------
    f : callable
        Scalar function of one argument (an array or a list of arrays).
    x : array or list of arrays
        The point.

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> H = mg.transforms.HessianOperator(lambda x: (x ** 3).sum(), np.array([1.0, 2.0]))
    >>> H(np.array([1.0, 1.0])).tolist(), H.n_products
    ([6.0, 12.0], 1)
    """

    def __init__(self, f: Callable[..., Any], x: Tree) -> None:
        _check_finite(x, "hvp")
        self.x = x
        self._vars = _variables(x, traced=False)
        self._flat = _leaves(self._vars)
        with _evaluating():  # transforms inside f record, so H sees through them
            self.value = _scalar(f(self._vars), "hvp")
        if self.value.requires_grad:
            self._grads = gradients(self.value, self._flat, create_graph=True)
        else:
            self._grads = []
        self.grad = _rebuild(x, [np.asarray(g._data) for g in self._grads] or
                             [np.zeros(w.shape, w.dtype) for w in self._flat])
        self.n = sum(w.size for w in self._flat)
        self.n_products = 0

    def __call__(self, v: Tree) -> Tree:
        vs = _leaves(v)
        if len(vs) != len(self._flat):
            raise ValueError(f"hvp: v has {len(vs)} array(s) but x has {len(self._flat)}")
        for a, w in zip(vs, self._flat, strict=True):
            if np.shape(a) != w.shape:
                raise ValueError(f"hvp: v has shape {np.shape(a)} but x has shape {w.shape}")
        self.n_products += 1
        live = [(g, np.asarray(a, dtype=w.dtype))
                for g, a, w in zip(self._grads, vs, self._flat, strict=False)
                if g.requires_grad]
        if not live:
            return _rebuild(self.x, [np.zeros(w.shape, w.dtype) for w in self._flat])
        hv = second_backward(live, self._flat)
        return _rebuild(self.x, [np.asarray(h._data) for h in hv])

    def matvec(self, vec: np.ndarray) -> np.ndarray:
        """``H @ vec`` on flat vectors of length ``n``."""
        return flatten(self(unflatten(vec, self.x)))
