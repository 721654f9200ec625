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


# ---- one smoke test per lesson example: the numbers each one narrates --------------------

LESSONS = ["exhaustive_search", "divide_and_conquer", "gradient_descent", "sgd_vs_minibatch",
           "ema_smoothing", "learning_rate", "minima_vs_saddles", "saddle_escape", "momentum",
           "initialization", "mlp_classifier", "optimizer_races", "why_momentum_works",
           "edge_of_stability", "escaping_saddles"]


@pytest.mark.parametrize("name", LESSONS)
def test_lesson_examples_are_documented(name):
    module = load(name)
    assert "Run: python examples/" in module.__doc__
    assert callable(module.main)


def is_png(path, name):
    """``path`` is a PNG called ``name`` with some content (not an empty figure)."""
    path = pathlib.Path(path)
    assert path.name == name and path.is_file()
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return path.stat().st_size > 10_000


def test_exhaustive_search_lesson_1(tmp_path, capsys):
    r = load("exhaustive_search").main(verbose=True, out=tmp_path)
    assert r["w_best"] == pytest.approx(2.0) and r["loss_best"] == pytest.approx(0.0)
    assert r["evaluations_1d"] == 41 and r["evaluations_2d"] == 41 ** 2 == 1681
    np.testing.assert_allclose(r["wb_best"], [2.0, 0.0], atol=1e-12)
    assert r["evaluations_by_dimension"][10] == 41 ** 10
    assert "1681 evaluations" in capsys.readouterr().out
    (png,) = r["pictures"]
    assert is_png(png, "exhaustive_search.png") and pathlib.Path(png).parent == tmp_path


def test_divide_and_conquer_lesson_2(tmp_path):
    r = load("divide_and_conquer").main(verbose=False, out=tmp_path)
    assert abs(r["w_best"] - 2.0) < 1e-6 and r["evaluations_1d"] == 83
    assert r["grid_evaluations_1d"] == 4_000_001 > 1000 * r["evaluations_1d"]
    np.testing.assert_allclose(r["wb_best"], [2.0, 0.0], atol=1e-6)
    # the catch: the 5-point coarse grid homes in on the broad basin, the full grid
    # finds the narrow, deeper well
    assert r["coarse_w"] == pytest.approx(3.0, abs=1e-6)
    assert r["coarse_value"] == pytest.approx(1.0, abs=1e-9)
    assert r["fine_w"] == pytest.approx(0.7) and r["fine_value"] < -0.35
    assert abs(r["well_by_num"][7] - 0.7) < 0.01
    assert r["well_by_num"][11] == pytest.approx(3.0, abs=1e-6)
    (png,) = r["pictures"]
    assert is_png(png, "divide_and_conquer.png")


def test_saddle_escape_main_and_picture(tmp_path, capsys):
    two_d, network = load("saddle_escape").main(verbose=True, out=tmp_path)
    out = capsys.readouterr().out
    assert "1) f(x, y) = x^2 - y^2" in out and "2) y = v1*tanh(w1*x)" in out
    assert two_d["kind"] == network["kind"] == "saddle"
    # the picture's three legs: GD into the saddle, one step of 0.5 off it, GD downhill
    paths = two_d["paths"]
    np.testing.assert_allclose(paths["gd"][0], [1.0, 0.0])
    np.testing.assert_allclose(paths["gd"][-1], two_d["gd_point"])
    assert paths["gd"].shape == (101, 2)
    np.testing.assert_allclose(np.abs(paths["step"][1] - paths["step"][0]), [0.0, 0.5])
    np.testing.assert_allclose(paths["gd_after"][0], paths["step"][1])
    ys = np.abs(paths["gd_after"][:, 1])
    assert len(ys) == 11 and np.all(np.diff(ys) > 0)  # away from the saddle, f falling
    (png,) = two_d["pictures"]
    assert is_png(png, "saddle_escape.png")
    assert "pictures" not in network


