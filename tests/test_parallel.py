"""microgd.parallel: results in order and equal to serial on every executor, chunking,
failures that name the item and keep the finished chunks, BLAS limits in the workers,
and grid_search / coarse_to_fine on executors."""

import concurrent.futures as cf
import sys

import numpy as np
import pytest

import microgd as mg
from microgd.parallel import CellError, executor_workers, map_cells, resolve_executor


def square(x):  # module level: the standard library's process pool pickles it by name
    return x * x


def bumpy(p):
    return float(np.sin(3 * p[0]) * np.cos(2 * p[1]) + 0.1 * (p[0] ** 2 + p[1] ** 2))


class Counting(cf.Executor):
    """Runs submissions in this thread, counting them; fails every one after ``fail_after``."""

    def __init__(self, fail_after=None, refuse=False):
        self.submitted, self.fail_after, self.refuse = 0, fail_after, refuse

    def submit(self, fn, *args, **kwargs):
        self.submitted += 1
        if self.fail_after is not None and self.submitted > self.fail_after:
            if self.refuse:
                raise RuntimeError("the cluster went away")
            fut = cf.Future()
            fut.set_exception(ConnectionError("worker lost"))
            return fut
        fut = cf.Future()
        fut.set_result(fn(*args, **kwargs))
        return fut


@pytest.fixture(scope="module")
def threads():
    with cf.ThreadPoolExecutor(2) as pool:
        yield pool


@pytest.fixture(scope="module")
def dask_executor():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                       dashboard_address=None)
    client = distributed.Client(cluster)
    try:
        yield client.get_executor()
    finally:
        client.close()
        cluster.close()


def test_serial_and_thread_pool_keep_the_order(threads):
    items = list(range(23))
    assert map_cells(square, items) == [i * i for i in items]
    assert map_cells(square, items, threads, chunksize=3) == [i * i for i in items]
    assert map_cells(square, []) == []


def test_work_is_sent_in_chunks_not_item_by_item():
    pool = Counting()
    seen = []
    out = map_cells(square, range(100), pool, chunksize=16,
                    on_chunk=lambda pos, res: seen.append((pos, res)))
    assert out == [i * i for i in range(100)]
    assert pool.submitted == 7  # ceil(100 / 16) round trips
    seen.sort(key=lambda s: s[0].start)  # they arrive in the order they finish
    assert [len(pos) for pos, _ in seen] == [16] * 6 + [4]
    assert all(res == [i * i for i in pos] for pos, res in seen)
    # by default about 4 chunks per worker
    with cf.ThreadPoolExecutor(2) as tp:
        assert executor_workers(tp) == 2
    counted = Counting()
    map_cells(square, range(2601), counted)
    assert 8 <= counted.submitted <= 40


def test_a_failing_item_is_named_keeps_its_type_and_the_finished_chunks(threads):
    def f(x):
        if x == 13:
            raise ValueError("bad value")
        return x

    for executor in (None, threads):
        done = {}
        with pytest.raises(ValueError, match=r"job: item 13 \(13\) failed: ValueError: bad "
                                             r"value") as info:
            map_cells(f, range(40), executor, name="job", chunksize=5,
                      on_chunk=lambda pos, res, done=done: done.update(zip(pos, res,
                                                                          strict=True)))
        assert isinstance(info.value.__cause__, ValueError)
        assert str(info.value.__cause__) == "bad value"
        # the chunk of item 13 reported its first three items; earlier chunks are complete
        assert set(range(13)) <= set(done) and 13 not in done
        assert all(done[k] == k for k in done)


def test_an_error_that_cannot_be_rebuilt_from_a_message_becomes_a_cell_error():
    def f(x):
        raise KeyError(x)

    with pytest.raises(CellError, match=r"item 0 \('a'\) failed: KeyError") as info:
        map_cells(f, ["a"], describe=None)
    assert info.value.index == 0 and isinstance(info.value.__cause__, KeyError)
    with pytest.raises(CellError, match="the cell at w=2"):
        map_cells(f, [2], describe=lambda x: f"the cell at w={x}")


