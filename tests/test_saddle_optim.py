"""Saddle-escaping optimizers: PerturbedGD (Jin et al. 2017) and SaddleFreeNewton (Dauphin et
al. 2014), with plain Newton as the foil that converges to saddles."""

import numpy as np
import pytest

import microgd as mg
from microgd import optim


def double_well(w):
    """x**2 + (y**2 - 1)**2 / 4 - 1/4: a strict saddle at 0 (value 0), minima at y = +-1 (-1/4)."""
    return w[0] ** 2 + (w[1] ** 2 - 1) ** 2 / 4 - 0.25


def saddle(w):
    return 5 * w[0] ** 2 - w[1] ** 2


def quartic_saddle(w):
    """5x^2 - y^2 + y^4/4: the saddle at 0, minima at (0, +-sqrt 2) with value -1."""
    return 5 * w[0] ** 2 - w[1] ** 2 + w[1] ** 4 / 4


def run_first_order(opt_factory, f, start, steps):
    w = mg.Value(np.array(start, dtype=float))
    opt = opt_factory([w])
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = f(w)
        loss.backward()
        losses.append(loss.item())
        opt.step()
    return w, opt, losses


# ---- PerturbedGD ------------------------------------------------------------------------

def test_gd_at_a_strict_saddle_never_moves_and_perturbed_gd_escapes():
    w, _, losses = run_first_order(lambda ps: optim.GD(ps, lr=0.1), double_well, [0.0, 0.0], 300)
    assert w.data.tolist() == [0.0, 0.0] and set(losses) == {0.0}
    assert mg.classify(double_well, np.zeros(2)).kind == "saddle"
    w, opt, losses = run_first_order(
        lambda ps: optim.PerturbedGD(ps, lr=0.1, radius=1e-2, threshold=1e-4, wait=50),
        double_well, [0.0, 0.0], 300)
    assert opt.kicks[0] == 0
    assert losses[-1] < -0.2499 and min(losses) < 0.0  # below the saddle: at a minimum
    np.testing.assert_allclose(np.abs(w.data), [0.0, 1.0], atol=1e-4)


def test_kicks_come_at_most_once_per_wait_steps():
    w, opt, _ = run_first_order(
        lambda ps: optim.PerturbedGD(ps, lr=0.1, radius=1e-3, threshold=1.0, wait=7),
        lambda v: (v ** 2).sum(), [0.0, 0.0, 0.0], 30)
    assert opt.kicks == [0, 7, 14, 21, 28] and opt.steps == 30
    # wait=0: a kick at every step whose gradient is small
    _, opt0, _ = run_first_order(
        lambda ps: optim.PerturbedGD(ps, lr=0.1, radius=1e-3, threshold=1.0, wait=0),
        lambda v: (v ** 2).sum(), [0.0, 0.0], 5)
    assert opt0.kicks == [0, 1, 2, 3, 4]
    # a large gradient: no kick at all
    _, big, _ = run_first_order(
        lambda ps: optim.PerturbedGD(ps, lr=0.01, radius=1e-3, threshold=1e-3, wait=0),
        lambda v: (v ** 2).sum(), [3.0, 4.0], 20)
    assert big.kicks == []


def test_a_kick_is_uniform_in_the_ball():
    d, n = 3, 3000
    w = mg.Value(np.zeros(d))
    opt = optim.PerturbedGD([w], lr=0.1, radius=0.5, threshold=1.0, wait=0, seed=4)
    kicks = []
    for _ in range(n):
        before = w.data.copy()
        w.grad = np.zeros(d)  # no gradient step: only the kick moves w
        opt.step()
        kicks.append(w.data - before)
    kicks = np.array(kicks)
    r = np.linalg.norm(kicks, axis=1)
    assert r.max() <= 0.5 + 1e-15
    # uniform in the ball: (|xi| / r)**d is uniform on [0, 1]; the direction is isotropic
    u = np.sort((r / 0.5) ** d)
    assert np.max(np.abs(u - np.arange(1, n + 1) / n)) < 1.63 / np.sqrt(n)  # KS at 1%
    assert np.all(np.abs(kicks.mean(axis=0)) < 4 * 0.5 / np.sqrt(5 * n))


def test_perturbed_gd_is_reproducible_and_seeded():
    make = lambda seed: lambda ps: optim.PerturbedGD(  # noqa: E731
        ps, lr=0.1, radius=1e-2, threshold=1e-4, wait=50, seed=seed)
    a, _, _ = run_first_order(make(0), double_well, [0.0, 0.0], 40)
    b, _, _ = run_first_order(make(0), double_well, [0.0, 0.0], 40)
    c, _, _ = run_first_order(make(1), double_well, [0.0, 0.0], 40)
    assert a.data.tolist() == b.data.tolist() != c.data.tolist()


