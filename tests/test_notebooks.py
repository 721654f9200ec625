"""The course notebooks run in a Jupyter kernel and show their pictures.

Two parts:

- the display of microgd's Figures in IPython (``microgd.viz.notebook``), tested
  on IPython's own formatters, with no kernel;
- every notebook of examples/notebooks executed with nbclient (the tests marked
  ``notebook``): no errors, one picture per plotting cell, and never a bare
  ``<Figure size ...>``.  They skip when nbclient, nbformat or a ``python3``
  kernel is missing.

The kernel runs this checkout's microgd (``PYTHONPATH``), with the learner's
default backend (inline) for the lessons; a small notebook checks the display
with the inline backend and with ``MPLBACKEND=Agg`` alike.
"""

from __future__ import annotations

import base64
import importlib.util
import io
import os
import shutil
import sys
import types
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from matplotlib.figure import Figure  # noqa: E402

import microgd as mg  # noqa: E402
from microgd.train import History  # noqa: E402
from microgd.viz import notebook  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "examples" / "notebooks"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CELL_TIMEOUT = 180  # seconds per cell: generous, for a loaded machine
# image/png outputs of each notebook: one per cell tagged "figure"
EXPECTED_PICTURES = {
    "01-search-and-gradient-descent.ipynb": 6,
    "02-minima-saddles-and-the-hessian.ipynb": 5,
    "03-sgd-momentum-and-initialization.ipynb": 5,
    "04-gradients-graphs-and-a-classifier.ipynb": 4,
}
INLINE = "module://matplotlib_inline.backend_inline"


def history():
    return History(step_loss=[4.0, 2.0, 1.5, 1.0], epoch_loss=[4.0, 2.0, 1.5, 1.0])


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) of PNG bytes, which must be a real, non-blank picture."""
    from matplotlib.image import imread

    assert data[:8] == PNG_MAGIC
    pixels = imread(io.BytesIO(data), format="png")
    assert pixels.std() > 0.01  # not a blank canvas
    return pixels.shape[1], pixels.shape[0]


# ---- the display fix: IPython formats microgd's Figures as PNG (no kernel) --------------------


@pytest.fixture
def shell(monkeypatch):
    """A stand-in for the running IPython shell, with IPython's real display formatters."""
    formatters = pytest.importorskip("IPython.core.formatters")
    fake = types.SimpleNamespace(display_formatter=formatters.DisplayFormatter())
    monkeypatch.setattr(notebook, "_shell", lambda: fake)
    return fake


def test_plot_functions_return_plain_figures_that_ipython_shows_as_png(shell):
    cp = mg.classify(lambda p: p[0] ** 2 - p[1] ** 2, np.zeros(2))
    figures = [mg.viz.plot_history(history()),
               mg.viz.plot_landscape(lambda p: p[0] ** 2 - p[1] ** 2, [(-1, 1), (-1, 1)],
                                     critical_points=[cp], resolution=11),
               mg.viz.plot_spectrum(cp)]
    for fig in figures:
        assert type(fig) is Figure  # a plain matplotlib Figure, nothing wrapped
        data, _ = shell.display_formatter.format(fig)
        assert set(data) == {"text/plain", "image/png"}
        width, height = png_size(data["image/png"])
        full_w, full_h = fig.get_size_inches() * fig.dpi
        # the figure's size, give or take the margin bbox_inches="tight" trims or pads
        assert 0.85 <= width / full_w <= 1.1 and 0.85 <= height / full_h <= 1.1
    assert shell.display_formatter.format(figures[0])[0]["text/plain"].startswith(
        "<Figure size 800x460")


def test_any_matplotlib_figure_shows_once_registered(shell):
    assert notebook.enable_figure_display() is True
    assert notebook.enable_figure_display() is False  # already there: registered once
    fig = Figure(figsize=(3, 2))
    fig.add_subplot().plot([0, 1, 4])
    data, _ = shell.display_formatter.format(fig)
    width, height = png_size(data["image/png"])
    assert 200 <= width <= 300 and 120 <= height <= 200  # 3 x 2 inches at 100 dpi, trimmed
    assert "image/png" not in shell.display_formatter.format(Figure())[0]  # nothing drawn


@pytest.mark.parametrize("mime", ["image/png", "image/svg+xml"])
def test_a_figure_formatter_already_there_is_kept(shell, mime):
    # what %matplotlib inline or %config InlineBackend.figure_formats installs
    def users(fig):
        return b"mine" if mime == "image/png" else "<svg>mine</svg>"

    shell.display_formatter.formatters[mime].for_type(Figure, users)
    fig = mg.viz.plot_history(history())
    assert notebook.enable_figure_display() is False
    data, _ = shell.display_formatter.format(fig)
    assert set(data) == {"text/plain", mime}
    assert data[mime] in (b"mine", "<svg>mine</svg>")


def test_activating_the_inline_backend_later_replaces_it(shell):
    pylabtools = pytest.importorskip("IPython.core.pylabtools")
    fig = mg.viz.plot_history(history())
    png = shell.display_formatter.formatters["image/png"]
    assert png.lookup(fig) is notebook._figure_png
    # what the inline backend does when pyplot is imported, with figure_formats {'svg'}
    pylabtools.select_figure_formats(shell, {"svg"})
    data, _ = shell.display_formatter.format(fig)
    assert set(data) == {"text/plain", "image/svg+xml"}  # one picture, the user's format


