"""Optimizer races (mg.race, Race) and their pictures (mg.viz.animate, mg.viz.plot_race)."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import microgd as mg
from microgd import nn, optim


def rosenbrock(p):
    return (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2


def bowl(p):
    return (p ** 2).sum()


FOUR = {
    "GD": lambda ps: optim.GD(ps, lr=1e-3),
    "momentum": lambda ps: optim.Momentum(ps, lr=1e-3, beta=0.9),
    "Nesterov": lambda ps: optim.Nesterov(ps, lr=1e-3, momentum=0.9),
    "Adam": lambda ps: optim.Adam(ps, lr=0.05),
}


def by_hand(f, make, start, steps):
    """The optimizer's own loop: positions (start first) and the loss at each."""
    x = mg.Value(np.array(start, dtype=float))
    opt = make([x])
    path, losses = [x.data.copy()], []
    for _ in range(steps):
        opt.zero_grad()
        loss = f(x)
        losses.append(loss.item())
        loss.backward()
        opt.step()
        path.append(x.data.copy())
    losses.append(f(x).item())
    return np.array(path), np.array(losses)


# ---- the race ----------------------------------------------------------------------------


def test_paths_start_at_the_start_and_match_each_optimizer_run_by_hand():
    start = np.array([-1.2, 1.0])
    r = mg.race(rosenbrock, FOUR, start, steps=50)
    assert r.names == list(FOUR) and r.steps == 50 and r.shapes is None
    for name, make in FOUR.items():
        path, losses = by_hand(rosenbrock, make, start, 50)
        assert r.paths[name].shape == (51, 2) and r.paths[name].dtype == np.float64
        np.testing.assert_array_equal(r.paths[name][0], start)
        np.testing.assert_array_equal(r.paths[name], path)  # bit for bit
        np.testing.assert_array_equal(r.losses[name], losses)
        assert r.diverged[name] is None
        np.testing.assert_array_equal(r.point(name), path[-1])
        np.testing.assert_array_equal(r.point(name, 3), path[3])
    assert r.final_loss == {n: r.losses[n][-1] for n in FOUR}
    np.testing.assert_array_equal(start, [-1.2, 1.0])  # the start is not changed


@given(st.floats(-3, 3), st.floats(-3, 3), st.floats(0.01, 0.4), st.integers(1, 30))
def test_gd_on_a_quadratic_follows_the_closed_form(x0, y0, lr, steps):
    # f = x^2/2 + 2 y^2: GD multiplies x by (1 - lr) and y by (1 - 4 lr) each step.
    r = mg.race(lambda p: 0.5 * p[0] ** 2 + 2 * p[1] ** 2,
                {"GD": lambda ps: optim.GD(ps, lr=lr)}, [x0, y0], steps=steps)
    k = np.arange(steps + 1)[:, None]
    expected = np.array([x0, y0]) * np.array([1 - lr, 1 - 4 * lr]) ** k
    np.testing.assert_allclose(r.paths["GD"], expected, rtol=1e-9, atol=1e-12)


def test_a_diverging_racer_stops_at_the_step_that_diverged_and_the_others_run_on():
    r = mg.race(bowl, {"GD": lambda ps: optim.GD(ps, lr=0.25),
                       "too fast": lambda ps: optim.GD(ps, lr=1.5)}, [1.0, -2.0], steps=50)
    # lr 1.5 maps w to -2 w: the loss 5 * 4**k passes 1e6 * 5 at k = 10
    assert r.diverged == {"GD": None, "too fast": 10}
    fast = r.paths["too fast"]
    assert fast.shape == (11, 2)
    np.testing.assert_array_equal(fast[-1], np.array([1.0, -2.0]) * (-2.0) ** 10)
    assert r.losses["too fast"][-1] == 5 * 4.0 ** 10 > 5e6
    assert np.all(r.losses["too fast"][:-1] <= 5e6)
    assert len(r.paths["GD"]) == 51  # unaffected
    assert r.steps_to(1e-6) == {"GD": 12, "too fast": None}
    assert "diverged at step 10" in r.summary()
    # a larger divergence_factor lets it run longer
    r = mg.race(bowl, {"too fast": lambda ps: optim.GD(ps, lr=1.5)}, [1.0, -2.0], steps=50,
                divergence_factor=1e12)
    assert r.diverged == {"too fast": 20}


