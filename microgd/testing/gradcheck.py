"""Check microgd's derivatives against central finite differences.

:func:`check_grads` compares, for every element of every argument, the
derivative microgd computes with a central finite difference of the same
scalar function.  Order 1 checks the vector-Jacobian product (VJP) of ``f``
for a fixed random cotangent; order 2 also differentiates that gradient once
more, which is what Hessian-vector products and Newton-type methods rely on.

How the tolerance is set
------------------------
An entry passes when ``|analytic - numeric| <= atol + rtol * |numeric| + floor``.
``floor`` is the rounding error a finite difference cannot resolve: with
``T(x)`` the elementwise terms that are summed into the checked scalar (for
order 1, ``u * f(x)``; for order 2, ``v_i * grad_i(x)``), it is
``ROUNDING_FACTOR * eps_dtype * S / step``, where ``S`` is the sum of ``|T|``
over the terms the perturbation changed plus the largest ``|T|``,
``eps_dtype`` is the machine epsilon of the computation's dtype and ``step``
the distance between the two points.  The floor is tiny next to real gradients
in float64 (about ``1e-9 * S``) and keeps float32 checks from failing on
rounding alone (about ``5e-4 * S``), without loosening ``rtol`` for everyone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from microgd.autodiff import enable_grad
from microgd.backprop import gradients
from microgd.value import Value

__all__ = ["DEFAULTS", "MAX_ROWS", "ROUNDING_FACTOR", "TABLE_HEADER", "check_grads"]

TABLE_HEADER = (
    f"{'arg':>3}  {'index':<14}  {'analytic':>15}  {'numeric':>15}  "
    f"{'abs error':>10}  {'tolerance':>10}"
)
"""First line of every table of mismatches in a :func:`check_grads` failure."""

MAX_ROWS = 10
"""At most this many (the worst) mismatching entries are listed per table."""

ROUNDING_FACTOR = 8.0
"""How many machine epsilons of the terms' size the rounding floor allows.

