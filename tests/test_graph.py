"""draw_graph, save_graph and Value._repr_svg_: what the picture shows, and rendering it."""

import re
import shutil
import sys
import time

import graphviz
import numpy as np
import pytest

import microgd as mg
from microgd.value import Value
from microgd.viz import draw_graph, format_array, graph, save_graph

needs_dot = pytest.mark.skipif(shutil.which("dot") is None,
                               reason="Graphviz's dot program is not installed")


def op_labels(g):
    """The op names drawn, one per op node."""
    return re.findall(r'op_v\d+ \[label=<<FONT COLOR="[^"]+"><B>([a-z_]+)</B>', g.source)


def node_lines(g):
    """Node name -> its definition line in the Graphviz source."""
    out = {}
    for line in g.body:
        m = re.match(r"\s*(\w+) \[", line)
        if m and "->" not in line:
            out[m.group(1)] = line
    return out


def recorded_ops(root):
    """Op names of every Value in the graph (iterative), with multiplicity."""
    seen, stack, names = set(), [root], []
    while stack:
        v = stack.pop()
        if id(v) in seen:
            continue
        seen.add(id(v))
        if v.op is not None:
            names.append(v.op)
            stack.extend(a for a in v._args if isinstance(a, Value))
    return sorted(names)


def composite():
    x = Value(np.arange(12.0).reshape(3, 4) / 10)
    w = Value(np.ones((4, 2)) * 0.1)
    h = (x @ w).tanh()
    z = (h * 2.0 + 1.0 - h.exp() / 3.0) ** 2
    loss = z.sum(axis=0).mean() + h.T.reshape(6)[1:3].sum() + mg.maximum(h, 0.1).mean()
    return x, w, loss


def test_source_names_every_op_and_shows_shapes():
    x, w, loss = composite()
    g = draw_graph(loss)
    drawn = op_labels(g)
    assert sorted(drawn) == recorded_ops(loss)  # one ellipse per op, named as in ops.py
    for op in ("matmul", "tanh", "mul", "add", "sub", "div", "exp", "pow", "sum", "mean",
               "transpose", "reshape", "getitem", "maximum"):
        assert op in drawn, op
    assert "shape (3, 4)" in g.source and "shape (4, 2)" in g.source
    assert "shape (3, 2)" in g.source and "scalar" in g.source
    assert "axis=0" in g.source  # static params under the op's name
    assert isinstance(g, graphviz.Digraph)


def test_op_sits_between_its_inputs_and_output():
    a, b = Value(2.0), Value(3.0)
    g = draw_graph(a * b, labels={"a": a, "b": b})
    lines = node_lines(g)
    out, op = "v0", "op_v0"
    assert "<B>mul</B>" in lines[op] and "ellipse" in lines[op]
    edges = [ln.strip() for ln in g.body if "->" in ln]
    assert any(e.startswith(f"{op} -> {out}") for e in edges)
    a_node = next(n for n, ln in lines.items() if "<B>a</B>" in ln)
    b_node = next(n for n, ln in lines.items() if "<B>b</B>" in ln)
    assert any(e.startswith(f"{a_node} -> {op}") for e in edges)
    assert any(e.startswith(f"{b_node} -> {op}") for e in edges)


def test_non_commutative_inputs_are_numbered():
    a, b = Value(2.0), Value(3.0)
    src = draw_graph(a - b).source
    assert "label=0" in src and "label=1" in src
    assert "label=0" not in draw_graph(a + b).source


def test_shared_subexpression_drawn_once():
    x = Value(np.array([1.0, 2.0]))
    y = x.exp()
    out = (y * y).sum()
    g = draw_graph(out)
    assert op_labels(g).count("exp") == 1
    exp_node = next(n for n, ln in node_lines(g).items() if "<B>exp</B>" in ln)
    value = exp_node.removeprefix("op_")
    assert sum(ln.strip().startswith(f"{value} -> ") for ln in g.body) == 2


def test_data_shown_small_in_full_large_as_summary():
    small = Value(np.array([1.5, -2.0, 3.25]))
    big = Value(np.arange(100.0).reshape(10, 10))
    src = draw_graph(small.sum() + big.sum()).source
    assert "[1.5, -2, 3.25]" in src
    assert f"norm={np.linalg.norm(np.arange(100.0)):.4g}" in src and "max=99" in src
    assert "[0, 1, 2" not in src


