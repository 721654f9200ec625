"""Batching with per-epoch shuffling: full batch (GD), one sample (SGD), mini-batches.

One epoch visits every sample once.  ``batch_size=None`` gives the whole data
set as a single batch, in its original order (shuffling a full batch would
change nothing a loss can see); ``1`` gives one sample per step; ``k`` gives
batches of ``k`` samples, the last one shorter unless ``drop_last``.

:func:`batches` is one epoch.  :class:`Batches` is a loader that can be
iterated epoch after epoch: it holds one seeded generator, so every epoch is
shuffled differently, and the whole sequence of epochs is reproducible from
the seed.

Examples
--------
>>> import numpy as np
>>> from microgd import data
>>> X, y = np.arange(5.0), 10 * np.arange(5.0)
>>> [xb.tolist() for xb, yb in data.batches(X, y, batch_size=2, shuffle=False)]
[[0.0, 1.0], [2.0, 3.0], [4.0]]
>>> loader = data.Batches(X, y, batch_size=2, seed=0)
>>> len(loader), loader.n_samples
(3, 5)
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

__all__ = ["Batches", "batches"]


def _as_samples(name: str, a: Any) -> np.ndarray:
    """``a`` as an ndarray whose first axis indexes samples."""
    arr = np.asarray(a)
    if arr.ndim == 0:
        raise ValueError(f"{name} must have at least one dimension (one row per sample), "
                         f"got a scalar {arr.item()!r}")
    return arr


def _check(X: Any, y: Any, batch_size: Any, drop_last: bool
           ) -> tuple[np.ndarray, np.ndarray | None, int | None]:
    """Validate everything up front, so a bad call fails before any batch is produced."""
    X = _as_samples("X", X)
    y = None if y is None else _as_samples("y", y)
    n = len(X)
    if y is not None and len(y) != n:
        raise ValueError(f"X has {n} rows but y has {len(y)}; "
                         "they must have the same first dimension")
    if n == 0:
        raise ValueError("X is empty (0 samples): there is nothing to batch")
    if batch_size is None:
        return X, y, None
    # bool is an int subclass, but batch_size=True is surely a mistake.
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise ValueError(f"batch_size must be a positive integer or None (full batch), "
                         f"got {batch_size!r}")
    batch_size = int(batch_size)
    if batch_size <= 0:
        raise ValueError(f"batch_size must be a positive integer or None (full batch), "
                         f"got {batch_size}")
    if batch_size > n:
        if drop_last:
            raise ValueError(f"batch_size {batch_size} is larger than the {n} samples, "
                             "so drop_last=True would leave zero batches per epoch")
        raise ValueError(f"batch_size {batch_size} is larger than the {n} samples; "
                         f"use batch_size=None (or {n}) for the full batch")
    return X, y, batch_size


def _num_batches(n: int, batch_size: int | None, drop_last: bool) -> int:
    if batch_size is None:
        return 1
    return n // batch_size if drop_last else math.ceil(n / batch_size)


def _epoch(X: np.ndarray, y: np.ndarray | None, batch_size: int | None,
           order: np.ndarray | None, drop_last: bool) -> Iterator[Any]:
    n = len(X)
    size = n if batch_size is None else batch_size
    for start in range(0, _num_batches(n, batch_size, drop_last) * size, size):
        if order is None:
            # Slices are views: no copy of the data when nothing is shuffled.
            idx: Any = slice(start, start + size)
        else:
            idx = order[start:start + size]
        # Indexing X and y with the same idx is what keeps the pairs together.
        yield X[idx] if y is None else (X[idx], y[idx])


def _generator(rng: Any, name: str = "rng") -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, (int, np.integer)) and not isinstance(rng, bool)):
        return np.random.default_rng(rng)
    raise TypeError(f"{name} must be a numpy.random.Generator, an integer seed or None, "
                    f"got {rng!r}")


def batches(X: Any, y: Any = None, batch_size: int | None = None, shuffle: bool = True,
            rng: np.random.Generator | int | None = None, drop_last: bool = False
            ) -> Iterator[Any]:
    """Split ``(X, y)`` into the batches of one epoch.

    Parameters
    ----------
    X : array_like
        The inputs, one sample per row (first axis).
    y : array_like, optional
        The targets, with as many rows as ``X``.  If omitted, batches are
        ``xb`` alone instead of ``(xb, yb)`` pairs.
    batch_size : int, optional
        ``None`` (default): one batch holding all the data, in its original
        order even when ``shuffle`` is true, and no random number is drawn.
        ``1``: one sample per batch (SGD).  ``k``: batches of ``k`` samples.
    shuffle : bool
        Visit the samples in a random order (a permutation drawn from ``rng``).
    rng : numpy.random.Generator or int, optional
        Where the permutation comes from.  An integer is used as a seed;
        ``None`` uses a fresh, unseeded generator (not reproducible).
    drop_last : bool
        Drop the last batch if it is shorter than ``batch_size``.

    Returns
    -------
    iterator
        ``(xb, yb)`` pairs, or ``xb`` arrays when ``y`` is None.  Unshuffled
        batches are views of ``X`` and ``y``; shuffled ones are copies.

    Raises
    ------
    ValueError
        When ``X`` and ``y`` have different lengths, the data is empty, or
        ``batch_size`` is not a positive integer no larger than the number of
        samples.  Raised by the call itself, before any batch is produced.

    Notes
    -----
    The inputs are checked and the permutation drawn when ``batches`` is
    called, not lazily at the first ``next()``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0], [2.0], [3.0]])
    >>> y = np.array([2.0, 4.0, 6.0])
    >>> [yb.tolist() for xb, yb in batches(X, y)]              # full batch
    [[2.0, 4.0, 6.0]]
    >>> [yb.tolist() for xb, yb in batches(X, y, batch_size=2, shuffle=False)]
    [[2.0, 4.0], [6.0]]
    >>> [yb.tolist() for xb, yb in batches(X, y, 2, shuffle=False, drop_last=True)]
    [[2.0, 4.0]]
    >>> rng = np.random.default_rng(0)
    >>> sorted(float(yb[0]) for xb, yb in batches(X, y, batch_size=1, rng=rng))
    [2.0, 4.0, 6.0]
    >>> batches(X, y[:2])
    Traceback (most recent call last):
    ...
    ValueError: X has 3 rows but y has 2; they must have the same first dimension
    """
    X, y, batch_size = _check(X, y, batch_size, drop_last)
    order = None
    if shuffle and batch_size is not None:
        order = _generator(rng).permutation(len(X))
    return _epoch(X, y, batch_size, order, drop_last)


class Batches:
    """A re-iterable loader: each ``iter()`` is one epoch, reshuffled.

    The loader owns one ``numpy.random.Generator`` seeded with ``seed``;
    every epoch draws its permutation from it.  So epochs differ from one
    another, and two loaders with the same seed give the same epochs in the
    same order.

    Parameters
    ----------
    X, y, batch_size, shuffle, drop_last
        As in :func:`batches`; checked once, here.
    seed : int, optional
        Seed of the loader's generator; ``None`` for an unseeded one.  A
        ``numpy.random.Generator`` is used as it is (and advanced by the loader).

    Attributes
    ----------
    n_samples : int
        Number of samples (rows of ``X``).
    batch_size : int or None
        As given; ``None`` means the full batch.

    Examples
    --------
    >>> import numpy as np
    >>> loader = Batches(np.arange(6), batch_size=2, seed=0)
    >>> len(loader), loader.n_samples
    (3, 6)
    >>> first = [b.tolist() for b in loader]
    >>> second = [b.tolist() for b in loader]
    >>> sorted(sum(first, [])) == sorted(sum(second, [])) == list(range(6))
    True
    >>> first != second                        # a new permutation each epoch
    True
    >>> [b.tolist() for b in Batches(np.arange(6), batch_size=2, seed=0)] == first
    True
    """

    def __init__(self, X: Any, y: Any = None, batch_size: int | None = None,
                 shuffle: bool = True, seed: int | None = 0, drop_last: bool = False) -> None:
        self._X, self._y, self.batch_size = _check(X, y, batch_size, drop_last)
        self._rng = _generator(seed, "seed")
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.seed = seed
        self.n_samples = len(self._X)

    def __len__(self) -> int:
        """Batches per epoch."""
        return _num_batches(self.n_samples, self.batch_size, self.drop_last)

    def __iter__(self) -> Iterator[Any]:
        # Drawn here rather than lazily, so the order of iter() calls is the order of epochs.
        order = None
        if self.shuffle and self.batch_size is not None:
            order = self._rng.permutation(self.n_samples)
        return _epoch(self._X, self._y, self.batch_size, order, self.drop_last)

    def __repr__(self) -> str:
        return (f"Batches(n_samples={self.n_samples}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, seed={self.seed}, drop_last={self.drop_last})")
