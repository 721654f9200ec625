"""The ``microgd`` command.

Each subcommand lives in its own ``_add_<name>`` function that registers a
subparser and sets ``handler`` to the function that runs it; ``main`` only
parses and dispatches. To add a subcommand, write its ``_add_<name>`` and list
it in ``_SUBCOMMANDS``.

Examples
--------
>>> from microgd.cli import main
>>> main(["demo"])  # doctest: +SKIP
0
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NoReturn, TextIO

import numpy as np

import microgd as mg

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


@dataclass
class FitResult:
    """Outcome of one optimisation run of the demo.

    Attributes
    ----------
    w : float
        Final weight.
    cost : float
        Mean squared error over the whole data set at ``w``.
    costs : list of float
        Full-data cost before each epoch, then once more at the end.
    """

    w: float
    cost: float
    costs: list[float] = field(default_factory=list)


def _mse(w: mg.Value, x: np.ndarray, y: np.ndarray) -> mg.Value:
    """Mean squared error of the model ``y = x*w``, as a graph rooted at ``w``."""
    return ((x * w - y) ** 2).mean()


def _full_cost(w: float, x: np.ndarray = DEMO_X, y: np.ndarray = DEMO_Y) -> float:
    return float(np.mean((x * w - y) ** 2))


def exhaustive_search(
    lo: float = 0.0,
    hi: float = 4.0,
    num: int = 401,
    x: np.ndarray = DEMO_X,
    y: np.ndarray = DEMO_Y,
) -> tuple[float, float]:
    """Try every ``w`` of an evenly spaced grid and keep the one with the lowest MSE.

    Parameters
    ----------
    lo, hi : float
        Ends of the grid (both included).
    num : int
        Number of grid points.
    x, y : ndarray
        Data of the model ``y = x*w``.

    Returns
    -------
    (w, cost) : tuple of float
        The best grid point and its mean squared error.

    Examples
    --------
    >>> w, cost = exhaustive_search(0.0, 4.0, 401)
    >>> round(w, 6), round(cost, 6)
    (2.0, 0.0)
    """
    grid = np.linspace(lo, hi, num)
    # One row per candidate w: the whole search is a single broadcast.
    costs = np.mean((grid[:, None] * x[None, :] - y[None, :]) ** 2, axis=1)
    best = int(np.argmin(costs))
    return float(grid[best]), float(costs[best])


def gradient_descent(
    w0: float = 1.0,
    lr: float = 0.01,
    epochs: int = 100,
    x: np.ndarray = DEMO_X,
    y: np.ndarray = DEMO_Y,
    log: Callable[[int, float, float, float], None] | None = None,
    log_every: int = 10,
) -> FitResult:
    """Full-batch gradient descent on ``mean((x*w - y)**2)``, gradient by autodiff.

    Each epoch builds the cost from a :class:`microgd.Value`, calls
    ``backward()``, and applies ``w <- w - lr * dcost/dw``.

    Parameters
    ----------
    w0, lr, epochs : float, float, int
        Starting weight, learning rate, number of epochs (one step each).
    x, y : ndarray
        Data of the model ``y = x*w``.
    log : callable, optional
        Called as ``log(epoch, w, cost, grad)`` every ``log_every`` epochs,
        before that epoch's update.
    log_every : int
        Logging period in epochs.

    Returns
    -------
    FitResult

    Examples
    --------
    >>> round(gradient_descent().w, 3)
    2.0
    """
    w = mg.Value(float(w0))
    costs = []
    for epoch in range(epochs):
        cost = _mse(w, x, y)
        cost.backward()
        grad = w.grad
        assert grad is not None  # cost depends on w, so backward always reaches it
        costs.append(cost.item())
        if log is not None and epoch % log_every == 0:
            log(epoch, float(w.data), cost.item(), float(grad))
        # .data of a 0-d Value is an immutable NumPy scalar: rebind, don't update in place.
        w.data = w.data - lr * grad
        # .grad accumulates across backward calls; the next epoch needs a fresh one.
        w.zero_grad()
    final = float(w.data)
    costs.append(_full_cost(final, x, y))
    return FitResult(final, costs[-1], costs)


def stochastic_gradient_descent(
    w0: float = 1.0,
    lr: float = 0.01,
    epochs: int = 100,
    seed: int = 0,
    x: np.ndarray = DEMO_X,
    y: np.ndarray = DEMO_Y,
) -> FitResult:
    """Per-sample SGD on the squared error, samples shuffled each epoch.

    Parameters
    ----------
    w0, lr, epochs : float, float, int
        Starting weight, learning rate, number of passes over the data.
    seed : int
        Seed of the ``numpy.random.Generator`` that shuffles the samples.
    x, y : ndarray
        Data of the model ``y = x*w``.

    Returns
    -------
    FitResult
        ``costs`` holds the full-data cost before each epoch and at the end.

    Examples
    --------
    >>> round(stochastic_gradient_descent(seed=0).w, 3)
    2.0
    """
    rng = np.random.default_rng(seed)
    w = mg.Value(float(w0))
    costs = []
    for _ in range(epochs):
        costs.append(_full_cost(float(w.data), x, y))
        for i in rng.permutation(len(x)):
            # A batch of one sample: the same cost function as full-batch GD.
            cost = _mse(w, x[i : i + 1], y[i : i + 1])
            cost.backward()
            grad = w.grad
            assert grad is not None  # cost depends on w, so backward always reaches it
            w.data = w.data - lr * grad
            w.zero_grad()
    final = float(w.data)
    costs.append(_full_cost(final, x, y))
    return FitResult(final, costs[-1], costs)


def run_demo(seed: int = 0, out: TextIO | None = None) -> dict[str, FitResult]:
    """Run the course's walk-through on ``y = x*w`` and narrate it.

    Parameters
    ----------
    seed : int
        Seed for the SGD shuffling.
    out : text stream, optional
        Where to write the narration (default: standard output).

    Returns
    -------
    dict
        ``{"search": FitResult, "gd": FitResult, "sgd": FitResult}``.

    Examples
    --------
    >>> import io
    >>> results = run_demo(out=io.StringIO())
    >>> round(results["gd"].w, 2)
    2.0
    """
    stream = sys.stdout if out is None else out

    def say(line: str = "") -> None:
        print(line, file=stream)

    xs = ", ".join(f"{v:g}" for v in DEMO_X)
    ys = ", ".join(f"{v:g}" for v in DEMO_Y)
    say(f"Fit y = x*w to x = [{xs}], y = [{ys}]; cost = mean((x*w - y)**2).")
    say("The exact answer is w = 2: each method below should find it.")
    say()

    lo, hi, num = 0.0, 4.0, 401
    w_best, c_best = exhaustive_search(lo, hi, num)
    say(f"1. Exhaustive search: try {num} values of w in [{lo:g}, {hi:g}] and keep the best.")
    say(f"   best w = {w_best:.4f}, cost = {c_best:.3e}")
    say()

    w0, lr, epochs = 1.0, 0.01, 100
    say(f"2. Gradient descent from w = {w0:g}, lr = {lr:g}, {epochs} epochs.")
    say("   dcost/dw comes from microgd: cost.backward(), then w.grad.")

    def log(epoch: int, w: float, cost: float, grad: float) -> None:
        say(f"   epoch {epoch:3d}: w = {w:.5f}  cost = {cost:.3e}  dcost/dw = {grad:+.3e}")

    gd = gradient_descent(w0, lr, epochs, log=log)
    say(f"   epoch {epochs:3d}: w = {gd.w:.5f}  cost = {gd.cost:.3e}")
    say(f"   final w = {gd.w:.5f}; prediction at x = 4: {gd.w * 4:.4f}")
    say()

    say(f"3. Stochastic gradient descent: one sample per step, shuffled (seed {seed}),")
    say(f"   lr = {lr:g}, {epochs} epochs = {epochs * len(DEMO_X)} steps.")
    sgd = stochastic_gradient_descent(w0, lr, epochs, seed=seed)
    for epoch in (0, 1, 2, 5, 10, epochs):
        say(f"   after {epoch:3d} epochs: cost = {sgd.costs[epoch]:.3e}")
    say(f"   final w = {sgd.w:.5f}; prediction at x = 4: {sgd.w * 4:.4f}")
    say()
    say("SGD takes 3 cheap steps per epoch and gets there in fewer epochs;")
    say("full-batch GD takes one exact step per epoch.")

    return {"search": FitResult(w_best, c_best), "gd": gd, "sgd": sgd}


def _cmd_demo(args: argparse.Namespace) -> int:
    run_demo(seed=args.seed)
    return 0


def _add_demo(sub: argparse._SubParsersAction[_Parser]) -> None:
    p = sub.add_parser(
        "demo",
        help="run the course's walk-through on y = x*w",
        description=(
            "Fit y = x*w to x=[1,2,3], y=[2,4,6] by exhaustive search, "
            "gradient descent and stochastic gradient descent."
        ),
    )
    p.add_argument("--seed", type=int, default=0, help="seed for SGD shuffling (default: 0)")
    p.set_defaults(handler=_cmd_demo)


# ----------------------------------------------------------------------------- main

_SUBCOMMANDS: tuple[Callable[[argparse._SubParsersAction[_Parser]], None], ...] = (_add_demo,)


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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``microgd`` command.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit code: 0 on success, 2 on a usage error (one line on stderr).

    Examples
    --------
    >>> main(["no-such-command"])  # doctest: +SKIP
    2
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already reported
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except BrokenPipeError:
        # The reader went away (e.g. `microgd demo | head`): not an error worth a traceback.
        # Point stdout at devnull so the interpreter's final flush cannot fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        return 130