def test_grads_appear_after_backward_and_only_when_asked():
    x, w, loss = composite()
    before = draw_graph(loss).source
    assert "<B>grad</B>" not in before
    loss.backward()
    after = draw_graph(loss).source
    assert after.count("<B>grad</B>") == 2  # the two leaves that require grad
    assert f"<B>grad</B> {format_array(x.grad)}" in after
    assert f"<B>grad</B> {format_array(w.grad)}" in after
    assert "<B>grad</B>" not in draw_graph(loss, show_grad=False).source
    no_data = draw_graph(loss, show_data=False).source
    assert "<B>data</B>" not in no_data and "<B>grad</B>" in no_data
    # the structure survives backward (the graph was freed, but it can still be drawn)
    assert sorted(op_labels(draw_graph(loss))) == recorded_ops(loss)


def test_constants_drawn_distinctly_and_parameters_highlighted():
    w = Value(np.array([1.0, 2.0]))
    c = Value(np.array([3.0, 4.0]), requires_grad=False)
    out = ((w * c) + 5.0).sum()
    lines = node_lines(draw_graph(out, labels={"w": w}))
    w_line = next(ln for ln in lines.values() if "<B>w</B>" in ln)
    c_line = next(ln for ln in lines.values() if "[3, 4]" in ln)
    five = next(ln for n, ln in lines.items() if n.startswith("c") and "<B>5</B>" in ln)
    inter = next(ln for n, ln in lines.items()
                 if "<B>value</B>" in ln and n.startswith("v"))
    for const in (c_line, five):
        assert "dashed" in const and graph._STYLE["const"][0] in const
        assert "constant" in const
    assert "bold" in w_line and "dashed" not in w_line and graph._STYLE["param"][0] in w_line
    assert "requires grad" not in c_line
    assert graph._STYLE["value"][0] in inter
    assert len({graph._STYLE[k][0] for k in ("param", "const", "value", "output", "op")}) == 5
    # edges from constants are dashed too
    edges = [ln for ln in draw_graph(out).body if "->" in ln and ln.strip().startswith("c")]
    assert edges and all("dashed" in e for e in edges)


def test_labels_from_named_parameters_pairs():
    a, b = Value(1.0), Value(2.0)
    src = draw_graph(a * b + a, labels=[("alpha", a), ("beta", b)]).source
    assert "<B>alpha</B>" in src and "<B>beta</B>" in src


def test_a_leaf_alone_and_rankdir():
    g = draw_graph(Value(np.zeros(3)), rankdir="TB")
    assert "rankdir=TB" in g.source and op_labels(g) == []
    with pytest.raises(ValueError, match="rankdir"):
        draw_graph(Value(1.0), rankdir="XY")
    with pytest.raises(TypeError, match="Value"):
        draw_graph(np.ones(3))
    with pytest.raises(ValueError, match="max_nodes"):
        draw_graph(Value(1.0), max_nodes=0)


def chain(n):
    x = Value(1.0)
    y = x
    for i in range(n):
        y = y * 1.0001 if i % 2 else y + 0.5
    return x, y


def frame_depth():
    depth, frame = 0, sys._getframe()
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    return depth


def test_max_nodes_truncation_on_a_long_chain_is_fast_and_iterative():
    _, y = chain(10_000)
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(frame_depth() + 120)  # any recursion over the graph would fail
    try:
        start = time.perf_counter()
        g = draw_graph(y)  # default max_nodes=500
        small = draw_graph(y, max_nodes=40)
        elapsed = time.perf_counter() - start
    finally:
        sys.setrecursionlimit(old)
    assert elapsed < 2.0
    for gr, cap in ((g, 500), (small, 40)):
        nodes = node_lines(gr)
        assert len(nodes) <= cap + 1  # plus the note
        drawn = sum(1 for n in nodes if re.fullmatch(r"v\d+", n))
        m = re.search(r"\u2026 ([\d,]+) more values not drawn \(max_nodes=(\d+)\)", gr.source)
        assert m and int(m.group(2)) == cap
        assert int(m.group(1).replace(",", "")) == 10_001 - drawn  # 10,000 ops + the leaf
        assert any(ln.strip().startswith("more -> op_") for ln in gr.body)


