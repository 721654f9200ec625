"""Grad mode, forward-mode levels, and the recording of primitives.

Every differentiable operation is a :class:`Primitive` (see ``ops``): a NumPy
forward, one vector-Jacobian product (VJP) per input and a forward-mode rule
(JVP).  Calling a primitive on plain arrays simply runs NumPy.  Calling it on
at least one ``Value`` records a node that remembers the primitive and its
inputs (the reverse pass, in ``backprop``, walks those), and, while a
forward-mode transform (``jvp``) is running, computes the node's tangent from
its inputs' tangents right away: forward mode keeps no tape.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from microgd.value import _MANY, Value


class AnomalyError(FloatingPointError):
    """Raised under :func:`detect_anomaly` by the first op producing NaN or inf."""


class _Mode(threading.local):
    # Class attributes are the per-thread defaults.
    grad_enabled = True
    anomaly = False
    tracing = 0  # how many transforms are evaluating their function (see transforms)
    levels: tuple[int, ...] = ()  # active forward-mode levels, outermost first


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


_level_ids = iter(range(1, 2**62))


class forward_level:
    """Open a new forward-mode level for a ``with`` block; ``as`` gives its id.

    While it is open, every recorded op whose inputs carry a tangent of this
    level gets its own tangent (see :func:`record`).  Levels nest (``jvp`` of
    ``jvp``); ids are never reused, so a tangent left on a Value by a finished
    level is ignored.
    """

    def __enter__(self) -> int:
        global _overrides
        with _overrides_lock:
            self.level = next(_level_ids)
            self._saved = _mode.levels
            _mode.levels = self._saved + (self.level,)
            _overrides += 1
        return self.level

    def __exit__(self, *exc: object) -> None:
        global _overrides
        with _overrides_lock:
            _mode.levels = self._saved
            _overrides -= 1


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
    vjp_into : callable, optional
        For a one-input primitive without parameters: the VJP written to leave
        its result in ``g``'s memory, as the hand-written ``d *= mask`` does.
        A first-order pass calls it instead of ``vjps[0]`` when ``g`` is an
        array that nothing but the pass can see (its own memory, and no other
        reference to it); it must give the same numbers as ``vjps[0]``.
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

    __slots__ = ("name", "forward", "vjps", "vjp_any", "vjp_into", "jvps", "jvp_any",
                 "linear", "elementwise", "error")

    def __init__(
        self,
        name: str,
        forward: Callable[..., Any],
        *vjps: Callable[..., Any],
        vjp_any: Callable[..., Any] | None = None,
        vjp_into: Callable[..., Any] | None = None,
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
        if vjp_into is not None and len(vjps) != 1:
            raise ValueError(f"Primitive {name}: vjp_into= is for one-input primitives")
        self.name = name
        self.forward = forward
        self.vjps = vjps
        self.vjp_any = vjp_any
        self.vjp_into = vjp_into
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
                if not params:
                    n_in = len(args)
                    if n_in == 2:
                        return record2(self, *args)
                    if n_in == 1:
                        return record1(self, a)
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
    if isinstance(exc, np.linalg.LinAlgError):  # kept, so `except LinAlgError` still works
        return np.linalg.LinAlgError(msg)
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

    The node keeps its inputs (Values, and constants as arrays or numbers) and
    the sum of the Values' versions: a backward pass checks that sum again, so
    an input changed in place since is an error, never a silent mix of old and
    new numbers.  The inputs' data is not kept beside them: while the versions
    agree, each Value still holds the very data it had here (every change of
    ``_data`` bumps the version), and a first-order backward reads it there.
    """
    raw = []
    needs_grad = False
    version = 0
    converted = False
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
            c = _constant(prim, a)
            raw.append(c)
            converted = converted or c is not a  # a list or a number became an array
    try:
        out = prim.forward(*raw, **params) if params else prim.forward(*raw)
    except (ValueError, TypeError, IndexError) as exc:
        raise _shape_error(prim, tuple(raw), params, exc) from None
    levels: tuple[int, ...] = ()
    if _overrides:
        grad_enabled = _mode.grad_enabled
        levels = _mode.levels
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
    node.grad = node._g = None
    node._version = 0
    if needs_grad and grad_enabled:
        node.requires_grad = True
        node._prim = prim
        if converted:  # keep constants as the arrays the forward saw (a list is not one)
            args = tuple(a if isinstance(a, Value) else r for a, r in zip(args, raw,
                                                                         strict=True))
        n_in = len(args)
        if n_in == 2:
            node._in0, node._in1 = args
        elif n_in == 1:
            node._in0, node._in1 = args[0], None
        else:
            node._in0, node._in1 = args, _MANY
        node._params = params or _NO_PARAMS
        node._saved = version
    else:
        node.requires_grad = False
        node._prim = node._in0 = node._in1 = None
        node._params = node._saved = None
    node._tangent = None
    if levels:
        _push_tangents(node, prim, args, raw, params, levels, grad_enabled)
    return node


