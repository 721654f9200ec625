"""Core benchmarks: microgd beside a hand-written NumPy floor and its peers, in one run.

Usage::

    python benchmarks/core.py            # full run, about ten minutes
    python benchmarks/core.py --quick    # about two minutes
    python benchmarks/core.py --json results.json

Every contender is timed the way its users write it (``optim.SGD(...).step()``,
``torch.optim.Adam``, ``mg.fit``).  Sections (see benchmarks/README.md):

(a) one training step of an MLP 784-512-512-10 (ReLU, softmax cross-entropy, batch
    128) in float32 and float64, with SGD and with Adam: hand-written NumPy (the
    floor), microgd through ``optim.SGD`` / ``optim.Adam``, HIPS autograd with the
    floor's update, PyTorch CPU through ``torch.optim``.
    Target: microgd's ``optim.SGD`` step <= 1.05x the floor.
(b) a scalar chain ``y = y * 0.9999 + 0.0001`` of 10^4 .. 10^6 nodes: microseconds per
    node for the forward build and for ``backward()``, and how flat that stays.
    Targets: backward <= 2 us per node, flat (collector off); forward + backward
    <= 2 us per node at 10^5 and 10^6 nodes with the collector on.
(c) micrograd's own demo (MLP(2, [16, 16, 1]) on 100 two-moons points, SVM max-margin
    loss + L2): micrograd, microgd built from scalar Values node for node, and microgd
    vectorized.  Targets: scalar <= 1.0x micrograd; vectorized >= 100x faster.
(d) one epoch of the MLP through ``mg.fit`` (with and without ``record_path``) beside
    the same steps as a bare loop.  Target: fit <= 1.05x the loop, per step.
(e) the course's toy ``y = x * w``, 100 epochs of GD and of per-sample SGD, written the
    obvious way with ``optim.GD`` / ``optim.SGD``, beside micrograd written the same way.
    Target: microgd <= 1.0x micrograd.
(f) NumPy's dispatch: ``np.NAME(v)`` on a Value against ``mg.NAME(v)``, for names of
    every family of the vocabulary, microseconds per call on a small array.
    Target: at most 2 us more than ``mg.NAME(v)``.

Contenders are timed round-robin (A, B, C, B, C, A, ...) over many repeats and
compared by their medians, so drifts of the machine hit all of them alike.
"""

# Thread settings must be in the environment before NumPy (OpenBLAS) or torch load.
import os

# After each BLAS call, OpenBLAS worker threads otherwise busy-wait for a long
# time, stealing a core from whatever runs next (here: the next contender).
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

import sys  # noqa: E402


def _early_option(argv: list[str], name: str, default: str) -> str:
    """The value of ``--name V`` or ``--name=V``, read before argparse runs (because
    NumPy must not be loaded yet); argparse checks it again later."""
    for i, arg in enumerate(argv):
        if arg.startswith(f"--{name}="):
            return arg.split("=", 1)[1]
        if arg == f"--{name}" and i + 1 < len(argv):
            return argv[i + 1]
    return default


# The same number of threads for every peer (NumPy's OpenBLAS, torch's OpenMP and MKL).
THREADS = int(_early_option(sys.argv, "threads", "2"))
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = str(THREADS)

# glibc's malloc gives the free top of its heap back to the system once it passes a
# trim threshold, which it adapts as the process runs (twice the mmap threshold, which
# rises to the largest block freed so far).  Whether a step's multi-megabyte
# temporaries end at the top of the heap depends on what was allocated before (torch's
# import, another contender), and where they do, every step faults their pages in
# afresh: seen here, the float64 floor took 1,536 page faults and 8.4 ms a step instead
# of none and 5.4 ms.  Fixed thresholds (blocks up to 32 MB from the heap, glibc's
# ceiling for its own adaptive one; the top kept up to 1 GB) give every contender the
# same heap whatever ran before it.  --malloc default leaves glibc as it starts.
MALLOC_MMAP_MAX = 32 << 20
MALLOC_TRIM_MIN = 1 << 30


def _pin_malloc(argv: list[str]) -> str:
    """Fix glibc's mmap and trim thresholds (unless ``--malloc default``); say what was done."""
    if _early_option(argv, "malloc", "pinned") == "default":
        return "malloc: glibc's adaptive thresholds (--malloc default)"
    import ctypes
    import platform
    if platform.libc_ver()[0] != "glibc":
        return "malloc: not glibc, left as it is"
    libc = ctypes.CDLL(None)
    m_trim_threshold, m_mmap_threshold = -1, -3  # <malloc.h>
    if not (libc.mallopt(m_mmap_threshold, MALLOC_MMAP_MAX)
            and libc.mallopt(m_trim_threshold, MALLOC_TRIM_MIN)):
        return "malloc: mallopt refused the fixed thresholds; glibc's adaptive ones are used"
    return (f"malloc: fixed thresholds (mmap above {MALLOC_MMAP_MAX >> 20} MB, trim above "
            f"{MALLOC_TRIM_MIN >> 20} MB) for every contender; --malloc default to compare")


MALLOC = _pin_malloc(sys.argv)

import argparse  # noqa: E402
import gc  # noqa: E402
import importlib  # noqa: E402
import importlib.metadata  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

try:
    import resource  # noqa: E402  (Unix only: page-fault counts)
except ImportError:
    resource = None  # type: ignore[assignment]

import numpy as np  # noqa: E402

# Benchmark the working tree this file lives in, installed or not.
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import microgd as mg  # noqa: E402
from microgd import optim  # noqa: E402

NOTES: list[str] = []


def _optional(name: str) -> Any:
    """Import a peer, or return None and leave a note saying why it is skipped."""
    try:
        return importlib.import_module(name)
    except Exception as exc:  # any failure to import means: skip this peer
        NOTES.append(f"{name} skipped: not importable ({type(exc).__name__}: {exc})")
        return None


torch = _optional("torch")
autograd = _optional("autograd")
anp = _optional("autograd.numpy") if autograd is not None else None
micrograd_engine = _optional("micrograd.engine")
micrograd_nn = _optional("micrograd.nn") if micrograd_engine is not None else None

if torch is not None:
    torch.set_num_threads(THREADS)

# A full GC pass walks every tracked object; torch alone brings tens of thousands.
# Freezing moves everything imported so far out of the collector's sight.
gc.collect()
gc.freeze()

perf = time.perf_counter

# --------------------------------------------------------------------------
# timing


def interleave(
    contenders: dict[str, Callable[[], Any]], repeats: int, warmup: int = 2,
    lead_in: float = 0.010, budget: float = float("inf"), min_repeats: int = 5,
    faults: dict[str, list[int]] | None = None,
) -> dict[str, list[float]]:
    """Time each contender ``repeats`` times, round-robin; return seconds per call.

    The starting contender rotates every round, so none always runs first.
    Before each timed call, untimed: the garbage left by the previous call is
    collected, so a contender pays only for the collections its own
    allocations trigger, not for another's reference cycles; then the same
    contender runs for at least ``lead_in`` seconds (at least once), so the
    timed call finds it in its own steady state, as in a training loop, and
    not in the wake of its predecessor.  That matters: torch's OpenMP workers
    spin for about 4 ms after each call, holding the core that the next
    contender's BLAS thread wants.  (Sleeping instead is worse on a virtual
    machine: the idle second vCPU is halted and waking it costs milliseconds.)

    Rounds stop early once ``budget`` seconds have passed and at least
    ``min_repeats`` rounds are done (a slow machine gets fewer, not longer, rounds).
    With ``faults``, the page faults of each timed call are put there too
    (counted outside the timed interval; empty where the OS does not say).
    """
    names = list(contenders)
    for name in names:
        for _ in range(warmup):
            contenders[name]()
    times: dict[str, list[float]] = {n: [] for n in names}
    t_start = perf()
    for r in range(repeats):
        if r >= min_repeats and perf() - t_start > budget:
            break
        k = r % len(names)
        for name in names[k:] + names[:k]:
            fn = contenders[name]
            gc.collect()
            if lead_in > 0:
                t_lead = perf()
                fn()
                while perf() - t_lead < lead_in:
                    fn()
            f0 = _page_faults() if faults is not None else None
            t0 = perf()
            fn()
            times[name].append(perf() - t0)
            if f0 is not None and faults is not None:
                faults.setdefault(name, []).append(_page_faults() - f0)  # type: ignore[operator]
    return times


