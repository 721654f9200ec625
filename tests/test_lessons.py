"""The course's shared data and losses (``microgd.lessons``): their facts, and their one home."""

from __future__ import annotations

import ast
import importlib.util
import pathlib

import numpy as np
import pytest

import microgd as mg
from microgd import lessons, walkthrough

ROOT = pathlib.Path(__file__).resolve().parent.parent


def load_example(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cost_is_the_toy_models_mse_and_differentiates():
    w = mg.Value(1.0)
    c = lessons.cost(w)
    c.backward()
    assert c.item() == pytest.approx(14 / 3)
    # d/dw mean((x w - y)^2) = 2 (w - 2) mean(x^2) on y = 2x
    assert float(w.grad) == pytest.approx(2 * (1.0 - 2.0) * np.mean(lessons.X_DATA ** 2))
    assert lessons.cost(2.0) == 0.0
    assert lessons.mse_w(np.array([1.5])) == pytest.approx(float(lessons.cost(1.5)))
    assert lessons.mse_wb(np.array([2.0, 0.5])) == pytest.approx(0.25)


def test_bumpy_constants_are_its_critical_points():
    f = mg.grad(lessons.bumpy)
    for w, curvature_sign in [(lessons.BUMPY_GLOBAL_MIN, 1), (lessons.BUMPY_MAX, -1),
                              (lessons.BUMPY_LOCAL_MIN, 1)]:
        assert abs(f(np.array([w]))[0]) < 1e-6
        assert np.sign(12 * w ** 2 - 8) == curvature_sign
    values = [float(lessons.bumpy(np.array([w])))
              for w in (lessons.BUMPY_GLOBAL_MIN, lessons.BUMPY_LOCAL_MIN)]
    assert values[0] < values[1]  # the global minimum is the deeper one


def test_well_is_deeper_than_the_basin_and_narrow():
    assert lessons.well(np.array([3.0])) == pytest.approx(1.0, abs=1e-12)
    assert lessons.well(np.array([0.7])) < -0.35
    assert lessons.well(np.array([0.9])) > 0.5  # 0.2 away it is gone: narrow


def test_saddle_is_a_saddle():
    cp = mg.classify(lessons.saddle, np.zeros(2))
    assert cp.kind == "saddle"
    np.testing.assert_allclose(cp.eigenvalues, [-2.0, 2.0])


@pytest.mark.parametrize("example,names", [
    ("exhaustive_search", ["mse_w", "mse_wb"]),
    ("divide_and_conquer", ["mse_w", "mse_wb", "well"]),
    ("gradient_descent", ["X_DATA", "Y_DATA", "cost"]),
    ("learning_rate", ["X_DATA", "Y_DATA", "cost"]),
    ("momentum", ["bumpy", "BUMPY_GLOBAL_MIN", "BUMPY_LOCAL_MIN"]),
    ("initialization", ["bumpy"]),
    ("saddle_escape", ["saddle"]),
])
def test_the_examples_use_the_shared_definitions(example, names):
    module = load_example(example)
    for name in names:
        assert getattr(module, name) is getattr(lessons, name), f"{example}.{name}"


def test_the_walkthrough_reexports_the_shared_definitions():
    for name in set(walkthrough.__all__) - {"run"}:
        assert getattr(walkthrough, name) is getattr(lessons, name)


def _defined_names(path):
    """Top-level and nested function names and module-level constants a file defines."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                names.update(t.id for t in ast.walk(target) if isinstance(t, ast.Name))
    return names


def test_no_shared_definition_is_written_again():
    files = [ROOT / "microgd" / "walkthrough.py", *sorted((ROOT / "examples").glob("*.py"))]
    shared = set(lessons.__all__)
    again = {p.name: sorted(_defined_names(p) & shared) for p in files}
    assert {k: v for k, v in again.items() if v} == {}
