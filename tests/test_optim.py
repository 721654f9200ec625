"""Optimizers: every update rule against its formula, torch parity, state, bad input.

The reference rules below are written out by hand in NumPy, one parameter at a
time, in the form a textbook gives them (bias-corrected moments for Adam, ...),
not in the form ``microgd.optim`` computes them.  The torch tests import torch
inside each test only, so the rest of the file runs without it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import microgd as mg
from microgd import optim

SHAPES = [(3,), (2, 4), ()]  # includes a 0-d parameter
STEPS = 10


def initial(seed: int = 0, shapes=SHAPES) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=s) for s in shapes]


def gradients(seed: int = 1, steps: int = STEPS, shapes=SHAPES, holes: bool = False):
    """A seeded sequence of gradients, one list per step; ``holes`` leaves some out (None)."""
    rng = np.random.default_rng(seed)
    seq = []
    for t in range(steps):
        gs = [rng.normal(scale=1.0 + t % 3, size=s) for s in shapes]
        if holes:  # parameter i gets no gradient at some steps, as when it is unused
            gs = [None if (t + i) % 3 == 2 else g for i, g in enumerate(gs)]
        seq.append(gs)
    return seq


def run_ours(make, init, grads, dtype=np.float64):
    params = [mg.Value(np.asarray(w, dtype=dtype)) for w in init]
    opt = make(params)
    snaps = []
    for gs in grads:
        for p, g in zip(params, gs, strict=True):
            p.grad = None if g is None else np.asarray(g, dtype=dtype)
        opt.step()
        snaps.append([np.array(p.data) for p in params])
    return snaps, params, opt


def run_torch(torch_cls_name, kwargs, init, grads):
    torch = pytest.importorskip("torch")
    tp = [torch.tensor(w, dtype=torch.float64, requires_grad=True) for w in init]
    opt = getattr(torch.optim, torch_cls_name)(tp, **kwargs)
    snaps = []
    for gs in grads:
        for t, g in zip(tp, gs, strict=True):
            t.grad = None if g is None else torch.tensor(g, dtype=torch.float64)
        opt.step()
        snaps.append([t.detach().numpy().copy() for t in tp])
    return snaps


def assert_same_path(ours, ref, rtol=1e-12, atol=1e-12):
    assert len(ours) == len(ref)
    for step, (a, b) in enumerate(zip(ours, ref, strict=True)):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert np.shape(x) == np.shape(y)
            np.testing.assert_allclose(x, y, rtol=rtol, atol=atol,
                                       err_msg=f"step {step + 1}, params[{i}]")


# ---- hand-written reference rules -----------------------------------------------------

def _loop(init, grads, update):
    """Apply ``update(i, w, g, t, state) -> w`` per parameter; t counts that parameter's steps."""
    ws = [np.array(w, dtype=float) for w in init]
    states = [{} for _ in ws]
    counts = [0] * len(ws)
    out = []
    for gs in grads:
        for i, g in enumerate(gs):
            if g is None:
                continue
            counts[i] += 1
            ws[i] = update(ws[i], np.asarray(g, dtype=float), counts[i], states[i])
        out.append([w.copy() for w in ws])
    return out


def ref_gd(init, grads, lr):
    return _loop(init, grads, lambda w, g, t, s: w - lr * g)


def ref_sgd(init, grads, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0,
            maximize=False):
    def update(w, g, t, s):
        d = -g if maximize else g
        d = d + weight_decay * w
        if momentum:
            s["b"] = d if t == 1 else momentum * s["b"] + (1 - dampening) * d
            d = d + momentum * s["b"] if nesterov else s["b"]
        return w - lr * d
    return _loop(init, grads, update)


def ref_momentum(init, grads, lr, beta):
    def update(w, g, t, s):
        s["m"] = beta * s.get("m", 0.0) - lr * g
        return w + s["m"]
    return _loop(init, grads, update)


def ref_adam(init, grads, lr, betas, eps, weight_decay=0.0, amsgrad=False, decoupled=False):
    b1, b2 = betas

    def update(w, g, t, s):
        if decoupled:
            w = w - lr * weight_decay * w
        else:
            g = g + weight_decay * w
        s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
        s["v"] = b2 * s.get("v", 0.0) + (1 - b2) * g ** 2
        v = s["v"]
        if amsgrad:
            s["vmax"] = np.maximum(s.get("vmax", 0.0), s["v"])
            v = s["vmax"]
        m_hat = s["m"] / (1 - b1 ** t)
        v_hat = v / (1 - b2 ** t)
        return w - lr * m_hat / (np.sqrt(v_hat) + eps)
    return _loop(init, grads, update)


def ref_rmsprop(init, grads, lr, alpha, eps, momentum=0.0, centered=False):
    def update(w, g, t, s):
        s["v"] = alpha * s.get("v", 0.0) + (1 - alpha) * g ** 2
        var = s["v"]
        if centered:
            s["ga"] = alpha * s.get("ga", 0.0) + (1 - alpha) * g
            var = var - s["ga"] ** 2
        step = g / (np.sqrt(var) + eps)
        if momentum > 0:
            s["b"] = momentum * s.get("b", 0.0) + step
            step = s["b"]
        return w - lr * step
    return _loop(init, grads, update)