def _page_faults() -> int | None:
    """This process's page faults so far (minor and major), or None where unknown."""
    if resource is None:
        return None
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_minflt + usage.ru_majflt


def min_rounds(quick: bool) -> int:
    """Rounds made even past the time budget: fewer with --quick, which only has to run."""
    return 3 if quick else 5


def paired(times: dict[str, list[float]], name: str, floor: str) -> float:
    """Median over rounds of the ratio within a round (robust to slow phases of the machine)."""
    return med([a / b for a, b in zip(times[name], times[floor], strict=True)])


def med(xs: list[float]) -> float:
    return statistics.median(xs)


def spread(xs: list[float]) -> float:
    """Interquartile range relative to the median (a robust noise measure)."""
    if len(xs) < 4:
        return (max(xs) - min(xs)) / med(xs)
    q = statistics.quantiles(xs, n=4)
    return (q[2] - q[0]) / med(xs)


ROWS: list[dict[str, Any]] = []  # the summary table
RESULTS: dict[str, Any] = {}  # everything, for --json


UNSTABLE_IQR = 0.5  # a floor whose IQR exceeds half its median saw slow phases


def row(name: str, ms: float, ratio: str, target: str, ok: bool | None,
        paired_ratio: float | None = None, noisy: bool = False) -> None:
    status = "-" if ok is None else ("PASS" if ok else "MISS")
    if noisy and ok is not None:
        status += " (noisy)"
    ROWS.append({"name": name, "median_ms": ms, "ratio": ratio, "target": target,
                 "status": status, "paired": paired_ratio})


BUSY_MAX = 0.10  # other processes using more than this share of the CPUs: results unreliable


class Background:
    """How much of the machine's CPUs *other* processes used while a section ran.

    From ``/proc/stat`` (all CPUs' busy time, steal included) minus this
    process's own CPU time (``os.times``).  Other engineers' test runs on the
    same machine are the main source of noise: with two BLAS threads on two
    CPUs, one busy neighbour makes every matmul wait for a time slice.
    ``share`` is None where ``/proc/stat`` is not available.
    """

    def __init__(self) -> None:
        self.share: float | None = None
        self._start = self._snapshot()

    @staticmethod
    def _snapshot() -> tuple[float, float, float] | None:
        try:
            with open("/proc/stat") as f:
                ticks = [int(v) for v in f.readline().split()[1:9]]
        except (OSError, ValueError):
            return None
        # user nice system idle iowait irq softirq steal: all but idle and iowait are busy
        busy = (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")
        t = os.times()
        return perf(), busy, t.user + t.system

    def stop(self) -> float | None:
        end = self._snapshot()
        if self._start is None or end is None:
            return None
        wall = end[0] - self._start[0]
        others = (end[1] - self._start[1]) - (end[2] - self._start[2])
        self.share = max(0.0, others / (wall * (os.cpu_count() or 1)))
        return self.share

    def report(self) -> str:
        if self.share is None:
            return "  background load: unknown (no /proc/stat)"
        text = (f"  background load: other processes used {self.share * 100:.0f}% of the "
                f"{os.cpu_count()} CPUs meanwhile")
        if self.share > BUSY_MAX:
            text += " -- the machine was busy, these numbers are unreliable; re-run when idle"
        return text

    @property
    def busy(self) -> bool:
        return self.share is not None and self.share > BUSY_MAX


def print_times(times: dict[str, list[float]], floor: str, label: str = "ratio",
                faults: dict[str, list[int]] | None = None) -> None:
    """The contenders' medians beside ``floor``'s; with ``faults``, each one's median
    page faults per timed call (a contender whose memory is faulted in afresh on each
    call pays for the operating system, not for its own work)."""
    base = med(times[floor])
    show = bool(faults) and all(name in faults for name in times)  # type: ignore[operator]
    print(f"  {'contender':<28}{'median ms':>11}{'IQR/med':>9}{label:>10}{'paired':>9}"
          + (f"{'faults':>8}" if show else "")
          + f"   (n={len(times[floor])}; paired = median of per-round ratios"
          + ("; faults = median page faults per timed call)" if show else ")"))
    for name, ts in times.items():
        print(f"  {name:<28}{med(ts) * 1e3:>11.3f}{spread(ts) * 100:>8.1f}%"
              f"{med(ts) / base:>9.3f}x{paired(times, name, floor):>8.3f}x"
              + (f"{med(faults[name]):>8.0f}" if show else ""))  # type: ignore[index]
    if spread(times[floor]) > UNSTABLE_IQR:
        print(f"  WARNING: {floor}'s times spread over {spread(times[floor]) * 100:.0f}% "
              "(IQR/median): the machine had slow phases, the times are a mixture and the "
              "ratio of medians is unreliable; the paired ratio is the robust one. "
              "Re-run, or try --threads 1.")


# --------------------------------------------------------------------------
# (a) MLP 784-512-512-10, one training step: SGD and Adam, each as its users write it

SIZES = (784, 512, 512, 10)
BATCH = 128
LR = 0.01
ADAM_LR = 1e-3  # torch.optim.Adam's default, as are the betas and eps
BETAS = (0.9, 0.999)
EPS = 1e-8
SGD_TARGET = 1.05  # microgd's optim.SGD step over the NumPy floor's step
ADAM_F32_ATOL = 0.05 * ADAM_LR  # see bench_mlp
CHECK_STEPS = 2  # steps compared against the floor (Adam's first step is ~lr * sign(g))
FLOOR_SGD = "numpy (floor)"
FLOOR_ADAM = "numpy Adam (floor)"


def mlp_setup(dtype: Any, seed: int = 0) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """He-initialized weights (fan_in, fan_out), zero biases, a fixed batch and labels."""
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:], strict=True):
        params.append((rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in))
                      .astype(dtype))
        params.append(np.zeros(fan_out, dtype=dtype))
    X = rng.standard_normal((BATCH, SIZES[0])).astype(dtype)
    labels = rng.integers(0, SIZES[-1], size=BATCH)
    return params, X, labels


def numpy_loss_grads_fn(params: list[np.ndarray], X: np.ndarray,
                        onehot: np.ndarray) -> Callable[[], tuple[float, tuple]]:
    """The floor's forward and backward: softmax-CE and its gradient by hand."""
    W1, b1, W2, b2, W3, b3 = params
    n = X.shape[0]

    def loss_grads() -> tuple[float, tuple]:
        h1 = X @ W1
        h1 += b1
        np.maximum(h1, 0, out=h1)
        h2 = h1 @ W2
        h2 += b2
        np.maximum(h2, 0, out=h2)
        z = h2 @ W3
        z += b3
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        s = e.sum(axis=1, keepdims=True)
        loss = -((z - np.log(s)) * onehot).sum() / n
        # d loss / d logits = (softmax - onehot) / n
        d3 = e / s
        d3 -= onehot
        d3 /= n
        gW3 = h2.T @ d3
        gb3 = d3.sum(axis=0)
        d2 = d3 @ W3.T
        d2 *= h2 > 0
        gW2 = h1.T @ d2
        gb2 = d2.sum(axis=0)
        d1 = d2 @ W2.T
        d1 *= h1 > 0
        gW1 = X.T @ d1
        gb1 = d1.sum(axis=0)
        return float(loss), (gW1, gb1, gW2, gb2, gW3, gb3)

    return loss_grads