def test_nan_and_overflow_are_divergence_not_a_crash():
    # log(x) is NaN once a step jumps past 0: x = 3 - 6 * (1 - 1/3) = -1
    r = mg.race(lambda p: (p[0] - mg.log(p[0])).sum(),
                {"GD": lambda ps: optim.GD(ps, lr=6.0)}, [3.0], steps=20)
    assert r.diverged == {"GD": 1}
    np.testing.assert_allclose(r.paths["GD"], [[3.0], [-1.0]])
    assert r.losses["GD"][0] == pytest.approx(3 - math.log(3)) and math.isnan(r.losses["GD"][1])
    # a finite gradient whose step leaves the floats: that point is not recorded
    r = mg.race(lambda p: 1e308 * p[0], {"GD": lambda ps: optim.GD(ps, lr=10.0)}, [0.0, 0.0],
                steps=5)
    assert r.diverged == {"GD": 1}
    np.testing.assert_array_equal(r.paths["GD"], [[0.0, 0.0]])
    assert r.losses["GD"].tolist() == [0.0]
    # a gradient that is not finite at a later point stops the racer there:
    # d sqrt(|x|) / dx = 1 at x = 1/4, so lr 1/4 lands on 0, where it is not finite
    r = mg.race(lambda p: mg.sqrt(mg.abs(p[0])) + 0 * p[1],
                {"GD": lambda ps: optim.GD(ps, lr=0.25)}, [0.25, 0.0], steps=5)
    assert r.diverged == {"GD": 1}
    np.testing.assert_array_equal(r.paths["GD"], [[0.25, 0.0], [0.0, 0.0]])
    assert r.losses["GD"].tolist() == [0.5, 0.0]


def test_steps_to_and_errors_by_loss_and_distance():
    quad = lambda p: 0.5 * (p[0] ** 2 + 10 * p[1] ** 2) + 3.0  # noqa: E731
    r = mg.race(quad, {"GD": lambda ps: optim.GD(ps, lr=0.1)}, [1.0, 1.0], steps=100,
                minimum=[0.0, 0.0])
    assert r.f_star == 3.0
    np.testing.assert_array_equal(r.minimum, [0.0, 0.0])
    dist = r.errors("distance")["GD"]
    np.testing.assert_allclose(dist, np.linalg.norm(r.paths["GD"], axis=1))
    np.testing.assert_allclose(r.errors("loss")["GD"], r.losses["GD"] - 3.0)
    np.testing.assert_allclose(r.errors("distance", relative=True)["GD"], dist / np.sqrt(2))
    # x shrinks by 0.9 per step (y is 0 after one step): 0.9**k <= 1e-3 first at k = 66
    assert r.steps_to(1e-3, by="distance") == {"GD": 66}
    assert r.steps_to(10.0) == {"GD": 0}  # the start counts
    assert r.steps_to(0.0) == {"GD": None}
    with pytest.raises(ValueError, match="by must be one of"):
        r.steps_to(1e-3, by="gradient")
    with pytest.raises(ValueError, match="tol must be a finite number"):
        r.steps_to(float("nan"))
    no_min = mg.race(quad, {"GD": lambda ps: optim.GD(ps, lr=0.1)}, [1.0, 1.0], steps=3)
    assert no_min.f_star is None
    np.testing.assert_array_equal(no_min.errors()["GD"], no_min.losses["GD"])
    with pytest.raises(ValueError, match="needs the race's minimum"):
        no_min.steps_to(1e-3, by="distance")
    with pytest.raises(KeyError, match="no racer 'SGD'"):
        no_min.point("SGD")