def test_whole_long_chain_drawn_without_recursion():
    x, y = chain(10_000)
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(frame_depth() + 120)
    try:
        g = draw_graph(y, max_nodes=10**6, labels={"x": x})
    finally:
        sys.setrecursionlimit(old)
    assert len(op_labels(g)) == 10_000 and "more values" not in g.source
    assert "<B>x</B>" in g.source


def test_format_array():
    assert format_array(np.float64(2.5)) == "2.5"
    assert format_array(np.array([[1.0, 2.0], [3.0, 4.0]])) == "[[1, 2], [3, 4]]"
    assert format_array(np.array([True, False])) == "[1, 0]"
    assert format_array(np.array([np.nan, np.inf])) == "[nan, inf]"
    assert format_array(np.array([1 / 3])) == "[0.3333]"
    assert format_array(-np.arange(7.0)) == f"norm={np.linalg.norm(np.arange(7.0)):.4g}  " \
        "min=-6  max=0"
    assert format_array(np.arange(7.0), small=10).startswith("[0, 1")


def test_save_dot_source_needs_no_dot_program(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", "")
    out = save_graph(Value(2.0).tanh(), tmp_path / "g.gv")
    assert out == tmp_path / "g.gv"
    text = out.read_text(encoding="utf-8")
    assert text.startswith("digraph") and "<B>tanh</B>" in text


def test_save_graph_without_dot_names_the_debian_package(tmp_path, monkeypatch):
    monkeypatch.setattr(graph, "_find_dot", lambda: None)
    for name in ("g.svg", "g.png", "g.pdf"):
        with pytest.raises(RuntimeError, match=r"apt-get install graphviz") as err:
            save_graph(Value(1.0) * 2, tmp_path / name)
        assert "'graphviz'" in str(err.value) and "dot" in str(err.value)
        assert not (tmp_path / name).exists()


def test_save_graph_when_the_dot_program_fails_to_start(tmp_path, monkeypatch):
    # shutil.which is fooled, but running dot fails: graphviz.ExecutableNotFound
    monkeypatch.setattr(graph, "_find_dot", lambda: "dot")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RuntimeError, match="apt-get install graphviz"):
        save_graph(Value(1.0).exp(), tmp_path / "g.svg")
    assert Value(1.0)._repr_svg_() is None


def test_save_graph_rejects_unknown_extensions(tmp_path):
    with pytest.raises(ValueError, match=r"\.svg"):
        save_graph(Value(1.0), tmp_path / "g.jpeg")


def test_repr_svg_hook_registered_and_none_without_dot(monkeypatch):
    assert Value._svg_renderer is graph.svg
    monkeypatch.setattr(graph, "_find_dot", lambda: None)
    assert (Value(1.0) * 3)._repr_svg_() is None


@needs_dot
def test_render_svg_and_png_with_dot(tmp_path):
    x, w, loss = composite()
    loss.backward()
    svg_path = save_graph(loss, tmp_path / "graph.svg", labels={"x": x, "w": w})
    png_path = save_graph(loss, str(tmp_path / "graph.png"), rankdir="TB")
    pdf_path = save_graph(loss, tmp_path / "graph.pdf", max_nodes=10)
    svg_text = svg_path.read_text(encoding="utf-8")
    assert "<svg" in svg_text and "matmul" in svg_text and "tanh" in svg_text
    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png_path.stat().st_size > 1000
    assert pdf_path.read_bytes()[:5] == b"%PDF-"


@needs_dot
def test_repr_svg_returns_svg_text():
    a, b = Value(np.ones(2)), Value(np.array([0.5, 2.0]))
    text = ((a * b).sum())._repr_svg_()
    assert isinstance(text, str) and text.lstrip().startswith(("<?xml", "<svg", "<!--"))
    assert "<svg" in text and "mul" in text and "sum" in text


@needs_dot
def test_truncated_graph_renders(tmp_path):
    _, y = chain(10_000)
    out = save_graph(y, tmp_path / "chain.svg", max_nodes=60)
    assert "more values not drawn" in out.read_text(encoding="utf-8")
