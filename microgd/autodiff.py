"""Grad mode, the recording of primitives, and the iterative backward pass.

Every differentiable operation is a :class:`Primitive` (see ``ops.py``): a
NumPy forward plus one vector-Jacobian product (VJP) per input.  Calling a
primitive on plain arrays simply runs NumPy.  Calling it on at least one
``Value`` records a node that remembers the primitive and its inputs.

``backprop`` walks the recorded graph from the outputs back to the inputs in
reverse topological order (found iteratively, so graphs of millions of nodes
need no recursion) and applies each node's VJPs.  In first-order mode the VJPs
receive plain arrays and run as plain NumPy; with ``create_graph=True`` they
receive the ``Value`` nodes themselves, so the backward pass is recorded like
any other computation and can be differentiated again.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from microgd.value import Value


class AnomalyError(FloatingPointError):
    """Raised under :func:`detect_anomaly` by the first op producing NaN or inf."""


class _Mode(threading.local):
    # Class attributes are the per-thread defaults.
    grad_enabled = True
    anomaly = False
    tracing = 0  # how many transforms are evaluating their function (see transforms)


_mode = _Mode()
_DEFAULTS = {"grad_enabled": True, "anomaly": False}

# How many (thread, field) pairs are away from their default right now.  While it
# is 0, record() knows the mode without reading the thread-local (~100 ns a read,
# twice per op: a third of a scalar op's cost).
_overrides = 0
_overrides_lock = threading.Lock()


def _set_mode(field: str, value: bool) -> bool:
    """Set one field of this thread's mode and return its previous value."""
    global _overrides
    with _overrides_lock:
        prev = getattr(_mode, field)
        setattr(_mode, field, value)
        default = _DEFAULTS[field]
        _overrides += (value != default) - (prev != default)
    return prev


def is_grad_enabled() -> bool:
    """Return whether operations are being recorded in this thread."""
    return _mode.grad_enabled


class _SetMode(contextlib.ContextDecorator):
    """Set one field of the thread's mode for a ``with`` block or a decorated call."""

    _field = ""
    _value: bool = False

    def __init__(self) -> None:
        self._saved: list[bool] = []  # a stack, so one instance may be re-entered

    def __enter__(self) -> _SetMode:
        self._saved.append(_set_mode(self._field, self._value))
        return self

    def __exit__(self, *exc: object) -> None:
        _set_mode(self._field, self._saved.pop())


class no_grad(_SetMode):
    """Record nothing inside the block (or the decorated function).

    Examples
    --------
    >>> import microgd as mg
    >>> w = mg.Value(2.0)
    >>> with mg.no_grad():
    ...     y = w * 3
    >>> y.requires_grad
    False
    """

    _field, _value = "grad_enabled", False


class enable_grad(_SetMode):
    """Record operations again inside a :class:`no_grad` block.

    Examples
    --------
    >>> import microgd as mg
    >>> with mg.no_grad():
    ...     with mg.enable_grad():
    ...         y = mg.Value(2.0) * 3
    >>> y.requires_grad
    True
    """

    _field, _value = "grad_enabled", True


class detect_anomaly(_SetMode):
    """Raise :class:`AnomalyError` at the first op whose forward or backward gives NaN/inf.

    Examples
    --------
    >>> import microgd as mg
    >>> import numpy as np
    >>> with mg.detect_anomaly(), np.errstate(invalid="ignore"):
    ...     try:
    ...         mg.Value(-1.0).log()
    ...     except mg.AnomalyError as e:
    ...         print(str(e).split(":")[0])
    log
    """

    _field, _value = "anomaly", True


def _all_finite(x: Any) -> bool:
    return bool(np.isfinite(x._data if isinstance(x, Value) else x).all())


