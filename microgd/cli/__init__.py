"""The ``microgd`` command.

Each subcommand lives in its own ``_add_<name>`` function that registers a
subparser and sets ``handler`` to the function that runs it; ``main`` only
parses and dispatches. To add a subcommand, write its ``_add_<name>`` and list
it in ``_SUBCOMMANDS``.  One module per subcommand family: ``demo``,
``expressions`` (classify, critical, graph), ``train``; ``_common`` holds the
parser class, the errors and the output formatting they share.

Subcommands: ``demo`` (the course's walk-through), ``classify`` and
``critical`` (critical points of an expression), ``graph`` (its computation
graph) and ``train`` (fit an MLP to a CSV file).  Expressions are parsed by
:mod:`microgd.expr`, never evaluated as Python.  Bad input of any kind gives one
``microgd: error: ...`` line on stderr and exit code 2, before anything runs.
``--json`` output is strict JSON: NaN is ``null`` and the infinities are the
strings ``"Infinity"`` and ``"-Infinity"``.

Examples
--------
>>> from microgd.cli import main
>>> main(["demo"])  # doctest: +SKIP
0
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Sequence

from microgd.cli._common import PROG, CommandError, _one_line, _Parser
from microgd.cli.demo import DEMO_X, DEMO_Y, _add_demo
from microgd.cli.expressions import (
    GRAPH_FORMATS,
    _add_classify,
    _add_critical,
    _add_graph,
    load_expression,
    parse_bounds,
    parse_point,
)
from microgd.cli.train import MAX_PARAMETERS, OPTIMIZERS, _add_train, read_csv
from microgd.expr import ExpressionError

__all__ = ["DEMO_X", "DEMO_Y", "GRAPH_FORMATS", "MAX_PARAMETERS", "OPTIMIZERS", "PROG",
           "CommandError", "build_parser", "load_expression", "main", "parse_bounds",
           "parse_point", "read_csv"]

# ----------------------------------------------------------------------------- main

_SUBCOMMANDS: tuple[Callable[[argparse._SubParsersAction[_Parser]], None], ...] = (
    _add_demo, _add_classify, _add_critical, _add_graph, _add_train,
)


def build_parser() -> argparse.ArgumentParser:
    """Build the ``microgd`` argument parser with every subcommand registered.

    Returns
    -------
    argparse.ArgumentParser

    Examples
    --------
    >>> build_parser().parse_args(["demo", "--seed", "3"]).seed
    3
    """
    parser = _Parser(
        prog=PROG,
        description="microgd: reverse-mode autodiff on NumPy for studying optimization.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for add in _SUBCOMMANDS:
        add(sub)
    return parser


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("microgd")
    except Exception:  # not installed (e.g. run from a source tree)
        return "unknown"


_OPTION_LIKE = re.compile(r"--[A-Za-z][A-Za-z0-9_-]*(=.*)?$", re.DOTALL)


def _protect_dashes(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """Let option values and expressions start with '-' (``--bounds -5:5,-5:5``, ``-x**2``).

    argparse takes any token starting with '-' for an option.  A token after an
    option that takes a value becomes ``--option=token``; any other unknown
    token starting with '-' that does not look like an option (``--name``) is
    the expression: ``--expr=token``.
    """
    if not argv:
        return argv
    sub = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
    command = sub.choices.get(argv[0]) if sub is not None else None
    if command is None:
        return argv
    # argparse keeps no public map of option strings; this private one is stable since 2.7.
    known: dict[str, argparse.Action] = command._option_string_actions
    takes_expr = "--expr" in known
    out = [argv[0]]
    i = 1
    while i < len(argv):
        token = argv[i]
        if token == "--":
            out.extend(argv[i:])
            break
        action = known.get(token)
        if action is not None:
            nxt = argv[i + 1] if i + 1 < len(argv) else None
            if (action.nargs is None and nxt is not None and nxt.startswith("-")
                    and nxt not in known and nxt != "--"):
                out.append(f"{token}={nxt}")
                i += 2
                continue
        elif (takes_expr and token.startswith("-") and len(token) > 1
              and token[:2] not in known and not _OPTION_LIKE.match(token)):
            token = f"--expr={token}"
        out.append(token)
        i += 1
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``microgd`` command.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit code: 0 on success, 2 on a usage error or bad input (one line on
        stderr), 1 when a run fails (e.g. training diverged).

    Examples
    --------
    >>> main(["no-such-command"])  # doctest: +SKIP
    2
    """
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(_protect_dashes(parser, argv))
    except SystemExit as exc:  # --help, --version, or a usage error already reported
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except (CommandError, ExpressionError) as exc:
        # Bad input (or a failed run, code 1): one line, no traceback, nothing half-done.
        sys.stdout.flush()
        print(f"{PROG}: error: {_one_line(exc)}", file=sys.stderr)
        return exc.code if isinstance(exc, CommandError) else 2
    except BrokenPipeError:
        # The reader went away (e.g. `microgd demo | head`): not an error worth a traceback.
        # Point stdout at devnull so the interpreter's final flush cannot fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        return 130
