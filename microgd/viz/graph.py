"""Draw the computation graph behind a :class:`~microgd.Value` with Graphviz.

Value nodes are boxes showing a name (when given), the shape and dtype, the
data and, after ``backward``, the gradient.  Each op is an ellipse labelled with
the primitive's name in ``ops.py`` (``add``, ``mul``, ``matmul``, ``tanh``, ...)
sitting between its inputs and its output.  Colours:

- green, bold border: leaves that require grad (the parameters you differentiate for);
- grey, dashed: constants (plain numbers and arrays, and Values that do not require grad);
- blue: intermediate results; orange: the Value the graph was drawn from;
- yellow ellipses: ops.

The graph is walked iteratively (breadth first from the output, no
recursion), so graphs of any depth can be drawn; at most ``max_nodes`` nodes
are drawn and a note says how many Values were left out.

Importing this module registers :func:`svg` as the renderer behind
``Value._repr_svg_``, so Values show as pictures in Jupyter when Graphviz's
``dot`` program is installed.
"""

from __future__ import annotations

import html
import os
import shutil
import subprocess
from collections import deque
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from microgd.value import Value

if TYPE_CHECKING:  # pragma: no cover
    import graphviz

__all__ = ["draw_graph", "save_graph", "svg", "format_array"]

# name: (fill, border, font colour, style)
_STYLE = {
    "param": ("#d3f9d8", "#2b8a3e", "#1b4332", "rounded,filled,bold"),
    "const": ("#f1f3f5", "#868e96", "#495057", "rounded,filled,dashed"),
    "value": ("#e7f5ff", "#1c7ed6", "#0b3d66", "rounded,filled"),
    "output": ("#fff4e6", "#e8590c", "#7a2e0b", "rounded,filled,bold"),
    "op": ("#fff3bf", "#f08c00", "#5c3c00", "filled"),
    "note": ("#fff5f5", "#e03131", "#c92a2a", "filled,dashed"),
}
_GRAD_COLOR = "#c92a2a"
_COMMUTATIVE = ("add", "mul", "maximum", "minimum")
_SMALL = 6  # arrays with at most this many elements are shown in full
_FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf"}
_SOURCE_SUFFIXES = (".dot", ".gv")


def _graphviz() -> Any:
    try:
        import graphviz
    except ImportError:  # pragma: no cover - graphviz is a declared dependency of viz
        raise ImportError(
            "drawing graphs needs the 'graphviz' Python package: pip install graphviz "
            "(and Graphviz's dot program to render: apt-get install graphviz)"
        ) from None
    return graphviz


def format_array(a: Any, small: int = _SMALL) -> str:
    """A compact one-line summary of an array.

    Arrays with at most ``small`` elements are written in full (4 significant
    digits); larger ones as their norm, minimum and maximum.

    Examples
    --------
    >>> import numpy as np
    >>> format_array(np.array([1.0, 2.5, -3.0]))
    '[1, 2.5, -3]'
    >>> format_array(np.arange(12.0).reshape(3, 4))
    'norm=22.49  min=0  max=11'
    """
    arr = np.asarray(a)
    if arr.dtype.kind == "b":
        arr = arr.astype(np.int8)
    if arr.size <= small:
        if arr.ndim == 0:
            return _num(arr.item())
        text = np.array2string(arr, separator=", ", formatter={"all": _num},
                               max_line_width=10_000)
        return " ".join(text.split())
    if arr.dtype.kind not in "biuf":
        return f"{arr.size} elements"
    with np.errstate(all="ignore"):
        norm = float(np.linalg.norm(arr.ravel().astype(np.float64)))
        lo, hi = float(np.min(arr)), float(np.max(arr))
    return f"norm={_num(norm)}  min={_num(lo)}  max={_num(hi)}"


def _num(x: Any) -> str:
    if isinstance(x, (bool, np.bool_)):
        return str(int(x))
    return f"{float(x) + 0.0:.4g}"  # + 0.0 turns -0.0 into 0.0


def _shape_text(v: Any) -> str:
    shape = np.shape(v)
    dims = f"shape {shape}" if shape else "scalar"
    return f"{dims} \u00b7 {np.asarray(v).dtype}"


def _names(labels: Mapping[str, Value] | Iterable[tuple[str, Value]] | None) -> dict[int, str]:
    if labels is None:
        return {}
    pairs = labels.items() if isinstance(labels, Mapping) else labels
    return {id(v): str(name) for name, v in pairs}


