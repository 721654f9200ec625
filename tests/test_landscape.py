"""mg.landscape, mg.interpolate and mg.viz.directions: the values at each cell, the same bits
on every executor, checkpoints that survive a kill and refuse foreign files, bad input,
NaN cells, PCA against the random-walk baseline, Hessian eigenvector directions, and the
pictures of grids and lines."""

import concurrent.futures as cf
import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import microgd as mg
from microgd import optim

ROOT = Path(__file__).resolve().parent.parent

RNG = np.random.default_rng(0)
X = RNG.standard_normal((60, 3))
Y = np.tanh(X @ np.array([[1.0], [-2.0], [0.5]]))


def mlp_loss(ps):
    W1, b1, W2, b2 = ps
    h = mg.tanh(mg.Value(X, requires_grad=False) @ W1 + b1)
    return ((h @ W2 + b2 - Y) ** 2).mean()


def mlp_params(seed=1):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((3, 6)) * 0.5, rng.standard_normal(6) * 0.1,
            rng.standard_normal((6, 1)) * 0.5, rng.standard_normal(1) * 0.1]


class Calls:
    """A loss that counts its calls and, optionally, fails at call number ``fail_at``."""

    def __init__(self, loss, fail_at=None):
        self.loss, self.fail_at, self.n = loss, fail_at, 0

    def __call__(self, ps):
        self.n += 1
        if self.fail_at is not None and self.n == self.fail_at:
            raise RuntimeError("the loss broke")
        return self.loss(ps)


class FailingExecutor(cf.Executor):
    """Runs submissions at once in this thread; every one after ``ok`` loses its worker."""

    def __init__(self, ok):
        self.ok, self.submitted = ok, 0

    def submit(self, fn, *args, **kwargs):
        self.submitted += 1
        fut = cf.Future()
        if self.submitted > self.ok:
            fut.set_exception(ConnectionError("worker lost"))
        else:
            fut.set_result(fn(*args, **kwargs))
        return fut


@pytest.fixture(scope="module")
def threads():
    with cf.ThreadPoolExecutor(2) as pool:
        yield pool


@pytest.fixture(scope="module")
def dask_executor():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                       dashboard_address=None)
    client = distributed.Client(cluster)
    try:
        yield client.get_executor()
    finally:
        client.close()
        cluster.close()


def same(a, b):
    return np.array_equal(a, b, equal_nan=True)


# ---- values ------------------------------------------------------------------------------


def test_each_cell_is_the_loss_at_its_point_and_params_are_untouched():
    params = [mg.Value(p) for p in mlp_params()]
    before = [p.data.copy() for p in params]
    d = mg.viz.directions(params, seed=3)
    g = mg.landscape(mlp_loss, params, directions=d, bounds=[(-1, 0.5), (-0.5, 1)],
                     resolution=(5, 4))
    assert g.values.shape == (4, 5) and g.n_nan == 0 and g.ratio is None
    np.testing.assert_array_equal(g.alpha, np.linspace(-1, 0.5, 5))
    np.testing.assert_array_equal(g.beta, np.linspace(-0.5, 1, 4))
    for i, j in [(0, 0), (1, 3), (3, 4), (2, 2)]:
        point = [c + g.alpha[j] * u + g.beta[i] * v
                 for c, u, v in zip(before, d[0], d[1], strict=True)]
        assert g.values[i, j] == mlp_loss(point).item()
    assert g.evaluations == 20 and g.resumed == 0
    assert all(np.array_equal(p.data, b) for p, b in zip(params, before, strict=True))
    # the default: two random filter-normalized directions, seed 0, 21 x 21 on (-1, 1)^2
    default = mg.landscape(mlp_loss, before)
    assert default.values.shape == (21, 21) and default.bounds == [(-1.0, 1.0)] * 2
    d0 = mg.viz.directions(before, seed=0)
    np.testing.assert_array_equal(default.directions.basis, d0.basis)
    assert default.values[10, 10] == mlp_loss(before).item()


