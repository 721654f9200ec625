"""Hessian spectrum, trace, density; classification of critical points; finding them all."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import microgd as mg
import microgd.classification as classification
import microgd.curvature as curvature


def quadratic(A):
    return lambda x: 0.5 * (x @ (A @ x))


def symmetric_with_spectrum(eigs, seed=0):
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((len(eigs), len(eigs))))
    return (Q * eigs) @ Q.T


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lanczos_matches_dense_on_n500_with_negative_eigenvalues(seed):
    rng = np.random.default_rng(100 + seed)
    n = 500
    bulk = rng.uniform(-4, 4, n - 8)
    eigs = np.concatenate([[-90.0, -60.0, -35.0, -20.0], bulk, [18.0, 40.0, 70.0, 100.0]])
    A = symmetric_with_spectrum(eigs, seed)
    f = quadratic(A)
    x = np.zeros(n)
    exact = np.linalg.eigvalsh(A)
    lz = mg.hessian_eigs(f, x, k=4, which="both", method="lanczos", seed=seed)
    assert lz.method == "lanczos" and lz.converged
    want = np.concatenate([exact[:4], exact[-4:]])
    np.testing.assert_allclose(lz.eigenvalues, want, rtol=1e-8)
    assert lz.n_hvp < 200  # far fewer products than n
    # eigenvectors: unit norm, and H v = lambda v up to the reported residuals
    vecs = lz.eigenvectors
    assert vecs.shape == (8, n)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, rtol=1e-10)
    true_res = np.linalg.norm(vecs @ A - lz.eigenvalues[:, None] * vecs, axis=1)
    np.testing.assert_allclose(true_res, lz.residuals, rtol=1e-3, atol=1e-10)


def test_dense_eigs_which_and_shapes():
    A = symmetric_with_spectrum(np.array([-3.0, -1.0, 0.5, 2.0, 7.0]))
    f = quadratic(A)
    x = np.zeros(5)
    r = mg.hessian_eigs(f, x, k=2, which="largest")
    np.testing.assert_allclose(r.eigenvalues, [2.0, 7.0], rtol=1e-12)
    assert r.method == "dense" and r.converged and r.n_hvp == 5
    np.testing.assert_allclose(mg.hessian_eigs(f, x, k=1, which="smallest").eigenvalues, [-3.0])
    both = mg.hessian_eigs(f, x, k=3)  # 2k > n: each eigenvalue once
    np.testing.assert_allclose(both.eigenvalues, [-3.0, -1.0, 0.5, 2.0, 7.0], rtol=1e-12)
    assert np.all(both.residuals < 1e-12)


def test_eigenvectors_come_back_in_x_shape():
    f = lambda W: (W ** 2 * np.arange(1.0, 7.0).reshape(2, 3)).sum()  # noqa: E731
    r = mg.hessian_eigs(f, np.zeros((2, 3)), k=1)
    assert r.eigenvectors.shape == (2, 2, 3)
    np.testing.assert_allclose(r.eigenvalues, [2.0, 12.0])
    assert abs(r.eigenvectors[1][1, 2]) == pytest.approx(1.0)


def test_list_of_parameters():
    f = lambda ps: (ps[0] ** 2).sum() - 3 * (ps[1] ** 2).sum()  # noqa: E731
    x = [np.ones(2), np.ones(1)]
    r = mg.hessian_eigs(f, x, k=1)
    np.testing.assert_allclose(r.eigenvalues, [-6.0, 2.0])
    assert isinstance(r.eigenvectors[0], list) and r.eigenvectors[0][1].shape == (1,)
    cp = mg.classify(f, [np.zeros(2), np.zeros(1)])
    assert cp.kind == "saddle" and isinstance(cp.escape_direction, list)
    np.testing.assert_allclose(np.abs(cp.escape_direction[1]), [1.0])


def test_trace_within_three_standard_errors():
    A = symmetric_with_spectrum(np.linspace(-5, 20, 60), seed=3)
    t = mg.hessian_trace(quadratic(A), np.zeros(60), samples=200, seed=1)
    assert t.samples == 200 and t.stderr > 0
    assert abs(t.estimate - np.trace(A)) < 3 * t.stderr


def test_density_peaks_at_eigenvalues_and_integrates_to_one():
    A = symmetric_with_spectrum(np.array([-2.0] * 10 + [3.0] * 30), seed=4)
    d = mg.hessian_density(quadratic(A), np.zeros(40), steps=40, runs=2, grid=2001)
    dx = d.grid[1] - d.grid[0]
    assert d.density.sum() * dx == pytest.approx(1.0)
    mass_near = lambda c: d.density[np.abs(d.grid - c) < 0.1].sum() * dx  # noqa: E731
    assert mass_near(3.0) == pytest.approx(0.75, abs=0.15)
    assert mass_near(-2.0) == pytest.approx(0.25, abs=0.15)


TEXTBOOK = [
    ("x^2+y^2", lambda v: v[0] ** 2 + v[1] ** 2, [0.0, 0.0], "minimum"),
    ("x^2-y^2", lambda v: v[0] ** 2 - v[1] ** 2, [0.0, 0.0], "saddle"),
    ("-x^2-y^2", lambda v: -v[0] ** 2 - v[1] ** 2, [0.0, 0.0], "maximum"),
    ("monkey saddle", lambda v: v[0] ** 3 - 3 * v[0] * v[1] ** 2, [0.0, 0.0], "degenerate"),
    ("x^4+y^4", lambda v: v[0] ** 4 + v[1] ** 4, [0.0, 0.0], "degenerate"),
    ("rosenbrock", lambda v: (1 - v[0]) ** 2 + 100 * (v[1] - v[0] ** 2) ** 2, [1.0, 1.0],
     "minimum"),
    ("sloped", lambda v: v[0] ** 2 + v[1], [0.0, 0.0], "not critical"),
    ("x^2-y^2 off", lambda v: v[0] ** 2 - v[1] ** 2, [0.1, 0.0], "not critical"),
]


@pytest.mark.parametrize(("name", "f", "x", "kind"), TEXTBOOK, ids=[t[0] for t in TEXTBOOK])
def test_classify_textbook_cases(name, f, x, kind):
    cp = mg.classify(f, np.array(x))
    assert cp.kind == kind
    assert cp.tol_eig > 0 and cp.tol_grad > 0
    if kind in ("minimum", "degenerate"):
        assert cp.escape_direction is None


def test_saddle_escape_direction_descends():
    f = lambda v: v[0] ** 2 - v[1] ** 2 + 0.5 * v[0] * v[1]  # noqa: E731
    cp = mg.classify(f, np.zeros(2))
    assert cp.kind == "saddle" and cp.grad_norm == 0
    e = cp.escape_direction
    assert np.linalg.norm(e) == pytest.approx(1.0)
    H = mg.hessian(f)(np.zeros(2))
    assert e @ H @ e == pytest.approx(cp.eigenvalues[0]) and cp.eigenvalues[0] < 0
    for step in (1e-3, 1e-1):
        assert f(mg.Value(step * e)).item() < 0 and f(mg.Value(-step * e)).item() < 0


def test_maximum_has_escape_direction_and_tol_scales():
    cp = mg.classify(lambda v: -(v ** 2).sum(), np.zeros(3))
    assert cp.kind == "maximum" and cp.escape_direction is not None
    cp2 = mg.classify(lambda v: v[0] ** 2 + 1e-4 * v[1] ** 2, np.zeros(2), tol=1e-3)
    assert cp2.kind == "degenerate" and cp2.tol_eig == pytest.approx(2e-3)
    cp3 = mg.classify(lambda v: v[0] ** 2 + 1e-4 * v[1] ** 2, np.zeros(2))
    assert cp3.kind == "minimum"
    tiny = mg.classify(lambda v: 1e-9 * (v ** 2).sum(), np.zeros(2))
    assert tiny.kind == "minimum"  # relative tolerances: scale does not matter


def test_classify_any_shape():
    cp = mg.classify(lambda W: (W ** 2).sum() - 2 * W[0, 0] ** 2, np.zeros((2, 2)))
    assert cp.kind == "saddle" and cp.escape_direction.shape == (2, 2)
    assert abs(cp.escape_direction[0, 0]) == pytest.approx(1.0)
    assert cp.eigenvectors.shape == (4, 2, 2)


def himmelblau(v):
    return (v[0] ** 2 + v[1] - 11) ** 2 + (v[0] + v[1] ** 2 - 7) ** 2


def test_find_all_nine_critical_points_of_himmelblau():
    pts = mg.find_critical_points(himmelblau, [(-5, 5), (-5, 5)], starts=200, seed=0)
    kinds = [p.kind for p in pts]
    assert len(pts) == 9
    assert kinds.count("minimum") == 4 and kinds.count("saddle") == 4
    assert kinds.count("maximum") == 1
    minima = sorted(tuple(np.round(p.x, 6)) for p in pts if p.kind == "minimum")
    assert (3.0, 2.0) in minima
    for p in pts:
        assert p.grad_norm < 1e-8
    assert pts[-1].kind == "maximum"
    np.testing.assert_allclose(pts[-1].x, [-0.270845, -0.923039], atol=1e-6)
    assert [p.value for p in pts] == sorted(p.value for p in pts)


def test_find_critical_points_one_dimension_and_box():
    pts = mg.find_critical_points(lambda v: (v ** 4 - 2 * v ** 2).sum(), [(-2, 2)], starts=30)
    assert [p.kind for p in pts] == ["minimum", "minimum", "maximum"]
    np.testing.assert_allclose(sorted(float(p.x[0]) for p in pts), [-1, 0, 1], atol=1e-9)
    inside = mg.find_critical_points(lambda v: (v ** 4 - 2 * v ** 2).sum(), [(0.5, 2)],
                                     starts=30)
    assert [round(float(p.x[0]), 9) for p in inside] == [1.0]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: mg.hessian_eigs(lambda x: (x ** 2).sum(), np.zeros(3), k=4),
         r"k=4 is larger than the number of parameters n=3"),
        (lambda: mg.hessian_eigs(lambda x: (x ** 2).sum(), np.zeros(3), k=0), "positive"),
        (lambda: mg.hessian_eigs(lambda x: (x ** 2).sum(), np.zeros(3), which="top"),
         "which must be"),
        (lambda: mg.hessian_eigs(lambda x: x ** 2, np.zeros(3), k=1), "must return a scalar"),
        (lambda: mg.classify(lambda x: x * 2, np.zeros(2)), "must return a scalar"),
        (lambda: mg.find_critical_points(himmelblau, [(5, -5), (-5, 5)]),
         r"bounds\[0\] has low 5.0 > high -5.0"),
        (lambda: mg.find_critical_points(himmelblau, [(0, np.inf)]), "finite"),
        (lambda: mg.find_critical_points(himmelblau, [1, 2]), r"\(low, high\) pairs"),
        (lambda: mg.hessian_trace(lambda x: x.sum(), np.zeros(2), samples=1), "at least 2"),
        (lambda: mg.find_critical_points(himmelblau, [(0, 1)], tol=0.0),
         "find_critical_points: tol must be positive and finite, got 0.0"),
        (lambda: mg.classify(lambda x: (x ** 2).sum(), np.zeros(2), scale=-1.0),
         "classify: scale must be non-negative and finite, got -1.0"),
    ],
)
def test_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_degenerate_root_in_one_dimension_is_degenerate():
    # Newton stalls near the degenerate root of x**3 with a tiny positive
    # curvature; only the box's reference scale shows it is negligible.
    pts = mg.find_critical_points(lambda v: (v ** 3).sum(), [(-1, 1)], starts=20)
    assert [p.kind for p in pts] == ["degenerate"]
    assert mg.classify(lambda v: (v ** 3).sum(), np.array([1e-7]), scale=3.0).kind == \
        "degenerate"


# ---- the classification rule (DESIGN, Curvature): the same for dense and Lanczos -----------

FAST = settings(max_examples=25, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


def quadratic_plus_quartic(eigs, seed):
    """0.5 v^T A v with spectrum ``eigs``, plus a quartic along A's null directions.

    The quartic keeps zero-curvature directions genuinely flat (not merely
    linear), as in x**2 - y**2 + z**4.
    """
    eigs = np.asarray(eigs, dtype=float)
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((len(eigs), len(eigs))))
    A = (Q * eigs) @ Q.T
    Z = Q[:, eigs == 0]

    def f(v):
        out = 0.5 * (v @ (A @ v))
        if Z.shape[1]:
            out = out + ((v @ Z) ** 4).sum()
        return out

    return f, A


@pytest.mark.parametrize("method", ["dense", "lanczos"])
def test_saddle_whatever_else_is_flat(method):
    f = lambda v: v[0] ** 2 - v[1] ** 2 + v[2] ** 4  # noqa: E731
    cp = mg.classify(f, np.zeros(3), method=method)
    assert cp.kind == "saddle"
    np.testing.assert_allclose(cp.eigenvalues[[0, -1]], [-2.0, 2.0], atol=1e-10)
    np.testing.assert_allclose(np.abs(cp.escape_direction), [0.0, 1.0, 0.0], atol=1e-8)


def test_the_label_does_not_depend_on_model_size():
    # Same spectrum (-2, 0, ..., 0, 2) at 3 parameters (dense) and 2,001 (Lanczos).
    f = lambda v: v[0] ** 2 - v[1] ** 2 + (v[2:] ** 4).sum()  # noqa: E731
    small = mg.classify(f, np.zeros(3))
    large = mg.classify(f, np.zeros(curvature.DENSE_MAX + 1))
    assert small.kind == large.kind == "saddle"
    f2 = lambda v: v[0] ** 2 + (v[1:] ** 4).sum()  # noqa: E731 -- a degenerate minimum
    assert mg.classify(f2, np.zeros(3)).kind == "degenerate"
    assert mg.classify(f2, np.zeros(curvature.DENSE_MAX + 1)).kind == "degenerate"


@FAST
@given(neg=st.lists(st.floats(0.05, 20), min_size=1, max_size=3),
       pos=st.lists(st.floats(0.05, 20), min_size=1, max_size=3),
       zeros=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_both_signs_of_curvature_make_a_saddle(neg, pos, zeros, seed):
    eigs = np.array([-a for a in neg] + [0.0] * zeros + pos)
    f, A = quadratic_plus_quartic(eigs, seed)
    for method in ("dense", "lanczos"):
        cp = mg.classify(f, np.zeros(len(eigs)), method=method)
        assert cp.kind == "saddle", method
        e = cp.escape_direction
        assert np.linalg.norm(e) == pytest.approx(1.0)
        assert e @ A @ e == pytest.approx(-max(neg), rel=1e-6)


SPECTRUM_ENTRY = st.one_of(st.just(0.0), st.floats(0.01, 10), st.floats(-10, -0.01))


@FAST
@given(eigs=st.lists(SPECTRUM_ENTRY, min_size=20, max_size=40),
       sloped=st.booleans(), seed=st.integers(0, 2**16))
def test_dense_and_lanczos_give_the_same_answer(eigs, sloped, seed):
    eigs = np.array(eigs)
    f0, A = quadratic_plus_quartic(eigs, seed)
    b = np.random.default_rng(seed).standard_normal(len(eigs)) if sloped else None
    f = f0 if b is None else (lambda v: f0(v) + (v * b).sum())
    x = np.zeros(len(eigs))
    dense = mg.classify(f, x, method="dense")
    lanczos = mg.classify(f, x, method="lanczos")
    assert dense.kind == lanczos.kind
    assert lanczos.tol_eig == pytest.approx(dense.tol_eig, rel=1e-8)
    assert lanczos.tol_grad == pytest.approx(dense.tol_grad, rel=1e-8)
    np.testing.assert_allclose(lanczos.eigenvalues[[0, -1]], dense.eigenvalues[[0, -1]],
                               rtol=1e-8, atol=1e-9)
    assert (lanczos.escape_direction is None) == (dense.escape_direction is None)
    if dense.escape_direction is not None:  # a unit vector of the most negative eigenvalue
        for cp in (dense, lanczos):
            e = cp.escape_direction
            assert e @ A @ e == pytest.approx(eigs.min(), rel=1e-7)
    # and the rule itself, from the exact spectrum
    scale = np.abs(eigs).max()
    if b is not None:
        want = "not critical"
    elif eigs.min() < 0 < eigs.max():
        want = "saddle"
    elif (eigs == 0).any() or scale == 0:
        want = "degenerate"
    else:
        want = "minimum" if eigs.min() > 0 else "maximum"
    assert dense.kind == want


@FAST
@given(c=st.floats(1e-3, 1e3), power=st.sampled_from([0, 3, 4, 5]),
       n=st.integers(1, 4), method=st.sampled_from(["dense", "lanczos"]))
def test_tolerances_are_never_zero(c, power, n, method):
    # The Hessian vanishes at 0: the tolerances still have a positive floor.
    f = (lambda v: 0.0 * v.sum()) if power == 0 else (lambda v: c * (v ** power).sum())
    cp = mg.classify(f, np.zeros(n), method=method)
    assert cp.tol_eig > 0 and cp.tol_grad > 0
    assert cp.kind == "degenerate" and cp.escape_direction is None


@pytest.mark.parametrize(
    ("f", "x", "what"),
    [
        (lambda v: v[0] * v[0].log(), [-0.5], r"f is nan at x = \[-0\.5\]"),
        (lambda v: v[0].log(), [0.0], r"f is -inf at x = \[0\.\]"),
        (lambda v: v[0].sqrt() + v[1], [0.0, 1.0],
         r"the gradient of f is not finite at x = \[0\., 1\.\] \(inf in 1 of 2"),
        (lambda v: v[0] ** 1.5, [0.0], r"the Hessian of f is not finite at x = \[0\.\]"),
    ],
    ids=["nan value", "-inf value", "inf gradient", "inf Hessian"],
)
@pytest.mark.parametrize("method", ["dense", "lanczos"])
def test_classify_raises_at_a_non_finite_point(f, x, what, method):
    with np.errstate(all="ignore"), pytest.raises(ValueError, match="classify: " + what):
        mg.classify(f, np.array(x), method=method)


def test_classify_method_checks():
    f = lambda v: (v ** 2).sum()  # noqa: E731
    with pytest.raises(ValueError, match="method must be 'auto', 'dense' or 'lanczos'"):
        mg.classify(f, np.zeros(2), method="exact")
    with pytest.raises(ValueError, match=r"limited to n <= 2000 \(n=2001\)"):
        mg.classify(f, np.zeros(2001), method="dense")


@pytest.mark.parametrize(("n", "method"), [(5, "dense"), (5, "lanczos"), (2001, "auto")])
def test_classify_builds_one_hessian_operator(monkeypatch, n, method):
    built = []

    class Counting(curvature.HessianOperator):
        def __init__(self, *args, **kwargs):
            built.append(1)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(classification, "HessianOperator", Counting)  # where classify lives
    cp = mg.classify(lambda v: (v ** 2).sum() - 3 * v[0] ** 2, np.zeros(n), method=method)
    assert cp.kind == "saddle" and len(built) == 1
    # the Lanczos eigenvectors come back shaped like x, one row per eigenvalue
    assert np.shape(cp.eigenvectors) == (len(cp.eigenvalues), n)


@pytest.mark.parametrize("method", ["dense", "lanczos"])
def test_hessian_eigs_raises_where_the_hessian_is_not_finite(method):
    with np.errstate(all="ignore"), pytest.raises(
            ValueError, match=r"hessian_eigs: the Hessian of f is not finite at x = \[0\., 1\.\]"):
        mg.hessian_eigs(lambda v: v[0] ** 1.5 + v[1] ** 2, np.array([0.0, 1.0]), k=1,
                        method=method)


def test_classify_warns_when_lanczos_does_not_converge(monkeypatch):
    real = curvature._lanczos

    def unconverged(*args, **kwargs):
        values, vecs, residuals, _ = real(*args, **kwargs)
        return values, vecs, residuals + 1e-3, False

    monkeypatch.setattr(curvature, "_lanczos", unconverged)
    with pytest.warns(RuntimeWarning, match=r"Lanczos did not converge \(largest residual"):
        cp = mg.classify(lambda v: (v ** 2).sum(), np.zeros(3), method="lanczos")
    assert cp.kind == "minimum"
