"""Writing files safely, and numbers in JSON: the package's one home for both.

:func:`atomic_write` replaces a file all at once: readers see the old file or
the new one, never half of either, and a save killed midway leaves the old
file intact.  Its temporary file is ``.NAME.tmp-PID-RANDOM`` beside the target,
so the next save of that path can find the leftovers of a killed one and
remove them.

JSON has no NaN or infinity.  :func:`json_number` writes NaN as ``null`` and
the infinities as the strings ``"Infinity"`` and ``"-Infinity"`` (what
JavaScript's ``String(Infinity)`` gives); :func:`number_from_json` reads all of
them back.  So an infinite loss survives a save and a load.

This module imports nothing from microgd: every layer may use it.

Examples
--------
>>> import json, pathlib, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "numbers.json"
>>> with atomic_write(path, "w") as fh:
...     _ = fh.write(json.dumps(json_ready([1.5, float("inf"), float("nan")])))
>>> path.read_text()
'[1.5, "Infinity", null]'
>>> [number_from_json(x) for x in json.loads(path.read_text())]
[1.5, inf, nan]
"""

from __future__ import annotations

import codecs
import contextlib
import errno
import math
import os
import secrets
import time
from collections.abc import Callable, Iterator
from typing import IO, Any

import numpy as np

__all__ = ["atomic_write", "json_number", "json_ready", "number_from_json",
           "remove_stale_temporaries"]

# When this process started using the module: a temporary file carrying our own pid
# but older than this was left by an earlier process that had the same pid.
_STARTED = time.time()
# A temporary file nobody has written to for this long is abandoned, whoever made it.
_ABANDONED_SECONDS = 3600.0


# ---------------------------------------------------------------------------- files


def _temp_prefix(target: str) -> tuple[str, str]:
    folder, name = os.path.split(os.path.abspath(target))
    return folder, f".{name}.tmp-"


def _pid_running(pid: int) -> bool:
    if os.name == "nt":  # os.kill would terminate the process there: assume it runs
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    except OSError:
        return True
    return True


def _is_stale(path: str, pid: int) -> bool:
    try:
        modified = os.stat(path).st_mtime
    except OSError:
        return False
    if pid == os.getpid():
        # Ours and written since we started: a save in progress (another thread).
        return modified < _STARTED
    return time.time() - modified > _ABANDONED_SECONDS or not _pid_running(pid)


def remove_stale_temporaries(path: str | os.PathLike) -> list[str]:
    """Remove the temporary files that killed saves of ``path`` left behind.

    A temporary file ``.NAME.tmp-PID-...`` is stale when the process ``PID``
    is gone (or it predates this process, for our own pid), or when nobody
    has written to it for an hour.  Saves in progress are left alone.

    Returns
    -------
    list of str
        The files removed.
    """
    folder, prefix = _temp_prefix(os.fspath(path))
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    removed = []
    for name in names:
        if not name.startswith(prefix):
            continue
        pid_text, sep, _ = name[len(prefix):].partition("-")
        if not (sep and pid_text.isdigit()):
            continue
        full = os.path.join(folder, name)
        if _is_stale(full, int(pid_text)):
            with contextlib.suppress(FileNotFoundError):
                os.remove(full)
                removed.append(full)
    return removed


def _create_temp(folder: str, prefix: str) -> tuple[str, int]:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = os.path.join(folder, f"{prefix}{os.getpid()}-{secrets.token_hex(4)}")
        try:
            # Mode 0o666 and the umask give the usual permissions of a new file
            # (tempfile.mkstemp would give 0o600).
            return tmp, os.open(tmp, flags, 0o666)
        except FileExistsError:
            continue
        except FileNotFoundError:
            raise FileNotFoundError(errno.ENOENT, "the folder to write into does not exist",
                                    folder) from None
    raise FileExistsError(f"could not create a temporary file beside {prefix!r} in {folder}")


def _fsync_folder(folder: str) -> None:
    # Makes the rename itself durable; not possible on every platform.
    if os.name == "nt":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb",
                 encoding: str | None = None) -> Iterator[IO[Any]]:
    """Open ``path`` for writing so that it is replaced all at once, or not at all.

    The data goes to a temporary file beside ``path``, is flushed to disk, and
    the temporary file is renamed over ``path`` when the ``with`` block ends.
    If the block raises, the temporary file is removed and ``path`` is
    untouched.  Stale temporary files of ``path`` (see
    :func:`remove_stale_temporaries`) are removed first.  The new file gets
    the usual permissions (``0o666`` less the umask).

    Parameters
    ----------
    path : str or os.PathLike
    mode : {'wb', 'w'}
        Binary or text.
    encoding : str, optional
        For text mode; default UTF-8.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> with atomic_write(path, "w") as fh:
    ...     _ = fh.write("hello")
    >>> path.read_text()
    'hello'
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write: mode must be 'w' or 'wb', got {mode!r}")
    encoding = codecs.lookup(encoding or "utf-8").name  # an unknown one fails here, first
    target = os.fspath(path)
    folder, prefix = _temp_prefix(target)
    remove_stale_temporaries(target)
    tmp, fd = _create_temp(folder, prefix)
    try:
        with open(fd, "w", encoding=encoding) if mode == "w" else open(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)  # atomic: readers see the old file or the new one
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    _fsync_folder(folder)


# ---------------------------------------------------------------------------- JSON numbers

_FROM_TEXT = {"Infinity": math.inf, "-Infinity": -math.inf, "NaN": math.nan,
              "inf": math.inf, "-inf": -math.inf, "nan": math.nan}


def json_number(x: float) -> float | str | None:
    """``x`` as a JSON value: finite floats as they are, NaN as None, inf as ``"Infinity"``.

    Examples
    --------
    >>> json_number(0.5), json_number(float("nan")), json_number(-float("inf"))
    (0.5, None, '-Infinity')
    """
    x = float(x)
    if math.isfinite(x):
        return x
    if math.isnan(x):
        return None
    return "Infinity" if x > 0 else "-Infinity"


def number_from_json(x: Any) -> float:
    """A number written by :func:`json_number` (or a plain JSON number) as a float.

    Raises
    ------
    ValueError
        When ``x`` is neither a number, None, nor one of the strings for NaN
        and the infinities.

    Examples
    --------
    >>> number_from_json(None), number_from_json("Infinity"), number_from_json(2)
    (nan, inf, 2.0)
    """
    if x is None:
        return math.nan
    if isinstance(x, str):
        if x in _FROM_TEXT:
            return _FROM_TEXT[x]
        raise ValueError(f"{x!r} is not a number")
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise ValueError(f"{x!r} is not a number")
    return float(x)


def json_ready(obj: Any, default: Callable[[Any], Any] | None = None) -> Any:
    """``obj`` as plain JSON values: dicts, lists, str, int, float (see :func:`json_number`).

    ndarrays become nested lists, NumPy scalars Python ones, tuples lists and
    dictionary keys strings.  Anything else goes through ``default`` (for
    instance ``str``), or raises TypeError when there is none.

    Examples
    --------
    >>> import numpy as np
    >>> json_ready({"a": np.array([1.0, np.inf]), 2: (np.int64(3), None)})
    {'a': [1.0, 'Infinity'], '2': [3, None]}
    """
    if isinstance(obj, dict):
        return {str(k): json_ready(v, default) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_ready(v, default) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_ready(obj.tolist(), default)
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float):
        return json_number(obj)
    if obj is None or isinstance(obj, (str, int, bool)):
        return obj
    if default is None:
        raise TypeError(f"json_ready: cannot write a {type(obj).__name__} as JSON")
    return default(obj)