def ref_adagrad(init, grads, lr, lr_decay, eps):
    def update(w, g, t, s):
        s["sum"] = s.get("sum", 0.0) + g ** 2
        return w - lr / (1 + (t - 1) * lr_decay) * g / (np.sqrt(s["sum"]) + eps)
    return _loop(init, grads, update)


# ---- the cases: (ours, hand-written reference, torch class and kwargs) ----------------

def _sgd_case(mom, damp, nest, wd, maxi):
    kw = {"momentum": mom, "dampening": damp, "nesterov": nest, "weight_decay": wd,
          "maximize": maxi}
    return (f"SGD-mom{mom}-damp{damp}-nest{nest}-wd{wd}-max{maxi}",
            lambda ps: optim.SGD(ps, lr=0.05, **kw),
            lambda i, g: ref_sgd(i, g, 0.05, **kw),
            ("SGD", dict(lr=0.05, **kw)))


SGD_FLAGS = [(m, d, n, w, x) for m in (0.0, 0.9) for d in (0.0, 0.5) for n in (False, True)
             for w in (0.0, 0.1) for x in (False, True)]
SGD_VALID = [f for f in SGD_FLAGS if not f[2] or (f[0] > 0 and f[1] == 0)]
SGD_INVALID = [f for f in SGD_FLAGS if f not in SGD_VALID]

ADAM_KW = {"lr": 0.01, "betas": (0.8, 0.95), "eps": 1e-6}

