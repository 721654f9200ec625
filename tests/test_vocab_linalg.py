"""The linear-algebra vocabulary: products, diagonals and triangles, and ``mg.linalg``.

Every name: first and second derivatives in forward and reverse mode (``check``),
float64 and float32, broadcasting and NumPy's arguments drawn by hypothesis; the
spellings ``mg.NAME``, ``np.NAME`` (``np.linalg.NAME``) and the method agree;
values and gradients match PyTorch; and explicit values pin down the hard numerics
(singular matrices for ``det``, tied eigenvalues, the complement of a full SVD).

The decompositions are drawn well conditioned by construction (a fixed random
rotation of a matrix with separated spectrum plus a drawn perturbation): finite
differences, and the eigenvectors themselves, need the gaps.  They draw fewer
examples (``SPECTRAL``): each one checks several orders in both modes.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from primitive_checks import arrays, check, covers, dtypes, ops_used

import microgd as mg
from microgd import Value, ops
from microgd.testing import check_grads
from microgd.testing import strategies as mst

SPECTRAL = settings(max_examples=8)
# Tests parametrized over many fixed structures (einsum's subscripts, dot's ndims) need
# fewer examples each: the structure is the parameter, hypothesis only draws the sizes.
PER_CASE = settings(max_examples=12)
sizes = st.integers(1, 3)


def _rotation(n: int, seed: int, dtype: Any = np.float64) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(n, n)))
    return (q * np.sign(np.diag(r))).astype(dtype)


def spd(v: Any, dtype: Any) -> Value:
    """A symmetric positive definite matrix from any square ``v`` (batched)."""
    n = v.shape[-1]
    return v @ mg.linalg.matrix_transpose(v) + float(n) * np.eye(n, dtype=dtype)


def separated(v: Any, dtype: Any) -> Value:
    """A symmetric matrix with eigenvalues >= 0.4 apart: rotated diag(0, 4, 8, ...) plus a
    small symmetric perturbation (Weyl: each eigenvalue moves by at most its norm)."""
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


def _torch() -> Any:
    return pytest.importorskip("torch")


# ---- einsum ---------------------------------------------------------------------------

EINSUM_CASES = {
    # subscripts: shapes in terms of sizes i, j, k (and a batch B)
    "ij,jk->ik": lambda i, j, k, B: [(i, j), (j, k)],
    "ij,jk": lambda i, j, k, B: [(i, j), (j, k)],
    "ba,cb": lambda i, j, k, B: [(i, j), (k, i)],
    "ii": lambda i, j, k, B: [(i, i)],
    "ii->i": lambda i, j, k, B: [(i, i)],
    "iji->j": lambda i, j, k, B: [(i, j, i)],
    "ij->ji": lambda i, j, k, B: [(i, j)],
    "ij->": lambda i, j, k, B: [(i, j)],
    "i,i": lambda i, j, k, B: [(i,), (i,)],
    "i,j->ij": lambda i, j, k, B: [(i,), (j,)],
    "i,i,i->": lambda i, j, k, B: [(i,), (i,), (i,)],
    "ij,jk,kl->il": lambda i, j, k, B: [(i, j), (j, k), (k, B)],
    "bij,bjk->bik": lambda i, j, k, B: [(B, i, j), (B, j, k)],
    "...ij,...jk->...ik": lambda i, j, k, B: [(B, 1, i, j), (2, j, k)],
    "...ij,...jk": lambda i, j, k, B: [(i, j), (B, j, k)],
    "...i,...i->...": lambda i, j, k, B: [(B, i), (i,)],
    "i...->...": lambda i, j, k, B: [(i, j, k)],
    "ab,ab->ab": lambda i, j, k, B: [(1, j), (i, j)],  # a letter of size 1 broadcasts
    ",ij->ij": lambda i, j, k, B: [(), (i, j)],
}


@covers("einsum")
@pytest.mark.parametrize("subscripts", sorted(EINSUM_CASES))
@dtypes
@PER_CASE
@given(data=st.data())
def test_einsum(subscripts: str, dtype: Any, data: Any) -> None:
    dims = data.draw(st.tuples(sizes, sizes, sizes, sizes), label="i, j, k, B")
    shapes = EINSUM_CASES[subscripts](*dims)
    xs = tuple(data.draw(arrays(s, dtype), label=f"operand {n}") for n, s in enumerate(shapes))
    np.testing.assert_allclose(mg.einsum(subscripts, *xs).data, np.einsum(subscripts, *xs),
                               rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-6)
    assert mg.einsum(subscripts, *[Value(x) for x in xs]).dtype == np.einsum(subscripts, *xs).dtype
    check(lambda *vs: mg.einsum(subscripts, *vs), xs, uses=["einsum"])
    # One operand a constant (and the NumPy spelling): only the others get gradients.
    if len(xs) > 1:
        check(lambda v: np.einsum(subscripts, v, *xs[1:]) * 1.5, xs[:1], uses=["einsum"])


@st.composite
def random_einsum(draw: Any) -> tuple[str, list[tuple[int, ...]]]:
    """Random subscripts (repeated letters, implicit or explicit output) and shapes."""
    letters = "abcd"
    size = {c: draw(st.integers(1, 3)) for c in letters}
    terms = [draw(st.text(alphabet=letters, min_size=0, max_size=3))
             for _ in range(draw(st.integers(1, 3)))]
    text = ",".join(terms)
    if draw(st.booleans()):
        used = draw(st.permutations(sorted(set(text.replace(",", "")))))
        text += "->" + "".join(used[:draw(st.integers(0, len(used)))])
    return text, [tuple(size[c] for c in t) for t in terms]


@covers("einsum")
@settings(max_examples=60)
@given(case=random_einsum(), data=st.data())
def test_einsum_random_subscripts_match_numpy(case: Any, data: Any) -> None:
    subscripts, shapes = case
    xs = [data.draw(arrays(s, np.float64), label=f"operand {n}") for n, s in enumerate(shapes)]
    expected = np.einsum(subscripts, *xs)
    got = mg.einsum(subscripts, *[Value(x) for x in xs])
    assert got.shape == np.shape(expected)
    np.testing.assert_allclose(got.data, expected, rtol=1e-12, atol=1e-12)
    check_grads(lambda *vs: mg.einsum(subscripts, *vs), xs, order=1, modes=("fwd", "rev"))


@covers("einsum")
def test_einsum_sublist_form_and_ellipsis_labels() -> None:
    a, b = np.arange(6.0).reshape(2, 3), np.arange(12.0).reshape(3, 4)
    va = Value(a)
    np.testing.assert_allclose(mg.einsum(va, [0, 1], b, [1, 2], [0, 2]).data, a @ b)
    np.testing.assert_allclose(mg.einsum(va, [0, 1], b, [1, 2]).data, a @ b)
    np.testing.assert_allclose(np.einsum(va, [Ellipsis, 1], b, [1, 2]).data, a @ b)
    # Labels 26-51 sort after 0-25 in the implicit output, as in NumPy.
    np.testing.assert_allclose(mg.einsum(va, [30, 2]).data, np.einsum(a, [30, 2]))
    check(lambda v: mg.einsum(v, [0, 1], v, [1, 0]), (np.arange(4.0).reshape(2, 2),),
          uses=["einsum"])


@pytest.mark.parametrize(("subscripts", "shapes", "message"), [
    ("ij,jk", [(2, 3), (4, 5)], "letter 'j' has sizes 3 and 4"),
    ("ii", [(2, 3)], "letter 'i' repeats"),
    ("ij", [(2,)], "names 2 dimension"),
    ("ij,jk", [(2, 3)], "for 2 operand"),
    ("i->ii", [(3,)], "appears more than once"),
    ("i->j", [(3,)], "'j' is not in any input"),
    ("...i->i", [(2, 3)], "write '...' in the output"),
    ("i.j", [(3, 3)], "not a subscript letter"),
    ("i->i->i", [(3,)], "more than one '->'"),
])
def test_einsum_errors_name_the_subscripts(subscripts: str, shapes: list, message: str) -> None:
    with pytest.raises(ValueError, match="einsum") as info:
        mg.einsum(subscripts, *[Value(np.ones(s)) for s in shapes])
    assert message in str(info.value)


def test_einsum_rejects_unsupported_numpy_arguments() -> None:
    v = Value(np.ones(3))
    with pytest.raises(TypeError, match="numpy.einsum with out="):
        np.einsum("i,i", v, v, out=np.zeros(()))
    with pytest.raises(TypeError, match="dtype"):
        np.einsum("i,i", v, v, dtype=np.float32)
    # optimize only changes the order of work, never the result: accepted.
    assert np.einsum("i,i", v, v, optimize=True).item() == 3.0


def test_einsum_large_contractions_use_blas_and_agree() -> None:
    # Above a size threshold the forward asks NumPy to plan (tensordot/BLAS).
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(60, 50)), rng.normal(size=(50, 40))
    va = Value(a)
    y = mg.einsum("ij,jk->ik", va, b)
    np.testing.assert_allclose(y.data, a @ b, rtol=1e-12)
    (y * y).sum().backward()
    np.testing.assert_allclose(va.grad, 2 * (a @ b) @ b.T, rtol=1e-10)


# ---- products -------------------------------------------------------------------------

DOT_CASES = {
    "0d.2d": ((), (2, 3)), "2d.0d": ((2, 3), ()), "1d.1d": ((3,), (3,)),
    "2d.1d": ((2, 3), (3,)), "1d.2d": ((3,), (3, 2)), "2d.2d": ((2, 3), (3, 2)),
    "3d.1d": ((2, 2, 3), (3,)), "3d.2d": ((2, 1, 3), (3, 2)), "2d.3d": ((2, 3), (2, 3, 1)),
    "3d.3d": ((2, 1, 3), (1, 3, 2)),
}


@covers("dot", "matmul", "einsum")
@pytest.mark.parametrize("case", sorted(DOT_CASES))
@dtypes
@PER_CASE
@given(data=st.data())
def test_dot(case: str, dtype: Any, data: Any) -> None:
    sa, sb = DOT_CASES[case]
    a, b = data.draw(arrays(sa, dtype), label="a"), data.draw(arrays(sb, dtype), label="b")
    np.testing.assert_allclose(mg.dot(a, b).data, np.dot(a, b), rtol=1e-5, atol=1e-5)
    check(mg.dot, (a, b), uses=["mul"] if not sa or not sb else [])
    check(lambda v: v.dot(b), (a,))


@covers("vdot", "inner", "outer")
@dtypes
@given(data=st.data())
def test_vdot_inner_outer(dtype: Any, data: Any) -> None:
    shape = data.draw(mst.shapes(max_dims=3), label="shape")
    a, b = data.draw(arrays(shape, dtype), label="a"), data.draw(arrays(shape, dtype), label="b")
    lead = data.draw(mst.shapes(max_dims=2), label="other leading axes")
    c = data.draw(arrays(lead, dtype), label="c")
    # inner sums over the last axes, which must match (a scalar multiplies anything)
    d = data.draw(arrays(lead + shape[-1:] if shape else lead, dtype), label="d")
    tol = {"rtol": 1e-5, "atol": 1e-5}
    np.testing.assert_allclose(mg.vdot(a, b).data, np.vdot(a, b), **tol)
    np.testing.assert_allclose(mg.outer(a, c).data, np.outer(a, c), **tol)
    np.testing.assert_allclose(mg.inner(a, d).data, np.inner(a, d), **tol)
    check(mg.vdot, (a, b), uses=["matmul"])
    check(mg.outer, (a, c), uses=["mul"])
    check(mg.inner, (a, d))


@covers("tensordot", "einsum")
@dtypes
@given(data=st.data())
def test_tensordot(dtype: Any, data: Any) -> None:
    shape = data.draw(mst.shapes(min_dims=1, max_dims=3), label="shape of a")
    n = data.draw(st.integers(0, len(shape)), label="axes")
    extra = data.draw(mst.shapes(max_dims=2), label="rest of b")
    a = data.draw(arrays(shape, dtype), label="a")
    b = data.draw(arrays(shape[len(shape) - n:] + extra, dtype), label="b")
    np.testing.assert_allclose(mg.tensordot(a, b, n).data, np.tensordot(a, b, n), rtol=1e-5,
                               atol=1e-5)
    check(lambda u, v: mg.tensordot(u, v, axes=n), (a, b), uses=["einsum"])
    # The pair form: permuted axes of a summed with b's, any sign.
    perm = data.draw(st.permutations(range(len(shape))), label="permutation")
    k = data.draw(st.integers(1, len(shape)), label="pairs")
    axes_a = [p - len(shape) if data.draw(st.booleans()) else p for p in perm[:k]]
    c = data.draw(arrays(tuple(shape[p] for p in perm[:k]) + extra, dtype), label="c")
    axes = (axes_a, list(range(k)))
    np.testing.assert_allclose(mg.tensordot(a, c, axes).data, np.tensordot(a, c, axes),
                               rtol=1e-5, atol=1e-5)
    check(lambda u: np.tensordot(u, c, axes), (a,), uses=["einsum"])


@covers("kron")
@dtypes
@given(data=st.data())
def test_kron(dtype: Any, data: Any) -> None:
    sa = data.draw(mst.shapes(max_dims=3, max_side=3), label="shape a")
    sb = data.draw(mst.shapes(max_dims=3, max_side=2), label="shape b")
    a, b = data.draw(arrays(sa, dtype), label="a"), data.draw(arrays(sb, dtype), label="b")
    np.testing.assert_allclose(mg.kron(a, b).data, np.kron(a, b), rtol=1e-6)
    check(mg.kron, (a, b), uses=["mul"])


@covers("cross", "einsum")
@dtypes
@given(data=st.data())
def test_cross(dtype: Any, data: Any) -> None:
    sa, sb = data.draw(mst.broadcastable_shapes(max_dims=2), label="batch shapes")
    na, nb = data.draw(st.sampled_from([(3, 3), (3, 3), (2, 3), (3, 2), (2, 2)]), label="n")
    where_a = data.draw(st.integers(0, len(sa)), label="axisa")
    where_b = data.draw(st.integers(0, len(sb)), label="axisb")
    a = data.draw(arrays(sa[:where_a] + (na,) + sa[where_a:], dtype), label="a")
    b = data.draw(arrays(sb[:where_b] + (nb,) + sb[where_b:], dtype), label="b")
    kw: dict[str, int] = {"axisa": where_a - a.ndim if data.draw(st.booleans()) else where_a,
                          "axisb": where_b}
    if na == 3 or nb == 3:
        out_nd = max(len(sa), len(sb)) + 1
        kw["axisc"] = data.draw(st.integers(-out_nd, out_nd - 1), label="axisc")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 2-vectors (as NumPy warns)
        np.testing.assert_allclose(mg.cross(a, b, **kw).data, np.cross(a, b, **kw),
                                   rtol=1e-5, atol=1e-5)
        check(lambda u, v: mg.cross(u, v, **kw), (a, b), uses=["einsum"])


def test_cross_warns_for_2_vectors_as_numpy_does() -> None:
    with pytest.warns(DeprecationWarning, match="2-dimensional vectors"):
        assert mg.cross(Value([1.0, 0.0]), [0.0, 1.0]).item() == 1.0
    with pytest.raises(ValueError, match="dimension must be 2 or 3"):
        mg.cross(Value(np.ones(4)), np.ones(4))


# ---- diagonals and triangles ------------------------------------------------------------


@covers("diagonal", "trace", "getitem", "index_add")
@dtypes
@given(data=st.data())
def test_diagonal_and_trace(dtype: Any, data: Any) -> None:
    shape = data.draw(mst.shapes(min_dims=2, max_dims=4), label="shape")
    nd = len(shape)
    axis1, axis2 = data.draw(st.permutations(range(nd)), label="axes")[:2]
    axis1 -= nd if data.draw(st.booleans()) else 0
    offset = data.draw(st.integers(-3, 3), label="offset")
    x = data.draw(arrays(shape, dtype), label="x")
    kw = {"offset": offset, "axis1": axis1, "axis2": axis2}
    np.testing.assert_array_equal(mg.diagonal(x, **kw).data, np.diagonal(x, **kw))
    np.testing.assert_allclose(mg.trace(x, **kw).data, np.trace(x, **kw), rtol=1e-5, atol=1e-6)
    if np.diagonal(x, **kw).size:
        check(lambda v: mg.diagonal(v, **kw) ** 2, (x,), uses=["getitem", "index_add"])
        check(lambda v: v.trace(**kw) * v.diagonal(**kw).sum(axis=-1), (x,))
    check(lambda v: np.trace(v * v, **kw) + (v * v).sum(), (x,))


@covers("diag", "index_add", "getitem")
@dtypes
@given(data=st.data())
def test_diag(dtype: Any, data: Any) -> None:
    k = data.draw(st.integers(-3, 3), label="k")
    v = data.draw(arrays((data.draw(sizes, label="n"),), dtype), label="v")
    np.testing.assert_array_equal(mg.diag(v, k).data, np.diag(v, k))
    check(lambda u: mg.diag(u, k) ** 2, (v,), uses=["index_add"])
    m = data.draw(arrays(data.draw(st.tuples(sizes, sizes), label="shape"), dtype), label="m")
    np.testing.assert_array_equal(mg.diag(m, k).data, np.diag(m, k))
    if np.diag(m, k).size:
        check(lambda u: np.diag(u, k) ** 2, (m,), uses=["getitem"])


@covers("tril", "triu", "where")
@pytest.mark.parametrize("name", ["tril", "triu"])
@dtypes
@given(data=st.data())
def test_tril_triu(name: str, dtype: Any, data: Any) -> None:
    shape = data.draw(mst.shapes(min_dims=1, max_dims=3), label="shape")
    k = data.draw(st.integers(-3, 3), label="k")
    x = data.draw(arrays(shape, dtype), label="x")
    fn, ref = getattr(mg, name), getattr(np, name)
    np.testing.assert_array_equal(fn(x, k).data, ref(x, k))
    assert fn(x, k).dtype == dtype
    check(lambda v: fn(v, k) ** 2, (x,), uses=["where"])
    check(lambda v: ref(v * v, k=k), (x,))


def test_diagonal_errors() -> None:
    v = Value(np.ones((2, 3)))
    with pytest.raises(ValueError, match="diagonal: axis1 and axis2 cannot be the same"):
        mg.diagonal(v, 0, 1, 1)
    with pytest.raises(np.exceptions.AxisError, match="diagonal: axis2 5 is out of bounds"):
        mg.diagonal(v, 0, 0, 5)
    with pytest.raises(ValueError, match="diag: input must be 1-d or 2-d"):
        mg.diag(Value(np.ones((2, 2, 2))))


def test_product_shape_errors_name_the_function() -> None:
    v = Value(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"dot: shapes \(2, 3\) and \(2,\) are not aligned"):
        mg.dot(v, np.ones(2))
    with pytest.raises(ValueError, match=r"tensordot: shapes .* are not aligned"):
        mg.tensordot(v, np.ones((2, 3)), axes=([1], [0]))
    with pytest.raises(ValueError, match="inner: shapes"):
        mg.inner(v, np.ones(2))
    with pytest.raises(ValueError, match="vdot: shapes"):
        mg.vdot(v, np.ones(5))
    with pytest.raises(ValueError, match="tensordot: axes must be"):
        mg.tensordot(v, v, axes="x")


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


# ---- three spellings, the array API's np.linalg, float32 ---------------------------------------

A = np.array([[2.0, 0.5, 0.1], [0.5, 3.0, -0.2], [0.1, -0.2, 1.5]])
B64 = np.array([[1.0, -1.0], [0.5, 2.0], [0.0, 1.0]])


class _Constant:
    """A constant operand of the spellings below, in the dtype of the Value it meets."""

    def __init__(self, data: np.ndarray) -> None:
        self.data = data

    def __call__(self, v: Any) -> np.ndarray:
        return self.data.astype(v.dtype)


C, B = _Constant(A), _Constant(B64)
SPELLINGS: dict[str, tuple[Any, Any, Any]] = {
    # name: (microgd form, NumPy form, method form or None), each of one Value
    "dot": (lambda v: mg.dot(v, B(v)), lambda v: np.dot(v, B(v)), lambda v: v.dot(B(v))),
    "vdot": (lambda v: mg.vdot(v, C(v)), lambda v: np.vdot(v, C(v)), None),
    "inner": (lambda v: mg.inner(v, C(v)), lambda v: np.inner(v, C(v)), None),
    "outer": (lambda v: mg.outer(v, B(v)), lambda v: np.outer(v, B(v)), None),
    "tensordot": (lambda v: mg.tensordot(v, B(v), 1), lambda v: np.tensordot(v, B(v), 1), None),
    "einsum": (lambda v: mg.einsum("ij,jk", v, B(v)), lambda v: np.einsum("ij,jk", v, B(v)), None),
    "kron": (lambda v: mg.kron(v, B(v)), lambda v: np.kron(v, B(v)), None),
    "cross": (lambda v: mg.cross(v, C(v)), lambda v: np.cross(v, C(v)), None),
    "trace": (lambda v: mg.trace(v, 1), lambda v: np.trace(v, 1), lambda v: v.trace(1)),
    "diag": (lambda v: mg.diag(v, -1), lambda v: np.diag(v, -1), None),
    "diagonal": (lambda v: mg.diagonal(v, 1), lambda v: np.diagonal(v, 1),
                 lambda v: v.diagonal(1)),
    "tril": (lambda v: mg.tril(v, -1), lambda v: np.tril(v, -1), None),
    "triu": (lambda v: mg.triu(v), lambda v: np.triu(v), None),
    "inv": (mg.linalg.inv, np.linalg.inv, None),
    "pinv": (lambda v: mg.linalg.pinv(v[:, :2]), lambda v: np.linalg.pinv(v[:, :2]), None),
    "solve": (lambda v: mg.linalg.solve(v, B(v)), lambda v: np.linalg.solve(v, B(v)), None),
    "det": (mg.linalg.det, np.linalg.det, None),
    "slogdet": (lambda v: mg.linalg.slogdet(v)[1], lambda v: np.linalg.slogdet(v)[1], None),
    "cholesky": (mg.linalg.cholesky, np.linalg.cholesky, None),
    "eigh": (lambda v: mg.linalg.eigh(v)[1] ** 2, lambda v: np.linalg.eigh(v)[1] ** 2, None),
    "eigvalsh": (mg.linalg.eigvalsh, np.linalg.eigvalsh, None),
    "svd": (lambda v: mg.linalg.svd(v)[1], lambda v: np.linalg.svd(v)[1], None),
    "svdvals": (mg.linalg.svdvals, np.linalg.svdvals, None),
    "matrix_power": (lambda v: mg.linalg.matrix_power(v, 3),
                     lambda v: np.linalg.matrix_power(v, 3), None),
    "multi_dot": (lambda v: mg.linalg.multi_dot([v, v, B(v)]),
                  lambda v: np.linalg.multi_dot([v, v, B(v)]), None),
    "linalg.matmul": (lambda v: v @ B(v), lambda v: np.linalg.matmul(v, B(v)), None),
    "linalg.outer": (lambda v: mg.linalg.outer(v[0], B(v)[0]),
                     lambda v: np.linalg.outer(v[0], B(v)[0]), None),
    "linalg.cross": (lambda v: mg.linalg.cross(v, C(v)), lambda v: np.linalg.cross(v, C(v)), None),
    "linalg.trace": (lambda v: mg.linalg.trace(v, offset=1),
                     lambda v: np.linalg.trace(v, offset=1), None),
    "linalg.diagonal": (lambda v: mg.linalg.diagonal(v), lambda v: np.linalg.diagonal(v),
                        None),
    "linalg.tensordot": (lambda v: mg.linalg.tensordot(v, C(v), axes=1),
                         lambda v: np.linalg.tensordot(v, C(v), axes=1), None),
    "linalg.vecdot": (lambda v: mg.linalg.vecdot(v, C(v)), lambda v: np.linalg.vecdot(v, C(v)),
                      None),
    "linalg.matrix_transpose": (lambda v: mg.linalg.matrix_transpose(v) * C(v),
                                lambda v: np.linalg.matrix_transpose(v) * C(v), None),
}


@pytest.mark.parametrize("name", sorted(SPELLINGS))
def test_spellings_agree_with_each_other_and_numpy(name: str) -> None:
    forms = [f for f in SPELLINGS[name] if f is not None]
    ref = forms[1](A)  # NumPy itself, on the array
    results = []
    for form in forms:
        v = Value(A)
        y = form(v)
        assert isinstance(y, Value), name
        g = np.linspace(-1.0, 1.0, y.size).reshape(y.shape)
        y.backward(g)
        results.append((y.data, v.grad))
    np.testing.assert_allclose(results[0][0], ref, rtol=1e-12, atol=1e-12)
    for data, grad in results[1:]:
        np.testing.assert_array_equal(data, results[0][0])
        np.testing.assert_array_equal(grad, results[0][1])
    check_grads(forms[0], (A,), order=2, modes=("fwd", "rev"))


@pytest.mark.parametrize("name", sorted(SPELLINGS))
def test_float32_stays_float32(name: str) -> None:
    form = SPELLINGS[name][0]
    x = A.astype(np.float32)
    v = Value(x)
    y = form(v)
    assert y.dtype == np.float32
    y.backward(np.ones(y.shape, np.float32))
    assert v.grad is not None and v.grad.dtype == np.float32
    w = Value(x)
    (g,) = mg.gradients(form(w), w, grad_outputs=np.ones(y.shape, np.float32),
                        create_graph=True)
    assert g.dtype == np.float32
    if g.requires_grad:
        (h,) = mg.gradients((g * g).sum(), w)
        assert h.dtype == np.float32
    _, t = mg.jvp(form, (x,), (np.ones_like(x),))
    assert np.asarray(t).dtype == np.float32


# ---- parity with PyTorch -----------------------------------------------------------------------


def _torch_parity(ours: Any, theirs: Any, *arrays_: np.ndarray, rtol: float = 1e-9) -> None:
    torch = _torch()
    vs = [Value(a) for a in arrays_]
    y = ours(*vs)
    g = np.random.default_rng(0).normal(size=y.shape)
    y.backward(g)
    ts = [torch.tensor(a, requires_grad=True) for a in arrays_]
    ty = theirs(*ts)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=rtol, atol=1e-10)
    for v, t in zip(vs, ts, strict=True):
        np.testing.assert_allclose(v.grad, t.grad.numpy(), rtol=rtol, atol=1e-10)


RNG = np.random.default_rng(11)
M3, M3b, M23, M32 = RNG.normal(size=(3, 3)), RNG.normal(size=(2, 3, 3)), RNG.normal(
    size=(2, 3)), RNG.normal(size=(3, 2))
S3 = M3 @ M3.T + np.eye(3)
S3b = M3b @ np.swapaxes(M3b, -1, -2) + np.eye(3)


def _sym(t: Any) -> Any:
    return t + t.transpose(-1, -2)


TORCH = {
    "einsum": (lambda a, b: mg.einsum("bij,jk->bki", a, b),
               lambda a, b: __import__("torch").einsum("bij,jk->bki", a, b), (M3b, M32)),
    "einsum_trace": (lambda a: mg.einsum("...ii->...", a),
                     lambda a: __import__("torch").einsum("...ii->...", a), (M3b,)),
    "tensordot": (lambda a, b: mg.tensordot(a, b, ([0], [1])),
                  lambda a, b: __import__("torch").tensordot(a, b, ([0], [1])), (M32, M23)),
    "kron": (mg.kron, lambda a, b: __import__("torch").kron(a, b), (M23, M32)),
    "cross": (lambda a, b: mg.cross(a, b), lambda a, b: __import__("torch").linalg.cross(a, b),
              (M3b, M3[None])),
    "trace": (mg.trace, lambda a: __import__("torch").trace(a), (M3,)),
    "diagonal": (lambda a: mg.diagonal(a, 1, 1, 2),
                 lambda a: __import__("torch").diagonal(a, 1, 1, 2), (M3b,)),
    "tril": (lambda a: mg.tril(a, -1), lambda a: __import__("torch").tril(a, -1), (M3b,)),
    "inv": (mg.linalg.inv, lambda a: __import__("torch").linalg.inv(a), (S3b,)),
    "solve": (mg.linalg.solve, lambda a, b: __import__("torch").linalg.solve(a, b), (S3b, M32)),
    "det": (mg.linalg.det, lambda a: __import__("torch").linalg.det(a), (M3b,)),
    "slogdet": (lambda a: mg.linalg.slogdet(a).logabsdet,
                lambda a: __import__("torch").linalg.slogdet(a).logabsdet, (M3b,)),
    "cholesky": (lambda a: mg.linalg.cholesky(a + mg.linalg.matrix_transpose(a)),
                 lambda a: __import__("torch").linalg.cholesky(_sym(a)), (S3b,)),
    "eigh": (lambda a: mg.linalg.eigh(a + mg.linalg.matrix_transpose(a)).eigenvectors ** 2,
             lambda a: __import__("torch").linalg.eigh(_sym(a)).eigenvectors ** 2, (M3b,)),
    "eigvalsh": (lambda a: mg.linalg.eigvalsh(a + mg.linalg.matrix_transpose(a)),
                 lambda a: __import__("torch").linalg.eigvalsh(_sym(a)), (M3b,)),
    "svd_tall": (lambda a: (lambda r: mg.concatenate([r.U.reshape(-1) ** 2, r.S,
                                                      r.Vh.reshape(-1) ** 2]))(
        mg.linalg.svd(a, full_matrices=False)),
                 lambda a: (lambda r: __import__("torch").cat([r.U.reshape(-1) ** 2, r.S,
                                                              r.Vh.reshape(-1) ** 2]))(
        __import__("torch").linalg.svd(a, full_matrices=False)), (M32,)),
    "svd_wide": (lambda a: (lambda r: mg.concatenate([r.U.reshape(-1) ** 2, r.S,
                                                      r.Vh.reshape(-1) ** 2]))(
        mg.linalg.svd(a, full_matrices=False)),
                 lambda a: (lambda r: __import__("torch").cat([r.U.reshape(-1) ** 2, r.S,
                                                              r.Vh.reshape(-1) ** 2]))(
        __import__("torch").linalg.svd(a, full_matrices=False)), (M23,)),
    "svdvals": (mg.linalg.svdvals, lambda a: __import__("torch").linalg.svdvals(a), (M3b,)),
    "pinv": (mg.linalg.pinv, lambda a: __import__("torch").linalg.pinv(a), (M32,)),
    "matrix_power": (lambda a: mg.linalg.matrix_power(a, -3),
                     lambda a: __import__("torch").linalg.matrix_power(a, -3), (S3,)),
}


@pytest.mark.parametrize("name", sorted(TORCH))
def test_values_and_gradients_match_torch(name: str) -> None:
    ours, theirs, args = TORCH[name]
    _torch_parity(ours, theirs, *args, rtol=1e-7)


@pytest.mark.parametrize("name", ["inv", "det", "slogdet", "cholesky", "eigh", "svd_tall"])
def test_hessian_vector_products_match_torch(name: str) -> None:
    torch = _torch()
    ours, theirs, args = TORCH[name]
    a = args[0]
    weights = np.random.default_rng(1).normal(size=np.shape(ours(Value(a)).data))
    direction = np.random.default_rng(2).normal(size=a.shape)

    def loss(v: Any) -> Value:
        return (ours(v) * weights).sum()

    hv = mg.hvp(loss, a, direction)

    def tloss(t: Any) -> Any:
        return (theirs(t) * torch.tensor(weights)).sum()

    _, thv = torch.autograd.functional.hvp(tloss, torch.tensor(a), torch.tensor(direction))
    np.testing.assert_allclose(hv, thv.numpy(), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(mg.hvp(loss, a, direction, mode="fwd"), hv, rtol=1e-8,
                               atol=1e-10)


def test_einsum_matches_autograd() -> None:
    anp = pytest.importorskip("autograd.numpy")
    agrad = pytest.importorskip("autograd").grad
    a, b = RNG.normal(size=(2, 3)), RNG.normal(size=(3, 3))

    def f(x: Any, lib: Any) -> Any:
        return (lib.einsum("ij,jk,ik->", x, b, x) + lib.einsum("ii", b) * lib.sum(x * x)) ** 2

    np.testing.assert_allclose(mg.grad(lambda x: f(x, mg))(a), agrad(lambda x: f(x, anp))(a),
                               rtol=1e-10)
    np.testing.assert_allclose(mg.hessian(lambda x: f(x, mg))(a).reshape(6, 6),
                               __import__("autograd").hessian(lambda x: f(x, anp))(a).reshape(
                                   6, 6), rtol=1e-9)


def test_primitives_record_their_own_names() -> None:
    a = Value(S3)
    assert mg.linalg.inv(a).op == "inv"
    assert mg.linalg.det(a).op == "det"
    assert mg.einsum("ij,jk", a, a).op == "einsum"
    assert mg.linalg.eigh(a).eigenvalues.op == "getitem"
    assert {"eigh", "svd", "cholesky", "solve", "slogdet", "pinv", "cofactor",
            "cofactor_derivative", "einsum"} <= set(ops.ALL)


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
