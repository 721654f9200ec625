"""The ``microgd`` command.

Each subcommand lives in its own ``_add_<name>`` function that registers a
subparser and sets ``handler`` to the function that runs it; ``main`` only
parses and dispatches. To add a subcommand, write its ``_add_<name>`` and list
it in ``_SUBCOMMANDS``.

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
import csv
import json
import math
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

import microgd as mg
from microgd._files import json_number, json_ready
from microgd.expr import MAX_LENGTH, Expression, ExpressionError, parse

PROG = "microgd"

# The course's smallest example: y = x*w, whose exact solution is w = 2.
DEMO_X = np.array([1.0, 2.0, 3.0])
DEMO_Y = np.array([2.0, 4.0, 6.0])


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are a single ``microgd: error: ...`` line.

    argparse's default prints the whole usage block first; the contract for the
    command is one line on stderr and exit code 2.
    """

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{PROG}: error: {message} (see '{PROG} --help')\n")


# ----------------------------------------------------------------------------- demo


def _plain(obj: Any) -> Any:
    """The walk-through's numbers as JSON-ready Python values (other objects as text)."""
    return json_ready(obj, default=str)


def _cmd_demo(args: argparse.Namespace) -> int:
    from microgd import walkthrough

    out = None if args.no_plots else _output_dir("--out", args.out)
    try:
        result = walkthrough.run(out=out, verbose=not args.json, seed=args.seed)
    except OSError as exc:  # the folder changed under us while the demo ran
        raise CommandError(f"cannot write the pictures to {args.out}: "
                           f"{exc.strerror or exc}", code=1) from None
    if args.json:
        print(json.dumps(_plain(result), indent=2))
    return 0


def _add_demo(sub: argparse._SubParsersAction[_Parser]) -> None:
    p = sub.add_parser(
        "demo",
        help="run the course's walk-through, narrated, with pictures",
        description=(
            "The course end to end on y = x*w (x=[1,2,3], y=[2,4,6]): exhaustive search, "
            "divide and conquer, gradient descent, SGD, mini-batches, a learning rate too "
            "large, a saddle told apart by the Hessian and escaped, momentum past a local "
            "minimum. Pictures go to --out."
        ),
    )
    p.add_argument("--seed", type=int, default=0, help="seed for SGD shuffling (default: 0)")
    p.add_argument("--out", default="microgd-demo",
                   help="folder for the pictures (default: microgd-demo)")
    p.add_argument("--no-plots", action="store_true", help="write no pictures")
    p.add_argument("--json", action="store_true", help="print the numbers as JSON instead")
    p.set_defaults(handler=_cmd_demo)


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


# ----------------------------------------------------------------------------- expressions


def load_expression(arg: str) -> Expression:
    """Parse an expression argument: the text itself, or ``@FILE`` to read it from a file.

    Parameters
    ----------
    arg : str
        ``"x**2 - y**2"`` or ``"@saddle.txt"``.

    Returns
    -------
    microgd.expr.Expression

    Raises
    ------
    CommandError
        When the file cannot be read or is too long.
    microgd.expr.ExpressionError
        When the expression is not allowed.

    Examples
    --------
    >>> load_expression("x**2 - y**2").variables
    ('x', 'y')
    """
    if not arg.startswith("@"):
        return parse(arg)
    path = arg[1:]
    if not path:
        raise CommandError("'@' must be followed by a file name (@FILE reads the expression)")
    try:
        with open(path, encoding="utf-8") as fh:
            # Never read more than one character past the limit, however big the file.
            text = fh.read(MAX_LENGTH + 1)
    except FileNotFoundError:
        raise CommandError(f"expression file {path!r} does not exist") from None
    except IsADirectoryError:
        raise CommandError(f"expression file {path!r} is a directory") from None
    except UnicodeDecodeError:
        raise CommandError(f"expression file {path!r} is not UTF-8 text") from None
    except OSError as exc:
        raise CommandError(f"cannot read expression file {path!r}: {exc.strerror}") from None
    if len(text) > MAX_LENGTH:
        raise CommandError(f"the expression in {path!r} is too long: more than "
                           f"{MAX_LENGTH:,} characters")
    return parse(text)