def test_perturbed_gd_equals_gd_between_kicks():
    start = [0.3, -0.2]
    a, opt, _ = run_first_order(
        lambda ps: optim.PerturbedGD(ps, lr=0.05, radius=1.0, threshold=1e-9, wait=1),
        double_well, start, 25)
    b, _, _ = run_first_order(lambda ps: optim.GD(ps, lr=0.05), double_well, start, 25)
    assert opt.kicks == [] and a.data.tolist() == b.data.tolist()


def test_perturbed_gd_resumes_bit_for_bit_from_a_saved_state(tmp_path):
    def make(ps):
        return optim.PerturbedGD(ps, lr=0.1, radius=1e-2, threshold=1e-2, wait=5, seed=3)

    w_full, _, _ = run_first_order(make, double_well, [0.0, 0.0], 60)
    w = mg.Value(np.zeros(2))
    opt = make([w])
    for _ in range(30):
        opt.zero_grad()
        double_well(w).backward()
        opt.step()
    np.savez(tmp_path / "opt.npz", **opt.state_dict())
    with np.load(tmp_path / "opt.npz") as z:
        saved = dict(z)
    w2 = mg.Value(w.data.copy())
    opt2 = make([w2])
    opt2.load_state_dict(saved)
    assert opt2.kicks == opt.kicks and opt2.steps == 30
    for _ in range(30):
        opt2.zero_grad()
        double_well(w2).backward()
        opt2.step()
    assert w2.data.tolist() == w_full.data.tolist()


def test_perturbed_gd_load_state_dict_checks_everything_first():
    opt = optim.PerturbedGD([mg.Value(np.zeros(2))], lr=0.1)
    good = opt.state_dict()
    for edit, message in [
        (lambda d: d.pop("kicks"), r"missing keys \['kicks'\]"),
        (lambda d: d.update(kicks=np.array([3, 2])), "'kicks' must be increasing"),
        (lambda d: d.update(kicks=np.array([0]), steps=0), "'kicks' must be increasing"),
        (lambda d: d.update(steps=-1), "steps must be >= 0"),
    ]:
        d = dict(good)
        edit(d)
        with pytest.raises(ValueError, match=message + ".*nothing was loaded"):
            opt.load_state_dict(d)
        assert opt.steps == 0 and opt.kicks == []


@pytest.mark.parametrize("kwargs, exc, message", [
    ({"radius": 0.0}, ValueError, "radius must be > 0"),
    ({"threshold": -1.0}, ValueError, "threshold must be >= 0"),
    ({"wait": 1.5}, TypeError, "wait must be an integer"),
    ({"wait": -1}, ValueError, "wait must be >= 0"),
    ({"seed": -2}, ValueError, "seed must be >= 0"),
])
def test_perturbed_gd_bad_hyperparameters(kwargs, exc, message):
    with pytest.raises(exc, match="PerturbedGD: " + message):
        optim.PerturbedGD([mg.Value(1.0)], lr=0.1, **kwargs)


def test_perturbed_gd_float32_and_fit():
    w = mg.Value(np.zeros(2, dtype=np.float32))
    opt = optim.PerturbedGD([w], lr=0.1, radius=1e-2, threshold=1e-4, wait=50)
    X = np.zeros((1, 1))
    hist = mg.fit(lambda xb, yb: double_well(w), [w], (X, X), opt, epochs=300)
    assert w.dtype == np.float32 and hist.step_loss[0] == 0.0 and hist.step_loss[-1] < -0.249


# ---- Newton and saddle-free Newton ------------------------------------------------------

def test_newton_converges_to_the_saddle_saddle_free_newton_runs_away():
    w = mg.Value(np.array([1.0, 1.0]))
    newton = optim.Newton([w])
    newton.step(lambda: saddle(w))
    assert w.data.tolist() == [0.0, 0.0]  # one exact step onto the saddle
    losses = []
    for _ in range(5):
        losses.append(newton.step(lambda: saddle(w)).item())
    assert w.data.tolist() == [0.0, 0.0] and losses == [0.0] * 5  # and it stays there

    v = mg.Value(np.array([1.0, 1.0]))
    sfn = optim.SaddleFreeNewton([v], damping=1e-8)
    losses = [sfn.step(lambda: saddle(v)).item() for _ in range(6)]
    assert abs(v.data[0]) < 1e-12
    np.testing.assert_allclose(abs(v.data[1]), 2.0 ** 6, rtol=1e-6)  # y doubles each step
    assert losses[0] == 4.0 and np.all(np.diff(losses) < 0)  # downhill at every step
    assert saddle(v).item() < -1000 and sfn.info["method"] == "dense"
    np.testing.assert_allclose(sfn.info["eigenvalues"], [-2.0, 10.0])