def test_bounds_hold_every_path_but_a_runaway():
    r = mg.race(bowl, {"GD": lambda ps: optim.GD(ps, lr=0.25),
                       "too fast": lambda ps: optim.GD(ps, lr=1.5)}, [1.0, -2.0], steps=50)
    (xlo, xhi), (ylo, yhi) = r.bounds(margin=0.0)
    # the runaway's points above the start's loss are left out: only GD's box is left
    assert (xlo, xhi, ylo, yhi) == pytest.approx((0.0, 1.0, -2.0, 0.0), abs=1e-9)
    (xlo2, xhi2), _ = r.bounds(margin=0.1)
    assert xlo2 == pytest.approx(-0.1) and xhi2 == pytest.approx(1.1)


# ---- the Goh (2017) numbers: GD and momentum at their optimal step sizes -------------------


def goh_race(kappa=100.0, steps=800):
    lo, hi = 1.0, kappa
    alpha_gd = 2 / (lo + hi)
    alpha = (2 / (math.sqrt(hi) + math.sqrt(lo))) ** 2
    beta = ((math.sqrt(kappa) - 1) / (math.sqrt(kappa) + 1)) ** 2
    return mg.race(lambda p: 0.5 * (lo * p[0] ** 2 + hi * p[1] ** 2),
                   {"GD": lambda ps: optim.GD(ps, lr=alpha_gd),
                    "momentum": lambda ps: optim.Momentum(ps, lr=alpha, beta=beta)},
                   [1.0, 1.0], steps=steps, minimum=[0.0, 0.0])


def test_goh_quadratic_condition_number_100_gd_691_momentum_93():
    r = goh_race()
    # iterations until |x_k - x*| <= 1e-6 |x_0 - x*|, from x_0 = (1, 1)
    assert r.steps_to(1e-6, by="distance", relative=True) == {"GD": 691, "momentum": 93}
    e = r.errors("distance", relative=True)
    # GD at 2 / (lmin + lmax) shrinks every component by exactly (k - 1) / (k + 1)
    np.testing.assert_allclose(e["GD"][1:] / e["GD"][:-1], 99 / 101, rtol=1e-9)
    # momentum's asymptotic rate is (sqrt k - 1) / (sqrt k + 1) = 9 / 11
    tail = (e["momentum"][600] / e["momentum"][500]) ** (1 / 100)
    assert 9 / 11 < tail < 9 / 11 * 1.003


# ---- bad input ------------------------------------------------------------------------------


def test_bad_optimizers_get_clear_errors():
    with pytest.raises(ValueError, match="optimizers is empty"):
        mg.race(bowl, {}, [1.0, 1.0])
    with pytest.raises(TypeError, match="must be a dict of name to factory"):
        mg.race(bowl, [lambda ps: optim.GD(ps, lr=0.1)], [1.0, 1.0])
    with pytest.raises(TypeError, match=r"returned a float, not an optimizer"):
        mg.race(bowl, {"GD": lambda ps: 0.1}, [1.0, 1.0])
    w = mg.Value([1.0, 1.0])
    with pytest.raises(TypeError, match=r"optimizers\['GD'\] must be a factory.*already built"):
        mg.race(bowl, {"GD": optim.GD([w], lr=0.1)}, [1.0, 1.0])
    with pytest.raises(ValueError, match="does not update the Values it was given"):
        mg.race(bowl, {"GD": lambda ps: optim.GD([w], lr=0.1)}, [1.0, 1.0])
    with pytest.raises(TypeError, match="names must be strings"):
        mg.race(bowl, {1: lambda ps: optim.GD(ps, lr=0.1)}, [1.0, 1.0])


@pytest.mark.parametrize("steps", [0, -3, 1.5, True, "10"])
def test_steps_must_be_a_positive_integer(steps):
    with pytest.raises(ValueError, match="steps must be an integer >= 1"):
        mg.race(bowl, {"GD": lambda ps: optim.GD(ps, lr=0.1)}, [1.0, 1.0], steps=steps)


@pytest.mark.parametrize("start, match", [
    (np.ones((2, 2)), r"shape \(d,\).*shape \(2, 2\)"),
    (3.0, r"got an array of shape \(\).*give a function of one variable the start \[x\]"),
    ([], r"shape \(0,\)"),
    ([1.0, float("nan")], "NaN or infinite"),
    ("ab", "not numbers"),
])
def test_a_start_of_the_wrong_shape_gets_a_clear_error(start, match):
    with pytest.raises((ValueError, TypeError), match=match):
        mg.race(bowl, {"GD": lambda ps: optim.GD(ps, lr=0.1)}, start)


