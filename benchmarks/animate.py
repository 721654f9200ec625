"""Cost of a race animation: 4 optimizers x 200 steps on Rosenbrock, rendered to a GIF.

Budget (issue 14): the race plus ``mg.viz.animate(race, path='race.gif')`` in at
most 10 s, the file at most 2 MB.  Measured, each round:

- *race*: ``mg.race`` of GD, momentum, Nesterov and Adam, 200 steps each;
- *animate*: the figure (contours on an 80 x 80 grid, trails, loss panel);
- *gif*: the 100 frames drawn and written (``RaceAnimation.save``);
- for comparison, the per-frame cost of the plain way, matplotlib's
  ``PillowWriter`` redrawing the whole figure for each frame (on 20 frames),
  against microgd's per-frame cost (pre-rendered backdrop, one shared palette).

Rounds alternate the two GIF writers; medians are reported, with the paired
ratio (median over rounds of the within-round ratio).  The file's size and
frame count are checked (an AssertionError, not a number, when wrong).

Run: python benchmarks/animate.py [--quick] [--rounds N] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")

# Benchmark the working tree this file lives in, installed or not (as core.py does).
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import microgd as mg  # noqa: E402
from microgd import optim  # noqa: E402

BUDGET_S = 10.0
BUDGET_BYTES = 2 * 2**20
PLAIN_FRAMES = 20


def rosenbrock(p):
    return (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2


RACERS = {
    "GD": lambda ps: optim.GD(ps, lr=1e-3),
    "momentum": lambda ps: optim.Momentum(ps, lr=1e-3, beta=0.9),
    "Nesterov": lambda ps: optim.Nesterov(ps, lr=1e-3, momentum=0.9),
    "Adam": lambda ps: optim.Adam(ps, lr=0.05),
}


def microgd_round(out: str) -> dict[str, float]:
    t0 = time.perf_counter()
    race = mg.race(rosenbrock, RACERS, [-1.5, 2.0], steps=200, minimum=[1.0, 1.0])
    t1 = time.perf_counter()
    anim = mg.viz.animate(race)
    t2 = time.perf_counter()
    anim.save(out)
    t3 = time.perf_counter()
    from PIL import Image

    with Image.open(out) as im:
        frames = im.n_frames
    size = os.path.getsize(out)
    assert frames == len(anim.frame_steps) == 100, frames
    assert size <= BUDGET_BYTES, size
    return {"race": t1 - t0, "animate": t2 - t1, "gif": t3 - t2, "total": t3 - t0,
            "bytes": float(size), "per_frame": (t3 - t2) / frames}


def plain_round(out: str) -> float:
    """Seconds per frame of matplotlib's PillowWriter redrawing the whole figure."""
    from matplotlib.animation import FuncAnimation, PillowWriter

    race = mg.race(rosenbrock, RACERS, [-1.5, 2.0], steps=200, minimum=[1.0, 1.0])
    anim = mg.viz.animate(race, frames=PLAIN_FRAMES)
    plain = FuncAnimation(anim.figure, anim.draw_frame, frames=len(anim.frame_steps),
                          cache_frame_data=False)
    t0 = time.perf_counter()
    plain.save(out, writer=PillowWriter(fps=anim.fps), dpi=anim.dpi)
    return (time.perf_counter() - t0) / PLAIN_FRAMES


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one round (checks it runs)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rounds = 1 if args.quick else args.rounds
    ours: list[dict[str, float]] = []
    plain: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(rounds):
            # alternate which writer goes first, so a slow phase of the machine hits both
            order = (0, 1) if i % 2 == 0 else (1, 0)
            for which in order:
                if which == 0:
                    ours.append(microgd_round(os.path.join(tmp, "race.gif")))
                else:
                    plain.append(plain_round(os.path.join(tmp, "plain.gif")))
    med = {k: statistics.median(r[k] for r in ours) for k in ours[0]}
    plain_med = statistics.median(plain)
    paired = statistics.median(p / o["per_frame"] for p, o in zip(plain, ours, strict=True))
    print(f"4 optimizers x 200 steps on Rosenbrock, 100 frames, {rounds} round(s), medians:")
    for k in ("race", "animate", "gif", "total"):
        print(f"  {k:<8} {med[k]:7.2f} s")
    print(f"  file     {med['bytes'] / 2**20:7.2f} MB")
    status = "PASS" if med["total"] <= BUDGET_S else "MISS"
    print(f"  budget   total <= {BUDGET_S:g} s: {status}; file <= 2 MB: PASS (asserted)")
    print(f"per frame: microgd {1000 * med['per_frame']:.0f} ms, PillowWriter redrawing the "
          f"figure {1000 * plain_med:.0f} ms (x{plain_med / med['per_frame']:.1f}, "
          f"paired x{paired:.1f})")
    if args.json:
        args.json.write_text(json.dumps({"rounds": rounds, "medians": med,
                                         "plain_per_frame": plain_med,
                                         "paired_ratio": paired, "status": status}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
