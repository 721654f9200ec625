"""find_critical_points: only finite points, and each critical point or flat set once."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import microgd as mg
from microgd.cli import main
from microgd.expr import parse

FEW = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def all_finite(points):
    return all(np.isfinite(p.x).all() and np.isfinite(p.value) and np.isfinite(p.grad_norm)
               and np.isfinite(p.eigenvalues).all() for p in points)


def x_log_x(v):
    return v[0] * v[0].log()


def test_x_log_x_gives_only_its_finite_minimum():
    # f is NaN for x < 0: no start there, and no Newton step there, may come back.
    with np.errstate(all="ignore"):
        pts = mg.find_critical_points(x_log_x, [(-1, 1)])
    assert all_finite(pts)
    assert [p.kind for p in pts] == ["minimum"]
    assert pts[0].x[0] == pytest.approx(np.exp(-1), abs=1e-12)
    assert pts[0].value == pytest.approx(-np.exp(-1), abs=1e-12)


@FEW
@given(seed=st.integers(0, 2**16), starts=st.integers(1, 40), lo=st.floats(-3, 0.2))
def test_never_a_non_finite_point(seed, starts, lo):
    with np.errstate(all="ignore"):
        pts = mg.find_critical_points(x_log_x, [(lo, 1.5)], starts=starts, seed=seed)
    assert all_finite(pts)
    assert len(pts) <= 1 and all(p.kind == "minimum" for p in pts)


def test_a_flat_bowl_is_one_point():
    # Newton converges only linearly to the flat minimum of x**4 + y**4, so its
    # 200 runs end at 200 different points within ~1e-4 of 0: one critical point.
    pts = mg.find_critical_points(lambda v: v[0] ** 4 + v[1] ** 4, [(-1, 1), (-1, 1)])
    assert [p.kind for p in pts] == ["degenerate"]
    assert np.abs(pts[0].x).max() < 1e-4


@FEW
@given(c=st.lists(st.floats(0.2, 5), min_size=1, max_size=3), half=st.sampled_from([2, 3]),
       seed=st.integers(0, 2**16))
def test_flat_minima_of_any_order_are_reported_once(c, half, seed):
    coef = np.array(c)
    f = lambda v: (coef * v ** (2 * half)).sum()  # noqa: E731
    pts = mg.find_critical_points(f, [(-1, 1)] * len(c), starts=25, seed=seed)
    assert [p.kind for p in pts] == ["degenerate"]
    assert np.abs(pts[0].x).max() < 0.05


def test_a_saddle_is_one_point():
    pts = mg.find_critical_points(lambda v: v[0] ** 2 - v[1] ** 2, [(-1, 1), (-1, 1)])
    assert [p.kind for p in pts] == ["saddle"]
    assert np.abs(pts[0].x).max() < 1e-12


def test_a_ring_of_minima_is_a_few_points_and_the_top_a_maximum():
    f = lambda v: (v[0] ** 2 + v[1] ** 2 - 1) ** 2  # noqa: E731
    pts = mg.find_critical_points(f, [(-2, 2), (-2, 2)])
    kinds = [p.kind for p in pts]
    assert kinds[-1] == "maximum" and np.abs(pts[-1].x).max() < 1e-12
    ring = pts[:-1]
    assert 1 <= len(ring) <= 12 and set(kinds[:-1]) == {"degenerate"}
    for p in ring:
        assert np.linalg.norm(p.x) == pytest.approx(1.0, abs=1e-9)


def test_separate_flat_valleys_stay_separate():
    # (y**2 - 1)**2 does not depend on x: the lines y = -1, 0, 1 are critical,
    # flat along x; one point for each line, none merged across.
    f = lambda v: (v[1] ** 2 - 1) ** 2 + 0 * v[0]  # noqa: E731
    pts = mg.find_critical_points(f, [(-1, 1), (-2, 2)])
    assert [p.kind for p in pts] == ["degenerate"] * 3
    np.testing.assert_allclose(sorted(p.x[1] for p in pts), [-1, 0, 1], atol=1e-9)


def test_nearby_isolated_points_are_not_merged():
    # Three nondegenerate critical points 1e-3 apart, curvatures of order 1.
    eps = 1e-3
    f = lambda v: eps ** 2 * ((v[0] / eps) ** 4 / 4 - (v[0] / eps) ** 2 / 2) + v[1] ** 2  # noqa: E731,E501
    pts = mg.find_critical_points(f, [(-2 * eps, 2 * eps), (-1, 1)], starts=60)
    assert sorted(p.kind for p in pts) == ["minimum", "minimum", "saddle"]
    np.testing.assert_allclose(sorted(p.x[0] for p in pts), [-eps, 0, eps], atol=1e-12)


# ---- the command line prints what the library returns ---------------------------------


def critical_json(capsys, *argv):
    assert main(["critical", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_cli_critical_is_the_library(capsys):
    data = critical_json(capsys, "x*log(x)", "--bounds", "-1:1", "--starts", "50")
    assert [p["kind"] for p in data["points"]] == ["minimum"]
    assert data["points"][0]["x"] == [pytest.approx(np.exp(-1), abs=1e-12)]
    assert "dropped_not_finite" not in data
    data = critical_json(capsys, "x**4 + y**4", "--bounds", "-1:1,-1:1", "--starts", "40")
    assert data["count"] == 1 and data["counts"] == {"degenerate": 1}
    with np.errstate(all="ignore"):
        lib = mg.find_critical_points(parse("x**4 + y**4").to_function(),
                                      [(-1, 1), (-1, 1)], starts=40, seed=0)
    assert data["points"][0]["x"] == pytest.approx(lib[0].x.tolist(), abs=0)


def test_cli_classify_names_the_saddle_with_a_flat_direction(capsys):
    assert main(["classify", "x**2 - y**2 + z**4", "--at", "0,0,0", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["kind"] == "saddle" and data["tol_eig"] > 0 and data["tol_grad"] > 0


def himmelblau(v):
    return (v[0] ** 2 + v[1] - 11) ** 2 + (v[0] + v[1] ** 2 - 7) ** 2


@pytest.mark.parametrize("c", [1e-20, 1e20])
def test_finding_does_not_depend_on_the_units_of_f(c):
    # Newton's stopping rule is relative to the box's curvature, as classify's is.
    pts = mg.find_critical_points(lambda v: c * himmelblau(v), [(-5, 5), (-5, 5)], starts=60)
    assert sorted(p.kind for p in pts) == ["maximum"] + ["minimum"] * 4 + ["saddle"] * 4


def test_a_constant_is_one_flat_set():
    pts = mg.find_critical_points(lambda v: 0 * v.sum() + 3.0, [(-1, 1), (-1, 1)], starts=20)
    assert [p.kind for p in pts] == ["degenerate"] and pts[0].value == 3.0
    assert pts[0].tol_grad > 0 and pts[0].tol_eig > 0


def test_a_slope_has_no_critical_points():
    assert mg.find_critical_points(lambda v: v[0] + 2 * v[1], [(-1, 1), (-1, 1)],
                                   starts=5) == []


def test_cli_classify_rejects_a_bad_tolerance(capsys):
    assert main(["classify", "x**2", "--at", "0", "--tol", "-1"]) == 2
    assert "--tol must be a positive number, got -1" in capsys.readouterr().err
