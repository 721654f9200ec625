"""Shared pytest set-up: Hypothesis profiles and a headless plotting backend."""

import os

# Tests that plot must never need a display (CI has none); set before matplotlib is imported.
os.environ.setdefault("MPLBACKEND", "Agg")

from hypothesis import settings  # noqa: E402

# CI: fewer examples, reproducible across runs, no per-example deadline (CI machines stall).
settings.register_profile("ci", max_examples=25, deadline=None, derandomize=True)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
