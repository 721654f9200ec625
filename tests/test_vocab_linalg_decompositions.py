"""``mg.linalg``'s decompositions: inverse, solve, determinants, Cholesky, eigh, svd, pinv.

Every primitive: first and second derivatives in forward and reverse mode
(``check``), float64 and float32, stacks of matrices and NumPy's arguments drawn
by hypothesis; and explicit values for the hard numerics (singular matrices for
``det``, tied eigenvalues and singular values, the complement of a full SVD,
ill-conditioned solves, log-determinants past overflow).  The spellings and the
parity with PyTorch are in ``test_vocab_linalg.py``.

The matrices are drawn well conditioned by construction (a fixed random rotation
of a matrix with separated spectrum plus a drawn perturbation): finite
differences, and the eigenvectors themselves, need the gaps.  The spectral tests
draw fewer examples (``SPECTRAL``): each one checks several orders in both modes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from primitive_checks import arrays, check, covers, dtypes, ops_used

import microgd as mg
from microgd import Value
from microgd.testing import check_grads
from microgd.testing import strategies as mst

SPECTRAL = settings(max_examples=8)


def _rotation(n: int, seed: int, dtype: Any = np.float64) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(n, n)))
    return (q * np.sign(np.diag(r))).astype(dtype)


def spd(v: Any, dtype: Any) -> Value:
    """A symmetric positive definite matrix from any square ``v`` (batched)."""
    n = v.shape[-1]
    return v @ mg.linalg.matrix_transpose(v) + float(n) * np.eye(n, dtype=dtype)


def separated(v: Any, dtype: Any) -> Value:
    """A symmetric matrix with eigenvalues at least 2.8 apart: rotated diag(0, 4, 8, ...)
    plus a symmetric perturbation of norm <= 0.6 (Weyl: no eigenvalue moves further)."""
    n = v.shape[-1]
    q = _rotation(n, n, dtype)
    base = (q * (4.0 * np.arange(n, dtype=dtype))) @ q.T
    return base + (v + mg.linalg.matrix_transpose(v)) * np.asarray(0.1 / n, dtype)


def well_conditioned(v: Any, m: int, n: int, dtype: Any) -> Value:
    """An m x n matrix with singular values near 3, 2, 1 (>= 0.5 apart and from 0)."""
    k = min(m, n)
    core = np.zeros((m, n), dtype=dtype)
    core[np.arange(k), np.arange(k)] = 3.0 - np.arange(k)
    return _rotation(m, 10 + m, dtype) @ (core + v * np.asarray(0.05 / 3, dtype)) @ _rotation(
        n, 20 + n, dtype)


sizes = st.integers(1, 3)


def _torch() -> Any:
    return pytest.importorskip("torch")


# ---- inverse, solve, determinants ----------------------------------------------------------

batch_shapes = st.sampled_from([(), (), (2,), (2, 1)])


@covers("inv")
@dtypes
@settings(max_examples=15)
@given(data=st.data())
def test_inv(dtype: Any, data: Any) -> None:
    n = data.draw(sizes, label="n")
    x = data.draw(arrays(data.draw(batch_shapes, label="batch") + (n, n), dtype), label="x")
    check(lambda v: mg.linalg.inv(spd(v, dtype)), (x,), uses=["inv"])
    check(lambda v: np.linalg.inv(v + np.asarray(3.0 * n + 1, dtype) * np.eye(n, dtype=dtype)),
          (x,), uses=["inv"])


@covers("solve")
@dtypes
@settings(max_examples=15)
@given(data=st.data())
def test_solve(dtype: Any, data: Any) -> None:
    n = data.draw(sizes, label="n")
    batch_a, batch_b = data.draw(mst.broadcastable_shapes(max_dims=2, max_side=2), label="batches")
    x = data.draw(arrays(batch_a + (n, n), dtype), label="x")
    k = data.draw(sizes, label="k")
    b = data.draw(arrays(batch_b + (n, k), dtype), label="b")
    vec = data.draw(arrays((n,), dtype), label="vector b")
    np.testing.assert_allclose(mg.linalg.solve(spd(Value(x), dtype), b).data,
                               np.linalg.solve(spd(Value(x), dtype).data, b), rtol=1e-4)
    check(lambda v, w: mg.linalg.solve(spd(v, dtype), w), (x, b), uses=["solve"])
    # NumPy 2's rule: a 1-D b is one vector, whatever the batch of a.
    assert mg.linalg.solve(spd(Value(x), dtype), vec).shape == batch_a + (n,)
    check(lambda v, w: np.linalg.solve(spd(v, dtype), w), (x, vec), uses=["solve"])


def test_solve_gradients_go_through_solves_not_inverses() -> None:
    a, b = np.array([[3.0, 1.0], [1.0, 2.0]]), np.array([[1.0], [2.0]])
    used = ops_used(lambda u, v: mg.linalg.solve(u, v), (a, b))
    assert "solve" in used and "inv" not in used


def test_solve_gradient_is_backward_stable_on_an_ill_conditioned_matrix() -> None:
    # The Hilbert matrix of order 10 has condition number ~1e13.  The gradient for b,
    # A^-T g, comes from one solve with A^T: backward stable, its normwise backward error
    # |A^T gb - g| / (|A| |gb|) is below eps, about 100 times smaller than an explicit
    # inverse's.
    n = 10
    hilbert = 1.0 / (np.arange(n)[:, None] + np.arange(n)[None, :] + 1.0)
    g = np.random.default_rng(0).normal(size=(n, 1))
    b = Value(np.ones((n, 1)))
    mg.linalg.solve(hilbert, b).backward(g)
    assert b.grad is not None

    def backward_error(x: np.ndarray) -> float:
        return float(np.linalg.norm(hilbert.T @ x - g)
                     / (np.linalg.norm(hilbert) * np.linalg.norm(x)))

    ours = backward_error(b.grad)
    assert ours < 1e-16
    assert 10 * ours < backward_error(np.linalg.inv(hilbert).T @ g)


@covers("det", "cofactor", "cofactor_derivative")
@dtypes
@given(data=st.data())
def test_det(dtype: Any, data: Any) -> None:
    n = data.draw(sizes, label="n")
    x = data.draw(arrays(data.draw(batch_shapes, label="batch") + (n, n), dtype,
                         min_value=-1.5, max_value=1.5), label="x")
    np.testing.assert_allclose(mg.linalg.det(x).data, np.linalg.det(x), rtol=1e-4, atol=1e-5)
    check(mg.linalg.det, (x,), uses=["det", "cofactor"])
    check(lambda v: np.linalg.det(v) ** 2, (x,), uses=["det"])


SINGULAR = {
    "rank 2 of 3": np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]]),
    "rank 1 of 3": np.outer([1.0, 2.0, 3.0], [1.0, -1.0, 2.0]),
    "zero": np.zeros((3, 3)),
    "rank 1 of 2": np.array([[1.0, 2.0], [2.0, 4.0]]),
}


@covers("det", "cofactor", "cofactor_derivative")
@pytest.mark.parametrize("name", sorted(SINGULAR))
def test_det_at_singular_matrices(name: str) -> None:
    # det is a polynomial: its gradient (the cofactor matrix, the adjugate transposed) and
    # Hessian exist everywhere, also where det = 0 and A^-1 does not.
    a = SINGULAR[name]
    v = Value(a)
    mg.linalg.det(v).backward()
    assert v.grad is not None
    n = a.shape[0]
    cof = np.array([[(-1) ** (i + j) * np.linalg.det(np.delete(np.delete(a, i, 0), j, 1))
                     for j in range(n)] for i in range(n)])
    np.testing.assert_allclose(v.grad, cof, atol=1e-12)
    # The Hessian too, in both modes (check's finite differences of the exact gradient).
    check(mg.linalg.det, (a,), uses=["cofactor"])
    if n == 2:  # det = ad - bc: a constant Hessian
        h = mg.hessian(lambda u: mg.linalg.det(u))(a).reshape(4, 4)
        np.testing.assert_allclose(h, np.fliplr(np.diag([1.0, -1.0, -1.0, 1.0])), atol=1e-12)
    if not a.any():  # det is cubic: its Hessian vanishes at 0
        np.testing.assert_allclose(mg.hessian(lambda u: mg.linalg.det(u))(a), 0.0, atol=1e-12)


@covers("det", "cofactor")
def test_det_third_derivative() -> None:
    # Well conditioned: the cofactor's rule is differentiated through inv and det.
    rng = np.random.default_rng(3)
    for a in (rng.normal(size=(3, 3)), np.eye(3), _rotation(3, 1), rng.normal(size=(2, 2, 2))):
        t = rng.normal(size=a.shape)
        check(lambda u, t=t: mg.jvp(mg.linalg.det, (u,), (t,))[1], (a,))
    # At a singular matrix the first two orders are exact, the third is refused.
    second = mg.jvp(lambda u: mg.jvp(mg.linalg.det, (u,), (np.ones((3, 3)),))[1],
                    (SINGULAR["rank 2 of 3"],), (np.eye(3),))[1]
    assert np.isfinite(second)
    with pytest.raises(np.linalg.LinAlgError, match="order 3 and higher"):
        check_grads(lambda u: mg.jvp(mg.linalg.det, (u,), (np.ones((3, 3)),))[1],
                    (SINGULAR["rank 2 of 3"],), order=2)


@covers("slogdet")
@dtypes
@given(data=st.data())
def test_slogdet(dtype: Any, data: Any) -> None:
    n = data.draw(sizes, label="n")
    x = data.draw(arrays(data.draw(batch_shapes, label="batch") + (n, n), dtype), label="x")
    # Diagonally dominant (so far from singular), with either sign of det.
    flip = np.eye(n, dtype=dtype)[::-1] if data.draw(st.booleans()) else np.eye(n, dtype=dtype)
    shift = np.asarray(3.0 * n + 1, dtype) * np.eye(n, dtype=dtype)

    def matrix(v: Any) -> Value:
        return flip @ (v + shift)

    sign, logdet = mg.linalg.slogdet(matrix(Value(x)))
    ref = np.linalg.slogdet(matrix(Value(x)).data)
    np.testing.assert_array_equal(sign.data, ref.sign)
    np.testing.assert_allclose(logdet.data, ref.logabsdet, rtol=1e-5)
    assert not sign.requires_grad and logdet.dtype == dtype
    check(lambda v: mg.linalg.slogdet(matrix(v)).logabsdet, (x,), uses=["slogdet"])
    check(lambda v: np.linalg.slogdet(matrix(v))[1] * 2.0, (x,), uses=["slogdet"])


def test_singular_matrices_raise_linalgerror_naming_the_op() -> None:
    s = Value(np.array([[1.0, 2.0], [2.0, 4.0]]))
    with pytest.raises(np.linalg.LinAlgError, match=r"inv: Singular matrix \(input shapes"):
        mg.linalg.inv(s)
    with pytest.raises(np.linalg.LinAlgError, match="solve"):
        mg.linalg.solve(s, np.ones(2))
    sign, logdet = mg.linalg.slogdet(s)
    assert sign.item() == 0.0 and logdet.item() == -np.inf
    with pytest.raises(np.linalg.LinAlgError, match="slogdet: the derivative .* singular"):
        logdet.backward()
    with pytest.raises(np.linalg.LinAlgError, match="cholesky"):
        mg.linalg.cholesky(Value(-np.eye(2)))
    with pytest.raises(np.linalg.LinAlgError, match="must be square"):
        mg.linalg.det(Value(np.ones((2, 3))))
    with pytest.raises(np.linalg.LinAlgError, match="at least two-dimensional"):
        mg.linalg.inv(Value(np.ones(3)))


# ---- Cholesky, eigh, svd, pinv, matrix_power -----------------------------------------------


@covers("cholesky", "solve")
@dtypes
@settings(max_examples=15)
@given(data=st.data())
def test_cholesky(dtype: Any, data: Any) -> None:
    n = data.draw(sizes, label="n")
    x = data.draw(arrays(data.draw(batch_shapes, label="batch") + (n, n), dtype), label="x")
    low = mg.linalg.cholesky(spd(Value(x), dtype))
    np.testing.assert_allclose(low.data, np.linalg.cholesky(spd(Value(x), dtype).data),
                               rtol=1e-4, atol=1e-5)
    check(lambda v: mg.linalg.cholesky(spd(v, dtype)), (x,), uses=["cholesky"])
    check(lambda v: np.linalg.cholesky(spd(v, dtype), upper=True) * 0.5, (x,),
          uses=["cholesky"])


@covers("eigh")
@dtypes
@SPECTRAL
@given(data=st.data())
def test_eigh(dtype: Any, data: Any) -> None:
    n = data.draw(sizes, label="n")
    x = data.draw(arrays(data.draw(batch_shapes, label="batch") + (n, n), dtype), label="x")
    uplo = data.draw(st.sampled_from(["L", "U"]), label="UPLO")
    weights = np.linspace(0.5, 2.0, n * n, dtype=dtype).reshape(n, n)

    def f(v: Any) -> Value:
        # Eigenvectors enter squared (v and -v give the same loss).
        w, vecs = mg.linalg.eigh(separated(v, dtype), UPLO=uplo)
        return mg.concatenate([w, mg.reshape(vecs * vecs * weights, *w.shape[:-1], n * n)],
                              axis=-1)

    w, vecs = mg.linalg.eigh(separated(Value(x), dtype), UPLO=uplo)
    ref_w, ref_v = np.linalg.eigh(separated(Value(x), dtype).data, UPLO=uplo)
    np.testing.assert_allclose(w.data, ref_w, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.abs(vecs.data), np.abs(ref_v), atol=1e-4)
    check(f, (x,), uses=["eigh"])
    # Through the eigenspace projectors, and np.linalg.eigvalsh.
    check(lambda v: (lambda r: (r.eigenvectors * r.eigenvalues[..., None, :])
                     @ mg.linalg.matrix_transpose(r.eigenvectors))(
        np.linalg.eigh(separated(v, dtype))), (x,), uses=["eigh"])
    check(lambda v: np.linalg.eigvalsh(separated(v, dtype)) ** 2, (x,), uses=["eigh"])


SVD_SHAPES = [(1, 1), (2, 2), (3, 3), (3, 2), (2, 3), (3, 1)]


@covers("svd")
@pytest.mark.parametrize("full", [False, True], ids=["reduced", "full"])
@pytest.mark.parametrize("shape", SVD_SHAPES, ids=[f"{m}x{n}" for m, n in SVD_SHAPES])
@dtypes
@SPECTRAL
@given(data=st.data())
def test_svd(full: bool, shape: tuple[int, int], dtype: Any, data: Any) -> None:
    m, n = shape
    k = min(m, n)
    batch = data.draw(st.sampled_from([(), (2,)]), label="batch")
    x = data.draw(arrays(batch + shape, dtype), label="x")
    cu = np.linspace(0.5, 2.0, m * (m if full else k), dtype=dtype).reshape(m, -1)
    cv = np.linspace(2.0, 0.5, n * (n if full else k), dtype=dtype).reshape(-1, n)

    def f(v: Any) -> Value:
        u, s, vh = mg.linalg.svd(well_conditioned(v, m, n, dtype), full_matrices=full)
        loss = (s * np.arange(1, k + 1, dtype=dtype)).sum() + (u * u * cu).sum() + (
            vh * vh * cv).sum()
        if full and m > k:  # the complement enters through its projector
            u2 = u[..., k:]
            loss = loss + (u2 @ mg.linalg.matrix_transpose(u2) * cu[:, :m]).sum()
        if full and n > k:
            v2 = vh[..., k:, :]
            loss = loss + (mg.linalg.matrix_transpose(v2) @ v2 * cv[:n, :]).sum()
        return loss

    u, s, vh = mg.linalg.svd(well_conditioned(Value(x), m, n, dtype), full_matrices=full)
    a = well_conditioned(Value(x), m, n, dtype).data
    np.testing.assert_allclose(s.data, np.linalg.svd(a, compute_uv=False), rtol=1e-4)
    np.testing.assert_allclose((u.data[..., :k] * s.data[..., None, :]) @ vh.data[..., :k, :],
                               a, atol=1e-4)
    check(f, (x,), uses=["svd"])
    check(lambda v: np.linalg.svd(well_conditioned(v, m, n, dtype), compute_uv=False) ** 2,
          (x,), uses=["svd"])


@covers("pinv")
@pytest.mark.parametrize("shape", [(2, 2), (3, 2), (2, 3), (3, 1)], ids=str)
@dtypes
@SPECTRAL
@given(data=st.data())
def test_pinv(shape: tuple[int, int], dtype: Any, data: Any) -> None:
    m, n = shape
    x = data.draw(arrays(data.draw(batch_shapes, label="batch") + shape, dtype), label="x")
    a = well_conditioned(Value(x), m, n, dtype).data
    np.testing.assert_allclose(mg.linalg.pinv(a).data, np.linalg.pinv(a), rtol=1e-4, atol=1e-5)
    check(lambda v: mg.linalg.pinv(well_conditioned(v, m, n, dtype)), (x,), uses=["pinv"])
    check(lambda v: np.linalg.pinv(well_conditioned(v, m, n, dtype), rtol=1e-6), (x,),
          uses=["pinv"])


@covers("matmul", "inv")
@pytest.mark.parametrize("power", [0, 1, 2, 3, 5, -1, -2])
@dtypes
@settings(max_examples=10)
@given(data=st.data())
def test_matrix_power(power: int, dtype: Any, data: Any) -> None:
    n = data.draw(sizes, label="n")
    x = data.draw(arrays(data.draw(batch_shapes, label="batch") + (n, n), dtype,
                         min_value=-1.0, max_value=1.0), label="x")
    shift = np.asarray(n + 1.0, dtype) * np.eye(n, dtype=dtype)
    ref = np.linalg.matrix_power(x + shift, power)
    np.testing.assert_allclose(mg.linalg.matrix_power(x + shift, power).data, ref, rtol=1e-4)
    assert mg.linalg.matrix_power(Value(x + shift), power).dtype == dtype
    check(lambda v: np.linalg.matrix_power(v + shift, power), (x,))


def test_matrix_power_zero_is_the_identity_with_zero_gradient() -> None:
    v = Value(np.array([[2.0, 1.0], [0.0, 3.0]]))
    p = mg.linalg.matrix_power(v, 0)
    np.testing.assert_array_equal(p.data, np.eye(2))
    p.sum().backward()
    np.testing.assert_array_equal(v.grad, np.zeros((2, 2)))
    with pytest.raises(TypeError, match="exponent must be an integer"):
        mg.linalg.matrix_power(v, 1.5)


# ---- explicit values: ties, gauges, the full SVD's complement ---------------------------------


@covers("eigh", "first_order")
def test_eigh_tied_eigenvalues_give_the_invariant_gradient() -> None:
    # At A = I every eigenvalue ties.  Losses that do not depend on the basis of the
    # eigenspace have a gradient, and it is returned exactly: d sum(w^2)/dA = 2A, and the
    # projector onto the top two eigenvectors of diag(1, 1, 0) + E has derivative 0 in E's
    # block (the tied space is invariant) and the classic cross terms elsewhere.
    a = Value(np.eye(3))
    w, _ = mg.linalg.eigh(a)
    (w ** 2).sum().backward()
    np.testing.assert_allclose(a.grad, 2 * np.eye(3), atol=1e-12)

    def projector(v: Any) -> Value:
        _, vecs = mg.linalg.eigh(v)
        top = vecs[..., 1:]
        return top @ mg.linalg.matrix_transpose(top)

    base = np.diag([0.0, 1.0, 1.0])
    check_grads(projector, (base,), order=1, modes=("fwd", "rev"))
    # The second derivative would need the limits of the zeroed 1/(gap) terms: refused.
    with pytest.raises(np.linalg.LinAlgError, match="eigh: second and higher derivatives"):
        mg.hessian(lambda v: (projector(v) * np.arange(9.0).reshape(3, 3)).sum())(base)
    with pytest.raises(np.linalg.LinAlgError, match="eigh: second and higher derivatives"):
        mg.hvp(lambda v: (mg.linalg.eigvalsh(v) ** 2).sum(), np.eye(2), np.ones((2, 2)),
               mode="fwd")
    c = np.arange(9.0).reshape(3, 3)
    b = Value(base)
    (projector(b) * c).sum().backward()
    # P = I - e0 e0^T; dP = -(d e0) e0^T - e0 (d e0)^T with d e0 = sum_j e_j A_j0 / (0 - 1)
    expected = np.zeros((3, 3))
    for j in (1, 2):
        expected[j, 0] = expected[0, j] = (c[j, 0] + c[0, j]) / 2
    np.testing.assert_allclose(b.grad, expected, atol=1e-12)


def test_eigh_gradient_is_symmetric_and_ignores_eigenvector_signs() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(4, 4))
    a = x + x.T
    grads = []
    for flip in (1.0, -1.0):
        v = Value(a)
        w, vecs = mg.linalg.eigh(v)
        ((vecs * flip) ** 2 * np.arange(16.0).reshape(4, 4)).sum().backward()
        grads.append(v.grad)
    np.testing.assert_allclose(grads[0], grads[1], atol=1e-12)
    np.testing.assert_allclose(grads[0], grads[0].T, atol=1e-12)


@covers("svd", "first_order")
def test_svd_tied_singular_values_and_rank_deficiency() -> None:
    # An orthogonal Q has s = (1, 1, 1): sum(s) has gradient U V^T = Q, exactly.
    q = _rotation(3, 2)
    v = Value(q)
    mg.linalg.svd(v, compute_uv=False).sum().backward()
    np.testing.assert_allclose(v.grad, q, atol=1e-12)
    with pytest.raises(np.linalg.LinAlgError, match="svd: second and higher derivatives"):
        mg.hessian(lambda u: mg.linalg.svdvals(u).sum())(q)
    # The nuclear norm at a rank-1 3x2 matrix: U V^T over the nonzero singular value
    # plus the zero singular value's pair (a subgradient), finite either way.
    r = Value(np.outer([1.0, 2.0, 2.0], [3.0, 4.0]) / 15.0)
    mg.linalg.svd(r, full_matrices=False, compute_uv=False).sum().backward()
    assert r.grad is not None and np.all(np.isfinite(r.grad))
    u1, v1 = np.array([1.0, 2.0, 2.0]) / 3, np.array([3.0, 4.0]) / 5
    np.testing.assert_allclose(u1 @ r.grad @ v1, 1.0, atol=1e-12)


def test_svd_full_matrices_complement_gradient() -> None:
    # For a 4x2 matrix, the last two columns of the full U span the orthogonal complement
    # of the column space; sum(C * U2 U2^T) = sum(C * (I - U1 U1^T)) has the gradient of the
    # second form, which uses the reduced SVD only.
    rng = np.random.default_rng(7)
    a, c = rng.normal(size=(4, 2)), rng.normal(size=(4, 4))

    def complement(v: Any) -> Value:
        u = mg.linalg.svd(v).U[:, 2:]
        return (u @ u.T * c).sum()

    def via_reduced(v: Any) -> Value:
        u = mg.linalg.svd(v, full_matrices=False).U
        return (-(u @ u.T) * c).sum()

    np.testing.assert_allclose(mg.grad(complement)(a), mg.grad(via_reduced)(a), atol=1e-10)
    np.testing.assert_allclose(mg.hessian(complement)(a), mg.hessian(via_reduced)(a),
                               atol=1e-9)


def test_decomposition_results_are_named_tuples() -> None:
    a = Value(np.array([[2.0, 1.0], [1.0, 3.0]]))
    r = np.linalg.eigh(a)
    assert isinstance(r, mg.linalg.EighResult) and r.eigenvalues is r[0]
    s = np.linalg.svd(a)
    assert isinstance(s, mg.linalg.SVDResult) and s.U.shape == s.Vh.shape == (2, 2)
    d = np.linalg.slogdet(a)
    assert isinstance(d, mg.linalg.SlogdetResult)
    np.testing.assert_allclose(d.logabsdet.data, np.log(5.0))


@covers("slogdet")
def test_slogdet_where_det_overflows_and_underflows() -> None:
    # det(1000 I) over 120 dimensions is 1e360 (inf in float64); slogdet stays exact, and
    # so does its gradient A^-T; a negative determinant keeps its sign as a constant.
    n = 120
    for scale, sign in ((1e3, 1.0), (1e-3, 1.0), (-1e3, 1.0), (-1e-3, 1.0)):
        a = Value(scale * np.eye(n))
        with np.errstate(over="ignore", under="ignore"):
            assert np.linalg.det(a.data) in (0.0, np.inf)
        s, logdet = mg.linalg.slogdet(a)
        assert s.item() == sign
        np.testing.assert_allclose(logdet.item(), n * np.log(abs(scale)), rtol=1e-12)
        logdet.backward()
        np.testing.assert_allclose(a.grad, np.eye(n) / scale, rtol=1e-12)
    flip = Value(np.diag([-2.0, 3.0]))
    assert mg.linalg.slogdet(flip).sign.item() == -1.0


def test_gaussian_negative_log_likelihood_gradient_and_hessian() -> None:
    # A loss people write: 0.5 * (log det S + r^T S^-1 r) with S = L L^T + eps I.  Its
    # gradient in L against torch, and its Hessian symmetric and finite.
    torch = _torch()
    rng = np.random.default_rng(4)
    low, r = rng.normal(size=(3, 3)), rng.normal(size=3)

    def nll(m: Any, lib: Any) -> Any:
        s = m @ m.T + 0.5 * lib.eye(3, dtype=lib.float64)
        inner = r @ lib.linalg.solve(s, r)
        return 0.5 * (lib.linalg.slogdet(s)[1] + inner)

    g = mg.grad(lambda m: nll(m, _MgLib))(low)
    t = torch.tensor(low, requires_grad=True)
    tr = torch.tensor(r)
    ts = t @ t.T + 0.5 * torch.eye(3, dtype=torch.float64)
    (0.5 * (torch.linalg.slogdet(ts)[1] + tr @ torch.linalg.solve(ts, tr))).backward()
    np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-10)
    h = mg.hessian(lambda m: nll(m, _MgLib))(low).reshape(9, 9)
    np.testing.assert_allclose(h, h.T, atol=1e-10)
    check(lambda m: nll(m, _MgLib), (low,), uses=["slogdet", "solve"])


class _MgLib:
    """What ``nll`` above needs of a NumPy-like library, in microgd."""

    float64 = np.float64
    eye = staticmethod(np.eye)
    linalg = mg.linalg


@covers("pinv")
@pytest.mark.parametrize(("shape", "b_shape"), [((5, 3), (5,)), ((5, 3), (5, 2)),
                                                  ((3, 5), (3,)), ((4, 4), (4, 2))])
def test_lstsq(shape: tuple[int, int], b_shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(sum(shape) + len(b_shape))
    a, b = rng.standard_normal(shape), rng.standard_normal(b_shape)
    ours = np.linalg.lstsq(Value(a), Value(b))
    theirs = np.linalg.lstsq(a, b)
    assert ours.rank == theirs[2] and isinstance(ours.rank, int)
    for o, t in ((ours.x, theirs[0]), (ours.residuals, theirs[1]), (ours.s, theirs[3])):
        assert o.shape == np.shape(t)
        np.testing.assert_allclose(o.data, t, rtol=1e-10, atol=1e-12)
    # differentiable in a and b (the minimum-norm solution when a is wide)
    check(lambda u, w: mg.linalg.lstsq(u, w).x, (a, b), uses=["pinv"])
    if shape[0] > shape[1]:
        check(lambda u, w: mg.linalg.lstsq(u, w).residuals, (a, b))


@covers("pinv")
def test_lstsq_rank_deficient_and_errors() -> None:
    a = np.array([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0]])
    b = np.array([1.0, 2.0, 3.1])
    ours, theirs = mg.linalg.lstsq(a, Value(b)), np.linalg.lstsq(a, b)
    assert ours.rank == theirs[2] == 1 and ours.residuals.shape == theirs[1].shape == (0,)
    np.testing.assert_allclose(ours.x.data, theirs[0], rtol=1e-12)
    with pytest.raises(np.linalg.LinAlgError, match="lstsq: incompatible dimensions"):
        mg.linalg.lstsq(a, np.ones(2))


@covers("svd", "inv")
@pytest.mark.parametrize("p", [None, 2, -2, "fro", "nuc", 1, -1, np.inf, -np.inf], ids=str)
def test_cond(p: Any) -> None:
    a = np.array([[2.0, 0.7, 0.1], [0.3, 3.0, -0.4], [0.2, -0.5, 1.5]])
    np.testing.assert_allclose(np.linalg.cond(Value(a), p).data, np.linalg.cond(a, p),
                               rtol=1e-13)
    check(lambda v: mg.linalg.cond(v, p), (a,))


@covers("qr", "solve")
@dtypes
@given(data=st.data())
@settings(max_examples=12)
def test_qr(dtype: Any, data: Any) -> None:
    n = data.draw(st.integers(1, 3), label="n")
    m = data.draw(st.integers(n, 4), label="m")
    batch = data.draw(st.sampled_from([(), (2,)]), label="batch")
    # well conditioned, full column rank, and no entry 0: where a column is 0 below the
    # diagonal LAPACK's Householder step is the identity and R's sign there jumps
    a = (data.draw(arrays(batch + (m, n), dtype, min_value=-1.0, max_value=1.0,
                          away_from=(0.0,)), label="a") * 0.3 + np.eye(m, n, dtype=dtype) * 2.0)
    check(lambda v: mg.linalg.qr(v).Q, (a,), uses=["qr", "solve"])
    check(lambda v: mg.linalg.qr(v).R ** 2, (a,))
    check(lambda v: (lambda f: f.Q @ f.R)(np.linalg.qr(v)), (a,))  # the identity, again
    q, r = np.linalg.qr(Value(a))
    eq, er = np.linalg.qr(a)
    assert q.dtype == r.dtype == dtype
    np.testing.assert_array_equal(q.data, eq)  # LAPACK's own factors
    np.testing.assert_array_equal(r.data, er)
    np.testing.assert_array_equal(np.linalg.qr(Value(a), mode="r").data, er)


def test_qr_gradient_matches_torch() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    a = rng.standard_normal((5, 3))
    gq, gr = rng.standard_normal((5, 3)), rng.standard_normal((3, 3))
    v = Value(a)
    q, r = mg.linalg.qr(v)
    ((q * gq).sum() + (r * gr).sum()).backward()
    t = torch.tensor(a, requires_grad=True)
    tq, tr = torch.linalg.qr(t)
    ((tq * torch.tensor(gq)).sum() + (tr * torch.tensor(gr)).sum()).backward()
    np.testing.assert_allclose(q.data, tq.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(v.grad, t.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_qr_refuses_what_it_cannot_differentiate() -> None:
    with pytest.raises(ValueError, match=r"qr: differentiable for matrices with at least as many"):
        mg.linalg.qr(Value(np.ones((2, 3))))
    with pytest.raises(ValueError, match="qr: mode='complete' is not supported"):
        np.linalg.qr(Value(np.eye(3)), mode="complete")