CASES = [_sgd_case(*f) for f in SGD_VALID] + [
    ("Nesterov", lambda ps: optim.Nesterov(ps, lr=0.05, momentum=0.8),
     lambda i, g: ref_sgd(i, g, 0.05, momentum=0.8, nesterov=True),
     ("SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True})),
    *[(f"Adam-ams{a}-wd{w}",
       lambda ps, a=a, w=w: optim.Adam(ps, weight_decay=w, amsgrad=a, **ADAM_KW),
       lambda i, g, a=a, w=w: ref_adam(i, g, weight_decay=w, amsgrad=a, **ADAM_KW),
       ("Adam", {"weight_decay": w, "amsgrad": a, **ADAM_KW}))
      for a in (False, True) for w in (0.0, 0.1)],
    *[(f"AdamW-ams{a}",
       lambda ps, a=a: optim.AdamW(ps, weight_decay=0.1, amsgrad=a, **ADAM_KW),
       lambda i, g, a=a: ref_adam(i, g, weight_decay=0.1, amsgrad=a, decoupled=True, **ADAM_KW),
       ("AdamW", {"weight_decay": 0.1, "amsgrad": a, **ADAM_KW}))
      for a in (False, True)],
    *[(f"RMSProp-mom{m}-centered{c}",
       lambda ps, m=m, c=c: optim.RMSProp(ps, lr=0.01, alpha=0.9, eps=1e-6, momentum=m,
                                          centered=c),
       lambda i, g, m=m, c=c: ref_rmsprop(i, g, 0.01, 0.9, 1e-6, momentum=m, centered=c),
       ("RMSprop", {"lr": 0.01, "alpha": 0.9, "eps": 1e-6, "momentum": m, "centered": c}))
      for m in (0.0, 0.7) for c in (False, True)],
    *[(f"AdaGrad-decay{d}",
       lambda ps, d=d: optim.AdaGrad(ps, lr=0.1, lr_decay=d, eps=1e-10),
       lambda i, g, d=d: ref_adagrad(i, g, 0.1, d, 1e-10),
       ("Adagrad", {"lr": 0.1, "lr_decay": d, "eps": 1e-10}))
      for d in (0.0, 0.05)],
]
# GD and Momentum have no torch counterpart: checked by hand only.
HAND_ONLY = [
    ("GD", lambda ps: optim.GD(ps, lr=0.1), lambda i, g: ref_gd(i, g, 0.1)),
    ("Momentum", lambda ps: optim.Momentum(ps, lr=0.05, beta=0.8),
     lambda i, g: ref_momentum(i, g, 0.05, 0.8)),
]
ALL = [(n, mk) for n, mk, *_ in CASES] + [(n, mk) for n, mk, _ in HAND_ONLY]


def test_sgd_flag_grid_is_complete():
    assert len(SGD_FLAGS) == 32 and len(SGD_VALID) == 20 and len(SGD_INVALID) == 12


@pytest.mark.parametrize("name,make,ref", [c[:3] for c in CASES] + HAND_ONLY,
                         ids=[c[0] for c in CASES] + [c[0] for c in HAND_ONLY])
@pytest.mark.parametrize("holes", [False, True], ids=["all-grads", "some-None"])
def test_rule_matches_hand_formula(name, make, ref, holes):
    init, grads = initial(), gradients(holes=holes)
    ours, _, _ = run_ours(make, init, grads)
    assert_same_path(ours, ref(init, grads))


@pytest.mark.parametrize("name,make,torch_spec", [(c[0], c[1], c[3]) for c in CASES],
                         ids=[c[0] for c in CASES])
@pytest.mark.parametrize("holes", [False, True], ids=["all-grads", "some-None"])
def test_matches_torch_step_for_step(name, make, torch_spec, holes):
    init, grads = initial(seed=3), gradients(seed=4, holes=holes)
    theirs = run_torch(*torch_spec, init, grads)
    ours, _, _ = run_ours(make, init, grads)
    assert_same_path(ours, theirs)


# ---- a few numbers worked out on paper ---------------------------------------------------

def test_worked_numbers():
    w = mg.Value([1.0, -2.0])
    opt = optim.GD([w], lr=0.1)
    (w * w).sum().backward()  # g = 2w
    opt.step()
    np.testing.assert_allclose(w.data, [0.8, -1.6], rtol=0, atol=1e-15)

    # SGD momentum 0.5, dampening 0.5, constant g = 1: b = 1, then 0.5 + 0.5 = 1, ...
    w = mg.Value(0.0)
    opt = optim.SGD([w], lr=0.1, momentum=0.5, dampening=0.5)
    for _ in range(3):
        w.grad = np.array(1.0)
        opt.step()
    assert math.isclose(w.item(), -0.3, abs_tol=1e-15)

    # Adam's first step is lr * m/sqrt(v) = lr * sign(g) (up to eps)
    w = mg.Value(np.zeros(3))
    opt = optim.Adam([w], lr=0.01, eps=1e-12)
    w.grad = np.array([5.0, -0.2, 3e-3])
    opt.step()
    np.testing.assert_allclose(w.data, [-0.01, 0.01, -0.01], rtol=1e-8)

    # AdaGrad with constant g: sum = t g^2, step t = lr g / (sqrt(t) |g|)
    w = mg.Value(0.0)
    opt = optim.AdaGrad([w], lr=1.0, eps=0.0 + 1e-300)
    for _ in range(4):
        w.grad = np.array(2.0)
        opt.step()
    assert math.isclose(w.item(), -(1 + 1 / math.sqrt(2) + 1 / math.sqrt(3) + 0.5), rel_tol=1e-14)


def test_momentum_is_the_heavy_ball_loop_on_a_quadratic():
    A = np.array([[3.0, 0.5], [0.5, 1.0]])
    w = mg.Value(np.array([1.0, -2.0]))
    opt = optim.Momentum([w], lr=0.1, beta=0.9)
    x, m = np.array([1.0, -2.0]), np.zeros(2)
    for _ in range(25):
        opt.zero_grad()
        (0.5 * (w @ (A @ w))).backward()
        opt.step()
        g = A @ x  # the gradient of 0.5 x^T A x, by hand
        m = 0.9 * m - 0.1 * g
        x = x + m
        np.testing.assert_allclose(w.data, x, rtol=1e-13, atol=1e-15)


def test_momentum_equals_sgd_momentum_at_constant_lr():
    init, grads = initial(), gradients()
    a, _, _ = run_ours(lambda ps: optim.Momentum(ps, lr=0.05, beta=0.9), init, grads)
    b, _, _ = run_ours(lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9), init, grads)
    assert_same_path(a, b, rtol=1e-11, atol=1e-13)


def test_training_loop_converges_with_every_optimizer():
    target = np.array([1.0, -2.0, 0.5])
    for name, make in ALL:
        if "maxTrue" in name:
            continue  # maximize ascends: it is checked against torch instead
        w = mg.Value(np.zeros(3))
        opt = make([w])
        for _ in range(500):
            opt.zero_grad()
            ((w - target) ** 2).sum().backward()
            opt.step()
        # weight decay pulls towards 0 and lr_decay stalls AdaGrad: only ask for a big drop
        assert float(((w.data - target) ** 2).sum()) < 0.5 * float((target ** 2).sum()), name


# ---- dtypes and the bookkeeping of step() -------------------------------------------------

@pytest.mark.parametrize("name,make", ALL, ids=[n for n, _ in ALL])
def test_float32_stays_float32(name, make):
    init, grads = initial(), gradients()
    snaps32, params, opt = run_ours(make, init, grads, dtype=np.float32)
    for p in params:
        assert p.dtype == np.float32 and np.asarray(p.data).dtype == np.float32
    for st in opt.state:
        for k, v in st.items():
            if k != "step":
                assert v.dtype == np.float32, k
    # float64 gradients on float32 parameters are computed in float32 too
    params[0].grad = np.ones(params[0].shape)
    opt.step()
    assert params[0].dtype == np.float32
    snaps64, _, _ = run_ours(make, init, grads)
    assert_same_path(snaps32, snaps64, rtol=1e-3, atol=1e-4)


def test_params_without_grad_are_skipped_and_keep_their_state():
    a, b = mg.Value(np.ones(2)), mg.Value(np.ones(3))
    opt = optim.Adam([a, b], lr=0.1)
    a.grad = np.ones(2)
    opt.step()
    np.testing.assert_array_equal(b.data, np.ones(3))
    assert opt.state[0]["step"] == 1 and opt.state[1]["step"] == 0
    np.testing.assert_array_equal(opt.state[1]["exp_avg"], 0.0)


def test_zero_grad_sets_none():
    ps = [mg.Value(np.ones(2)), mg.Value(1.0)]
    opt = optim.SGD(ps, lr=0.1)
    (ps[0].sum() * ps[1]).backward()
    assert all(p.grad is not None for p in ps)
    opt.zero_grad()
    assert all(p.grad is None for p in ps)


def test_accepts_a_single_value_a_generator_and_a_module_like_object():
    w = mg.Value(1.0)
    assert optim.GD(w, lr=0.1).params == [w]
    assert optim.GD((p for p in [w]), lr=0.1).params == [w]

    class Model:
        def parameters(self):
            return [w]

    assert optim.SGD(Model(), lr=0.1).params == [w]


def test_lr_can_change_other_hyperparameters_cannot():
    w = mg.Value(np.ones(2))
    opt = optim.SGD([w], lr=0.1, momentum=0.9)
    opt.lr = 0.5
    assert opt.lr == 0.5 and isinstance(opt.lr, float)
    opt.lr = 0  # schedules (cosine to eta_min=0) may reach 0
    w.grad = np.ones(2)
    opt.step()
    np.testing.assert_array_equal(w.data, np.ones(2))
    for bad in (-0.1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="lr"):
            opt.lr = bad
    assert opt.lr == 0.0
    assert opt.momentum == 0.9
    with pytest.raises(AttributeError, match="momentum is fixed"):
        opt.momentum = 0.5
    assert opt.momentum == 0.9
    assert "SGD(1 params, lr=0.0, momentum=0.9" in repr(opt)


def test_betas_may_be_a_list_or_array():
    w = mg.Value(1.0)
    assert optim.Adam([w], betas=[0.5, 0.6]).betas == (0.5, 0.6)
    assert optim.Adam([w], betas=np.array([0.5, 0.6])).betas == (0.5, 0.6)


# ---- state_dict ---------------------------------------------------------------------------

def test_state_dict_keys_and_values_are_plain():
    w, b = mg.Value(np.ones((2, 2))), mg.Value(0.5)
    opt = optim.Adam([w, b], lr=0.01, amsgrad=True)
    sd = opt.state_dict()
    assert set(sd) == {"lr", "betas", "eps", "weight_decay", "amsgrad",
                       *(f"state.{i}.{n}" for i in range(2)
                         for n in ("step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"))}
    assert sd["lr"] == 0.01 and sd["state.1.step"] == 0
    assert sd["state.0.exp_avg"].shape == (2, 2) and sd["state.1.exp_avg"].shape == ()
    for v in sd.values():
        assert np.asarray(v).dtype != object
    # copies: stepping on does not change a saved dict
    w.grad, b.grad = np.ones((2, 2)), np.array(1.0)
    opt.step()
    assert sd["state.0.step"] == 0 and not sd["state.0.exp_avg"].any()


@pytest.mark.parametrize("name,make", ALL, ids=[n for n, _ in ALL])
def test_state_dict_round_trip_through_npz(name, make, tmp_path):
    init, grads = initial(), gradients(holes=True)
    straight, _, _ = run_ours(make, init, grads)

    first, params, opt = run_ours(make, init, grads[:4])
    path = tmp_path / "opt.npz"
    np.savez(path, **opt.state_dict())
    with np.load(path, allow_pickle=False) as f:
        loaded = {k: f[k] for k in f.files}

    fresh = [mg.Value(np.array(p.data)) for p in params]
    opt2 = make(fresh)
    opt2.lr = 123.0  # restored from the file
    opt2.load_state_dict(loaded)
    assert opt2.lr == opt.lr
    rest = []
    for gs in grads[4:]:
        for p, g in zip(fresh, gs, strict=True):
            p.grad = None if g is None else g.copy()
        opt2.step()
        rest.append([np.array(p.data) for p in fresh])
    for a, b in zip(first + rest, straight, strict=True):
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)


