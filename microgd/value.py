"""The ``Value`` node: an array that remembers how it was computed.

A Value holds ``data`` (a NumPy array; 0-d data is held as a NumPy scalar,
``np.float64`` or ``np.float32``, because scalar arithmetic on those is several
times faster than on 0-d arrays), an optional ``grad`` (an ndarray of the same
shape and dtype, filled by ``backward``) and, when it was computed from Values
that require grad, the primitive and inputs that produced it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from microgd.autodiff import Primitive

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _to_data(data: Any, where: str = "Value") -> Any:
    """Validate user data: numeric only; ints and bools become float64."""
    if isinstance(data, Value):
        data = data.data
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

    # _g and _mark are scratch space of a backward pass (pending gradient, visit mark).
    __slots__ = ("data", "grad", "requires_grad", "_prim", "_args", "_raw", "_params",
                 "_g", "_mark", "__weakref__")
    __array_priority__ = 1000.0

    data: Any  # an ndarray, or a NumPy scalar for 0-d data
    grad: np.ndarray | None
    requires_grad: bool
    # Set together by autodiff.record for a node computed from Values that require grad.
    _prim: Primitive | None
    _args: tuple[Any, ...] | None  # Values, arrays, numbers: kept for a create_graph backward
    _raw: tuple[Any, ...] | None  # their data; None once a backward has freed the graph
    _params: dict[str, Any] | None
    _g: Any  # an array, or a Value under create_graph
    _mark: object

    def __init__(self, data: Any, requires_grad: bool = True) -> None:
        self.data = _to_data(data)
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._prim = None
        self._args = self._raw = self._params = self._g = self._mark = None

    # ---- array facts -----------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def op(self) -> str | None:
        """Name of the primitive that produced this Value (None for a leaf or constant)."""
        return None if self._prim is None else self._prim.name

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
        return len(self.data)

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d Value")
        return (self[i] for i in range(len(self.data)))

    def item(self) -> float:
        """The single element as a Python float."""
        if self.size != 1:
            raise ValueError(f"item: Value of shape {self.shape} has {self.size} elements; "
                             "item() needs exactly one")
        return float(self.data.item())

    def __float__(self) -> float:
        return self.item()

    def __bool__(self) -> bool:
        return bool(self.data)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        arr = np.asarray(self.data, dtype=dtype)
        return arr.copy() if copy else arr

    def numpy(self) -> np.ndarray:
        """A copy of the data as an ndarray (no graph)."""
        return np.array(self.data)

    def __repr__(self) -> str:
        body = np.array2string(np.asarray(self.data), separator=", ", threshold=20,
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
            Value is a scalar (then it defaults to 1).
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
        _autodiff.backward(self, gradient, retain_graph, create_graph)

    def assign(self, data: Any) -> Value:
        """Replace the data with ``data`` of the same shape, cast to this Value's dtype.

        The way optimizers update parameters: the graph is not involved, and
        the Value keeps its identity, shape and dtype.

        Examples
        --------
        >>> import microgd as mg
        >>> w = mg.Value(1.0)
        >>> w.assign(w.data - 0.5).data
        np.float64(0.5)
        """
        new = np.asarray(data.data if isinstance(data, Value) else data)
        if new.shape != self.shape:
            raise ValueError(f"assign: data of shape {new.shape} given for a Value of "
                             f"shape {self.shape}")
        if new.dtype.kind not in "biuf":
            raise TypeError(f"assign: data of dtype {new.dtype} is not numeric")
        new = new.astype(self.dtype, copy=True)
        self.data = new[()] if new.ndim == 0 else new
        return self

    def zero_grad(self) -> None:
        """Forget the accumulated gradient (``.grad`` becomes None)."""
        self.grad = None

    def detach(self) -> Value:
        """A constant Value sharing this one's data, cut from the graph."""
        out = Value.__new__(Value)
        out.data = self.data
        out.grad = None
        out.requires_grad = False
        out._prim = None
        out._args = out._raw = out._params = out._g = out._mark = None
        return out

    # ---- operators -----------------------------------------------------------
    def __add__(self, other: Any) -> Value:
        return _record(_ops.add, (self, other))

    def __radd__(self, other: Any) -> Value:
        return _record(_ops.add, (other, self))

    def __sub__(self, other: Any) -> Value:
        return _record(_ops.sub, (self, other))

    def __rsub__(self, other: Any) -> Value:
        return _record(_ops.sub, (other, self))

    def __mul__(self, other: Any) -> Value:
        return _record(_ops.mul, (self, other))

    def __rmul__(self, other: Any) -> Value:
        return _record(_ops.mul, (other, self))

    def __truediv__(self, other: Any) -> Value:
        return _record(_ops.div, (self, other))

    def __rtruediv__(self, other: Any) -> Value:
        return _record(_ops.div, (other, self))

    def __pow__(self, other: Any) -> Value:
        return _record(_ops.pow, (self, other))

    def __rpow__(self, other: Any) -> Value:
        return _record(_ops.pow, (other, self))

    def __matmul__(self, other: Any) -> Value:
        return _record(_ops.matmul, (self, other))

    def __rmatmul__(self, other: Any) -> Value:
        return _record(_ops.matmul, (other, self))

    def __neg__(self) -> Value:
        return _record(_ops.neg, (self,))

    def __pos__(self) -> Value:
        return self

    def __abs__(self) -> Value:
        return _ops.abs(self)

    # Comparisons give plain boolean arrays: they have no derivative.
    def __lt__(self, other: Any) -> np.ndarray:
        return np.asarray(self.data < _data(other))

    def __le__(self, other: Any) -> np.ndarray:
        return np.asarray(self.data <= _data(other))

    def __gt__(self, other: Any) -> np.ndarray:
        return np.asarray(self.data > _data(other))

    def __ge__(self, other: Any) -> np.ndarray:
        return np.asarray(self.data >= _data(other))

    __hash__ = object.__hash__  # identity: Values are graph nodes, usable as dict keys

    def __getitem__(self, index: Any) -> Value:
        return _ops.getitem(self, index=_index(index))

    # ---- methods (also available as microgd.NAME(v, ...)) ---------------------
    def exp(self) -> Value:
        return _record(_ops.exp, (self,))

    def log(self) -> Value:
        return _record(_ops.log, (self,))

    def sqrt(self) -> Value:
        return _record(_ops.sqrt, (self,))

    def sin(self) -> Value:
        return _record(_ops.sin, (self,))

    def cos(self) -> Value:
        return _record(_ops.cos, (self,))

    def tanh(self) -> Value:
        return _record(_ops.tanh, (self,))

    def sigmoid(self) -> Value:
        return _record(_ops.sigmoid, (self,))

    def relu(self) -> Value:
        return _record(_ops.relu, (self,))

    def abs(self) -> Value:
        return _record(_ops.abs, (self,))

    def sum(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Value:
        return _ops.sum(self, axis=_axis(axis), keepdims=keepdims)

    def mean(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Value:
        return _ops.mean(self, axis=_axis(axis), keepdims=keepdims)

    def max(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Value:
        return _ops.max(self, axis=_axis(axis), keepdims=keepdims)

    def min(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Value:
        return _ops.min(self, axis=_axis(axis), keepdims=keepdims)

    def reshape(self, *shape: Any) -> Value:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return _ops.reshape(self, shape=tuple(int(s) for s in shape))

    def transpose(self, *axes: Any) -> Value:
        order: tuple[Any, ...] | list[Any] | None = axes
        if len(axes) == 1 and (axes[0] is None or isinstance(axes[0], (tuple, list))):
            order = axes[0]
        return _ops.transpose(self, axes=tuple(order) if order else None)

    @property
    def T(self) -> Value:
        return _ops.transpose(self, axes=None)

    def clip(self, lo: float | None = None, hi: float | None = None) -> Value:
        return _ops.clip(self, lo=lo, hi=hi)

    # ---- NumPy interop -----------------------------------------------------------
    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if method == "__call__" and not kwargs:
            prim = _UFUNCS.get(ufunc)
            if prim is not None:
                return prim(*inputs)
        name = f"numpy.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
        if method != "__call__" or kwargs:
            extra = f" with {', '.join(kwargs)}=" if kwargs and method == "__call__" else ""
            raise TypeError(f"{name}{extra} is not supported on microgd Values")
        compare = _COMPARISONS.get(ufunc)
        if compare is not None:
            return np.asarray(compare(*[_data(x) for x in inputs]))
        prim = _UFUNCS.get(ufunc)
        if prim is None:
            raise TypeError(f"{name} is not supported on microgd Values; supported ufuncs: "
                            + ", ".join(sorted(u.__name__ for u in _UFUNCS)))
        return prim(*inputs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        impl = _FUNCTIONS.get(func)
        if impl is None:
            raise TypeError(f"numpy.{func.__name__} is not supported on microgd Values; "
                            "supported functions: "
                            + ", ".join(sorted({f.__name__ for f in _FUNCTIONS})))
        return impl(*args, **kwargs)


def _data(x: Any) -> Any:
    return x.data if isinstance(x, Value) else x


def _axis(axis: Any) -> int | tuple[int, ...] | None:
    if axis is None or isinstance(axis, (int, np.integer)):
        return None if axis is None else int(axis)
    return tuple(int(a) for a in axis)


def _index(index: Any) -> Any:
    """Indices are constants: Values and lists become plain arrays; tuples stay hashable-ish."""
    if isinstance(index, tuple):
        return tuple(_index(i) for i in index)
    if isinstance(index, Value):
        return np.asarray(index.data)
    if isinstance(index, list):
        return np.asarray(index)
    return index


# Bottom imports: ops and autodiff build on the Value class defined above.
from microgd import autodiff as _autodiff  # noqa: E402
from microgd import ops as _ops  # noqa: E402
from microgd.autodiff import record as _record  # noqa: E402
from microgd.functions import NUMPY_FUNCTIONS as _FUNCTIONS  # noqa: E402

_UFUNCS = {
    np.add: _ops.add, np.subtract: _ops.sub, np.multiply: _ops.mul, np.divide: _ops.div,
    np.negative: _ops.neg, np.power: _ops.pow, np.matmul: _ops.matmul, np.exp: _ops.exp,
    np.log: _ops.log, np.sqrt: _ops.sqrt, np.sin: _ops.sin, np.cos: _ops.cos,
    np.tanh: _ops.tanh, np.absolute: _ops.abs, np.maximum: _ops.maximum,
    np.minimum: _ops.minimum,
}
_COMPARISONS = {np.less: np.less, np.less_equal: np.less_equal, np.greater: np.greater,
                np.greater_equal: np.greater_equal}