def _kind(v: Value, root: Value) -> str:
    if v is root:
        return "output"
    if not v.requires_grad:
        return "const"
    return "param" if v.op is None else "value"


def _html_label(title: str, subtitle: str, rows: list[tuple[str, str, str]],
                font: str) -> str:
    """An HTML-like Graphviz label: a bold title, a subtitle, then ``(key, text, colour)`` rows."""
    cells = [f'<TR><TD ALIGN="CENTER"><FONT COLOR="{font}"><B>{html.escape(title)}</B>'
             "</FONT></TD></TR>",
             f'<TR><TD ALIGN="CENTER"><FONT COLOR="{font}" POINT-SIZE="9">'
             f"{html.escape(subtitle)}</FONT></TD></TR>"]
    for key, text, colour in rows:
        key = f"<B>{html.escape(key)}</B> " if key else ""
        cells.append(f'<TR><TD ALIGN="LEFT"><FONT COLOR="{colour}" POINT-SIZE="10">'
                     f"{key}{html.escape(text)}</FONT></TD></TR>")
    return '<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">' \
        + "".join(cells) + "</TABLE>>"


def _value_label(v: Value, kind: str, name: str | None, show_data: bool,
                 show_grad: bool) -> str:
    fill, border, font, _ = _STYLE[kind]
    default = {"param": "leaf (requires grad)", "const": "constant", "value": "value",
               "output": "output"}[kind]
    rows = []
    if show_data:
        rows.append(("data", format_array(v.data), font))
    if show_grad and v.grad is not None:
        rows.append(("grad", format_array(v.grad), _GRAD_COLOR))
    return _html_label(name or default, _shape_text(v.data), rows, font)


def _const_label(c: Any) -> str:
    font = _STYLE["const"][2]
    return _html_label(format_array(c), "constant \u00b7 " + _shape_text(c), [], font)


def _param_text(value: Any) -> str:
    if isinstance(value, np.ndarray):
        text = format_array(value) if value.size <= _SMALL else f"array{value.shape}"
    elif isinstance(value, tuple):
        text = "(" + ", ".join(_param_text(x) for x in value) + ("," if len(value) == 1 else "")
        text += ")"
    elif isinstance(value, slice):
        parts = ["" if p is None else str(p) for p in (value.start, value.stop, value.step)]
        text = ":".join(parts).rstrip(":") or ":"
    elif value is Ellipsis:
        text = "..."
    else:
        text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _op_label(op: str, params: Mapping[str, Any] | None) -> str:
    font = _STYLE["op"][2]
    shown = {k: p for k, p in (params or {}).items() if p is not None and p is not False}
    if not shown:
        return f'<<FONT COLOR="{font}"><B>{html.escape(op)}</B></FONT>>'
    extra = "<BR/>".join(html.escape(f"{k}={_param_text(p)}") for k, p in shown.items())
    return (f'<<FONT COLOR="{font}"><B>{html.escape(op)}</B></FONT><BR/>'
            f'<FONT COLOR="{font}" POINT-SIZE="9">{extra}</FONT>>')


def _style(kind: str) -> dict[str, str]:
    fill, border, _, style = _STYLE[kind]
    return {"fillcolor": fill, "color": border, "style": style}