def numpy_sgd_update(params: list[np.ndarray], grads: Any) -> None:
    """The floor's SGD update, in place."""
    for p, g in zip(params, grads, strict=True):
        p -= LR * g


class NumpyAdam:
    """The floor's Adam: ``torch.optim.Adam``'s formulas (no weight decay), in place.

    ``m <- b1 m + (1 - b1) g``, ``v <- b2 v + (1 - b2) g^2``,
    ``p <- p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)``,
    computed in one preallocated buffer per parameter (no temporaries).
    """

    def __init__(self, params: list[np.ndarray]) -> None:
        self.params = params
        self.t = 0
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.buf = [np.empty_like(p) for p in params]

    def update(self, grads: Any) -> None:
        self.t += 1
        b1, b2 = BETAS
        step_size = ADAM_LR / (1 - b1 ** self.t)
        bc2_sqrt = math.sqrt(1 - b2 ** self.t)
        for p, g, m, v, buf in zip(self.params, grads, self.m, self.v, self.buf, strict=True):
            m *= b1
            np.multiply(g, 1 - b1, out=buf)
            m += buf
            v *= b2
            np.multiply(g, g, out=buf)
            buf *= 1 - b2
            v += buf
            np.sqrt(v, out=buf)
            buf /= bc2_sqrt
            buf += EPS
            np.divide(m, buf, out=buf)
            buf *= step_size
            p -= buf


def numpy_step_fn(params: list[np.ndarray], X: np.ndarray, onehot: np.ndarray,
                  update: Callable[[Any], None]) -> Callable[[], float]:
    """The floor: forward and backward by hand, then ``update(grads)`` in place."""
    loss_grads = numpy_loss_grads_fn(params, X, onehot)

    def step() -> float:
        loss, grads = loss_grads()
        update(grads)
        return loss

    return step


def microgd_loss(params: list[Any], X: np.ndarray, onehot: np.ndarray) -> Any:
    """The MLP's loss as a microgd user writes it (``X`` and ``onehot`` plain ndarrays)."""
    W1, b1, W2, b2, W3, b3 = params
    h1 = (X @ W1 + b1).relu()
    h2 = (h1 @ W2 + b2).relu()
    logits = h2 @ W3 + b3
    return -(mg.log_softmax(logits, axis=1) * onehot).sum() / X.shape[0]


def microgd_step_fn(params: list[Any], X: np.ndarray, onehot: np.ndarray,
                    opt: Any) -> Callable[[], float]:
    """The user's training step: zero_grad, loss, backward, ``opt.step()``."""

    def step() -> float:
        opt.zero_grad()
        loss = microgd_loss(params, X, onehot)
        loss.backward()
        opt.step()
        return float(loss.data)

    return step


def microgd_raw_step_fn(params: list[Any], X: np.ndarray, onehot: np.ndarray) -> Callable:
    """The update written by hand on ``.data`` (what the headline figure used to time)."""

    def step() -> float:
        loss = microgd_loss(params, X, onehot)
        loss.backward()
        for p in params:
            p.data -= LR * p.grad
            p.zero_grad()
        return float(loss.data)

    return step


def autograd_step_fn(params: list[np.ndarray], X: np.ndarray, onehot: np.ndarray,
                     update: Callable[[Any], None]) -> Callable[[], float]:
    """HIPS autograd's ``value_and_grad``, then the floor's NumPy update of the same kind."""
    n = X.shape[0]

    def loss_fn(ps: list[Any]) -> Any:
        W1, b1, W2, b2, W3, b3 = ps
        h1 = anp.maximum(anp.dot(X, W1) + b1, 0.0)
        h2 = anp.maximum(anp.dot(h1, W2) + b2, 0.0)
        z = anp.dot(h2, W3) + b3
        z = z - anp.max(z, axis=1, keepdims=True)
        logp = z - anp.log(anp.sum(anp.exp(z), axis=1, keepdims=True))
        return -anp.sum(logp * onehot) / n

    vg = autograd.value_and_grad(loss_fn)

    def step() -> float:
        loss, grads = vg(params)
        update(grads)
        return float(loss)

    return step


def torch_step_fn(params: list[Any], X: np.ndarray, labels: np.ndarray,
                  opt: Any) -> Callable[[], float]:
    """The torch user's step: ``opt.zero_grad()``, loss, backward, ``opt.step()``."""
    Xt = torch.from_numpy(X)
    yt = torch.from_numpy(labels)
    W1, b1, W2, b2, W3, b3 = params
    cross_entropy = torch.nn.functional.cross_entropy

    def step() -> float:
        opt.zero_grad()
        h1 = torch.relu(Xt @ W1 + b1)
        h2 = torch.relu(h1 @ W2 + b2)
        loss = cross_entropy(h2 @ W3 + b3, yt)  # mean over the batch
        loss.backward()
        opt.step()
        return float(loss.detach())

    return step


def _contenders_mlp(dtype: Any, rule: str) -> tuple[dict[str, Callable], dict[str, Callable]]:
    """Fresh contenders (``rule`` "sgd" or "adam") from the same initial weights.

    Also returns, for each, a getter of its current weights as ndarrays.
    """
    arrays, X, labels = mlp_setup(dtype)
    onehot = np.eye(SIZES[-1], dtype=dtype)[labels]
    steps: dict[str, Callable] = {}
    weights: dict[str, Callable] = {}
    sgd = rule == "sgd"

    def numpy_update(ps: list[np.ndarray]) -> Callable[[Any], None]:
        if sgd:
            return lambda grads: numpy_sgd_update(ps, grads)
        return NumpyAdam(ps).update

    floor = [a.copy() for a in arrays]
    name = FLOOR_SGD if sgd else FLOOR_ADAM
    steps[name] = numpy_step_fn(floor, X, onehot, numpy_update(floor))
    weights[name] = lambda: floor

    mparams = [mg.Value(a.copy()) for a in arrays]
    mopt = optim.SGD(mparams, lr=LR) if sgd else optim.Adam(mparams, lr=ADAM_LR, betas=BETAS,
                                                             eps=EPS)
    name = "microgd optim.SGD" if sgd else "microgd optim.Adam"
    steps[name] = microgd_step_fn(mparams, X, onehot, mopt)
    weights[name] = lambda: [p.data for p in mparams]

    if sgd:
        rparams = [mg.Value(a.copy()) for a in arrays]
        steps["microgd p.data -= lr*grad"] = microgd_raw_step_fn(rparams, X, onehot)
        weights["microgd p.data -= lr*grad"] = lambda: [p.data for p in rparams]
    if autograd is not None:
        aparams = [a.copy() for a in arrays]
        name = "autograd (HIPS)" if sgd else "autograd + numpy Adam"
        steps[name] = autograd_step_fn(aparams, X, onehot, numpy_update(aparams))
        weights[name] = lambda: aparams
    if torch is not None:
        tparams = [torch.tensor(a, requires_grad=True) for a in arrays]
        topt = (torch.optim.SGD(tparams, lr=LR) if sgd
                else torch.optim.Adam(tparams, lr=ADAM_LR, betas=BETAS, eps=EPS))
        name = "torch optim.SGD" if sgd else "torch optim.Adam"
        steps[name] = torch_step_fn(tparams, X, labels, topt)
        weights[name] = lambda: [p.detach().numpy() for p in tparams]
    return steps, weights


def _tolerance(dtype: Any) -> dict[str, Any]:
    return ({"rtol": 2e-4, "atol": 1e-6} if np.dtype(dtype) == np.float32
            else {"rtol": 1e-9, "atol": 1e-12})


