"""Batching: sizes, pairing, per-epoch shuffling, reproducibility, and bad input."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from microgd import data

X = np.arange(10.0).reshape(5, 2)  # row i is [2i, 2i + 1]
Y = np.arange(5.0) * 10            # y_i = 10 i: pairs are checkable from the values


def rows(batches):
    """The sample indices in each batch, read back from X."""
    return [(xb[:, 0] // 2).astype(int).tolist() for xb, _ in batches]


def assert_paired(batches):
    for xb, yb in batches:
        np.testing.assert_array_equal(yb, xb[:, 0] // 2 * 10)


# ---- batch sizes -------------------------------------------------------------------

def test_full_batch_is_one_batch_in_original_order_even_when_shuffled():
    for shuffle in (False, True):
        out = list(data.batches(X, Y, batch_size=None, shuffle=shuffle,
                                rng=np.random.default_rng(0)))
        assert len(out) == 1
        np.testing.assert_array_equal(out[0][0], X)
        np.testing.assert_array_equal(out[0][1], Y)


def test_full_batch_draws_no_random_numbers():
    rng = np.random.default_rng(0)
    list(data.batches(X, Y, rng=rng))
    assert rng.random() == np.random.default_rng(0).random()


def test_batch_size_one_is_per_sample():
    out = list(data.batches(X, Y, batch_size=1, shuffle=False))
    assert rows(out) == [[0], [1], [2], [3], [4]]
    assert all(xb.shape == (1, 2) and yb.shape == (1,) for xb, yb in out)


def test_minibatches_keep_partial_last_batch():
    out = list(data.batches(X, Y, batch_size=2, shuffle=False))
    assert rows(out) == [[0, 1], [2, 3], [4]]
    assert_paired(out)


def test_exact_division_has_no_partial_batch():
    out = list(data.batches(np.arange(6), batch_size=3, shuffle=False))
    assert [b.tolist() for b in out] == [[0, 1, 2], [3, 4, 5]]


def test_drop_last():
    out = list(data.batches(X, Y, batch_size=2, shuffle=False, drop_last=True))
    assert rows(out) == [[0, 1], [2, 3]]
    assert len(data.Batches(X, Y, batch_size=2, drop_last=True)) == 2
    # drop_last with an exact division drops nothing
    assert len(list(data.batches(X, Y, batch_size=5, drop_last=True))) == 1


def test_batch_size_equal_to_n_is_one_batch():
    out = list(data.batches(X, Y, batch_size=5, shuffle=False))
    assert rows(out) == [[0, 1, 2, 3, 4]]


def test_without_y_yields_arrays():
    out = list(data.batches(X, batch_size=2, shuffle=False))
    assert all(isinstance(b, np.ndarray) for b in out)
    np.testing.assert_array_equal(np.concatenate(out), X)
    assert len(list(data.Batches(X, batch_size=4))) == 2


def test_lists_and_numpy_integer_batch_size_accepted():
    out = list(data.batches([1.0, 2.0, 3.0], [2.0, 4.0, 6.0], batch_size=np.int64(2),
                            shuffle=False))
    assert [yb.tolist() for _, yb in out] == [[2.0, 4.0], [6.0]]


def test_unshuffled_batches_are_views():
    xb, yb = next(data.batches(X, Y, batch_size=2, shuffle=False))
    assert np.shares_memory(xb, X) and np.shares_memory(yb, Y)


def test_len_and_n_samples():
    for batch_size, expected in [(None, 1), (1, 5), (2, 3), (3, 2), (5, 1)]:
        loader = data.Batches(X, Y, batch_size=batch_size)
        assert len(loader) == expected == len(list(loader))
        assert loader.n_samples == 5
    assert "batch_size=2" in repr(data.Batches(X, Y, batch_size=2))


# ---- shuffling ---------------------------------------------------------------------

@given(n=st.integers(1, 40), batch_size=st.integers(1, 40), seed=st.integers(0, 2**32 - 1),
       drop_last=st.booleans())
def test_each_epoch_is_a_permutation_with_pairs_kept(n, batch_size, seed, drop_last):
    batch_size = min(batch_size, n)
    Xs = np.stack([np.arange(n), -np.arange(n)], axis=1)
    ys = 100 + np.arange(n)
    loader = data.Batches(Xs, ys, batch_size=batch_size, seed=seed, drop_last=drop_last)
    for _ in range(2):
        out = list(loader)
        assert len(out) == len(loader)
        for xb, yb in out:
            assert len(xb) == len(yb) == batch_size or (xb is out[-1][0] and not drop_last)
            np.testing.assert_array_equal(yb, 100 + xb[:, 0])   # pairs kept
            np.testing.assert_array_equal(xb[:, 1], -xb[:, 0])  # rows kept whole
        seen = np.concatenate([xb[:, 0] for xb, _ in out])
        assert len(set(seen.tolist())) == len(seen)  # no sample twice
        if drop_last:
            assert len(seen) == n // batch_size * batch_size
        else:
            assert sorted(seen.tolist()) == list(range(n))


def test_shuffled_epoch_covers_the_data():
    out = list(data.batches(X, Y, batch_size=2, rng=np.random.default_rng(1)))
    assert sorted(sum(rows(out), [])) == [0, 1, 2, 3, 4]
    assert_paired(out)


def test_epochs_differ():
    loader = data.Batches(np.arange(20), batch_size=4, seed=0)
    epochs = [np.concatenate(list(loader)).tolist() for _ in range(5)]
    assert len({tuple(e) for e in epochs}) == 5
    assert all(sorted(e) == list(range(20)) for e in epochs)


def test_same_seed_same_epochs_different_seed_different():
    def run(seed):
        loader = data.Batches(np.arange(20), batch_size=3, seed=seed)
        return [[b.tolist() for b in loader] for _ in range(3)]

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_batches_with_same_generator_state_is_reproducible():
    rng = np.random.default_rng(5)
    a = [b.tolist() for b in data.batches(np.arange(20), batch_size=3, rng=rng)]
    b = [b.tolist() for b in data.batches(np.arange(20), batch_size=3, rng=5)]
    assert a == b


def test_permutation_drawn_at_iter_not_at_first_next():
    # Two iterators taken in a row are two epochs, whatever order they are consumed in.
    loader = data.Batches(np.arange(10), batch_size=10, seed=0)
    first, second = iter(loader), iter(loader)
    ref = data.Batches(np.arange(10), batch_size=10, seed=0)
    r1, r2 = list(ref), list(ref)
    np.testing.assert_array_equal(next(second), r2[0])
    np.testing.assert_array_equal(next(first), r1[0])


def test_shuffle_false_keeps_order_every_epoch():
    loader = data.Batches(X, Y, batch_size=2, shuffle=False, seed=0)
    assert rows(loader) == rows(loader) == [[0, 1], [2, 3], [4]]


def test_multidimensional_samples():
    images = np.arange(4 * 2 * 3).reshape(4, 2, 3)
    labels = np.arange(4)
    for xb, yb in data.batches(images, labels, batch_size=3, rng=0):
        np.testing.assert_array_equal(xb, images[yb])


# ---- bad input ---------------------------------------------------------------------

@pytest.mark.parametrize("call, message", [
    (lambda: data.batches(np.ones(3), np.ones(4)), r"X has 3 rows but y has 4"),
    (lambda: data.Batches(np.ones(3), np.ones(4)), r"X has 3 rows but y has 4"),
    (lambda: data.batches(X, Y, batch_size=0), r"positive integer.*got 0"),
    (lambda: data.batches(X, Y, batch_size=-2), r"positive integer.*got -2"),
    (lambda: data.batches(X, Y, batch_size=2.5), r"positive integer.*got 2.5"),
    (lambda: data.batches(X, Y, batch_size=2.0), r"positive integer.*got 2.0"),
    (lambda: data.batches(X, Y, batch_size="2"), r"positive integer.*got '2'"),
    (lambda: data.batches(X, Y, batch_size=True), r"positive integer.*got True"),
    (lambda: data.batches(np.ones(3), np.ones(3), batch_size=10),
     r"batch_size 10 is larger than the 3 samples"),
    (lambda: data.Batches(np.ones(3), batch_size=10), r"batch_size 10 is larger than the 3"),
    (lambda: data.batches(np.ones(3), batch_size=4, drop_last=True),
     r"batch_size 4 is larger than the 3 samples, so drop_last=True would leave zero batches"),
    (lambda: data.batches(np.ones((0, 2)), np.ones(0)), r"empty \(0 samples\)"),
    (lambda: data.Batches([]), r"empty \(0 samples\)"),
    (lambda: data.batches(np.float64(3.0)), r"X must have at least one dimension"),
    (lambda: data.batches(np.ones(3), 2.0), r"y must have at least one dimension"),
])
def test_bad_input_raises_at_call(call, message):
    with pytest.raises(ValueError, match=message):
        call()  # not lazily at the first next()


def test_bad_rng_or_seed():
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        data.batches(X, Y, batch_size=2, rng=np.random.RandomState(0))  # noqa: NPY002
    with pytest.raises(TypeError, match="seed must be"):
        data.Batches(X, Y, batch_size=2, seed=1.5)


def test_bad_input_changes_nothing():
    rng = np.random.default_rng(0)
    Xc, Yc = X.copy(), Y.copy()
    with pytest.raises(ValueError):
        data.batches(X, Y, batch_size=10, rng=rng)
    assert rng.random() == np.random.default_rng(0).random()  # no permutation drawn
    np.testing.assert_array_equal(X, Xc)
    np.testing.assert_array_equal(Y, Yc)


def test_data_is_not_modified_by_shuffling():
    Xc, Yc = X.copy(), Y.copy()
    for _ in data.Batches(X, Y, batch_size=2, seed=0):
        pass
    np.testing.assert_array_equal(X, Xc)
    np.testing.assert_array_equal(Y, Yc)