def record1(prim: Primitive, a: Any) -> Value:
    """``record(prim, (a,))`` for a primitive without parameters, built directly when
    ``a`` is a Value and no mode is set: :func:`record2`'s shortcut for one input."""
    if _overrides or type(a) is not Value:
        return record(prim, (a,))
    try:
        out = prim.forward(a._data)
    except (ValueError, TypeError, IndexError) as exc:
        raise _shape_error(prim, (a._data,), _NO_PARAMS, exc) from None
    node = Value.__new__(Value)
    t = type(out)
    node._data = out if (t is np.ndarray and out.ndim) or t is np.float64 or t is np.float32 \
        else _as_data(out)
    node.grad = node._g = node._tangent = None
    node._version = 0
    if a.requires_grad:
        node.requires_grad = True
        node._prim = prim
        node._in0, node._in1 = a, None
        node._params = _NO_PARAMS
        node._saved = a._version
    else:
        node.requires_grad = False
        node._prim = node._in0 = node._in1 = None
        node._params = node._saved = None
    return node


def record2(prim: Primitive, a: Any, b: Any) -> Value:
    """``record(prim, (a, b))`` for a primitive without parameters, built directly when
    it can be: ``a`` and ``b`` are Values, Python or NumPy floats and ints, or numeric
    arrays, and no mode is set (grad enabled, no anomaly check, no tangents).

    This is the node of every binary operator, so of every scalar graph: without
    record's loop over any number of inputs it costs two thirds of the time.  The
    node is record's, slot for slot (``tests/test_record.py`` builds both and
    compares them); anything else goes through :func:`record`.
    """
    ta, tb = type(a), type(b)
    if _overrides:
        return record(prim, (a, b))
    if ta is Value:
        ra, version, needs_grad = a._data, a._version, a.requires_grad
    elif ta in _PLAIN or (ta is np.ndarray and a.dtype.kind in _NUMERIC_KINDS):
        ra, version, needs_grad = a, 0, False
    else:
        return record(prim, (a, b))
    if tb is Value:
        rb = b._data
        version += b._version
        needs_grad = needs_grad or b.requires_grad
    elif tb in _PLAIN or (tb is np.ndarray and b.dtype.kind in _NUMERIC_KINDS):
        rb = b
    else:
        return record(prim, (a, b))
    try:
        out = prim.forward(ra, rb)
    except (ValueError, TypeError, IndexError) as exc:
        raise _shape_error(prim, (ra, rb), _NO_PARAMS, exc) from None
    node = Value.__new__(Value)
    t = type(out)
    node._data = out if (t is np.ndarray and out.ndim) or t is np.float64 or t is np.float32 \
        else _as_data(out)
    node.grad = node._g = node._tangent = None
    node._version = 0
    if needs_grad:
        node.requires_grad = True
        node._prim = prim
        node._in0, node._in1 = a, b
        node._params = _NO_PARAMS
        node._saved = version
    else:
        node.requires_grad = False
        node._prim = node._in0 = node._in1 = None
        node._params = node._saved = None
    return node


