"""Monitors: curvature measured on the full training loss during fit, without disturbing it."""

import math

import numpy as np
import pytest

import microgd as mg
from microgd import monitors, nn, optim
from microgd.transforms import unflatten


def problem(seed=0, n=40):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3))
    Y = np.eye(2)[rng.integers(0, 2, n)]
    model = nn.MLP(3, [5, 2], activation="tanh", seed=seed)
    ps = model.parameters()
    return X, Y, model, ps, lambda xb, yb: ((model(xb) - yb) ** 2).mean()


def full_loss_of(model, X, Y):
    def f(arrays):  # the MLP written out: tanh(X W0 + b0) W1 + b1
        W0, b0, W1, b1 = arrays
        out = mg.tanh(X @ W0 + b0) @ W1 + b1
        return ((out - Y) ** 2).mean()
    return f


def run(make_opt, mons=(), batch_size=None, shuffle=True, epochs=4, record_path=False):
    X, Y, model, ps, lf = problem()
    hist = mg.fit(lf, ps, (X, Y), make_opt(ps), epochs=epochs, batch_size=batch_size,
                  shuffle=shuffle, monitors=list(mons), record_path=record_path)
    return hist, ps, model, X, Y


def all_monitors():
    return [monitors.Sharpness(every=2), monitors.Eigenvalues(every=3, k=2),
            monitors.HessianTrace(every=3, samples=4), monitors.GradientNoise(every=2)]


@pytest.mark.parametrize("make_opt, batch_size", [
    (lambda ps: optim.GD(ps, lr=0.3), None),
    (lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9), 1),
    (lambda ps: optim.Adam(ps, lr=0.01), 7),
])
def test_monitors_leave_training_bit_identical(make_opt, batch_size):
    h0, p0, *_ = run(make_opt, (), batch_size)
    h1, p1, *_ = run(make_opt, all_monitors(), batch_size)
    for a, b in zip(p0, p1, strict=True):
        assert np.array_equal(a.data, b.data)
        assert np.array_equal(a.grad, b.grad)
        assert a._version == b._version
    assert h0.step_loss == h1.step_loss and h0.grad_norm == h1.grad_norm
    assert set(h1.monitors) == {"sharpness", "eigenvalues", "hessian_trace", "gradient_noise"}


@pytest.mark.parametrize("batch_size", [None, 7])
def test_sharpness_is_the_top_eigenvalue_of_the_full_training_loss(batch_size):
    hist, ps, model, X, Y = run(lambda ps: optim.GD(ps, lr=0.3),
                                [monitors.Sharpness(every=2, tol=1e-10),
                                 monitors.Eigenvalues(every=4, k=2, tol=1e-10)],
                                batch_size=batch_size, shuffle=False, record_path=True)
    shapes = [np.asarray(p.data) for p in ps]
    f = full_loss_of(model, X, Y)
    rec = hist.monitors["sharpness"]
    steps = len(hist.step_loss)
    assert rec["step"] == list(range(0, steps + 1, 2))
    for step, value in zip(rec["step"], rec["value"], strict=True):
        row = hist.path[hist.path_steps.index(step)]
        exact = mg.hessian_eigs(f, unflatten(row, shapes), k=2, method="dense")
        assert value == pytest.approx(exact.eigenvalues[-1], rel=1e-8)
    for step, values in zip(hist.monitors["eigenvalues"]["step"],
                            hist.monitors["eigenvalues"]["value"], strict=True):
        row = hist.path[hist.path_steps.index(step)]
        exact = mg.hessian_eigs(f, unflatten(row, shapes), k=2, method="dense").eigenvalues
        np.testing.assert_allclose(values, exact, rtol=1e-7, atol=1e-9)
    assert rec["threshold"] == [pytest.approx(2 / 0.3)] * len(rec["step"])


def test_warm_start_needs_fewer_products_than_a_cold_start():
    warm, *_ = run(lambda ps: optim.GD(ps, lr=0.1), [monitors.Sharpness(every=1)], epochs=30)
    cold, *_ = run(lambda ps: optim.GD(ps, lr=0.1),
                   [monitors.Sharpness(every=1, warm_start=False)], epochs=30)
    w, c = warm.monitors["sharpness"], cold.monitors["sharpness"]
    np.testing.assert_allclose(w["value"], c["value"], rtol=1e-5)
    assert np.mean(w["n_hvp"][1:]) < 0.6 * np.mean(c["n_hvp"][1:])
    assert all(w["converged"])