def test_a_line_when_there_is_one_direction():
    w = np.array([1.0, -2.0, 0.5])
    g = mg.landscape(lambda p: (p ** 2).sum(), w, directions=np.array([1.0, 0.0, 0.0]),
                     bounds=[(-2, 2)], resolution=5)
    assert g.beta is None and g.values.shape == (5,)
    np.testing.assert_allclose(g.values, (w[0] + np.linspace(-2, 2, 5)) ** 2 + 4.25)
    # no directions and one pair of bounds: one random direction
    g = mg.landscape(lambda p: (p ** 2).sum(), w, bounds=[(-1, 1)], resolution=3)
    assert g.values.shape == (3,) and len(g.directions) == 1


def test_curvature_maps_are_the_extreme_hessian_eigenvalues():
    def f(w):
        return w[0] ** 2 + w[1] ** 4 - w[1] ** 2

    g = mg.landscape(f, np.zeros(2), directions=np.eye(2), bounds=[(-1, 1), (-1, 1)],
                     resolution=5, curvature=True)
    beta = np.linspace(-1, 1, 5)[:, None] * np.ones((1, 5))
    h11 = 12 * beta ** 2 - 2
    np.testing.assert_allclose(g.eig_min, np.minimum(2.0, h11), atol=1e-10)
    np.testing.assert_allclose(g.eig_max, np.maximum(2.0, h11), atol=1e-10)
    np.testing.assert_allclose(g.ratio, np.abs(np.minimum(2, h11) / np.maximum(2, h11)),
                               atol=1e-10)
    assert "curvature" in repr(g)


# ---- executors: the same bits --------------------------------------------------------------


def test_bit_identical_whatever_the_executor(threads, dask_executor):
    params = mlp_params()
    d = mg.viz.directions(params, seed=2)
    kw = {"directions": d, "bounds": [(-1, 1), (-1, 1)], "resolution": 9}
    serial = mg.landscape(mlp_loss, params, **kw)
    for executor in (2, threads, dask_executor):
        g = mg.landscape(mlp_loss, params, executor=executor, **kw)
        assert same(g.values, serial.values), executor
    curved = dict(kw, resolution=3, curvature=True)
    a = mg.landscape(mlp_loss, params, **curved)
    b = mg.landscape(mlp_loss, params, executor=2, **curved)
    assert same(a.ratio, b.ratio) and same(a.eig_min, b.eig_min) and same(a.values, b.values)
    line_a = mg.interpolate(mlp_loss, params, mlp_params(5), num=11)
    line_b = mg.interpolate(mlp_loss, params, mlp_params(5), num=11, executor=threads)
    assert same(line_a.values, line_b.values)


# ---- checkpoints -------------------------------------------------------------------------


def test_a_failure_keeps_the_cells_done_and_a_rerun_computes_only_the_rest(tmp_path):
    params = mlp_params()
    d = mg.viz.directions(params, seed=4)
    kw = {"directions": d, "bounds": [(-1, 1), (-1, 1)], "resolution": 6}
    fresh = mg.landscape(mlp_loss, params, **kw)
    ckpt = tmp_path / "grid.npz"
    broken = Calls(mlp_loss, fail_at=10)
    with pytest.raises(RuntimeError, match=r"landscape: cell \(row 1, column 3\) \(alpha=0\.2, "
                                           r"beta=-0\.6\) failed: RuntimeError: the loss broke"):
        mg.landscape(broken, params, checkpoint=ckpt, **kw)
    with np.load(ckpt, allow_pickle=False) as z:
        assert int(z["done"].sum()) == 9  # 16 chunks of 3 cells: the first three finished
    again = Calls(mlp_loss)
    g = mg.landscape(again, params, checkpoint=ckpt, **kw)
    assert again.n == 36 - 9 + 1  # the missing cells, and one saved cell checked
    assert g.resumed == 9 and g.evaluations == 27
    assert same(g.values, fresh.values)
    done = Calls(mlp_loss)  # complete: only the check
    assert same(mg.landscape(done, params, checkpoint=ckpt, **kw).values, fresh.values)
    assert done.n == 1


