"""Critical points with known answers: the deep linear autoencoder (Baldi & Hornik, 1989).

A linear network x -> W2 W1 x with a hidden layer of p < n units, trained to
reproduce its input, has loss

    L(W1, W2) = 1/2 |X - W2 W1 X|^2      (X: n x N data, the Frobenius norm)

With the data's covariance X X^T = sum_i lambda_i u_i u_i^T (distinct
eigenvalues), Baldi and Hornik showed that every critical point has
W2 W1 = P_I, the orthogonal projection onto the span of the eigenvectors u_i,
i in I, for a set I of at most p indices, and then

    L = 1/2 sum_{i not in I} lambda_i.

Only I = the top p eigenvectors (principal component analysis) is a minimum;
every other critical point is a saddle, with a direction of negative
curvature (for one hidden layer, Kawaguchi 2016).  The minimum is not
isolated: (W1, W2) -> (A^-1 W1, W2 A) for any invertible p x p matrix A
leaves the loss unchanged, so the Hessian has p**2 zero eigenvalues along
that orbit, and microgd calls the minimum 'degenerate' (second order cannot
decide) with every other eigenvalue positive: a minimum up to the symmetry.

This script builds an instance with n = 4, p = 2 and eigenvalues 8, 4, 2, 1
(powers of two: the 11 sets I give 11 distinct losses), checks classify at
every analytic critical point (in a random gauge A), and runs
find_critical_points from random starts (given as ``x0``, with no box: the
critical sets are unbounded orbits): every point it returns has one of the
analytic losses, to 1e-8, and the right kind.

Run: python examples/linear_autoencoder.py
"""

from __future__ import annotations

import itertools
import sys
from typing import Any

import numpy as np

import microgd as mg

N_IN, HIDDEN, SAMPLES = 4, 2, 6
EIGENVALUES = np.array([8.0, 4.0, 2.0, 1.0])  # of X X^T, descending


