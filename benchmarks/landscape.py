"""Loss landscapes: a 21x21 grid of the digits MLP, serial beside executor=2, and per cell.

Model: MLP 64-64-10 (tanh hidden layer, softmax cross-entropy) on all 1797
images of scikit-learn's ``load_digits`` (pixels / 16), float64, 4810
parameters; the grid is ``mg.landscape`` over two random filter-normalized
directions (seed 0), bounds (-1, 1)^2.  Measured side by side in one run:

- the whole 21x21 grid serial (``executor=None``); target <= 60 s;
- the same grid with ``executor=2`` (two loky worker processes, one BLAS thread
  each), warm: the reusable workers already started; target: serial / parallel
  >= 1.8 on 2 cores (the paired ratio: median over rounds of the ratio within a
  round).  The first, cold call (starting the workers) is reported apart;
- per cell: a plain NumPy loss evaluation at a grid point (the floor), the
  microgd loss under ``no_grad`` (what each cell runs), and each grid's time
  divided by its 441 cells.

The grids are checked first: executor=2 gives the serial values bit for bit,
and both agree with the NumPy floor to 1e-12.

Run: python benchmarks/landscape.py [--quick] [--json PATH]
(--quick: an 11x11 grid and a single round, to check that everything runs.)
"""

from __future__ import annotations

import os

# Before NumPy is imported: idle OpenBLAS threads busy-wait after each call
# otherwise, stealing the core the next contender (or a worker) runs on.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

# Benchmark the working tree this file lives in, installed or not (as core.py does).
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import microgd as mg  # noqa: E402
from microgd import nn  # noqa: E402

perf = time.perf_counter
SIZES = (64, 64, 10)


def make_problem():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    Y = np.eye(10)[y]
    params = [p.data.copy() for p in nn.MLP(SIZES[0], list(SIZES[1:]), activation="tanh",
                                            seed=0).parameters()]
    return X, y, Y, params


def microgd_loss(X, y):
    def loss(ps):
        W1, b1, W2, b2 = ps
        return nn.softmax_cross_entropy(mg.tanh(X @ W1 + b1) @ W2 + b2, y)
    return loss


def numpy_loss(X, Y):
    def loss(ps):
        W1, b1, W2, b2 = ps
        z = np.tanh(X @ W1 + b1) @ W2 + b2
        z = z - z.max(axis=1, keepdims=True)
        return float(np.mean(np.log(np.exp(z).sum(axis=1)) - (z * Y).sum(axis=1)))
    return loss


def per_call(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = perf()
        fn()
        times.append(perf() - t0)
    return statistics.median(times)


def busy_share(seconds=0.5):
    """The share of the CPUs other processes used over a short window (Linux only)."""
    def read():
        with open("/proc/stat") as fh:
            fields = [float(v) for v in fh.readline().split()[1:]]
        return sum(fields), fields[3] + fields[4]
    try:
        t0, idle0 = read()
        time.sleep(seconds)
        t1, idle1 = read()
    except OSError:
        return None
    return 1.0 - (idle1 - idle0) / max(t1 - t0, 1e-9)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="11x11 grid, one round")
    parser.add_argument("--json", metavar="PATH", help="also write the numbers as JSON")
    args = parser.parse_args(argv)
    resolution, rounds = (11, 1) if args.quick else (21, 3)

    X, y, Y, params = make_problem()
    loss, floor = microgd_loss(X, y), numpy_loss(X, Y)
    d = mg.viz.directions(params, seed=0)
    kw = {"directions": d, "bounds": [(-1, 1), (-1, 1)], "resolution": resolution}
    cells = resolution ** 2
    n_params = sum(p.size for p in params)

    busy = busy_share()
    # Cold: the first executor=2 call starts the two workers (and imports microgd there).
    t0 = perf()
    par = mg.landscape(loss, params, executor=2, **kw)
    cold = perf() - t0
    ser = mg.landscape(loss, params, **kw)
    assert np.array_equal(ser.values, par.values), "executor=2 differs from serial"
    point = d.point(0.3, -0.7)
    for a, b in [(0, 0), (resolution - 1, resolution // 2)]:
        p = d.point(ser.alpha[b], ser.beta[a])
        np.testing.assert_allclose(ser.values[a, b], floor(p), rtol=1e-12)

    gc.collect()
    gc.freeze()
    grid_times = {"serial": [], "executor=2": []}
    for r in range(rounds):  # interleaved, alternating which goes first
        order = ["serial", "executor=2"] if r % 2 == 0 else ["executor=2", "serial"]
        for name in order:
            t0 = perf()
            mg.landscape(loss, params, executor=2 if name == "executor=2" else None, **kw)
            grid_times[name].append(perf() - t0)
    with mg.no_grad():
        t_floor = per_call(lambda: floor(point), 30)
        t_mg = per_call(lambda: loss(point), 30)
    med = {k: statistics.median(v) for k, v in grid_times.items()}
    speedup = statistics.median([s / p for s, p in zip(grid_times["serial"],
                                                      grid_times["executor=2"], strict=True)])
    busy_after = busy_share()

    print(f"MLP {'-'.join(map(str, SIZES))} tanh on load_digits ({len(X)} images), float64, "
          f"{n_params} parameters; {resolution}x{resolution} grid, {rounds} interleaved "
          f"round(s), medians")
    print(f"{'contender':38s} {'seconds':>9s} {'ms/cell':>9s} {'x floor':>8s}")
    rows = [("numpy loss at a point (floor)", None, t_floor),
            ("microgd loss at a point, no_grad", None, t_mg),
            ("mg.landscape serial", med["serial"], med["serial"] / cells),
            ("mg.landscape executor=2 (warm)", med["executor=2"], med["executor=2"] / cells),
            ("mg.landscape executor=2 (cold start)", cold, cold / cells)]
    for name, total, per in rows:
        total_text = f"{total:9.3f}" if total is not None else f"{'':9s}"
        print(f"{name:38s} {total_text} {per * 1e3:9.3f} {per / t_floor:8.2f}")
    print()
    checks = [("serial grid, seconds", med["serial"], "<= 60", med["serial"] <= 60.0),
              ("serial / executor=2 (paired)", speedup, ">= 1.8", speedup >= 1.8)]
    for name, value, target, ok in checks:
        scale_note = "" if resolution == 21 else "  (target stated for 21x21)"
        print(f"{name:38s} {value:9.3f}  target {target:6s} {'PASS' if ok else 'MISS'}"
              f"{scale_note}")
    print(f"cores: {os.cpu_count()}; values: executor=2 == serial bit for bit, "
          f"== NumPy floor to 1e-12")
    for when, share in (("before", busy), ("after", busy_after)):
        if share is not None and share > 0.10:
            print(f"warning: other processes used {share:.0%} of the CPUs {when} the run; "
                  "the figures are unreliable")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"resolution": resolution, "rounds": rounds, "cells": cells,
                       "parameters": n_params, "grid_seconds": grid_times,
                       "cold_seconds": cold, "floor_seconds_per_cell": t_floor,
                       "microgd_seconds_per_cell": t_mg, "speedup_paired": speedup,
                       "busy_before": busy, "busy_after": busy_after}, fh, indent=2)


if __name__ == "__main__":
    main()
