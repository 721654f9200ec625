"""fit, History, DivergenceError and checkpoints, on the course toy and small models."""

import importlib
import inspect
import json
import math
import os
import signal
import stat
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest

import microgd as mg
from microgd import nn, optim
from microgd.testing import check_grads
from microgd.train import PATH_MAX_BYTES, PATH_ROWS, _path_cap

train_module = importlib.import_module("microgd.train")

X = np.array([1.0, 2.0, 3.0])
Y = np.array([2.0, 4.0, 6.0])


def toy_loss(w):
    return lambda xb, yb: ((xb * w - yb) ** 2).mean()


def test_course_toy_full_batch_gd():
    w = mg.Value(1.0)
    hist = mg.fit(toy_loss(w), [w], (X, Y), optim.GD([w], lr=0.01), epochs=100)
    # closed form: w_t = 2 - (1 - lr * 2 * mean(x^2))^t
    assert w.item() == pytest.approx(2 - (1 - 0.01 * 2 * 14 / 3) ** 100, rel=1e-12)
    assert abs(w.item() - 2) < 1e-4
    assert (X.max() + 1) * w.item() == pytest.approx(8.0, abs=1e-3)  # predict at x = 4
    assert len(hist.step_loss) == len(hist.epoch_loss) == len(hist.grad_norm) == 100
    assert hist.step_loss[0] == pytest.approx(14 / 3)  # recorded before the update
    assert hist.epoch_loss == hist.step_loss  # one batch per epoch
    assert hist.lr == [0.01] * 100
    assert hist.grad_norm[0] == pytest.approx(2 * 14 / 3)
    assert all(a > b for a, b in zip(hist.step_loss, hist.step_loss[1:], strict=False))


def test_course_toy_sgd_equals_hand_written_loop():
    w = mg.Value(1.0)
    hist = mg.fit(toy_loss(w), [w], (X, Y), optim.SGD([w], lr=0.01), epochs=100,
                  batch_size=1, shuffle=False)
    w_hand, losses = 1.0, []
    for _ in range(100):
        for x, y in zip(X, Y, strict=True):
            losses.append((x * w_hand - y) ** 2)
            w_hand -= 0.01 * 2 * x * (x * w_hand - y)
    assert w.item() == pytest.approx(w_hand, rel=1e-14)
    np.testing.assert_allclose(hist.step_loss, losses, rtol=1e-13)
    assert len(hist.epoch_loss) == 100 and len(hist.step_loss) == 300
    assert hist.epoch_loss[0] == pytest.approx(np.mean(losses[:3]))


def test_minibatch_epoch_loss_weighted_and_partial_batch_kept():
    Xs, Ys = np.arange(5.0), 2 * np.arange(5.0)
    w = mg.Value(0.0)
    hist = mg.fit(toy_loss(w), [w], (Xs, Ys), optim.GD([w], lr=1e-9), epochs=1,
                  batch_size=2, shuffle=False)
    assert len(hist.step_loss) == 3  # 2 + 2 + 1
    sizes = [2, 2, 1]
    assert hist.epoch_loss[0] == pytest.approx(np.dot(hist.step_loss, sizes) / 5)


def test_shuffling_reproducible_from_seed():
    def run(seed):
        w = mg.Value(1.0)
        h = mg.fit(toy_loss(w), [w], (X, Y), optim.SGD([w], lr=0.01), epochs=5,
                   batch_size=1, seed=seed)
        return h.step_loss, w.item()

    assert run(3) == run(3)
    assert run(3)[0] != run(4)[0]


