"""``microgd classify``, ``critical`` and ``graph``: an expression's critical points and graph."""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

import microgd as mg
from microgd.cli._common import (
    CommandError,
    _assign,
    _json_num,
    _num,
    _Parser,
    _print_json,
    _table,
)
from microgd.expr import MAX_LENGTH, Expression, parse

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
                   help="a formula such as 'x**2 - y**2' (numbers, variables, + - * / ** %%, "
                        "the elementwise functions exp log sqrt sin cos tanh ... max min "
                        "hypot ..., sum/prod/norm of several arguments), or @FILE")
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