def test_on_a_bounded_saddle_newton_stalls_and_saddle_free_newton_finds_the_minimum():
    w = mg.Value(np.array([1.0, 0.5]))
    opt = optim.Newton([w])
    for _ in range(8):
        opt.step(lambda: quartic_saddle(w))
    assert np.abs(w.data).max() < 1e-12
    v = mg.Value(np.array([1.0, 0.5]))
    sfn = optim.SaddleFreeNewton([v], damping=1e-6)
    for _ in range(12):
        sfn.step(lambda: quartic_saddle(v))
    np.testing.assert_allclose(v.data, [0.0, np.sqrt(2)], atol=1e-10)
    assert mg.classify(quartic_saddle, v.data).kind == "minimum"


def mixed(ps):
    W, b = ps
    return (mg.tanh(W @ np.array([1.0, -0.5]) + b) ** 2).sum() + (W ** 4).sum() \
        - (b[0] * W[1, 1]) + 0.5 * (b ** 2).sum()


START = [np.array([[0.3, -0.6], [0.8, 0.2]]), np.array([0.1, -0.4])]


def dense_hessian(f, ps):
    H = mg.hessian(f)(ps)
    sizes = [p.size for p in ps]
    return np.block([[np.asarray(H[i][j]).reshape(sizes[i], sizes[j]) for j in range(len(ps))]
                     for i in range(len(ps))])


def test_steps_are_the_formulas_on_several_parameter_arrays():
    g = np.concatenate([np.ravel(a) for a in mg.grad(mixed)(START)])
    H = dense_hessian(mixed, START)
    lam, V = np.linalg.eigh(H)
    assert lam[0] < 0 < lam[-1]  # an indefinite Hessian, where the two steps differ
    x = np.concatenate([a.ravel() for a in START])
    for opt_cls, kw, want in [
        (optim.Newton, {"damping": 0.1}, x - 0.5 * np.linalg.solve(H + 0.1 * np.eye(6), g)),
        (optim.SaddleFreeNewton, {"damping": 0.1},
         x - 0.5 * V @ ((V.T @ g) / (np.abs(lam) + 0.1))),
    ]:
        ps = [mg.Value(a.copy()) for a in START]
        opt = opt_cls(ps, lr=0.5, **kw)
        loss = opt.step(lambda ps=ps: mixed(ps))
        assert loss.item() == pytest.approx(float(mixed(START).data))
        got = np.concatenate([p.data.ravel() for p in ps])
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
        assert [p.shape for p in ps] == [(2, 2), (2,)]
        assert all(p.grad is None for p in ps)  # .grad is not touched


def test_newton_step_against_torch():
    torch = pytest.importorskip("torch")
    W0, b0 = (torch.tensor(a) for a in START)

    def tf(W, b):
        return ((torch.tanh(W @ torch.tensor([1.0, -0.5], dtype=torch.float64) + b) ** 2).sum()
                + (W ** 4).sum() - b[0] * W[1, 1] + 0.5 * (b ** 2).sum())

    H = torch.autograd.functional.hessian(tf, (W0, b0))
    Ht = torch.cat([torch.cat([H[i][j].reshape(W0.numel() if i == 0 else 2, -1)
                               for j in range(2)], dim=1) for i in range(2)]).numpy()
    gt = torch.autograd.functional.jacobian(tf, (W0, b0))
    gt = np.concatenate([t.numpy().ravel() for t in gt])
    ps = [mg.Value(a.copy()) for a in START]
    optim.Newton(ps, damping=0.1).step(lambda: mixed(ps))
    got = np.concatenate([p.data.ravel() for p in ps])
    x = np.concatenate([a.ravel() for a in START])
    np.testing.assert_allclose(got, x - np.linalg.solve(Ht + 0.1 * np.eye(6), gt), rtol=1e-12)


def spectrum_quadratic(eigs, seed=0):
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((len(eigs), len(eigs))))
    A = (Q * eigs) @ Q.T
    return A, rng.standard_normal(len(eigs))


