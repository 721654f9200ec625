"""Hessian relatives: per-block spectra, Hutchinson's diagonal, the Gauss-Newton spectrum."""

import numpy as np
import pytest

import microgd as mg
from microgd.operators import BlockOperator, GGNOperator
from microgd.transforms import HessianOperator


def coupled(ps):
    """A non-quadratic function of three parameter arrays with couplings between them."""
    W, b, c = ps
    return (mg.tanh(W @ np.array([1.0, -2.0]) + b) ** 2).sum() + c * (W ** 3).sum() \
        - 0.5 * c ** 2 + (b * W[:, 0]).sum()


POINT = [np.array([[0.3, -0.2], [0.5, 0.1], [-0.4, 0.7]]), np.array([0.2, -0.1, 0.3]),
         np.array(0.4)]


def dense_blocks(f, x):
    """The diagonal blocks of the dense Hessian (mg.hessian on a list: H[i][j] blocks)."""
    H = mg.hessian(f)(x)
    return [np.asarray(H[i][i]).reshape(np.size(x[i]), np.size(x[i])) for i in range(len(x))]


# ---- blocks ---------------------------------------------------------------------------

def test_blocks_are_the_spectra_of_the_diagonal_blocks():
    results = mg.hessian_eigs(coupled, POINT, k=6, blocks=True)
    assert isinstance(results, list) and len(results) == 3
    for r, Hii, x in zip(results, dense_blocks(coupled, POINT), POINT, strict=True):
        exact = np.linalg.eigvalsh(Hii)
        # k=6 asks for 6 from each end: a block of size <= 12 gives all of its eigenvalues
        np.testing.assert_allclose(r.eigenvalues, exact, rtol=1e-10, atol=1e-12)
        assert r.method == "dense" and r.converged
        assert r.n_hvp == np.size(x)  # one full product per column of the block
        vecs = np.asarray(r.eigenvectors)
        assert vecs.shape == (len(exact),) + np.shape(x)
        flat = vecs.reshape(len(exact), -1)
        np.testing.assert_allclose(flat @ Hii, r.eigenvalues[:, None] * flat, atol=1e-10)
    # the blocks leave the couplings out: their spectra are not the full Hessian's
    full = mg.hessian_eigs(coupled, POINT, k=10).eigenvalues
    assert not np.allclose(np.sort(np.concatenate([r.eigenvalues for r in results])), full)


def test_blocks_clip_k_per_block_and_pick_ends():
    rs = mg.hessian_eigs(coupled, POINT, k=1, which="largest", blocks=True)
    for r, Hii in zip(rs, dense_blocks(coupled, POINT), strict=True):
        assert r.eigenvalues.tolist() == pytest.approx([np.linalg.eigvalsh(Hii)[-1]], rel=1e-10)


def test_blocks_by_lanczos_match_dense_on_a_larger_block():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((60, 60))
    A = A + A.T
    B = rng.standard_normal((60, 3))

    def f(ps):
        return 0.5 * (ps[0] @ (A @ ps[0])) + (ps[0] @ (B @ ps[1])) + (ps[1] ** 4).sum()

    x = [rng.standard_normal(60), rng.standard_normal(3)]
    lz = mg.hessian_eigs(f, x, k=3, method="lanczos", blocks=True)
    exact = np.linalg.eigvalsh(A)
    assert lz[0].method == "lanczos" and lz[0].converged
    np.testing.assert_allclose(lz[0].eigenvalues, np.r_[exact[:3], exact[-3:]], rtol=1e-8)
    np.testing.assert_allclose(lz[1].eigenvalues, np.sort(12 * x[1] ** 2), rtol=1e-8)


def test_block_operator_is_the_restricted_product():
    op = HessianOperator(coupled, POINT)
    H = dense_blocks(coupled, POINT)[0]
    B = BlockOperator(op, 0)
    v = np.arange(6.0)
    np.testing.assert_allclose(B.matvec(v), H @ v, rtol=1e-12)
    assert B.n == 6 and B.n_products == 1 and B.x is POINT[0]


