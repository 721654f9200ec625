"""The linear-algebra vocabulary: products, diagonals and triangles, and every spelling.

Every name: first and second derivatives in forward and reverse mode (``check``),
float64 and float32, broadcasting and NumPy's arguments drawn by hypothesis; the
spellings ``mg.NAME``, ``np.NAME`` (``np.linalg.NAME``) and the method agree; and
values and gradients match PyTorch (and HIPS autograd for einsum), for the products
here and the decompositions of ``mg.linalg``, whose own property tests and hard
numerics are in ``test_vocab_linalg_decompositions.py``.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from primitive_checks import arrays, check, covers, dtypes

import microgd as mg
from microgd import Value, ops
from microgd.testing import check_grads
from microgd.testing import strategies as mst

# Tests parametrized over many fixed structures (einsum's subscripts, dot's ndims) need
# fewer examples each: the structure is the parameter, hypothesis only draws the sizes.
PER_CASE = settings(max_examples=12)
sizes = st.integers(1, 3)


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