# The slots an in-place op moves from the new node onto the Value it changes.
_NODE_SLOTS = tuple(s for s in Value.__slots__ if s not in ("grad", "_g", "__weakref__"))


def record_inplace(prim: Primitive, v: Value, params: dict) -> None:
    """Apply the one-input ``prim`` to ``v`` in place, as PyTorch's in-place ops do.

    ``v`` keeps its identity and becomes the node ``prim(old v)``: its history
    gains one op, so derivatives through ``v`` from now on include ``prim``.
    Its version is bumped, so a graph recorded from ``v`` before the change
    refuses to be differentiated (it saw the old numbers).  A leaf that
    requires grad cannot change this way (its gradient would belong to other
    numbers): ``RuntimeError``.  Nothing changes when ``prim`` raises.
    """
    if v.requires_grad and v._prim is None:
        raise RuntimeError(
            f"{prim.name}: a leaf Value that requires grad (shape {v.shape}) cannot be "
            "changed in place; use the function form, which returns a new Value "
            f"(mg.{prim.name}(v) / np.{prim.name}(v))")
    old = Value.__new__(Value)
    for slot in _NODE_SLOTS:
        setattr(old, slot, getattr(v, slot))
    old.grad = old._g = None
    new = record(prim, (old,), params)
    version = v._version + 1
    for slot in _NODE_SLOTS:
        setattr(v, slot, getattr(new, slot))
    v._version = version
    if v._saved is not None:  # the backward check adds a node's own version to its inputs'
        v._saved += version


def _push_tangents(node: Value, prim: Primitive, args: tuple, raw: list, params: dict,
                   levels: tuple[int, ...], grad_enabled: bool) -> None:
    """Give ``node`` its tangent at each active level where an input has one.

    Levels are done outermost first.  The rule for level L runs with only the
    levels outside L open, on the inputs as Values, so the tangent it makes
    carries their tangents too (a jvp of a jvp sees mixed derivatives) and
    never one of L itself.  When nothing outside needs that (no outer level
    involved, nothing recording for reverse mode), the rule runs on the plain
    arrays instead, as a first-order backward does: NumPy only.
    """
    have = [a._tangent if isinstance(a, Value) and a._tangent else None for a in args]
    tangents: dict[int, Any] = {}
    for k, level in enumerate(levels):
        ts = [None if h is None else h.get(level) for h in have]
        if all(t is None for t in ts):
            continue
        outer = levels[:k]
        plain = not (grad_enabled and node.requires_grad) and not any(
            isinstance(t, Value) for t in ts) and not any(
            h is not None and any(lv in h for lv in outer) for h in have)
        node._tangent = tangents  # the outer levels' tangents, for rules that use ans
        saved = _mode.levels
        _mode.levels = outer
        try:
            if plain:
                t_out = prim.jvp(ts, node._data, raw, params)
            else:
                t_out = prim.jvp(ts, node, args, params)
        finally:
            _mode.levels = saved
        tangents[level] = _fit(t_out, node)
    node._tangent = tangents or None


def _fit(t: Any, node: Value) -> Any:
    """A tangent in the node's shape and dtype (rules broadcast like the forward)."""
    if isinstance(t, Value):
        if t.shape != node.shape:
            from microgd.ops import broadcast_to
            t = broadcast_to(t, shape=node.shape)
        return t
    arr = np.asarray(t)
    if arr.shape != node.shape:
        arr = np.broadcast_to(arr, node.shape)
    if arr.dtype != node.dtype:
        arr = arr.astype(node.dtype)
    return arr[()] if arr.ndim == 0 else arr




def __getattr__(name: str) -> Any:
    # The reverse pass moved to microgd.backprop; keep its old import path working.
    if name in ("backprop", "backward", "gradients", "nodes"):
        from microgd import backprop
        return getattr(backprop, name)
    raise AttributeError(f"module 'microgd.autodiff' has no attribute {name!r}")