def test_an_executor_failing_midway_keeps_what_was_done(tmp_path):
    params = mlp_params()
    kw = {"directions": mg.viz.directions(params, seed=4), "resolution": 6}
    ckpt = tmp_path / "grid.npz"
    pool = FailingExecutor(ok=3)
    with pytest.raises(ConnectionError, match=r"landscape: the executor failed on cell \(row "
                                              r"\d, column \d\) .* to cell \(row \d"):
        mg.landscape(mlp_loss, params, executor=pool, checkpoint=ckpt, **kw)
    with np.load(ckpt, allow_pickle=False) as z:
        n_done = int(z["done"].sum())
        assert 0 < n_done < 36 and z["done"][:n_done].all()
    rest = Calls(mlp_loss)
    g = mg.landscape(rest, params, checkpoint=ckpt, **kw)
    assert rest.n == 36 - n_done + 1 and g.resumed == n_done
    assert same(g.values, mg.landscape(mlp_loss, params, **kw).values)


KILLED = '''
import os
import numpy as np
import microgd as mg

RNG = np.random.default_rng(7)
X = RNG.standard_normal((40, 2))
CENTER = [RNG.standard_normal((2, 3)), RNG.standard_normal(3)]
DIRECTIONS = mg.viz.directions(CENTER, seed=1)
calls = {"n": 0, "die_at": None}


def loss(ps):
    calls["n"] += 1
    if calls["n"] == calls["die_at"]:
        os._exit(3)  # as a kill: no clean-up, no finally blocks
    return mg.tanh(X @ ps[0] + ps[1]).sum() ** 2
'''


