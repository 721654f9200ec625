"""The table of docs/writing-losses.md lists exactly what microgd differentiates."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

import microgd as mg
from microgd import dispatch, functions

PAGE = Path(__file__).resolve().parent.parent / "docs" / "writing-losses.md"
OPERATORS = {"+", "-", "*", "/", "//", "**", "@", "%"}


def _table_names() -> set[str]:
    text = PAGE.read_text(encoding="utf-8")
    table = text[text.index("| family | names |"):text.index("Where a derivative")]
    names: set[str] = set()
    for cell in re.findall(r"`([^`]*)`", table):
        names.update(cell.split())
    return names


def _resolves(name: str) -> bool:
    if name in OPERATORS or name in {"v[...]", "abs"}:
        return True
    if name.startswith("mg."):
        name = name[3:]
    if name.startswith("linalg."):
        short = name.split(".", 1)[1]
        return callable(getattr(mg.linalg, short, None)) or (
            getattr(np.linalg, short, None) in dispatch.FUNCTIONS)  # an answer: np.linalg only
    if "." in name:  # a ufunc method, np.add.reduce
        ufunc, method = name.split(".", 1)
        return (getattr(np, ufunc, None), method) in dispatch.UFUNC_METHODS
    return callable(getattr(mg, name, None)) or callable(getattr(np, name, None)) and (
        getattr(np, name) in dispatch.UFUNCS or getattr(np, name) in dispatch.FUNCTIONS)


def test_every_name_in_the_table_is_supported() -> None:
    missing = sorted(n for n in _table_names() if not _resolves(n))
    assert not missing, f"docs/writing-losses.md lists names microgd lacks: {missing}"


def test_every_public_function_is_in_the_table() -> None:
    listed = _table_names()
    listed |= {n.split(".", 1)[1] for n in listed if n.startswith("linalg.")}
    listed |= {n[3:] for n in listed if n.startswith("mg.")}
    unlisted = set(functions.__all__) - listed - {"array"}
    assert not unlisted, f"public functions missing from docs/writing-losses.md: {sorted(unlisted)}"


def test_every_numpy_function_microgd_answers_for_is_in_the_table() -> None:
    listed = _table_names() | {"mg.array"}
    facts = {np.shape, np.ndim, np.size}
    for table in (dispatch.UFUNCS, dispatch.FUNCTIONS):
        for fn in table:
            if fn in facts:
                continue
            name = getattr(fn, "__name__", "")
            module = getattr(fn, "__module__", "") or ""
            spelled = f"linalg.{name}" if "linalg" in module else name
            assert spelled in listed or name in listed or name in {
                "amax", "amin", "around", "radians", "degrees", "true_divide", "concat"}, (
                f"{module}.{name} dispatches to microgd but is not in the table")


def test_every_ufunc_method_microgd_answers_for_is_in_the_table() -> None:
    listed = _table_names()
    for ufunc, method in dispatch.UFUNC_METHODS:
        assert f"{ufunc.__name__}.{method}" in listed, (
            f"numpy.{ufunc.__name__}.{method} dispatches to microgd but is not in the table")
