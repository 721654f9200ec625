"""Every example runs and shows what it claims (its numbers, not just that it ran)."""

import importlib.util
import pathlib

import numpy as np
import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_saddle_escape_2d():
    r = load("saddle_escape").saddle_2d(verbose=False)
    assert r["gd_grad_norm"] < 1e-8  # GD stalled: zero gradient
    np.testing.assert_allclose(r["gd_point"], [0.0, 0.0], atol=1e-9)
    assert r["kind"] == "saddle"
    np.testing.assert_allclose(r["eigenvalues"], [-2.0, 2.0])
    np.testing.assert_allclose(np.abs(r["escape_direction"]), [0.0, 1.0], atol=1e-12)
    assert r["f_after_step"] == pytest.approx(-0.25, abs=1e-12)
    assert r["f_after_more_gd"] < r["f_after_step"] < r["f_saddle"]


def test_saddle_escape_network(capsys):
    r = load("saddle_escape").saddle_network(verbose=True)
    assert r["gd_grad_norm"] == 0.0 and np.all(r["gd_point"] == 0)
    assert r["kind"] == "saddle" and r["eigenvalues"][0] < -1
    assert r["loss_after_step"] < r["loss_saddle"] - 1e-3
    assert r["loss_after_training"] < 0.01 * r["loss_saddle"]
    assert "saddle" in capsys.readouterr().out