def test_saddle_free_newton_by_lanczos_on_the_top_k_subspace():
    n = 60
    bulk = np.linspace(-0.5, 0.5, n - 6)
    eigs = np.concatenate([[-40.0, -25.0, -12.0], bulk, [15.0, 30.0, 50.0]])
    A, x0 = spectrum_quadratic(eigs)

    def f(w):
        return 0.5 * (w @ (A @ w))

    g = A @ x0
    lam, V = np.linalg.eigh(A)
    top = np.r_[0:3, n - 3:n]  # the 3 at each end that Lanczos finds
    Vk, lk = V[:, top], lam[top]
    damping = 0.3
    c = Vk.T @ g
    want = x0 - (Vk @ (c / (np.abs(lk) + damping)) + (g - Vk @ c) / damping)
    w = mg.Value(x0.copy())
    opt = optim.SaddleFreeNewton([w], damping=damping, k=3, method="lanczos")
    opt.step(lambda: f(w))
    assert opt.info["method"] == "lanczos" and opt.info["n_hvp"] < n
    np.testing.assert_allclose(np.sort(opt.info["eigenvalues"]), lk, rtol=1e-8)
    # Lanczos accepts a Ritz vector at residual sqrt(1e-8) * scale: the off-subspace term
    # (g - V V^T g) / damping carries that error, amplified by 1 / damping
    np.testing.assert_allclose(w.data, want, rtol=1e-4, atol=1e-6)
    # k covering the whole spectrum: the dense step
    w1, w2 = mg.Value(x0.copy()), mg.Value(x0.copy())
    optim.SaddleFreeNewton([w1], damping=damping, k=30, method="lanczos").step(lambda: f(w1))
    optim.SaddleFreeNewton([w2], damping=damping, method="dense").step(lambda: f(w2))
    np.testing.assert_allclose(w1.data, w2.data, rtol=1e-8, atol=1e-10)


def test_second_order_state_dict_round_trip(tmp_path):
    w = mg.Value(np.array([1.0, 0.5]))
    opt = optim.SaddleFreeNewton([w], lr=0.5, damping=1e-2, k=3, method="dense", seed=7)
    opt.step(lambda: quartic_saddle(w))
    np.savez(tmp_path / "sfn.npz", **opt.state_dict())
    with np.load(tmp_path / "sfn.npz") as z:
        saved = dict(z)
    other = optim.SaddleFreeNewton([mg.Value(np.zeros(2))])
    other.load_state_dict(saved)
    assert (other.lr, other.damping, other.k, other.method, other.seed) == (
        0.5, 1e-2, 3, "dense", 7)
    assert other.state[0]["step"] == 1
    n = optim.Newton([mg.Value(np.zeros(2))], damping=0.5)
    assert sorted(n.state_dict()) == ["damping", "lr", "state.0.step"]


def test_second_order_float32_stays_float32():
    w = mg.Value(np.array([1.0, 0.5], dtype=np.float32))
    opt = optim.SaddleFreeNewton([w], damping=1e-3)
    opt.step(lambda: quartic_saddle(w))
    assert w.dtype == np.float32


def test_second_order_errors_leave_the_parameters_alone():
    w = mg.Value(np.array([1.0, 2.0]))
    opt = optim.SaddleFreeNewton([w])
    with pytest.raises(TypeError, match="needs a closure that re-evaluates the loss.*mg.fit"):
        opt.step()
    with pytest.raises(TypeError, match="closure must be a callable"):
        opt.step(3.0)
    with pytest.raises(ValueError, match="must return the loss as a scalar Value"):
        opt.step(lambda: w * 2)

    def backward_closure():
        loss = (w ** 2).sum()
        loss.backward()
        return loss

    with pytest.raises(RuntimeError, match="without calling backward"):
        opt.step(backward_closure)
    with pytest.raises(ValueError, match="the loss is nan"):
        opt.step(lambda: (w * np.nan).sum())
    newton = optim.Newton([w])
    with pytest.raises(ValueError, match="singular.*pass damping > 0"):
        newton.step(lambda: w[0] ** 2)  # H = diag(2, 0)
    assert w.data.tolist() == [1.0, 2.0] and opt.state[0]["step"] == 0
    # with damping the flat direction gets a bounded step, and the others Newton's
    optim.Newton([w], damping=1.0).step(lambda: w[0] ** 2)
    np.testing.assert_allclose(w.data, [1.0 - 2.0 / 3.0, 2.0])


@pytest.mark.parametrize("make, exc, message", [
    (lambda ps: optim.SaddleFreeNewton(ps, damping=0.0), ValueError, "damping must be > 0"),
    (lambda ps: optim.SaddleFreeNewton(ps, k=0), ValueError, "k must be >= 1"),
    (lambda ps: optim.SaddleFreeNewton(ps, method="eig"), ValueError, "method must be"),
    (lambda ps: optim.Newton(ps, damping=-1.0), ValueError, "damping must be >= 0"),
    (lambda ps: optim.Newton(ps, lr=0.0), ValueError, "lr must be > 0"),
])
def test_second_order_bad_hyperparameters(make, exc, message):
    with pytest.raises(exc, match=message):
        make([mg.Value(1.0)])