def test_hessian_trace_and_eigenvalues_of_a_quadratic():
    w = mg.Value([1.0, -2.0, 0.5])
    def lf(xb, yb):
        return 3 * w[0] ** 2 + w[1] ** 2 - 0.5 * w[2] ** 2  # H = diag(6, 2, -1)
    hist = mg.fit(lf, [w], (np.zeros(1), np.zeros(1)), optim.GD([w], lr=0.01), epochs=6,
                  monitors=[monitors.HessianTrace(every=3, samples=5),
                            monitors.Eigenvalues(every=6, k=1)])
    tr = hist.monitors["hessian_trace"]
    assert tr["step"] == [0, 3, 6]
    assert tr["value"] == [pytest.approx(7.0)] * 3 and tr["stderr"] == [0.0] * 3  # diagonal H
    np.testing.assert_allclose(hist.monitors["eigenvalues"]["value"], [[-1, 6]] * 2)


def test_gradient_noise_matches_per_sample_gradients():
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((9, 2)), rng.standard_normal(9)
    w = mg.Value([0.3, -0.2])
    def lf(xb, yb):
        return ((xb @ w - yb) ** 2).mean()
    hist = mg.fit(lf, [w], (X, y), optim.GD([w], lr=0.1), epochs=0,
                  monitors=[monitors.GradientNoise(every=1)])
    per_sample = 2 * (X @ w.data - y)[:, None] * X
    g = per_sample.mean(axis=0)
    trace = ((per_sample - g) ** 2).sum() / (len(X) - 1)
    rec = hist.monitors["gradient_noise"]
    assert rec["trace_cov"][0] == pytest.approx(trace, rel=1e-12)
    assert rec["value"][0] == pytest.approx(trace / (g @ g), rel=1e-12)
    assert rec["grad_norm"][0] == pytest.approx(np.linalg.norm(g), rel=1e-12)
    # batches of 3: three batch gradients, weighted by their sizes
    hist = mg.fit(lf, [w], (X, y), optim.GD([w], lr=0.1), epochs=0,
                  monitors=[monitors.GradientNoise(every=1, batch_size=3)])
    gb = per_sample.reshape(3, 3, 2).mean(axis=1)
    assert hist.monitors["gradient_noise"]["trace_cov"][0] == pytest.approx(
        3 * ((gb - g) ** 2).sum() / 2, rel=1e-12)


@pytest.mark.parametrize("make, lam_factor", [
    (lambda ps, lr: optim.GD(ps, lr=lr), 1.0),
    (lambda ps, lr: optim.SGD(ps, lr=lr, momentum=0.5), 1.0),
    (lambda ps, lr: optim.Nesterov(ps, lr=lr, momentum=0.5), 1.0),
    (lambda ps, lr: optim.Momentum(ps, lr=lr, beta=0.7), 1.0),
    (lambda ps, lr: optim.SGD(ps, lr=lr, momentum=0.5, dampening=0.3, weight_decay=0.2), 1.0),
])
def test_stability_threshold_separates_convergence_from_divergence(make, lam_factor):
    lr = 0.1
    threshold = monitors.stability_threshold(make([mg.Value(0.0)], lr))
    for factor, grows in ((0.98, False), (1.02, True)):
        w = mg.Value(1.0)
        opt = make([w], lr)
        lam = factor * threshold * lam_factor
        for _ in range(3000):
            if abs(w.item()) > 10:  # diverging: enough said
                break
            opt.zero_grad()
            (0.5 * lam * w ** 2).backward()
            opt.step()
        assert (abs(w.item()) > 1.0) is grows, (factor, w.item())


def test_stability_threshold_of_adaptive_optimizers_is_nan():
    assert math.isnan(monitors.stability_threshold(optim.Adam([mg.Value(1.0)], lr=0.1)))
    hist, *_ = run(lambda ps: optim.Adam(ps, lr=0.01), [monitors.Sharpness(every=2)])
    assert all(math.isnan(t) for t in hist.monitors["sharpness"]["threshold"])


def test_monitors_are_saved_and_loaded(tmp_path):
    hist, *_ = run(lambda ps: optim.Adam(ps, lr=0.01), all_monitors())
    hist.save(tmp_path / "h.json")
    back = mg.History.load(tmp_path / "h.json")
    assert back == hist
    assert back.monitors["eigenvalues"]["value"] == hist.monitors["eigenvalues"]["value"]
    assert isinstance(back.monitors["sharpness"]["n_hvp"][0], int)


def test_a_corrupt_monitor_record_is_refused(tmp_path):
    import json
    path = tmp_path / "h.json"
    path.write_text(json.dumps({"monitors": {"sharpness": {"step": [0, 1], "value": [1.0]}}}))
    with pytest.raises(ValueError, match="1 values of 'value' for 2 steps"):
        mg.History.load(path)
    path.write_text(json.dumps({"monitors": [1]}))
    with pytest.raises(ValueError, match="'monitors' is not a mapping"):
        mg.History.load(path)