def _snapshot(opt):
    return (opt.lr, dict(opt._hp), [{k: np.array(v) for k, v in st.items()} for st in opt.state],
            [np.array(p.data) for p in opt.params])


def _assert_unchanged(opt, snap):
    lr, hp, state, data = snap
    assert opt.lr == lr and dict(opt._hp) == hp
    for st, old in zip(opt.state, state, strict=True):
        assert st.keys() == old.keys()
        for k in st:
            np.testing.assert_array_equal(st[k], old[k])
    for p, d in zip(opt.params, data, strict=True):
        np.testing.assert_array_equal(p.data, d)


def _trained_sgd():
    ps = [mg.Value(np.ones(3)), mg.Value(2.0)]
    opt = optim.SGD(ps, lr=0.1, momentum=0.9)
    for _ in range(3):
        ps[0].grad, ps[1].grad = np.arange(3.0), np.array(1.0)
        opt.step()
    return opt


def _edit(**changes):
    def apply(sd):
        for k, v in changes.items():
            if v is None:
                del sd[k]
            else:
                sd[k] = v
        return sd
    return apply


@pytest.mark.parametrize("edit,message", [
    (_edit(**{"state.1.momentum_buffer": None}), r"missing keys \['state.1.momentum_buffer'\]"),
    (_edit(lr=None), r"missing keys \['lr'\]"),
    (_edit(**{"state.2.step": 0}), r"unexpected keys \['state.2.step'\]"),
    (_edit(**{"state.0.momentum_buffer": np.zeros(4)}),
     r"'state.0.momentum_buffer' has shape \(4,\) but params\[0\] has shape \(3,\)"),
    (_edit(**{"state.1.momentum_buffer": np.zeros(1)}),
     r"'state.1.momentum_buffer' has shape \(1,\) but params\[1\] has shape \(\)"),
    (_edit(**{"state.0.step": -1}), r"'state.0.step' must be a non-negative integer"),
    (_edit(**{"state.0.step": 1.5}), r"'state.0.step' must be a non-negative integer"),
    (_edit(**{"state.0.momentum_buffer": np.array(["a", "b", "c"])}), r"dtype <U1"),
    (_edit(lr=-1.0), r"lr must be >= 0, got -1.0"),
    (_edit(lr=float("nan")), r"lr must be a finite number, got nan"),
    (_edit(momentum=-0.5), r"momentum must be >= 0, got -0.5"),
    (_edit(nesterov=np.array(1.5)), r"nesterov must be True or False"),
])
def test_load_state_dict_rejects_and_changes_nothing(edit, message):
    opt = _trained_sgd()
    snap = _snapshot(opt)
    bad = edit(opt.state_dict())
    with pytest.raises(ValueError, match=message) as info:
        opt.load_state_dict(bad)
    assert "nothing was loaded" in str(info.value)
    _assert_unchanged(opt, snap)