class Primitive:
    """A differentiable function: a NumPy forward, one VJP per input, and its JVP.

    Parameters
    ----------
    name : str
        The op's name, used in error messages and graph pictures.
    forward : callable
        ``forward(*arrays, **params) -> array``.  Positional arguments are the
        differentiable inputs; keyword arguments are static parameters (axes,
        shapes, indices).
    *vjps : callable
        ``vjp_i(g, ans, *inputs, **params)`` returns the gradient for input
        ``i`` given the output's gradient ``g``.  Written with Python operators
        and other primitives, so it runs on arrays and on Values alike.
    vjp_any : callable, optional
        For variadic primitives: ``vjp_any(i, g, ans, *inputs, **params)``.
    jvps : tuple of callables, optional
        Forward mode: ``jvp_i(t, ans, *inputs, **params)`` is the output's
        tangent due to the tangent ``t`` of input ``i`` (linear in ``t``);
        the contributions of the inputs that have tangents are summed.
    jvp_any : callable, optional
        For variadic primitives: ``jvp_any(i, t, ans, *inputs, **params)``.
    linear : bool
        The op is linear in its inputs jointly (add, reshape, sum, ...): its
        JVP is the op itself applied to the tangents (zeros where none).
    elementwise : bool
        A one-input elementwise op: its Jacobian is diagonal, so its JVP is
        its VJP.
    error : str, optional
        Message template for shape errors, formatted with the input shapes.
    """

    __slots__ = ("name", "forward", "vjps", "vjp_any", "jvps", "jvp_any", "linear",
                 "elementwise", "error")

    def __init__(
        self,
        name: str,
        forward: Callable[..., Any],
        *vjps: Callable[..., Any],
        vjp_any: Callable[..., Any] | None = None,
        jvps: tuple[Callable[..., Any], ...] | None = None,
        jvp_any: Callable[..., Any] | None = None,
        linear: bool = False,
        elementwise: bool = False,
        error: str | None = None,
    ) -> None:
        ways = sum((jvps is not None, jvp_any is not None, linear, elementwise))
        if ways > 1:
            raise ValueError(f"Primitive {name}: give one of jvps=, jvp_any=, linear=True "
                             "or elementwise=True")
        if elementwise and len(vjps) != 1:
            raise ValueError(f"Primitive {name}: elementwise=True needs exactly one VJP")
        self.name = name
        self.forward = forward
        self.vjps = vjps
        self.vjp_any = vjp_any
        self.jvps = jvps
        self.jvp_any = jvp_any
        self.linear = linear
        self.elementwise = elementwise
        self.error = error

    def __repr__(self) -> str:
        return f"<primitive {self.name}>"

    def __call__(self, *args: Any, **params: Any) -> Any:
        for a in args:
            if isinstance(a, Value):
                return record(self, args, params)
        return self.forward(*args, **params)

    @property
    def has_jvp(self) -> bool:
        """Whether forward mode knows this primitive."""
        return (self.jvps is not None or self.jvp_any is not None or self.linear
                or self.elementwise)

    def jvp(self, tangents: list[Any], ans: Any, args: Any, params: dict) -> Any:
        """The output's tangent, given one tangent (or None) per input."""
        if self.linear:
            ins = [_zeros_like(a) if t is None else t for t, a in zip(tangents, args,
                                                                      strict=True)]
            return self(*ins, **params)
        if not self.has_jvp:
            raise NotImplementedError(f"{self.name}: this primitive has no forward-mode rule")
        total = None
        for i, t in enumerate(tangents):
            if t is None:
                continue
            if self.elementwise:
                c = self.vjps[0](t, ans, *args, **params)
            elif self.jvp_any is not None:
                c = self.jvp_any(i, t, ans, *args, **params)
            else:
                c = self.jvps[i](t, ans, *args, **params)  # type: ignore[index]
            total = c if total is None else total + c
        return total


def _zeros_like(x: Any) -> Any:
    """A zero tangent for an input without one: an array of its shape and dtype, or 0.0."""
    data = x._data if isinstance(x, Value) else x
    if isinstance(data, (np.ndarray, np.generic)):
        return np.zeros(np.shape(data), dtype=data.dtype)
    return 0.0


