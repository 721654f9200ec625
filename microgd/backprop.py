"""The reverse pass: every node's VJPs applied from the outputs back to the inputs.

``backprop`` walks the recorded graph in reverse topological order (found
iteratively by ``nodes``, so graphs of millions of nodes need no recursion) and
applies each node's VJPs.  In first-order mode the VJPs receive plain arrays
(the inputs' data saved at record time) and run as plain NumPy; with
``create_graph=True`` they receive the ``Value`` nodes themselves, so the
backward pass is recorded like any other computation and can be differentiated
again.  Before any VJP runs, the versions saved at record time are checked:
an input changed in place since is an error, never a mix of old and new.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from microgd import autodiff as _autodiff
from microgd.autodiff import AnomalyError, _all_finite, _mode, _set_mode
from microgd.value import _MANY, Value


def _probe_alone() -> int:
    """What ``sys.getrefcount`` reads in :func:`_first_order` for a gradient that only
    the pass holds (taken out of a node's ``_g`` into a local name), measured in code
    of the same shape rather than assumed.  -1 where the count cannot be read: then no
    VJP writes into its ``g``."""
    if not hasattr(sys, "getrefcount"):
        return -1
    node = Value(0.0)
    node._g = np.zeros(2)
    g = node._g
    node._g = None
    return sys.getrefcount(g)


_ALONE = _probe_alone()
_getrefcount = getattr(sys, "getrefcount", lambda obj: 0)
"""``sys.getrefcount``, or 0 where Python has none (the probes above then read -1, so
no in-place path is taken); also the optimizers' (``optim.base``)."""


def _freed(node: Value) -> RuntimeError:
    return RuntimeError(
        f"backward through the graph a second time: the graph at op "
        f"'{node.op}' was freed by an earlier backward; pass "
        "retain_graph=True to the first backward to keep it"
    )


def _modified(node: Value) -> RuntimeError:
    """The error for a node whose inputs (or itself) changed in place after recording."""
    args = node._args or ()
    changed = [f"input {i} (shape {a.shape}, version {a._version})"
               for i, a in enumerate(args) if isinstance(a, Value) and a._version]
    if node._version:
        changed.append(f"its own output (shape {node.shape}, version {node._version})")
    which = ", ".join(changed) or "an input"
    return RuntimeError(
        f"{node.op}: a Value this op used was modified in place (by assign, v.sort(), setting "
        f".data or by an optimizer step) after the graph was recorded: {which}. The graph "
        "saw the old numbers, so its derivatives would mix old and new; recompute the "
        "forward pass after changing the Value"
    )


def nodes(roots: list[Value]) -> list[Value]:
    """Nodes reachable from ``roots`` that require grad, every node after its parents.

    Raises ``RuntimeError`` when a node was freed by an earlier backward, or
    when a node's inputs (or the node itself) changed in place since it was
    recorded: the sums of versions differ.
    """
    order = _sort(roots, object())
    for node in order:
        node._g = None
    return order


def _sort(roots: list[Value], emitted: object) -> list[Value]:
    """:func:`nodes`, leaving ``emitted`` in each node's ``_g``: a backward pass
    reads it as "no gradient yet" and clears it as it passes the node.

    Iterative depth-first search: a node is emitted when it is met on top of
    the stack a second time, after all its parents were pushed and emitted.
    Visits are marked on the nodes (fresh tokens per pass) rather than in a
    set: with millions of nodes, a set of ids no longer fits in cache.  The
    mark sits in ``_g``, which the pass needs next, not in a slot of its own:
    every slot of a node is walked by the garbage collector.
    """
    entered, many = object(), _MANY
    order: list[Value] = []
    stack = list(roots)
    try:
        while stack:
            node = stack[-1]
            mark = node._g
            if mark is entered:
                stack.pop()
                node._g = emitted
                order.append(node)
                continue
            if mark is emitted:
                stack.pop()
                continue
            node._g = entered
            if node._prim is None:
                continue
            if node._saved is None:
                raise _freed(node)
            version = node._version
            # node._args, spelled out: a property call per node is measurable here
            in1 = node._in1
            ins = ((node._in0,) if in1 is None else node._in0 if in1 is many
                   else (node._in0, in1))
            for a in ins:
                if isinstance(a, Value):
                    version += a._version
                    if a.requires_grad:
                        mark = a._g
                        if mark is not entered and mark is not emitted:
                            if a._prim is None:  # a leaf waits for nothing: emitted at once
                                a._g = emitted
                                order.append(a)
                            else:
                                stack.append(a)
            if version != node._saved:
                raise _modified(node)
    except BaseException:
        for n in order + stack:  # nothing half-changed: no node keeps a mark
            n._g = None
        raise
    return order


def _relevant(order: list[Value], wrt: list[Value]) -> set[Value]:
    """The nodes of ``order`` with a node of ``wrt`` among their ancestors (or themselves)."""
    relevant = set(wrt)
    for node in order:
        if node._args and any(isinstance(a, Value) and a in relevant for a in node._args):
            relevant.add(node)
    return relevant


def backprop(
    roots: list[Value],
    seeds: list[Any],
    *,
    create_graph: bool = False,
    retain_graph: bool = False,
    wrt: list[Value] | None = None,
) -> dict[Value, Any]:
    """Propagate ``seeds`` (one per root) back through the graph.

    Returns ``{node: total gradient}`` for the leaves when ``wrt`` is None and
    for the nodes in ``wrt`` otherwise.  Gradients are arrays, or Values when
    ``create_graph``.  While the pass runs, each node's pending gradient sits
    in its ``_g`` slot; nothing outside the returned dict is changed unless the
    pass completes (then the graph is freed unless ``retain_graph``).  A graph
    is differentiated by one thread at a time.
    """
    emitted = object()
    order = _sort(roots, emitted)
    try:
        for r, s in zip(roots, seeds, strict=False):
            r._g = s if r._g is emitted else r._g + s
        targets = None if wrt is None else set(wrt)
        relevant = None if wrt is None else _relevant(order, wrt)
    except BaseException:
        _drop_partial_sums(order)  # no node keeps a mark or a seed
        raise
    anomaly = bool(_autodiff._overrides) and _mode.anomaly  # the thread-local only when set
    # A first-order pass runs its rules on arrays, which record nothing whatever the
    # mode; only a create_graph pass needs grad mode on (and off for first order
    # would cost two thread-local writes per backward, a tenth of a tiny one).
    saved_mode = _set_mode("grad_enabled", True) if create_graph else False
    plain = not (create_graph or anomaly or relevant is not None)
    try:
        if plain:
            result = _first_order(order, emitted, free=not retain_graph)
        else:
            result = _general(order, emitted, targets, relevant, create_graph, anomaly)
    except BaseException:
        _drop_partial_sums(order)
        raise
    finally:
        if create_graph:
            _set_mode("grad_enabled", saved_mode)
    if not (retain_graph or plain):
        _free(order)
    return result


def _drop_partial_sums(order: list[Value]) -> None:
    """After a failed pass: no node keeps a pending gradient or a mark, and none is
    freed (nothing half-changed).  A node freed by the pass gets back its sum of versions, which
    :func:`nodes` checked to be its own version plus its inputs'."""
    for node in order:
        node._g = None
        if node._saved is None and node._prim is not None:
            version = node._version
            for a in node._args or ():
                if isinstance(a, Value):
                    version += a._version
            node._saved = version


def _free(order: list[Value]) -> None:
    """Mark a graph as used up, as PyTorch frees its buffers.

    The structure (op and inputs) stays, so the graph can still be drawn and a
    second backward can say what happened.
    """
    for node in order:
        node._saved = None  # (a leaf's is None already)


def _general(order: list[Value], emitted: object, targets: set[Value] | None,
             relevant: set[Value] | None, create_graph: bool,
             anomaly: bool) -> dict[Value, Any]:
    """The pass of :func:`backprop` with all it may be asked: gradients as Values
    (``create_graph``), only towards ``targets`` (through ``relevant`` nodes), and
    every gradient checked for nan/inf (``anomaly``).  ``order`` comes from
    :func:`_sort` with the mark ``emitted``: a node still holding it has no gradient."""
    result: dict[Value, Any] = {}
    for node in reversed(order):
        g = node._g
        node._g = None
        if g is emitted:
            continue
        prim = node._prim
        if targets is None:
            if prim is None:
                result[node] = g
                continue
        elif node in targets:
            result[node] = g
        if prim is None:
            continue
        # nodes() checked that no input changed since it was recorded, so each
        # input Value still holds the data this node was computed from.
        in1 = node._in1  # node._args, spelled out as in _sort()
        a0 = node._in0
        ans: Any
        args: Any
        node_args = (a0,) if in1 is None else a0 if in1 is _MANY else (a0, in1)
        if create_graph:
            ans, args = node, node_args
        else:
            ans = node._data
            args = tuple([a._data if isinstance(a, Value) else a for a in node_args])
        params: dict = node._params  # type: ignore[assignment]
        vjps, vjp_any = prim.vjps, prim.vjp_any
        for i, p in enumerate(node_args):
            if not isinstance(p, Value) or not p.requires_grad:
                continue
            if relevant is not None and p not in relevant:
                continue
            if vjp_any is not None:
                c = vjp_any(i, g, ans, *args, **params)
            elif params:
                c = vjps[i](g, ans, *args, **params)
            else:
                c = vjps[i](g, ans, *args)
            if anomaly and not _all_finite(c):
                raise AnomalyError(
                    f"{prim.name}: backward (gradient for input {i}) produced nan/inf"
                )
            prev = p._g
            p._g = c if prev is emitted else prev + c
    return result


def _first_order(order: list[Value], emitted: object, free: bool) -> dict[Value, Any]:
    """The pass of a plain backward (first order, every leaf): ``{leaf: gradient}``.

    The general loop of :func:`backprop` without what only ``create_graph``,
    ``wrt`` and anomaly mode need, and unrolled for the common node, one or
    two inputs and no parameters: this is the whole pass of a scalar graph.
    With ``free``, each node is freed as it is passed (as :func:`_free` would
    after; :func:`_drop_partial_sums` undoes it if the pass fails).  ``order``
    comes from :func:`_sort` with the mark ``emitted``: a node still holding it
    has no gradient.
    """
    result: dict[Value, Any] = {}
    many = _MANY
    for node in reversed(order):
        if free:
            node._saved = None  # (a leaf's is None already)
        g = node._g
        node._g = None
        if g is emitted:
            continue
        prim = node._prim
        if prim is None:
            result[node] = g
            continue
        # _sort() checked that no input changed since it was recorded, so each
        # input Value still holds the data this node was computed from.
        a0, a1, ans = node._in0, node._in1, node._data
        if prim.vjp_any is None and not node._params and a1 is not many:
            if a1 is None:  # one input: a Value that requires grad, or why record it
                if a0.requires_grad:
                    into = prim.vjp_into
                    # g's memory may take the result when nothing else can see g: no
                    # other node's _g, no leaf's result, no view, nobody outside (the
                    # test NumPy's own temporary elision makes).  The last node's c
                    # may still name it: let go of it first.
                    c, x = None, a0._data
                    if (into is not None and type(g) is np.ndarray and g.base is None
                            and _getrefcount(g) <= _ALONE and g.flags.writeable
                            and type(x) is np.ndarray and g.shape == x.shape):
                        c = into(g, ans, x)
                    else:
                        c = prim.vjps[0](g, ans, x)
                    prev = a0._g
                    a0._g = c if prev is emitted else prev + c
                continue
            v0, v1 = isinstance(a0, Value), isinstance(a1, Value)
            r0 = a0._data if v0 else a0
            r1 = a1._data if v1 else a1
            if v0 and a0.requires_grad:
                c = prim.vjps[0](g, ans, r0, r1)
                prev = a0._g
                a0._g = c if prev is emitted else prev + c
            if v1 and a1.requires_grad:
                c = prim.vjps[1](g, ans, r0, r1)
                prev = a1._g
                a1._g = c if prev is emitted else prev + c
            continue
        node_args = (a0,) if a1 is None else a0 if a1 is many else (a0, a1)
        args = [a._data if isinstance(a, Value) else a for a in node_args]
        params: dict = node._params  # type: ignore[assignment]
        for i, p in enumerate(node_args):
            if isinstance(p, Value) and p.requires_grad:
                c = (prim.vjp_any(i, g, ans, *args, **params) if prim.vjp_any is not None
                     else prim.vjps[i](g, ans, *args, **params))
                prev = p._g
                p._g = c if prev is emitted else prev + c
    return result


def _seed(root: Value, gradient: Any, create_graph: bool, where: str) -> Any:
    t = type(root._data)
    if gradient is None and not create_graph and (t is np.float64 or t is np.float32):
        return t(1)  # the common case, a scalar loss: see below
    if gradient is None:
        if root.size != 1:
            raise RuntimeError(
                f"{where}: output has shape {root.shape}; backward() without a gradient "
                "needs an output with one element, so pass gradient= an array of that shape"
            )
        # A 0-d seed as a NumPy scalar: the whole pass then runs on scalars, ~5x
        # faster than 0-d arrays (backward turns the results into ndarrays).
        seed: Any = root.dtype.type(1) if root.ndim == 0 else np.ones(root.shape, root.dtype)
    elif isinstance(gradient, Value):
        seed = gradient if create_graph else np.array(gradient._data, dtype=root.dtype)
    else:
        seed = np.array(gradient, dtype=root.dtype)  # a copy: never alias the caller's array
    shape = np.shape(seed._data if isinstance(seed, Value) else seed)
    if shape != root.shape:
        raise ValueError(
            f"{where}: gradient has shape {shape} but the output has shape {root.shape}"
        )
    if create_graph and not isinstance(seed, Value):
        seed = Value(seed, requires_grad=False)
    return seed


def backward(
    root: Value,
    gradient: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
) -> None:
    """Accumulate d(root)/d(leaf) into every leaf's ``.grad`` (see ``Value.backward``)."""
    if not root.requires_grad:
        raise RuntimeError(
            "backward: this Value does not require grad (it is a constant, or was "
            "computed under no_grad or from constants only)"
        )
    if retain_graph is None:
        retain_graph = create_graph
    seed = _seed(root, gradient, create_graph, "backward")
    if create_graph or (_autodiff._overrides and _mode.anomaly):
        grads = backprop([root], [seed], create_graph=create_graph,
                         retain_graph=retain_graph)
    else:  # backprop's plain case, called directly: this is every training step
        emitted = object()
        order = _sort([root], emitted)
        root._g = seed
        try:
            grads = _first_order(order, emitted, free=not retain_graph)
        except BaseException:
            _drop_partial_sums(order)
            raise
    # Gather every leaf's new .grad first, then assign: no partial writes on error.
    owners: set[int] = set()
    updates = []
    for node, g in grads.items():
        data = node._data
        if type(g) is type(data) and type(g) is not np.ndarray:
            g = np.array(g)  # a NumPy scalar of the leaf's dtype (a 0-d pass): fresh, alone
        elif type(g) is not np.ndarray or g.dtype != data.dtype:
            # a Value or another dtype: np.array makes a fresh array, shared with no one
            g = np.array(g._data if isinstance(g, Value) else g, dtype=data.dtype)
        else:
            # Leaves must not share a gradient buffer (add passes one g to both
            # inputs), or an in-place update of one .grad would change another.
            base = g if g.base is None else g.base
            if id(base) in owners or not g.flags.writeable:
                g = base = g.copy()
            owners.add(id(base))
        updates.append((node, g))
    for node, g in updates:
        prev = node.grad
        node.grad = g if prev is None else prev + g


def gradients(
    outputs: Value | list[Value],
    inputs: Value | list[Value],
    grad_outputs: Any = None,
    create_graph: bool = False,
    retain_graph: bool | None = None,
) -> list[Value]:
    """Gradients of ``outputs`` with respect to ``inputs``, leaving ``.grad`` untouched.

    Like ``torch.autograd.grad``: the result is a list with one Value per
    input, holding ``sum_k d(outputs[k] . grad_outputs[k]) / d(input)``.
    When ``outputs`` is a list, ``grad_outputs`` is a list of the same length
    (None entries for one-element outputs); for a single output it is one array
    (a list of one array is also accepted, as in PyTorch).  With
    ``create_graph=True`` the results are part of a graph and can be
    differentiated again.  An input that the outputs do not depend on gets
    zeros.

    Examples
    --------
    >>> import microgd as mg
    >>> x = mg.Value(3.0)
    >>> (dx,) = mg.gradients(x ** 3, x, create_graph=True)
    >>> (d2x,) = mg.gradients(dx, x)
    >>> float(dx.data), float(d2x.data)
    (27.0, 18.0)
    """
    single = isinstance(outputs, Value)
    outs: list[Value] = [outputs] if isinstance(outputs, Value) else list(outputs)
    ins = [inputs] if isinstance(inputs, Value) else list(inputs)
    for v in outs + ins:
        if not isinstance(v, Value):
            raise TypeError(f"gradients: expected Values, got {type(v).__name__}")
    for i, x in enumerate(ins):
        if not x.requires_grad:
            raise RuntimeError(f"gradients: input {i} (shape {x.shape}) does not require grad")
    gos: list[Any]
    if grad_outputs is None:
        gos = [None] * len(outs)
    elif not single:
        if not isinstance(grad_outputs, (list, tuple)):
            raise TypeError("gradients: outputs is a list, so grad_outputs must be a list "
                            f"of the same length, got {type(grad_outputs).__name__}")
        gos = list(grad_outputs)
    elif (isinstance(grad_outputs, (list, tuple)) and len(grad_outputs) == 1
          and isinstance(grad_outputs[0], (Value, np.ndarray))):
        gos = [grad_outputs[0]]  # a list of one, as torch.autograd.grad accepts
    else:
        gos = [grad_outputs]
    if len(gos) != len(outs):
        raise ValueError(
            f"gradients: {len(gos)} grad_outputs given for {len(outs)} outputs"
        )
    if retain_graph is None:
        retain_graph = create_graph
    roots, seeds = [], []
    for o, go in zip(outs, gos, strict=False):
        if o.requires_grad:
            roots.append(o)
            seeds.append(_seed(o, go, create_graph, "gradients"))
    grads = backprop(
        roots, seeds, create_graph=create_graph, retain_graph=retain_graph, wrt=ins
    )
    result = []
    for x in ins:
        g = grads[x] if x in grads else np.zeros(x.shape, dtype=x.dtype)
        if isinstance(g, Value):
            result.append(g)
        else:
            result.append(Value(np.asarray(g, dtype=x.dtype), requires_grad=False))
    return result