def test_load_state_dict_names_every_problem_at_once():
    opt = _trained_sgd()
    sd = opt.state_dict()
    del sd["state.0.step"]
    sd["extra"] = 1
    sd["state.1.momentum_buffer"] = np.zeros(2)
    with pytest.raises(ValueError) as info:
        opt.load_state_dict(sd)
    msg = str(info.value)
    assert "state.0.step" in msg and "'extra'" in msg and "state.1.momentum_buffer" in msg


def test_load_state_dict_of_another_optimizer_kind_is_refused():
    opt = _trained_sgd()
    snap = _snapshot(opt)
    other = optim.Adam([mg.Value(np.ones(3)), mg.Value(2.0)]).state_dict()
    with pytest.raises(ValueError, match="missing keys"):
        opt.load_state_dict(other)
    with pytest.raises(TypeError, match="expected a dict"):
        opt.load_state_dict([("lr", 0.1)])
    _assert_unchanged(opt, snap)


def test_load_state_dict_restores_hyperparameters_and_their_state():
    ps = [mg.Value(np.ones(3)), mg.Value(2.0)]
    plain = optim.SGD(ps, lr=0.3)  # no momentum: no buffers
    opt = _trained_sgd()
    plain.load_state_dict(opt.state_dict())
    assert plain.momentum == 0.9 and plain.lr == opt.lr
    np.testing.assert_array_equal(plain.state[0]["momentum_buffer"],
                                  opt.state[0]["momentum_buffer"])
    assert plain.state[0]["momentum_buffer"] is not opt.state[0]["momentum_buffer"]


@pytest.mark.parametrize("loaded", [{"momentum": 0.9}, {"weight_decay": 0.5},
                                    {"maximize": True}, {}])
def test_a_loaded_state_dict_decides_the_next_steps(loaded):
    """The rule follows the hyperparameters loaded, not those the optimizer was built with
    (in both directions: a plain SGD that loads momentum, a momentum SGD that loads none)."""
    for built in ({}, {"momentum": 0.5, "weight_decay": 0.1}):
        ps = [mg.Value(np.arange(1.0, 4.0)), mg.Value(2.0)]
        twin = [mg.Value(np.arange(1.0, 4.0)), mg.Value(2.0)]
        ref = optim.SGD(twin, lr=0.1, **loaded)
        opt = optim.SGD(ps, lr=0.1, **built)
        opt.load_state_dict(ref.state_dict())
        for _ in range(3):
            for qs in (ps, twin):
                qs[0].grad, qs[1].grad = np.array([1.0, -2.0, 0.5]), np.array(1.5)
            opt.step()
            ref.step()
            for p, q in zip(ps, twin, strict=True):
                np.testing.assert_array_equal(p.data, q.data)


def test_load_state_dict_casts_to_float32():
    w = mg.Value(np.ones(3, dtype=np.float32))
    opt = optim.Adam([w])
    sd = opt.state_dict()
    sd["state.0.exp_avg"] = np.full(3, 0.5)  # float64
    opt.load_state_dict(sd)
    assert opt.state[0]["exp_avg"].dtype == np.float32


# ---- bad input ---------------------------------------------------------------------------

def _params():
    ps = [mg.Value(np.array([1.0, 2.0])), mg.Value(3.0)]
    ps[0].grad, ps[1].grad = np.array([0.5, 0.5]), np.array(1.0)
    return ps


def _unchanged(ps):
    np.testing.assert_array_equal(ps[0].data, [1.0, 2.0])
    assert ps[1].data == 3.0
    np.testing.assert_array_equal(ps[0].grad, [0.5, 0.5])
    assert ps[1].grad == 1.0


