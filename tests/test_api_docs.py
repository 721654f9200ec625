"""docs/api.md is exactly what docs/build_api.py writes from the current code."""

import importlib.util
import pathlib

import microgd

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs"


def load_builder():
    spec = importlib.util.spec_from_file_location("build_api", DOCS / "build_api.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_api_reference_is_current():
    expected = load_builder().render()
    actual = (DOCS / "api.md").read_text(encoding="utf-8")
    assert actual == expected, "docs/api.md is stale: run python docs/build_api.py"


def test_every_public_name_is_documented():
    text = (DOCS / "api.md").read_text(encoding="utf-8")
    modules = {"ops", "transforms", "data", "nn", "optim", "viz", "linalg"}
    missing = [n for n in microgd.__all__ if n not in modules and f".{n}(" not in text]
    assert not missing, f"not in docs/api.md: {missing}"