def _check_against_floor(steps: dict[str, Callable], weights: dict[str, Callable], floor: str,
                         dtype: Any, what: str, n_steps: int, weight_atol: float = 0.0,
                         rare_atol: float = 0.0) -> list[float]:
    """Run ``n_steps`` of every contender; each loss and every final weight must match the floor.

    ``weight_atol`` (if larger than the dtype's) is the absolute tolerance of
    the weights.  With ``rare_atol``, at most one weight in 10^4 of a
    parameter may miss ``weight_atol``, by at most ``rare_atol``.  Returns the
    floor's losses.
    """
    name = np.dtype(dtype).name
    tol = _tolerance(dtype)
    wtol: dict[str, Any] = {**tol, "atol": max(tol["atol"], weight_atol)}
    losses = {k: [fn() for _ in range(n_steps)] for k, fn in steps.items()}
    ref = weights[floor]()
    for k in steps:
        np.testing.assert_allclose(losses[k], losses[floor], **tol,
                                   err_msg=f"{what} {name} {k}: losses differ from the floor")
        for i, (a, b) in enumerate(zip(weights[k](), ref, strict=True)):
            assert a.dtype == np.dtype(dtype), f"{what} {name} {k}: param {i} became {a.dtype}"
            if rare_atol:
                off = ~np.isclose(a, b, **wtol)
                worst = float(np.max(np.abs(a - b), initial=0.0))
                assert off.mean() <= 1e-4 and worst <= rare_atol, (
                    f"{what} {name} {k}: parameter {i} after {n_steps} steps differs from the "
                    f"floor at {int(off.sum())} of {off.size} weights, by up to {worst:.3g}")
                continue
            np.testing.assert_allclose(a, b, **wtol, err_msg=(
                f"{what} {name} {k}: parameter {i} after {n_steps} steps differs from the floor"))
    return losses[floor]


def _judged_row(label: str, times: dict[str, list[float]], name: str, floor: str,
                target: float, what: str, noisy: bool) -> None:
    """A row judged by the paired ratio; "(noisy)" when the ratio of medians disagrees."""
    ratio = med(times[name]) / med(times[floor])
    pr = paired(times, name, floor)
    ok = pr <= target
    row(label, med(times[name]) * 1e3, f"{ratio:.3f}x", f"<= {target:.2f}x {what}", ok, pr,
        noisy or (ratio <= target) != ok)


def _stats(times: dict[str, list[float]], floor: str,
           faults: dict[str, list[int]] | None = None, scale: float = 1.0) -> dict[str, Any]:
    base = med(times[floor])
    out = {k: {"median_s": med(ts) * scale, "iqr_rel": spread(ts), "ratio": med(ts) / base,
               "paired_ratio": paired(times, k, floor), "n": len(ts)}
           for k, ts in times.items()}
    for k, fs in (faults or {}).items():
        out[k]["median_page_faults"] = med(fs)
    return out


def bench_mlp(quick: bool) -> None:
    print(f"\n(a) MLP {'-'.join(map(str, SIZES))} ReLU, batch {BATCH}, softmax-CE, one "
          f"training step; SGD lr {LR}, Adam lr {ADAM_LR:g}; {THREADS} BLAS threads")
    RESULTS["mlp"] = {}
    for dtype in (np.float32, np.float64):
        name = np.dtype(dtype).name
        RESULTS["mlp"][name] = {}
        for rule, floor in (("sgd", FLOOR_SGD), ("adam", FLOOR_ADAM)):
            # Verify first: the same steps from the same weights give the same losses and
            # weights; then time fresh contenders.
            steps, weights = _contenders_mlp(dtype, rule)
            # Adam moves a weight by lr * g / (|g| + eps): where float32 rounding leaves a
            # gradient near 0 with a different sign or size, the moves differ by up to lr.
            # Such weights are rare (at most 1 in 10^4 may miss ADAM_F32_ATOL, by at most
            # 2 lr); an error in the rule would be of order lr on most weights, and float64
            # checks the rule to 1e-9.
            f32_adam = rule == "adam" and np.dtype(dtype) == np.float32
            losses = _check_against_floor(steps, weights, floor, dtype, f"mlp {rule}",
                                          CHECK_STEPS, ADAM_F32_ATOL if f32_adam else 0.0,
                                          2 * CHECK_STEPS * ADAM_LR if f32_adam else 0.0)
            print(f"  [{name} {rule}] checked: every contender's losses "
                  f"({', '.join(f'{v:.6f}' for v in losses)}) and weights after "
                  f"{CHECK_STEPS} steps match the floor")
            steps, _ = _contenders_mlp(dtype, rule)
            bg = Background()
            faults: dict[str, list[int]] = {}
            times = interleave(steps, repeats=25 if quick else 150, warmup=3,
                               budget=8 if quick else 60, min_repeats=min_rounds(quick),
                               faults=faults)
            bg.stop()
            print(f"  [{name} {rule}]")
            print_times(times, floor, faults=faults)
            print(bg.report())
            RESULTS["mlp"][name][rule] = _stats(times, floor, faults)
            RESULTS["mlp"][name][rule]["background_load"] = bg.share
            noisy = spread(times[floor]) > UNSTABLE_IQR or bg.busy
            for k, ts in times.items():
                label = f"mlp {name} {k}"
                if k == "microgd optim.SGD":
                    _judged_row(label, times, k, floor, SGD_TARGET, "floor", noisy)
                else:
                    row(label, med(ts) * 1e3, f"{med(ts) / med(times[floor]):.3f}x", "", None,
                        paired(times, k, floor))


# --------------------------------------------------------------------------
# (b) scalar chain

CHAIN_TARGET_US = 2.0
CHAIN_TOTAL_TARGET_US = 2.0  # forward + backward per node, with the collector on
CHAIN_TOTAL_FROM = 10**5  # ... judged at this size and above
FLAT_MAX = 1.5  # "flat": per-node time at the largest size within 1.5x of 10^4


def chain_once(n_nodes: int, gc_on: bool) -> tuple[float, float]:
    """Seconds for the forward build and for backward of a chain of ``n_nodes`` nodes."""
    n = n_nodes // 2  # a mul and an add per iteration
    x = mg.Value(0.5)
    was = gc.isenabled()
    if gc_on:
        gc.enable()
    else:
        gc.disable()
    try:
        t0 = perf()
        y = x
        for _ in range(n):
            y = y * 0.9999 + 0.0001
        t1 = perf()
        y.backward()
        t2 = perf()
    finally:
        if was:
            gc.enable()
        else:
            gc.disable()
    expected = 0.9999 ** n
    got = float(x.grad)
    assert abs(got - expected) <= 1e-9 * expected, f"chain {n_nodes}: x.grad {got} != {expected}"
    return t1 - t0, t2 - t1