NAN, INF = float("nan"), float("inf")
BAD = [
    (lambda ps: optim.SGD([], lr=0.1), ValueError, "SGD: params is empty"),
    (lambda ps: optim.GD([ps[0], np.ones(2)], lr=0.1), TypeError,
     r"params\[1\] is a ndarray, not a microgd Value"),
    (lambda ps: optim.Adam([ps[0], 3.0]), TypeError, r"params\[1\] is a float"),
    (lambda ps: optim.SGD([ps[0], mg.Value(1.0, requires_grad=False)], lr=0.1), ValueError,
     r"params\[1\] is a Value of shape \(\) with requires_grad=False"),
    (lambda ps: optim.SGD([ps[0], ps[0] * 2], lr=0.1), ValueError,
     r"params\[1\] was computed by op 'mul'"),
    (lambda ps: optim.SGD([ps[0], ps[1], ps[0]], lr=0.1), ValueError,
     r"params\[2\] is the same Value as params\[0\]"),
    (lambda ps: optim.SGD({"w": ps[0]}, lr=0.1), TypeError, "params must be a list of Values"),
    (lambda ps: optim.GD(ps, lr=0), ValueError, r"GD: lr must be > 0, got 0.0"),
    (lambda ps: optim.GD(ps, lr=-0.1), ValueError, r"lr must be > 0, got -0.1"),
    (lambda ps: optim.SGD(ps, lr=NAN), ValueError, r"lr must be a finite number, got nan"),
    (lambda ps: optim.Adam(ps, lr=INF), ValueError, r"lr must be a finite number, got inf"),
    (lambda ps: optim.SGD(ps, lr="0.1"), TypeError, r"lr must be a real number, got '0.1'"),
    (lambda ps: optim.SGD(ps, lr=True), TypeError, r"lr must be a real number"),
    (lambda ps: optim.SGD(ps, lr=0.1, momentum=-0.9), ValueError,
     r"SGD: momentum must be >= 0, got -0.9"),
    (lambda ps: optim.SGD(ps, lr=0.1, dampening=1.5), ValueError,
     r"dampening must be in \[0, 1\], got 1.5"),
    (lambda ps: optim.SGD(ps, lr=0.1, weight_decay=-1), ValueError, "weight_decay must be >= 0"),
    (lambda ps: optim.SGD(ps, lr=0.1, nesterov="yes"), TypeError, "nesterov must be True or"),
    (lambda ps: optim.Nesterov(ps, lr=0.1, momentum=0), ValueError,
     "nesterov=True needs momentum > 0"),
    (lambda ps: optim.Momentum(ps, lr=0.1, beta=-0.5), ValueError, "beta must be >= 0"),
    (lambda ps: optim.Momentum(ps, lr=0.1, beta=NAN), ValueError, "beta must be a finite"),
    (lambda ps: optim.Adam(ps, betas=(1.0, 0.999)), ValueError,
     r"Adam: betas\[0\] must be in \[0, 1\), got 1.0"),
    (lambda ps: optim.Adam(ps, betas=(0.9, -0.1)), ValueError, r"betas\[1\] must be in \[0, 1\)"),
    (lambda ps: optim.AdamW(ps, betas=(0.9,)), ValueError, "betas must be a pair"),
    (lambda ps: optim.Adam(ps, eps=0), ValueError, r"eps must be > 0, got 0.0"),
    (lambda ps: optim.AdamW(ps, eps=-1e-8), ValueError, "AdamW: eps must be > 0"),
    (lambda ps: optim.AdamW(ps, weight_decay=-0.01), ValueError, "weight_decay must be >= 0"),
    (lambda ps: optim.Adam(ps, amsgrad=1), TypeError, "amsgrad must be True or False"),
    (lambda ps: optim.RMSProp(ps, alpha=1.0), ValueError, r"alpha must be in \[0, 1\)"),
    (lambda ps: optim.RMSProp(ps, momentum=-0.1), ValueError, "momentum must be >= 0"),
    (lambda ps: optim.RMSProp(ps, eps=0.0), ValueError, "eps must be > 0"),
    (lambda ps: optim.AdaGrad(ps, lr_decay=-1), ValueError, "lr_decay must be >= 0"),
    (lambda ps: optim.AdaGrad(ps, eps=0), ValueError, "AdaGrad: eps must be > 0"),
]


@pytest.mark.parametrize("make,exc,message", BAD, ids=[m for _, _, m in BAD])
def test_bad_arguments_raise_and_touch_nothing(make, exc, message):
    ps = _params()
    with pytest.raises(exc, match=message):
        make(ps)
    _unchanged(ps)


def test_nesterov_needs_momentum_and_no_dampening():
    w = mg.Value(1.0)
    for mom, damp, nest, wd, maxi in SGD_INVALID:
        with pytest.raises(ValueError, match="nesterov=True needs momentum > 0 and dampening"):
            optim.SGD([w], lr=0.1, momentum=mom, dampening=damp, nesterov=nest,
                      weight_decay=wd, maximize=maxi)


@pytest.mark.parametrize("name,make", ALL, ids=[n for n, _ in ALL])
def test_wrong_grad_shape_raises_before_any_update(name, make):
    ps = [mg.Value(np.ones(2)), mg.Value(np.ones((2, 3))), mg.Value(1.0)]
    opt = make(ps)
    ps[0].grad, ps[2].grad = np.ones(2), np.array(1.0)
    ps[1].grad = np.ones(3)
    snap = _snapshot(opt)
    with pytest.raises(ValueError, match=r"params\[1\].grad has shape \(3,\) but the parameter "
                                         r"has shape \(2, 3\); no parameter was updated"):
        opt.step()
    _assert_unchanged(opt, snap)
    # a 0-d parameter given a 1-element gradient is a shape error too
    ps[1].grad = None
    ps[2].grad = np.ones(1)
    with pytest.raises(ValueError, match=r"params\[2\].grad has shape \(1,\)"):
        opt.step()
    _assert_unchanged(opt, snap)