def test_lr_too_large_diverges_and_keeps_last_finite_parameters():
    w = mg.Value(1.0)
    with pytest.raises(mg.DivergenceError, match="smaller learning rate") as info:
        mg.fit(toy_loss(w), [w], (X, Y), optim.GD([w], lr=1.0), epochs=100)
    err = info.value
    assert isinstance(err, FloatingPointError)
    assert w.item() == err.params[0].item()  # left at the values before the bad step
    # that step's loss, recomputed, is the one that crossed the line
    bad = ((X * w.item() - Y) ** 2).mean()
    assert bad > 1e6 * err.history.step_loss[0]
    assert all(math.isfinite(v) for v in err.history.step_loss)
    assert all(v <= 1e6 * err.history.step_loss[0] for v in err.history.step_loss)
    # replaying the recorded steps reproduces the kept parameter
    w_hand = 1.0
    for _ in err.history.step_loss:
        w_hand -= 1.0 * np.mean(2 * X * (X * w_hand - Y))
    assert w.item() == pytest.approx(w_hand)


def test_nan_loss_diverges_immediately():
    w = mg.Value(-1.0)
    with np.errstate(invalid="ignore"), pytest.raises(mg.DivergenceError, match="nan"):
        mg.fit(lambda xb, yb: (xb * w).sqrt().sum(), [w], (X, Y), optim.GD([w], lr=0.1),
               epochs=3)
    assert w.item() == -1.0


def test_callbacks_stop_and_record_path():
    w = mg.Value(1.0)
    seen = []

    def cb(hist, epoch):
        seen.append(epoch)
        return epoch == 2

    hist = mg.fit(toy_loss(w), [w], (X, Y), optim.GD([w], lr=0.01), epochs=10,
                  callbacks=[cb], record_path=True)
    assert seen == [0, 1, 2] and len(hist.epoch_loss) == 3
    assert hist.path[0].tolist() == [1.0] and hist.path_steps == [0, 1, 2, 3]
    assert hist.path[-1].tolist() == [w.item()]


def test_record_path_is_bounded():
    w = mg.Value(1.0)
    hist = mg.fit(toy_loss(w), [w], (X, Y), optim.GD([w], lr=0.001), epochs=100,
                  record_path=16)
    assert len(hist.path) <= 17
    assert hist.path_steps[0] == 0 and hist.path_steps == sorted(hist.path_steps)
    assert hist.path_steps[-1] >= 90


def _mlp_problem(seed=0, rows=16, dtype=np.float64):
    rng = np.random.default_rng(seed)
    Xm = rng.standard_normal((rows, 4)).astype(dtype)
    ym = rng.standard_normal(rows).astype(dtype)
    model = nn.MLP(4, [64, 64, 1], activation="tanh", seed=seed, dtype=dtype)
    return model, (Xm, ym), lambda xb, yb: nn.mse(model(xb)[:, 0], yb)


def test_path_rows_are_float64_arrays_of_the_parameters_after_each_step():
    model, data, loss = _mlp_problem()
    params = model.parameters()
    n = sum(p.size for p in params)
    after = []  # full batch: one step per epoch, so a callback sees every step's result

    def snapshot(hist, epoch):
        after.append(np.concatenate([p.data.ravel() for p in params]))

    start = np.concatenate([p.data.ravel() for p in params])
    hist = mg.fit(loss, params, data, optim.SGD(params, lr=0.05), epochs=5,
                  callbacks=[snapshot], record_path=True)
    assert hist.path_steps == [0, 1, 2, 3, 4, 5]
    assert all(type(r) is np.ndarray and r.dtype == np.float64 and r.shape == (n,)
               for r in hist.path)
    np.testing.assert_array_equal(np.array(hist.path), np.array([start, *after]))
    # rows are copies: training on does not change what was recorded
    kept = hist.path[-1].copy()
    mg.fit(loss, params, data, optim.SGD(params, lr=0.05), epochs=1)
    np.testing.assert_array_equal(hist.path[-1], kept)


