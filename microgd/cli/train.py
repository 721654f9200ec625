"""``microgd train``: fit an MLP to a CSV file."""

from __future__ import annotations

import argparse
import csv
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

import microgd as mg
from microgd.cli._common import (
    CommandError,
    _json_num,
    _one_line,
    _output_dir,
    _Parser,
    _print_json,
)

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