A primitive's output is within a few ulps of exact; pairwise sums in NumPy
add about ``log2(n)`` more.  8 covers both for the small arrays tests use.
"""

DEFAULTS: dict[np.dtype, tuple[float, float, float]] = {
    # dtype: (eps, rtol, atol)
    # float64: the step balances truncation error (~eps**2) against rounding
    # (~1e-16 / eps); both stay far below rtol for well-scaled inputs.
    np.dtype(np.float64): (1e-6, 1e-5, 1e-8),
    # float32: rounding is ~1e-7 relative, so the step must be much larger;
    # at eps=1e-3 the truncation error is ~1e-7 * |f'''| and a float32
    # backward pass itself is only good to ~1e-6 relative.  rtol=2e-2 and
    # atol=1e-3 still catch wrong rules (a factor, a sign, a missing term).
    # microgd's own primitive tests pass at 2e-3 and 1e-4 (400 examples per
    # test); the defaults keep 10x headroom for larger user functions.
    np.dtype(np.float32): (1e-3, 2e-2, 1e-3),
}
"""Default ``(eps, rtol, atol)`` for each dtype of computation."""

_ORDER1 = "derivative of sum(u * f(x)), u a fixed random cotangent"
_ORDER2 = "derivative of sum_i sum(v_i * grad_i(x)), grad = order-1 gradient, v_i fixed random"
_MODES = "gradient values with create_graph=True vs create_graph=False"


def check_grads(
    f: Callable[..., Value],
    args: Sequence[Any],
    order: int = 2,
    eps: float | None = None,
    rtol: float | None = None,
    atol: float | None = None,
    *,
    seed: int = 0,
    modes: Sequence[str] = ("rev",),
) -> None:
    """Check the derivatives of ``f`` at ``args`` against finite differences.

    Each argument is wrapped in a fresh ``Value(..., requires_grad=True)`` of
    its own dtype (ints become float64) and ``f`` is called on them.  Order 1
    compares the gradient of ``sum(u * f(x))``, for a fixed random cotangent
    ``u``, computed by :func:`microgd.gradients`, with central finite
    differences of that same scalar, element by element, for every argument.
    Order 2 also builds ``h(x) = sum_i sum(v_i * grad_i(x))`` with
    ``create_graph=True`` (random ``v_i``) and compares the gradient of ``h``
    with finite differences of ``h``: the derivative rules must themselves be
    differentiable.  It also checks that the ``create_graph=True`` gradient
    has the same values as the plain one (the finite differences of ``h`` use
    the faster plain backward).  The caller's arrays and Values are never
    modified, nor is any ``.grad``.

    Parameters
    ----------
    f : callable
        Takes one ``Value`` per element of ``args`` and returns a ``Value`` of
        any shape.
    args : sequence
        The point: arrays, numbers or Values (their data is copied).
    order : {1, 2}, default 2
        Highest order of derivative to check.
    eps : float, optional
        Finite-difference step.  Default 1e-6 in float64, 1e-3 in float32.
        In float32 the perturbed argument is rounded to float32 and the
        difference quotient is formed in float64 using the step actually taken.
    rtol, atol : float, optional
        Relative and absolute tolerance.  Defaults: float64 1e-5 and 1e-8,
        float32 2e-2 and 1e-3.  A rounding floor is added (see the module
        docstring).  The dtype is float32 if any argument or the output is.
    seed : int, default 0
        Seed of the random cotangents ``u`` and ``v``.
    modes : tuple of {'rev', 'fwd'}, default ('rev',)
        Which modes to check.  ``'rev'`` is the above.  ``'fwd'`` checks
        forward mode against the same finite differences: order 1,
        ``sum(u * jvp(f, x, e_k))`` for every basis tangent ``e_k``; order 2,
        the jvp of the gradient along ``v`` (forward over reverse) and the
        jvp of ``jvp(f, x, v)`` along every ``e_k`` (forward over forward).

    Returns
    -------
    None
        When every entry agrees.

    Raises
    ------
    AssertionError
        With a table of the worst mismatches (argument, element index,
        analytic, numeric, absolute error, tolerance), worst first (by error
        over tolerance), at most :data:`MAX_ROWS` rows per check.
    ValueError
        For an ``order`` other than 1 or 2, bad tolerances, or when ``f`` is
        not finite at ``args``.
    TypeError
        When ``f`` does not return a ``Value`` or an argument is not numeric.

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> from microgd.testing import check_grads
    >>> x = np.array([[0.5, -1.0], [2.0, 0.25]])
    >>> check_grads(lambda v: mg.tanh(v) * v, (x,), order=2)   # passes: returns None
    >>> def half_seen(v):
    ...     with mg.no_grad():
    ...         hidden = v * v                 # not recorded: its derivative is lost
    ...     return v * v + hidden
    >>> try:
    ...     check_grads(half_seen, (x,), order=1)
    ... except AssertionError as err:
    ...     print(str(err).splitlines()[1].split(" --")[0])
    order 1: 4 of 4 entries disagree
    """
    if isinstance(order, bool) or order not in (1, 2):
        raise ValueError(f"check_grads: order must be 1 or 2, got {order!r}")
    modes = (modes,) if isinstance(modes, str) else tuple(modes)
    if not modes or any(m not in ("rev", "fwd") for m in modes):
        raise ValueError(f"check_grads: modes must name 'rev' and/or 'fwd', got {modes!r}")
    if not isinstance(args, (tuple, list)):
        raise TypeError(
            f"check_grads: args must be a tuple of arguments, got {type(args).__name__}; "
            "write (x,) for a single argument"
        )
    points = [_as_point(a, i) for i, a in enumerate(args)]
    rng = np.random.default_rng(seed)
    with enable_grad():
        xs, out = _call(f, points)
        if not np.all(np.isfinite(out.data)):
            raise ValueError(
                "check_grads: f is not finite at the given point, so finite differences "
                "are meaningless there"
            )
        dtype = _least_precise([p.dtype for p in points] + [out.dtype])
        d_eps, d_rtol, d_atol = DEFAULTS[dtype]
        eps = d_eps if eps is None else float(eps)
        rtol = d_rtol if rtol is None else float(rtol)
        atol = d_atol if atol is None else float(atol)
        if not eps > 0 or not rtol >= 0 or not atol >= 0:
            raise ValueError(
                f"check_grads: need eps > 0, rtol >= 0, atol >= 0 (got {eps}, {rtol}, {atol})"
            )
        floor_eps = float(np.finfo(dtype).eps)

        out_shape, out_dtype = out.shape, out.dtype
        # Cotangents are rounded to the output dtype once, then used exactly on both sides.
        u = _direction(rng, out_shape).astype(out_dtype)
        u64 = u.astype(np.float64)
        first = _values(_grads(out, xs, u, create_graph=False), points, "order 1")

        vs = [_direction(rng, p.shape).astype(p.dtype) for p in points]
        v64 = [v.astype(np.float64) for v in vs]

        def terms(arrays: list[np.ndarray]) -> list[np.ndarray]:
            # One forward (and, for order 2, one plain backward) per perturbed
            # point serves both orders' finite differences.
            ys, y = _call(f, arrays)
            _check_output(y, out_shape)
            t1 = u64 * np.asarray(y.data, dtype=np.float64)
            if order == 1:
                return [t1]
            grads = _grads(y, ys, u, create_graph=False)
            t2 = np.concatenate([
                (vv * np.asarray(g.data, dtype=np.float64)).ravel()
                for g, vv in zip(grads, v64, strict=True)
            ])
            return [t1, t2]

        (numeric, floors), *rest = _finite_differences(terms, points, eps, floor_eps, order)
        reports = []
        if "rev" in modes:
            reports.append(_compare(f"order 1: {{bad}} of {{n}} entries disagree -- {_ORDER1}",
                                    first, numeric, floors, rtol, atol))
        if "fwd" in modes:
            reports += _forward_reports(f, points, u, u64, vs, numeric, floors,
                                        rest[0] if rest else None, rtol, atol)

        if order == 2 and "rev" in modes:
            xs, out = _call(f, points)
            gs = _grads(out, xs, u, create_graph=True)
            graph_first = _values(gs, points, "order 2 (create_graph=True)")
            # The finite differences use the plain backward (it is much faster),
            # so both modes must give the same gradient values.
            zero = [np.zeros_like(a) for a in first]
            reports.append(_compare(f"order 2: {{bad}} of {{n}} entries disagree -- {_MODES}",
                                    graph_first, first, zero, rtol, atol))
            h: Any = None
            for g, v in zip(gs, vs, strict=True):
                term = (g * v).sum()
                h = term if h is None else h + term
            second = _values(gradients(h, xs), points, "order 2")
            (numeric2, floors2), = rest
            reports.append(_compare(f"order 2: {{bad}} of {{n}} entries disagree -- {_ORDER2}",
                                    second, numeric2, floors2, rtol, atol))

    failed = [r for r in reports if r is not None]
    if failed:
        head = (f"check_grads failed (dtype {dtype}, eps={eps:g}, rtol={rtol:g}, "
                f"atol={atol:g}, seed={seed})")
        raise AssertionError("\n".join([head, *failed]))


# ---- forward mode -------------------------------------------------------------

_FWD1 = "sum(u * jvp(f, x, e_k)) for each basis tangent e_k"
_FWD2_REV = "jvp of the gradient of sum(u * f) along v (forward over reverse)"
_FWD2_FWD = "sum(u * jvp(x -> jvp(f, x, v), x, e_k)) (forward over forward)"


def _forward_reports(f: Callable[..., Value], points: list[np.ndarray], u: np.ndarray,
                     u64: np.ndarray, vs: list[np.ndarray], numeric: list[np.ndarray],
                     floors: list[np.ndarray], second: Any, rtol: float, atol: float
                     ) -> list[str | None]:
    """Forward-mode derivatives against the finite differences already taken."""
    from microgd.forward import jvp  # the testing layer sits above the transforms
    from microgd.transforms import grad

    def basis(i: int, idx: tuple[int, ...]) -> tuple[np.ndarray, ...]:
        ts = [np.zeros_like(p) for p in points]
        ts[i][idx] = 1.0
        return tuple(ts)

    def contract(t: Any) -> float:
        return float(np.sum(u64 * np.asarray(t, dtype=np.float64)))

    def per_element(column: Callable[[int, tuple[int, ...]], float]) -> list[np.ndarray]:
        out = []
        for i, p in enumerate(points):
            arr = np.zeros(p.shape)
            for idx in np.ndindex(p.shape):
                arr[idx] = column(i, idx)
            out.append(arr)
        return out

    fwd1 = per_element(lambda i, idx: contract(jvp(f, tuple(points), basis(i, idx))[1]))
    reports = [_compare(f"forward order 1: {{bad}} of {{n}} entries disagree -- {_FWD1}",
                        fwd1, numeric, floors, rtol, atol)]
    if second is not None:
        numeric2, floors2 = second
        n = len(points)
        grad_u = grad(lambda *zs: (f(*zs) * u).sum(), argnums=tuple(range(n)))
        hv = jvp(grad_u, tuple(points), tuple(vs))[1]
        over_rev = [np.asarray(h, dtype=np.float64) for h in hv]
        reports.append(_compare(
            f"forward order 2: {{bad}} of {{n}} entries disagree -- {_FWD2_REV}",
            over_rev, numeric2, floors2, rtol, atol))

        def inner(*ys: Any) -> Any:
            return jvp(f, ys, tuple(vs))[1]
        over_fwd = per_element(lambda i, idx: contract(jvp(inner, tuple(points),
                                                           basis(i, idx))[1]))
        reports.append(_compare(
            f"forward order 2: {{bad}} of {{n}} entries disagree -- {_FWD2_FWD}",
            over_fwd, numeric2, floors2, rtol, atol))
    return reports


# ---- helpers -----------------------------------------------------------------


def _as_point(a: Any, i: int) -> np.ndarray:
    """A private float copy of argument ``i``, typed as ``Value`` would type it."""
    data = a.data if isinstance(a, Value) else a
    try:
        arr = np.array(data)  # a copy: perturbations never reach the caller's array
    except (TypeError, ValueError) as exc:
        raise TypeError(f"check_grads: argument {i} is not an array: {exc}") from None
    if arr.dtype in DEFAULTS:
        return arr
    if arr.dtype.kind in "biuf":
        return arr.astype(np.float64)
    raise TypeError(f"check_grads: argument {i} has dtype {arr.dtype}; give real numbers")


def _least_precise(dtypes: list[np.dtype]) -> np.dtype:
    return min(dtypes, key=lambda d: np.finfo(d).precision)


def _call(f: Callable[..., Value], arrays: list[np.ndarray]) -> tuple[list[Value], Value]:
    xs = [Value(a, requires_grad=True) for a in arrays]
    out = f(*xs)
    if not isinstance(out, Value):
        raise TypeError(f"check_grads: f must return a Value, got {type(out).__name__}")
    return xs, out


def _check_output(y: Value, shape: tuple[int, ...]) -> None:
    if y.shape != shape:
        raise AssertionError(
            f"check_grads: f returned shape {y.shape} at a perturbed point but {shape} at "
            "the point itself"
        )


def _direction(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    # Magnitudes in [0.5, 1.5] with random signs: no entry is (nearly) ignored,
    # and no structure (all ones) can hide a transposed or mis-summed gradient.
    mags = rng.uniform(0.5, 1.5, size=shape)
    signs = rng.choice(np.array([-1.0, 1.0]), size=shape)
    return np.asarray(mags * signs)


def _grads(out: Value, xs: list[Value], u: np.ndarray, create_graph: bool) -> list[Value]:
    return gradients(out, xs, grad_outputs=u, create_graph=create_graph)


def _values(grads: list[Value], points: list[np.ndarray], what: str) -> list[np.ndarray]:
    result = []
    for i, (g, p) in enumerate(zip(grads, points, strict=True)):
        arr = np.asarray(g.data, dtype=np.float64)
        if arr.shape != p.shape:
            raise AssertionError(
                f"check_grads: {what} gradient for argument {i} has shape {arr.shape}, "
                f"but the argument has shape {p.shape}"
            )
        result.append(arr)
    return result


def _finite_differences(
    terms: Callable[[list[np.ndarray]], list[np.ndarray]],
    points: list[np.ndarray],
    eps: float,
    floor_eps: float,
    count: int,
) -> list[tuple[list[np.ndarray], list[np.ndarray]]]:
    """Central differences of each ``sum(terms(x)[k])``, element by element, with floors.

    ``terms`` returns ``count`` arrays.  Returns, for each ``k``, the numeric
    derivatives and the rounding floors, one array per argument.
    """
    results: list[tuple[list[np.ndarray], list[np.ndarray]]] = [([], []) for _ in range(count)]
    work = list(points)
    for i, x in enumerate(points):
        xi = x.copy()
        work[i] = xi
        nums = [np.zeros(x.shape) for _ in range(count)]
        floors = [np.zeros(x.shape) for _ in range(count)]
        for idx in np.ndindex(x.shape):
            orig = xi[idx]
            xi[idx] = orig + eps
            up = xi[idx]
            t_up = terms(work)
            xi[idx] = orig - eps
            down = xi[idx]
            t_down = terms(work)
            xi[idx] = orig
            if up == orig or down == orig:
                raise ValueError(
                    f"check_grads: eps={eps:g} does not change argument {i} at {idx} "
                    f"(value {orig!r}) in {x.dtype}; pass a larger eps"
                )
            step = float(up) - float(down)  # the step actually taken, after rounding
            for k, (tu, td) in enumerate(zip(t_up, t_down, strict=True)):
                # Terms the perturbation did not touch cancel exactly here, so
                # the float64 sum adds no rounding of its own.
                diff = tu - td
                nums[k][idx] = np.sum(diff) / step
                big = np.maximum(np.abs(tu), np.abs(td))
                # The touched terms carry the rounding of the difference; the
                # largest term covers a change rounding swallowed entirely
                # (a float32 sum that did not move), which touches nothing.
                scale = np.sum(big[diff != 0]) + (np.max(big) if big.size else 0.0)
                floors[k][idx] = ROUNDING_FACTOR * floor_eps * scale / step
        work[i] = x
        for k, (num, floor) in enumerate(zip(nums, floors, strict=True)):
            results[k][0].append(num)
            results[k][1].append(floor)
    return results


def _compare(
    title: str,
    analytic: list[np.ndarray],
    numeric: list[np.ndarray],
    floors: list[np.ndarray],
    rtol: float,
    atol: float,
) -> str | None:
    """A report of the entries outside tolerance, worst first; None when all agree."""
    rows = []
    total = 0
    for i, (a, n, fl) in enumerate(zip(analytic, numeric, floors, strict=True)):
        total += a.size
        with np.errstate(invalid="ignore"):
            err = np.abs(a - n)
            tol = atol + rtol * np.abs(n) + fl
            bad = ~(err <= tol)  # NaN anywhere counts as a mismatch
        for idx in np.ndindex(a.shape):
            if bad[idx]:
                e, t = float(err[idx]), float(tol[idx])
                worst = np.inf if not np.isfinite(e) else e / t if t > 0 else np.inf
                rows.append((worst, i, idx, float(a[idx]), float(n[idx]), e, t))
    if not rows:
        return None
    rows.sort(key=lambda r: -r[0])
    lines = [title.format(bad=len(rows), n=total), TABLE_HEADER]
    for _, i, idx, av, nv, e, t in rows[:MAX_ROWS]:
        index = str(tuple(int(k) for k in idx))
        lines.append(f"{i:>3}  {index:<14}  {av:>15.8g}  {nv:>15.8g}  {e:>10.3g}  {t:>10.3g}")
    if len(rows) > MAX_ROWS:
        lines.append(f"... and {len(rows) - MAX_ROWS} more")
    return "\n".join(lines)
