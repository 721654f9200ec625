"""Every docstring example in the package runs and prints what it claims."""

import doctest
import importlib
import pkgutil

import pytest

import microgd

MODULES = sorted(
    m.name for m in pkgutil.walk_packages(microgd.__path__, prefix="microgd.")
    if not m.name.endswith("__main__")
)


@pytest.mark.parametrize("name", ["microgd", *MODULES])
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