def test_blocks_against_torch():
    torch = pytest.importorskip("torch")
    W0, b0, c0 = (torch.tensor(a, dtype=torch.float64) for a in POINT)

    def tf(W, b, c):
        u = torch.tensor([1.0, -2.0], dtype=torch.float64)
        return ((torch.tanh(W @ u + b) ** 2).sum() + c * (W ** 3).sum() - 0.5 * c ** 2
                + (b * W[:, 0]).sum())

    H = torch.autograd.functional.hessian(tf, (W0, b0, c0))
    ours = mg.hessian_eigs(coupled, POINT, blocks=True)
    for i, r in enumerate(ours):
        n = POINT[i].size
        theirs = np.linalg.eigvalsh(H[i][i].reshape(n, n).numpy())
        np.testing.assert_allclose(r.eigenvalues, theirs, rtol=1e-10, atol=1e-12)


def test_blocks_bad_input():
    with pytest.raises(ValueError, match="blocks=True needs x to be a list of parameter arrays"
                                         r".*shape \(3,\)"):
        mg.hessian_eigs(lambda v: (v ** 2).sum(), np.ones(3), blocks=True)
    with pytest.raises(TypeError, match="blocks must be True or False"):
        mg.hessian_eigs(coupled, POINT, blocks="yes")
    with pytest.raises(ValueError, match="k must be a positive integer"):
        mg.hessian_eigs(coupled, POINT, k=0, blocks=True)
    one = mg.hessian_eigs(lambda ps: (ps[0] ** 2).sum(), [np.ones(2)], blocks=True)
    assert len(one) == 1 and one[0].eigenvalues.tolist() == [2.0, 2.0]


# ---- Hutchinson's diagonal ------------------------------------------------------------

def bumpy(x):
    A = np.array([[2.0, 0.5, -0.3, 0.0, 0.2], [0.5, 1.0, 0.4, -0.6, 0.0],
                  [-0.3, 0.4, -1.5, 0.3, 0.1], [0.0, -0.6, 0.3, 3.0, 0.5],
                  [0.2, 0.0, 0.1, 0.5, 0.7]])
    return 0.5 * (x @ (A @ x)) + (mg.sin(x) * x ** 2).sum() + mg.exp(x[0] * x[3])


def test_diagonal_matches_the_dense_diagonal_within_its_standard_error():
    x = np.array([0.3, -0.5, 0.8, 0.1, -0.2])
    H = mg.hessian(bumpy)(x)
    samples = 400
    d = mg.hessian_diagonal(bumpy, x, samples=samples, seed=1)
    assert d.samples == samples and d.estimate.shape == (5,) and d.stderr.shape == (5,)
    # the standard error of entry i is sqrt(sum_{j != i} H_ij^2 / samples): reported well
    off = H - np.diag(np.diag(H))
    true_se = np.sqrt((off ** 2).sum(axis=1) / samples)
    np.testing.assert_allclose(d.stderr, true_se, rtol=0.25)
    assert np.all(np.abs(d.estimate - np.diag(H)) <= 4.5 * true_se)
    # and the error does shrink: 16x the probes, within about a quarter of the error bound
    d16 = mg.hessian_diagonal(bumpy, x, samples=16 * samples, seed=2)
    assert np.all(np.abs(d16.estimate - np.diag(H)) <= 4.5 * true_se / 4)


def test_diagonal_is_exact_for_a_diagonal_hessian():
    c = np.array([1.0, -2.0, 3.5, 0.25])

    def separable(x):
        return (c * x ** 2).sum() + mg.sin(x).sum() + (x ** 4).sum()

    x = np.array([0.1, -0.7, 1.3, 2.0])
    exact = 2 * c - np.sin(x) + 12 * x ** 2
    d = mg.hessian_diagonal(separable, x, samples=3)
    np.testing.assert_allclose(d.estimate, exact, rtol=1e-14)
    assert np.all(d.stderr == 0.0)


def test_diagonal_of_a_list_is_shaped_like_it_and_sums_to_the_trace_estimate():
    d = mg.hessian_diagonal(coupled, POINT, samples=50, seed=3)
    assert isinstance(d.estimate, list) and isinstance(d.stderr, list)
    assert [np.shape(e) for e in d.estimate] == [(3, 2), (3,), ()]
    assert [np.shape(e) for e in d.stderr] == [(3, 2), (3,), ()]
    t = mg.hessian_trace(coupled, POINT, samples=50, seed=3)  # the same probes
    total = sum(float(np.sum(e)) for e in d.estimate)
    assert total == pytest.approx(t.estimate, rel=1e-12, abs=1e-12)


