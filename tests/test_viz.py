"""The matplotlib pictures: loss curves, landscapes with paths, spectra (Agg backend)."""

import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from matplotlib.collections import LineCollection, PathCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import microgd as mg  # noqa: E402
from microgd import nn  # noqa: E402
from microgd.train import History  # noqa: E402
from microgd.viz import (  # noqa: E402
    drawing,
    filter_normalized_direction,
    landscapes,
    plot_history,
    plot_landscape,
    plot_spectrum,
    random_directions,
    style,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def save_both(make, tmp_path, name):
    """Call make(path=...) for a PNG and an SVG; check both files; return the last figure."""
    fig = None
    for ext in ("png", "svg"):
        out = tmp_path / f"{name}.{ext}"
        fig = make(path=out)
        data = out.read_bytes()
        assert len(data) > 1000
        if ext == "png":
            assert data[:8] == PNG_MAGIC
        else:
            assert b"<svg" in data[:2000]
    assert isinstance(fig, Figure)
    return fig


def legend_labels(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def by_gid(ax, gid):
    found = [a for a in [*ax.lines, *ax.collections] if a.get_gid() == gid]
    assert len(found) == 1, (gid, [a.get_gid() for a in [*ax.lines, *ax.collections]])
    return found[0]


def noisy_history(n, seed, epochs):
    rng = np.random.default_rng(seed)
    loss = list(5 * np.exp(-np.arange(n) / 20) + 0.3 * rng.random(n))
    per = n // epochs
    return History(step_loss=loss, grad_norm=list(np.sqrt(loss)), lr=[0.1] * n,
                   epoch_loss=[float(np.mean(loss[i * per:(i + 1) * per])) for i in range(epochs)])


# ---- plot_history --------------------------------------------------------------------


def test_history_overlay_files_lines_legend_and_ema(tmp_path):
    runs = {"GD": noisy_history(40, 0, 40), "SGD": noisy_history(120, 1, 40)}
    fig = save_both(lambda path: plot_history(runs, beta=0.8, path=path), tmp_path, "hist")
    ax = fig.axes[0]
    assert len(ax.lines) == 4  # raw + smoothed for each run
    assert legend_labels(ax) == ["GD", "SGD"]
    for label, hist in runs.items():
        raw, ema = by_gid(ax, f"raw:{label}"), by_gid(ax, f"ema:{label}")
        np.testing.assert_array_equal(raw.get_ydata(), hist.step_loss)
        np.testing.assert_allclose(ema.get_ydata(), hist.smoothed(0.8, "step_loss"), rtol=0,
                                   atol=0)
        np.testing.assert_array_equal(ema.get_xdata(), np.arange(1, len(hist.step_loss) + 1))
        assert raw.get_color() == ema.get_color()
        assert raw.get_alpha() < 1 and raw.get_linewidth() < ema.get_linewidth()
    assert ax.get_xlabel() == "step" and "loss" in ax.get_ylabel()
    assert "EMA" in ax.get_title() and "0.8" in ax.get_title()
    assert ax.get_yscale() == "linear"


def test_history_per_epoch_axis_lines_up_gd_and_sgd():
    gd, sgd = noisy_history(10, 0, 10), noisy_history(30, 1, 10)
    ax = plot_history([gd, sgd], labels=["GD", "SGD"], x="epoch").axes[0]
    np.testing.assert_allclose(by_gid(ax, "ema:GD").get_xdata(), np.arange(1, 11))
    np.testing.assert_allclose(by_gid(ax, "ema:SGD").get_xdata(), np.arange(1, 31) / 3)
    assert ax.get_xlabel() == "epoch"


def test_history_other_series_log_scale_and_defaults():
    hist = noisy_history(30, 2, 10)
    ax = plot_history(hist, series="epoch_loss", log=True).axes[0]
    assert ax.get_yscale() == "log"
    assert legend_labels(ax) == ["loss"]
    np.testing.assert_allclose(by_gid(ax, "ema:loss").get_ydata(), hist.smoothed(0.9, "epoch_loss"))
    np.testing.assert_allclose(by_gid(ax, "ema:loss").get_xdata(), np.arange(1, 11) * 3)
    ax = plot_history([hist, hist], series="grad_norm").axes[0]
    assert legend_labels(ax) == ["run 1", "run 2"] and ax.get_ylabel() == "gradient norm"
    signed = History(step_loss=[1.0, -1.0, 0.5])
    assert plot_history(signed, log=True).axes[0].get_yscale() == "symlog"


def test_history_diverged_run_is_drawn_with_a_gap():
    hist = History(step_loss=[1.0, 2.0, float("inf"), float("nan")], epoch_loss=[1.0])
    ax = plot_history({"lr too large": hist}).axes[0]
    y = by_gid(ax, "raw:lr too large").get_ydata()
    assert np.isnan(y[2:]).all() and list(y[:2]) == [1.0, 2.0]


def test_history_accepts_any_object_with_the_fields():
    class Run:
        step_loss = [3.0, 2.0, 1.0]
        epoch_loss = [2.0]
        grad_norm = lr = ()

        def smoothed(self, beta, series):
            return [9.0, 9.0, 9.0]

    ax = plot_history({"duck": Run()}).axes[0]
    assert list(by_gid(ax, "ema:duck").get_ydata()) == [9.0, 9.0, 9.0]


def test_history_errors():
    hist = History(step_loss=[1.0])
    with pytest.raises(ValueError, match="labels"):
        plot_history([hist, hist], labels=["one"])
    with pytest.raises(ValueError, match="'step' or 'epoch'"):
        plot_history(hist, x="time")
    with pytest.raises(ValueError, match="series must be one of"):
        plot_history(hist, series="loss")
    with pytest.raises(ValueError, match="no histories"):
        plot_history({})
    with pytest.raises(ValueError, match=r"\.png"):
        plot_history(hist, path="loss.jpg")


# ---- plot_landscape: functions of a point -------------------------------------------------


def saddle(p):
    return p[0] ** 3 - 3 * p[0] + p[1] ** 2


def test_landscape_2d_contours_paths_and_critical_points(tmp_path):
    start = np.array([0.5, 1.5])
    traj = [start]
    for _ in range(30):  # gradient descent by hand on `saddle`
        x, y = traj[-1]
        traj.append(traj[-1] - 0.05 * np.array([3 * x ** 2 - 3, 2 * y]))
    traj = np.array(traj)
    hist = History(path=[list(p) for p in traj[::-1]])
    cps = mg.find_critical_points(saddle, bounds=[(-2, 2), (-2, 2)], starts=20, seed=0)
    assert sorted(cp.kind for cp in cps) == ["minimum", "saddle"]

    def make(path):
        return plot_landscape(saddle, [(-2, 2), (-2, 2)], paths={"GD": traj, "reversed": hist},
                              critical_points=cps, resolution=41, path=path)

    fig = save_both(make, tmp_path, "landscape")
    ax = fig.axes[0]
    assert len(fig.axes) == 2  # the plot and its colour bar
    assert legend_labels(ax) == ["GD", "reversed", "minimum", "saddle"]
    gd = by_gid(ax, "path:GD")
    np.testing.assert_array_equal(gd.get_xdata(), traj[:, 0])
    np.testing.assert_array_equal(gd.get_ydata(), traj[:, 1])
    np.testing.assert_array_equal(by_gid(ax, "path:reversed").get_xdata(), traj[::-1, 0])
    starts = [ln for ln in ax.lines if ln.get_label() == "_start"]
    ends = [ln for ln in ax.lines if ln.get_label() == "_end"]
    assert len(starts) == len(ends) == 2
    assert starts[0].get_marker() == "o" and ends[0].get_marker() == "*"
    assert list(starts[0].get_xydata()[0]) == list(start)
    mins, sads = by_gid(ax, "critical:minimum"), by_gid(ax, "critical:saddle")
    np.testing.assert_allclose(mins.get_offsets()[0], [1.0, 0.0], atol=1e-8)
    np.testing.assert_allclose(sads.get_offsets()[0], [-1.0, 0.0], atol=1e-8)
    assert isinstance(mins, PathCollection)
    filled = [c for c in ax.collections if hasattr(c, "levels") and c.filled]
    lines = [c for c in ax.collections if hasattr(c, "levels") and not c.filled]
    assert len(filled) == 1 and len(lines) == 1
    assert ax.get_xlim() == (-2.0, 2.0) and ax.get_ylim() == (-2.0, 2.0)


def test_critical_point_kinds_have_distinct_markers():
    class CP:
        def __init__(self, x, kind):
            self.x, self.kind = np.array(x), kind

    pts = [CP([0.0, 0.0], "saddle"), CP([1.0, 1.0], "minimum"), CP([-1.0, 1.0], "maximum"),
           CP([1.0, -1.0], "degenerate"), CP([0.5, 0.5], "minimum")]
    ax = plot_landscape(lambda p: p[0] * p[1], [(-2, 2), (-2, 2)], critical_points=pts,
                        resolution=11).axes[0]
    assert legend_labels(ax) == ["saddle", "minimum", "maximum", "degenerate"]
    markers = {k: style.KIND_STYLE[k][0] for k in ("saddle", "minimum", "maximum", "degenerate")}
    assert len(set(markers.values())) == 4
    scatters = [c for c in ax.collections if str(c.get_gid()).startswith("critical:")]
    assert len(scatters) == 5


def test_landscape_is_evaluated_under_no_grad_and_vectorized_when_possible():
    calls = []

    def f(p):
        calls.append((mg.is_grad_enabled(), p.shape, p.requires_grad))
        return (p[0] - 1) ** 2 + 10 * p[1] ** 2

    plot_landscape(f, [(-1, 2), (-1, 1)], resolution=30)
    assert all(not enabled and not req for enabled, _, req in calls)
    assert calls[0][1] == (2, 900)  # one call on the whole grid ...
    assert len(calls) <= 6          # ... checked against a few single points
    assert all(shape == (2,) for _, shape, _ in calls[1:])


def test_landscape_falls_back_to_pointwise_when_f_does_not_vectorize():
    def f(p):  # (p ** 2).sum() sums over the whole grid when called vectorized
        return (p ** 2).sum()

    pts = np.random.default_rng(0).standard_normal((2, 25))
    np.testing.assert_allclose(landscapes._evaluate(f, pts), (pts ** 2).sum(axis=0))

    def g(p):  # float() of a vector fails: pointwise too
        return float(p[0].item()) + 2.0 * p[1].item()

    np.testing.assert_allclose(landscapes._evaluate(g, pts), pts[0] + 2 * pts[1])
    np.testing.assert_allclose(landscapes._evaluate(lambda p: p[0] * p[1], pts), pts[0] * pts[1])


def test_log_spaced_levels_when_the_range_is_large():
    rosen = lambda p: (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2  # noqa: E731
    ax = plot_landscape(rosen, [(-2, 2), (-1, 3)], resolution=60).axes[0]
    levels = next(c for c in ax.collections if hasattr(c, "levels") and c.filled).levels
    gaps = np.diff(levels[1:] - levels[0])
    assert np.all(gaps > 0)
    np.testing.assert_allclose(gaps[1:] / gaps[:-1], gaps[1] / gaps[0], rtol=1e-6)  # geometric
    assert gaps[-1] / gaps[0] > 100
    bowl = plot_landscape(lambda p: p[0] ** 2 + p[1] ** 2, [(-1, 1), (-1, 1)], resolution=40)
    levels = next(c for c in bowl.axes[0].collections if hasattr(c, "levels")).levels
    np.testing.assert_allclose(np.diff(levels), np.diff(levels)[0])  # evenly spaced
    flat = plot_landscape(lambda p: p[0] * 0.0 + 3.0, [(-1, 1), (-1, 1)], resolution=5)
    assert isinstance(flat, Figure)


def test_landscape_1d_curve_with_paths_and_critical_points(tmp_path):
    def f(p):
        return p[0] ** 4 - 2 * p[0] ** 2 + 0.3 * p[0]

    path = np.array([1.6, 1.3, 1.1, 1.0, 0.97])
    cps = mg.find_critical_points(f, bounds=[(-2, 2)], starts=20, seed=0)
    assert sorted(cp.kind for cp in cps) == ["maximum", "minimum", "minimum"]

    def make(path_out):
        return plot_landscape(f, [(-1.8, 1.8)], paths={"GD": path}, critical_points=cps,
                              resolution=101, path=path_out)

    fig = save_both(lambda path: make(path), tmp_path, "curve")
    ax = fig.axes[0]
    curve = by_gid(ax, "landscape")
    xs = np.linspace(-1.8, 1.8, 101)
    np.testing.assert_allclose(curve.get_xdata(), xs)
    np.testing.assert_allclose(curve.get_ydata(), xs ** 4 - 2 * xs ** 2 + 0.3 * xs)
    gd = by_gid(ax, "path:GD")
    np.testing.assert_allclose(gd.get_ydata(), path ** 4 - 2 * path ** 2 + 0.3 * path)
    assert legend_labels(ax) == ["f", "GD", "minimum", "maximum"] or \
        legend_labels(ax) == ["f", "GD", "maximum", "minimum"]
    mins = [c.get_offsets()[0] for c in ax.collections if c.get_gid() == "critical:minimum"]
    assert len(mins) == 2
    for x, y in mins:
        assert abs(y - f(np.array([x]))) < 1e-9
    # a path may also be a History of 1-element points
    ax = plot_landscape(f, [(-2, 2)], paths=History(path=[[1.5], [1.2]]), resolution=20).axes[0]
    np.testing.assert_allclose(by_gid(ax, "path:path 1").get_xdata(), [1.5, 1.2])


def test_landscape_argument_errors():
    f = lambda p: p[0] ** 2  # noqa: E731
    with pytest.raises(ValueError, match="bounds"):
        plot_landscape(f)
    with pytest.raises(ValueError, match="lo < hi"):
        plot_landscape(f, [(1, -1)])
    with pytest.raises(ValueError, match="1 or 2 dimensions"):
        plot_landscape(f, [(0, 1)] * 3)
    with pytest.raises(ValueError, match=r"shape \(T, 2\)"):
        plot_landscape(f, [(0, 1), (0, 1)], paths=[np.zeros((4, 3))], resolution=5)
    with pytest.raises(ValueError, match="both params= and loss="):
        plot_landscape(params=[np.ones((2, 2))])


# ---- random slices through a model (Li et al., 2018) ------------------------------------


def test_filter_normalized_directions_match_per_filter_weight_norms():
    model = nn.MLP(3, [5, 4, 1], activation="tanh", seed=0)
    params = model.parameters()
    d1, d2 = random_directions(params, seed=3)
    assert not np.allclose(d1[0], d2[0])
    for d in (d1, d2):
        for p, u in zip(params, d, strict=True):
            assert u.shape == p.shape
            if p.ndim == 2:  # (in, out): a neuron's filter is a column
                np.testing.assert_allclose(np.linalg.norm(u, axis=0),
                                           np.linalg.norm(p.data, axis=0), rtol=1e-10)
            else:  # biases: zero, as in the paper's reference code (ignore biasbn)
                assert np.all(u == 0)
    same = random_directions(params, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(d1, same[0], strict=True))
    # PyTorch-style (out, in, kh, kw) kernels: filters along axis 0
    kernel = np.random.default_rng(1).standard_normal((4, 3, 2, 2))
    (u,) = filter_normalized_direction([np.ones_like(kernel)], [kernel], filter_axis=0)
    np.testing.assert_allclose(np.linalg.norm(u.reshape(4, -1), axis=1),
                               np.linalg.norm(kernel.reshape(4, -1), axis=1))
    (b,) = filter_normalized_direction([np.ones(3)], [np.array([3.0, 0.0, 4.0])],
                                       ignore_bias=False)
    assert np.linalg.norm(b) == pytest.approx(5.0)


def test_directions_of_a_model_without_matrices_are_scaled_as_a_whole():
    params = [np.array(2.0), np.array([1.0, 2.0])]
    d1, d2 = random_directions(params, seed=0)
    total = np.sqrt(4.0 + 1.0 + 4.0)
    for d in (d1, d2):
        assert np.sqrt(sum(np.sum(x ** 2) for x in d)) == pytest.approx(total)
    raw1, _ = random_directions(params, seed=0, filter_normalize=False)
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(raw1[0], rng.standard_normal(()))


def test_model_slice_plot(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((32, 2))
    Y = np.tanh(X @ np.array([[1.0], [-2.0]]))
    model = nn.MLP(2, [6, 1], activation="tanh", seed=0)
    params = model.parameters()
    center = [p.numpy() for p in params]
    calls = []

    def loss(arrays):
        calls.append(([type(a) for a in arrays], mg.is_grad_enabled()))
        W1, b1, W2, b2 = arrays
        return mg.Value((((np.tanh(X @ W1 + b1) @ W2 + b2) - Y) ** 2).mean())

    d1, d2 = random_directions(params, seed=5)
    plane = [[float(v) for v in np.concatenate([np.ravel(c + a * u + b * w)
                                                for c, u, w in zip(center, d1, d2, strict=True)])]
             for a, b in ((0.5, -0.25), (0.2, 0.1), (0.0, 0.0))]
    hist = History(path=plane)

    def make(path):
        return plot_landscape(params=params, loss=loss, paths={"run": hist}, seed=5,
                              resolution=9, path=path)

    fig = save_both(make, tmp_path, "slice")
    assert len(calls) == 2 * 81
    assert all(types == [np.ndarray] * 4 and not enabled for types, enabled in calls)
    ax = fig.axes[0]
    proj = by_gid(ax, "path:run (projected)")
    np.testing.assert_allclose(proj.get_xdata(), [0.5, 0.2, 0.0], atol=1e-10)
    np.testing.assert_allclose(proj.get_ydata(), [-0.25, 0.1, 0.0], atol=1e-10)
    assert by_gid(ax, "center").get_offsets().tolist() == [[0.0, 0.0]]
    assert "filter-normalized" in ax.get_title()
    assert ax.get_xlim() == (-1.0, 1.0)
    assert [p.numpy().tolist() for p in params] == [c.tolist() for c in center]  # untouched


def test_model_slice_values_along_the_directions():
    center = [np.array([[1.0, 2.0], [0.5, -1.0]])]
    d1, d2 = random_directions(center, seed=1)
    z = mg.landscape(lambda a: float(np.sum(a[0] ** 2)), center, directions=[d1, d2],
                     bounds=[(-1.0, 1.0), (0.0, 2.0)], resolution=[3, 2]).values
    assert z.shape == (2, 3)
    assert z[0, 1] == pytest.approx(np.sum(center[0] ** 2))
    assert z[1, 2] == pytest.approx(np.sum((center[0] + d1[0] + 2 * d2[0]) ** 2))


def test_model_slice_errors():
    with pytest.raises(ValueError, match="zero"):
        plot_landscape(params=[np.zeros((2, 2))], loss=lambda a: 0.0, resolution=3)
    with pytest.raises(ValueError, match="parallel"):
        plot_landscape(params=[np.array(1.0)], loss=lambda a: 0.0, resolution=3)


# ---- plot_spectrum ----------------------------------------------------------------------


def test_spectrum_of_eigenvalues(tmp_path):
    A = np.diag([-3.0, -1.0, 0.5, 2.0, 4.0])
    r = mg.hessian_eigs(lambda x: 0.5 * (x * (A @ x)).sum(), np.zeros(5), k=5)
    fig = save_both(lambda path: plot_spectrum(r, path=path), tmp_path, "eigs")
    ax = fig.axes[0]
    neg, pos = by_gid(ax, "eig:negative"), by_gid(ax, "eig:positive")
    np.testing.assert_allclose(neg.get_offsets()[:, 1], [-3.0, -1.0], atol=1e-10)
    np.testing.assert_allclose(pos.get_offsets()[:, 1], [0.5, 2.0, 4.0], atol=1e-10)
    assert legend_labels(ax) == ["negative", "positive"]
    assert sum(isinstance(c, LineCollection) for c in ax.collections) == 2  # stems
    assert any(list(ln.get_ydata()) == [0, 0] for ln in ax.lines)  # the zero line
    assert ax.get_title() == "Hessian eigenvalues: 2 negative, 3 positive"
    assert plot_spectrum(r, log=True).axes[0].get_yscale() == "symlog"


def test_spectrum_of_a_classified_degenerate_point():
    cp = mg.classify(lambda x: x[0] ** 2 - x[1] ** 2 + x[2] ** 4, np.zeros(3))
    ax = plot_spectrum(cp).axes[0]
    assert legend_labels(ax) == ["negative", "\u2248 0", "positive"]
    assert ax.get_title().endswith(f"1 \u2248 0 ({cp.kind})")


def test_spectrum_density(tmp_path):
    A = np.diag(np.linspace(-1.0, 3.0, 20))
    d = mg.hessian_density(lambda x: 0.5 * (x * (A @ x)).sum(), np.zeros(20), steps=20,
                           grid=200)
    fig = save_both(lambda path: plot_spectrum(d, path=path), tmp_path, "density")
    ax = fig.axes[0]
    neg, pos = by_gid(ax, "density:negative"), by_gid(ax, "density:positive")
    grid, dens = np.asarray(d.grid), np.asarray(d.density)
    np.testing.assert_allclose(np.concatenate([neg.get_xdata(), pos.get_xdata()]), grid)
    np.testing.assert_allclose(np.concatenate([neg.get_ydata(), pos.get_ydata()]), dens)
    assert ax.get_xlabel() == "eigenvalue" and "density" in ax.get_title()
    log_ax = plot_spectrum(d, log=True).axes[0]
    assert log_ax.get_yscale() == "log"
    with pytest.raises(TypeError, match="eigenvalues"):
        plot_spectrum(object())


# ---- matplotlib missing --------------------------------------------------------------------


def test_clear_import_error_without_matplotlib(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"pip install microgd\[plot\]"):
        plot_history(History(step_loss=[1.0]))


def test_path_forms_one_path_or_many():
    def shapes(paths, dim):
        return [a.shape for _, a in drawing.paths_of(paths, dim)]

    assert shapes(np.array([1.0, 2.0, 3.0]), 1) == [(3, 1)]          # one 1-D path
    assert shapes([1.0, 2.0], 1) == [(2, 1)]
    assert shapes([np.array([1.0, 2.0]), np.array([3.0])], 1) == [(2, 1), (1, 1)]
    assert shapes(np.zeros((3, 2)), 2) == [(3, 2)]
    assert shapes([[0.0, 1.0], [1.0, 2.0]], 2) == [(2, 2)]            # a list of points
    assert shapes([np.zeros((3, 2)), np.ones((4, 2))], 2) == [(3, 2), (4, 2)]
    assert shapes([History(path=[[0.0, 1.0]]), History(path=[[1.0, 1.0]])], 2) == [(1, 2)] * 2
    assert [label for label, _ in drawing.paths_of({"GD": [[0.0, 1.0]]}, 2)] == ["GD"]
