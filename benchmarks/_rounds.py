"""Round-robin timing shared by curvature.py and monitors.py (core.py has its own, with
warm-up and lead-in, for its sub-millisecond contenders)."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np


def interleaved(contenders: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median seconds per call of each contender, timed ``repeats`` times round-robin.

    Each round starts one contender later, so none always runs right after the
    same neighbour (whose garbage or cache footprint it would pay for).
    """
    times: dict[str, list[float]] = {name: [] for name in contenders}
    order = list(contenders)
    for r in range(repeats):
        for name in order[r % len(order):] + order[:r % len(order)]:
            fn = contenders[name]
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: float(np.median(t)) for name, t in times.items()}
