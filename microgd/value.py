"""The ``Value`` node: an array that remembers how it was computed.

A Value holds ``data`` (a NumPy array; 0-d data is held as a NumPy scalar,
``np.float64`` or ``np.float32``, because scalar arithmetic on those is several
times faster than on 0-d arrays), an optional ``grad`` (an ndarray of the same
shape and dtype, filled by ``backward``) and, when it was computed from Values
that require grad, the primitive and inputs that produced it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from microgd.autodiff import Primitive

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _to_data(data: Any, where: str = "Value") -> Any:
    """Validate user data: numeric only; ints and bools become float64."""
    if isinstance(data, Value):
        data = data._data
    try:
        arr = np.array(data)  # a copy, so the caller's array is never updated behind its back
    except (ValueError, TypeError) as exc:
        kind = type(data).__name__
        raise ValueError(f"{where}: cannot make an array from {kind}: {exc}") from None
    kind = arr.dtype.kind
    if arr.dtype not in _FLOATS:
        if kind in "biuf":
            arr = arr.astype(np.float64)
        elif kind == "c":
            raise TypeError(f"{where}: complex data (dtype {arr.dtype}) is not supported")
        else:
            raise TypeError(
                f"{where}: data of dtype {arr.dtype} (from {type(data).__name__}) is not "
                "numeric; give numbers or a numeric array"
            )
    return arr[()] if arr.ndim == 0 else arr


class _Many:
    """The ``_in1`` of a node of three or more inputs; its ``_in0`` is then the tuple of
    them all.  (A marker tested with ``is``: cheaper per node than a type check.)"""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<three or more inputs, in _in0>"


_MANY = _Many()


class Value:
    """An array node of a computation graph, differentiable by reverse mode.

    Parameters
    ----------
    data : array_like
        Numbers or a numeric array.  float32 stays float32; everything else
        (ints, bools, float16) becomes float64.  The data is copied.
    requires_grad : bool, default True
        Whether gradients flow to this Value (False makes a constant).

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> w = mg.Value(1.0)
    >>> x = np.array([1.0, 2.0, 3.0])
    >>> loss = ((x * w - 2 * x) ** 2).mean()
    >>> loss.backward()
    >>> round(float(w.grad), 6)   # d/dw mean((x*w - 2x)**2) = mean(2*(w-2)*x*x) at w=1
    -9.333333
    """

    # The slots are set in __init__, detach and autodiff.record (with its direct paths
    # record1 and record2, which tests/test_record.py holds to the same nodes).
    # _g is scratch space of a backward pass: the visit mark while the graph is
    # sorted, then the pending gradient.
    # The inputs sit in slots, not in a tuple: a tuple holding Values is one more object
    # per node for the cyclic garbage collector to walk on every pass over a long-lived
    # graph (a third of the forward time of a 10^6-node chain with the collector on).
    # For the same reason a node has no slot it can do without: over the build of a
    # 10^6-node chain, each slot costs the collector about 350 instructions per node.
    __slots__ = ("_data", "grad", "requires_grad", "_version", "_prim", "_in0", "_in1",
                 "_params", "_saved", "_tangent", "_g", "__weakref__")
    __array_priority__ = 1000.0

    _data: Any  # an ndarray, or a NumPy scalar for 0-d data
    grad: np.ndarray | None
    requires_grad: bool
    _version: int  # bumped by every in-place change: assign, setting .data, optimizer steps
    # Set together by autodiff.record for a node computed from Values that require grad.
    _prim: Primitive | None
    # The inputs: a Value, an array or a number each.  _in1 is None for one input;
    # for three or more, _in1 is _MANY and _in0 the tuple of all of them.
    _in0: Any
    _in1: Any
    _params: dict[str, Any] | None
    _saved: int | None  # the inputs' versions summed at record time; None once freed
    _tangent: dict[int, Any] | None  # forward mode: {level: tangent} while a jvp runs
    _g: Any  # an array, a Value under create_graph, or a backward's visit mark

    def __init__(self, data: Any, requires_grad: bool = True) -> None:
        self._data = _to_data(data)
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._version = 0
        self._prim = None
        self._in0 = self._in1 = None
        self._params = self._saved = self._tangent = None
        self._g = None

    @property
    def data(self) -> Any:
        """The numbers: an ndarray (a NumPy scalar for 0-d data).

        Setting it converts as ``Value()`` does (a copy, ints become float64)
        and counts as an in-place change: a graph recorded before it can no
        longer be differentiated (see :meth:`assign`).
        """
        return self._data

    @data.setter
    def data(self, new: Any) -> None:
        # `v.data -= x` updates the array in place and sets back the same object.
        self._data = new if new is self._data else _to_data(new, "Value.data")
        self._version += 1

    # ---- array facts -----------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self._data.shape

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def size(self) -> int:
        return self._data.size

    @property
    def op(self) -> str | None:
        """Name of the primitive that produced this Value (None for a leaf or constant)."""
        return None if self._prim is None else self._prim.name

    @property
    def _args(self) -> tuple[Any, ...] | None:
        """The inputs of the op that made this Value (Values, arrays, numbers); None for a leaf."""
        if self._prim is None:
            return None
        in1 = self._in1
        if in1 is None:
            return (self._in0,)
        return self._in0 if in1 is _MANY else (self._in0, in1)

    @property
    def parents(self) -> tuple[Value, ...]:
        """The Values this one was computed from that require grad (empty for a leaf)."""
        if not self._args:
            return ()
        return tuple(a for a in self._args if isinstance(a, Value) and a.requires_grad)

    @property
    def is_leaf(self) -> bool:
        return self._prim is None

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d Value")
        return len(self._data)

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d Value")
        return (self[i] for i in range(len(self._data)))

    # ---- Python numbers -----------------------------------------------------
    def item(self) -> float:
        """The single element as a Python float."""
        if self.size != 1:
            raise ValueError(f"item: Value of shape {self.shape} has {self.size} elements; "
                             "item() needs exactly one")
        return float(self._data.item())

    def _number(self, kind: str) -> float:
        if self.size != 1:
            # TypeError, as NumPy raises for float(np.ones(3))
            raise TypeError(f"{kind}() of a Value of shape {self.shape} with {self.size} "
                            "elements; only one-element Values convert to Python numbers")
        return float(self._data.item())

    def __float__(self) -> float:
        return self._number("float")

    def __int__(self) -> int:
        return int(self._number("int"))

    def __round__(self, ndigits: int | None = None) -> float | int:
        x = self._number("round")
        return round(x) if ndigits is None else round(x, ndigits)

    def __format__(self, spec: str) -> str:
        if not spec:
            return str(self)
        return format(self._number("format"), spec)

    def __bool__(self) -> bool:
        return bool(self._data)

    # ---- NumPy conversion: never a silent gradient drop ------------------------
    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if self.requires_grad:
            raise TypeError(
                f"a Value that requires grad (shape {self.shape}) was converted to a NumPy "
                "array, which would drop its gradient: use v.data (or v.detach()) for the "
                "numbers, mg.stack / mg.array to combine Values, or the Value form of the "
                "operation (w.dot(X), X @ w, mg.NAME(v))"
            )
        arr = np.asarray(self._data, dtype=dtype)
        return arr.copy() if copy else arr

    def numpy(self) -> np.ndarray:
        """A copy of the data as an ndarray (no graph)."""
        return np.array(self._data)

    def __repr__(self) -> str:
        body = np.array2string(np.asarray(self._data), separator=", ", threshold=20,
                               prefix="Value(")
        dt = "" if self.dtype == np.float64 else f", dtype={self.dtype}"
        if self._prim is not None:
            tail = f", op={self._prim.name}"
        elif self.requires_grad:
            tail = ", requires_grad=True"
        else:
            tail = ""
        return f"Value({body}{dt}{tail})"

    def _repr_svg_(self) -> str | None:
        # The pictures layer registers a renderer when it is importable; the
        # core layer never imports it.
        render = Value._svg_renderer
        return None if render is None else render(self)

    _svg_renderer = None  # set by microgd.viz.graph

    # ---- gradients ---------------------------------------------------------
    def backward(self, gradient: Any = None, retain_graph: bool | None = None,
                 create_graph: bool = False) -> None:
        """Accumulate the gradient of this Value into every leaf's ``.grad``.

        Parameters
        ----------
        gradient : array_like, optional
            The output's cotangent, of this Value's shape.  Required unless this
            Value has one element (then it defaults to 1).
        retain_graph : bool, optional
            Keep the graph for another backward.  Defaults to ``create_graph``.
        create_graph : bool, default False
            Record the backward pass itself, so it could be differentiated
            again (use :func:`microgd.gradients` to get those gradients).

        Examples
        --------
        >>> import microgd as mg
        >>> x = mg.Value(3.0)
        >>> (x * x).backward()
        >>> float(x.grad)
        6.0
        """
        _backprop.backward(self, gradient, retain_graph, create_graph)

    def assign(self, data: Any) -> Value:
        """Replace the data with ``data`` of the same shape, cast to this Value's dtype.

        The way optimizers update parameters: the graph is not involved, and
        the Value keeps its identity, shape and dtype.  It counts as an
        in-place change: differentiating a graph recorded before it raises
        ``RuntimeError`` (the graph saw the old numbers).

        Examples
        --------
        >>> import microgd as mg
        >>> w = mg.Value(1.0)
        >>> w.assign(w.data - 0.5).data
        np.float64(0.5)
        """
        new = np.asarray(data._data if isinstance(data, Value) else data)
        if new.shape != self.shape:
            raise ValueError(f"assign: data of shape {new.shape} given for a Value of "
                             f"shape {self.shape}")
        if new.dtype.kind not in "biuf":
            raise TypeError(f"assign: data of dtype {new.dtype} is not numeric")
        self._set(new.astype(self.dtype, copy=True))
        return self

    def _set(self, new: np.ndarray) -> None:
        """Take ``new`` (this Value's shape and dtype, owned by no one else) as the data.

        The no-copy path of :meth:`assign`, for optimizers whose update builds
        a fresh array anyway.
        """
        self._data = new[()] if type(new) is np.ndarray and new.ndim == 0 else new
        self._version += 1

    def zero_grad(self) -> None:
        """Forget the accumulated gradient (``.grad`` becomes None)."""
        self.grad = None

    def detach(self) -> Value:
        """A constant Value sharing this one's data, cut from the graph."""
        out = Value.__new__(Value)
        out._data = self._data
        out.grad = None
        out.requires_grad = False
        out._version = 0
        out._prim = None
        out._in0 = out._in1 = None
        out._params = out._saved = out._tangent = None
        out._g = None
        return out

    # ---- operators -----------------------------------------------------------
    def __add__(self, other: Any) -> Value:
        return _record2(_ops.add, self, other)

    def __radd__(self, other: Any) -> Value:
        return _record2(_ops.add, other, self)

    def __sub__(self, other: Any) -> Value:
        return _record2(_ops.sub, self, other)

    def __rsub__(self, other: Any) -> Value:
        return _record2(_ops.sub, other, self)

    def __mul__(self, other: Any) -> Value:
        return _record2(_ops.mul, self, other)

    def __rmul__(self, other: Any) -> Value:
        return _record2(_ops.mul, other, self)

    def __truediv__(self, other: Any) -> Value:
        return _record2(_ops.div, self, other)

    def __rtruediv__(self, other: Any) -> Value:
        return _record2(_ops.div, other, self)

    def __pow__(self, other: Any) -> Value:
        return _record2(_ops.pow, self, other)

    def __rpow__(self, other: Any) -> Value:
        return _record2(_ops.pow, other, self)

    def __mod__(self, other: Any) -> Value:
        return _record2(_ops.mod, self, other)

    def __rmod__(self, other: Any) -> Value:
        return _record2(_ops.mod, other, self)

    def __floordiv__(self, other: Any) -> Value:
        return _record2(_ops.floor_divide, self, other)

    def __rfloordiv__(self, other: Any) -> Value:
        return _record2(_ops.floor_divide, other, self)

    def __divmod__(self, other: Any) -> tuple[Value, Value]:
        return self // other, self % other

    def __rdivmod__(self, other: Any) -> tuple[Value, Value]:
        return other // self, other % self

    def __matmul__(self, other: Any) -> Value:
        return _record2(_ops.matmul, self, other)

    def __rmatmul__(self, other: Any) -> Value:
        return _record2(_ops.matmul, other, self)

    def __neg__(self) -> Value:
        return _record1(_ops.neg, self)

    def __pos__(self) -> Value:
        return self

    def __abs__(self) -> Value:
        return _record1(_ops.abs, self)

    # Comparisons give plain boolean arrays, element by element: they have no derivative.
    def __lt__(self, other: Any) -> np.ndarray:
        return np.asarray(self._data < as_array(other))

    def __le__(self, other: Any) -> np.ndarray:
        return np.asarray(self._data <= as_array(other))

    def __gt__(self, other: Any) -> np.ndarray:
        return np.asarray(self._data > as_array(other))

    def __ge__(self, other: Any) -> np.ndarray:
        return np.asarray(self._data >= as_array(other))

    def __eq__(self, other: Any) -> np.ndarray:  # type: ignore[override]  # elementwise
        return np.asarray(self._data == as_array(other))

    def __ne__(self, other: Any) -> np.ndarray:  # type: ignore[override]  # elementwise
        return np.asarray(self._data != as_array(other))

    __hash__ = object.__hash__  # identity: Values are graph nodes, usable as dict keys

    def __getitem__(self, index: Any) -> Value:
        return _ops.getitem(self, index=_index(index))

    @property
    def T(self) -> Value:
        return _ops.transpose(self, axes=None)

    # The methods v.NAME(...) of the NumPy vocabulary are the functions microgd.NAME
    # (one definition each), set on the class by microgd.dispatch; declared for type checkers.
    exp: Callable[..., Value]
    log: Callable[..., Value]
    sqrt: Callable[..., Value]
    sin: Callable[..., Value]
    cos: Callable[..., Value]
    tanh: Callable[..., Value]
    sigmoid: Callable[..., Value]
    relu: Callable[..., Value]
    abs: Callable[..., Value]
    sum: Callable[..., Value]
    mean: Callable[..., Value]
    max: Callable[..., Value]
    min: Callable[..., Value]
    reshape: Callable[..., Value]
    transpose: Callable[..., Value]
    clip: Callable[..., Value]
    logsumexp: Callable[..., Value]
    softmax: Callable[..., Value]
    log_softmax: Callable[..., Value]
    # the NumPy vocabulary's methods (set by microgd.dispatch as they land)
    ravel: Callable[..., Value]
    flatten: Callable[..., Value]
    squeeze: Callable[..., Value]
    astype: Callable[..., Value]
    dot: Callable[..., Value]
    prod: Callable[..., Value]
    var: Callable[..., Value]
    std: Callable[..., Value]
    cumsum: Callable[..., Value]
    swapaxes: Callable[..., Value]
    repeat: Callable[..., Value]
    take: Callable[..., Value]
    round: Callable[..., Value]  # v.round(decimals); Python's round(v) still gives a number
    trace: Callable[..., Value]
    diagonal: Callable[..., Value]

    def sort(self, axis: int = -1, kind: str | None = None, order: Any = None) -> None:
        """Sort in place along ``axis`` and return None, as ``ndarray.sort``.

        ``v`` becomes the sorted Value: its graph gains a ``sort`` op (stable
        whatever ``kind`` says, as :func:`microgd.sort`), so gradients through
        ``v`` go back through the permutation.  Returning None makes
        ``y = v.sort()`` fail at once instead of computing with None;
        ``mg.sort(v)`` / ``np.sort(v)`` return a sorted copy.  A leaf Value that
        requires grad cannot be sorted in place (``RuntimeError``), and a graph
        that used ``v`` before the sort can no longer be differentiated.

        Examples
        --------
        >>> import microgd as mg
        >>> w = mg.Value([3.0, 1.0, 2.0])
        >>> v = w * 1.0
        >>> v.sort()
        >>> v.data.tolist()
        [1.0, 2.0, 3.0]
        """
        if order is not None or axis is None:
            raise TypeError("Value.sort: order= and axis=None are not supported in place "
                            "(ndarray.sort refuses axis=None); use mg.sort(v, axis=None)")
        _record_inplace(_ops.sort, self, {"axis": int(axis)})

    # ---- NumPy interop -----------------------------------------------------------
    # Filled by microgd.dispatch: NumPy ufunc -> primitive, (ufunc, "reduce") and
    # (ufunc, "accumulate") -> implementation, NumPy function -> implementation.
    _ufuncs: dict[Any, Any] = {}
    _ufunc_methods: dict[tuple[Any, str], Any] = {}
    _functions: dict[Any, Any] = {}

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if method == "__call__" and not kwargs:
            impl = Value._ufuncs.get(ufunc)
            if impl is not None:
                return impl(*inputs)
        elif method != "__call__":
            impl = Value._ufunc_methods.get((ufunc, method))
            if impl is not None:
                return impl(*inputs, **kwargs)
        name = f"numpy.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
        if method != "__call__" or kwargs:
            extra = f" with {', '.join(kwargs)}=" if kwargs and method == "__call__" else ""
            raise TypeError(f"{name}{extra} is not supported on microgd Values")
        compare = _COMPARISONS.get(ufunc)
        if compare is not None:
            return np.asarray(compare(*[as_array(x) for x in inputs]))
        raise TypeError(f"{name} is not supported on microgd Values; supported ufuncs: "
                        + ", ".join(sorted(u.__name__ for u in Value._ufuncs)))

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        impl = Value._functions.get(func)
        if impl is None:
            raise TypeError(f"{full_name(func)} is not supported on microgd Values "
                            "(see 'NumPy vocabulary' in microgd's docs for what is)")
        return impl(*args, **kwargs)


def full_name(func: Any) -> str:
    """A NumPy function's public name, e.g. ``numpy.linalg.norm`` (not ``numpy.norm``)."""
    module = getattr(func, "__module__", None) or "numpy"
    if module.startswith("numpy._core") or module.startswith("numpy.core"):
        module = "numpy"
    return f"{module}.{getattr(func, '__name__', func)}"


def as_array(x: Any) -> Any:
    """The data of ``x`` if it is a Value (no copy, no graph), else ``x`` itself."""
    return x._data if isinstance(x, Value) else x


def as_constant(x: Any) -> Value:
    """``x`` if it is a Value, else a constant Value (requires_grad=False) of its data."""
    return x if isinstance(x, Value) else Value(x, requires_grad=False)


def normalize_axis(axis: Any) -> int | tuple[int, ...] | None:
    """An ``axis`` argument as None, an int or a tuple of ints."""
    if axis is None or isinstance(axis, (int, np.integer)):
        return None if axis is None else int(axis)
    return tuple(int(a) for a in axis)


def _index(index: Any) -> Any:
    """Indices are constants: Values and lists become plain arrays; tuples stay hashable-ish."""
    if isinstance(index, tuple):
        return tuple(_index(i) for i in index)
    if isinstance(index, Value):
        return np.asarray(index._data)
    if isinstance(index, list):
        return np.asarray(index)
    return index


# Ufuncs with boolean results (no derivative): applied to the data, as comparisons are.
_COMPARISONS = {u: u for u in (np.less, np.less_equal, np.greater, np.greater_equal, np.equal,
                               np.not_equal, np.isfinite, np.isnan, np.isinf, np.signbit)}

# Bottom imports: the node, the engine and the table of primitives need each other
# (a node's operators are primitives, and primitives make nodes), so this module
# must be imported first; microgd/__init__.py does that.
from microgd import backprop as _backprop  # noqa: E402
from microgd import ops as _ops  # noqa: E402
from microgd.autodiff import record1 as _record1  # noqa: E402
from microgd.autodiff import record2 as _record2  # noqa: E402
from microgd.autodiff import record_inplace as _record_inplace  # noqa: E402