def test_non_numeric_grad_raises_before_any_update():
    ps = _params()
    opt = optim.SGD(ps, lr=0.1)
    ps[1].grad = np.array("x")
    with pytest.raises(TypeError, match=r"params\[1\].grad has dtype <U1"):
        opt.step()
    np.testing.assert_array_equal(ps[0].data, [1.0, 2.0])


def test_base_class_needs_an_update_rule():
    with pytest.raises(TypeError, match="Optimizer is a base class"):
        optim.Optimizer([mg.Value(1.0)], lr=0.1)

    class Half(optim.Optimizer):
        def _update(self, w, g, state):
            return w / 2

    w = mg.Value(1.0)
    with pytest.raises(TypeError, match="unexpected hyperparameters"):
        Half([w], lr=0.1, foo=1)
    opt = Half([w], lr=0.1)
    w.grad = np.array(3.0)
    opt.step()
    assert w.item() == 0.5 and opt.state == [{"step": 1}]
    assert opt.state_dict() == {"lr": 0.1, "state.0.step": 1}


def test_optimizers_can_be_deep_copied():
    import copy

    w = mg.Value(np.ones(2))
    opt = optim.Adam([w], lr=0.1)
    clone = copy.deepcopy(opt)
    assert clone.betas == opt.betas and clone.params[0] is not w


def test_step_never_aliases_what_the_update_returns():
    # An update that returns its state buffer, the gradient or w itself must be copied;
    # a fresh array is taken as it is (no second copy).
    class Returns(optim.Optimizer):
        def __init__(self, params, which):
            super().__init__(params, lr=0.1)
            self.which = which

        def _init_state(self, p):
            return {"buf": np.zeros(p.shape, p.dtype)}

        def _update(self, w, g, state):
            if self.which == "state":
                state["buf"][...] = w - self.lr * g
                return state["buf"]
            if self.which == "grad":
                return g
            if self.which == "w":
                w -= self.lr * g
                return w
            return w - self.lr * g

    for which in ("state", "grad", "w", "fresh"):
        p = mg.Value(np.array([1.0, 2.0]))
        p.grad = np.array([1.0, 1.0])
        opt = Returns([p], which)
        if "buf" not in opt.state[0]:
            opt.state[0]["buf"] = np.zeros(2)
        opt.step()
        expected = [1.0, 1.0] if which == "grad" else [0.9, 1.9]
        np.testing.assert_allclose(p.data, expected)
        assert p.data is not p.grad and p.data is not opt.state[0]["buf"]
        p.grad[...] = 5.0
        opt.state[0]["buf"][...] = 7.0
        np.testing.assert_allclose(p.data, expected)  # nothing shared


IN_PLACE = [(n, mk) for n, mk in ALL if type(mk([mg.Value(np.ones(2))]))._in_place]


def test_the_built_in_rules_update_in_place():
    assert {type(mk([mg.Value(np.ones(2))])).__name__ for _, mk in IN_PLACE} >= {
        "GD", "SGD", "Nesterov", "Momentum", "Adam", "AdamW", "RMSProp", "AdaGrad"}


# (130, 130) is above optim.base._SCRATCH_FROM: its step goes through the reused work array.
TRAINED_SHAPES = [(3,), (2, 4), (130, 130), (40, 130)]


def _trained(make, hold, steps=4):
    """Parameters after ``steps`` updates with fixed gradients; ``hold`` keeps what others see."""
    params = [mg.Value(w) for w in initial(shapes=TRAINED_SHAPES)]
    opt = make(params)
    seen = []
    for gs in gradients(steps=steps, shapes=TRAINED_SHAPES):
        for p, g in zip(params, gs, strict=True):
            p.grad = g
        ids = [id(p.data) for p in params]
        held = [hold(p) for p in params]
        copies = [None if h is None else np.array(h) for h in held]
        opt.step()
        seen.append((ids, held, copies))
    return params, seen


@pytest.mark.skipif(not hasattr(__import__("sys"), "getrefcount"), reason="CPython only")
@pytest.mark.parametrize("name,make", IN_PLACE, ids=[n for n, _ in IN_PLACE])
def test_in_place_when_nothing_else_holds_the_array(name, make):
    params, seen = _trained(make, hold=lambda p: None)
    for ids, _, _ in seen:
        assert ids == [id(p.data) for p in params]  # no new array per step
    reference, _ = _trained(make, hold=lambda p: p.data)  # copies every step
    for p, q in zip(params, reference, strict=True):
        np.testing.assert_array_equal(p.data, q.data)  # bit for bit the same rule


@pytest.mark.parametrize("hold", [lambda p: p.data, lambda p: p.data[..., :1],
                                  lambda p: np.asarray(p.data).reshape(-1)],
                         ids=["array", "view", "reshaped view"])
@pytest.mark.parametrize("name,make", IN_PLACE, ids=[n for n, _ in IN_PLACE])
def test_what_others_hold_never_changes(name, make, hold):
    params, seen = _trained(make, hold)
    for _ids, held, copies in seen:
        for h, c in zip(held, copies, strict=True):
            np.testing.assert_array_equal(h, c)
    assert not any(np.array_equal(p.data, c) for p, c in zip(params, seen[-1][2], strict=True))


