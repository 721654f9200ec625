"""Forward mode and the rest of JAX's transform set: ``jvp``, ``vjp``, ``linearize``,
``jacfwd``/``jacrev`` and Gauss-Newton products ``ggn_vp``.

A ``jvp`` opens a forward-mode level, gives each input Value a tangent at that
level, and calls ``f``: every primitive it runs computes its output's tangent
from its inputs' tangents on the spot (the rule beside its VJP in ``ops``), so
nothing is kept for later and memory does not grow with the length of ``f``.
Levels nest, and they compose with the reverse transforms: ``jvp`` of ``jvp``,
``jvp`` of ``grad`` (forward-over-reverse), ``grad`` of ``jvp``, ``jacfwd`` of
``jacrev``, each exact.

``linearize`` records the tangent computation once as a graph (its tangent
inputs are placeholders) and replays only that linear graph for each new
tangent, without the nonlinear primal work.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from microgd import ops
from microgd.autodiff import forward_level
from microgd.backprop import gradients, nodes
from microgd.transforms import (
    _argnums,
    _check_finite,
    _evaluating,
    _is_traced,
    _variables,
    hvp,
    jacobian,
)
from microgd.tree import Tree, leaves, rebuild
from microgd.value import Value, as_array, as_constant

__all__ = ["ggn_vp", "jacfwd", "jacrev", "jvp", "linearize", "vjp"]


def _as_tuple(xs: Any, what: str, where: str) -> tuple[Any, ...]:
    if not isinstance(xs, (tuple, list)):
        raise TypeError(f"{where}: {what} must be a tuple (one entry per argument of f), got "
                        f"{type(xs).__name__}; write ({what[:-1]},) for one argument")
    return tuple(xs)


def _check_tangents(primals: tuple, tangents: tuple, where: str) -> None:
    if len(primals) != len(tangents):
        raise ValueError(f"{where}: {len(primals)} primals but {len(tangents)} tangents")
    for i, (p, t) in enumerate(zip(primals, tangents, strict=True)):
        pl, tl = leaves(p), leaves(t)
        if len(pl) != len(tl):
            raise ValueError(f"{where}: primal {i} has {len(pl)} arrays but its tangent has "
                             f"{len(tl)}")
        for a, b in zip(pl, tl, strict=True):
            if np.shape(as_array(a)) != np.shape(as_array(b)):
                raise ValueError(f"{where}: primal {i} has shape {np.shape(as_array(a))} but "
                                 f"its tangent has shape {np.shape(as_array(b))}")


def _seeded(primal: Any, tangent: Any, level: int, traced: bool) -> Value:
    """A fresh Value equal to ``primal``, carrying ``tangent`` at ``level``."""
    if traced and isinstance(primal, Value) and primal.requires_grad:
        x = ops.add(primal, 0.0)  # keeps the reverse-mode link and any outer tangents
    else:
        x = Value(as_array(primal), requires_grad=False)
        if isinstance(primal, Value) and primal._tangent:
            x._tangent = dict(primal._tangent)
    if isinstance(tangent, Value):
        t: Any = tangent if traced else tangent._data
    else:
        t = np.asarray(tangent, dtype=x.dtype)
    if not isinstance(t, Value):
        t = np.asarray(t, dtype=x.dtype)
        t = t[()] if t.ndim == 0 else t
    x._tangent = {**(x._tangent or {}), level: t}
    return x


def _tangent_of(out: Any, level: int, traced: bool) -> Any:
    """The tangent of ``out`` at ``level`` (zeros where ``f`` ignored its inputs)."""
    tangent = out._tangent.get(level) if isinstance(out, Value) and out._tangent else None
    if tangent is None:
        data = as_array(out)
        tangent = np.zeros(np.shape(data), dtype=np.result_type(data, np.float32))
    return _result(tangent, traced)


def _result(x: Any, traced: bool) -> Any:
    """What a transform returns: Values when traced, else plain ndarrays."""
    if traced:
        return as_constant(x)
    return np.asarray(as_array(x))


def jvp(f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any]
        ) -> tuple[Any, Any]:
    """``f(*primals)`` and its Jacobian-vector product ``J @ tangents``, exactly.

    Parameters
    ----------
    f : callable
        A function of Values (arrays or lists of arrays as arguments), returning
        a Value or a list/tuple of them.
    primals, tangents : tuple
        One entry per argument of ``f``; each tangent has its primal's structure
        and shapes.

    Returns
    -------
    (out, tangent_out)
        Both in ``f``'s output structure: ndarrays at top level, Values when
        called inside another transform.

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> out, t = mg.jvp(lambda x: mg.sin(x) * x, (np.array([0.0, 1.0]),), (np.ones(2),))
    >>> t.round(6).tolist()    # sin x + x cos x
    [0.0, 1.381773]
    """
    primals = _as_tuple(primals, "primals", "jvp")
    tangents = _as_tuple(tangents, "tangents", "jvp")
    _check_tangents(primals, tangents, "jvp")
    traced = _is_traced(*primals, *tangents)
    if not traced:
        for p in primals:
            _check_finite(p, "jvp")
    with forward_level() as level, _evaluating(record=traced):
        args = [rebuild(p, [_seeded(a, b, level, traced)
                            for a, b in zip(leaves(p), leaves(t), strict=True)])
                for p, t in zip(primals, tangents, strict=True)]
        out = f(*args)
        outs = leaves(out)
        values = [_result(o, traced) for o in outs]
        tans = [_tangent_of(o, level, traced) for o in outs]
    return rebuild(out, values), rebuild(out, tans)


def vjp(f: Callable[..., Any], *primals: Any) -> tuple[Any, Callable[..., tuple[Any, ...]]]:
    """``f(*primals)`` and a function mapping an output cotangent to one per primal.

    The graph of ``f`` is recorded once; each call of the returned function is
    one backward pass through it.

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> out, f_vjp = mg.vjp(lambda x, y: x * y, np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    >>> [g.tolist() for g in f_vjp(np.ones(2))]
    [[3.0, 4.0], [1.0, 2.0]]
    """
    traced = _is_traced(*primals)
    if not traced:
        for p in primals:
            _check_finite(p, "vjp")
    variables = [_variables(p, traced) for p in primals]
    with _evaluating():
        out = f(*variables)
    outs = [as_constant(o) for o in leaves(out)]
    flat = [leaf for v in variables for leaf in leaves(v)]

    def f_vjp(cotangent: Any) -> tuple[Any, ...]:
        cts = leaves(cotangent)
        if len(cts) != len(outs):
            raise ValueError(f"vjp: f returned {len(outs)} arrays but the cotangent has "
                             f"{len(cts)}")
        live = [(o, c) for o, c in zip(outs, cts, strict=True) if o.requires_grad]
        record = traced or _is_traced(cotangent)
        if live:
            gs = gradients([o for o, _ in live], flat, grad_outputs=[c for _, c in live],
                           retain_graph=True, create_graph=record)
        else:
            gs = [Value(np.zeros(w.shape, w.dtype), requires_grad=False) for w in flat]
        it = iter(gs)
        return tuple(rebuild(v, [_result(next(it), record) for _ in leaves(v)])
                     for v in variables)

    return rebuild(out, [_result(o, traced) for o in outs]), f_vjp


def linearize(f: Callable[..., Any], *primals: Any) -> tuple[Any, Callable[..., Any]]:
    """``f(*primals)`` and ``f_jvp``, the linear map ``t -> J t`` at the primals.

    The tangent computation is recorded once; ``f_jvp(*tangents)`` replays only
    its linear part (no nonlinear primal work), so k tangents cost less than k
    ``jvp`` calls.

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> out, f_jvp = mg.linearize(lambda x: mg.exp(x), np.array([0.0, 1.0]))
    >>> f_jvp(np.ones(2)).round(6).tolist(), f_jvp(np.array([2.0, 0.0])).tolist()
    ([1.0, 2.718282], [2.0, 0.0])
    """
    if _is_traced(*primals):
        out = jvp(f, primals, tuple(_zeros_tree(p) for p in primals))[0]

        def traced_jvp(*ts: Any) -> Any:
            return jvp(f, primals, ts)[1]
        return out, traced_jvp

    for p in primals:
        _check_finite(p, "linearize")
    placeholders = [rebuild(p, [Value(np.zeros(np.shape(as_array(a)),
                                                np.result_type(as_array(a), np.float32)))
                                for a in leaves(p)]) for p in primals]
    with forward_level() as level, _evaluating(record=True):
        args = [rebuild(p, [_seeded(a, t, level, True)
                            for a, t in zip(leaves(p), leaves(ph), strict=True)])
                for p, ph in zip(primals, placeholders, strict=True)]
        out = f(*args)
        outs = leaves(out)
        values = [np.asarray(as_array(o)) for o in outs]
        tans = [o._tangent.get(level) if isinstance(o, Value) and o._tangent else None
                for o in outs]
    inputs = [leaf for ph in placeholders for leaf in leaves(ph)]
    roots = [t for t in tans if isinstance(t, Value) and t.requires_grad]

    def f_jvp(*ts: Any) -> Any:
        if len(ts) != len(primals):
            raise ValueError(f"linearize: f_jvp takes {len(primals)} tangent(s), got {len(ts)}")
        _check_tangents(primals, ts, "linearize")
        given = {ph: np.asarray(as_array(t), dtype=ph.dtype)
                 for ph, t in zip(inputs, [leaf for t in ts for leaf in leaves(t)],
                                  strict=True)}
        # Sorted again each time: that also checks that nothing the linearization
        # used (a closure's Value, say) was changed in place since.
        computed = _replay(nodes(roots), given) if roots else {}
        results = []
        for o, t in zip(values, tans, strict=True):
            if t is None:
                results.append(np.zeros(o.shape, dtype=np.result_type(o, np.float32)))
            elif isinstance(t, Value) and t in computed:
                results.append(np.asarray(computed[t]))
            else:
                results.append(np.asarray(as_array(t)))  # does not depend on the tangent
        return rebuild(out, results)

    return rebuild(out, values), f_jvp


def _zeros_tree(p: Tree) -> Tree:
    return rebuild(p, [np.zeros(np.shape(as_array(a)), np.result_type(as_array(a), np.float32))
                       for a in leaves(p)])


def _replay(order: list[Value], given: dict[Value, Any]) -> dict[Value, Any]:
    """Evaluate the recorded graph ``order`` again with new data for the leaves ``given``."""
    vals = dict(given)
    for node in order:
        if node in vals or node._prim is None:
            continue
        args = [vals.get(a, a._data) if isinstance(a, Value) else a
                for a in node._args]  # type: ignore[union-attr]
        params = node._params or {}
        vals[node] = node._prim.forward(*args, **params)
    return vals


def jacfwd(f: Callable[..., Any], argnums: int = 0) -> Callable[..., Any]:
    """The Jacobian of ``f`` by forward mode: one tangent per input element.

    Shape ``f(x).shape + x.shape``, as :func:`microgd.jacobian` (reverse mode,
    one pass per output element): forward mode wins when inputs are few and
    outputs many.

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> mg.jacfwd(lambda x: mg.stack([x[0] * x[1], x[0] + x[1], x[1]]))(np.array([2.0, 3.0]))
    array([[3., 2.],
           [1., 1.],
           [0., 1.]])
    """
    def wrapped(*args: Any) -> Any:
        (i,) = _argnums(argnums, len(args), "jacfwd")
        x = args[i]
        xl = leaves(x)
        shapes = [np.shape(as_array(a)) for a in xl]
        sizes = [int(np.prod(s, dtype=np.int64)) for s in shapes]
        n = sum(sizes)

        def g(y: Any) -> Any:
            call = list(args)
            call[i] = y
            return f(*call)

        def basis(k: int) -> Tree:
            flat = np.zeros(n, dtype=np.result_type(*[as_array(a) for a in xl], np.float32))
            flat[k] = 1.0
            parts, start = [], 0
            for s, m in zip(shapes, sizes, strict=True):
                parts.append(flat[start:start + m].reshape(s))
                start += m
            return rebuild(x, parts)

        traced = _is_traced(*args)
        if traced:
            columns = [leaves(jvp(g, (x,), (basis(k),))[1]) for k in range(n)]
            out = g(x)
        else:
            out, f_jvp = linearize(g, x)
            columns = [leaves(f_jvp(basis(k))) for k in range(n)]
        blocks = []
        for j, o in enumerate(leaves(out)):
            oshape = np.shape(as_array(o))
            per_input, start = [], 0
            for s, m in zip(shapes, sizes, strict=True):
                cols = [columns[k][j] for k in range(start, start + m)]
                if traced:
                    block = ops.reshape(_stack_last(cols, oshape), shape=oshape + s)
                else:
                    block = (np.stack([np.asarray(c) for c in cols], axis=-1) if cols
                             else np.zeros(oshape + (0,))).reshape(oshape + s)
                per_input.append(block)
                start += m
            blocks.append(rebuild(x, per_input))
        return rebuild(out, blocks) if isinstance(out, (list, tuple)) else blocks[0]

    wrapped.__name__ = f"jacfwd_{getattr(f, '__name__', 'f')}"
    return wrapped


def _stack_last(cols: list[Any], shape: tuple[int, ...]) -> Value:
    parts = [ops.reshape(as_constant(c), shape=shape + (1,)) for c in cols]
    return ops.concatenate(*parts, axis=len(shape))


jacrev = jacobian
"""The Jacobian by reverse mode (one backward pass per output element): ``mg.jacobian``."""


def ggn_vp(model: Callable[[Any], Any], loss: Callable[[Any], Any], params: Tree,
           v: Tree) -> Tree:
    """The Gauss-Newton product ``J^T H_loss J v`` of ``loss(model(params))``.

    ``J`` is the Jacobian of the model's output with respect to ``params`` and
    ``H_loss`` the Hessian of ``loss`` with respect to that output: the
    positive semi-definite part of the Hessian for convex losses (the Fisher
    for cross-entropy), as PyHessian and curvlinops compute it.  One jvp, one
    loss HVP and one vjp; no matrix is formed.

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> X = np.array([[1.0, 0.0], [1.0, 2.0]])
    >>> model = lambda w: X @ w
    >>> loss = lambda z: 0.5 * (z ** 2).sum()       # H_loss = I, so G = X^T X
    >>> mg.ggn_vp(model, loss, np.zeros(2), np.array([1.0, 0.0])).tolist()
    [2.0, 2.0]
    """
    z, jv = jvp(model, (params,), (v,))
    hjv = hvp(loss, z, jv)
    _, f_vjp = vjp(model, params)
    return f_vjp(hjv)[0]