_PLAIN = {float, int, np.float64, np.float32}  # operands used as they are
_NUMERIC_KINDS = "biuf"
_NO_PARAMS: dict = {}


def _constant(prim: Primitive, x: Any) -> Any:
    """Check a non-Value operand and turn sequences into arrays."""
    if isinstance(x, (np.ndarray, np.generic)):
        arr = x
    elif isinstance(x, (list, tuple, bool, int, float)):
        arr = np.asarray(x)
    else:
        raise TypeError(
            f"{prim.name}: unsupported operand of type {type(x).__name__}; "
            "expected a Value, a number or a numeric array"
        )
    if arr.dtype.kind not in _NUMERIC_KINDS:
        raise TypeError(
            f"{prim.name}: operand of dtype {arr.dtype} is not numeric; "
            "expected a Value, a number or a numeric array"
        )
    return arr


def _shape_error(prim: Primitive, raw: tuple, params: dict, exc: Exception) -> Exception:
    shapes = [np.shape(r) for r in raw]
    text = str(exc)
    if prim.error is not None:
        msg = f"{prim.name}: " + prim.error.format(*shapes, **params)
    elif "broadcast" in text and len(shapes) > 1:
        joined = " and ".join(str(s) for s in shapes)
        msg = f"{prim.name}: shapes {joined} cannot be broadcast together"
    else:
        joined = ", ".join(str(s) for s in shapes)
        msg = f"{prim.name}: {text} (input shapes {joined})"
    if isinstance(exc, IndexError) and not isinstance(exc, ValueError):
        return IndexError(msg)
    return (ValueError if isinstance(exc, ValueError) else TypeError)(msg)


def _as_data(out: Any) -> Any:
    """Hold 0-d results as NumPy scalars: their arithmetic is ~5x faster than 0-d arrays'."""
    t = type(out)
    if t is np.ndarray:
        return out[()] if out.ndim == 0 else out
    if t is np.float64 or t is np.float32:
        return out
    return np.asarray(out)[()]


def record(prim: Primitive, args: tuple, params: dict = _NO_PARAMS) -> Value:
    """Run ``prim`` on the data of ``args`` and return its output as a Value node.

    The node keeps ``args`` (for a ``create_graph`` backward, which needs the
    Values), their data at this moment (for a first-order backward, which needs
    arrays) and the sum of their versions: a backward pass checks that sum
    again, so an input changed in place since is an error, never a silent mix
    of old and new numbers.
    """
    raw = []
    needs_grad = False
    version = 0
    for a in args:
        t = type(a)
        if t in _PLAIN:
            raw.append(a)
        elif t is Value or isinstance(a, Value):
            raw.append(a._data)
            version += a._version
            if a.requires_grad:
                needs_grad = True
        else:
            raw.append(_constant(prim, a))
    try:
        out = prim.forward(*raw, **params) if params else prim.forward(*raw)
    except (ValueError, TypeError, IndexError) as exc:
        raise _shape_error(prim, tuple(raw), params, exc) from None
    if _overrides:
        grad_enabled = _mode.grad_enabled
        if _mode.anomaly and not _all_finite(out):
            bad_in = not all(_all_finite(r) for r in raw)
            why = " (its inputs already contained nan/inf)" if bad_in else ""
            raise AnomalyError(f"{prim.name}: forward produced nan/inf{why}")
    else:
        grad_enabled = True
    node = Value.__new__(Value)
    t = type(out)
    # 0-d results are held as NumPy scalars: their arithmetic is ~5x faster than 0-d arrays'.
    node._data = out if (t is np.ndarray and out.ndim) or t is np.float64 or t is np.float32 \
        else _as_data(out)
    node.grad = node._g = node._mark = None
    node._version = 0
    if needs_grad and grad_enabled:
        node.requires_grad = True
        node._prim = prim
        node._args = args
        node._raw = tuple(raw)  # a tuple of arrays: the cyclic GC stops tracking it
        node._params = params or _NO_PARAMS
        node._saved = version
    else:
        node.requires_grad = False
        node._prim = node._args = node._raw = node._params = node._saved = None
    return node