def bench_chain(quick: bool) -> None:
    print("\n(b) scalar chain y = y * 0.9999 + 0.0001 (2 nodes per step); us per node; "
          "x.grad checked against 0.9999**n")
    sizes = [10**4, 10**5] if quick else [10**4, 10**5, 10**6]
    reps = {10**4: 15 if quick else 41, 10**5: 5 if quick else 11, 10**6: 3}
    RESULTS["chain"] = {"sizes": {}}
    per: dict[tuple[int, str], tuple[float, float]] = {}
    total: dict[tuple[int, str], float] = {}
    print(f"  {'nodes':>9} {'GC':<8}{'fwd us/node':>12}{'bwd us/node':>12}"
          f"{'bwd IQR/med':>12}{'fwd+bwd':>10}  n")
    # Every (size, GC mode) run in one shuffled list: a slow phase of the machine
    # then hits all sizes alike instead of one of them, which would fake a trend.
    tasks = [(size, mode) for size in sizes for _ in range(reps[size])
             for mode in ("off", "default")]
    random.Random(0).shuffle(tasks)
    fw: dict[tuple[int, str], list[float]] = {t: [] for t in set(tasks)}
    bw: dict[tuple[int, str], list[float]] = {t: [] for t in set(tasks)}
    chain_once(10**4, False)  # warm-up
    bg = Background()
    for size, mode in tasks:
        gc.collect()
        f, b = chain_once(size, gc_on=(mode == "default"))
        fw[(size, mode)].append(f)
        bw[(size, mode)].append(b)
    bg.stop()
    for size in sizes:
        for mode in ("off", "default"):
            fts, bts = fw[(size, mode)], bw[(size, mode)]
            f_us = med(fts) / size * 1e6
            b_us = med(bts) / size * 1e6
            # The median of the runs' totals (not the sum of the two medians).
            t_us = med([f + b for f, b in zip(fts, bts, strict=True)]) / size * 1e6
            per[(size, mode)] = (f_us, b_us)
            total[(size, mode)] = t_us
            print(f"  {size:>9} {mode:<8}{f_us:>12.3f}{b_us:>12.3f}"
                  f"{spread(bts) * 100:>11.1f}%{t_us:>10.3f}  {len(bts)}")
            RESULTS["chain"]["sizes"].setdefault(str(size), {})[f"gc_{mode}"] = {
                "forward_us_per_node": f_us, "backward_us_per_node": b_us,
                "total_us_per_node": t_us,
                "forward_median_s": med(fts), "backward_median_s": med(bts),
                "backward_iqr_rel": spread(bts), "n": len(bts)}
    print(bg.report())
    RESULTS["chain"]["background_load"] = bg.share
    big = sizes[-1]
    print("  GC 'off': the cyclic collector disabled while timing (as timeit does);")
    print("  GC 'default': enabled as Python has it (but with the import-time heap frozen).")
    for mode in ("off", "default"):
        flat_f = per[(big, mode)][0] / per[(10**4, mode)][0]
        flat_b = per[(big, mode)][1] / per[(10**4, mode)][1]
        print(f"  flatness, GC {mode}: per-node time at {big:.0e} / at 1e4: "
              f"forward {flat_f:.2f}x, backward {flat_b:.2f}x")
        RESULTS["chain"][f"flatness_gc_{mode}"] = {"forward": flat_f, "backward": flat_b,
                                                   "largest": big}
    for mode in ("off", "default"):
        for size in sizes:
            f_us, b_us = per[(size, mode)]
            row(f"chain {size:.0e} fwd (GC {mode})", f_us * size / 1e3,
                f"{f_us:.3f} us/node", "", None)
            # The target is stated for the collector off; with it on it is reported only.
            ok = (b_us <= CHAIN_TARGET_US) if mode == "off" else None
            row(f"chain {size:.0e} bwd (GC {mode})", b_us * size / 1e3,
                f"{b_us:.3f} us/node", f"<= {CHAIN_TARGET_US:g} us/node" if ok is not None
                else "(info)", ok, noisy=bg.busy)
        flat_b = RESULTS["chain"][f"flatness_gc_{mode}"]["backward"]
        row(f"chain bwd flatness {big:.0e}/1e4 (GC {mode})", float("nan"), f"{flat_b:.2f}x",
            f"<= {FLAT_MAX:g}x" if mode == "off" else "(info)",
            flat_b <= FLAT_MAX if mode == "off" else None, noisy=bg.busy)
    # What a user's program pays: forward and backward, the collector on as Python has it.
    for size in sizes:
        if size < CHAIN_TOTAL_FROM:
            continue
        t_us = total[(size, "default")]
        ok = t_us <= CHAIN_TOTAL_TARGET_US
        row(f"chain {size:.0e} fwd+bwd (GC on)", t_us * size / 1e3, f"{t_us:.3f} us/node",
            f"<= {CHAIN_TOTAL_TARGET_US:g} us/node", ok, noisy=bg.busy)


# --------------------------------------------------------------------------
# (c) micrograd's demo: MLP(2, [16, 16, 1]) on two moons, SVM loss + L2

ALPHA = 1e-4
N_POINTS = 100


def two_moons(n: int, noise: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved half circles with Gaussian noise; labels -1 and +1."""
    rng = np.random.default_rng(seed)
    n_top = n // 2
    n_bot = n - n_top
    t_top = np.linspace(0.0, np.pi, n_top)
    t_bot = np.linspace(0.0, np.pi, n_bot)
    top = np.stack([np.cos(t_top), np.sin(t_top)], axis=1)
    bot = np.stack([1.0 - np.cos(t_bot), 0.5 - np.sin(t_bot)], axis=1)
    X = np.concatenate([top, bot]) + noise * rng.standard_normal((n, 2))
    y = np.concatenate([-np.ones(n_top), np.ones(n_bot)])
    order = rng.permutation(n)
    return X[order], y[order]


class ScalarNeuron:
    """A neuron of scalar microgd Values, built op for op like micrograd's."""

    def __init__(self, w: list[float], b: float, nonlin: bool) -> None:
        self.w = [mg.Value(wi) for wi in w]
        self.b = mg.Value(b)
        self.nonlin = nonlin

    def __call__(self, x: list[Any]) -> Any:
        act = sum((wi * xi for wi, xi in zip(self.w, x, strict=True)), self.b)
        return act.relu() if self.nonlin else act

    def parameters(self) -> list[Any]:
        return self.w + [self.b]


class ScalarLayer:
    def __init__(self, neurons: list[ScalarNeuron]) -> None:
        self.neurons = neurons

    def __call__(self, x: list[Any]) -> Any:
        out = [n(x) for n in self.neurons]
        return out[0] if len(out) == 1 else out

    def parameters(self) -> list[Any]:
        return [p for n in self.neurons for p in n.parameters()]


class ScalarMLP:
    def __init__(self, layers: list[ScalarLayer]) -> None:
        self.layers = layers

    def __call__(self, x: list[Any]) -> Any:
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self) -> list[Any]:
        return [p for layer in self.layers for p in layer.parameters()]

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.zero_grad()


def _svm_loss(model: Any, inputs: list[list[Any]], ys: list[float]) -> Any:
    """micrograd's demo loss: mean hinge (max-margin) loss plus L2 regularization."""
    scores = [model(x) for x in inputs]
    losses = [(1 + -yi * si).relu() for yi, si in zip(ys, scores, strict=True)]
    data_loss = sum(losses) * (1.0 / len(losses))
    reg_loss = ALPHA * sum(p * p for p in model.parameters())
    return data_loss + reg_loss


