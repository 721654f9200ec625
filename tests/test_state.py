"""``state_mismatches``: the one comparison behind every ``load_state_dict`` and checkpoint load."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import microgd as mg
from microgd import nn, optim
from microgd._state import state_mismatches
from microgd.optim import schedules


def test_a_match_has_nothing_to_say():
    assert state_mismatches({"w": (2,), "step": None}, {"w": np.zeros(2), "step": 3}) == []


def test_missing_and_unexpected_keys_keep_their_order():
    expected = {f"layers.{i}.weight": None for i in (0, 2, 10)}
    given = {"z": 1, "layers.2.weight": 0, "a": 2}
    assert state_mismatches(expected, given) == [
        "missing keys ['layers.0.weight', 'layers.10.weight']",  # expected's order, not sorted
        "unexpected keys ['z', 'a']",                            # given's order
    ]


def test_shapes_are_checked_where_known_and_after_the_keys():
    expected = {"a": (2, 3), "b": (), "c": None, "gone": (1,)}
    given = {"c": np.zeros(7), "b": np.zeros(1), "a": [[1.0, 2.0, 3.0]] * 2}
    assert state_mismatches(expected, given) == [
        "missing keys ['gone']", "'b' has shape (1,), expected ()"]


def test_templates_word_the_sentences():
    problems = state_mismatches({"w": (2,)}, {"w": np.zeros(3), "x": 1},
                                missing="lacks {keys}", unexpected="extra: {keys}",
                                misshaped="{key}: {given} instead of {expected}")
    assert problems == ["extra: ['x']", "w: (3,) instead of (2,)"]


keys = st.sets(st.sampled_from("abcdefgh"))


@given(keys, keys)
def test_missing_and_unexpected_are_the_two_set_differences(want, have):
    problems = state_mismatches(dict.fromkeys(sorted(want)), dict.fromkeys(sorted(have), 0.0),
                                missing="M{keys}", unexpected="U{keys}")
    lacking = sorted(want - have)
    extra = sorted(have - want)
    assert problems == ([f"M{lacking}"] if lacking else []) + ([f"U{extra}"] if extra else [])


def test_every_loader_reports_through_it_and_changes_nothing(tmp_path):
    """Missing, unexpected and mis-shaped entries are all named at once, in each loader's words."""
    model = nn.MLP(2, [3, 1], seed=0)
    sd = model.state_dict()
    del sd["layers.1.bias"]
    sd["layers.0.weight"], sd["extra"] = np.zeros((3, 3)), np.zeros(1)
    before = [p.data.copy() for p in model.parameters()]
    with pytest.raises(ValueError) as info:
        model.load_state_dict(sd)
    assert str(info.value) == ("load_state_dict: missing ['layers.1.bias']; unexpected "
                               "['extra']; layers.0.weight: shape (3, 3) in state, (2, 3) in model")
    assert all(np.array_equal(p.data, b) for p, b in zip(model.parameters(), before, strict=True))

    opt = optim.SGD(model.parameters(), lr=0.1)
    sd = opt.state_dict()
    del sd["state.0.step"]
    sd["extra"] = 1
    with pytest.raises(ValueError) as info:
        opt.load_state_dict(sd)
    assert str(info.value) == ("SGD.load_state_dict: missing keys ['state.0.step']; unexpected "
                               "keys ['extra']; nothing was loaded")

    sched = schedules.StepLR(opt, step_size=2)
    with pytest.raises(ValueError) as info:
        sched.load_state_dict({"last_epoch": 1})
    # only what is wrong: no "unexpected keys []"
    assert str(info.value) == ("StepLR.load_state_dict: missing keys ['base_lr']; nothing was "
                               "loaded")

    path = tmp_path / "ck.npz"
    mg.save_checkpoint(path, {"w": mg.Value(np.zeros(2)), "old": mg.Value(0.0)})
    w = mg.Value(np.ones(3))
    with pytest.raises(ValueError) as info:
        mg.load_checkpoint(path, {"w": w, "new": mg.Value(1.0)})
    assert str(info.value).endswith(
        "parameters missing from the checkpoint: ['new']; parameters in the checkpoint but not "
        "given: ['old']; parameter 'w': shape (2,) in the checkpoint, (3,) given")
    assert w.data.tolist() == [1.0, 1.0, 1.0]