def test_f_must_return_one_number_with_a_gradient_and_be_finite_at_the_start():
    gd = {"GD": lambda ps: optim.GD(ps, lr=0.1)}
    with pytest.raises(ValueError, match=r"one element, got a Value of shape \(2,\)"):
        mg.race(lambda p: p * 2, gd, [1.0, 1.0])
    with pytest.raises(ValueError, match="got a float.*a plain number has no gradient"):
        mg.race(lambda p: 1.0, gd, [1.0, 1.0])
    with pytest.raises(ValueError, match="f at the start is nan"):
        mg.race(lambda p: mg.log(p).sum(), gd, [-1.0, 1.0])
    with pytest.raises(ValueError, match="gradient of f at the start is not finite"):
        mg.race(lambda p: mg.sqrt(mg.abs(p)).sum(), gd, [0.0, 1.0])
    with pytest.raises(TypeError, match="f must be a function"):
        mg.race("x**2", gd, [1.0, 1.0])
    with pytest.raises(ValueError, match="divergence_factor must be a positive number"):
        mg.race(bowl, gd, [1.0, 1.0], divergence_factor=0)
    with pytest.raises(ValueError, match=r"minimum has shape \(3,\); it must be an array of "
                                         r"shape \(2,\)"):
        mg.race(bowl, gd, [1.0, 1.0], minimum=[0.0, 0.0, 0.0])


# ---- a model, through a plane of two directions ---------------------------------------------

XS = np.linspace(-2, 2, 12)[:, None]
YS = np.sin(2 * XS)


def mlp_loss(w):
    W1, b1, W2, b2 = w
    return nn.mse(mg.tanh(XS @ W1 + b1) @ W2 + b2, YS)


def test_a_model_race_runs_on_parameter_lists_and_leaves_the_model_alone():
    model = nn.MLP(1, [4, 1], activation="tanh", seed=0)
    before = [p.data.copy() for p in model.parameters()]
    r = mg.race(mlp_loss, {"GD": lambda ps: optim.GD(ps, lr=0.1),
                           "Adam": lambda ps: optim.Adam(ps, lr=0.05)}, model, steps=30)
    assert r.shapes == [(1, 4), (4,), (4, 1), (1,)] and r.dim == 13
    assert r.paths["Adam"].shape == (31, 13)
    for p, b in zip(model.parameters(), before, strict=True):
        np.testing.assert_array_equal(p.data, b)
    # the same as training a copy by hand
    params = [mg.Value(b.copy()) for b in before]
    opt = optim.Adam(params, lr=0.05)
    for _ in range(30):
        opt.zero_grad()
        mlp_loss(params).backward()
        opt.step()
    np.testing.assert_array_equal(r.paths["Adam"][-1],
                                  np.concatenate([p.data.ravel() for p in params]))
    last = r.point("Adam")
    assert [a.shape for a in last] == r.shapes
    assert r.final_loss["Adam"] == pytest.approx(mlp_loss(last).item(), rel=1e-12)
    # a list of arrays (or of Values) as the start is the same race
    again = mg.race(mlp_loss, {"Adam": lambda ps: optim.Adam(ps, lr=0.05)}, before, steps=30)
    np.testing.assert_array_equal(again.paths["Adam"], r.paths["Adam"])
    np.testing.assert_allclose(r.loss_at(r.paths["GD"][:3]), r.losses["GD"][:3], rtol=1e-12)