def bench_demo(quick: bool) -> None:
    print(f"\n(c) micrograd's demo: MLP(2, [16, 16, 1]) on {N_POINTS} two-moons points, "
          f"SVM loss + L2 {ALPHA:g}; one forward+backward")
    if micrograd_nn is None:
        print("  skipped: micrograd is not importable")
        RESULTS["demo"] = {"skipped": "micrograd not importable"}
        return
    X, y = two_moons(N_POINTS)
    xs, ys = X.tolist(), y.tolist()
    MGV = micrograd_engine.Value
    random.seed(1337)
    ref = micrograd_nn.MLP(2, [16, 16, 1])

    def micrograd_step() -> Any:
        ref.zero_grad()
        inputs = [[MGV(a) for a in row_] for row_ in xs]
        loss = _svm_loss(ref, inputs, ys)
        loss.backward()
        return loss

    # microgd, scalar: the same weights, node for node.
    layers = []
    for li, layer in enumerate(ref.layers):
        last = li == len(ref.layers) - 1
        layers.append(ScalarLayer([
            ScalarNeuron([w.data for w in n.w], float(n.b.data), nonlin=not last)
            for n in layer.neurons]))
    smodel = ScalarMLP(layers)

    def scalar_step() -> Any:
        smodel.zero_grad()
        inputs = [[mg.Value(a, requires_grad=False) for a in row_] for row_ in xs]
        loss = _svm_loss(smodel, inputs, ys)
        loss.backward()
        return loss

    # microgd, vectorized: W of shape (fan_in, fan_out), the 100 points as one array.
    vparams = []
    for layer in ref.layers:
        vparams.append(mg.Value(np.array([[w.data for w in n.w] for n in layer.neurons]).T))
        vparams.append(mg.Value(np.array([float(n.b.data) for n in layer.neurons])))
    yv = y.copy()

    def vector_step() -> Any:
        for p in vparams:
            p.zero_grad()
        W1, b1, W2, b2, W3, b3 = vparams
        h = (X @ W1 + b1).relu()
        h = (h @ W2 + b2).relu()
        scores = (h @ W3 + b3).reshape(-1)
        data_loss = (1 - yv * scores).relu().mean()
        reg_loss = ALPHA * sum((p * p).sum() for p in vparams)
        loss = data_loss + reg_loss
        loss.backward()
        return loss

    # Verify: same loss, same gradients (every weight), to 1e-9.
    l_ref = micrograd_step().data
    l_sc = float(scalar_step().data)
    l_vec = float(vector_step().data)
    np.testing.assert_allclose([l_sc, l_vec], [l_ref, l_ref], rtol=1e-9,
                               err_msg="demo: losses differ")
    g_ref = np.array([p.grad for p in ref.parameters()], dtype=float)
    g_sc = np.array([float(p.grad) for p in smodel.parameters()])
    g_vec = []
    for W, b in zip(vparams[::2], vparams[1::2], strict=True):
        for j in range(W.shape[1]):
            g_vec.extend(W.grad[:, j].tolist())
            g_vec.append(float(b.grad[j]))
    np.testing.assert_allclose(g_sc, g_ref, rtol=1e-9, atol=1e-12,
                               err_msg="demo: scalar microgd gradients differ from micrograd")
    np.testing.assert_allclose(np.array(g_vec), g_ref, rtol=1e-9, atol=1e-12,
                               err_msg="demo: vectorized gradients differ from micrograd")
    print(f"  checked: loss {l_ref:.12f} and all {len(g_ref)} parameter gradients agree "
          f"(micrograd w[0][0][0].grad = {ref.layers[0].neurons[0].w[0].grad:.6e})")

    bg = Background()
    times = interleave({"micrograd": micrograd_step, "microgd scalar": scalar_step,
                        "microgd vectorized": vector_step},
                       repeats=9 if quick else 41, warmup=1, lead_in=0.0,
                       budget=10 if quick else 60, min_repeats=min_rounds(quick))
    bg.stop()
    print_times(times, "micrograd", label="vs micro")
    print(bg.report())
    base = med(times["micrograd"])
    RESULTS["demo"] = {k: {"median_s": med(ts), "iqr_rel": spread(ts),
                           "ratio_vs_micrograd": med(ts) / base,
                           "paired_ratio": paired(times, k, "micrograd"), "n": len(ts)}
                       for k, ts in times.items()}
    sc = med(times["microgd scalar"]) / base
    vec = base / med(times["microgd vectorized"])
    print(f"  microgd scalar / micrograd = {sc:.3f}x; "
          f"microgd vectorized is {vec:.0f}x faster than micrograd")
    RESULTS["demo"]["background_load"] = bg.share
    noisy = spread(times["micrograd"]) > UNSTABLE_IQR or bg.busy
    row("demo micrograd", base * 1e3, "1.000x", "", None, 1.0)
    # Judged by the paired ratios, as in (a); "(noisy)" when the medians disagree.
    sc_p = paired(times, "microgd scalar", "micrograd")
    vec_p = 1 / paired(times, "microgd vectorized", "micrograd")
    row("demo microgd scalar", med(times["microgd scalar"]) * 1e3, f"{sc:.3f}x",
        "<= 1.00x micrograd", sc_p <= 1.0, sc_p, noisy or (sc <= 1.0) != (sc_p <= 1.0))
    row("demo microgd vectorized", med(times["microgd vectorized"]) * 1e3,
        f"{1 / vec:.4f}x ({vec:.0f}x faster)", ">= 100x faster", vec_p >= 100, 1 / vec_p,
        noisy or (vec >= 100) != (vec_p >= 100))


# --------------------------------------------------------------------------
# (d) one epoch of the MLP through mg.fit, beside the same steps written as a loop

FIT_BATCHES = 8
FIT_TARGET = 1.05  # fit's time per step over the bare loop's
PATH_BY_HAND = "bare loop + path by hand"


def _fit_contenders(arrays: list[np.ndarray], X: np.ndarray, Y: np.ndarray
                    ) -> tuple[dict[str, Callable], dict[str, Callable]]:
    """Fresh contenders of (d) from the same initial weights, and getters of their weights."""
    batches = [(X[i:i + BATCH], Y[i:i + BATCH]) for i in range(0, len(X), BATCH)]
    fns: dict[str, Callable] = {}
    weights: dict[str, Callable] = {}

    def bare(ps: list[Any], opt: Any, keep_path: bool = False) -> Callable[[], list[float]]:
        # keep_path: the path kept by hand, the cheapest way, one float64 row per step
        # copied and cast in one pass.  Writing ~8 bytes per parameter per step to new
        # memory is the floor any recorder pays, so fit's record_path is judged by it.
        def row() -> np.ndarray:
            return np.concatenate([p.data.ravel() for p in ps], dtype=np.float64)

        def epoch() -> list[float]:
            rows = [row()] if keep_path else []
            losses = []
            for xb, yb in batches:
                opt.zero_grad()
                loss = microgd_loss(ps, xb, yb)
                loss.backward()
                opt.step()
                losses.append(float(loss.data))
                if keep_path:
                    rows.append(row())
            return losses
        return epoch

    def fitted(ps: list[Any], opt: Any, record: bool) -> Callable[[], Any]:
        def loss_fn(xb: np.ndarray, yb: np.ndarray) -> Any:
            return microgd_loss(ps, xb, yb)

        return lambda: mg.fit(loss_fn, ps, (X, Y), opt, epochs=1, batch_size=BATCH,
                              shuffle=False, progress=False, record_path=record)

    for label, kind in (("bare loop (optim.SGD)", "bare"), ("mg.fit", "fit"),
                        (PATH_BY_HAND, "hand"), ("mg.fit record_path", "path")):
        ps = [mg.Value(a.copy()) for a in arrays]
        opt = optim.SGD(ps, lr=LR)
        fns[label] = (bare(ps, opt, keep_path=kind == "hand") if kind in ("bare", "hand")
                      else fitted(ps, opt, kind == "path"))
        weights[label] = (lambda ps=ps: [p.data for p in ps])
    floor = [a.copy() for a in arrays]
    floor_steps = [numpy_step_fn(floor, xb, yb, lambda g: numpy_sgd_update(floor, g))
                   for xb, yb in batches]
    fns["numpy (floor) loop"] = lambda: [s() for s in floor_steps]
    weights["numpy (floor) loop"] = lambda: floor
    return fns, weights