def test_the_last_step_is_measured_when_due():
    hist, *_ = run(lambda ps: optim.GD(ps, lr=0.1), [monitors.Sharpness(every=2)], epochs=4)
    assert hist.monitors["sharpness"]["step"] == [0, 2, 4]
    hist, *_ = run(lambda ps: optim.GD(ps, lr=0.1), [monitors.Sharpness(every=3)], epochs=4)
    assert hist.monitors["sharpness"]["step"] == [0, 3]


@pytest.mark.parametrize("make, exc, message", [
    (lambda: monitors.Sharpness(every=0), ValueError, "every must be a positive integer"),
    (lambda: monitors.Eigenvalues(k=0), ValueError, "k must be a positive integer"),
    (lambda: monitors.Eigenvalues(which="top"), ValueError, "which must be"),
    (lambda: monitors.HessianTrace(samples=1), ValueError, "samples must be an integer"),
    (lambda: monitors.Sharpness(tol=0), ValueError, "tol must be in"),
    (lambda: monitors.GradientNoise(batch_size=0), ValueError, "batch_size must be"),
])
def test_bad_monitor_arguments(make, exc, message):
    with pytest.raises(exc, match=message):
        make()


def test_bad_monitor_use_in_fit_changes_nothing():
    X, Y, model, ps, lf = problem()
    before = [p.data.copy() for p in ps]
    opt = optim.GD(ps, lr=0.1)
    with pytest.raises(ValueError, match="two monitors record as 'sharpness'"):
        mg.fit(lf, ps, (X, Y), opt, 2, monitors=[monitors.Sharpness(), monitors.Sharpness()])
    with pytest.raises(TypeError, match=r"monitors\[0\] is a str"):
        mg.fit(lf, ps, (X, Y), opt, 2, monitors=["sharpness"])
    with pytest.raises(ValueError, match="noise needs at least 2"):
        mg.fit(lf, ps, (X, Y), opt, 2, monitors=[monitors.GradientNoise(batch_size=40)])
    with pytest.raises(ValueError, match="loss_fn must return a scalar Value"):
        mg.fit(lambda xb, yb: (model(xb) - yb) ** 2, ps, (X, Y), opt, 2,
               monitors=[monitors.Sharpness()])
    assert all(np.array_equal(a, p.data) for a, p in zip(before, ps, strict=True))
    two = mg.fit(lf, ps, (X, Y), optim.GD(ps, lr=0.1), 1,
                 monitors=[monitors.Sharpness(every=1), monitors.Sharpness(every=1, name="s2")])
    assert two.monitors["sharpness"]["value"] == pytest.approx(two.monitors["s2"]["value"])


def test_plot_history_draws_a_monitor_with_its_threshold():
    pytest.importorskip("matplotlib")
    hist, *_ = run(lambda ps: optim.GD(ps, lr=0.3), [monitors.Sharpness(every=2),
                                                    monitors.Eigenvalues(every=2, k=2)])
    fig = mg.viz.plot_history(hist, series="sharpness")
    lines = {ln.get_gid(): ln for ln in fig.axes[0].lines}
    np.testing.assert_allclose(lines["threshold:monitors"].get_ydata(), 2 / 0.3)
    np.testing.assert_allclose(lines["monitor:monitors:0"].get_ydata(),
                               hist.monitors["sharpness"]["value"])
    fig = mg.viz.plot_history(hist, series="eigenvalues")
    assert len(fig.axes[0].lines) == 4
    with pytest.raises(ValueError, match="name of a monitor every history has"):
        mg.viz.plot_history(hist, series="hessian_trace")


def test_fit_runs_second_order_optimizers_with_the_step_loss():
    def quadratic_saddle(w):
        return 5 * w[0] ** 2 - w[1] ** 2

    for opt_cls, runs_away in ((optim.Newton, False), (optim.SaddleFreeNewton, True)):
        w = mg.Value(np.array([1.0, 0.5]))
        mg.fit(lambda xb, yb, w=w: quadratic_saddle(w), [w], (np.zeros(1), np.zeros(1)),
               opt_cls([w], lr=0.5), epochs=5)
        manual = mg.Value(np.array([1.0, 0.5]))
        opt = opt_cls([manual], lr=0.5)
        for _ in range(5):
            opt.step(lambda m=manual: quadratic_saddle(m))
        assert np.array_equal(w.data, manual.data)
        assert bool(abs(w.data[1]) > 0.5) is runs_away
        assert abs(w.data[0]) < 0.05