# --------------------------------------------------------------------------
# the backward pass


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
        f"{node.op}: a Value this op used was modified in place (by assign, by setting "
        f".data or by an optimizer step) after the graph was recorded: {which}. The graph "
        "saw the old numbers, so its derivatives would mix old and new; recompute the "
        "forward pass after changing the Value"
    )


def nodes(roots: list[Value]) -> list[Value]:
    """Nodes reachable from ``roots`` that require grad, every node after its parents.

    Iterative depth-first search: a node is emitted when it is met on top of
    the stack a second time, after all its parents were pushed and emitted.
    Visits are marked on the nodes (two fresh tokens per pass) rather than in a
    set: with millions of nodes, a set of ids no longer fits in cache.
    Raises ``RuntimeError`` when a node was freed by an earlier backward, or
    when a node's inputs (or the node itself) changed in place since it was
    recorded: the sums of versions differ.
    """
    entered, emitted = object(), object()
    order: list[Value] = []
    stack = list(roots)
    while stack:
        node = stack[-1]
        mark = node._mark
        if mark is entered:
            stack.pop()
            node._mark = emitted
            order.append(node)
            continue
        if mark is emitted:
            stack.pop()
            continue
        node._mark = entered
        args = node._args
        if args is None:
            continue
        if node._raw is None:
            raise _freed(node)
        version = node._version
        for a in args:
            if isinstance(a, Value):
                version += a._version
                if a.requires_grad and a._mark is not entered and a._mark is not emitted:
                    stack.append(a)
        if version != node._saved:
            raise _modified(node)
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
    order = nodes(roots)
    for r, s in zip(roots, seeds, strict=False):
        r._g = s if r._g is None else r._g + s
    targets = None if wrt is None else set(wrt)
    relevant = None if wrt is None else _relevant(order, wrt)
    result: dict[Value, Any] = {}
    anomaly = _mode.anomaly
    saved_mode = _set_mode("grad_enabled", create_graph)
    try:
        for node in reversed(order):
            g = node._g
            if g is None:
                continue
            node._g = None
            prim = node._prim
            if targets is None:
                if prim is None:
                    result[node] = g
                    continue
            elif node in targets:
                result[node] = g
            if prim is None:
                continue
            # A recorded node has _args, _raw and _params; nodes() checked that none of
            # its inputs changed since, so _raw is their data and the Values hold it too.
            node_args: tuple = node._args  # type: ignore[assignment]
            args: Any
            ans: Any
            if create_graph:
                ans, args = node, node_args
            else:
                ans, args = node._data, node._raw
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
                p._g = c if prev is None else prev + c
    except BaseException:
        for node in order:  # drop the partial sums: nothing is left half-changed
            node._g = None
        raise
    finally:
        _set_mode("grad_enabled", saved_mode)
    if not retain_graph:
        # Drop the saved input data; keep the structure (op and inputs) so the
        # graph can still be drawn, and a second backward can say what happened.
        for node in order:
            if node._prim is not None:
                node._raw = None
    return result


def _seed(root: Value, gradient: Any, create_graph: bool, where: str) -> Any:
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
    grads = backprop(
        [root], [seed], create_graph=create_graph, retain_graph=retain_graph
    )
    # Gather every leaf's new .grad first, then assign: no partial writes on error.
    owners: set[int] = set()
    updates = []
    for node, g in grads.items():
        dtype = node._data.dtype
        if type(g) is not np.ndarray or g.dtype != dtype:
            g = np.asarray(g._data if isinstance(g, Value) else g, dtype=dtype)
        # Leaves must not share a gradient buffer (add passes one g to both
        # inputs), or an in-place update of one .grad would change another.
        base = g if g.base is None else g.base
        if id(base) in owners or not g.flags.writeable:
            g = base = g.copy()
        owners.add(id(base))
        updates.append((node, g))
    for node, g in updates:
        node.grad = g if node.grad is None else node.grad + g


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
