"""``microgd demo``: the course's walk-through, end to end."""

from __future__ import annotations

import argparse
import json

import numpy as np

from microgd.cli._common import (
    CommandError,
    _output_dir,
    _Parser,
    _plain,
)

# The course's smallest example: y = x*w, whose exact solution is w = 2.
DEMO_X = np.array([1.0, 2.0, 3.0])
DEMO_Y = np.array([2.0, 4.0, 6.0])

# ----------------------------------------------------------------------------- demo


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