def test_saddle_escape_main_without_out_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    two_d, network = load("saddle_escape").main(verbose=False)
    assert "pictures" not in two_d and "pictures" not in network
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["exhaustive_search", "divide_and_conquer", "saddle_escape"])
def test_search_and_saddle_pictures_are_skipped_without_matplotlib(name, tmp_path,
                                                                    monkeypatch, capsys):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda n, *a: None if n == "matplotlib" else find_spec(n, *a))
    r = load(name).main(verbose=False, out=tmp_path / "pics")
    if name == "saddle_escape":
        r = r[0]
    assert r["pictures"] == [] and not (tmp_path / "pics").exists()
    assert "matplotlib is not installed" in capsys.readouterr().out


def test_gradient_descent_lesson_3(tmp_path):
    r = load("gradient_descent").main(verbose=False, out=tmp_path)
    assert abs(r["w"] - 2.0) < 1e-3
    assert r["prediction"] == pytest.approx(8.0, abs=4e-3)
    assert r["prediction_before"] == 4.0
    costs = r["costs"]
    assert len(costs) == 100 and costs[0] == pytest.approx(14 / 3)
    assert all(b < a for a, b in zip(costs, costs[1:], strict=False))  # GD: always downhill
    assert r["max_grad_error"] < 1e-12  # autodiff == the hand-derived formula
    (png,) = r["pictures"]
    assert pathlib.Path(png).stat().st_size > 10_000


def test_gradient_descent_prints_the_notes_log(capsys):
    load("gradient_descent").train(verbose=True)
    out = capsys.readouterr().out
    assert out.count("Epoch:") == 100
    assert "Predict (before training) 4 4.0" in out
    assert "Predict (after training) 4 7.9997" in out


def test_pictures_are_skipped_without_matplotlib(tmp_path, monkeypatch, capsys):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "matplotlib" else find_spec(name, *a))
    r = load("gradient_descent").main(verbose=False, out=tmp_path / "pics")
    assert r["pictures"] == [] and not (tmp_path / "pics").exists()
    assert "matplotlib is not installed" in capsys.readouterr().out


def test_sgd_vs_minibatch_lesson_6():
    r = load("sgd_vs_minibatch").main(verbose=False)
    gd, sgd, mb = r["GD (full batch)"], r["SGD (batch 1)"], r["mini-batch (16)"]
    assert (gd["steps"], sgd["steps"], mb["steps"]) == (20, 4000, 260)
    assert sgd["noise"] > mb["noise"] > gd["noise"]  # smaller batches, noisier curves
    assert sgd["noise"] > 5 * gd["noise"]
    for run in (gd, sgd, mb):
        assert r["best_loss"] <= run["final_loss"] < 1.1 * r["best_loss"]
        assert abs(run["w"] - 2.0) < 0.15 and abs(run["b"] - 1.0) < 0.15
    assert mb["final_loss"] < gd["final_loss"]  # more updates in the same epochs


def test_ema_smoothing_lesson_4():
    r = load("ema_smoothing").main(verbose=False)
    raw = r["raw"]
    for beta in (0.5, 0.9, 0.98):
        s = r[beta]
        assert s["first_corrected"] == pytest.approx(raw[0])  # corrected starts at the data
        assert s["first_uncorrected"] == pytest.approx((1 - beta) * raw[0])  # pulled to 0
        # the correction fades: after 300 steps both curves agree
        assert s["uncorrected"][-1] == pytest.approx(s["corrected"][-1], rel=0.01)
    assert r[0.98]["start_error"] > 0.5 > r[0.5]["start_error"]
    assert r["raw_roughness"] > r[0.5]["roughness"] > r[0.9]["roughness"] > r[0.98]["roughness"]


def test_learning_rate_lessons_4_and_8(capsys):
    r = load("learning_rate").main(verbose=True)
    small, good = r["too small (lr 0.001)"], r["good (lr 0.01)"]
    osc, decayed = r["oscillating (lr 0.21)"], r["lr 0.21, decayed x0.9 per epoch"]
    big = r["too large (lr 0.25)"]
    assert 1.5 < small["w"] < 1.7  # slow: still far from 2 after 100 epochs
    assert abs(good["w"] - 2.0) < 1e-3 and good["sign_changes"] == 0
    assert -1 < osc["factor"] < 0 and osc["sign_changes"] >= 90  # jumps across every step
    assert abs(osc["w"] - 2.0) < 0.05 and not osc["diverged"]
    assert decayed["final_loss"] < 1e-6 * osc["final_loss"] and decayed["sign_changes"] < 20
    assert big["diverged"] and big["factor"] < -1 and big["steps"] < 100
    assert np.isfinite(big["w"]) and abs(big["w"] - 2.0) > 100
    assert "smaller learning rate" in big["message"]
    assert "smaller learning rate" in capsys.readouterr().out  # the message is shown