def bench_fit(quick: bool) -> None:
    print(f"\n(d) one epoch of the MLP through mg.fit: {FIT_BATCHES} batches of {BATCH}, "
          f"optim.SGD lr {LR}, shuffle=False, progress=False; ms per step")
    RESULTS["fit"] = {}
    for dtype in (np.float32, np.float64):
        name = np.dtype(dtype).name
        arrays, _, _ = mlp_setup(dtype)
        rng = np.random.default_rng(1)
        X = rng.standard_normal((FIT_BATCHES * BATCH, SIZES[0])).astype(dtype)
        Y = np.eye(SIZES[-1], dtype=dtype)[rng.integers(0, SIZES[-1], size=len(X))]

        # Verify: one epoch each from the same weights; same step losses, same weights.
        fns, weights = _fit_contenders(arrays, X, Y)
        out = {k: fn() for k, fn in fns.items()}
        tol = _tolerance(dtype)
        ref_w = weights["numpy (floor) loop"]()
        ref_losses = out["numpy (floor) loop"]
        for k, res in out.items():
            losses = res.step_loss if isinstance(res, mg.History) else res
            np.testing.assert_allclose(losses, ref_losses, **tol,
                                       err_msg=f"fit {name} {k}: step losses differ")
            for i, (a, b) in enumerate(zip(weights[k](), ref_w, strict=True)):
                assert a.dtype == np.dtype(dtype), f"fit {name} {k}: param {i} became {a.dtype}"
                np.testing.assert_allclose(a, b, **tol, err_msg=(
                    f"fit {name} {k}: parameter {i} after one epoch differs from the floor"))
        path = out["mg.fit record_path"].path
        assert len(path) == FIT_BATCHES + 1, f"fit {name}: {len(path)} path points recorded"
        np.testing.assert_allclose(
            path[-1], np.concatenate([w.ravel() for w in weights["mg.fit record_path"]()]),
            **tol, err_msg=f"fit {name}: record_path's last point is not the final weights")
        del out, path
        print(f"  [{name}] checked: the {FIT_BATCHES} step losses and the weights after the "
              "epoch match the floor's; record_path kept every step")

        fns, _ = _fit_contenders(arrays, X, Y)
        bg = Background()
        base = "bare loop (optim.SGD)"
        faults: dict[str, list[int]] = {}
        times = interleave(fns, repeats=25 if quick else 101, warmup=1,
                           budget=6 if quick else 40, min_repeats=min_rounds(quick),
                           faults=faults)
        bg.stop()
        print(f"  [{name}] (times per epoch of {FIT_BATCHES} steps)")
        print_times(times, base, label="vs bare", faults=faults)
        print(bg.report())
        RESULTS["fit"][name] = _stats(times, base, faults, scale=1 / FIT_BATCHES)
        RESULTS["fit"][name]["background_load"] = bg.share
        noisy = spread(times[base]) > UNSTABLE_IQR or bg.busy
        per_step = {k: [t / FIT_BATCHES for t in ts] for k, ts in times.items()}
        for k, ts in per_step.items():
            label = f"fit {name} {k} (per step)"
            if k == "mg.fit":
                _judged_row(label, per_step, k, base, FIT_TARGET, "bare loop", noisy)
            elif k == "mg.fit record_path":
                _judged_row(label, per_step, k, PATH_BY_HAND, FIT_TARGET, "by hand", noisy)
                row(f"fit {name} record_path vs bare loop (per step)", med(ts) * 1e3,
                    f"{med(ts) / med(per_step[base]):.3f}x", "(info)", None,
                    paired(per_step, k, base))
            else:
                row(label, med(ts) * 1e3, f"{med(ts) / med(per_step[base]):.3f}x", "", None,
                    paired(per_step, k, base))


# --------------------------------------------------------------------------
# (e) the course's toy: y = x * w on x = [1, 2, 3], y = [2, 4, 6], 100 epochs

TOY_X = [1.0, 2.0, 3.0]
TOY_Y = [2.0, 4.0, 6.0]
TOY_W0 = 1.0
TOY_LR = 0.01
TOY_EPOCHS = 100


def toy_reference(per_sample: bool) -> float:
    """The course's own code: plain floats and the hand-derived gradient ``2 x (x w - y)``."""
    w = TOY_W0
    for _ in range(TOY_EPOCHS):
        if per_sample:
            for x, y in zip(TOY_X, TOY_Y, strict=True):
                w -= TOY_LR * 2 * x * (x * w - y)
        else:
            grad = sum(2 * x * (x * w - y) for x, y in zip(TOY_X, TOY_Y, strict=True))
            w -= TOY_LR * grad / len(TOY_X)
    return w


def toy_microgd_gd() -> float:
    w = mg.Value(TOY_W0)
    opt = optim.GD([w], lr=TOY_LR)
    for _ in range(TOY_EPOCHS):
        cost: Any = 0
        for x, y in zip(TOY_X, TOY_Y, strict=True):
            cost = cost + (x * w - y) ** 2
        cost = cost / len(TOY_X)
        opt.zero_grad()
        cost.backward()
        opt.step()
    return w.item()


def toy_microgd_sgd() -> float:
    w = mg.Value(TOY_W0)
    opt = optim.SGD([w], lr=TOY_LR)
    for _ in range(TOY_EPOCHS):
        for x, y in zip(TOY_X, TOY_Y, strict=True):
            loss = (x * w - y) ** 2
            opt.zero_grad()
            loss.backward()
            opt.step()
    return w.item()


def toy_fit(per_sample: bool) -> float:
    w = mg.Value(TOY_W0)
    X, Y = np.array(TOY_X), np.array(TOY_Y)
    opt = optim.SGD([w], lr=TOY_LR) if per_sample else optim.GD([w], lr=TOY_LR)
    mg.fit(lambda xb, yb: ((xb * w - yb) ** 2).mean(), [w], (X, Y), opt, epochs=TOY_EPOCHS,
           batch_size=1 if per_sample else None, shuffle=False, progress=False)
    return w.item()


def toy_micrograd_gd() -> float:
    w = micrograd_engine.Value(TOY_W0)
    for _ in range(TOY_EPOCHS):
        cost: Any = 0
        for x, y in zip(TOY_X, TOY_Y, strict=True):
            cost = cost + (x * w - y) ** 2
        cost = cost / len(TOY_X)
        w.grad = 0
        cost.backward()
        w.data -= TOY_LR * w.grad
    return w.data


def toy_micrograd_sgd() -> float:
    w = micrograd_engine.Value(TOY_W0)
    for _ in range(TOY_EPOCHS):
        for x, y in zip(TOY_X, TOY_Y, strict=True):
            loss = (x * w - y) ** 2
            w.grad = 0
            loss.backward()
            w.data -= TOY_LR * w.grad
    return w.data


def bench_toy(quick: bool) -> None:
    print(f"\n(e) the course's toy: y = x*w on x = {TOY_X}, y = {TOY_Y}, w0 = {TOY_W0}, "
          f"lr {TOY_LR}, {TOY_EPOCHS} epochs; GD (full batch) and per-sample SGD")
    groups: dict[str, dict[str, Callable[[], float]]] = {"GD": {}, "SGD": {}}
    if micrograd_engine is not None:
        groups["GD"]["micrograd GD"] = toy_micrograd_gd
        groups["SGD"]["micrograd SGD"] = toy_micrograd_sgd
    groups["GD"]["microgd optim.GD"] = toy_microgd_gd
    groups["GD"]["microgd mg.fit GD"] = lambda: toy_fit(False)
    groups["SGD"]["microgd optim.SGD"] = toy_microgd_sgd
    groups["SGD"]["microgd mg.fit SGD"] = lambda: toy_fit(True)
    contenders = {**groups["GD"], **groups["SGD"]}
    # Verify: the same final weight as the course's hand-written gradient, to 1e-9.
    for k, fn in contenders.items():
        want = toy_reference(per_sample=k in groups["SGD"])
        got = float(fn())
        assert abs(got - want) <= 1e-9 * abs(want), f"toy {k}: final w {got!r} != {want!r}"
    print(f"  checked: every contender ends at the course's w (GD {toy_reference(False):.12f}, "
          f"SGD {toy_reference(True):.12f}) to 1e-9")
    if micrograd_engine is None:
        print("  micrograd is not importable: timing microgd alone has no reference; skipped")
        RESULTS["toy"] = {"skipped": "micrograd not importable"}
        return
    bg = Background()
    times = interleave(contenders, repeats=25 if quick else 101, warmup=2,
                       budget=6 if quick else 30, min_repeats=min_rounds(quick))
    bg.stop()
    RESULTS["toy"] = {}
    for rule in ("GD", "SGD"):
        base = f"micrograd {rule}"
        sub = {k: times[k] for k in groups[rule]}
        print(f"  [{rule}] (times of the whole {TOY_EPOCHS}-epoch run)")
        print_times(sub, base, label="vs micro")
        RESULTS["toy"][rule] = _stats(sub, base)
        noisy = spread(times[base]) > UNSTABLE_IQR or bg.busy
        row(f"toy {base}", med(sub[base]) * 1e3, "1.000x", "", None, 1.0)
        obvious = f"microgd optim.{rule}"
        _judged_row(f"toy {obvious}", sub, obvious, base, 1.0, "micrograd", noisy)
        k = f"microgd mg.fit {rule}"
        row(f"toy {k}", med(sub[k]) * 1e3, f"{med(sub[k]) / med(sub[base]):.3f}x", "",
            None, paired(sub, k, base))
    print(bg.report())
    RESULTS["toy"]["background_load"] = bg.share