class _Drawer:
    """Adds nodes and edges to a Digraph while walking the graph breadth first."""

    def __init__(self, dot: Any, root: Value, names: dict[int, str], show_data: bool,
                 show_grad: bool, max_nodes: int) -> None:
        self.dot, self.root, self.names = dot, root, names
        self.show_data, self.show_grad = show_data, show_grad
        self.budget = max_nodes
        self.ids: dict[int, str] = {}   # id(Value) -> node name, for drawn Values
        self.hidden: list[Value] = []   # Values met but not drawn (over budget)
        self.cut: list[str] = []        # op nodes with at least one input not drawn
        self.n_const = 0

    def value_node(self, v: Value) -> str | None:
        """The node of ``v``, drawing it if the budget allows (None when over budget)."""
        key = id(v)
        if key in self.ids:
            return self.ids[key]
        need = 2 if v.op is not None else 1  # the value and the op that made it
        if self.budget < need:
            return None
        self.budget -= need
        name = f"v{len(self.ids)}"
        self.ids[key] = name
        kind = _kind(v, self.root)
        label = _value_label(v, kind, self.names.get(key), self.show_data, self.show_grad)
        self.dot.node(name, label=label, shape="box", **_style(kind))
        if v.op is not None:
            self.dot.node(f"op_{name}", label=_op_label(v.op, v._params), shape="ellipse",
                          **_style("op"))
            self.dot.edge(f"op_{name}", name, color=_STYLE["op"][1])
        return name

    def const_node(self, c: Any) -> str | None:
        if self.budget < 1:
            return None
        self.budget -= 1
        name = f"c{self.n_const}"
        self.n_const += 1
        self.dot.node(name, label=_const_label(c), shape="box", **_style("const"))
        return name

    def walk(self) -> None:
        queue: deque[Value] = deque([self.root])
        self.value_node(self.root)
        while queue:
            v = queue.popleft()
            args = v._args if v.op is not None else None
            if not args:
                continue
            op_name = f"op_{self.ids[id(v)]}"
            many = len(args) > 1 and v.op not in _COMMUTATIVE
            for i, a in enumerate(args):
                is_value = isinstance(a, Value)
                seen = is_value and id(a) in self.ids
                src = self.value_node(a) if is_value else self.const_node(a)
                if src is None:
                    if is_value:
                        self.hidden.append(a)
                    if not self.cut or self.cut[-1] != op_name:
                        self.cut.append(op_name)
                    continue
                if is_value and not seen:
                    queue.append(a)
                attrs = {"label": str(i)} if many else {}
                if not is_value or not a.requires_grad:
                    attrs["style"] = "dashed"
                self.dot.edge(src, op_name, **attrs)

    def note_truncation(self, max_nodes: int) -> None:
        if not self.cut:
            return
        more = _count_hidden(self.hidden, self.ids)
        text = (f"\u2026 {more:,} more value{'s' if more != 1 else ''} not drawn "
                f"(max_nodes={max_nodes})")
        self.dot.node("more", label=text, shape="note", fontcolor=_STYLE["note"][2],
                      **_style("note"))
        for op_name in self.cut[:20]:
            self.dot.edge("more", op_name, style="dashed", color=_STYLE["note"][1])


def _count_hidden(start: list[Value], drawn: dict[int, str]) -> int:
    """How many distinct Values are reachable from ``start`` without being drawn."""
    seen: set[int] = set()
    stack = [v for v in start if id(v) not in drawn]
    while stack:
        v = stack.pop()
        if id(v) in seen or id(v) in drawn:
            continue
        seen.add(id(v))
        if v.op is not None and v._args:
            stack.extend(a for a in v._args if isinstance(a, Value))
    return len(seen)


def draw_graph(v: Value, show_data: bool = True, show_grad: bool = True, rankdir: str = "LR",
               max_nodes: int = 500,
               labels: Mapping[str, Value] | Iterable[tuple[str, Value]] | None = None,
               ) -> graphviz.Digraph:
    """Draw the computation that produced ``v`` as a Graphviz ``Digraph``.

    Parameters
    ----------
    v : Value
        The output; everything it was computed from is drawn (inputs first).
    show_data : bool, default True
        Show each Value's data: in full when it has at most 6 elements, else its
        norm, minimum and maximum.
    show_grad : bool, default True
        Show ``.grad`` (the same way) where a backward pass has filled it.
    rankdir : {'LR', 'TB', 'RL', 'BT'}, default 'LR'
        Direction of the layout: left to right, top to bottom, ...
    max_nodes : int, default 500
        Draw at most this many nodes (Values, ops and constants); the rest is
        counted in a note.
    labels : mapping of str to Value, or iterable of (name, Value), optional
        Names to show on Values, e.g. ``{"w": w}`` or
        ``model.named_parameters()``.

    Returns
    -------
    graphviz.Digraph
        Display it in Jupyter, read ``.source``, or render it with
        :func:`save_graph` (needs Graphviz's ``dot`` program).

    Examples
    --------
    >>> import numpy as np
    >>> import microgd as mg
    >>> from microgd.viz import draw_graph
    >>> w = mg.Value(np.array([0.5, -1.0]))
    >>> loss = (np.ones((3, 2)) @ w).tanh().sum()
    >>> loss.backward()
    >>> g = draw_graph(loss, labels={"w": w})
    >>> all(op in g.source for op in ("matmul", "tanh", "sum"))
    True
    >>> "grad" in g.source
    True
    """
    if not isinstance(v, Value):
        raise TypeError(f"draw_graph: expected a Value, got {type(v).__name__}")
    if rankdir not in ("LR", "TB", "RL", "BT"):
        raise ValueError(f"draw_graph: rankdir must be 'LR', 'TB', 'RL' or 'BT', got {rankdir!r}")
    if int(max_nodes) < 1:
        raise ValueError(f"draw_graph: max_nodes must be at least 1, got {max_nodes}")
    dot = _graphviz().Digraph("microgd", graph_attr={
        "rankdir": rankdir, "bgcolor": "white", "nodesep": "0.25", "ranksep": "0.35",
        "fontname": "Helvetica",
    }, node_attr={"fontname": "Helvetica", "fontsize": "11", "margin": "0.08,0.04",
                  "penwidth": "1.2"},
       edge_attr={"color": "#868e96", "arrowsize": "0.7", "fontsize": "9",
                  "fontcolor": "#868e96", "fontname": "Helvetica"})
    drawer = _Drawer(dot, v, _names(labels), show_data, show_grad, max(int(max_nodes), 2))
    drawer.walk()
    drawer.note_truncation(int(max_nodes))
    return dot