def test_minima_vs_saddles_lesson_5(tmp_path):
    r = load("minima_vs_saddles").main(verbose=False, out=tmp_path)
    assert r["counts"] == {"minimum": 4, "saddle": 4, "maximum": 1}
    assert r["max_grad_norm"] < 1e-8  # all critical: the gradient cannot tell them apart
    for p in r["points"]:
        signs = np.sign(p.eigenvalues).tolist()
        assert signs == {"minimum": [1, 1], "saddle": [-1, 1], "maximum": [-1, -1]}[p.kind]
        if p.kind == "minimum":
            assert p.value == pytest.approx(0.0, abs=1e-12)
    assert len(r["escape_drops"]) == 4 and min(r["escape_drops"]) > 0
    (png,) = r["pictures"]
    assert pathlib.Path(png).stat().st_size > 10_000


def test_momentum_lesson_7(tmp_path):
    module = load("momentum")
    r = module.main(verbose=False, out=tmp_path)
    local = r["local_minimum"]
    assert not local["gd_global"]
    assert local["gd_w"] == pytest.approx(module.BUMPY_LOCAL_MIN, abs=1e-4)
    assert local["momentum_global"] and local["momentum_f"] < local["gd_f"] - 5
    valley = r["valley"]
    assert valley["momentum_steps"][0.8] < valley["gd_steps"] / 3
    assert all(s < valley["gd_steps"] for s in valley["momentum_steps"].values())
    assert [pathlib.Path(p).name for p in r["pictures"]] == ["momentum_1d.png",
                                                            "momentum_valley.png"]
    assert all(pathlib.Path(p).stat().st_size > 10_000 for p in r["pictures"])


def test_initialization_lesson_8():
    module = load("initialization")
    r = module.main(verbose=False)
    table = r["starts"]["table"]
    for start, _, _, reached in table:
        assert reached == ("global" if start < module.BARRIER else "local")
    reached = {start: name for start, _, _, name in table}
    assert reached[0.2] != reached[0.4]  # close starts, different minima
    losses = list(r["mlp"]["losses"].values())
    assert len(losses) == 6 and max(losses) > 5 * min(losses)  # the seed matters


def test_mlp_classifier_two_moons():
    r = load("mlp_classifier").main(verbose=False)
    assert r["train_accuracy"] >= 0.95
    assert r["test_accuracy"] >= 0.9
    assert r["final_loss"] < 0.1 * r["first_loss"]
    X, y = load("mlp_classifier").two_moons(n=50, seed=3)
    assert X.shape == (50, 2) and sorted(set(y.tolist())) == [0.0, 1.0]


def test_optimizer_races_lesson_12(tmp_path, capsys):
    r = load("optimizer_races").main(verbose=True, out=tmp_path)
    assert r["rosenbrock"]["steps_to"] == {"GD": None, "momentum": 1386, "Nesterov": 1426,
                                           "Adam": 1139}
    assert r["rosenbrock"]["diverged"] == 12
    assert r["himmelblau"]["minimum"] == {"GD": (3.58, -1.85), "momentum": (3.58, -1.85),
                                          "Nesterov": (3.0, 2.0), "Adam": (3.0, 2.0)}
    assert r["himmelblau"]["steps_to"] == {"GD": 73, "momentum": 152, "Nesterov": 32,
                                           "Adam": 142}
    saddle = r["saddle"]
    assert saddle["near_saddle"] == {"GD": 157, "momentum": 38, "Nesterov": 43, "Adam": 0}
    assert saddle["steps_to"] == {"GD": 206, "momentum": 75, "Nesterov": 67, "Adam": 42}
    out = capsys.readouterr().out
    assert "momentum with lr 4e-3 diverged at step 12" in out and "ends at (3.0, 2.0)" in out
    names = ["races_rosenbrock.png", "races_himmelblau.png", "races_saddle.png"]
    assert [pathlib.Path(p).name for p in r["pictures"]] == names
    assert all(is_png(p, n) for p, n in zip(r["pictures"], names, strict=True))