def test_diagonal_float32_point():
    x = np.array([0.5, -1.0, 2.0], dtype=np.float32)
    d = mg.hessian_diagonal(lambda v: (v ** 3).sum(), x, samples=2)
    np.testing.assert_allclose(d.estimate, 6 * x, rtol=1e-6)


def test_diagonal_against_torch_hessian():
    torch = pytest.importorskip("torch")
    x = np.array([0.3, -0.5, 0.8, 0.1, -0.2])
    A = torch.tensor([[2.0, 0.5, -0.3, 0.0, 0.2], [0.5, 1.0, 0.4, -0.6, 0.0],
                      [-0.3, 0.4, -1.5, 0.3, 0.1], [0.0, -0.6, 0.3, 3.0, 0.5],
                      [0.2, 0.0, 0.1, 0.5, 0.7]], dtype=torch.float64)

    def tf(t):
        return 0.5 * (t @ (A @ t)) + (torch.sin(t) * t ** 2).sum() + torch.exp(t[0] * t[3])

    Ht = torch.autograd.functional.hessian(tf, torch.tensor(x)).numpy()
    d = mg.hessian_diagonal(bumpy, x, samples=400, seed=1)
    assert np.all(np.abs(d.estimate - np.diag(Ht)) <= 5 * d.stderr)


@pytest.mark.parametrize("samples", [1, 0, 2.5, True, "10"])
def test_diagonal_bad_samples(samples):
    with pytest.raises(ValueError, match="hessian_diagonal: samples must be an integer"):
        mg.hessian_diagonal(lambda v: (v ** 2).sum(), np.ones(2), samples=samples)


def test_diagonal_not_finite():
    with np.errstate(all="ignore"), pytest.raises(
            ValueError, match="hessian_diagonal: the Hessian of f is not finite"):
        mg.hessian_diagonal(lambda v: mg.sqrt(v).sum(), np.array([0.0, 1.0]), samples=2)


# ---- Gauss-Newton -----------------------------------------------------------------------

RNG = np.random.default_rng(7)
XS = RNG.standard_normal((6, 3))
YS = RNG.standard_normal((6, 2))
LABELS = np.array([0, 1, 1, 0, 1, 0])
PARAMS = [0.5 * RNG.standard_normal((3, 4)), 0.5 * RNG.standard_normal((4, 2))]


def mlp(ps):
    return mg.tanh(XS @ ps[0]) @ ps[1]


def mse(z):
    return 0.5 * ((z - YS) ** 2).mean()


def cross_entropy(z):
    return -(mg.log_softmax(z, axis=1)[np.arange(6), LABELS]).mean()


def dense_ggn(model, loss, params):
    """J^T H_loss J from mg.jacobian and mg.hessian, with J flattened to (outputs, params)."""
    z = np.asarray(model(params).data)
    J = np.concatenate([np.asarray(b).reshape(z.size, -1) for b in mg.jacobian(model)(params)],
                       axis=1)
    H = np.asarray(mg.hessian(loss)(z)).reshape(z.size, z.size)
    return J.T @ H @ J


@pytest.mark.parametrize("loss", [mse, cross_entropy], ids=["mse", "cross-entropy"])
def test_ggn_spectrum_is_that_of_the_dense_gauss_newton_matrix(loss):
    G = dense_ggn(mlp, loss, PARAMS)
    exact = np.linalg.eigvalsh(G)
    r = mg.hessian_eigs(None, PARAMS, k=10, operator="ggn", model=mlp, loss=loss)
    np.testing.assert_allclose(r.eigenvalues, exact, rtol=1e-9, atol=1e-12)
    assert r.method == "dense" and r.n_hvp == 20
    assert exact[0] > -1e-12  # positive semi-definite, unlike the Hessian here
    lz = mg.hessian_eigs(None, PARAMS, k=2, method="lanczos", operator="ggn", model=mlp,
                         loss=loss)
    np.testing.assert_allclose(lz.eigenvalues[-2:], exact[-2:], rtol=1e-8)
    # the eigenvectors come back shaped like the parameters
    assert [np.shape(a) for a in r.eigenvectors[0]] == [(3, 4), (4, 2)]