def test_path_memory_is_bounded_by_path_max_bytes_on_a_real_model():
    model, data, loss = _mlp_problem()
    params = model.parameters()
    n = sum(p.size for p in params)
    assert n == 4545
    budget = 2**20
    rows = budget // (8 * n)  # 28
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        hist = mg.fit(loss, params, data, optim.SGD(params, lr=0.01), epochs=200,
                      record_path=True, path_max_bytes=budget)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert rows // 2 < len(hist.path) <= rows
    assert sum(r.nbytes for r in hist.path) <= budget
    # Everything fit left alive is the history: the path plus 3 x 200 floats. As Python
    # float lists the rows alone would take 4x the budget.
    assert held < budget + 100_000, held
    # thinned to every stride-th step, evenly, from the start on
    stride = hist.path_steps[1]
    assert hist.path_steps == list(range(0, 201, stride))[:len(hist.path_steps)]
    assert hist.path_steps[-1] > 200 - stride

    # the kept rows are exactly the rows an unthinned recording has at those steps
    model2, data2, loss2 = _mlp_problem()
    full = mg.fit(loss2, model2.parameters(), data2, optim.SGD(model2.parameters(), lr=0.01),
                  epochs=200, record_path=1000, path_max_bytes=None)
    assert full.path_steps == list(range(201))
    np.testing.assert_array_equal(np.array(hist.path),
                                  np.array(full.path)[hist.path_steps])


def test_histories_compare_equal_by_value():
    def run():
        model, data, loss = _mlp_problem()
        ps = model.parameters()
        return mg.fit(loss, ps, data, optim.SGD(ps, lr=0.01), epochs=3, record_path=True)

    a, b = run(), run()
    assert a == b
    b.path[1] = b.path[1] + 1e-12
    assert a != b
    assert a != mg.History() and a != "history"


def test_default_path_limit_is_256_mib():
    assert PATH_MAX_BYTES == 256 * 2**20 and PATH_ROWS == 10_000
    assert inspect.signature(mg.fit).parameters["path_max_bytes"].default == PATH_MAX_BYTES
    # the model: 4,865 parameters keep 6,897 rows (256 MiB), not 10,000 (371 MiB)
    assert _path_cap(True, PATH_MAX_BYTES, 4865) == 6897
    assert _path_cap(True, PATH_MAX_BYTES, 2) == 10_000
    assert _path_cap(50_000, None, 4865) == 50_000
    assert _path_cap(False, PATH_MAX_BYTES, 4865) == 0