def make_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(X, U)``: data of shape (n, N) with ``X X^T = U diag(EIGENVALUES) U^T`` exactly."""
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.standard_normal((N_IN, N_IN)))
    V, _ = np.linalg.qr(rng.standard_normal((SAMPLES, N_IN)))  # orthonormal columns
    return U @ np.diag(np.sqrt(EIGENVALUES)) @ V.T, U


def unpack(v: Any) -> tuple[Any, Any]:
    """The flat parameter vector (16 entries) as ``W1`` (p x n) and ``W2`` (n x p)."""
    k = HIDDEN * N_IN
    return v[:k].reshape(HIDDEN, N_IN), v[k:].reshape(N_IN, HIDDEN)


def make_loss(X: np.ndarray) -> Any:
    """``L(v) = 1/2 |X - W2 W1 X|^2`` of the flat parameters ``v`` (a Value when v is one)."""
    def loss(v: Any) -> Any:
        W1, W2 = unpack(v)
        return 0.5 * ((X - W2 @ (W1 @ X)) ** 2).sum()
    return loss


def subsets() -> list[tuple[int, ...]]:
    """Every set I of at most p eigenvector indices (0 = the largest eigenvalue)."""
    return [s for r in range(HIDDEN + 1) for s in itertools.combinations(range(N_IN), r)]


def analytic_loss(subset: tuple[int, ...]) -> float:
    """``1/2 sum_{i not in I} lambda_i``: the loss of the critical points of ``subset`` = I."""
    return 0.5 * float(sum(EIGENVALUES[i] for i in range(N_IN) if i not in subset))


def analytic_kind(subset: tuple[int, ...]) -> str:
    """'degenerate' (a minimum up to the symmetry) for the top p; else 'saddle'."""
    return "degenerate" if subset == tuple(range(HIDDEN)) else "saddle"


def critical_point(subset: tuple[int, ...], U: np.ndarray,
                   rng: np.random.Generator) -> np.ndarray:
    """A critical point of ``subset`` = I as a flat vector: ``W2 W1 = P_I``, in a random
    gauge A."""
    W1 = np.zeros((HIDDEN, N_IN))
    W2 = np.zeros((N_IN, HIDDEN))
    W1[:len(subset)] = U[:, list(subset)].T
    W2[:, :len(subset)] = U[:, list(subset)]
    A = np.eye(HIDDEN) + 0.3 * rng.standard_normal((HIDDEN, HIDDEN))
    return np.concatenate([(np.linalg.solve(A, W1)).ravel(), (W2 @ A).ravel()])


def check_analytic(seed: int = 0) -> list[dict[str, Any]]:
    """classify at every analytic critical point: its kind, loss and gradient."""
    X, U = make_data(seed)
    f = make_loss(X)
    rng = np.random.default_rng(seed + 1)
    rows = []
    for subset in subsets():
        cp = mg.classify(f, critical_point(subset, U, rng))
        nullity = int(np.sum(np.abs(cp.eigenvalues) <= cp.tol_eig))
        rows.append({"subset": subset, "kind": cp.kind, "expected_kind": analytic_kind(subset),
                     "loss": cp.value, "expected_loss": analytic_loss(subset),
                     "grad_norm": cp.grad_norm, "nullity": nullity,
                     "lambda_min": float(cp.eigenvalues[0])})
    return rows


def search(starts: int = 100, seed: int = 0, box: float = 1.5) -> dict[str, Any]:
    """find_critical_points from random starts drawn in ``[-box, box]^16``, matched to the
    analytic points by loss: the largest loss error, the kinds, and which sets I were found.

    The starts are given as ``x0`` with ``bounds=None``: the critical sets are unbounded
    orbits (``A`` may be as large as it likes), and Newton's method from a start in the box
    often converges to a point of an orbit outside it, which a box would drop.
    """
    X, _ = make_data(seed)
    f = make_loss(X)
    x0 = np.random.default_rng(seed).uniform(-box, box, (starts, 2 * HIDDEN * N_IN))
    points = mg.find_critical_points(f, None, starts=0, x0=x0)
    table = {subset: analytic_loss(subset) for subset in subsets()}
    found: dict[tuple[int, ...], int] = {}
    worst, wrong_kinds = 0.0, []
    for p in points:
        subset = min(table, key=lambda s: abs(table[s] - p.value))
        worst = max(worst, abs(table[subset] - p.value))
        found[subset] = found.get(subset, 0) + 1
        if p.kind != analytic_kind(subset):
            wrong_kinds.append((subset, p.kind))
    return {"points": points, "found": found, "max_loss_error": worst,
            "wrong_kinds": wrong_kinds, "missing": [s for s in table if s not in found]}


def main(verbose: bool = True, starts: int = 100) -> dict[str, Any]:
    rows = check_analytic()
    result = search(starts=starts)
    if verbose:
        print(f"Linear autoencoder n={N_IN}, p={HIDDEN}, eigenvalues of X X^T "
              f"{EIGENVALUES.tolist()}")
        print("\nclassify at the analytic critical points (random gauge):")
        print(f"  {'subset':10} {'kind':11} {'loss':>7} {'analytic':>9} {'|g|':>9} {'null':>4} "
              f"{'lambda_min':>11}")
        for r in rows:
            print(f"  {str(r['subset']):10} {r['kind']:11} {r['loss']:7.4f} "
                  f"{r['expected_loss']:9.4f} {r['grad_norm']:9.1e} {r['nullity']:4d} "
                  f"{r['lambda_min']:11.4f}")
        print(f"\nfind_critical_points, {starts} random starts drawn in [-1.5, 1.5]^16: "
              f"{len(result['points'])} points")
        for subset, count in sorted(result["found"].items(), key=lambda kv: analytic_loss(kv[0])):
            print(f"  subset={str(subset):10} loss {analytic_loss(subset):6.3f}  found {count}x")
        print(f"  largest |loss - analytic| = {result['max_loss_error']:.1e}; "
              f"wrong kinds: {result['wrong_kinds'] or 'none'}; "
              f"not found: {result['missing'] or 'none'}")
    return {"analytic": rows, **result}


if __name__ == "__main__":
    main(starts=int(sys.argv[1]) if len(sys.argv) > 1 else 100)