def test_ggn_operator_products_are_ggn_vp():
    op = GGNOperator(mlp, cross_entropy, PARAMS)
    v = [RNG.standard_normal((3, 4)), RNG.standard_normal((4, 2))]
    ours = op(v)
    theirs = mg.ggn_vp(mlp, cross_entropy, PARAMS, v)
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    assert op.value == pytest.approx(float(cross_entropy(mlp(PARAMS)).data))


def test_ggn_of_a_linear_model_with_squared_error_is_its_hessian():
    X = RNG.standard_normal((8, 4))

    def model(w):
        return X @ w

    def sq(z):
        return 0.5 * (z ** 2).sum()

    w = RNG.standard_normal(4)
    h = mg.hessian_eigs(lambda v: sq(model(v)), w, k=4).eigenvalues
    g = mg.hessian_eigs(lambda v: sq(model(v)), w, k=4, operator="ggn", model=model,
                        loss=sq).eigenvalues
    np.testing.assert_allclose(g, h, rtol=1e-12)


def test_ggn_blocks_are_the_diagonal_blocks_of_the_ggn():
    G = dense_ggn(mlp, mse, PARAMS)
    rs = mg.hessian_eigs(None, PARAMS, k=12, operator="ggn", model=mlp, loss=mse, blocks=True)
    np.testing.assert_allclose(rs[0].eigenvalues, np.linalg.eigvalsh(G[:12, :12]), atol=1e-12)
    np.testing.assert_allclose(rs[1].eigenvalues, np.linalg.eigvalsh(G[12:, 12:]), atol=1e-12)


def test_ggn_against_torch():
    torch = pytest.importorskip("torch")
    X, Y = torch.tensor(XS), torch.tensor(YS)

    def out(W1, W2):
        return torch.tanh(X @ W1) @ W2

    W = tuple(torch.tensor(p) for p in PARAMS)
    J = torch.autograd.functional.jacobian(out, W)
    J = torch.cat([j.reshape(12, -1) for j in J], dim=1)
    z = out(*W).detach()
    H = torch.autograd.functional.hessian(lambda t: 0.5 * ((t - Y) ** 2).mean(), z)
    G = (J.T @ H.reshape(12, 12) @ J).numpy()
    r = mg.hessian_eigs(None, PARAMS, k=10, operator="ggn", model=mlp, loss=mse)
    np.testing.assert_allclose(r.eigenvalues, np.linalg.eigvalsh(G), rtol=1e-9, atol=1e-12)


def test_ggn_bad_input():
    with pytest.raises(ValueError, match="operator='ggn' needs model= and loss="):
        mg.hessian_eigs(None, PARAMS, operator="ggn", model=mlp)
    with pytest.raises(ValueError, match="model and loss are used only with operator='ggn'"):
        mg.hessian_eigs(lambda ps: mse(mlp(ps)), PARAMS, model=mlp, loss=mse)
    with pytest.raises(ValueError, match="operator must be 'hessian' or 'ggn', got 'fisher'"):
        mg.hessian_eigs(None, PARAMS, operator="fisher", model=mlp, loss=mse)
    with pytest.raises(ValueError, match=r"f\(x\) = .* but loss\(model\(x\)\) = "):
        mg.hessian_eigs(lambda ps: 2 * mse(mlp(ps)), PARAMS, operator="ggn", model=mlp,
                        loss=mse)
    with pytest.raises(ValueError, match="loss.model.x.. must be a scalar"):
        mg.hessian_eigs(None, PARAMS, operator="ggn", model=mlp, loss=lambda z: z ** 2)
    with pytest.raises(TypeError, match="model must be a callable"):
        mg.hessian_eigs(None, PARAMS, operator="ggn", model=3, loss=mse)
    # f equal to loss(model(x)) is accepted, and changes nothing
    a = mg.hessian_eigs(lambda ps: mse(mlp(ps)), PARAMS, k=3, operator="ggn", model=mlp,
                        loss=mse)
    b = mg.hessian_eigs(None, PARAMS, k=3, operator="ggn", model=mlp, loss=mse)
    np.testing.assert_array_equal(a.eigenvalues, b.eigenvalues)