def test_a_grid_survives_a_kill(tmp_path):
    (tmp_path / "killed_problem.py").write_text(textwrap.dedent(KILLED))
    ckpt = tmp_path / "grid.npz"
    script = ("import sys; sys.path.insert(0, sys.argv[1]); import killed_problem as k; "
              "import microgd as mg; k.calls['die_at'] = 30; "
              "mg.landscape(k.loss, k.CENTER, directions=k.DIRECTIONS, resolution=8, "
              "checkpoint=sys.argv[2])")
    run = subprocess.run([sys.executable, "-c", script, str(tmp_path), str(ckpt)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 3, run.stderr
    with np.load(ckpt, allow_pickle=False) as z:
        n_done = int(z["done"].sum())
    assert n_done == 28  # 16 chunks of 4 cells: seven finished before call 30
    spec = importlib.util.spec_from_file_location("killed_problem", tmp_path / "killed_problem.py")
    k = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(k)
    g = mg.landscape(k.loss, k.CENTER, directions=k.DIRECTIONS, resolution=8, checkpoint=ckpt)
    assert k.calls["n"] == 64 - 28 + 1 and g.resumed == 28
    fresh = mg.landscape(k.loss, k.CENTER, directions=k.DIRECTIONS, resolution=8)
    assert same(g.values, fresh.values)


def test_a_corrupt_or_foreign_checkpoint_is_refused_and_left_alone(tmp_path):
    params = mlp_params()
    d = mg.viz.directions(params, seed=4)
    kw = {"directions": d, "resolution": 5}
    good = tmp_path / "good.npz"
    mg.landscape(mlp_loss, params, checkpoint=good, **kw)
    data = good.read_bytes()

    def refused(path, match, **changes):
        before = path.read_bytes()
        calls = Calls(mlp_loss)
        args = dict(kw, **changes)
        with pytest.raises(ValueError, match=match):
            mg.landscape(calls, args.pop("params", params), checkpoint=path, **args)
        assert path.read_bytes() == before  # never overwritten
        return calls.n

    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip file at all")
    assert refused(junk, r"refusing checkpoint .*junk\.npz.*damaged") == 0
    cut = tmp_path / "cut.npz"
    cut.write_bytes(data[: len(data) // 2])
    assert refused(cut, "refusing checkpoint .*damaged") == 0
    single = tmp_path / "single.npy"
    np.save(single, np.zeros(3))
    refused(single, "a single array")
    other = tmp_path / "other.npz"
    np.savez(other, x=np.zeros(3))
    refused(other, "not a landscape checkpoint")
    refused(good, r"resolution \[5, 5\] there, \[6, 6\] here", resolution=6)
    refused(good, r"bounds .* there", bounds=[(-2, 2), (-1, 1)])
    refused(good, "the directions differ", directions=mg.viz.directions(params, seed=5))
    refused(good, "the center differs", params=mlp_params(2),
            directions=mg.viz.directions(mlp_params(2), seed=4))
    refused(good, "curvature False there, True here", curvature=True)

    def other_loss(ps):
        return mlp_loss(ps) * 2.0

    with pytest.raises(ValueError, match="another loss or other data"):
        mg.landscape(other_loss, params, checkpoint=good, **kw)
    assert good.read_bytes() == data


# ---- bad input ------------------------------------------------------------------------------


def test_bad_input_is_refused_before_any_evaluation():
    params = mlp_params()
    calls = Calls(mlp_loss)
    d1 = [np.ones_like(p) for p in params]
    d2 = [np.arange(p.size, dtype=float).reshape(p.shape) for p in params]
    cases = [
        ({"directions": [[np.ones((3, 5)), *d1[1:]], d2]},
         r"direction 1, array 0, has shape \(3, 5\); parameter 0 has shape \(3, 6\)"),
        ({"directions": [d1[:3], d2]}, "direction 1 has 3 arrays for 4 parameters"),
        ({"directions": [d1, d2, d1]}, "1 or 2 directions, got 3"),
        ({"directions": [d1, [2 * x for x in d1]]}, "parallel"),
        ({"directions": [[np.zeros_like(p) for p in params], d2]}, "direction 1 is zero"),
        ({"resolution": 1}, "resolution must be an integer of at least 2"),
        ({"resolution": True}, "resolution must be an integer"),
        ({"resolution": (5, 5, 5)}, "resolution has 3 entries for 2 directions"),
        ({"bounds": [(1, -1), (-1, 1)]}, "lo < hi"),
        ({"bounds": [(-1, 1)], "directions": [d1, d2]}, r"2 \(lo, hi\) pairs"),
        ({"curvature": "yes"}, "curvature must be True or False"),
        ({"executor": 0}, "executor must be None, a number"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=message):
            mg.landscape(calls, params, **kwargs)
    assert calls.n == 0
    with pytest.raises(ValueError, match=r"directions of shape \(3,\) for parameters of "
                                         r"shape \(2,\)"):
        mg.landscape(lambda w: w.sum(), np.zeros(2), directions=np.ones(3))
    with pytest.raises(TypeError, match="loss must be callable"):
        mg.landscape(None, params)
    with pytest.raises(ValueError, match=r"cell .* failed: ValueError: landscape: the loss "
                                         r"must return a scalar, got shape \(2,\)"):
        mg.landscape(lambda w: w * 1.0, np.zeros(2), directions=np.eye(2), resolution=2)


def test_nan_cells_are_counted_and_drawn_as_gaps():
    pytest.importorskip("matplotlib")

    def f(w):
        return np.nan if w[0] > 0.3 else float(w @ w)

    g = mg.landscape(f, np.zeros(2), directions=np.eye(2), resolution=11)
    assert g.n_nan == 11 * 4  # alpha = 0.4, 0.6, 0.8, 1.0: columns 7 to 10
    assert np.isnan(g.values[:, 7:]).all() and np.isfinite(g.values[:, :7]).all()
    assert "44 NaN" in repr(g)
    fig = mg.viz.plot_landscape(grid=g)
    ax = fig.axes[0]
    assert "44 of 121 cells NaN (blank)" in ax.get_title()
    line = mg.landscape(f, np.zeros(2), directions=np.eye(2)[:1], bounds=[(-1, 1)],
                        resolution=11)
    ax = mg.viz.plot_landscape(grid=line).axes[0]
    ys = next(ln for ln in ax.lines if ln.get_gid() == "landscape").get_ydata()
    assert np.isnan(ys[7:]).all() and np.isfinite(ys[:7]).all()
    with pytest.raises(ValueError, match="every cell of the grid is NaN"):
        mg.viz.plot_landscape(grid=mg.landscape(lambda w: np.nan, np.zeros(2),
                                                directions=np.eye(2), resolution=2))


# ---- directions -------------------------------------------------------------------------------


def walk_theory(T, k):
    """Variance fractions of the first PCA components of a random walk as n -> infinity."""
    L = np.tril(np.ones((T, T - 1)), -1)  # row t: the sum of the first t increments
    C = L - L.mean(axis=0)
    s = np.linalg.svd(C, compute_uv=False) ** 2
    return s[:k] / s.sum()


def test_pca_of_a_straight_path_and_of_a_random_walk():
    start, end = np.zeros(200), np.random.default_rng(1).standard_normal(200)
    line = [start + t * (end - start) for t in np.linspace(0, 1, 40)]
    d = mg.viz.directions(end, kind="pca", paths=line, k=1)
    assert d.explained_variance[0] == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(d.basis[0], (end - start) / np.linalg.norm(end), atol=1e-12)
    assert 0.45 < d.random_walk_variance[0] < 0.75  # about 6 / pi^2
    assert "explained variance [1.000]" in repr(d) and "random walk" in repr(d)
    # a path that *is* a random walk is explained no better than the baseline says
    rng = np.random.default_rng(2)
    walk = np.cumsum(rng.standard_normal((40, 3000)), axis=0)
    w = mg.viz.directions(walk[-1], kind="pca", paths=walk)
    np.testing.assert_allclose(w.explained_variance, w.random_walk_variance, atol=0.1)
    # the baseline agrees with the limit of many dimensions, and with plain sampling
    np.testing.assert_allclose(w.random_walk_variance, walk_theory(40, 2), atol=0.02)
    wide = mg.viz.directions(np.zeros(10 ** 5), kind="pca", paths=_sparse_walk(30, 10 ** 5))
    np.testing.assert_allclose(wide.random_walk_variance, walk_theory(30, 2), atol=0.005)
    narrow = mg.viz.directions(np.zeros(5), kind="pca", paths=np.cumsum(
        rng.standard_normal((50, 5)), axis=0))
    sims = []
    for _ in range(300):
        z = np.cumsum(np.vstack([np.zeros((1, 5)), rng.standard_normal((49, 5))]), axis=0)
        s = np.linalg.svd(z - z.mean(axis=0), compute_uv=False) ** 2
        sims.append(s[:2] / s.sum())
    np.testing.assert_allclose(narrow.random_walk_variance, np.mean(sims, axis=0), atol=0.06)


def _sparse_walk(T, n):
    """A path in n dimensions that moves in only 3 (cheap to build; PCA needs only rows)."""
    rows = np.zeros((T, n))
    rows[:, :3] = np.cumsum(np.random.default_rng(3).standard_normal((T, 3)), axis=0)
    return rows


def test_pca_of_several_histories_on_one_basis():
    A = np.diag([1.0, 10.0])
    hists = []
    for make in (lambda w: optim.GD([w], lr=0.05), lambda w: optim.Adam([w], lr=0.1)):
        w = mg.Value(np.array([2.0, 1.0]))
        data = (np.zeros((4, 1)), np.zeros((4, 1)))
        hist = mg.fit(lambda xb, yb, w=w: 0.5 * (w * (A @ w)).sum(), [w], data, make(w),
                      epochs=30, record_path=True, progress=False)
        hists.append(hist)
    d = mg.viz.directions(np.zeros(2), kind="pca", paths=hists)
    assert d.explained_variance.sum() == pytest.approx(1.0)
    for h in hists:  # two parameters: the plane is everything, the projection exact
        rows = np.array(h.path)
        coords = d.coordinates(rows)
        np.testing.assert_allclose(coords @ d.basis + d.flat_center, rows, atol=1e-12)
    first = d.coordinates(np.array(hists[0].path))
    assert first[-1, 0] > first[0, 0]  # signs: the first path moves towards +alpha
    with pytest.raises(ValueError, match="needs paths="):
        mg.viz.directions(np.zeros(2), kind="pca")
    with pytest.raises(ValueError, match="rows of 3 parameters"):
        mg.viz.directions(np.zeros(3), kind="pca", paths=hists)
    with pytest.raises(ValueError, match="more than 2 rows"):
        mg.viz.directions(np.zeros(2), kind="pca", paths=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="kind must be one of"):
        mg.viz.directions(np.zeros(2), kind="eigen")


def test_hessian_directions_are_eigenvectors():
    rng = np.random.default_rng(4)
    M = rng.standard_normal((5, 5))
    A = M + M.T

    def f(x):
        return 0.5 * (x * (A @ x)).sum()

    d = mg.viz.directions(np.zeros(5), kind="hessian", f=f)
    evals = np.linalg.eigvalsh(A)
    np.testing.assert_allclose(d.eigenvalues, [evals[-1], evals[0]], rtol=1e-10)
    for v, lam in zip(d, d.eigenvalues, strict=True):
        assert np.linalg.norm(v) == pytest.approx(1.0)
        np.testing.assert_allclose(A @ v, lam * v, atol=1e-9)
    # parameters as a list: the eigenvectors come in their shapes
    params = mlp_params()
    d = mg.viz.directions(params, kind="hessian", f=mlp_loss)
    assert [v.shape for v in d[0]] == [p.shape for p in params]
    hv = mg.hvp(mlp_loss, params, d[0])
    np.testing.assert_allclose(mg.transforms.flatten(hv), d.eigenvalues[0] * d.basis[0],
                               atol=1e-8)
    assert "eigenvalues [" in repr(d)
    with pytest.raises(ValueError, match="needs the loss: f="):
        mg.viz.directions(params, kind="hessian")


# ---- interpolation ---------------------------------------------------------------------------


def test_interpolation_between_two_points():
    a, b = mlp_params(1), mlp_params(2)
    line = mg.interpolate(mlp_loss, a, b)
    np.testing.assert_allclose(line.alpha, np.linspace(-0.5, 1.5, 51))
    for i in (0, 12, 30, 50):
        t = line.alpha[i]
        point = [(1 - t) * x + t * y for x, y in zip(a, b, strict=True)]
        assert line.values[i] == pytest.approx(mlp_loss(point).item(), rel=1e-12)
    assert line.value_a == mlp_loss(a).item() and line.value_b == mlp_loss(b).item()
    assert line.distance == pytest.approx(np.sqrt(sum(np.sum((y - x) ** 2)
                                                      for x, y in zip(a, b, strict=True))))
    assert "51 points" in repr(line)
    with pytest.raises(ValueError, match="differ in shapes"):
        mg.interpolate(mlp_loss, a, b[:3])
    with pytest.raises(ValueError, match="the same point"):
        mg.interpolate(mlp_loss, a, [x.copy() for x in a])
    with pytest.raises(ValueError, match="interpolate: resolution must be"):
        mg.interpolate(mlp_loss, a, b, num=1)


def test_plot_interpolation_draws_the_line_and_its_ends():
    pytest.importorskip("matplotlib")

    def f(w):
        return np.nan if w[0] > 1.25 else float(((w - 1.0) ** 2).sum())

    line = mg.interpolate(f, np.zeros(2), np.ones(2), num=21)
    ax = mg.viz.plot_interpolation(line).axes[0]
    curve = next(ln for ln in ax.lines if ln.get_gid() == "line:loss")
    assert same(curve.get_ydata(), line.values)
    ends = next(ln for ln in ax.lines if ln.get_gid() == "ends:loss")
    assert ends.get_xydata().tolist() == [[0.0, 2.0], [1.0, 0.0]]
    assert f"({line.n_nan} points NaN: gaps)" in ax.get_title() and line.n_nan == 3
    two = mg.viz.plot_interpolation({"GD": line, "Adam": line}).axes[0]
    assert [t.get_text() for t in two.get_legend().get_texts()] == ["GD", "Adam"]
    with pytest.raises(TypeError, match="not a result of mg.interpolate"):
        mg.viz.plot_interpolation([line, np.zeros(3)])


# ---- plot_landscape(grid=...) -------------------------------------------------------------------


def test_several_paths_projected_on_one_basis(tmp_path):
    pytest.importorskip("matplotlib")
    params = mlp_params()
    rng = np.random.default_rng(6)
    flat = mg.transforms.flatten(params)
    paths = {"SGD": flat + rng.standard_normal((8, flat.size)) * 0.05,
             "Adam": flat + rng.standard_normal((5, flat.size)) * 0.05}
    g = mg.landscape(mlp_loss, params, resolution=7, curvature=False)
    fig = mg.viz.plot_landscape(grid=g, paths=paths, path=tmp_path / "grid.png")
    assert (tmp_path / "grid.png").stat().st_size > 1000
    ax = fig.axes[0]
    for label, rows in paths.items():
        line = next(ln for ln in ax.lines if ln.get_gid() == f"path:{label} (projected)")
        xy = g.directions.coordinates(rows)
        np.testing.assert_allclose(line.get_xdata(), xy[:, 0])
        np.testing.assert_allclose(line.get_ydata(), xy[:, 1])
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:2] == ["parameters (\u03b1=\u03b2=0)", "SGD (projected)"]
    assert "random filter-normalized directions (seed 0)" in ax.get_title()
    with pytest.raises(ValueError, match="show='ratio' needs a grid computed with curvature"):
        mg.viz.plot_landscape(grid=g, show="ratio")
    curved = mg.landscape(lambda w: w[0] ** 2 - w[1] ** 2 + w[0] ** 4, np.zeros(2),
                          directions=np.eye(2), resolution=5, curvature=True)
    ax = mg.viz.plot_landscape(grid=curved, show="ratio").axes[0]
    assert ax.get_title().startswith("|\u03bb_min / \u03bb_max| along")
    pca = mg.viz.directions(params, kind="pca", paths=list(paths.values()))
    gp = mg.landscape(mlp_loss, params, directions=pca, resolution=3)
    assert "% of the paths' variance" in mg.viz.plot_landscape(grid=gp).axes[0].get_xlabel()
    line = mg.landscape(mlp_loss, params, directions=[pca[0]], bounds=[(-1, 1)], resolution=3)
    with pytest.raises(ValueError, match="paths are drawn on a 2-D grid"):
        mg.viz.plot_landscape(grid=line, paths=paths)
    with pytest.raises(ValueError, match="grid= alone"):
        mg.viz.plot_landscape(lambda p: p[0], grid=g)


# ---- find_critical_points on an executor ---------------------------------------------------


def test_find_critical_points_is_the_same_on_an_executor(threads):
    def f(v):
        return v[0] ** 3 - 3 * v[0] + v[1] ** 2

    serial = mg.find_critical_points(f, [(-2, 2), (-2, 2)], starts=30, seed=0)
    spread = mg.find_critical_points(f, [(-2, 2), (-2, 2)], starts=30, seed=0,
                                     executor=threads)
    assert sorted(p.kind for p in serial) == ["minimum", "saddle"]
    assert len(spread) == len(serial)
    for a, b in zip(serial, spread, strict=True):
        assert np.array_equal(a.x, b.x) and a.value == b.value


def _cubic_saddle(v):
    return v[0] ** 3 - 3 * v[0] + v[1] ** 2


@pytest.mark.parametrize("where", ["processes", "dask"])
def test_find_critical_points_is_bit_identical_in_worker_processes_and_on_dask(where, request):
    executor = 2 if where == "processes" else request.getfixturevalue("dask_executor")
    serial = mg.find_critical_points(_cubic_saddle, [(-2, 2), (-2, 2)], starts=24, seed=3)
    spread = mg.find_critical_points(_cubic_saddle, [(-2, 2), (-2, 2)], starts=24, seed=3,
                                     executor=executor)
    assert [p.kind for p in spread] == [p.kind for p in serial] == ["minimum", "saddle"]
    for a, b in zip(serial, spread, strict=True):
        assert np.array_equal(a.x, b.x) and a.value == b.value
        assert np.array_equal(a.eigenvalues, b.eigenvalues)


def test_find_critical_points_names_the_start_that_failed(threads):
    # the starts are drawn as find_critical_points draws them; the 30th one fails
    start = -2 + 4 * np.random.default_rng(0).random((40, 2))[30]

    def f(v):
        if np.array_equal(getattr(v, "data", v), start):
            raise ArithmeticError("boom")
        return v[0] ** 2 + v[1] ** 2

    with pytest.raises(ArithmeticError, match=r"find_critical_points: the start \[.*failed.*boom"):
        mg.find_critical_points(f, [(-2, 2), (-2, 2)], starts=40, seed=0, executor=threads)
