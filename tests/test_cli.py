"""The ``microgd`` command: the demo's results and the error contract."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from microgd.cli import (
    exhaustive_search,
    gradient_descent,
    main,
    run_demo,
    stochastic_gradient_descent,
)

ROOT = Path(__file__).resolve().parent.parent


def test_exhaustive_search_finds_w_2() -> None:
    w, cost = exhaustive_search(0.0, 4.0, 401)
    assert w == pytest.approx(2.0)
    assert cost == pytest.approx(0.0, abs=1e-12)


def test_gradient_descent_matches_closed_form() -> None:
    # For this data dcost/dw = 2*(w - 2)*mean(x**2) = (28/3)*(w - 2), so each step
    # multiplies (w - 2) by (1 - lr*28/3): the autodiff run must follow it exactly.
    res = gradient_descent(w0=1.0, lr=0.01, epochs=100)
    expected = 2.0 + (1.0 - 2.0) * (1 - 0.01 * 28 / 3) ** 100
    assert res.w == pytest.approx(expected, rel=1e-12)
    assert 4 * res.w == pytest.approx(8.0, abs=1e-3)
    assert len(res.costs) == 101
    assert res.costs[0] == pytest.approx(14 / 3)
    assert all(b < a for a, b in zip(res.costs, res.costs[1:], strict=False))


def test_gradient_descent_logs_every_10_epochs() -> None:
    seen: list[int] = []
    gradient_descent(log=lambda epoch, *_: seen.append(epoch))
    assert seen == list(range(0, 100, 10))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sgd_reaches_w_2(seed: int) -> None:
    res = stochastic_gradient_descent(w0=1.0, lr=0.01, epochs=100, seed=seed)
    assert res.w == pytest.approx(2.0, abs=1e-6)


def test_sgd_is_reproducible() -> None:
    a = stochastic_gradient_descent(epochs=5, seed=3)
    b = stochastic_gradient_descent(epochs=5, seed=3)
    assert a.costs == b.costs


def test_run_demo_narrates_all_three_methods() -> None:
    out = io.StringIO()
    results = run_demo(out=out)
    text = out.getvalue()
    for heading in ("Exhaustive search", "Gradient descent", "Stochastic gradient descent"):
        assert heading in text
    assert "prediction at x = 4: 8.0000" in text
    assert "epoch  90" in text
    assert len(text.splitlines()) < 40  # concise
    assert results["gd"].w == pytest.approx(2.0, abs=1e-3)


def test_main_demo_returns_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    captured = capsys.readouterr()
    assert "final w = 1.9999" in captured.out
    assert captured.err == ""


@pytest.mark.parametrize("argv", [[], ["no-such-command"], ["demo", "--seed", "x"]])
def test_usage_errors_are_one_line_exit_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("microgd: error: ")
    assert captured.out == ""


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "demo" in capsys.readouterr().out


def test_python_dash_m_runs_the_demo() -> None:
    env = dict(os.environ)
    # Run the source tree's package even when microgd is not installed.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, "-m", "microgd", "demo"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Stochastic gradient descent" in proc.stdout


def test_demo_values_are_plain_floats() -> None:
    res = gradient_descent(epochs=3)
    assert all(isinstance(c, float) for c in res.costs)
    assert isinstance(res.w, float) and np.isfinite(res.w)
