"""Certified critical points: gradient-flat regions (Frye et al. 2021), and an exact benchmark
with known answers, the deep linear autoencoder (Baldi & Hornik 1989)."""

import importlib.util
import pathlib

import numpy as np
import pytest

import microgd as mg

ROOT = pathlib.Path(__file__).resolve().parent.parent


def load_example(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tilted(v):
    """A valley floor with a slope of 1e-9 along it: no critical point anywhere."""
    return v[0] ** 2 + 1e-9 * v[1]


def softplus_tail(v):
    """One minimum at (0, log(e - 1)); towards y -> -inf a plateau whose gradient ~ e^y."""
    return v[0] ** 2 + (mg.log(1 + mg.exp(v[1])) - 1) ** 2


# ---- gradient-flat points -------------------------------------------------------------

def test_a_tiny_gradient_in_the_null_space_is_gradient_flat_not_critical():
    cp = mg.classify(tilted, np.array([0.0, 0.7]))
    assert cp.grad_norm == pytest.approx(1e-9) and cp.grad_norm <= cp.tol_grad
    assert cp.gradient_flat and cp.kind == "not critical"
    assert "gradient_flat=True" in repr(cp)
    assert mg.find_critical_points(tilted, [(-2, 2), (-2, 2)], starts=30) == []


def test_a_plateau_is_not_reported_as_critical_points():
    pts = mg.find_critical_points(softplus_tail, [(-2, 2), (-25, 6)], starts=60)
    assert [p.kind for p in pts] == ["minimum"]
    np.testing.assert_allclose(pts[0].x, [0.0, np.log(np.e - 1)], atol=1e-10)
    # on the plateau a small gradient (inside tol_grad) is flagged, and a larger one too
    for y in (-16.0, -9.0):
        cp = mg.classify(softplus_tail, np.array([0.0, y]))
        assert cp.gradient_flat and cp.kind == "not critical", y
    assert mg.classify(softplus_tail, np.array([0.0, -16.0])).grad_norm <= \
        mg.classify(softplus_tail, np.array([0.0, -16.0])).tol_grad


def test_without_the_flag_the_plateau_would_pass_the_gradient_test():
    """What the flag changes: here |g| <= tol_grad and the spectrum says 'degenerate'."""
    cp = mg.classify(softplus_tail, np.array([0.0, -16.0]))
    lam_min, lam_max = cp.eigenvalues[0], cp.eigenvalues[-1]
    assert abs(lam_min) <= cp.tol_eig < lam_max and cp.grad_norm <= cp.tol_grad


@pytest.mark.parametrize("f, x, kind", [
    (lambda v: v[0] ** 4 + v[1] ** 2, [1e-4, 0.0], "degenerate"),   # near x*: Newton points there
    (lambda v: v[0] ** 2 - v[1] ** 2 + v[2] ** 4, [0.0, 0.0, 3e-5], "saddle"),
    (lambda v: v[0] ** 2 + 3 * v[1] ** 2, [1e-12, -1e-12], "minimum"),
    (lambda v: v[0] ** 2 + v[1] ** 2, [1.0, 0.0], "not critical"),  # plainly not critical
    (lambda v: v[0] ** 2 + 1e-9 * v[1], [1.0, 0.0], "not critical"),  # curved part too large
])
def test_true_critical_points_and_plain_slopes_are_not_flagged(f, x, kind):
    cp = mg.classify(f, np.array(x))
    assert cp.kind == kind and not cp.gradient_flat


def test_degenerate_critical_points_are_still_found():
    pts = mg.find_critical_points(lambda v: v[0] ** 4 + v[1] ** 2, [(-1, 1), (-1, 1)], starts=20)
    assert [p.kind for p in pts] == ["degenerate"] and not pts[0].gradient_flat


def test_gradient_flat_under_lanczos_agrees_with_dense():
    n = 40
    a = np.linspace(1.0, 3.0, n - 1)

    def f(v):
        return (a * v[:-1] ** 2).sum() + 1e-9 * v[-1]

    x = np.zeros(n)
    dense = mg.classify(f, x, method="dense")
    lanczos = mg.classify(f, x, method="lanczos")
    assert dense.gradient_flat and lanczos.gradient_flat
    assert dense.kind == lanczos.kind == "not critical"
    # and a true minimum is certified by both
    g = lambda v: (a * v[:-1] ** 2).sum() + v[-1] ** 2  # noqa: E731
    assert mg.classify(g, x, method="lanczos").kind == "minimum"


def test_critical_point_has_the_field_with_a_default():
    cp = mg.classify(lambda v: (v ** 2).sum(), np.zeros(2))
    assert cp.gradient_flat is False
    assert "gradient_flat" not in repr(cp)


# ---- find_critical_points from given starts --------------------------------------------

def test_starts_of_your_own_without_a_box():
    f = lambda v: (v[0] ** 2 - 1) ** 2 + v[1] ** 2  # noqa: E731  minima at x = +-1, saddle at 0
    pts = mg.find_critical_points(f, None, starts=0, x0=[[0.9, 0.1], [-1.2, 0.3], [0.05, 0.0]])
    assert sorted((round(float(p.x[0]), 9), p.kind) for p in pts) == [
        (-1.0, "minimum"), (0.0, "saddle"), (1.0, "minimum")]
    # with a box, the given starts come first and the random ones after them
    both = mg.find_critical_points(f, [(-0.5, 0.5), (-1, 1)], starts=5, x0=[0.9, 0.1])
    assert sorted(round(float(p.x[0]), 9) for p in both) == [0.0]  # x = 1 is outside the box


@pytest.mark.parametrize("kwargs, message", [
    ({"bounds": None}, "bounds is None; give a box"),
    ({"bounds": None, "x0": [[np.nan, 0.0]]}, "x0 holds NaN"),
    ({"bounds": [(-1, 1)], "x0": [[0.0, 0.0]]}, "x0 has points of 2 coordinates but bounds has 1"),
    ({"bounds": None, "x0": np.zeros((0, 2))}, r"shape \(0, 2\)"),
    ({"bounds": None, "x0": "ab"}, "x0 must be an array"),
    ({"bounds": [(-1, 1), (-1, 1)], "starts": 0}, "starts must be at least 1"),
    ({"bounds": None, "x0": [[0.0, 0.0]], "starts": -1}, "starts must be at least 0"),
])
def test_starts_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        mg.find_critical_points(lambda v: (v ** 2).sum(), **kwargs)


# ---- the deep linear autoencoder: every critical point known --------------------------

AE = load_example("linear_autoencoder")


def test_autoencoder_data_has_the_covariance_it_claims():
    X, U = AE.make_data(0)
    np.testing.assert_allclose(X @ X.T, U @ np.diag(AE.EIGENVALUES) @ U.T, atol=1e-12)
    assert len(AE.subsets()) == 11
    losses = [AE.analytic_loss(s) for s in AE.subsets()]
    assert len(set(losses)) == 11 and min(losses) == 1.5 and max(losses) == 7.5


def test_autoencoder_analytic_critical_points_classify_as_predicted():
    for r in AE.check_analytic():
        assert r["grad_norm"] < 1e-13, r
        assert r["loss"] == pytest.approx(r["expected_loss"], abs=1e-12), r
        assert r["kind"] == r["expected_kind"], r
        if r["kind"] == "saddle":
            assert r["lambda_min"] < -0.5, r  # strict saddles: a clear negative eigenvalue
        else:  # the minimum: flat only along the GL(2) orbit (dimension p**2 = 4)
            assert r["subset"] == (0, 1) and r["nullity"] == AE.HIDDEN ** 2, r


def test_autoencoder_find_from_nearby_starts_finds_all_eleven_to_1e8():
    X, U = AE.make_data(0)
    f = AE.make_loss(X)
    rng = np.random.default_rng(5)
    x0 = np.array([AE.critical_point(s, U, rng) + 0.1 * rng.standard_normal(16)
                   for s in AE.subsets()])
    pts = mg.find_critical_points(f, None, starts=0, x0=x0)
    table = {s: AE.analytic_loss(s) for s in AE.subsets()}
    found = set()
    for p in pts:
        s = min(table, key=lambda t: abs(table[t] - p.value))
        assert abs(p.value - table[s]) <= 1e-8
        assert p.kind == AE.analytic_kind(s)
        found.add(s)
    assert found == set(table)


def test_autoencoder_find_from_random_starts_agrees_with_the_analysis():
    r = AE.search(starts=40, seed=0)
    assert r["points"] and r["max_loss_error"] <= 1e-8 and r["wrong_kinds"] == []
    assert (0, 1) in r["found"]                        # the global minimum (PCA)
    assert len(r["found"]) >= 4                        # and several saddles
    values = [p.value for p in r["points"]]
    assert values == sorted(values)