def test_nothing_happens_outside_ipython(monkeypatch):
    monkeypatch.setattr(notebook, "_shell", lambda: None)
    assert notebook.enable_figure_display() is False
    assert isinstance(mg.viz.plot_history(history()), Figure)
    assert notebook.enable_figure_display(types.SimpleNamespace()) is False  # not a shell
    monkeypatch.undo()
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    assert notebook._shell() is None
    assert "IPython" not in sys.modules  # never imported just to look


# ---- the notebooks ----------------------------------------------------------------------------


def load_builder():
    pytest.importorskip("nbformat")
    spec = importlib.util.spec_from_file_location("build_notebooks", NOTEBOOKS / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_notebooks_are_what_build_py_writes_without_outputs():
    nbformat = pytest.importorskip("nbformat")
    builder = load_builder()
    assert sorted(builder.NOTEBOOKS) == sorted(EXPECTED_PICTURES)
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == sorted(EXPECTED_PICTURES)
    for name in EXPECTED_PICTURES:
        text = (NOTEBOOKS / name).read_text(encoding="utf-8")
        assert text == builder.render(name), f"{name} is stale: run examples/notebooks/build.py"
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(c.outputs == [] and c.execution_count is None for c in code)
        figures = [c for c in code if "figure" in c.metadata.get("tags", [])]
        assert len(figures) == EXPECTED_PICTURES[name]


@pytest.fixture(scope="module")
def nbclient():
    client = pytest.importorskip("nbclient")
    pytest.importorskip("nbformat")
    kernelspec = pytest.importorskip("jupyter_client.kernelspec")
    try:
        kernelspec.KernelSpecManager().get_kernel_spec("python3")
    except kernelspec.NoSuchKernel:
        pytest.skip("no Jupyter kernel named python3 (pip install ipykernel)")
    return client


def execute(nbclient, nb, monkeypatch, backend):
    """Run ``nb`` in a fresh python3 kernel on this checkout's microgd; return ``nb``."""
    import nbformat

    # the kernel inherits this environment: this checkout first, then the chosen backend
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
    if backend is None:
        monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's default: inline
    else:
        monkeypatch.setenv("MPLBACKEND", backend)
    nb.cells.append(nbformat.v4.new_code_cell(
        "import matplotlib, microgd\nprint(microgd.__file__)\nprint(matplotlib.get_backend())"))
    nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    where = nb.cells.pop().outputs[0]["text"].splitlines()
    assert Path(where[0]).resolve() == ROOT / "microgd" / "__init__.py"
    assert where[1].lower() == (backend or INLINE).lower()
    return nb


def pictures(cell, mime="image/png"):
    return [out for out in cell.outputs if mime in out.get("data", {})]


def assert_no_bare_figure(nb):
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            text = out.get("data", {}).get("text/plain", "")
            assert not (text.startswith("<Figure size") and "image/png" not in out["data"]), \
                f"a Figure printed as text instead of a picture: {cell.source!r}"


@pytest.mark.notebook
@pytest.mark.parametrize("name", sorted(EXPECTED_PICTURES))
def test_notebook_runs_and_shows_its_pictures(nbclient, monkeypatch, name):
    import nbformat

    nb = execute(nbclient, nbformat.read(NOTEBOOKS / name, as_version=4), monkeypatch, None)
    total = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tags = cell.metadata.get("tags", [])
        assert not [o for o in cell.outputs if o.output_type == "error"]
        assert not [o for o in cell.outputs if o.get("name") == "stderr"], cell.source
        shown = pictures(cell)
        if "figure" in tags:
            # exactly one picture: the cell's value, not shown a second time by the backend
            assert len(shown) == 1 and shown[0].output_type == "execute_result", cell.source
            width, height = png_size(base64.b64decode(shown[0]["data"]["image/png"]))
            assert width > 500 and height > 300
            total += 1
        else:
            assert not shown, cell.source
        if "graph" in tags and shutil.which("dot"):
            (svg,) = pictures(cell, "image/svg+xml")
            assert "<svg" in svg["data"]["image/svg+xml"]
            assert "mul" in svg["data"]["image/svg+xml"]
    assert total == EXPECTED_PICTURES[name]
    assert_no_bare_figure(nb)


DISPLAY_CELLS = [
    "import microgd as mg\nfrom microgd.train import History\n"
    "h = History(step_loss=[3.0, 2.0, 1.0], epoch_loss=[3.0, 2.0, 1.0])",
    "mg.viz.plot_history(h)",                                  # the value: one picture
    "fig = mg.viz.plot_history(h)",                            # assigned: nothing shown
    "from IPython.display import display\ndisplay(fig)",       # displayed: one picture
    "import matplotlib.pyplot as plt\nmg.viz.plot_history(h)",  # pyplot (inline) now active
    "mg.viz.plot_spectrum(mg.classify(lambda p: p[0] ** 2 - p[1] ** 2, [0.0, 0.0]))",
]


@pytest.mark.notebook
@pytest.mark.parametrize("backend", [None, "Agg"], ids=["inline", "Agg"])
def test_figures_show_once_with_either_backend(nbclient, monkeypatch, backend):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in DISPLAY_CELLS]
    nb = execute(nbclient, nb, monkeypatch, backend)
    kinds = [[o.output_type for o in pictures(c)] for c in nb.cells]
    assert kinds == [[], ["execute_result"], [], ["display_data"], ["execute_result"],
                     ["execute_result"]]
    for cell in nb.cells[1:]:
        for out in pictures(cell):
            assert png_size(base64.b64decode(out["data"]["image/png"]))[0] > 500
    assert_no_bare_figure(nb)
