"""grid_search and coarse_to_fine: exact grid optima, convergence, cost, the multimodal
miss of lesson 2, NaN handling, bad input, and the two lesson examples."""

import importlib.util
import itertools
import math
import pathlib

import numpy as np
import pytest

import microgd as mg
from microgd import search
from microgd.search import SearchResult, coarse_to_fine, grid_search

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"
X = np.array([1.0, 2.0, 3.0])
Y = np.array([2.0, 4.0, 6.0])


def load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Counted:
    """Wraps f and records every point it is called with."""

    def __init__(self, f):
        self.f, self.points = f, []

    def __call__(self, p):
        assert isinstance(p, np.ndarray) and p.ndim == 1 and p.dtype == np.float64
        self.points.append(tuple(p.tolist()))
        return self.f(p)


def mse(p):
    return np.mean((X * p[0] - Y) ** 2)


def well(p):
    """Lesson 2's trap: broad basin at w = 3 (f = 1), narrow deeper well near w = 0.7."""
    return 0.5 * (p[0] - 3) ** 2 - 4 * np.exp(-200 * (p[0] - 0.7) ** 2) + 1


# ---- grid_search -------------------------------------------------------------------

def test_grid_search_course_toy():
    f = Counted(mse)
    r = grid_search(f, [(0, 4)], num=41)
    assert isinstance(r, SearchResult)
    assert r.x.shape == (1,) and r.x[0] == pytest.approx(2.0, abs=1e-15)
    assert r.value == pytest.approx(0.0, abs=1e-28)
    assert r.evaluations == 41 == len(f.points) and r.rounds == 1
    np.testing.assert_allclose(np.ravel(f.points), np.linspace(0, 4, 41), rtol=0, atol=0)


def test_grid_search_2d_finds_the_exact_grid_optimum():
    def f(p):
        x, y = p
        return np.sin(3 * x) * np.cos(2 * y) + 0.1 * (x ** 2 + y ** 2)

    bounds, num = [(-2.0, 2.0), (-1.0, 3.0)], 31
    r = grid_search(f, bounds, num)
    gx, gy = np.linspace(-2, 2, num), np.linspace(-1, 3, num)
    values = f(np.meshgrid(gx, gy, indexing="ij"))
    i, j = np.unravel_index(np.argmin(values), values.shape)
    np.testing.assert_array_equal(r.x, [gx[i], gy[j]])
    assert r.value == values.min()
    assert r.evaluations == num ** 2


def test_grid_search_num_per_dimension_and_3d():
    f = Counted(lambda p: float(np.sum((p - [0.5, -1.0, 2.0]) ** 2)))
    r = grid_search(f, [(0, 1), (-2, 0), (0, 4)], num=[3, 5, 9])
    np.testing.assert_allclose(r.x, [0.5, -1.0, 2.0])
    assert r.evaluations == 3 * 5 * 9 == len(set(f.points))
    r = grid_search(lambda p: p[0] + p[1], [(0, 1), (0, 1)], num=np.array([2, 3]))
    assert r.evaluations == 6


def test_grid_order_and_ties_go_to_first_point():
    f = Counted(lambda p: 0.0)
    r = grid_search(f, [(0, 1), (5, 6)], num=3)
    assert f.points == list(itertools.product([0.0, 0.5, 1.0], [5.0, 5.5, 6.0]))  # C order
    np.testing.assert_array_equal(r.x, [0.0, 5.0])
    r = grid_search(lambda p: (p[0] ** 2 - 1) ** 2, [(-1, 1)], num=5)  # minima at -1 and 1
    assert r.x[0] == -1.0


def test_f_may_return_value_or_numpy_scalar():
    r = grid_search(lambda p: ((mg.Value(p) - 2.0) ** 2).sum(), [(0, 4)], num=41)
    assert r.x[0] == pytest.approx(2.0) and isinstance(r.value, float)
    r = grid_search(lambda p: np.float32(abs(p[0] - 1)), [(0, 4)], num=5)
    assert r.x[0] == 1.0 and type(r.value) is float
    r = coarse_to_fine(lambda p: ((mg.Value(p) - 0.25) ** 2).sum(), [(0, 1)], tol=1e-6)
    assert r.x[0] == pytest.approx(0.25, abs=1e-6)