def test_a_kept_graph_keeps_its_numbers_and_refuses_a_second_backward():
    w = mg.Value(np.array([1.0, 2.0]))
    opt = optim.SGD([w], lr=0.1)
    head = w[:1]  # a node whose data is a view of w's array
    same = w.reshape((2,))  # a node that may hold w's array itself
    loss = (head * head).sum() + (same * w).sum()
    loss.backward(retain_graph=True)
    opt.step()
    np.testing.assert_array_equal(head.data, [1.0])  # what the graph saw is not rewritten
    np.testing.assert_array_equal(same.data, [1.0, 2.0])
    np.testing.assert_allclose(w.data, [1.0 - 0.1 * 4, 2.0 - 0.1 * 4])
    with pytest.raises(RuntimeError, match="modified in place"):
        loss.backward()


@pytest.mark.parametrize("name,make,ref", [c[:3] for c in CASES] + HAND_ONLY,
                         ids=[c[0] for c in CASES] + [c[0] for c in HAND_ONLY])
def test_large_parameters_follow_the_same_rule(name, make, ref, monkeypatch):
    # Large layers take their step through the optimizer's work array: the hand
    # formula's numbers, and bit for bit those of the plain temporary.
    init = initial(shapes=TRAINED_SHAPES)
    grads = gradients(steps=5, shapes=TRAINED_SHAPES)
    assert max(w.size for w in init) >= optim.base._SCRATCH_FROM
    for dtype in (np.float64, np.float32):
        ours, _, _ = run_ours(make, init, grads, dtype=dtype)
        with monkeypatch.context() as m:
            m.setattr(optim.base, "_SCRATCH_FROM", 10**12)
            plain, _, _ = run_ours(make, init, grads, dtype=dtype)
        for a_step, b_step in zip(ours, plain, strict=True):
            for a, b in zip(a_step, b_step, strict=True):
                assert a.dtype == np.dtype(dtype)
                np.testing.assert_array_equal(a, b)
        if dtype == np.float64:
            assert_same_path(ours, ref(init, grads))


@pytest.mark.parametrize("make", [lambda ps: optim.SGD(ps, lr=0.1),
                                  lambda ps: optim.Adam(ps, lr=0.1)], ids=["SGD", "Adam"])
def test_work_arrays_follow_shapes_and_dtypes_that_change(make, monkeypatch):
    # The work views are made once per shape: parameters of one shape in two dtypes,
    # and a parameter whose .data is replaced by a larger array (the buffer grows), get
    # the numbers of the plain temporaries every step.
    rng = np.random.default_rng(3)

    def run(scratch_from):
        with monkeypatch.context() as m:
            m.setattr(optim.base, "_SCRATCH_FROM", scratch_from)
            ps = [mg.Value(rng_init[0].copy()), mg.Value(rng_init[1].astype(np.float32)),
                  mg.Value(rng_init[2].copy())]
            opt = make(ps)
            for k in range(6):
                if k == 3:
                    ps[2].data = np.ones((7, 9))  # larger than every work view so far
                    opt.state[2] = {n: np.zeros((7, 9)) if n != "step" else 0
                                    for n in opt.state[2]}
                for p in ps:
                    p.grad = np.cos(np.arange(p.size) + k).reshape(p.shape).astype(p.dtype)
                opt.step()
            return [p.data for p in ps]

    rng_init = [rng.standard_normal((5, 4)), rng.standard_normal((5, 4)),
                rng.standard_normal(3)]
    for a, b in zip(run(1), run(10**12), strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


def test_an_in_place_rule_returning_a_new_array_is_taken_as_it_is():
    class Halve(optim.Optimizer):
        _in_place = True

        def _update(self, w, g, state):
            return w * 0.5  # a new array, although it could write into w

    w = mg.Value(np.array([2.0, 4.0]))
    w.grad = np.zeros(2)
    Halve([w], lr=0.1).step()
    np.testing.assert_array_equal(w.data, [1.0, 2.0])


# ---- the package's layout ---------------------------------------------------------------

def test_optim_modules_import_the_base_not_the_package():
    """No module of microgd.optim imports the package itself: no import loop held by order."""
    import ast
    import pathlib

    folder = pathlib.Path(optim.__file__).parent
    for path in sorted(folder.glob("*.py")):
        if path.name == "__init__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                assert node.module != "microgd.optim", f"{path.name} imports microgd.optim"
            elif isinstance(node, ast.Import):
                assert "microgd.optim" not in [a.name for a in node.names], path.name


def test_every_optimizer_is_importable_from_the_package():
    from microgd.optim import adaptive, base, newton, perturbed, sgd

    assert sorted(optim.__all__) == sorted(
        ["Optimizer", *sgd.__all__, *adaptive.__all__, *perturbed.__all__, *newton.__all__,
         "schedules"])
    assert [optim.PerturbedGD, optim.Newton, optim.SaddleFreeNewton] == [
        perturbed.PerturbedGD, newton.Newton, newton.SaddleFreeNewton]
    assert optim.Optimizer is base.Optimizer
    assert [optim.GD, optim.SGD, optim.Nesterov, optim.Momentum] == [
        sgd.GD, sgd.SGD, sgd.Nesterov, sgd.Momentum]
    assert [optim.Adam, optim.AdamW, optim.RMSProp, optim.AdaGrad] == [
        adaptive.Adam, adaptive.AdamW, adaptive.RMSProp, adaptive.AdaGrad]
    assert optim.schedules.Optimizer is base.Optimizer