def test_projection_gives_the_coordinates_in_the_plane():
    model = nn.MLP(1, [4, 1], activation="tanh", seed=0)
    r = mg.race(mlp_loss, {"GD": lambda ps: optim.GD(ps, lr=0.1)}, model, steps=12)
    path = r.paths["GD"]
    u, v = path[5] - path[0], path[10] - path[0]   # not orthogonal, not normalized
    shaped = (mg.transforms.unflatten(u, r.point("GD")),
              mg.transforms.unflatten(v, r.point("GD")))   # lists of arrays like the params
    for directions in ((u, v), shaped):
        xy = r.project(directions)["GD"]
        assert xy.shape == (13, 2)
        np.testing.assert_allclose(xy[[0, 5, 10]], [[0, 0], [1, 0], [0, 1]], atol=1e-10)
    # a point in the plane is recovered exactly; one off it is projected orthogonally
    xy = r.project((u, v), center=path[5])["GD"]
    np.testing.assert_allclose(xy[5], [0, 0], atol=1e-10)
    np.testing.assert_allclose(xy[0], [-1, 0], atol=1e-10)
    with pytest.raises(ValueError, match="parallel"):
        r.project((u, 2 * u))
    with pytest.raises(ValueError, match="zero"):
        r.project((u, 0 * v))
    with pytest.raises(ValueError, match=r"direction d2 has shape \(3,\)"):
        r.project((u, np.ones(3)))
    with pytest.raises(ValueError, match=r"direction d1 has shapes \[\(1, 4\), \(4,\), \(1, 4\)"):
        r.project(([np.ones((1, 4)), np.ones(4), np.ones((1, 4)), np.ones(1)], v))
    with pytest.raises(ValueError, match="pass directions=.*to project"):
        r.project()
    with pytest.raises(ValueError, match="a pair"):
        r.project(u)


# ---- pictures ------------------------------------------------------------------------------

matplotlib = pytest.importorskip("matplotlib")
from PIL import Image  # noqa: E402  (Pillow comes with matplotlib)


@pytest.fixture(scope="module")
def four_by_200():
    return mg.race(rosenbrock, FOUR, [-1.5, 2.0], steps=200, minimum=[1.0, 1.0])


def test_frames_are_spread_over_the_steps(four_by_200):
    anim = mg.viz.animate(four_by_200)
    assert len(anim.frame_steps) == 100
    assert anim.frame_steps[0] == 0 and anim.frame_steps[-1] == 200
    assert np.all(np.diff(anim.frame_steps) >= 2)
    short = mg.race(bowl, {"GD": lambda ps: optim.GD(ps, lr=0.1)}, [1.0, 1.0], steps=7)
    assert mg.viz.animate(short).frame_steps == list(range(8))
    assert mg.viz.animate(short, frames=1).frame_steps == [7]


def test_animate_writes_a_gif_of_every_frame_under_two_megabytes(four_by_200, tmp_path):
    out = tmp_path / "race.gif"
    anim = mg.viz.animate(four_by_200, path=out)
    assert out.stat().st_size <= 2 * 2**20
    with Image.open(out) as im:
        assert im.format == "GIF" and im.n_frames == len(anim.frame_steps) == 100
        assert im.size == (736, 336)                  # 9.2 x 4.2 inches at 80 dpi
        assert im.info["duration"] == 50 and im.info["loop"] == 0   # 20 fps, looping
        im.seek(0)
        first = np.asarray(im.convert("RGB"))
        im.seek(99)
        last = np.asarray(im.convert("RGB"))
    assert (first != last).any(axis=2).mean() > 0.01   # the trails moved
    # the last frame of the GIF is the still of the race, up to the palette
    still = tmp_path / "race.png"
    anim.save(still)
    with Image.open(still) as im:
        assert im.size == (1380, 630)                 # saved stills are 150 dpi


def test_the_moving_artists_follow_the_paths(four_by_200):
    anim = mg.viz.animate(four_by_200, frames=11)
    fig = anim.figure
    ax = fig.axes[0]
    trail = next(a for a in ax.lines if a.get_gid() == "trail:Adam")
    head = next(a for a in ax.lines if a.get_gid() == "head:Adam")
    np.testing.assert_array_equal(trail.get_xydata(), four_by_200.paths["Adam"])  # last frame
    anim.draw_frame(3)                                # frame 3 of 11 is step 60
    assert anim.frame_steps[3] == 60
    np.testing.assert_array_equal(trail.get_xydata(), four_by_200.paths["Adam"][:61])
    np.testing.assert_array_equal(head.get_xydata(), four_by_200.paths["Adam"][60:61])
    curve = next(a for a in fig.axes[1].lines if a.get_gid() == "curve:Adam")
    np.testing.assert_allclose(curve.get_ydata(), four_by_200.losses["Adam"][:61])  # f* = 0
    assert "step 60 / 200" in [t.get_text() for t in ax.texts]


