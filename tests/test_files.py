"""microgd._files: atomic writes (and their leftovers), and non-finite numbers in JSON."""

from __future__ import annotations

import json
import math
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from microgd import _files
from microgd._files import (
    atomic_write,
    json_number,
    json_ready,
    number_from_json,
    remove_stale_temporaries,
)


def test_atomic_write_replaces_the_file_with_the_usual_permissions(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("old")
    old = os.umask(0o022)
    try:
        with atomic_write(path, "w") as fh:
            fh.write("new é")
            # until the block ends, readers see the old file
            assert path.read_text() == "old"
    finally:
        os.umask(old)
    assert path.read_text(encoding="utf-8") == "new é"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert os.listdir(tmp_path) == ["a.txt"]


def test_atomic_write_that_fails_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "a.bin"
    path.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt), atomic_write(path) as fh:
        fh.write(b"half")
        raise KeyboardInterrupt
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["a.bin"]
    folder = tmp_path / "dir"
    folder.mkdir()
    with pytest.raises(OSError), atomic_write(folder) as fh:  # cannot replace a directory
        fh.write(b"x")
    assert sorted(os.listdir(tmp_path)) == ["a.bin", "dir"]
    with pytest.raises(FileNotFoundError, match="folder to write into does not exist"), \
            atomic_write(tmp_path / "missing" / "a.bin"):
        pass
    with pytest.raises(ValueError, match="mode must be"), atomic_write(path, "a"):
        pass


def _dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.mark.skipif(os.name == "nt", reason="process checks are POSIX")
def test_only_stale_temporaries_are_removed(tmp_path: Path) -> None:
    target = tmp_path / "ck.npz"
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        names = {
            "dead": f".ck.npz.tmp-{_dead_pid()}-aaaa",             # its process is gone
            "live": f".ck.npz.tmp-{live.pid}-bbbb",                # a save in progress
            "live, abandoned": f".ck.npz.tmp-{live.pid}-cccc",     # not written for hours
            "ours": f".ck.npz.tmp-{os.getpid()}-dddd",             # another thread's save
            "ours, before us": f".ck.npz.tmp-{os.getpid()}-eeee",  # same pid, older process
            "no pid": ".ck.npz.tmp-notes",
            "other file": f".other.npz.tmp-{_dead_pid()}-ffff",
            "no dot": f"ck.npz.tmp-{_dead_pid()}-0000",
        }
        for name in names.values():
            (tmp_path / name).write_bytes(b"x")
        hours_ago = time.time() - 3 * 3600
        os.utime(tmp_path / names["live, abandoned"], (hours_ago, hours_ago))
        before_us = _files._STARTED - 10
        os.utime(tmp_path / names["ours, before us"], (before_us, before_us))
        removed = remove_stale_temporaries(target)
        gone = {"dead", "live, abandoned", "ours, before us"}
        assert sorted(os.path.basename(r) for r in removed) == sorted(names[k] for k in gone)
        assert sorted(os.listdir(tmp_path)) == sorted(v for k, v in names.items()
                                                      if k not in gone)
        # and atomic_write does this clean-up itself, then leaves only its own result
        with atomic_write(target) as fh:
            fh.write(b"data")
        assert target.read_bytes() == b"data"
        assert sorted(os.listdir(tmp_path)) == sorted(
            [target.name] + [v for k, v in names.items() if k not in gone])
    finally:
        live.kill()
        live.wait()


def test_json_numbers() -> None:
    assert [json_number(x) for x in (1.5, math.inf, -math.inf, math.nan)] == \
        [1.5, "Infinity", "-Infinity", None]
    assert json_number(np.float32(0.5)) == 0.5 and type(json_number(np.float32(0.5))) is float
    assert number_from_json("-Infinity") == -math.inf and number_from_json(3) == 3.0
    assert math.isnan(number_from_json(None)) and math.isnan(number_from_json("NaN"))
    for bad in ("abc", True, [1.0], {"a": 1}):
        with pytest.raises(ValueError, match="is not a number"):
            number_from_json(bad)


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_every_float_survives_strict_json(x: float) -> None:
    text = json.dumps(json_number(x), allow_nan=False)
    back = number_from_json(json.loads(text))
    assert (math.isnan(x) and math.isnan(back)) or back == x


def test_json_ready_converts_nested_numpy_values() -> None:
    data = {1: np.array([[1.0, np.inf], [np.nan, -2.0]]), "t": (np.int64(3), np.bool_(True)),
            "s": "text", "none": None}
    ready = json_ready(data)
    assert ready == {"1": [[1.0, "Infinity"], [None, -2.0]], "t": [3, True], "s": "text",
                     "none": None}
    json.dumps(ready, allow_nan=False)
    with pytest.raises(TypeError, match="cannot write a object as JSON"):
        json_ready(object())
    assert json_ready({"x": object}, default=lambda o: "obj") == {"x": "obj"}