def test_record_path_bad_input_is_refused_before_training():
    w = mg.Value(np.ones(100))
    opt = optim.GD([w], lr=0.1)
    loss = lambda xb, yb: (w ** 2).sum()  # noqa: E731
    cases = [
        ({"record_path": -1}, "record_path must be True, False or a number"),
        ({"record_path": "yes"}, "record_path must be"),
        ({"record_path": True, "path_max_bytes": 0}, "path_max_bytes must be a positive"),
        ({"record_path": True, "path_max_bytes": 1000},
         r"one row of the path is 800 bytes \(100 parameters\), so path_max_bytes=1,000 "
         "holds fewer than 2 rows"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=message):
            mg.fit(loss, [w], (X, Y), opt, epochs=3, **kwargs)
        assert np.array_equal(w.data, np.ones(100)) and w.grad is None


def test_history_save_load_keeps_inf_and_nan_in_series_and_path(tmp_path):
    inf, nan = math.inf, math.nan
    hist = mg.History(step_loss=[1.0, inf], epoch_loss=[-inf], grad_norm=[nan, 2.5],
                      lr=[0.1, 0.1], path=[np.array([1.0, inf]), np.array([-inf, nan])],
                      path_steps=[0, 1])
    path = tmp_path / "h.json"
    hist.save(path)

    def refuse(token):
        raise AssertionError(f"non-standard JSON token {token}")

    raw = json.loads(path.read_text(), parse_constant=refuse)  # strict JSON
    assert raw["step_loss"] == [1.0, "Infinity"] and raw["grad_norm"] == [None, 2.5]
    back = mg.History.load(path)
    assert back.step_loss == [1.0, inf] and back.epoch_loss == [-inf]
    assert math.isnan(back.grad_norm[0]) and back.grad_norm[1] == 2.5
    assert back.path[0].tolist() == [1.0, inf]
    assert back.path[1][0] == -inf and math.isnan(back.path[1][1])
    assert back.path_steps == [0, 1]


def test_history_load_reads_old_files_and_refuses_bad_ones(tmp_path):
    old = tmp_path / "old.json"  # written before: every non-finite number as null
    old.write_text('{"step_loss": [1.0, null], "epoch_loss": [], "grad_norm": [], "lr": [],'
                   ' "path": [[1.0, 2.0]], "path_steps": [0]}')
    back = mg.History.load(old)
    assert back.step_loss[0] == 1.0 and math.isnan(back.step_loss[1])
    assert back.path[0].tolist() == [1.0, 2.0] and back.path_steps == [0]
    bad = {
        '{"step_loss": "x"}': "'step_loss' is not a list",
        '{"step_loss": ["abc"]}': "'step_loss': 'abc' is not a number",
        '{"path": [[1.0], [1.0, 2.0]], "path_steps": [0, 1]}': "differ in length",
        '{"path": [[1.0]], "path_steps": [0, 1]}': "1 path rows but 2 path_steps",
        '{"path": [[1.0]], "path_steps": [0.5]}': "'path_steps' must hold integers",
        "[1, 2]": "does not hold a history",
        "{nope": "is not JSON",
    }
    for text, message in bad.items():
        old.write_text(text)
        with pytest.raises(ValueError, match=message):
            mg.History.load(old)


def test_history_save_gets_the_usual_permissions(tmp_path):
    mask = os.umask(0o022)
    try:
        mg.History(step_loss=[1.0]).save(tmp_path / "h.json")
    finally:
        os.umask(mask)
    assert stat.S_IMODE((tmp_path / "h.json").stat().st_mode) == 0o644
    assert os.listdir(tmp_path) == ["h.json"]


def test_loss_not_finite_at_the_start_blames_the_data_not_the_learning_rate():
    w = mg.Value(1.0)
    with np.errstate(all="ignore"), pytest.raises(mg.DivergenceError) as info:
        mg.fit(toy_loss(w), [w], (np.array([1.0, np.inf, 3.0]), Y),
               optim.GD([w], lr=0.01), epochs=3)
    err = info.value
    message = str(err)
    assert "the loss is inf at the start, before any update" in message
    assert "the learning rate is not the cause" in message and "check the data" in message
    assert "smaller learning rate" not in message
    assert (err.epoch, err.step) == (1, 1) and err.history.step_loss == []
    assert w.item() == 1.0 and err.params[0].item() == 1.0
    # a gradient that is not finite at the start is the same story
    v = mg.Value(0.0)
    with np.errstate(all="ignore"), pytest.raises(mg.DivergenceError,
                                                  match="gradient norm is inf at the start"):
        mg.fit(lambda xb, yb: v.sqrt(), [v], (X, Y), optim.GD([v], lr=0.01), epochs=3)


def test_later_divergence_reports_its_step():
    w = mg.Value(1.0)
    with pytest.raises(mg.DivergenceError, match="smaller learning rate") as info:
        mg.fit(toy_loss(w), [w], (X, Y), optim.GD([w], lr=1.0), epochs=100)
    err = info.value
    assert err.step == len(err.history.step_loss) + 1 > 1 and err.epoch == err.step


def test_huge_but_finite_gradient_is_recorded_not_called_divergence():
    # Squaring 1e200 overflows; the norm does not.
    w = mg.Value([1.0, 1.0])
    hist = mg.fit(lambda xb, yb: (w * 1e200).sum(), [w], (X, Y), optim.GD([w], lr=1e-220),
                  epochs=2)
    assert hist.grad_norm == pytest.approx([math.sqrt(2) * 1e200] * 2, rel=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_grad_norm_is_the_norm_over_all_parameters(dtype):
    model, data, loss = _mlp_problem(seed=1, dtype=dtype)
    params = model.parameters()
    loss(*data).backward()
    want = np.linalg.norm(np.concatenate([p.grad.astype(np.float64).ravel() for p in params]))
    model.zero_grad()
    hist = mg.fit(loss, params, data, optim.SGD(params, lr=0.01), epochs=1)
    assert hist.grad_norm[0] == pytest.approx(want, rel=1e-13 if dtype == np.float64 else 1e-5)


def test_every_callback_runs_even_when_one_stops_training():
    w = mg.Value(1.0)
    calls = []

    def stop(hist, epoch):
        calls.append(("stop", epoch))
        return epoch == 1

    def log(hist, epoch):
        calls.append(("log", epoch, len(hist.epoch_loss)))

    hist = mg.fit(toy_loss(w), [w], (X, Y), optim.GD([w], lr=0.01), epochs=5,
                  callbacks=[stop, log])
    assert calls == [("stop", 0), ("log", 0, 1), ("stop", 1), ("log", 1, 2)]
    assert len(hist.epoch_loss) == 2


def test_progress_bar_counts_every_step_and_redraws_sparingly(monkeypatch):
    class Bar:
        def __init__(self):
            self.n, self.updates, self.postfix, self.closed = 0, 0, None, False

        def update(self, k):
            self.n += k
            self.updates += 1

        def set_postfix(self, refresh=True, **kw):
            self.postfix = kw

        def close(self):
            self.closed = True

    bars = []
    monkeypatch.setattr(train_module, "_progress_bar",
                        lambda enabled, total: bars.append(Bar()) or bars[-1])
    w = mg.Value(1.0)
    mg.fit(toy_loss(w), [w], (X, Y), optim.SGD([w], lr=1e-4), epochs=1001, batch_size=1,
           progress=True)
    bar = bars[0]
    assert bar.n == 3003 and bar.closed
    assert bar.updates <= 1002 and bar.postfix["loss"]


def test_smoothed_is_bias_corrected_ema():
    h = mg.History(step_loss=[1.0, 3.0, 2.0])
    beta = 0.9
    v, want = 0.0, []
    for t, x in enumerate([1.0, 3.0, 2.0], 1):
        v = beta * v + (1 - beta) * x
        want.append(v / (1 - beta ** t))
    assert h.smoothed(beta) == pytest.approx(want)
    assert h.smoothed(0.0) == [1.0, 3.0, 2.0]
    with pytest.raises(ValueError, match="beta"):
        h.smoothed(1.0)


def test_history_json_round_trip(tmp_path):
    w = mg.Value(1.0)
    hist = mg.fit(toy_loss(w), [w], (X, Y), optim.SGD([w], lr=0.01), epochs=3, batch_size=2,
                  record_path=True)
    hist.grad_norm.append(float("nan"))
    path = tmp_path / "hist.json"
    hist.save(path)
    json.loads(path.read_text())  # plain JSON
    back = mg.History.load(path)
    assert back.step_loss == hist.step_loss and back.path_steps == hist.path_steps
    assert len(back.path) == len(hist.path) == 7
    assert all(a.dtype == np.float64 and np.array_equal(a, b)
               for a, b in zip(back.path, hist.path, strict=True))
    assert math.isnan(back.grad_norm[-1]) and back.grad_norm[:-1] == hist.grad_norm[:-1]


def test_fit_bad_input_changes_nothing():
    w = mg.Value(1.0)
    opt = optim.GD([w], lr=0.1)
    cases = [
        (lambda: mg.fit(toy_loss(w), [w], (X, Y[:2]), opt, 1), r"3 rows but y has 2"),
        (lambda: mg.fit(toy_loss(w), [w], (X, Y), opt, 1, batch_size=4), r"larger than"),
        (lambda: mg.fit(toy_loss(w), [np.ones(1)], (X, Y), opt, 1), r"params\[0\] is a ndarray"),
        (lambda: mg.fit(toy_loss(w), [mg.Value(1.0)], (X, Y), opt, 1), "not updated by"),
        (lambda: mg.fit(lambda a, b: a * w, [w], (X, Y), opt, 1), "scalar Value"),
        (lambda: mg.fit(toy_loss(w), [w], (X, Y), opt, -1), "epochs"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()
        assert w.item() == 1.0 and w.grad is None


# ---- models and losses -------------------------------------------------------------


def test_mlp_structure_and_seeded_init():
    m = nn.MLP(2, [16, 16, 1], activation="tanh", seed=0)
    names = [n for n, _ in m.named_parameters()]
    assert names == ["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias",
                     "layers.2.weight", "layers.2.bias"]
    assert m(np.zeros((7, 2))).shape == (7, 1)
    same = nn.MLP(2, [16, 16, 1], activation="tanh", seed=0)
    other = nn.MLP(2, [16, 16, 1], activation="tanh", seed=1)
    assert all(np.array_equal(a.data, b.data) for a, b in zip(m.parameters(),
                                                               same.parameters(), strict=True))
    assert not np.array_equal(m.parameters()[0].data, other.parameters()[0].data)
    # Xavier uniform bound for tanh, He scale for relu
    assert np.abs(m.layers[0].weight.data).max() <= np.sqrt(6 / 18)
    big = nn.Linear(400, 300, init="he", seed=0)
    assert big.weight.data.std() == pytest.approx(np.sqrt(2 / 400), rel=0.02)
    assert nn.MLP(3, [2], dtype=np.float32)(np.ones((1, 3), np.float32)).dtype == np.float32


def test_module_state_dict_round_trip_and_mismatch():
    a, b = nn.MLP(2, [4, 1], seed=0), nn.MLP(2, [4, 1], seed=1)
    b.load_state_dict(a.state_dict())
    assert all(np.array_equal(p.data, q.data) for p, q in zip(a.parameters(), b.parameters(),
                                                              strict=True))
    before = [p.data.copy() for p in b.parameters()]
    bad = a.state_dict()
    bad["layers.0.weight"] = np.zeros((3, 4))
    del bad["layers.1.bias"]
    bad["extra"] = np.zeros(1)
    with pytest.raises(ValueError, match=r"missing \['layers.1.bias'\].*unexpected \['extra'\].*"
                                         r"layers.0.weight: shape \(3, 4\)"):
        b.load_state_dict(bad)
    assert all(np.array_equal(p.data, q) for p, q in zip(b.parameters(), before, strict=True))
    a.zero_grad()
    assert all(p.grad is None for p in a.parameters())


@pytest.mark.parametrize("loss", ["mse", "binary_cross_entropy", "hinge"])
def test_elementwise_losses_grads(loss):
    rng = np.random.default_rng(0)
    pred = rng.standard_normal(6)
    target = np.sign(rng.standard_normal(6)) if loss == "hinge" else rng.uniform(0, 1, 6)
    if loss == "hinge":
        pred = pred + 0.05 * np.sign(1 - pred * target)  # away from the kink at 1
    check_grads(lambda p: getattr(nn, loss)(p, target), (pred,), order=2)


def test_losses_values_and_stability():
    assert nn.mse([1.0, 2.0], [0.0, 0.0]).item() == 2.5
    z = np.array([-1000.0, -2.0, 0.0, 3.0, 1000.0])
    y = np.array([0.0, 1.0, 1.0, 0.0, 1.0])
    want = np.mean(np.logaddexp(0, z) - z * y)
    assert nn.binary_cross_entropy(z, y).item() == pytest.approx(want, rel=1e-12)
    v = mg.Value(z)
    nn.binary_cross_entropy(v, y).backward()
    np.testing.assert_allclose(v.grad, (1 / (1 + np.exp(-np.clip(z, -700, 700))) - y) / 5,
                               atol=1e-15)
    logits = np.array([[1000.0, 0.0, -1000.0], [0.0, 0.0, 0.0]])
    ce = nn.softmax_cross_entropy(logits, [2, 1]).item()
    assert ce == pytest.approx((2000.0 + np.log(3)) / 2)
    onehot = nn.softmax_cross_entropy(logits, np.eye(3)[[2, 1]]).item()
    assert onehot == pytest.approx(ce)
    lv = mg.Value(logits)
    nn.softmax_cross_entropy(lv, [2, 1]).backward()
    assert np.isfinite(lv.grad).all()
    np.testing.assert_allclose(lv.grad.sum(axis=1), 0, atol=1e-15)
    check_grads(lambda t: nn.softmax_cross_entropy(t, [0, 2]),
                (np.array([[0.1, -0.3, 0.5], [1.0, 0.2, -0.7]]),), order=2)
    assert nn.hinge([2.0, 0.5], [1.0, -1.0]).item() == pytest.approx(0.75)


def test_loss_bad_input():
    with pytest.raises(ValueError, match=r"predictions of shape \(3,\) and targets of shape"):
        nn.mse(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\)"):
        nn.softmax_cross_entropy(np.zeros((2, 3)), [0, 3])
    with pytest.raises(ValueError, match="activation must be one of"):
        nn.MLP(2, [1], activation="swish")
    with pytest.raises(ValueError, match="in_features"):
        nn.Linear(0, 2)
    with pytest.raises(ValueError, match="does not end in in_features=3"):
        nn.Linear(3, 2)(np.ones((2, 4)))


def test_mlp_learns_xor_with_adam():
    Xx = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    yx = np.array([0.0, 1.0, 1.0, 0.0])
    model = nn.MLP(2, [8, 1], activation="tanh", seed=0)
    opt = optim.Adam(model.parameters(), lr=0.05)
    hist = mg.fit(lambda xb, yb: nn.binary_cross_entropy(model(xb)[:, 0], yb),
                  model.parameters(), (Xx, yx), opt, epochs=300)
    assert hist.step_loss[-1] < 0.05 < hist.step_loss[0]
    pred = model(Xx).data[:, 0] > 0
    assert pred.tolist() == [False, True, True, False]


# ---- checkpoints -------------------------------------------------------------------


def test_checkpoint_round_trip_with_optimizer(tmp_path):
    model = nn.MLP(2, [4, 1], seed=0)
    opt = optim.Adam(model.parameters(), lr=0.01)
    data = (np.random.default_rng(0).standard_normal((8, 2)), np.arange(8.0))
    loss = lambda xb, yb: nn.mse(model(xb)[:, 0], yb)  # noqa: E731
    mg.fit(loss, model.parameters(), data, opt, epochs=3)
    path = tmp_path / "ck.npz"
    mg.save_checkpoint(path, model, opt)
    mg.fit(loss, model.parameters(), data, opt, epochs=3)
    continued = [p.data.copy() for p in model.parameters()]

    model2 = nn.MLP(2, [4, 1], seed=5)
    opt2 = optim.Adam(model2.parameters(), lr=0.01)
    mg.load_checkpoint(path, model2, opt2)
    loss2 = lambda xb, yb: nn.mse(model2(xb)[:, 0], yb)  # noqa: E731
    mg.fit(loss2, model2.parameters(), data, opt2, epochs=3)
    for a, b in zip(continued, model2.parameters(), strict=True):
        np.testing.assert_allclose(b.data, a, rtol=1e-14)
    with np.load(path, allow_pickle=False) as npz:  # plain arrays only
        assert all(npz[k].dtype != object for k in npz.files)


def test_checkpoint_mismatch_names_what_differs_and_changes_nothing(tmp_path):
    path = tmp_path / "ck.npz"
    mg.save_checkpoint(path, nn.MLP(2, [4, 1], seed=0))
    other = nn.MLP(2, [5, 1], seed=1)
    before = [p.data.copy() for p in other.parameters()]
    with pytest.raises(ValueError, match=r"'layers.0.weight': shape \(2, 4\) in the checkpoint, "
                                         r"\(2, 5\) given"):
        mg.load_checkpoint(path, other)
    assert all(np.array_equal(p.data, b) for p, b in zip(other.parameters(), before, strict=True))
    with pytest.raises(ValueError, match="missing from the checkpoint"):
        mg.load_checkpoint(path, [mg.Value(1.0)])


def test_load_checkpoint_refuses_a_parameter_that_is_not_a_value(tmp_path):
    path = tmp_path / "ck.npz"
    w = mg.Value(np.array([1.0, 2.0]))
    mg.save_checkpoint(path, {"w": w, "b": mg.Value(0.0)})
    w.assign([5.0, 6.0])
    with pytest.raises(TypeError, match=r"load_checkpoint: parameter 'b' is a list, not a Value"):
        mg.load_checkpoint(path, {"w": w, "b": [0.0]})
    assert w.data.tolist() == [5.0, 6.0]
    with pytest.raises(TypeError, match=r"save_checkpoint: parameter '1' is a ndarray"):
        mg.save_checkpoint(path, [w, np.zeros(2)])


def test_interrupted_save_keeps_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "ck.npz"
    w = mg.Value(np.array([1.0, 2.0]))
    mg.save_checkpoint(path, [w])
    good = path.read_bytes()

    def crash(fh, **arrays):
        fh.write(b"PK\x03\x04 half a zip file")  # some bytes reach the disk, then it dies
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", crash)
    w.assign([5.0, 6.0])
    with pytest.raises(KeyboardInterrupt):
        mg.save_checkpoint(path, [w])
    monkeypatch.undo()
    assert path.read_bytes() == good
    assert os.listdir(tmp_path) == ["ck.npz"]  # no temporary file left behind
    mg.load_checkpoint(path, [w])
    assert w.data.tolist() == [1.0, 2.0]


def test_checkpoint_gets_the_usual_permissions(tmp_path):
    w = mg.Value([1.0, 2.0])
    for umask, mode in ((0o022, 0o644), (0o077, 0o600)):
        path = tmp_path / f"ck-{umask:o}.npz"
        old = os.umask(umask)
        try:
            mg.save_checkpoint(path, [w])
        finally:
            os.umask(old)
        assert stat.S_IMODE(path.stat().st_mode) == mode


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_the_next_save_removes_what_a_killed_save_left(tmp_path):
    path = tmp_path / "ck.npz"
    w = mg.Value(np.array([1.0, 2.0]))
    mg.save_checkpoint(path, [w])
    good = path.read_bytes()
    # A save killed halfway: some bytes reach the temporary file, then the process dies
    # without running any clean-up.
    script = (
        "import os, signal, sys\n"
        "import numpy as np\n"
        "import microgd as mg\n"
        "def die(fh, **arrays):\n"
        "    fh.write(b'PK half a zip file'); fh.flush()\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "np.savez = die\n"
        "mg.save_checkpoint(sys.argv[1], [mg.Value(np.zeros(2))])\n"
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root,
                                                                    os.environ.get("PYTHONPATH")])))
    proc = subprocess.run([sys.executable, "-c", script, str(path)], env=env, timeout=60,
                          capture_output=True, check=False)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    left = sorted(n for n in os.listdir(tmp_path) if n != "ck.npz")
    assert len(left) == 1 and left[0].startswith(".ck.npz.tmp-"), left
    assert path.read_bytes() == good  # the killed save did not touch the checkpoint
    w.assign([3.0, 4.0])
    mg.save_checkpoint(path, [w])
    assert os.listdir(tmp_path) == ["ck.npz"]
    w.assign([0.0, 0.0])
    mg.load_checkpoint(path, [w])
    assert w.data.tolist() == [3.0, 4.0]
