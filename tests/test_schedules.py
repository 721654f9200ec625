"""Learning-rate schedules: closed forms, torch.optim.lr_scheduler parity, state, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

import microgd as mg
from microgd import optim
from microgd.optim import schedules

EPOCHS = 30
BASE = 0.2


def make_opt(lr: float = BASE) -> optim.Optimizer:
    return optim.SGD([mg.Value(np.ones(2))], lr=lr, momentum=0.9)


def lrs_of(sched, opt, metrics=None):
    """opt.lr at epoch 0 and after each of EPOCHS calls of step()."""
    out = [opt.lr]
    for e in range(EPOCHS):
        sched.step() if metrics is None else sched.step(metrics[e])
        out.append(opt.lr)
        assert sched.get_lr() == opt.lr
    return out


# (name, ours, closed form of epoch e, torch class and kwargs)
CLOSED = [
    ("Constant", lambda o: schedules.Constant(o), lambda e: BASE, None),
    ("StepLR", lambda o: schedules.StepLR(o, step_size=7, gamma=0.5),
     lambda e: BASE * 0.5 ** (e // 7), ("StepLR", {"step_size": 7, "gamma": 0.5})),
    ("StepLR-default-gamma", lambda o: schedules.StepLR(o, step_size=4),
     lambda e: BASE * 0.1 ** (e // 4), ("StepLR", {"step_size": 4})),
    ("Exponential", lambda o: schedules.Exponential(o, gamma=0.9),
     lambda e: BASE * 0.9 ** e, ("ExponentialLR", {"gamma": 0.9})),
    ("Cosine-whole-run", lambda o: schedules.Cosine(o, T_max=EPOCHS),
     lambda e: BASE * (1 + math.cos(math.pi * e / EPOCHS)) / 2,
     ("CosineAnnealingLR", {"T_max": EPOCHS})),
    # T_max shorter than the run: down, back up and down again, as torch does
    ("Cosine-restarting", lambda o: schedules.Cosine(o, T_max=8, eta_min=0.01),
     lambda e: 0.01 + (BASE - 0.01) * (1 + math.cos(math.pi * e / 8)) / 2,
     ("CosineAnnealingLR", {"T_max": 8, "eta_min": 0.01})),
]


@pytest.mark.parametrize("name,make,formula", [c[:3] for c in CLOSED], ids=[c[0] for c in CLOSED])
def test_closed_forms(name, make, formula):
    opt = make_opt()
    got = lrs_of(make(opt), opt)
    np.testing.assert_allclose(got, [formula(e) for e in range(EPOCHS + 1)], rtol=1e-14,
                               atol=1e-17)


def test_closed_forms_hit_their_landmarks_exactly():
    opt = make_opt(1.0)
    cos = schedules.Cosine(opt, T_max=4, eta_min=0.0)
    seen = []
    for _ in range(8):
        cos.step()
        seen.append(opt.lr)
    assert seen[3] == 0.0 and seen[7] == 1.0 and seen[1] == 0.5
    opt = make_opt(1.0)
    step = schedules.StepLR(opt, step_size=2, gamma=0.5)
    got = []
    for _ in range(6):
        step.step()
        got.append(opt.lr)
    assert got == [1.0, 0.5, 0.5, 0.25, 0.25, 0.125]


def _torch_lrs(torch_cls, kwargs, metrics=None):
    torch = pytest.importorskip("torch")
    p = torch.zeros(2, requires_grad=True)
    topt = torch.optim.SGD([p], lr=BASE, momentum=0.9)
    sched = getattr(torch.optim.lr_scheduler, torch_cls)(topt, **kwargs)
    out = [topt.param_groups[0]["lr"]]
    for e in range(EPOCHS):
        topt.step()  # torch wants an optimizer step before each schedule step
        sched.step() if metrics is None else sched.step(metrics[e])
        out.append(topt.param_groups[0]["lr"])
    return out


@pytest.mark.parametrize("name,make,torch_spec", [(c[0], c[1], c[3]) for c in CLOSED if c[3]],
                         ids=[c[0] for c in CLOSED if c[3]])
def test_closed_forms_match_torch(name, make, torch_spec):
    theirs = _torch_lrs(*torch_spec)
    opt = make_opt()
    ours = lrs_of(make(opt), opt)
    # torch updates recursively (lr *= ...), so it agrees up to rounding
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)


# ---- ReduceOnPlateau ------------------------------------------------------------------

def _metrics(kind):
    rng = np.random.default_rng(0)
    if kind == "min":  # improves, stalls, improves a little (below threshold), ...
        base = np.concatenate([np.linspace(5, 2, 6), np.full(6, 2.0), 2.0 - 1e-3 * np.arange(6),
                               np.linspace(1.9, 1.0, 6), np.full(6, 1.0)])
    else:  # an accuracy: goes up, then plateaus with noise
        base = np.concatenate([np.linspace(0.1, 0.8, 10), 0.8 + 0.002 * rng.random(20)])
    return [float(x) for x in base]


PLATEAU = [
    ("min", {"factor": 0.5, "patience": 2, "threshold": 0.01, "min_lr": 0.02}),
    ("min-defaults", {}),
    ("min-patience0", {"factor": 0.3, "patience": 0, "threshold": 0.0}),
    ("max", {"mode": "max", "factor": 0.5, "patience": 3, "threshold": 1e-3}),
]


@pytest.mark.parametrize("kind,kwargs", PLATEAU, ids=[k for k, _ in PLATEAU])
def test_plateau_matches_torch(kind, kwargs):
    metrics = _metrics(kind.split("-")[0])
    theirs = _torch_lrs("ReduceLROnPlateau", kwargs, metrics)
    opt = make_opt()
    ours = lrs_of(schedules.ReduceOnPlateau(opt, **kwargs), opt, metrics)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0)
    if kind != "min-defaults":
        assert ours[-1] < BASE  # the test sequences do trigger cuts


def test_plateau_by_hand():
    opt = make_opt(1.0)
    sched = schedules.ReduceOnPlateau(opt, factor=0.5, patience=2)
    got = []
    for _ in range(10):  # a flat metric: epoch 1 improves on inf, then every epoch is bad
        sched.step(1.0)
        got.append(opt.lr)
    # bad epochs 2, 3, 4 -> cut at 4 (3 > patience 2); then 5, 6, 7 -> cut at 7; 8, 9, 10
    assert got == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.125]


def test_plateau_relative_threshold_and_min_lr():
    opt = make_opt(1.0)
    sched = schedules.ReduceOnPlateau(opt, factor=0.1, patience=0, threshold=0.1, min_lr=0.05)
    sched.step(10.0)  # best = 10
    sched.step(9.5)   # 9.5 is not < 10 * 0.9: bad, and patience 0 cuts at once
    assert opt.lr == pytest.approx(0.1) and sched.best == 10.0
    sched.step(8.9)   # better than 9: best = 8.9, no cut
    assert opt.lr == pytest.approx(0.1) and sched.best == 8.9
    sched.step(8.9)   # cut to max(0.01, min_lr 0.05)
    assert opt.lr == 0.05
    sched.step(8.9)   # at min_lr: the cut would change nothing
    assert opt.lr == 0.05


def test_plateau_max_mode_and_value_metric():
    opt = make_opt(1.0)
    sched = schedules.ReduceOnPlateau(opt, mode="max", factor=0.5, patience=0)
    sched.step(mg.Value(0.5))  # a scalar Value works as a metric
    sched.step(0.6)
    assert opt.lr == 1.0
    sched.step(0.4)
    assert opt.lr == 0.5
    assert "ReduceOnPlateau(factor=0.5" in repr(sched)


# ---- the schedule drives the optimizer --------------------------------------------------

def test_optimizer_uses_the_scheduled_lr():
    w = mg.Value(0.0)
    opt = optim.GD([w], lr=1.0)
    sched = schedules.Exponential(opt, gamma=0.5)
    for _ in range(3):
        w.grad = np.array(-1.0)
        opt.step()
        sched.step()
    assert w.item() == 1.0 + 0.5 + 0.25


def test_cosine_down_to_zero_is_allowed():
    w = mg.Value(1.0)
    opt = optim.GD([w], lr=0.1)
    sched = schedules.Cosine(opt, T_max=2)
    sched.step()
    sched.step()
    assert opt.lr == 0.0
    w.grad = np.array(5.0)
    opt.step()
    assert w.item() == 1.0


# ---- state_dict -------------------------------------------------------------------------

ROUND_TRIP = [
    ("StepLR", lambda o: schedules.StepLR(o, step_size=5, gamma=0.3), None),
    ("Exponential", lambda o: schedules.Exponential(o, gamma=0.95), None),
    ("Cosine", lambda o: schedules.Cosine(o, T_max=9, eta_min=0.001), None),
    ("Constant", lambda o: schedules.Constant(o), None),
    ("ReduceOnPlateau", lambda o: schedules.ReduceOnPlateau(o, factor=0.5, patience=2),
     _metrics("min")),
]


@pytest.mark.parametrize("name,make,metrics", ROUND_TRIP, ids=[r[0] for r in ROUND_TRIP])
def test_state_dict_round_trip_through_npz(name, make, metrics, tmp_path):
    opt = make_opt()
    straight = lrs_of(make(opt), opt, metrics)

    opt = make_opt()
    sched = make(opt)
    for e in range(13):  # stop mid-way (inside a plateau streak for ReduceOnPlateau)
        sched.step() if metrics is None else sched.step(metrics[e])
    path = tmp_path / "s.npz"
    np.savez(path, **{f"opt/{k}": v for k, v in opt.state_dict().items()},
             **{f"sched/{k}": v for k, v in sched.state_dict().items()})
    with np.load(path, allow_pickle=False) as f:
        stored = {k: f[k] for k in f.files}

    opt2 = make_opt(lr=0.7)  # a different lr: the schedule's base_lr comes from the file
    sched2 = make(opt2)
    opt2.load_state_dict({k[4:]: v for k, v in stored.items() if k.startswith("opt/")})
    sched2.load_state_dict({k[6:]: v for k, v in stored.items() if k.startswith("sched/")})
    assert sched2.last_epoch == 13 and sched2.base_lr == BASE
    rest = []
    for e in range(13, EPOCHS):
        sched2.step() if metrics is None else sched2.step(metrics[e])
        rest.append(opt2.lr)
    assert rest == straight[14:]


def test_state_dict_is_plain_numbers():
    sched = schedules.ReduceOnPlateau(make_opt())
    sd = sched.state_dict()
    assert set(sd) == {"last_epoch", "base_lr", "best", "num_bad_epochs"}
    assert sd["best"] == math.inf
    assert set(schedules.StepLR(make_opt(), 3).state_dict()) == {"last_epoch", "base_lr"}


@pytest.mark.parametrize("bad,message", [
    ({"last_epoch": 3}, r"missing keys \['base_lr'\]"),
    ({"last_epoch": 3, "base_lr": 0.1, "x": 1}, r"unexpected keys \['x'\]"),
    ({"last_epoch": -1, "base_lr": 0.1}, "last_epoch must be an integer >= 0"),
    ({"last_epoch": 2.5, "base_lr": 0.1}, "last_epoch must be an integer >= 0"),
    ({"last_epoch": 3, "base_lr": float("nan")}, "base_lr must be a finite number"),
    ({"last_epoch": 3, "base_lr": -0.1}, "base_lr must be >= 0"),
])
def test_load_state_dict_rejects_and_changes_nothing(bad, message):
    sched = schedules.StepLR(make_opt(), step_size=2)
    sched.step()
    with pytest.raises(ValueError, match=message):
        sched.load_state_dict(bad)
    assert sched.last_epoch == 1 and sched.base_lr == BASE


def test_plateau_load_state_dict_checks_best():
    sched = schedules.ReduceOnPlateau(make_opt())
    good = sched.state_dict()
    with pytest.raises(ValueError, match="best must be a number"):
        sched.load_state_dict({**good, "best": float("nan")})
    with pytest.raises(ValueError, match="num_bad_epochs must be an integer"):
        sched.load_state_dict({**good, "num_bad_epochs": -2})
    with pytest.raises(TypeError, match="expected a dict"):
        sched.load_state_dict(None)
    assert sched.best == math.inf and sched.num_bad_epochs == 0


# ---- bad input ----------------------------------------------------------------------------

BAD = [
    (lambda o: schedules.StepLR("opt", step_size=2), TypeError, "expected a microgd.optim"),
    (lambda o: schedules.Constant(None), TypeError, "got NoneType"),
    (lambda o: schedules.StepLR(o, step_size=0), ValueError, "step_size must be an integer >= 1"),
    (lambda o: schedules.StepLR(o, step_size=2.5), ValueError, "step_size must be an integer"),
    (lambda o: schedules.StepLR(o, step_size=True), ValueError, "step_size must be an integer"),
    (lambda o: schedules.StepLR(o, step_size=2, gamma=0), ValueError, "gamma must be > 0"),
    (lambda o: schedules.Exponential(o, gamma=float("nan")), ValueError,
     "gamma must be a finite number, got nan"),
    (lambda o: schedules.Exponential(o, gamma=-0.5), ValueError, "gamma must be > 0, got -0.5"),
    (lambda o: schedules.Cosine(o, T_max=0), ValueError, "T_max must be an integer >= 1"),
    (lambda o: schedules.Cosine(o, T_max=10, eta_min=-1e-3), ValueError, "eta_min must be >= 0"),
    (lambda o: schedules.ReduceOnPlateau(o, factor=1.0), ValueError,
     r"factor must be in \(0, 1\), got 1.0"),
    (lambda o: schedules.ReduceOnPlateau(o, factor=0), ValueError, r"factor must be in \(0, 1\)"),
    (lambda o: schedules.ReduceOnPlateau(o, patience=-1), ValueError,
     "patience must be an integer >= 0"),
    (lambda o: schedules.ReduceOnPlateau(o, threshold=-0.1), ValueError,
     "threshold must be >= 0"),
    (lambda o: schedules.ReduceOnPlateau(o, mode="avg"), ValueError,
     "mode must be 'min' or 'max', got 'avg'"),
    (lambda o: schedules.ReduceOnPlateau(o, min_lr=-1), ValueError, "min_lr must be >= 0"),
]


@pytest.mark.parametrize("make,exc,message", BAD, ids=[m for _, _, m in BAD])
def test_bad_arguments_raise_and_leave_lr_alone(make, exc, message):
    opt = make_opt()
    with pytest.raises(exc, match=message):
        make(opt)
    assert opt.lr == BASE


def test_plateau_needs_a_numeric_metric():
    opt = make_opt()
    sched = schedules.ReduceOnPlateau(opt)
    with pytest.raises(TypeError, match="metric must be a number, got str"):
        sched.step("low")
    with pytest.raises(TypeError):
        sched.step()
    assert sched.last_epoch == 0