def _find_dot() -> str | None:
    """Where Graphviz's ``dot`` program is (None when it is not installed)."""
    return shutil.which("dot")


def _missing_dot(what: str) -> RuntimeError:
    return RuntimeError(
        f"{what} needs Graphviz's 'dot' program, which was not found on PATH. Install it "
        "with your system's package manager: on Debian/Ubuntu the package is 'graphviz' "
        "(sudo apt-get install graphviz); on macOS, brew install graphviz. Saving to a "
        ".dot file works without it."
    )


def save_graph(v: Value, path: str | os.PathLike, **kw: Any) -> Path:
    """Draw ``v``'s graph (see :func:`draw_graph`) and write it to ``path``.

    The format follows the extension: ``.svg``, ``.png`` or ``.pdf`` (rendered
    by Graphviz's ``dot`` program), or ``.dot`` / ``.gv`` (the Graphviz source,
    which needs no ``dot``).

    Parameters
    ----------
    v : Value
    path : str or os.PathLike
    **kw
        Passed to :func:`draw_graph` (``show_data``, ``rankdir``, ``max_nodes``, ...).

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    RuntimeError
        When a picture format is asked for and ``dot`` is not installed
        (Debian/Ubuntu: ``apt-get install graphviz``).
    ValueError
        For any other extension.

    Examples
    --------
    >>> import os, tempfile
    >>> import microgd as mg
    >>> from microgd.viz import save_graph
    >>> x = mg.Value(2.0)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     out = save_graph(x * x + 1, os.path.join(tmp, "graph.dot"))
    ...     "mul" in out.read_text()
    True
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _FORMATS and suffix not in _SOURCE_SUFFIXES:
        known = ", ".join([*_FORMATS, *_SOURCE_SUFFIXES])
        raise ValueError(f"save_graph: unknown extension {path.suffix!r} in {str(path)!r}; "
                         f"use one of {known}")
    dot = draw_graph(v, **kw)
    if suffix in _SOURCE_SUFFIXES:
        path.write_text(dot.source, encoding="utf-8")
        return path
    if _find_dot() is None:
        raise _missing_dot(f"save_graph to {suffix}")
    graphviz = _graphviz()
    try:
        data = dot.pipe(format=_FORMATS[suffix])
    except graphviz.ExecutableNotFound:
        raise _missing_dot(f"save_graph to {suffix}") from None
    path.write_bytes(data)
    return path


def svg(v: Value, **kw: Any) -> str | None:
    """The graph of ``v`` as SVG text, or None when ``dot`` is not installed.

    This is the renderer behind ``Value._repr_svg_`` (Jupyter's rich display).

    Examples
    --------
    >>> import microgd as mg
    >>> from microgd.viz import graph
    >>> text = graph.svg(mg.Value(1.0).exp())
    >>> text is None or "<svg" in text
    True
    """
    if _find_dot() is None:
        return None
    try:
        graphviz = _graphviz()
    except ImportError:
        return None
    try:
        return draw_graph(v, **kw).pipe(format="svg", encoding="utf-8")
    except (graphviz.ExecutableNotFound, subprocess.CalledProcessError):
        return None


Value._svg_renderer = svg  # type: ignore[assignment]  # the core declares it None
