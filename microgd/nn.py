"""Models and losses: ``Module``, ``Linear``, ``MLP``, and the usual losses.

A Module finds its parameters by looking at its attributes: every ``Value``
that requires grad is a parameter, every Module (or list of Modules) is
searched in turn, in the order the attributes were set.

Examples
--------
>>> import numpy as np
>>> from microgd import nn
>>> model = nn.MLP(2, [16, 16, 1], activation="tanh", seed=0)
>>> model(np.zeros((5, 2))).shape
(5, 1)
>>> [name for name, _ in model.named_parameters()][:2]
['layers.0.weight', 'layers.0.bias']
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from microgd import functions as F
from microgd._state import state_mismatches
from microgd.value import Value

ACTIVATIONS: dict[str, Callable[[Value], Value]] = {
    "tanh": F.tanh,
    "relu": F.relu,
    "sigmoid": F.sigmoid,
}


class Module:
    """Base class of models: parameters are found from the attributes."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Value]]:
        """``(name, parameter)`` pairs, names dotted like ``layers.0.weight``."""
        seen: set[int] = set()
        for name, item in _walk(self, prefix):
            if id(item) not in seen:  # a shared parameter is listed once
                seen.add(id(item))
                yield name, item

    def parameters(self) -> list[Value]:
        """The parameters, in a fixed order (the order attributes were set)."""
        return [p for _, p in self.named_parameters()]

    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to None."""
        for p in self.parameters():
            p.zero_grad()

    def state_dict(self) -> dict[str, np.ndarray]:
        """A copy of every parameter's data, by name."""
        return {name: np.array(p.data) for name, p in self.named_parameters()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Set the parameters from ``state``; names and shapes must match exactly.

        Raises ValueError listing every missing, unexpected or mis-shaped entry,
        and changes nothing in that case.
        """
        params = dict(self.named_parameters())
        problems = state_mismatches({n: p.shape for n, p in params.items()}, state,
                                    missing="missing {keys}", unexpected="unexpected {keys}",
                                    misshaped="{key}: shape {given} in state, {expected} in model")
        if problems:
            raise ValueError("load_state_dict: " + "; ".join(problems))
        for name, p in params.items():
            p.assign(state[name])

    def __repr__(self) -> str:
        n = sum(p.size for p in self.parameters())
        return f"{type(self).__name__}({n} parameters)"


def _walk(obj: Any, prefix: str) -> Iterator[tuple[str, Value]]:
    for name, item in vars(obj).items():
        yield from _items(item, f"{prefix}{name}")


def _items(item: Any, name: str) -> Iterator[tuple[str, Value]]:
    if isinstance(item, Value):
        if item.requires_grad:
            yield name, item
    elif isinstance(item, Module):
        yield from _walk(item, name + ".")
    elif isinstance(item, (list, tuple)):
        for i, sub in enumerate(item):
            yield from _items(sub, f"{name}.{i}")


def _init_weight(rng: np.random.Generator, fan_in: int, fan_out: int, init: str,
                 dtype: Any) -> np.ndarray:
    if init == "xavier":  # Glorot & Bengio 2010: keeps activation variance for tanh/sigmoid
        a = np.sqrt(6.0 / (fan_in + fan_out))
        w = rng.uniform(-a, a, (fan_in, fan_out))
    elif init == "he":  # He et al. 2015: keeps activation variance for relu
        w = rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)
    elif init == "zeros":
        w = np.zeros((fan_in, fan_out))
    else:
        raise ValueError(f"Linear: init must be 'xavier', 'he' or 'zeros', got {init!r}")
    return w.astype(dtype)


class Linear(Module):
    """``x @ weight + bias`` with a seeded Xavier or He initialization.

    Parameters
    ----------
    in_features, out_features : int
        Sizes; ``weight`` has shape ``(in_features, out_features)``.
    bias : bool, default True
        Whether to add a bias (initialized to zero).
    init : {'xavier', 'he', 'zeros'}, default 'xavier'
        Weight initialization.
    seed : int or numpy.random.Generator, optional
        Where the random weights come from.
    dtype : float32 or float64

    Examples
    --------
    >>> import numpy as np
    >>> from microgd import nn
    >>> layer = nn.Linear(3, 2, seed=0)
    >>> layer(np.ones((4, 3))).shape, layer.weight.shape
    ((4, 2), (3, 2))
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 init: str = "xavier", seed: int | np.random.Generator | None = None,
                 dtype: Any = np.float64) -> None:
        for label, n in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(n, (int, np.integer)) or n < 1:
                raise ValueError(f"Linear: {label} must be a positive integer, got {n!r}")
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.weight = Value(_init_weight(rng, in_features, out_features, init, dtype))
        self.bias = Value(np.zeros(out_features, dtype=dtype)) if bias else None

    def forward(self, x: Any) -> Value:
        if np.shape(getattr(x, "data", x))[-1:] != (self.in_features,):
            raise ValueError(f"Linear: input of shape {np.shape(getattr(x, 'data', x))} "
                             f"does not end in in_features={self.in_features}")
        out = x @ self.weight
        return out + self.bias if self.bias is not None else out