def _float(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise CommandError(f"{what}: {text.strip()!r} is not a number") from None
    if not math.isfinite(value):
        raise CommandError(f"{what}: {text.strip()!r} is not a finite number")
    return value


def _split_named(spec: str, expr: Expression, option: str) -> list[str]:
    """``"x=1,y=2"`` or ``"1,2"`` -> one string per variable, in variable order."""
    names = expr.variables
    if not names:
        raise CommandError(f"{option}: the expression has no variables")
    items = [item.strip() for item in spec.split(",")]
    if any(not item for item in items):
        raise CommandError(f"{option} {spec!r}: an empty item (expected {_example(names)})")
    named = ["=" in item for item in items]
    if any(named) and not all(named):
        raise CommandError(f"{option} {spec!r}: give every item as name=value or none "
                           f"(variables in order: {', '.join(names)})")
    if not any(named):
        if len(items) == 1 and len(names) > 1 and option == "--bounds":
            return items * len(names)  # one range for every variable
        if len(items) != len(names):
            raise CommandError(f"{option} {spec!r}: {len(items)} value(s) for {len(names)} "
                               f"variable(s) ({', '.join(names)}, in that order)")
        return items
    given: dict[str, str] = {}
    for item in items:
        name, _, value = item.partition("=")
        name = name.strip()
        if name not in names:
            raise CommandError(f"{option}: unknown variable {name!r} (the variables are "
                               f"{', '.join(names)})")
        if name in given:
            raise CommandError(f"{option}: {name!r} is given twice")
        given[name] = value
    missing = [n for n in names if n not in given]
    if missing:
        raise CommandError(f"{option}: no value for {', '.join(missing)}")
    return [given[n] for n in names]


def _example(names: Sequence[str]) -> str:
    return ",".join(f"{n}=0" for n in names)


def parse_point(spec: str, expr: Expression) -> np.ndarray:
    """The point of ``--at``: ``"x=1,y=-2"``, or ``"1,-2"`` in the order of ``expr.variables``.

    Examples
    --------
    >>> e = parse("x**2 - y**2")
    >>> parse_point("y=2,x=1", e).tolist(), parse_point("1, 2", e).tolist()
    ([1.0, 2.0], [1.0, 2.0])
    """
    parts = _split_named(spec, expr, "--at")
    return np.array([_float(p, f"--at {name}") for name, p in
                     zip(expr.variables, parts, strict=True)])


def parse_bounds(spec: str, expr: Expression) -> list[tuple[float, float]]:
    """The box of ``--bounds``: ``"-5:5,-5:5"`` (variable order), ``"x=-5:5,y=0:1"``,
    or one range ``"-5:5"`` for every variable.

    Examples
    --------
    >>> parse_bounds("-5:5,0:1", parse("x + y"))
    [(-5.0, 5.0), (0.0, 1.0)]
    """
    out = []
    for name, part in zip(expr.variables, _split_named(spec, expr, "--bounds"), strict=True):
        lo, sep, hi = part.partition(":")
        if not sep:
            raise CommandError(f"--bounds {name}: {part.strip()!r} is not a range low:high "
                               "(e.g. -5:5)")
        low, high = _float(lo, f"--bounds {name} low"), _float(hi, f"--bounds {name} high")
        if low > high:
            raise CommandError(f"--bounds {name}: low {low:g} > high {high:g}")
        out.append((low, high))
    return out


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


def _check_finite_at(expr: Expression, point: np.ndarray) -> float:
    with np.errstate(all="ignore"):
        value = expr(point).item()
    if not math.isfinite(value):
        raise CommandError(f"the expression is {value} at {_assign(expr.variables, point)}")
    return value


_MEANING = {
    "minimum": "a local minimum: f increases in every direction",
    "maximum": "a local maximum: f decreases in every direction",
    "saddle": "a saddle point: f decreases along the escape direction (either way)",
    "degenerate": "degenerate: an eigenvalue is zero, so second order cannot decide",
    "not critical": "not a critical point: the gradient is not zero",
}


def _cmd_classify(args: argparse.Namespace) -> int:
    if args.tol is not None and not (math.isfinite(args.tol) and args.tol > 0):
        raise CommandError(f"--tol must be a positive number, got {args.tol:g}")
    expr = load_expression(_expression_arg(args))
    point = parse_point(args.at, expr)
    _check_finite_at(expr, point)
    names = expr.variables
    if args.tol is not None and not 0 < args.tol < math.inf:
        raise CommandError(f"--tol must be a positive number, got {args.tol:g}")
    try:
        with np.errstate(all="ignore"):
            cp = mg.classify(expr.to_function(), point, tol=args.tol)
    except ValueError:  # the value is finite (checked above): a derivative is not
        raise CommandError(f"the expression is not twice differentiable at "
                           f"{_assign(names, point)}: its gradient or Hessian is not finite"
                           ) from None
    vecs = None if cp.eigenvectors is None else np.asarray(cp.eigenvectors)
    if args.json:
        _print_json({
            "expression": expr.text, "variables": list(names), "point": _json_num(point),
            "kind": cp.kind, "value": _json_num(cp.value), "grad_norm": _json_num(cp.grad_norm),
            "eigenvalues": _json_num(cp.eigenvalues),
            "eigenvectors": None if vecs is None else [_json_num(v) for v in vecs],
            "escape_direction": (None if cp.escape_direction is None
                                 else _json_num(cp.escape_direction)),
            "tol_grad": _json_num(cp.tol_grad), "tol_eig": _json_num(cp.tol_eig),
        })
        return 0
    escape = ("none" if cp.escape_direction is None
              else _assign(names, cp.escape_direction))
    rows = [
        ("expression", " ".join(expr.text.split())),
        ("point", _assign(names, point)),
        ("kind", cp.kind),
        ("value", _num(cp.value)),
        ("gradient norm", _num(cp.grad_norm)),
        ("eigenvalues", ", ".join(_num(v) for v in cp.eigenvalues)),
        ("escape direction", escape),
        ("tolerances", f"gradient {cp.tol_grad:.3g}, eigenvalue {cp.tol_eig:.3g}"),
    ]
    for label, text in rows:
        print(f"{label + ':':<18}{text}")
    if vecs is not None and len(names) <= 8:
        print()
        print("Hessian eigenvectors (one row per eigenvalue):")
        table = [[_num(lam), *(_num(c) for c in np.ravel(v))]
                 for lam, v in zip(cp.eigenvalues, vecs, strict=True)]
        for line in _table(["eigenvalue", *names], table, right=len(names) + 1):
            print("  " + line)
    print()
    print(f"This is {_MEANING.get(cp.kind, cp.kind)}.")
    return 0


def _add_classify(sub: argparse._SubParsersAction[_Parser]) -> None:
    p = sub.add_parser(
        "classify", allow_abbrev=False,
        help="classify a point of an expression: minimum, maximum, saddle, ...",
        description=(
            "Classify the point --at of the expression EXPR by its gradient and the "
            "eigenvalues of its Hessian (exact, by autodiff). Example: "
            "microgd classify 'x**2 - y**2' --at x=0,y=0"
        ),
    )
    _expression_args(p)
    p.add_argument("--at", required=True, metavar="POINT",
                   help="the point: x=0,y=0 or 0,0 (variables in alphabetical order)")
    p.add_argument("--tol", type=float, default=None,
                   help="relative tolerance of the classification (default: 1e-6)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(handler=_cmd_classify)


def _cmd_critical(args: argparse.Namespace) -> int:
    expr = load_expression(_expression_arg(args))
    bounds = parse_bounds(args.bounds, expr)
    if args.starts < 1:
        raise CommandError(f"--starts must be at least 1, got {args.starts}")
    with np.errstate(all="ignore"):
        points = mg.find_critical_points(expr.to_function(), bounds, starts=args.starts,
                                         seed=args.seed)
    names = expr.variables
    counts: dict[str, int] = {}
    for cp in points:
        counts[cp.kind] = counts.get(cp.kind, 0) + 1
    if args.json:
        _print_json({
            "expression": expr.text, "variables": list(names),
            "bounds": [list(b) for b in bounds], "starts": args.starts, "seed": args.seed,
            "count": len(points), "counts": counts,
            "points": [{
                "kind": cp.kind, "x": _json_num(cp.x), "value": _json_num(cp.value),
                "grad_norm": _json_num(cp.grad_norm), "eigenvalues": _json_num(cp.eigenvalues),
                "escape_direction": (None if cp.escape_direction is None
                                     else _json_num(cp.escape_direction)),
            } for cp in points],
        })
        return 0
    box = ", ".join(f"{n} in [{_num(lo)}, {_num(hi)}]" for n, (lo, hi) in
                    zip(names, bounds, strict=True))
    print(f"Critical points of {' '.join(expr.text.split())}")
    print(f"in {box} ({args.starts} starts, seed {args.seed}), sorted by value:")
    print()
    rows = [[str(i), cp.kind, *(_num(c) for c in np.ravel(cp.x)), _num(cp.value),
             ", ".join(_num(v) for v in cp.eigenvalues)] for i, cp in enumerate(points, 1)]
    for line in _table(["#", "kind", *names, "value", "eigenvalues"], rows, right=1):
        print(line)
    print()
    plural = {"minimum": "minima", "maximum": "maxima", "saddle": "saddles"}
    summary = ", ".join(f"{n} {kind if n == 1 else plural.get(kind, kind)}"
                        for kind, n in counts.items())
    print(f"{len(points)} found" + (f": {summary}" if summary else "") + ".")
    return 0


def _add_critical(sub: argparse._SubParsersAction[_Parser]) -> None:
    p = sub.add_parser(
        "critical", allow_abbrev=False,
        help="find every critical point of an expression in a box",
        description=(
            "Find the critical points (zero gradient) of EXPR in the box --bounds by Newton's "
            "method from random starts, classify each, and list them by value. Example: "
            "microgd critical '(x**2+y-11)**2+(x+y**2-7)**2' --bounds -5:5,-5:5"
        ),
    )
    _expression_args(p)
    p.add_argument("--bounds", required=True, metavar="BOX",
                   help="low:high per variable, e.g. -5:5,-5:5 or x=-5:5,y=0:1 "
                        "(one range applies to every variable)")
    p.add_argument("--starts", type=int, default=200, help="number of random starts "
                   "(default: 200)")
    p.add_argument("--seed", type=int, default=0, help="seed of the starts (default: 0)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(handler=_cmd_critical)


GRAPH_FORMATS = (".svg", ".png", ".pdf", ".dot", ".gv")


def _ops_in(out: mg.Value) -> list[str]:
    seen, ops, stack = set(), set(), [out]
    while stack:
        v = stack.pop()
        if id(v) in seen:
            continue
        seen.add(id(v))
        if v.op is not None:
            ops.add(v.op)
        stack.extend(v.parents)
    return sorted(ops)


def _cmd_graph(args: argparse.Namespace) -> int:
    expr = load_expression(_expression_arg(args))
    names = expr.variables
    point = parse_point(args.at, expr) if args.at is not None else np.ones(len(names))
    path = Path(args.output)
    if path.suffix.lower() not in GRAPH_FORMATS:
        raise CommandError(f"-o {args.output}: unknown format {path.suffix!r}; use one of "
                           f"{', '.join(GRAPH_FORMATS)}")
    if not path.parent.is_dir():
        raise CommandError(f"-o {args.output}: directory {str(path.parent)!r} does not exist")
    try:
        from microgd.viz import save_graph
    except ImportError as exc:
        raise CommandError(f"drawing graphs needs the graphviz package ({exc})", code=1) from None
    leaves = {n: mg.Value(float(v)) for n, v in zip(names, point, strict=True)}
    with np.errstate(all="ignore"):
        out = expr(leaves)
        if out.requires_grad:
            out.backward()
    try:
        save_graph(out, path, labels=leaves, rankdir=args.rankdir)
    except RuntimeError as exc:  # Graphviz's dot is missing: say how to get it
        raise CommandError(str(exc), code=1) from None
    except OSError as exc:
        raise CommandError(f"cannot write {args.output}: {exc.strerror}") from None
    grads = [0.0 if v.grad is None else float(v.grad) for v in leaves.values()]
    ops = _ops_in(out)
    if args.json:
        _print_json({"expression": expr.text, "variables": list(names),
                     "point": _json_num(point), "value": _json_num(out.item()),
                     "gradient": _json_num(grads), "ops": ops, "file": str(path)})
        return 0
    print(f"wrote {path}: the graph of {' '.join(expr.text.split())}")
    where = f"at {_assign(names, point)}: " if names else ""
    print(f"{where}value {_num(out.item())}")
    if names:
        parts = [f"d/d{n} = {_num(g)}" for n, g in zip(names, grads, strict=True)]
        print(f"gradient: {', '.join(parts)}")
    print(f"ops: {', '.join(ops) or 'none'}")
    return 0


def _add_graph(sub: argparse._SubParsersAction[_Parser]) -> None:
    p = sub.add_parser(
        "graph", allow_abbrev=False,
        help="draw the computation graph of an expression",
        description=(
            "Evaluate EXPR at --at (default: every variable 1.0), run backward, and draw the "
            "computation graph with values and gradients to FILE (.svg, .png, .pdf need "
            "Graphviz's dot; .dot is the Graphviz source). Example: "
            "microgd graph 'tanh(w*x + b)' -o graph.svg"
        ),
    )
    _expression_args(p)
    p.add_argument("-o", "--output", required=True, metavar="FILE",
                   help="output file: .svg, .png, .pdf or .dot")
    p.add_argument("--at", default=None, metavar="POINT",
                   help="the point: x=0,y=0 or 0,0 (default: every variable 1.0)")
    p.add_argument("--rankdir", choices=("LR", "TB", "RL", "BT"), default="LR",
                   help="layout direction (default: LR, left to right)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(handler=_cmd_graph)


def _expression_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("expression", nargs="?", metavar="EXPR",
                   help="a formula such as 'x**2 - y**2' (numbers, variables, + - * / **, "
                        "exp log sqrt sin cos tanh sigmoid relu abs max min), or @FILE")
    p.add_argument("--expr", dest="expr_option", metavar="EXPR", default=None,
                   help="the expression as an option (for one that starts with '-'; "
                        "done for you when EXPR starts with '-')")


def _expression_arg(args: argparse.Namespace) -> str:
    if args.expression is not None and args.expr_option is not None:
        raise CommandError(f"two expressions given: {args.expression!r} and "
                           f"{args.expr_option!r}")
    text = args.expression if args.expression is not None else args.expr_option
    if text is None:
        raise CommandError("the expression EXPR is missing")
    return text


# ----------------------------------------------------------------------------- train


OPTIMIZERS = ("sgd", "gd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad")
_DEFAULT_LR = {"sgd": 0.01, "gd": 0.01, "momentum": 0.01, "nesterov": 0.01, "adam": 1e-3,
               "adamw": 1e-3, "rmsprop": 1e-2, "adagrad": 1e-2}


def read_csv(path: str | os.PathLike) -> tuple[list[str], np.ndarray]:
    """Read a CSV file with a header row and numeric columns.

    Returns
    -------
    (header, data) : list of str, ndarray of shape (rows, columns)

    Raises
    ------
    CommandError
        When the file is missing, empty, ragged or holds a non-number.

    Examples
    --------
    >>> import os, tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "d.csv")
    ...     with open(path, "w") as fh:
    ...         _ = fh.write("x,y\\n1,2\\n3,4\\n")
    ...     header, data = read_csv(path)
    >>> header, data.tolist()
    (['x', 'y'], [[1.0, 2.0], [3.0, 4.0]])
    """
    name = os.fspath(path)
    try:
        # utf-8-sig: a byte-order mark (as spreadsheet programs write) is not part of the header.
        with open(name, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None:
                raise CommandError(f"CSV file {name!r} is empty")
            header = [h.strip() for h in header]
            if len(set(header)) != len(header):
                raise CommandError(f"CSV file {name!r}: a column name appears twice")
            rows = []
            for row in reader:
                if not row or all(not c.strip() for c in row):
                    continue
                line = reader.line_num
                if len(row) != len(header):
                    raise CommandError(f"{name}, line {line}: {len(row)} field(s), but the "
                                       f"header has {len(header)}")
                values = []
                for col, cell in zip(header, row, strict=True):
                    try:
                        values.append(float(cell))
                    except ValueError:
                        raise CommandError(f"{name}, line {line}, column {col!r}: "
                                           f"{cell.strip()!r} is not a number") from None
                rows.append(values)
    except FileNotFoundError:
        raise CommandError(f"CSV file {name!r} does not exist") from None
    except IsADirectoryError:
        raise CommandError(f"CSV file {name!r} is a directory") from None
    except UnicodeDecodeError:
        raise CommandError(f"CSV file {name!r} is not UTF-8 text") from None
    except csv.Error as exc:
        raise CommandError(f"CSV file {name!r}: {exc}") from None
    if not rows:
        raise CommandError(f"CSV file {name!r} has a header but no rows")
    data = np.array(rows, dtype=float)
    if not np.isfinite(data).all():
        r, c = np.argwhere(~np.isfinite(data))[0]
        raise CommandError(f"{name}: column {header[c]!r}, data row {r + 1} is not finite")
    return header, data


def _hidden(spec: str) -> list[int]:
    if not spec.strip():
        return []
    try:
        sizes = [int(s) for s in spec.split(",")]
    except ValueError:
        raise CommandError(f"--hidden {spec!r}: expected sizes like 16,16 (or '' for a "
                           "linear model)") from None
    if any(s < 1 for s in sizes):
        raise CommandError(f"--hidden {spec!r}: layer sizes must be at least 1")
    return sizes


# The largest model `train` builds: 10^8 parameters are 800 MB in float64, before their
# gradients and the optimizer's state.
MAX_PARAMETERS = 10**8
# Copies of the parameters a step holds: the values, the gradients, up to two
# optimizer buffers (Adam's moments) and the update's temporaries.
_COPIES = 5


def _physical_memory() -> int | None:
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, OSError, ValueError):  # not POSIX, or not known
        return None


def _gib(n: float) -> str:
    return f"{n / 2**30:,.1f} GiB" if n >= 2**30 else f"{n / 2**20:,.0f} MiB"


def _check_model_size(spec: str, sizes: list[int], n_in: int, batch: int) -> None:
    """Refuse a model that could not fit in memory, before a byte of it is allocated."""
    widths = [n_in, *sizes, 1]
    n_params = sum((a + 1) * b for a, b in zip(widths, widths[1:], strict=False))
    # Activations: each layer's output, pre-activation and gradient for one batch.
    need = 8 * (_COPIES * n_params + 3 * batch * sum(widths))
    memory = _physical_memory()
    what = f"--hidden {spec}: a model of {n_params:,} parameters"
    if n_params > MAX_PARAMETERS:
        raise CommandError(f"{what} is more than the limit of {MAX_PARAMETERS:,} (it would "
                           f"need about {_gib(need)} of memory); use smaller layers")
    if memory is not None and need > memory // 2:
        raise CommandError(f"{what} needs about {_gib(need)} of memory for a step, more than "
                           f"half of this machine's {_gib(memory)}; use smaller layers or "
                           "batches")


def _make_optimizer(name: str, params: list[mg.Value], lr: float) -> Any:
    from microgd import optim

    classes = {"sgd": optim.SGD, "gd": optim.GD, "momentum": optim.Momentum,
               "nesterov": optim.Nesterov, "adam": optim.Adam, "adamw": optim.AdamW,
               "rmsprop": optim.RMSProp, "adagrad": optim.AdaGrad}
    return classes[name](params, lr=lr)


def _cmd_train(args: argparse.Namespace) -> int:
    header, data = read_csv(args.csv)
    if args.target not in header:
        raise CommandError(f"--target {args.target!r}: no such column (columns: "
                           f"{', '.join(header)})")
    if args.features is not None:
        features = [f.strip() for f in args.features.split(",") if f.strip()]
        unknown = [f for f in features if f not in header]
        if unknown:
            raise CommandError(f"--features: no column {unknown[0]!r} (columns: "
                               f"{', '.join(header)})")
    else:
        features = [h for h in header if h != args.target]
    if args.target in features:
        raise CommandError(f"--features: the target {args.target!r} cannot be a feature")
    if not features:
        raise CommandError("no feature columns: the CSV needs columns besides the target")
    hidden = _hidden(args.hidden)
    if args.epochs < 1:
        raise CommandError(f"--epochs must be at least 1, got {args.epochs}")
    lr = _DEFAULT_LR[args.optimizer] if args.lr is None else args.lr
    if not (math.isfinite(lr) and lr > 0):
        raise CommandError(f"--lr must be a positive number, got {lr}")
    rows = len(data)
    if args.batch_size is not None and args.batch_size < 1:
        raise CommandError(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.batch_size is not None and args.batch_size > rows:
        raise CommandError(f"--batch-size {args.batch_size} is more than the {rows} rows of "
                           f"{args.csv}; use --batch-size {rows} or less")
    batch_size = args.batch_size
    if batch_size is None and args.optimizer != "gd":
        batch_size = min(32, rows)  # a file shorter than a batch is one batch
    X = data[:, [header.index(f) for f in features]]
    y = data[:, [header.index(args.target)]]
    if args.loss == "bce" and not np.isin(y, (0.0, 1.0)).all():
        raise CommandError(f"--loss bce needs a 0/1 target, but column {args.target!r} has "
                           "other values")
    _check_model_size(args.hidden, hidden, X.shape[1], rows if batch_size is None else batch_size)
    # Checked now, so a folder we cannot write is refused before training, not after it.
    out_dir = _output_dir("--out", args.out) if args.out is not None else None

    from microgd import nn

    model = nn.MLP(X.shape[1], [*hidden, 1], activation=args.activation, seed=args.seed)
    loss_of = nn.mse if args.loss == "mse" else nn.binary_cross_entropy
    params = model.parameters()
    optimizer = _make_optimizer(args.optimizer, params, lr)
    every = max(1, round(args.epochs / 10))
    width = len(str(args.epochs))

    def log(hist: mg.History, epoch: int) -> None:
        done = epoch + 1
        if not args.json and (done == 1 or done % every == 0 or done == args.epochs):
            print(f"epoch {done:>{width}}/{args.epochs}  loss {hist.epoch_loss[-1]:.6g}")

    def loss_fn(xb: np.ndarray, yb: np.ndarray) -> mg.Value:
        return loss_of(model(xb), yb)

    if not args.json:
        kind = (f"an MLP {X.shape[1]}-{'-'.join(map(str, hidden))}-1 ({args.activation})"
                if hidden else f"a linear model ({X.shape[1]} input(s))")
        batches = "full batch" if batch_size is None else f"batch size {batch_size}"
        print(f"Training {kind} to predict {args.target!r} from {', '.join(features)}")
        print(f"{len(X)} rows, {args.loss} loss, {args.optimizer} lr={lr:g}, {batches}, "
              f"{args.epochs} epochs, seed {args.seed}")
    try:
        with np.errstate(all="ignore"):
            hist = mg.fit(loss_fn, params, (X, y), optimizer, args.epochs,
                          batch_size=batch_size, seed=args.seed, callbacks=(log,),
                          progress=False)
    except mg.DivergenceError as exc:
        raise CommandError(_divergence_message(exc, args.csv, lr), code=1) from None
    with mg.no_grad(), np.errstate(all="ignore"):
        final = float(loss_fn(X, y).item())
    files = [] if out_dir is None else _write_outputs(out_dir, hist, args.optimizer)
    if args.json:
        _print_json({
            "csv": os.fspath(args.csv), "target": args.target, "features": features,
            "rows": len(X), "hidden": hidden, "activation": args.activation,
            "loss": args.loss, "optimizer": args.optimizer, "lr": lr,
            "batch_size": batch_size, "epochs": args.epochs, "seed": args.seed,
            "epoch_loss": _json_num(hist.epoch_loss), "final_loss": _json_num(final),
            "files": files,
        })
        return 0
    print(f"final loss (all {len(X)} rows): {final:.6g}")
    for f in files:
        print(f"wrote {f}")
    return 0


def _divergence_message(exc: mg.DivergenceError, csv_name: str, lr: float) -> str:
    if exc.step == 1:
        # Nothing was updated yet: the learning rate cannot be the cause.
        what = _one_line(exc).split(" at the start", 1)[0]
        return (f"{what} at the start, before any update: the data in {csv_name} gives a "
                "loss or gradient that is not finite (very large values? try scaling the "
                "columns)")
    what = _one_line(exc).split(". Try", 1)[0].rstrip(".")
    return f"{what}. Lower the learning rate and try again, e.g. --lr {lr / 10:g} (now {lr:g})"


def _write_outputs(out_dir: Path, hist: mg.History, label: str) -> list[str]:
    """history.json (and loss.png with matplotlib) in ``out_dir``: the files written."""
    files = []
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        hist.save(out_dir / "history.json")
        files.append(str(out_dir / "history.json"))
        try:
            import matplotlib  # noqa: F401  (optional: pip install microgd[plot])
        except ImportError:
            return files
        from microgd.viz import plot_history

        png = out_dir / "loss.png"
        plot_history(hist, labels=[label], series="epoch_loss", x="epoch", path=png)
        files.append(str(png))
    except OSError as exc:  # the folder changed under us while training ran
        raise CommandError(f"cannot write to --out {out_dir}: {exc.strerror or exc}",
                           code=1) from None
    return files


def _add_train(sub: argparse._SubParsersAction[_Parser]) -> None:
    p = sub.add_parser(
        "train", allow_abbrev=False,
        help="fit an MLP (or a linear model) to the columns of a CSV file",
        description=(
            "Fit a model predicting the column --target of a CSV file (header row, numeric "
            "columns) from the other columns, and print the loss every ~10% of the epochs."
        ),
    )
    p.add_argument("--csv", required=True, metavar="FILE", help="the data: a CSV file")
    p.add_argument("--target", required=True, metavar="COLUMN", help="the column to predict")
    p.add_argument("--features", default=None, metavar="COLUMNS",
                   help="comma-separated input columns (default: all but the target)")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="sgd",
                   help="the optimizer (default: sgd)")
    p.add_argument("--lr", type=float, default=None,
                   help="learning rate (default: 0.001 for adam/adamw, else 0.01)")
    p.add_argument("--epochs", type=int, default=100, help="passes over the data (default: 100)")
    p.add_argument("--batch-size", type=int, default=None,
                   help="samples per step (default: full batch for gd, else 32)")
    p.add_argument("--hidden", default="16,16", metavar="SIZES",
                   help="hidden layer sizes (default: 16,16; '' for a linear model)")
    p.add_argument("--activation", choices=("tanh", "relu", "sigmoid"), default="tanh",
                   help="activation between layers (default: tanh)")
    p.add_argument("--loss", choices=("mse", "bce"), default="mse",
                   help="mse (regression) or bce (0/1 target, from logits) (default: mse)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the initialization and shuffling (default: 0)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="write history.json (and loss.png with matplotlib) there")
    p.add_argument("--json", action="store_true", help="print JSON instead of a log")
    p.set_defaults(handler=_cmd_train)


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