def test_the_html_of_a_race_is_an_animation(four_by_200, tmp_path):
    anim = mg.viz.animate(four_by_200, frames=12)
    html = anim._repr_html_()
    assert "<script" in html and "Animation" in html
    assert html.count("data:image/jpeg;base64") == 12
    assert anim._repr_html_() is html                # made once
    anim.save(tmp_path / "race.html")
    assert (tmp_path / "race.html").read_text(encoding="utf-8") == html
    gif = anim.to_html(player=False)
    assert gif.startswith('<img src="data:image/gif;base64,')


def test_mp4_needs_ffmpeg_and_says_so(four_by_200, tmp_path, monkeypatch):
    from matplotlib import animation

    monkeypatch.setattr(animation.writers, "is_available", lambda name: False)
    anim = mg.viz.animate(four_by_200, frames=3)
    with pytest.raises(RuntimeError, match="needs the ffmpeg program.*save a .gif"):
        anim.save(tmp_path / "race.mp4")
    assert not (tmp_path / "race.mp4").exists()


def test_bad_picture_arguments_get_clear_errors(four_by_200, tmp_path):
    with pytest.raises(ValueError, match=r"animate: cannot write .*race.avi.*\.gif, \.mp4"):
        mg.viz.animate(four_by_200, path=tmp_path / "race.avi")
    with pytest.raises(ValueError, match=r"plot_race: cannot write .*\.gif"):
        mg.viz.plot_race(four_by_200, path=tmp_path / "race.gif")
    with pytest.raises(ValueError, match="frames must be an integer >= 1"):
        mg.viz.animate(four_by_200, frames=0)
    with pytest.raises(ValueError, match="bounds must be"):
        mg.viz.animate(four_by_200, bounds=[(1, 0), (0, 1)])
    with pytest.raises(TypeError, match="expected a Race"):
        mg.viz.animate({"GD": np.zeros((3, 2))})
    model = nn.MLP(1, [4, 1], seed=0)
    r = mg.race(mlp_loss, {"GD": lambda ps: optim.GD(ps, lr=0.1)}, model, steps=3)
    with pytest.raises(ValueError, match="pass directions="):
        mg.viz.animate(r)
    assert list(tmp_path.iterdir()) == []


def test_plot_race_of_a_model_on_a_plane(tmp_path):
    model = nn.MLP(1, [4, 1], activation="tanh", seed=0)
    r = mg.race(mlp_loss, {"GD": lambda ps: optim.GD(ps, lr=0.1),
                           "too fast": lambda ps: optim.GD(ps, lr=50.0)}, model, steps=40)
    assert r.diverged["too fast"] is not None
    d = mg.viz.random_directions(model.parameters(), seed=1)
    fig = mg.viz.plot_race(r, directions=d, resolution=9, path=tmp_path / "m.png")
    assert (tmp_path / "m.png").stat().st_size > 10_000
    ax, ax_loss = fig.axes
    labels = [t.get_text() for t in ax_loss.get_legend().get_texts()]
    assert labels == ["GD", f"too fast (diverged, step {r.diverged['too fast']})"]
    trail = next(a for a in ax.lines if a.get_gid() == "trail:GD")
    np.testing.assert_allclose(trail.get_xydata(), r.project(d)["GD"])
    head = next(a for a in ax.lines if a.get_gid() == "head:too fast")
    assert head.get_marker() == "X"
    # the background is the loss on the plane, center + alpha d1 + beta d2
    from microgd.viz.animate import _background

    xs, ys, z = _background(r, d, None, [(-1.0, 1.0), (-0.5, 0.5)], 3)
    c, u, v = r.plane(d)
    assert z.shape == (3, 3)
    for i, b in enumerate(ys):
        for j, a in enumerate(xs):
            point = mg.transforms.unflatten(c + a * u + b * v, r.point("GD"))
            assert z[i, j] == pytest.approx(mlp_loss(point).item(), rel=1e-12)
