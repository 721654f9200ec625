"""What the subcommands share: the parser class, errors, output formatting."""

from __future__ import annotations

import argparse
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from microgd._files import json_number, json_ready

PROG = "microgd"
class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are a single ``microgd: error: ...`` line.

    argparse's default prints the whole usage block first; the contract for the
    command is one line on stderr and exit code 2.
    """

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{PROG}: error: {message} (see '{PROG} --help')\n")


def _plain(obj: Any) -> Any:
    """The walk-through's numbers as JSON-ready Python values (other objects as text)."""
    return json_ready(obj, default=str)


# ----------------------------------------------------------------------------- errors


class CommandError(Exception):
    """A problem with the command's input (exit code 2) or its run (``code=1``).

    ``main`` prints it as one ``microgd: error: ...`` line, never a traceback.
    """

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def _one_line(message: object) -> str:
    return " ".join(str(message).split())


def _output_dir(option: str, arg: str) -> Path:
    """The folder ``arg`` for output, checked before anything runs (it is made later).

    It must be a directory or not exist yet; then the nearest folder that
    exists must be a directory we may write into.
    """
    path = Path(arg)
    if path.exists() and not path.is_dir():
        raise CommandError(f"{option} {arg}: exists and is not a directory")
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise CommandError(f"{option} {arg}: {str(existing)!r} is a file, not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        what = ("the directory" if existing == path
                else f"{str(existing)!r}, where it would be made,")
        raise CommandError(f"{option} {arg}: {what} is not writable")
    return path


def _num(x: float) -> str:
    """A number for people: 6 significant digits, no '-0', round-off below 1e-12 shown as 0."""
    x = float(x)
    if not math.isfinite(x):
        return str(x)
    if abs(x) < 1e-12:
        return "0"
    return f"{x:.6g}"


def _json_num(x: Any) -> Any:
    """A number, or the flat list of an array's numbers, for JSON (see ``json_number``)."""
    if isinstance(x, (list, tuple, np.ndarray)):
        return [json_number(v) for v in np.asarray(x, dtype=float).ravel()]
    return json_number(x)


def _assign(names: Sequence[str], values: Any) -> str:
    return ", ".join(f"{n} = {_num(v)}" for n, v in zip(names, np.ravel(values), strict=True))


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: int = 0) -> list[str]:
    """Rows of text aligned in columns; the first ``right`` columns align right."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if i < right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    return [line(headers), *(line(r) for r in rows)]


def _print_json(data: dict[str, Any]) -> None:
    print(json.dumps(data, indent=2, allow_nan=False))