def test_degenerate_dimension_lo_equals_hi():
    f = Counted(lambda p: (p[0] - 1) ** 2 + p[1])
    r = grid_search(f, [(0, 2), (3, 3)], num=5)
    np.testing.assert_array_equal(r.x, [1.0, 3.0])
    assert r.evaluations == 25  # every grid point, repeated ones included
    r = coarse_to_fine(lambda p: (p[0] - 1) ** 2 + p[1], [(0, 2), (3, 3)], tol=1e-6)
    assert r.x[0] == pytest.approx(1.0, abs=1e-6) and r.x[1] == 3.0


# ---- NaN ---------------------------------------------------------------------------

def test_nan_is_never_best():
    r = grid_search(lambda p: math.nan if p[0] == 2.0 else mse(p), [(0, 4)], num=41)
    assert r.x[0] in (pytest.approx(1.9), pytest.approx(2.1))
    assert not math.isnan(r.value)
    # NaN first in grid order must not win the tie rule either
    r = grid_search(lambda p: math.nan if p[0] < 1 else math.inf, [(0, 2)], num=3)
    assert r.x[0] == 1.0 and r.value == math.inf


def test_nan_everywhere_raises():
    with pytest.raises(ValueError, match="NaN at all 5 grid points"):
        grid_search(lambda p: math.nan, [(0, 1)], num=5)
    with pytest.raises(ValueError, match="NaN at all 11 points of the first grid"):
        coarse_to_fine(lambda p: math.nan, [(0, 1)])


def test_coarse_to_fine_skips_nan_region():
    # f is undefined left of 0.5 (as log of a negative number would be)
    f = lambda p: (p[0] - 0.6) ** 2 if p[0] >= 0.5 else math.nan  # noqa: E731
    r = coarse_to_fine(f, [(0, 1)], num=11, tol=1e-8)
    assert r.x[0] == pytest.approx(0.6, abs=1e-8)


def test_coarse_to_fine_stops_when_a_round_is_all_nan():
    # f is finite only at w = 1/3, the interior best point of the first 4-point grid; with an
    # even num it is not on the next grid, which is then all NaN: keep the best and stop.
    third = np.linspace(0, 1, 4)[1]
    r = coarse_to_fine(lambda p: 0.0 if p[0] == third else math.nan, [(0, 1)], num=4)
    assert r.x[0] == third and r.value == 0.0 and r.rounds == 2
    assert r.evaluations == 4 + 2  # the new grid's two ends were points of the first


# ---- coarse_to_fine ----------------------------------------------------------------

def test_coarse_to_fine_1d_converges_with_few_evaluations():
    target = 1.2345678
    f = Counted(lambda p: (p[0] - target) ** 2 + 3.0)
    r = coarse_to_fine(f, [(-5, 5)], num=11, tol=1e-8)
    assert abs(r.x[0] - target) < 1e-6
    assert r.value == pytest.approx(3.0, abs=1e-12)
    assert r.evaluations == len(f.points) == len(set(f.points))  # real calls, none repeated
    grid_equivalent = 10 / 1e-6 + 1  # a grid fine enough for 1e-6
    assert r.evaluations < 200 < grid_equivalent / 1000


def test_coarse_to_fine_2d_converges_with_few_evaluations():
    a, b = 0.37, -1.21

    def f(p):
        u, v = p[0] - a, p[1] - b
        return u ** 2 + 2 * v ** 2 + 0.5 * u * v + u ** 4 + np.cosh(v) - 1

    counted = Counted(f)
    r = coarse_to_fine(counted, [(-2, 2), (-3, 1)], num=11, tol=1e-8)
    np.testing.assert_allclose(r.x, [a, b], atol=1e-6)
    assert r.evaluations == len(set(counted.points)) == len(counted.points)
    assert r.evaluations < 2000 < (4 / 1e-6 + 1) ** 2 / 1e9
    assert all(-2 <= x <= 2 and -3 <= y <= 1 for x, y in counted.points)


