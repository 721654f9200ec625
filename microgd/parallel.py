"""Independent evaluations spread over an executor, with the same results as serial.

:func:`map_cells` computes ``fn(item)`` for every item, in this process
(``executor=None``), in ``n`` local worker processes (``executor=n``), or on
any :class:`concurrent.futures.Executor` as given: a thread pool, a Dask
``Client(...).get_executor()``, or ``mpi4py.futures.MPIPoolExecutor`` on a
cluster.  Items are sent in chunks of consecutive items (one round trip per
chunk, not per item), and results come back in the order of the items, so
they are bit for bit those of the serial loop whatever ran them: each item is
computed by the same code from the same inputs, and anything random must be
seeded by the item (never by the worker).  (A function whose result depends on
the number of BLAS threads, which workers limit, could differ in its last
bits.  OpenBLAS splits a matrix-matrix product's output among threads, not its
sums, so the usual losses do not; ``benchmarks/landscape.py`` checks an MLP's
grid bit for bit.)

Local worker processes are `loky <https://github.com/joblib/loky>`_'s, from
joblib (``pip install microgd[parallel]``): they are started once and
reused by later calls, and each worker's BLAS is limited to its share of
the cores with threadpoolctl, so that two workers with two BLAS threads each
do not fight over two cores.  loky (like Dask) pickles functions with
cloudpickle, so lambdas and closures work; the standard library's
``ProcessPoolExecutor`` pickles functions by name and needs module-level ones.

When an item raises, the chunks that finished are still reported (through
``on_chunk``, so a caller can save them) and the error is raised again in
this process with the item named: as the same exception type when it can be
built from a message, else as :class:`CellError`, with the original as its
``__cause__``.  An executor failing on its own (a lost worker) is reported
the same way, naming the chunk's items.

This module imports nothing from microgd: every layer may use it.

Examples
--------
>>> from concurrent.futures import ThreadPoolExecutor
>>> with ThreadPoolExecutor(2) as pool:
...     map_cells(lambda x: x * x, range(6), pool, chunksize=2)
[0, 1, 4, 9, 16, 25]
>>> map_cells(lambda x: 1 / x, [1.0, 0.0], name="inverse")
Traceback (most recent call last):
...
ZeroDivisionError: inverse: item 1 (0.0) failed: ZeroDivisionError: float division by zero
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import math
import os
import pickle
import traceback
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

__all__ = ["CellError", "ExecutorLike", "executor_workers", "map_cells", "resolve_executor"]

T = TypeVar("T")
R = TypeVar("R")

ExecutorLike = int | cf.Executor | None
"""``None`` (this process), a number of local worker processes, or an Executor."""

# Chunks per worker: enough to even out the load at the end, few enough that the
# cost of a round trip (pickling the function and its data) stays small.
CHUNKS_PER_WORKER = 4
# Without an executor, chunks only decide how often on_chunk (a checkpoint) runs.
SERIAL_CHUNKS = 16
# A worker process nobody uses for this long exits (loky's reusable executor).
IDLE_SECONDS = 300

# Kept alive in each worker: the BLAS thread limits last as long as this object.
_BLAS_LIMITS: Any = None


class CellError(RuntimeError):
    """An item of :func:`map_cells` failed, and its error could not be raised as its own type.

    Attributes
    ----------
    index : int or None
        The position of the failed item (None when a whole chunk was lost).
    """

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index

    def __reduce__(self) -> Any:
        return type(self), (str(self), self.index)


def _limit_blas_threads(threads: int) -> None:
    """Worker initializer: at most ``threads`` BLAS/OpenMP threads in this process."""
    global _BLAS_LIMITS
    import numpy  # noqa: F401  (loads the BLAS library, so that the limit applies to it)
    from threadpoolctl import threadpool_limits

    _BLAS_LIMITS = threadpool_limits(limits=threads)


def _local_processes(n: int, name: str) -> cf.Executor:
    try:
        import threadpoolctl  # noqa: F401
        from joblib.externals.loky import get_reusable_executor
    except ImportError:
        raise ImportError(
            f"{name}: executor={n} runs {n} local worker processes with loky (from joblib) "
            "and threadpoolctl, which are not installed: pip install microgd[parallel]  "
            "(or pass any concurrent.futures.Executor)") from None
    threads = max(1, (os.cpu_count() or 1) // n)
    pool: cf.Executor = get_reusable_executor(
        max_workers=n, timeout=IDLE_SECONDS, initializer=_limit_blas_threads,
        initargs=(threads,))
    return pool


def resolve_executor(executor: ExecutorLike, name: str = "executor") -> cf.Executor | None:
    """``executor`` as an Executor: None stays None, an int is that many loky processes.

    Raises
    ------
    TypeError, ValueError
        For anything else, or an int below 1.
    ImportError
        For an int when joblib or threadpoolctl is missing.

    Examples
    --------
    >>> resolve_executor(None) is None
    True
    >>> resolve_executor(0, "landscape")
    Traceback (most recent call last):
    ...
    ValueError: landscape: executor must be None, a number of worker processes (at least 1) \