def test_an_executor_failing_midway_names_the_lost_items_and_keeps_the_rest():
    for refuse in (False, True):
        done = {}
        pool = Counting(fail_after=2, refuse=refuse)
        expected = RuntimeError if refuse else ConnectionError
        with pytest.raises(expected, match=r"the executor failed on item 8 \(8\) to item 11 "
                                           r"\(11\)") as info:
            map_cells(square, range(20), pool, chunksize=4,
                      on_chunk=lambda pos, res, done=done: done.update(zip(pos, res,
                                                                          strict=True)))
        assert sorted(done) == list(range(8))
        assert info.value.__cause__ is not None


def test_resolve_executor_errors():
    for bad in (0, -2):
        with pytest.raises(ValueError, match=f"grid: executor must be .* got {bad}"):
            resolve_executor(bad, "grid")
    for bad in (True, 2.0, "two"):
        with pytest.raises(TypeError, match="executor must be None, a number"):
            resolve_executor(bad, "grid")
    with pytest.raises(ValueError, match="chunksize"):
        map_cells(square, [1, 2], chunksize=0)


def test_missing_loky_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "joblib.externals.loky", None)
    with pytest.raises(ImportError, match=r"pip install microgd\[parallel\]"):
        resolve_executor(2, "landscape")


def _blas_threads(_):
    from threadpoolctl import threadpool_info

    return sorted({info["num_threads"] for info in threadpool_info()})


def test_local_processes_are_loky_with_blas_limited_per_worker():
    pytest.importorskip("joblib")
    pytest.importorskip("threadpoolctl")
    import os

    pool = resolve_executor(2, "test")
    assert type(pool).__module__.startswith("joblib.externals.loky")
    assert executor_workers(pool) == 2
    expected = max(1, (os.cpu_count() or 1) // 2)
    results = map_cells(_blas_threads, range(4), 2, chunksize=1)
    assert all(r and max(r) <= expected for r in results), results
    # closures and lambdas travel (cloudpickle), and the reusable pool is kept
    offset = 7
    assert map_cells(lambda x: x + offset, range(5), 2) == [7, 8, 9, 10, 11]
    assert resolve_executor(2, "test") is pool


def test_grid_search_is_the_same_on_every_executor(threads, dask_executor):
    bounds, num = [(-2.0, 2.0), (-1.0, 3.0)], 17
    serial = mg.grid_search(bumpy, bounds, num)
    for executor in (2, threads, dask_executor):
        r = mg.grid_search(bumpy, bounds, num, executor=executor)
        assert r.x.tolist() == serial.x.tolist() and r.value == serial.value
        assert r.evaluations == serial.evaluations == num ** 2
    c_serial = mg.coarse_to_fine(bumpy, bounds, num=9, tol=1e-6)
    c_threads = mg.coarse_to_fine(bumpy, bounds, num=9, tol=1e-6, executor=threads)
    assert (c_threads.x.tolist(), c_threads.value, c_threads.evaluations, c_threads.rounds) == \
        (c_serial.x.tolist(), c_serial.value, c_serial.evaluations, c_serial.rounds)


def test_grid_search_errors_on_an_executor_name_the_point(threads):
    def f(p):
        return np.array([1.0, 2.0]) if p[0] > 0.5 else 0.0

    with pytest.raises(ValueError, match=r"grid_search: the point \[0\.75\] failed: .*f must "
                                         r"return a scalar, got an array of shape \(2,\)"):
        mg.grid_search(f, [(0, 1)], 5, executor=threads)


def test_standard_library_process_pool_needs_module_level_functions():
    with cf.ProcessPoolExecutor(2) as pool:
        assert map_cells(square, range(10), pool) == [i * i for i in range(10)]
        with pytest.raises(Exception, match=r"executor failed on .*pickle"):
            map_cells(lambda x: x, range(4), pool)