def test_reuse_of_shared_points_is_as_documented():
    # odd num, interior optimum: each round after the first costs num - 3 calls in 1-D
    r = coarse_to_fine(mse, [(0, 4)], num=11, tol=1e-6)
    assert r.evaluations == 11 + 8 * (r.rounds - 1)
    # 2-D: num**2 - 3**2 per round (the 3 x 3 previous points around the best are shared)
    r2 = coarse_to_fine(lambda p: (p[0] - 2) ** 2 + (p[1] - 2) ** 2, [(0, 4), (0, 4)], num=5,
                        tol=1e-6)
    assert r2.evaluations == 25 + 16 * (r2.rounds - 1)


@pytest.mark.parametrize("num", [4, 5, 6, 11, 12])
def test_coarse_to_fine_even_and_odd_num(num):
    r = coarse_to_fine(lambda p: (p[0] - 0.3) ** 2, [(-1, 1)], num=num, tol=1e-8)
    assert abs(r.x[0] - 0.3) < 1e-7


def test_minimum_on_the_boundary_stays_inside_bounds():
    f = Counted(lambda p: p[0] + 2 * p[1])
    r = coarse_to_fine(f, [(1, 3), (-1, 2)], num=6, tol=1e-6)
    np.testing.assert_array_equal(r.x, [1.0, -1.0])
    assert all(1 <= x <= 3 and -1 <= y <= 2 for x, y in f.points)


def test_max_rounds_and_stall_stop_the_search():
    r = coarse_to_fine(mse, [(0, 4)], num=11, tol=1e-12, max_rounds=3)
    assert r.rounds == 3 and r.evaluations == 11 + 8 + 8
    assert abs(r.x[0] - 2) <= 4 / 5 ** 3
    # tol below the float spacing: stops when the box cannot shrink, not after 10**6 rounds
    r = coarse_to_fine(lambda p: (p[0] - 1e3) ** 2, [(0, 4e3)], num=5, tol=1e-300,
                       max_rounds=10 ** 6)
    assert r.rounds < 200 and r.x[0] == 1e3


def test_box_already_within_tol_is_one_round():
    r = coarse_to_fine(lambda p: p[0], [(1, 1 + 1e-9)], num=5, tol=1e-8)
    assert r.rounds == 1 and r.evaluations == 5 and r.x[0] == 1.0


# ---- lesson 2: divide and conquer can miss a better minimum ------------------------

def test_coarse_to_fine_misses_the_narrow_global_minimum_a_fine_grid_finds():
    coarse = coarse_to_fine(well, [(0, 4)], num=5, tol=1e-6)
    assert coarse.x[0] == pytest.approx(3.0, abs=1e-6)
    assert coarse.value == pytest.approx(1.0, abs=1e-9)
    fine = grid_search(well, [(0, 4)], num=401)
    assert fine.x[0] == pytest.approx(0.70, abs=1e-12)
    assert fine.value == pytest.approx(0.5 * 2.3 ** 2 - 4 + 1, abs=1e-12)  # -0.355
    assert fine.value < coarse.value - 1.3
    # ... with fewer evaluations: cheap, but wrong
    assert coarse.evaluations < fine.evaluations / 5


# ---- bad input ---------------------------------------------------------------------

BAD = [
    ({"bounds": []}, r"bounds is empty"),
    ({"bounds": [(0, 1), (3, 2)]}, r"bounds\[1\] = \(3.0, 2.0\) has lo > hi"),
    ({"bounds": [(0, math.inf)]}, r"bounds\[0\] = \(0.0, inf\) is not finite"),
    ({"bounds": [(math.nan, 1)]}, r"bounds\[0\] = \(nan, 1.0\) is not finite"),
    ({"bounds": (0, 4)}, r"bounds\[0\] must be a \(lo, hi\) pair.*\[\(0, 4\)\]"),
    ({"bounds": [(0, 1, 2)]}, r"bounds\[0\] must be a \(lo, hi\) pair"),
    ({"bounds": [("a", 1)]}, r"bounds\[0\] must be a \(lo, hi\) pair"),
    ({"bounds": 4}, r"bounds must be a list of \(lo, hi\) pairs"),
    ({"num": 1}, r"num must be at least 2 points per dimension, got 1"),
    ({"num": 2.5}, r"num must be an integer"),
    ({"num": [5, 5]}, r"num has 2 entries but bounds has 1 dimensions"),
]