or a concurrent.futures.Executor, got 0
    """
    if executor is None or isinstance(executor, cf.Executor):
        return executor
    if isinstance(executor, bool) or not isinstance(executor, int):
        # Executors that do not subclass concurrent.futures.Executor (some cluster
        # libraries) are accepted by what they can do.
        if callable(getattr(executor, "submit", None)):
            return executor  # type: ignore[return-value]
        raise TypeError(f"{name}: executor must be None, a number of worker processes or a "
                        f"concurrent.futures.Executor, got {type(executor).__name__}")
    if executor < 1:
        raise ValueError(f"{name}: executor must be None, a number of worker processes (at "
                         f"least 1) or a concurrent.futures.Executor, got {executor}")
    return _local_processes(int(executor), name)


def executor_workers(executor: Any) -> int | None:
    """How many tasks ``executor`` runs at once, when it says (None when it does not).

    Examples
    --------
    >>> from concurrent.futures import ThreadPoolExecutor
    >>> with ThreadPoolExecutor(3) as pool:
    ...     executor_workers(pool)
    3
    """
    if executor is None:
        return 1
    n = getattr(executor, "_max_workers", None)  # the standard pools, loky
    if isinstance(n, int) and n > 0:
        return n
    client = getattr(executor, "_client", None)  # Dask's ClientExecutor
    try:
        total = sum(client.nthreads().values()) if client is not None else 0
    except Exception:  # noqa: BLE001 - a cluster that cannot say: fall back to the default
        total = 0
    return total or None


def _chunks(n: int, chunksize: int | None, workers: int | None, serial: bool) -> list[range]:
    if chunksize is None:
        parts = SERIAL_CHUNKS if serial else CHUNKS_PER_WORKER * (workers or 8)
        chunksize = max(1, math.ceil(n / parts))
    elif isinstance(chunksize, bool) or not isinstance(chunksize, int) or chunksize < 1:
        raise ValueError(f"chunksize must be a positive integer, got {chunksize!r}")
    return [range(s, min(s + chunksize, n)) for s in range(0, n, chunksize)]


def _picklable(exc: BaseException) -> BaseException:
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:  # noqa: BLE001 - any failure means it cannot travel back
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc


def _run_chunk(fn: Callable[[Any], Any], items: Sequence[Any], portable: bool = False
               ) -> tuple[list[Any], tuple[int, BaseException, str] | None]:
    """``fn`` on each item, stopping at the first failure: (results so far, failure).

    ``portable``: the failure is sent back through a pickler, so an exception
    that cannot be pickled is replaced by a RuntimeError with its text.
    """
    results = []
    for pos, item in enumerate(items):
        try:
            results.append(fn(item))
        except Exception as exc:  # noqa: BLE001 - reported to the caller, with the item
            text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            return results, (pos, _picklable(exc) if portable else exc, text)
    return results, None


def _reraise(message: str, exc: BaseException, worker_traceback: str | None,
             index: int | None) -> None:
    if exc.__traceback__ is None and worker_traceback:  # it came from another process
        message += "\n\nTraceback in the worker:\n" + worker_traceback.rstrip()
    new: BaseException
    try:
        new = type(exc)(message)
        same = str(new) == message and isinstance(new, Exception)
    except Exception:  # noqa: BLE001 - a type that cannot be built from a message
        same = False
    if not same:
        new = CellError(message, index)
    else:
        with contextlib.suppress(Exception):
            new.__dict__.update(exc.__dict__)  # keeps attributes such as a .history
    raise new from exc


def _describe(describe: Callable[[Any], str] | None, index: int, item: Any) -> str:
    if describe is not None:
        return describe(item)
    text = repr(item)
    return f"item {index} ({text if len(text) <= 80 else text[:77] + '...'})"


def map_cells(fn: Callable[[T], R], items: Sequence[T] | Iterator[T],
              executor: ExecutorLike = None, *, name: str = "map_cells",
              describe: Callable[[T], str] | None = None, chunksize: int | None = None,
              on_chunk: Callable[[range, list[R]], None] | None = None) -> list[R]:
    """``[fn(item) for item in items]``, computed on ``executor`` in chunks.

    Parameters
    ----------
    fn : callable
        Sent to the workers with each chunk: picklable by the executor's
        pickler (any function for loky and Dask; a module-level one for the
        standard library's process pool).
    items : sequence
    executor : None, int or concurrent.futures.Executor
        None: this process.  An int: that many local worker processes (loky;
        ``pip install microgd[parallel]``).  An Executor: used as given, and
        left running.
    name : str
        Who is asking, for error messages.
    describe : callable, optional
        ``describe(item) -> str`` names an item in an error message.
    chunksize : int, optional
        Items per chunk (default: about 4 chunks per worker; 16 chunks in
        this process).
    on_chunk : callable, optional
        ``on_chunk(positions, results)`` in this process as each chunk is
        done (in the order they finish), also for the part of a chunk done
        before a failure.  For saving work as it arrives.

    Returns
    -------
    list
        The results, in the order of ``items``.

    Raises
    ------
    Exception
        The first failure, naming its item, after every chunk that could
        still finish has been reported to ``on_chunk``.
    """
    items = list(items)
    pool = resolve_executor(executor, name)
    spans = _chunks(len(items), chunksize, executor_workers(pool), pool is None)
    out: list[Any] = [None] * len(items)

    def record(span: range, results: list[Any]) -> None:
        out[span.start:span.start + len(results)] = results
        if on_chunk is not None and results:
            on_chunk(range(span.start, span.start + len(results)), results)

    def failed(span: range, failure: tuple[int, BaseException, str]) -> None:
        pos, exc, text = failure
        index = span.start + pos
        _reraise(f"{name}: {_describe(describe, index, items[index])} failed: "
                 f"{type(exc).__name__}: {exc}", exc, text, index)

    if pool is None:
        for span in spans:
            results, failure = _run_chunk(fn, items[span.start:span.stop])
            record(span, results)
            if failure is not None:
                failed(span, failure)
        return out

    futures: dict[cf.Future, range] = {}
    # (span, failure or exception, whether the executor itself failed), of every chunk
    # seen failing; the earliest in the order of the items is reported.
    failures: list[tuple[range, Any, bool]] = []

    def stop() -> None:
        for other in futures:
            other.cancel()

    try:
        for span in spans:
            try:
                futures[pool.submit(_run_chunk, fn, items[span.start:span.stop], True)] = span
            except Exception as exc:  # noqa: BLE001 - the executor refused: report below
                failures.append((span, exc, True))
                break
        for fut in cf.as_completed(futures):
            span = futures[fut]
            if fut.cancelled():
                continue
            try:
                results, failure = fut.result()
            except Exception as exc:  # noqa: BLE001 - a lost worker, an unpicklable result
                failures.append((span, exc, True))
                stop()
                continue
            record(span, results)
            if failure is not None:
                failures.append((span, failure, False))
                stop()
    except BaseException:
        stop()  # interrupted: stop the work nobody will collect
        raise
    if failures:
        span, what, by_executor = min(failures, key=lambda f: f[0].start)
        if not by_executor:
            failed(span, what)
        last = span.stop - 1
        cells = (_describe(describe, span.start, items[span.start]) if len(span) == 1 else
                 f"{_describe(describe, span.start, items[span.start])} to "
                 f"{_describe(describe, last, items[last])}")
        _reraise(f"{name}: the executor failed on {cells}: {type(what).__name__}: {what}",
                 what, None, None)
    return out
