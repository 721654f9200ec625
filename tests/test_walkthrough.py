"""The course walk-through behind ``microgd demo``: its narrated numbers and its pictures."""

import contextlib
import importlib.util
import io
import pathlib

import numpy as np
import pytest

from microgd import walkthrough

PLOTS = ["loss_curves.png", "saddle_landscape.png", "saddle_spectrum.png",
         "momentum_landscape.png"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """One narrated run shared by the tests: (result, printed log, output folder)."""
    out = tmp_path_factory.mktemp("demo") / "pictures"  # not there yet: run creates it
    log = io.StringIO()
    with contextlib.redirect_stdout(log):
        result = walkthrough.run(out=out, verbose=True, seed=0)
    return result, log.getvalue(), out


def test_every_step_is_narrated_in_order(demo):
    _, log, _ = demo
    headings = ["1. Exhaustive search", "2. Divide and conquer", "3. Gradient descent",
                "4. SGD", "5. Mini-batch", "6. A learning rate too large", "7. A saddle point",
                "8. Momentum"]
    positions = [log.index(h) for h in headings]
    assert positions == sorted(positions)
    assert "DivergenceError caught" in log and "smaller learning rate" in log
    assert "prediction at x = 4: 7.9998" in log
    assert all(len(line) <= 100 for line in log.splitlines())


def test_search_and_divide_and_conquer(demo):
    r, _, _ = demo
    assert r["search"]["w"] == 2.0 and r["search"]["evaluations"] == 41
    assert r["search"]["evaluations_2d"] == 41 ** 2
    dc = r["divide_and_conquer"]
    assert abs(dc["w"] - 2.0) < 1e-6
    assert dc["evaluations"] < 100 < dc["grid_evaluations"]  # far fewer for the same precision
    missed = dc["missed"]  # ... but zooming can miss a narrow, deeper minimum
    assert missed["zoom_w"] == pytest.approx(3.0) and missed["grid_w"] == pytest.approx(0.7)
    assert missed["grid_value"] < missed["zoom_value"]


def test_gd_sgd_minibatch_reach_w_2(demo):
    r, _, _ = demo
    assert abs(r["gd"]["w"] - 2.0) < 1e-3
    assert r["gd"]["prediction"] == pytest.approx(8.0, abs=4e-3)
    assert r["gd"]["steps"] == 100
    assert (r["sgd"]["steps"], r["minibatch"]["steps"]) == (300, 200)
    for name in ("sgd", "minibatch"):
        assert r[name]["prediction"] == pytest.approx(8.0, abs=1e-6)
        # more updates per epoch: lower cost than GD after the same 10 epochs
        assert r[name]["cost_after_10_epochs"] < r["gd"]["cost_after_10_epochs"]


def test_divergence_is_caught(demo):
    d = demo[0]["divergence"]
    assert d["diverged"] and d["factor"] < -1
    assert np.isfinite(d["w"]) and d["steps"] < 100
    assert "smaller learning rate" in d["message"]


def test_saddle_told_apart_and_escaped(demo):
    s = demo[0]["saddle"]
    assert s["kind"] == "saddle" and s["grad_norm"] < 1e-8
    np.testing.assert_allclose(s["eigenvalues"], [-2.0, 2.0])
    np.testing.assert_allclose(np.abs(s["escape_direction"]), [0.0, 1.0], atol=1e-12)
    assert s["f_after_step"] == pytest.approx(-0.25)
    assert s["f_after_gd"] < s["f_after_step"] < s["f_saddle"]


def test_momentum_carries_past_the_local_minimum(demo):
    m = demo[0]["momentum"]
    assert m["momentum_global"] and not m["gd_global"]
    assert m["gd_w"] == pytest.approx(walkthrough.BUMPY_LOCAL_MIN, abs=1e-4)
    assert m["momentum_w"] == pytest.approx(walkthrough.BUMPY_GLOBAL_MIN, abs=1e-4)


@pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None,
                    reason="the pictures need matplotlib")
def test_plots_are_written(demo):
    r, log, out = demo
    assert [pathlib.Path(p).name for p in r["plots"]] == PLOTS
    for name in PLOTS:
        data = (out / name).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 10_000
    assert "pictures written to" in log


def test_fast_enough(demo):
    assert demo[0]["seconds"] < 60


def test_quiet_run_without_pictures(tmp_path, monkeypatch, capsys):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "matplotlib" else find_spec(name, *a))
    r = walkthrough.run(out=tmp_path / "none", verbose=False)
    assert r["plots"] == [] and not (tmp_path / "none").exists()
    assert capsys.readouterr().out == ""
    # the numbers do not depend on whether pictures are drawn
    assert abs(r["gd"]["w"] - 2.0) < 1e-3 and r["saddle"]["kind"] == "saddle"