class MLP(Module):
    """A multilayer perceptron: Linear layers with an activation between them.

    ``MLP(2, [16, 16, 1])`` is Linear(2, 16), act, Linear(16, 16), act,
    Linear(16, 1): the last layer is linear.

    Parameters
    ----------
    in_features : int
    sizes : sequence of int
        Output sizes of the layers; the last is the model's output size.
    activation : {'tanh', 'relu', 'sigmoid'} or callable
    seed : int, default 0
    init : str, optional
        Weight initialization; He for relu, Xavier otherwise by default.
    dtype : float32 or float64

    Examples
    --------
    >>> import numpy as np
    >>> from microgd import nn
    >>> model = nn.MLP(2, [16, 16, 1], activation="relu", seed=0)
    >>> len(model.parameters()), sum(p.size for p in model.parameters())
    (6, 337)
    """

    def __init__(self, in_features: int, sizes: Sequence[int], activation: Any = "tanh",
                 seed: int | None = 0, init: str | None = None,
                 dtype: Any = np.float64) -> None:
        if isinstance(activation, str):
            if activation not in ACTIVATIONS:
                raise ValueError(f"MLP: activation must be one of {sorted(ACTIVATIONS)} "
                                 f"or a callable, got {activation!r}")
            self.activation_name = activation
            act = ACTIVATIONS[activation]
        elif callable(activation):
            self.activation_name = getattr(activation, "__name__", "custom")
            act = activation
        else:
            raise ValueError(f"MLP: activation must be a name or a callable, got {activation!r}")
        sizes = list(sizes)
        if not sizes:
            raise ValueError("MLP: sizes must list at least one layer size")
        if init is None:
            init = "he" if self.activation_name == "relu" else "xavier"
        self._act = act
        rng = np.random.default_rng(seed)
        dims = [in_features, *sizes]
        self.layers = [Linear(a, b, init=init, seed=rng, dtype=dtype)
                       for a, b in zip(dims[:-1], dims[1:], strict=True)]

    def forward(self, x: Any) -> Value:
        for layer in self.layers[:-1]:
            x = self._act(layer(x))
        return self.layers[-1](x)


# ---- losses: each returns the mean over the batch as a scalar Value -------------


def _pair(pred: Any, target: Any, where: str) -> tuple[Value, Any]:
    pred = pred if isinstance(pred, Value) else Value(pred, requires_grad=False)
    t = target.data if isinstance(target, Value) else np.asarray(target)
    if pred.shape != t.shape:
        raise ValueError(f"{where}: predictions of shape {pred.shape} and targets of shape "
                         f"{t.shape} differ")
    return pred, t


def mse(pred: Any, target: Any) -> Value:
    """Mean squared error ``mean((pred - target)**2)``.

    Examples
    --------
    >>> from microgd import nn
    >>> nn.mse([1.0, 3.0], [1.0, 1.0]).item()
    2.0
    """
    pred, t = _pair(pred, target, "mse")
    return ((pred - t) ** 2).mean()


def _softplus(z: Value) -> Value:
    # log(1 + e^z) as a log-sum-exp of (0, z): stable for any z, and its
    # derivative is exactly sigmoid(z) everywhere (also at z = 0).
    return F.logsumexp(F.stack([z * 0.0, z]), axis=0)


def binary_cross_entropy(logits: Any, target: Any) -> Value:
    """Binary cross-entropy from logits: ``mean(log(1 + e^z) - y z)``, stable for any z.

    ``target`` holds 0/1 labels (or probabilities) of the logits' shape.

    Examples
    --------
    >>> from microgd import nn
    >>> round(nn.binary_cross_entropy([0.0, 1000.0], [1.0, 1.0]).item(), 6)
    0.346574
    """
    z, y = _pair(logits, target, "binary_cross_entropy")
    return (_softplus(z) - z * y).mean()


def softmax_cross_entropy(logits: Any, labels: Any) -> Value:
    """Softmax cross-entropy, mean over rows: ``-log softmax(logits)[label]``.

    ``labels`` are integer classes of shape ``(N,)`` or probabilities of the
    logits' shape ``(N, C)``.

    Examples
    --------
    >>> import numpy as np
    >>> from microgd import nn
    >>> round(nn.softmax_cross_entropy(np.zeros((2, 4)), [0, 3]).item(), 6)
    1.386294
    """
    z = logits if isinstance(logits, Value) else Value(logits, requires_grad=False)
    if z.ndim != 2:
        raise ValueError(f"softmax_cross_entropy: logits must be (N, C), got shape {z.shape}")
    lab = labels.data if isinstance(labels, Value) else np.asarray(labels)
    n, c = z.shape
    if lab.shape == (n,):
        if lab.dtype.kind not in "iu" and not np.all(lab == np.round(lab)):
            raise ValueError("softmax_cross_entropy: integer class labels expected")
        lab = lab.astype(np.int64)
        if lab.min(initial=0) < 0 or lab.max(initial=0) >= c:
            raise ValueError(f"softmax_cross_entropy: labels must be in [0, {c}), got "
                             f"{lab.min()}..{lab.max()}")
        target = np.zeros((n, c), dtype=z.dtype)
        target[np.arange(n), lab] = 1
    elif lab.shape == (n, c):
        target = lab.astype(z.dtype)
    else:
        raise ValueError(f"softmax_cross_entropy: labels of shape {lab.shape} fit neither "
                         f"({n},) classes nor ({n}, {c}) probabilities")
    return -(F.log_softmax(z, axis=1) * target).sum() / n


def hinge(scores: Any, target: Any) -> Value:
    """Hinge loss ``mean(max(0, 1 - y * score))`` for labels ``y`` in {-1, +1}.

    Examples
    --------
    >>> from microgd import nn
    >>> nn.hinge([2.0, 0.5, -1.0], [1.0, 1.0, 1.0]).item()
    0.8333333333333334
    """
    s, y = _pair(scores, target, "hinge")
    return (1.0 - s * y).relu().mean()


LOSSES = {"mse": mse, "binary_cross_entropy": binary_cross_entropy,
          "softmax_cross_entropy": softmax_cross_entropy, "hinge": hinge}
