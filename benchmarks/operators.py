"""Cost of the curvature operators beside the Hessian: Gauss-Newton products, diagonal blocks.

Model: MLP 64-64-10, tanh, batch 256, softmax cross-entropy, float64 (the size of the
digits models); one BLAS thread for every contender.  Per product, medians of repeats
interleaved in a shuffled order, in one run:

- microgd Hessian-vector product with the gradient graph reused (HessianOperator): the unit;
- microgd GGNOperator product (linearization and model graph recorded once, reused);
- microgd ggn_vp called afresh (jvp, loss hvp and vjp rebuilt per call): what the operator
  saves;
- a diagonal-block product (BlockOperator: one full product, restricted);
- PyTorch's Gauss-Newton product (torch.func.jvp, a loss double backward, and a vjp);
- one Hutchinson probe of hessian_diagonal, in units of one product.

Run: python benchmarks/operators.py [--quick]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")
# One thread for NumPy's BLAS and for torch alike: on a shared 2-core machine two threads
# each measured several times slower (they spin waiting for a core).
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import argparse  # noqa: E402
import gc  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import microgd as mg  # noqa: E402
from microgd.operators import BlockOperator, GGNOperator  # noqa: E402
from microgd.transforms import HessianOperator, flatten  # noqa: E402

try:
    import torch  # noqa: E402

    torch.set_num_threads(1)
except ImportError:
    torch = None

SIZES = (64, 64, 10)
BATCH = 256


def problem(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((BATCH, SIZES[0]))
    Y = np.eye(SIZES[-1])[rng.integers(0, SIZES[-1], BATCH)]
    params = []
    for a, b in zip(SIZES[:-1], SIZES[1:], strict=True):
        params += [rng.standard_normal((a, b)) / np.sqrt(a), 0.1 * rng.standard_normal(b)]
    return X, Y, params, [rng.standard_normal(p.shape) for p in params]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    repeats = 15 if args.quick else 60
    X, Y, params, v = problem()

    def model(ps):
        return mg.tanh(X @ ps[0] + ps[1]) @ ps[2] + ps[3]

    def loss(z):
        return -(mg.log_softmax(z, axis=1) * Y).sum() / BATCH

    def f(ps):
        return loss(model(ps))

    H = HessianOperator(f, params)
    G = GGNOperator(model, loss, params)
    B = BlockOperator(H, 0)
    flat_v = flatten(v)
    block_v = np.ravel(v[0])
    # the products agree with the fresh ggn_vp, so the timing compares like with like
    ref = flatten(mg.ggn_vp(model, loss, params, v))
    assert np.allclose(G.matvec(flat_v), ref, rtol=1e-10, atol=1e-12)

    contenders = {
        "microgd hvp (graph reused)": lambda: H.matvec(flat_v),
        "microgd GGNOperator product": lambda: G.matvec(flat_v),
        "microgd ggn_vp (fresh)": lambda: mg.ggn_vp(model, loss, params, v),
        "microgd diagonal-block product": lambda: B.matvec(block_v),
    }
    if torch is not None:
        from torch.func import jvp, vjp

        Xt, Yt = torch.tensor(X), torch.tensor(Y)
        pt = tuple(torch.tensor(p) for p in params)
        vt = tuple(torch.tensor(a) for a in v)

        def tmodel(*ps):
            return torch.tanh(Xt @ ps[0] + ps[1]) @ ps[2] + ps[3]

        def tloss(z):
            return -(torch.log_softmax(z, dim=1) * Yt).sum() / BATCH

        def torch_ggn():
            z, jv = jvp(tmodel, pt, vt)
            z = z.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(tloss(z), z, create_graph=True)
            (hjv,) = torch.autograd.grad(g, z, grad_outputs=jv)
            _, f_vjp = vjp(tmodel, *pt)
            return f_vjp(hjv)

        got = np.concatenate([t.numpy().ravel() for t in torch_ggn()])
        assert np.allclose(got, ref, rtol=1e-10, atol=1e-12)
        contenders["torch GGN product (jvp, double backward, vjp)"] = torch_ggn

    for fn in contenders.values():  # warm up
        fn()
    times = {k: [] for k in contenders}
    gc.collect()
    gc.freeze()
    order = np.random.default_rng(0)
    names = list(contenders)
    for _ in range(repeats):  # round-robin in a shuffled order: the same load, no order bias
        for name in order.permutation(names):
            fn = contenders[name]
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    med = {k: float(np.median(t)) for k, t in times.items()}
    unit = med["microgd hvp (graph reused)"]
    print(f"MLP {'-'.join(map(str, SIZES))}, batch {BATCH}, {H.n} parameters; medians of "
          f"{repeats}")
    for name, t in med.items():
        print(f"  {name:46} {t * 1e3:8.3f} ms   {t / unit:5.2f} x hvp")
    t = time.perf_counter()
    probes = 100
    mg.hessian_diagonal(f, params, samples=probes)
    per = (time.perf_counter() - t) / probes
    print(f"  hessian_diagonal, per probe (incl. its graph)  {per * 1e3:8.3f} ms   "
          f"{per / unit:5.2f} x hvp")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