def test_why_momentum_works_lesson_13(tmp_path):
    r = load("why_momentum_works").main(verbose=False, out=tmp_path)
    c = r["condition_100"]
    assert c["steps"] == {"GD": 691, "momentum": 93}
    assert c["predicted"] == {"GD": 691, "momentum": 69}
    assert c["params"]["gd_rate"] == pytest.approx(99 / 101)
    assert c["params"]["momentum_rate"] == pytest.approx(9 / 11)
    assert c["late_rate"]["GD"] == pytest.approx(99 / 101, rel=1e-9)
    assert 9 / 11 < c["late_rate"]["momentum"] < 9 / 11 + 0.002
    assert r["by_condition"] == {10.0: {"GD": 69, "momentum": 27},
                                 100.0: {"GD": 691, "momentum": 93},
                                 1000.0: {"GD": 6908, "momentum": 315}}
    (png,) = r["pictures"]
    assert is_png(png, "why_momentum_works.png")


def test_edge_of_stability_lesson_14():
    pytest.importorskip("sklearn")
    eos = load("edge_of_stability")
    hist = eos.train(0.1, steps=800, data=eos.digits(300), every=20)
    r = eos.edge_ratio(hist, 0.1, after=0.6)
    # progressive sharpening from well below 2/lr, then hovering at it
    assert r["first"] < 0.5
    assert 0.95 < r["median"] < 1.1 and r["min"] > 0.8 and r["max"] < 1.2
    assert r["mean_hvp"] < 8  # warm-started Lanczos: a few products per measurement
    values = hist.monitors["sharpness"]["value"]
    assert max(values[:10]) < 0.9 * 20  # still below the edge for the first 180 steps


def test_escaping_saddles_lesson_15(tmp_path):
    r = load("escaping_saddles").main(verbose=False, out=tmp_path)
    p = r["perturbed"]
    assert p["kind"] == "saddle" and not p["gd_at_moved"]
    assert p["gd_at"]["losses"].max() == p["gd_at"]["losses"].min() == 0.0
    assert p["kicks"][0] == 0 and p["steps_gd_near"] == 222 and p["steps_pgd"] == 98
    assert p["pgd"]["losses"].min() < -0.25 + 1e-6
    n = r["newton"]
    assert n["newton"]["losses"].tolist() == [4.0] + [0.0] * 6
    np.testing.assert_allclose(n["sfn"]["losses"], [4.0] + [-(4.0 ** k) for k in range(1, 7)])
    assert n["newton_kind"] == "saddle" and np.abs(n["newton_walled"]["path"][-1]).max() < 1e-12
    assert n["sfn_kind"] == "minimum"
    np.testing.assert_allclose(n["sfn_walled"]["path"][-1], [0.0, np.sqrt(2)], atol=1e-10)
    a = r["autoencoder"]
    # GD does not move off the saddle: its last loss is its first, bit for bit; that is
    # the analytic saddle loss 7.5 up to the rounding of the data's sums (BLAS kernels
    # differ between CPUs in the last bit).
    assert a["kind"] == "saddle" and a["gd_loss"] == a["start_loss"]
    assert a["saddle_loss"] == 7.5 and abs(a["gd_loss"] - 7.5) < 1e-13
    assert abs(a["pgd_best"] - a["minimum"]) < 1e-6 and a["minimum"] == 1.5
    (png,) = r["pictures"]
    assert is_png(png, "escaping_saddles.png")


def test_linear_autoencoder_example(capsys):
    r = load("linear_autoencoder").main(verbose=True, starts=20)
    assert all(row["kind"] == row["expected_kind"] for row in r["analytic"])
    assert r["max_loss_error"] <= 1e-8 and r["wrong_kinds"] == []
    assert "largest |loss - analytic|" in capsys.readouterr().out


def test_optimizer_races_write_nothing_without_out(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = load("optimizer_races").main(verbose=False)
    assert "pictures" not in r and list(tmp_path.iterdir()) == []