@pytest.mark.parametrize("kwargs, message", BAD)
@pytest.mark.parametrize("method", [grid_search, coarse_to_fine])
def test_bad_input_raises_before_any_evaluation(method, kwargs, message):
    f = Counted(mse)
    args = {"bounds": [(0, 4)], "num": 5, **kwargs}
    if method is coarse_to_fine and "at least 2" in message:
        message = r"num must be at least 4 points per dimension, got 1"
    with pytest.raises(ValueError, match=f"{method.__name__}: {message}"):
        method(f, **args)
    assert f.points == []


@pytest.mark.parametrize("kwargs, message", [
    ({"num": 3}, r"at least 4 points per dimension, got 3 \(with fewer"),
    ({"tol": 0}, r"tol must be a positive number, got 0"),
    ({"tol": -1e-3}, r"tol must be a positive number"),
    ({"tol": math.nan}, r"tol must be a positive number, got nan"),
    ({"max_rounds": 0}, r"max_rounds must be a positive integer, got 0"),
    ({"max_rounds": 2.5}, r"max_rounds must be a positive integer"),
])
def test_coarse_to_fine_bad_input(kwargs, message):
    f = Counted(mse)
    with pytest.raises(ValueError, match=message):
        coarse_to_fine(f, [(0, 4)], **kwargs)
    assert f.points == []


def test_other_bad_input():
    with pytest.raises(TypeError, match="f must be callable"):
        grid_search(3.0, [(0, 1)], 5)
    with pytest.raises(ValueError, match=r"f must return a scalar, got an array of shape \(2,\)"):
        grid_search(lambda p: np.ones(2), [(0, 1)], 5)
    f = Counted(mse)
    with pytest.raises(ValueError, match=r"11 x 11 x 11 x 11 x 11 x 11 x 11 = 19487171 points"):
        grid_search(f, [(0, 1)] * 7, 11)
    assert f.points == [] and search.MAX_EVALUATIONS == 10_000_000


# ---- the lesson examples -----------------------------------------------------------

def test_example_exhaustive_search(capsys):
    r = load("exhaustive_search").main(verbose=True)
    assert r["w_best"] == pytest.approx(2.0) and r["loss_best"] == pytest.approx(0.0, abs=1e-28)
    np.testing.assert_allclose(r["wb_best"], [2.0, 0.0], atol=1e-12)
    assert r["evaluations_1d"] == 41 and r["evaluations_2d"] == 41 ** 2
    assert r["evaluations_by_dimension"][10] == 41 ** 10
    out = capsys.readouterr().out
    assert "1681" in out and "w = 2.0" in out


def test_example_divide_and_conquer(capsys):
    r = load("divide_and_conquer").main(verbose=True)
    assert abs(r["w_best"] - 2) < 1e-6 and r["evaluations_1d"] < 100
    assert r["grid_evaluations_1d"] == 4_000_001
    np.testing.assert_allclose(r["wb_best"], [2.0, 0.0], atol=1e-6)
    assert r["evaluations_2d"] < 2000 < r["grid_evaluations_2d"] / 1e9
    assert r["coarse_w"] == pytest.approx(3.0, abs=1e-6)
    assert r["coarse_value"] == pytest.approx(1.0, abs=1e-9)
    assert r["fine_w"] == pytest.approx(0.7) and r["fine_value"] < -0.35
    assert r["coarse_evaluations"] < r["fine_evaluations"]
    assert r["well_by_num"][5] == pytest.approx(3.0, abs=1e-6)
    assert r["well_by_num"][7] == pytest.approx(0.7014, abs=1e-3)
    assert "stuck" in capsys.readouterr().out