# --------------------------------------------------------------------------
# (f) NumPy dispatch

DISPATCH_CALLS = 2000  # calls per timed sample: one call is a few microseconds


def _dispatch_pairs() -> dict[str, tuple[Callable[[], Any], Callable[[], Any]]]:
    """name -> (mg form, np form), each one call on the same small Values."""
    v = mg.Value(np.linspace(0.1, 0.9, 8))
    m = mg.Value(np.eye(3) * 2.0 + 0.1)
    return {
        "exp": (lambda: mg.exp(v), lambda: np.exp(v)),
        "log1p": (lambda: mg.log1p(v), lambda: np.log1p(v)),
        "sum": (lambda: mg.sum(v), lambda: np.sum(v)),
        "var": (lambda: mg.var(v), lambda: np.var(v)),
        "linalg.norm": (lambda: mg.linalg.norm(v), lambda: np.linalg.norm(v)),
        "reshape": (lambda: mg.reshape(v, (2, 4)), lambda: np.reshape(v, (2, 4))),
        "sort": (lambda: mg.sort(v), lambda: np.sort(v)),
        "einsum": (lambda: mg.einsum("ij,jk->ik", m, m), lambda: np.einsum("ij,jk->ik", m, m)),
        "linalg.solve": (lambda: mg.linalg.solve(m, v[:3]), lambda: np.linalg.solve(m, v[:3])),
    }


def _calls(fn: Callable[[], Any]) -> Callable[[], None]:
    def many() -> None:
        for _ in range(DISPATCH_CALLS):
            fn()
    return many


def bench_dispatch(quick: bool) -> None:
    print(f"\n(f) NumPy dispatch: np.NAME(v) against mg.NAME(v), us per call "
          f"({DISPATCH_CALLS} calls per sample)")
    pairs = _dispatch_pairs()
    for name, (a, b) in pairs.items():  # the two spellings compute the same Value
        assert np.array_equal(a().data, b().data), f"dispatch {name}: np and mg disagree"
    contenders = {}
    for name, (a, b) in pairs.items():
        contenders[f"mg.{name}"] = _calls(a)
        contenders[f"np.{name}"] = _calls(b)
    bg = Background()
    times = interleave(contenders, repeats=7 if quick else 21, warmup=1, lead_in=0.0,
                       budget=5 if quick else 20, min_repeats=min_rounds(quick))
    bg.stop()
    RESULTS["dispatch"] = {}
    per_call = 1e6 / DISPATCH_CALLS
    for name in pairs:
        ta, tb = times[f"mg.{name}"], times[f"np.{name}"]
        extra = med([(y - x) * per_call for x, y in zip(ta, tb, strict=True)])
        print(f"  {name:<14} mg {med(ta) * per_call:6.2f} us   np {med(tb) * per_call:6.2f} us"
              f"   np - mg (paired) {extra:+.2f} us")
        RESULTS["dispatch"][name] = {"mg_us": med(ta) * per_call, "np_us": med(tb) * per_call,
                                     "extra_us": extra}
        row(f"dispatch np.{name}", med(tb) * 1e3 / DISPATCH_CALLS, f"{extra:+.2f} us",
            "<= +2 us", extra <= 2.0, None, bg.busy)
    print(bg.report())
    RESULTS["dispatch"]["background_load"] = bg.share


# --------------------------------------------------------------------------


def print_table() -> None:
    print("\nSummary (ratio = median(contender) / median(floor) of interleaved runs; "
          "paired = median of per-round ratios)")
    w = max(len(r["name"]) for r in ROWS) + 2
    print(f"{'name':<{w}}{'median ms':>11}  {'ratio':<22}{'paired':>8}  {'target':<20}status")
    for r in ROWS:
        ms = "" if r["median_ms"] != r["median_ms"] else f"{r['median_ms']:.3f}"
        pr = "" if r["paired"] is None else f"{r['paired']:.3f}x"
        print(f"{r['name']:<{w}}{ms:>11}  {r['ratio']:<22}{pr:>8}  {r['target']:<20}"
              f"{r['status']}")


SECTIONS = "abcdef"


def _dist_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="fewer repeats and sizes (about two minutes)")
    ap.add_argument("--json", metavar="PATH", help="also write the numbers as JSON")
    ap.add_argument("--sections", default=SECTIONS,
                    help=f"which sections to run: any of {', '.join(SECTIONS)} "
                         f"(default {SECTIONS})")
    ap.add_argument("--threads", type=int, default=2,
                    help="BLAS/OpenMP threads for every contender (default 2)")
    ap.add_argument("--malloc", choices=("pinned", "default"), default="pinned",
                    help="glibc's heap thresholds: fixed for every contender (default), or "
                         "glibc's adaptive ones")
    args = ap.parse_args(argv)

    t_start = perf()
    peers = {"numpy": np.__version__, "microgd": mg.__version__}
    if torch is not None:
        peers["torch"] = torch.__version__
    if autograd is not None:
        peers["autograd"] = _dist_version("autograd")
    if micrograd_engine is not None:
        peers["micrograd"] = _dist_version("micrograd")
    print(f"microgd core benchmarks ({'quick' if args.quick else 'full'}); python "
          f"{platform.python_version()}, " + ", ".join(f"{k} {v}" for k, v in peers.items()))
    print(f"threads: {THREADS} (OMP/OPENBLAS/MKL_NUM_THREADS"
          + (", torch.set_num_threads" if torch is not None else "") + "), "
          f"OPENBLAS_THREAD_TIMEOUT={os.environ['OPENBLAS_THREAD_TIMEOUT']}, "
          f"{os.cpu_count()} CPUs")
    print(MALLOC)
    for note in NOTES:
        print(f"note: {note}")
    pre = Background()
    time.sleep(0.5)
    pre.stop()
    print(pre.report().strip().replace("meanwhile", "in the 0.5 s before the start"))

    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        ap.error(f"--sections: unknown section(s) {''.join(sorted(unknown))}; "
                 f"use any of {', '.join(SECTIONS)}")
    for letter, bench in (("a", bench_mlp), ("b", bench_chain), ("c", bench_demo),
                          ("d", bench_fit), ("e", bench_toy), ("f", bench_dispatch)):
        if letter in args.sections:
            # What the sections before left alive (torch imports modules lazily: about
            # 117,000 tracked objects after (a)) is frozen too, as the imports were: each
            # section then pays only for its own objects, whatever ran before it.
            gc.collect()
            gc.freeze()
            bench(args.quick)
    print_table()
    elapsed = perf() - t_start
    print(f"\ntotal time {elapsed:.1f} s")

    if args.json:
        out = {"mode": "quick" if args.quick else "full", "versions": peers,
               "threads": THREADS, "malloc": MALLOC, "notes": NOTES, "results": RESULTS,
               "table": [{**r, "median_ms": None if r["median_ms"] != r["median_ms"]
                          else r["median_ms"]} for r in ROWS],
               "elapsed_s": elapsed}
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
